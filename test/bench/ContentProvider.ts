/**
 * One content provider in a process of its own, for `transfer3_mb_s` of the content suite:
 * `node ContentProvider.js SEED SIZE`.
 *
 * It starts a node on loopback QUIC with an in-memory store (`quicContentNode`), puts the
 * SIZE bytes every provider of the bench holds (`filled(SIZE, 7)`), prints one JSON line
 * `{did, address, mcid}` and serves until its stdin closes, then prints `{blocksServed,
 * bytesServed}` (blocks served beyond the content's chunk count are end-game duplicates) and
 * exits. Providers in their own
 * processes each have an event loop (and a core) to themselves, so fetching from three of
 * them measures the fetch, not one loop shared by four nodes.
 */
import * as Effect from "effect/Effect"
import type { Scope } from "effect/Scope"
import * as Mcid from "../../src/content/Mcid.ts"
import { filled, quicContentNode } from "./content.ts"

const seed = Number(process.argv[2])
const size = Number(process.argv[3])
if (!Number.isInteger(seed) || !Number.isInteger(size) || size <= 0) {
  process.stderr.write("usage: node ContentProvider.js SEED SIZE\n")
  process.exit(2)
}

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const addresses = new Map<string, string>()
  const node = yield* quicContentNode(seed, new Map(), addresses)
  const mcid = yield* node.api.put(filled(size, 7))
  process.stdout.write(`${JSON.stringify({ did: node.who.did, address: addresses.get(node.who.did), mcid: Mcid.toString(mcid) })}\n`)
  // Serve until the bench closes our stdin (or dies, which closes it too).
  yield* Effect.promise(() => new Promise<void>((done) => {
    process.stdin.on("end", done).on("close", done).resume()
  }))
  const served = (yield* node.api.stats()).serve
  process.stdout.write(`${JSON.stringify({ blocksServed: served?.blocksServed, bytesServed: served?.bytesServed })}\n`)
}) as Effect.Effect<void, unknown, Scope>))
process.exit(0)

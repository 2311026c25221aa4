/**
 * One content provider in a process of its own, for `transfer3_mb_s` of the content suite:
 * `node ContentProvider.js SEED SIZE [UPLINK_MB_S]`.
 *
 * It starts a node on loopback QUIC with an in-memory store (`quicContentNode`), puts the
 * SIZE bytes every provider of the bench holds (`filled(SIZE, 7)`), prints one JSON line
 * `{did, address, mcid}` and serves until its stdin closes, then prints `{blocksServed,
 * bytesServed}` (blocks served beyond the content's chunk count are end-game duplicates) and
 * exits. Providers in their own
 * processes each have an event loop (and a core) to themselves, so fetching from three of
 * them measures the fetch, not one loop shared by four nodes.
 *
 * With UPLINK_MB_S the provider serves at most that many MB/s (MB = 2^20 bytes): each block
 * read waits for its slot on the uplink (slots follow one another), as a provider behind a link
 * slower than the fetcher would. That is what parallel download is for; on loopback, uncapped
 * providers are each as fast as the fetcher, which alone bounds the rate.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Scope } from "effect/Scope"
import * as Mcid from "../../src/content/Mcid.ts"
import * as ContentStore from "../../src/platform/content/ContentStore.ts"
import { filled, quicContentNode } from "./content.ts"

const seed = Number(process.argv[2])
const size = Number(process.argv[3])
const uplink = process.argv[4] === undefined ? undefined : Number(process.argv[4])
if (!Number.isInteger(seed) || !Number.isInteger(size) || size <= 0 || (uplink !== undefined && !(uplink > 0))) {
  process.stderr.write("usage: node ContentProvider.js SEED SIZE [UPLINK_MB_S]\n")
  process.exit(2)
}

/** An in-memory store whose chunk reads are paced to `mbPerSecond` in all. */
const pacedStore = (mbPerSecond: number): Layer.Layer<ContentStore.ContentStore> => {
  let freeAt = 0
  return Layer.effect(
    ContentStore.ContentStore,
    Effect.map(ContentStore.ContentStore, (store): ContentStore.ContentStoreShape => ({
      ...store,
      getBlock: (mcid, options) =>
        Effect.gen(function*() {
          const got = yield* store.getBlock(mcid, options)
          if (mcid.codec !== "raw" || Option.isNone(got)) return got
          const bytes = got.value.length
          yield* Effect.suspend(() => {
            const now = performance.now()
            freeAt = Math.max(now, freeAt) + (bytes / (mbPerSecond * 1_048_576)) * 1_000
            return Effect.sleep(Math.max(0, Math.round(freeAt - now)))
          })
          return got
        })
    }))
  ).pipe(Layer.provide(ContentStore.layerMemory()))
}

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const addresses = new Map<string, string>()
  const node = yield* quicContentNode(seed, new Map(), addresses, uplink === undefined ? undefined : pacedStore(uplink))
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

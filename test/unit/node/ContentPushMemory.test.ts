/**
 * A push recipient never reads the content it takes (PROTOCOL.md §12.6): its pull only checks
 * that the content is whole in its store, so memory stays at a chunk whatever the size. One
 * process, real QUIC on loopback, stores on disk in a temporary directory, each recipient's
 * store wrapped to count `read` (the whole-content read `getContent` does).
 *
 * Shown: a client's upload to its home station (a push the station admits as its attached
 * client's) and a push to another client that lists the sender: both recipients hold the
 * content whole, with no `read`; the recipients' `getContent` afterwards does read (the counter
 * sees what it should), byte-identical; the subtree's `fetch` of held content gives its size and
 * chunk count without a read.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { afterAll, describe, expect, it } from "vitest"
import type * as ContentSupervisor from "../../../supervisors/ContentSupervisor.ts"
import { MaculaNode } from "../../../src/node/MaculaNode.ts"
import * as ContentStore from "../../../src/platform/content/ContentStore.ts"
import { holds } from "../../support/nodes.ts"

const dir = mkdtempSync(join(tmpdir(), "push-memory-"))
const nodes: Array<MaculaNode> = []

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)))
  rmSync(dir, { recursive: true, force: true })
}, 60_000)

/** A store on disk under `name` whose whole-content `read`s are counted. */
const countingStore = (name: string) => {
  const counter = { reads: 0 }
  const layer = Layer.effect(
    ContentStore.ContentStore,
    Effect.map(ContentStore.ContentStore, (store): ContentStore.ContentStoreShape => ({
      ...store,
      read: (mcid) => Effect.andThen(Effect.sync(() => void counter.reads++), store.read(mcid))
    }))
  ).pipe(Layer.provide(ContentStore.layer({ dir: join(dir, name) })))
  return { counter, layer }
}

describe("the push recipient's pull", () => {
  it("leaves the content in the store without reading it, at a station and at a client", async () => {
    const station = countingStore("station")
    let stationApi: ContentSupervisor.Api | undefined
    const s = await MaculaNode.start(
      { role: "station", listen: "127.0.0.1:0" },
      { content: { store: station.layer, onApi: (api) => (stationApi = api) } }
    )
    nodes.push(s)
    const seed = `${s.address}#${s.did}`
    const a = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [seed] })
    nodes.push(a)
    const client = countingStore("client")
    let clientApi: ContentSupervisor.Api | undefined
    const b = await MaculaNode.start(
      { role: "client", realm: "io.example", seeds: [seed], acceptPushFrom: [a.did] },
      { content: { store: client.layer, onApi: (api) => (clientApi = api) } }
    )
    nodes.push(b)

    // Four chunks and a manifest: a multi-block pull at both recipients.
    const bytes = new Uint8Array(randomBytes(3 * 262_144 + 1_000))
    // `putContent` resolves once the home station took the upload (a push it admits).
    const mcid = await a.putContent(bytes)
    expect(await holds(stationApi, mcid)).toBe(true)
    expect(station.counter.reads).toBe(0)

    await a.pushContent(mcid, { to: b.did, timeoutMs: 120_000 })
    expect(await holds(clientApi, mcid)).toBe(true)
    expect(client.counter.reads).toBe(0)

    // A raw block (one chunk) takes the same path.
    const small = new Uint8Array(randomBytes(10_000))
    const smallMcid = await a.putContent(small)
    await a.pushContent(smallMcid, { to: b.did, timeoutMs: 120_000 })
    expect(await holds(clientApi, smallMcid)).toBe(true)
    expect(station.counter.reads).toBe(0)
    expect(client.counter.reads).toBe(0)

    // The subtree's `fetch` of content held whole answers its size and chunks, reading nothing.
    expect(await Effect.runPromise(clientApi!.fetch(mcid))).toEqual({ size: bytes.length, chunks: 4 })
    expect(await Effect.runPromise(clientApi!.fetch(smallMcid))).toEqual({ size: small.length, chunks: 1 })
    expect(client.counter.reads).toBe(0)

    // Reading it is what counts: `getContent` does, and gets the bytes back.
    expect(Buffer.from(await b.getContent(mcid)).equals(Buffer.from(bytes))).toBe(true)
    expect(client.counter.reads).toBe(1)
  }, 180_000)
})

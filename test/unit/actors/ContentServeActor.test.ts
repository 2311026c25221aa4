/**
 * The serving actor driven directly with inbound frames (no network), on the real clock: it
 * answers wants, manifest requests and have checks from the store; malformed, unsolicited and
 * over-cap content frames never crash it, and it serves a good want afterwards.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ContentServeActor from "../../../actors/ContentServeActor.ts"
import * as Content from "../../../src/content/Content.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import * as ContentStore from "../../../src/platform/content/ContentStore.ts"
import * as ContentConfig from "../../../src/protocols/content/Config.ts"
import type { Inbound } from "../../../src/platform/transport/ConnectionHandle.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import { live } from "../../support/it.ts"

const CHUNK = 262_144

const setup = Effect.gen(function*() {
  const store = yield* Effect.orDie(ContentStore.make(
    (yield* Effect.promise(() => import("../../../src/platform/content/Backend.ts"))).memory()
  ))
  const serve = yield* ContentServeActor.start({ store, knobs: { ...ContentConfig.local, maxWantsPerPeer: 16 } })
  const sent: Array<{ readonly stream: number; readonly frame: Frame }> = []
  const inbound = (frame: unknown, stream = 1, opener: "peer" | "local" = "peer"): Inbound => ({
    frame: frame as Frame,
    channel: "content",
    opener,
    stream,
    connectionId: "c1",
    peerDid: "did:key:z6Mkpeer",
    reply: (f) => Effect.sync(() => void sent.push({ stream, frame: f }))
  })
  const send = (frame: unknown, stream = 1, opener: "peer" | "local" = "peer") =>
    serve.cast({ _tag: "Inbound", inbound: inbound(frame, stream, opener) })
  const stats = serve.call<ContentServeActor.Stats>((reply) => ({ _tag: "Stats", reply }))
  const waitFor = (ok: () => boolean) =>
    Effect.gen(function*() {
      for (let i = 0; i < 200 && !ok(); i++) yield* Effect.sleep(5)
      expect(ok()).toBe(true)
    })
  return { store, serve, sent, send, stats, waitFor }
})

describe("ContentServeActor", () => {
  live("serves blocks, manifests and have checks from the store on the session they were asked on", () =>
    Effect.gen(function*() {
      const { store, sent, send, waitFor } = yield* setup
      const bytes = new Uint8Array(3 * CHUNK).map((_, i) => (i * 7 + (i >> 18)) & 0xff) // chunks differ
      const mcid = yield* Effect.orDie(store.put(bytes))
      const layout = Content.describe(bytes)
      if (layout._tag !== "chunked") throw new Error("expected chunks")
      yield* send({ t: "content.manifest_req", id: 7, m: Mcid.bytes(mcid) }, 3)
      yield* send({ t: "content.want", w: layout.chunks.map((c) => ({ m: Mcid.bytes(c.mcid), k: "block" })) }, 3)
      yield* send({ t: "content.want", w: [{ m: Mcid.bytes(mcid), k: "have" }] }, 4)
      yield* waitFor(() => sent.length >= 5)
      const manifest = sent.find((s) => s.frame.t === "content.manifest_res")!
      expect(manifest.stream).toBe(3)
      expect(manifest.frame).toMatchObject({ id: 7, man: layout.manifestBytes })
      expect(sent.filter((s) => s.frame.t === "content.block" && s.stream === 3)).toHaveLength(3)
      expect(sent.find((s) => s.stream === 4)!.frame).toMatchObject({ t: "content.have", h: [{ y: true, sz: bytes.length }] })
    }))

  live("malformed, unsolicited and over-cap content frames never crash it", () =>
    Effect.gen(function*() {
      const { serve, store, sent, send, stats, waitFor } = yield* setup
      const good = yield* Effect.orDie(store.put(new Uint8Array([1, 2, 3])))
      const junk: ReadonlyArray<unknown> = [
        { t: "content.want", w: [{ m: new Uint8Array(33), k: "block" }] }, // not an MCID
        { t: "content.want", w: [{ m: new Uint8Array(34).fill(9), k: "block" }] }, // bad version and codec
        { t: "content.want", w: [{ m: "b".repeat(34), k: "block" }] }, // a string for bytes
        { t: "content.want", w: [{ k: "block" }] }, // no MCID
        { t: "content.want", w: [{ m: Mcid.bytes(good), k: "steal" }] }, // unknown kind
        { t: "content.want", w: [{ m: Mcid.bytes(good), k: "block", p: 999 }] }, // priority out of range
        { t: "content.want", w: "everything" },
        { t: "content.want" },
        { t: "content.want", w: Array.from({ length: 40 }, (_, i) => ({ m: Mcid.bytes(Mcid.ofBytes(new Uint8Array([i]))), k: "block" })) }, // over the cap
        { t: "content.cancel", c: [new Uint8Array(34), new Uint8Array(2)] }, // unknown wants
        { t: "content.cancel", c: [42] },
        { t: "content.manifest_req", id: 1, m: new Uint8Array(5) }, // not an MCID
        { t: "content.manifest_req", id: 2, m: Mcid.bytes(good) }, // a raw MCID, not a manifest
        { t: "content.manifest_req", id: -1, m: Mcid.bytes(good) },
        { t: "content.manifest_req", id: 3 },
        { t: "content.have", h: [{ m: Mcid.bytes(good), y: true, sz: 3 }] }, // a push offer: declined
        { t: "content.have", h: [{ m: 7, y: "yes" }] },
        { t: "content.block", m: Mcid.bytes(good), d: new Uint8Array([1, 2, 3]) }, // unsolicited
        { t: "content.manifest_res", id: 9, m: Mcid.bytes(good), nf: true },
        { t: "err", c: "internal" },
        { t: "ping", n: 1 },
        {}
      ]
      for (const [i, frame] of junk.entries()) yield* send(frame, 10 + i)
      yield* send({ t: "content.want", w: [{ m: Mcid.bytes(good), k: "block" }] }, 99, "local") // not a request to us
      yield* Effect.sleep(50)
      expect(serve.isAlive()).toBe(true)
      const before = yield* stats
      expect(before.dropped).toBeGreaterThanOrEqual(12)
      expect(before.offersDeclined).toBe(1)
      expect(before.refusedOverCap).toBeGreaterThan(0)
      // Still serving.
      yield* send({ t: "content.want", w: [{ m: Mcid.bytes(good), k: "block" }] }, 100)
      yield* waitFor(() => sent.some((s) => s.stream === 100 && s.frame.t === "content.block"))
      expect(sent.find((s) => s.stream === 100)!.frame).toMatchObject({ t: "content.block", d: new Uint8Array([1, 2, 3]) })
      // Wants for blocks it does not hold are answered `y: false`.
      const missing = Mcid.bytes(Mcid.ofBytes(new Uint8Array([200])))
      yield* send({ t: "content.want", w: [{ m: missing, k: "block" }] }, 101)
      yield* waitFor(() => sent.some((s) => s.stream === 101))
      expect(sent.find((s) => s.stream === 101)!.frame).toMatchObject({ t: "content.have", h: [{ y: false }] })
      expect(serve.isAlive()).toBe(true)
    }))
})

/**
 * The serving actor under a members-only policy (PROTOCOL.md §13.0, §13.3 `/content/get`),
 * driven directly with inbound frames on the real clock and a real store. The judge here is a
 * stand-in (`au` present or not); the UCAN checks themselves are `ContentAuthority`'s and are
 * tested with real tokens in test/unit/node/ContentAuthority.test.ts. Shown: a session whose
 * first request has no valid `au` gets `err unauthorized` and nothing else, even for later
 * frames; an admitted session for a manifest is served it and its chunks, and nothing else it
 * asks; an admission past its chain's expiry is refused `Expired`.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ContentServeActor from "../../../actors/ContentServeActor.ts"
import * as Content from "../../../src/content/Content.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import * as ContentStore from "../../../src/platform/content/ContentStore.ts"
import type { Inbound } from "../../../src/platform/transport/ConnectionHandle.ts"
import * as ContentConfig from "../../../src/protocols/content/Config.ts"
import type { Authority, Frame } from "../../../src/wire/Frame.ts"
import { live } from "../../support/it.ts"

const CHUNK = 262_144
const au: Authority = { inv: new Uint8Array([1]), prf: [] }

const setup = (verdict: (first: { readonly au: Authority | undefined }) => ContentServeActor.AdmissionVerdict) =>
  Effect.gen(function*() {
    const store = yield* Effect.orDie(ContentStore.make(
      (yield* Effect.promise(() => import("../../../src/platform/content/Backend.ts"))).memory()
    ))
    const judged: Array<{ readonly peerDid: string; readonly from: Uint8Array | undefined }> = []
    const serve = yield* ContentServeActor.start({
      store,
      knobs: ContentConfig.local,
      admission: { judge: (first) => (judged.push({ peerDid: first.peerDid, from: first.from }), verdict(first)) }
    })
    const sent: Array<{ readonly stream: number; readonly frame: Frame }> = []
    const send = (frame: Frame, stream: number) =>
      serve.cast({
        _tag: "Inbound",
        inbound: {
          frame, channel: "content", opener: "peer", stream, connectionId: "c1", peerDid: "did:key:z6Mkpeer",
          reply: (f) => Effect.sync(() => void sent.push({ stream, frame: f }))
        } satisfies Inbound
      })
    const stats = serve.call<ContentServeActor.Stats>((reply) => ({ _tag: "Stats", reply }))
    const settle = Effect.sleep(100)
    return { store, sent, send, stats, settle, judged }
  })

/** Three distinct chunks, a manifest, and another block the store also holds. */
const content = (store: ContentStore.ContentStoreShape) =>
  Effect.gen(function*() {
    const bytes = new Uint8Array(3 * CHUNK).map((_, i) => (i * 7 + (i >> 18)) & 0xff)
    const mcid = yield* Effect.orDie(store.put(bytes))
    const layout = Content.describe(bytes)
    if (layout._tag !== "chunked") throw new Error("expected chunks")
    const other = yield* Effect.orDie(store.put(new Uint8Array([4, 5, 6])))
    return { mcid, chunks: layout.chunks.map((c) => Mcid.bytes(c.mcid)), manifestBytes: layout.manifestBytes, other }
  })

describe("ContentServeActor with a members-only policy", () => {
  live("refuses a session without au once, with err unauthorized, and serves nothing on it", () =>
    Effect.gen(function*() {
      const { store, sent, send, stats, settle, judged } = yield* setup((first) =>
        first.au === undefined ? { _tag: "Denied", reason: "UnavailableProof" } : { _tag: "Allowed", mcid: "", until: null }
      )
      const { mcid, chunks } = yield* content(store)
      // A cancel opens nothing: not judged.
      yield* send({ t: "content.cancel", c: [chunks[0]!] }, 1)
      yield* send({ t: "content.manifest_req", id: 9, m: Mcid.bytes(mcid) }, 1)
      yield* send({ t: "content.want", w: chunks.map((m) => ({ m, k: "block" as const })), au }, 1)
      yield* settle
      expect(sent).toEqual([{ stream: 1, frame: { t: "err", id: 9, c: "unauthorized", r: "UnavailableProof" } }])
      expect(judged).toHaveLength(1)
      const s = yield* stats
      expect(s).toMatchObject({ unauthorized: 1, blocksServed: 0, sessions: 0 })
    }))

  live("serves an admitted session its manifest and chunks, and nothing else", () =>
    Effect.gen(function*() {
      let admitted = ""
      const { store, sent, send, settle, judged } = yield* setup((first) =>
        first.au === undefined ? { _tag: "Denied", reason: "UnavailableProof" } : { _tag: "Allowed", mcid: admitted, until: null }
      )
      const { mcid, chunks, manifestBytes, other } = yield* content(store)
      admitted = Mcid.toString(mcid)
      const from = new Uint8Array(32).fill(7)
      // The first request is a chunk want: the invocation names the manifest, which covers it.
      yield* send({ t: "content.want", w: [{ m: chunks[0]!, k: "block" }], au, from }, 2)
      yield* send({ t: "content.manifest_req", id: 1, m: Mcid.bytes(mcid) }, 2)
      yield* send({ t: "content.want", w: [...chunks.slice(1).map((m) => ({ m, k: "block" as const })), { m: Mcid.bytes(other), k: "block" }] }, 2)
      yield* send({ t: "content.manifest_req", id: 2, m: Mcid.bytes(other) }, 2)
      yield* settle
      expect(judged).toEqual([{ peerDid: "did:key:z6Mkpeer", from }])
      const blocks = sent.filter((s) => s.frame.t === "content.block").map((s) => (s.frame as { m: Uint8Array }).m)
      expect(blocks.map((m) => Mcid.toString(Mcid.fromBinary(m)!)).sort()).toEqual(chunks.map((m) => Mcid.toString(Mcid.fromBinary(m)!)).sort())
      expect(sent.find((s) => s.frame.t === "content.manifest_res" && s.frame.id === 1)?.frame).toMatchObject({ man: manifestBytes })
      expect(sent.find((s) => s.frame.t === "content.manifest_res" && s.frame.id === 2)?.frame).toMatchObject({ nf: true })
      expect(sent.some((s) => s.frame.t === "content.have" && s.frame.h.some((e) => !e.y && Mcid.toString(Mcid.fromBinary(e.m)!) === Mcid.toString(other)))).toBe(true)
      expect(sent.every((s) => s.frame.t !== "err")).toBe(true)
    }))

  live("refuses an admission whose chain has expired", () =>
    Effect.gen(function*() {
      const { store, sent, send, settle } = yield* setup(() => ({ _tag: "Allowed", mcid: "", until: 1 }))
      const { mcid } = yield* content(store)
      yield* send({ t: "content.manifest_req", id: 3, m: Mcid.bytes(mcid), au }, 5)
      yield* settle
      expect(sent).toEqual([{ stream: 5, frame: { t: "err", id: 3, c: "unauthorized", r: "Expired" } }])
    }))
})

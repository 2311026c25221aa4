/**
 * Properties of the content exchange cores (PROTOCOL.md §12.3–§12.4):
 * - on the simulator, with any content size, one or two honest providers, up to two liars and
 *   up to two mute providers, latency, jitter and some loss, a fetch completes with
 *   byte-identical content and never asks to store a block that does not verify;
 * - a resumed fetch never asks for a chunk it already holds;
 * - fed arbitrary sequences of events (good and corrupted blocks, foreign MCIDs, stray
 *   manifest answers, timers, store failures, pauses, lost and new providers), the fetch core
 *   never throws, never stores an unverified block, and keeps its bounds: at most
 *   `fetchWindowPerProvider` wants per provider, at most 1 + `endgameDuplicates` providers per
 *   chunk, at most `maxProvidersPerFetch` providers, one armed timer per outstanding want;
 * - fed arbitrary frames from many peers, the serving core never throws, never has more than
 *   `maxInFlightBlocksPerPeer` reads in flight or `maxWantsPerPeer` open wants for a peer.
 *
 * Regression cases: counterexamples found by these properties are pinned as `examples` of the
 * property that found them. None so far.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Mcid from "../src/content/Mcid.ts"
import * as Fetch from "../src/protocols/content/Fetch.ts"
import * as Serve from "../src/protocols/content/Serve.ts"
import * as Sim from "../src/testkit/sim/index.ts"
import { config, contentOf, CS, layout } from "../test/unit/protocols/content/Fixtures.ts"
import * as World from "../test/unit/protocols/content/World.ts"

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(Buffer.from(b))

const arbSize = fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: CS + 1, max: 12 * CS }))

describe("fetch on the simulator", () => {
  it("completes byte-identical despite liars, mute providers, latency and loss", () => {
    fc.assert(fc.property(
      fc.record({
        seed: fc.integer(),
        size: arbSize,
        honest: fc.integer({ min: 1, max: 2 }),
        liars: fc.integer({ min: 0, max: 2 }),
        mute: fc.integer({ min: 0, max: 2 }),
        latencyMs: fc.integer({ min: 1, max: 80 }),
        loss: fc.double({ min: 0, max: 0.05, noNaN: true }),
        window: fc.integer({ min: 1, max: 8 }),
        endgame: fc.integer({ min: 0, max: 2 })
      }),
      (p) => {
        const content = contentOf(p.size, p.seed)
        const providers = [
          ...Array.from({ length: p.honest }, (_, i) => ({ id: `h${i}`, behaviour: "honest" as const })),
          ...Array.from({ length: p.liars }, (_, i) => ({ id: `l${i}`, behaviour: "liar" as const })),
          ...Array.from({ length: p.mute }, (_, i) => ({ id: `m${i}`, behaviour: "mute" as const }))
        ]
        const w = World.make({
          seed: p.seed,
          content,
          providers,
          config: config({ blockRequestTimeoutMs: 4 * p.latencyMs + 50, fetchWindowPerProvider: p.window, endgameDuplicates: p.endgame }),
          network: { latencyMs: p.latencyMs, jitter: Sim.Network.uniform(p.latencyMs / 2), loss: p.loss }
        })
        w.start(0)
        Sim.runUntil(w.sim, 600_000)
        const f = w.fetcher()
        expect(f.storedBad).toBe(0)
        expect(f.fetch.phase).toBe("done")
        expect(same(w.assembled(), content)).toBe(true)
      }
    ), { numRuns: 40 })
  })

  it("never asks for a chunk it already holds when resuming", () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 2, max: 10 }), fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }), (seed, chunks, heldMask) => {
      const content = contentOf(chunks * CS - 7, seed)
      const w = World.make({ seed, content, config: config(), providers: [{ id: "p", behaviour: "honest" }] })
      if (w.layout._tag !== "chunked") throw new Error("chunked expected")
      const held = heldMask.slice(0, w.layout.manifest.chunkCount).flatMap((h, i) => (h ? [i] : []))
      w.start(0, { _tag: "Manifest", manifest: w.layout.manifest, held })
      Sim.runUntil(w.sim, 60_000)
      const f = w.fetcher()
      expect(f.fetch.phase).toBe("done")
      for (const i of held) expect(f.stored.has(i)).toBe(false)
      expect(f.stored.size).toBe(w.layout.manifest.chunkCount - held.length)
    }), { numRuns: 40 })
  })
})

describe("fetch core under arbitrary events", () => {
  const data = contentOf(9 * CS + 5, 77)
  const { target, byHex, manifestBytes } = layout(data)
  const providers = ["a", "b", "c", "d", "e", "f", "g"]
  const knobs = { fetchWindowPerProvider: 3, endgameDuplicates: 2, maxProvidersPerFetch: 4 }
  const cfg = config(knobs)
  const step = Fetch.make(cfg)

  type Op =
    | { readonly op: "good"; readonly from: number; readonly pick: number }
    | { readonly op: "bad"; readonly from: number; readonly pick: number }
    | { readonly op: "foreign"; readonly from: number }
    | { readonly op: "manifest"; readonly from: number; readonly id: number; readonly bad: boolean }
    | { readonly op: "notHave"; readonly from: number; readonly pick: number }
    | { readonly op: "timer"; readonly pick: number }
    | { readonly op: "stored"; readonly pick: number; readonly fail: boolean }
    | { readonly op: "lost"; readonly from: number }
    | { readonly op: "found"; readonly from: number }
    | { readonly op: "pause" }
    | { readonly op: "resume" }

  const from = fc.nat(providers.length - 1)
  const arbOp: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ op: fc.constant("good" as const), from, pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("bad" as const), from, pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("foreign" as const), from }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("manifest" as const), from, id: fc.nat(6), bad: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("notHave" as const), from, pick: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("timer" as const), pick: fc.nat() }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("stored" as const), pick: fc.nat(), fail: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("lost" as const), from }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("found" as const), from }) },
    { weight: 1, arbitrary: fc.constant({ op: "pause" as const }) },
    { weight: 1, arbitrary: fc.constant({ op: "resume" as const }) }
  )

  const toEvent = (s: Fetch.State, o: Op, now: number, armed: ReadonlyArray<{ timer: Fetch.Timer; generation: number }>): Fetch.Event | undefined => {
    const who = "from" in o ? providers[o.from]! : "a"
    const chunk = (pick: number) => (s.chunks.length === 0 ? undefined : pick % s.chunks.length)
    switch (o.op) {
      case "good":
      case "bad": {
        const i = chunk(o.pick)
        if (i === undefined) return undefined
        const m = s.chunks[i]!
        const d = byHex.get(Buffer.from(m).toString("hex"))!
        let bytes = d
        if (o.op === "bad") {
          bytes = d.slice()
          bytes[0] = bytes[0]! ^ 1
        }
        return Fetch.Event.FrameReceived({ now, from: who, frame: { t: "content.block", m, d: bytes } })
      }
      case "foreign":
        return Fetch.Event.FrameReceived({ now, from: who, frame: { t: "content.block", m: Mcid.bytes(Mcid.ofBlock(new Uint8Array([now & 255]))), d: new Uint8Array([now & 255]) } })
      case "manifest": {
        // Mostly an answer to a real request (from the provider asked), sometimes a stray one.
        const real = [...s.manifestRequests]
        const [id, owner] = o.id < 5 && real.length > 0 ? real[o.id % real.length]! : [o.id + 100, who]
        return Fetch.Event.FrameReceived({
          now, from: owner,
          frame: { t: "content.manifest_res", id, m: target, man: o.bad ? manifestBytes!.subarray(1) : manifestBytes! }
        })
      }
      case "notHave": {
        const i = chunk(o.pick)
        return Fetch.Event.FrameReceived({ now, from: who, frame: { t: "content.have", h: [{ m: i === undefined ? target : s.chunks[i]!, y: false }] } })
      }
      case "timer": {
        if (armed.length === 0) return undefined
        const t = armed[o.pick % armed.length]!
        return Fetch.Event.TimerFired({ now, timer: t.timer, generation: t.generation })
      }
      case "stored": {
        const verified = [...s.status.keys()].filter((i) => s.status[i] === Fetch.chunkStatus.verified)
        if (verified.length === 0) return undefined
        const index = verified[o.pick % verified.length]!
        return o.fail ? Fetch.Event.StoreFailed({ now, index }) : Fetch.Event.Stored({ now, index })
      }
      case "lost":
        return Fetch.Event.ProviderLost({ now, provider: who })
      case "found":
        return Fetch.Event.ProvidersFound({ now, providers: [who] })
      case "pause":
        return Fetch.Event.Pause({ now })
      case "resume":
        return Fetch.Event.Resume({ now })
    }
  }

  it("never throws, never stores an unverified block, and keeps its bounds", () => {
    let reachedBlocks = 0
    fc.assert(fc.property(fc.integer(), fc.array(arbOp, { minLength: 30, maxLength: 200 }), (seed, ops) => {
      let [s, out] = step(Fetch.initial(target, seed), Fetch.Event.Start({ now: 0, providers: providers.slice(0, 6), stored: { _tag: "Nothing" } }))
      const armed = new Map<string, { timer: Fetch.Timer; generation: number }>()
      let now = 0
      const absorb = (commands: ReadonlyArray<Fetch.Command>) => {
        for (const c of commands) {
          if (c._tag === "SetTimer") armed.set(Fetch.timerKey(c.timer), { timer: c.timer, generation: c.generation })
          if (c._tag === "CancelTimer") armed.delete(Fetch.timerKey(c.timer))
          if (c._tag === "StoreBlock") expect(Mcid.verifies(Mcid.fromBytes(c.mcid), c.bytes)).toBe(true)
        }
      }
      absorb(out)
      for (const o of ops) {
        now += 7
        const e = toEvent(s, o, now, [...armed.values()])
        if (e === undefined) continue
        if (e._tag === "TimerFired") armed.delete(Fetch.timerKey(e.timer))
        ;[s, out] = step(s, e)
        absorb(out)
        if (s.phase === "storing_manifest") {
          ;[s, out] = step(s, Fetch.Event.ManifestStored({ now, held: [] }))
          absorb(out)
        }
        expect(s.providers.size).toBeLessThanOrEqual(knobs.maxProvidersPerFetch)
        let wants = 0
        for (const p of s.providers.values()) {
          expect(p.inFlight.size).toBeLessThanOrEqual(knobs.fetchWindowPerProvider)
          wants += p.inFlight.size
        }
        for (const asked of s.outstanding.values()) expect(asked.length).toBeLessThanOrEqual(1 + knobs.endgameDuplicates)
        expect([...s.outstanding.values()].reduce((n, a) => n + a.length, 0)).toBe(wants)
        // One timer per want, per manifest request and per lost provider awaiting its retry,
        // and at most one end-game recheck.
        const endgame = s.timers.has(Fetch.timerKey({ _tag: "Endgame" })) ? 1 : 0
        expect(s.timers.size).toBe(wants + s.manifestRequests.size + s.lost.size + endgame)
        for (const id of [...s.lost.keys(), ...s.gone]) expect(s.providers.has(id)).toBe(false)
        // The store backlog is exactly the chunks verified and awaiting their write.
        const awaiting = [...s.status.keys()].filter((i) =>
          s.status[i] === Fetch.chunkStatus.verified && s.chunkIndex.get(Buffer.from(s.chunks[i]!).toString("hex")) === i
        ).length
        expect(s.storing).toBe(awaiting)
        expect(s.storedChunks).toBe([...s.status].filter((x) => x === Fetch.chunkStatus.stored).length)
      }
      if (s.chunks.length > 0) reachedBlocks++
    }), { numRuns: 200 })
    // The generator reaches the interesting states, not only the manifest phase.
    expect(reachedBlocks).toBeGreaterThan(60)
  })
})

describe("serve core under arbitrary frames", () => {
  const knobs = { ...config(), maxWantsPerPeer: 6, maxInFlightBlocksPerPeer: 2, maxServedPeers: 3 }
  const step = Serve.make(knobs)
  const m = (n: number) => {
    const out = new Uint8Array(34)
    out[0] = 1
    out[1] = n % 5 === 0 ? 0x56 : 0x55
    out[2] = n
    return out
  }
  const peer = fc.constantFrom("a", "b", "c", "d", "e")
  const arbEvent = (now: number) => fc.oneof(
    fc.record({ from: peer, ns: fc.array(fc.nat(20), { maxLength: 10 }), full: fc.boolean(), p: fc.option(fc.nat(255), { nil: undefined }), have: fc.boolean() }).map((r) =>
      Serve.Event.FrameReceived({
        now, from: r.from,
        frame: {
          t: "content.want",
          w: r.ns.map((n) => (r.p === undefined ? { m: m(n), k: r.have ? "have" as const : "block" as const } : { m: m(n), k: "block" as const, p: r.p })),
          ...(r.full ? { full: true } : {})
        }
      })),
    fc.record({ from: peer, ns: fc.array(fc.nat(20), { maxLength: 5 }) }).map((r) => Serve.Event.FrameReceived({ now, from: r.from, frame: { t: "content.cancel", c: r.ns.map(m) } })),
    fc.record({ from: peer, id: fc.nat(10), n: fc.nat(20) }).map((r) => Serve.Event.FrameReceived({ now, from: r.from, frame: { t: "content.manifest_req", id: r.id, m: m(r.n) } })),
    fc.record({ peer, n: fc.nat(20), held: fc.boolean() }).map((r) => Serve.Event.BlockRead({ now, peer: r.peer, m: m(r.n), ...(r.held ? { bytes: new Uint8Array(3) } : {}) })),
    fc.record({ peer }).map((r) => Serve.Event.BlockSent({ now, peer: r.peer })),
    fc.record({ peer, id: fc.nat(10), n: fc.nat(20) }).map((r) => Serve.Event.ManifestRead({ now, peer: r.peer, id: r.id, m: m(r.n) })),
    fc.record({ peer, n: fc.nat(20), held: fc.boolean() }).map((r) => Serve.Event.HaveChecked({ now, peer: r.peer, m: m(r.n), held: r.held })),
    fc.record({ peer }).map((r) => Serve.Event.PeerGone({ now, peer: r.peer }))
  )

  it("never throws and keeps every peer within its credit and want cap", () => {
    fc.assert(fc.property(fc.array(fc.nat(10_000), { maxLength: 150 }).chain((times) =>
      fc.tuple(...times.map((t) => arbEvent(t)))), (events) => {
      let s = Serve.initial
      const sorted = [...events].sort((a, b) => a.now - b.now)
      for (const e of sorted) {
        ;[s] = step(s, e)
        expect(s.peers.size).toBeLessThanOrEqual(knobs.maxServedPeers)
        for (const p of s.peers.values()) {
          expect(p.inFlight).toBeLessThanOrEqual(knobs.maxInFlightBlocksPerPeer)
          expect(p.wants.size + p.checks).toBeLessThanOrEqual(knobs.maxWantsPerPeer)
          expect(p.inFlight).toBeGreaterThanOrEqual(0)
        }
      }
    }), { numRuns: 300 })
  })
})

/**
 * The serving core: want lists with per-peer credit, priorities, round-robin, caps, TTLs,
 * cancels, `have` checks and manifest requests.
 */
import { describe, expect, it } from "vitest"
import * as Config from "../../../../src/protocols/content/Config.ts"
import * as Serve from "../../../../src/protocols/content/Serve.ts"
import { hex, mcidN, tags } from "./Fixtures.ts"

const { Event } = Serve
const mcid = mcidN
const want = (ns: ReadonlyArray<number>, p?: number, full?: boolean) => ({
  t: "content.want" as const,
  w: ns.map((n) => (p === undefined ? { m: mcid(n), k: "block" as const } : { m: mcid(n), k: "block" as const, p })),
  ...(full === undefined ? {} : { full })
})
const reads = (out: ReadonlyArray<Serve.Command>) =>
  out.flatMap((c) => (c._tag === "ReadBlock" ? [`${c.peer}:${c.m[2]! + (c.m[3]! << 8)}`] : []))

describe("Serve", () => {
  it("reads at most maxInFlightBlocksPerPeer blocks per peer, and one more per BlockSent", () => {
    const step = Serve.make({ ...Config.local, maxInFlightBlocksPerPeer: 2 })
    let [s, out] = step(Serve.initial, Event.FrameReceived({ now: 0, from: "p", frame: want([1, 2, 3, 4]) }))
    expect(reads(out)).toEqual(["p:1", "p:2"])
    ;[s, out] = step(s, Event.BlockRead({ now: 1, peer: "p", m: mcid(1), bytes: new Uint8Array([9]) }))
    expect(out).toEqual([Serve.Command.Send({ to: "p", frame: { t: "content.block", m: mcid(1), d: new Uint8Array([9]) } })])
    ;[s, out] = step(s, Event.BlockSent({ now: 2, peer: "p" }))
    expect(reads(out)).toEqual(["p:3"])
  })

  it("serves higher priorities first, oldest first among equals", () => {
    const step = Serve.make({ ...Config.local, maxInFlightBlocksPerPeer: 1 })
    let [s, out] = step(Serve.initial, Event.FrameReceived({ now: 0, from: "p", frame: want([1, 2], 10) }))
    expect(reads(out)).toEqual(["p:1"])
    ;[s] = step(s, Event.FrameReceived({ now: 1, from: "p", frame: want([3], 200) }))
    ;[s] = step(s, Event.BlockRead({ now: 2, peer: "p", m: mcid(1), bytes: new Uint8Array(1) }))
    ;[s, out] = step(s, Event.BlockSent({ now: 3, peer: "p" }))
    expect(reads(out)).toEqual(["p:3"])
  })

  it("takes turns across peers so one long list cannot starve another", () => {
    const step = Serve.make({ ...Config.local, maxInFlightBlocksPerPeer: 1 })
    let [s] = step(Serve.initial, Event.FrameReceived({ now: 0, from: "a", frame: want([1, 2, 3, 4, 5]) }))
    let out
    ;[s, out] = step(s, Event.FrameReceived({ now: 0, from: "b", frame: want([9]) }))
    expect(reads(out)).toEqual(["b:9"])
    ;[s] = step(s, Event.BlockRead({ now: 1, peer: "a", m: mcid(1), bytes: new Uint8Array(1) }))
    ;[s, out] = step(s, Event.BlockSent({ now: 1, peer: "a" }))
    expect(reads(out)).toEqual(["a:2"])
  })

  it("answers wants over maxWantsPerPeer with y: false and a penalty", () => {
    const step = Serve.make({ ...Config.local, maxWantsPerPeer: 3, maxInFlightBlocksPerPeer: 1 })
    const [, out] = step(Serve.initial, Event.FrameReceived({ now: 0, from: "p", frame: want([1, 2, 3, 4, 5]) }))
    const have = out.find((c) => c._tag === "Send" && c.frame.t === "content.have")
    expect(have).toBeDefined()
    expect(have?._tag === "Send" && have.frame.t === "content.have" && have.frame.h.map((e) => [e.m[2], e.y])).toEqual([[4, false], [5, false]])
    expect(tags(out)).toContain("Penalise")
  })

  it("forgets cancelled wants, replaces the list on full, and expires old wants", () => {
    const step = Serve.make({ ...Config.local, maxInFlightBlocksPerPeer: 1, wantTtlMs: 100 })
    let [s] = step(Serve.initial, Event.FrameReceived({ now: 0, from: "p", frame: want([1, 2, 3]) }))
    ;[s] = step(s, Event.FrameReceived({ now: 1, from: "p", frame: { t: "content.cancel", c: [mcid(2)] } }))
    expect([...s.peers.get("p")!.wants.keys()]).toEqual([hex(mcid(3))])
    ;[s] = step(s, Event.FrameReceived({ now: 2, from: "p", frame: want([7], undefined, true) }))
    expect([...s.peers.get("p")!.wants.keys()]).toEqual([hex(mcid(7))])
    ;[s] = step(s, Event.TimerFired({ now: 500, timer: { _tag: "Sweep" }, generation: s.sweepGeneration! }))
    expect(s.peers.get("p")!.wants.size).toBe(0)
    expect(s.counters.expired).toBe(1)
  })

  it("answers have checks and manifest requests through the store", () => {
    const step = Serve.make(Config.local)
    let [s, out] = step(Serve.initial, Event.FrameReceived({ now: 0, from: "p", frame: { t: "content.want", w: [{ m: mcid(1), k: "have" }] } }))
    expect(out).toEqual([Serve.Command.CheckHave({ peer: "p", m: mcid(1) })])
    ;[s, out] = step(s, Event.HaveChecked({ now: 1, peer: "p", m: mcid(1), held: true, size: 10 }))
    expect(out).toEqual([Serve.Command.Send({ to: "p", frame: { t: "content.have", h: [{ m: mcid(1), y: true, sz: 10 }] } })])
    ;[s, out] = step(s, Event.FrameReceived({ now: 2, from: "p", frame: { t: "content.manifest_req", id: 4, m: mcid(2) } }))
    expect(out).toEqual([Serve.Command.ReadManifest({ peer: "p", id: 4, m: mcid(2) })])
    ;[s, out] = step(s, Event.ManifestRead({ now: 3, peer: "p", id: 4, m: mcid(2) }))
    expect(out).toEqual([Serve.Command.Send({ to: "p", frame: { t: "content.manifest_res", id: 4, m: mcid(2), nf: true } })])
    expect(s.peers.size).toBe(0)
  })

  it("refuses peers beyond maxServedPeers and forgets a peer that left", () => {
    const step = Serve.make({ ...Config.local, maxServedPeers: 1 })
    let [s, out] = step(Serve.initial, Event.FrameReceived({ now: 0, from: "a", frame: want([1]) }))
    ;[s, out] = step(s, Event.FrameReceived({ now: 0, from: "b", frame: want([2]) }))
    expect(out[0]).toMatchObject({ _tag: "Send", to: "b", frame: { t: "content.have" } })
    ;[s] = step(s, Event.PeerGone({ now: 1, peer: "a" }))
    expect(s.peers.size).toBe(0)
    ;[s, out] = step(s, Event.BlockRead({ now: 2, peer: "a", m: mcid(1), bytes: new Uint8Array(1) }))
    expect(out).toEqual([])
  })

  it("turns an unsolicited have with y: true into a push offer, and ignores y: false", () => {
    const step = Serve.make(Config.local)
    const [s, out] = step(Serve.initial, Event.FrameReceived({
      now: 0, from: "p", frame: { t: "content.have", h: [{ m: mcid(1), y: true, sz: 99 }, { m: mcid(2), y: false }] }
    }))
    expect(out).toEqual([Serve.Command.Offered({ peer: "p", m: mcid(1), size: 99 })])
    expect(s.peers.size).toBe(0)
  })
})

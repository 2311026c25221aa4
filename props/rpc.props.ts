/**
 * Properties of the RPC cores (PROTOCOL.md §9):
 * - client endpoint: under arbitrary orders of replies (right, wrong and late ids), timers,
 *   link losses, cancels and time, every call ends with exactly one `Complete`, and nothing
 *   but `CallTimeout` ends a call at or after its deadline;
 * - station dispatcher: under arbitrary provider answers, failures, detaches, deaths, cancels
 *   and time, every call received is answered exactly once (or cancelled by its caller),
 *   never with anything but `deadline_exceeded` at or after its deadline, and an idempotent
 *   call is never sent to the same provider twice;
 * - streams: between a caller and a provider endpoint, with arbitrary sends, consumption and
 *   interleaved delivery, no side ever has more messages outstanding than the other granted.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Rpc } from "../src/protocols/rpc/index.ts"
import type * as Frame from "../src/wire/Frame.ts"
import * as B from "../test/unit/protocols/rpc/Build.ts"

const { EndpointEvent: EE, DispatcherEvent: DE } = Rpc

/** Fires, in order of their time, the timers due by `now`, as an actor's timer map would. */
const fireDue = (
  timers: Map<string, { at: number; generation: number }>,
  now: number,
  fire: (timer: string, generation: number) => void
): void => {
  for (let guard = 0; guard < 10_000; guard++) {
    const due = Array.from(timers).filter(([, t]) => t.at <= now).sort((x, y) => x[1].at - y[1].at)[0]
    if (due === undefined) return
    timers.delete(due[0])
    fire(due[0], due[1].generation)
  }
}

// ---------------------------------------------------------------------------------------------
// Endpoint: exactly one completion, never late
// ---------------------------------------------------------------------------------------------

type EpAction =
  | { readonly k: "call"; readonly idem: boolean; readonly timeout: number }
  | { readonly k: "reply"; readonly pick: number; readonly err: boolean }
  | { readonly k: "stray"; readonly id: number }
  | { readonly k: "wait"; readonly dt: number }
  | { readonly k: "down" }
  | { readonly k: "up" }
  | { readonly k: "cancel"; readonly pick: number }

const epAction: fc.Arbitrary<EpAction> = fc.oneof(
  fc.record({ k: fc.constant("call" as const), idem: fc.boolean(), timeout: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ k: fc.constant("reply" as const), pick: fc.nat(), err: fc.boolean() }),
  fc.record({ k: fc.constant("stray" as const), id: fc.nat(50) }),
  fc.record({ k: fc.constant("wait" as const), dt: fc.integer({ min: 1, max: 200 }) }),
  fc.constant<EpAction>({ k: "down" }),
  fc.constant<EpAction>({ k: "up" }),
  fc.record({ k: fc.constant("cancel" as const), pick: fc.nat() })
)

describe("rpc endpoint: every call ends exactly once", () => {
  it("one Complete per call, and only CallTimeout at or after the deadline", () => {
    fc.assert(
      fc.property(fc.array(epAction, { maxLength: 120 }), (actions) => {
        const step = Rpc.makeEndpointStep(Rpc.local)
        let s = Rpc.initialEndpoint({ seed: 1 })
        let now = 0, ref = 0
        const deadlines = new Map<number, number>()
        const completed = new Map<number, number>()
        const timers = new Map<string, { at: number; generation: number }>()
        const run = (e: Rpc.EndpointEvent) => {
          const [after, out] = step(s, e)
          s = after
          for (const c of out) {
            if (c._tag === "SetTimer") timers.set(c.timer, { at: c.at, generation: c.generation })
            if (c._tag === "CancelTimer") timers.delete(c.timer)
            if (c._tag !== "Complete") continue
            completed.set(c.ref, (completed.get(c.ref) ?? 0) + 1)
            const deadline = deadlines.get(c.ref)
            if (deadline !== undefined && now >= deadline) expect(["CallTimeout", "Cancelled"]).toContain(c.outcome._tag)
          }
        }
        const inFlightIds = () => Array.from(s.calls.values()).filter((c) => c.sent).map((c) => c.id)
        run(EE.LinkUp({ now, wall: 0, station: B.id(0xee) }))
        for (const a of actions) {
          if (a.k === "call") {
            ref++
            deadlines.set(ref, now + a.timeout)
            run(EE.Call({ now, ref, realm: B.realm, proc: B.proc, args: null, idempotent: a.idem, timeoutMs: a.timeout }))
          } else if (a.k === "reply") {
            const ids = inFlightIds()
            if (ids.length > 0) {
              const id = ids[a.pick % ids.length]!
              run(EE.ReplyReceived({ now, frame: a.err ? { t: "reply", id, e: { c: "overloaded" } } : { t: "reply", id, r: 1 } }))
            }
          } else if (a.k === "stray") run(EE.ReplyReceived({ now, frame: { t: "reply", id: a.id, r: 0 } }))
          else if (a.k === "wait") {
            now += a.dt
            fireDue(timers, now, (timer, generation) => run(EE.TimerFired({ now, timer, generation })))
          } else if (a.k === "down") run(EE.LinkDown({ now }))
          else if (a.k === "up") run(EE.LinkUp({ now, wall: now, station: B.id(0xee) }))
          else {
            const refs = Array.from(s.refs.keys())
            if (refs.length > 0) run(EE.CancelCall({ now, ref: refs[a.pick % refs.length]! }))
          }
        }
        // Let every timer run out.
        now += Rpc.local.maxCallTtlMs
        fireDue(timers, now, (timer, generation) => run(EE.TimerFired({ now, timer, generation })))
        for (let r = 1; r <= ref; r++) expect(completed.get(r)).toBe(1)
        expect(s.calls.size).toBe(0)
      }),
      { numRuns: 400 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Dispatcher: exactly one answer, never late, never the same provider twice
// ---------------------------------------------------------------------------------------------

type DAction =
  | { readonly k: "call"; readonly idem: boolean; readonly ttl: number }
  | { readonly k: "answer"; readonly pick: number; readonly code: Frame.RpcErrorCode | "ok" }
  | { readonly k: "detach"; readonly provider: number }
  | { readonly k: "dead" }
  | { readonly k: "cancel"; readonly pick: number }
  | { readonly k: "resolve" }
  | { readonly k: "wait"; readonly dt: number }

const codes: ReadonlyArray<Frame.RpcErrorCode | "ok"> = [
  "ok",
  "overloaded",
  "relay_failed",
  "provider_gone",
  "no_provider",
  "handler_error",
  "deadline_exceeded",
  "withdrawn"
]

const dAction: fc.Arbitrary<DAction> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant("call" as const), idem: fc.boolean(), ttl: fc.integer({ min: 1, max: 600 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant("answer" as const), pick: fc.nat(), code: fc.constantFrom(...codes) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("detach" as const), provider: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.constant<DAction>({ k: "dead" }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("cancel" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant<DAction>({ k: "resolve" }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("wait" as const), dt: fc.integer({ min: 1, max: 150 }) }) }
)

describe("rpc dispatcher: every call is answered exactly once", () => {
  it("one reply per call (unless cancelled), never late, never the same provider twice", () => {
    fc.assert(
      fc.property(fc.array(dAction, { maxLength: 150 }), fc.integer(), (actions, seed) => {
        const step = Rpc.makeDispatcherStep(Rpc.local)
        let s = Rpc.initialDispatcher({ self: B.id(0xee), seed })
        let now = 0, nextCall = 0
        const caller = B.id(1)
        const providers = [2, 3, 4]
        const remote = B.id(0x52)
        const deadlines = new Map<number, number>()
        const answers = new Map<number, number>()
        const cancelled = new Set<number>()
        const triedBy = new Map<number, Array<string>>() // upstream id → providers, in order
        /** Outstanding legs: (peer, id) of calls we sent, with the upstream id they serve. */
        const legs: Array<{ peer: string; id: number; up: number }> = []
        const legOf = new Map<string, number>()
        const timers = new Map<string, { at: number; generation: number }>()
        const run = (e: Rpc.DispatcherEvent) => {
          const [after, out] = step(s, e)
          s = after
          for (const c of out) {
            if (c._tag === "SetTimer") timers.set(c.timer, { at: c.at, generation: c.generation })
            if (c._tag === "CancelTimer") timers.delete(c.timer)
            if (c._tag !== "Send") continue
            if (c.to === caller && c.frame.t === "reply") {
              const up = c.frame.id
              answers.set(up, (answers.get(up) ?? 0) + 1)
              if (now >= deadlines.get(up)!) expect(c.frame.e?.c).toBe("deadline_exceeded")
            }
            if (c.frame.t === "call") {
              const cid = c.frame.cid[0]!
              const to = Array.from(c.frame.to!, (b) => b.toString(16).padStart(2, "0")).join("")
              const list = triedBy.get(cid) ?? []
              list.push(to)
              triedBy.set(cid, list)
              legs.push({ peer: c.to, id: c.frame.id, up: cid })
              legOf.set(`${c.to}|${c.frame.id}`, cid)
            }
          }
        }
        const attached = new Set<number>()
        for (const p of providers) {
          run(DE.ClientAttached({ now, client: B.id(p) }))
          attached.add(p)
          run(DE.AdvReceived({
            now,
            client: B.id(p),
            verdict: { _tag: "Allowed" },
            record: B.record(p, 0xee),
            frame: { t: "adv", id: p, realm: B.realm, proc: B.proc, modes: ["unary"], rec: B.signed }
          }))
        }
        run(DE.ClientAttached({ now, client: caller }))
        for (const a of actions) {
          if (a.k === "call") {
            const up = ++nextCall
            if (up > 250) continue
            deadlines.set(up, now + a.ttl)
            const cid = new Uint8Array(16)
            cid[0] = up
            run(DE.CallReceived({ now, from: caller, role: "client", verdict: { _tag: "Allowed" }, frame: B.callFrame(up, { cid, ttl: a.ttl, idem: a.idem }) }))
          } else if (a.k === "answer") {
            if (legs.length === 0) continue
            const leg = legs.splice(a.pick % legs.length, 1)[0]!
            const frame: Frame.Reply = a.code === "ok" ? { t: "reply", id: leg.id, r: 1 } : { t: "reply", id: leg.id, e: { c: a.code } }
            run(DE.ReplyReceived({ now, from: leg.peer, frame }))
          } else if (a.k === "detach") {
            const p = providers[a.provider]!
            if (attached.delete(p)) run(DE.ClientDetached({ now, client: B.id(p) }))
          } else if (a.k === "dead") run(DE.PeerStatus({ now, peer: remote, status: "dead" }))
          else if (a.k === "cancel") {
            const open = Array.from(deadlines.keys()).filter((up) => !answers.has(up) && !cancelled.has(up))
            if (open.length === 0) continue
            const up = open[a.pick % open.length]!
            cancelled.add(up)
            run(DE.CancelReceived({ now, from: caller, frame: { t: "cancel", id: up } }))
          } else if (a.k === "resolve") {
            run(DE.ProvidersResolved({ now, realm: B.realm, proc: B.proc, records: [B.record(5, 0x52), B.record(6, 0x52)] }))
          } else {
            now += a.dt
            fireDue(timers, now, (timer, generation) => run(DE.TimerFired({ now, timer, generation })))
          }
        }
        now += Rpc.local.maxCallTtlMs
        for (let round = 0; round < 5; round++) {
          run(DE.ProvidersResolved({ now, realm: B.realm, proc: B.proc, records: [] }))
          fireDue(timers, now, (timer, generation) => run(DE.TimerFired({ now, timer, generation })))
        }
        for (const up of deadlines.keys()) {
          expect(answers.get(up) ?? 0).toBe(cancelled.has(up) && !answers.has(up) ? 0 : 1)
        }
        for (const list of triedBy.values()) expect(new Set(list).size).toBe(list.length)
        expect(s.calls.size).toBe(0)
        expect(s.legs.size).toBe(0)
      }),
      { numRuns: 400 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Streams: credit is never exceeded
// ---------------------------------------------------------------------------------------------

type SAction =
  | { readonly k: "send"; readonly side: 0 | 1 }
  | { readonly k: "consume"; readonly side: 0 | 1; readonly n: number }
  | { readonly k: "deliver"; readonly side: 0 | 1 }

describe("rpc streams: credit", () => {
  it("no side ever has more messages outstanding than granted, and no violation is seen", () => {
    const sAction: fc.Arbitrary<SAction> = fc.oneof(
      fc.record({ k: fc.constant("send" as const), side: fc.constantFrom(0 as const, 1 as const) }),
      fc.record({ k: fc.constant("consume" as const), side: fc.constantFrom(0 as const, 1 as const), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ k: fc.constant("deliver" as const), side: fc.constantFrom(0 as const, 1 as const) })
    )
    fc.assert(
      fc.property(fc.constantFrom<Frame.CallMode>("server", "client", "bidi"), fc.array(sAction, { maxLength: 200 }), (mode, actions) => {
        const config = Rpc.local
        const step = Rpc.makeEndpointStep(config)
        // Side 0 calls, side 1 serves; frames travel in FIFO queues (one per direction).
        let a = Rpc.initialEndpoint({ seed: 1 })
        let b = Rpc.initialEndpoint({ seed: 2 })
        const toB: Array<Frame.Frame> = []
        const toA: Array<Frame.Frame> = []
        let callId = -1
        const dataSent = [0, 0], granted = [0, 0], received = [0, 0]
        const outOf = (side: 0 | 1, out: ReadonlyArray<Rpc.EndpointCommand>) => {
          for (const c of out) {
            if (c._tag !== "Send") continue
            if (c.frame.t === "s.data") dataSent[side]!++
            if (c.frame.t === "call") {
              callId = c.frame.id
              granted[1]! += c.frame.cr ?? 0
            }
            if (c.frame.t === "s.credit") granted[1 - side]! += c.frame.n
            ;(side === 0 ? toB : toA).push(c.frame)
          }
          // Never more sent than the receiver granted so far.
          expect(dataSent[0]).toBeLessThanOrEqual(granted[0]!)
          expect(dataSent[1]).toBeLessThanOrEqual(granted[1]!)
        }
        const runA = (e: Rpc.EndpointEvent) => {
          const [n, out] = step(a, e)
          a = n
          outOf(0, out)
          for (const c of out) if (c._tag === "StreamMessage") received[0]!++
        }
        const runB = (e: Rpc.EndpointEvent) => {
          const [n, out] = step(b, e)
          b = n
          outOf(1, out)
          for (const c of out) if (c._tag === "StreamMessage") received[1]!++
        }
        runA(EE.LinkUp({ now: 0, wall: 0, station: B.id(0xee) }))
        runB(EE.LinkUp({ now: 0, wall: 0, station: B.id(0xee) }))
        runB(EE.Advertise({ now: 0, wall: 0, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: false }))
        toA.length = 0
        toB.length = 0
        runA(EE.Call({ now: 0, ref: 1, realm: B.realm, proc: B.proc, args: null, idempotent: false, mode, timeoutMs: 100_000 }))
        const consumed = [0, 0]
        for (const act of actions) {
          if (act.k === "send") {
            if (act.side === 0 && mode === "server") continue
            if (act.side === 1 && mode === "client") continue
            if (act.side === 0) runA(EE.StreamSend({ now: 0, handle: "c/1", data: 0 }))
            else runB(EE.StreamSend({ now: 0, handle: `p/${callId}`, data: 0 }))
          } else if (act.k === "consume") {
            const n = Math.min(act.n, received[act.side]! - consumed[act.side]!)
            if (n <= 0) continue
            consumed[act.side]! += n
            if (act.side === 0) runA(EE.StreamConsumed({ now: 0, handle: "c/1", n }))
            else runB(EE.StreamConsumed({ now: 0, handle: `p/${callId}`, n }))
          } else {
            const f = (act.side === 0 ? toA : toB).shift()
            if (f === undefined) continue
            if (act.side === 1) {
              if (f.t === "call") runB(EE.CallReceived({ now: 0, frame: f }))
              else if (f.t === "s.data" || f.t === "s.credit" || f.t === "s.end") runB(EE.StreamFrameReceived({ now: 0, handle: `p/${callId}`, frame: f }))
            } else if (f.t === "s.data" || f.t === "s.credit" || f.t === "s.end") {
              runA(EE.StreamFrameReceived({ now: 0, handle: "c/1", frame: f }))
            }
          }
        }
        expect(a.counters.flowViolations).toBe(0)
        expect(b.counters.flowViolations).toBe(0)
      }),
      { numRuns: 300 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Counterexamples found while writing these, pinned
// ---------------------------------------------------------------------------------------------

describe("rpc regressions", () => {
  it("an idempotent call re-issued after a reconnect still times out (refs followed the new id)", () => {
    const step = Rpc.makeEndpointStep(Rpc.local)
    let s = Rpc.initialEndpoint({ seed: 1 })
    const events: ReadonlyArray<Rpc.EndpointEvent> = [
      EE.LinkUp({ now: 0, wall: 0, station: B.id(0xee) }),
      EE.Call({ now: 0, ref: 1, realm: B.realm, proc: B.proc, args: null, idempotent: true, timeoutMs: 6 }),
      EE.LinkDown({ now: 0 }),
      EE.LinkUp({ now: 0, wall: 0, station: B.id(0xee) })
    ]
    for (const e of events) s = step(s, e)[0]
    const [, out] = step(s, EE.TimerFired({ now: 6, timer: "call/1", generation: s.timers.armed.get("call/1")! }))
    expect(out.filter((c) => c._tag === "Complete").map((c) => c._tag === "Complete" && c.outcome._tag)).toEqual(["CallTimeout"])
  })

  it("a resolution that lands after the deadline answers deadline_exceeded, not no_provider", () => {
    const step = Rpc.makeDispatcherStep(Rpc.local)
    let s = Rpc.initialDispatcher({ self: B.id(0xee), seed: 0 })
    s = step(s, DE.ClientAttached({ now: 0, client: B.id(1) }))[0]
    s = step(s, DE.CallReceived({ now: 0, from: B.id(1), role: "client", verdict: { _tag: "Allowed" }, frame: B.callFrame(1, { ttl: 56, idem: true }) }))[0]
    const [, out] = step(s, DE.ProvidersResolved({ now: 60, realm: B.realm, proc: B.proc, records: [] }))
    const replies = out.flatMap((c) => (c._tag === "Send" && c.frame.t === "reply" ? [c.frame.e?.c] : []))
    expect(replies).toEqual(["deadline_exceeded"])
  })
})

/**
 * The station dispatcher, one table per event tag. Config: the `local` preset (3 attempts,
 * backoff 50 ms doubling, hop margin 5 ms, 4 hops, stream credit 4).
 */
import { describe, expect, it } from "vitest"
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { DispatcherEvent: E } = Rpc
const self = B.id(0xee)
const caller = B.id(1)
const prov = B.id(2)
const prov2 = B.id(3)
const S2 = B.id(0x52)
const allowed: Rpc.Verdict = { _tag: "Allowed" }

const station = (config: Rpc.Config = Rpc.local) => {
  const step = Rpc.makeDispatcherStep(config)
  let state = Rpc.initialDispatcher({ self, seed: 7 })
  let now = 0
  const run = (event: Rpc.DispatcherEvent) => {
    const [after, commands] = step(state, event)
    state = after
    return commands
  }
  const api = {
    get state() {
      return state
    },
    run,
    at: (t: number) => {
      now = t
      return api
    },
    attach: (client: string) => run(E.ClientAttached({ now, client })),
    advertise: (client: number, extra: Partial<Frame.Adv> = {}) =>
      run(E.AdvReceived({
        now,
        client: B.id(client),
        verdict: allowed,
        record: B.record(client, 0xee),
        frame: { t: "adv", id: 50 + client, realm: B.realm, proc: B.proc, modes: ["unary"], rec: B.signed, ...extra }
      })),
    call: (from: string, f: Frame.Call, role: "client" | "station" = "client", verdict: Rpc.Verdict = allowed) =>
      run(E.CallReceived({ now, from, role, frame: f, verdict })),
    reply: (from: string, id: number, body: { r?: Frame.Any; e?: Frame.CallError }) =>
      run(E.ReplyReceived({ now, from, frame: { t: "reply", id, ...body } })),
    fire: (timer: string) => run(E.TimerFired({ now, timer, generation: state.timers.armed.get(timer)! }))
  }
  return api
}

const replies = (cs: ReadonlyArray<Rpc.DispatcherCommand>, to: string) => B.sends(cs, to, "reply").map((c) => c.frame as Frame.Reply)
const calls = (cs: ReadonlyArray<Rpc.DispatcherCommand>) => B.sends(cs, undefined, "call")

describe("Dispatcher: AdvReceived / RecordStored / UnadvReceived", () => {
  it("registers, stores the record and answers ok with the replica count", () => {
    const s = station()
    s.attach(prov)
    const out = s.advertise(2)
    const store = B.ofTag(out, "StoreRecord")[0]!
    expect(store.record).toBe(B.signed)
    const done = s.run(E.RecordStored({ now: 0, ref: store.ref, acks: 5 }))
    expect(B.sends(done, prov, "ok").map((c) => c.frame)).toEqual([{ t: "ok", id: 52, n: 5 }])
    expect(Rpc.dispatcherSizes(s.state).providers).toBe(1)
  })
  it.each([
    ["a record signed by someone else", { record: B.record(9, 0xee) }, "unauthorized"],
    ["a record naming another station", { record: B.record(2, 0x01) }, "bad_request"],
    ["a withdrawal", { record: B.record(2, 0xee, { gone: true }) }, "bad_request"],
    ["a denied verdict", { verdict: { _tag: "Denied", reason: "Revoked" } as Rpc.Verdict }, "unauthorized"]
  ])("refuses %s", (_, override, code) => {
    const s = station()
    s.attach(prov)
    const out = s.run(E.AdvReceived({
      now: 0,
      client: prov,
      verdict: allowed,
      record: B.record(2, 0xee),
      frame: { t: "adv", id: 1, realm: B.realm, proc: B.proc, modes: ["unary"], rec: B.signed },
      ...override
    }))
    expect(B.sends(out, prov, "err").map((c) => (c.frame as Frame.Err).c)).toEqual([code])
    expect(Rpc.dispatcherSizes(s.state).providers).toBe(0)
  })
  it("refuses a procedure name with a wildcard", () => {
    const s = station()
    s.attach(prov)
    const out = s.advertise(2, { proc: "io.macula/#" })
    expect(B.sends(out, prov, "err")[0]?.frame).toMatchObject({ c: "invalid_topic" })
  })
  it("unadv removes the provider, stores the withdrawal and answers withdrawn afterwards", () => {
    const s = station()
    s.attach(prov)
    s.attach(caller)
    s.advertise(2)
    s.run(E.UnadvReceived({
      now: 0,
      client: prov,
      record: B.record(2, 0xee, { gone: true }, 2),
      frame: { t: "unadv", id: 9, realm: B.realm, proc: B.proc, rec: B.signed }
    }))
    const out = s.call(self, B.callFrame(1, { to: B.bytes32(2), hop: 1 }), "station")
    expect(replies(out, self)[0]?.e?.c).toBe("withdrawn")
  })
})

describe("Dispatcher: CallReceived (home station)", () => {
  it("prefers a local provider, sets from, adds a hop and forwards the remaining budget", () => {
    const s = station()
    s.attach(prov)
    s.attach(caller)
    s.advertise(2)
    const out = s.at(100).call(caller, B.callFrame(1, { ttl: 1_000 }))
    const [c] = calls(out)
    expect(c!.to).toBe(prov)
    expect(c!.frame).toMatchObject({ hop: 1, ttl: 1_000 - Rpc.local.ttlHopMarginMs, from: B.bytes32(1), to: B.bytes32(2) })
  })
  it("asks the DHT when nothing is local or cached, then forwards to the provider's station", () => {
    const s = station()
    s.attach(caller)
    const out = s.call(caller, B.callFrame(1))
    expect(B.ofTag(out, "ResolveProviders")).toHaveLength(1)
    const routed = s.run(E.ProvidersResolved({ now: 10, realm: B.realm, proc: B.proc, records: [B.record(4, 0x52)] }))
    expect(calls(routed).map((c) => c.to)).toEqual([S2])
  })
  it("answers no_provider when the DHT knows nobody", () => {
    const s = station()
    s.attach(caller)
    s.call(caller, B.callFrame(1))
    const out = s.run(E.ProvidersResolved({ now: 10, realm: B.realm, proc: B.proc, records: [] }))
    expect(replies(out, caller)[0]?.e?.c).toBe("no_provider")
  })
  it.each([
    [{ ttl: 0 }, "deadline_exceeded"],
    [{ ttl: Rpc.local.maxCallTtlMs + 1 }, "bad_request"],
    [{ hop: Rpc.local.maxCallHops + 1 }, "loop_detected"],
    [{ proc: "io.macula/*/a/b/c_v1" }, "bad_request"],
    [{ from: B.bytes32(9) }, "bad_request"]
  ])("refuses %o with %s (§14 row 24)", (extra, code) => {
    const s = station()
    s.attach(caller)
    expect(replies(s.call(caller, B.callFrame(1, extra)), caller)[0]?.e?.c).toBe(code)
  })
  it("refuses a denied verdict with unauthorized", () => {
    const s = station()
    s.attach(caller)
    const out = s.call(caller, B.callFrame(1), "client", { _tag: "Denied", reason: "Expired" })
    expect(replies(out, caller)[0]?.e).toEqual({ c: "unauthorized", m: "Expired" })
  })
  it("a reused in-flight id is invalid_field: its stream reset, the sender penalised minor, the first call goes on (§14 row 9)", () => {
    const s = station()
    s.attach(prov)
    s.attach(caller)
    s.advertise(2)
    const first = s.call(caller, B.callFrame(1))
    expect(calls(first)).toHaveLength(1)
    const again = s.call(caller, B.callFrame(1))
    expect(again).toEqual([
      { _tag: "RejectFrame", to: caller, code: "invalid_field", reason: "call_id_reused" },
      { _tag: "Penalise", peer: caller, severity: "minor", reason: "call_id_reused" }
    ])
    // The call in flight under that id is still answered; the id is free again afterwards.
    const forwarded = calls(first)[0]!.frame as Frame.Call
    expect(replies(s.reply(prov, forwarded.id, { r: 7 }), caller)).toEqual([{ t: "reply", id: 1, r: 7 }])
    expect(calls(s.call(caller, B.callFrame(1)))).toHaveLength(1)
  })
  it("refuses past maxInFlightCallsPerConn with overloaded", () => {
    const s = station({ ...Rpc.local, maxInFlightCallsPerConn: 1 })
    s.attach(caller)
    s.call(caller, B.callFrame(1))
    expect(replies(s.call(caller, B.callFrame(2)), caller)[0]?.e?.c).toBe("overloaded")
  })
})

describe("Dispatcher: ReplyReceived and retries", () => {
  const twoProviders = () => {
    const s = station()
    s.attach(prov)
    s.attach(prov2)
    s.attach(caller)
    s.advertise(2)
    s.advertise(3)
    return s
  }
  it("relays a result upstream with the caller's id", () => {
    const s = twoProviders()
    const [c] = calls(s.call(caller, B.callFrame(7)))
    const out = s.reply(c!.to, (c!.frame as Frame.Call).id, { r: 42 })
    expect(replies(out, caller)).toEqual([{ t: "reply", id: 7, r: 42 }])
  })
  it("retries an idempotent call on the other provider after the backoff, never the same one", () => {
    const s = twoProviders()
    const [first] = calls(s.call(caller, B.callFrame(7, { idem: true })))
    const failed = s.at(10).reply(first!.to, (first!.frame as Frame.Call).id, { e: { c: "overloaded" } })
    expect(replies(failed, caller)).toEqual([])
    const [second] = calls(s.at(10 + Rpc.local.callRetryBackoffMs).fire(`retry/${caller}|7`))
    expect(second!.to).not.toBe(first!.to)
  })
  it("passes the error up for a non-idempotent call", () => {
    const s = twoProviders()
    const [c] = calls(s.call(caller, B.callFrame(7)))
    expect(replies(s.reply(c!.to, (c!.frame as Frame.Call).id, { e: { c: "overloaded" } }), caller)[0]?.e?.c).toBe("overloaded")
  })
  it("never retries handler_error", () => {
    const s = twoProviders()
    const [c] = calls(s.call(caller, B.callFrame(7, { idem: true })))
    const out = s.reply(c!.to, (c!.frame as Frame.Call).id, { e: { c: "handler_error", m: "boom", d: { x: 1 } } })
    expect(replies(out, caller)[0]?.e).toEqual({ c: "handler_error", m: "boom", d: { x: 1 } })
  })
  it("ignores a reply with an unknown id (§14 row 10)", () => {
    const s = twoProviders()
    expect(s.reply(prov, 999, { r: 1 })).toEqual([])
    expect(s.state.counters.unknownReplies).toBe(1)
  })
})

describe("Dispatcher: deadlines, cancel and lost peers", () => {
  it("answers deadline_exceeded at the deadline and cancels downstream", () => {
    const s = station()
    s.attach(prov)
    s.attach(caller)
    s.advertise(2)
    const [c] = calls(s.call(caller, B.callFrame(7, { ttl: 100 })))
    const out = s.at(100).fire(`deadline/${caller}|7`)
    expect(replies(out, caller)[0]?.e?.c).toBe("deadline_exceeded")
    expect(B.sends(out, prov, "cancel").map((x) => x.frame)).toEqual([{ t: "cancel", id: (c!.frame as Frame.Call).id }])
    // The late reply changes nothing.
    expect(s.reply(prov, (c!.frame as Frame.Call).id, { r: 1 })).toEqual([])
  })
  it("relays the caller's cancel downstream and forgets the call", () => {
    const s = station()
    s.attach(prov)
    s.attach(caller)
    s.advertise(2)
    s.call(caller, B.callFrame(7))
    const out = s.run(E.CancelReceived({ now: 0, from: caller, frame: { t: "cancel", id: 7 } }))
    expect(B.sends(out, prov, "cancel")).toHaveLength(1)
    expect(Rpc.dispatcherSizes(s.state).calls).toBe(0)
  })
  it("fails calls through a dead station with relay_failed", () => {
    const s = station()
    s.attach(caller)
    s.call(caller, B.callFrame(7))
    s.run(E.ProvidersResolved({ now: 0, realm: B.realm, proc: B.proc, records: [B.record(4, 0x52)] }))
    const out = s.run(E.PeerStatus({ now: 1, peer: S2, status: "dead" }))
    expect(replies(out, caller)[0]?.e?.c).toBe("relay_failed")
  })
  it("a provider that disconnects is tombstoned: withdrawn for withdrawnTombstoneMs", () => {
    const s = station()
    s.attach(prov)
    s.advertise(2)
    s.run(E.ClientDetached({ now: 0, client: prov }))
    expect(replies(s.call(S2, B.callFrame(1, { to: B.bytes32(2), hop: 1 }), "station"), S2)[0]?.e?.c).toBe("withdrawn")
    expect(replies(s.at(Rpc.local.withdrawnTombstoneMs).call(S2, B.callFrame(2, { to: B.bytes32(2), hop: 1 }), "station"), S2)[0]?.e?.c)
      .toBe("provider_gone")
  })
})

describe("Dispatcher: serving station", () => {
  it("hands a pinned call to its local provider and never forwards elsewhere", () => {
    const s = station()
    s.attach(prov)
    s.advertise(2)
    const out = s.call(S2, B.callFrame(1, { to: B.bytes32(2), hop: 1, from: B.bytes32(1) }), "station")
    expect(calls(out).map((c) => c.to)).toEqual([prov])
  })
  it("answers wrong_station to a station call without a pinned provider", () => {
    const s = station()
    expect(replies(s.call(S2, B.callFrame(1, { hop: 1 }), "station"), S2)[0]?.e?.c).toBe("wrong_station")
  })
})

describe("Dispatcher: StreamFrameReceived", () => {
  it("relays stream frames both ways and resets a side that exceeds its credit", () => {
    const s = station()
    s.attach(prov)
    s.attach(caller)
    s.advertise(2, { modes: ["bidi"] })
    const [c] = calls(s.call(caller, B.callFrame(7, { mode: "bidi", cr: 1 })))
    const legId = (c!.frame as Frame.Call).id
    expect(c!.stream).toBe(legId)
    // Provider grants the caller 1 message.
    const granted = s.run(E.StreamFrameReceived({ now: 0, from: prov, id: legId, frame: { t: "s.credit", n: 1 } }))
    expect(B.sends(granted, caller).map((x) => [x.frame.t, x.stream])).toEqual([["s.credit", 7]])
    const data = s.run(E.StreamFrameReceived({ now: 0, from: caller, id: 7, frame: { t: "s.data", q: 0, d: 1 } }))
    expect(B.sends(data, prov).map((x) => x.frame.t)).toEqual(["s.data"])
    const excess = s.run(E.StreamFrameReceived({ now: 0, from: caller, id: 7, frame: { t: "s.data", q: 1, d: 2 } }))
    expect(B.ofTag(excess, "ResetStream")).toEqual([expect.objectContaining({ to: caller, stream: 7, code: "flow_control" })])
    expect(B.sends(excess, prov, "cancel")).toHaveLength(1)
  })
})

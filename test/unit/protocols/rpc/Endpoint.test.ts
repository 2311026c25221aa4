/**
 * The client endpoint, one table per event tag. Config: the `local` preset (timeout 1 s,
 * 4 handlers per procedure, stream credit 4, queue 8).
 */
import { describe, expect, it } from "vitest"
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { EndpointEvent: E, Outcome, EndpointNotice: Notice } = Rpc
const stationId = B.id(0xee)
const WALL = 5_000_000

const endpoint = (config: Rpc.Config = Rpc.local) => {
  const step = Rpc.makeEndpointStep(config)
  let state = Rpc.initialEndpoint({ seed: 3 })
  let now = 0
  const run = (event: Rpc.EndpointEvent) => {
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
    up: () => run(E.LinkUp({ now, wall: WALL + now, station: stationId })),
    call: (ref: number, extra: Partial<Omit<Extract<Rpc.EndpointEvent, { _tag: "Call" }>, "_tag">> = {}) =>
      run(E.Call({ now, ref, realm: B.realm, proc: B.proc, args: ref, idempotent: false, ...extra })),
    reply: (id: number, body: { r?: Frame.Any; e?: Frame.CallError }) => run(E.ReplyReceived({ now, frame: { t: "reply", id, ...body } })),
    fire: (timer: string) => run(E.TimerFired({ now, timer, generation: state.timers.armed.get(timer)! }))
  }
  return api
}

const sent = (cs: ReadonlyArray<Rpc.EndpointCommand>) => B.ofTag(cs, "Send")
const completes = (cs: ReadonlyArray<Rpc.EndpointCommand>) => B.ofTag(cs, "Complete").map((c) => c.outcome)
const callOf = (cs: ReadonlyArray<Rpc.EndpointCommand>) => sent(cs).map((c) => c.frame).find((f): f is Frame.Call => f.t === "call")!

describe("Endpoint: Call / ReplyReceived", () => {
  it("sends the whole budget as ttl with hop 0 and a 16-byte cid", () => {
    const e = endpoint()
    e.up()
    const f = callOf(e.call(1, { timeoutMs: 300 }))
    expect(f).toMatchObject({ ttl: 300, hop: 0, idem: false })
    expect(f.cid).toHaveLength(16)
  })
  it.each<[Frame.CallError | undefined, Frame.Any, Rpc.Outcome]>([
    [undefined, 42, Outcome.Ok({ result: 42 })],
    [{ c: "no_provider" }, null, Outcome.NoProvider({ code: "no_provider" })],
    [{ c: "unauthorized", m: "Expired" }, null, Outcome.Unauthorized({ reason: "Expired" })],
    [{ c: "deadline_exceeded" }, null, Outcome.CallTimeout({ afterMs: 0 })],
    [{ c: "handler_error", m: "boom", d: { x: 1 } }, null, Outcome.RemoteError({ code: "handler_error", message: "boom", data: { x: 1 } })]
  ])("maps %o to a typed outcome", (e, r, outcome) => {
    const ep = endpoint()
    ep.up()
    const f = callOf(ep.call(1))
    expect(completes(ep.reply(f.id, e === undefined ? { r } : { e }))).toEqual([outcome])
  })
  it("refuses a wildcard procedure locally", () => {
    const e = endpoint()
    expect(completes(e.call(1, { proc: "io.macula/#" }))[0]).toMatchObject({ _tag: "RemoteError", code: "bad_request" })
  })
  it("ends with CallTimeout at its deadline, sends cancel, and ignores the late reply", () => {
    const e = endpoint()
    e.up()
    const f = callOf(e.call(1, { timeoutMs: 100 }))
    const out = e.at(100).fire("call/1")
    expect(completes(out)).toEqual([Outcome.CallTimeout({ afterMs: 100 })])
    expect(sent(out).map((c) => c.frame)).toEqual([{ t: "cancel", id: f.id }])
    expect(completes(e.reply(f.id, { r: 1 }))).toEqual([])
  })
  it("a reply that arrives at the deadline is a timeout, not a result", () => {
    const e = endpoint()
    e.up()
    const f = callOf(e.call(1, { timeoutMs: 100 }))
    expect(completes(e.at(100).reply(f.id, { r: 1 }))[0]?._tag).toBe("CallTimeout")
  })
  it("CancelCall completes Cancelled and sends cancel", () => {
    const e = endpoint()
    e.up()
    e.call(1)
    const out = e.run(E.CancelCall({ now: 0, ref: 1 }))
    expect(completes(out)).toEqual([Outcome.Cancelled()])
    expect(sent(out)[0]?.frame.t).toBe("cancel")
  })
})

describe("Endpoint: direct mode (Call via / DirectLinkLost)", () => {
  it("sends a direct call to its station even without a home link, and cancels it there", () => {
    const e = endpoint()
    const out = e.call(1, { via: B.id(0x52), to: B.bytes32(4) })
    expect(sent(out)).toEqual([expect.objectContaining({ via: B.id(0x52), frame: expect.objectContaining({ t: "call" }) })])
    expect(sent(e.run(E.CancelCall({ now: 0, ref: 1 })))[0]).toMatchObject({ via: B.id(0x52), frame: { t: "cancel" } })
  })
  it("a lost home link leaves direct calls alone; a lost direct link fails them", () => {
    const e = endpoint()
    e.up()
    e.call(1, { via: B.id(0x52), idempotent: true })
    expect(completes(e.run(E.LinkDown({ now: 0 })))).toEqual([])
    expect(completes(e.run(E.DirectLinkLost({ now: 0, station: B.id(0x52) })))).toEqual([
      Outcome.RemoteError({ code: "relay_failed", message: "link lost" })
    ])
  })
})

describe("Endpoint: LinkDown / LinkUp", () => {
  it("re-issues idempotent calls with the remaining budget and fails the others with relay_failed", () => {
    const e = endpoint()
    e.up()
    e.call(1, { idempotent: true, timeoutMs: 500 })
    e.call(2)
    const down = e.at(100).run(E.LinkDown({ now: 100 }))
    expect(B.ofTag(down, "Complete")).toEqual([
      expect.objectContaining({ ref: 2, outcome: Outcome.RemoteError({ code: "relay_failed", message: "link lost" }) })
    ])
    const f = callOf(e.at(200).up())
    expect(f.ttl).toBe(300)
  })
  it("holds calls made while unlinked until LinkUp", () => {
    const e = endpoint()
    expect(sent(e.call(1))).toEqual([])
    expect(callOf(e.up())).toBeDefined()
  })
})

describe("Endpoint: Advertise / AnswerReceived / Unadvertise", () => {
  it("asks for a record naming the home station, confirms on ok and renews in time", () => {
    const e = endpoint()
    e.up()
    const [sign] = B.ofTag(e.run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: ["unary"], req: false })), "SignAdvertisement")
    expect(sign!.draft).toMatchObject({ st: B.bytes32(0xee), gone: false, iat: WALL, exp: WALL + Rpc.local.providerRecordTtlMs })
    const out = e.run(E.AnswerReceived({ now: 0, frame: { t: "ok", id: sign!.id, n: 6 } }))
    expect(B.ofTag(out, "Notify").map((c) => c.notice)).toEqual([Notice.Advertised({ ref: 1, acks: 6 })])
    expect(B.ofTag(out, "SetTimer")[0]?.at).toBe(Rpc.local.republishFraction * Rpc.local.providerRecordTtlMs)
  })
  it("re-puts below quorum after republishRetryMs with a higher seq", () => {
    const e = endpoint()
    e.up()
    const [sign] = B.ofTag(e.run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: false })), "SignAdvertisement")
    const out = e.run(E.AnswerReceived({ now: 0, frame: { t: "ok", id: sign!.id, n: 1 } }))
    expect(B.ofTag(out, "SetTimer")[0]?.at).toBe(Rpc.local.republishRetryMs)
    const [again] = B.ofTag(e.at(Rpc.local.republishRetryMs).fire(`republish/${B.id(0xaa)}|${B.proc}`), "SignAdvertisement")
    expect(again!.draft.seq).toBeGreaterThan(sign!.draft.seq)
  })
  it("withdraws with a gone record", () => {
    const e = endpoint()
    e.up()
    e.run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: false }))
    const [w] = B.ofTag(e.run(E.Unadvertise({ now: 0, wall: WALL, ref: 2, realm: B.realm, proc: B.proc })), "SignAdvertisement")
    expect(w!.draft).toMatchObject({ gone: true, exp: WALL + Rpc.local.withdrawalTtlMs })
  })
  it("replays advertisements on LinkUp", () => {
    const e = endpoint()
    e.run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: false }))
    expect(B.ofTag(e.up(), "SignAdvertisement")).toHaveLength(1)
  })
  it("replays advertisements on a resync naming adv (§15.2), and nothing for sub or while unlinked", () => {
    const e = endpoint()
    e.run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: false }))
    expect(B.ofTag(e.run(E.ResyncReceived({ now: 0, wall: WALL, what: ["adv"] })), "SignAdvertisement")).toHaveLength(0)
    e.up()
    expect(B.ofTag(e.run(E.ResyncReceived({ now: 5, wall: WALL + 5, what: ["sub"] })), "SignAdvertisement")).toHaveLength(0)
    const [again] = B.ofTag(e.run(E.ResyncReceived({ now: 5, wall: WALL + 5, what: ["sub", "adv"] })), "SignAdvertisement")
    expect(again?.draft).toMatchObject({ gone: false })
  })
})

describe("Endpoint: CallReceived / HandlerReturned / HandlerFailed / CancelReceived", () => {
  const serving = () => {
    const e = endpoint()
    e.up()
    e.run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: false }))
    return e
  }
  it("runs the handler with the call's deadline and replies its result", () => {
    const e = serving()
    const out = e.at(10).run(E.CallReceived({ now: 10, frame: B.callFrame(5, { ttl: 200, from: B.bytes32(1) }) }))
    expect(B.ofTag(out, "RunHandler")[0]).toMatchObject({ id: 5, deadline: 210, from: B.bytes32(1) })
    const done = e.run(E.HandlerReturned({ now: 20, id: 5, result: "hi" }))
    expect(sent(done).map((c) => c.frame)).toEqual([{ t: "reply", id: 5, r: "hi" }])
  })
  it("replies handler_error with the handler's message and data", () => {
    const e = serving()
    e.run(E.CallReceived({ now: 0, frame: B.callFrame(5) }))
    const out = e.run(E.HandlerFailed({ now: 0, id: 5, message: "nope", data: [1] }))
    expect(sent(out)[0]?.frame).toEqual({ t: "reply", id: 5, e: { c: "handler_error", m: "nope", d: [1] } })
  })
  it("answers provider_gone for a procedure it does not serve and overloaded past maxHandlerConcurrency", () => {
    const e = endpoint()
    e.up()
    expect(sent(e.run(E.CallReceived({ now: 0, frame: B.callFrame(1) })))[0]?.frame).toMatchObject({ e: { c: "provider_gone" } })
    const s = serving()
    for (let i = 1; i <= Rpc.local.maxHandlerConcurrency; i++) s.run(E.CallReceived({ now: 0, frame: B.callFrame(i) }))
    expect(sent(s.run(E.CallReceived({ now: 0, frame: B.callFrame(99) })))[0]?.frame).toMatchObject({ e: { c: "overloaded" } })
  })
  it("aborts the handler at the deadline with deadline_exceeded", () => {
    const e = serving()
    e.run(E.CallReceived({ now: 0, frame: B.callFrame(5, { ttl: 50 }) }))
    const out = e.at(50).fire("handler/5")
    expect(B.ofTag(out, "AbortHandler")).toEqual([expect.objectContaining({ id: 5 })])
    expect(sent(out)[0]?.frame).toMatchObject({ e: { c: "deadline_exceeded" } })
    expect(sent(e.run(E.HandlerReturned({ now: 60, id: 5, result: 1 })))).toEqual([])
  })
  it("a cancel aborts the handler and sends nothing", () => {
    const e = serving()
    e.run(E.CallReceived({ now: 0, frame: B.callFrame(5) }))
    const out = e.run(E.CancelReceived({ now: 0, id: 5 }))
    expect(B.ofTag(out, "AbortHandler")).toHaveLength(1)
    expect(sent(out)).toEqual([])
  })
})

describe("Endpoint: streams (StreamSend / StreamFrameReceived / StreamConsumed / StreamClose)", () => {
  it("sends no more than granted, queues the rest, and drains on s.credit", () => {
    const e = endpoint()
    e.up()
    e.call(1, { mode: "client" })
    // The provider granted nothing yet.
    expect(sent(e.run(E.StreamSend({ now: 0, handle: "c/1", data: "a" })))).toEqual([])
    const granted = e.run(E.StreamFrameReceived({ now: 0, handle: "c/1", frame: { t: "s.credit", n: 1 } }))
    expect(sent(granted).map((c) => c.frame)).toEqual([{ t: "s.data", q: 0, d: "a" }])
    expect(sent(e.run(E.StreamSend({ now: 0, handle: "c/1", data: "b" })))).toEqual([])
  })
  it("re-grants credit once the application consumed half the window", () => {
    const e = endpoint()
    e.up()
    e.call(1, { mode: "server" })
    for (let q = 0; q < 2; q++) e.run(E.StreamFrameReceived({ now: 0, handle: "c/1", frame: { t: "s.data", q, d: q } }))
    const out = e.run(E.StreamConsumed({ now: 0, handle: "c/1", n: 2 }))
    expect(sent(out).map((c) => c.frame)).toEqual([{ t: "s.credit", n: 2 }])
  })
  it("ends the call when the provider exceeds our grant (flow_control)", () => {
    const e = endpoint()
    e.up()
    e.call(1, { mode: "server" })
    for (let q = 0; q < Rpc.local.streamInitialCredit; q++) {
      e.run(E.StreamFrameReceived({ now: 0, handle: "c/1", frame: { t: "s.data", q, d: q } }))
    }
    const out = e.run(E.StreamFrameReceived({ now: 0, handle: "c/1", frame: { t: "s.data", q: 9, d: 9 } }))
    expect(completes(out)[0]).toMatchObject({ _tag: "RemoteError", code: "relay_failed", message: "flow_control" })
  })
  it("a provider grants 0 in server mode and the window in client mode, first on the stream", () => {
    const e = endpoint()
    e.up()
    e.run(E.Advertise({ now: 0, wall: WALL, ref: 1, realm: B.realm, proc: B.proc, modes: [], req: false }))
    const server = e.run(E.CallReceived({ now: 0, frame: B.callFrame(5, { mode: "server", cr: 2 }) }))
    expect(sent(server).map((c) => [c.frame, c.stream])).toEqual([[{ t: "s.credit", n: 0 }, "p/5"]])
    const client = e.run(E.CallReceived({ now: 0, frame: B.callFrame(6, { mode: "client" }) }))
    expect(sent(client)[0]?.frame).toEqual({ t: "s.credit", n: Rpc.local.streamInitialCredit })
  })
  it("StreamClose sends s.end after queued messages", () => {
    const e = endpoint()
    e.up()
    e.call(1, { mode: "client" })
    e.run(E.StreamSend({ now: 0, handle: "c/1", data: "a" }))
    e.run(E.StreamClose({ now: 0, handle: "c/1" }))
    const out = e.run(E.StreamFrameReceived({ now: 0, handle: "c/1", frame: { t: "s.credit", n: 4 } }))
    expect(sent(out).map((c) => c.frame.t)).toEqual(["s.data", "s.end"])
  })
})

/**
 * The connection core, event by event: state + event in, state + commands out (PROTOCOL.md
 * §3.4–§3.7, §4.4, §14 rows 7–13). Every `Event` tag has its own block.
 */
import { describe, expect, it } from "vitest"
import * as Step from "../../../../src/core/Step.ts"
import { Connection } from "../../../../src/protocols/connection/index.ts"
import type { State } from "../../../../src/protocols/connection/State.ts"
import {
  closeCode,
  config,
  CONTROL,
  Event,
  hello,
  pow,
  readyDialer,
  readyListener,
  sent,
  tags,
  timerSet,
  wall0
} from "./Build.ts"

const station = config("station")
const client = config("client")
const stepOf = (cfg: Connection.Config.Config) => Connection.makeStep(cfg)
const started = (cfg: Connection.Config.Config, direction: "inbound" | "outbound", peerPowBits = pow) =>
  stepOf(cfg)(Connection.initial(cfg, direction), Event.Started({ now: 0, wallNow: wall0, peerPowBits }))[0]

const findNode = (id: number) => ({ t: "dht.find_node" as const, id, key: new Uint8Array(32) })

describe("Started", () => {
  it("arms the handshake timer and, on the dialer, asks for the control stream", () => {
    const [state, commands] = stepOf(client)(
      Connection.initial(client, "outbound"),
      Event.Started({ now: 5, wallNow: wall0 + 5, peerPowBits: 0 })
    )
    expect(state.phase).toBe("handshaking")
    expect(tags(commands)).toEqual(["SetTimer", "OpenControl"])
    expect(timerSet(commands, "handshake")?.at).toBe(5 + client.handshakeTimeoutMs)
  })

  it("on the listener only arms the handshake timer (the dialer speaks first)", () => {
    const [, commands] = stepOf(station)(Connection.initial(station, "inbound"), Event.Started({ now: 0, wallNow: wall0, peerPowBits: 0 }))
    expect(tags(commands)).toEqual(["SetTimer"])
  })

  it("carries the score over from earlier connections and is ignored once started", () => {
    const step = stepOf(station)
    const [state] = step(Connection.initial(station, "inbound"), Event.Started({ now: 0, wallNow: wall0, peerPowBits: 0, score: -30 }))
    expect(state.score.value).toBe(-30)
    expect(step(state, Event.Started({ now: 1, wallNow: wall0, peerPowBits: 0 }))).toEqual(Step.unchanged(state))
  })
})

describe("StreamOpened", () => {
  it("sends the dialer's hello on the control stream, stamped with the wall clock and our frame limit", () => {
    const [state, commands] = stepOf(client)(started(client, "outbound"), Event.StreamOpened({ now: 7, stream: 4, as: { kind: "control" } }))
    expect(state.control).toBe(4)
    expect(sent(commands)).toEqual([
      { t: "hello", role: "client", vers: [1], feat: [], realms: [], addrs: [], lim: { f: client.maxFrameBytes }, ts: wall0 + 7 }
    ])
  })

  it("records a lane we opened, so the peer's replies on it are accepted", () => {
    const [ready] = readyDialer()
    const [state, commands] = stepOf(client)(ready, Event.StreamOpened({ now: 20, stream: 8, as: { kind: "lane", family: "dht" } }))
    expect(Connection.State.localLane(state, "dht")).toBe(8)
    expect(commands).toEqual([])
    const [, delivered] = stepOf(client)(state, Event.FrameReceived({ now: 21, stream: 8, frame: { t: "dht.nodes", id: 1, n: [] } }))
    expect(tags(delivered)).toEqual(["Deliver"])
  })

  it("treats a control stream on the listener as a defect of the actor", () => {
    expect(() => stepOf(station)(started(station, "inbound"), Event.StreamOpened({ now: 1, stream: 1, as: { kind: "control" } }))).toThrow()
  })
})

describe("FrameReceived: the HELLO exchange", () => {
  it("listener: adopts the first stream with hello as the control stream, answers hello and is ready", () => {
    const [state, commands] = readyListener()
    expect(state).toMatchObject({ phase: "ready", control: CONTROL, version: 1, peerRole: "client" })
    expect(sent(commands).map((f) => f.t)).toEqual(["hello"])
    expect(tags(commands)).toEqual(["SetTimer", "Send", "CancelTimer", "SetTimer", "SetSendLimit", "Emit:Ready"])
    expect(commands).toContainEqual(Connection.Command.SetSendLimit({ bytes: 65_536 }))
    expect(timerSet(commands, "idle")?.at).toBe(10 + station.appPingIntervalMs)
  })

  it("dialer: is ready on the listener's hello and negotiates the highest common version", () => {
    const cfg = config("client", { versions: [1, 2, 3] })
    const step = stepOf(cfg)
    const [s1] = Step.run(step, started(cfg, "outbound"), [Event.StreamOpened({ now: 1, stream: 0, as: { kind: "control" } })])
    const [state, commands] = step(s1, Event.FrameReceived({ now: 10, stream: 0, frame: hello("station", { vers: [2, 4] }) }))
    expect(state.version).toBe(2)
    expect(tags(commands)).toContain("Emit:Ready")
  })

  it.each([
    ["version_mismatch", station, "client", { vers: [2] }, pow],
    ["role_refused", config("client"), "client", {}, pow],
    ["pow_insufficient", station, "station", {}, 3]
  ] as const)("listener refuses with goodbye and close %s", (code, cfg, peerRole, overrides, peerPowBits) => {
    const [state, commands] = stepOf(cfg)(
      started(cfg, "inbound", peerPowBits),
      Event.FrameReceived({ now: 10, stream: 0, frame: hello(peerRole, overrides) })
    )
    expect(state.phase).toBe("closing")
    expect(sent(commands)).toEqual([{ t: "goodbye", c: code, m: `peer hello: ${code}` }])
    expect(closeCode(commands)).toBe(code)
  })

  it("lets a station peer without proof of work in when the check is disabled, and never checks clients", () => {
    const off = config("station", { stationPowBits: 0 })
    expect(stepOf(off)(started(off, "inbound", 0), Event.FrameReceived({ now: 1, stream: 0, frame: hello("station") }))[0].phase).toBe("ready")
    expect(stepOf(station)(started(station, "inbound", 0), Event.FrameReceived({ now: 1, stream: 0, frame: hello("client") }))[0].phase).toBe("ready")
  })

  it("dialer closes role_refused when the listener turns out to be a client", () => {
    const step = stepOf(client)
    const [s1] = Step.run(step, started(client, "outbound"), [Event.StreamOpened({ now: 1, stream: 0, as: { kind: "control" } })])
    const [state, commands] = step(s1, Event.FrameReceived({ now: 10, stream: 0, frame: hello("client") }))
    expect(state.phase).toBe("closing")
    expect(closeCode(commands)).toBe("role_refused")
  })

  it("resets another stream opened before both hellos with wrong_stream and keeps the connection", () => {
    const [state, commands] = stepOf(station)(started(station, "inbound"), Event.FrameReceived({ now: 1, stream: 4, frame: findNode(1) }))
    expect(commands).toContainEqual(Connection.Command.ResetStream({ stream: 4, code: "wrong_stream" }))
    expect(state.phase).toBe("handshaking")
    expect(state.score.value).toBe(-station.penaltyMinor)
  })

  it("closes protocol_violation when the control stream carries anything but hello before the hellos", () => {
    const step = stepOf(client)
    const [s1] = Step.run(step, started(client, "outbound"), [Event.StreamOpened({ now: 1, stream: 0, as: { kind: "control" } })])
    const [, commands] = step(s1, Event.FrameReceived({ now: 2, stream: 0, frame: { t: "ping", n: 1 } }))
    expect(closeCode(commands)).toBe("protocol_violation")
  })

  it("treats a second hello or a second control stream as wrong_stream", () => {
    const [ready] = readyListener()
    const [, again] = stepOf(station)(ready, Event.FrameReceived({ now: 20, stream: CONTROL, frame: hello("client") }))
    expect(closeCode(again)).toBe("protocol_violation")
    const [, second] = stepOf(station)(ready, Event.FrameReceived({ now: 20, stream: 12, frame: hello("client") }))
    expect(second).toContainEqual(Connection.Command.ResetStream({ stream: 12, code: "wrong_stream" }))
    expect(closeCode(second)).toBeUndefined()
  })
})

describe("FrameReceived: lanes and the control stream once ready", () => {
  const [ready] = readyListener()
  const step = stepOf(station)

  it("delivers the first frame of a peer lane and everything after it on that lane", () => {
    const [s1, c1] = step(ready, Event.FrameReceived({ now: 20, stream: 4, frame: findNode(1) }))
    expect(c1).toEqual([
      Connection.Command.Deliver({ stream: 4, route: { kind: "lane", family: "dht", opener: "peer" }, frame: findNode(1) })
    ])
    expect(s1.peerLanes.get("dht")).toBe(4)
    const [, c2] = step(s1, Event.FrameReceived({ now: 21, stream: 4, frame: { t: "ok", id: 1 } }))
    expect(tags(c2)).toEqual(["Deliver"])
  })

  it("refuses a second lane of a family from the same opener, and a frame of another family", () => {
    const [s1] = step(ready, Event.FrameReceived({ now: 20, stream: 4, frame: findNode(1) }))
    const [, second] = step(s1, Event.FrameReceived({ now: 21, stream: 8, frame: findNode(2) }))
    expect(second).toContainEqual(Connection.Command.ResetStream({ stream: 8, code: "wrong_stream" }))
    const [s3, wrong] = step(s1, Event.FrameReceived({ now: 21, stream: 4, frame: { t: "unsub", id: 3, sid: 1 } }))
    expect(wrong).toContainEqual(Connection.Command.ResetStream({ stream: 4, code: "wrong_stream" }))
    expect(s3.peerLanes.has("dht")).toBe(false)
  })

  it("refuses a frame that cannot open a stream", () => {
    const [, commands] = step(ready, Event.FrameReceived({ now: 20, stream: 4, frame: { t: "ok", id: 1 } }))
    expect(commands).toContainEqual(Connection.Command.ResetStream({ stream: 4, code: "wrong_stream" }))
  })

  it("delivers call streams and content sessions on their own routes", () => {
    const call = { t: "call" as const, id: 1, cid: new Uint8Array(16), realm: new Uint8Array(32), proc: "a", a: null, ttl: 1_000, idem: true, hop: 0, mode: "server" as const }
    const [, c1] = step(ready, Event.FrameReceived({ now: 20, stream: 4, frame: call }))
    expect(c1[0]).toMatchObject({ _tag: "Deliver", route: { kind: "call", opener: "peer" } })
    const [, c2] = step(ready, Event.FrameReceived({ now: 20, stream: 8, frame: { t: "content.cancel", c: [] } }))
    expect(c2[0]).toMatchObject({ _tag: "Deliver", route: { kind: "content", opener: "peer" } })
  })

  it("answers ping with pong and delivers a station's resync to the control route", () => {
    const [, ping] = step(ready, Event.FrameReceived({ now: 20, stream: CONTROL, frame: { t: "ping", n: 9 } }))
    expect(sent(ping)).toEqual([{ t: "pong", n: 9 }])
    const [fromStation] = readyListener(station, "station")
    const [, resync] = step(fromStation, Event.FrameReceived({ now: 20, stream: CONTROL, frame: { t: "resync", what: ["interest"] } }))
    expect(resync[0]).toMatchObject({ _tag: "Deliver", route: { kind: "control" } })
    const [, onDialer] = stepOf(client)(readyDialer()[0], Event.FrameReceived({ now: 20, stream: CONTROL, frame: { t: "resync", what: ["sub", "adv"] } }))
    expect(onDialer[0]).toMatchObject({ _tag: "Deliver", route: { kind: "control" } })
  })

  it("drops a client's resync (S→any) with a minor penalty, keeping the control stream", () => {
    const [state, commands] = step(ready, Event.FrameReceived({ now: 20, stream: CONTROL, frame: { t: "resync", what: ["sub"] } }))
    expect(tags(commands)).toEqual(["Emit:ScoreChanged"])
    expect(state.phase).toBe("ready")
    expect(state.score.value).toBe(-station.penaltyMinor)
  })

  it("closes protocol_violation for a lane frame on the control stream", () => {
    const [, commands] = step(ready, Event.FrameReceived({ now: 20, stream: CONTROL, frame: findNode(1) }))
    expect(closeCode(commands)).toBe("protocol_violation")
  })

  it("on goodbye: closing, finishes its control stream, drains and reports the peer's reason", () => {
    const [state, commands] = step(ready, Event.FrameReceived({ now: 20, stream: CONTROL, frame: { t: "goodbye", c: "going_away", m: "bye", after: 500 } }))
    expect(state.phase).toBe("closing")
    expect(state.ending).toEqual({ code: "going_away", by: "peer", message: "bye", afterMs: 500 })
    expect(commands).toContainEqual(Connection.Command.EndStream({ stream: CONTROL }))
    expect(timerSet(commands, "drain")?.at).toBe(20 + station.goodbyeDrainMs)
    expect(tags(commands)).toContain("Emit:PeerGoodbye")
  })

  it("while closing, cancels new peer streams without blaming the peer", () => {
    const [closing] = step(ready, Event.CloseRequested({ now: 20, code: "going_away", graceful: true }))
    const [state, commands] = step(closing, Event.FrameReceived({ now: 21, stream: 4, frame: findNode(1) }))
    expect(commands).toEqual([Connection.Command.ResetStream({ stream: 4, code: "cancelled" })])
    expect(state.score).toEqual(closing.score)
  })

  it("resets a peer stream beyond maxStreams with overloaded", () => {
    const cfg = config("station", { maxStreams: 2 })
    const [r] = readyListener(cfg)
    const s = stepOf(cfg)
    const [s1] = s(r, Event.FrameReceived({ now: 20, stream: 4, frame: findNode(1) }))
    const [, commands] = s(s1, Event.FrameReceived({ now: 21, stream: 8, frame: { t: "unsub", id: 1, sid: 1 } }))
    expect(commands[0]).toEqual(Connection.Command.ResetStream({ stream: 8, code: "overloaded" }))
  })
})

describe("FrameRejected", () => {
  const [ready] = readyListener()
  const step = stepOf(station)

  it("resets that stream only, counts it and costs a minor penalty", () => {
    const [s1] = step(ready, Event.FrameReceived({ now: 20, stream: 4, frame: findNode(1) }))
    const [state, commands] = step(s1, Event.FrameRejected({ now: 21, stream: 4, code: "malformed_frame", detail: "0xc1" }))
    expect(commands[0]).toEqual(Connection.Command.ResetStream({ stream: 4, code: "malformed_frame" }))
    expect(state).toMatchObject({ phase: "ready", rejected: 1 })
    expect(state.score.value).toBe(-5)
    expect(tags(commands)).toEqual(["ResetStream", "Emit:LaneClosed", "Emit:StreamRejected", "Emit:ScoreChanged"])
  })

  it("closes protocol_violation when the control stream cannot be decoded", () => {
    const [, commands] = step(ready, Event.FrameRejected({ now: 21, stream: CONTROL, code: "invalid_field", detail: "n" }))
    expect(closeCode(commands)).toBe("protocol_violation")
  })

  it("closes protocol_violation after more than maxStreamErrorsPerMin resets within a minute", () => {
    const cfg = config("station", { maxStreamErrorsPerMin: 3, banScore: -1_000 })
    let [state] = readyListener(cfg)
    const s = stepOf(cfg)
    const codes: Array<string | undefined> = []
    for (let i = 0; i < 4; i++) {
      const [next, commands] = s(state, Event.FrameRejected({ now: 100 + i, stream: 4 + 4 * i, code: "unknown_type", detail: "x" }))
      state = next
      codes.push(closeCode(commands))
    }
    expect(codes).toEqual([undefined, undefined, undefined, "protocol_violation"])
  })

  it("forgets stream errors older than a minute", () => {
    const cfg = config("station", { maxStreamErrorsPerMin: 1, banScore: -1_000 })
    const [r] = readyListener(cfg)
    const s = stepOf(cfg)
    const [s1] = s(r, Event.FrameRejected({ now: 100, stream: 4, code: "unknown_type", detail: "x" }))
    const [, commands] = s(s1, Event.FrameRejected({ now: 60_101, stream: 8, code: "unknown_type", detail: "x" }))
    expect(closeCode(commands)).toBeUndefined()
  })
})

describe("StreamClosed", () => {
  const [ready] = readyListener()
  const step = stepOf(station)

  it("forgets a finished lane, so the peer may open a new one", () => {
    const [s1] = step(ready, Event.FrameReceived({ now: 20, stream: 4, frame: findNode(1) }))
    const [s2, commands] = step(s1, Event.StreamClosed({ now: 21, stream: 4, how: "fin" }))
    expect(tags(commands)).toEqual(["Emit:LaneClosed"])
    const [, again] = step(s2, Event.FrameReceived({ now: 22, stream: 8, frame: findNode(2) }))
    expect(tags(again)).toEqual(["Deliver"])
  })

  it("closes at once when the peer finishes the control stream after our goodbye", () => {
    const [closing] = step(ready, Event.CloseRequested({ now: 20, code: "going_away", graceful: true }))
    const [, commands] = step(closing, Event.StreamClosed({ now: 25, stream: CONTROL, how: "fin" }))
    expect(closeCode(commands)).toBe("going_away")
  })

  it("closes normal when the peer drops the control stream without goodbye", () => {
    const [, commands] = step(ready, Event.StreamClosed({ now: 25, stream: CONTROL, how: "reset", code: "internal" }))
    expect(closeCode(commands)).toBe("normal")
  })

  it("ignores a stream it does not know", () => {
    expect(step(ready, Event.StreamClosed({ now: 25, stream: 99, how: "fin" }))[1]).toEqual([])
  })
})

describe("TimerFired", () => {
  const step = stepOf(station)

  it("ignores a stale generation", () => {
    const [ready] = readyListener()
    const stale = ready.timers.idle.generation - 1
    expect(step(ready, Event.TimerFired({ now: 5_000, timer: "idle", generation: stale }))).toEqual(Step.unchanged(ready))
  })

  it("closes handshake_timeout when the hellos are not done in time", () => {
    const s0 = started(station, "inbound")
    const [state, commands] = step(s0, Event.TimerFired({ now: 10_000, timer: "handshake", generation: s0.timers.handshake.generation }))
    expect(state.phase).toBe("closing")
    expect(closeCode(commands)).toBe("handshake_timeout")
    expect(sent(commands)).toEqual([]) // no control stream yet: nothing to say goodbye on
  })

  it("pings after appPingIntervalMs of silence, counts misses and closes liveness_lost after appPingMaxMisses", () => {
    const [ready] = readyListener()
    const fire = (s: State, timer: "idle" | "pong", now: number) =>
      step(s, Event.TimerFired({ now, timer, generation: s.timers[timer].generation }))
    const [s1, c1] = fire(ready, "idle", 2_010)
    expect(sent(c1)).toEqual([{ t: "ping", n: 1 }])
    expect(timerSet(c1, "pong")?.at).toBe(3_010)
    const [s2, c2] = fire(s1, "pong", 3_010)
    expect(sent(c2)).toEqual([{ t: "ping", n: 2 }])
    const [s3, c3] = fire(s2, "pong", 4_010)
    expect(s3.phase).toBe("closing")
    expect(closeCode(c3)).toBe("liveness_lost")
    expect(4_010 - 10).toBe(Connection.Config.detectionBoundMs(station))
  })

  it("re-arms the idle timer when something was heard since", () => {
    const [ready] = readyListener()
    const [heard] = step(ready, Event.FrameReceived({ now: 1_500, stream: CONTROL, frame: { t: "ping", n: 1 } }))
    const [, commands] = step(heard, Event.TimerFired({ now: 2_010, timer: "idle", generation: heard.timers.idle.generation }))
    expect(sent(commands)).toEqual([])
    expect(timerSet(commands, "idle")?.at).toBe(3_500)
  })

  it("takes a pong as proof of life: clears misses, measures the RTT, re-arms the idle timer", () => {
    const [ready] = readyListener()
    const [s1] = step(ready, Event.TimerFired({ now: 2_010, timer: "idle", generation: ready.timers.idle.generation }))
    const [s2, commands] = step(s1, Event.FrameReceived({ now: 2_040, stream: CONTROL, frame: { t: "pong", n: 1 } }))
    expect(s2.liveness).toMatchObject({ misses: 0, outstanding: undefined, rttMs: 30 })
    expect(tags(commands)).toEqual(["CancelTimer", "SetTimer", "Emit:Rtt"])
  })

  it("counts a late pong of an earlier ping as a sign of life", () => {
    const [ready] = readyListener()
    const [s1] = step(ready, Event.TimerFired({ now: 2_010, timer: "idle", generation: ready.timers.idle.generation }))
    const [s2] = step(s1, Event.TimerFired({ now: 3_010, timer: "pong", generation: s1.timers.pong.generation }))
    expect(s2.liveness.misses).toBe(1)
    const [s3] = step(s2, Event.FrameReceived({ now: 3_200, stream: CONTROL, frame: { t: "pong", n: 1 } }))
    expect(s3.liveness.misses).toBe(0)
    const [s4] = step(s3, Event.TimerFired({ now: 4_010, timer: "pong", generation: s3.timers.pong.generation }))
    expect(s4.phase).toBe("ready")
  })

  it("closes when the goodbye drain is over", () => {
    const [ready] = readyListener()
    const [closing] = step(ready, Event.CloseRequested({ now: 20, code: "going_away", graceful: true }))
    const [, commands] = step(closing, Event.TimerFired({ now: 2_020, timer: "drain", generation: closing.timers.drain.generation }))
    expect(closeCode(commands)).toBe("going_away")
  })
})

describe("CloseRequested", () => {
  const [ready] = readyListener()
  const step = stepOf(station)

  it("graceful: goodbye with the reason and redial hint, then a drain of goodbyeDrainMs", () => {
    const [state, commands] = step(ready, Event.CloseRequested({ now: 20, code: "going_away", message: "upgrade", afterMs: 1_000, graceful: true }))
    expect(sent(commands)).toEqual([{ t: "goodbye", c: "going_away", m: "upgrade", after: 1_000 }])
    expect(timerSet(commands, "drain")?.at).toBe(2_020)
    expect(state.ending).toMatchObject({ code: "going_away", by: "local" })
    expect(step(state, Event.CloseRequested({ now: 21, code: "normal", graceful: true }))[1]).toEqual([])
  })

  it("immediate: goodbye, then close at once", () => {
    const [, commands] = step(ready, Event.CloseRequested({ now: 20, code: "replaced", graceful: false }))
    expect(tags(commands).filter((t) => t === "Send" || t === "CloseConnection")).toEqual(["Send", "CloseConnection"])
    expect(closeCode(commands)).toBe("replaced")
  })

  it("closes at once when there is no control stream yet", () => {
    const [, commands] = step(started(station, "inbound"), Event.CloseRequested({ now: 1, code: "going_away", graceful: true }))
    expect(sent(commands)).toEqual([])
    expect(closeCode(commands)).toBe("going_away")
  })
})

describe("Penalized", () => {
  it("subtracts penaltyMajor and bans at banScore", () => {
    const [ready] = readyListener()
    const step = stepOf(station)
    let state = ready
    const closes: Array<string | undefined> = []
    for (let i = 0; i < 4; i++) {
      const [next, commands] = step(state, Event.Penalized({ now: 20, severity: "major", reason: "bad signature" }))
      state = next
      closes.push(closeCode(commands))
      if (i === 3) expect(tags(commands)).toContain("Emit:Banned")
    }
    expect(closes).toEqual([undefined, undefined, undefined, "banned"])
    expect(state.score.value).toBe(station.banScore)
  })

  it("applies recovery since the last change before the penalty", () => {
    const [ready] = readyListener()
    const step = stepOf(station)
    const [s1] = step(ready, Event.Penalized({ now: 10, severity: "minor", reason: "x" }))
    const [s2] = step(s1, Event.Penalized({ now: 60_010, severity: "minor", reason: "y" }))
    expect(s2.score.value).toBe(-5)
  })
})

describe("ConnectionLost", () => {
  it("ends the core with the local ending's code, and ignores everything after", () => {
    const [ready] = readyListener()
    const step = stepOf(station)
    const [closing] = step(ready, Event.CloseRequested({ now: 20, code: "going_away", graceful: true }))
    const [closed, commands] = step(closing, Event.ConnectionLost({ now: 30, by: "peer", code: "normal", message: "" }))
    expect(closed.phase).toBe("closed")
    expect(commands).toContainEqual(Connection.Command.Emit({ notice: Connection.Notice.Closed({ code: "going_away", by: "local", score: 0 }) }))
    expect(step(closed, Event.Penalized({ now: 31, severity: "major", reason: "late" }))).toEqual(Step.unchanged(closed))
  })

  it("reports the transport's reason when nobody said goodbye", () => {
    const [ready] = readyListener()
    const [, commands] = stepOf(station)(ready, Event.ConnectionLost({ now: 30, by: "idle_timeout", code: "idle_timeout", message: "silence" }))
    expect(commands).toContainEqual(Connection.Command.Emit({
      notice: Connection.Notice.Closed({ code: "idle_timeout", by: "idle_timeout", message: "silence", score: 0 })
    }))
  })

  it("reports the score at the close, recovery since the last penalty included", () => {
    const [ready] = readyListener()
    const step = stepOf(station)
    const [penalised] = step(ready, Event.Penalized({ now: 0, severity: "major", reason: "bad signature" }))
    // −25 at t = 0, +5 per minute: −15 two minutes later.
    const [, commands] = step(penalised, Event.ConnectionLost({ now: 120_000, by: "peer", code: "normal", message: "" }))
    expect(commands).toContainEqual(Connection.Command.Emit({ notice: Connection.Notice.Closed({ code: "normal", by: "peer", score: -15 }) }))
  })
})

describe("the dialer's ready state", () => {
  it("reports skew beyond clockSkewLeewayMs", () => {
    const cfg = config("client")
    const step = stepOf(cfg)
    const [s1] = Step.run(step, started(cfg, "outbound"), [Event.StreamOpened({ now: 1, stream: 0, as: { kind: "control" } })])
    const [, commands] = step(s1, Event.FrameReceived({ now: 10, stream: 0, frame: hello("station", { ts: wall0 + 10 + 120_000 }) }))
    expect(tags(commands)).toContain("Emit:ClockSkew")
  })
})

describe("ResyncRequested", () => {
  it("a station sends resync on the control stream to a client that dialled it, what in catalogue order", () => {
    const [ready] = readyListener(station, "client")
    const [, commands] = stepOf(station)(ready, Event.ResyncRequested({ now: 20, what: ["adv", "sub", "adv"] }))
    expect(commands).toEqual([Connection.Command.Send({ stream: CONTROL, frame: { t: "resync", what: ["sub", "adv"] } })])
  })

  it("a station sends it on a control stream it opened, to a peer station", () => {
    const cfg = config("station")
    const step = stepOf(cfg)
    const [ready] = Step.run(step, Connection.initial(cfg, "outbound"), [
      Event.Started({ now: 0, wallNow: wall0, peerPowBits: pow }),
      Event.StreamOpened({ now: 1, stream: CONTROL, as: { kind: "control" } }),
      Event.FrameReceived({ now: 10, stream: CONTROL, frame: hello("station") })
    ])
    expect(ready.phase).toBe("ready")
    expect(sent(step(ready, Event.ResyncRequested({ now: 20, what: ["interest"] }))[1])).toEqual([{ t: "resync", what: ["interest"] }])
  })

  it("sends nothing from a client, before the hellos, after a goodbye or for an empty what, and says why", () => {
    const [dialer] = readyDialer()
    expect(stepOf(client)(dialer, Event.ResyncRequested({ now: 20, what: ["sub"] }))).toEqual(Step.unchanged(dialer))
    expect(Connection.Resync.refusal(client, dialer, ["sub"])?.reason).toBe("not_station")
    const early = started(station, "inbound")
    expect(stepOf(station)(early, Event.ResyncRequested({ now: 20, what: ["sub"] }))).toEqual(Step.unchanged(early))
    expect(Connection.Resync.refusal(station, early, ["sub"])?.reason).toBe("not_ready")
    const [ready] = readyListener()
    const [closing] = stepOf(station)(ready, Event.CloseRequested({ now: 20, code: "normal", graceful: true }))
    expect(sent(stepOf(station)(closing, Event.ResyncRequested({ now: 21, what: ["sub"] }))[1])).toEqual([])
    expect(Connection.Resync.refusal(station, ready, [])?.reason).toBe("invalid_what")
    expect(Connection.Resync.refusal(station, ready, ["sub"])).toBeUndefined()
  })
})

describe("StreamResetLocally", () => {
  const call = { t: "call" as const, id: 1, cid: new Uint8Array(16), realm: new Uint8Array(32), proc: "a", a: null, ttl: 1_000, idem: true, hop: 0, mode: "bidi" as const }

  it("forgets a call stream a subsystem reset; flow_control counts as a peer-caused reset, cancelled does not", () => {
    const [ready] = readyListener()
    const step = stepOf(station)
    const [s1] = step(ready, Event.FrameReceived({ now: 20, stream: 4, frame: call }))
    const [s2, faulted] = step(s1, Event.StreamResetLocally({ now: 21, stream: 4, code: "flow_control" }))
    expect(s2.streams.has(4)).toBe(false)
    expect(s2.streamErrors).toEqual([21])
    expect(s2.rejected).toBe(1)
    expect(tags(faulted)).toEqual(["Emit:StreamRejected"])
    const [s3] = step(s2, Event.FrameReceived({ now: 22, stream: 8, frame: { ...call, id: 2 } }))
    const [s4, cancelled] = step(s3, Event.StreamResetLocally({ now: 23, stream: 8, code: "cancelled" }))
    expect(s4.streams.has(8)).toBe(false)
    expect(s4.streamErrors).toEqual([21])
    expect(cancelled).toEqual([])
  })

  it("closes protocol_violation after more than maxStreamErrorsPerMin, mixing its own and subsystem resets", () => {
    const cfg = config("station", { maxStreamErrorsPerMin: 2, banScore: -1_000 })
    const step = stepOf(cfg)
    let [state] = readyListener(cfg)
    const codes: Array<string | undefined> = []
    for (let i = 0; i < 3; i++) {
      const stream = 4 + 4 * i
      ;[state] = step(state, Event.FrameReceived({ now: 100 + i, stream, frame: { ...call, id: i + 1 } }))
      const [next, commands] = i === 1
        ? step(state, Event.FrameRejected({ now: 100 + i, stream, code: "malformed_frame", detail: "x" }))
        : step(state, Event.StreamResetLocally({ now: 100 + i, stream, code: "flow_control" }))
      state = next
      codes.push(closeCode(commands))
    }
    expect(codes).toEqual([undefined, undefined, "protocol_violation"])
  })

  it("never forgets the control stream", () => {
    const [ready] = readyListener()
    const [state] = stepOf(station)(ready, Event.StreamResetLocally({ now: 20, stream: CONTROL, code: "invalid_field" }))
    expect(state.control).toBe(CONTROL)
    expect(state.streams.has(CONTROL)).toBe(true)
  })
})

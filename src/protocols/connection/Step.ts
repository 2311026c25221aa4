/**
 * One connection's protocol as a pure step (PROTOCOL.md §3.4–§3.7, §4.4, §14 rows 7–14):
 * the HELLO exchange, the stream placement rules, application liveness, graceful goodbye and the
 * peer score.
 *
 * How it reads:
 * - `Started` arms the handshake timer; the dialer opens the control stream and sends `hello`.
 *   The listener adopts the first peer stream whose first frame is `hello` as the control stream
 *   and answers `hello` (ready) or `goodbye` and a close (`version_mismatch`, `role_refused`,
 *   `pow_insufficient`). The dialer checks the listener's `hello` the same way.
 * - Before both hellos nothing else may arrive: a frame on another stream is `wrong_stream`
 *   (that stream is reset, the peer penalised); the wrong frame on the control stream is a
 *   protocol violation that closes the connection, since a connection without its control stream
 *   cannot stay alive.
 * - Liveness (§3.6): any frame heard resets the idle clock; after `appPingIntervalMs` of silence
 *   a `ping` goes out; each `appPingTimeoutMs` without its `pong` is a miss and the next `ping`
 *   follows at once; `appPingMaxMisses` misses close `liveness_lost`.
 * - Goodbye (§3.7): a graceful close sends `goodbye` and waits up to `goodbyeDrainMs`; the peer
 *   answers by finishing its control stream, upon which the closer closes at once. A receiver of
 *   `goodbye` finishes its control stream and closes at the end of its own drain if the sender
 *   has not closed first.
 * - Every reset the core makes because of what the peer sent costs `penaltyMinor`; at `banScore`
 *   the connection closes `banned` (the registry then refuses the DID for `banDurationMs`). More
 *   than `maxStreamErrorsPerMin` peer-caused resets within any 60 s window close
 *   `protocol_violation`: the core's own resets and those a subsystem makes for a peer fault
 *   (`StreamResetLocally` with a `Codes.isPeerFault` code, e.g. `flow_control`) both count.
 * - `resync` (§15.2) is S→any on the control stream: a station sends it when asked
 *   (`ResyncRequested`, checked by `Resync.refusal`); one received from a station is delivered
 *   to the control route, one from a client is dropped and costs it `penaltyMinor`.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import * as Step from "../../core/Step.ts"
import type { Frame, Goodbye, Hello } from "../../wire/Frame.ts"
import type { Stream } from "../../wire/Streams.ts"
import { type CloseName, isCloseName, isPeerFault, type ResetName } from "./Codes.ts"
import { Command, Notice, type Route } from "./Command.ts"
import type { Config } from "./Config.ts"
import type { Event } from "./Event.ts"
import * as Handshake from "./Handshake.ts"
import * as Resync from "./Resync.ts"
import * as Score from "./Score.ts"
import type { State, StreamInfo } from "./State.ts"
import type { Timer } from "./Timer.ts"

/**
 * One step's working copy: the state so far and the commands so far. Handlers below mutate it;
 * the step returns it as an immutable pair. Nothing escapes a step.
 */
interface Draft {
  s: State
  readonly out: Array<Command>
}

const setTimer = (d: Draft, timer: Timer, at: Millis): void => {
  const generation = d.s.timers[timer].generation + 1
  d.s = { ...d.s, timers: { ...d.s.timers, [timer]: { generation, armed: true } } }
  d.out.push(Command.SetTimer({ timer, at, generation }))
}

const cancelTimer = (d: Draft, timer: Timer): void => {
  const t = d.s.timers[timer]
  if (!t.armed) return
  d.s = { ...d.s, timers: { ...d.s.timers, [timer]: { generation: t.generation, armed: false } } }
  d.out.push(Command.CancelTimer({ timer }))
}

const cancelAll = (d: Draft): void => {
  cancelTimer(d, "handshake")
  cancelTimer(d, "idle")
  cancelTimer(d, "pong")
  cancelTimer(d, "drain")
}

const heard = (d: Draft, now: Millis): void => {
  if (now > d.s.liveness.lastHeardAt) d.s = { ...d.s, liveness: { ...d.s.liveness, lastHeardAt: now } }
}

const wallAt = (s: State, now: Millis): number => Math.max(0, Math.round(now + s.wallOffsetMs))

const helloOf = (config: Config, s: State, now: Millis): Hello => {
  const h = config.hello
  const base: Hello = {
    t: "hello",
    role: config.role,
    vers: config.versions,
    feat: h.feat,
    realms: h.realms,
    addrs: h.addrs,
    lim: { f: config.maxFrameBytes },
    ts: wallAt(s, now)
  }
  return {
    ...base,
    ...(h.peers === undefined ? {} : { peers: h.peers }),
    ...(h.impl === undefined ? {} : { impl: h.impl })
  }
}

const goodbyeOf = (code: CloseName, message?: string, afterMs?: number): Goodbye => ({
  t: "goodbye",
  c: code,
  ...(message === undefined || message === "" ? {} : { m: message.slice(0, 256) }),
  ...(afterMs === undefined ? {} : { after: Math.max(0, Math.round(afterMs)) })
})

const send = (d: Draft, stream: number, frame: Frame): void => {
  d.out.push(Command.Send({ stream, frame }))
}

const emit = (d: Draft, notice: Notice): void => {
  d.out.push(Command.Emit({ notice }))
}

const routeOf = (info: StreamInfo): Route => {
  const stream = info.stream
  switch (stream.kind) {
    case "lane":
      return { kind: "lane", family: stream.family, opener: info.opener }
    case "control":
      return { kind: "control" }
    default:
      return { kind: stream.kind, opener: info.opener }
  }
}

const describe = (stream: Stream): string => (stream.kind === "lane" ? `${stream.family} lane` : `${stream.kind} stream`)

/** Forgets a stream (and its lane); reports a lane's end. */
const forget = (d: Draft, stream: number): StreamInfo | undefined => {
  const info = d.s.streams.get(stream)
  if (info === undefined) return undefined
  const streams = new Map(d.s.streams)
  streams.delete(stream)
  d.s = { ...d.s, streams }
  if (info.stream.kind === "lane") {
    const family = info.stream.family
    const key = info.opener === "peer" ? "peerLanes" : "localLanes"
    if (d.s[key].get(family) === stream) {
      const lanes = new Map(d.s[key])
      lanes.delete(family)
      d.s = { ...d.s, [key]: lanes }
    }
    emit(d, Notice.LaneClosed({ family, opener: info.opener }))
  }
  return info
}

const remember = (d: Draft, stream: number, info: StreamInfo): void => {
  const streams = new Map(d.s.streams)
  streams.set(stream, info)
  d.s = { ...d.s, streams }
  if (info.stream.kind === "lane") {
    const key = info.opener === "peer" ? "peerLanes" : "localLanes"
    const lanes = new Map(d.s[key])
    lanes.set(info.stream.family, stream)
    d.s = { ...d.s, [key]: lanes }
  }
}

// ---------------------------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------------------------

/** Local decision to close without draining: `goodbye` (if there is a control stream) and close. */
const closeNow = (_config: Config, d: Draft, _now: Millis, code: CloseName, message: string): void => {
  const s = d.s
  if (s.phase === "closed" || s.closeIssued) return
  if (s.control !== undefined && s.ending === undefined) send(d, s.control, goodbyeOf(code, message))
  if (d.s.ending === undefined) {
    d.s = { ...d.s, ending: { code, by: "local", message } }
    emit(d, Notice.Closing({ code, by: "local", message }))
  }
  d.s = { ...d.s, phase: "closing", closeIssued: true }
  cancelAll(d)
  d.out.push(Command.CloseConnection({ code: d.s.ending?.code ?? code, message }))
}

/** Local graceful close: `goodbye`, then drain for up to `goodbyeDrainMs`. */
const closeGracefully = (
  config: Config,
  d: Draft,
  now: Millis,
  code: CloseName,
  message: string | undefined,
  afterMs: number | undefined
): void => {
  const s = d.s
  if (s.phase === "closing" || s.phase === "closed") return
  if (s.control === undefined) return closeNow(config, d, now, code, message ?? "")
  send(d, s.control, goodbyeOf(code, message, afterMs))
  const ending = {
    code,
    by: "local" as const,
    ...(message === undefined ? {} : { message }),
    ...(afterMs === undefined ? {} : { afterMs })
  }
  d.s = { ...d.s, phase: "closing", ending }
  cancelAll(d)
  setTimer(d, "drain", now + config.goodbyeDrainMs)
  emit(d, Notice.Closing({ code, by: "local", ...(message === undefined ? {} : { message }) }))
}

/** The close the drain ends with: the ending's code. */
const finishDrain = (d: Draft): void => {
  if (d.s.closeIssued || d.s.phase === "closed") return
  const ending = d.s.ending
  const code = ending?.code ?? "normal"
  d.s = { ...d.s, phase: "closing", closeIssued: true }
  cancelAll(d)
  d.out.push(Command.CloseConnection({ code, message: ending?.message ?? "" }))
}

// ---------------------------------------------------------------------------------------------
// Scores and faults
// ---------------------------------------------------------------------------------------------

const penalize = (config: Config, d: Draft, now: Millis, amount: number, reason: string): void => {
  if (d.s.phase === "closed") return
  const score = Score.penalize(d.s.score, now, amount, config)
  d.s = { ...d.s, score }
  emit(d, Notice.ScoreChanged({ score: score.value, reason }))
  if (Score.isBanned(score.value, config) && !d.s.closeIssued) {
    emit(d, Notice.Banned({ untilMs: now + config.banDurationMs, score: score.value }))
    closeNow(config, d, now, "banned", `score ${score.value} at or below ${config.banScore}`)
  }
}

/** Counts one peer-caused reset; too many in a minute is a protocol violation. */
const countStreamError = (config: Config, d: Draft, now: Millis): void => {
  const recent = d.s.streamErrors.filter((t) => t > now - 60_000)
  recent.push(now)
  const kept = recent.slice(-(config.maxStreamErrorsPerMin + 1))
  d.s = { ...d.s, streamErrors: kept }
  if (kept.length > config.maxStreamErrorsPerMin) {
    closeNow(config, d, now, "protocol_violation", `more than ${config.maxStreamErrorsPerMin} stream errors in a minute`)
  }
}

/**
 * The peer sent something a stream may not carry: reset that stream only, penalise, count. On
 * the control stream the connection cannot go on: close `protocol_violation`.
 */
const reject = (config: Config, d: Draft, now: Millis, stream: number, code: ResetName, detail: string): void => {
  d.out.push(Command.ResetStream({ stream, code }))
  const info = forget(d, stream)
  d.s = { ...d.s, rejected: d.s.rejected + 1 }
  emit(d, Notice.StreamRejected({ stream, code, detail }))
  penalize(config, d, now, config.penaltyMinor, `${code}: ${detail}`)
  countStreamError(config, d, now)
  if (info?.stream.kind === "control" || stream === d.s.control) {
    closeNow(config, d, now, "protocol_violation", `control stream: ${code}: ${detail}`)
  }
}

// ---------------------------------------------------------------------------------------------
// The handshake
// ---------------------------------------------------------------------------------------------

const onHello = (config: Config, d: Draft, now: Millis, hello: Hello): void => {
  const verdict = Handshake.evaluate({
    localRole: config.role,
    localVersions: config.versions,
    direction: d.s.direction,
    peer: hello,
    peerPowBits: d.s.peerPowBits,
    stationPowBits: config.stationPowBits
  })
  if (!verdict.ok) {
    closeNow(config, d, now, verdict.refusal, `peer hello: ${verdict.refusal}`)
    return
  }
  const control = d.s.control!
  if (!d.s.helloSent) {
    send(d, control, helloOf(config, d.s, now))
    d.s = { ...d.s, helloSent: true }
  }
  d.s = { ...d.s, phase: "ready", peerHello: hello, peerRole: hello.role, version: verdict.version }
  cancelTimer(d, "handshake")
  setTimer(d, "idle", now + config.appPingIntervalMs)
  d.out.push(Command.SetSendLimit({ bytes: hello.lim.f }))
  const skewMs = hello.ts - wallAt(d.s, now)
  emit(d, Notice.Ready({ version: verdict.version, peerRole: hello.role, peerHello: hello, skewMs }))
  if (Math.abs(skewMs) > config.clockSkewLeewayMs) emit(d, Notice.ClockSkew({ skewMs }))
}

// ---------------------------------------------------------------------------------------------
// Liveness
// ---------------------------------------------------------------------------------------------

const sendPing = (config: Config, d: Draft, now: Millis): void => {
  const control = d.s.control
  if (control === undefined) return
  const n = d.s.liveness.nextN
  send(d, control, { t: "ping", n })
  d.s = { ...d.s, liveness: { ...d.s.liveness, nextN: n + 1, outstanding: { n, sentAt: now } } }
  setTimer(d, "pong", now + config.appPingTimeoutMs)
}

const onPong = (config: Config, d: Draft, now: Millis, n: number): void => {
  const live = d.s.liveness
  if (live.outstanding !== undefined && n === live.outstanding.n) {
    const rttMs = Math.max(0, now - live.outstanding.sentAt)
    d.s = { ...d.s, liveness: { ...live, outstanding: undefined, misses: 0, oldestUnanswered: n + 1, rttMs } }
    cancelTimer(d, "pong")
    if (d.s.phase === "ready") setTimer(d, "idle", now + config.appPingIntervalMs)
    emit(d, Notice.Rtt({ rttMs }))
  } else if (n >= live.oldestUnanswered && n < live.nextN) {
    // A late answer to an earlier ping: the peer is alive, only slow.
    d.s = { ...d.s, liveness: { ...live, misses: 0, oldestUnanswered: n + 1 } }
  }
  // Otherwise a pong we never asked for: ignored (§14 #10 spirit: counter only).
}

const onTimer = (config: Config, d: Draft, now: Millis, timer: Timer): void => {
  switch (timer) {
    case "handshake":
      if (d.s.phase === "handshaking" || d.s.phase === "idle") {
        closeNow(config, d, now, "handshake_timeout", `no hello within ${config.handshakeTimeoutMs} ms`)
      }
      return
    case "idle": {
      if (d.s.phase !== "ready" || d.s.liveness.outstanding !== undefined) return
      const due = d.s.liveness.lastHeardAt + config.appPingIntervalMs
      if (now >= due) sendPing(config, d, now)
      else setTimer(d, "idle", due)
      return
    }
    case "pong": {
      if (d.s.phase !== "ready") return
      const misses = d.s.liveness.misses + 1
      d.s = { ...d.s, liveness: { ...d.s.liveness, misses } }
      if (misses >= config.appPingMaxMisses) {
        closeNow(config, d, now, "liveness_lost", `${misses} pings without a pong`)
      } else {
        sendPing(config, d, now)
      }
      return
    }
    case "drain":
      if (d.s.phase === "closing") finishDrain(d)
      return
  }
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

const onPeerGoodbye = (config: Config, d: Draft, now: Millis, frame: Goodbye): void => {
  const afterMs = frame.after
  emit(d, Notice.PeerGoodbye({
    code: frame.c,
    ...(frame.m === undefined ? {} : { message: frame.m }),
    ...(afterMs === undefined ? {} : { afterMs })
  }))
  if (d.s.phase === "closing") {
    // Both sides said goodbye: nothing is left to drain.
    finishDrain(d)
    return
  }
  const code: CloseName = isCloseName(frame.c) ? frame.c : "normal"
  d.s = {
    ...d.s,
    phase: "closing",
    ending: {
      code,
      by: "peer",
      ...(frame.m === undefined ? {} : { message: frame.m }),
      ...(afterMs === undefined ? {} : { afterMs })
    }
  }
  cancelAll(d)
  emit(d, Notice.Closing({ code, by: "peer", ...(frame.m === undefined ? {} : { message: frame.m }) }))
  // Our FIN on the control stream tells the closer we are done; it then closes at once.
  if (d.s.control !== undefined) d.out.push(Command.EndStream({ stream: d.s.control }))
  setTimer(d, "drain", now + config.goodbyeDrainMs)
}

const onControlFrame = (config: Config, d: Draft, now: Millis, stream: number, frame: Frame): void => {
  const phase = d.s.phase
  const live = phase === "ready" || phase === "closing"
  switch (frame.t) {
    case "hello":
      if (phase === "handshaking" && d.s.direction === "outbound" && d.s.peerHello === undefined) {
        return onHello(config, d, now, frame)
      }
      return reject(config, d, now, stream, "wrong_stream", "a second hello")
    case "goodbye":
      return onPeerGoodbye(config, d, now, frame)
    case "ping":
      if (!live) return reject(config, d, now, stream, "wrong_stream", "ping before both hellos")
      return send(d, stream, { t: "pong", n: frame.n })
    case "pong":
      if (!live) return reject(config, d, now, stream, "wrong_stream", "pong before both hellos")
      return onPong(config, d, now, frame.n)
    case "resync":
      if (!live) return reject(config, d, now, stream, "wrong_stream", "resync before both hellos")
      // S→any (§6): a client has no station state to ask for. Its control stream stays up (the
      // frame is well-formed and harmless), but the misuse costs it a minor penalty.
      if (d.s.peerRole !== "station") return penalize(config, d, now, config.penaltyMinor, "resync from a client (S→any)")
      d.out.push(Command.Deliver({ stream, route: { kind: "control" }, frame }))
      return
    default:
      return reject(config, d, now, stream, "wrong_stream", `${frame.t} on the control stream`)
  }
}

const onNewPeerStream = (config: Config, d: Draft, now: Millis, stream: number, frame: Frame): void => {
  const s = d.s
  if (frame.t === "hello") {
    if (s.direction === "inbound" && s.control === undefined && s.phase === "handshaking") {
      d.s = { ...s, control: stream }
      remember(d, stream, { stream: { kind: "control" }, opener: "peer" })
      return onHello(config, d, now, frame)
    }
    return reject(config, d, now, stream, "wrong_stream", "a second control stream")
  }
  if (s.phase === "closing") {
    // The peer may have opened it before our goodbye reached it: refuse without blame.
    d.out.push(Command.ResetStream({ stream, code: "cancelled" }))
    return
  }
  if (s.phase !== "ready") return reject(config, d, now, stream, "wrong_stream", `${frame.t} before both hellos`)
  if (s.streams.size >= config.maxStreams) {
    d.out.push(Command.ResetStream({ stream, code: "overloaded" }))
    emit(d, Notice.StreamRejected({ stream, code: "overloaded", detail: `more than ${config.maxStreams} streams` }))
    return
  }
  const opened = config.placement.opens(frame)
  if (opened === undefined || opened.kind === "control") {
    return reject(config, d, now, stream, "wrong_stream", `${frame.t} cannot open a stream`)
  }
  if (opened.kind === "lane" && s.peerLanes.has(opened.family)) {
    return reject(config, d, now, stream, "wrong_stream", `a second ${opened.family} lane`)
  }
  const info: StreamInfo = { stream: opened, opener: "peer" }
  remember(d, stream, info)
  d.out.push(Command.Deliver({ stream, route: routeOf(info), frame }))
}

const onFrame = (config: Config, d: Draft, now: Millis, stream: number, frame: Frame): void => {
  heard(d, now)
  const info = d.s.streams.get(stream)
  if (info === undefined) return onNewPeerStream(config, d, now, stream, frame)
  if (info.stream.kind === "control") return onControlFrame(config, d, now, stream, frame)
  if (!config.placement.allows(info.stream, frame.t)) {
    return reject(config, d, now, stream, "wrong_stream", `${frame.t} on a ${describe(info.stream)}`)
  }
  d.out.push(Command.Deliver({ stream, route: routeOf(info), frame }))
}

const onStreamClosed = (config: Config, d: Draft, now: Millis, stream: number): void => {
  heard(d, now)
  const info = forget(d, stream)
  if (info === undefined || info.stream.kind !== "control") return
  if (d.s.phase === "closing") return finishDrain(d)
  closeNow(config, d, now, "normal", "the peer ended the control stream")
}

const onStreamOpened = (config: Config, d: Draft, now: Millis, stream: number, as: Stream): void => {
  if (as.kind === "control") {
    if (d.s.direction !== "outbound" || d.s.control !== undefined) {
      // Only a dialer opens the control stream, once: anything else is a bug in the actor.
      throw new Error(`connection core: unexpected control stream ${stream}`)
    }
    d.s = { ...d.s, control: stream }
    remember(d, stream, { stream: as, opener: "local" })
    if (d.s.phase === "handshaking" && !d.s.helloSent) {
      send(d, stream, helloOf(config, d.s, now))
      d.s = { ...d.s, helloSent: true }
    }
    return
  }
  remember(d, stream, { stream: as, opener: "local" })
}

/**
 * The step of one connection under `config`. Total over `Event`; a closed connection ignores
 * everything.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStep = (config: Config): Step.Step<State, Event, Command> => (state, event) => {
  if (state.phase === "closed") return Step.unchanged(state)
  const d: Draft = { s: state, out: [] }
  switch (event._tag) {
    case "Started": {
      if (state.phase !== "idle") return Step.unchanged(state)
      d.s = {
        ...state,
        phase: "handshaking",
        wallOffsetMs: event.wallNow - event.now,
        peerPowBits: event.peerPowBits,
        score: Score.make(event.now, config, event.score ?? 0),
        liveness: { ...state.liveness, lastHeardAt: event.now }
      }
      setTimer(d, "handshake", event.now + config.handshakeTimeoutMs)
      if (state.direction === "outbound") d.out.push(Command.OpenControl())
      break
    }
    case "StreamOpened":
      onStreamOpened(config, d, event.now, event.stream, event.as)
      break
    case "FrameReceived":
      if (state.phase === "idle") return Step.unchanged(state)
      onFrame(config, d, event.now, event.stream, event.frame)
      break
    case "FrameRejected":
      if (state.phase === "idle") return Step.unchanged(state)
      heard(d, event.now)
      reject(config, d, event.now, event.stream, event.code, event.detail)
      break
    case "StreamClosed":
      onStreamClosed(config, d, event.now, event.stream)
      break
    case "TimerFired": {
      const t = state.timers[event.timer]
      if (!t.armed || t.generation !== event.generation) return Step.unchanged(state)
      d.s = { ...state, timers: { ...state.timers, [event.timer]: { generation: t.generation, armed: false } } }
      onTimer(config, d, event.now, event.timer)
      break
    }
    case "CloseRequested":
      if (event.graceful) closeGracefully(config, d, event.now, event.code, event.message, event.afterMs)
      else closeNow(config, d, event.now, event.code, event.message ?? "")
      break
    case "Penalized":
      penalize(
        config,
        d,
        event.now,
        event.severity === "major" ? config.penaltyMajor : config.penaltyMinor,
        event.reason
      )
      break
    case "ResyncRequested": {
      if (Resync.refusal(config, d.s, event.what) !== undefined) return Step.unchanged(state)
      send(d, d.s.control!, { t: "resync", what: Resync.normalise(event.what) })
      break
    }
    case "StreamResetLocally": {
      // Subsystems reset only streams they were given (calls, sessions); never the control stream.
      if (event.stream === d.s.control) break
      const info = forget(d, event.stream)
      if (info === undefined || !isPeerFault(event.code)) break
      // The subsystem already penalised or answered as §14 says; here it only counts (§3.7).
      d.s = { ...d.s, rejected: d.s.rejected + 1 }
      emit(d, Notice.StreamRejected({ stream: event.stream, code: event.code, detail: "reset by a subsystem" }))
      countStreamError(config, d, event.now)
      break
    }
    case "ConnectionLost": {
      cancelAll(d)
      const ending = d.s.ending
      d.s = { ...d.s, phase: "closed" }
      const message = ending?.message ?? event.message
      emit(d, Notice.Closed({
        code: ending?.code ?? event.code,
        by: ending?.by ?? event.by,
        ...(message === "" ? {} : { message }),
        score: Score.valueAt(d.s.score, event.now, config)
      }))
      break
    }
  }
  return Step.next(d.s, d.out)
}

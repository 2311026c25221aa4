/**
 * One streaming call's whole path as a single pure core, for the stream properties and the
 * model-based test: a caller endpoint, the station's dispatcher and a provider endpoint,
 * joined by four FIFO links (caller→station, station→caller, provider→station,
 * station→provider) whose frames move only when a `Deliver` event says so. The applications
 * at both ends are part of the state: what each sent (values 0, 1, 2, … in order), received
 * and consumed, so a check can see ordering, credit and buffers end to end.
 *
 * The three cores' timers come out re-keyed (`c:`, `s:`, `p:` + the core's key) and go back
 * in as `TimerFired`; everything else a core asks for is interpreted here (sends go on links,
 * handler runs and aborts are recorded). Like the cores, the state is updated in place.
 */
import { Rpc } from "../../../../src/protocols/rpc/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { EndpointEvent: EE, DispatcherEvent: DE } = Rpc

/** The three nodes of the path (hex keys). */
export const callerId = B.id(1)
export const providerId = B.id(2)
export const stationId = B.id(0xee)

/** The links, named from→to. */
export type LinkName = "c>s" | "s>c" | "p>s" | "s>p"
/** Every link, in a fixed order. */
export const linkNames: ReadonlyArray<LinkName> = ["c>s", "s>c", "p>s", "s>p"]

/** One end's application: what it sent, received and consumed. */
export interface App {
  /** Values the core accepted from `StreamSend`, in order. */
  readonly sent: Array<number>
  readonly received: Array<number>
  consumed: number
  /** The other side's `s.end` reached this application (count: must stay ≤ 1). */
  ended: number
  /** Data frames this end put on the wire, and the credit the other end granted it. */
  dataOnWire: number
  granted: number
}

/** The whole path: three cores, four links, two applications and what was observed. */
export interface PathState {
  readonly mode: Frame.CallMode
  readonly timeoutMs: number
  readonly config: Rpc.Config
  readonly caller: Rpc.EndpointState
  readonly station: Rpc.DispatcherState
  readonly provider: Rpc.EndpointState
  readonly links: Record<LinkName, Array<Frame.Frame>>
  readonly apps: { readonly caller: App; readonly provider: App }
  /** The caller's call id (its stream with the station) and the station's leg id to the provider. */
  callId: number | undefined
  legId: number | undefined
  /** Caller completions so far (must end at exactly one). */
  readonly completions: Array<Rpc.Outcome>
  handlerRuns: number
  handlerAborts: number
  /** The handler returned or failed (the application's own end). */
  handlerDone: boolean
  resets: number
}

/** The path's inputs: the applications' actions, deliveries and timers. */
export type PathEvent =
  | { readonly _tag: "Start"; readonly now: number }
  | { readonly _tag: "Send"; readonly side: "caller" | "provider"; readonly now: number }
  | { readonly _tag: "Consume"; readonly side: "caller" | "provider"; readonly n: number; readonly now: number }
  | { readonly _tag: "Close"; readonly side: "caller" | "provider"; readonly now: number }
  | { readonly _tag: "Return"; readonly ok: boolean; readonly now: number }
  | { readonly _tag: "Cancel"; readonly now: number }
  | { readonly _tag: "Deliver"; readonly link: LinkName; readonly now: number }
  | { readonly _tag: "TimerFired"; readonly timer: string; readonly generation: number; readonly now: number }

/** The path's outputs: its timers (re-keyed) and what the applications observed. */
export type PathCommand =
  | { readonly _tag: "SetTimer"; readonly timer: string; readonly at: number; readonly generation: number }
  | { readonly _tag: "CancelTimer"; readonly timer: string }
  | { readonly _tag: "Completed"; readonly outcome: Rpc.Outcome }
  /** The application's message `value` was taken by its core (it will be sent in order). */
  | { readonly _tag: "Accepted"; readonly side: "caller" | "provider"; readonly value: number }
  /** A message reached the application of `side`. */
  | { readonly _tag: "Delivered"; readonly side: "caller" | "provider"; readonly value: number }
  | { readonly _tag: "Violation"; readonly what: string }

const app = (): App => ({ sent: [], received: [], consumed: 0, ended: 0, dataOnWire: 0, granted: 0 })

/**
 * A path with the provider advertised and attached and the caller linked; `Start` makes the
 * caller's call (`ref` 1, `mode`, budget `timeoutMs`).
 */
export const initialPath = (mode: Frame.CallMode, timeoutMs: number, config: Rpc.Config = Rpc.local): PathState => {
  const s: PathState = {
    mode,
    timeoutMs,
    config,
    caller: Rpc.initialEndpoint({ seed: 1 }),
    station: Rpc.initialDispatcher({ self: stationId, seed: 3 }),
    provider: Rpc.initialEndpoint({ seed: 2 }),
    links: { "c>s": [], "s>c": [], "p>s": [], "s>p": [] },
    apps: { caller: app(), provider: app() },
    callId: undefined,
    legId: undefined,
    completions: [],
    handlerRuns: 0,
    handlerAborts: 0,
    handlerDone: false,
    resets: 0
  }
  const dstep = Rpc.makeDispatcherStep(config)
  const estep = Rpc.makeEndpointStep(config)
  dstep(s.station, DE.ClientAttached({ now: 0, client: callerId }))
  dstep(s.station, DE.ClientAttached({ now: 0, client: providerId }))
  dstep(s.station, DE.AdvReceived({
    now: 0,
    client: providerId,
    verdict: { _tag: "Allowed" },
    record: B.record(2, 0xee, { modes: [mode] }),
    frame: { t: "adv", id: 1, realm: B.realm, proc: B.proc, modes: [mode], rec: B.signed }
  }))
  // The provider's own view: linked and advertising (its `adv` traffic is not part of the path).
  estep(s.provider, EE.LinkUp({ now: 0, wall: 0, station: stationId }))
  estep(s.provider, EE.Advertise({ now: 0, wall: 0, ref: 1, realm: B.realm, proc: B.proc, modes: [mode], req: false }))
  for (const key of Array.from(s.provider.timers.armed.keys())) s.provider.timers.armed.delete(key)
  s.provider.requests.clear()
  estep(s.caller, EE.LinkUp({ now: 0, wall: 0, station: stationId }))
  return s
}

const handleOf = (s: PathState, side: "caller" | "provider"): Rpc.Handle | undefined =>
  side === "caller" ? "c/1" : s.legId === undefined ? undefined : `p/${s.legId}`

const onEndpointCommands = (s: PathState, side: "caller" | "provider", commands: ReadonlyArray<Rpc.EndpointCommand>, out: Array<PathCommand>): void => {
  const me = s.apps[side]
  const prefix = side === "caller" ? "c:" : "p:"
  const link: LinkName = side === "caller" ? "c>s" : "p>s"
  for (const c of commands) {
    switch (c._tag) {
      case "Send":
        if (c.frame.t === "call") {
          s.callId = c.frame.id
          s.apps.provider.granted += c.frame.cr ?? 0
        }
        if (c.frame.t === "s.data") me.dataOnWire++
        if (c.frame.t === "s.credit") s.apps[side === "caller" ? "provider" : "caller"].granted += c.frame.n
        s.links[link].push(c.frame)
        break
      case "StreamMessage":
        me.received.push(c.data as number)
        out.push({ _tag: "Delivered", side, value: c.data as number })
        break
      case "StreamEnded":
        me.ended++
        break
      case "Complete":
        s.completions.push(c.outcome)
        out.push({ _tag: "Completed", outcome: c.outcome })
        break
      case "RunHandler":
        s.handlerRuns++
        break
      case "AbortHandler":
        s.handlerAborts++
        break
      case "SetTimer":
        out.push({ _tag: "SetTimer", timer: prefix + c.timer, at: c.at, generation: c.generation })
        break
      case "CancelTimer":
        out.push({ _tag: "CancelTimer", timer: prefix + c.timer })
        break
      default:
        break
    }
  }
}

const runCaller = (s: PathState, e: Rpc.EndpointEvent, out: Array<PathCommand>): ReadonlyArray<Rpc.EndpointCommand> => {
  const [, commands] = Rpc.makeEndpointStep(s.config)(s.caller, e)
  onEndpointCommands(s, "caller", commands, out)
  return commands
}

const runProvider = (s: PathState, e: Rpc.EndpointEvent, out: Array<PathCommand>): ReadonlyArray<Rpc.EndpointCommand> => {
  const [, commands] = Rpc.makeEndpointStep(s.config)(s.provider, e)
  onEndpointCommands(s, "provider", commands, out)
  return commands
}

const runStation = (s: PathState, e: Rpc.DispatcherEvent, out: Array<PathCommand>): void => {
  const [, commands] = Rpc.makeDispatcherStep(s.config)(s.station, e)
  for (const c of commands) {
    switch (c._tag) {
      case "Send":
        if (c.frame.t === "call") s.legId = c.frame.id
        s.links[c.to === callerId ? "s>c" : "s>p"].push(c.frame)
        break
      case "ResetStream":
        s.resets++
        break
      case "SetTimer":
        out.push({ _tag: "SetTimer", timer: `s:${c.timer}`, at: c.at, generation: c.generation })
        break
      case "CancelTimer":
        out.push({ _tag: "CancelTimer", timer: `s:${c.timer}` })
        break
      default:
        break
    }
  }
}

const isStreamFrame = (f: Frame.Frame): f is Rpc.StreamFrame => f.t === "s.data" || f.t === "s.end" || f.t === "s.credit"

const deliver = (s: PathState, link: LinkName, now: number, out: Array<PathCommand>): void => {
  const f = s.links[link].shift()
  if (f === undefined) return
  switch (link) {
    case "c>s":
      if (f.t === "call") return runStation(s, DE.CallReceived({ now, from: callerId, role: "client", frame: f, verdict: { _tag: "Allowed" } }), out)
      if (f.t === "cancel") return runStation(s, DE.CancelReceived({ now, from: callerId, frame: f }), out)
      if (isStreamFrame(f)) return runStation(s, DE.StreamFrameReceived({ now, from: callerId, id: s.callId!, frame: f, on: "up" }), out)
      return
    case "p>s":
      if (f.t === "reply") return runStation(s, DE.ReplyReceived({ now, from: providerId, frame: f }), out)
      if (isStreamFrame(f)) return runStation(s, DE.StreamFrameReceived({ now, from: providerId, id: s.legId!, frame: f, on: "leg" }), out)
      return
    case "s>c":
      if (f.t === "reply") return void runCaller(s, EE.ReplyReceived({ now, frame: f }), out)
      if (isStreamFrame(f)) return void runCaller(s, EE.StreamFrameReceived({ now, handle: "c/1", frame: f }), out)
      return
    case "s>p":
      if (f.t === "call") return void runProvider(s, EE.CallReceived({ now, frame: f }), out)
      if (f.t === "cancel") return void runProvider(s, EE.CancelReceived({ now, id: f.id }), out)
      if (isStreamFrame(f) && s.legId !== undefined) return void runProvider(s, EE.StreamFrameReceived({ now, handle: `p/${s.legId}`, frame: f }), out)
      return
  }
}

/**
 * The path's step. Total: an event that makes no sense now (consuming nothing, sending on a
 * stream that is over) is passed to the cores anyway, which must ignore it.
 */
export const pathStep = (s: PathState, e: PathEvent): readonly [PathState, ReadonlyArray<PathCommand>] => {
  const out: Array<PathCommand> = []
  switch (e._tag) {
    case "Start":
      runCaller(s, EE.Call({
        now: e.now, ref: 1, realm: B.realm, proc: B.proc, args: null, idempotent: false, mode: s.mode, timeoutMs: s.timeoutMs
      }), out)
      break
    case "Send": {
      const handle = handleOf(s, e.side)
      if (handle === undefined) break
      const me = s.apps[e.side]
      const value = me.sent.length
      const run = e.side === "caller" ? runCaller : runProvider
      const streamOf = () =>
        e.side === "caller"
          ? s.caller.calls.get(s.caller.refs.get(1) ?? -1)?.stream
          : s.provider.incoming.get(s.legId ?? -1)?.stream
      const held = (st: Rpc.StreamState | undefined) => st === undefined ? 0 : st.queue.length + st.send.sent
      const before = held(streamOf())
      run(s, EE.StreamSend({ now: e.now, handle, data: value }), out)
      // Taken iff the core now holds one more message (queued or sent); refused or ignored otherwise.
      if (held(streamOf()) === before + 1) {
        me.sent.push(value)
        out.push({ _tag: "Accepted", side: e.side, value })
      }
      break
    }
    case "Consume": {
      const handle = handleOf(s, e.side)
      const me = s.apps[e.side]
      const n = Math.min(e.n, me.received.length - me.consumed)
      if (handle === undefined || n <= 0) break
      me.consumed += n
      ;(e.side === "caller" ? runCaller : runProvider)(s, EE.StreamConsumed({ now: e.now, handle, n }), out)
      break
    }
    case "Close": {
      const handle = handleOf(s, e.side)
      if (handle !== undefined) (e.side === "caller" ? runCaller : runProvider)(s, EE.StreamClose({ now: e.now, handle }), out)
      break
    }
    case "Return":
      if (s.legId === undefined || s.handlerDone) break
      s.handlerDone = true
      runProvider(
        s,
        e.ok
          ? EE.HandlerReturned({ now: e.now, id: s.legId, result: "done" })
          : EE.HandlerFailed({ now: e.now, id: s.legId, message: "failed" }),
        out
      )
      break
    case "Cancel":
      runCaller(s, EE.CancelCall({ now: e.now, ref: 1 }), out)
      break
    case "Deliver":
      deliver(s, e.link, e.now, out)
      break
    case "TimerFired": {
      const timer = e.timer.slice(2)
      if (e.timer.startsWith("c:")) runCaller(s, EE.TimerFired({ now: e.now, timer, generation: e.generation }), out)
      else if (e.timer.startsWith("p:")) runProvider(s, EE.TimerFired({ now: e.now, timer, generation: e.generation }), out)
      else runStation(s, DE.TimerFired({ now: e.now, timer, generation: e.generation }), out)
      break
    }
  }
  return [s, out]
}

/** Messages of one direction now on the wire (data frames queued on its two links). */
export const dataInFlight = (s: PathState, from: "caller" | "provider"): number => {
  const links: ReadonlyArray<LinkName> = from === "caller" ? ["c>s", "s>p"] : ["p>s", "s>c"]
  return links.reduce((n, l) => n + s.links[l].filter((f) => f.t === "s.data").length, 0)
}

/** What must hold after every step, whatever happened. */
export const pathViolations = (s: PathState): Array<string> => {
  const problems: Array<string> = []
  const window = s.config.streamInitialCredit
  for (const side of ["caller", "provider"] as const) {
    const me = s.apps[side]
    const other = s.apps[side === "caller" ? "provider" : "caller"]
    // Credit: never more on the wire, in total, than the receiver granted.
    if (me.dataOnWire > me.granted) problems.push(`${side} put ${me.dataOnWire} messages on the wire with ${me.granted} granted`)
    // Ordering: what arrives is exactly a prefix of what the other side sent.
    if (me.received.some((v, i) => v !== other.sent[i])) problems.push(`${side} received ${me.received} of ${other.sent}`)
    // Bounded buffers: unconsumed messages never exceed the window; nothing in flight beyond it.
    if (me.received.length - me.consumed > window) problems.push(`${side} holds ${me.received.length - me.consumed} unconsumed`)
    if (dataInFlight(s, side) > window) problems.push(`${dataInFlight(s, side)} of ${side}'s messages in flight`)
    if (me.ended > 1) problems.push(`${side} saw the end ${me.ended} times`)
  }
  for (const st of [s.caller, s.provider]) {
    for (const c of st.calls.values()) if ((c.stream?.queue.length ?? 0) > s.config.streamQueueMax) problems.push("caller queue above streamQueueMax")
    for (const c of st.incoming.values()) if ((c.stream?.queue.length ?? 0) > s.config.streamQueueMax) problems.push("provider queue above streamQueueMax")
  }
  if (s.caller.counters.flowViolations + s.provider.counters.flowViolations + s.station.counters.flowViolations > 0 || s.resets > 0) {
    problems.push("a flow-control violation was seen")
  }
  if (s.completions.length > 1) problems.push(`the call completed ${s.completions.length} times`)
  if (s.handlerRuns > 1) problems.push(`the handler ran ${s.handlerRuns} times`)
  return problems
}

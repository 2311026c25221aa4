/**
 * The client side of RPC (PROTOCOL.md §9) as a sans-IO core: `makeEndpointStep(config)`
 * gives `step(state, event) -> [state, commands]`. One core serves both client roles:
 *
 * - **caller**: numbers calls, draws their 16-byte `cid` from the seeded PRNG, sends them with
 *   the whole budget as `ttl`, ends each with exactly one `Complete {ref, outcome}` (a reply,
 *   the caller's own timer as `CallTimeout`, a cancel, or a lost link), never after its
 *   deadline with anything but `CallTimeout`; re-issues idempotent unary calls after a
 *   reconnect with the remaining budget; fails the others with `relay_failed` (the handler may
 *   have run); in direct mode (`via`) sends the call to the serving station on its own
 *   connection, untouched by the home link's fate;
 * - **provider**: keeps its advertisements, asks for provider records naming the current
 *   station to be signed and sent (`adv`), re-puts below quorum after `republishRetryMs` and
 *   renews at `republishFraction` × `providerRecordTtlMs`, withdraws with a `gone` record;
 *   drops an advertisement the station ends after accepting it (an `err` naming its accepted
 *   `adv`, as a revocation does, §13.6) and tells the application (`AdvertiseFailed` after
 *   `Advertised`), except `realm_refused` on a replay, which keeps it for the next station;
 *   admits incoming calls up to `maxHandlerConcurrency` per procedure, runs their handlers with
 *   the call's deadline and answers `reply` (result, `handler_error`, `deadline_exceeded`);
 *   refuses a reused in-flight call id as the station does (`RejectFrame invalid_field`, a minor
 *   `Penalise`, §14 row 9) and, for an advertisement with `req`, any call whose invocation the
 *   actor did not find valid (`unauthorized`, §13.4);
 * - **streams**, both sides: credit windows per direction (§9.5); a message beyond credit is
 *   queued (≤ `streamQueueMax`) until the other side grants more; credit is re-granted as the
 *   application consumes, at the latest at half the window; a half-close (`s.end`) is sent
 *   once, after the queued messages, and the other side's is reported once.
 *
 * Key invariants: one `Complete` per call; never more stream messages sent than granted; every
 * table capped by a knob. State is updated in place, as in `Dispatcher`.
 *
 * It does not sign, hash, hold connections or run handlers.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import * as Prng from "../../core/Prng.ts"
import * as Step from "../../core/Step.ts"
import * as Topic from "../../topic/Topic.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { Config } from "./Config.ts"
import * as Credit from "./Credit.ts"
import type { StreamFrame, Verdict } from "./DispatcherEvent.ts"
import { EndpointCommand as Cmd, EndpointNotice } from "./EndpointCommand.ts"
import type { EndpointCommand, ProviderDraft } from "./EndpointCommand.ts"
import type { EndpointEvent, Handle } from "./EndpointEvent.ts"
import * as Keys from "./Keys.ts"
import { fromError, Outcome } from "./Outcome.ts"

// ---------------------------------------------------------------------------------------------
// State

/**
 * A stream's two windows and the messages waiting for credit.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamState {
  /** What we may send. */
  send: Credit.Window
  /** What we granted and received. */
  recv: Credit.Window
  readonly queue: Array<Frame.Any>
  /** Our `s.end` is queued behind the messages (sent once they are). */
  closing: boolean
  /** We half-closed: nothing more is sent, and `s.end` goes out once. */
  closed: boolean
  /** The other side's `s.end` arrived (reported once; its later messages are ignored). */
  peerEnded: boolean
}

/**
 * A call this client made.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutgoingCall {
  readonly ref: number
  id: number
  readonly frame: Frame.Call
  readonly startedAt: Millis
  readonly deadline: Millis
  /** Sent on the current link. */
  sent: boolean
  readonly stream: StreamState | undefined
  /** Direct mode: the station the call goes to instead of the home station. */
  readonly via: string | undefined
}

/**
 * A call this client's handler serves.
 *
 * @since 0.1.0
 * @category models
 */
export interface IncomingCall {
  readonly id: number
  readonly procKey: string
  readonly mode: Frame.CallMode
  readonly deadline: Millis
  readonly stream: StreamState | undefined
}

/**
 * An advertisement of this client.
 *
 * @since 0.1.0
 * @category models
 */
export interface Advertisement {
  readonly ref: number
  readonly realm: Frame.Bin32
  readonly proc: string
  readonly modes: ReadonlyArray<Frame.CallMode>
  readonly req: boolean
  seq: number
  /** The station acknowledged it at least once. */
  confirmed: boolean
  /**
   * Id of the `adv` the current station last accepted: the id its `err` names when it ends the
   * advertisement later (§13.6).
   */
  acceptedId: number | undefined
}

/**
 * Counters the actor turns into metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface EndpointCounters {
  calls: number
  completed: number
  timeouts: number
  reissued: number
  handled: number
  overloaded: number
  flowViolations: number
  unknownReplies: number
  ignored: number
  staleTimers: number
}

/**
 * The endpoint's state (mutable, owned by one actor).
 *
 * @since 0.1.0
 * @category models
 */
export interface EndpointState {
  station: string | undefined
  /** wall − now, from the latest event that carried both; signs records from timers. */
  wallOffset: number
  readonly calls: Map<number, OutgoingCall>
  readonly refs: Map<number, number>
  readonly incoming: Map<number, IncomingCall>
  readonly running: Map<string, number>
  readonly ads: Map<string, Advertisement>
  readonly requests: Map<number, { readonly kind: "adv" | "unadv"; readonly key: string; readonly ref: number }>
  /** Accepted `adv` id → advertisement key (one per advertisement: its `acceptedId`). */
  readonly accepted: Map<number, string>
  readonly timers: Keys.Timers
  prng: Prng.Prng
  nextId: number
  readonly counters: EndpointCounters
}

/**
 * A fresh endpoint state; `seed` drives the call ids (`cid`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const initialEndpoint = (init: { readonly seed: number }): EndpointState => ({
  station: undefined,
  wallOffset: 0,
  calls: new Map(),
  refs: new Map(),
  incoming: new Map(),
  running: new Map(),
  ads: new Map(),
  requests: new Map(),
  accepted: new Map(),
  timers: Keys.timers(),
  prng: Prng.fromSeed(init.seed),
  nextId: 1,
  counters: {
    calls: 0,
    completed: 0,
    timeouts: 0,
    reissued: 0,
    handled: 0,
    overloaded: 0,
    flowViolations: 0,
    unknownReplies: 0,
    ignored: 0,
    staleTimers: 0
  }
})

// ---------------------------------------------------------------------------------------------
// Step

interface Turn {
  readonly config: Config
  readonly now: Millis
  readonly out: Array<EndpointCommand>
}

type S = EndpointState

/**
 * Builds the endpoint's step function for `config`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEndpointStep = (config: Config): Step.Step<S, EndpointEvent, EndpointCommand> => (state, event) => {
  const t: Turn = { config, now: event.now, out: [] }
  switch (event._tag) {
    case "LinkUp":
      state.wallOffset = event.wall - event.now
      linkUp(t, state, event.station)
      break
    case "LinkDown":
      linkDown(t, state)
      break
    case "Call":
      call(t, state, event)
      break
    case "CancelCall":
      cancelCall(t, state, event.ref)
      break
    case "DirectLinkLost":
      for (const c of Array.from(state.calls.values())) {
        if (c.via === event.station) complete(t, state, c, Outcome.RemoteError({ code: "relay_failed", message: "link lost" }))
      }
      break
    case "StreamSend":
      streamSend(t, state, event.handle, event.data)
      break
    case "StreamClose":
      streamClose(t, state, event.handle)
      break
    case "StreamConsumed":
      streamConsumed(t, state, event.handle, event.n)
      break
    case "ReplyReceived":
      onReply(t, state, event.frame)
      break
    case "AnswerReceived":
      onAnswer(t, state, event.frame)
      break
    case "CallReceived":
      onIncoming(t, state, event.frame, event.verdict)
      break
    case "CancelReceived":
      onIncomingCancel(t, state, event.id)
      break
    case "StreamFrameReceived":
      onStreamFrame(t, state, event.handle, event.frame)
      break
    case "HandlerReturned":
      handlerDone(t, state, event.id, { r: event.result })
      break
    case "HandlerFailed": {
      const e: Frame.CallError = {
        c: "handler_error",
        ...(event.message === undefined ? {} : { m: event.message.slice(0, 256) }),
        ...(event.data === undefined ? {} : { d: event.data })
      }
      handlerDone(t, state, event.id, { e })
      break
    }
    case "Advertise":
      state.wallOffset = event.wall - event.now
      advertise(t, state, event.ref, event.realm, event.proc, event.modes, event.req)
      break
    case "Unadvertise":
      state.wallOffset = event.wall - event.now
      unadvertise(t, state, event.ref, event.realm, event.proc)
      break
    case "TimerFired":
      if (Keys.fire(state.timers, event.timer, event.generation)) onTimer(t, state, event.timer)
      else state.counters.staleTimers++
      break
    case "ResyncReceived":
      // §15.2: the station's provider table is soft state; replay as after a (re)attachment,
      // advertisements only (calls in flight are the station's to fail or retry).
      state.wallOffset = event.wall - event.now
      if (event.what.includes("adv") && state.station !== undefined) {
        for (const [key, ad] of state.ads) sendAdvertisement(t, state, key, ad, false)
      }
      break
  }
  return Step.next(state, t.out)
}

const setTimer = (t: Turn, s: S, timer: string, at: Millis): void => {
  t.out.push(Cmd.SetTimer({ timer, at, generation: Keys.arm(s.timers, timer) }))
}

const cancelTimer = (t: Turn, s: S, timer: string): void => {
  if (Keys.disarm(s.timers, timer)) t.out.push(Cmd.CancelTimer({ timer }))
}

const procKeyOf = (realm: Uint8Array, proc: string): string => `${Keys.hex(realm)}|${proc}`

const procProblem = (proc: string): string | undefined => {
  if (Topic.isPattern(proc) || Topic.isSystem(proc)) return "invalid_structure"
  try {
    Topic.validate(proc)
    return undefined
  } catch (e) {
    return typeof e === "object" && e !== null && "reason" in e ? String(e.reason) : "invalid_structure"
  }
}

const openStream = (sendInitial: number, recvInitial: number): StreamState => ({
  send: Credit.open(sendInitial),
  recv: Credit.open(recvInitial),
  queue: [],
  closing: false,
  closed: false,
  peerEnded: false
})

// ---------------------------------------------------------------------------------------------
// Caller

const complete = (t: Turn, s: S, c: OutgoingCall, result: Outcome): void => {
  // At or past the deadline a call can only have timed out (or been cancelled by the application).
  const outcome = t.now >= c.deadline && result._tag !== "Cancelled" && result._tag !== "CallTimeout"
    ? Outcome.CallTimeout({ afterMs: t.now - c.startedAt })
    : result
  s.calls.delete(c.id)
  s.refs.delete(c.ref)
  cancelTimer(t, s, `call/${c.ref}`)
  s.counters.completed++
  t.out.push(Cmd.Complete({ ref: c.ref, outcome }))
}

const call = (t: Turn, s: S, e: Extract<EndpointEvent, { _tag: "Call" }>): void => {
  const fail = (outcome: Outcome): void => void t.out.push(Cmd.Complete({ ref: e.ref, outcome }))
  s.counters.calls++
  if (s.refs.has(e.ref)) return fail(Outcome.RemoteError({ code: "bad_request", message: "duplicate_ref" }))
  const problem = procProblem(e.proc)
  if (problem !== undefined) return fail(Outcome.RemoteError({ code: "bad_request", message: `invalid_topic:${problem}` }))
  if (s.calls.size >= t.config.maxInFlightCallsPerConn) {
    s.counters.overloaded++
    return fail(Outcome.RemoteError({ code: "overloaded" }))
  }
  const timeout = Math.min(t.config.maxCallTtlMs, Math.max(1, Math.floor(e.timeoutMs ?? t.config.callTimeoutMs)))
  const mode: Frame.CallMode = e.mode ?? "unary"
  const cid = new Uint8Array(16)
  for (let i = 0; i < 16; i += 4) {
    const [u, next] = Prng.nextU32(s.prng)
    s.prng = next
    cid[i] = u >>> 24
    cid[i + 1] = (u >>> 16) & 0xff
    cid[i + 2] = (u >>> 8) & 0xff
    cid[i + 3] = u & 0xff
  }
  const id = s.nextId++
  const frame: Frame.Call = {
    t: "call",
    id,
    cid,
    realm: e.realm,
    proc: e.proc,
    a: e.args,
    ttl: timeout,
    idem: e.idempotent,
    hop: 0,
    ...(mode === "unary" ? {} : { mode, cr: t.config.streamInitialCredit }),
    ...(e.to === undefined ? {} : { to: e.to }),
    ...(e.ucan === undefined ? {} : { ucan: e.ucan })
  }
  const c: OutgoingCall = {
    ref: e.ref,
    id,
    frame,
    startedAt: t.now,
    deadline: t.now + timeout,
    sent: false,
    stream: mode === "unary" ? undefined : openStream(0, t.config.streamInitialCredit),
    via: e.via
  }
  s.calls.set(id, c)
  s.refs.set(e.ref, id)
  setTimer(t, s, `call/${e.ref}`, c.deadline)
  if (s.station !== undefined || c.via !== undefined) sendCall(t, c)
}

const handleOf = (c: OutgoingCall): Handle => `c/${c.ref}`

const sendCall = (t: Turn, c: OutgoingCall): void => {
  c.sent = true
  const frame: Frame.Call = { ...c.frame, id: c.id, ttl: Math.max(1, c.deadline - t.now) }
  t.out.push(Cmd.Send({ frame, ...(c.stream === undefined ? {} : { stream: handleOf(c) }), ...(c.via === undefined ? {} : { via: c.via }) }))
}

/** `cancel` of one of our calls, on its stream or on the lane it went out on. */
const sendCancel = (t: Turn, c: OutgoingCall): void => {
  const frame: Frame.Cancel = { t: "cancel", id: c.id }
  t.out.push(Cmd.Send({ frame, ...(c.stream === undefined ? {} : { stream: handleOf(c) }), ...(c.via === undefined ? {} : { via: c.via }) }))
}

const cancelCall = (t: Turn, s: S, ref: number): void => {
  const id = s.refs.get(ref)
  const c = id === undefined ? undefined : s.calls.get(id)
  if (c === undefined) return void s.counters.ignored++
  if (c.sent) sendCancel(t, c)
  complete(t, s, c, Outcome.Cancelled())
}

const onReply = (t: Turn, s: S, f: Frame.Reply): void => {
  const c = s.calls.get(f.id)
  if (c === undefined || !c.sent) return void s.counters.unknownReplies++ // §14 row 10
  if (t.now >= c.deadline) {
    s.counters.timeouts++
    return complete(t, s, c, Outcome.CallTimeout({ afterMs: t.now - c.startedAt }))
  }
  complete(t, s, c, f.e === undefined ? Outcome.Ok({ result: f.r ?? null }) : fromError(f.e, t.now - c.startedAt))
}

const linkUp = (t: Turn, s: S, station: string): void => {
  s.station = station
  // Advertisements first, re-signed to name this station (§1 client links), then unsent calls.
  for (const [key, ad] of s.ads) sendAdvertisement(t, s, key, ad, false)
  for (const c of Array.from(s.calls.values())) {
    if (c.sent || c.via !== undefined) continue
    if (c.deadline - t.now <= t.config.ttlHopMarginMs) {
      s.counters.timeouts++
      complete(t, s, c, Outcome.CallTimeout({ afterMs: t.now - c.startedAt }))
      continue
    }
    // A fresh id on the new lane; the old one may still be answered on a dying connection.
    s.calls.delete(c.id)
    c.id = s.nextId++
    s.calls.set(c.id, c)
    s.refs.set(c.ref, c.id)
    s.counters.reissued++
    sendCall(t, c)
  }
}

const linkDown = (t: Turn, s: S): void => {
  s.station = undefined
  // Accepted ids belong to the lost station: the next one names the replayed `adv`s.
  s.accepted.clear()
  for (const ad of s.ads.values()) ad.acceptedId = undefined
  for (const c of Array.from(s.calls.values())) {
    if (!c.sent || c.via !== undefined) continue // direct calls ride their own connection
    if (c.frame.idem && c.stream === undefined) c.sent = false // §9.3: re-issued after reconnect
    else complete(t, s, c, Outcome.RemoteError({ code: "relay_failed", message: "link lost" }))
  }
  // The station answers our callers `relay_failed`; our handlers stop.
  for (const inc of Array.from(s.incoming.values())) {
    t.out.push(Cmd.AbortHandler({ id: inc.id }))
    forgetIncoming(t, s, inc)
  }
  for (const [id, r] of s.requests) {
    s.requests.delete(id)
    // The station forgets a disconnected provider at once (§9.1): a pending withdrawal is done.
    if (r.kind === "unadv") t.out.push(Cmd.Notify({ notice: EndpointNotice.Unadvertised({ ref: r.ref }) }))
  }
}

// ---------------------------------------------------------------------------------------------
// Provider

const forgetIncoming = (t: Turn, s: S, inc: IncomingCall): void => {
  if (!s.incoming.delete(inc.id)) return
  cancelTimer(t, s, `handler/${inc.id}`)
  const n = (s.running.get(inc.procKey) ?? 1) - 1
  if (n <= 0) s.running.delete(inc.procKey)
  else s.running.set(inc.procKey, n)
}

const replyIncoming = (t: Turn, id: number, streaming: boolean, body: { readonly r?: Frame.Any; readonly e?: Frame.CallError }): void => {
  const frame: Frame.Reply = body.e !== undefined ? { t: "reply", id, e: body.e } : { t: "reply", id, r: body.r ?? null }
  t.out.push(streaming ? Cmd.Send({ frame, stream: `p/${id}` }) : Cmd.Send({ frame }))
}

const onIncoming = (t: Turn, s: S, f: Frame.Call, verdict: Verdict | undefined): void => {
  const mode: Frame.CallMode = f.mode ?? "unary"
  const streaming = mode !== "unary"
  if (s.incoming.has(f.id)) {
    // §14 row 9, as the station does: a reused in-flight id is `invalid_field`; the stream it
    // came on is reset and the station penalised (minor); the call in flight under it goes on.
    s.counters.ignored++
    t.out.push(Cmd.RejectFrame({ code: "invalid_field", reason: "call_id_reused" }))
    return void t.out.push(Cmd.Penalise({ severity: "minor", reason: "call_id_reused" }))
  }
  const procKey = procKeyOf(f.realm, f.proc)
  const ad = s.ads.get(procKey)
  const refuse = (c: Frame.RpcErrorCode, m?: string): void =>
    replyIncoming(t, f.id, streaming, { e: m === undefined ? { c } : { c, m } })
  if (ad === undefined) return refuse("provider_gone")
  if (ad.modes.length > 0 && !ad.modes.includes(mode)) return refuse("bad_request")
  // §13.4: a provider advertised with `req` serves only calls with a valid invocation for it.
  if (ad.req && f.ucan === undefined) return refuse("unauthorized", "UnavailableProof")
  if (ad.req && verdict?._tag !== "Allowed") {
    return refuse("unauthorized", verdict?._tag === "Denied" ? verdict.reason : "UnavailableProof")
  }
  if (f.ttl === 0) return refuse("deadline_exceeded")
  if ((s.running.get(procKey) ?? 0) >= t.config.maxHandlerConcurrency || s.incoming.size >= t.config.maxInFlightCallsPerConn) {
    s.counters.overloaded++
    return refuse("overloaded")
  }
  const grant = mode === "server" ? 0 : t.config.streamInitialCredit
  const inc: IncomingCall = {
    id: f.id,
    procKey,
    mode,
    deadline: t.now + f.ttl,
    stream: streaming ? openStream(f.cr ?? t.config.streamInitialCredit, grant) : undefined
  }
  s.incoming.set(f.id, inc)
  s.running.set(procKey, (s.running.get(procKey) ?? 0) + 1)
  setTimer(t, s, `handler/${f.id}`, inc.deadline)
  // §9.5: the provider's first frame on the stream grants the caller's messages.
  if (streaming) t.out.push(Cmd.Send({ frame: { t: "s.credit", n: grant }, stream: `p/${f.id}` }))
  t.out.push(
    Cmd.RunHandler({
      id: f.id,
      handle: `p/${f.id}`,
      proc: f.proc,
      args: f.a,
      mode,
      deadline: inc.deadline,
      ...(f.from === undefined ? {} : { from: f.from })
    })
  )
}

const handlerDone = (t: Turn, s: S, id: number, body: { readonly r?: Frame.Any; readonly e?: Frame.CallError }): void => {
  const inc = s.incoming.get(id)
  if (inc === undefined) return void s.counters.ignored++ // cancelled or timed out meanwhile
  s.counters.handled++
  forgetIncoming(t, s, inc)
  replyIncoming(t, id, inc.stream !== undefined, body)
}

const onIncomingCancel = (t: Turn, s: S, id: number): void => {
  const inc = s.incoming.get(id)
  if (inc === undefined) return void s.counters.ignored++
  t.out.push(Cmd.AbortHandler({ id }))
  forgetIncoming(t, s, inc)
}

const draftOf = (t: Turn, s: S, ad: Advertisement, gone: boolean): ProviderDraft | undefined => {
  const st = s.station === undefined ? undefined : Keys.unhex(s.station)
  if (st === undefined) return undefined
  const wall = Math.floor(t.now + s.wallOffset)
  // `seq` strictly increases per (key, signer); signing time in ms will do unless clocks step back.
  ad.seq = Math.max(ad.seq + 1, wall)
  return {
    realm: ad.realm,
    proc: ad.proc,
    st,
    modes: ad.modes,
    req: ad.req,
    gone,
    seq: ad.seq,
    iat: wall,
    exp: wall + (gone ? t.config.withdrawalTtlMs : t.config.providerRecordTtlMs)
  }
}

const sendAdvertisement = (t: Turn, s: S, key: string, ad: Advertisement, gone: boolean): void => {
  const draft = draftOf(t, s, ad, gone)
  if (draft === undefined) return
  const id = s.nextId++
  s.requests.set(id, { kind: gone ? "unadv" : "adv", key, ref: ad.ref })
  t.out.push(Cmd.SignAdvertisement({ id, draft }))
}

const advertise = (
  t: Turn,
  s: S,
  ref: number,
  realm: Frame.Bin32,
  proc: string,
  modes: ReadonlyArray<Frame.CallMode>,
  req: boolean
): void => {
  const fail = (code: string, reason?: string): void =>
    void t.out.push(
      Cmd.Notify({
        notice: reason === undefined ? EndpointNotice.AdvertiseFailed({ ref, code }) : EndpointNotice.AdvertiseFailed({ ref, code, reason })
      })
    )
  const problem = procProblem(proc)
  if (problem !== undefined) return fail("invalid_topic", problem)
  const key = procKeyOf(realm, proc)
  if (s.ads.has(key)) return fail("bad_request", "already_advertised")
  if (s.ads.size >= t.config.maxAdvertisements) return fail("overloaded")
  const ad: Advertisement = { ref, realm, proc, modes, req, seq: 0, confirmed: false, acceptedId: undefined }
  s.ads.set(key, ad)
  sendAdvertisement(t, s, key, ad, false)
}

const unadvertise = (t: Turn, s: S, ref: number, realm: Frame.Bin32, proc: string): void => {
  const key = procKeyOf(realm, proc)
  const ad = s.ads.get(key)
  if (ad === undefined) return void t.out.push(Cmd.Notify({ notice: EndpointNotice.Unadvertised({ ref }) }))
  forgetAd(t, s, key, ad)
  if (s.station === undefined) {
    // Nothing to withdraw through: the station dropped us with the link.
    return void t.out.push(Cmd.Notify({ notice: EndpointNotice.Unadvertised({ ref }) }))
  }
  const draft = draftOf(t, s, ad, true)!
  const id = s.nextId++
  s.requests.set(id, { kind: "unadv", key, ref })
  t.out.push(Cmd.SignAdvertisement({ id, draft }))
}

/** Forgets an advertisement: its entry, its renewal timer, its accepted id. */
const forgetAd = (t: Turn, s: S, key: string, ad: Advertisement): void => {
  s.ads.delete(key)
  cancelTimer(t, s, `republish/${key}`)
  if (ad.acceptedId !== undefined) s.accepted.delete(ad.acceptedId)
}

/** The station refused or ended `ad`: it is gone here too (never replayed), and the application hears. */
const endAd = (t: Turn, s: S, key: string, ad: Advertisement, f: Frame.Err): void => {
  forgetAd(t, s, key, ad)
  t.out.push(
    Cmd.Notify({
      notice: f.r === undefined
        ? EndpointNotice.AdvertiseFailed({ ref: ad.ref, code: f.c })
        : EndpointNotice.AdvertiseFailed({ ref: ad.ref, code: f.c, reason: f.r })
    })
  )
}

const onAnswer = (t: Turn, s: S, f: Frame.Ok | Frame.Err): void => {
  const r = f.id === undefined ? undefined : s.requests.get(f.id)
  if (r === undefined || f.id === undefined) {
    // An `err` naming an `adv` the station accepted earlier: it ended that advertisement (§13.6).
    const key = f.t === "err" && f.id !== undefined ? s.accepted.get(f.id) : undefined
    const ad = key === undefined ? undefined : s.ads.get(key)
    if (f.t === "err" && key !== undefined && ad !== undefined && ad.acceptedId === f.id) return endAd(t, s, key, ad, f)
    return void s.counters.unknownReplies++
  }
  s.requests.delete(f.id)
  if (r.kind === "unadv") return void t.out.push(Cmd.Notify({ notice: EndpointNotice.Unadvertised({ ref: r.ref }) }))
  const ad = s.ads.get(r.key)
  if (ad === undefined || ad.ref !== r.ref) return
  if (f.t === "err") {
    // A replay refused because this station does not serve the realm: the advertisement stays
    // for the next station (the link moves on, §1 client links); nothing is renewed here.
    if (ad.confirmed && f.c === "realm_refused") {
      s.counters.ignored++
      return cancelTimer(t, s, `republish/${r.key}`)
    }
    return endAd(t, s, r.key, ad, f)
  }
  if (ad.acceptedId !== undefined) s.accepted.delete(ad.acceptedId)
  ad.acceptedId = f.id
  s.accepted.set(f.id, r.key)
  const acks = f.n ?? 0
  if (!ad.confirmed) {
    ad.confirmed = true
    t.out.push(Cmd.Notify({ notice: EndpointNotice.Advertised({ ref: r.ref, acks }) }))
  }
  // Below quorum the registration stands and the record is re-put soon; otherwise renewed in time.
  const wait = acks < t.config.storeQuorum
    ? t.config.republishRetryMs
    : Math.floor(t.config.republishFraction * t.config.providerRecordTtlMs)
  setTimer(t, s, `republish/${r.key}`, t.now + wait)
}

// ---------------------------------------------------------------------------------------------
// Streams (§9.5)

const streamOf = (s: S, handle: Handle): { readonly st: StreamState; readonly to: Handle } | undefined => {
  const n = Number(handle.slice(2))
  if (handle.startsWith("c/")) {
    const id = s.refs.get(n)
    const c = id === undefined ? undefined : s.calls.get(id)
    return c?.stream === undefined || !c.sent ? undefined : { st: c.stream, to: handle }
  }
  const inc = s.incoming.get(n)
  return inc?.stream === undefined ? undefined : { st: inc.stream, to: handle }
}

/** Sends queued messages while credit lasts, then a pending `s.end`. */
const flush = (t: Turn, st: StreamState, handle: Handle): void => {
  while (st.queue.length > 0) {
    const after = Credit.take(st.send)
    if (after === undefined) return
    const q = st.send.sent
    st.send = after
    t.out.push(Cmd.Send({ frame: { t: "s.data", q, d: st.queue.shift()! }, stream: handle }))
  }
  if (st.closing) {
    st.closing = false
    t.out.push(Cmd.Send({ frame: { t: "s.end" }, stream: handle }))
  }
}

const streamSend = (t: Turn, s: S, handle: Handle, data: Frame.Any): void => {
  const found = streamOf(s, handle)
  if (found === undefined || found.st.closed) return void s.counters.ignored++
  if (found.st.queue.length >= t.config.streamQueueMax) {
    return void t.out.push(Cmd.Notify({ notice: EndpointNotice.StreamRefused({ handle }) }))
  }
  found.st.queue.push(data)
  flush(t, found.st, handle)
}

const streamClose = (t: Turn, s: S, handle: Handle): void => {
  const found = streamOf(s, handle)
  if (found === undefined || found.st.closed) return void s.counters.ignored++
  found.st.closed = true
  found.st.closing = true
  flush(t, found.st, handle)
}

const streamConsumed = (t: Turn, s: S, handle: Handle, n: number): void => {
  const found = streamOf(s, handle)
  if (found === undefined) return void s.counters.ignored++
  const [recv, more] = Credit.consume(found.st.recv, n, t.config.streamInitialCredit)
  found.st.recv = recv
  if (more > 0) t.out.push(Cmd.Send({ frame: { t: "s.credit", n: more }, stream: handle }))
}

const onStreamFrame = (t: Turn, s: S, handle: Handle, f: StreamFrame): void => {
  const found = streamOf(s, handle)
  if (found === undefined) return void s.counters.ignored++
  const st = found.st
  if (f.t === "s.credit") {
    st.send = Credit.grant(st.send, f.n)
    return flush(t, st, handle)
  }
  if (st.peerEnded) return void s.counters.ignored++ // nothing follows an end
  if (f.t === "s.end") {
    st.peerEnded = true
    return void t.out.push(Cmd.StreamEnded({ handle }))
  }
  const after = Credit.take(st.recv)
  if (after === undefined) return flowViolation(t, s, handle)
  st.recv = after
  t.out.push(Cmd.StreamMessage({ handle, data: f.d }))
}

/** The other side sent beyond its credit: end the call on our side (§14 row 25). */
const flowViolation = (t: Turn, s: S, handle: Handle): void => {
  s.counters.flowViolations++
  const n = Number(handle.slice(2))
  if (handle.startsWith("c/")) {
    const id = s.refs.get(n)
    const c = id === undefined ? undefined : s.calls.get(id)
    if (c === undefined) return
    sendCancel(t, c)
    return complete(t, s, c, Outcome.RemoteError({ code: "relay_failed", message: "flow_control" }))
  }
  const inc = s.incoming.get(n)
  if (inc === undefined) return
  t.out.push(Cmd.AbortHandler({ id: n }))
  forgetIncoming(t, s, inc)
  replyIncoming(t, n, true, { e: { c: "bad_request", m: "flow_control" } })
}

// ---------------------------------------------------------------------------------------------
// Timers

const onTimer = (t: Turn, s: S, timer: string): void => {
  const slash = timer.indexOf("/")
  const kind = timer.slice(0, slash)
  const rest = timer.slice(slash + 1)
  if (kind === "call") {
    const id = s.refs.get(Number(rest))
    const c = id === undefined ? undefined : s.calls.get(id)
    if (c === undefined) return
    s.counters.timeouts++
    if (c.sent) sendCancel(t, c)
    return complete(t, s, c, Outcome.CallTimeout({ afterMs: t.now - c.startedAt }))
  }
  if (kind === "handler") {
    const inc = s.incoming.get(Number(rest))
    if (inc === undefined) return
    t.out.push(Cmd.AbortHandler({ id: inc.id }))
    forgetIncoming(t, s, inc)
    return replyIncoming(t, inc.id, inc.stream !== undefined, { e: { c: "deadline_exceeded" } })
  }
  if (kind === "republish") {
    const ad = s.ads.get(rest)
    if (ad !== undefined && s.station !== undefined) sendAdvertisement(t, s, rest, ad, false)
  }
}

/**
 * Live counts, for tests and the bounded-memory checks.
 *
 * @since 0.1.0
 * @category getters
 */
export const endpointSizes = (s: EndpointState): {
  readonly calls: number
  readonly incoming: number
  readonly ads: number
  readonly timers: number
} => ({ calls: s.calls.size, incoming: s.incoming.size, ads: s.ads.size, timers: s.timers.armed.size })

/**
 * A client's RPC endpoint (PROTOCOL.md §9): drives the `Rpc` endpoint core over the client's
 * current home-station connection, as caller and as provider.
 *
 * The station link is the node's: `station` is read every `linkCheckMs` and when the current
 * connection closes. `LinkUp` makes the core re-sign every advertisement for the new station
 * and send the calls waiting for a link; `LinkDown` parks idempotent calls for the next link
 * and fails the others with `relay_failed` (§9.3).
 *
 * What it owns: the core's state, its timers, the ordered outbox of the current link (this
 * side's `rpc` lane), and one fiber per running handler (`AbortHandler` interrupts it, which
 * aborts the `AbortSignal` a Promise handler was given).
 *
 * The application's side lives in the supervisor's `Registry`: handlers and advertisements
 * survive a restart of this actor, which advertises them again into its fresh core; calls in
 * flight at a crash are reported failed (`relay_failed`: the handler may have run).
 *
 * Provider records are built and signed here (`SignAdvertisement`): the key is derived as the
 * DHT requires (§10.3) and the record names the current station.
 *
 * Streaming calls (§9.5): a call of ours with a streaming `mode` opens its own call stream on
 * the home link (`openCallStream`); a streaming call for our handlers arrives on a stream the
 * station opened. Each stream has an ordered outbox (the `call` that opens it first); after the
 * stream's last frame (`reply` or `cancel` sent or received) this side finishes it. Messages
 * reach the application through the registry's `stream` port, which reports what it consumed
 * (credit is re-granted from that) and learns when each of its messages left within credit.
 *
 * Direct mode (§9.2): a call with `direct` (a station's address) waits for the injected `dial`
 * (bounded by the call's budget), then goes to the core with `via` = that station; its frames
 * travel on that connection's rpc lane or a call stream opened on it, and only the answers to
 * direct calls are taken from it. Its loss is `DirectLinkLost`. A call with `pin` names its
 * provider (`to`) and may carry an invocation for it (`ucan`, §9.2 `req: true` providers).
 *
 * Invocations for our own `req` advertisements (§13.4): a call carrying `ucan` is checked by
 * the injected `checkInvocation` before the core sees it, with the verdict as input. A reused
 * in-flight call id from the station (§14 row 9) resets the stream it came on and costs the
 * station a minor penalty (`RejectFrame`, `Penalise`).
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Did from "../src/identity/Did.ts"
import type { CallStream, Handle, Inbound, Lane } from "../src/platform/transport/ConnectionHandle.ts"
import * as Records from "../src/protocols/dht/Records.ts"
import { hex } from "../src/protocols/rpc/Keys.ts"
import { Rpc } from "../src/protocols/rpc/index.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as Commands from "../src/runtime/Commands.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
import * as Outboxes from "../src/runtime/Outboxes.ts"
import type * as Frame from "../src/wire/Frame.ts"
import * as Signed from "../src/wire/Signed.ts"
import type { ProviderRecordBody } from "../src/wire/SignedBody.ts"

/**
 * What a handler is given besides its arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface HandlerContext {
  /** The caller's DID, when the station named it. */
  readonly caller: string | undefined
  /** The procedure called. */
  readonly procedure: string
  /** The call's mode; streaming handlers use `handle` with the registry's `stream` port. */
  readonly mode: Frame.CallMode
  /** The call stream's name (`p/<id>`), for `StreamSend` / `StreamClose` / `StreamConsumed`. */
  readonly handle: Rpc.Handle
}

/**
 * A procedure's handler; interruption is how it is aborted (deadline, cancel, lost link).
 * A failure is answered `handler_error` with its `message` (and `data` when it has one).
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (args: Frame.Any, ctx: HandlerContext) => Effect.Effect<Frame.Any, unknown>

/**
 * One advertisement the application holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Advertisement {
  readonly ref: number
  readonly realm: Frame.Bin32
  readonly proc: string
  /** Modes served. @default ["unary"] */
  readonly modes?: ReadonlyArray<Frame.CallMode>
  /** Callers must present an invocation for this provider (§10.3 `req`, §13.4). @default false */
  readonly req?: boolean
}

/**
 * Where stream messages of the application's calls and handlers go (§9.5).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamPort {
  /** One message arrived on `handle`'s stream; report its consumption with `StreamConsumed`. */
  readonly message: (handle: Rpc.Handle, data: Frame.Any) => void
  /** The other side half-closed `handle`'s stream. */
  readonly ended: (handle: Rpc.Handle) => void
  /** One of our messages on `handle` left within credit (in the order they were given). */
  readonly sent: (handle: Rpc.Handle) => void
}

/**
 * The application's side of the endpoint, held by the supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registry {
  readonly advertisements: () => Iterable<Advertisement>
  readonly handlerOf: (proc: string) => Handler | undefined
  /** Call `ref` ended (exactly once per call). */
  readonly complete: (ref: number, outcome: Rpc.Outcome) => void
  readonly notify: (notice: Rpc.EndpointNotice) => void
  /** Called at each start; `restart` after a crash (calls in flight are lost). */
  readonly started: (restart: boolean) => void
  /** Streaming calls; without it stream messages are dropped and counted. */
  readonly stream?: StreamPort
}

/**
 * The client's capability port for one station connection (PROTOCOL.md §13.4; the node's
 * `ClientCapabilities`): adds `au` to a gated frame (`adv`, `call`) when this connection must
 * still present it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Presenter {
  /** `frame`, with `au` when needed. */
  readonly attach: (frame: Frame.Frame, nowMs: number) => Frame.Frame
  /** The station answered frame `id`; a refusal makes the next frame of its scope present again. */
  readonly answered: (id: number, refused: boolean) => void
}

/**
 * What the endpoint is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly identity: { readonly publicKey: Uint8Array; readonly sign: (message: Uint8Array) => Uint8Array }
  readonly config: Rpc.Config
  readonly station: () => Effect.Effect<Handle | undefined>
  readonly registry: Registry
  /** @default the platform's SHA-256 */
  readonly sha256?: (bytes: Uint8Array) => Uint8Array
  /** @default 100 */
  readonly linkCheckMs?: number
  /** PRNG seed of the core (call ids). @default drawn at each start */
  readonly seed?: number
  /**
   * The verdict on a call's `ucan` for one of our `req` advertisements (§13.4: audience = this
   * node, issuer = the caller `from`). @default none: every `req` call is refused `unauthorized`
   */
  readonly checkInvocation?: (frame: Frame.Call) => Rpc.Verdict
  /** Given a station's DID, the presenter of a new connection to it. @default none: no `au` */
  readonly capabilities?: (station: string) => Presenter
  /**
   * Direct mode (§9.2): a ready connection to the station at `address` (`quic://…#did:key:…`),
   * dialled if needed. Without it a direct call fails `relay_failed`.
   */
  readonly dial?: (address: string) => Effect.Effect<Handle, unknown>
}

/**
 * The endpoint's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Inbound"; readonly inbound: Inbound }
  | { readonly _tag: "TimerFired"; readonly timer: string; readonly generation: number; readonly now: number }
  | {
    readonly _tag: "Call"
    readonly ref: number
    readonly realm: Frame.Bin32
    readonly proc: string
    readonly args: Frame.Any
    readonly timeoutMs: number | undefined
    readonly idempotent: boolean
    /** @default "unary" */
    readonly mode?: Frame.CallMode
    /** Direct mode (§9.2): the address of the station to send the call to instead of the home station. */
    readonly direct?: string
    /** The provider to pin (`to`) and, for a `req: true` one, the invocation for it (`ucan`). */
    readonly pin?: { readonly to: Frame.Bin32; readonly ucan?: Frame.Authority }
  }
  | { readonly _tag: "DirectReady"; readonly call: Extract<Msg, { _tag: "Call" }>; readonly handle: Handle }
  | { readonly _tag: "DirectLost"; readonly station: string; readonly connectionId: string }
  | { readonly _tag: "StreamSend"; readonly handle: Rpc.Handle; readonly data: Frame.Any }
  | { readonly _tag: "StreamClose"; readonly handle: Rpc.Handle }
  | { readonly _tag: "StreamConsumed"; readonly handle: Rpc.Handle; readonly n: number }
  | { readonly _tag: "StreamOpenFailed"; readonly handle: Rpc.Handle; readonly id: number; readonly detail: string }
  | { readonly _tag: "StreamReset"; readonly connectionId: string; readonly stream: number; readonly code: string }
  | { readonly _tag: "CancelCall"; readonly ref: number }
  | { readonly _tag: "Advertise"; readonly advertisement: Advertisement }
  | { readonly _tag: "Unadvertise"; readonly advertisement: Advertisement }
  | { readonly _tag: "HandlerDone"; readonly id: number; readonly exit: Exit.Exit<Frame.Any, unknown> }
  | { readonly _tag: "CheckLink" }
  | { readonly _tag: "Stats"; readonly reply: Actor.Reply<Stats> }

/**
 * Counters, for tests and status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly counters: Rpc.EndpointCounters
  readonly sizes: ReturnType<typeof Rpc.endpointSizes>
  readonly linked: boolean
  readonly linkUps: number
  readonly handlersRun: number
  readonly streamFramesDropped: number
  /** Call streams held now (ours and our handlers'); 0 once every call is over. */
  readonly streams: number
}

const platformSha256 = (bytes: Uint8Array): Uint8Array => Uint8Array.from(createHash("sha256").update(bytes).digest())

/** Frames queued before `flush` starts the drainer even while messages still wait. */
const flushEvery = 64

const failureOf = (error: unknown): { message?: string; data?: Frame.Any } => {
  if (typeof error === "object" && error !== null) {
    const out: { message?: string; data?: Frame.Any } = {}
    if ("message" in error && typeof error.message === "string") out.message = error.message.slice(0, 256)
    if ("data" in error && error.data !== undefined) out.data = error.data as Frame.Any
    return out
  }
  return error === undefined ? {} : { message: String(error).slice(0, 256) }
}

/** The `to` and `ucan` of a pinned call, for the core's `Call` event. */
const pinOf = (call: Extract<Msg, { _tag: "Call" }>): { readonly to?: Frame.Bin32; readonly ucan?: Frame.Authority } =>
  call.pin === undefined ? {} : call.pin.ucan === undefined ? { to: call.pin.to } : { to: call.pin.to, ucan: call.pin.ucan }

/** One call stream as this endpoint drives it: an ordered outbox over the stream. */
interface StreamLink {
  readonly connectionId: string
  /** Caller side: the connection the call goes on (home, or the direct station). */
  readonly connection: Handle | undefined
  /** Caller side: opened on first send. */
  opened: CallStream | undefined
  /** Provider side: the station opened it. */
  readonly inbound: Inbound | undefined
  readonly outbox: Array<Frame.Frame>
  draining: boolean
  /** The last frame went (or came): finish once the outbox is empty. */
  done: boolean
}

class Driver {
  core!: Rpc.EndpointState
  readonly step: ReturnType<typeof Rpc.makeEndpointStep>
  timers!: CoreTimers.CoreTimers<string>
  readonly running = new Map<number, Fiber.Fiber<unknown, unknown>>()
  readonly sha256: (bytes: Uint8Array) => Uint8Array
  link: {
    readonly handle: Handle
    readonly station: Uint8Array
    lane: Lane | undefined
    readonly outbox: Array<Frame.Frame>
    draining: boolean
    /** Per connection: a fail-over or reconnect presents the capabilities again (replays included). */
    readonly presenter: Presenter | undefined
  } | undefined
  linkUps = 0
  handlersRun = 0
  /** Frames queued on the home link since the last `flush`. */
  waitingFrames = 0
  streamFramesDropped = 0
  /** Call streams by handle, and their handle by `connectionId|stream`. */
  readonly streams = new Map<Rpc.Handle, StreamLink>()
  readonly streamNames = new Map<string, Rpc.Handle>()
  /** Direct mode: connections to serving stations by station key (hex), each with its rpc outbox. */
  readonly direct = new Map<string, {
    readonly handle: Handle
    lane: Lane | undefined
    readonly outbox: Array<Frame.Frame>
    draining: boolean
    readonly presenter: Presenter | undefined
  }>()
  nowMs = 0
  ref!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.step = Rpc.makeEndpointStep(options.config)
    this.sha256 = options.sha256 ?? platformSha256
  }

  /** The `call` the core is handling (a `RejectFrame` resets its stream). */
  calling: Inbound | undefined = undefined

  /** The last caller key and its DID: a provider's calls mostly come from one caller at a time. */
  lastCaller: { readonly key: Uint8Array; readonly did: string } | undefined = undefined

  /** The DID of caller key `key`, memoised for the last one. */
  didOf(key: Uint8Array): string {
    const last = this.lastCaller
    if (last !== undefined && last.key.length === key.length && last.key.every((b, i) => b === key[i])) return last.did
    const did = Did.fromPublicKeyUnsafe(key)
    this.lastCaller = { key: Uint8Array.from(key), did }
    return did
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<void> {
    return Effect.asVoid(Effect.forkIn(Effect.ignoreCause(effect), this.scope, { startImmediately: true }))
  }

  tell(message: Msg): void {
    if (this.ref.isAlive()) this.ref.tell(message)
  }

  /** Steps the core when run, then runs its commands in order. */
  feed(event: Rpc.EndpointEvent): Effect.Effect<void> {
    return Effect.suspend(() => {
      const [next, commands] = this.step(this.core, event)
      this.core = next
      return Commands.runInOrder(commands, (command) => this.interpret(command))
    })
  }


  interpret(command: Rpc.EndpointCommand): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "Send":
        if (command.via !== undefined) {
          const frame = driver.withAu(command.frame, command.via)
          return command.stream !== undefined ? driver.sendOnStream(command.stream, frame, command.via) : driver.sendDirect(command.via, frame)
        }
        if (command.stream !== undefined) return driver.sendOnStream(command.stream, driver.withAu(command.frame))
        return driver.send(command.frame)
      case "SignAdvertisement":
        return driver.signAndSend(command.id, command.draft)
      case "RunHandler": {
        const handler = driver.options.registry.handlerOf(command.proc)
        const from = command.from
        // The caller's DID is built only when the handler asks for it (most never do).
        const context: HandlerContext = {
          get caller() {
            return from === undefined ? undefined : driver.didOf(from)
          },
          procedure: command.proc,
          mode: command.mode,
          handle: command.handle
        }
        const run: Effect.Effect<Frame.Any, unknown> = handler === undefined
          ? Effect.fail({ message: "no handler" })
          : Effect.suspend(() => handler(command.args, context))
        driver.handlersRun++
        return Effect.map(
          Effect.forkIn(
            Effect.onExit(run, (exit) =>
              Effect.sync(() => {
                driver.running.delete(command.id)
                if (!Exit.hasInterrupts(exit)) driver.tell({ _tag: "HandlerDone", id: command.id, exit })
              })),
            driver.scope,
            { startImmediately: true }
          ),
          (fiber) => {
            if (fiber.pollUnsafe() === undefined) driver.running.set(command.id, fiber)
          }
        )
      }
      case "AbortHandler": {
        const fiber = driver.running.get(command.id)
        if (fiber === undefined) return Effect.void
        driver.running.delete(command.id)
        return driver.fork(Fiber.interrupt(fiber))
      }
      case "StreamMessage": {
        const port = driver.options.registry.stream
        if (port === undefined) driver.streamFramesDropped++
        else port.message(command.handle, command.data)
        return Effect.void
      }
      case "StreamEnded": {
        const port = driver.options.registry.stream
        if (port === undefined) driver.streamFramesDropped++
        else port.ended(command.handle)
        return Effect.void
      }
      case "Complete": {
        // The call is over: its stream (if any) is finished once its outbox drained. Without
        // one (a unary call) the registry hears of it in this loop.
        const finished = driver.finishStream(`c/${command.ref}`)
        if (finished === Effect.void) {
          driver.options.registry.complete(command.ref, command.outcome)
          return Effect.void
        }
        return Effect.andThen(finished, Effect.sync(() => driver.options.registry.complete(command.ref, command.outcome)))
      }
      case "Notify":
        driver.options.registry.notify(command.notice)
        return Effect.void
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
      case "RejectFrame": {
        // The frame refused is the `call` being handled: the stream it came on is reset.
        const reset = driver.calling?.reset
        return reset === undefined ? Effect.void : driver.fork(reset(command.code))
      }
      case "Penalise": {
        const link = driver.link
        return link === undefined ? Effect.void : driver.fork(link.handle.penalize(command.severity, command.reason))
      }
    }
  }

  /** A station's `call` for our handlers, with the verdict on its invocation when it carries one. */
  received(inbound: Inbound, f: Frame.Call, now: number): Effect.Effect<void> {
    this.calling = inbound
    const check = this.options.checkInvocation
    return this.feed(Rpc.EndpointEvent.CallReceived(
      f.ucan === undefined || check === undefined ? { now, frame: f } : { now, frame: f, verdict: check(f) }
    ))
  }

  /** Builds the provider record (§10.3), signs it and sends `adv` (or `unadv` for a withdrawal). */
  signAndSend(id: number, draft: Rpc.ProviderDraft): Effect.Effect<void> {
    const d: ProviderRecordBody["d"] = {
      realm: draft.realm, proc: draft.proc, st: draft.st, modes: draft.modes, req: draft.req,
      ...(draft.gone ? { gone: true } : {})
    }
    const unkeyed: ProviderRecordBody = {
      ty: "provider", key: new Uint8Array(32), pk: this.options.identity.publicKey, seq: draft.seq, iat: draft.iat, exp: draft.exp, d
    }
    const body: ProviderRecordBody = { ...unkeyed, key: Records.expectedKey({ sha256: this.sha256 }, unkeyed) }
    const rec = Signed.signRecord(body, (m) => this.options.identity.sign(m))
    if (rec instanceof Error) {
      return this.feed(Rpc.EndpointEvent.AnswerReceived({ now: this.nowMs, frame: { t: "err", id, c: "bad_request", r: "record" } }))
    }
    return this.send(
      draft.gone
        ? { t: "unadv", id, realm: draft.realm, proc: draft.proc, rec }
        : { t: "adv", id, realm: draft.realm, proc: draft.proc, modes: draft.modes, rec }
    )
  }

  /** `frame` with `au` when the current link must still present it for this gated frame (§13.4). */
  withAu(frame: Frame.Frame, via?: string): Frame.Frame {
    const presenter = via === undefined ? this.link?.presenter : this.direct.get(via)?.presenter
    return presenter === undefined ? frame : presenter.attach(frame, this.nowMs)
  }

  send(frame: Frame.Frame): Effect.Effect<void> {
    const link = this.link
    if (link === undefined) return Effect.void
    link.outbox.push(this.withAu(frame))
    if (!link.draining) this.waitingFrames++
    return Effect.void
  }

  /**
   * Starts the home link's drainer once no message waits behind the one just handled (or a
   * burst has piled up): a burst of calls and replies leaves from one fiber, not one per frame.
   */
  flush(): Effect.Effect<void> {
    const link = this.link
    if (this.waitingFrames === 0 || (this.waitingFrames < flushEvery && this.ref.stats().queued > 0)) return Effect.void
    this.waitingFrames = 0
    if (link === undefined || link.draining || link.outbox.length === 0) return Effect.void
    link.draining = true
    const next = (): Effect.Effect<void> => {
      const frame = link.outbox.shift()
      if (frame === undefined) {
        link.draining = false
        return Effect.void
      }
      if (link.lane !== undefined) return Effect.flatMap(Effect.ignore(link.lane.send(frame)), next)
      return Effect.flatMap(Effect.result(link.handle.openLane("rpc")), (lane) => {
        if (Result.isSuccess(lane)) link.lane = lane.success
        return link.lane === undefined ? next() : Effect.flatMap(Effect.ignore(link.lane.send(frame)), next)
      })
    }
    return this.fork(Effect.suspend(next))
  }

  /**
   * Queues `frame` on call stream `name`: the `call` of one of our calls opens it on the home
   * link; a handler's stream exists once its `call` arrived. Frames of unknown streams are
   * dropped (the call is already over).
   */
  sendOnStream(name: Rpc.Handle, frame: Frame.Frame, via?: string): Effect.Effect<void> {
    let link = this.streams.get(name)
    if (link === undefined) {
      const connection = via === undefined ? this.link?.handle : this.direct.get(via)?.handle
      if (frame.t !== "call" || connection === undefined) {
        this.streamFramesDropped++
        return Effect.void
      }
      link = { connectionId: connection.connectionId, connection, opened: undefined, inbound: undefined, outbox: [], draining: false, done: false }
      this.streams.set(name, link)
    }
    if (frame.t === "s.data") this.options.registry.stream?.sent(name)
    link.outbox.push(frame)
    if (frame.t === "reply" || frame.t === "cancel") link.done = true
    if (link.draining) return Effect.void
    link.draining = true
    return this.fork(this.drainStream(name, link))
  }

  drainStream(name: Rpc.Handle, link: StreamLink): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      while (link.outbox.length > 0) {
        const frame = link.outbox.shift()!
        if (link.inbound !== undefined) {
          yield* Effect.ignore(link.inbound.reply(frame))
          continue
        }
        if (link.opened === undefined) {
          const open = link.connection?.openCallStream
          const opened = open === undefined ? undefined : yield* Effect.result(open())
          if (opened === undefined || Result.isFailure(opened)) {
            link.outbox.length = 0
            link.draining = false
            if (frame.t === "call") {
              const detail = opened === undefined ? "no link" : opened.failure.detail
              driver.tell({ _tag: "StreamOpenFailed", handle: name, id: frame.id, detail })
            }
            return
          }
          link.opened = opened.success
          driver.streamNames.set(`${link.connectionId}|${opened.success.stream}`, name)
        }
        yield* Effect.ignore(link.opened.send(frame))
      }
      link.draining = false
      if (link.done) yield* driver.endStream(name, link)
    })
  }

  /** The call on `name` is over: finish the stream once its outbox drained. */
  finishStream(name: Rpc.Handle): Effect.Effect<void> {
    const link = this.streams.get(name)
    if (link === undefined) return Effect.void
    link.done = true
    return link.draining ? Effect.void : this.endStream(name, link)
  }

  endStream(name: Rpc.Handle, link: StreamLink): Effect.Effect<void> {
    if (this.streams.get(name) === link) this.streams.delete(name)
    const stream = link.opened?.stream ?? link.inbound?.stream
    if (stream !== undefined) this.streamNames.delete(`${link.connectionId}|${stream}`)
    const end = link.opened?.end ?? link.inbound?.end
    return end === undefined ? Effect.void : this.fork(end)
  }

  /** Forgets every stream of a connection that is gone (the core ends their calls). */
  dropStreams(connectionId: string): void {
    for (const [name, link] of Array.from(this.streams)) {
      if (link.connectionId !== connectionId) continue
      this.streams.delete(name)
      link.outbox.length = 0
    }
    for (const key of Array.from(this.streamNames.keys())) if (key.startsWith(`${connectionId}|`)) this.streamNames.delete(key)
  }

  /** The peer's resets of call streams on `handle` come back as `StreamReset` messages. */
  watchResets(handle: Handle): void {
    const connectionId = handle.connectionId
    handle.onCallStreamReset?.((stream, code) => this.tell({ _tag: "StreamReset", connectionId, stream, code }))
  }

  /**
   * The peer reset a call stream (§9.5: a reset aborts the call): one of our calls ends as a
   * failed relay (the handler may have run), one our handler serves is cancelled.
   */
  onStreamReset(connectionId: string, stream: number, code: string, now: number): Effect.Effect<void> {
    const key = `${connectionId}|${stream}`
    const name = this.streamNames.get(key)
    if (name === undefined) return Effect.void
    this.streamNames.delete(key)
    const link = this.streams.get(name)
    if (link !== undefined) {
      this.streams.delete(name)
      link.outbox.length = 0
    }
    const n = Number(name.slice(2))
    if (name.startsWith("p/")) return this.feed(Rpc.EndpointEvent.CancelReceived({ now, id: n }))
    const id = this.core.refs.get(n)
    return id === undefined
      ? Effect.void
      : this.feed(Rpc.EndpointEvent.ReplyReceived({ now, frame: { t: "reply", id, e: { c: "relay_failed", m: `call stream reset: ${code}` } } }))
  }

  /** A frame on a call stream: a handler's new call, or a frame of a known stream. */
  onCallStream(inbound: Inbound, now: number): Effect.Effect<void> {
    const f = inbound.frame
    const key = `${inbound.connectionId}|${inbound.stream}`
    if (inbound.opener === "peer" && f.t === "call") {
      const name: Rpc.Handle = `p/${f.id}`
      if (this.streams.has(name)) return this.received(inbound, f, now) // reused id: the core rejects it
      this.streams.set(name, { connectionId: inbound.connectionId, connection: undefined, opened: undefined, inbound, outbox: [], draining: false, done: false })
      this.streamNames.set(key, name)
      return this.received(inbound, f, now)
    }
    const name = this.streamNames.get(key)
    if (name === undefined) return Effect.void
    switch (f.t) {
      case "reply":
        // The call ends here; `Complete` finishes the stream.
        return this.feed(Rpc.EndpointEvent.ReplyReceived({ now, frame: f }))
      case "cancel":
        return Effect.andThen(this.feed(Rpc.EndpointEvent.CancelReceived({ now, id: Number(name.slice(2)) })), this.finishStream(name))
      case "s.data":
      case "s.end":
      case "s.credit":
        return this.feed(Rpc.EndpointEvent.StreamFrameReceived({ now, handle: name, frame: f }))
      default:
        return Effect.void
    }
  }

  /** A frame of a direct call, on this side's rpc lane to the station it was sent to. */
  sendDirect(via: string, frame: Frame.Frame): Effect.Effect<void> {
    const direct = this.direct.get(via)
    if (direct === undefined) return Effect.void
    direct.outbox.push(frame)
    if (direct.draining) return Effect.void
    direct.draining = true
    return this.fork(Effect.gen(function*() {
      while (direct.outbox.length > 0) {
        const next = direct.outbox.shift()!
        if (direct.lane === undefined) {
          const lane = yield* Effect.result(direct.handle.openLane("rpc"))
          if (Result.isSuccess(lane)) direct.lane = lane.success
        }
        if (direct.lane !== undefined) yield* Effect.ignore(direct.lane.send(next))
      }
      direct.draining = false
    }))
  }

  /** Dials the station of a direct call; the call starts once the connection is ready. */
  dialDirect(call: Extract<Msg, { _tag: "Call" }>, address: string): Effect.Effect<void> {
    const driver = this
    const dial = this.options.dial
    const failed = (reason: string) =>
      Effect.sync(() =>
        driver.options.registry.complete(call.ref, Rpc.Outcome.RemoteError({ code: "relay_failed", message: `direct: ${reason}` }))
      )
    if (dial === undefined) return failed("this node cannot dial")
    // The dial spends the call's budget: past it the call has timed out, whatever the dial does.
    const budget = Math.min(this.options.config.maxCallTtlMs, call.timeoutMs ?? this.options.config.callTimeoutMs)
    return this.fork(Effect.matchEffect(Effect.timeoutOption(dial(address), budget), {
      onFailure: (e) => failed(typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)),
      onSuccess: (handle) =>
        Effect.sync(() =>
          handle._tag === "Some"
            ? driver.tell({ _tag: "DirectReady", call, handle: handle.value })
            : driver.options.registry.complete(call.ref, Rpc.Outcome.CallTimeout({ afterMs: budget }))
        )
    }))
  }

  /** Adopts a direct connection (once) and starts the call on it. */
  directReady(call: Extract<Msg, { _tag: "Call" }>, handle: Handle, now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const key = Did.parsePublicKey(handle.peerDid)
      if (!(key instanceof Uint8Array) || handle.status().phase !== "ready") {
        return driver.options.registry.complete(call.ref, Rpc.Outcome.RemoteError({ code: "relay_failed", message: "direct: not connected" }))
      }
      const via = hex(key)
      const known = driver.direct.get(via)
      if (known === undefined || known.handle.connectionId !== handle.connectionId) {
        driver.direct.set(via, { handle, lane: undefined, outbox: [], draining: false, presenter: driver.options.capabilities?.(handle.peerDid) })
        if (driver.link?.handle.connectionId !== handle.connectionId) {
          handle.subscribe("rpc", (inbound) => Effect.sync(() => driver.tell({ _tag: "Inbound", inbound })))
          handle.subscribe("call", (inbound) => Effect.sync(() => driver.tell({ _tag: "Inbound", inbound })))
          driver.watchResets(handle)
        }
        yield* driver.fork(Effect.flatMap(handle.closed, () =>
          Effect.sync(() => driver.tell({ _tag: "DirectLost", station: via, connectionId: handle.connectionId }))))
      }
      yield* driver.feed(Rpc.EndpointEvent.Call({
        now, ref: call.ref, realm: call.realm, proc: call.proc, args: call.args, idempotent: call.idempotent, via,
        ...(call.timeoutMs === undefined ? {} : { timeoutMs: call.timeoutMs }),
        ...(call.mode === undefined ? {} : { mode: call.mode }),
        ...pinOf(call)
      }))
    })
  }

  checkLink(now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const handle = yield* driver.options.station()
      const ready = handle !== undefined && handle.status().phase === "ready"
      const current = driver.link
      if (current !== undefined && (!ready || handle.connectionId !== current.handle.connectionId ||
        current.handle.status().phase !== "ready")) {
        driver.link = undefined
        driver.dropStreams(current.handle.connectionId)
        yield* driver.feed(Rpc.EndpointEvent.LinkDown({ now }))
      }
      if (driver.link !== undefined || !ready) return
      const station = Did.parsePublicKey(handle.peerDid)
      if (!(station instanceof Uint8Array)) return
      driver.link = { handle, station, lane: undefined, outbox: [], draining: false, presenter: driver.options.capabilities?.(handle.peerDid) }
      driver.linkUps++
      handle.subscribe("rpc", (inbound) => Effect.sync(() => driver.tell({ _tag: "Inbound", inbound })))
      handle.subscribe("call", (inbound) => Effect.sync(() => driver.tell({ _tag: "Inbound", inbound })))
      driver.watchResets(handle)
      yield* driver.fork(Effect.flatMap(handle.closed, () => Effect.sync(() => driver.tell({ _tag: "CheckLink" }))))
      yield* driver.feed(Rpc.EndpointEvent.LinkUp({ now, wall: now, station: hex(station) }))
    })
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const link = this.link
    if (link === undefined || inbound.connectionId !== link.handle.connectionId) return this.onDirectInbound(inbound, now)
    if (inbound.channel === "call") return this.onCallStream(inbound, now)
    const f = inbound.frame
    switch (f.t) {
      case "reply":
        link.presenter?.answered(f.id, f.e?.c === "unauthorized")
        return this.feed(Rpc.EndpointEvent.ReplyReceived({ now, frame: f }))
      case "ok":
      case "err":
        if (f.id !== undefined) link.presenter?.answered(f.id, f.t === "err")
        return this.feed(Rpc.EndpointEvent.AnswerReceived({ now, frame: f }))
      case "call":
        return this.received(inbound, f, now)
      case "cancel":
        return this.feed(Rpc.EndpointEvent.CancelReceived({ now, id: f.id }))
      case "resync":
        // The home station's dispatcher restarted (§15.2, control stream): the core replays `adv`.
        return this.feed(Rpc.EndpointEvent.ResyncReceived({ now, wall: now, what: f.what }))
      default:
        return Effect.void
    }
  }

  /** A direct connection carries only the answers to our direct calls. */
  onDirectInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const direct = Array.from(this.direct.values()).find((d) => d.handle.connectionId === inbound.connectionId)
    if (direct === undefined) return Effect.void
    if (inbound.channel === "call") return inbound.opener === "local" ? this.onCallStream(inbound, now) : Effect.void
    if (inbound.frame.t !== "reply") return Effect.void
    direct.presenter?.answered(inbound.frame.id, inbound.frame.e?.c === "unauthorized")
    return this.feed(Rpc.EndpointEvent.ReplyReceived({ now, frame: inbound.frame }))
  }

  stats(): Stats {
    return {
      counters: { ...this.core.counters },
      sizes: Rpc.endpointSizes(this.core),
      linked: this.link !== undefined,
      linkUps: this.linkUps,
      handlersRun: this.handlersRun,
      streamFramesDropped: this.streamFramesDropped,
      streams: this.streams.size
    }
  }
}

/**
 * The endpoint's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> => {
  let starts = 0
  return Actor.make<Msg, Driver>({
    label: "rpc-endpoint",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const problems = Rpc.problems(options.config)
        if (problems.length > 0) return yield* Effect.die(new Error(`rpc config: ${problems.join("; ")}`))
        const driver = new Driver(options)
        driver.ref = ctx.self
        driver.scope = yield* Effect.scope
        driver.timers = CoreTimers.make(driver.scope, (fired) => {
          Actor.tellUrgent(driver.ref, { _tag: "TimerFired", ...fired })
        })
        const now = yield* Clock.currentTimeMillis
        driver.nowMs = now
        options.registry.started(starts > 0)
        starts++
        driver.core = Rpc.initialEndpoint({ seed: options.seed ?? Math.floor(now % 2_147_483_647) + starts })
        for (const ad of options.registry.advertisements()) {
          yield* driver.feed(Rpc.EndpointEvent.Advertise({ now, wall: now, ref: ad.ref, realm: ad.realm, proc: ad.proc, modes: ad.modes ?? ["unary"], req: ad.req ?? false }))
        }
        yield* driver.checkLink(now)
        const every = options.linkCheckMs ?? 100
        yield* Effect.forkIn(
          Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => void ctx.self.tell({ _tag: "CheckLink" })))),
          driver.scope,
          { startImmediately: true }
        )
        yield* driver.flush()
        return driver
      }),
    receive: (message, driver) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        driver.nowMs = now
        const handled = ((): Effect.Effect<void> => {
          switch (message._tag) {
            case "Inbound":
              return driver.onInbound(message.inbound, now)
            case "TimerFired":
              return driver.feed(Rpc.EndpointEvent.TimerFired({ now: message.now, timer: message.timer, generation: message.generation }))
            case "Call":
              if (message.direct !== undefined) return driver.dialDirect(message, message.direct)
              return driver.feed(Rpc.EndpointEvent.Call({
                now, ref: message.ref, realm: message.realm, proc: message.proc, args: message.args, idempotent: message.idempotent,
                ...(message.timeoutMs === undefined ? {} : { timeoutMs: message.timeoutMs }),
                ...(message.mode === undefined ? {} : { mode: message.mode }),
                ...pinOf(message)
              }))
            case "DirectReady":
              return driver.directReady(message.call, message.handle, now)
            case "DirectLost": {
              const direct = driver.direct.get(message.station)
              if (direct === undefined || direct.handle.connectionId !== message.connectionId) return Effect.void
              driver.direct.delete(message.station)
              if (driver.link?.handle.connectionId !== message.connectionId) driver.dropStreams(message.connectionId)
              return driver.feed(Rpc.EndpointEvent.DirectLinkLost({ now, station: message.station }))
            }
            case "StreamSend":
              return driver.feed(Rpc.EndpointEvent.StreamSend({ now, handle: message.handle, data: message.data }))
            case "StreamClose":
              return driver.feed(Rpc.EndpointEvent.StreamClose({ now, handle: message.handle }))
            case "StreamConsumed":
              return driver.feed(Rpc.EndpointEvent.StreamConsumed({ now, handle: message.handle, n: message.n }))
            case "StreamReset":
              return driver.onStreamReset(message.connectionId, message.stream, message.code, now)
            case "StreamOpenFailed":
              // The call never left: it ends as a failed relay (nothing ran).
              driver.streams.delete(message.handle)
              return driver.feed(Rpc.EndpointEvent.ReplyReceived({
                now, frame: { t: "reply", id: message.id, e: { c: "relay_failed", m: `call stream: ${message.detail}` } }
              }))
            case "CancelCall":
              return driver.feed(Rpc.EndpointEvent.CancelCall({ now, ref: message.ref }))
            case "Advertise": {
              const ad = message.advertisement
              return driver.feed(Rpc.EndpointEvent.Advertise({ now, wall: now, ref: ad.ref, realm: ad.realm, proc: ad.proc, modes: ad.modes ?? ["unary"], req: ad.req ?? false }))
            }
            case "Unadvertise": {
              const ad = message.advertisement
              return driver.feed(Rpc.EndpointEvent.Unadvertise({ now, wall: now, ref: ad.ref, realm: ad.realm, proc: ad.proc }))
            }
            case "HandlerDone":
              if (Exit.isSuccess(message.exit)) {
                return driver.feed(Rpc.EndpointEvent.HandlerReturned({ now, id: message.id, result: message.exit.value }))
              }
              return driver.feed(Rpc.EndpointEvent.HandlerFailed({ now, id: message.id, ...failureOf(Cause.squash(message.exit.cause)) }))
            case "CheckLink":
              return driver.checkLink(now)
            case "Stats":
              message.reply.succeed(driver.stats())
              return Effect.void
          }
        })()
        return Outboxes.thenFlush(handled, () => driver.flush(), driver)
      }),
    terminate: (_reason, driver) =>
      Effect.gen(function*() {
        for (const fiber of driver.running.values()) yield* Fiber.interrupt(fiber)
      })
  })
}

/**
 * Asks a running endpoint for its counters.
 *
 * @since 0.1.0
 * @category getters
 */
export const stats = (ref: Actor.ActorRef<Msg> | undefined): Effect.Effect<Stats | undefined> =>
  ref === undefined
    ? Effect.succeed(undefined)
    : Effect.orElseSucceed(ref.call<Stats>((reply) => ({ _tag: "Stats", reply }), { timeoutMs: 5_000 }), () => undefined)

export { Rpc }

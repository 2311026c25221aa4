/**
 * The connection actor: drives one connection's core (`src/protocols/connection`) over one
 * authenticated `Transport` connection (PROTOCOL.md §3.4–§3.7).
 *
 * What it owns: the transport connection, its streams, one reader fiber per stream, the accept
 * loop, the timers the core asks for, and the status it publishes. What it does:
 * - feeds the core `Started`, every frame received (decoded by `src/wire`'s codec), every
 *   stream end, every timer and the connection's loss, and carries out the commands in order;
 * - routes frames that passed the core's checks to the subscriber of their channel (a lane
 *   family, `call`, `content`, `control`), from the reader fiber of their stream, so a slow
 *   subscriber slows only its own stream and never the control stream's pings;
 * - gives other actors a `Handle` (`src/platform/transport/ConnectionHandle.ts`): lanes, content sessions, call streams,
 *   subscriptions, status, close.
 *
 * A frame that fails to decode resets **that stream only** (typed `DecodeError`, counted, minor
 * penalty); a reader stops at its stream's end or reset.
 *
 * Ordering and shutdown: the actor exits (`Normal`) once the core reports the connection
 * closed. When its supervisor stops it first (node shutdown), `terminate` sends `goodbye
 * going_away` and closes the connection, bounded by the child's shutdown time. It is a
 * `temporary` child: never restarted; the owner of the relationship redials.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as NodeId from "../src/identity/NodeId.ts"
import type { Connection as TransportConnection, DialOptions, FrameStream } from "../src/platform/transport/Transport.ts"
import { Transport } from "../src/platform/transport/Transport.ts"
import type { DialError } from "../src/platform/transport/Errors.ts"
import { isAssembled } from "../src/platform/transport/Frame.ts"
import { Connection } from "../src/protocols/connection/index.ts"
import type { ResetName } from "../src/protocols/connection/Codes.ts"
import type { Command, Notice, Route } from "../src/protocols/connection/Command.ts"
import type { Event } from "../src/protocols/connection/Event.ts"
import {
  type CallStream,
  type Channel,
  type CloseOptions,
  ConnectionClosed,
  type Handle,
  type Inbound,
  type Lane,
  LaneUnavailable,
  SendFailed,
  type Session,
  type Sink,
  type Status
} from "../src/platform/transport/ConnectionHandle.ts"
import type { State } from "../src/protocols/connection/State.ts"
import type { Timer } from "../src/protocols/connection/Timer.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as Commands from "../src/runtime/Commands.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
import * as ExitReason from "../src/runtime/ExitReason.ts"
import type { Process } from "../src/runtime/Process.ts"
import * as Codec from "../src/wire/Codec.ts"
import * as CodecConfig from "../src/wire/CodecConfig.ts"
import { DecodeError as WireDecodeError } from "../src/wire/DecodeError.ts"
import type { Frame, ResyncWhat } from "../src/wire/Frame.ts"
import * as Streams from "../src/wire/Streams.ts"

/**
 * The §3.5 stream rules of `src/wire`, in the shape the core's config wants.
 *
 * @since 0.1.0
 * @category constants
 */
export const placement: Connection.Config.Placement = { opens: Streams.opens, allows: Streams.allows }

/**
 * A core config with the wire's stream rules.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (
  role: "station" | "client",
  overrides: Partial<Omit<Connection.Config.Config, "role" | "placement">> = {}
): Connection.Config.Config => Connection.Config.make(role, placement, overrides)

/**
 * What the actor is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The authenticated transport connection (inbound or outbound). */
  readonly connection: TransportConnection
  /** The core's knobs (see `config`). */
  readonly config: Connection.Config.Config
  /** Codec limits. @default CodecConfig.defaults (with `maxFrameBytes` from `config`) */
  readonly codec?: CodecConfig.CodecConfig
  /** The peer's score carried over from earlier connections. @default 0 */
  readonly initialScore?: number
  /** Default sinks, by channel, used when no `subscribe` took the channel. */
  readonly sinks?: Partial<Record<Channel, Sink>>
  /**
   * Asked once the connection is ready (the registry's duplicate rule and bans): `"replaced"`
   * or `"banned"` closes this connection with that code. Failures count as `"keep"`.
   */
  readonly onReady?: (status: Status, handle: Handle) => Effect.Effect<"keep" | "replaced" | "banned">
  /** Every notice of the core, with the status after it (scores, bans, rejections, closes). */
  readonly onNotice?: (notice: Notice, status: Status) => void
}

/**
 * The connection actor's messages (internal; other actors use the `Handle`).
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Event"; readonly event: Event }
  | {
    readonly _tag: "Inspect"
    readonly now: number
    readonly stream: number
    readonly frames: ReadonlyArray<Frame>
    readonly error: WireDecodeError | undefined
    readonly reply: Actor.Reply<ReadonlyArray<Delivery>>
  }
  | { readonly _tag: "OpenLane"; readonly family: Streams.Family; readonly reply: Actor.Reply<Lane, LaneUnavailable> }
  | { readonly _tag: "OpenSession"; readonly reply: Actor.Reply<Session, SendFailed> }
  | { readonly _tag: "OpenCallStream"; readonly reply: Actor.Reply<CallStream, SendFailed> }
  | { readonly _tag: "Resync"; readonly what: ReadonlyArray<ResyncWhat>; readonly reply: Actor.Reply<void, SendFailed> }

interface Delivery {
  readonly route: Route
  readonly frame: Frame
}

const channelOf = (route: Route): Channel => (route.kind === "lane" ? route.family : route.kind)

/** The mutable driver state of one connection actor; the core's state is the immutable `core`. */
class Driver {
  core: State
  readonly step: ReturnType<typeof Connection.makeStep>
  readonly codec: CodecConfig.CodecConfig
  readonly streams = new Map<number, FrameStream>()
  timers!: CoreTimers.CoreTimers<Timer>
  readonly lanes = new Map<Streams.Family, Lane>()
  readonly subscriptions = new Map<Channel, Sink>()
  readonly listeners = new Set<(status: Status) => void>()
  readonly resetListeners = new Set<(stream: number, code: string) => void>()
  readonly readyDeferred = Deferred.makeUnsafe<Status, ConnectionClosed>()
  readonly closedDeferred = Deferred.makeUnsafe<Status>()
  collecting: { readonly stream: number; readonly deliveries: Array<Delivery> } | undefined = undefined
  peerLimit: number
  version = 1
  undelivered = 0
  status: Status
  self!: Actor.ActorRef<Msg>
  scope!: Scope.Scope
  handle!: Handle

  constructor(readonly options: Options) {
    const c = options.connection
    this.core = Connection.initial(options.config, c.direction)
    this.step = Connection.makeStep(options.config)
    this.codec = options.codec ?? CodecConfig.make({ maxFrameBytes: options.config.maxFrameBytes })
    this.peerLimit = this.codec.maxFrameBytes
    this.status = {
      connectionId: c.id,
      peerDid: c.peerDid,
      direction: c.direction,
      remoteAddress: c.remoteAddress,
      phase: "idle",
      peerRole: undefined,
      version: undefined,
      peerHello: undefined,
      skewMs: undefined,
      rttMs: undefined,
      score: options.initialScore ?? 0,
      rejected: 0,
      undelivered: 0,
      ending: undefined
    }
  }

  /** Publishes a new status to the watchers. */
  publish(patch: Partial<Status>): void {
    this.status = { ...this.status, ...patch, phase: this.core.phase, rejected: this.core.rejected, undelivered: this.undelivered }
    for (const listener of this.listeners) listener(this.status)
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Fiber.Fiber<A, E>> {
    return Effect.forkIn(effect, this.scope, { startImmediately: true })
  }

  /** Encodes `frame` for this peer and queues it on `stream`. */
  sendOn(stream: FrameStream, frame: Frame): Effect.Effect<void, SendFailed> {
    const bytes = Codec.encode(frame, { maxFrameBytes: this.peerLimit, version: this.version, config: this.codec })
    if (!(bytes instanceof Uint8Array)) {
      return Effect.fail(new SendFailed({ reason: bytes.code === "payload_too_large" ? "payload_too_large" : "invalid_frame", detail: bytes.message }))
    }
    return Effect.mapError(stream.send(bytes.subarray(Codec.prefixBytes)), (error) => {
      switch (error._tag) {
        case "PayloadTooLarge":
          return new SendFailed({ reason: "payload_too_large", detail: `${error.size} > ${error.limit}` })
        case "StreamReset":
          return new SendFailed({ reason: "stream_reset", detail: error.code })
        case "ConnectionLost":
          return new SendFailed({ reason: "connection_lost", detail: error.code })
      }
    })
  }

  now(): Effect.Effect<number> {
    return Clock.currentTimeMillis
  }

  /** Steps the core with `event` and carries out its commands in order. */
  feed(event: Event): Effect.Effect<void> {
    // A plain chain (no generator): every batch of frames received comes through here.
    return Effect.suspend(() => {
      const [next, commands] = this.step(this.core, event)
      this.core = next
      return Commands.runInOrder(commands, (command) => this.interpret(command))
    })
  }

  interpret(command: Command): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "OpenControl":
        return Effect.gen(function*() {
          const opened = yield* Effect.result(driver.options.connection.openStream)
          if (Result.isFailure(opened)) return // the loss arrives as ConnectionLost
          const stream = opened.success
          yield* driver.adopt(stream)
          yield* driver.feed(Connection.Event.StreamOpened({ now: yield* driver.now(), stream: stream.id, as: { kind: "control" } }))
        })
      case "Send": {
        const stream = driver.streams.get(command.stream)
        return stream === undefined ? Effect.void : Effect.ignore(driver.sendOn(stream, command.frame))
      }
      case "ResetStream": {
        const stream = driver.streams.get(command.stream)
        driver.streams.delete(command.stream)
        return stream === undefined ? Effect.void : stream.reset(command.code)
      }
      case "EndStream": {
        const stream = driver.streams.get(command.stream)
        return stream === undefined ? Effect.void : Effect.asVoid(driver.fork(stream.end))
      }
      case "Deliver":
        if (driver.collecting !== undefined && driver.collecting.stream === command.stream) {
          driver.collecting.deliveries.push({ route: command.route, frame: command.frame })
          return Effect.void
        }
        return Effect.asVoid(driver.fork(driver.deliver(command.stream, { route: command.route, frame: command.frame })))
      case "SetSendLimit":
        driver.peerLimit = Math.min(command.bytes, 0xffff_ffff)
        for (const stream of driver.streams.values()) stream.setSendLimit(driver.peerLimit)
        return Effect.void
      case "CloseConnection":
        return Effect.asVoid(driver.fork(driver.options.connection.close(command.code, command.message)))
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
      case "Emit":
        return driver.onNotice(command.notice)
    }
  }

  onNotice(notice: Notice): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      switch (notice._tag) {
        case "Ready": {
          driver.version = notice.version
          driver.publish({ peerRole: notice.peerRole, version: notice.version, peerHello: notice.peerHello, skewMs: notice.skewMs })
          const verdict = driver.options.onReady === undefined
            ? "keep"
            : yield* Effect.orElseSucceed(driver.options.onReady(driver.status, driver.handle), () => "keep" as const)
          if (verdict !== "keep") {
            const now = yield* driver.now()
            const message = verdict === "banned" ? "peer is banned" : "a connection to this peer exists"
            yield* driver.feed(Connection.Event.CloseRequested({ now, code: verdict, message, graceful: true }))
          } else if (driver.core.phase === "ready") {
            Deferred.doneUnsafe(driver.readyDeferred, Effect.succeed(driver.status))
          }
          break
        }
        case "Rtt":
          driver.publish({ rttMs: notice.rttMs })
          break
        case "ScoreChanged":
          driver.publish({ score: notice.score })
          break
        case "LaneClosed":
          if (notice.opener === "local") driver.lanes.delete(notice.family)
          driver.publish({})
          break
        case "Closing":
          driver.publish({ ending: { code: notice.code, by: notice.by, ...(notice.message === undefined ? {} : { message: notice.message }) } })
          Deferred.doneUnsafe(driver.readyDeferred, Effect.fail(driver.closedError()))
          break
        case "Closed":
          driver.publish({
            ending: { code: notice.code, by: notice.by, ...(notice.message === undefined ? {} : { message: notice.message }) },
            score: notice.score
          })
          Deferred.doneUnsafe(driver.readyDeferred, Effect.fail(driver.closedError()))
          Deferred.doneUnsafe(driver.closedDeferred, Effect.succeed(driver.status))
          break
        default:
          driver.publish({})
      }
      driver.options.onNotice?.(notice, driver.status)
    })
  }

  closedError(): ConnectionClosed {
    const ending = this.status.ending
    return new ConnectionClosed({
      connectionId: this.status.connectionId,
      peerDid: this.status.peerDid,
      code: ending?.code ?? "normal",
      by: ending?.by ?? "local",
      message: ending?.message ?? ""
    })
  }

  /** Registers a stream and starts its reader. */
  adopt(stream: FrameStream): Effect.Effect<void> {
    this.streams.set(stream.id, stream)
    stream.setSendLimit(this.peerLimit)
    return Effect.asVoid(this.fork(this.reader(stream)))
  }

  /** One stream's reader: decode, ask the core, deliver, until the stream ends. */
  reader(stream: FrameStream): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      while (true) {
        const received = yield* Effect.result(stream.receiveMany)
        if (Result.isFailure(received)) {
          const error = received.failure
          const now = yield* driver.now()
          switch (error._tag) {
            case "StreamEnded": {
              // A content session is one exchange (§12.3): once the peer finished its side there is
              // nothing left to answer, so a session the peer opened is finished here too, and
              // both ends free the stream (QUIC counts it until both sides are done).
              const info = driver.core.streams.get(stream.id)
              if (info?.stream.kind === "content") {
                driver.streams.delete(stream.id)
                if (info.opener === "peer") yield* Effect.asVoid(driver.fork(stream.end))
              }
              // A call stream's peer finishes only after its last frame (`reply`, or after a
              // `cancel`): the call is over for this side too, whichever side opened it.
              if (info?.stream.kind === "call") {
                driver.streams.delete(stream.id)
                yield* Effect.asVoid(driver.fork(stream.end))
              }
              Actor.tellUrgent(driver.self, { _tag: "Event", event: Connection.Event.StreamClosed({ now, stream: stream.id, how: "fin" }) })
              return
            }
            case "StreamReset":
              if (error.by === "peer") {
                if (driver.core.streams.get(stream.id)?.stream.kind === "call") {
                  driver.streams.delete(stream.id)
                  for (const listener of driver.resetListeners) listener(stream.id, error.code)
                }
                Actor.tellUrgent(driver.self, {
                  _tag: "Event",
                  event: Connection.Event.StreamClosed({ now, stream: stream.id, how: "reset", code: error.code })
                })
              }
              return
            case "DecodeError":
              Actor.tellUrgent(driver.self, {
                _tag: "Event",
                event: Connection.Event.FrameRejected({ now, stream: stream.id, code: error.code, detail: "framing" })
              })
              return
            case "ConnectionLost":
              return
          }
        }
        const frames: Array<Frame> = []
        let failure: WireDecodeError | undefined
        for (const body of received.success) {
          // A body assembled across chunks is this stream's alone: its block payload is kept as a view.
          const decoded = Codec.decodeBody(body, driver.codec, driver.version, isAssembled(body))
          if (decoded instanceof WireDecodeError) {
            failure = decoded
            break
          }
          frames.push(decoded)
        }
        const now = yield* driver.now()
        const deliveries = yield* Effect.result(driver.self.call<ReadonlyArray<Delivery>>(
          (reply) => ({ _tag: "Inspect", now, stream: stream.id, frames, error: failure, reply }),
          { timeoutMs: Infinity }
        ))
        if (Result.isFailure(deliveries)) return // the actor is gone
        for (const delivery of deliveries.success) yield* driver.deliver(stream.id, delivery)
        if (failure !== undefined) return
      }
    })
  }

  deliver(streamId: number, delivery: Delivery): Effect.Effect<void> {
    const channel = channelOf(delivery.route)
    const sink = this.subscriptions.get(channel) ?? this.options.sinks?.[channel]
    if (sink === undefined) {
      this.undelivered++
      return Effect.void
    }
    const stream = this.streams.get(streamId)
    const inbound: Inbound = {
      frame: delivery.frame,
      channel,
      opener: delivery.route.kind === "control" ? "peer" : delivery.route.opener,
      stream: streamId,
      connectionId: this.status.connectionId,
      peerDid: this.status.peerDid,
      reply: (frame) =>
        stream === undefined
          ? Effect.fail(new SendFailed({ reason: "stream_reset", detail: "the stream is gone" }))
          : this.sendOn(stream, frame),
      ...(stream === undefined
        ? {}
        : channel === "call"
        ? { end: Effect.ignore(stream.end), reset: (code: ResetName) => this.resetLocally(stream, code) }
        : delivery.route.kind === "lane" && delivery.route.opener === "peer"
        // A frame the subsystem refuses (§14 row 9) resets the peer's lane it came on.
        ? { reset: (code: ResetName) => this.resetLocally(stream, code) }
        : {})
    }
    // A sink must not fail; a defect in one is contained to the frame it was handling.
    return Effect.ignoreCause(sink(inbound))
  }

  openLane(family: Streams.Family): Effect.Effect<Lane, LaneUnavailable> {
    const driver = this
    return Effect.gen(function*() {
      const existing = driver.lanes.get(family)
      if (existing !== undefined) return existing
      const phase = driver.core.phase
      if (phase !== "ready") return yield* Effect.fail(new LaneUnavailable({ family, reason: phase === "closing" || phase === "closed" ? "closed" : "not_ready" }))
      const opened = yield* Effect.result(driver.options.connection.openStream)
      if (Result.isFailure(opened)) {
        return yield* Effect.fail(new LaneUnavailable({ family, reason: opened.failure._tag === "StreamLimitReached" ? "stream_limit" : "closed" }))
      }
      const stream = opened.success
      yield* driver.adopt(stream)
      const laneStream: Streams.Stream = { kind: "lane", family }
      yield* driver.feed(Connection.Event.StreamOpened({ now: yield* driver.now(), stream: stream.id, as: laneStream }))
      let started = false
      const check = (frame: Frame): SendFailed | undefined => {
        if (!Streams.allows(laneStream, frame.t)) {
          return new SendFailed({ reason: "wrong_stream", detail: `${frame.t} on a ${family} lane` })
        }
        if (!started) {
          const opens = Streams.opens(frame)
          if (opens === undefined || opens.kind !== "lane" || opens.family !== family) {
            return new SendFailed({ reason: "wrong_stream", detail: `${frame.t} cannot open a ${family} lane` })
          }
        }
        return undefined
      }
      const lane: Lane = {
        family,
        stream: stream.id,
        send: (frame) =>
          Effect.suspend(() => {
            const bad = check(frame)
            if (bad !== undefined) return Effect.fail(bad)
            started = true
            return driver.sendOn(stream, frame)
          }),
        sendAll: (frames) =>
          Effect.suspend(() => {
            for (const frame of frames) {
              const bad = check(frame)
              if (bad !== undefined) return Effect.fail(bad)
              started = true
            }
            return Effect.forEach(frames, (frame) => driver.sendOn(stream, frame), { discard: true })
          })
      }
      driver.lanes.set(family, lane)
      return lane
    })
  }

  /** Opens a content session: a new stream the core knows as `content`, opened by us. */
  openSession(): Effect.Effect<Session, SendFailed> {
    return Effect.map(this.openOwnStream({ kind: "content" }, "a content session", true), ({ stream, send }) => ({
      stream: stream.id,
      send,
      end: Effect.ignore(stream.end)
    }))
  }

  /** Opens a call stream (§9.5): a new stream the core knows as `call`, opened by us. */
  openCallStream(): Effect.Effect<CallStream, SendFailed> {
    return Effect.map(this.openOwnStream({ kind: "call" }, "a call stream", false), ({ stream, send }) => ({
      stream: stream.id,
      send,
      end: Effect.ignore(stream.end),
      reset: (code: ResetName) => this.resetLocally(stream, code)
    }))
  }

  /**
   * Opens a stream of ours the core knows `as`, and a `send` that lets through only frames that
   * open such a stream first and belong on it after (`checkFirst`: the opening frame too).
   */
  private openOwnStream(
    as: Streams.Stream,
    what: string,
    checkFirst: boolean
  ): Effect.Effect<{ readonly stream: FrameStream; readonly send: (frame: Frame) => Effect.Effect<void, SendFailed> }, SendFailed> {
    const driver = this
    return Effect.gen(function*() {
      if (driver.core.phase !== "ready") {
        return yield* Effect.fail(new SendFailed({ reason: "connection_lost", detail: `connection ${driver.core.phase}` }))
      }
      const opened = yield* Effect.result(driver.options.connection.openStream)
      if (Result.isFailure(opened)) {
        return yield* Effect.fail(new SendFailed({ reason: "connection_lost", detail: opened.failure._tag }))
      }
      const stream = opened.success
      yield* driver.adopt(stream)
      yield* driver.feed(Connection.Event.StreamOpened({ now: yield* driver.now(), stream: stream.id, as }))
      let started = false
      const send = (frame: Frame) =>
        Effect.suspend(() => {
          const opens = started ? as : Streams.opens(frame)
          if (opens === undefined || opens.kind !== as.kind || ((started || checkFirst) && !Streams.allows(as, frame.t))) {
            return Effect.fail(new SendFailed({ reason: "wrong_stream", detail: `${frame.t} on ${what}` }))
          }
          started = true
          return driver.sendOn(stream, frame)
        })
      return { stream, send }
    })
  }

  /** Resets a stream from this side; the core forgets it as it would a peer's reset. */
  resetLocally(stream: FrameStream, code: ResetName): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      driver.streams.delete(stream.id)
      yield* stream.reset(code)
      const now = yield* driver.now()
      // A peer-fault code (e.g. `flow_control`) counts towards `maxStreamErrorsPerMin` (§3.7).
      Actor.tellUrgent(driver.self, { _tag: "Event", event: Connection.Event.StreamResetLocally({ now, stream: stream.id, code }) })
    })
  }
}

const handles = new WeakMap<Process, Handle>()

/**
 * The handle of a connection actor's process (as returned by a supervisor's `startChild`).
 *
 * @since 0.1.0
 * @category getters
 */
export const handleOf = (process: Process): Handle | undefined => handles.get(process)

const makeHandle = (driver: Driver): Handle => {
  const c = driver.options.connection
  const cast = (event: (now: number) => Event) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.ignore(driver.self.cast({ _tag: "Event", event: event(now) })))
  return {
    connectionId: c.id,
    peerDid: c.peerDid,
    direction: c.direction,
    remoteAddress: c.remoteAddress,
    status: () => driver.status,
    watch: (listener) => {
      driver.listeners.add(listener)
      return () => void driver.listeners.delete(listener)
    },
    ready: Deferred.await(driver.readyDeferred),
    closed: Deferred.await(driver.closedDeferred),
    openLane: (family) =>
      Effect.catch(
        driver.self.call<Lane, LaneUnavailable>((reply) => ({ _tag: "OpenLane", family, reply }), { timeoutMs: 10_000 }),
        (error) => error._tag === "LaneUnavailable" ? Effect.fail(error) : Effect.fail(new LaneUnavailable({ family, reason: "closed" }))
      ),
    openSession: () =>
      Effect.catch(
        driver.self.call<Session, SendFailed>((reply) => ({ _tag: "OpenSession", reply }), { timeoutMs: 10_000 }),
        (error) => error._tag === "SendFailed" ? Effect.fail(error) : Effect.fail(new SendFailed({ reason: "connection_lost", detail: error._tag }))
      ),
    onCallStreamReset: (listener) => {
      driver.resetListeners.add(listener)
      return () => void driver.resetListeners.delete(listener)
    },
    openCallStream: () =>
      Effect.catch(
        driver.self.call<CallStream, SendFailed>((reply) => ({ _tag: "OpenCallStream", reply }), { timeoutMs: 10_000 }),
        (error) => error._tag === "SendFailed" ? Effect.fail(error) : Effect.fail(new SendFailed({ reason: "connection_lost", detail: error._tag }))
      ),
    subscribe: (channel, sink) => {
      driver.subscriptions.set(channel, sink)
      return () => {
        if (driver.subscriptions.get(channel) === sink) driver.subscriptions.delete(channel)
      }
    },
    close: (options?: CloseOptions) =>
      cast((now) =>
        Connection.Event.CloseRequested({
          now,
          code: options?.code ?? "normal",
          graceful: options?.graceful ?? true,
          ...(options?.message === undefined ? {} : { message: options.message }),
          ...(options?.afterMs === undefined ? {} : { afterMs: options.afterMs })
        })
      ),
    penalize: (severity, reason) => cast((now) => Connection.Event.Penalized({ now, severity, reason })),
    resync: (what) =>
      Effect.catch(
        driver.self.call<void, SendFailed>((reply) => ({ _tag: "Resync", what, reply }), { timeoutMs: 10_000 }),
        (error) => error._tag === "SendFailed" ? Effect.fail(error) : Effect.fail(new SendFailed({ reason: "connection_lost", detail: error._tag }))
      )
  }
}

/**
 * The actor's behavior for one connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> =>
  Actor.make<Msg, Driver>({
    label: `connection(${options.connection.direction})`,
    mailbox: { capacity: 1_024, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const problems = Connection.Config.problems(options.config)
        if (problems.length > 0) return yield* Effect.die(new Error(`connection config: ${problems.join("; ")}`))
        const driver = new Driver(options)
        driver.self = ctx.self
        driver.scope = yield* Effect.scope
        driver.timers = CoreTimers.make(driver.scope, (fired) => {
          Actor.tellUrgent(driver.self, { _tag: "Event", event: Connection.Event.TimerFired(fired) })
        })
        driver.handle = makeHandle(driver)
        handles.set(ctx.self, driver.handle)
        const connection = options.connection
        // The loss of the connection reaches the core through the priority lane: never dropped.
        yield* driver.fork(Effect.gen(function*() {
          const lost = yield* connection.closed
          const now = yield* Clock.currentTimeMillis
          Actor.tellUrgent(ctx.self, {
            _tag: "Event",
            event: Connection.Event.ConnectionLost({ now, by: lost.by, code: lost.code, message: lost.message })
          })
        }))
        // Streams the peer opens: each gets a reader; the core decides what it is by its first frame.
        yield* driver.fork(Effect.gen(function*() {
          while (true) {
            const accepted = yield* Effect.result(connection.acceptStream)
            if (Result.isFailure(accepted)) return
            yield* driver.adopt(accepted.success)
          }
        }))
        const now = yield* Clock.currentTimeMillis
        yield* driver.feed(Connection.Event.Started({
          now,
          wallNow: now,
          peerPowBits: NodeId.powBits(connection.peerPublicKey),
          ...(options.initialScore === undefined ? {} : { score: options.initialScore })
        }))
        driver.publish({})
        return driver
      }),
    receive: (message, driver) =>
      Effect.gen(function*() {
        switch (message._tag) {
          case "Event":
            yield* driver.feed(message.event)
            break
          case "Inspect": {
            driver.collecting = { stream: message.stream, deliveries: [] }
            for (const frame of message.frames) {
              yield* driver.feed(Connection.Event.FrameReceived({ now: message.now, stream: message.stream, frame }))
            }
            if (message.error !== undefined) {
              yield* driver.feed(Connection.Event.FrameRejected({
                now: message.now,
                stream: message.stream,
                code: message.error.code,
                detail: message.error.detail
              }))
            }
            const deliveries = driver.collecting.deliveries
            driver.collecting = undefined
            message.reply.succeed(deliveries)
            break
          }
          case "OpenLane": {
            const lane = yield* Effect.result(driver.openLane(message.family))
            if (Result.isSuccess(lane)) message.reply.succeed(lane.success)
            else message.reply.fail(lane.failure)
            break
          }
          case "OpenSession": {
            const session = yield* Effect.result(driver.openSession())
            if (Result.isSuccess(session)) message.reply.succeed(session.success)
            else message.reply.fail(session.failure)
            break
          }
          case "Resync": {
            // The core's rule (S→any, once ready) decides; a refusal is the caller's typed error.
            const refused = Connection.Resync.refusal(driver.options.config, driver.core, message.what)
            if (refused === undefined) {
              yield* driver.feed(Connection.Event.ResyncRequested({ now: yield* driver.now(), what: message.what }))
              message.reply.succeed(undefined)
            } else {
              const phase = driver.core.phase
              message.reply.fail(new SendFailed({
                reason: refused.reason === "not_station"
                  ? "wrong_stream"
                  : refused.reason === "invalid_what"
                  ? "invalid_frame"
                  : phase === "closing" || phase === "closed" ? "connection_lost" : "not_ready",
                detail: refused.detail
              }))
            }
            break
          }
          case "OpenCallStream": {
            const opened = yield* Effect.result(driver.openCallStream())
            if (Result.isSuccess(opened)) message.reply.succeed(opened.success)
            else message.reply.fail(opened.failure)
            break
          }
        }
        if (driver.core.phase === "closed") return Actor.stop(ExitReason.normal)
        return driver
      }),
    terminate: (_reason, driver) =>
      Effect.gen(function*() {
        if (driver.core.phase === "closed") return
        // Stopped from outside (node shutdown, the registry): say goodbye, then close.
        const control = driver.core.control === undefined ? undefined : driver.streams.get(driver.core.control)
        if (control !== undefined && driver.core.ending === undefined) {
          yield* Effect.ignore(driver.sendOn(control, { t: "goodbye", c: "going_away" }))
        }
        const code = driver.core.ending?.code ?? "going_away"
        yield* Effect.timeoutOption(driver.options.connection.close(code, "shutting down"), 1_000)
        driver.publish({ ending: driver.status.ending ?? { code, by: "local" } })
        driver.status = { ...driver.status, phase: "closed" }
        Deferred.doneUnsafe(driver.readyDeferred, Effect.fail(driver.closedError()))
        Deferred.doneUnsafe(driver.closedDeferred, Effect.succeed(driver.status))
      })
  })

/**
 * Spawns a connection actor in the current scope; `handleOf(ref)` gives its handle.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<Actor.ActorRef<Msg>, never, Scope.Scope> =>
  Effect.orDie(Actor.spawn(behavior(options))) // unnamed: NameTaken cannot happen

/**
 * Dials `address` over the node's `Transport` (one attempt; see the transport supervisor's
 * `Dialer` for backoff). The connection is authenticated but not yet started: hand it to a
 * connection actor.
 *
 * @since 0.1.0
 * @category dialing
 */
export const dial = (address: string, options?: DialOptions): Effect.Effect<TransportConnection, DialError, Transport> =>
  Effect.flatMap(Effect.service(Transport), (transport) => transport.dial(address, options))

/**
 * This node's DID on the transport.
 *
 * @since 0.1.0
 * @category getters
 */
export const localDid: Effect.Effect<string, never, Transport> = Effect.map(Effect.service(Transport), (t) => t.localDid)

/**
 * Types other modules need from here without importing the transport.
 *
 * @since 0.1.0
 * @category models
 */
export type { DialError, DialOptions, TransportConnection }

/**
 * The handle types, for modules that may import actors but not the protocol folder directly
 * (supervisors).
 *
 * @since 0.1.0
 * @category models
 */
export type { CallStream, Channel, CloseOptions, Handle, Inbound, Lane, Session, Sink, Status }

/**
 * The handle's typed errors.
 *
 * @since 0.1.0
 * @category errors
 */
export { ConnectionClosed, LaneUnavailable, SendFailed }

/**
 * The transport service connections run on (re-exported for supervisors, which import only
 * actors and the runtime).
 *
 * @since 0.1.0
 * @category services
 */
export { Transport as TransportService }

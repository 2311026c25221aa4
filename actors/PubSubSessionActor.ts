/**
 * A client's pub/sub session (PROTOCOL.md §8.2, §8.4–§8.6): drives the `PubSub` session core
 * over the client's current home-station connection.
 *
 * The station link (failover, redial) is not this actor's: the node injects `station`, read
 * every `linkCheckMs` and whenever the current connection closes. A new connection is
 * `LinkUp` (the core replays every subscription, `alo` ones with their resume cursor, then the
 * unanswered publishes); a lost one is `LinkDown`.
 *
 * What it owns: the core's state, its timers, the ordered outbox of the current link (frames
 * on this side's `pubsub` lane), and one handler fiber per subscription at a time (the core
 * hands one event per subscription and waits for `Handled`, which is how a slow handler stops
 * the acknowledgements of an `alo` subscription and pauses the station).
 *
 * The application's side lives in the `Registry` the supervisor holds: subscriptions and
 * their handlers survive a restart of this actor, which replays them into its fresh core
 * (§15.2, SessionRegistry); publishes in flight at a crash are reported failed.
 *
 * Envelopes are signed here (`Publish`) and verified here (`event`): one that fails
 * verification never reaches the core and is counted against the station (§14 row 17).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Did from "../src/identity/Did.ts"
import * as Ed25519 from "../src/identity/Ed25519.ts"
import type { Handle, Inbound, Lane } from "../src/platform/transport/ConnectionHandle.ts"
import { PubSub } from "../src/protocols/pubsub/index.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as Commands from "../src/runtime/Commands.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
import type * as Frame from "../src/wire/Frame.ts"
import * as Signed from "../src/wire/Signed.ts"
import type { EnvelopeBody } from "../src/wire/SignedBody.ts"

/**
 * One subscription the application holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Subscription {
  readonly sid: number
  readonly realm: Frame.Bin32
  readonly pattern: string
  readonly mode: Frame.SubMode
  /** `alo`: the cursor a previous run recorded for this `sid`; the `sub` resumes after it (§8.5). */
  readonly resume?: number
}

/**
 * The application's side of the session, held by the supervisor (it outlives the actor).
 *
 * @since 0.1.0
 * @category models
 */
export interface Registry {
  /** The subscriptions to replay into a fresh core. */
  readonly subscriptions: () => Iterable<Subscription>
  /** Runs `sid`'s handler on one event; completes when the handler is done. */
  readonly deliver: (sid: number, envelope: EnvelopeBody, cur: number | undefined) => Effect.Effect<void>
  /** The core's notices (subscribed, refused, published, gaps). */
  readonly notify: (notice: PubSub.Notice) => void
  /** Called at each start; `restart` after a crash (publishes in flight are lost). */
  readonly started: (restart: boolean) => void
  /**
   * Called before `ack {sid, cur}` goes out; the ack waits until it completes, so a cursor
   * recorded here is never behind the one the station holds (a resume from it replays, never
   * reports a false gap). @default the ack goes out at once
   */
  readonly acknowledging?: (sid: number, cur: number) => Effect.Effect<void>
}

/**
 * The client's capability port for one station connection (PROTOCOL.md §13.4; the node's
 * `ClientCapabilities`): adds `au` to a gated frame when this connection must still present it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Presenter {
  /** `frame`, with `au` when needed; a `pub` names its realm and topic (its frame carries them signed). */
  readonly attach: (frame: Frame.Frame, nowMs: number, pub?: { readonly realm: Frame.Bin32; readonly topic: string }) => Frame.Frame
  /** The station answered frame `id`; a refusal makes the next frame of its scope present again. */
  readonly answered: (id: number, refused: boolean) => void
}

/**
 * What the session is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The node key: signs envelopes; its public key is the publisher key. */
  readonly identity: { readonly publicKey: Uint8Array; readonly sign: (message: Uint8Array) => Uint8Array }
  readonly config: PubSub.Config
  /** The current home-station connection (the node's station link owns it). */
  readonly station: () => Effect.Effect<Handle | undefined>
  readonly registry: Registry
  /** @default strict Ed25519 */
  readonly verify?: Signed.Verify
  /** How often `station` is read. @default 100 */
  readonly linkCheckMs?: number
  /** The 8-byte session id (§8.1). @default drawn at each start */
  readonly sess?: Uint8Array
  /** Given a station's DID, the presenter of a new connection to it. @default none: no `au` */
  readonly capabilities?: (station: string) => Presenter
}

/**
 * The session's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Inbound"; readonly inbound: Inbound }
  | { readonly _tag: "TimerFired"; readonly timer: string; readonly generation: number; readonly now: number }
  | { readonly _tag: "Subscribe"; readonly subscription: Subscription }
  | { readonly _tag: "Unsubscribe"; readonly sid: number }
  | { readonly _tag: "Publish"; readonly ref: number; readonly realm: Frame.Bin32; readonly topic: string; readonly payload: Frame.Any }
  | { readonly _tag: "Handled"; readonly sid: number }
  | { readonly _tag: "CheckLink" }
  | { readonly _tag: "Stats"; readonly reply: Actor.Reply<Stats> }

/**
 * Counters, for tests and status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly counters: PubSub.SessionCounters
  readonly sizes: ReturnType<typeof PubSub.sessionSizes>
  readonly linked: boolean
  readonly linkUps: number
  readonly badEvents: number
}

const randomSess = (): Uint8Array => {
  const bytes = new Uint8Array(8)
  globalThis.crypto.getRandomValues(bytes)
  return bytes
}

/** The core's `Subscribe` fields of an application subscription. */
const subscribeArgs = (s: Subscription) => ({
  sid: s.sid,
  realm: s.realm,
  pattern: s.pattern,
  mode: s.mode,
  ...(s.resume === undefined ? {} : { resume: s.resume })
})

/**
 * Sends frames in order, each on its own (one that fails, say too large for the station, does
 * not take the others with it).
 */
const sendEach = (lane: Lane, frames: ReadonlyArray<Frame.Frame>): Effect.Effect<void> =>
  frames.length === 1
    ? Effect.ignore(lane.send(frames[0]!))
    : Effect.forEach(frames, (frame) => Effect.ignore(lane.send(frame)), { discard: true })

class Driver {
  core!: PubSub.SessionState
  readonly step: ReturnType<typeof PubSub.makeSessionStep>
  timers!: CoreTimers.CoreTimers<string>
  readonly verify: Signed.Verify
  link: {
    readonly handle: Handle
    lane: Lane | undefined
    readonly outbox: Array<Frame.Frame>
    draining: boolean
    /** Per connection: a fail-over or reconnect presents the capabilities again (replays included). */
    readonly presenter: Presenter | undefined
  } | undefined
  linkUps = 0
  badEvents = 0
  /** The clock read of the message being handled. */
  nowMs = 0
  ref!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.step = PubSub.makeSessionStep(options.config)
    this.verify = options.verify ?? Ed25519.verify
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<void> {
    return Effect.asVoid(Effect.forkIn(Effect.ignoreCause(effect), this.scope, { startImmediately: true }))
  }

  tell(message: Msg): void {
    if (this.ref.isAlive()) this.ref.tell(message)
  }

  /** Steps the core when run, then runs its commands in order. */
  feed(event: PubSub.SessionEvent): Effect.Effect<void> {
    return Effect.suspend(() => {
      const [next, commands] = this.step(this.core, event)
      this.core = next
      return Commands.runInOrder(commands, (command) => this.interpret(command))
    })
  }


  interpret(command: PubSub.SessionCommand): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "Send": {
        const frame = command.frame
        const record = driver.options.registry.acknowledging
        if (frame.t !== "ack" || record === undefined) return driver.send(frame)
        return Effect.flatMap(record(frame.sid, frame.cur), () => driver.send(frame))
      }
      case "Publish": {
        const signed = Signed.signEnvelope(command.body, (m) => driver.options.identity.sign(m))
        if (signed instanceof Error) {
          // Unencodable payload: answer the core as the station would, so the caller hears of it.
          return driver.feed(PubSub.SessionEvent.ReplyReceived({
            now: driver.nowMs, frame: { t: "err", id: command.id, c: "bad_request", r: "unencodable_payload" }
          }))
        }
        return driver.send({ t: "pub", id: command.id, b: signed.b, s: signed.s }, { realm: command.body.realm, topic: command.body.topic })
      }
      case "Deliver":
        return driver.fork(Effect.ensuring(
          Effect.ignoreCause(driver.options.registry.deliver(command.sid, command.envelope, command.cur)),
          Effect.sync(() => driver.tell({ _tag: "Handled", sid: command.sid }))
        ))
      case "Notify":
        // Interpreted while the actor runs this step, so it can happen here and now.
        driver.options.registry.notify(command.notice)
        return Effect.void
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
    }
  }

  /**
   * Queues a frame on the current link, with `au` when the link's presenter says so; without a
   * link it is dropped (the core replays on `LinkUp`).
   */
  send(frame: Frame.Frame, pub?: { readonly realm: Frame.Bin32; readonly topic: string }): Effect.Effect<void> {
    const link = this.link
    if (link === undefined) return Effect.void
    link.outbox.push(link.presenter === undefined ? frame : link.presenter.attach(frame, this.nowMs, pub))
    if (link.draining) return Effect.void
    link.draining = true
    return this.fork(Effect.suspend(() => this.drain(link)))
  }

  /** Writes the link's outbox in order (plain `flatMap` steps: it runs per frame), batch by batch. */
  drain(link: NonNullable<Driver["link"]>): Effect.Effect<void> {
    if (link.outbox.length === 0) {
      link.draining = false
      return Effect.void
    }
    const batch = link.outbox.splice(0, link.outbox.length)
    const write = (): Effect.Effect<void> =>
      link.lane === undefined
        ? this.drain(link)
        : Effect.flatMap(sendEach(link.lane, batch), () => this.drain(link))
    if (link.lane !== undefined) return write()
    return Effect.flatMap(Effect.result(link.handle.openLane("pubsub")), (lane) => {
      if (Result.isSuccess(lane)) link.lane = lane.success
      return write()
    })
  }

  /** Compares the injected station with the current link: `LinkDown` / `LinkUp` as needed. */
  checkLink(now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const handle = yield* driver.options.station()
      const ready = handle !== undefined && handle.status().phase === "ready"
      const current = driver.link
      if (current !== undefined && (!ready || handle.connectionId !== current.handle.connectionId ||
        current.handle.status().phase !== "ready")) {
        driver.link = undefined
        yield* driver.feed(PubSub.SessionEvent.LinkDown({ now }))
      }
      if (driver.link !== undefined || !ready) return
      const station = Did.parsePublicKey(handle.peerDid)
      if (!(station instanceof Uint8Array)) return
      driver.link = { handle, lane: undefined, outbox: [], draining: false, presenter: driver.options.capabilities?.(handle.peerDid) }
      driver.linkUps++
      handle.subscribe("pubsub", (inbound) => Effect.sync(() => driver.tell({ _tag: "Inbound", inbound })))
      yield* driver.fork(Effect.flatMap(handle.closed, () => Effect.sync(() => driver.tell({ _tag: "CheckLink" }))))
      yield* driver.feed(PubSub.SessionEvent.LinkUp({ now, station: PubSub.Keys.hex(station) }))
    })
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    if (this.link === undefined || inbound.connectionId !== this.link.handle.connectionId) return Effect.void
    const f = inbound.frame
    switch (f.t) {
      case "event": {
        const envelope = Signed.openEnvelope({ b: f.b, s: f.s }, this.verify)
        if (envelope instanceof Error) {
          this.badEvents++
          return Effect.void
        }
        return this.feed(PubSub.SessionEvent.EventReceived({ now, frame: f, envelope }))
      }
      case "gap":
        return this.feed(PubSub.SessionEvent.GapReceived({ now, frame: f }))
      case "ok":
      case "err":
        if (f.id !== undefined) this.link.presenter?.answered(f.id, f.t === "err")
        return this.feed(PubSub.SessionEvent.ReplyReceived({ now, frame: f }))
      case "resync":
        // The home station's router restarted (§15.2, control stream): the core replays `sub`.
        return this.feed(PubSub.SessionEvent.ResyncReceived({ now, what: f.what }))
      default:
        return Effect.void
    }
  }

  stats(): Stats {
    return {
      counters: { ...this.core.counters },
      sizes: PubSub.sessionSizes(this.core),
      linked: this.link !== undefined,
      linkUps: this.linkUps,
      badEvents: this.badEvents
    }
  }
}

/**
 * The session's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> => {
  let starts = 0
  return Actor.make<Msg, Driver>({
    label: "pubsub-session",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const problems = PubSub.problems(options.config)
        if (problems.length > 0) return yield* Effect.die(new Error(`pubsub config: ${problems.join("; ")}`))
        const driver = new Driver(options)
        driver.ref = ctx.self
        driver.scope = yield* Effect.scope
        driver.timers = CoreTimers.make(driver.scope, (fired) => {
          Actor.tellUrgent(driver.ref, { _tag: "TimerFired", ...fired })
        })
        const now = yield* Clock.currentTimeMillis
        driver.nowMs = now
        // A restarted session is a new publisher session (§8.1): subscribers rebase on it.
        const sess = starts === 0 && options.sess !== undefined ? options.sess : randomSess()
        options.registry.started(starts > 0)
        starts++
        driver.core = PubSub.initialSession(options.config, { pk: options.identity.publicKey, sess })
        for (const sub of options.registry.subscriptions()) {
          yield* driver.feed(PubSub.SessionEvent.Subscribe({ now, ...subscribeArgs(sub) }))
        }
        yield* driver.checkLink(now)
        const every = options.linkCheckMs ?? 100
        yield* Effect.forkIn(
          Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => void ctx.self.tell({ _tag: "CheckLink" })))),
          driver.scope,
          { startImmediately: true }
        )
        return driver
      }),
    // Plain `flatMap` steps, not a generator: this runs for every message.
    receive: (message, driver) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        driver.nowMs = now
        const handled = ((): Effect.Effect<void> => {
          switch (message._tag) {
            case "Inbound":
              return driver.onInbound(message.inbound, now)
            case "TimerFired":
              return driver.feed(PubSub.SessionEvent.TimerFired({ now: message.now, timer: message.timer, generation: message.generation }))
            case "Subscribe": {
              return driver.feed(PubSub.SessionEvent.Subscribe({ now, ...subscribeArgs(message.subscription) }))
            }
            case "Unsubscribe":
              return driver.feed(PubSub.SessionEvent.Unsubscribe({ now, sid: message.sid }))
            case "Publish":
              return driver.feed(PubSub.SessionEvent.Publish({
                now, wall: now, ref: message.ref, realm: message.realm, topic: message.topic, payload: message.payload
              }))
            case "Handled":
              return driver.feed(PubSub.SessionEvent.Handled({ now, sid: message.sid }))
            case "CheckLink":
              return driver.checkLink(now)
            case "Stats":
              message.reply.succeed(driver.stats())
              return Effect.void
          }
        })()
        return handled === Effect.void ? Effect.succeed(driver) : Effect.as(handled, driver)
      })
  })
}

/**
 * Asks a running session for its counters.
 *
 * @since 0.1.0
 * @category getters
 */
export const stats = (ref: Actor.ActorRef<Msg> | undefined): Effect.Effect<Stats | undefined> =>
  ref === undefined
    ? Effect.succeed(undefined)
    : Effect.orElseSucceed(ref.call<Stats>((reply) => ({ _tag: "Stats", reply }), { timeoutMs: 5_000 }), () => undefined)

export { PubSub }

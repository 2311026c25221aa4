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
import type { Handle, Inbound, Lane } from "../src/protocols/connection/Handle.ts"
import { PubSub } from "../src/protocols/pubsub/index.ts"
import * as Actor from "../src/runtime/Actor.ts"
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

class Driver {
  core!: PubSub.SessionState
  readonly step: ReturnType<typeof PubSub.makeSessionStep>
  timers!: CoreTimers.CoreTimers<string>
  readonly verify: Signed.Verify
  link: { readonly handle: Handle; lane: Lane | undefined; readonly outbox: Array<Frame.Frame>; draining: boolean } | undefined
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

  feed(event: PubSub.SessionEvent): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const [next, commands] = driver.step(driver.core, event)
      driver.core = next
      for (const command of commands) yield* driver.interpret(command)
    })
  }

  interpret(command: PubSub.SessionCommand): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "Send":
        return driver.send(command.frame)
      case "Publish": {
        const signed = Signed.signEnvelope(command.body, (m) => driver.options.identity.sign(m))
        if (signed instanceof Error) {
          // Unencodable payload: answer the core as the station would, so the caller hears of it.
          return driver.feed(PubSub.SessionEvent.ReplyReceived({
            now: driver.nowMs, frame: { t: "err", id: command.id, c: "bad_request", r: "unencodable_payload" }
          }))
        }
        return driver.send({ t: "pub", id: command.id, b: signed.b, s: signed.s })
      }
      case "Deliver":
        return driver.fork(Effect.ensuring(
          Effect.ignoreCause(driver.options.registry.deliver(command.sid, command.envelope, command.cur)),
          Effect.sync(() => driver.tell({ _tag: "Handled", sid: command.sid }))
        ))
      case "Notify":
        return Effect.sync(() => driver.options.registry.notify(command.notice))
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
    }
  }

  /** Queues a frame on the current link; without one it is dropped (the core replays on `LinkUp`). */
  send(frame: Frame.Frame): Effect.Effect<void> {
    const link = this.link
    if (link === undefined) return Effect.void
    link.outbox.push(frame)
    if (link.draining) return Effect.void
    link.draining = true
    return this.fork(Effect.gen(function*() {
      while (link.outbox.length > 0) {
        const next = link.outbox.shift()!
        if (link.lane === undefined) {
          const lane = yield* Effect.result(link.handle.openLane("pubsub"))
          if (Result.isSuccess(lane)) link.lane = lane.success
        }
        if (link.lane !== undefined) yield* Effect.ignore(link.lane.send(next))
      }
      link.draining = false
    }))
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
      driver.link = { handle, lane: undefined, outbox: [], draining: false }
      driver.linkUps++
      handle.subscribe("pubsub", (inbound) => Effect.sync(() => driver.tell({ _tag: "Inbound", inbound })))
      yield* driver.fork(Effect.flatMap(handle.closed, () => Effect.sync(() => driver.tell({ _tag: "CheckLink" }))))
      yield* driver.feed(PubSub.SessionEvent.LinkUp({ now, station: PubSub.Keys.hex(station) }))
    })
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      if (driver.link === undefined || inbound.connectionId !== driver.link.handle.connectionId) return
      const f = inbound.frame
      switch (f.t) {
        case "event": {
          const envelope = Signed.openEnvelope({ b: f.b, s: f.s }, driver.verify)
          if (envelope instanceof Error) {
            driver.badEvents++
            return
          }
          return yield* driver.feed(PubSub.SessionEvent.EventReceived({ now, frame: f, envelope }))
        }
        case "gap":
          return yield* driver.feed(PubSub.SessionEvent.GapReceived({ now, frame: f }))
        case "ok":
        case "err":
          return yield* driver.feed(PubSub.SessionEvent.ReplyReceived({ now, frame: f }))
        default:
          return
      }
    })
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
          yield* driver.feed(PubSub.SessionEvent.Subscribe({ now, sid: sub.sid, realm: sub.realm, pattern: sub.pattern, mode: sub.mode }))
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
    receive: (message, driver) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        driver.nowMs = now
        switch (message._tag) {
          case "Inbound":
            yield* driver.onInbound(message.inbound, now)
            break
          case "TimerFired":
            yield* driver.feed(PubSub.SessionEvent.TimerFired({ now: message.now, timer: message.timer, generation: message.generation }))
            break
          case "Subscribe": {
            const s = message.subscription
            yield* driver.feed(PubSub.SessionEvent.Subscribe({ now, sid: s.sid, realm: s.realm, pattern: s.pattern, mode: s.mode }))
            break
          }
          case "Unsubscribe":
            yield* driver.feed(PubSub.SessionEvent.Unsubscribe({ now, sid: message.sid }))
            break
          case "Publish":
            yield* driver.feed(PubSub.SessionEvent.Publish({
              now, wall: now, ref: message.ref, realm: message.realm, topic: message.topic, payload: message.payload
            }))
            break
          case "Handled":
            yield* driver.feed(PubSub.SessionEvent.Handled({ now, sid: message.sid }))
            break
          case "CheckLink":
            yield* driver.checkLink(now)
            break
          case "Stats":
            message.reply.succeed(driver.stats())
            break
        }
        return driver
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

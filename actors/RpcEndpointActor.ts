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
 * Not driven yet: streaming calls (§9.5); the connection handle opens no call streams, so
 * stream commands are dropped and counted.
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
import type { Handle, Inbound, Lane } from "../src/protocols/connection/Handle.ts"
import * as Records from "../src/protocols/dht/Records.ts"
import { hex } from "../src/protocols/rpc/Keys.ts"
import { Rpc } from "../src/protocols/rpc/index.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
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
  }
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
}

const platformSha256 = (bytes: Uint8Array): Uint8Array => Uint8Array.from(createHash("sha256").update(bytes).digest())

const failureOf = (error: unknown): { message?: string; data?: Frame.Any } => {
  if (typeof error === "object" && error !== null) {
    const out: { message?: string; data?: Frame.Any } = {}
    if ("message" in error && typeof error.message === "string") out.message = error.message.slice(0, 256)
    if ("data" in error && error.data !== undefined) out.data = error.data as Frame.Any
    return out
  }
  return error === undefined ? {} : { message: String(error).slice(0, 256) }
}

class Driver {
  core!: Rpc.EndpointState
  readonly step: ReturnType<typeof Rpc.makeEndpointStep>
  timers!: CoreTimers.CoreTimers<string>
  readonly running = new Map<number, Fiber.Fiber<unknown, unknown>>()
  readonly sha256: (bytes: Uint8Array) => Uint8Array
  link: { readonly handle: Handle; readonly station: Uint8Array; lane: Lane | undefined; readonly outbox: Array<Frame.Frame>; draining: boolean } | undefined
  linkUps = 0
  handlersRun = 0
  streamFramesDropped = 0
  nowMs = 0
  ref!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.step = Rpc.makeEndpointStep(options.config)
    this.sha256 = options.sha256 ?? platformSha256
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<void> {
    return Effect.asVoid(Effect.forkIn(Effect.ignoreCause(effect), this.scope, { startImmediately: true }))
  }

  tell(message: Msg): void {
    if (this.ref.isAlive()) this.ref.tell(message)
  }

  feed(event: Rpc.EndpointEvent): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const [next, commands] = driver.step(driver.core, event)
      driver.core = next
      for (const command of commands) yield* driver.interpret(command)
    })
  }

  interpret(command: Rpc.EndpointCommand): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "Send":
        if (command.stream !== undefined) {
          driver.streamFramesDropped++
          return Effect.void
        }
        return driver.send(command.frame)
      case "SignAdvertisement":
        return driver.signAndSend(command.id, command.draft)
      case "RunHandler": {
        const handler = driver.options.registry.handlerOf(command.proc)
        const caller = command.from === undefined ? undefined : Did.fromPublicKeyUnsafe(command.from)
        const run: Effect.Effect<Frame.Any, unknown> = handler === undefined
          ? Effect.fail({ message: "no handler" })
          : Effect.suspend(() => handler(command.args, { caller, procedure: command.proc }))
        driver.handlersRun++
        return Effect.gen(function*() {
          const fiber = yield* Effect.forkIn(
            Effect.onExit(run, (exit) =>
              Effect.sync(() => {
                driver.running.delete(command.id)
                if (!Exit.hasInterrupts(exit)) driver.tell({ _tag: "HandlerDone", id: command.id, exit })
              })),
            driver.scope,
            { startImmediately: true }
          )
          if (fiber.pollUnsafe() === undefined) driver.running.set(command.id, fiber)
        })
      }
      case "AbortHandler": {
        const fiber = driver.running.get(command.id)
        if (fiber === undefined) return Effect.void
        driver.running.delete(command.id)
        return driver.fork(Fiber.interrupt(fiber))
      }
      case "StreamMessage":
      case "StreamEnded":
        driver.streamFramesDropped++
        return Effect.void
      case "Complete":
        return Effect.sync(() => driver.options.registry.complete(command.ref, command.outcome))
      case "Notify":
        return Effect.sync(() => driver.options.registry.notify(command.notice))
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
    }
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
          const lane = yield* Effect.result(link.handle.openLane("rpc"))
          if (Result.isSuccess(lane)) link.lane = lane.success
        }
        if (link.lane !== undefined) yield* Effect.ignore(link.lane.send(next))
      }
      link.draining = false
    }))
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
        yield* driver.feed(Rpc.EndpointEvent.LinkDown({ now }))
      }
      if (driver.link !== undefined || !ready) return
      const station = Did.parsePublicKey(handle.peerDid)
      if (!(station instanceof Uint8Array)) return
      driver.link = { handle, station, lane: undefined, outbox: [], draining: false }
      driver.linkUps++
      handle.subscribe("rpc", (inbound) => Effect.sync(() => driver.tell({ _tag: "Inbound", inbound })))
      yield* driver.fork(Effect.flatMap(handle.closed, () => Effect.sync(() => driver.tell({ _tag: "CheckLink" }))))
      yield* driver.feed(Rpc.EndpointEvent.LinkUp({ now, wall: now, station: hex(station) }))
    })
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      if (driver.link === undefined || inbound.connectionId !== driver.link.handle.connectionId) return
      const f = inbound.frame
      switch (f.t) {
        case "reply":
          return yield* driver.feed(Rpc.EndpointEvent.ReplyReceived({ now, frame: f }))
        case "ok":
        case "err":
          return yield* driver.feed(Rpc.EndpointEvent.AnswerReceived({ now, frame: f }))
        case "call":
          return yield* driver.feed(Rpc.EndpointEvent.CallReceived({ now, frame: f }))
        case "cancel":
          return yield* driver.feed(Rpc.EndpointEvent.CancelReceived({ now, id: f.id }))
        default:
          return
      }
    })
  }

  stats(): Stats {
    return {
      counters: { ...this.core.counters },
      sizes: Rpc.endpointSizes(this.core),
      linked: this.link !== undefined,
      linkUps: this.linkUps,
      handlersRun: this.handlersRun,
      streamFramesDropped: this.streamFramesDropped
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
          yield* driver.feed(Rpc.EndpointEvent.Advertise({ now, wall: now, ref: ad.ref, realm: ad.realm, proc: ad.proc, modes: ["unary"], req: false }))
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
            yield* driver.feed(Rpc.EndpointEvent.TimerFired({ now: message.now, timer: message.timer, generation: message.generation }))
            break
          case "Call":
            yield* driver.feed(Rpc.EndpointEvent.Call({
              now, ref: message.ref, realm: message.realm, proc: message.proc, args: message.args, idempotent: message.idempotent,
              ...(message.timeoutMs === undefined ? {} : { timeoutMs: message.timeoutMs })
            }))
            break
          case "CancelCall":
            yield* driver.feed(Rpc.EndpointEvent.CancelCall({ now, ref: message.ref }))
            break
          case "Advertise": {
            const ad = message.advertisement
            yield* driver.feed(Rpc.EndpointEvent.Advertise({ now, wall: now, ref: ad.ref, realm: ad.realm, proc: ad.proc, modes: ["unary"], req: false }))
            break
          }
          case "Unadvertise": {
            const ad = message.advertisement
            yield* driver.feed(Rpc.EndpointEvent.Unadvertise({ now, wall: now, ref: ad.ref, realm: ad.realm, proc: ad.proc }))
            break
          }
          case "HandlerDone":
            if (Exit.isSuccess(message.exit)) {
              yield* driver.feed(Rpc.EndpointEvent.HandlerReturned({ now, id: message.id, result: message.exit.value }))
            } else {
              const failure = Cause.squash(message.exit.cause)
              yield* driver.feed(Rpc.EndpointEvent.HandlerFailed({ now, id: message.id, ...failureOf(failure) }))
            }
            break
          case "CheckLink":
            yield* driver.checkLink(now)
            break
          case "Stats":
            message.reply.succeed(driver.stats())
            break
        }
        return driver
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

/**
 * Actors: a process with private state, a bounded mailbox and three callbacks, as OTP's
 * `gen_server`.
 *
 * - `init(self)` builds the state. It runs inside `spawn`, so `spawn` succeeds only once
 *   the actor is ready, and fails with `init`'s error otherwise. Resources acquired in `init`
 *   (anything needing `Scope`) belong to the actor and are released whenever it exits.
 * - `receive(message, state, self)` handles one message at a time and returns the next
 *   state, or `Actor.stop(reason)` to exit. A failure or defect crashes the actor.
 * - `terminate(reason, state, self)` runs once on every exit after a successful `init`
 *   (crash, stop, shutdown, kill), before the actor's resources are released.
 *
 * `cast` enqueues and never waits for the message to be handled; `call` sends a message
 * that carries a reply channel (`Reply`) and waits for the answer with a timeout. Every
 * pending call fails at once with `ActorExited` when the callee exits, whatever the reason.
 *
 * Links, monitors and trapped exits follow OTP: `self.link(p)` ties two lifetimes (an
 * abnormal exit kills the other side unless it traps exits), `self.monitor(p, toMessage)`
 * delivers one message when `p` exits, and an actor with `trapExit` receives exit signals
 * as ordinary messages instead of dying. Exit signals and monitor messages use a priority
 * lane of the mailbox and are never dropped by the overflow policy.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { ActorExited, CallTimeout, MailboxFull } from "./Errors.ts"
import type { NameTaken } from "./Errors.ts"
import * as ExitReason from "./ExitReason.ts"
import * as Mailbox from "./Mailbox.ts"
import type { Pid, Process } from "./Process.ts"
import { nextPid } from "./Process.ts"
import * as Registry from "./Registry.ts"

/**
 * An exit signal from a linked process (or from `process.exit(reason)`), delivered as a
 * message to actors that trap exits.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitSignal {
  readonly from: Process
  readonly reason: ExitReason.ExitReason
}

/**
 * Returned by `receive` to exit with `reason` after this message.
 *
 * @since 0.1.0
 * @category models
 */
export class Stop {
  readonly _tag = "Stop"
  constructor(readonly reason: ExitReason.ExitReason) {}
}

/**
 * Exit after this message (default reason `Normal`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const stop = (reason: ExitReason.ExitReason = ExitReason.normal): Stop => new Stop(reason)

/**
 * The reply channel carried by a `call` message. Reply once; later replies, and replies to a
 * caller that timed out, are ignored.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply<A, E = never> {
  readonly succeed: (value: A) => void
  readonly fail: (error: E) => void
  /** Whether a reply (or the caller's timeout or the actor's exit) already settled the call. */
  readonly isDone: () => boolean
}

/**
 * A handle on a live actor.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActorRef<Msg> extends Process {
  /**
   * Enqueues `message` and returns without waiting for it to be handled. It fails with
   * `MailboxFull` only under the `fail` policy; under `suspend` it waits for room; a message
   * to an exited actor, or one dropped by a drop policy, is counted and dropped (as OTP).
   */
  readonly cast: (message: Msg) => Effect.Effect<void, MailboxFull>
  /**
   * Synchronous `cast` for callbacks outside Effect: `true` if the message was accepted.
   * Under `suspend` a full mailbox answers `false` instead of waiting.
   */
  readonly tell: (message: Msg) => boolean
  /**
   * Sends the message built by `make` around a fresh reply channel and waits for the reply.
   * Fails with `CallTimeout` after `timeoutMs` (default 5 000; `Infinity` waits forever), with
   * `ActorExited` as soon as the callee exits without replying, or with the error the callee
   * passed to `reply.fail`.
   */
  readonly call: <A, E = never>(
    make: (reply: Reply<A, E>) => Msg,
    options?: { readonly timeoutMs?: number }
  ) => Effect.Effect<A, E | CallTimeout | ActorExited | MailboxFull>
  /** Mailbox counters: waiting messages and messages dropped so far. */
  readonly stats: () => { readonly queued: number; readonly dropped: number; readonly capacity: number }
}

/**
 * What `receive`, `init` and `terminate` get besides the message and state.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActorContext<Msg> {
  /** The actor's own ref. */
  readonly self: ActorRef<Msg>
  /** Links to `other`: when either exits abnormally the other receives an exit signal. */
  readonly link: (other: Process) => Effect.Effect<void>
  /** Removes a link. */
  readonly unlink: (other: Process) => Effect.Effect<void>
  /** Delivers `toMessage(reason)` to this actor (priority lane) once `other` exits; returns a cancel effect. */
  readonly monitor: (
    other: Process,
    toMessage: (reason: ExitReason.ExitReason, other: Process) => Msg
  ) => Effect.Effect<Effect.Effect<void>>
}

/**
 * An actor definition. `R` is the services its callbacks need; `E` what `init` and
 * `receive` may fail with (a failure in `receive` crashes the actor).
 *
 * @since 0.1.0
 * @category models
 */
export interface Behavior<Msg, S, E = never, R = never> {
  /** Builds the initial state; may acquire resources (they live as long as the actor). */
  readonly init: (self: ActorContext<Msg>) => Effect.Effect<S, E, R | Scope.Scope>
  /** Handles one message; returns the next state or `Actor.stop(reason)`. */
  readonly receive: (message: Msg, state: S, self: ActorContext<Msg>) => Effect.Effect<S | Stop, E, R>
  /** Runs once on exit after a successful `init`; its failures are ignored. */
  readonly terminate?: (reason: ExitReason.ExitReason, state: S, self: ActorContext<Msg>) => Effect.Effect<void, never, R>
  /** Mailbox capacity and overflow policy. @default { capacity: 1_024, overflow: "suspend" } */
  readonly mailbox?: Mailbox.MailboxOptions
  /** When set, the actor traps exits: signals arrive as `trapExit(signal)` messages instead of killing it. */
  readonly trapExit?: (signal: ExitSignal) => Msg
  /** Shown in trees and logs when the actor has no registered name. @default "actor" */
  readonly label?: string
}

/**
 * Options for one `spawn`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SpawnOptions {
  /** Registers the actor under this unique name until it exits (fails with `NameTaken` otherwise). */
  readonly name?: string
}

/**
 * Identity helper that infers a behavior's types.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Msg, S, E = never, R = never>(behavior: Behavior<Msg, S, E, R>): Behavior<Msg, S, E, R> =>
  behavior

/** What a run returns when the mailbox is empty and the actor goes to sleep. */
const Idle: unique symbol = Symbol.for("macula/runtime/Actor/Idle")
const succeedIdle: Effect.Effect<typeof Idle> = Effect.succeed(Idle)

class ReplyImpl<A, E> implements Reply<A, E> {
  constructor(readonly deferred: Deferred.Deferred<A, E | ActorExited>, readonly cell: Cell<any, any>) {}
  done = false
  succeed(value: A): void {
    this.settle(Exit.succeed(value))
  }
  fail(error: E): void {
    this.settle(Exit.fail(error))
  }
  isDone(): boolean {
    return this.done
  }
  settle(exit: Exit.Exit<A, E | ActorExited>): void {
    if (this.done) return
    this.done = true
    this.cell.pending?.delete(this)
    Deferred.doneUnsafe(this.deferred, exit)
  }
}

/**
 * The mutable heart of one actor. Exposed to users only as `ActorRef` and `ActorContext`.
 *
 * Methods live on the prototype and optional parts (pending calls, watchers, links) are
 * created on first use: an idle actor is a handful of fields, which is what lets a node
 * hold hundreds of thousands of them.
 */
class Cell<Msg, S> implements ActorRef<Msg>, ActorContext<Msg>, Mailbox.Owner {
  readonly pid: Pid = nextPid()
  readonly kind: "worker" | "supervisor"
  /** The registered name, if any (the label otherwise derives from the behavior's). */
  name: string | undefined = undefined
  readonly mailbox: Mailbox.Mailbox<Msg>
  /**
   * The fiber draining the mailbox, while there is work. An idle actor has no fiber at all:
   * a message wakes it and a fiber runs until the mailbox is empty again.
   */
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Counts runs, so a finished run never clears the fiber of a newer one. */
  runs = 0
  /** The services `receive` and `terminate` run with, captured at spawn. */
  context: Context.Context<any> = Context.empty() as Context.Context<any>
  /** The latest state, for `terminate`. */
  state: S | undefined = undefined
  initialised = false
  /** Set by `stop`/`exit`/links before interrupting, so the interruption maps to that reason. */
  requested: ExitReason.ExitReason | undefined = undefined
  reason: ExitReason.ExitReason | undefined = undefined
  exiting = false
  pending: Set<ReplyImpl<any, any>> | undefined = undefined
  watchers: Set<(reason: ExitReason.ExitReason) => void> | undefined = undefined
  links: Map<Process, () => void> | undefined = undefined
  /** Continues the loop with the state `receive` returned (one closure per actor, not per message). */
  private readonly proceed: (next: S | Stop) => Effect.Effect<ExitReason.ExitReason | typeof Idle, unknown, any>

  constructor(
    readonly behavior: Behavior<Msg, S, any, any>,
    readonly scope: Scope.Closeable,
    kind: "worker" | "supervisor"
  ) {
    const options = behavior.mailbox
    this.mailbox = new Mailbox.Mailbox(
      options?.capacity ?? Mailbox.defaults.capacity,
      options?.overflow ?? Mailbox.defaults.overflow
    )
    this.kind = kind
    this.proceed = (next) => {
      if (next instanceof Stop) return Effect.succeed(next.reason)
      this.state = next
      return this.run(next)
    }
  }

  get label(): string {
    return this.name ?? `${this.behavior.label ?? "actor"}#${this.pid}`
  }

  get self(): ActorRef<Msg> {
    return this
  }

  // --- Process ---------------------------------------------------------------------------

  isAlive(): boolean {
    return this.reason === undefined && !this.exiting
  }

  exitReason(): ExitReason.ExitReason | undefined {
    return this.reason
  }

  watchUnsafe(onExit: (reason: ExitReason.ExitReason) => void): () => void {
    if (this.reason !== undefined) {
      onExit(this.reason)
      return () => {}
    }
    const watchers = (this.watchers ??= new Set())
    const entry = (reason: ExitReason.ExitReason) => onExit(reason)
    watchers.add(entry)
    return () => void watchers.delete(entry)
  }

  get await(): Effect.Effect<ExitReason.ExitReason> {
    return Effect.callback<ExitReason.ExitReason>((resume) => {
      const cancel = this.watchUnsafe((reason) => resume(Effect.succeed(reason)))
      return Effect.sync(cancel)
    })
  }

  stop(reason: ExitReason.ExitReason = ExitReason.shutdown): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.reason !== undefined) return Effect.void
      this.kill(reason)
      return Effect.asVoid(this.await)
    })
  }

  exit(reason: ExitReason.ExitReason): Effect.Effect<void> {
    return Effect.sync(() => this.signal(reason, undefined))
  }

  /** Stops the actor so that the exit reads as `reason`: interrupts a busy one, finishes an idle one. Does not wait. */
  kill(reason: ExitReason.ExitReason): void {
    if (this.reason !== undefined || this.exiting) return
    this.requested ??= reason
    if (!this.initialised) return // spawn finishes it once init is done
    if (this.fiber !== undefined) this.fiber.interruptUnsafe()
    else this.fiber = Effect.runForkWith(this.context)(this.finish(this.requested))
  }

  /** An exit signal from `from` (a link) or from `exit(reason)` when `from` is undefined. */
  signal(reason: ExitReason.ExitReason, from: Process | undefined): void {
    if (this.reason !== undefined || this.exiting) return
    const trapExit = this.behavior.trapExit
    if (trapExit !== undefined && reason._tag !== "Killed") {
      this.mailbox.offerSystem(trapExit({ from: from ?? this, reason }))
    } else if (reason._tag !== "Normal") {
      this.kill(reason)
    }
  }

  // --- messaging ---------------------------------------------------------------------------

  tell(message: Msg): boolean {
    return this.mailbox.offer(message) === "accepted"
  }

  cast(message: Msg): Effect.Effect<void, MailboxFull> {
    return Effect.suspend(() => {
      switch (this.mailbox.offer(message)) {
        case "full":
          return Effect.fail(new MailboxFull({ actor: this.label, capacity: this.mailbox.capacity }))
        case "wait":
          return Effect.asVoid(this.mailbox.offerWaiting(message))
        default:
          return Effect.void
      }
    })
  }

  call<A, E = never>(
    make: (reply: Reply<A, E>) => Msg,
    options?: { readonly timeoutMs?: number }
  ): Effect.Effect<A, E | CallTimeout | ActorExited | MailboxFull> {
    return Effect.suspend((): Effect.Effect<A, E | CallTimeout | ActorExited | MailboxFull> => {
      if (this.reason !== undefined || this.exiting) {
        return Effect.fail(new ActorExited({ actor: this.label, reason: this.reason ?? ExitReason.shutdown }))
      }
      const deferred = Deferred.makeUnsafe<A, E | ActorExited>()
      const reply = new ReplyImpl<A, E>(deferred, this)
      ;(this.pending ??= new Set()).add(reply)
      const message = make(reply)
      const offered = this.mailbox.offer(message, true)
      if (offered === "full") {
        reply.done = true
        this.pending.delete(reply)
        return Effect.fail(new MailboxFull({ actor: this.label, capacity: this.mailbox.capacity }))
      }
      if (offered === "dropped" || offered === "closed") {
        // Never handled: fail at once rather than waiting out the timeout.
        reply.settle(Exit.fail(new ActorExited({ actor: this.label, reason: this.reason ?? ExitReason.shutdown })))
      }
      const waitReply = offered === "wait"
        ? Effect.flatMap(this.mailbox.offerWaiting(message), () => Deferred.await(deferred))
        : Deferred.await(deferred)
      const timeoutMs = options?.timeoutMs ?? 5_000
      const bounded = timeoutMs === Infinity
        ? waitReply
        : Effect.timeoutOrElse(waitReply, {
          duration: timeoutMs,
          orElse: () => {
            reply.done = true
            this.pending?.delete(reply)
            return Effect.fail(new CallTimeout({ actor: this.label, timeoutMs }))
          }
        })
      return Effect.onInterrupt(bounded, () =>
        Effect.sync(() => {
          reply.done = true
          this.pending?.delete(reply)
        }))
    })
  }

  stats(): { readonly queued: number; readonly dropped: number; readonly capacity: number } {
    return { queued: this.mailbox.size, dropped: this.mailbox.dropped, capacity: this.mailbox.capacity }
  }

  // --- ActorContext ------------------------------------------------------------------------

  link(other: Process): Effect.Effect<void> {
    return Effect.sync(() => {
      if (other === this || this.links?.has(other)) return
      if (!other.isAlive()) {
        // OTP: linking to a dead process delivers an exit signal (noproc) at once.
        this.signal(other.exitReason() ?? ExitReason.killed, other)
        return
      }
      const unwatchOther = other.watchUnsafe((reason) => {
        this.links?.delete(other)
        this.signal(reason, other)
      })
      ;(this.links ??= new Map()).set(other, unwatchOther)
      if (other instanceof Cell) {
        const unwatchSelf = this.watchUnsafe((reason) => {
          other.links?.delete(this)
          other.signal(reason, this)
        })
        ;(other.links ??= new Map()).set(this, unwatchSelf)
      }
    })
  }

  unlink(other: Process): Effect.Effect<void> {
    return Effect.sync(() => {
      this.links?.get(other)?.()
      this.links?.delete(other)
      if (other instanceof Cell) {
        other.links?.get(this)?.()
        other.links?.delete(this)
      }
    })
  }

  monitor(
    other: Process,
    toMessage: (reason: ExitReason.ExitReason, other: Process) => Msg
  ): Effect.Effect<Effect.Effect<void>> {
    return Effect.sync(() => {
      const cancel = other.watchUnsafe((reason) => void this.mailbox.offerSystem(toMessage(reason, other)))
      return Effect.sync(cancel)
    })
  }

  // --- the loop --------------------------------------------------------------------------

  /** A message arrived for the sleeping actor: start a fiber that drains the mailbox. */
  wake(): void {
    if (this.fiber !== undefined || this.exiting || this.reason !== undefined) return
    const run = ++this.runs
    Effect.runForkWith(this.context)(
      Effect.onExit(
        // The fiber is known before any message is handled, so a kill from `receive` finds it.
        Effect.withFiber((fiber) => {
          this.fiber = fiber
          return this.run(this.state as S)
        }),
        (exit) => {
          if (Exit.isSuccess(exit) && exit.value === Idle) {
            if (this.runs === run) this.fiber = undefined
            // A kill that landed while this run was going to sleep finishes the actor now.
            if (this.requested !== undefined && this.fiber === undefined) this.kill(this.requested)
            // Between finding the mailbox empty and getting here the fiber may have yielded to
            // the scheduler (its operation budget ran out); a message that arrived meanwhile
            // found it still set and could not wake it. Look again, or it waits for ever.
            else if (this.fiber === undefined && !this.mailbox.isEmpty) this.wake()
            return Effect.void
          }
          return this.finish(this.reasonOf(exit as Exit.Exit<ExitReason.ExitReason, unknown>))
        }
      )
    )
  }

  /**
   * Handles every waiting message, then goes to sleep (`Idle`). Written as a chain of
   * `flatMap`s rather than a generator: a generator costs every actor its own iterator objects.
   */
  run(state: S): Effect.Effect<ExitReason.ExitReason | typeof Idle, unknown, any> {
    const message = this.mailbox.poll()
    if (message === Mailbox.EMPTY) {
      this.mailbox.sleep(this)
      return succeedIdle
    }
    return Effect.flatMap(this.behavior.receive(message, state, this), this.proceed)
  }

  /** Maps how the loop's fiber ended to an exit reason. */
  reasonOf(exit: Exit.Exit<ExitReason.ExitReason, unknown>): ExitReason.ExitReason {
    if (Exit.isSuccess(exit)) return exit.value === (Idle as unknown) ? (this.requested ?? ExitReason.killed) : exit.value
    if (Cause.hasInterruptsOnly(exit.cause)) return this.requested ?? ExitReason.killed
    return ExitReason.ExitReason.Failure({ cause: exit.cause })
  }

  /**
   * Everything that happens on exit, in order: pending calls fail, `terminate` runs, the
   * actor's resources are released, then watchers (monitors, links, supervisors, the
   * registry) learn the reason.
   */
  finish(reason: ExitReason.ExitReason): Effect.Effect<void, never, any> {
    return Effect.suspend(() => {
      this.exiting = true
      this.mailbox.close()
      const pending = this.pending
      this.pending = undefined
      if (pending !== undefined && pending.size > 0) {
        const failure = Exit.fail(new ActorExited({ actor: this.label, reason }))
        for (const reply of pending) reply.settle(failure)
      }
      const terminate = this.behavior.terminate
      const runTerminate = terminate !== undefined && this.initialised
        ? Effect.exit(terminate(reason, this.state as S, this))
        : Effect.void
      return Effect.flatMap(runTerminate, () => Scope.close(this.scope, Exit.void))
    }).pipe(
      Effect.ensuring(Effect.sync(() => {
        this.reason = reason
        this.exiting = false
        const watchers = this.watchers
        this.watchers = undefined
        this.links = undefined
        if (watchers !== undefined) for (const watcher of watchers) watcher(reason)
      }))
    )
  }
}

/**
 * Starts an actor and waits until its `init` succeeded. The actor lives until it stops, crashes
 * or the caller's `Scope` closes (which stops it: `terminate`, then its resources).
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawn = <Msg, S, E, R>(
  behavior: Behavior<Msg, S, E, R>,
  options?: SpawnOptions
): Effect.Effect<ActorRef<Msg>, E | NameTaken, R | Scope.Scope> => spawnAs(behavior, "worker", options)

/**
 * `spawn` for runtime-internal process kinds (supervisors are actors too).
 *
 * @since 0.1.0
 * @category internals
 */
export const spawnAs = <Msg, S, E, R>(
  behavior: Behavior<Msg, S, E, R>,
  kind: "worker" | "supervisor",
  options?: SpawnOptions
): Effect.Effect<ActorRef<Msg>, E | NameTaken, R | Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const parent = yield* Effect.scope
      const scope = Scope.forkUnsafe(parent, "sequential")
      const cell = new Cell<Msg, S>(behavior, scope, kind)
      if (options?.name !== undefined) {
        const registry = yield* Registry.CurrentRegistry
        const taken = registry.registerUnsafe(options.name, cell)
        if (taken !== undefined) {
          yield* Scope.close(scope, Exit.void)
          return yield* Effect.fail(taken)
        }
        cell.name = options.name
      }
      const initExit = yield* Effect.exit(restore(Scope.provide(behavior.init(cell), scope)))
      if (Exit.isFailure(initExit)) {
        // No loop ever ran: release what init acquired and report the failure to the spawner.
        yield* cell.finish(cell.reasonOf(initExit as Exit.Exit<never, unknown>))
        return yield* Effect.failCause(initExit.cause)
      }
      cell.state = initExit.value
      cell.initialised = true
      cell.context = yield* Effect.context<any>()
      // Closing the owner's scope stops the actor first (terminate), then releases its resources.
      yield* Scope.addFinalizer(scope, Effect.suspend(() => (cell.exiting || cell.reason !== undefined)
        ? Effect.void
        : cell.stop(ExitReason.shutdown)))
      if (cell.requested !== undefined) cell.kill(cell.requested)
      else if (cell.mailbox.isEmpty) cell.mailbox.sleep(cell)
      else cell.wake() // init sent itself something
      return cell as ActorRef<Msg>
    })
  )

/**
 * Delivers `message` through the priority lane: never dropped by the overflow policy, never
 * waiting, handled before queued user messages. For exits and timers that must not be lost
 * (supervisors use it for child exits); ordinary traffic should use `cast`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const tellUrgent = <Msg>(ref: ActorRef<Msg>, message: Msg): boolean =>
  (ref as Cell<Msg, unknown>).mailbox.offerSystem(message)

/**
 * Links two processes from outside any actor (both must be actors to propagate both ways).
 *
 * @since 0.1.0
 * @category combinators
 */
export const link = (a: ActorRef<any>, b: Process): Effect.Effect<void> => (a as Cell<any, any>).link(b)

/**
 * Calls `toEffect(reason)` when `process` exits, in a detached fiber; returns a cancel effect.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onExit = (
  process: Process,
  f: (reason: ExitReason.ExitReason) => void
): Effect.Effect<Effect.Effect<void>> => Effect.sync(() => Effect.sync(process.watchUnsafe(f)))

/**
 * A stateless actor from a handler: `receive` without state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromHandler = <Msg, E = never, R = never>(
  handler: (message: Msg, self: ActorContext<Msg>) => Effect.Effect<void | Stop, E, R>,
  options?: Omit<Behavior<Msg, undefined, E, R>, "init" | "receive">
): Behavior<Msg, undefined, E, R> => ({
  ...options,
  init: () => Effect.succeed(undefined),
  receive: (message, _state, self) =>
    Effect.map(handler(message, self), (result) => (result instanceof Stop ? result : undefined))
})

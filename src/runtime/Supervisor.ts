/**
 * Supervisors, as OTP's `supervisor`: a process that starts its children in order, watches
 * them, restarts them by strategy within a restart budget, and stops them in reverse order.
 *
 * Strategies:
 * - `one_for_one`: only the exited child is restarted;
 * - `one_for_all`: the other children are stopped (in reverse order), then all restarted in order;
 * - `rest_for_one`: the children started after the exited one are stopped (in reverse order),
 *   then it and they are restarted in order;
 * - `simple_one_for_one`: children are all started from one template with `startChild(args)`
 *   and restarted one for one; on shutdown they are stopped concurrently.
 *
 * More than `intensity` restarts within `periodMs` (default 1 in 5 s) and the supervisor
 * escalates: it stops all its children and exits with `RestartBudgetExceeded`, so its own
 * supervisor decides. With `backoff`, restarts wait an exponentially growing, jittered delay.
 *
 * Every child runs in its own `Scope`, closed after the child exits, so a crashed child's
 * resources are always released. A child that does not stop within its shutdown timeout is
 * abandoned (reported, not awaited) so that the supervisor's own shutdown stays bounded.
 *
 * The supervisor is itself an actor: requests (`startChild`, …) and child exits are messages
 * handled one at a time, so its decisions never race.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as Actor from "./Actor.ts"
import * as Backoff from "./Backoff.ts"
import type { ChildSpec, ChildTemplate, RestartType, Shutdown } from "./ChildSpec.ts"
import * as ChildSpecs from "./ChildSpec.ts"
import {
  ChildNotFound,
  ChildStateError,
  ConfigError,
  RestartBudgetExceeded,
  StartFailed,
  SupervisorStopped
} from "./Errors.ts"
import type { ActorExited, CallTimeout, MailboxFull, NameTaken } from "./Errors.ts"
import * as ExitReason from "./ExitReason.ts"
import { CurrentLifecycle, LifecycleEvent } from "./Lifecycle.ts"
import type { LifecycleSink } from "./Lifecycle.ts"
import type { Pid, Process } from "./Process.ts"
import * as RestartBudget from "./RestartBudget.ts"

// ---------------------------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------------------------

/**
 * Restart strategies.
 *
 * @since 0.1.0
 * @category models
 */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one" | "simple_one_for_one"

interface CommonSpec {
  /** Registers the supervisor under this name; also its label. */
  readonly name?: string
  /** Shown in paths, trees and events when there is no name; nested supervisors default to the parent's path + child id. */
  readonly label?: string
  /** Restarts allowed per period before escalating. @default 1 */
  readonly intensity?: number
  /** The restart window, ms. @default 5_000 */
  readonly periodMs?: number
  /** Optional delay before restarts; none by default (restart at once, as OTP). */
  readonly backoff?: Backoff.Backoff
}

/**
 * A static supervisor: a fixed, ordered list of children (more may be added with `startChild`).
 *
 * @since 0.1.0
 * @category models
 */
export interface StaticSpec<R = never> extends CommonSpec {
  readonly strategy: "one_for_one" | "one_for_all" | "rest_for_one"
  readonly children: ReadonlyArray<ChildSpec<R>>
}

/**
 * A `simple_one_for_one` supervisor: no children at start, each `startChild(args)` starts one
 * from the template.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicSpec<Args, R = never> extends CommonSpec {
  readonly strategy: "simple_one_for_one"
  readonly template: ChildTemplate<Args, R>
  /** Most children alive at once; `startChild` beyond it fails. @default Infinity */
  readonly maxChildren?: number
}

/**
 * Either kind of supervisor spec.
 *
 * @since 0.1.0
 * @category models
 */
export type Spec<R = never> = StaticSpec<R> | DynamicSpec<any, R>

/**
 * What is wrong with a spec, in words; empty means valid. `start` refuses a spec with problems
 * with a `ConfigError` and starts nothing.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (spec: Spec<any>): ReadonlyArray<string> => {
  const out: Array<string> = []
  const strategy = (spec as { strategy: unknown }).strategy
  if (
    strategy !== "one_for_one" && strategy !== "one_for_all" && strategy !== "rest_for_one" &&
    strategy !== "simple_one_for_one"
  ) {
    out.push(`unknown strategy ${JSON.stringify(strategy)}`)
  }
  out.push(...RestartBudget.problems(budgetOf(spec)))
  if (spec.backoff !== undefined) out.push(...Backoff.problems(spec.backoff))
  if (strategy === "simple_one_for_one") {
    const dynamic = spec as DynamicSpec<unknown, unknown>
    if (typeof dynamic.template?.start !== "function") out.push("simple_one_for_one needs a template with a start function")
    else out.push(...ChildSpecs.problems("template", dynamic.template))
    if (dynamic.maxChildren !== undefined && !(dynamic.maxChildren >= 0)) out.push("maxChildren must be ≥ 0")
    if ((spec as { children?: unknown }).children !== undefined) out.push("simple_one_for_one takes a template, not children")
  } else if (Array.isArray((spec as StaticSpec<unknown>).children)) {
    const seen = new Set<string>()
    for (const child of (spec as StaticSpec<unknown>).children) {
      if (typeof child.id !== "string" || child.id === "") out.push("every child needs a non-empty string id")
      else if (seen.has(child.id)) out.push(`duplicate child id "${child.id}"`)
      else seen.add(child.id)
      out.push(...ChildSpecs.problems(`child "${child.id}"`, child))
    }
  } else {
    out.push("a static supervisor needs a children array")
  }
  return out
}

const budgetOf = (spec: CommonSpec): RestartBudget.RestartBudget => ({
  intensity: spec.intensity ?? RestartBudget.otpDefault.intensity,
  periodMs: spec.periodMs ?? RestartBudget.otpDefault.periodMs
})

// ---------------------------------------------------------------------------------------------
// Introspection
// ---------------------------------------------------------------------------------------------

/**
 * One child as `whichChildren` reports it; supervisors carry their own children, so the
 * result is the live tree below the supervisor asked.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildInfo {
  readonly id: string
  readonly kind: "worker" | "supervisor"
  readonly restart: RestartType
  /** `running`; `restarting` while a backoff delay or a failed start is pending; `stopped` (kept spec, no process). */
  readonly status: "running" | "restarting" | "stopped"
  readonly pid: Pid | undefined
  readonly label: string | undefined
  /** Consecutive restarts in the current streak. */
  readonly restarts: number
  /** The live process (OTP's pid), to message, monitor or stop it. */
  readonly process: Process | undefined
  /** For supervisor children: their own children. */
  readonly children?: ReadonlyArray<ChildInfo>
}

/**
 * OTP's `count_children`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildCounts {
  /** Children with a spec (running or not). */
  readonly specs: number
  /** Children with a live process. */
  readonly active: number
  readonly supervisors: number
  readonly workers: number
}

// ---------------------------------------------------------------------------------------------
// Refs
// ---------------------------------------------------------------------------------------------

/**
 * Errors of supervisor requests.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestError = SupervisorStopped

/**
 * A live static supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorRef extends Process {
  /** Starts and adds a child at the end; fails if the id exists or the child fails to start. */
  readonly startChild: (spec: ChildSpec<any>) => Effect.Effect<Process, StartFailed | ChildStateError | RequestError>
  /** Stops a child (its spec is kept, except for temporary children). */
  readonly terminateChild: (id: string) => Effect.Effect<void, ChildNotFound | RequestError>
  /** Starts a stopped child again from its spec. */
  readonly restartChild: (id: string) => Effect.Effect<Process, ChildNotFound | ChildStateError | StartFailed | RequestError>
  /** Removes a stopped child's spec. */
  readonly deleteChild: (id: string) => Effect.Effect<void, ChildNotFound | ChildStateError | RequestError>
  /** The live tree below this supervisor. */
  readonly whichChildren: Effect.Effect<ReadonlyArray<ChildInfo>, RequestError>
  readonly countChildren: Effect.Effect<ChildCounts, RequestError>
}

/**
 * A live `simple_one_for_one` supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicSupervisorRef<Args> extends Process {
  /** Starts one child from the template; fails if it fails to start or `maxChildren` is reached. */
  readonly startChild: (args: Args) => Effect.Effect<Process, StartFailed | ChildStateError | RequestError>
  /** Stops a child and forgets it. */
  readonly terminateChild: (child: Process | Pid) => Effect.Effect<void, ChildNotFound | RequestError>
  readonly whichChildren: Effect.Effect<ReadonlyArray<ChildInfo>, RequestError>
  readonly countChildren: Effect.Effect<ChildCounts, RequestError>
}

/**
 * The path of the supervisor being started; nested supervisors extend it with their id.
 *
 * @since 0.1.0
 * @category services
 */
export const CurrentPath: Context.Reference<string> = Context.Reference<string>("macula/runtime/SupervisorPath", {
  defaultValue: () => ""
})

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

interface ChildStartSpec {
  /** Its services were captured when the supervisor started (they are in the supervisor's context). */
  readonly start: Effect.Effect<Process, unknown>
  readonly restart: RestartType
  readonly shutdown: Shutdown
  readonly kind: "worker" | "supervisor"
}

class Child {
  process: Process | undefined = undefined
  scope: Scope.Closeable | undefined = undefined
  unwatch: (() => void) | undefined = undefined
  status: "running" | "restarting" | "stopped" = "stopped"
  streak: Backoff.Streak = Backoff.start(0)
  /** Bumped whenever a pending restart must be forgotten (terminate, delete, a newer restart). */
  generation = 0
  constructor(readonly id: string, readonly spec: ChildStartSpec) {}
}

type Msg =
  | { readonly _tag: "ChildExited"; readonly child: Child; readonly process: Process; readonly reason: ExitReason.ExitReason }
  | { readonly _tag: "RestartDue"; readonly children: ReadonlyArray<Child>; readonly generations: ReadonlyArray<number>; readonly delayMs: number }
  | { readonly _tag: "StartChild"; readonly spec: ChildStartSpec; readonly id: string | undefined; readonly reply: Actor.Reply<Process, StartFailed | ChildStateError> }
  | { readonly _tag: "TerminateChild"; readonly id: string | Pid; readonly reply: Actor.Reply<void, ChildNotFound> }
  | { readonly _tag: "RestartChild"; readonly id: string; readonly reply: Actor.Reply<Process, ChildNotFound | ChildStateError | StartFailed> }
  | { readonly _tag: "DeleteChild"; readonly id: string; readonly reply: Actor.Reply<void, ChildNotFound | ChildStateError> }
  | { readonly _tag: "WhichChildren"; readonly reply: Actor.Reply<ReadonlyArray<ChildInfo>> }
  | { readonly _tag: "CountChildren"; readonly reply: Actor.Reply<ChildCounts> }

/** Outcome of an attempt to start a child. */
type Started = { readonly ok: true; readonly process: Process } | { readonly ok: false; readonly reason: ExitReason.ExitReason }

class Engine {
  readonly children = new Map<string, Child>()
  history: ReadonlyArray<number> = []
  nextDynamicId = 0
  self!: Actor.ActorRef<Msg>
  scope!: Scope.Scope
  path!: string
  sink!: LifecycleSink
  readonly budget: RestartBudget.RestartBudget
  readonly dynamic: boolean

  constructor(readonly spec: Spec<any>) {
    this.budget = budgetOf(spec)
    this.dynamic = spec.strategy === "simple_one_for_one"
  }

  emit(event: (at: number) => LifecycleEvent): Effect.Effect<void> {
    return Effect.map(Clock.currentTimeMillis, (at) => this.sink.publish(event(at)))
  }

  /** Starts `child` in a fresh scope and starts watching it. */
  startOne(child: Child, phase: "start" | "restart" = "start"): Effect.Effect<Started> {
    const engine = this
    return Effect.gen(function*() {
      const scope = Scope.forkUnsafe(engine.scope, "sequential")
      const start = Effect.provideService(
        Scope.provide(child.spec.start, scope),
        CurrentPath,
        `${engine.path}/${child.id}`
      )
      const exit = yield* Effect.exit(start)
      const now = yield* Clock.currentTimeMillis
      if (Exit.isFailure(exit)) {
        yield* Scope.close(scope, Exit.void)
        const reason = ExitReason.ExitReason.Failure({ cause: exit.cause })
        child.status = "stopped"
        yield* engine.emit((at) =>
          LifecycleEvent.StartFailed({ supervisor: engine.path, child: child.id, phase, reason, at })
        )
        return { ok: false, reason } as const
      }
      const process = exit.value
      child.process = process
      child.scope = scope
      child.status = "running"
      child.streak = { attempts: child.streak.attempts, startedAt: now }
      // The priority lane: a child's exit is never dropped and never waits behind requests.
      child.unwatch = process.watchUnsafe((reason) =>
        void Actor.tellUrgent(engine.self, { _tag: "ChildExited", child, process, reason })
      )
      yield* engine.emit((at) =>
        LifecycleEvent.Started({ supervisor: engine.path, child: child.id, pid: process.pid, kind: child.spec.kind, at })
      )
      return { ok: true, process } as const
    })
  }

  /** Stops one running child within its shutdown timeout, then releases its scope. */
  stopOne(child: Child): Effect.Effect<void> {
    const engine = this
    return Effect.gen(function*() {
      const process = child.process
      const scope = child.scope
      child.unwatch?.()
      child.unwatch = undefined
      child.process = undefined
      child.scope = undefined
      child.generation++
      if (child.status === "restarting") child.status = "stopped"
      if (process === undefined) return
      child.status = "stopped"
      const shutdown = child.spec.shutdown
      let abandoned = false
      if (shutdown === "brutal") {
        yield* process.exit(ExitReason.killed)
        abandoned = process.isAlive()
      } else if (shutdown === "infinity") {
        yield* process.stop(ExitReason.shutdown)
      } else {
        const stopped = yield* Effect.timeoutOption(process.stop(ExitReason.shutdown), shutdown)
        if (stopped._tag === "None") {
          abandoned = true
          yield* engine.emit((at) =>
            LifecycleEvent.Abandoned({ supervisor: engine.path, child: child.id, pid: process.pid, shutdownMs: shutdown, at })
          )
        }
      }
      if (!abandoned || shutdown === "brutal") {
        yield* engine.emit((at) => LifecycleEvent.ShutDown({ supervisor: engine.path, child: child.id, pid: process.pid, at }))
      }
      if (scope !== undefined) {
        // An abandoned child keeps running; its resources go when it finally exits.
        if (abandoned) {
          yield* Effect.forkDetach(Effect.andThen(process.await, Scope.close(scope, Exit.void)))
        } else {
          yield* Scope.close(scope, Exit.void)
        }
      }
    })
  }

  /** Stops children in reverse start order (concurrently under `simple_one_for_one`). */
  stopMany(children: ReadonlyArray<Child>): Effect.Effect<void> {
    if (this.dynamic) return Effect.asVoid(Effect.forEach(children, (c) => this.stopOne(c), { concurrency: "unbounded", discard: true }))
    const reversed = [...children].reverse()
    return Effect.forEach(reversed, (c) => this.stopOne(c), { discard: true })
  }

  /** Out of budget: stop everything and exit abnormally so the parent decides. */
  escalate(): Effect.Effect<Actor.Stop> {
    const engine = this
    return Effect.gen(function*() {
      yield* engine.emit((at) =>
        LifecycleEvent.Escalated({ supervisor: engine.path, intensity: engine.budget.intensity, periodMs: engine.budget.periodMs, at })
      )
      yield* engine.stopMany([...engine.children.values()])
      return Actor.stop(
        ExitReason.failure(
          new RestartBudgetExceeded({
            supervisor: engine.path,
            intensity: engine.budget.intensity,
            periodMs: engine.budget.periodMs
          })
        )
      )
    })
  }

  /** Counts one restart against the budget. */
  spendBudget(): Effect.Effect<"restart" | "escalate"> {
    return Effect.map(Clock.currentTimeMillis, (now) => {
      const [history, verdict] = RestartBudget.record(this.history, now, this.budget)
      this.history = history
      return verdict
    })
  }

  /** The backoff delay for restarting `child` now (0 without backoff). */
  delayFor(child: Child): Effect.Effect<number> {
    const backoff = this.spec.backoff
    if (backoff === undefined) {
      child.streak = { attempts: child.streak.attempts + 1, startedAt: child.streak.startedAt }
      return Effect.succeed(0)
    }
    return Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const random = yield* Random.next
      const [delay, streak] = Backoff.next(backoff, child.streak, now, random)
      child.streak = streak
      return delay
    })
  }

  /** Restarts `group` in order after `delayMs`, now or through a `RestartDue` message. */
  scheduleRestart(group: ReadonlyArray<Child>, delayMs: number): Effect.Effect<void | Actor.Stop> {
    for (const child of group) {
      child.status = "restarting"
      child.generation++
    }
    const generations = group.map((c) => c.generation)
    if (delayMs <= 0) return this.restartGroup(group, generations, 0)
    const due: Msg = { _tag: "RestartDue", children: group, generations, delayMs }
    return Effect.asVoid(
      Effect.forkIn(
        Effect.andThen(Effect.sleep(delayMs), Effect.sync(() => Actor.tellUrgent(this.self, due))),
        this.scope
      )
    )
  }

  /** Starts each child of `group` in order; on a failed start, spends budget and retries from there. */
  restartGroup(
    group: ReadonlyArray<Child>,
    generations: ReadonlyArray<number>,
    delayMs: number
  ): Effect.Effect<void | Actor.Stop> {
    const engine = this
    return Effect.gen(function*() {
      for (let i = 0; i < group.length; i++) {
        const child = group[i]!
        if (child.generation !== generations[i] || engine.children.get(child.id) !== child) continue
        const started = yield* engine.startOne(child, "restart")
        if (started.ok) {
          yield* engine.emit((at) =>
            LifecycleEvent.Restarted({
              supervisor: engine.path,
              child: child.id,
              pid: started.process.pid,
              attempt: child.streak.attempts,
              delayMs,
              at
            })
          )
          continue
        }
        // OTP: a failed restart is retried, and counts against the budget.
        if ((yield* engine.spendBudget()) === "escalate") return yield* engine.escalate()
        const rest = group.slice(i).filter((c, j) => c.generation === generations[i + j])
        return yield* engine.scheduleRestart(rest, yield* engine.delayFor(child))
      }
    })
  }

  /** A watched child exited. */
  onChildExited(child: Child, process: Process, reason: ExitReason.ExitReason): Effect.Effect<void | Actor.Stop> {
    const engine = this
    return Effect.gen(function*() {
      if (child.process !== process) return // already stopped or replaced on purpose
      const scope = child.scope
      child.process = undefined
      child.scope = undefined
      child.unwatch = undefined
      child.status = "stopped"
      if (scope !== undefined) yield* Scope.close(scope, Exit.void)
      yield* engine.emit((at) =>
        LifecycleEvent.Exited({ supervisor: engine.path, child: child.id, pid: process.pid, restart: child.spec.restart, reason, at })
      )
      if (!ChildSpecs.shouldRestart(child.spec.restart, reason)) {
        if (child.spec.restart === "temporary" || engine.dynamic) engine.children.delete(child.id)
        return
      }
      if ((yield* engine.spendBudget()) === "escalate") return yield* engine.escalate()
      const delay = yield* engine.delayFor(child)
      switch (engine.spec.strategy) {
        case "one_for_one":
        case "simple_one_for_one":
          return yield* engine.scheduleRestart([child], delay)
        case "one_for_all":
        case "rest_for_one": {
          const all = [...engine.children.values()]
          const from = engine.spec.strategy === "one_for_all" ? 0 : all.indexOf(child)
          const group = all.slice(from)
          yield* engine.stopMany(group.filter((c) => c !== child))
          // Temporary children are stopped but never restarted.
          for (const c of group) if (c.spec.restart === "temporary" && c !== child) engine.children.delete(c.id)
          return yield* engine.scheduleRestart(group.filter((c) => engine.children.get(c.id) === c), delay)
        }
      }
    })
  }

  find(id: string | Pid): Child | undefined {
    if (typeof id === "string") return this.children.get(id)
    for (const child of this.children.values()) if (child.process?.pid === id) return child
    return undefined
  }

  info(): ReadonlyArray<ChildInfo> {
    return [...this.children.values()].map((c) => ({
      id: c.id,
      kind: c.spec.kind,
      restart: c.spec.restart,
      status: c.status,
      pid: c.process?.pid,
      label: c.process?.label,
      restarts: c.streak.attempts,
      process: c.process
    }))
  }

  handle(message: Msg): Effect.Effect<void | Actor.Stop> {
    const engine = this
    switch (message._tag) {
      case "ChildExited":
        return this.onChildExited(message.child, message.process, message.reason)
      case "RestartDue":
        return this.restartGroup(message.children, message.generations, message.delayMs)
      case "StartChild":
        return Effect.gen(function*() {
          const limit = (engine.spec as DynamicSpec<unknown>).maxChildren
          if (engine.dynamic && limit !== undefined && engine.children.size >= limit) {
            return message.reply.fail(new ChildStateError({ supervisor: engine.path, id: "template", state: "already_present" }))
          }
          const id = message.id ?? `${(engine.spec as DynamicSpec<unknown>).template.label ?? "child"}#${++engine.nextDynamicId}`
          const existing = engine.children.get(id)
          if (existing !== undefined) {
            return message.reply.fail(
              new ChildStateError({ supervisor: engine.path, id, state: existing.process ? "already_started" : "already_present" })
            )
          }
          const child = new Child(id, message.spec)
          engine.children.set(id, child)
          const started = yield* engine.startOne(child)
          if (started.ok) return message.reply.succeed(started.process)
          engine.children.delete(id)
          message.reply.fail(new StartFailed({ supervisor: engine.path, id, reason: started.reason }))
        })
      case "TerminateChild":
        return Effect.gen(function*() {
          const child = engine.find(message.id)
          if (child === undefined) {
            return message.reply.fail(new ChildNotFound({ supervisor: engine.path, id: String(message.id) }))
          }
          yield* engine.stopOne(child)
          if (engine.dynamic || child.spec.restart === "temporary") engine.children.delete(child.id)
          message.reply.succeed(undefined)
        })
      case "RestartChild":
        return Effect.gen(function*() {
          const child = engine.children.get(message.id)
          if (child === undefined) return message.reply.fail(new ChildNotFound({ supervisor: engine.path, id: message.id }))
          if (child.status !== "stopped") {
            return message.reply.fail(new ChildStateError({ supervisor: engine.path, id: message.id, state: child.status }))
          }
          const started = yield* engine.startOne(child)
          if (started.ok) message.reply.succeed(started.process)
          else message.reply.fail(new StartFailed({ supervisor: engine.path, id: message.id, reason: started.reason }))
        })
      case "DeleteChild": {
        const child = this.children.get(message.id)
        if (child === undefined) message.reply.fail(new ChildNotFound({ supervisor: this.path, id: message.id }))
        else if (child.status !== "stopped") {
          message.reply.fail(new ChildStateError({ supervisor: this.path, id: message.id, state: child.status }))
        } else {
          this.children.delete(message.id)
          message.reply.succeed(undefined)
        }
        return Effect.void
      }
      case "WhichChildren":
        message.reply.succeed(this.info())
        return Effect.void
      case "CountChildren": {
        let active = 0
        let supervisors = 0
        for (const child of this.children.values()) {
          if (child.process !== undefined) active++
          if (child.spec.kind === "supervisor") supervisors++
        }
        message.reply.succeed({
          specs: this.children.size,
          active,
          supervisors,
          workers: this.children.size - supervisors
        })
        return Effect.void
      }
    }
  }
}

const normalise = (spec: {
  readonly start: Effect.Effect<Process, unknown, any>
  readonly restart?: RestartType
  readonly shutdown?: Shutdown
  readonly kind?: "worker" | "supervisor"
}): ChildStartSpec => ({
  start: spec.start as Effect.Effect<Process, unknown>,
  restart: spec.restart ?? "permanent",
  shutdown: ChildSpecs.shutdownOf(spec),
  kind: spec.kind ?? "worker"
})

const behavior = (engine: Engine, label: string | undefined): Actor.Behavior<Msg, Engine, StartFailed> =>
  Actor.make<Msg, Engine, StartFailed>({
    label: "supervisor",
    // Children's exits must never be dropped; requests may wait for room.
    mailbox: { capacity: 65_536, overflow: "suspend" },
    init: (self) =>
      Effect.gen(function*() {
        engine.self = self.self
        engine.scope = yield* Effect.scope
        engine.sink = yield* CurrentLifecycle
        const parentPath = yield* CurrentPath
        engine.path = label ?? (parentPath === "" ? self.self.label : parentPath)
        if (engine.spec.strategy !== "simple_one_for_one") {
          const started: Array<Child> = []
          for (const childSpec of engine.spec.children) {
            const child = new Child(childSpec.id, normalise(childSpec))
            engine.children.set(child.id, child)
            const result = yield* engine.startOne(child)
            if (!result.ok) {
              // OTP: a child failing at start stops the ones already started, and start fails.
              yield* engine.stopMany(started)
              return yield* Effect.fail(new StartFailed({ supervisor: engine.path, id: child.id, reason: result.reason }))
            }
            started.push(child)
          }
        }
        return engine
      }),
    receive: (message, state) =>
      Effect.map(state.handle(message), (result) => (result instanceof Actor.Stop ? result : state)),
    terminate: (_reason, state) => state.stopMany([...state.children.values()])
  })

type CallError = ActorExited | CallTimeout | MailboxFull

const isCallError = (error: unknown): error is CallError => {
  const tag = (error as { _tag?: unknown })?._tag
  return tag === "ActorExited" || tag === "CallTimeout" || tag === "MailboxFull"
}

/** A request to a stopped supervisor fails with `SupervisorStopped`, whatever the call said. */
const requestErrors = <A, E>(
  path: () => string,
  effect: Effect.Effect<A, E | CallError>
): Effect.Effect<A, Exclude<E, CallError> | SupervisorStopped> =>
  Effect.mapError(effect, (error) =>
    isCallError(error) ? new SupervisorStopped({ supervisor: path() }) : (error as Exclude<E, CallError>))

/** The tree below a supervisor: ask it, then ask each child supervisor (from the caller's fiber). */
const tree = (ref: Actor.ActorRef<Msg>, path: () => string): Effect.Effect<ReadonlyArray<ChildInfo>, SupervisorStopped> =>
  Effect.flatMap(
    requestErrors(path, ref.call<ReadonlyArray<ChildInfo>>((reply) => ({ _tag: "WhichChildren", reply }), { timeoutMs: Infinity })),
    (children) =>
      Effect.forEach(children, (child) => {
        const process = child.process
        if (process === undefined || !isSupervisor(process)) return Effect.succeed(child)
        return Effect.map(
          Effect.orElseSucceed(process.whichChildren, () => [] as ReadonlyArray<ChildInfo>),
          (below): ChildInfo => ({ ...child, children: below })
        )
      })
  )

const SupervisorTag = Symbol.for("macula/runtime/Supervisor")

const isSupervisor = (process: Process): process is SupervisorRef =>
  (process as unknown as Record<symbol, unknown>)[SupervisorTag] === true

/** A running supervisor as users see it: its process plus the OTP child-management API. */
class Handle {
  readonly [SupervisorTag] = true
  readonly kind = "supervisor" as const

  constructor(
    readonly ref: Actor.ActorRef<Msg>,
    readonly engine: Engine,
    readonly template: ChildTemplate<any, any> | undefined
  ) {}

  get pid(): Pid {
    return this.ref.pid
  }
  get label(): string {
    return this.engine.path ?? this.ref.label
  }
  get await(): Effect.Effect<ExitReason.ExitReason> {
    return this.ref.await
  }
  exitReason(): ExitReason.ExitReason | undefined {
    return this.ref.exitReason()
  }
  isAlive(): boolean {
    return this.ref.isAlive()
  }
  stop(reason?: ExitReason.ExitReason): Effect.Effect<void> {
    return this.ref.stop(reason)
  }
  exit(reason: ExitReason.ExitReason): Effect.Effect<void> {
    return this.ref.exit(reason)
  }
  watchUnsafe(onExit: (reason: ExitReason.ExitReason) => void): () => void {
    return this.ref.watchUnsafe(onExit)
  }

  private request<A, E>(make: (reply: Actor.Reply<A, E>) => Msg): Effect.Effect<A, E | SupervisorStopped> {
    return requestErrors(() => this.label, this.ref.call<A, E>(make, { timeoutMs: Infinity }))
  }

  startChild(specOrArgs: unknown): Effect.Effect<Process, StartFailed | ChildStateError | SupervisorStopped> {
    if (this.template !== undefined) {
      const spec = normalise({ ...this.template, start: this.template.start(specOrArgs) })
      return this.request((reply) => ({ _tag: "StartChild", spec, id: undefined, reply }))
    }
    const child = specOrArgs as ChildSpec<any>
    const found = ChildSpecs.problems(`child "${child.id}"`, child)
    if (found.length > 0) return Effect.die(new ConfigError({ problems: found }))
    const spec = normalise(child)
    return this.request((reply) => ({ _tag: "StartChild", spec, id: child.id, reply }))
  }
  terminateChild(id: string | Process | Pid): Effect.Effect<void, ChildNotFound | SupervisorStopped> {
    const key = typeof id === "object" ? id.pid : id
    return this.request((reply) => ({ _tag: "TerminateChild", id: key, reply }))
  }
  restartChild(id: string): Effect.Effect<Process, ChildNotFound | ChildStateError | StartFailed | SupervisorStopped> {
    return this.request((reply) => ({ _tag: "RestartChild", id, reply }))
  }
  deleteChild(id: string): Effect.Effect<void, ChildNotFound | ChildStateError | SupervisorStopped> {
    return this.request((reply) => ({ _tag: "DeleteChild", id, reply }))
  }
  get whichChildren(): Effect.Effect<ReadonlyArray<ChildInfo>, SupervisorStopped> {
    return tree(this.ref, () => this.label)
  }
  get countChildren(): Effect.Effect<ChildCounts, SupervisorStopped> {
    return this.request<ChildCounts, never>((reply) => ({ _tag: "CountChildren", reply }))
  }
}

const startEngine = (
  spec: Spec<any>
): Effect.Effect<Handle, ConfigError | StartFailed | NameTaken, any> =>
  Effect.gen(function*() {
    const found = problems(spec)
    if (found.length > 0) return yield* Effect.fail(new ConfigError({ problems: found }))
    const engine = new Engine(spec)
    const options = spec.name === undefined ? undefined : { name: spec.name }
    const ref = yield* Actor.spawnAs(behavior(engine, spec.name ?? spec.label), "supervisor", options)
    return new Handle(ref, engine, spec.strategy === "simple_one_for_one" ? spec.template : undefined)
  })

/**
 * The services a static spec's children need, besides the `Scope` each child is given.
 *
 * @since 0.1.0
 * @category models
 */
export type ServicesOf<S extends StaticSpec<any>> = Exclude<
  S["children"][number] extends infer C ? C extends ChildSpec<infer R> ? R : never : never,
  Scope.Scope
>

/**
 * Starts a static supervisor and its children, in order. Fails with `ConfigError` (nothing
 * started) for an invalid spec, or `StartFailed` if a child fails to start (the ones already
 * started are stopped again). The supervisor lives until it escalates, is stopped, or the
 * caller's `Scope` closes, which stops its children in reverse order.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = <S extends StaticSpec<any>>(
  spec: S
): Effect.Effect<SupervisorRef, ConfigError | StartFailed | NameTaken, ServicesOf<S> | Scope.Scope> =>
  startEngine(spec) as Effect.Effect<SupervisorRef, ConfigError | StartFailed | NameTaken, ServicesOf<S> | Scope.Scope>

/**
 * Starts a `simple_one_for_one` supervisor (no children until `startChild(args)`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const startDynamic = <Args, R>(
  spec: DynamicSpec<Args, R>
): Effect.Effect<DynamicSupervisorRef<Args>, ConfigError | NameTaken, Exclude<R, Scope.Scope> | Scope.Scope> =>
  startEngine(spec) as Effect.Effect<
    DynamicSupervisorRef<Args>,
    ConfigError | NameTaken,
    Exclude<R, Scope.Scope> | Scope.Scope
  >

/**
 * Whether a process is a supervisor (so it can be asked for its children).
 *
 * @since 0.1.0
 * @category guards
 */
export const isSupervisorRef = (process: Process): process is SupervisorRef => isSupervisor(process)

/**
 * A child spec that starts a nested static supervisor.
 *
 * @since 0.1.0
 * @category constructors
 */
export const child = <S extends StaticSpec<any>>(
  id: string,
  spec: S,
  options?: { readonly restart?: RestartType; readonly shutdown?: Shutdown }
): ChildSpec<ServicesOf<S> | Scope.Scope> => ({ id, start: start(spec), kind: "supervisor", ...options })

/**
 * A child spec that starts a nested `simple_one_for_one` supervisor.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dynamicChild = <Args, R>(
  id: string,
  spec: DynamicSpec<Args, R>,
  options?: { readonly restart?: RestartType; readonly shutdown?: Shutdown }
): ChildSpec<Exclude<R, Scope.Scope> | Scope.Scope> => ({ id, start: startDynamic(spec), kind: "supervisor", ...options })

/**
 * A child spec that spawns an actor.
 *
 * @since 0.1.0
 * @category constructors
 */
export const worker = <Msg, S, E, R>(
  id: string,
  behavior: Actor.Behavior<Msg, S, E, R>,
  options?: { readonly restart?: RestartType; readonly shutdown?: Shutdown; readonly name?: string }
): ChildSpec<R | Scope.Scope> => {
  const { name, ...rest } = options ?? {}
  return { id, start: Actor.spawn(behavior, name === undefined ? undefined : { name }), kind: "worker", ...rest }
}

/**
 * Seeded chaos for supervision trees: instrument your actors, generate a schedule of faults
 * from a seed, run it against a live tree, then check the invariants. The same seed gives
 * the same schedule, so a failing run is replayed by its seed.
 *
 * Faults:
 * - `CrashByMessage`: the actor receives a poison message and crashes in `receive`;
 * - `Interrupt`: the actor is interrupted from outside (exit reason `Killed`);
 * - `CrashInInit`: its next `times` inits fail, then it is crashed, so restarts fail too;
 * - `SlowShutdown`: its next `terminate` takes `ms` (exercises shutdown timeouts);
 * - `RestartStorm`: it is crashed `crashes` times in a row, each time right after its restart.
 *
 * Only instrumented actors (see `instrument`) take poison and init/terminate faults; an
 * uninstrumented target gets `Interrupt` instead.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Actor from "../runtime/Actor.ts"
import * as ExitReason from "../runtime/ExitReason.ts"
import type { Pid, Process } from "../runtime/Process.ts"
import * as Supervisor from "../runtime/Supervisor.ts"
import * as Prng from "../core/Prng.ts"

/**
 * The crash that chaos injects.
 *
 * @since 0.1.0
 * @category errors
 */
export class ChaosCrash extends Data.TaggedError("ChaosCrash")<{ readonly key: string; readonly where: "receive" | "init" }> {
  override get message(): string {
    return `chaos crashed ${this.key} in ${this.where}`
  }
}

const PoisonTag: unique symbol = Symbol.for("macula/testkit/Chaos/Poison")

/**
 * The poison message an instrumented actor accepts besides its own messages.
 *
 * @since 0.1.0
 * @category models
 */
export interface Poison {
  readonly [PoisonTag]: true
}

const poison: Poison = { [PoisonTag]: true }

const isPoison = (message: unknown): message is Poison =>
  typeof message === "object" && message !== null && (message as Record<symbol, unknown>)[PoisonTag] === true

/**
 * Shared fault switches and counters for instrumented actors.
 *
 * @since 0.1.0
 * @category models
 */
export interface Controller {
  /** The instrumentation key of a live instrumented process. */
  readonly keyOf: (pid: Pid) => string | undefined
  /** Makes the next `times` inits of `key` fail. */
  readonly failNextInits: (key: string, times: number) => void
  /** Makes the next `terminate` of `key` take `ms` longer. */
  readonly slowNextShutdown: (key: string, ms: number) => void
  /** Counters: successful inits, terminates that finished, injected failures. */
  readonly stats: () => {
    readonly inits: number
    readonly terminated: number
    readonly initFailures: number
    readonly poisoned: number
    /** Instrumented actors whose init succeeded and whose terminate has not finished. */
    readonly live: number
  }
}

interface ControllerState {
  readonly keys: Map<Pid, string>
  readonly initFailures: Map<string, number>
  readonly slowShutdowns: Map<string, number>
  inits: number
  terminated: number
  injectedInitFailures: number
  poisoned: number
}

const states = new WeakMap<Controller, ControllerState>()

/**
 * A fresh controller.
 *
 * @since 0.1.0
 * @category constructors
 */
export const controller = (): Controller => {
  const state: ControllerState = {
    keys: new Map(),
    initFailures: new Map(),
    slowShutdowns: new Map(),
    inits: 0,
    terminated: 0,
    injectedInitFailures: 0,
    poisoned: 0
  }
  const self: Controller = {
    keyOf: (pid) => state.keys.get(pid),
    failNextInits: (key, times) => void state.initFailures.set(key, (state.initFailures.get(key) ?? 0) + times),
    slowNextShutdown: (key, ms) => void state.slowShutdowns.set(key, ms),
    stats: () => ({
      inits: state.inits,
      terminated: state.terminated,
      initFailures: state.injectedInitFailures,
      poisoned: state.poisoned,
      live: state.inits - state.terminated
    })
  }
  states.set(self, state)
  return self
}

/**
 * Wraps a behavior so chaos can reach it: it accepts `Poison` (and crashes on it), its init
 * fails while `failNextInits` is armed for `key`, and its terminate is delayed by
 * `slowNextShutdown`. Otherwise it behaves exactly as the original.
 *
 * @since 0.1.0
 * @category constructors
 */
export const instrument = <Msg, S, E, R>(
  behavior: Actor.Behavior<Msg, S, E, R>,
  chaos: Controller,
  key: string
): Actor.Behavior<Msg | Poison, S, E | ChaosCrash, R> => {
  const state = states.get(chaos)!
  const { trapExit, ...rest } = behavior
  return {
    ...rest,
    ...(trapExit === undefined ? {} : { trapExit }),
    init: (self) =>
      Effect.suspend((): Effect.Effect<S, E | ChaosCrash, R | Scope.Scope> => {
        const pending = state.initFailures.get(key) ?? 0
        if (pending > 0) {
          state.initFailures.set(key, pending - 1)
          state.injectedInitFailures++
          return Effect.fail(new ChaosCrash({ key, where: "init" }))
        }
        return Effect.tap(behavior.init(self as Actor.ActorContext<Msg>), () =>
          Effect.sync(() => {
            state.inits++
            state.keys.set(self.self.pid, key)
          }))
      }),
    receive: (message, s, self) => {
      if (isPoison(message)) {
        state.poisoned++
        return Effect.fail(new ChaosCrash({ key, where: "receive" }))
      }
      return behavior.receive(message, s, self as Actor.ActorContext<Msg>)
    },
    terminate: (reason, s, self) =>
      Effect.suspend(() => {
        const slowMs = state.slowShutdowns.get(key)
        state.slowShutdowns.delete(key)
        const original = behavior.terminate?.(reason, s, self as Actor.ActorContext<Msg>) ?? Effect.void
        const delayed = slowMs === undefined ? original : Effect.andThen(Effect.sleep(slowMs), original)
        return Effect.ensuring(
          delayed,
          Effect.sync(() => {
            state.terminated++
            state.keys.delete(self.self.pid)
          })
        )
      })
  }
}

/**
 * One fault.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault = Data.TaggedEnum<{
  CrashByMessage: {}
  Interrupt: {}
  CrashInInit: { readonly times: number }
  SlowShutdown: { readonly ms: number }
  RestartStorm: { readonly crashes: number }
}>

/**
 * Constructors and matchers for `Fault`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Fault = Data.taggedEnum<Fault>()

/**
 * A fault due `afterMs` after the previous one, aimed at `target` (an index taken modulo the
 * number of live workers when it fires, so schedules stay valid as the tree changes).
 *
 * @since 0.1.0
 * @category models
 */
export interface Step {
  readonly afterMs: number
  readonly target: number
  readonly fault: Fault
}

/**
 * Relative weights of each fault kind in a generated schedule.
 *
 * @since 0.1.0
 * @category models
 */
export interface Mix {
  readonly crashByMessage: number
  readonly interrupt: number
  readonly crashInInit: number
  readonly slowShutdown: number
  readonly restartStorm: number
}

/**
 * Mostly crashes, some of everything else.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultMix: Mix = { crashByMessage: 5, interrupt: 3, crashInInit: 1, slowShutdown: 1, restartStorm: 1 }

/**
 * A schedule of `faults` faults from `seed`: the same arguments always give the same steps.
 *
 * @since 0.1.0
 * @category constructors
 */
export const schedule = (options: {
  readonly seed: number
  readonly faults: number
  /** Mean gap between faults; each gap is uniform in [0, 2 × mean]. @default 100 */
  readonly meanIntervalMs?: number
  readonly mix?: Mix
}): ReadonlyArray<Step> => {
  const random = Prng.cursor(Prng.fromSeed(options.seed))
  const mix = options.mix ?? defaultMix
  const weights: ReadonlyArray<readonly [number, () => Fault]> = [
    [mix.crashByMessage, () => Fault.CrashByMessage()],
    [mix.interrupt, () => Fault.Interrupt()],
    [mix.crashInInit, () => Fault.CrashInInit({ times: random.int(1, 2) })],
    [mix.slowShutdown, () => Fault.SlowShutdown({ ms: random.int(10, 500) })],
    [mix.restartStorm, () => Fault.RestartStorm({ crashes: random.int(2, 4) })]
  ]
  const total = weights.reduce((sum, [w]) => sum + w, 0)
  const mean = options.meanIntervalMs ?? 100
  const steps: Array<Step> = []
  for (let i = 0; i < options.faults; i++) {
    let pick = random.float() * total
    let make = weights[0]![1]
    for (const [weight, build] of weights) {
      if (pick < weight) {
        make = build
        break
      }
      pick -= weight
    }
    steps.push({ afterMs: random.int(0, 2 * mean), target: random.u32(), fault: make() })
  }
  return steps
}

/**
 * Crashes a process: an instrumented actor receives the poison message and fails in
 * `receive` (a crash by message); any other process is interrupted (`Killed`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const crash = (chaos: Controller, target: Process): Effect.Effect<void> =>
  chaos.keyOf(target.pid) === undefined
    ? target.exit(ExitReason.killed)
    : Effect.sync(() => void Actor.tellUrgent(target as Actor.ActorRef<unknown>, poison))

/**
 * The live workers below a supervisor, depth first, in tree order.
 *
 * @since 0.1.0
 * @category combinators
 */
export const liveWorkers = (
  root: Supervisor.SupervisorRef | Supervisor.DynamicSupervisorRef<any>
): Effect.Effect<ReadonlyArray<Process>> =>
  Effect.map(Effect.orElseSucceed(root.whichChildren, () => []), (tree) => {
    const out: Array<Process> = []
    const walk = (children: ReadonlyArray<Supervisor.ChildInfo>) => {
      for (const child of children) {
        if (child.kind === "worker" && child.process !== undefined && child.process.isAlive()) out.push(child.process)
        if (child.children !== undefined) walk(child.children)
      }
    }
    walk(tree)
    return out
  })

/**
 * What a chaos run did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  /** Faults applied, by kind. */
  readonly applied: Readonly<Record<Fault["_tag"], number>>
  /** Steps skipped because no worker was alive (e.g. after the root escalated). */
  readonly skipped: number
  /** Whether the root was still alive at the end. */
  readonly rootAlive: boolean
}

/**
 * Options of `run`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  readonly chaos: Controller
  /** How time passes between faults. Pass `TestClock.adjust` under TestClock. @default Effect.sleep */
  readonly advance?: (ms: number) => Effect.Effect<void>
  /** Called after each step has settled (invariant checks, live output). */
  readonly afterStep?: (index: number, step: Step) => Effect.Effect<void>
  /** Stop early when the root exits. @default true */
  readonly stopWhenRootExits?: boolean
}

/**
 * Runs `effect` while letting time pass in `tickMs` steps through `advance` until it
 * completes: under TestClock a supervisor waiting out a shutdown timeout or a backoff only
 * moves on when the clock does, so whoever waits for it must move the clock.
 *
 * @since 0.1.0
 * @category combinators
 */
export const drive = <A, E>(
  effect: Effect.Effect<A, E>,
  advance: (ms: number) => Effect.Effect<void>,
  tickMs = 10
): Effect.Effect<A, E> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < 3; i++) yield* Effect.yieldNow
    while (fiber.pollUnsafe() === undefined) {
      yield* advance(tickMs)
      yield* Effect.yieldNow
    }
    return yield* Fiber.join(fiber)
  })

/**
 * Waits until the tree is quiet: every process the tree reports as running is alive, so
 * every exit has reached its supervisor and been handled. A crash lands asynchronously (the
 * actor exits on its next turn, then runs `terminate`), so a check right after injecting a
 * fault would otherwise look at a supervisor that has not heard of it yet.
 *
 * @since 0.1.0
 * @category combinators
 */
export const quiesce = (
  root: Supervisor.SupervisorRef | Supervisor.DynamicSupervisorRef<any>,
  advance: (ms: number) => Effect.Effect<void> = (ms) => Effect.sleep(ms),
  maxRounds = 1_000
): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let round = 0; round < maxRounds && root.isAlive(); round++) {
      const tree = yield* drive(Effect.orElseSucceed(root.whichChildren, () => []), advance)
      const exiting = stale(tree)
      if (exiting.length === 0) return
      yield* drive(Effect.forEach(exiting, (p) => p.await, { discard: true }), advance)
    }
  })

/** Processes a tree still lists as running although they have exited or are exiting. */
const stale = (tree: ReadonlyArray<Supervisor.ChildInfo>): ReadonlyArray<Process> => {
  const out: Array<Process> = []
  const walk = (children: ReadonlyArray<Supervisor.ChildInfo>) => {
    for (const child of children) {
      if (child.status === "running" && child.process !== undefined && !child.process.isAlive()) out.push(child.process)
      if (child.children !== undefined) walk(child.children)
    }
  }
  walk(tree)
  return out
}

/**
 * Applies a schedule to a live tree, step by step.
 *
 * @since 0.1.0
 * @category combinators
 */
export const run = (
  root: Supervisor.SupervisorRef | Supervisor.DynamicSupervisorRef<any>,
  steps: ReadonlyArray<Step>,
  options: RunOptions
): Effect.Effect<Report> =>
  Effect.gen(function*() {
    const advance = options.advance ?? ((ms: number) => Effect.sleep(ms))
    const settle = quiesce(root, advance)
    const applied: Record<Fault["_tag"], number> = {
      CrashByMessage: 0,
      Interrupt: 0,
      CrashInInit: 0,
      SlowShutdown: 0,
      RestartStorm: 0
    }
    let skipped = 0
    const crashTarget = (target: Process) => crash(options.chaos, target)
    for (const [index, step] of steps.entries()) {
      if (!root.isAlive() && (options.stopWhenRootExits ?? true)) break
      yield* advance(step.afterMs)
      const workers = yield* drive(liveWorkers(root), advance)
      if (workers.length === 0) {
        skipped++
        continue
      }
      const target = workers[step.target % workers.length]!
      const key = options.chaos.keyOf(target.pid)
      applied[step.fault._tag]++
      switch (step.fault._tag) {
        case "CrashByMessage":
          yield* crashTarget(target)
          yield* drive(target.await, advance)
          break
        case "Interrupt":
          yield* target.exit(ExitReason.killed)
          yield* drive(target.await, advance)
          break
        case "CrashInInit":
          if (key !== undefined) options.chaos.failNextInits(key, step.fault.times)
          yield* crashTarget(target)
          yield* drive(target.await, advance)
          break
        case "SlowShutdown":
          if (key !== undefined) options.chaos.slowNextShutdown(key, step.fault.ms)
          break
        case "RestartStorm": {
          let current: Process | undefined = target
          for (let i = 0; i < step.fault.crashes && current !== undefined; i++) {
            yield* crashTarget(current)
            yield* drive(current.await, advance)
            yield* settle
            const again = yield* drive(liveWorkers(root), advance)
            current = key === undefined ? undefined : again.find((p) => options.chaos.keyOf(p.pid) === key)
          }
          break
        }
      }
      yield* settle
      if (options.afterStep !== undefined) yield* options.afterStep(index, step)
    }
    return { applied, skipped, rootAlive: root.isAlive() }
  })

/**
 * Properties of the supervisor:
 * - a model-based test against a pure model of OTP's semantics (`fc.commands` +
 *   `asyncModelRun` under TestClock): after every command the live children, their
 *   restarts and the escalation match the model;
 * - `fc.scheduler` races of calls, casts, crashes and stops: no call ever hangs and every
 *   acquired resource is released;
 * - chaos: 1,000 seeded faults over a three-level tree, invariants checked after each one.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Actor from "../src/runtime/Actor.ts"
import type { RestartType } from "../src/runtime/ChildSpec.ts"
import { shouldRestart } from "../src/runtime/ChildSpec.ts"
import * as ExitReason from "../src/runtime/ExitReason.ts"
import * as Lifecycle from "../src/runtime/Lifecycle.ts"
import * as Registry from "../src/runtime/Registry.ts"
import * as RestartBudget from "../src/runtime/RestartBudget.ts"
import * as Supervisor from "../src/runtime/Supervisor.ts"
import * as Shapes from "../src/testkit/arbitraries/Supervisor.ts"
import * as Chaos from "../src/testkit/Chaos.ts"
import * as Invariants from "../src/testkit/Invariants.ts"
import * as Workers from "../src/testkit/Workers.ts"
import { runTest } from "../test/support/it.ts"
import { journal, worker } from "../test/support/workers.ts"
import type { WorkerMsg } from "../test/support/workers.ts"

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

interface ModelChild {
  readonly id: string
  readonly restart: RestartType
  running: boolean
  incarnation: number
}

interface Model {
  readonly strategy: "one_for_one" | "one_for_all" | "rest_for_one"
  readonly budget: RestartBudget.RestartBudget
  children: Array<ModelChild>
  history: ReadonlyArray<number>
  now: number
  escalated: boolean
  added: number
}

interface Real {
  readonly runtime: ManagedRuntime.ManagedRuntime<TestClock.TestClock, never>
  readonly sup: Supervisor.SupervisorRef
  readonly log: ReturnType<typeof journal>
  /** The pid last seen per child id, and the model incarnation it belonged to. */
  readonly seen: Map<string, { pid: number | undefined; incarnation: number }>
}

type ReasonKind = "crash" | "normal" | "shutdown" | "killed"

const reasonOf = (kind: ReasonKind): ExitReason.ExitReason =>
  kind === "crash"
    ? ExitReason.failure("crash")
    : kind === "normal"
    ? ExitReason.normal
    : kind === "shutdown"
    ? ExitReason.shutdown
    : ExitReason.killed

/** The model's transition for a running child exiting with `reason`. */
const modelExit = (model: Model, child: ModelChild, reason: ExitReason.ExitReason): void => {
  child.running = false
  if (!shouldRestart(child.restart, reason)) {
    if (child.restart === "temporary") model.children = model.children.filter((c) => c !== child)
    return
  }
  const [history, verdict] = RestartBudget.record(model.history, model.now, model.budget)
  model.history = history
  if (verdict === "escalate") {
    model.escalated = true
    for (const c of model.children) c.running = false
    return
  }
  const index = model.children.indexOf(child)
  const group = model.strategy === "one_for_one"
    ? [child]
    : model.strategy === "one_for_all"
    ? [...model.children]
    : model.children.slice(index)
  model.children = model.children.filter((c) => c === child || !group.includes(c) || c.restart !== "temporary")
  for (const c of group) {
    if (!model.children.includes(c)) continue
    c.running = true
    c.incarnation++
  }
}

const run = <A, E>(real: Real, effect: Effect.Effect<A, E>): Promise<A> => real.runtime.runPromise(effect)

/** Compares the live supervisor with the model. */
const compare = async (model: Model, real: Real): Promise<void> => {
  if (model.escalated) {
    expect(real.sup.isAlive()).toBe(false)
    return
  }
  expect(real.sup.isAlive()).toBe(true)
  const children = await run(real, real.sup.whichChildren)
  expect(children.map((c) => c.id)).toEqual(model.children.map((c) => c.id))
  for (const [i, child] of children.entries()) {
    const expected = model.children[i]!
    expect({ id: child.id, running: child.status === "running" }).toEqual({ id: expected.id, running: expected.running })
    const last = real.seen.get(child.id)
    if (last !== undefined && child.pid !== undefined && last.pid !== undefined) {
      // a pid changes exactly when the model says the child was started again
      expect({ id: child.id, restarted: child.pid !== last.pid }).toEqual({
        id: child.id,
        restarted: expected.incarnation !== last.incarnation
      })
    }
    real.seen.set(child.id, { pid: child.pid, incarnation: expected.incarnation })
  }
}

const childAt = (model: Model, index: number): ModelChild | undefined =>
  model.children.length === 0 ? undefined : model.children[index % model.children.length]

class ExitChild implements fc.AsyncCommand<Model, Real> {
  constructor(readonly index: number, readonly kind: ReasonKind) {}
  check = (m: Readonly<Model>) => !m.escalated && childAt(m as Model, this.index)?.running === true
  async run(model: Model, real: Real): Promise<void> {
    const child = childAt(model, this.index)!
    const info = (await run(real, real.sup.whichChildren)).find((c) => c.id === child.id)!
    const ref = info.process as Actor.ActorRef<WorkerMsg>
    const reason = reasonOf(this.kind)
    await run(real, Effect.gen(function*() {
      yield* ref.cast({ _tag: "ExitWith", reason })
      yield* ref.await
      yield* Effect.ignore(real.sup.countChildren)
    }))
    modelExit(model, child, reasonOf(this.kind))
    await compare(model, real)
  }
  toString = () => `Exit(${this.index}, ${this.kind})`
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = (m: Readonly<Model>) => !m.escalated
  async run(model: Model, real: Real): Promise<void> {
    await run(real, TestClock.adjust(this.ms))
    model.now += this.ms
    await compare(model, real)
  }
  toString = () => `Advance(${this.ms})`
}

class Terminate implements fc.AsyncCommand<Model, Real> {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => !m.escalated && childAt(m as Model, this.index) !== undefined
  async run(model: Model, real: Real): Promise<void> {
    const child = childAt(model, this.index)!
    await run(real, real.sup.terminateChild(child.id))
    child.running = false
    if (child.restart === "temporary") model.children = model.children.filter((c) => c !== child)
    await compare(model, real)
  }
  toString = () => `Terminate(${this.index})`
}

class Restart implements fc.AsyncCommand<Model, Real> {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => !m.escalated && childAt(m as Model, this.index) !== undefined
  async run(model: Model, real: Real): Promise<void> {
    const child = childAt(model, this.index)!
    const result = await run(real, Effect.result(real.sup.restartChild(child.id)))
    if (child.running) expect(result._tag).toBe("Failure")
    else {
      expect(result._tag).toBe("Success")
      child.running = true
      child.incarnation++
    }
    await compare(model, real)
  }
  toString = () => `Restart(${this.index})`
}

class Delete implements fc.AsyncCommand<Model, Real> {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => !m.escalated && childAt(m as Model, this.index) !== undefined
  async run(model: Model, real: Real): Promise<void> {
    const child = childAt(model, this.index)!
    const result = await run(real, Effect.result(real.sup.deleteChild(child.id)))
    expect(result._tag).toBe(child.running ? "Failure" : "Success")
    if (!child.running) model.children = model.children.filter((c) => c !== child)
    await compare(model, real)
  }
  toString = () => `Delete(${this.index})`
}

class Add implements fc.AsyncCommand<Model, Real> {
  constructor(readonly restart: RestartType) {}
  check = (m: Readonly<Model>) => !m.escalated && m.children.length < 6
  async run(model: Model, real: Real): Promise<void> {
    const id = `n${++model.added}`
    await run(real, real.sup.startChild(Supervisor.worker(id, worker(real.log, id), { restart: this.restart })))
    model.children.push({ id, restart: this.restart, running: true, incarnation: 0 })
    await compare(model, real)
  }
  toString = () => `Add(${this.restart})`
}

const commands = fc.commands(
  [
    fc.tuple(fc.nat(), fc.constantFrom<ReasonKind>("crash", "normal", "shutdown", "killed")).map(([i, k]) => new ExitChild(i, k)),
    fc.integer({ min: 1, max: 3_000 }).map((ms) => new Advance(ms)),
    fc.nat().map((i) => new Terminate(i)),
    fc.nat().map((i) => new Restart(i)),
    fc.nat().map((i) => new Delete(i)),
    Shapes.restartType.map((r) => new Add(r))
  ],
  { maxCommands: 30 }
)

describe("supervisor model", () => {
  it("matches the pure model of OTP semantics under any sequence of exits, requests and time", async () => {
    await fc.assert(
      fc.asyncProperty(
        Shapes.strategy,
        Shapes.budget,
        fc.array(Shapes.restartType, { minLength: 1, maxLength: 4 }),
        commands,
        async (strategy, budget, restarts, cmds) => {
          const runtime = ManagedRuntime.make(TestClock.layer())
          const scope = await runtime.runPromise(Scope.make())
          const log = journal()
          const ids = restarts.map((_, i) => `c${i}`)
          const sup = await runtime.runPromise(
            Scope.provide(
              Supervisor.start({
                strategy,
                ...budget,
                children: ids.map((id, i) => Supervisor.worker(id, worker(log, id), { restart: restarts[i]! }))
              }),
              scope
            )
          )
          const model: Model = {
            strategy,
            budget,
            children: ids.map((id, i) => ({ id, restart: restarts[i]!, running: true, incarnation: 0 })),
            history: [],
            now: 0,
            escalated: false,
            added: 0
          }
          const real: Real = { runtime, sup, log, seen: new Map() }
          try {
            await compare(model, real)
            await fc.asyncModelRun(() => ({ model, real }), cmds)
          } finally {
            await runtime.runPromise(Scope.close(scope, Exit.void))
            await runtime.dispose()
          }
        }
      ),
      { numRuns: 60 }
    )
  }, 120_000)
})

// ---------------------------------------------------------------------------------------------
// Scheduler races
// ---------------------------------------------------------------------------------------------

describe("races", () => {
  it("never leaves a call hanging, whatever the interleaving of calls, crashes and stops", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.constantFrom("call", "crash", "stop", "kill"), { minLength: 1, maxLength: 12 }),
        async (s, actions) => {
          const resource = { acquired: 0, released: 0 }
          const chaos = Chaos.controller()
          const runtime = ManagedRuntime.make(TestClock.layer())
          const scope = await runtime.runPromise(Scope.make())
          const sup = await runtime.runPromise(
            Scope.provide(
              Supervisor.start({
                strategy: "one_for_one",
                intensity: 100,
                periodMs: 1_000,
                children: [Supervisor.worker("w", Chaos.instrument(Workers.pingable("w", resource), chaos, "w"))]
              }),
              scope
            )
          )
          const current = async () => (await runtime.runPromise(sup.whichChildren))[0]?.process
          const outcomes = actions.map((action) =>
            s.schedule(Promise.resolve(action)).then(async (a) => {
              const target = await current()
              if (target === undefined) return "gone"
              if (a === "call") {
                const r = await runtime.runPromise(
                  Effect.result(Workers.ping(target as Actor.ActorRef<Workers.PingMsg>, 10_000))
                )
                return r._tag === "Success" ? "replied" : r.failure._tag
              }
              if (a === "crash") await runtime.runPromise(Chaos.crash(chaos, target))
              if (a === "stop") await runtime.runPromise(target.stop())
              if (a === "kill") await runtime.runPromise(target.exit(ExitReason.killed))
              return a
            })
          )
          await s.waitAll()
          const settled = await Promise.all(outcomes)
          for (const outcome of settled) expect(["replied", "ActorExited", "crash", "stop", "kill", "gone"]).toContain(outcome)
          await runtime.runPromise(Scope.close(scope, Exit.void))
          await runtime.dispose()
          expect(resource.released).toBe(resource.acquired)
        }
      ),
      { numRuns: 100 }
    )
  }, 120_000)
})

// ---------------------------------------------------------------------------------------------
// Chaos: 1,000 seeded faults over a three-level tree
// ---------------------------------------------------------------------------------------------

/** Seeds that found bugs once; they stay here as regressions. */
const pinnedSeeds: ReadonlyArray<number> = [1, 42]

const threeLevels = (chaos: Chaos.Controller): Supervisor.StaticSpec<Scope.Scope> => {
  const leaf = (path: string, id: string, restart: RestartType = "permanent") =>
    Supervisor.worker(id, Chaos.instrument(Workers.pingable(`${path}/${id}`), chaos, `${path}/${id}`), { restart, shutdown: 200 })
  const mid = (id: string, strategy: "one_for_one" | "one_for_all" | "rest_for_one") =>
    Supervisor.child(id, {
      strategy,
      intensity: 50,
      periodMs: 1_000,
      children: [
        Supervisor.child("x", { strategy: "one_for_one", intensity: 20, periodMs: 1_000, children: [leaf(`root/${id}/x`, "w1"), leaf(`root/${id}/x`, "w2", "transient")] }),
        leaf(`root/${id}`, "w3"),
        leaf(`root/${id}`, "w4", "temporary")
      ]
    })
  return {
    strategy: "one_for_one",
    label: "root",
    intensity: 1_000,
    periodMs: 1_000,
    children: [mid("a", "one_for_one"), mid("b", "one_for_all"), mid("c", "rest_for_one")]
  }
}

const budgetsOfThreeLevels = (path: string): RestartBudget.RestartBudget | undefined =>
  path === "root"
    ? { intensity: 1_000, periodMs: 1_000 }
    : /^root\/[abc]$/.test(path)
    ? { intensity: 50, periodMs: 1_000 }
    : /^root\/[abc]\/x$/.test(path)
    ? { intensity: 20, periodMs: 1_000 }
    : undefined

describe("chaos", () => {
  for (const seed of pinnedSeeds) {
    it(`keeps every invariant through 1,000 seeded faults over a three-level tree (seed ${seed})`, async () => {
      await runTest(
        Effect.gen(function*() {
          const chaos = Chaos.controller()
          const events = Lifecycle.recorder()
          const registry = Registry.make()
          const root = yield* Effect.provideService(
            Effect.provideService(Supervisor.start(threeLevels(chaos)), Lifecycle.CurrentLifecycle, events),
            Registry.CurrentRegistry,
            registry
          )
          const steps = Chaos.schedule({ seed, faults: 1_000, meanIntervalMs: 20 })
          const violations: Array<string> = []
          const report = yield* Chaos.run(root, steps, {
            chaos,
            advance: (ms) => TestClock.adjust(ms),
            afterStep: (index) =>
              Effect.gen(function*() {
                if (!root.isAlive()) return
                const tree = yield* Chaos.drive(Effect.orElseSucceed(root.whichChildren, () => []), TestClock.adjust)
                for (const v of Invariants.permanentChildrenAlive(tree, { allowRestarting: true })) violations.push(`#${index}: ${v}`)
                if (violations.length === 1 && process.env.DEBUG_CHAOS) {
                  console.log(JSON.stringify(steps.slice(Math.max(0, index - 3), index + 1)))
                  for (const e of events.events.slice(-25)) console.log(Lifecycle.format(e, ExitReason.describe))
                }
              })
          })
          if (violations.length > 0) console.log(violations.slice(0, 8).join("\n"))
          expect(violations).toEqual([])
          expect(Invariants.registryConsistent(registry)).toEqual([])
          const escalations = Invariants.escalatedExactlyWhenOverBudget(events.events, budgetsOfThreeLevels)
          if (escalations.length > 0 && process.env.DEBUG_CHAOS) console.log(escalations)
          expect(escalations).toEqual([])
          const applied = Object.values(report.applied).reduce((a, b) => a + b, 0)
          expect(applied + report.skipped).toBeLessThanOrEqual(1_000)
          if (report.rootAlive) {
            expect(applied).toBe(1_000)
            yield* Chaos.drive(root.stop(), TestClock.adjust)
            for (const path of ["root", "root/a", "root/b", "root/c", "root/a/x", "root/b/x", "root/c/x"]) {
              const order = Invariants.shutdownInReverseOrder(events.events, path)
              if (order.length > 0 && process.env.DEBUG_CHAOS) console.log(order)
              expect(order).toEqual([])
            }
          }
          // abandoned children finish their slow terminate in the end: then every actor that
          // started has terminated, and every resource was released
          yield* TestClock.adjust(10_000)
          const stats = chaos.stats()
          expect(stats.live).toBe(0)
        })
      )
    }, 120_000)
  }
})

/**
 * The supervisor against OTP's matrix: restart type × exit reason × strategy, escalation
 * through two levels, ordered start and shutdown, shutdown timeouts, dynamic children and
 * the child-management API, all under TestClock.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import type * as Actor from "../../../src/runtime/Actor.ts"
import type { ChildSpec, RestartType } from "../../../src/runtime/ChildSpec.ts"
import type * as Scope from "effect/Scope"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import * as Lifecycle from "../../../src/runtime/Lifecycle.ts"
import type { Process } from "../../../src/runtime/Process.ts"
import * as Supervisor from "../../../src/runtime/Supervisor.ts"
import { effect } from "../../support/it.ts"
import { crash, journal, worker } from "../../support/workers.ts"
import type { WorkerMsg } from "../../support/workers.ts"

const pidsOf = (sup: Supervisor.SupervisorRef) =>
  Effect.map(sup.whichChildren, (children) => children.map((c) => c.pid))

const processOf = (sup: Supervisor.SupervisorRef, id: string) =>
  Effect.map(sup.whichChildren, (children) => children.find((c) => c.id === id))

/** Makes a child exit with `reason`, and waits until the supervisor has dealt with it. */
const exitChild = (sup: Supervisor.SupervisorRef, id: string, reason: ExitReason.ExitReason) =>
  Effect.gen(function*() {
    const before = yield* sup.whichChildren
    const child = before.find((c) => c.id === id)!
    const ref = (yield* findProcess(sup, id)) as Actor.ActorRef<WorkerMsg>
    yield* ref.cast({ _tag: "ExitWith", reason })
    yield* ref.await
    yield* sup.countChildren // a round trip: the exit (priority lane) was handled before it
    return child
  })

/** Every process a test child started, by pid, so a test can make it exit. */
const processes = new Map<number, Process>()
const findProcess = (sup: Supervisor.SupervisorRef, id: string) =>
  Effect.map(processOf(sup, id), (info) => processes.get(info!.pid!)!)

const threeWorkers = (
  log: ReturnType<typeof journal>,
  strategy: "one_for_one" | "one_for_all" | "rest_for_one",
  restart: RestartType,
  extra: Partial<Supervisor.StaticSpec<Scope.Scope>> = {}
): Supervisor.StaticSpec<Scope.Scope> => ({
  strategy,
  intensity: 10,
  periodMs: 1_000,
  ...extra,
  children: ["a", "b", "c"].map((id) => ({
    ...Supervisor.worker(id, worker(log, id), { restart }),
    start: Effect.tap(Supervisor.worker(id, worker(log, id), { restart }).start, (p) => Effect.sync(() => processes.set(p.pid, p)))
  }))
})

const expectedRestarts: Record<string, Record<string, ReadonlyArray<string>>> = {
  one_for_one: { a: [], b: ["b"], c: [] },
  one_for_all: { a: ["a"], b: ["a", "b", "c"], c: ["c"] },
  rest_for_one: { a: [], b: ["b", "c"], c: ["c"] }
}

describe("Supervisor", () => {
  describe("restart type × exit reason × strategy", () => {
    const reasons: ReadonlyArray<readonly [string, ExitReason.ExitReason]> = [
      ["normal", ExitReason.normal],
      ["shutdown", ExitReason.shutdown],
      ["killed", ExitReason.killed],
      ["crash", crash()]
    ]
    for (const strategy of ["one_for_one", "one_for_all", "rest_for_one"] as const) {
      for (const restart of ["permanent", "transient", "temporary"] as const) {
        for (const [reasonName, reason] of reasons) {
          const restarts = restart === "permanent" ||
            (restart === "transient" && ExitReason.isAbnormal(reason))
          effect(`${strategy}: a ${restart} child exiting with ${reasonName} ${restarts ? "is restarted" : "is not restarted"}`, () =>
            Effect.gen(function*() {
              const log = journal()
              const sup = yield* Supervisor.start(threeWorkers(log, strategy, restart))
              const before = yield* pidsOf(sup)
              yield* exitChild(sup, "b", reason)
              const after = yield* sup.whichChildren
              const restarted = expectedRestarts[strategy]!["b"]!
              if (!restarts) {
                // temporary children are forgotten; the others stay as they were
                expect(after.map((c) => c.id)).toEqual(restart === "temporary" ? ["a", "c"] : ["a", "b", "c"])
                expect(after.filter((c) => c.id !== "b").map((c) => c.pid)).toEqual([before[0], before[2]])
                return
              }
              for (const [i, id] of ["a", "b", "c"].entries()) {
                const info = after.find((c) => c.id === id)
                if (restarted.includes(id)) {
                  expect(info?.status).toBe("running")
                  expect(info?.pid).not.toBe(before[i])
                } else {
                  expect(info?.pid).toBe(before[i])
                }
              }
            }))
        }
      }
    }
  })

  effect("starts children in order and stops them in reverse order", () =>
    Effect.gen(function*() {
      const log = journal()
      const sup = yield* Supervisor.start(threeWorkers(log, "one_for_one", "permanent"))
      yield* sup.stop()
      expect(log.lines).toEqual([
        "start:a",
        "start:b",
        "start:c",
        "stop:c:Shutdown",
        "stop:b:Shutdown",
        "stop:a:Shutdown"
      ])
    }))

  effect("one_for_all restarts stop the others in reverse, then start all in order", () =>
    Effect.gen(function*() {
      const log = journal()
      const sup = yield* Supervisor.start(threeWorkers(log, "one_for_all", "permanent"))
      log.lines.length = 0
      yield* exitChild(sup, "b", crash())
      expect(log.lines).toEqual(["stop:b:Failure", "stop:c:Shutdown", "stop:a:Shutdown", "start:a", "start:b", "start:c"])
    }))

  effect("escalates when the restart budget is exceeded, and only then", () =>
    Effect.gen(function*() {
      const log = journal()
      const events = Lifecycle.recorder()
      const sup = yield* Effect.provideService(
        Supervisor.start(threeWorkers(log, "one_for_one", "permanent", { intensity: 2, periodMs: 1_000 })),
        Lifecycle.CurrentLifecycle,
        events
      )
      yield* exitChild(sup, "a", crash())
      yield* TestClock.adjust(2_000) // the first restart leaves the window
      yield* exitChild(sup, "a", crash())
      yield* exitChild(sup, "b", crash())
      expect(sup.isAlive()).toBe(true)
      const ref = yield* findProcess(sup, "c")
      yield* (ref as Actor.ActorRef<WorkerMsg>).cast({ _tag: "ExitWith", reason: crash() })
      const reason = yield* sup.await
      expect(reason._tag).toBe("Failure")
      expect(ExitReason.describe(reason)).toContain("RestartBudgetExceeded")
      expect(events.events.filter((e) => e._tag === "Escalated")).toHaveLength(1)
      expect(log.lines.slice(-3)).toEqual(["stop:c:Failure", "stop:b:Shutdown", "stop:a:Shutdown"])
    }))

  effect("escalation travels through two levels and the top restarts the middle", () =>
    Effect.gen(function*() {
      const log = journal()
      const events = Lifecycle.recorder()
      const top = yield* Effect.provideService(
        Supervisor.start({
          strategy: "one_for_one",
          label: "top",
          intensity: 1,
          periodMs: 10_000,
          children: [Supervisor.child("middle", threeWorkers(log, "one_for_one", "permanent", { intensity: 0, periodMs: 1_000 }))]
        }),
        Lifecycle.CurrentLifecycle,
        events
      )
      const middleBefore = (yield* top.whichChildren)[0]!
      expect(middleBefore.children?.map((c) => c.id)).toEqual(["a", "b", "c"])
      // the middle supervisor may not restart anything: the first crash escalates to the top
      const middle = processes.get(middleBefore.children![0]!.pid!) as Actor.ActorRef<WorkerMsg>
      yield* middle.cast({ _tag: "ExitWith", reason: crash() })
      yield* Effect.yieldNow
      yield* top.countChildren
      const middleAfter = (yield* top.whichChildren)[0]!
      expect(middleAfter.pid).not.toBe(middleBefore.pid)
      expect(middleAfter.children?.map((c) => c.status)).toEqual(["running", "running", "running"])
      expect(events.events.filter((e) => e._tag === "Escalated").map((e) => e.supervisor)).toEqual(["top/middle"])
      // a second escalation within the top's period exceeds the top's budget of 1
      const again = processes.get(middleAfter.children![1]!.pid!) as Actor.ActorRef<WorkerMsg>
      yield* again.cast({ _tag: "ExitWith", reason: crash() })
      const topReason = yield* top.await
      expect(topReason._tag).toBe("Failure")
      expect(events.events.filter((e) => e._tag === "Escalated").map((e) => e.supervisor)).toEqual([
        "top/middle",
        "top/middle",
        "top"
      ])
    }))

  effect("abandons a child that outlives its shutdown timeout and reports it", () =>
    Effect.gen(function*() {
      const log = journal()
      const events = Lifecycle.recorder()
      const sup = yield* Effect.provideService(
        Supervisor.start({
          strategy: "one_for_one",
          children: [
            Supervisor.worker("slow", worker(log, "slow", { terminateMs: 10_000 }), { shutdown: 100 }),
            Supervisor.worker("quick", worker(log, "quick", { terminateMs: 50 }), { shutdown: 100 })
          ]
        }),
        Lifecycle.CurrentLifecycle,
        events
      )
      const stopping = yield* Effect.forkChild(sup.stop())
      yield* TestClock.adjust(50) // quick stops within its timeout
      yield* TestClock.adjust(100) // slow is abandoned at its timeout
      yield* Effect.yieldNow
      expect(sup.isAlive()).toBe(false)
      const tags = events.events.map((e) => `${e._tag}:${"child" in e ? e.child : ""}`)
      expect(tags).toContain("ShutDown:quick")
      expect(tags).toContain("Abandoned:slow")
      expect(tags).not.toContain("ShutDown:slow")
      void stopping
    }))

  effect("manages dynamic children under simple_one_for_one", () =>
    Effect.gen(function*() {
      const log = journal()
      const sup = yield* Supervisor.startDynamic({
        strategy: "simple_one_for_one",
        intensity: 5,
        periodMs: 1_000,
        template: { start: (name: string) => Supervisor.worker(name, worker(log, name)).start, restart: "transient" }
      })
      const a = yield* sup.startChild("x")
      const b = yield* sup.startChild("y")
      expect(yield* sup.countChildren).toEqual({ specs: 2, active: 2, supervisors: 0, workers: 2 })
      yield* (a as Actor.ActorRef<WorkerMsg>).cast({ _tag: "ExitWith", reason: crash() })
      yield* a.await
      const afterCrash = yield* sup.whichChildren
      expect(afterCrash).toHaveLength(2)
      expect(afterCrash.every((c) => c.status === "running")).toBe(true)
      yield* (b as Actor.ActorRef<WorkerMsg>).cast({ _tag: "ExitWith", reason: ExitReason.normal })
      yield* b.await
      expect((yield* sup.countChildren).specs).toBe(1) // transient + normal: gone
      const c = yield* sup.startChild("z")
      yield* sup.terminateChild(c)
      expect((yield* sup.countChildren).specs).toBe(1)
      expect((yield* Effect.flip(sup.terminateChild(c)))._tag).toBe("ChildNotFound")
    }))

  effect("startChild, terminateChild, restartChild and deleteChild follow OTP", () =>
    Effect.gen(function*() {
      const log = journal()
      const sup = yield* Supervisor.start({ strategy: "one_for_one", children: [] })
      yield* sup.startChild(Supervisor.worker("a", worker(log, "a")))
      expect((yield* Effect.flip(sup.startChild(Supervisor.worker("a", worker(log, "a")))))._tag).toBe("ChildStateError")
      expect((yield* Effect.flip(sup.deleteChild("a")))._tag).toBe("ChildStateError") // running
      yield* sup.terminateChild("a")
      expect((yield* sup.whichChildren)[0]?.status).toBe("stopped")
      const restarted = yield* sup.restartChild("a")
      expect(restarted.isAlive()).toBe(true)
      expect((yield* Effect.flip(sup.restartChild("a")))._tag).toBe("ChildStateError")
      yield* sup.terminateChild("a")
      yield* sup.deleteChild("a")
      expect(yield* sup.whichChildren).toEqual([])
      expect((yield* Effect.flip(sup.terminateChild("a")))._tag).toBe("ChildNotFound")
      const failing = worker(log, "bad", { failInit: () => true })
      expect((yield* Effect.flip(sup.startChild(Supervisor.worker("bad", failing))))._tag).toBe("StartFailed")
      expect(yield* sup.countChildren).toEqual({ specs: 0, active: 0, supervisors: 0, workers: 0 })
    }))

  effect("a child failing at start stops the ones already started and fails the supervisor's start", () =>
    Effect.gen(function*() {
      const log = journal()
      const error = yield* Effect.flip(
        Supervisor.start({
          strategy: "one_for_one",
          children: [
            Supervisor.worker("a", worker(log, "a")),
            Supervisor.worker("b", worker(log, "b", { failInit: () => true })),
            Supervisor.worker("c", worker(log, "c"))
          ]
        })
      )
      expect(error._tag).toBe("StartFailed")
      expect(log.lines).toEqual(["start:a", "stop:a:Shutdown"])
    }))

  describe("invalid specs fail with ConfigError and start nothing", () => {
    const log = journal()
    const cases: ReadonlyArray<readonly [string, unknown]> = [
      ["duplicate child ids", { strategy: "one_for_one", children: [Supervisor.worker("a", worker(log, "a")), Supervisor.worker("a", worker(log, "a"))] }],
      ["negative intensity", { strategy: "one_for_one", intensity: -1, children: [Supervisor.worker("a", worker(log, "a"))] }],
      ["zero period", { strategy: "one_for_one", periodMs: 0, children: [Supervisor.worker("a", worker(log, "a"))] }],
      ["unknown strategy", { strategy: "one_for_some", children: [Supervisor.worker("a", worker(log, "a"))] }],
      ["unknown restart type", { strategy: "one_for_one", children: [{ ...Supervisor.worker("a", worker(log, "a")), restart: "sometimes" }] }],
      ["negative shutdown", { strategy: "one_for_one", children: [{ ...Supervisor.worker("a", worker(log, "a")), shutdown: -5 }] }],
      ["bad backoff", { strategy: "one_for_one", backoff: { initialMs: 100, maxMs: 10 }, children: [] }]
    ]
    for (const [name, spec] of cases) {
      effect(name, () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(Supervisor.start(spec as Supervisor.StaticSpec))
          expect(error._tag).toBe("ConfigError")
          expect(log.lines).toEqual([])
        }))
    }
  })

  effect("backs off exponentially between restarts and resets after a quiet period", () =>
    Effect.gen(function*() {
      const log = journal()
      const events = Lifecycle.recorder()
      const sup = yield* Effect.provideService(
        Supervisor.start({
          strategy: "one_for_one",
          intensity: 100,
          periodMs: 1_000,
          backoff: { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0, resetAfterMs: 5_000 },
          children: [{
            ...Supervisor.worker("a", worker(log, "a")),
            start: Effect.tap(Supervisor.worker("a", worker(log, "a")).start, (p) => Effect.sync(() => processes.set(p.pid, p)))
          }]
        }),
        Lifecycle.CurrentLifecycle,
        events
      )
      const delays: Array<number> = []
      for (let i = 0; i < 5; i++) {
        yield* exitChild(sup, "a", crash())
        expect((yield* processOf(sup, "a"))?.status).toBe("restarting")
        yield* TestClock.adjust(1_000)
        yield* sup.countChildren
        expect((yield* processOf(sup, "a"))?.status).toBe("running")
      }
      for (const e of events.events) if (e._tag === "Restarted") delays.push(e.delayMs)
      expect(delays).toEqual([100, 200, 400, 800, 1_000])
      yield* TestClock.adjust(6_000) // quiet: the streak resets
      yield* exitChild(sup, "a", crash())
      yield* TestClock.adjust(1_000)
      yield* sup.countChildren
      const last = events.events.filter((e) => e._tag === "Restarted").at(-1)
      expect(last?._tag === "Restarted" && last.delayMs).toBe(100)
    }))

  effect("releases a crashed child's resources before restarting it", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const resourceful: ChildSpec<Scope.Scope> = {
        id: "r",
        start: Effect.gen(function*() {
          yield* Effect.acquireRelease(Effect.sync(() => log.push("open")), () => Effect.sync(() => log.push("close")))
          const p = yield* Supervisor.worker("r", worker(journal(), "r")).start
          processes.set(p.pid, p)
          return p
        })
      }
      const sup = yield* Supervisor.start({ strategy: "one_for_one", intensity: 5, children: [resourceful] })
      yield* exitChild(sup, "r", crash())
      expect(log).toEqual(["open", "close", "open"])
      yield* sup.stop()
      expect(log).toEqual(["open", "close", "open", "close"])
    }))
})

/** The examples of docs/runtime.md, run as written. */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as Actor from "../../../src/runtime/Actor.ts"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import * as Supervisor from "../../../src/runtime/Supervisor.ts"
import * as Chaos from "../../../src/testkit/Chaos.ts"
import * as Invariants from "../../../src/testkit/Invariants.ts"
import * as Workers from "../../../src/testkit/Workers.ts"
import { effect } from "../../support/it.ts"

type CounterMsg =
  | { readonly _tag: "Add"; readonly n: number }
  | { readonly _tag: "Get"; readonly reply: Actor.Reply<number> }

const Counter = Actor.make<CounterMsg, number>({
  label: "counter",
  init: () => Effect.succeed(0),
  receive: (msg, total) => {
    switch (msg._tag) {
      case "Add":
        return Effect.succeed(total + msg.n)
      case "Get":
        msg.reply.succeed(total)
        return Effect.succeed(total)
    }
  }
})

type WatcherMsg = { readonly _tag: "Down"; readonly reason: ExitReason.ExitReason }

const watcherOf = (target: Actor.ActorRef<CounterMsg>) =>
  Actor.make<WatcherMsg, number>({
    init: (self) => Effect.as(self.monitor(target, (reason) => ({ _tag: "Down", reason })), 0),
    receive: (_msg, downs) => Effect.succeed(downs + 1)
  })

describe("docs/runtime.md", () => {
  effect("writing an actor", () =>
    Effect.gen(function*() {
      const total = yield* Effect.scoped(
        Effect.gen(function*() {
          const counter = yield* Actor.spawn(Counter)
          yield* counter.cast({ _tag: "Add", n: 2 })
          yield* counter.cast({ _tag: "Add", n: 3 })
          return yield* counter.call<number>((reply) => ({ _tag: "Get", reply }), { timeoutMs: 1_000 })
        })
      )
      expect(total).toBe(5)
    }))

  effect("links and monitors", () =>
    Effect.gen(function*() {
      const counter = yield* Actor.spawn(Counter)
      const watcher = yield* Actor.spawn(watcherOf(counter))
      const buddy = yield* Actor.spawn(Counter)
      yield* Actor.link(buddy, counter)
      yield* counter.exit(ExitReason.killed)
      expect((yield* buddy.await)._tag).toBe("Killed")
      expect(watcher.isAlive()).toBe(true)
    }))

  effect("choosing a strategy, and backoff", () =>
    Effect.gen(function*() {
      const tree = yield* Supervisor.start({
        label: "app",
        strategy: "rest_for_one",
        intensity: 3,
        periodMs: 10_000,
        children: [
          Supervisor.worker("config", Counter),
          Supervisor.worker("cache", Counter, { restart: "transient", shutdown: 2_000 }),
          Supervisor.child("sessions", { strategy: "one_for_one", children: [] })
        ]
      })
      expect((yield* tree.whichChildren).map((c) => c.id)).toEqual(["config", "cache", "sessions"])
      const backedOff = yield* Supervisor.start({
        strategy: "one_for_one",
        intensity: 10,
        periodMs: 60_000,
        backoff: { initialMs: 100, maxMs: 30_000, factor: 2, jitter: 0.2, resetAfterMs: 300_000 },
        children: [Supervisor.worker("uplink", Counter)]
      })
      expect((yield* backedOff.countChildren).active).toBe(1)
    }))

  effect("chaos testing with the testkit", () =>
    Effect.gen(function*() {
      const chaos = Chaos.controller()
      const root = yield* Supervisor.start({
        strategy: "one_for_one",
        intensity: 100,
        periodMs: 1_000,
        children: ["a", "b", "c"].map((id) => Supervisor.worker(id, Chaos.instrument(Workers.pingable(id), chaos, id)))
      })
      const steps = Chaos.schedule({ seed: 42, faults: 200 })
      yield* Chaos.run(root, steps, { chaos, advance: TestClock.adjust })
      const tree = yield* root.whichChildren
      expect(Invariants.permanentChildrenAlive(tree)).toEqual([])
      yield* Chaos.drive(root.stop(), TestClock.adjust)
    }))
})

/** CoreTimers and Inbox: the keyed timer table under TestClock, and the forwarding sink. */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as Actor from "../../../src/runtime/Actor.ts"
import * as CoreTimers from "../../../src/runtime/CoreTimers.ts"
import * as Inbox from "../../../src/runtime/Inbox.ts"
import { effect } from "../../support/it.ts"

describe("CoreTimers", () => {
  effect("fires at the deadline with the key, generation and clock time", () =>
    Effect.gen(function*() {
      const fired: Array<CoreTimers.Fired<string>> = []
      const timers = CoreTimers.make<string>(yield* Effect.scope, (f) => fired.push(f))
      yield* timers.set("a", 100, 1)
      expect(timers.size()).toBe(1)
      yield* TestClock.adjust(99)
      expect(fired).toEqual([])
      yield* TestClock.adjust(1)
      expect(fired).toEqual([{ timer: "a", generation: 1, now: 100 }])
      expect(timers.size()).toBe(0)
    }))

  effect("re-arming a key replaces its timer; cancel disarms it", () =>
    Effect.gen(function*() {
      const fired: Array<CoreTimers.Fired<string>> = []
      const timers = CoreTimers.make<string>(yield* Effect.scope, (f) => fired.push(f))
      yield* timers.set("a", 50, 1)
      yield* timers.set("a", 80, 2)
      yield* timers.set("b", 60, 3)
      yield* timers.cancel("b")
      yield* timers.cancel("unknown")
      expect(timers.size()).toBe(1)
      yield* TestClock.adjust(100)
      expect(fired).toEqual([{ timer: "a", generation: 2, now: 80 }])
    }))

  effect("cancel never suspends: the key is disarmed before it returns", () =>
    Effect.gen(function*() {
      const fired: Array<CoreTimers.Fired<string>> = []
      const timers = CoreTimers.make<string>(yield* Effect.scope, (f) => fired.push(f))
      yield* timers.set("a", 50, 1)
      yield* timers.set("b", 60, 2)
      // `runSync` throws if the effect suspends: actors cancel deadlines while handling a reply.
      Effect.runSync(timers.cancel("a"))
      expect(timers.size()).toBe(1)
      yield* TestClock.adjust(100)
      expect(fired).toEqual([{ timer: "b", generation: 2, now: 60 }])
    }))

  effect("a deadline already past fires at once, reporting no earlier than the deadline", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(10)
      const fired: Array<CoreTimers.Fired<number>> = []
      const timers = CoreTimers.make<number>(yield* Effect.scope, (f) => fired.push(f))
      yield* timers.set(7, 5, 4)
      yield* TestClock.adjust(0)
      expect(fired).toEqual([{ timer: 7, generation: 4, now: 10 }])
    }))

  effect("many deadlines, armed in any order, fire in deadline order (ties in arming order)", () =>
    Effect.gen(function*() {
      const fired: Array<string> = []
      const timers = CoreTimers.make<string>(yield* Effect.scope, (f) => fired.push(`${f.timer}@${f.now}`))
      yield* timers.set("late", 90, 1)
      yield* timers.set("early", 20, 2)
      yield* timers.set("tie1", 50, 3)
      yield* timers.set("tie2", 50, 4)
      yield* timers.set("gone", 30, 5)
      yield* timers.cancel("gone")
      yield* TestClock.adjust(50)
      expect(fired).toEqual(["early@20", "tie1@50", "tie2@50"])
      yield* timers.set("sooner", 60, 6)
      yield* TestClock.adjust(50)
      expect(fired).toEqual(["early@20", "tie1@50", "tie2@50", "sooner@60", "late@90"])
      expect(timers.size()).toBe(0)
    }))

  effect("a timer armed from fire (a core re-arming) fires in its turn; churn leaves nothing behind", () =>
    Effect.gen(function*() {
      const fired: Array<number> = []
      let timers: CoreTimers.CoreTimers<string> | undefined
      timers = CoreTimers.make<string>(yield* Effect.scope, (f) => {
        fired.push(f.now)
        if (fired.length < 3) Effect.runSync(timers!.set("tick", f.now + 10, f.generation + 1))
      })
      // A request/reply pattern: thousands of deadlines armed and cancelled before any is due.
      for (let i = 0; i < 5_000; i++) {
        yield* timers.set(`call${i}`, 1_000 + i, i)
        yield* timers.cancel(`call${i}`)
      }
      yield* timers.set("tick", 10, 1)
      yield* TestClock.adjust(100)
      expect(fired).toEqual([10, 20, 30])
      expect(timers.size()).toBe(0)
      yield* TestClock.adjust(10_000)
      expect(fired).toEqual([10, 20, 30])
    }))

  effect("closing the scope interrupts every armed timer", () =>
    Effect.gen(function*() {
      const fired: Array<CoreTimers.Fired<string>> = []
      const scope = yield* Scope.make()
      const timers = CoreTimers.make<string>(scope, (f) => fired.push(f))
      yield* timers.set("a", 10, 1)
      yield* timers.set("b", 20, 2)
      yield* Scope.close(scope, Effect.void as never)
      yield* TestClock.adjust(100)
      expect(fired).toEqual([])
    }))
})

type Msg = { readonly _tag: "In"; readonly value: number; readonly now?: number } | { readonly _tag: "Get"; readonly reply: Actor.Reply<ReadonlyArray<number>> }

const Collector = Actor.make<Msg, Array<number>>({
  init: () => Effect.succeed([]),
  receive: (msg, seen) => {
    if (msg._tag === "Get") {
      msg.reply.succeed([...seen])
      return Effect.succeed(seen)
    }
    seen.push(msg.now === undefined ? msg.value : msg.value * 1000 + msg.now)
    return Effect.succeed(seen)
  }
})

describe("Inbox", () => {
  effect("counts values dropped while no actor is installed and forwards once one is", () =>
    Effect.gen(function*() {
      const box = Inbox.make<number, Msg>((value) => ({ _tag: "In", value }))
      yield* box.sink(1)
      expect(box.dropped).toBe(1)
      const ref = yield* Actor.spawn(Collector)
      box.current = ref
      yield* box.sink(2)
      yield* box.sink(3)
      expect(yield* ref.call<ReadonlyArray<number>>((reply) => ({ _tag: "Get", reply }))).toEqual([2, 3])
      expect(box.dropped).toBe(1)
    }))

  effect("stamped stamps each value with the clock as it arrives", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(7)
      const box = Inbox.stamped<number, Msg>((value, now) => ({ _tag: "In", value, now }))
      const ref = yield* Actor.spawn(Collector)
      box.current = ref
      yield* box.sink(2)
      expect(yield* ref.call<ReadonlyArray<number>>((reply) => ({ _tag: "Get", reply }))).toEqual([2007])
    }))
})

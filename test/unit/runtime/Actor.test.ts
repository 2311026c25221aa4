import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as Actor from "../../../src/runtime/Actor.ts"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import * as Registry from "../../../src/runtime/Registry.ts"
import { effect } from "../../support/it.ts"

type Msg =
  | { readonly _tag: "Add"; readonly n: number }
  | { readonly _tag: "Get"; readonly reply: Actor.Reply<number> }
  | { readonly _tag: "Never"; readonly reply: Actor.Reply<number> }
  | { readonly _tag: "Refuse"; readonly reply: Actor.Reply<number, string> }
  | { readonly _tag: "Crash" }
  | { readonly _tag: "Stop" }
  | { readonly _tag: "Slow"; readonly ms: number }

const counter = (log: Array<string> = [], mailbox?: Actor.Behavior<Msg, number>["mailbox"]) =>
  Actor.make<Msg, number>({
    ...(mailbox === undefined ? {} : { mailbox }),
    init: () =>
      Effect.andThen(
        Effect.acquireRelease(Effect.sync(() => log.push("acquire")), () => Effect.sync(() => log.push("release"))),
        Effect.succeed(0)
      ),
    receive: (msg, state) => {
      switch (msg._tag) {
        case "Add":
          return Effect.succeed(state + msg.n)
        case "Get":
          msg.reply.succeed(state)
          return Effect.succeed(state)
        case "Never":
          return Effect.succeed(state)
        case "Refuse":
          msg.reply.fail("no")
          return Effect.succeed(state)
        case "Crash":
          return Effect.die("boom")
        case "Stop":
          return Effect.succeed(Actor.stop())
        case "Slow":
          return Effect.as(Effect.sleep(msg.ms), state)
      }
    },
    terminate: (reason, state) => Effect.sync(() => log.push(`terminate:${reason._tag}:${state}`))
  })

const get = (ref: Actor.ActorRef<Msg>) => ref.call<number>((reply) => ({ _tag: "Get", reply }))

describe("Actor", () => {
  effect("handles casts in order and answers calls", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.spawn(counter())
      for (let i = 1; i <= 100; i++) yield* ref.cast({ _tag: "Add", n: i })
      expect(yield* get(ref)).toBe(5050)
    }))

  effect("passes a reply's typed failure to the caller", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.spawn(counter())
      const error = yield* Effect.flip(ref.call<number, string>((reply) => ({ _tag: "Refuse", reply })))
      expect(error).toBe("no")
    }))

  effect("times a call out with CallTimeout and ignores the late reply", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.spawn(counter())
      const fiber = yield* Effect.forkChild(Effect.flip(ref.call<number>((reply) => ({ _tag: "Never", reply }), { timeoutMs: 50 })))
      yield* TestClock.adjust(60)
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("CallTimeout")
      expect(yield* get(ref)).toBe(0)
    }))

  effect("fails every pending call at once with ActorExited when the callee crashes", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.spawn(counter())
      const pending = yield* Effect.forkChild(
        Effect.flip(ref.call<number>((reply) => ({ _tag: "Never", reply }), { timeoutMs: 60_000 }))
      )
      yield* Effect.yieldNow
      yield* ref.cast({ _tag: "Crash" })
      const error = yield* Fiber.join(pending)
      expect(error._tag).toBe("ActorExited")
      expect((yield* ref.await)._tag).toBe("Failure")
    }))

  effect("fails pending calls when the callee is stopped, and calls to an exited actor at once", () =>
    Effect.gen(function*() {
      const ref = yield* Actor.spawn(counter())
      const pending = yield* Effect.forkChild(Effect.flip(ref.call<number>((reply) => ({ _tag: "Never", reply }), { timeoutMs: 60_000 })))
      yield* Effect.yieldNow
      yield* ref.stop()
      expect((yield* Fiber.join(pending))._tag).toBe("ActorExited")
      expect((yield* Effect.flip(get(ref)))._tag).toBe("ActorExited")
    }))

  effect("runs terminate and releases resources on every kind of exit", () =>
    Effect.gen(function*() {
      for (const [msg, tag] of [[{ _tag: "Crash" }, "Failure"], [{ _tag: "Stop" }, "Normal"]] as const) {
        const log: Array<string> = []
        const ref = yield* Actor.spawn(counter(log))
        yield* ref.cast({ _tag: "Add", n: 2 })
        yield* ref.cast(msg)
        expect((yield* ref.await)._tag).toBe(tag)
        expect(log).toEqual(["acquire", `terminate:${tag}:2`, "release"])
      }
      const log: Array<string> = []
      const ref = yield* Actor.spawn(counter(log))
      yield* ref.exit(ExitReason.killed)
      expect((yield* ref.await)._tag).toBe("Killed")
      expect(log).toEqual(["acquire", "terminate:Killed:0", "release"])
    }))

  effect("stops with the owner's scope: terminate first, then resources", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const ref = yield* Scope.provide(Actor.spawn(counter(log)), scope)
      yield* Scope.close(scope, Exit.void)
      expect(log).toEqual(["acquire", "terminate:Shutdown:0", "release"])
      expect(ref.isAlive()).toBe(false)
    }))

  effect("fails spawn with init's error, after releasing what init acquired", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const failing = Actor.make<never, never, string>({
        init: () =>
          Effect.andThen(
            Effect.acquireRelease(Effect.sync(() => log.push("acquire")), () => Effect.sync(() => log.push("release"))),
            Effect.fail("bad config")
          ),
        receive: (_m, s) => Effect.succeed(s),
        terminate: () => Effect.sync(() => log.push("terminate"))
      })
      expect(yield* Effect.flip(Actor.spawn(failing))).toBe("bad config")
      expect(log).toEqual(["acquire", "release"])
    }))

  describe("mailbox overflow policies", () => {
    const blockedActor = (overflow: "fail" | "dropNewest" | "dropOldest" | "suspend") =>
      Effect.gen(function*() {
        const ref = yield* Actor.spawn(counter([], { capacity: 2, overflow }))
        yield* ref.cast({ _tag: "Slow", ms: 1_000 }) // taken by the loop at once; the mailbox is then empty
        yield* Effect.yieldNow
        return ref
      })

    effect("fail: cast fails with MailboxFull", () =>
      Effect.gen(function*() {
        const ref = yield* blockedActor("fail")
        yield* ref.cast({ _tag: "Add", n: 1 })
        yield* ref.cast({ _tag: "Add", n: 2 })
        expect((yield* Effect.flip(ref.cast({ _tag: "Add", n: 4 })))._tag).toBe("MailboxFull")
        yield* TestClock.adjust(1_000)
        expect(yield* get(ref)).toBe(3)
      }))

    effect("dropNewest: the new message is dropped and counted", () =>
      Effect.gen(function*() {
        const ref = yield* blockedActor("dropNewest")
        for (const n of [1, 2, 4]) yield* ref.cast({ _tag: "Add", n })
        expect(ref.stats().dropped).toBe(1)
        yield* TestClock.adjust(1_000)
        expect(yield* get(ref)).toBe(3)
      }))

    effect("dropOldest: the oldest waiting message is dropped", () =>
      Effect.gen(function*() {
        const ref = yield* blockedActor("dropOldest")
        for (const n of [1, 2, 4]) yield* ref.cast({ _tag: "Add", n })
        yield* TestClock.adjust(1_000)
        expect(yield* get(ref)).toBe(6)
        expect(ref.stats().dropped).toBe(1)
      }))

    effect("suspend: the sender waits for room and nothing is lost", () =>
      Effect.gen(function*() {
        const ref = yield* blockedActor("suspend")
        const sender = yield* Effect.forkChild(Effect.forEach([1, 2, 4, 8], (n) => ref.cast({ _tag: "Add", n })))
        yield* Effect.yieldNow
        expect(sender.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust(1_000)
        yield* Fiber.join(sender)
        expect(yield* get(ref)).toBe(15)
      }))
  })

  describe("links, monitors and trapped exits", () => {
    type Watcher =
      | { readonly _tag: "Down"; readonly reason: ExitReason.ExitReason }
      | { readonly _tag: "Exit"; readonly signal: Actor.ExitSignal }
      | { readonly _tag: "Seen"; readonly reply: Actor.Reply<ReadonlyArray<string>> }

    const watcher = (trap: boolean) =>
      Actor.make<Watcher, Array<string>>({
        ...(trap ? { trapExit: (signal: Actor.ExitSignal) => ({ _tag: "Exit", signal }) as Watcher } : {}),
        init: () => Effect.succeed([]),
        receive: (msg, seen) => {
          if (msg._tag === "Seen") msg.reply.succeed([...seen])
          else if (msg._tag === "Down") seen.push(`down:${msg.reason._tag}`)
          else seen.push(`exit:${msg.signal.reason._tag}`)
          return Effect.succeed(seen)
        }
      })
    const seen = (ref: Actor.ActorRef<Watcher>) => ref.call<ReadonlyArray<string>>((reply) => ({ _tag: "Seen", reply }))

    effect("a monitor delivers one message with the exit reason", () =>
      Effect.gen(function*() {
        const target = yield* Actor.spawn(counter())
        const w = yield* Actor.spawn(
          Actor.make<Watcher, Array<string>>({
            ...watcher(false),
            init: (self) => Effect.as(self.monitor(target, (reason) => ({ _tag: "Down", reason })), [])
          })
        )
        yield* target.cast({ _tag: "Crash" })
        yield* target.await
        expect(yield* seen(w)).toEqual(["down:Failure"])
      }))

    effect("an abnormal exit kills a linked actor that does not trap exits", () =>
      Effect.gen(function*() {
        const target = yield* Actor.spawn(counter())
        const w = yield* Actor.spawn(watcher(false))
        yield* Actor.link(w, target)
        yield* target.cast({ _tag: "Crash" })
        expect((yield* w.await)._tag).toBe("Failure")
      }))

    effect("a normal exit does not kill a linked actor", () =>
      Effect.gen(function*() {
        const target = yield* Actor.spawn(counter())
        const w = yield* Actor.spawn(watcher(false))
        yield* Actor.link(w, target)
        yield* target.cast({ _tag: "Stop" })
        yield* target.await
        expect(yield* seen(w)).toEqual([])
        expect(w.isAlive()).toBe(true)
      }))

    effect("an actor trapping exits receives the signal as a message and lives on", () =>
      Effect.gen(function*() {
        const target = yield* Actor.spawn(counter())
        const w = yield* Actor.spawn(watcher(true))
        yield* Actor.link(w, target)
        yield* target.cast({ _tag: "Crash" })
        yield* target.await
        expect(yield* seen(w)).toEqual(["exit:Failure"])
        yield* w.exit(ExitReason.shutdown)
        expect(yield* seen(w)).toEqual(["exit:Failure", "exit:Shutdown"])
        yield* w.exit(ExitReason.killed) // Killed cannot be trapped
        expect((yield* w.await)._tag).toBe("Killed")
      }))
  })

  describe("registry", () => {
    effect("names are unique and freed when the holder exits", () =>
      Effect.provideService(
        Effect.gen(function*() {
          const first = yield* Actor.spawn(counter(), { name: "counter" })
          expect(first.label).toBe("counter")
          expect((yield* Effect.flip(Actor.spawn(counter(), { name: "counter" })))._tag).toBe("NameTaken")
          expect(yield* Registry.whereis("counter")).toBe(first)
          yield* first.stop()
          expect(yield* Registry.whereis("counter")).toBeUndefined()
          const second = yield* Actor.spawn(counter(), { name: "counter" })
          expect(yield* Registry.whereis("counter")).toBe(second)
          expect((yield* Registry.registered).map(([name]) => name)).toEqual(["counter"])
        }),
        Registry.CurrentRegistry,
        Registry.make()
      ))
  })
})

/**
 * The routing subtree's RPC over the simulated network (two stations, three clients, real
 * connection actors, `TestClock`, an in-memory directory standing in for the DHT): a call
 * across two stations, `CallTimeout` and `NoProvider`, an idempotent call retried on a second
 * provider when the first one's connection is killed (a non-idempotent one is not retried), and
 * a crashed dispatcher that restarts with its providers.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { describe, expect } from "vitest"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import { effect } from "../../support/it.ts"
import { drive, mesh, run, settle } from "./RoutingMesh.ts"

const add = "io.macula/acme/app/math/add_v1"
const slow = "io.macula/acme/app/math/slow_v1"
const slowLate = "io.macula/acme/app/math/slow_late_v1"
const echo = "io.macula/acme/app/math/echo_v1"

const valueOf = <A>(exit: { readonly _tag: "Success"; readonly value: A } | { readonly _tag: "Failure"; readonly cause: unknown }): A => {
  if (exit._tag !== "Success") throw new Error(`failed: ${String(exit.cause)}`)
  return exit.value
}

const errorOf = (exit: { readonly _tag: "Success" } | { readonly _tag: "Failure"; readonly cause: unknown }): { readonly _tag: string } => {
  if (exit._tag === "Success") throw new Error("expected a failure")
  const text = String(exit.cause)
  const tag = /Fail\((\w+)/.exec(text)?.[1]
  return { _tag: tag ?? text }
}

describe("RoutingSupervisor RPC over the simulated network", () => {
  effect("calls a provider attached to the other station", () =>
    Effect.gen(function*() {
      const { clients: [c0, , c2] } = yield* mesh()
      const callers: Array<string | undefined> = []
      valueOf(yield* drive(c2.routing.advertise(add, (args, ctx) => {
        callers.push(ctx.caller)
        const { a, b } = args as { a: number; b: number }
        return { sum: a + b }
      })))
      yield* run(100)
      const result = valueOf(yield* drive(c0.routing.call(add, { a: 2, b: 3 })))
      expect(result).toEqual({ sum: 5 })
      expect(callers).toEqual([c0.who.did])
    }), 30_000)

  effect("fails with CallTimeout past the timeout and NoProvider when nobody serves", () =>
    Effect.gen(function*() {
      const { clients: [c0, , c2] } = yield* mesh()
      const eager: Array<AbortSignal> = []
      const held: Array<{ readonly signal: AbortSignal }> = []
      valueOf(yield* drive(c2.routing.advertise(slow, (_args, ctx) => {
        eager.push(ctx.signal)
        held.push(ctx)
        return new Promise(() => undefined)
      })))
      yield* run(100)
      const late = yield* drive(c0.routing.call(slow, null, { timeoutMs: 500 }))
      expect(errorOf(late)._tag).toBe("CallTimeout")
      // Past the deadline the handler's signal is aborted, also when first read only afterwards.
      yield* run(2_000)
      expect(eager.map((signal) => signal.aborted)).toEqual([true])
      valueOf(yield* drive(c2.routing.advertise(slowLate, (_args, ctx) => {
        held.push(ctx) // the signal is not read while the call runs
        return new Promise(() => undefined)
      })))
      yield* run(100)
      expect(errorOf(yield* drive(c0.routing.call(slowLate, null, { timeoutMs: 500 })))._tag).toBe("CallTimeout")
      yield* run(2_000)
      expect(held[1]!.signal.aborted).toBe(true)
      const nobody = yield* drive(c0.routing.call("io.macula/acme/app/math/nobody_v1", null))
      expect(errorOf(nobody)._tag).toBe("NoProvider")
      const invalid = yield* drive(c0.routing.call("io.macula/acme/app/math/*", null))
      expect(errorOf(invalid)._tag).toBe("TopicError")
    }), 30_000)

  effect("retries an idempotent call on a second provider when the first one's connection is killed", () =>
    Effect.gen(function*() {
      const { clients: [c0, c1, c2] } = yield* mesh()
      const ran: Array<string> = []
      valueOf(yield* drive(c1.routing.advertise(echo, () => {
        ran.push("c1")
        return new Promise(() => undefined) // hangs until its connection dies
      })))
      valueOf(yield* drive(c2.routing.advertise(echo, (args) => {
        ran.push("c2")
        return { echoed: args }
      })))
      yield* run(100)
      // c0 and c1 share station s0, so the local provider c1 is tried first.
      const call = yield* Effect.forkChild(c0.routing.call(echo, "hi", { timeoutMs: 3_000, idempotent: true }))
      yield* run(100)
      expect(ran).toEqual(["c1"])
      yield* c1.home!.close({ graceful: false })
      c1.home = undefined
      yield* settle
      const answered = yield* drive(Fiber.join(call))
      expect(valueOf(answered)).toEqual({ echoed: "hi" })
      expect(ran).toEqual(["c1", "c2"])
    }), 30_000)

  effect("never retries a non-idempotent call: the caller hears relay_failed", () =>
    Effect.gen(function*() {
      const { clients: [c0, c1, c2] } = yield* mesh()
      const ran: Array<string> = []
      valueOf(yield* drive(c1.routing.advertise(echo, () => {
        ran.push("c1")
        return new Promise(() => undefined)
      })))
      valueOf(yield* drive(c2.routing.advertise(echo, (args) => {
        ran.push("c2")
        return args
      })))
      yield* run(100)
      const call = yield* Effect.forkChild(c0.routing.call(echo, "once", { timeoutMs: 3_000 }))
      yield* run(100)
      yield* c1.home!.close({ graceful: false })
      c1.home = undefined
      yield* settle
      const error = valueOf(yield* drive(Effect.flip(Fiber.join(call))))
      expect(error._tag === "RemoteError" && error.code).toBe("relay_failed")
      expect(ran).toEqual(["c1"])
    }), 30_000)

  effect("a crashed dispatcher restarts with its clients' advertisements", () =>
    Effect.gen(function*() {
      const { stations: [s0], clients: [c0, c1] } = yield* mesh()
      valueOf(yield* drive(c1.routing.advertise(add, (args) => {
        const { a, b } = args as { a: number; b: number }
        return a + b
      })))
      yield* run(100)
      expect(valueOf(yield* drive(c0.routing.call(add, { a: 1, b: 1 })))).toBe(2)
      const old = s0.routing.processes().dispatcher!
      yield* old.exit(ExitReason.killed)
      yield* run(300)
      expect(s0.routing.processes().dispatcher?.pid).not.toBe(old.pid)
      expect(valueOf(yield* drive(c0.routing.call(add, { a: 2, b: 2 })))).toBe(4)
    }), 30_000)
})

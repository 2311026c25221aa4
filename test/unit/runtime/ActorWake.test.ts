/**
 * A message that arrives while the actor's loop fiber is between "mailbox empty" and its exit
 * must still be handled: the fiber can yield to the scheduler there, when its operation budget
 * runs out, and a message cast during that yield found the fiber still set and woke nobody (the
 * actor then slept for ever). Each round makes `receive` spend one more operation, so over a
 * whole budget one round lands the yield in that window; a cast queued as a microtask arrives
 * during the yield.
 */
import * as Effect from "effect/Effect"
import * as Scheduler from "effect/Scheduler"
import { describe, expect } from "vitest"
import * as Actor from "../../../src/runtime/Actor.ts"
import { effect } from "../../support/it.ts"

type Msg = { readonly _tag: "Busy"; readonly ops: number; readonly then: () => void } | { readonly _tag: "Ping" }

/** About `n` operations: `n / 2` chained `flatMap`s, plus a `suspend` when `n` is odd. */
const spin = (n: number): Effect.Effect<void> => {
  let e: Effect.Effect<void> = Effect.void
  for (let i = 0; i < n >> 1; i++) e = Effect.flatMap(e, () => Effect.void)
  return n % 2 === 0 ? e : Effect.suspend(() => e)
}

/** A small budget, so a sweep over every offset in it is quick. */
const budget = 64

describe("Actor: wake-up while the loop fiber is going to sleep", () => {
  effect("handles every message cast during a scheduler yield, wherever the yield falls", () =>
    Effect.gen(function*() {
      let pings = 0
      const actor = yield* Actor.spawn(Actor.make<Msg, undefined>({
        init: () => Effect.succeed(undefined),
        receive: (msg) =>
          msg._tag === "Ping"
            ? Effect.sync(() => void pings++)
            : Effect.andThen(Effect.sync(() => queueMicrotask(msg.then)), Effect.as(spin(msg.ops), undefined))
      }))
      const rounds = 2 * budget
      for (let ops = 0; ops < rounds; ops++) {
        actor.tell({ _tag: "Busy", ops, then: () => void actor.tell({ _tag: "Ping" }) })
        // The busy message, the yield, the ping.
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0)))
      }
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      expect(pings).toBe(rounds)
    }).pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, budget)))
})

/**
 * A small stand-in for `@effect/vitest` (which needs vitest 5): `effect` runs a test body as an
 * Effect with a fresh `Scope` and `TestClock` (time moves only with `TestClock.adjust`), `live`
 * with the real clock. A failure prints the full Cause.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import { it } from "vitest"

const run = async <A, E>(effect: Effect.Effect<A, E, never>): Promise<A> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(Cause.pretty(exit.cause))
}

/** Runs `body` under `TestClock` with a scope closed at the end of the test. */
export const effect = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, Scope.Scope>,
  timeoutMs?: number
): void => {
  it(name, () => run(Effect.provide(Effect.scoped(Effect.suspend(body)), TestClock.layer())), timeoutMs)
}

/** Runs `body` on the real clock with a scope closed at the end of the test. */
export const live = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, Scope.Scope>,
  timeoutMs?: number
): void => {
  it(name, () => run(Effect.scoped(Effect.suspend(body))), timeoutMs)
}

/** Runs an Effect to a Promise (for use inside fast-check async properties). */
export const runTest = <A, E>(body: Effect.Effect<A, E, Scope.Scope>, testClock = true): Promise<A> =>
  run(testClock ? Effect.provide(Effect.scoped(body), TestClock.layer()) : Effect.scoped(body))

/**
 * A keyed table of one-shot timers for an actor that drives a pure step-core.
 *
 * A core asks for time as data (`SetTimer { timer, at, generation }`, `CancelTimer { timer }`);
 * the actor hands those to this table. Each armed key owns one sleeping fiber, forked in the
 * actor's scope, that reads `Clock` (so `TestClock` drives it) and, once `at` is due, calls
 * `fire` with the key, the generation it was armed with and the firing time. The actor's
 * `fire` usually turns that into an urgent `TimerFired` message to itself.
 *
 * - Arming a key that is already armed disarms the previous timer first: one live timer per key.
 * - `cancel` disarms the key's timer, if any (it will not fire); an unknown key does nothing.
 * - The fibers live in the scope given to `make`, so the actor's terminate (its scope closing)
 *   interrupts every timer still armed.
 * - The reported time is never earlier than `at`: a clock at a fractional millisecond can wake
 *   a hair early, and a core told "not yet" would re-arm for ~0 ms and spin until the clock moves.
 *
 * Generations are passed through untouched: the core, not this table, decides whether a fired
 * timer is stale. The table is generic in its key and knows nothing of the mesh.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Fiber } from "effect"
import type { Scope } from "effect"

/**
 * What a timer reports when it fires.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fired<K> {
  readonly timer: K
  readonly generation: number
  /** `Clock` time at wake-up, raised to the deadline if the clock reads a hair early. */
  readonly now: number
}

/**
 * A keyed timer table bound to one actor's scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface CoreTimers<K> {
  /** Arms `timer` to fire at `at` (epoch ms, `Clock` time), replacing any armed fiber for it. */
  readonly set: (timer: K, at: number, generation: number) => Effect.Effect<void>
  /** Disarms `timer`, interrupting its fiber; nothing if it is not armed. */
  readonly cancel: (timer: K) => Effect.Effect<void>
  /** How many timers are armed. */
  readonly size: () => number
}

/** One armed timer: its fiber fires only while this entry is still its key's. */
interface Armed {
  fiber: Fiber.Fiber<void, never> | undefined
}

/**
 * A table whose fibers are forked in `scope` and which reports each firing to `fire`.
 * `fire` runs synchronously in the timer's fiber after the key has left the table, so a
 * `set` made from it (or from the message it sends) arms afresh.
 *
 * Disarming (by `cancel` or a new `set`) takes the key out of the table at once and interrupts
 * its fiber without awaiting the interruption; a timer whose entry is no longer its key's never
 * fires, however late the interruption lands. A request/reply protocol arms and cancels a
 * deadline per request, so both paths are plain `flatMap` chains, not generators.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <K>(scope: Scope.Scope, fire: (fired: Fired<K>) => void): CoreTimers<K> => {
  const armed = new Map<K, Armed>()
  const disarm = (timer: K): void => {
    const entry = armed.get(timer)
    if (entry === undefined) return
    armed.delete(timer)
    entry.fiber?.interruptUnsafe()
  }
  const wait = (timer: K, at: number, generation: number, entry: Armed): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (start) =>
      Effect.flatMap(Effect.sleep(Math.max(0, at - start)), () =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (armed.get(timer) !== entry) return
          armed.delete(timer)
          fire({ timer, generation, now: Math.max(now, at) })
        })))
  const cancel = (timer: K): Effect.Effect<void> => Effect.sync(() => disarm(timer))
  const set = (timer: K, at: number, generation: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      disarm(timer)
      // In the table before the fiber starts, so a deadline already due finds its entry.
      const entry: Armed = { fiber: undefined }
      armed.set(timer, entry)
      return Effect.map(
        Effect.forkIn(wait(timer, at, generation, entry), scope, { startImmediately: true }),
        (fiber) => void (entry.fiber = fiber)
      )
    })
  return { set, cancel, size: () => armed.size }
}

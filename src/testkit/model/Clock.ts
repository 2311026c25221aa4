/**
 * The virtual clock of the model-based runner: a monotonic `now` and a table of the timers a
 * core has armed, fired in `(at, order set)` order, as the simulator's agenda orders them.
 *
 * Key invariant: `now` never goes backwards. A timer armed for a time already past fires at
 * the next opportunity, stamped with the current `now`, never earlier. Arming a key again
 * supersedes the earlier timer of that key, and cancelling drops it, unless the clock was made
 * with `staleTimers: "deliver"`, in which case superseded and cancelled timers still fire with
 * their old generation (to exercise a core's stale-timer guard).
 *
 * It is a mutable structure owned by one run of the runner; it never reads a real clock.
 *
 * @since 0.1.0
 */
import * as Agenda from "../sim/Agenda.ts"

/**
 * What a command does to the timer table: arm `timer` at `at` with a `generation`, or cancel
 * it. The runner gets these from the core's commands through `Runner.Timers.read`.
 *
 * @since 0.1.0
 * @category models
 */
export type TimerOp<K> =
  | { readonly _tag: "Set"; readonly timer: K; readonly at: number; readonly generation: number }
  | { readonly _tag: "Cancel"; readonly timer: K }

/**
 * Arms `timer` at `at` (a generation of 0 when the core does not number its timers).
 *
 * @since 0.1.0
 * @category constructors
 */
export const set = <K>(timer: K, at: number, generation = 0): TimerOp<K> => ({ _tag: "Set", timer, at, generation })

/**
 * Cancels `timer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const cancel = <K>(timer: K): TimerOp<K> => ({ _tag: "Cancel", timer })

/**
 * A timer that is due: what it was armed with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Due<K> {
  readonly timer: K
  readonly key: string
  readonly at: number
  readonly generation: number
}

interface Entry<K> extends Due<K> {
  seq: number
  live: boolean
}

/**
 * What to do with a timer that was superseded or cancelled: `"drop"` it (as an actor's timer
 * map does) or `"deliver"` it anyway with its old generation.
 *
 * @since 0.1.0
 * @category models
 */
export type StaleTimers = "drop" | "deliver"

/**
 * A virtual clock with its timer table. Opaque: use the functions of this module.
 *
 * @since 0.1.0
 * @category models
 */
export interface Clock<K> {
  readonly _Clock: K
}

class Impl<K> {
  now: number
  readonly agenda = Agenda.make<Entry<K>>()
  readonly armed = new Map<string, Entry<K>>()
  constructor(now: number, readonly keyOf: (timer: K) => string, readonly stale: StaleTimers) {
    this.now = now
  }
}

const impl = <K>(clock: Clock<K>): Impl<K> => clock as unknown as Impl<K>

/**
 * A clock at `now` (default 0); `key` names a timer (a later `set` of the same key supersedes
 * the earlier one).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <K>(options: {
  readonly now?: number
  readonly key: (timer: K) => string
  readonly staleTimers?: StaleTimers
}): Clock<K> => new Impl<K>(options.now ?? 0, options.key, options.staleTimers ?? "drop") as unknown as Clock<K>

/**
 * The current virtual time.
 *
 * @since 0.1.0
 * @category getters
 */
export const now = <K>(clock: Clock<K>): number => impl(clock).now

/**
 * The timers armed now, in firing order.
 *
 * @since 0.1.0
 * @category getters
 */
export const pending = <K>(clock: Clock<K>): ReadonlyArray<Due<K>> =>
  [...impl(clock).armed.values()]
    .sort((a, b) => a.at - b.at || a.seq - b.seq)
    .map(({ timer, key, at, generation }) => ({ timer, key, at, generation }))

/**
 * Applies one timer operation (mutates the clock).
 *
 * @since 0.1.0
 * @category mutations
 */
export const apply = <K>(clock: Clock<K>, op: TimerOp<K>): void => {
  const c = impl(clock)
  const key = c.keyOf(op.timer)
  const old = c.armed.get(key)
  if (old !== undefined) {
    c.armed.delete(key)
    // Lazy deletion: a dropped entry stays in the heap and is skipped when popped.
    if (c.stale === "drop") old.live = false
  }
  if (op._tag === "Cancel") return
  const entry: Entry<K> = { timer: op.timer, key, at: op.at, generation: op.generation, seq: 0, live: true }
  Agenda.push(c.agenda, entry)
  c.armed.set(key, entry)
}

/**
 * The time of the next timer to fire, or `undefined` when none is pending.
 *
 * @since 0.1.0
 * @category getters
 */
export const nextAt = <K>(clock: Clock<K>): number | undefined => {
  const c = impl(clock)
  for (let e = Agenda.peek(c.agenda); e !== undefined; e = Agenda.peek(c.agenda)) {
    if (e.live) return Math.max(e.at, c.now)
    Agenda.pop(c.agenda)
  }
  return undefined
}

/**
 * Removes and returns the next timer due at or before `until`, moving `now` to its time (or
 * leaving it where it is, for a timer armed in the past); `undefined` when none is due.
 *
 * @since 0.1.0
 * @category mutations
 */
export const popDue = <K>(clock: Clock<K>, until: number): Due<K> | undefined => {
  const c = impl(clock)
  const at = nextAt(clock)
  if (at === undefined || at > until) return undefined
  const e = Agenda.pop(c.agenda)!
  e.live = false
  if (c.armed.get(e.key) === e) c.armed.delete(e.key)
  c.now = at
  return { timer: e.timer, key: e.key, at, generation: e.generation }
}

/**
 * Moves `now` forward to `to` (never backwards). Fire what is due first with `popDue`.
 *
 * @since 0.1.0
 * @category mutations
 */
export const advanceTo = <K>(clock: Clock<K>, to: number): void => {
  const c = impl(clock)
  if (to > c.now) c.now = to
}

/**
 * The generation table a step-core keeps for its timers: the current generation of each armed
 * key. A core arms a key (getting a fresh generation to put in its `SetTimer` command), and when
 * a `TimerFired` comes back it consumes it only if the generation is still current, so a timer
 * that was superseded or cancelled while its wake-up was in flight is ignored (the stale-timer
 * guard).
 *
 * Key invariant: one generation per armed key, and generations only grow, so a stale one never
 * matches again. The table is mutable and owned by exactly one core state (the cores that use it
 * update their states in place; see their modules for why).
 *
 * @since 0.1.0
 */

/**
 * Current generation per armed timer key; a fired timer whose generation is not current was
 * superseded or cancelled.
 *
 * @since 0.1.0
 * @category models
 */
export interface Timers {
  next: number
  readonly armed: Map<string, number>
}

/**
 * An empty timer table.
 *
 * @since 0.1.0
 * @category constructors
 */
export const timers = (): Timers => ({ next: 1, armed: new Map() })

/**
 * Arms `key`, returning its new generation.
 *
 * @since 0.1.0
 * @category mutations
 */
export const arm = (t: Timers, key: string): number => {
  const generation = t.next++
  t.armed.set(key, generation)
  return generation
}

/**
 * Disarms `key`; whether it was armed.
 *
 * @since 0.1.0
 * @category mutations
 */
export const disarm = (t: Timers, key: string): boolean => t.armed.delete(key)

/**
 * Consumes a fired timer: true (and disarmed) iff `generation` is current for `key`.
 *
 * @since 0.1.0
 * @category mutations
 */
export const fire = (t: Timers, key: string, generation: number): boolean => {
  if (t.armed.get(key) !== generation) return false
  t.armed.delete(key)
  return true
}

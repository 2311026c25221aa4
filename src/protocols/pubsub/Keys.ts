/**
 * Small pure helpers shared by the pub/sub cores: hex keys for byte ids, the dedup window
 * and the timer generations table.
 *
 * Key invariant: each structure here is bounded by the cap it is built with; `DedupWindow`
 * forgets the oldest entry rather than grow, `Timers` holds one generation per live key.
 *
 * The structures are mutable and owned by exactly one core state (see `Router` and
 * `Session` for why the states are updated in place).
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"

/**
 * `hex` (lowercase hex of some bytes: the map key for realm ids, public keys and sessions) and
 * `unhex` (its inverse: bytes from lowercase hex, `undefined` for anything else).
 *
 * @since 0.1.0
 * @category getters
 */
export { fromLowerHex as unhex, toHex as hex } from "../../core/Bytes.ts"

/**
 * Keys seen within a sliding window, at most `max` of them. Every key has the same window,
 * so insertion order is expiry order and the oldest entry is always first.
 *
 * @since 0.1.0
 * @category models
 */
export interface DedupWindow {
  readonly windowMs: Millis
  readonly max: number
  readonly seen: Map<string, Millis>
}

/**
 * An empty window.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dedupWindow = (windowMs: Millis, max: number): DedupWindow => ({ windowMs, max, seen: new Map() })

/**
 * Whether `key` was seen within the window; records it if not. Expired entries and, past
 * `max`, the oldest entries are forgotten first.
 *
 * @since 0.1.0
 * @category mutations
 */
export const checkAndRecord = (w: DedupWindow, key: string, now: Millis): boolean => {
  for (const [k, expires] of w.seen) {
    if (expires > now) break
    w.seen.delete(k)
  }
  if (w.seen.has(key)) return true
  w.seen.set(key, now + w.windowMs)
  if (w.seen.size > w.max) {
    const oldest = w.seen.keys().next()
    if (oldest.done !== true) w.seen.delete(oldest.value)
  }
  return false
}

/**
 * The timer generations table (`Timers`, `timers`, `arm`, `disarm`, `fire`) of `core/TimerTable`.
 *
 * @since 0.1.0
 * @category models
 */
export * from "../../core/TimerTable.ts"

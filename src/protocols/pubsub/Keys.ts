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

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/**
 * Lowercase hex of some bytes: the map key for realm ids, public keys and sessions.
 *
 * @since 0.1.0
 * @category getters
 */
export const hex = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!
  return out
}

/**
 * Bytes from lowercase hex; `undefined` for anything else.
 *
 * @since 0.1.0
 * @category getters
 */
export const unhex = (text: string): Uint8Array | undefined => {
  if (text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) return undefined
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16)
  return out
}

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

/**
 * The peer score of PROTOCOL.md §3.7 as a pure value: violations subtract `penaltyMinor` or
 * `penaltyMajor`, the score drifts back towards 0 by `scoreRecoveryPerMin`, and at `banScore`
 * the peer is banned.
 *
 * Key invariant: the score always lies in [`banScore`, 0]. `banScore` is the floor, so a ban
 * happens exactly when a penalty takes the score to it, and no flood of penalties can dig a hole
 * the peer would need hours to climb out of. Recovery is computed lazily from the time of the
 * last change, so no timer is needed.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"

/**
 * A score and when it was last changed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Score {
  /** The value at `at`, in [banScore, 0]. */
  readonly value: number
  /** When `value` was set (monotonic ms). */
  readonly at: Millis
}

/**
 * The knobs the score needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScoreConfig {
  readonly banScore: number
  readonly scoreRecoveryPerMin: number
}

/**
 * Violation weights (§14).
 *
 * @since 0.1.0
 * @category models
 */
export type Severity = "minor" | "major"

const clamp = (value: number, config: ScoreConfig): number => Math.min(0, Math.max(config.banScore, value))

/**
 * A score of `value` (clamped to [banScore, 0]) at `now`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (now: Millis, config: ScoreConfig, value = 0): Score => ({ value: clamp(value, config), at: now })

/**
 * The value at `now`, after recovery since the last change.
 *
 * @since 0.1.0
 * @category getters
 */
export const valueAt = (score: Score, now: Millis, config: ScoreConfig): number => {
  const elapsed = Math.max(0, now - score.at)
  return clamp(score.value + (config.scoreRecoveryPerMin * elapsed) / 60_000, config)
}

/**
 * Subtracts `amount` at `now` (after recovery), never below the floor.
 *
 * @since 0.1.0
 * @category combinators
 */
export const penalize = (score: Score, now: Millis, amount: number, config: ScoreConfig): Score => ({
  value: clamp(valueAt(score, now, config) - Math.max(0, amount), config),
  at: Math.max(now, score.at)
})

/**
 * Whether a score value means a ban: at (or, defensively, below) `banScore`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isBanned = (value: number, config: ScoreConfig): boolean => value <= config.banScore

/**
 * Restart backoff, the feature OTP never shipped: a crashing child is restarted after an
 * exponentially growing delay with jitter, and the delay resets once the child has run
 * quietly for `resetAfterMs`. Pure: the caller passes the time and a random number.
 *
 * Delay of the n-th consecutive restart (n ≥ 1):
 * `min(maxMs, initialMs × factor^(n−1)) × (1 + jitter × (2r − 1))`, with r uniform in [0, 1).
 *
 * @since 0.1.0
 */

/**
 * Backoff knobs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backoff {
  /** Delay before the first restart of a streak. @default 100 */
  readonly initialMs: number
  /** Upper bound on the delay before jitter. @default 30_000 */
  readonly maxMs: number
  /** Growth per consecutive restart. @default 2 */
  readonly factor?: number
  /** Relative spread, 0 to 1: 0.2 = ±20 %; spreads out restarts of many children. @default 0.2 */
  readonly jitter?: number
  /** A child that ran this long since its last start begins a new streak. @default 10 × maxMs */
  readonly resetAfterMs?: number
}

/**
 * Per-child streak state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Streak {
  /** Consecutive restarts so far. */
  readonly attempts: number
  /** When the child was last started, in ms. */
  readonly startedAt: number
}

/**
 * A fresh streak for a child started at `now`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (now: number): Streak => ({ attempts: 0, startedAt: now })

/**
 * The delay before restarting a child that exited at `now`, and the streak to keep. `random`
 * is uniform in [0, 1).
 *
 * @since 0.1.0
 * @category combinators
 */
export const next = (
  config: Backoff,
  streak: Streak,
  now: number,
  random: number
): readonly [delayMs: number, streak: Streak] => {
  const resetAfterMs = config.resetAfterMs ?? config.maxMs * 10
  const attempts = now - streak.startedAt >= resetAfterMs ? 1 : streak.attempts + 1
  const base = Math.min(config.maxMs, config.initialMs * (config.factor ?? 2) ** (attempts - 1))
  const jitter = config.jitter ?? 0.2
  const delayMs = Math.max(0, Math.round(base * (1 + jitter * (2 * random - 1))))
  return [delayMs, { attempts, startedAt: streak.startedAt }]
}

/**
 * What is wrong with a backoff config, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (config: Backoff): ReadonlyArray<string> => {
  const out: Array<string> = []
  if (!(config.initialMs >= 0)) out.push(`backoff.initialMs must be ≥ 0 (got ${config.initialMs})`)
  if (!(config.maxMs >= config.initialMs)) out.push(`backoff.maxMs must be ≥ initialMs (got ${config.maxMs})`)
  if (config.factor !== undefined && !(config.factor >= 1)) out.push(`backoff.factor must be ≥ 1 (got ${config.factor})`)
  if (config.jitter !== undefined && !(config.jitter >= 0 && config.jitter <= 1)) {
    out.push(`backoff.jitter must be within [0, 1] (got ${config.jitter})`)
  }
  if (config.resetAfterMs !== undefined && !(config.resetAfterMs > 0)) {
    out.push(`backoff.resetAfterMs must be > 0 (got ${config.resetAfterMs})`)
  }
  return out
}

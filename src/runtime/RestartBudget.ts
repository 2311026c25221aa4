/**
 * The restart budget as a pure function: more than `intensity` restarts within `periodMs` and
 * the supervisor gives up (OTP's `add_restart/3`). The caller owns the clock.
 *
 * @since 0.1.0
 */

/**
 * At most `intensity` restarts in any window of `periodMs`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RestartBudget {
  /** Restarts allowed per period; 0 means the first restart escalates. @default 1 (OTP) */
  readonly intensity: number
  /** The sliding window, in ms. @default 5_000 (OTP) */
  readonly periodMs: number
}

/**
 * OTP's defaults: 1 restart in 5 s.
 *
 * @since 0.1.0
 * @category constructors
 */
export const otpDefault: RestartBudget = { intensity: 1, periodMs: 5_000 }

/**
 * Records one restart at `now` and says whether it is still within the budget. Returns the
 * restart times still inside the window (newest first), which is all the history needed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const record = (
  history: ReadonlyArray<number>,
  now: number,
  budget: RestartBudget
): readonly [ReadonlyArray<number>, "restart" | "escalate"] => {
  const recent = [now, ...history.filter((t) => t > now - budget.periodMs)]
  return [recent, recent.length > budget.intensity ? "escalate" : "restart"]
}

/**
 * What is wrong with a budget, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (budget: RestartBudget): ReadonlyArray<string> => [
  ...(Number.isInteger(budget.intensity) && budget.intensity >= 0
    ? []
    : [`intensity must be a non-negative integer (got ${budget.intensity})`]),
  ...(Number.isFinite(budget.periodMs) && budget.periodMs > 0
    ? []
    : [`periodMs must be a positive number (got ${budget.periodMs})`])
]

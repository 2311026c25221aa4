/**
 * Lifeguard's local health (PROTOCOL.md §11.4): a score h ∈ [0, awarenessMaxMult − 1] of how
 * much a member should distrust its own view, and the timeouts scaled by it.
 *
 * A member whose own event loop, CPU or link is struggling misses acks from healthy peers
 * and would accuse them. Lifeguard has it notice its trouble from local evidence (probes that
 * fail without the expected nacks, having to refute accusations against itself) and back
 * off: probe less often, wait longer, so its accusations come later and more of them are
 * refuted before they turn into verdicts. Success lowers h again.
 *
 * @see Dadgar et al., Lifeguard (2018), §IV.A "Local Health Multiplier".
 * @since 0.1.0
 */

/**
 * Adds `delta` to health `h`, clamped to [0, awarenessMaxMult − 1].
 *
 * @since 0.1.0
 * @category math
 */
export const adjust = (h: number, delta: number, awarenessMaxMult: number): number =>
  Math.min(Math.max(h + delta, 0), Math.max(awarenessMaxMult - 1, 0))

/**
 * A configured duration under health `h`: `ms × (h + 1)`.
 *
 * @since 0.1.0
 * @category math
 */
export const scale = (ms: number, h: number): number => ms * (h + 1)

/**
 * The health change after a probe that got no ack: +1 when the helpers' nacks did not all
 * arrive (or there were no helpers), since then our own reachability is in doubt; 0 when
 * every helper answered "heard nothing", which points at the target instead.
 *
 * @since 0.1.0
 * @category math
 */
export const afterFailedProbe = (expectedNacks: number, nacksReceived: number): number =>
  expectedNacks === 0 || nacksReceived < expectedNacks ? 1 : 0

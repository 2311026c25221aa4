/**
 * The suspicion window of SWIM with Lifeguard's confirmations (PROTOCOL.md §11.4), as pure
 * math plus the small record the core keeps for each suspected member.
 *
 * The window scales with log10 of the cluster size, because gossip needs O(log n) rounds to
 * reach everyone and the suspect must hear of the accusation before it can refute. Lifeguard
 * starts it at `max` and lets each independent accuser pull it down towards `min`: several
 * members failing to reach the suspect is strong evidence, one member failing may be that
 * member's own trouble. The decay is logarithmic in the confirmations, so the first ones
 * count most.
 *
 * Key invariant: `timeout` is monotone non-increasing in the confirmations and always lies in
 * [min, max]; a record counts each accuser once and holds at most k + 1 of them.
 *
 * @see Dadgar et al., Lifeguard (2018), §IV.B "Local Health Aware Suspicion".
 * @see hashicorp/memberlist `suspicion.go` (`remainingSuspicionTime`), whose formula §11.4
 *   adopts.
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import type { MemberId } from "./Claims.ts"

/**
 * The window for a cluster of `n` live members (self included): its bounds and the number of
 * confirmations `k` that bring it down to `min`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bounds {
  readonly min: Millis
  readonly max: Millis
  readonly k: number
}

/**
 * The §11.4 bounds: min = suspicionMult × log10(max(n, 10)) × probeIntervalMs, max =
 * suspicionMaxTimeoutMult × min, k = suspicionMult − 2, or 0 when n − 2 < k (too few other
 * members could ever confirm). With Lifeguard off the window is fixed at `min` (k = 0).
 *
 * @since 0.1.0
 * @category math
 */
export const bounds = (
  c: {
    readonly suspicionMult: number
    readonly suspicionMaxTimeoutMult: number
    readonly probeIntervalMs: number
    readonly lifeguard: boolean
  },
  n: number
): Bounds => {
  const min = c.suspicionMult * Math.log10(Math.max(n, 10)) * c.probeIntervalMs
  const wanted = Math.max(0, c.suspicionMult - 2)
  const k = !c.lifeguard || n - 2 < wanted ? 0 : wanted
  return { min, max: c.lifeguard ? c.suspicionMaxTimeoutMult * min : min, k }
}

/**
 * timeout(c) = max(min, max − (max − min) × ln(c + 1) / ln(k + 1)), floored to whole ms; `min`
 * when k = 0 (the formula would divide by ln 1 = 0).
 *
 * @since 0.1.0
 * @category math
 */
export const timeout = (b: Bounds, confirmations: number): Millis => {
  if (b.k <= 0) return Math.floor(b.min)
  const frac = Math.log(confirmations + 1) / Math.log(b.k + 1)
  return Math.floor(Math.max(b.min, b.max - (b.max - b.min) * frac))
}

/**
 * One suspected member's window: when it began, its bounds (fixed when it began, as in
 * memberlist, so a shrinking cluster cannot stretch a running window) and who accused it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Suspicion {
  readonly startedAt: Millis
  readonly bounds: Bounds
  /** The first accuser, then each distinct confirming accuser; at most k + 1 entries. */
  readonly accusers: ReadonlyArray<MemberId>
  /**
   * With Lifeguard: the window ran out and the verdict waits for our own last probe of the
   * member (`Check.ts`); undefined while the window runs.
   */
  readonly check: LastProbe | undefined
}

/**
 * Our last probe of a suspect whose window ran out: a direct ping under `seq`, then, if no
 * ack came within the probe timeout, ping-reqs under the same `seq` to `helpers`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LastProbe {
  readonly seq: number
  readonly startedAt: Millis
  /** Ping-reqs were sent (the direct phase is over). */
  readonly indirect: boolean
  /** Members asked to probe it for us; only their acks (and the member's) count. */
  readonly helpers: ReadonlyArray<MemberId>
}

/**
 * A window that began at `now` on the word of `accuser`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (b: Bounds, now: Millis, accuser: MemberId): Suspicion => ({
  startedAt: now,
  bounds: b,
  accusers: [accuser],
  check: undefined
})

/**
 * The same window begun again at `now`, with the same bounds and accusers: the member
 * answered our last probe, so its silence so far says nothing about the time from now on.
 *
 * @since 0.1.0
 * @category combinators
 */
export const restart = (s: Suspicion, now: Millis): Suspicion => ({ ...s, startedAt: now, check: undefined })

/**
 * Confirmations so far: accusers after the first.
 *
 * @since 0.1.0
 * @category getters
 */
export const confirmations = (s: Suspicion): number => s.accusers.length - 1

/**
 * When the member is declared dead: `startedAt + timeout(confirmations)`.
 *
 * @since 0.1.0
 * @category getters
 */
export const deadline = (s: Suspicion): Millis => s.startedAt + timeout(s.bounds, confirmations(s))

/**
 * Counts `accuser` as a confirmation. `undefined` when it changes nothing: the accuser was
 * already counted, or k confirmations were reached and further ones cannot shorten the
 * window (this also bounds the accuser list).
 *
 * @since 0.1.0
 * @category combinators
 */
export const confirm = (s: Suspicion, accuser: MemberId): Suspicion | undefined => {
  if (s.accusers.includes(accuser) || confirmations(s) >= s.bounds.k) return undefined
  return { ...s, accusers: [...s.accusers, accuser] }
}

/**
 * Every knob of SWIM membership (PROTOCOL.md §11, defaults in §16), with its unit, default,
 * formula and trade-off, plus the presets `lan` (the §16 defaults), `wan` and `local` (tests
 * only) and `problems()`, which says in words what is wrong with a config.
 *
 * Key invariant: the core never holds a literal where a knob belongs; every timeout, fan-out
 * and cap it uses is read from here. The two caps at the end (`maxPendingRelays`,
 * `maxPendingSyncs`) are local resource bounds that never reach the wire, so §16 does not list
 * them; `lifeguard` exists so simulations can measure plain SWIM against SWIM + Lifeguard.
 *
 * It does not validate itself on use: the actor calls `problems()` once, at start.
 *
 * @see Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process Group
 *   Membership Protocol", DSN 2002.
 * @see Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness for More Accurate Failure
 *   Detection", 2018 (arXiv:1707.00788).
 * @since 0.1.0
 */

/**
 * Knobs for SWIM membership. Durations are milliseconds on the monotonic clock.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /**
   * One probe per interval: the next member of a shuffled round-robin list is pinged. Lower
   * detects failures sooner and costs more packets (each member sends about one ping and one
   * ack per interval). Lifeguard stretches it to `probeIntervalMs × (health + 1)`.
   * @default 1_000
   */
  readonly probeIntervalMs: number
  /**
   * How long to wait for a direct ack before asking helpers. Keep it near the p99 round-trip
   * time: lower produces needless indirect probes, higher leaves less of the interval for
   * them. Must be below `probeIntervalMs`. Scaled by `health + 1` like the interval.
   * @default 400
   */
  readonly probeTimeoutMs: number
  /**
   * Helpers (k) asked to `swim.ping_req` the target after a direct miss. More helpers route
   * around more broken links (the SWIM paper's false-positive rate falls exponentially in k)
   * at k extra packets per miss. 0 disables indirect probing.
   * @default 3
   */
  readonly indirectProbes: number
  /**
   * A helper that heard nothing from the target within `nackFraction × probeTimeoutMs`
   * answers `swim.nack`, so the requester can tell "the target is down" (nacks arrive) from
   * "I am the one cut off" (nothing arrives). Lower sends nacks sooner and wrongly more often.
   * Must lie in (0, 1).
   * @default 0.8
   */
  readonly nackFraction: number
  /**
   * Scales the suspicion window: min = suspicionMult × log10(max(n, 10)) × probeIntervalMs,
   * with n the live members including self. Also sets the confirmations wanted:
   * k = suspicionMult − 2. Higher tolerates slower refutations, detects later.
   * @default 5
   */
  readonly suspicionMult: number
  /**
   * Upper bound of the suspicion window as a multiple of the minimum: max =
   * suspicionMaxTimeoutMult × min. A suspicion nobody confirms lasts max; each independent
   * confirmation shortens it towards min (Lifeguard's dogpile). 1 turns confirmations off.
   * @default 6
   */
  readonly suspicionMaxTimeoutMult: number
  /**
   * λ: each claim is piggybacked at most λ × ⌈log10(n + 1)⌉ times (n = 10 → 8). Higher
   * spreads rumours more surely through loss, at more bytes per packet.
   * @default 4
   */
  readonly retransmitMult: number
  /**
   * Lifeguard's local health ceiling: health h stays in [0, awarenessMaxMult − 1] and the
   * probe interval and timeout are multiplied by h + 1. Higher lets a struggling node back
   * off further before it accuses anyone; 1 disables the back-off.
   * @default 8
   */
  readonly awarenessMaxMult: number
  /**
   * Every interval, exchange the full membership with one random member (`swim.sync`); also
   * done on join. Repairs what gossip lost (after partitions, long stalls) at the cost of one
   * full-state message per interval. 0 disables the periodic exchange.
   * @default 30_000
   */
  readonly pushPullIntervalMs: number
  /**
   * How long a dead member stays as a tombstone before it is forgotten. While it stays, a
   * replayed old `alive` cannot bring it back; longer costs memory (within `swimMaxMembers`).
   * @default 30_000
   */
  readonly deadRetentionMs: number
  /**
   * Claims piggybacked per ping, ping-req or ack, fewest-transmitted first. Higher spreads
   * bursts of change faster, at larger packets.
   * @default 16
   */
  readonly maxPiggybackClaims: number
  /**
   * Members held in state (tombstones included), so peers cannot grow our memory past it.
   * When full, a new member evicts the oldest tombstone or is refused (and counted).
   * @default 4_096
   */
  readonly swimMaxMembers: number
  /**
   * Indirect probes we run for others at once (one per `swim.ping_req` received). Past it,
   * further requests are dropped and counted, so a peer cannot make us ping on its behalf
   * without bound. Local cap, not in §16.
   * @default 64
   */
  readonly maxPendingRelays: number
  /**
   * Outstanding `swim.sync` requests we wait answers for (push-pull and joins). The oldest is
   * forgotten past it. Local cap, not in §16.
   * @default 8
   */
  readonly maxPendingSyncs: number
  /**
   * Lifeguard on (local health, nacks, suspicion confirmations, buddy system) or plain SWIM
   * (fixed suspicion window of `min`, no back-off). Only simulations turn it off.
   * @default true
   */
  readonly lifeguard: boolean
}

/**
 * The PROTOCOL.md §16 defaults, tuned for a LAN or a single cloud region.
 *
 * @since 0.1.0
 * @category presets
 */
export const lan: Config = {
  probeIntervalMs: 1_000, // one probe per second per member
  probeTimeoutMs: 400, // ≈ p99 RTT within a region, with margin
  indirectProbes: 3, // k = 3 helpers, as in the SWIM paper's evaluation
  nackFraction: 0.8, // helpers nack at 320 ms, before our 400 ms timeout elapses
  suspicionMult: 5, // n = 10 → 5 s minimum window
  suspicionMaxTimeoutMult: 6, // unconfirmed suspicion lasts 30 s at n = 10
  retransmitMult: 4, // n = 10 → 8 transmissions per claim
  awarenessMaxMult: 8, // a sick node probes at most 8× slower
  pushPullIntervalMs: 30_000,
  deadRetentionMs: 30_000,
  maxPiggybackClaims: 16,
  swimMaxMembers: 4_096,
  maxPendingRelays: 64,
  maxPendingSyncs: 8,
  lifeguard: true
}

/**
 * Stations spread over continents: slower probes, longer timeouts and suspicion windows.
 *
 * @since 0.1.0
 * @category presets
 */
export const wan: Config = {
  ...lan,
  probeIntervalMs: 5_000, // inter-continental RTTs of 150–300 ms leave room for 3 s timeouts
  probeTimeoutMs: 3_000,
  suspicionMult: 6, // n = 10 → 30 s minimum window
  pushPullIntervalMs: 60_000,
  deadRetentionMs: 120_000
}

/**
 * Tests and simulations on one machine: everything 10× faster, small windows. Never for
 * production: a garbage-collection pause would look like a failure.
 *
 * @since 0.1.0
 * @category presets
 */
export const local: Config = {
  ...lan,
  probeIntervalMs: 100,
  probeTimeoutMs: 40,
  suspicionMult: 4, // k = 2 confirmations; n = 10 → 400 ms minimum window
  suspicionMaxTimeoutMult: 4,
  pushPullIntervalMs: 1_000,
  deadRetentionMs: 2_000
}

const positiveInteger = (c: Config, key: keyof Config, problems: Array<string>): void => {
  const v = c[key]
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) problems.push(`${key} must be a positive integer`)
}

/**
 * What is wrong with a config, in words; empty means valid. Checked once, at actor start.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (c: Config): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (
    const key of [
      "probeIntervalMs",
      "probeTimeoutMs",
      "suspicionMult",
      "suspicionMaxTimeoutMult",
      "retransmitMult",
      "awarenessMaxMult",
      "deadRetentionMs",
      "maxPiggybackClaims",
      "swimMaxMembers",
      "maxPendingRelays",
      "maxPendingSyncs"
    ] as const
  ) positiveInteger(c, key, out)
  if (!Number.isSafeInteger(c.indirectProbes) || c.indirectProbes < 0) {
    out.push("indirectProbes must be a non-negative integer")
  }
  if (!Number.isSafeInteger(c.pushPullIntervalMs) || c.pushPullIntervalMs < 0) {
    out.push("pushPullIntervalMs must be a non-negative integer (0 disables it)")
  }
  if (!(c.probeTimeoutMs < c.probeIntervalMs)) out.push("probeTimeoutMs must be below probeIntervalMs")
  if (!(c.nackFraction > 0 && c.nackFraction < 1)) out.push("nackFraction must lie in (0, 1)")
  return out
}

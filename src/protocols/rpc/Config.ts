/**
 * Every knob of RPC (PROTOCOL.md §9, defaults in §16), shared by the station's `Dispatcher`
 * and the client's `Endpoint`, with unit, default and trade-off, the presets `defaults` and
 * `local`, and `problems()`.
 *
 * Key invariant: the cores hold no literal where a knob belongs. Knobs marked "local cap"
 * bound one node's memory and never reach the wire.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"

/**
 * Knobs for RPC. Durations are milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /**
   * Default budget of a call when the application gives none.
   * @default 5_000
   */
  readonly callTimeoutMs: Millis
  /**
   * Largest `ttl` accepted; a `call` with `ttl` 0 gets `deadline_exceeded`, above this
   * `bad_request`.
   * @default 300_000
   */
  readonly maxCallTtlMs: Millis
  /**
   * Subtracted from the remaining budget at each forwarding hop, so the answer has time to
   * travel back before the caller's own timer fires.
   * @default 5
   */
  readonly ttlHopMarginMs: Millis
  /**
   * Largest `hop` accepted; beyond it `loop_detected`.
   * @default 4
   */
  readonly maxCallHops: number
  /**
   * Providers tried in all for an idempotent call (first attempt included).
   * @default 3
   */
  readonly callMaxAttempts: number
  /**
   * Wait before the second attempt, doubling for each further one.
   * @default 50
   */
  readonly callRetryBackoffMs: Millis
  /**
   * How long resolved provider records are reused without asking the DHT again.
   * @default 30_000
   */
  readonly providerCacheMs: Millis
  /**
   * A provider that disconnected or withdrew is answered `withdrawn` this long.
   * @default 30_000
   */
  readonly withdrawnTombstoneMs: Millis
  /**
   * Lifetime of a withdrawal record (`exp` = now + this).
   * @default 60_000
   */
  readonly withdrawalTtlMs: Millis
  /**
   * Client: an advertisement stored on fewer than `storeQuorum` replicas is re-put after this.
   * @default 30_000
   */
  readonly republishRetryMs: Millis
  /**
   * Client: provider record lifetime (`exp` − `iat`).
   * @default 3_600_000
   */
  readonly providerRecordTtlMs: Millis
  /**
   * Client: re-sign and re-put at this fraction of the record lifetime.
   * @default 0.5
   */
  readonly republishFraction: number
  /**
   * Client: replicas wanted for a provider record (the DHT's write quorum).
   * @default 6
   */
  readonly storeQuorum: number
  /**
   * Client: handlers running at once per procedure; excess → `overloaded`.
   * @default 256
   */
  readonly maxHandlerConcurrency: number
  /**
   * Calls in flight per connection (station: from one client or peer; client: its own calls);
   * excess → `overloaded`.
   * @default 1_024
   */
  readonly maxInFlightCallsPerConn: number
  /**
   * Credits a streaming caller grants for provider → caller messages (`cr`), and the window
   * each side re-grants as its application consumes.
   * @default 64
   */
  readonly streamInitialCredit: number
  /**
   * A call stream silent this long ends with `deadline_exceeded`.
   * @default 60_000
   */
  readonly streamIdleTimeoutMs: Millis
  /**
   * Station: calls held at once (routing, resolving, waiting for a retry). Local cap.
   * @default 16_384
   */
  readonly maxPendingCalls: number
  /**
   * Station: local provider registrations held. Local cap.
   * @default 65_536
   */
  readonly maxProviders: number
  /**
   * Station: (realm, procedure) entries in the resolution cache, and tombstones. Local cap.
   * @default 16_384
   */
  readonly maxCacheEntries: number
  /**
   * Client: messages queued per stream while the other side grants no credit. Local cap.
   * @default 64
   */
  readonly streamQueueMax: number
  /**
   * Client: advertisements held. Local cap.
   * @default 1_024
   */
  readonly maxAdvertisements: number
  /**
   * Station: realm ids (hex) served; empty serves every realm. An `adv` or `call` in another
   * realm gets `realm_refused` (as `sub` and `pub` do, §9.4 code 5).
   * @default []
   */
  readonly servedRealms: ReadonlyArray<string>
}

/**
 * The PROTOCOL.md §16 defaults.
 *
 * @since 0.1.0
 * @category presets
 */
export const defaults: Config = {
  callTimeoutMs: 5_000,
  maxCallTtlMs: 300_000,
  ttlHopMarginMs: 5,
  maxCallHops: 4,
  callMaxAttempts: 3,
  callRetryBackoffMs: 50,
  providerCacheMs: 30_000,
  withdrawnTombstoneMs: 30_000,
  withdrawalTtlMs: 60_000,
  republishRetryMs: 30_000,
  providerRecordTtlMs: 3_600_000,
  republishFraction: 0.5,
  storeQuorum: 6,
  maxHandlerConcurrency: 256,
  maxInFlightCallsPerConn: 1_024,
  streamInitialCredit: 64,
  streamIdleTimeoutMs: 60_000,
  maxPendingCalls: 16_384,
  maxProviders: 65_536,
  maxCacheEntries: 16_384,
  streamQueueMax: 64,
  maxAdvertisements: 1_024,
  servedRealms: []
}

/**
 * Small caps for tests and simulations.
 *
 * @since 0.1.0
 * @category presets
 */
export const local: Config = {
  ...defaults,
  callTimeoutMs: 1_000,
  providerCacheMs: 1_000,
  withdrawnTombstoneMs: 1_000,
  republishRetryMs: 1_000,
  maxHandlerConcurrency: 4,
  maxInFlightCallsPerConn: 16,
  streamInitialCredit: 4,
  streamIdleTimeoutMs: 2_000,
  maxPendingCalls: 64,
  streamQueueMax: 8
}

const positiveKeys = [
  "callTimeoutMs",
  "maxCallTtlMs",
  "maxCallHops",
  "callMaxAttempts",
  "withdrawnTombstoneMs",
  "withdrawalTtlMs",
  "republishRetryMs",
  "providerRecordTtlMs",
  "storeQuorum",
  "maxHandlerConcurrency",
  "maxInFlightCallsPerConn",
  "streamInitialCredit",
  "streamIdleTimeoutMs",
  "maxPendingCalls",
  "maxProviders",
  "maxCacheEntries",
  "streamQueueMax",
  "maxAdvertisements"
] as const

/**
 * What is wrong with a config, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (c: Config): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const key of positiveKeys) {
    const v = c[key]
    if (!Number.isSafeInteger(v) || v < 1) out.push(`${key} must be a positive integer`)
  }
  for (const key of ["ttlHopMarginMs", "callRetryBackoffMs", "providerCacheMs"] as const) {
    if (!Number.isSafeInteger(c[key]) || c[key] < 0) out.push(`${key} must be a non-negative integer`)
  }
  if (!(c.republishFraction > 0 && c.republishFraction < 1)) out.push("republishFraction must lie in (0, 1)")
  if (c.callTimeoutMs > c.maxCallTtlMs) out.push("callTimeoutMs must not exceed maxCallTtlMs")
  for (const realm of c.servedRealms) {
    if (!/^[0-9a-f]{64}$/.test(realm)) out.push(`servedRealms entry ${realm} is not 64 lowercase hex digits`)
  }
  return out
}

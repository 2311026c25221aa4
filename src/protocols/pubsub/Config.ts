/**
 * Every knob of pub/sub (PROTOCOL.md §8, defaults in §16), shared by the station's `Router`
 * and the client's `Session`, with unit, default and trade-off, the presets `defaults` (§16)
 * and `local` (tests and simulations), and `problems()`.
 *
 * Key invariant: the cores hold no literal where a knob belongs; every window, cap and delay
 * they use is read from here. Knobs marked "local cap" bound memory of one node and never
 * reach the wire, so §16 does not list them.
 *
 * It does not validate itself on use: the actor calls `problems()` once, at start.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"

/**
 * Knobs for pub/sub. Durations are milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /**
   * Client: how long a missing `tseq` is waited for before the reorder buffer skips it
   * (counted). Lower delivers sooner after loss, higher tolerates more reordering.
   * @default 250
   */
  readonly orderGapWaitMs: Millis
  /**
   * Client: events buffered per (subscription, publisher session, topic) while a gap is open.
   * On overflow the buffer skips to its smallest entry.
   * @default 1_024
   */
  readonly orderBufferMax: number
  /**
   * Client: a `tseq` this far beyond the expected one means the publisher restarted its
   * counters without a new session: flush in order and rebase.
   * @default 10_000
   */
  readonly orderRestartJump: number
  /**
   * Client: duplicates by (`pk`, `sess`, `seq`) are dropped within this window.
   * @default 60_000
   */
  readonly dedupWindowMs: Millis
  /**
   * Client: entries of the dedup window; the oldest is forgotten past it.
   * @default 65_536
   */
  readonly dedupMaxEntries: number
  /**
   * Station: duplicate window; must be ≥ `eventMaxAgeMs` + 2 × `clockSkewLeewayMs` so a
   * replay older than the window fails the age check instead.
   * @default 180_000
   */
  readonly stationDedupWindowMs: Millis
  /**
   * Station: entries of the dedup window; the oldest is forgotten past it.
   * @default 262_144
   */
  readonly stationDedupMaxEntries: number
  /**
   * Station: an envelope whose `ts` is further than this (plus the skew leeway) from the
   * station's wall clock is dropped and counted.
   * @default 30_000
   */
  readonly eventMaxAgeMs: Millis
  /**
   * Tolerated wall-clock skew between nodes (§16 links).
   * @default 60_000
   */
  readonly clockSkewLeewayMs: Millis
  /**
   * Largest envelope body (`b`) accepted, in bytes.
   * @default 262_144
   */
  readonly maxEventBytes: number
  /**
   * Station: subscriptions one client may hold (excess → `err overloaded`).
   * @default 1_024
   */
  readonly maxSubscriptionsPerClient: number
  /**
   * Client: events waiting for one subscription's handler; `amo` drops the oldest and
   * counts, `alo` stops acknowledging (§8.6). Station: frames queued per client behind its
   * send window, with the same drop-oldest policy for `amo`.
   * @default 1_024
   */
  readonly subscriberMailboxSize: number
  /**
   * Station: sustained publishes per second per client (token bucket rate).
   * @default 1_000
   */
  readonly publishRatePerSec: number
  /**
   * Station: token bucket depth per client; excess → `err overloaded`.
   * @default 2_000
   */
  readonly publishBurst: number
  /**
   * Station: interest entries held per peer station; excess ignored and counted.
   * @default 100_000
   */
  readonly maxInterestEntriesPerPeer: number
  /**
   * Station: entries per `interest.sync` / `.add` / `.del` frame.
   * @default 1_024
   */
  readonly maxInterestEntriesPerFrame: number
  /**
   * Station: interest changes are batched over this window before they go to peers.
   * @default 100
   */
  readonly interestBatchMs: Millis
  /**
   * Station: a pattern is withdrawn from peers only after this long without local
   * subscribers, so a quick reconnect causes no churn.
   * @default 5_000
   */
  readonly interestDelDelayMs: Millis
  /**
   * Station: an `alo` `sub` is answered once every peer acknowledged its interest, or after
   * this long.
   * @default 2_000
   */
  readonly interestAckTimeoutMs: Millis
  /**
   * Station: unacknowledged `alo` events are kept this long, and a detached `alo`
   * subscription survives this long.
   * @default 300_000
   */
  readonly aloRetentionMs: Millis
  /**
   * Station: replay buffer entries per `alo` subscription; overflow evicts the oldest and
   * announces a `gap` with `why: overflow`.
   * @default 10_000
   */
  readonly aloBufferMaxEvents: number
  /**
   * Station: replay buffer bytes (envelope bodies) per `alo` subscription.
   * @default 67_108_864
   */
  readonly aloBufferMaxBytes: number
  /**
   * Station: unacknowledged deliveries after which an `alo` subscription pauses.
   * @default 1_024
   */
  readonly aloMaxInFlight: number
  /**
   * Client: cumulative acks go out at most this often per subscription.
   * @default 200
   */
  readonly aloAckIntervalMs: Millis
  /**
   * Station: event frames handed to the actor for one client and not yet reported written
   * (`Flushed`). Past it frames wait in the client's queue. Local cap.
   * @default 256
   */
  readonly clientSendWindow: number
  /**
   * Station: attached clients (with detached `alo` state) held at once. Local cap.
   * @default 4_096
   */
  readonly maxClients: number
  /**
   * Station: peer stations held at once. Local cap.
   * @default 4_096
   */
  readonly maxPeers: number
  /**
   * Client: (subscription, publisher session, topic) reorder streams held; the least
   * recently used is flushed and forgotten past it. Local cap.
   * @default 16_384
   */
  readonly maxOrderStreams: number
  /**
   * Client: topics it publishes on with their own `tseq` counter; a publish on a new topic
   * past it is refused. Local cap.
   * @default 65_536
   */
  readonly maxPublishTopics: number
  /**
   * Client: publishes waiting for a link or an answer. Local cap.
   * @default 1_024
   */
  readonly maxPendingPublishes: number
  /**
   * Station: realm ids (hex) served; empty serves every realm. Others get `err realm_refused`.
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
  orderGapWaitMs: 250,
  orderBufferMax: 1_024,
  orderRestartJump: 10_000,
  dedupWindowMs: 60_000,
  dedupMaxEntries: 65_536,
  stationDedupWindowMs: 180_000,
  stationDedupMaxEntries: 262_144,
  eventMaxAgeMs: 30_000,
  clockSkewLeewayMs: 60_000,
  maxEventBytes: 262_144,
  maxSubscriptionsPerClient: 1_024,
  subscriberMailboxSize: 1_024,
  publishRatePerSec: 1_000,
  publishBurst: 2_000,
  maxInterestEntriesPerPeer: 100_000,
  maxInterestEntriesPerFrame: 1_024,
  interestBatchMs: 100,
  interestDelDelayMs: 5_000,
  interestAckTimeoutMs: 2_000,
  aloRetentionMs: 300_000,
  aloBufferMaxEvents: 10_000,
  aloBufferMaxBytes: 64 * 1024 * 1024,
  aloMaxInFlight: 1_024,
  aloAckIntervalMs: 200,
  clientSendWindow: 256,
  maxClients: 4_096,
  maxPeers: 4_096,
  maxOrderStreams: 16_384,
  maxPublishTopics: 65_536,
  maxPendingPublishes: 1_024,
  servedRealms: []
}

/**
 * Small windows and caps for tests and simulations, so overflow paths are reachable.
 *
 * @since 0.1.0
 * @category presets
 */
export const local: Config = {
  ...defaults,
  orderGapWaitMs: 50,
  orderBufferMax: 16,
  orderRestartJump: 1_000,
  dedupWindowMs: 10_000,
  dedupMaxEntries: 1_024,
  stationDedupMaxEntries: 1_024,
  subscriberMailboxSize: 16,
  interestBatchMs: 10,
  interestDelDelayMs: 100,
  interestAckTimeoutMs: 100,
  aloRetentionMs: 5_000,
  aloBufferMaxEvents: 32,
  aloBufferMaxBytes: 1 << 20,
  aloMaxInFlight: 8,
  aloAckIntervalMs: 10,
  clientSendWindow: 8,
  maxOrderStreams: 256
}

const positiveKeys = [
  "orderGapWaitMs",
  "orderBufferMax",
  "orderRestartJump",
  "dedupWindowMs",
  "dedupMaxEntries",
  "stationDedupWindowMs",
  "stationDedupMaxEntries",
  "eventMaxAgeMs",
  "maxEventBytes",
  "maxSubscriptionsPerClient",
  "subscriberMailboxSize",
  "publishRatePerSec",
  "publishBurst",
  "maxInterestEntriesPerPeer",
  "maxInterestEntriesPerFrame",
  "interestBatchMs",
  "interestAckTimeoutMs",
  "aloRetentionMs",
  "aloBufferMaxEvents",
  "aloBufferMaxBytes",
  "aloMaxInFlight",
  "aloAckIntervalMs",
  "clientSendWindow",
  "maxClients",
  "maxPeers",
  "maxOrderStreams",
  "maxPublishTopics",
  "maxPendingPublishes"
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
  if (!Number.isSafeInteger(c.interestDelDelayMs) || c.interestDelDelayMs < 0) {
    out.push("interestDelDelayMs must be a non-negative integer")
  }
  if (!Number.isSafeInteger(c.clockSkewLeewayMs) || c.clockSkewLeewayMs < 0) {
    out.push("clockSkewLeewayMs must be a non-negative integer")
  }
  if (c.stationDedupWindowMs < c.eventMaxAgeMs + 2 * c.clockSkewLeewayMs) {
    out.push("stationDedupWindowMs must be at least eventMaxAgeMs + 2 × clockSkewLeewayMs")
  }
  for (const realm of c.servedRealms) {
    if (!/^[0-9a-f]{64}$/.test(realm)) out.push(`servedRealms entry ${realm} is not 64 lowercase hex digits`)
  }
  return out
}

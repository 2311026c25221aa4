/**
 * Knobs of the Kademlia DHT core (PROTOCOL.md §10, §16 rows "DHT" and "records"), with their
 * units, defaults and trade-offs, two presets and `problems()`.
 *
 * Key invariant: every cap on a map, queue or pending table the core keeps is a knob here, so
 * a peer can never grow the core's state past what this object allows.
 *
 * The config is data plus one pure function, `sha256`, which the core uses for node ids,
 * record keys and proof of work. The actor passes the platform's SHA-256; tests pass a
 * JavaScript one. `Knobs` (plain data, the presets) and `withHash` build a `Config`.
 *
 * Durations are milliseconds: `…Ms` knobs for timers are on the monotonic clock, record TTLs
 * are compared against unix-ms record fields (`iat`, `exp`).
 *
 * @since 0.1.0
 */
import type { Sha256 } from "./Contact.ts"

/**
 * Every DHT knob, as plain data.
 *
 * @since 0.1.0
 * @category models
 */
export interface Knobs {
  // --- Kademlia (§10.1, §10.2) ---------------------------------------------------------------
  /** Bucket size, contacts per `dht.nodes` reply, store-set size. Larger = more robust to churn, bigger tables and replies. Unit: contacts. @default 20 */
  readonly dhtK: number
  /** Requests in flight per lookup path. Higher = fewer round trips, more messages. Unit: requests. @default 3 */
  readonly dhtAlpha: number
  /** S/Kademlia disjoint lookup paths. More = resists more adversarial nodes (success ≈ 1 − (1 − (1 − f)^hops)^d), costs d× messages. @default 3 */
  readonly dhtDisjointPaths: number
  /** One DHT request (and a ping-before-evict probe) times out after this. Keep near p99 RTT × 2. Unit: ms. @default 2_000 */
  readonly dhtRpcTimeoutMs: number
  /** A lookup ends after this even if paths are still converging; it returns what it has. Unit: ms. @default 10_000 */
  readonly lookupTimeoutMs: number
  /** `FIND_VALUE` stops once this many responders returned valid records. More = fresher merge, slower lookups. @default 3 */
  readonly valueResponsesWanted: number
  /** Candidates kept per full bucket, promoted when a member is evicted. Unit: contacts. @default 10 */
  readonly replacementCacheSize: number
  /** Consecutive failed requests that remove a member at once. Lower = faster repair, more false evictions on lossy links. @default 3 */
  readonly staleAfterFailures: number
  /** A store succeeds iff acks ≥ min(storeQuorum, candidates). Unit: acks. @default 6 */
  readonly storeQuorum: number
  /** A bucket without a lookup in its range for this long is refreshed with a random-id lookup. Unit: ms. @default 900_000 */
  readonly bucketRefreshIntervalMs: number
  /** A lookup of the node's own id runs at start and at this interval. Unit: ms. @default 900_000 */
  readonly selfLookupIntervalMs: number
  /**
   * How often the routing table is snapshotted (§15.2): the running station's `DhtSupervisor`
   * saves its members on this period; the pure core emits a `RoutingSnapshot` on it (the
   * simulator's view). Unit: ms. @default 60_000
   */
  readonly routingSnapshotIntervalMs: number
  // --- Records (§10.3, §10.4) ------------------------------------------------------------------
  /** Holders re-store records they do not own to the closest set at this interval. Unit: ms. @default 600_000 */
  readonly replicateIntervalMs: number
  /** Expired records are swept (and never served) at this interval. Unit: ms. @default 60_000 */
  readonly expireSweepIntervalMs: number
  /** Owners re-sign and re-store at `iat + republishFraction × (exp − iat)`. Lower = more traffic, more margin. Unit: fraction in (0, 1). @default 0.5 */
  readonly republishFraction: number
  /** Largest record accepted: body bytes + signature bytes. Unit: bytes. @default 4_096 */
  readonly maxRecordBytes: number
  /** Signers per key; a new signer past it gets `why: key_full`. Unit: records. @default 64 */
  readonly maxRecordsPerKey: number
  /** Records one signer may hold in this store. Unit: records. @default 4_096 */
  readonly maxRecordsPerSigner: number
  /** Records in this store. Unit: records. @default 200_000 */
  readonly maxStoredRecords: number
  // --- Diversity (§10.1, §10.4) ----------------------------------------------------------------
  /** IPv4 prefix length that defines "one network" for diversity caps. Unit: bits. @default 16 */
  readonly diversityPrefixV4Bits: number
  /** IPv6 prefix length that defines "one network" for diversity caps. Unit: bits. @default 32 */
  readonly diversityPrefixV6Bits: number
  /** Members of one bucket (and entries of one replacement cache) sharing a prefix. Unit: contacts. @default 2 */
  readonly maxPerPrefixPerBucket: number
  /** Members of the whole table sharing a prefix. Unit: contacts. @default 10 */
  readonly maxPerPrefixPerTable: number
  /** Members of one store set sharing a prefix. Unit: contacts. @default 3 */
  readonly maxPerPrefixPerStoreSet: number
  /** Loopback and private addresses are exempt from diversity caps when true (the transport's resolved `acceptPrivateAddrs`). @default false */
  readonly acceptPrivateAddrs: boolean
  /** Station proof of work (§2.4) a contact's id must carry; 0 disables. Unit: bits. @default 8 */
  readonly stationPowBits: number
  // --- Record TTLs (§16 "records") -------------------------------------------------------------
  /** Max `exp − iat` of a `provider` record. Unit: ms. @default 3_600_000 */
  readonly providerRecordTtlMs: number
  /** Max `exp − iat` of a `content-provider` record. Unit: ms. @default 3_600_000 */
  readonly contentProviderTtlMs: number
  /** Max `exp − iat` of an `endpoint` record. Unit: ms. @default 900_000 */
  readonly endpointRecordTtlMs: number
  /** Max `exp − iat` of a `station` record. Unit: ms. @default 900_000 */
  readonly stationRecordTtlMs: number
  /** Max `exp − iat` of a `realm` record. Unit: ms. @default 604_800_000 */
  readonly realmRecordTtlMs: number
  /** Max `exp − iat` of a `revocation` record (90 days). Unit: ms. @default 7_776_000_000 */
  readonly maxRevocationTtlMs: number
  /** A record's `iat` may be this far in the future of our wall clock. Unit: ms. @default 60_000 */
  readonly clockSkewLeewayMs: number
  // --- Core caps (beyond §16: every table the core keeps is bounded) -----------------------------
  /** Lookups (and stores) running at once; more are refused (`busy`). Unit: lookups. @default 64 */
  readonly maxConcurrentLookups: number
  /** Outgoing requests awaiting an answer. Unit: requests. @default 2_048 */
  readonly maxPendingRequests: number
  /** Peers one lookup remembers; past it a closer newcomer displaces the farthest uncontacted. Unit: peers. @default 512 */
  readonly maxLookupPeers: number
  /** `dht.store` messages one replication tick may send; the rest wait for the next tick. Unit: messages. @default 2_048 */
  readonly maxReplicationStoresPerTick: number
  /** Records handed to one newly added contact that is closer to their keys than we are. Unit: records. @default 256 */
  readonly maxHandoffRecordsPerContact: number
  /** Own records tracked for republishing. Unit: records. @default 1_024 */
  readonly maxOwnedRecords: number
}

/**
 * Knobs plus the injected hash.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config extends Knobs {
  /** Pure SHA-256 (node ids, record keys, proof of work). */
  readonly sha256: Sha256
}

/**
 * The defaults of PROTOCOL.md §16, for stations on the open internet.
 *
 * @since 0.1.0
 * @category presets
 */
export const defaults: Knobs = {
  dhtK: 20,
  dhtAlpha: 3,
  dhtDisjointPaths: 3,
  dhtRpcTimeoutMs: 2_000,
  lookupTimeoutMs: 10_000,
  valueResponsesWanted: 3,
  replacementCacheSize: 10,
  staleAfterFailures: 3,
  storeQuorum: 6,
  bucketRefreshIntervalMs: 900_000,
  selfLookupIntervalMs: 900_000,
  routingSnapshotIntervalMs: 60_000,
  replicateIntervalMs: 600_000,
  expireSweepIntervalMs: 60_000,
  republishFraction: 0.5,
  maxRecordBytes: 4_096,
  maxRecordsPerKey: 64,
  maxRecordsPerSigner: 4_096,
  maxStoredRecords: 200_000,
  diversityPrefixV4Bits: 16,
  diversityPrefixV6Bits: 32,
  maxPerPrefixPerBucket: 2,
  maxPerPrefixPerTable: 10,
  maxPerPrefixPerStoreSet: 3,
  acceptPrivateAddrs: false,
  stationPowBits: 8,
  providerRecordTtlMs: 3_600_000,
  contentProviderTtlMs: 3_600_000,
  endpointRecordTtlMs: 900_000,
  stationRecordTtlMs: 900_000,
  realmRecordTtlMs: 604_800_000,
  maxRevocationTtlMs: 7_776_000_000,
  clockSkewLeewayMs: 60_000,
  maxConcurrentLookups: 64,
  maxPendingRequests: 2_048,
  maxLookupPeers: 512,
  maxReplicationStoresPerTick: 2_048,
  maxHandoffRecordsPerContact: 256,
  maxOwnedRecords: 1_024
}

/**
 * Tests and the simulator: short timers, private addresses exempt, no proof of work (key
 * generation stays cheap). Same protocol parameters (k, α, paths) as `defaults`.
 *
 * @since 0.1.0
 * @category presets
 */
export const local: Knobs = {
  ...defaults,
  dhtRpcTimeoutMs: 200,
  lookupTimeoutMs: 2_000,
  bucketRefreshIntervalMs: 60_000,
  selfLookupIntervalMs: 60_000,
  routingSnapshotIntervalMs: 10_000,
  replicateIntervalMs: 30_000,
  expireSweepIntervalMs: 5_000,
  acceptPrivateAddrs: true,
  stationPowBits: 0
}

/**
 * A config from knobs and a pure SHA-256.
 *
 * @since 0.1.0
 * @category constructors
 */
export const withHash = (knobs: Knobs, sha256: Sha256): Config => ({ ...knobs, sha256 })

const positiveIntegers: ReadonlyArray<keyof Knobs> = [
  "dhtK", "dhtAlpha", "dhtDisjointPaths", "dhtRpcTimeoutMs", "lookupTimeoutMs", "valueResponsesWanted",
  "staleAfterFailures", "storeQuorum", "bucketRefreshIntervalMs", "selfLookupIntervalMs", "routingSnapshotIntervalMs",
  "replicateIntervalMs", "expireSweepIntervalMs", "maxRecordBytes", "maxRecordsPerKey", "maxRecordsPerSigner",
  "maxStoredRecords", "maxPerPrefixPerBucket", "maxPerPrefixPerTable", "maxPerPrefixPerStoreSet",
  "providerRecordTtlMs", "contentProviderTtlMs", "endpointRecordTtlMs", "stationRecordTtlMs", "realmRecordTtlMs",
  "maxRevocationTtlMs", "maxConcurrentLookups", "maxPendingRequests", "maxLookupPeers",
  "maxReplicationStoresPerTick", "maxOwnedRecords"
]

/**
 * What is wrong with a set of knobs, in words; empty means valid. Checked once, when the
 * actor starts (a bad config is a defect, not remote input).
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (c: Knobs): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const name of positiveIntegers) {
    const v = c[name]
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) out.push(`${name} must be a positive integer`)
  }
  for (const name of ["replacementCacheSize", "maxHandoffRecordsPerContact", "clockSkewLeewayMs", "stationPowBits"] as const) {
    const v = c[name]
    if (!Number.isSafeInteger(v) || v < 0) out.push(`${name} must be a non-negative integer`)
  }
  if (!(c.republishFraction > 0 && c.republishFraction < 1)) out.push("republishFraction must lie in (0, 1)")
  if (c.dhtRpcTimeoutMs >= c.lookupTimeoutMs) out.push("dhtRpcTimeoutMs must be below lookupTimeoutMs")
  if (c.storeQuorum > c.dhtK) out.push("storeQuorum must not exceed dhtK")
  if (c.valueResponsesWanted > c.dhtK * c.dhtDisjointPaths) out.push("valueResponsesWanted must not exceed dhtK × dhtDisjointPaths")
  if (c.maxPerPrefixPerBucket > c.dhtK) out.push("maxPerPrefixPerBucket must not exceed dhtK")
  if (c.maxPerPrefixPerTable < c.maxPerPrefixPerBucket) out.push("maxPerPrefixPerTable must be at least maxPerPrefixPerBucket")
  if (c.diversityPrefixV4Bits < 1 || c.diversityPrefixV4Bits > 32) out.push("diversityPrefixV4Bits must lie in 1..32")
  if (c.diversityPrefixV6Bits < 1 || c.diversityPrefixV6Bits > 128) out.push("diversityPrefixV6Bits must lie in 1..128")
  if (c.stationPowBits > 32) out.push("stationPowBits above 32 would make station keys impractical to generate")
  if (c.maxLookupPeers < c.dhtK * c.dhtDisjointPaths) out.push("maxLookupPeers must be at least dhtK × dhtDisjointPaths")
  if (c.maxPendingRequests < c.dhtAlpha * c.dhtDisjointPaths) out.push("maxPendingRequests must be at least dhtAlpha × dhtDisjointPaths")
  if (c.maxRecordsPerKey > c.maxStoredRecords) out.push("maxRecordsPerKey must not exceed maxStoredRecords")
  return out
}

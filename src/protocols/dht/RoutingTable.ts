/**
 * The Kademlia routing table (PROTOCOL.md §10.1) as an immutable value: 256 k-buckets indexed
 * by common-prefix length with the local id, each ordered least recently seen first, with a
 * replacement cache per bucket, ping-before-evict and IP-prefix diversity caps.
 *
 * Key invariants (checked by `violations`, exercised by `props/dht.props.ts`):
 * - bucket i holds only ids whose common prefix with `self` is exactly i; never `self`;
 * - at most `dhtK` members and `replacementCacheSize` candidates per bucket; an id is a member
 *   or a candidate, never both;
 * - per diversity class: ≤ `maxPerPrefixPerBucket` members per bucket (and candidates per
 *   cache), ≤ `maxPerPrefixPerTable` members in the table.
 *
 * Pure: it *decides* whom to ping before an eviction (`Observed.Cached.probe`); the step turns
 * that into a `Ping` command and reports the answer back (`probeSucceeded` / `probeFailed`).
 * Incumbents stay while they answer, which is what makes a flood of newcomers harmless.
 *
 * @see Kademlia §2.2 (k-buckets, least-recently-seen eviction only when unresponsive), §4.1
 *   (buckets by prefix, without splitting here: 256 fixed buckets)
 * @see S/Kademlia §4 (Sybil and eclipse resistance: prefer long-lived contacts)
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import * as PersistentMap from "../../core/PersistentMap.ts"
import type { Contact } from "./Contact.ts"
import * as Diversity from "./Diversity.ts"
import * as Xor from "./Xor.ts"

/**
 * The knobs the table reads (a subset of `Config.Knobs`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits extends Diversity.Limits {
  readonly dhtK: number
  readonly replacementCacheSize: number
  readonly staleAfterFailures: number
  readonly maxPerPrefixPerBucket: number
  readonly maxPerPrefixPerTable: number
}

/**
 * A contact as the table holds it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly contact: Contact
  /** Hex of the id (the map key). */
  readonly key: string
  /** The remote IP observed on its authenticated connection. */
  readonly ip: string
  /** Its diversity class; `undefined` when exempt. */
  readonly prefix: string | undefined
  /** Last time it answered or was seen (monotonic ms). */
  readonly lastSeen: Millis
  /** Consecutive failed requests, counting requests in flight together once (`recordFailure`). */
  readonly failures: number
  /**
   * Requests numbered below this were in flight when the last failure was counted: their own
   * failures are the same outage and do not count again.
   */
  readonly failedBefore?: number
}

/**
 * One k-bucket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bucket {
  /** At most `dhtK`, least recently seen first. */
  readonly members: ReadonlyArray<Entry>
  /** The replacement cache: at most `replacementCacheSize`, oldest first. */
  readonly cache: ReadonlyArray<Entry>
  /** The member being pinged before a possible eviction (its key), if any. */
  readonly probe: string | undefined
  /** Last lookup in this bucket's range or last member added (monotonic ms). */
  readonly touchedAt: Millis
}

/**
 * The table.
 *
 * @since 0.1.0
 * @category models
 */
export interface RoutingTable {
  readonly self: Xor.NodeId
  readonly buckets: ReadonlyArray<Bucket>
  /** Members over all buckets. */
  readonly size: number
  /**
   * Members per diversity class over the whole table: a persistent map once changed (a new
   * version shares the old one's rows), iterating in the order a copied `Map` would.
   */
  readonly prefixCounts: ReadonlyMap<string, number>
}

/**
 * Why a contact was turned away.
 *
 * @since 0.1.0
 * @category models
 */
export type RejectReason = "self" | "bucket-prefix-cap" | "table-prefix-cap" | "bucket-full"

/**
 * What `observe` did.
 *
 * @since 0.1.0
 * @category models
 */
export type Observed =
  /** A new member. */
  | { readonly _tag: "Added"; readonly bucket: number; readonly entry: Entry }
  /** An existing member, now most recently seen. */
  | { readonly _tag: "Refreshed"; readonly bucket: number }
  /** A full bucket: the newcomer waits in the cache; `probe` is a member to ping now, if a probe starts. */
  | { readonly _tag: "Cached"; readonly bucket: number; readonly probe: Contact | undefined }
  /** Not admitted. */
  | { readonly _tag: "Rejected"; readonly reason: RejectReason }

/**
 * What a removal did: the member that left and the candidate promoted in its place.
 *
 * @since 0.1.0
 * @category models
 */
export interface Removal {
  readonly bucket: number
  readonly evicted: Entry | undefined
  readonly promoted: Entry | undefined
}

const emptyBucket: Bucket = { members: [], cache: [], probe: undefined, touchedAt: 0 }

/**
 * An empty table for `self`; every bucket counts as touched at `now`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (self: Xor.NodeId, now: Millis = 0): RoutingTable => ({
  self,
  buckets: Array.from({ length: Xor.idBits }, () => (now === 0 ? emptyBucket : { ...emptyBucket, touchedAt: now })),
  size: 0,
  prefixCounts: new Map()
})

/**
 * The bucket an id belongs to (its common prefix length with self); 256 for self.
 *
 * @since 0.1.0
 * @category getters
 */
export const bucketIndex = (table: RoutingTable, id: Xor.NodeId): number => Xor.commonPrefixLength(table.self, id)

const withBucket = (table: RoutingTable, index: number, bucket: Bucket): ReadonlyArray<Bucket> => {
  const buckets = table.buckets.slice()
  buckets[index] = bucket
  return buckets
}

// The counts are a persistent map: a new version shares the old one's rows instead of copying
// them, and iterates in the order a copied `Map` would.
const bump = (counts: ReadonlyMap<string, number>, prefix: string | undefined, by: number): ReadonlyMap<string, number> => {
  if (prefix === undefined || by === 0) return counts
  const n = (counts.get(prefix) ?? 0) + by
  return n <= 0 ? PersistentMap.remove(counts, prefix) : PersistentMap.set(counts, prefix, n)
}

const countPrefix = (entries: ReadonlyArray<Entry>, prefix: string, skip?: string): number => {
  let n = 0
  for (const e of entries) if (e.prefix === prefix && e.key !== skip) n++
  return n
}

/**
 * Whether an entry of class `prefix` may join `bucket`'s members, given `skip` (an entry
 * being replaced, which does not count against itself).
 */
const admits = (
  limits: Limits,
  table: RoutingTable,
  bucket: Bucket,
  prefix: string | undefined,
  skip?: Entry
): RejectReason | undefined => {
  if (prefix === undefined) return undefined
  if (countPrefix(bucket.members, prefix, skip?.key) >= limits.maxPerPrefixPerBucket) return "bucket-prefix-cap"
  const inTable = (table.prefixCounts.get(prefix) ?? 0) - (skip !== undefined && skip.prefix === prefix ? 1 : 0)
  if (inTable >= limits.maxPerPrefixPerTable) return "table-prefix-cap"
  return undefined
}

/**
 * A station was seen over an authenticated connection (`PeerConnected`, or any request or
 * answer from it): update, add, cache or reject it.
 *
 * A full bucket never evicts on its own: the newcomer waits in the replacement cache and the
 * least recently seen member is named in `probe` (once per bucket at a time). Newcomers must
 * pass the diversity caps to be cached too, so one network cannot flush a cache.
 *
 * @since 0.1.0
 * @category combinators
 */
export const observe = (
  limits: Limits,
  table: RoutingTable,
  contact: Contact,
  ip: string,
  now: Millis
): readonly [RoutingTable, Observed] => {
  const index = bucketIndex(table, contact.id)
  if (index >= Xor.idBits) return [table, { _tag: "Rejected", reason: "self" }]
  const bucket = table.buckets[index]!
  const key = Xor.toHex(contact.id)
  const prefix = Diversity.classOf(limits, ip)
  const memberAt = bucket.members.findIndex((e) => e.key === key)
  if (memberAt >= 0) {
    const old = bucket.members[memberAt]!
    // A member seen from a new network is re-admitted under the new class only if the caps
    // allow it; otherwise it keeps its old entry (an eclipse attempt cannot move incumbents).
    if (old.prefix !== prefix) {
      const reason = admits(limits, table, bucket, prefix, old)
      if (reason !== undefined) return [table, { _tag: "Rejected", reason }]
    }
    const entry: Entry = { ...old, contact, ip, prefix, lastSeen: now, failures: 0 }
    const members = [...bucket.members.slice(0, memberAt), ...bucket.members.slice(memberAt + 1), entry]
    const counts = bump(bump(table.prefixCounts, old.prefix, -1), prefix, 1)
    return [
      { ...table, buckets: withBucket(table, index, { ...bucket, members }), prefixCounts: counts },
      { _tag: "Refreshed", bucket: index }
    ]
  }
  const reason = admits(limits, table, bucket, prefix)
  if (reason !== undefined) return [table, { _tag: "Rejected", reason }]
  const entry: Entry = { contact, key, ip, prefix, lastSeen: now, failures: 0 }
  const cache = bucket.cache.filter((e) => e.key !== key)
  if (bucket.members.length < limits.dhtK) {
    const next: Bucket = { ...bucket, members: [...bucket.members, entry], cache, touchedAt: now }
    return [
      { ...table, buckets: withBucket(table, index, next), size: table.size + 1, prefixCounts: bump(table.prefixCounts, prefix, 1) },
      { _tag: "Added", bucket: index, entry }
    ]
  }
  if (limits.replacementCacheSize <= 0) return [table, { _tag: "Rejected", reason: "bucket-full" }]
  if (prefix !== undefined && countPrefix(cache, prefix) >= limits.maxPerPrefixPerBucket) {
    return [table, { _tag: "Rejected", reason: "bucket-prefix-cap" }]
  }
  const grown = [...cache, entry]
  const trimmed = grown.length > limits.replacementCacheSize ? grown.slice(grown.length - limits.replacementCacheSize) : grown
  const probe = bucket.probe === undefined ? bucket.members[0] : undefined
  const next: Bucket = { ...bucket, cache: trimmed, probe: probe?.key ?? bucket.probe }
  return [{ ...table, buckets: withBucket(table, index, next) }, { _tag: "Cached", bucket: index, probe: probe?.contact }]
}

/** The value of one hex digit (either case), or -1. */
const nibble = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : code >= 65 && code <= 70 ? code - 55 : -1

/**
 * The bucket of a key: the common prefix of `self` and the id the key spells, read straight
 * off the hex (no decoding); `undefined` for a key that is not the hex of an id, or is self.
 */
const locate = (table: RoutingTable, key: string): number | undefined => {
  if (key.length !== Xor.idBytes * 2) return undefined
  let index = -1
  for (let i = 0; i < key.length; i++) {
    const n = nibble(key.charCodeAt(i))
    if (n < 0) return undefined
    if (index < 0) {
      const byte = table.self[i >> 1] ?? 0
      const x = n ^ ((i & 1) === 0 ? byte >> 4 : byte & 15)
      if (x !== 0) index = i * 4 + Math.clz32(x) - 28
    }
  }
  return index < 0 ? undefined : index
}

/**
 * The member with this key, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const member = (table: RoutingTable, key: string): Entry | undefined => {
  const index = locate(table, key)
  return index === undefined ? undefined : table.buckets[index]!.members.find((e) => e.key === key)
}

/**
 * A member answered something: it becomes most recently seen and its failure count resets.
 * Does nothing for an id that is not a member. Does not end a probe: only the probe's own
 * answer does, so each probe maps to exactly one `Ping`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const markAlive = (table: RoutingTable, key: string, now: Millis): RoutingTable => {
  const index = locate(table, key)
  if (index === undefined) return table
  const bucket = table.buckets[index]!
  const at = bucket.members.findIndex((e) => e.key === key)
  if (at < 0) return table
  const entry = { ...bucket.members[at]!, lastSeen: now, failures: 0 }
  const members = [...bucket.members.slice(0, at), ...bucket.members.slice(at + 1), entry]
  return { ...table, buckets: withBucket(table, index, { ...bucket, members }) }
}

/**
 * Removes a member (or a cached candidate) and promotes the freshest candidate that passes
 * the diversity caps. Used for a failed probe, a stale member and a SWIM death (§11.6).
 *
 * @since 0.1.0
 * @category combinators
 */
export const remove = (limits: Limits, table: RoutingTable, key: string): readonly [RoutingTable, Removal] => {
  const index = locate(table, key)
  if (index === undefined) return [table, { bucket: -1, evicted: undefined, promoted: undefined }]
  const bucket = table.buckets[index]!
  const evicted = bucket.members.find((e) => e.key === key)
  const cacheLeft = bucket.cache.filter((e) => e.key !== key)
  if (evicted === undefined) {
    if (cacheLeft.length === bucket.cache.length) return [table, { bucket: index, evicted: undefined, promoted: undefined }]
    return [{ ...table, buckets: withBucket(table, index, { ...bucket, cache: cacheLeft }) }, { bucket: index, evicted: undefined, promoted: undefined }]
  }
  const members = bucket.members.filter((e) => e.key !== key)
  let t: RoutingTable = {
    ...table,
    size: table.size - 1,
    prefixCounts: bump(table.prefixCounts, evicted.prefix, -1)
  }
  let b: Bucket = { ...bucket, members, cache: cacheLeft, probe: bucket.probe === key ? undefined : bucket.probe }
  // Freshest first: the candidate seen most recently is the likeliest to be alive.
  let promoted: Entry | undefined
  for (let i = b.cache.length - 1; i >= 0; i--) {
    const candidate = b.cache[i]!
    if (admits(limits, t, b, candidate.prefix) !== undefined) continue
    promoted = candidate
    b = { ...b, members: [...b.members, candidate], cache: b.cache.filter((_, j) => j !== i) }
    t = { ...t, size: t.size + 1, prefixCounts: bump(t.prefixCounts, candidate.prefix, 1) }
    break
  }
  return [{ ...t, buckets: withBucket(t, index, b) }, { bucket: index, evicted, promoted }]
}

/**
 * The probed member answered its ping: it stays (most recently seen) and the probe ends.
 * The newcomer stays in the cache for a later vacancy.
 *
 * @since 0.1.0
 * @category combinators
 */
export const probeSucceeded = (table: RoutingTable, key: string, now: Millis): RoutingTable => {
  const t = markAlive(table, key, now)
  const index = locate(t, key)
  if (index === undefined) return t
  const bucket = t.buckets[index]!
  return bucket.probe === key ? { ...t, buckets: withBucket(t, index, { ...bucket, probe: undefined }) } : t
}

/**
 * The probed member did not answer: it is evicted and the freshest admissible candidate
 * takes its place. A failure for a member that is not under probe changes nothing.
 *
 * @since 0.1.0
 * @category combinators
 */
export const probeFailed = (limits: Limits, table: RoutingTable, key: string): readonly [RoutingTable, Removal] => {
  const index = locate(table, key)
  if (index === undefined || table.buckets[index]!.probe !== key) {
    return [table, { bucket: index ?? -1, evicted: undefined, promoted: undefined }]
  }
  return remove(limits, table, key)
}

/**
 * Ends a probe without a verdict (the ping could not be sent).
 *
 * @since 0.1.0
 * @category combinators
 */
export const cancelProbe = (table: RoutingTable, key: string): RoutingTable => {
  const index = locate(table, key)
  if (index === undefined) return table
  const bucket = table.buckets[index]!
  return bucket.probe === key ? { ...table, buckets: withBucket(table, index, { ...bucket, probe: undefined }) } : table
}

/**
 * Which request failed, for `recordFailure`: its number, and the number the next request will
 * get (requests are numbered in the order they are sent).
 *
 * @since 0.1.0
 * @category models
 */
export interface FailedRequest {
  readonly request: number
  readonly next: number
}

/**
 * A request to a member failed (timeout, error, closed connection). After
 * `staleAfterFailures` consecutive failures it is removed at once.
 *
 * With `failed` given, requests that were in flight together count once: a lost connection
 * fails every request on it at the same moment (a burst of record hand-offs, say), and that is
 * one failure of the member, not several. A failure counts only for a request sent after the
 * last counted one.
 *
 * @since 0.1.0
 * @category combinators
 */
export const recordFailure = (limits: Limits, table: RoutingTable, key: string, failed?: FailedRequest): readonly [RoutingTable, Removal] => {
  const index = locate(table, key)
  const none: Removal = { bucket: index ?? -1, evicted: undefined, promoted: undefined }
  if (index === undefined) return [table, none]
  const bucket = table.buckets[index]!
  const at = bucket.members.findIndex((e) => e.key === key)
  if (at < 0) return [table, none]
  const entry = bucket.members[at]!
  if (failed !== undefined && entry.failedBefore !== undefined && failed.request < entry.failedBefore) return [table, none]
  if (entry.failures + 1 >= limits.staleAfterFailures) return remove(limits, table, key)
  const counted: Entry = failed === undefined ? { ...entry, failures: entry.failures + 1 } : { ...entry, failures: entry.failures + 1, failedBefore: failed.next }
  const members = bucket.members.map((e, i) => (i === at ? counted : e))
  return [{ ...table, buckets: withBucket(table, index, { ...bucket, members }) }, none]
}

/**
 * Marks a bucket as recently looked up (it then needs no refresh for a while).
 *
 * @since 0.1.0
 * @category combinators
 */
export const touch = (table: RoutingTable, index: number, now: Millis): RoutingTable => {
  const bucket = table.buckets[index]
  if (bucket === undefined || bucket.touchedAt >= now) return table
  return { ...table, buckets: withBucket(table, index, { ...bucket, touchedAt: now }) }
}

/**
 * Every member, bucket by bucket (farthest bucket first), least recently seen first.
 *
 * @since 0.1.0
 * @category getters
 */
export const entries = (table: RoutingTable): ReadonlyArray<Entry> => table.buckets.flatMap((b) => b.members)

/**
 * Every member's contact.
 *
 * @since 0.1.0
 * @category getters
 */
export const contacts = (table: RoutingTable): ReadonlyArray<Contact> => entries(table).map((e) => e.contact)

/**
 * The `count` members nearest `target`, nearest first, leaving out `exclude` (a key).
 *
 * @since 0.1.0
 * @category queries
 */
export const closest = (table: RoutingTable, target: Xor.NodeId, count: number, exclude?: string): ReadonlyArray<Contact> => {
  if (count <= 0) return []
  // Buckets come out in distance bands, so only the nearest bands are sorted. With c the
  // common prefix of self and target: members of bucket c share c + 1 bits with the target
  // (nearest band); members of every bucket above c differ from it first at bit c (one band);
  // a member of bucket i < c differs from it first at bit i (bucket c - 1, then c - 2, ...).
  // Distinct ids lie at distinct distances, so this is the order a full sort gives.
  const c = Xor.commonPrefixLength(table.self, target)
  const out: Array<Contact> = []
  const band: Array<Entry> = []
  const take = () => {
    if (band.length > 1) band.sort((a, b) => Xor.compareDistance(a.contact.id, b.contact.id, target))
    for (const e of band) {
      if (out.length >= count) break
      out.push(e.contact)
    }
    band.length = 0
  }
  const collect = (bucket: Bucket | undefined) => {
    if (bucket !== undefined) for (const e of bucket.members) if (e.key !== exclude) band.push(e)
  }
  collect(table.buckets[c])
  take()
  for (let i = c + 1; i < table.buckets.length && out.length < count; i++) collect(table.buckets[i])
  take()
  for (let i = Math.min(c, table.buckets.length) - 1; i >= 0 && out.length < count; i--) {
    collect(table.buckets[i])
    take()
  }
  return out
}

/**
 * The highest bucket index holding a member, or -1 for an empty table.
 *
 * @since 0.1.0
 * @category getters
 */
export const highestNonEmpty = (table: RoutingTable): number => {
  for (let i = table.buckets.length - 1; i >= 0; i--) if (table.buckets[i]!.members.length > 0) return i
  return -1
}

/**
 * Buckets due for a refresh: every bucket from 0 up to the highest non-empty one that has not
 * been touched for `intervalMs`. Buckets beyond the deepest member are left alone: they cover
 * ranges no peer is known in, and the self-lookup already covers them.
 *
 * @since 0.1.0
 * @category queries
 */
export const dueForRefresh = (table: RoutingTable, now: Millis, intervalMs: Millis): ReadonlyArray<number> => {
  const out: Array<number> = []
  const top = highestNonEmpty(table)
  for (let i = 0; i <= top; i++) if (table.buckets[i]!.touchedAt + intervalMs <= now) out.push(i)
  return out
}

/**
 * When the next bucket falls due for a refresh, or `undefined` for an empty table.
 *
 * @since 0.1.0
 * @category queries
 */
export const nextRefreshAt = (table: RoutingTable, intervalMs: Millis): Millis | undefined => {
  const top = highestNonEmpty(table)
  let at: Millis | undefined
  for (let i = 0; i <= top; i++) {
    const due = table.buckets[i]!.touchedAt + intervalMs
    if (at === undefined || due < at) at = due
  }
  return at
}

/**
 * Every broken invariant, in words; empty for a sound table. Tests and the simulator call it
 * after each step; the core itself never needs to.
 *
 * @since 0.1.0
 * @category invariants
 */
export const violations = (limits: Limits, table: RoutingTable): ReadonlyArray<string> => {
  const out: Array<string> = []
  const seen = new Set<string>()
  const perTable = new Map<string, number>()
  let size = 0
  table.buckets.forEach((bucket, i) => {
    if (bucket.members.length > limits.dhtK) out.push(`bucket ${i} holds ${bucket.members.length} > k members`)
    if (bucket.cache.length > limits.replacementCacheSize) out.push(`bucket ${i} caches ${bucket.cache.length} candidates`)
    const perBucket = new Map<string, number>()
    const perCache = new Map<string, number>()
    for (const [list, counts] of [[bucket.members, perBucket], [bucket.cache, perCache]] as const) {
      for (const e of list) {
        if (Xor.equals(e.contact.id, table.self)) out.push(`bucket ${i} holds self`)
        if (Xor.commonPrefixLength(table.self, e.contact.id) !== i) out.push(`${e.key} sits in the wrong bucket ${i}`)
        if (seen.has(e.key)) out.push(`${e.key} appears twice`)
        seen.add(e.key)
        if (e.prefix !== undefined) counts.set(e.prefix, (counts.get(e.prefix) ?? 0) + 1)
      }
    }
    for (const [p, n] of perBucket) {
      if (n > limits.maxPerPrefixPerBucket) out.push(`bucket ${i} holds ${n} members of ${p}`)
      perTable.set(p, (perTable.get(p) ?? 0) + n)
    }
    for (const [p, n] of perCache) if (n > limits.maxPerPrefixPerBucket) out.push(`bucket ${i} caches ${n} of ${p}`)
    if (bucket.probe !== undefined && !bucket.members.some((e) => e.key === bucket.probe)) out.push(`bucket ${i} probes a non-member`)
    size += bucket.members.length
  })
  for (const [p, n] of perTable) {
    if (n > limits.maxPerPrefixPerTable) out.push(`table holds ${n} members of ${p}`)
    if (table.prefixCounts.get(p) !== n) out.push(`prefix count of ${p} is ${table.prefixCounts.get(p)}, not ${n}`)
  }
  if (size !== table.size) out.push(`size is ${table.size}, not ${size}`)
  return out
}

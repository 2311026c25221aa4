/**
 * One k-bucket on its own (PROTOCOL.md §10.1): the slice of the routing table a
 * `DhtBucketActor` holds, with the same admission, ping-before-evict, staleness and promotion
 * rules as the whole-table `RoutingTable` (every operation here delegates to it).
 *
 * Key invariant: a slice's table holds members and candidates of bucket `index` only, and its
 * `prefixCounts` count only those members. The table-wide diversity cap
 * (`maxPerPrefixPerTable`) needs the other buckets' counts: callers pass them as `outside`, and
 * the slice is checked against own + outside, exactly as `RoutingTable.observe` checks the
 * whole table.
 *
 * It does not route (the caller sends each contact to the slice of its bucket), keep time or
 * ping: like `RoutingTable`, it names the member to probe and takes the verdict back.
 *
 * @see Kademlia §2.2 (k-buckets, least-recently-seen eviction only when unresponsive)
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import type { Contact } from "./Contact.ts"
import * as RoutingTable from "./RoutingTable.ts"
import * as Xor from "./Xor.ts"

/**
 * One bucket of a node's routing table.
 *
 * @since 0.1.0
 * @category models
 */
export interface Slice {
  /** The bucket's index: the common prefix length its ids share with `self`. */
  readonly index: number
  /** A table whose only non-empty bucket is `index`; `prefixCounts` counts this bucket only. */
  readonly table: RoutingTable.RoutingTable
}

/**
 * Members per diversity class, over some buckets.
 *
 * @since 0.1.0
 * @category models
 */
export type Counts = ReadonlyMap<string, number>

/**
 * An empty bucket `index` of node `self`, touched at `now`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (self: Xor.NodeId, index: number, now: Millis): Slice => ({ index, table: RoutingTable.empty(self, now) })

/**
 * The bucket itself.
 *
 * @since 0.1.0
 * @category getters
 */
export const bucket = (slice: Slice): RoutingTable.Bucket => slice.table.buckets[slice.index]!

/**
 * Whether `id` belongs to this bucket.
 *
 * @since 0.1.0
 * @category guards
 */
export const holds = (slice: Slice, id: Xor.NodeId): boolean =>
  Xor.isId(id) && RoutingTable.bucketIndex(slice.table, id) === slice.index

/**
 * Members of this bucket per diversity class (what the other buckets need as `outside`).
 *
 * @since 0.1.0
 * @category getters
 */
export const counts = (slice: Slice): Counts => slice.table.prefixCounts

const ownCounts = (b: RoutingTable.Bucket): Counts => {
  const out = new Map<string, number>()
  for (const e of b.members) if (e.prefix !== undefined) out.set(e.prefix, (out.get(e.prefix) ?? 0) + 1)
  return out
}

const merged = (own: Counts, outside: Counts): Counts => {
  if (outside.size === 0) return own
  const out = new Map(outside)
  for (const [p, n] of own) out.set(p, (out.get(p) ?? 0) + n)
  return out
}

/** Runs a whole-table operation on the slice seen with the other buckets' counts. */
const through = <A>(
  slice: Slice,
  outside: Counts,
  op: (table: RoutingTable.RoutingTable) => readonly [RoutingTable.RoutingTable, A]
): readonly [Slice, A] => {
  const [table, out] = op({ ...slice.table, prefixCounts: merged(slice.table.prefixCounts, outside) })
  return [{ index: slice.index, table: { ...table, prefixCounts: ownCounts(table.buckets[slice.index]!) } }, out]
}

/**
 * A station of this bucket was seen over an authenticated connection: `RoutingTable.observe`
 * on this bucket, with the table-wide cap checked against own + `outside` counts. A contact of
 * another bucket is rejected as `"self"`'s sibling case would be: the caller routed it wrongly.
 *
 * @since 0.1.0
 * @category combinators
 */
export const observe = (
  limits: RoutingTable.Limits,
  slice: Slice,
  contact: Contact,
  ip: string,
  now: Millis,
  outside: Counts
): readonly [Slice, RoutingTable.Observed] => {
  if (!holds(slice, contact.id)) return [slice, { _tag: "Rejected", reason: "self" }]
  return through(slice, outside, (t) => RoutingTable.observe(limits, t, contact, ip, now))
}

/**
 * Removes a member or candidate and promotes the freshest admissible candidate.
 *
 * @since 0.1.0
 * @category combinators
 */
export const remove = (limits: RoutingTable.Limits, slice: Slice, key: string, outside: Counts): readonly [Slice, RoutingTable.Removal] =>
  through(slice, outside, (t) => RoutingTable.remove(limits, t, key))

/**
 * The probed member did not answer: evict it and promote a candidate.
 *
 * @since 0.1.0
 * @category combinators
 */
export const probeFailed = (limits: RoutingTable.Limits, slice: Slice, key: string, outside: Counts): readonly [Slice, RoutingTable.Removal] =>
  through(slice, outside, (t) => RoutingTable.probeFailed(limits, t, key))

/**
 * A request to a member failed; after `staleAfterFailures` in a row it is removed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const recordFailure = (limits: RoutingTable.Limits, slice: Slice, key: string, outside: Counts): readonly [Slice, RoutingTable.Removal] =>
  through(slice, outside, (t) => RoutingTable.recordFailure(limits, t, key))

/**
 * The probed member answered: it stays, the probe ends.
 *
 * @since 0.1.0
 * @category combinators
 */
export const probeSucceeded = (slice: Slice, key: string, now: Millis): Slice => ({
  index: slice.index,
  table: RoutingTable.probeSucceeded(slice.table, key, now)
})

/**
 * Ends a probe without a verdict.
 *
 * @since 0.1.0
 * @category combinators
 */
export const cancelProbe = (slice: Slice, key: string): Slice => ({ index: slice.index, table: RoutingTable.cancelProbe(slice.table, key) })

/**
 * A member answered something: most recently seen, failures reset.
 *
 * @since 0.1.0
 * @category combinators
 */
export const markAlive = (slice: Slice, key: string, now: Millis): Slice => ({ index: slice.index, table: RoutingTable.markAlive(slice.table, key, now) })

/**
 * A lookup ran in this bucket's range: its refresh is postponed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const touch = (slice: Slice, now: Millis): Slice => ({ index: slice.index, table: RoutingTable.touch(slice.table, slice.index, now) })

/**
 * The `count` members nearest `target`, nearest first, leaving out `exclude` (a key).
 *
 * @since 0.1.0
 * @category queries
 */
export const closest = (slice: Slice, target: Xor.NodeId, count: number, exclude?: string): ReadonlyArray<Contact> =>
  RoutingTable.closest(slice.table, target, count, exclude)

/**
 * Whether the bucket saw no lookup and no new member for `intervalMs` (§10.1 refresh).
 *
 * @since 0.1.0
 * @category queries
 */
export const isDueForRefresh = (slice: Slice, now: Millis, intervalMs: Millis): boolean => bucket(slice).touchedAt + intervalMs <= now

/**
 * Merges per-bucket answers into the `count` contacts nearest `target`, nearest first,
 * without duplicates.
 *
 * @since 0.1.0
 * @category queries
 */
export const mergeClosest = (lists: ReadonlyArray<ReadonlyArray<Contact>>, target: Xor.NodeId, count: number): ReadonlyArray<Contact> => {
  const seen = new Map<string, Contact>()
  for (const list of lists) for (const c of list) seen.set(Xor.toHex(c.id), c)
  return [...seen.values()].sort((a, b) => Xor.compareDistance(a.id, b.id, target)).slice(0, Math.max(0, count))
}

/**
 * Every broken invariant of the slice, in words: the table's own (`RoutingTable.violations`
 * against this bucket alone, so the table-wide cap is the caller's to check) plus "nothing
 * outside bucket `index`".
 *
 * @since 0.1.0
 * @category invariants
 */
export const violations = (limits: RoutingTable.Limits, slice: Slice): ReadonlyArray<string> => {
  const out = [...RoutingTable.violations(limits, slice.table)]
  slice.table.buckets.forEach((b, i) => {
    if (i !== slice.index && (b.members.length > 0 || b.cache.length > 0)) out.push(`slice ${slice.index} holds entries of bucket ${i}`)
  })
  return out
}

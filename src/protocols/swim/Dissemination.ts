/**
 * The broadcast queue of SWIM's infection-style dissemination (PROTOCOL.md §11.5): claims
 * waiting to be piggybacked on pings, ping-reqs and acks.
 *
 * SWIM sends no gossip messages of its own; every claim rides on probe traffic, which flows
 * anyway. Each claim is sent at most λ × ⌈log10(n + 1)⌉ times: after O(log n) rounds of
 * epidemic spread nearly every member has it, and more copies only cost bytes. The
 * least-sent claims go first (then the newest), so a burst of changes is spread evenly
 * rather than the oldest claim hogging every packet.
 *
 * Key invariant: the queue holds at most one claim per subject (a newer claim about a subject
 * replaces the queued one) and never more than its `cap` entries, so a flood of claims cannot
 * grow it; when full, the most-transmitted entry makes room.
 *
 * @see Das et al., SWIM (2002), §4.1 "Infection-Style Dissemination Component".
 * @see hashicorp/memberlist `queue.go` (`TransmitLimitedQueue`), `util.go` (`retransmitLimit`).
 * @since 0.1.0
 */
import type { Claim, MemberId } from "./Claims.ts"
import * as Table from "../../core/PersistentMap.ts"

/**
 * A queued claim and how often it has been sent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly claim: Claim
  readonly transmits: number
  /** Insertion order; higher is newer. */
  readonly order: number
}

/**
 * The queue: one entry per subject.
 *
 * @since 0.1.0
 * @category models
 */
export interface Queue {
  readonly entries: ReadonlyMap<MemberId, Entry>
  readonly nextOrder: number
}

/**
 * An empty queue.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: Queue = { entries: new Map(), nextOrder: 0 }

/**
 * λ × ⌈log10(n + 1)⌉ with n the live members (self included); at least λ, so a lone pair
 * still repeats a claim.
 *
 * @since 0.1.0
 * @category math
 */
export const retransmitLimit = (retransmitMult: number, n: number): number =>
  retransmitMult * Math.max(1, Math.ceil(Math.log10(Math.max(n, 0) + 1)))

/**
 * Queues `claim`, replacing whatever was queued about its subject with a fresh transmit
 * count. Past `cap` entries, the most-sent (then oldest) entry is dropped to make room.
 *
 * @since 0.1.0
 * @category combinators
 */
export const enqueue = (q: Queue, claim: Claim, cap: number): Queue => {
  // A persistent table, not a Map copy per claim: a sync of n new members queues n claims.
  let entries = Table.remove(q.entries, claim.subject)
  if (entries.size >= cap) {
    let victim: Entry | undefined
    for (const e of entries.values()) {
      if (victim === undefined || e.transmits > victim.transmits ||
        (e.transmits === victim.transmits && e.order < victim.order)) victim = e
    }
    if (victim !== undefined) entries = entries.delete(victim.claim.subject)
  }
  entries = entries.set(claim.subject, { claim, transmits: 0, order: q.nextOrder })
  return { entries, nextOrder: q.nextOrder + 1 }
}

/**
 * Takes up to `max` claims for one outgoing packet, fewest-sent first then newest, skipping
 * `exclude` (the buddy claim the caller puts first itself). Each taken claim counts one
 * transmission; claims that reach `limit` leave the queue.
 *
 * @since 0.1.0
 * @category combinators
 */
export const take = (
  q: Queue,
  max: number,
  limit: number,
  exclude?: MemberId
): readonly [ReadonlyArray<Claim>, Queue] => {
  if (max <= 0 || q.entries.size === 0) return [[], q]
  // One pass keeping the best `max` in order, not a sort of the whole queue per packet: the
  // queue holds hundreds of claims in a busy 1,000-member cluster, a packet takes 16.
  const chosen: Array<Entry> = []
  for (const e of q.entries.values()) {
    if (e.claim.subject === exclude) continue
    if (chosen.length === max && !before(e, chosen[max - 1]!)) continue
    let i = chosen.length === max ? max - 1 : chosen.length
    while (i > 0 && before(e, chosen[i - 1]!)) {
      chosen[i] = chosen[i - 1]!
      i--
    }
    chosen[i] = e
  }
  if (chosen.length === 0) return [[], q]
  let entries = Table.Table.from(q.entries)
  for (const e of chosen) {
    const transmits = e.transmits + 1
    entries = transmits >= limit ? entries.delete(e.claim.subject) : entries.set(e.claim.subject, { ...e, transmits })
  }
  return [chosen.map((e) => e.claim), { entries, nextOrder: q.nextOrder }]
}

/** Whether `a` goes out before `b`: fewer transmissions, then newer (orders are distinct). */
const before = (a: Entry, b: Entry): boolean =>
  a.transmits < b.transmits || (a.transmits === b.transmits && a.order > b.order)

/**
 * Claims currently queued.
 *
 * @since 0.1.0
 * @category getters
 */
export const size = (q: Queue): number => q.entries.size

/**
 * The queued claim about `subject`, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const queued = (q: Queue, subject: MemberId): Claim | undefined => q.entries.get(subject)?.claim

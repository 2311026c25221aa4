/**
 * The SWIM core's state: this station, the membership table, the probe in flight, the
 * indirect probes run for others, the broadcast queue, timer generations, Lifeguard health,
 * the seeded PRNG and the counters the actor turns into metrics.
 *
 * Key invariants: every collection is bounded by `Config` (members ≤ `swimMaxMembers`,
 * queue ≤ `swimMaxMembers` + 1, relays ≤ `maxPendingRelays`, pending syncs ≤
 * `maxPendingSyncs`, accusers per suspicion ≤ k + 1, timers ≤ 3 + suspects + relays); `live`
 * equals the members not dead; the own incarnation never decreases; a member's incarnation
 * never decreases while it is held. States are values: every update copies what it changes.
 *
 * Also here: `Turn`, the context of one step (config, `now` and the commands emitted so far),
 * and the small state operations every module shares (timers, counters, members).
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import * as Prng from "../../core/Prng.ts"
import * as Claims from "./Claims.ts"
import type { Claim, Incarnation, MemberId } from "./Claims.ts"
import { Command } from "./Command.ts"
import type { Config } from "./Config.ts"
import * as Dissemination from "./Dissemination.ts"
import type { Suspicion } from "./Suspicion.ts"
import * as Table from "../../core/PersistentMap.ts"
import type { TimerKey } from "./Timer.ts"

/**
 * A member's state in the table.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "alive" | "suspect" | "dead"

/**
 * One row of the membership table.
 *
 * @since 0.1.0
 * @category models
 */
export interface Member {
  readonly id: MemberId
  readonly status: Status
  readonly incarnation: Incarnation
  /** Addresses from its latest alive claim. */
  readonly addrs: ReadonlyArray<string>
  /** The claim that set the current status and incarnation (relayed in syncs and as buddy). */
  readonly claim: Claim
  /** Its latest alive claim, sent beside a suspect claim in syncs so receivers can probe it. */
  readonly lastAlive: Claim | undefined
  /** The running suspicion window, when suspect. */
  readonly suspicion: Suspicion | undefined
  /** When the status last changed (tombstone age). */
  readonly changedAt: Millis
}

/**
 * The probe of the current round.
 *
 * @since 0.1.0
 * @category models
 */
export interface Probe {
  /** Our `seq` for the direct ping and the ping-reqs alike. */
  readonly seq: number
  readonly target: MemberId
  readonly startedAt: Millis
  /** Ping-reqs were sent (the direct phase is over). */
  readonly indirect: boolean
  /** Members asked to probe for us; only their acks and nacks count. */
  readonly helpers: ReadonlyArray<MemberId>
  /** Helpers that answered `nack`, each once. */
  readonly nacks: ReadonlyArray<MemberId>
  readonly acked: boolean
}

/**
 * An indirect probe we run for `requester`, keyed by our own `seq`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Relay {
  readonly requester: MemberId
  readonly requesterSeq: number
  readonly target: MemberId
  readonly startedAt: Millis
  /** The nack was sent; the relay now only waits for a late ack until it expires. */
  readonly nacked: boolean
}

/**
 * This station.
 *
 * @since 0.1.0
 * @category models
 */
export interface Self {
  readonly id: MemberId
  readonly incarnation: Incarnation
  readonly addrs: ReadonlyArray<string>
  /** `Leave` was handled: our dead claim is out and we refute nothing. */
  readonly leaving: boolean
}

/**
 * What the core ignored or refused; the actor exports these as metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counters {
  /** Claims older than (or equal to) what we hold. */
  readonly claimsStale: number
  /** Suspect or dead claims about members we do not hold. */
  readonly claimsUnknown: number
  /** Structurally invalid claims (the sender was penalised). */
  readonly claimsRejected: number
  /** New members refused because the table was full of live members. */
  readonly membersRefused: number
  /** Acks matching no probe or relay (late, duplicated or forged; §14 row 10). */
  readonly unexpectedAcks: number
  /** Nacks matching no helper of the current probe. */
  readonly unexpectedNacks: number
  /** Ping-reqs dropped because `maxPendingRelays` were running. */
  readonly relaysDropped: number
  /** Claims beyond the cap of one sync, dropped. */
  readonly syncClaimsDropped: number
  /** Send failures that concerned no probe, relay or sync. */
  readonly sendFailures: number
  /** Timers that fired with a superseded generation. */
  readonly staleTimers: number
  /** Accusations against us that we refuted. */
  readonly refutations: number
  /** Accusations at the largest incarnation, which cannot be outbid. */
  readonly unrefutable: number
  /** Events that made no sense in the current state (a second `Start`, a packet from self). */
  readonly ignoredEvents: number
}

/**
 * The SWIM core's state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly self: Self
  /** Every other member we hold, tombstones included. */
  readonly members: ReadonlyMap<MemberId, Member>
  /** Members whose status is not dead. */
  readonly live: number
  /**
   * No tombstone held became dead before this time (a lower bound, kept by `putMember`), so
   * no tombstone can expire before `tombstonesSince + deadRetentionMs`; undefined: unknown.
   * It spares the reaper a scan of the table on every probe tick.
   */
  readonly tombstonesSince?: Millis | undefined
  readonly queue: Dissemination.Queue
  /** The round-robin probe list of this pass, and the position in it. */
  readonly order: ReadonlyArray<MemberId>
  readonly cursor: number
  readonly probe: Probe | undefined
  readonly relays: ReadonlyMap<number, Relay>
  /** Sync requests we sent, by `seq`, awaiting the reply from that member. */
  readonly pendingSyncs: ReadonlyMap<number, MemberId>
  /** Lifeguard local health, 0 = healthy. */
  readonly health: number
  /** The current generation of every armed timer. */
  readonly timers: ReadonlyMap<TimerKey, number>
  readonly nextGeneration: number
  readonly nextSeq: number
  readonly prng: Prng.Prng
  readonly started: boolean
  readonly counters: Counters
}

/**
 * What `initial` needs besides the config.
 *
 * @since 0.1.0
 * @category models
 */
export interface Init {
  readonly self: MemberId
  /** The persisted incarnation + 1 (0 on first start), so a restarted station outbids its past. */
  readonly incarnation: Incarnation
  readonly addrs: ReadonlyArray<string>
  /** Seed of the PRNG (probe order, helpers, push-pull partner, timer stagger). */
  readonly seed: number
}

const zeroCounters: Counters = {
  claimsStale: 0,
  claimsUnknown: 0,
  claimsRejected: 0,
  membersRefused: 0,
  unexpectedAcks: 0,
  unexpectedNacks: 0,
  relaysDropped: 0,
  syncClaimsDropped: 0,
  sendFailures: 0,
  staleTimers: 0,
  refutations: 0,
  unrefutable: 0,
  ignoredEvents: 0
}

/**
 * A fresh state: no members, nothing armed. Pure, so a supervisor can rebuild it after a
 * crash; the actor then feeds `Start` and `Join`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = (init: Init): State => ({
  self: { id: init.self, incarnation: init.incarnation, addrs: init.addrs, leaving: false },
  members: new Map(),
  live: 0,
  queue: Dissemination.empty,
  order: [],
  cursor: 0,
  probe: undefined,
  relays: new Map(),
  pendingSyncs: new Map(),
  health: 0,
  timers: new Map(),
  nextGeneration: 1,
  nextSeq: 1,
  prng: Prng.fromSeed(init.seed),
  started: false,
  counters: zeroCounters
})

// ---------------------------------------------------------------------------------------------
// Getters

/**
 * The member `id`, if held.
 *
 * @since 0.1.0
 * @category getters
 */
export const member = (s: State, id: MemberId): Member | undefined => s.members.get(id)

/**
 * n of §11.4 and §11.5: live members, self included.
 *
 * @since 0.1.0
 * @category getters
 */
export const clusterSize = (s: State): number => s.live + 1

/**
 * Ids of the members with `status`, in table order.
 *
 * @since 0.1.0
 * @category getters
 */
export const withStatus = (s: State, status: Status): ReadonlyArray<MemberId> => {
  const out: Array<MemberId> = []
  for (const m of s.members.values()) if (m.status === status) out.push(m.id)
  return out
}

/**
 * Our own current claim: alive, or our leave once leaving.
 *
 * @since 0.1.0
 * @category getters
 */
export const ownClaim = (s: State): Claim =>
  s.self.leaving
    ? Claims.dead(s.self.id, s.self.incarnation, s.self.id)
    : Claims.alive(s.self.id, s.self.incarnation, s.self.addrs)

/**
 * The full state for `swim.sync` (§11.5): our own claim, then per member its latest claim,
 * preceded by its latest alive claim when it is suspect. At most 2 × members + 1 claims.
 *
 * @since 0.1.0
 * @category getters
 */
export const snapshot = (s: State): ReadonlyArray<Claim> => {
  const out: Array<Claim> = [ownClaim(s)]
  for (const m of s.members.values()) {
    if (m.status === "suspect" && m.lastAlive !== undefined) out.push(m.lastAlive)
    out.push(m.claim)
  }
  return out
}

/**
 * Whether a fired timer is the one currently armed under its key.
 *
 * @since 0.1.0
 * @category getters
 */
export const isCurrentTimer = (s: State, timer: TimerKey, generation: number): boolean =>
  s.timers.get(timer) === generation

// ---------------------------------------------------------------------------------------------
// One step's context and shared operations

/**
 * The context of one step: the config, the event's `now` and the commands emitted so far.
 * Built fresh by `step` for each event and never shared, so appending to `out` keeps the
 * step pure from the outside.
 *
 * @since 0.1.0
 * @category models
 */
export interface Turn {
  readonly config: Config
  readonly now: Millis
  readonly out: Array<Command>
}

/**
 * Adds one to a counter.
 *
 * @since 0.1.0
 * @category combinators
 */
export const count = (s: State, key: keyof Counters, by = 1): State => ({
  ...s,
  counters: { ...s.counters, [key]: s.counters[key] + by }
})

/**
 * Arms `timer` at `at` with a fresh generation (superseding any pending one of that key).
 *
 * @since 0.1.0
 * @category combinators
 */
export const setTimer = (t: Turn, s: State, timer: TimerKey, at: Millis): State => {
  const generation = s.nextGeneration
  t.out.push(Command.SetTimer({ timer, at, generation }))
  return { ...s, timers: new Map(s.timers).set(timer, generation), nextGeneration: generation + 1 }
}

/**
 * Disarms `timer` if armed (emitting `CancelTimer`); a no-op otherwise.
 *
 * @since 0.1.0
 * @category combinators
 */
export const cancelTimer = (t: Turn, s: State, timer: TimerKey): State => {
  if (!s.timers.has(timer)) return s
  t.out.push(Command.CancelTimer({ timer }))
  return forgetTimer(s, timer)
}

/**
 * Forgets `timer` without a command: it has just fired.
 *
 * @since 0.1.0
 * @category combinators
 */
export const forgetTimer = (s: State, timer: TimerKey): State => {
  if (!s.timers.has(timer)) return s
  const timers = new Map(s.timers)
  timers.delete(timer)
  return { ...s, timers }
}

/**
 * Writes a member row, keeping `live` in step.
 *
 * @since 0.1.0
 * @category combinators
 */
export const putMember = (s: State, m: Member): State => {
  const before = s.members.get(m.id)
  // A persistent table, not a Map copy: O(√n) per row, so a sync of n claims is not O(n²).
  const members = Table.set(s.members, m.id, m)
  const live = s.live + (m.status !== "dead" ? 1 : 0) - (before !== undefined && before.status !== "dead" ? 1 : 0)
  if (m.status !== "dead" || s.tombstonesSince === undefined || s.tombstonesSince <= m.changedAt) {
    return { ...s, members, live }
  }
  return { ...s, members, live, tombstonesSince: m.changedAt }
}

/**
 * Deletes member rows, keeping `live` in step.
 *
 * @since 0.1.0
 * @category combinators
 */
export const removeMembers = (s: State, ids: ReadonlyArray<MemberId>): State => {
  if (ids.length === 0) return s
  let members = Table.Table.from(s.members)
  let live = s.live
  for (const id of ids) {
    const m = members.get(id)
    if (m === undefined) continue
    if (m.status !== "dead") live--
    members = members.delete(id)
  }
  return { ...s, members, live }
}

/**
 * Queues a claim for piggybacking (at most one per subject, `swimMaxMembers` + 1 in all).
 *
 * @since 0.1.0
 * @category combinators
 */
export const gossip = (t: Turn, s: State, claim: Claim): State => ({
  ...s,
  queue: Dissemination.enqueue(s.queue, claim, t.config.swimMaxMembers + 1)
})

/**
 * Takes a request `seq`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const takeSeq = (s: State): readonly [number, State] => [s.nextSeq, { ...s, nextSeq: s.nextSeq + 1 }]

/**
 * A uniform integer in [min, max] from the state's PRNG.
 *
 * @since 0.1.0
 * @category combinators
 */
export const randomInt = (s: State, min: number, max: number): readonly [number, State] => {
  const [n, prng] = Prng.nextInt(s.prng, min, max)
  return [n, { ...s, prng }]
}

/**
 * Up to `count` distinct ids drawn uniformly from `ids` (a partial Fisher–Yates shuffle).
 *
 * @since 0.1.0
 * @category combinators
 */
export const sample = (
  s: State,
  ids: ReadonlyArray<MemberId>,
  count: number
): readonly [ReadonlyArray<MemberId>, State] => {
  const pool = [...ids]
  let prng = s.prng
  const n = Math.min(count, pool.length)
  for (let i = 0; i < n; i++) {
    const [j, next] = Prng.nextInt(prng, i, pool.length - 1)
    prng = next
    const tmp = pool[i]!
    pool[i] = pool[j]!
    pool[j] = tmp
  }
  return [pool.slice(0, n), { ...s, prng }]
}

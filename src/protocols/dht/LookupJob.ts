/**
 * One lookup on its own (PROTOCOL.md §10.2, §10.4): the `Lookup` machine plus what a lookup
 * job adds around it — filtering reply contacts, merging records of value lookups, and
 * choosing the store set of a store — for a `DhtLookupActor` that runs a single lookup.
 *
 * The rules are the ones `Step.ts` applies to its jobs: replies with more than `dhtK` contacts
 * are truncated and penalised, contacts with a bad key or no proof of work are dropped and
 * penalised, we are never a candidate; records must match the key (and type) and be valid at
 * `wallNow`, one per signer (the superseding one wins), and only a responder with a valid
 * record counts towards `valueResponsesWanted`; a store goes to the `dhtK` closest responders
 * with at most `maxPerPrefixPerStoreSet` per diversity class, this node included when closer
 * than the k-th.
 *
 * Pure: no clock (`wallNow` comes in), no I/O, never throws on remote input.
 *
 * @see Kademlia §2.3, S/Kademlia §4.4, rust-libp2p `ClosestPeersIter`
 * @since 0.1.0
 */
import type { UnixMillis } from "../../core/Millis.ts"
import type { RecordType } from "../../wire/SignedBody.ts"
import type { Config } from "./Config.ts"
import * as Contact from "./Contact.ts"
import * as Diversity from "./Diversity.ts"
import * as Lookup from "./Lookup.ts"
import type { Response } from "./Message.ts"
import * as Records from "./Records.ts"
import * as Xor from "./Xor.ts"

/**
 * A running lookup job.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly kind: "node" | "value"
  readonly target: Xor.NodeId
  readonly ty: RecordType | undefined
  readonly lookup: Lookup.Lookup
  /** Value lookups: best record per signer (hex). */
  readonly records: ReadonlyMap<string, Records.SignedRecord>
  /** Value lookups: responders with at least one valid record (our own store counts as one). */
  readonly valueResponders: number
  /** Value lookups: hop of the first record holder (0 = our own store, -1 = none yet). */
  readonly firstValueHop: number
}

/**
 * The outcome of a lookup.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  /** The `dhtK` closest responders, nearest first. */
  readonly closest: ReadonlyArray<Contact.Contact>
  /** Value lookups: one record per signer, ordered by signer. */
  readonly records: ReadonlyArray<Records.SignedRecord>
  /** Hop of the closest responder (value lookups: of the first record holder); 0 when none. */
  readonly hops: number
  /** Requests sent. */
  readonly queried: number
}

/**
 * The lookup parameters of a config.
 *
 * @since 0.1.0
 * @category getters
 */
export const params = (config: Config): Lookup.Params => ({
  k: config.dhtK,
  alpha: config.dhtAlpha,
  paths: config.dhtDisjointPaths,
  maxPeers: config.maxLookupPeers
})

const merge = (
  config: Config,
  job: Job,
  records: ReadonlyArray<Records.SignedRecord>,
  wallNow: UnixMillis
): readonly [Job, number, number] => {
  let out: Map<string, Records.SignedRecord> | undefined
  let valid = 0
  let invalid = 0
  for (const record of records) {
    const ok = Xor.equals(record.body.key, job.target) && (job.ty === undefined || record.body.ty === job.ty) &&
      Records.validate(config, record, wallNow) === undefined
    if (!ok) {
      invalid++
      continue
    }
    valid++
    const signer = Xor.toHex(record.body.pk)
    const current = (out ?? job.records).get(signer)
    if (current !== undefined && !Records.supersedes(record, current)) continue
    if (current === undefined && (out ?? job.records).size >= config.maxRecordsPerKey) continue
    out ??= new Map(job.records)
    out.set(signer, record)
  }
  return [out === undefined ? job : { ...job, records: out }, valid, invalid]
}

/**
 * A job looking up `target`, seeded with our closest contacts; `local` are the records our own
 * store holds under the key (value lookups: our store is the first responder, at hop 0).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  config: Config,
  selfKey: string,
  kind: "node" | "value",
  target: Xor.NodeId,
  ty: RecordType | undefined,
  seeds: ReadonlyArray<Contact.Contact>,
  local: ReadonlyArray<Records.SignedRecord>,
  wallNow: UnixMillis
): Job => {
  const job: Job = {
    kind,
    target,
    ty,
    lookup: Lookup.start(params(config), target, selfKey, seeds),
    records: new Map(),
    valueResponders: 0,
    firstValueHop: -1
  }
  if (kind !== "value" || local.length === 0) return job
  const [merged, valid] = merge(config, job, local, wallNow)
  return valid > 0 ? { ...merged, valueResponders: 1, firstValueHop: 0 } : merged
}

/**
 * The candidates to query now, marked as waiting.
 *
 * @since 0.1.0
 * @category combinators
 */
export const next = (job: Job): readonly [Job, ReadonlyArray<Lookup.Peer>] => {
  const [lookup, picks] = Lookup.next(job.lookup)
  return [picks.length === 0 ? job : { ...job, lookup }, picks]
}

/**
 * A candidate answered. Returns the job and the reasons to penalise the responder (empty when
 * it behaved). A refusal or an answer of the wrong kind counts as a failure.
 *
 * @since 0.1.0
 * @category combinators
 */
export const answered = (
  config: Config,
  selfId: Xor.NodeId,
  job: Job,
  key: string,
  response: Response,
  ip: string | undefined,
  wallNow: UnixMillis
): readonly [Job, ReadonlyArray<string>] => {
  let infos: ReadonlyArray<Contact.Info>
  let records: ReadonlyArray<Records.SignedRecord> = []
  switch (response._tag) {
    case "Nodes":
      infos = response.contacts
      break
    case "Value":
      infos = response.contacts
      records = response.records
      break
    default:
      return [failed(job, key), []]
  }
  const penalties: Array<string> = []
  if (infos.length > config.dhtK) {
    penalties.push("dht reply with more than dhtK contacts")
    infos = infos.slice(0, config.dhtK)
  }
  const candidates: Array<Contact.Contact> = []
  let dropped = false
  for (const info of infos) {
    const contact = Contact.fromInfo(config.sha256, info)
    if (contact === undefined || !Contact.meetsPow(config.sha256, contact.id, config.stationPowBits)) {
      dropped = true
      continue
    }
    if (!Xor.equals(contact.id, selfId)) candidates.push(contact)
  }
  if (dropped) penalties.push("bad contact in dht reply")
  let next: Job = job
  if (job.kind === "value" && records.length > 0) {
    const [merged, valid, invalid] = merge(config, job, records, wallNow)
    const hop = job.lookup.peers.get(key)?.hop ?? 0
    next = valid > 0
      ? { ...merged, valueResponders: merged.valueResponders + 1, firstValueHop: merged.firstValueHop >= 0 ? merged.firstValueHop : hop }
      : merged
    if (invalid > 0) penalties.push("invalid record in dht.value")
  }
  return [{ ...next, lookup: Lookup.onSuccess(next.lookup, key, candidates, ip) }, penalties]
}

/**
 * A candidate failed (timeout, error, unreachable, refusal).
 *
 * @since 0.1.0
 * @category combinators
 */
export const failed = (job: Job, key: string): Job => ({ ...job, lookup: Lookup.onFailure(job.lookup, key) })

/**
 * Whether the job is over: every path converged, or (value lookups) enough record holders
 * answered.
 *
 * @since 0.1.0
 * @category getters
 */
export const isDone = (config: Config, job: Job): boolean =>
  (job.kind === "value" && job.valueResponders >= config.valueResponsesWanted) || Lookup.isFinished(job.lookup)

/**
 * What the job found so far.
 *
 * @since 0.1.0
 * @category getters
 */
export const outcome = (config: Config, job: Job): Outcome => {
  const closest = Lookup.closest(job.lookup, config.dhtK)
  return {
    closest: closest.map((p) => p.contact),
    records: [...job.records.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r),
    hops: job.kind === "value" && job.firstValueHop >= 0 ? job.firstValueHop : (closest[0]?.hop ?? 0),
    queried: job.lookup.queried
  }
}

/**
 * The store set of a finished lookup (§10.4): the `dhtK` closest responders with at most
 * `maxPerPrefixPerStoreSet` per diversity class (by the IP observed on their answers); `selfIn`
 * when this node is closer to the key than the k-th, and then `remote` leaves room for it.
 *
 * @since 0.1.0
 * @category queries
 */
export const storeSet = (
  config: Config,
  selfId: Xor.NodeId,
  job: Job
): { readonly remote: ReadonlyArray<Contact.Contact>; readonly selfIn: boolean } => {
  const responders = Lookup.closest(job.lookup, job.lookup.peers.size)
  const diverse = Diversity.pickDiverse(
    responders,
    (p) => (p.ip === undefined ? undefined : Diversity.classOf(config, p.ip)),
    config.maxPerPrefixPerStoreSet,
    config.dhtK
  )
  const kth = diverse[config.dhtK - 1]
  const selfIn = kth === undefined || Xor.compareDistance(selfId, kth.contact.id, job.target) < 0
  return { remote: (selfIn ? diverse.slice(0, config.dhtK - 1) : diverse).map((p) => p.contact), selfIn }
}

/**
 * Whether a store succeeded: acks ≥ min(`storeQuorum`, candidates), and at least one.
 *
 * @since 0.1.0
 * @category queries
 */
export const storeSucceeded = (config: Pick<Config, "storeQuorum">, acks: number, candidates: number): boolean =>
  acks > 0 && acks >= Math.min(config.storeQuorum, candidates)

/**
 * The DHT core's step: `makeStep(config)` gives `step(state, event) -> [state, commands]`,
 * total over every `Event` tag (PROTOCOL.md §10).
 *
 * Inside one step, changes accumulate in a transaction (`Tx`): maps are copied once, on first
 * write, and the new state is assembled at the end. The state passed in is never mutated, so a
 * step is a pure function of its arguments.
 *
 * Remote nonsense never throws: unknown or late answers, oversized contact lists, contacts
 * without proof of work, invalid records and stations-only requests from clients are counted,
 * penalised or refused. A throw from here is a defect (a broken invariant), for the supervisor.
 *
 * @see Kademlia (IPTPS 2002) §2.3–§2.5; S/Kademlia (2007) §4; PROTOCOL.md §10, §14 rows 19–21
 * @since 0.1.0
 */
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import * as Prng from "../../core/Prng.ts"
import * as CoreStep from "../../core/Step.ts"
import type { RecordType } from "../../wire/SignedBody.ts"
import { Command, Observation } from "./Command.ts"
import type { EvictReason, Origin } from "./Command.ts"
import type { Config } from "./Config.ts"
import * as Contact from "./Contact.ts"
import * as Diversity from "./Diversity.ts"
import { Event } from "./Event.ts"
import * as Lookup from "./Lookup.ts"
import { Request, Response } from "./Message.ts"
import * as Records from "./Records.ts"
import * as RoutingTable from "./RoutingTable.ts"
import type { Counters, Job, Owned, Pending, State } from "./State.ts"
import { isCurrentTimer } from "./State.ts"
import * as Timer from "./Timer.ts"
import * as Xor from "./Xor.ts"

/**
 * The DHT step function.
 *
 * @since 0.1.0
 * @category models
 */
export type DhtStep = CoreStep.Step<State, Event, Command>

// ---------------------------------------------------------------------------------------------
// The transaction
// ---------------------------------------------------------------------------------------------

/**
 * One step's working copy. Scalars are copied eagerly; the four maps are copied on first
 * write (`ownedOf`, `jobsOf`, …) so a step that touches nothing copies nothing, and a step that
 * touches a map many times copies it once. `base` is the untouched input state.
 */
interface Tx {
  readonly config: Config
  readonly now: Millis
  readonly wallNow: UnixMillis
  readonly out: Array<Command>
  table: RoutingTable.RoutingTable
  store: Records.Store
  prng: Prng.Prng
  nextRequest: number
  nextJob: number
  nextGeneration: number
  started: boolean
  joined: boolean
  counters: Counters
  readonly base: State
  owned?: Map<string, Owned>
  jobs?: Map<number, Job>
  pending?: Map<number, Pending>
  timers?: Map<string, number>
}

const begin = (config: Config, state: State, now: Millis, wallNow: UnixMillis): Tx => ({
  config,
  now,
  wallNow,
  out: [],
  table: state.table,
  store: state.store,
  prng: state.prng,
  nextRequest: state.nextRequest,
  nextJob: state.nextJob,
  nextGeneration: state.nextGeneration,
  started: state.started,
  joined: state.joined,
  counters: state.counters,
  base: state
})

const ownedOf = (tx: Tx): Map<string, Owned> => (tx.owned ??= new Map(tx.base.owned))
const jobsOf = (tx: Tx): Map<number, Job> => (tx.jobs ??= new Map(tx.base.jobs))
const pendingOf = (tx: Tx): Map<number, Pending> => (tx.pending ??= new Map(tx.base.pending))
const timersOf = (tx: Tx): Map<string, number> => (tx.timers ??= new Map(tx.base.timers))
// Reads do not copy.
const readJobs = (tx: Tx): ReadonlyMap<number, Job> => tx.jobs ?? tx.base.jobs
const readPending = (tx: Tx): ReadonlyMap<number, Pending> => tx.pending ?? tx.base.pending
const readOwned = (tx: Tx): ReadonlyMap<string, Owned> => tx.owned ?? tx.base.owned

const commit = (tx: Tx): readonly [State, ReadonlyArray<Command>] => [
  {
    self: tx.base.self,
    table: tx.table,
    store: tx.store,
    owned: tx.owned ?? tx.base.owned,
    jobs: tx.jobs ?? tx.base.jobs,
    pending: tx.pending ?? tx.base.pending,
    timers: tx.timers ?? tx.base.timers,
    nextRequest: tx.nextRequest,
    nextJob: tx.nextJob,
    nextGeneration: tx.nextGeneration,
    prng: tx.prng,
    started: tx.started,
    joined: tx.joined,
    counters: tx.counters
  },
  tx.out
]

const count = (tx: Tx, name: keyof Counters, by = 1): void => {
  tx.counters = { ...tx.counters, [name]: tx.counters[name] + by }
}

const emit = (tx: Tx, observation: Observation): void => {
  tx.out.push(Command.Emit({ observation }))
}

// Every SetTimer gets a fresh generation, so re-arming a timer makes any firing already queued
// in the actor's mailbox stale: the step compares generations instead of trusting a cancel to
// win the race (memberlist's stale-timer guard, as data).
const setTimer = (tx: Tx, timer: Timer.Timer, at: Millis): void => {
  const generation = tx.nextGeneration++
  timersOf(tx).set(Timer.key(timer), generation)
  tx.out.push(Command.SetTimer({ timer, at, generation }))
}

const cancelTimer = (tx: Tx, timer: Timer.Timer): void => {
  const key = Timer.key(timer)
  if (!(tx.timers ?? tx.base.timers).has(key)) return
  timersOf(tx).delete(key)
  tx.out.push(Command.CancelTimer({ timer }))
}

/**
 * Registers an outgoing request and arms its timeout; `undefined` when the table is full.
 * The core, not the actor, times requests, so a timeout is an ordinary event (`Rpc` timer)
 * and a simulation replays it exactly.
 */
const openRequest = (tx: Tx, pending: Pending): number | undefined => {
  if (readPending(tx).size >= tx.config.maxPendingRequests) {
    count(tx, "busy")
    return undefined
  }
  const request = tx.nextRequest++
  pendingOf(tx).set(request, pending)
  setTimer(tx, Timer.Timer.Rpc({ request }), tx.now + tx.config.dhtRpcTimeoutMs)
  return request
}

/** Forgets an outgoing request (answered, failed or abandoned) and disarms its timeout. */
const closeRequest = (tx: Tx, request: number): Pending | undefined => {
  const pending = readPending(tx).get(request)
  if (pending === undefined) return undefined
  pendingOf(tx).delete(request)
  cancelTimer(tx, Timer.Timer.Rpc({ request }))
  return pending
}

const params = (config: Config): Lookup.Params => ({
  k: config.dhtK,
  alpha: config.dhtAlpha,
  paths: config.dhtDisjointPaths,
  maxPeers: config.maxLookupPeers
})

// ---------------------------------------------------------------------------------------------
// Routing table
// ---------------------------------------------------------------------------------------------

const reportRemoval = (tx: Tx, removal: RoutingTable.Removal, reason: EvictReason): void => {
  if (removal.evicted !== undefined) {
    emit(tx, Observation.ContactEvicted({ id: removal.evicted.contact.id, bucket: removal.bucket, reason }))
  }
  if (removal.promoted !== undefined) {
    emit(tx, Observation.ContactAdded({ contact: removal.promoted.contact, bucket: removal.bucket }))
  }
}

// A failed request counts against a member only; a lookup candidate we never admitted has no
// entry to age. After `staleAfterFailures` in a row the member goes without a probe: it has
// already failed to answer real traffic (§10.1). Requests in flight together fail together
// when a connection goes, and count once.
const memberFailed = (tx: Tx, key: string, request: number): void => {
  const [table, removal] = RoutingTable.recordFailure(tx.config, tx.table, key, { request, next: tx.nextRequest })
  tx.table = table
  reportRemoval(tx, removal, "stale")
}

/**
 * Sends records to a newly added contact that is closer to their keys than we are: the
 * Kademlia hand-off that keeps records on the k closest as the network changes (§10.4).
 */
const handOff = (tx: Tx, contact: Contact.Contact): void => {
  let budget = tx.config.maxHandoffRecordsPerContact
  if (budget <= 0 || tx.store.size === 0) return
  const key = Contact.key(contact)
  for (const held of Records.all(tx.store)) {
    if (budget <= 0) break
    const record = held.record
    if (!Records.isLive(tx.config, record, tx.wallNow)) continue
    if (Xor.compareDistance(contact.id, tx.base.self.id, record.body.key) >= 0) continue
    const request = openRequest(tx, { _tag: "Replicate", to: contact, key })
    if (request === undefined) return
    tx.out.push(Command.SendRequest({ to: contact, request, message: Request.Store({ record }) }))
    budget--
  }
}

const onPeerConnected = (tx: Tx, info: Contact.Info, ip: string): void => {
  // The id is derived here from the authenticated key, never taken from the actor or the wire,
  // and the proof of work is re-checked: admission is the one door into the table (§2.4).
  const contact = Contact.fromInfo(tx.config.sha256, info)
  if (contact === undefined) {
    count(tx, "discardedContacts")
    return
  }
  if (!Contact.meetsPow(tx.config.sha256, contact.id, tx.config.stationPowBits)) {
    count(tx, "rejectedContacts")
    emit(tx, Observation.ContactRejected({ id: contact.id, reason: "pow" }))
    return
  }
  const [table, observed] = RoutingTable.observe(tx.config, tx.table, contact, ip, tx.now)
  tx.table = table
  switch (observed._tag) {
    case "Added":
      emit(tx, Observation.ContactAdded({ contact, bucket: observed.bucket }))
      handOff(tx, contact)
      // Bootstrap: the first contact of an unjoined node triggers the self-lookup that fills
      // the buckets around our own id (Kademlia §2.3, "to join the network").
      if (!tx.joined && ![...readJobs(tx).values()].some((j) => j.origin._tag === "SelfLookup")) {
        startJob(tx, { _tag: "SelfLookup" }, "node", tx.base.self.id, undefined, undefined)
      }
      return
    case "Refreshed":
      return
    case "Cached": {
      // Kademlia §2.2: ping the least recently seen member; it stays if it answers. The probe
      // is a request like any other, so its timeout is an `Rpc` timer and its verdict an event.
      const probe = observed.probe
      if (probe === undefined) return
      const request = openRequest(tx, { _tag: "Ping", to: probe, key: Contact.key(probe) })
      if (request === undefined) {
        tx.table = RoutingTable.cancelProbe(tx.table, Contact.key(probe))
        return
      }
      tx.out.push(Command.Ping({ to: probe, request }))
      return
    }
    case "Rejected":
      count(tx, "rejectedContacts")
      emit(tx, Observation.ContactRejected({ id: contact.id, reason: observed.reason }))
      return
  }
}

// ---------------------------------------------------------------------------------------------
// Lookups and stores
// ---------------------------------------------------------------------------------------------

const saveJob = (tx: Tx, job: Job): void => {
  jobsOf(tx).set(job.id, job)
}

/** Merges valid records into a value job: one per signer, the superseding one wins. */
const mergeRecords = (tx: Tx, job: Job, records: ReadonlyArray<Records.SignedRecord>): readonly [Job, number] => {
  let merged: Map<string, Records.SignedRecord> | undefined
  let valid = 0
  for (const record of records) {
    const ok = Xor.equals(record.body.key, job.target) && (job.ty === undefined || record.body.ty === job.ty) &&
      Records.validate(tx.config, record, tx.wallNow) === undefined
    if (!ok) {
      count(tx, "invalidReplyRecords")
      continue
    }
    valid++
    const signer = Xor.toHex(record.body.pk)
    const current = (merged ?? job.records).get(signer)
    if (current !== undefined && !Records.supersedes(record, current)) continue
    if (current === undefined && (merged ?? job.records).size >= tx.config.maxRecordsPerKey) continue
    merged ??= new Map(job.records)
    merged.set(signer, record)
  }
  return [merged === undefined ? job : { ...job, records: merged }, valid]
}

/**
 * Starts a lookup (and, with `record`, a store); `false` when `maxConcurrentLookups` is
 * reached. A lookup touches the bucket of its target, which postpones that bucket's refresh.
 */
const startJob = (
  tx: Tx,
  origin: Origin,
  kind: "node" | "value",
  target: Xor.NodeId,
  ty: RecordType | undefined,
  record: Records.SignedRecord | undefined
): boolean => {
  if (readJobs(tx).size >= tx.config.maxConcurrentLookups) {
    count(tx, "busy")
    return false
  }
  const id = tx.nextJob++
  const cfg = tx.config
  const seeds = RoutingTable.closest(tx.table, target, cfg.dhtK * cfg.dhtDisjointPaths)
  const bucket = RoutingTable.bucketIndex(tx.table, target)
  if (bucket < Xor.idBits) tx.table = RoutingTable.touch(tx.table, bucket, tx.now)
  let job: Job = {
    id,
    origin,
    kind,
    ty,
    target,
    lookup: Lookup.start(params(cfg), target, tx.base.self.key, seeds),
    records: new Map(),
    valueResponders: 0,
    firstValueHop: -1,
    record,
    storing: undefined
  }
  if (kind === "value") {
    // Our own store is the first responder (hop 0): a station holding the record answers a
    // client's `dht.get` without a network round trip when `valueResponsesWanted` is 1.
    const [merged, valid] = mergeRecords(tx, job, Records.get(cfg, tx.store, target, tx.wallNow, ty))
    job = valid > 0 ? { ...merged, valueResponders: 1, firstValueHop: 0 } : merged
  }
  saveJob(tx, job)
  setTimer(tx, Timer.Timer.Lookup({ lookup: id }), tx.now + cfg.lookupTimeoutMs)
  if (kind === "value" && job.valueResponders >= cfg.valueResponsesWanted) finishJob(tx, id, false)
  else pump(tx, id)
  return true
}

/**
 * Sends the requests the lookup wants now; ends the lookup when it has converged. A request
 * that cannot be registered (pending table full) fails its candidate at once rather than
 * stalling the path; the lookup timer still bounds the whole lookup.
 *
 * @see rust-libp2p `ClosestPeersIter::next`
 */
const pump = (tx: Tx, id: number): void => {
  const job = readJobs(tx).get(id)
  if (job === undefined || job.storing !== undefined) return
  let [lookup, picks] = Lookup.next(job.lookup)
  for (const peer of picks) {
    const request = openRequest(tx, { _tag: "Query", to: peer.contact, key: peer.key, job: id })
    if (request === undefined) {
      lookup = Lookup.onFailure(lookup, peer.key)
      continue
    }
    const message = job.kind === "node"
      ? Request.FindNode({ key: job.target })
      : Request.FindValue(job.ty === undefined ? { key: job.target } : { key: job.target, ty: job.ty })
    tx.out.push(Command.SendRequest({ to: peer.contact, request, message }))
  }
  saveJob(tx, { ...job, lookup })
  if (Lookup.isFinished(lookup)) finishJob(tx, id, false)
}

/** Ends the lookup phase of a job: report it, or move a store job to its fan-out. */
const finishJob = (tx: Tx, id: number, timedOut: boolean): void => {
  const job = readJobs(tx).get(id)
  if (job === undefined || job.storing !== undefined) return
  cancelTimer(tx, Timer.Timer.Lookup({ lookup: id }))
  // Abandon the lookup's requests still in flight; their late answers are counted and ignored.
  for (const [request, pending] of readPending(tx)) {
    if (pending._tag === "Query" && pending.job === id) closeRequest(tx, request)
  }
  if (job.record !== undefined) {
    beginStoring(tx, job, job.record)
    return
  }
  jobsOf(tx).delete(id)
  const closest = Lookup.closest(job.lookup, tx.config.dhtK)
  const contacts = closest.map((p) => p.contact)
  const records = [...job.records.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => r)
  const hops = job.kind === "value" && job.firstValueHop >= 0 ? job.firstValueHop : (closest[0]?.hop ?? 0)
  emit(tx, Observation.LookupFinished({
    origin: job.origin,
    target: job.target,
    kind: job.kind,
    closest: contacts,
    records,
    hops,
    queried: job.lookup.queried,
    timedOut,
    busy: false
  }))
  if (job.origin._tag === "Proxy") {
    tx.out.push(Command.SendResponse({
      to: job.origin.peer,
      replyTo: job.origin.replyTo,
      message: Response.Value({ records, contacts })
    }))
  }
  if (job.origin._tag === "SelfLookup" && closest.length > 0) tx.joined = true
}

/**
 * The fan-out of a store (§10.4): the `dhtK` closest responders with at most
 * `maxPerPrefixPerStoreSet` per diversity class; this node joins the set (and stores
 * locally) when it is closer than the k-th candidate.
 */
const beginStoring = (tx: Tx, job: Job, record: Records.SignedRecord): void => {
  const cfg = tx.config
  const responders = Lookup.closest(job.lookup, job.lookup.peers.size)
  const diverse = Diversity.pickDiverse(
    responders,
    (p) => (p.ip === undefined ? undefined : Diversity.classOf(cfg, p.ip)),
    cfg.maxPerPrefixPerStoreSet,
    cfg.dhtK
  )
  // Kademlia stores on the k closest nodes *including* ourselves when we are one of them; our
  // own put then counts as an ack, so a small network can still reach its quorum.
  const kth = diverse[cfg.dhtK - 1]
  const selfIn = kth === undefined || Xor.compareDistance(tx.base.self.id, kth.contact.id, job.target) < 0
  const remote = selfIn ? diverse.slice(0, cfg.dhtK - 1) : diverse
  let acks = 0
  if (selfIn && storeLocally(tx, record) === true) acks++
  let outstanding = 0
  for (const peer of remote) {
    const request = openRequest(tx, { _tag: "Store", to: peer.contact, key: peer.key, job: job.id })
    if (request === undefined) continue
    tx.out.push(Command.SendRequest({ to: peer.contact, request, message: Request.Store({ record }) }))
    outstanding++
  }
  const storing = { candidates: remote.length + (selfIn ? 1 : 0), acks, outstanding }
  saveJob(tx, { ...job, storing })
  if (outstanding === 0) finishStore(tx, job.id)
}

const finishStore = (tx: Tx, id: number): void => {
  const job = readJobs(tx).get(id)
  if (job === undefined || job.storing === undefined) return
  jobsOf(tx).delete(id)
  const { acks, candidates } = job.storing
  // §10.4: min(storeQuorum, candidates), so a network smaller than the quorum can still store;
  // zero acks is never a success, even with zero candidates.
  const ok = acks >= Math.min(tx.config.storeQuorum, candidates) && acks > 0
  emit(tx, Observation.StoreFinished({ origin: job.origin, key: job.target, acks, candidates, ok }))
  if (job.origin._tag === "Proxy") {
    tx.out.push(Command.SendResponse({
      to: job.origin.peer,
      replyTo: job.origin.replyTo,
      message: Response.StoreAck({ ok, acks })
    }))
  }
}

const storeAnswered = (tx: Tx, id: number, acked: boolean): void => {
  const job = readJobs(tx).get(id)
  if (job === undefined || job.storing === undefined) return
  const storing = {
    ...job.storing,
    acks: job.storing.acks + (acked ? 1 : 0),
    outstanding: job.storing.outstanding - 1
  }
  saveJob(tx, { ...job, storing })
  if (storing.outstanding <= 0) finishStore(tx, id)
}

/** Puts a record into our own store; `true` when we hold it afterwards. */
const storeLocally = (tx: Tx, record: Records.SignedRecord): Records.Refusal | true => {
  const [store, outcome] = Records.put(tx.config, tx.store, record, tx.now, tx.wallNow)
  tx.store = store
  const body = record.body
  switch (outcome._tag) {
    case "Stored":
      emit(tx, Observation.RecordStored({ key: body.key, signer: body.pk, ty: body.ty, seq: body.seq }))
      return true
    case "Kept":
      return true
    case "Refused":
      count(tx, "refusedRecords")
      emit(tx, Observation.RecordRefused({ key: body.key, signer: body.pk, why: outcome.why }))
      return outcome.why
  }
}

// ---------------------------------------------------------------------------------------------
// Answers to our requests
// ---------------------------------------------------------------------------------------------

/**
 * Turns the contacts of a reply into lookup candidates: at most `dhtK` (more is truncated and
 * penalised), 32-byte keys, proof of work, never ourselves (§10.2, §14 row 20).
 */
const candidatesFrom = (tx: Tx, from: Contact.Contact, infos: ReadonlyArray<Contact.Info>): ReadonlyArray<Contact.Contact> => {
  let bad = false
  let list = infos
  if (list.length > tx.config.dhtK) {
    count(tx, "truncatedReplies")
    bad = true
    list = list.slice(0, tx.config.dhtK)
  }
  const out: Array<Contact.Contact> = []
  for (const info of list) {
    const contact = Contact.fromInfo(tx.config.sha256, info)
    if (contact === undefined || !Contact.meetsPow(tx.config.sha256, contact.id, tx.config.stationPowBits)) {
      count(tx, "discardedContacts")
      bad = true
      continue
    }
    if (Xor.equals(contact.id, tx.base.self.id)) continue
    out.push(contact)
  }
  if (bad) tx.out.push(Command.Penalise({ peer: from.id, severity: "minor", reason: "bad dht.nodes reply" }))
  return out
}

const onQueryAnswered = (tx: Tx, pending: Extract<Pending, { _tag: "Query" }>, response: Response, ip: string | undefined): void => {
  const job = readJobs(tx).get(pending.job)
  if (job === undefined) return
  let contacts: ReadonlyArray<Contact.Info>
  let records: ReadonlyArray<Records.SignedRecord> = []
  switch (response._tag) {
    case "Nodes":
      contacts = response.contacts
      break
    case "Value":
      contacts = response.contacts
      records = response.records
      break
    case "Refused":
      onQueryFailed(tx, pending)
      return
    case "StoreAck":
      count(tx, "mismatchedResponses")
      onQueryFailed(tx, pending)
      return
  }
  const candidates = candidatesFrom(tx, pending.to, contacts)
  let next: Job = job
  // A responder counts towards `valueResponsesWanted` only if at least one of its records is
  // valid for this key: an adversary answering with junk cannot end a lookup early.
  if (job.kind === "value" && records.length > 0) {
    const [merged, valid] = mergeRecords(tx, job, records)
    const hop = job.lookup.peers.get(pending.key)?.hop ?? 0
    next = valid > 0
      ? { ...merged, valueResponders: merged.valueResponders + 1, firstValueHop: merged.firstValueHop >= 0 ? merged.firstValueHop : hop }
      : merged
    if (valid < records.length) tx.out.push(Command.Penalise({ peer: pending.to.id, severity: "minor", reason: "invalid record in dht.value" }))
  }
  next = { ...next, lookup: Lookup.onSuccess(next.lookup, pending.key, candidates, ip) }
  saveJob(tx, next)
  if (next.kind === "value" && next.valueResponders >= tx.config.valueResponsesWanted) finishJob(tx, next.id, false)
  else pump(tx, next.id)
}

const onQueryFailed = (tx: Tx, pending: Extract<Pending, { _tag: "Query" }>): void => {
  const job = readJobs(tx).get(pending.job)
  if (job === undefined) return
  saveJob(tx, { ...job, lookup: Lookup.onFailure(job.lookup, pending.key) })
  pump(tx, job.id)
}

/** A request ended without a usable answer (error, timeout, wrong answer). */
const requestFailed = (tx: Tx, request: number): void => {
  const pending = closeRequest(tx, request)
  if (pending === undefined) {
    count(tx, "unknownResponses")
    return
  }
  switch (pending._tag) {
    case "Query":
      memberFailed(tx, pending.key, request)
      onQueryFailed(tx, pending)
      return
    case "Store":
      memberFailed(tx, pending.key, request)
      storeAnswered(tx, pending.job, false)
      return
    case "Replicate":
      memberFailed(tx, pending.key, request)
      return
    case "Ping": {
      // No pong: the least recently seen member goes, the freshest candidate comes in.
      const [table, removal] = RoutingTable.probeFailed(tx.config, tx.table, pending.key)
      tx.table = table
      reportRemoval(tx, removal, "unresponsive")
      return
    }
  }
}

const onResponse = (tx: Tx, request: number, response: Response, ip: string | undefined): void => {
  const pending = readPending(tx).get(request)
  if (pending === undefined) {
    count(tx, "unknownResponses")
    return
  }
  if (pending._tag === "Ping") {
    count(tx, "mismatchedResponses")
    requestFailed(tx, request)
    return
  }
  closeRequest(tx, request)
  // Any answer proves liveness (Kademlia §2.2: every message refreshes its sender's entry).
  tx.table = RoutingTable.markAlive(tx.table, pending.key, tx.now)
  switch (pending._tag) {
    case "Query":
      onQueryAnswered(tx, pending, response, ip)
      return
    case "Store":
      if (response._tag !== "StoreAck" && response._tag !== "Refused") count(tx, "mismatchedResponses")
      storeAnswered(tx, pending.job, response._tag === "StoreAck" && response.ok)
      return
    case "Replicate":
      return
  }
}

const onPong = (tx: Tx, request: number): void => {
  const pending = readPending(tx).get(request)
  if (pending === undefined) {
    count(tx, "unknownResponses")
    return
  }
  if (pending._tag !== "Ping") {
    count(tx, "mismatchedResponses")
    requestFailed(tx, request)
    return
  }
  closeRequest(tx, request)
  tx.table = RoutingTable.probeSucceeded(tx.table, pending.key, tx.now)
}

// ---------------------------------------------------------------------------------------------
// Requests from peers
// ---------------------------------------------------------------------------------------------

const respond = (tx: Tx, to: Xor.NodeId, replyTo: number, message: Response): void => {
  tx.out.push(Command.SendResponse({ to, replyTo, message }))
}

const refuse = (tx: Tx, to: Xor.NodeId, replyTo: number, code: "stations_only" | "busy"): void => {
  count(tx, code === "busy" ? "busy" : "refusedRequests")
  respond(tx, to, replyTo, Response.Refused({ code }))
}

const onRequest = (tx: Tx, from: { readonly id: Xor.NodeId; readonly role: "station" | "client" }, replyTo: number, request: Request): void => {
  // Clients are never DHT nodes (§1): they get the proxy requests only, and are never marked
  // alive in (or added to) the routing table.
  const station = from.role === "station"
  const fromKey = Xor.toHex(from.id)
  if (station) tx.table = RoutingTable.markAlive(tx.table, fromKey, tx.now)
  switch (request._tag) {
    case "FindNode":
    case "FindValue": {
      if (!station) return refuse(tx, from.id, replyTo, "stations_only")
      if (!Xor.isId(request.key)) {
        count(tx, "refusedRequests")
        return
      }
      const contacts = RoutingTable.closest(tx.table, request.key, tx.config.dhtK, fromKey)
      if (request._tag === "FindNode") return respond(tx, from.id, replyTo, Response.Nodes({ contacts }))
      const records = Records.get(tx.config, tx.store, request.key, tx.wallNow, request.ty)
      return respond(tx, from.id, replyTo, Response.Value({ records, contacts }))
    }
    case "Store": {
      if (!station) return refuse(tx, from.id, replyTo, "stations_only")
      const verdict = storeLocally(tx, request.record)
      return respond(tx, from.id, replyTo, verdict === true ? Response.StoreAck({ ok: true }) : Response.StoreAck({ ok: false, why: verdict }))
    }
    case "Get": {
      if (!Xor.isId(request.key)) {
        count(tx, "refusedRequests")
        return
      }
      const origin: Origin = { _tag: "Proxy", peer: from.id, replyTo }
      if (!startJob(tx, origin, "value", request.key, request.ty, undefined)) refuse(tx, from.id, replyTo, "busy")
      return
    }
    case "Put": {
      // Validate before spending a lookup on it: a client cannot make its station flood the
      // closest set with records every holder would refuse.
      const why = Records.validate(tx.config, request.record, tx.wallNow)
      if (why !== undefined) {
        count(tx, "refusedRecords")
        return respond(tx, from.id, replyTo, Response.StoreAck({ ok: false, why }))
      }
      const origin: Origin = { _tag: "Proxy", peer: from.id, replyTo }
      if (!startJob(tx, origin, "node", request.record.body.key, undefined, request.record)) refuse(tx, from.id, replyTo, "busy")
      return
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Local requests and own records
// ---------------------------------------------------------------------------------------------

/** Arms the republish timer for the earliest due own record, or disarms it. */
const scheduleRepublish = (tx: Tx): void => {
  let due: UnixMillis | undefined
  for (const owned of readOwned(tx).values()) {
    if (owned.dueAt !== undefined && (due === undefined || owned.dueAt < due)) due = owned.dueAt
  }
  if (due === undefined) cancelTimer(tx, Timer.Timer.Republish())
  else setTimer(tx, Timer.Timer.Republish(), tx.now + Math.max(0, due - tx.wallNow))
}

const onLocalStore = (tx: Tx, query: number, record: Records.SignedRecord): void => {
  const origin: Origin = { _tag: "Local", query }
  const key = record.body.key
  const why = Records.validate(tx.config, record, tx.wallNow)
  if (why !== undefined) {
    emit(tx, Observation.StoreFinished({ origin, key, acks: 0, candidates: 0, ok: false, why }))
    return
  }
  // Records we sign ourselves are renewed before they lapse (§10.4).
  if (Xor.toHex(record.body.pk) === tx.base.self.signer) {
    const keyHex = Xor.toHex(key)
    if (readOwned(tx).has(keyHex) || readOwned(tx).size < tx.config.maxOwnedRecords) {
      ownedOf(tx).set(keyHex, { record, dueAt: Records.republishAt(tx.config, record.body) })
      scheduleRepublish(tx)
    } else count(tx, "busy")
  }
  if (!startJob(tx, origin, "node", key, undefined, record)) {
    emit(tx, Observation.StoreFinished({ origin, key, acks: 0, candidates: 0, ok: false, why: "busy" }))
  }
}

const onLocalFind = (tx: Tx, query: number, kind: "node" | "value", target: Xor.NodeId, ty: RecordType | undefined): void => {
  const origin: Origin = { _tag: "Local", query }
  if (startJob(tx, origin, kind, target, ty, undefined)) return
  emit(tx, Observation.LookupFinished({
    origin, target, kind, closest: [], records: [], hops: 0, queried: 0, timedOut: false, busy: true
  }))
}

// ---------------------------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------------------------

const refreshBuckets = (tx: Tx): void => {
  const cfg = tx.config
  for (const bucket of RoutingTable.dueForRefresh(tx.table, tx.now, cfg.bucketRefreshIntervalMs)) {
    const [target, prng] = Xor.randomInBucket(tx.base.self.id, bucket, tx.prng)
    tx.prng = prng
    if (!startJob(tx, { _tag: "Refresh", bucket }, "node", target, undefined, undefined)) break
  }
  // Buckets left over (no free lookup slot) are retried after a lookup's worth of time.
  const next = RoutingTable.nextRefreshAt(tx.table, cfg.bucketRefreshIntervalMs) ?? tx.now + cfg.bucketRefreshIntervalMs
  setTimer(tx, Timer.Timer.Refresh(), Math.max(next, tx.now + cfg.lookupTimeoutMs))
}

/** Re-stores held records nobody re-stored here for an interval to our closest contacts. */
const replicate = (tx: Tx): void => {
  const cfg = tx.config
  let budget = cfg.maxReplicationStoresPerTick
  for (const held of Records.all(tx.store)) {
    if (budget <= 0) break
    if (!Records.dueForReplication(cfg, held, tx.base.self.signer, tx.now)) continue
    if (!Records.isLive(cfg, held.record, tx.wallNow)) continue
    const closest = RoutingTable.closest(tx.table, held.record.body.key, cfg.dhtK)
    const targets = Diversity.pickDiverse(
      closest,
      (c) => RoutingTable.member(tx.table, Contact.key(c))?.prefix,
      cfg.maxPerPrefixPerStoreSet,
      cfg.dhtK
    )
    for (const to of targets) {
      if (budget <= 0) break
      const request = openRequest(tx, { _tag: "Replicate", to, key: Contact.key(to) })
      if (request === undefined) return
      tx.out.push(Command.SendRequest({ to, request, message: Request.Store({ record: held.record }) }))
      budget--
    }
  }
}

// Reads already hide expired records (`Records.get`); the sweep reclaims their space and
// forgets own records that lapsed, so a stopped republisher cannot pin memory.
const sweep = (tx: Tx): void => {
  const [store, expired] = Records.sweep(tx.store, tx.wallNow)
  tx.store = store
  for (const record of expired) {
    emit(tx, Observation.RecordExpired({ key: record.body.key, signer: record.body.pk, ty: record.body.ty }))
  }
  let changed = false
  for (const [key, owned] of readOwned(tx)) {
    if (owned.record.body.exp <= tx.wallNow) {
      ownedOf(tx).delete(key)
      changed = true
    }
  }
  if (changed) scheduleRepublish(tx)
}

// One reminder per renewal: the actor answers with a new `Store`, which re-arms the schedule.
const republish = (tx: Tx): void => {
  for (const [key, owned] of readOwned(tx)) {
    if (owned.dueAt === undefined || owned.dueAt > tx.wallNow) continue
    const body = owned.record.body
    emit(tx, Observation.RepublishDue({ key: body.key, ty: body.ty, record: owned.record }))
    ownedOf(tx).set(key, { ...owned, dueAt: undefined })
  }
  scheduleRepublish(tx)
}

const onTimer = (tx: Tx, timer: Timer.Timer): void => {
  const cfg = tx.config
  switch (timer._tag) {
    case "Rpc":
      requestFailed(tx, timer.request)
      return
    case "Lookup":
      finishJob(tx, timer.lookup, true)
      return
    case "Refresh":
      refreshBuckets(tx)
      return
    case "SelfLookup":
      startJob(tx, { _tag: "SelfLookup" }, "node", tx.base.self.id, undefined, undefined)
      setTimer(tx, Timer.Timer.SelfLookup(), tx.now + cfg.selfLookupIntervalMs)
      return
    case "Replicate":
      replicate(tx)
      setTimer(tx, Timer.Timer.Replicate(), tx.now + cfg.replicateIntervalMs)
      return
    case "Sweep":
      sweep(tx)
      setTimer(tx, Timer.Timer.Sweep(), tx.now + cfg.expireSweepIntervalMs)
      return
    case "Republish":
      republish(tx)
      return
    case "Snapshot":
      emit(tx, Observation.RoutingSnapshot({ contacts: RoutingTable.contacts(tx.table) }))
      setTimer(tx, Timer.Timer.Snapshot(), tx.now + cfg.routingSnapshotIntervalMs)
      return
  }
}

const onStarted = (tx: Tx): void => {
  const cfg = tx.config
  tx.started = true
  setTimer(tx, Timer.Timer.Refresh(), tx.now + cfg.bucketRefreshIntervalMs)
  setTimer(tx, Timer.Timer.SelfLookup(), tx.now + cfg.selfLookupIntervalMs)
  setTimer(tx, Timer.Timer.Replicate(), tx.now + cfg.replicateIntervalMs)
  setTimer(tx, Timer.Timer.Sweep(), tx.now + cfg.expireSweepIntervalMs)
  setTimer(tx, Timer.Timer.Snapshot(), tx.now + cfg.routingSnapshotIntervalMs)
  // With an empty table this ends at once; the first contact added starts it again.
  if (tx.table.size > 0) startJob(tx, { _tag: "SelfLookup" }, "node", tx.base.self.id, undefined, undefined)
}

// ---------------------------------------------------------------------------------------------
// The step
// ---------------------------------------------------------------------------------------------

/**
 * Builds the step function for a config. Check `Config.problems(config)` first: a bad config
 * is the caller's defect.
 *
 * @example
 * ```ts
 * const step = Dht.makeStep(Dht.Config.withHash(Dht.Config.defaults, sha256))
 * const [state, commands] = step(Dht.initial(config, { publicKey, seed: 1 }), Dht.Event.Started({ now, wallNow }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStep = (config: Config): DhtStep => (state, event) => {
  const tx = begin(config, state, event.now, event.wallNow)
  Event.$match(event, {
    Started: () => {
      if (!state.started) onStarted(tx)
    },
    TimerFired: (e) => {
      const key = Timer.key(e.timer)
      // A superseded or cancelled timer: a later SetTimer (or none) owns this key now.
      if (!isCurrentTimer(state, key, e.generation)) return
      timersOf(tx).delete(key)
      onTimer(tx, e.timer)
    },
    PeerConnected: (e) => onPeerConnected(tx, e.contact, e.ip),
    PeerDied: (e) => {
      if (!Xor.isId(e.id)) return
      const [table, removal] = RoutingTable.remove(config, tx.table, Xor.toHex(e.id))
      tx.table = table
      reportRemoval(tx, removal, "dead")
    },
    RequestReceived: (e) => onRequest(tx, e.from, e.replyTo, e.request),
    ResponseReceived: (e) => onResponse(tx, e.request, e.response, e.ip),
    PongReceived: (e) => onPong(tx, e.request),
    RequestFailed: (e) => requestFailed(tx, e.request),
    FindNode: (e) => {
      if (Xor.isId(e.target)) onLocalFind(tx, e.query, "node", e.target, undefined)
    },
    FindValue: (e) => {
      if (Xor.isId(e.key)) onLocalFind(tx, e.query, "value", e.key, e.ty)
    },
    Store: (e) => onLocalStore(tx, e.query, e.record),
    Unpublish: (e) => {
      const key = Xor.toHex(e.key)
      if (!readOwned(tx).has(key)) return
      ownedOf(tx).delete(key)
      scheduleRepublish(tx)
    }
  })
  return commit(tx)
}

/**
 * The DHT subtree of a station (PROTOCOL.md §10, §15): the Kademlia routing table as one actor
 * per k-bucket, the record store, the republisher and the lookup workers.
 *
 * ```
 * DhtSupervisor (one_for_one, dhtIntensity / dhtPeriodMs)
 * ├─ store        DhtRecordStoreActor    permanent   records, TTL, expiry, size limits; serves dht.* requests
 * ├─ lookups      simple_one_for_one     permanent   DhtLookupActor × n, temporary (one lookup each)
 * ├─ republisher  DhtRepublisherActor    permanent   renews own records (the station record among them), replicates
 * │                                                  and hands off held ones, self-lookup; after `lookups`, so the
 * │                                                  station record it stores at start finds them running
 * └─ bucket-NNN   DhtBucketActor         permanent   one per non-empty bucket, started lazily
 * ```
 *
 * What a restart rebuilds: a bucket restarts **empty** and refills from traffic (every station
 * that sends or answers a DHT request is observed again) and from the refresh lookup it runs at
 * once; a lookup worker is never restarted (its caller gets `LookupFailed`); the record store
 * restarts with what `persistence` saved (empty without it) and is refilled by replication and
 * republishing; the republisher forgets the own records it tracked until the node stores them
 * again.
 *
 * Persistence (§15.2, optional `persistence`, stations with a data directory): the store saves
 * its records (see `DhtRecordStoreActor`); every `routingSnapshotIntervalMs` the subtree saves
 * its buckets' members (`saveContacts`), and at each start it asks every saved contact a `dht.find_node` of our
 * own id: the dial and handshake are the re-ping before use, and only a contact that answers is
 * observed into a bucket.
 *
 * Siblings reach each other through `wiring`, a table of the current refs that each child's
 * start effect updates (as in `TransportSupervisor`), and through the functions built here:
 * actors never import each other. The request port (`DhtRpc`) lives here, outside the
 * children, so replies in flight survive a child's restart.
 *
 * Use: `make(deps)` gives the `spec` for the node's root supervisor and the `dht` handle the
 * rest of the node uses; `start(deps)` starts the subtree on its own (tests, tools).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as DhtBucketActor from "../actors/DhtBucketActor.ts"
import * as DhtLookupActor from "../actors/DhtLookupActor.ts"
import * as DhtRecordStoreActor from "../actors/DhtRecordStoreActor.ts"
import * as DhtRepublisherActor from "../actors/DhtRepublisherActor.ts"
import * as DhtRpc from "../actors/DhtRpc.ts"
import type { Handle, Inbound, Sink, Status } from "../actors/ConnectionActor.ts"
import * as Actor from "../src/runtime/Actor.ts"
import type { ChildSpec } from "../src/runtime/ChildSpec.ts"
import type { ConfigError, NameTaken, StartFailed } from "../src/runtime/Errors.ts"
import * as Supervisor from "../src/runtime/Supervisor.ts"

type Contact = DhtRpc.Contact
type Info = DhtRpc.Info
type SignedRecord = DhtRpc.SignedRecord

/**
 * What the DHT subtree needs from the node. Every function is called only while the subtree
 * runs, so the node may pass closures over parts it starts later (the transport tree).
 *
 * @since 0.1.0
 * @category models
 */
export interface Deps {
  /** This node's Ed25519 public key; its DHT id is SHA-256 of it. */
  readonly publicKey: Uint8Array
  /** Signs with the node key (`Identity.sign`); lets the republisher renew own records. */
  readonly sign?: (message: Uint8Array) => Uint8Array
  /** The transport (the `TransportTree`'s registry and dialer). */
  readonly transport: {
    /** The ready connection to a DID, if any (`registry.lookup`). */
    readonly lookup: (did: string) => Effect.Effect<Handle | undefined>
    /** Dials a station (`dialer.dial`); contacts from `dht.nodes` are only reached this way. */
    readonly dial: (address: string, options: { readonly expectedDid: string }) => Effect.Effect<Handle, unknown>
  }
  /** Knob overrides over `base`. */
  readonly config?: Partial<DhtRpc.DhtConfig.Knobs>
  /** The preset under `config`. @default DhtConfig.defaults (§16) */
  readonly base?: DhtRpc.DhtConfig.Knobs
  /** SHA-256. @default the platform's */
  readonly sha256?: (bytes: Uint8Array) => Uint8Array
  /** Ed25519 verification of record signatures. @default strict Ed25519 (§2.1) */
  readonly verify?: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
  /** Restarts allowed per period before escalating. @default 5 (dhtIntensity) */
  readonly intensity?: number
  /** @default 10_000 (dhtPeriodMs) */
  readonly periodMs?: number
  /** @default 5_000 (workerShutdownMs) */
  readonly workerShutdownMs?: number
  /** Every bucket and store event (logs, metrics, tests). */
  readonly onEvent?: (event: Event) => void
  /**
   * Stations: what their own `station` record says (§10.3) and how it is signed. The republisher
   * publishes it at start, renews it, and publishes it again when `content` changes; the node
   * publishes it again once it joined (its first contact's self-lookup).
   */
  readonly station?: {
    readonly content: DhtRepublisherActor.StationOptions["content"]
    readonly sign: DhtRepublisherActor.StationOptions["sign"]
  }
  /** Stations: what survives a restart (§15.2). @default nothing (the DHT starts empty) */
  readonly persistence?: Persistence
  /** How long after a change to the records they are saved. @default 5_000 */
  readonly recordSaveDelayMs?: number
}

/**
 * Where a station's DHT state survives a restart (§15.2): the records it holds (signed, as
 * received) and its routing contacts (candidates to re-ping). Loads give what was saved last
 * (nothing when nothing was); saves replace it atomically. Nothing here fails: a damaged file or
 * a failed write is the implementation's to report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Persistence {
  readonly loadRecords: Effect.Effect<ReadonlyArray<DhtRpc.Signed>>
  readonly saveRecords: (records: ReadonlyArray<DhtRpc.Signed>) => Effect.Effect<void>
  readonly loadContacts: Effect.Effect<ReadonlyArray<Info>>
  readonly saveContacts: (contacts: ReadonlyArray<Info>) => Effect.Effect<void>
}

/**
 * A `Persistence` in memory (tests): what was saved last, readable through `saved`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memoryPersistence = (): Persistence & {
  readonly saved: () => { readonly records: ReadonlyArray<DhtRpc.Signed>; readonly contacts: ReadonlyArray<Info>; readonly saves: number }
} => {
  let records: ReadonlyArray<DhtRpc.Signed> = []
  let contacts: ReadonlyArray<Info> = []
  let saves = 0
  return {
    loadRecords: Effect.sync(() => records),
    saveRecords: (next) => Effect.sync(() => void ((records = next), saves++)),
    loadContacts: Effect.sync(() => contacts),
    saveContacts: (next) => Effect.sync(() => void (contacts = next)),
    saved: () => ({ records, contacts, saves })
  }
}

/**
 * What the subtree reports.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = DhtBucketActor.BucketEvent | DhtRecordStoreActor.StoreEvent

/**
 * A lookup's outcome (see `DhtLookupActor.Result`).
 *
 * @since 0.1.0
 * @category models
 */
export type LookupResult = DhtLookupActor.Result

/**
 * A lookup or store that produced nothing: its worker crashed or could not start.
 *
 * @since 0.1.0
 * @category errors
 */
export const LookupFailed = DhtLookupActor.LookupFailed

/**
 * @since 0.1.0
 * @category errors
 */
export type LookupFailed = DhtLookupActor.LookupFailed

/**
 * A record given to `putRecord` that does not decode or whose signature fails.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRecord extends Data.TaggedError("InvalidRecord")<{ readonly reason: string }> {}

/**
 * The outcome of a store (§10.4).
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreResult {
  /** acks ≥ min(`storeQuorum`, candidates). */
  readonly ok: boolean
  /** Acks, this node's own copy included. */
  readonly acks: number
  /** The store set's size. */
  readonly candidates: number
}

/**
 * Counts for `macula status`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Bucket actors running. */
  readonly buckets: number
  /** Routing-table members over all buckets. */
  readonly contacts: number
  /** Replacement-cache candidates over all buckets. */
  readonly cached: number
  /** Records held. */
  readonly records: number
  /** Lookups running. */
  readonly lookups: number
  /** DHT requests awaiting an answer. */
  readonly pendingRequests: number
}

/**
 * The DHT as the rest of the node uses it. Works across restarts of the subtree's children;
 * while the subtree is down, lookups fail with `LookupFailed` (`unavailable`) and contact
 * updates are dropped.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dht {
  /** This node's DHT id. */
  readonly id: Uint8Array
  /** The knobs in force. */
  readonly config: DhtRpc.DhtConfig.Config
  /** Iterative FIND_NODE: the `dhtK` stations closest to `target`. */
  readonly lookup: (target: Uint8Array) => Effect.Effect<LookupResult, LookupFailed>
  /** Iterative FIND_VALUE: the valid records under `key` (one per signer), optionally of type `ty`. */
  readonly findValue: (key: Uint8Array, ty?: DhtRpc.RecordType) => Effect.Effect<LookupResult, LookupFailed>
  /** Stores a verified record on the closest set with a write quorum; own records are then renewed. */
  readonly store: (record: SignedRecord) => Effect.Effect<StoreResult, LookupFailed>
  /** Opens (decodes, verifies) a signed record, then `store`s it. */
  readonly putRecord: (signed: DhtRpc.Signed) => Effect.Effect<StoreResult, LookupFailed | InvalidRecord>
  /** Stops renewing our record under `key`. */
  readonly unpublish: (key: Uint8Array) => Effect.Effect<void>
  /** Stations: publishes our `station` record now (re-signed), e.g. after our addresses changed. */
  readonly publishStation: Effect.Effect<void>
  /** A station seen over an authenticated connection (its key, hello addresses, observed IP). */
  readonly addContact: (contact: Info, ip: string) => Effect.Effect<void>
  /** `addContact` from a connection's status: ignores clients and connections not ready. */
  readonly addPeer: (status: Status) => Effect.Effect<void>
  /** Removes a station from the routing table (a SWIM death, §11.6) and promotes a candidate. */
  readonly removeContact: (nodeId: Uint8Array) => Effect.Effect<void>
  /** The known contacts nearest `target`, nearest first. */
  readonly closest: (target: Uint8Array, count: number) => Effect.Effect<ReadonlyArray<Contact>>
  /** The sink of the `dht` channel: pass it as `sinks.dht` to the transport. */
  readonly sink: Sink
  /** Subscribes the `dht` channel of one connection and adds its peer once ready. */
  readonly attach: (handle: Handle) => Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
  /** The live bucket actors by index (tests, `macula status`). */
  readonly buckets: () => ReadonlyMap<number, DhtBucketActor.Ref>
  /** The bucket views (members, cache, probe, invariant violations). */
  readonly inspect: Effect.Effect<ReadonlyArray<DhtBucketActor.View>>
  /** The `lookups` supervisor, if running (tests). */
  readonly lookups: () => Supervisor.DynamicSupervisorRef<DhtLookupActor.Options> | undefined
}

interface Wiring {
  root: Supervisor.SupervisorRef | undefined
  scope: Scope.Scope | undefined
  store: Actor.ActorRef<DhtRecordStoreActor.Msg> | undefined
  republisher: Actor.ActorRef<DhtRepublisherActor.Msg> | undefined
  lookups: Supervisor.DynamicSupervisorRef<DhtLookupActor.Options> | undefined
  readonly buckets: Map<number, DhtBucketActor.Ref>
  /** Buckets started at least once in this life of the subtree (a later start is a restart). */
  readonly started: Set<number>
  joined: boolean
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * The DHT subtree as a child spec for the node's root, and its handle. Nothing starts until
 * the spec does. Throws a `RangeError` listing the problems of an invalid config (a defect of
 * the assembly, caught at node construction).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (deps: Deps): {
  readonly spec: ChildSpec<Scope.Scope>
  readonly dht: Dht
  /** The subtree's start effect (what `spec.start` runs), typed with its supervisor ref. */
  readonly startTree: Effect.Effect<Supervisor.SupervisorRef, ConfigError | StartFailed | NameTaken, Scope.Scope>
} => {
  const knobs = { ...(deps.base ?? DhtRpc.DhtConfig.defaults), ...deps.config }
  const problems = DhtRpc.DhtConfig.problems(knobs)
  if (problems.length > 0) throw new RangeError(`DhtSupervisor config: ${problems.join("; ")}`)
  const config = DhtRpc.DhtConfig.withHash(knobs, deps.sha256 ?? DhtRpc.sha256)
  const selfId = config.sha256(deps.publicKey)
  const selfSigner = hex(deps.publicKey)
  const open = DhtRpc.openRecord(deps.verify)
  const shutdown = deps.workerShutdownMs ?? 5_000
  const wiring: Wiring = {
    root: undefined,
    scope: undefined,
    store: undefined,
    republisher: undefined,
    lookups: undefined,
    buckets: new Map(),
    started: new Set(),
    joined: false
  }
  const ledger = DhtBucketActor.ledger()
  const startLock = Semaphore.makeUnsafe(1)
  const emit = (event: Event) => {
    // A new member may be closer to some held records than we are: the republisher hands them over.
    if (event._tag === "ContactAdded") wiring.republisher?.tell({ _tag: "ContactAdded", contact: event.contact })
    deps.onEvent?.(event)
  }

  // --- Connections and requests ----------------------------------------------------------------

  const connect = (info: Info): Effect.Effect<Handle, unknown> =>
    Effect.gen(function*() {
      const did = DhtRpc.didOf(info)
      const existing = yield* deps.transport.lookup(did)
      if (existing !== undefined && existing.status().phase === "ready") return existing
      let last: unknown = "no address"
      for (const address of info.addrs) {
        const dialed = yield* Effect.result(deps.transport.dial(address, { expectedDid: did }))
        if (Result.isSuccess(dialed)) return dialed.success
        last = dialed.failure
      }
      return yield* Effect.fail(last)
    })

  const rpc = DhtRpc.make({ timeoutMs: config.dhtRpcTimeoutMs, maxPending: config.maxPendingRequests, connect, open })

  const bucketOf = (id: Uint8Array): DhtBucketActor.Ref | undefined => {
    const ref = wiring.buckets.get(DhtBucketActor.indexOf(selfId, id))
    return ref !== undefined && ref.isAlive() ? ref : undefined
  }
  const castTo = (id: Uint8Array, message: DhtBucketActor.Msg): Effect.Effect<void> =>
    Effect.suspend(() => {
      const ref = bucketOf(id)
      return ref === undefined ? Effect.void : Effect.ignore(ref.cast(message))
    })

  /**
   * Every request of the DHT: answers are traffic (the responder is observed), failures age it.
   * A request that could not reach the member (no dial, no send) while a ready connection to it
   * exists says nothing about the member: a duplicate connection being replaced, say. Only
   * unanswered, refused or badly answered requests, or a member with no ready connection, age it.
   */
  const request = (to: Info, message: DhtRpc.Request): Effect.Effect<DhtRpc.Answer, DhtRpc.RequestFailed> => {
    const failed = castTo(config.sha256(to.pk), { _tag: "Failed", key: hex(config.sha256(to.pk)) })
    return rpc.request(to, message).pipe(
      Effect.tap((answer) => addPeer(answer.handle.status())),
      Effect.tapError((error) =>
        error.reason === "timeout" || error.reason === "bad_answer" || error.reason === "refused"
          ? failed
          : Effect.flatMap(deps.transport.lookup(DhtRpc.didOf(to)), (h) => (h?.status().phase === "ready" ? Effect.void : failed))
      )
    )
  }

  // --- Buckets ---------------------------------------------------------------------------------

  const bucketSpec = (index: number): ChildSpec<Scope.Scope> => ({
    id: `bucket-${String(index).padStart(3, "0")}`,
    restart: "permanent",
    shutdown,
    start: Effect.suspend(() => {
      const restarted = wiring.started.has(index)
      wiring.started.add(index)
      return Effect.tap(
        Actor.spawn(DhtBucketActor.behavior({
          index,
          self: selfId,
          config,
          ledger,
          probe: (contact) =>
            Effect.match(request(contact, { _tag: "FindNode", key: selfId }), { onFailure: () => false, onSuccess: () => true }),
          refresh: (target) => Effect.ignore(dht.lookup(target)),
          refreshOnStart: restarted,
          onEvent: emit
        })),
        (ref) => Effect.sync(() => void wiring.buckets.set(index, ref))
      )
    })
  })

  /** The bucket actor for `index`, started on first use (lazy buckets). */
  const ensureBucket = (index: number): Effect.Effect<DhtBucketActor.Ref | undefined> =>
    Effect.suspend(() => {
      const live = wiring.buckets.get(index)
      if (live !== undefined && live.isAlive()) return Effect.succeed(live)
      // Started before and not alive now: its supervisor is restarting it; the contact comes again.
      if (wiring.started.has(index)) return Effect.succeed(undefined)
      return startLock.withPermits(1)(Effect.suspend(() => {
        const root = wiring.root
        if (wiring.started.has(index) || root === undefined) return Effect.succeed(wiring.buckets.get(index))
        return Effect.map(Effect.ignore(root.startChild(bucketSpec(index))), () => wiring.buckets.get(index))
      }))
    })

  const addContact = (info: Info, ip: string): Effect.Effect<void> =>
    Effect.gen(function*() {
      if (info.pk.length !== 32) return
      const id = config.sha256(info.pk)
      if (sameBytes(id, selfId)) return
      const ref = yield* ensureBucket(DhtBucketActor.indexOf(selfId, id))
      if (ref === undefined) return
      yield* Effect.ignore(ref.cast({ _tag: "Observe", contact: { id, pk: info.pk, addrs: info.addrs }, ip }))
      // Bootstrap (Kademlia §2.3): the first contact of an unjoined node starts the self-lookup.
      if (!wiring.joined && wiring.scope !== undefined) {
        wiring.joined = true
        // Once joined, our station record goes to the stations closest to its key.
        yield* Effect.forkIn(Effect.andThen(Effect.ignore(dht.lookup(selfId)), dht.publishStation), wiring.scope)
      }
    })

  const addPeer = (status: Status): Effect.Effect<void> =>
    Effect.suspend(() => {
      const contact = DhtRpc.contactOfStatus(status)
      return contact === undefined ? Effect.void : addContact(contact.info, contact.ip)
    })

  const liveBuckets = (): ReadonlyArray<DhtBucketActor.Ref> => [...wiring.buckets.values()].filter((r) => r.isAlive())

  const closest = (target: Uint8Array, count: number, exclude?: string): Effect.Effect<ReadonlyArray<Contact>> =>
    Effect.map(
      Effect.forEach(
        liveBuckets(),
        (ref) =>
          Effect.orElseSucceed(
            ref.call<ReadonlyArray<Contact>>((reply) => ({ _tag: "Closest", target, count, exclude, reply }), { timeoutMs: 1_000 }),
            () => []
          ),
        { concurrency: "unbounded" }
      ),
      (lists) => DhtBucketActor.mergeClosest(lists, target, count)
    )

  // --- Lookups and stores -----------------------------------------------------------------------

  const unavailable = () => new DhtLookupActor.LookupFailed({ reason: "unavailable", detail: "the DHT subtree is not running" })

  const run = (
    kind: "node" | "value" | "store",
    target: Uint8Array,
    extra: { readonly ty?: DhtRpc.RecordType; readonly record?: SignedRecord }
  ): Effect.Effect<LookupResult, LookupFailed> =>
    Effect.gen(function*() {
      const lookups = wiring.lookups
      if (lookups === undefined) return yield* Effect.fail(unavailable())
      const seeds = yield* closest(target, config.dhtK * config.dhtDisjointPaths, hex(selfId))
      yield* castTo(target, { _tag: "Touch" })
      const store = wiring.store
      const local = kind === "value" && store !== undefined
        ? yield* Effect.orElseSucceed(
          store.call<ReadonlyArray<SignedRecord>>((reply) => ({ _tag: "Get", key: target, ty: extra.ty, reply }), { timeoutMs: 1_000 }),
          () => []
        )
        : []
      const result = Deferred.makeUnsafe<LookupResult, LookupFailed>()
      const started = yield* Effect.result(lookups.startChild({
        config,
        self: selfId,
        kind,
        target,
        ...(extra.ty === undefined ? {} : { ty: extra.ty }),
        ...(extra.record === undefined ? {} : { record: extra.record }),
        seeds,
        local,
        request: (to, message) => request(to, message),
        storeLocally: (record) =>
          Effect.suspend(() => {
            const s = wiring.store
            if (s === undefined) return Effect.succeed(false)
            return Effect.orElseSucceed(
              Effect.map(s.call<true | DhtRpc.Refusal>((reply) => ({ _tag: "Put", record, reply }), { timeoutMs: 1_000 }), (v) => v === true),
              () => false
            )
          }),
        penalise: (to, reason) =>
          Effect.flatMap(deps.transport.lookup(DhtRpc.didOf(to)), (h) => (h === undefined ? Effect.void : h.penalize("minor", reason))),
        result
      }))
      if (Result.isFailure(started)) {
        const error = started.failure
        return yield* Effect.fail(new DhtLookupActor.LookupFailed({
          reason: error._tag === "SupervisorStopped" ? "unavailable" : "busy",
          detail: error._tag
        }))
      }
      return yield* Deferred.await(result)
    })

  const storeRecord = (record: SignedRecord): Effect.Effect<StoreResult, LookupFailed> =>
    Effect.gen(function*() {
      const result = yield* run("store", record.body.key, { record })
      const outcome: StoreResult = result.store ?? { ok: false, acks: 0, candidates: 0 }
      // Records we signed are renewed before they lapse (§10.4).
      if (outcome.ok && sameBytes(record.body.pk, deps.publicKey) && wiring.republisher !== undefined) {
        yield* Effect.ignore(wiring.republisher.cast({ _tag: "Own", record }))
      }
      return outcome
    })

  // --- Inbound requests ------------------------------------------------------------------------

  const serve = (inbound: Inbound): Effect.Effect<void> =>
    Effect.gen(function*() {
      const from = DhtRpc.nodeIdOfDid(inbound.peerDid)
      const store = wiring.store
      if (from === undefined) return
      const handle = yield* deps.transport.lookup(inbound.peerDid)
      const status = handle?.status()
      if (status !== undefined) yield* addPeer(status) // every request is traffic
      if (store === undefined) {
        const id = (inbound.frame as { readonly id?: unknown }).id
        if (typeof id === "number") yield* Effect.ignore(inbound.reply({ t: "err", id, c: "busy" }))
        return
      }
      yield* Effect.ignore(store.cast({
        _tag: "Serve",
        incoming: {
          frame: inbound.frame,
          from,
          role: status?.peerRole === "station" ? "station" : "client",
          reply: inbound.reply,
          penalise: (severity, reason) => (handle === undefined ? Effect.void : handle.penalize(severity, reason))
        }
      }))
    })

  const sink: Sink = (inbound) => (inbound.opener === "local" ? rpc.settle(inbound) : serve(inbound))

  // --- The tree --------------------------------------------------------------------------------

  const children: ReadonlyArray<ChildSpec<Scope.Scope>> = [
    {
      id: "store",
      shutdown,
      start: Effect.tap(
        Actor.spawn(DhtRecordStoreActor.behavior({
          config,
          open,
          closest: (target, count, exclude) => closest(target, count, exclude),
          proxy: {
            get: (key, ty) =>
              Effect.map(dht.findValue(key, ty), (r) => ({ records: r.records, contacts: r.closest })),
            put: (record) => Effect.map(storeRecord(record), (r) => ({ ok: r.ok, acks: r.acks }))
          },
          onEvent: emit,
          ...(deps.persistence === undefined ? {} : {
            persist: {
              load: deps.persistence.loadRecords,
              save: deps.persistence.saveRecords,
              delayMs: deps.recordSaveDelayMs ?? 5_000
            }
          })
        })),
        (ref) => Effect.sync(() => void (wiring.store = ref))
      )
    },
    {
      id: "lookups",
      kind: "supervisor",
      start: Effect.tap(
        Supervisor.startDynamic<DhtLookupActor.Options, Scope.Scope>({
          label: "dht-lookups",
          strategy: "simple_one_for_one",
          intensity: deps.intensity ?? 5,
          periodMs: deps.periodMs ?? 10_000,
          maxChildren: config.maxConcurrentLookups,
          template: { label: "dht-lookup", restart: "temporary", shutdown: 1_000, start: (o) => DhtLookupActor.start(o) }
        }),
        (ref) => Effect.sync(() => void (wiring.lookups = ref))
      )
    },
    {
      id: "republisher",
      shutdown,
      start: Effect.tap(
        Actor.spawn(DhtRepublisherActor.behavior({
          config,
          store: (record) => Effect.map(storeRecord(record), (r) => r.ok),
          ...(deps.sign === undefined ? {} : { resign: DhtRpc.resigner(deps.sign) }),
          dueForReplication: Effect.suspend(() => {
            const store = wiring.store
            if (store === undefined) return Effect.succeed([])
            return Effect.orElseSucceed(
              store.call<ReadonlyArray<SignedRecord>>((reply) => ({ _tag: "DueForReplication", selfSigner, reply }), { timeoutMs: 5_000 }),
              () => []
            )
          }),
          replicate: (record) =>
            Effect.gen(function*() {
              const targets = yield* closest(record.body.key, config.dhtK)
              for (const to of targets) {
                yield* Effect.forkIn(Effect.ignore(request(to, { _tag: "Store", record })), wiring.scope!)
              }
              return targets.length
            }),
          handOff: (contact) =>
            Effect.gen(function*() {
              const store = wiring.store
              if (store === undefined || config.maxHandoffRecordsPerContact <= 0) return 0
              const records = yield* Effect.orElseSucceed(
                store.call<ReadonlyArray<SignedRecord>>(
                  (reply) => ({ _tag: "CloserTo", contact: contact.id, self: selfId, max: config.maxHandoffRecordsPerContact, reply }),
                  { timeoutMs: 5_000 }
                ),
                () => []
              )
              for (const record of records) {
                yield* Effect.forkIn(Effect.ignore(request(contact, { _tag: "Store", record })), wiring.scope!)
              }
              return records.length
            }),
          selfLookup: Effect.suspend(() => (liveBuckets().length === 0 ? Effect.void : Effect.asVoid(dht.lookup(selfId)))),
          ...(deps.station === undefined ? {} : { station: { publicKey: deps.publicKey, ...deps.station } })
        })),
        (ref) => Effect.sync(() => void (wiring.republisher = ref))
      )
    }
  ]

  const startTree = Effect.gen(function*() {
      // A fresh life of the subtree: no bucket has started yet in it.
      wiring.buckets.clear()
      wiring.started.clear()
      wiring.joined = false
      ledger.clear()
      wiring.scope = yield* Effect.scope
      const root = yield* Supervisor.start({
        label: "dht",
        strategy: "one_for_one",
        intensity: deps.intensity ?? 5,
        periodMs: deps.periodMs ?? 10_000,
        children
      })
      wiring.root = root
      const persistence = deps.persistence
      if (persistence !== undefined) yield* keepRoutingTable(persistence)
      return root
    })

  /**
   * §15.2 for the routing table: re-pings the saved contacts (each answer observes its sender
   * into a bucket; silence admits nothing), then snapshots the members every
   * `routingSnapshotIntervalMs` and once more when the subtree stops. An empty table is never
   * written over a snapshot: a station cut off for a while keeps the contacts it had.
   */
  const keepRoutingTable = (persistence: Persistence): Effect.Effect<void, never, Scope.Scope> =>
    Effect.gen(function*() {
      const saved = yield* persistence.loadContacts
      yield* Effect.forkScoped(Effect.forEach(
        saved.filter((info) => info.pk.length === 32 && !sameBytes(info.pk, deps.publicKey)),
        (info) => Effect.ignore(request(info, { _tag: "FindNode", key: selfId })),
        { concurrency: 8, discard: true }
      ))
      const snapshot = Effect.flatMap(dht.inspect, (views) => {
        const contacts = views.flatMap((v) => v.members.map((c): Info => ({ pk: c.pk, addrs: c.addrs })))
        return contacts.length === 0 ? Effect.void : persistence.saveContacts(contacts)
      })
      yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(config.routingSnapshotIntervalMs), snapshot)))
      // Added after the tree started, so it runs before the tree stops: the buckets still answer.
      yield* Effect.addFinalizer(() => snapshot)
    })
  const spec: ChildSpec<Scope.Scope> = { id: "dht", kind: "supervisor", start: startTree }

  const dht: Dht = {
    id: selfId,
    config,
    lookup: (target) => run("node", target, {}),
    findValue: (key, ty) => run("value", key, ty === undefined ? {} : { ty }),
    store: storeRecord,
    putRecord: (signed) =>
      Effect.suspend((): Effect.Effect<StoreResult, LookupFailed | InvalidRecord> => {
        const record = open(signed)
        return record === undefined ? Effect.fail(new InvalidRecord({ reason: "does not decode or verify" })) : storeRecord(record)
      }),
    unpublish: (key) =>
      Effect.suspend(() => (wiring.republisher === undefined ? Effect.void : Effect.ignore(wiring.republisher.cast({ _tag: "Unpublish", key })))),
    publishStation: Effect.suspend(() =>
      wiring.republisher === undefined ? Effect.void : Effect.ignore(wiring.republisher.cast({ _tag: "PublishStation", force: true }))
    ),
    addContact,
    addPeer,
    removeContact: (nodeId) => castTo(nodeId, { _tag: "Remove", key: hex(nodeId) }),
    closest: (target, count) => closest(target, count),
    sink,
    attach: (handle) =>
      Effect.gen(function*() {
        handle.subscribe("dht", sink)
        if (wiring.scope === undefined) return
        yield* Effect.forkIn(Effect.ignore(Effect.flatMap(handle.ready, addPeer)), wiring.scope)
      }),
    stats: Effect.gen(function*() {
      const views = yield* dht.inspect
      const store = wiring.store
      const records = store === undefined
        ? 0
        : (yield* Effect.orElseSucceed(store.call<DhtRecordStoreActor.Stats>((reply) => ({ _tag: "Stats", reply }), { timeoutMs: 1_000 }), () => undefined))?.records ?? 0
      const counts = wiring.lookups === undefined ? undefined : yield* Effect.orElseSucceed(wiring.lookups.countChildren, () => undefined)
      return {
        buckets: views.length,
        contacts: views.reduce((n, v) => n + v.members.length, 0),
        cached: views.reduce((n, v) => n + v.cached.length, 0),
        records,
        lookups: counts?.active ?? 0,
        pendingRequests: rpc.stats().pending
      }
    }),
    buckets: () => new Map([...wiring.buckets].filter(([, r]) => r.isAlive())),
    inspect: Effect.suspend(() => Effect.map(
      Effect.forEach(
        liveBuckets(),
        (ref) => Effect.orElseSucceed(ref.call<DhtBucketActor.View | undefined>((reply) => ({ _tag: "Inspect", reply }), { timeoutMs: 1_000 }), () => undefined),
        { concurrency: "unbounded" }
      ),
      (views) => views.filter((v): v is DhtBucketActor.View => v !== undefined).sort((a, b) => a.index - b.index)
    )),
    lookups: () => wiring.lookups
  }

  return { spec, dht, startTree }
}

/**
 * Starts the DHT subtree in the current scope (without a parent supervisor): tests and tools.
 * The node includes `make(deps).spec` in its root instead.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  deps: Deps
): Effect.Effect<{ readonly supervisor: Supervisor.SupervisorRef; readonly dht: Dht }, ConfigError | StartFailed | NameTaken, Scope.Scope> =>
  Effect.gen(function*() {
    const { dht, startTree } = make(deps)
    const supervisor = yield* startTree
    return { supervisor, dht }
  })

/**
 * The wall clock the DHT reads (records carry unix-ms instants): Effect's `Clock`, so a test's
 * `TestClock` drives expiry too.
 *
 * @since 0.1.0
 * @category getters
 */
export const now: Effect.Effect<number> = Clock.currentTimeMillis

/**
 * The state of one station's DHT core: its routing table, record store, running lookups and
 * stores, outstanding requests, timer generations, own records to republish, a seeded PRNG and
 * counters of bad remote input.
 *
 * Key invariants: every table here is bounded by a `Config` knob (`jobs` by
 * `maxConcurrentLookups`, `pending` by `maxPendingRequests`, `owned` by `maxOwnedRecords`,
 * `timers` by pending + jobs + 6 periodic timers); each pending request has exactly one armed
 * `Rpc` timer; `initial` is pure, so a restarted actor rebuilds the same state from the same
 * config and seed (OTP's `init`).
 *
 * @since 0.1.0
 */
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import * as Prng from "../../core/Prng.ts"
import type { RecordType } from "../../wire/SignedBody.ts"
import type { Origin } from "./Command.ts"
import type { Config } from "./Config.ts"
import type { Contact } from "./Contact.ts"
import type * as Lookup from "./Lookup.ts"
import * as Records from "./Records.ts"
import * as RoutingTable from "./RoutingTable.ts"
import * as Xor from "./Xor.ts"

/**
 * This node.
 *
 * @since 0.1.0
 * @category models
 */
export interface Self {
  readonly id: Xor.NodeId
  readonly pk: Uint8Array
  /** Hex of `id`. */
  readonly key: string
  /** Hex of `pk` (records we sign name it as signer). */
  readonly signer: string
}

/**
 * An outgoing request awaiting its answer, by what it is for. `key` is the peer's id in hex.
 *
 * @since 0.1.0
 * @category models
 */
export type Pending =
  /** `FindNode` / `FindValue` of a lookup. */
  | { readonly _tag: "Query"; readonly to: Contact; readonly key: string; readonly job: number }
  /** `Store` of a store job's fan-out. */
  | { readonly _tag: "Store"; readonly to: Contact; readonly key: string; readonly job: number }
  /** `Store` sent by replication or hand-off; nobody waits for it. */
  | { readonly _tag: "Replicate"; readonly to: Contact; readonly key: string }
  /** Ping-before-evict. */
  | { readonly _tag: "Ping"; readonly to: Contact; readonly key: string }

/**
 * The fan-out phase of a store job.
 *
 * @since 0.1.0
 * @category models
 */
export interface Storing {
  readonly candidates: number
  readonly acks: number
  readonly outstanding: number
}

/**
 * A running lookup, possibly the first phase of a store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly id: number
  readonly origin: Origin
  readonly kind: "node" | "value"
  readonly ty: RecordType | undefined
  readonly target: Xor.NodeId
  readonly lookup: Lookup.Lookup
  /** Value lookups: the best record per signer (hex) found so far. */
  readonly records: ReadonlyMap<string, Records.SignedRecord>
  /** Value lookups: responders that returned at least one valid record. */
  readonly valueResponders: number
  /** Value lookups: hop of the first record holder (0 = our own store, -1 = none yet). */
  readonly firstValueHop: number
  /** Store jobs: the record to store once the lookup ends. */
  readonly record: Records.SignedRecord | undefined
  /** Store jobs in their fan-out phase. */
  readonly storing: Storing | undefined
}

/**
 * An own record (signed by this node) that the core reminds the actor to renew.
 *
 * @since 0.1.0
 * @category models
 */
export interface Owned {
  readonly record: Records.SignedRecord
  /** When to emit `RepublishDue` (unix ms); `undefined` once emitted and not yet renewed. */
  readonly dueAt: UnixMillis | undefined
}

/**
 * Counters of remote nonsense and overload, for metrics (bad input never throws, §14).
 *
 * @since 0.1.0
 * @category models
 */
export interface Counters {
  /** Answers to unknown or finished requests (late after a timeout, §14 row 10). */
  readonly unknownResponses: number
  /** Answers of the wrong kind for their request. */
  readonly mismatchedResponses: number
  /** `dht.nodes` / `dht.value` replies with more than `dhtK` contacts (§14 row 20). */
  readonly truncatedReplies: number
  /** Contacts dropped from replies: bad key length, no proof of work, self. */
  readonly discardedContacts: number
  /** Records in `dht.value` replies that failed validation or did not match the key. */
  readonly invalidReplyRecords: number
  /** Records refused by our store (§14 row 19). */
  readonly refusedRecords: number
  /** Requests refused: stations-only requests from clients, malformed keys. */
  readonly refusedRequests: number
  /** Contacts not admitted to the table (diversity, proof of work, self). */
  readonly rejectedContacts: number
  /** Lookups, stores or requests turned away because a cap was reached. */
  readonly busy: number
}

/**
 * The DHT core's state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly self: Self
  readonly table: RoutingTable.RoutingTable
  readonly store: Records.Store
  /** Own records by key hex. */
  readonly owned: ReadonlyMap<string, Owned>
  readonly jobs: ReadonlyMap<number, Job>
  readonly pending: ReadonlyMap<number, Pending>
  /** Timer key → the generation of its latest `SetTimer`. */
  readonly timers: ReadonlyMap<string, number>
  readonly nextRequest: number
  readonly nextJob: number
  readonly nextGeneration: number
  readonly prng: Prng.Prng
  readonly started: boolean
  /** A self-lookup has found at least one responder. */
  readonly joined: boolean
  readonly counters: Counters
}

/**
 * All counters at zero.
 *
 * @since 0.1.0
 * @category constructors
 */
export const zeroCounters: Counters = {
  unknownResponses: 0,
  mismatchedResponses: 0,
  truncatedReplies: 0,
  discardedContacts: 0,
  invalidReplyRecords: 0,
  refusedRecords: 0,
  refusedRequests: 0,
  rejectedContacts: 0,
  busy: 0
}

/**
 * The state of a fresh node with public key `publicKey`; `seed` seeds the PRNG (refresh
 * targets). Pure: the same arguments give the same state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = (
  config: Config,
  options: { readonly publicKey: Uint8Array; readonly seed: number; readonly now?: Millis }
): State => {
  const id = config.sha256(options.publicKey)
  return {
    self: { id, pk: options.publicKey, key: Xor.toHex(id), signer: Xor.toHex(options.publicKey) },
    table: RoutingTable.empty(id, options.now ?? 0),
    store: Records.emptyStore(),
    owned: new Map(),
    jobs: new Map(),
    pending: new Map(),
    timers: new Map(),
    nextRequest: 1,
    nextJob: 1,
    nextGeneration: 1,
    prng: Prng.fromSeed(options.seed),
    started: false,
    joined: false,
    counters: zeroCounters
  }
}

/**
 * Whether `generation` is the latest armed for `timerKey` (a firing to act on).
 *
 * @since 0.1.0
 * @category guards
 */
export const isCurrentTimer = (state: State, timerKey: string, generation: number): boolean =>
  state.timers.get(timerKey) === generation

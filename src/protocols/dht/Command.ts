/**
 * Everything the DHT core asks its actor to do, in order, as one tagged union, and the
 * observations it emits for logs, metrics and callers.
 *
 * Interpretation (for `actors/DhtLookupActor.ts` and friends):
 * - `SendRequest` dials `to` if needed and sends the matching `dht.*` frame; the answer comes
 *   back as `ResponseReceived` with the same `request`, a failure as `RequestFailed`. The core
 *   sets its own timeout timer, so the actor need not time requests.
 * - `SendResponse` answers the inbound request `replyTo` of peer `to`.
 * - `Ping` sends a control `ping` to `to`; a `pong` comes back as `PongReceived`.
 * - `SetTimer` (re)arms a timer; `CancelTimer` drops it. A firing carries the generation.
 * - `Penalise` adds `penaltyMinor` / `penaltyMajor` to the peer's score (§14).
 * - `Emit` publishes an observation; nothing in the core waits for it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { Millis } from "../../core/Millis.ts"
import type { RecordType } from "../../wire/SignedBody.ts"
import type { Contact } from "./Contact.ts"
import type { Request, Response } from "./Message.ts"
import type { Refusal, SignedRecord } from "./Records.ts"
import type { RejectReason } from "./RoutingTable.ts"
import type { Timer } from "./Timer.ts"
import type { NodeId } from "./Xor.ts"

/**
 * Who asked for a lookup or a store: a local caller (its `query` token), a client through the
 * proxy (§10.5), or the core's own maintenance.
 *
 * @since 0.1.0
 * @category models
 */
export type Origin =
  | { readonly _tag: "Local"; readonly query: number }
  | { readonly _tag: "Proxy"; readonly peer: NodeId; readonly replyTo: number }
  | { readonly _tag: "Refresh"; readonly bucket: number }
  | { readonly _tag: "SelfLookup" }

/**
 * Why a contact left the routing table.
 *
 * @since 0.1.0
 * @category models
 */
export type EvictReason = "unresponsive" | "stale" | "dead"

/**
 * Something worth reporting; the actor turns these into logs, metrics and replies to callers.
 *
 * @since 0.1.0
 * @category models
 */
export type Observation = Data.TaggedEnum<{
  /**
   * A lookup ended. `closest`: the `dhtK` closest responders, nearest first. `records`: for
   * value lookups, the valid records found, one per signer (highest `seq`). `hops`: the hop at
   * which the closest responder (value lookups: the first record holder) was reached; 0 when
   * none. `queried`: requests sent. `timedOut`: ended by `lookupTimeoutMs`. `busy`: refused.
   */
  LookupFinished: {
    readonly origin: Origin
    readonly target: NodeId
    readonly kind: "node" | "value"
    readonly closest: ReadonlyArray<Contact>
    readonly records: ReadonlyArray<SignedRecord>
    readonly hops: number
    readonly queried: number
    readonly timedOut: boolean
    readonly busy: boolean
  }
  /** A store ended: `ok` iff `acks` ≥ min(`storeQuorum`, `candidates`); `why` when refused before sending. */
  StoreFinished: {
    readonly origin: Origin
    readonly key: NodeId
    readonly acks: number
    readonly candidates: number
    readonly ok: boolean
    readonly why?: Refusal | "busy"
  }
  /** A record entered (or replaced one in) this node's store. */
  RecordStored: { readonly key: NodeId; readonly signer: NodeId; readonly ty: RecordType; readonly seq: number }
  /** A record offered to this node's store was refused. */
  RecordRefused: { readonly key: NodeId; readonly signer: NodeId; readonly why: Refusal }
  /** A record expired and was dropped. */
  RecordExpired: { readonly key: NodeId; readonly signer: NodeId; readonly ty: RecordType }
  /** An own record is due: re-sign it with a higher `seq` and send `Store` again. */
  RepublishDue: { readonly key: NodeId; readonly ty: RecordType; readonly record: SignedRecord }
  /** A station joined the routing table. */
  ContactAdded: { readonly contact: Contact; readonly bucket: number }
  /** A station left the routing table. */
  ContactEvicted: { readonly id: NodeId; readonly bucket: number; readonly reason: EvictReason }
  /** A station was not admitted (diversity caps, self, no proof of work). */
  ContactRejected: { readonly id: NodeId; readonly reason: RejectReason | "pow" }
  /** The routing table, to persist (§15.2); on restart the actor redials these and lets `PeerConnected` re-admit them. */
  RoutingSnapshot: { readonly contacts: ReadonlyArray<Contact> }
}>

/**
 * Constructors and matchers for `Observation`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Observation = Data.taggedEnum<Observation>()

/**
 * An output of the DHT core.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = Data.TaggedEnum<{
  /** Send `message` to `to` (dial it if needed); `request` numbers the exchange. */
  SendRequest: { readonly to: Contact; readonly request: number; readonly message: Request }
  /** Answer the inbound request `replyTo` of peer `to`. */
  SendResponse: { readonly to: NodeId; readonly replyTo: number; readonly message: Response }
  /** Ping `to` over its control stream (ping-before-evict). */
  Ping: { readonly to: Contact; readonly request: number }
  /** Arm `timer` to fire at `at` (monotonic ms), superseding earlier generations. */
  SetTimer: { readonly timer: Timer; readonly at: Millis; readonly generation: number }
  /** Drop `timer`. */
  CancelTimer: { readonly timer: Timer }
  /** Lower the score of a peer that sent bad data. */
  Penalise: { readonly peer: NodeId; readonly severity: "minor" | "major"; readonly reason: string }
  /** Publish an observation. */
  Emit: { readonly observation: Observation }
}>

/**
 * Constructors and matchers for `Command`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Command = Data.taggedEnum<Command>()

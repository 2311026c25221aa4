/**
 * Everything that reaches the DHT core: facts from outside (past tense) and local requests
 * (imperative), as one tagged union. `Step.makeStep` matches every tag.
 *
 * Time. Every event carries `now` (monotonic ms, stamped where the event was produced: at
 * ingress for messages, at firing for timers) and `wallNow` (unix ms from the same moment).
 * Timers and liveness use `now`; record validity compares `wallNow` with the unix-ms `iat` and
 * `exp` of records, since those are wall-clock instants signed by their owners.
 *
 * Trust. `PeerConnected` is sent only after the transport authenticated the station (its TLS
 * key hashes to its id) and `RequestReceived.from` names the authenticated sender. Records in
 * `RequestReceived` and `ResponseReceived` have verified signatures (`Records.ts` explains the
 * split). Everything else in a message is remote input the core checks itself.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import type { RecordType } from "../../wire/SignedBody.ts"
import type { Info } from "./Contact.ts"
import type { Request, Response } from "./Message.ts"
import type { SignedRecord } from "./Records.ts"
import type { Timer } from "./Timer.ts"
import type { NodeId } from "./Xor.ts"

/**
 * The authenticated sender of an inbound request.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sender {
  /** Node id of the sender (SHA-256 of its connection key). */
  readonly id: NodeId
  /** Stations may use every request; clients only `Get` and `Put` (§10.5). */
  readonly role: "station" | "client"
}

/**
 * An input of the DHT core.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  /** The actor started: arm the periodic timers and run the first self-lookup. */
  Started: { readonly now: Millis; readonly wallNow: UnixMillis }
  /** A timer set by `SetTimer` fired; stale generations are ignored. */
  TimerFired: { readonly now: Millis; readonly wallNow: UnixMillis; readonly timer: Timer; readonly generation: number }
  /** A station completed an authenticated handshake (or said `hello` again); `ip` is the observed remote IP. */
  PeerConnected: { readonly now: Millis; readonly wallNow: UnixMillis; readonly contact: Info; readonly ip: string }
  /** SWIM declared a station dead (§11.6): it leaves the routing table at once. */
  PeerDied: { readonly now: Millis; readonly wallNow: UnixMillis; readonly id: NodeId }
  /** A peer asked something; answer with `SendResponse` carrying `replyTo`. */
  RequestReceived: {
    readonly now: Millis
    readonly wallNow: UnixMillis
    readonly from: Sender
    readonly replyTo: number
    readonly request: Request
  }
  /** The answer to our `SendRequest` numbered `request`; `ip` is the responder's observed IP. */
  ResponseReceived: {
    readonly now: Millis
    readonly wallNow: UnixMillis
    readonly request: number
    readonly response: Response
    readonly ip?: string
  }
  /** The answer to our `Ping` numbered `request`. */
  PongReceived: { readonly now: Millis; readonly wallNow: UnixMillis; readonly request: number }
  /** Request `request` (or ping) failed before an answer: unreachable, `err`, connection lost. */
  RequestFailed: { readonly now: Millis; readonly wallNow: UnixMillis; readonly request: number }
  /** Local: find the `dhtK` stations closest to `target`; answered by `LookupFinished` with `query`. */
  FindNode: { readonly now: Millis; readonly wallNow: UnixMillis; readonly query: number; readonly target: NodeId }
  /** Local: find records under `key`; answered by `LookupFinished` with `query`. */
  FindValue: {
    readonly now: Millis
    readonly wallNow: UnixMillis
    readonly query: number
    readonly key: NodeId
    readonly ty?: RecordType
  }
  /** Local: store a signed record on the closest set (§10.4); answered by `StoreFinished`. Own records are republished. */
  Store: { readonly now: Millis; readonly wallNow: UnixMillis; readonly query: number; readonly record: SignedRecord }
  /** Local: stop republishing our record under `key` (withdrawn, or superseded by a record we no longer want renewed). */
  Unpublish: { readonly now: Millis; readonly wallNow: UnixMillis; readonly key: NodeId }
}>

/**
 * Constructors and matchers for `Event`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Event = Data.taggedEnum<Event>()

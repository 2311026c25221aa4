/**
 * The frame catalogue of PROTOCOL.md §6 (and `hello`, §3.4) as one tagged union on `t`.
 *
 * Key invariant: a value of type `Frame` is exactly what the codec accepts: decoding returns
 * only such values (fields checked one by one, absent optionals omitted, unknown fields
 * dropped) and encoding refuses anything else. Field names are the wire names; each field's
 * JSDoc gives its meaning. `v` is not part of a frame: the codec writes and checks it.
 *
 * This module holds types and the list of tags only; the checks live in `Catalogue.ts`, the
 * stream rules in `Streams.ts`, and the bodies of signed objects in `SignedBody.ts`.
 *
 * @since 0.1.0
 */

/**
 * An unsigned protocol integer, 0..2^53−1.
 *
 * @since 0.1.0
 * @category values
 */
export type U = number

/**
 * Exactly 8 bytes (a publisher session id).
 *
 * @since 0.1.0
 * @category values
 */
export type Bin8 = Uint8Array

/**
 * Exactly 16 bytes (a call id).
 *
 * @since 0.1.0
 * @category values
 */
export type Bin16 = Uint8Array

/**
 * Exactly 32 bytes (a realm id, DHT key, public key or node id).
 *
 * @since 0.1.0
 * @category values
 */
export type Bin32 = Uint8Array

/**
 * Exactly 34 bytes (an MCID).
 *
 * @since 0.1.0
 * @category values
 */
export type Bin34 = Uint8Array

/**
 * Exactly 64 bytes (an Ed25519 signature).
 *
 * @since 0.1.0
 * @category values
 */
export type Bin64 = Uint8Array

/**
 * A payload value (§4.3): nil, booleans, numbers (integers within ±(2^53−1), floats), str,
 * bin, arrays and string-keyed plain maps. Never `Map`, `Set`, `Date`, class instances or
 * `undefined`; `-0` decodes as `0`. Decoded `bin` values are copies, never views of the
 * receive buffer.
 *
 * @since 0.1.0
 * @category values
 */
export type Any =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | ReadonlyArray<Any>
  | { readonly [key: string]: Any }

/**
 * A signed object (§5): `b` is the msgpack body exactly as the signer encoded it, `s` the
 * Ed25519 signature over `domain ‖ b`. See `Signed.ts` to build and open one.
 *
 * @since 0.1.0
 * @category values
 */
export interface Signed {
  /** The encoded body; verified over these exact bytes, never re-encoded. */
  readonly b: Uint8Array
  /** Ed25519 signature over `domain ‖ b`. */
  readonly s: Bin64
}

/**
 * A station a node can dial: its key and its addresses (§3.4).
 *
 * @since 0.1.0
 * @category values
 */
export interface Contact {
  /** The station's public key. */
  readonly pk: Bin32
  /** Its addresses, `quic://…` or `tls://…`. */
  readonly a: ReadonlyArray<string>
}

/**
 * Authority carried by a gated frame (`au`, `ucan`; §13): a UCAN invocation and its proofs.
 *
 * @since 0.1.0
 * @category values
 */
export interface Authority {
  /** The invocation envelope (DAG-CBOR). */
  readonly inv: Uint8Array
  /** Proof delegations, root first. */
  readonly prf: ReadonlyArray<Uint8Array>
}

/**
 * A node's role (§1).
 *
 * @since 0.1.0
 * @category values
 */
export type Role = "station" | "client"

/**
 * Soft state a `resync` asks to replay (§15.2).
 *
 * @since 0.1.0
 * @category values
 */
export type ResyncWhat = "sub" | "adv" | "interest"

/**
 * Delivery mode of a subscription: at most once or at least once (§8.4, §8.5).
 *
 * @since 0.1.0
 * @category values
 */
export type SubMode = "amo" | "alo"

/**
 * Why events were skipped on an `alo` subscription (§8.5).
 *
 * @since 0.1.0
 * @category values
 */
export type GapReason = "overflow" | "retention" | "station_restart" | "resume_unavailable"

/**
 * Call mode: unary, or one of the streaming modes of §9.5.
 *
 * @since 0.1.0
 * @category values
 */
export type CallMode = "unary" | "server" | "client" | "bidi"

/**
 * RPC error names sent in `reply.e.c` (§9.4; `ok` is never sent).
 *
 * @since 0.1.0
 * @category values
 */
export type RpcErrorCode =
  | "no_provider"
  | "relay_failed"
  | "relay_refused"
  | "provider_gone"
  | "realm_refused"
  | "loop_detected"
  | "deadline_exceeded"
  | "overloaded"
  | "bad_request"
  | "identity_rejected"
  | "wrong_station"
  | "withdrawn"
  | "payload_too_large"
  | "bad_signature"
  | "handler_error"
  | "unauthorized"

/**
 * What a `content.want` entry asks for: the block itself, or whether it is held.
 *
 * @since 0.1.0
 * @category values
 */
export type WantKind = "block" | "have"

/**
 * The error of a failed call (§9.4).
 *
 * @since 0.1.0
 * @category values
 */
export interface CallError {
  /** Error name. */
  readonly c: RpcErrorCode
  /** Message, for people. */
  readonly m?: string
  /** Data from the handler (`handler_error`). */
  readonly d?: Any
  /** Key of the station or provider that produced the error. */
  readonly by?: Bin32
}

/**
 * One entry of a `content.want` (§12.3).
 *
 * @since 0.1.0
 * @category values
 */
export interface WantEntry {
  /** The wanted MCID. */
  readonly m: Bin34
  /** `block` asks for it; `have` asks whether it is held. */
  readonly k: WantKind
  /** Priority 0..255 (default 128). */
  readonly p?: U
}

/**
 * One entry of a `content.have` (§12.3).
 *
 * @since 0.1.0
 * @category values
 */
export interface HaveEntry {
  /** The MCID answered about. */
  readonly m: Bin34
  /** Whether it is held (`false` = don't have). */
  readonly y: boolean
  /** Its size in bytes. */
  readonly sz?: U
}

/**
 * An interest entry: (realm id, pattern) (§8.3).
 *
 * @since 0.1.0
 * @category values
 */
export type InterestEntry = readonly [realm: Bin32, pattern: string]

// ---------------------------------------------------------------------------------------------
// Control stream

/**
 * First frame of a connection, each way (§3.4).
 *
 * @since 0.1.0
 * @category control
 */
export interface Hello {
  readonly t: "hello"
  /** `station` or `client`. */
  readonly role: Role
  /** Supported protocol versions, ascending. */
  readonly vers: ReadonlyArray<U>
  /** Extensions (none in v1; unknown strings are ignored). */
  readonly feat: ReadonlyArray<string>
  /** Client: realms it acts in; station: realms served (`[]` = all). */
  readonly realms: ReadonlyArray<Bin32>
  /** Station listen addresses (at most 8); `[]` for clients. */
  readonly addrs: ReadonlyArray<string>
  /** Limits of the sender: `f` = largest frame body it accepts. */
  readonly lim: { readonly f: U }
  /** Sender wall clock, unix ms. */
  readonly ts: U
  /** Station → client: alternative stations for failover. */
  readonly peers?: ReadonlyArray<Contact>
  /** Implementation and version, at most 64 bytes, informational. */
  readonly impl?: string
}

/**
 * Liveness probe (§3.6).
 *
 * @since 0.1.0
 * @category control
 */
export interface Ping {
  readonly t: "ping"
  /** Probe number, echoed by `pong`. */
  readonly n: U
}

/**
 * Answer to `ping` (§3.6).
 *
 * @since 0.1.0
 * @category control
 */
export interface Pong {
  readonly t: "pong"
  /** The `n` of the answered `ping`. */
  readonly n: U
}

/**
 * Graceful close (§3.7).
 *
 * @since 0.1.0
 * @category control
 */
export interface Goodbye {
  readonly t: "goodbye"
  /** Close name (§3.7), e.g. `going_away`. */
  readonly c: string
  /** Message, for people. */
  readonly m?: string
  /** Milliseconds before a redial is welcome. */
  readonly after?: U
}

/**
 * Station → any: replay that soft state (§15.2).
 *
 * @since 0.1.0
 * @category control
 */
export interface Resync {
  readonly t: "resync"
  /** What to replay. */
  readonly what: ReadonlyArray<ResyncWhat>
}

// ---------------------------------------------------------------------------------------------
// Any lane

/**
 * Success answer (§6).
 *
 * @since 0.1.0
 * @category replies
 */
export interface Ok {
  readonly t: "ok"
  /** The answered request. */
  readonly id: U
  /** A count, e.g. DHT acks. */
  readonly n?: U
  /** A cursor, e.g. the current `alo` cursor. */
  readonly cur?: U
}

/**
 * A request refused on its merits (§4.4); the stream continues.
 *
 * @since 0.1.0
 * @category replies
 */
export interface Err {
  readonly t: "err"
  /** The refused request, if it had an id. */
  readonly id?: U
  /** Error code, e.g. `unauthorized`, `invalid_topic`. */
  readonly c: string
  /** Reason, e.g. the UCAN error name. */
  readonly r?: string
  /** Message, at most 256 bytes. */
  readonly m?: string
}

// ---------------------------------------------------------------------------------------------
// SWIM

/**
 * Direct probe with piggybacked claims (§11.3).
 *
 * @since 0.1.0
 * @category swim
 */
export interface SwimPing {
  readonly t: "swim.ping"
  readonly id: U
  /** Gossip: signed claims. */
  readonly g: ReadonlyArray<Signed>
}

/**
 * Indirect probe request (§11.3).
 *
 * @since 0.1.0
 * @category swim
 */
export interface SwimPingReq {
  readonly t: "swim.ping_req"
  readonly id: U
  /** The member to probe. */
  readonly pk: Bin32
  /** Gossip: signed claims. */
  readonly g: ReadonlyArray<Signed>
}

/**
 * Probe answer (§11.3).
 *
 * @since 0.1.0
 * @category swim
 */
export interface SwimAck {
  readonly t: "swim.ack"
  readonly id: U
  /** Gossip: signed claims. */
  readonly g: ReadonlyArray<Signed>
}

/**
 * Indirect probe heard nothing (§11.3).
 *
 * @since 0.1.0
 * @category swim
 */
export interface SwimNack {
  readonly t: "swim.nack"
  readonly id: U
}

/**
 * Push-pull of full membership state (§11.5).
 *
 * @since 0.1.0
 * @category swim
 */
export interface SwimSync {
  readonly t: "swim.sync"
  readonly id: U
  /** Every member's latest claim. */
  readonly m: ReadonlyArray<Signed>
}

// ---------------------------------------------------------------------------------------------
// DHT

/**
 * Kademlia FIND_NODE (§10.2).
 *
 * @since 0.1.0
 * @category dht
 */
export interface DhtFindNode {
  readonly t: "dht.find_node"
  readonly id: U
  /** Target id. */
  readonly key: Bin32
}

/**
 * Contacts closest to a key (§10.2).
 *
 * @since 0.1.0
 * @category dht
 */
export interface DhtNodes {
  readonly t: "dht.nodes"
  readonly id: U
  /** At most `dhtK` contacts (more are truncated and penalised by the DHT). */
  readonly n: ReadonlyArray<Contact>
}

/**
 * Kademlia FIND_VALUE (§10.2).
 *
 * @since 0.1.0
 * @category dht
 */
export interface DhtFindValue {
  readonly t: "dht.find_value"
  readonly id: U
  /** Record key. */
  readonly key: Bin32
  /** Only records of this type. */
  readonly ty?: string
}

/**
 * Records found, and closer contacts (§10.2, §10.5).
 *
 * @since 0.1.0
 * @category dht
 */
export interface DhtValue {
  readonly t: "dht.value"
  readonly id: U
  /** Signed records. */
  readonly r: ReadonlyArray<Signed>
  /** Closer contacts. */
  readonly n?: ReadonlyArray<Contact>
}

/**
 * Store a record (§10.4).
 *
 * @since 0.1.0
 * @category dht
 */
export interface DhtStore {
  readonly t: "dht.store"
  readonly id: U
  /** The signed record. */
  readonly r: Signed
}

/**
 * Answer to `dht.store` or `dht.put` (§10.4, §10.5).
 *
 * @since 0.1.0
 * @category dht
 */
export interface DhtStoreAck {
  readonly t: "dht.store_ack"
  readonly id: U
  /** Stored. */
  readonly ok: boolean
  /** Why not, e.g. `key_full`. */
  readonly why?: string
  /** Acks gathered (proxy puts). */
  readonly n?: U
}

/**
 * Client → station: look a key up for me (§10.5).
 *
 * @since 0.1.0
 * @category dht
 */
export interface DhtGet {
  readonly t: "dht.get"
  readonly id: U
  /** Record key. */
  readonly key: Bin32
  /** Only records of this type. */
  readonly ty?: string
}

/**
 * Client → station: store this record for me (§10.5).
 *
 * @since 0.1.0
 * @category dht
 */
export interface DhtPut {
  readonly t: "dht.put"
  readonly id: U
  /** The signed record. */
  readonly r: Signed
}

// ---------------------------------------------------------------------------------------------
// Pub/sub

/**
 * Subscribe (§8.2).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface Sub {
  readonly t: "sub"
  readonly id: U
  /** Client-chosen subscription id, stable across reconnects. */
  readonly sid: U
  /** Realm id. */
  readonly realm: Bin32
  /** Topic or pattern. */
  readonly pat: string
  /** Delivery mode (default `amo`). */
  readonly mode?: SubMode
  /** Resume after this cursor (`alo`). */
  readonly cur?: U
  /** Authority. */
  readonly au?: Authority
}

/**
 * Unsubscribe (§8.2).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface Unsub {
  readonly t: "unsub"
  readonly id: U
  readonly sid: U
}

/**
 * Publish a signed envelope (§8.2).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface Pub {
  readonly t: "pub"
  /** With an id the station answers `ok` once routed. */
  readonly id?: U
  /** Envelope body (§8.1). */
  readonly b: Uint8Array
  /** Envelope signature. */
  readonly s: Bin64
  /** Authority. */
  readonly au?: Authority
}

/**
 * Station → client: an event for the listed subscriptions (§8.2).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface Event {
  readonly t: "event"
  /** Matching subscription ids. */
  readonly sid: ReadonlyArray<U>
  /** Envelope body. */
  readonly b: Uint8Array
  /** Envelope signature. */
  readonly s: Bin64
  /** Delivery cursor (`alo`). */
  readonly cur?: U
}

/**
 * Cumulative acknowledgement of an `alo` subscription (§8.5).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface Ack {
  readonly t: "ack"
  readonly sid: U
  readonly cur: U
}

/**
 * Announced loss on an `alo` subscription (§8.5).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface Gap {
  readonly t: "gap"
  readonly sid: U
  /** First lost cursor. */
  readonly from: U
  /** Last lost cursor. */
  readonly to: U
  readonly why: GapReason
}

/**
 * Station → station: an event for the receiver's clients (§8.3).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface Fwd {
  readonly t: "fwd"
  /** Envelope body. */
  readonly b: Uint8Array
  /** Envelope signature. */
  readonly s: Bin64
}

/**
 * Full interest exchange, in parts (§8.3).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface InterestSync {
  readonly t: "interest.sync"
  readonly id: U
  /** Generation. */
  readonly gen: U
  /** Entries of this part. */
  readonly e: ReadonlyArray<InterestEntry>
  /** More parts follow. */
  readonly more: boolean
}

/**
 * Interest added (§8.3).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface InterestAdd {
  readonly t: "interest.add"
  /** With an id the receiver answers `ok`. */
  readonly id?: U
  readonly gen: U
  readonly e: ReadonlyArray<InterestEntry>
}

/**
 * Interest withdrawn (§8.3).
 *
 * @since 0.1.0
 * @category pubsub
 */
export interface InterestDel {
  readonly t: "interest.del"
  /** With an id the receiver answers `ok`. */
  readonly id?: U
  readonly gen: U
  readonly e: ReadonlyArray<InterestEntry>
}

// ---------------------------------------------------------------------------------------------
// RPC

/**
 * Advertise a procedure (§9.1).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface Adv {
  readonly t: "adv"
  readonly id: U
  /** Realm id. */
  readonly realm: Bin32
  /** Procedure name. */
  readonly proc: string
  /** Modes served. */
  readonly modes: ReadonlyArray<CallMode>
  /** Signed provider record. */
  readonly rec: Signed
  /** Authority. */
  readonly au?: Authority
}

/**
 * Withdraw a procedure (§9.1).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface Unadv {
  readonly t: "unadv"
  readonly id: U
  /** Realm id. */
  readonly realm: Bin32
  /** Procedure name. */
  readonly proc: string
  /** Signed withdrawal record. */
  readonly rec: Signed
}

/**
 * Call a procedure (§9.2–§9.5).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface Call {
  readonly t: "call"
  readonly id: U
  /** End-to-end call id. */
  readonly cid: Bin16
  /** Realm id. */
  readonly realm: Bin32
  /** Procedure name. */
  readonly proc: string
  /** Arguments. */
  readonly a: Any
  /** Remaining budget in ms. */
  readonly ttl: U
  /** Idempotent: the mesh may retry it. */
  readonly idem: boolean
  /** Call mode (default `unary`). */
  readonly mode?: CallMode
  /** Pinned provider. */
  readonly to?: Bin32
  /** Caller key, set by the home station. */
  readonly from?: Bin32
  /** Hops so far. */
  readonly hop: U
  /** Initial credit for provider → caller messages (streaming). */
  readonly cr?: U
  /** Station grant authority. */
  readonly au?: Authority
  /** Invocation for a provider that requires one. */
  readonly ucan?: Authority
}

/**
 * Result or error of a call (§9.4).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface Reply {
  readonly t: "reply"
  readonly id: U
  /** Result. */
  readonly r?: Any
  /** Error. */
  readonly e?: CallError
}

/**
 * Caller gave up (§9.3).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface Cancel {
  readonly t: "cancel"
  readonly id: U
}

/**
 * One streamed message (§9.5).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface StreamData {
  readonly t: "s.data"
  /** Sequence number, from 0 per direction. */
  readonly q: U
  /** The message. */
  readonly d: Any
}

/**
 * Half-close of a call stream (§9.5).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface StreamEnd {
  readonly t: "s.end"
}

/**
 * More credit for the other side's messages (§9.5).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface StreamCredit {
  readonly t: "s.credit"
  /** Messages granted. */
  readonly n: U
}

// ---------------------------------------------------------------------------------------------
// Content

/**
 * Add to (or, with `full`, replace) the sender's want list (§12.3).
 *
 * @since 0.1.0
 * @category content
 */
export interface ContentWant {
  readonly t: "content.want"
  readonly w: ReadonlyArray<WantEntry>
  /** Replace the want list. */
  readonly full?: boolean
  /** Far end, when relayed. */
  readonly to?: Bin32
  /** Requester of a relayed session, set by its home station (§13.0 `/content/get`; addition to §6). */
  readonly from?: Bin32
  /** Authority. */
  readonly au?: Authority
}

/**
 * Held or not held, answered or offered (§12.3).
 *
 * @since 0.1.0
 * @category content
 */
export interface ContentHave {
  readonly t: "content.have"
  readonly h: ReadonlyArray<HaveEntry>
  /** Far end, when relayed. */
  readonly to?: Bin32
  /** Sender of a relayed push offer, set by its home station (§12.6; clients do not send it). */
  readonly from?: Bin32
  /** Authority of a push offer: the `/content/put` invocation (§13.3; addition to §6). */
  readonly au?: Authority
}

/**
 * One raw block (§12.3), at most one chunk.
 *
 * @since 0.1.0
 * @category content
 */
export interface ContentBlock {
  readonly t: "content.block"
  /** Its MCID. */
  readonly m: Bin34
  /** The block bytes (at most 262 144). */
  readonly d: Uint8Array
}

/**
 * Ask for a manifest (§12.3).
 *
 * @since 0.1.0
 * @category content
 */
export interface ContentManifestReq {
  readonly t: "content.manifest_req"
  readonly id: U
  /** Manifest MCID. */
  readonly m: Bin34
  /** Far end, when relayed. */
  readonly to?: Bin32
  /** Requester of a relayed session, set by its home station (§13.0 `/content/get`; addition to §6). */
  readonly from?: Bin32
  /** Authority. */
  readonly au?: Authority
}

/**
 * Manifest bytes, or not found (§12.3).
 *
 * @since 0.1.0
 * @category content
 */
export interface ContentManifestRes {
  readonly t: "content.manifest_res"
  readonly id: U
  /** Manifest MCID. */
  readonly m: Bin34
  /** The manifest bytes exactly as stored. */
  readonly man?: Uint8Array
  /** Not found. */
  readonly nf?: true
}

/**
 * Remove wants (§12.3).
 *
 * @since 0.1.0
 * @category content
 */
export interface ContentCancel {
  readonly t: "content.cancel"
  /** MCIDs no longer wanted. */
  readonly c: ReadonlyArray<Bin34>
}

/**
 * Every frame of protocol version 1.
 *
 * @since 0.1.0
 * @category models
 */
export type Frame =
  | Hello
  | Ping
  | Pong
  | Goodbye
  | Resync
  | Ok
  | Err
  | SwimPing
  | SwimPingReq
  | SwimAck
  | SwimNack
  | SwimSync
  | DhtFindNode
  | DhtNodes
  | DhtFindValue
  | DhtValue
  | DhtStore
  | DhtStoreAck
  | DhtGet
  | DhtPut
  | Sub
  | Unsub
  | Pub
  | Event
  | Ack
  | Gap
  | Fwd
  | InterestSync
  | InterestAdd
  | InterestDel
  | Adv
  | Unadv
  | Call
  | Reply
  | Cancel
  | StreamData
  | StreamEnd
  | StreamCredit
  | ContentWant
  | ContentHave
  | ContentBlock
  | ContentManifestReq
  | ContentManifestRes
  | ContentCancel

/**
 * A frame type, the value of `t`.
 *
 * @since 0.1.0
 * @category models
 */
export type FrameType = Frame["t"]

/**
 * The frame with tag `T`.
 *
 * @since 0.1.0
 * @category models
 */
export type FrameOf<T extends FrameType> = Extract<Frame, { readonly t: T }>

/**
 * Every frame type, in catalogue order.
 *
 * @since 0.1.0
 * @category constants
 */
export const frameTypes: ReadonlyArray<FrameType> = [
  "hello",
  "ping",
  "pong",
  "goodbye",
  "resync",
  "ok",
  "err",
  "swim.ping",
  "swim.ping_req",
  "swim.ack",
  "swim.nack",
  "swim.sync",
  "dht.find_node",
  "dht.nodes",
  "dht.find_value",
  "dht.value",
  "dht.store",
  "dht.store_ack",
  "dht.get",
  "dht.put",
  "sub",
  "unsub",
  "pub",
  "event",
  "ack",
  "gap",
  "fwd",
  "interest.sync",
  "interest.add",
  "interest.del",
  "adv",
  "unadv",
  "call",
  "reply",
  "cancel",
  "s.data",
  "s.end",
  "s.credit",
  "content.want",
  "content.have",
  "content.block",
  "content.manifest_req",
  "content.manifest_res",
  "content.cancel"
]

const known: ReadonlySet<string> = new Set(frameTypes)

/**
 * Whether `t` names a frame type of this version.
 *
 * @since 0.1.0
 * @category guards
 */
export const isFrameType = (t: unknown): t is FrameType => typeof t === "string" && known.has(t)

/**
 * The DHT's own message types, mirroring the `dht.*` frames of PROTOCOL.md §6. The core speaks
 * these; the actor maps them to and from wire frames (request ids, `v`/`t`, lanes), so the
 * core never depends on the codec.
 *
 * | message | frame |
 * |---|---|
 * | `Request.FindNode` / `Response.Nodes` | `dht.find_node` / `dht.nodes` |
 * | `Request.FindValue` / `Response.Value` | `dht.find_value` / `dht.value` |
 * | `Request.Store` / `Response.StoreAck` | `dht.store` / `dht.store_ack` |
 * | `Request.Get` / `Request.Put` (clients, §10.5) | `dht.get` / `dht.put` |
 * | `Response.Refused` | `err` with `c` = `code` |
 *
 * Records inside messages are `SignedRecord`s: the actor verified their signatures before an
 * inbound message reaches the core, and sends `signed` (the exact received bytes) outbound.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { RecordType } from "../../wire/SignedBody.ts"
import type { Info } from "./Contact.ts"
import type { SignedRecord } from "./Records.ts"
import type { NodeId } from "./Xor.ts"

/**
 * A DHT request, inbound or outbound. Stations send `FindNode`, `FindValue` and `Store`;
 * clients send `Get` and `Put` to their home station.
 *
 * @since 0.1.0
 * @category models
 */
export type Request = Data.TaggedEnum<{
  /** The `dhtK` contacts closest to `key`. */
  FindNode: { readonly key: NodeId }
  /** Records under `key` (optionally of type `ty`) and closer contacts. */
  FindValue: { readonly key: NodeId; readonly ty?: RecordType }
  /** Hold this record. */
  Store: { readonly record: SignedRecord }
  /** Client proxy: look `key` up for me (§10.5). */
  Get: { readonly key: NodeId; readonly ty?: RecordType }
  /** Client proxy: store this record on the closest set for me (§10.5). */
  Put: { readonly record: SignedRecord }
}>

/**
 * Constructors and matchers for `Request`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Request = Data.taggedEnum<Request>()

/**
 * Why a request is refused without being served (sent as `err`).
 *
 * @since 0.1.0
 * @category models
 */
export type RefusalCode =
  /** `dht.find_*` and `dht.store` are answered for stations only (§10.5). */
  | "stations_only"
  /** No room for another lookup or request right now. */
  | "busy"

/**
 * A DHT response.
 *
 * @since 0.1.0
 * @category models
 */
export type Response = Data.TaggedEnum<{
  /** At most `dhtK` contacts. */
  Nodes: { readonly contacts: ReadonlyArray<Info> }
  /** Records under the key and closer contacts. */
  Value: { readonly records: ReadonlyArray<SignedRecord>; readonly contacts: ReadonlyArray<Info> }
  /** Store verdict; `acks` for proxied puts (`n` on the wire). */
  StoreAck: { readonly ok: boolean; readonly why?: string; readonly acks?: number }
  /** Not served. */
  Refused: { readonly code: RefusalCode }
}>

/**
 * Constructors and matchers for `Response`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Response = Data.taggedEnum<Response>()

/**
 * The DHT's messages as `dht.*` wire frames (PROTOCOL.md §6) and back, for the DHT actors.
 *
 * | message | frame |
 * |---|---|
 * | `Request.FindNode` / `FindValue` / `Store` / `Get` / `Put` | `dht.find_node` / `dht.find_value` / `dht.store` / `dht.get` / `dht.put` |
 * | `Response.Nodes` / `Value` / `StoreAck` | `dht.nodes` / `dht.value` / `dht.store_ack` |
 * | `Response.Refused {code}` | `err {c: code}` |
 *
 * Records travel as signed objects `{b, s}`. Reading a frame needs them opened (decoded and
 * their signature verified, which is the actor's job, `Signed.openRecord`): the caller passes
 * `open`, which answers `undefined` for a record that does not decode or verify. Such records
 * are left out and counted in `badRecords`, so the caller can penalise the sender (§14 row 17).
 *
 * Pure: types only from `src/wire`; frames the codec already checked field by field.
 *
 * @since 0.1.0
 */
import type { Contact as WireContact, Frame, Signed } from "../../wire/Frame.ts"
import type { RecordType } from "../../wire/SignedBody.ts"
import type { Info } from "./Contact.ts"
import { Request, Response } from "./Message.ts"
import type { RefusalCode } from "./Message.ts"
import type { SignedRecord } from "./Records.ts"

/**
 * Opens a signed record: the verified record, or `undefined` for one that does not decode or
 * whose signature fails.
 *
 * @since 0.1.0
 * @category models
 */
export type Open = (signed: Signed) => SignedRecord | undefined

/**
 * A frame read as a DHT message: the message (when the frame is one) and how many records in
 * it failed to open.
 *
 * @since 0.1.0
 * @category models
 */
export interface Read<A> {
  readonly message: A | undefined
  readonly badRecords: number
}

/**
 * A contact as the wire carries it.
 *
 * @since 0.1.0
 * @category conversions
 */
export const contactToWire = (info: Info): WireContact => ({ pk: info.pk, a: [...info.addrs] })

/**
 * A contact from the wire.
 *
 * @since 0.1.0
 * @category conversions
 */
export const contactFromWire = (c: WireContact): Info => ({ pk: c.pk, addrs: c.a })

const withTy = <A extends object>(a: A, ty: string | undefined): A & { readonly ty?: string } => (ty === undefined ? a : { ...a, ty })

/**
 * The frame of an outgoing request numbered `id`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const requestFrame = (id: number, request: Request): Frame => {
  switch (request._tag) {
    case "FindNode":
      return { t: "dht.find_node", id, key: request.key }
    case "FindValue":
      return withTy({ t: "dht.find_value" as const, id, key: request.key }, request.ty)
    case "Store":
      return { t: "dht.store", id, r: request.record.signed }
    case "Get":
      return withTy({ t: "dht.get" as const, id, key: request.key }, request.ty)
    case "Put":
      return { t: "dht.put", id, r: request.record.signed }
  }
}

/**
 * The frame answering request `id`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const responseFrame = (id: number, response: Response): Frame => {
  switch (response._tag) {
    case "Nodes":
      return { t: "dht.nodes", id, n: response.contacts.map(contactToWire) }
    case "Value":
      return { t: "dht.value", id, r: response.records.map((r) => r.signed), n: response.contacts.map(contactToWire) }
    case "StoreAck":
      return {
        t: "dht.store_ack",
        id,
        ok: response.ok,
        ...(response.why === undefined ? {} : { why: response.why }),
        ...(response.acks === undefined ? {} : { n: response.acks })
      }
    case "Refused":
      return { t: "err", id, c: response.code }
  }
}

/**
 * An inbound request frame as a `Request`; `message` is `undefined` for a frame that is not a
 * DHT request or whose record does not open.
 *
 * @since 0.1.0
 * @category conversions
 */
export const readRequest = (frame: Frame, open: Open): Read<Request> => {
  switch (frame.t) {
    case "dht.find_node":
      return { message: Request.FindNode({ key: frame.key }), badRecords: 0 }
    case "dht.find_value":
      return {
        message: Request.FindValue(frame.ty === undefined ? { key: frame.key } : { key: frame.key, ty: frame.ty as RecordType }),
        badRecords: 0
      }
    case "dht.get":
      return { message: Request.Get(frame.ty === undefined ? { key: frame.key } : { key: frame.key, ty: frame.ty as RecordType }), badRecords: 0 }
    case "dht.store":
    case "dht.put": {
      const record = open(frame.r)
      if (record === undefined) return { message: undefined, badRecords: 1 }
      return { message: frame.t === "dht.store" ? Request.Store({ record }) : Request.Put({ record }), badRecords: 0 }
    }
    default:
      return { message: undefined, badRecords: 0 }
  }
}

const refusalCodes: ReadonlyArray<RefusalCode> = ["stations_only", "busy"]

/**
 * A reply frame as a `Response`; `message` is `undefined` for a frame that is no DHT answer
 * (an `err` with a code the DHT does not define counts as a failure).
 *
 * @since 0.1.0
 * @category conversions
 */
export const readResponse = (frame: Frame, open: Open): Read<Response> => {
  switch (frame.t) {
    case "dht.nodes":
      return { message: Response.Nodes({ contacts: frame.n.map(contactFromWire) }), badRecords: 0 }
    case "dht.value": {
      const records: Array<SignedRecord> = []
      let bad = 0
      for (const signed of frame.r) {
        const record = open(signed)
        if (record === undefined) bad++
        else records.push(record)
      }
      return { message: Response.Value({ records, contacts: (frame.n ?? []).map(contactFromWire) }), badRecords: bad }
    }
    case "dht.store_ack":
      return {
        message: Response.StoreAck({
          ok: frame.ok,
          ...(frame.why === undefined ? {} : { why: frame.why }),
          ...(frame.n === undefined ? {} : { acks: frame.n })
        }),
        badRecords: 0
      }
    case "err":
      return {
        message: refusalCodes.includes(frame.c as RefusalCode) ? Response.Refused({ code: frame.c as RefusalCode }) : undefined,
        badRecords: 0
      }
    default:
      return { message: undefined, badRecords: 0 }
  }
}

/**
 * The request id a frame carries, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const idOf = (frame: Frame): number | undefined => {
  const id = (frame as { readonly id?: unknown }).id
  return typeof id === "number" ? id : undefined
}

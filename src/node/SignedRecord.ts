/**
 * Signing the node's own DHT records (PROTOCOL.md §10.3): one helper for every record the node
 * publishes — its `station` record, a client's `endpoint` record, `content-provider` records —
 * so each is encoded and signed the same way (`record` domain, the node key).
 *
 * @since 0.1.0
 */
import type * as DhtRpc from "../../actors/DhtRpc.ts"
import type { RecordBody } from "../wire/SignedBody.ts"
import * as SignedObjects from "../wire/Signed.ts"

/**
 * `body` signed with `sign` (the node key), as the DHT stores it: the body and the signed bytes.
 * An `Error` (the wire's `EncodeError`) when the body does not encode.
 *
 * @since 0.1.0
 * @category constructors
 */
export const signedRecord = <B extends RecordBody>(body: B, sign: (message: Uint8Array) => Uint8Array): (DhtRpc.SignedRecord & { readonly body: B }) | Error => {
  const signed = SignedObjects.signRecord(body, sign)
  return "b" in signed ? { body, signed } : signed
}

/**
 * `signedRecord`, with `undefined` for a body that does not encode (the DHT's renewal ports).
 *
 * @since 0.1.0
 * @category constructors
 */
export const signer = (sign: (message: Uint8Array) => Uint8Array) => (body: RecordBody): DhtRpc.SignedRecord | undefined => {
  const record = signedRecord(body, sign)
  return record instanceof Error ? undefined : record
}

/**
 * The DHT's request port over connection lanes (PROTOCOL.md §3.5, §6): not an actor, but the
 * one place that turns "ask contact X this `Request`" into a `dht.*` frame on this side's `dht`
 * lane and waits for the answer. `DhtSupervisor` builds one per node and hands its `request`
 * to the DHT actors as a plain function, so no actor imports another.
 *
 * - **Ids.** Request ids are unique among this node's outstanding requests (so among each
 *   lane's, as §3.5 asks). A reply is matched by (connection, id); a reply nobody waits for
 *   (late, after its timeout) is counted and dropped (§14 row 10).
 * - **Timeouts.** Connecting, sending and waiting are bounded together by `timeoutMs`
 *   (`dhtRpcTimeoutMs`): a dead peer costs one timeout, never a stuck lookup.
 * - **Bounded.** At most `maxPending` requests wait at once (`maxPendingRequests`); past it a
 *   request fails at once with `busy`.
 * - **Records.** Records in replies are opened (decoded, signature verified) with `open`; bad
 *   ones are dropped and the sender penalised (major, §14 row 17).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Did from "../src/identity/Did.ts"
import * as Ed25519 from "../src/identity/Ed25519.ts"
import * as NodeId from "../src/identity/NodeId.ts"
import type { Handle, Inbound, Status } from "../src/platform/transport/ConnectionHandle.ts"
import type { Info } from "../src/protocols/dht/Contact.ts"
import * as Frames from "../src/protocols/dht/Frames.ts"
import type { Request, Response } from "../src/protocols/dht/Message.ts"
import type { SignedRecord } from "../src/protocols/dht/Records.ts"
import type { Signed } from "../src/wire/Frame.ts"
import * as SignedObjects from "../src/wire/Signed.ts"

/**
 * Why a request got no answer.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestFailed extends Data.TaggedError("RequestFailed")<{
  readonly reason: "unreachable" | "timeout" | "send_failed" | "refused" | "busy" | "bad_answer"
  readonly detail: string
}> {}

/**
 * An answer to one request.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly response: Response
  /** The responder's observed remote IP (store-set diversity). */
  readonly ip: string | undefined
  /** The connection it came on. */
  readonly handle: Handle
}

/**
 * The port's wiring.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Connecting + sending + waiting, ms. @default 2_000 (dhtRpcTimeoutMs) */
  readonly timeoutMs: number
  /** Requests waiting at once. @default 2_048 (maxPendingRequests) */
  readonly maxPending: number
  /** The ready connection to a contact: the live one, else a dial of its addresses. */
  readonly connect: (contact: Info) => Effect.Effect<Handle, unknown>
  /** Opens a signed record (decode + verify); `undefined` when it fails. */
  readonly open: Frames.Open
}

/**
 * A node's DHT request port.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rpc {
  /** Sends `message` to `contact` and waits for its answer. */
  readonly request: (contact: Info, message: Request) => Effect.Effect<Answer, RequestFailed>
  /** Takes a frame that arrived on one of our own lanes (`opener: "local"`): a reply. */
  readonly settle: (inbound: Inbound) => Effect.Effect<void>
  /** Requests waiting now, and replies dropped because nobody waited for them. */
  readonly stats: () => { readonly pending: number; readonly unknownReplies: number }
}

const slot = (connectionId: string, id: number): string => `${connectionId}#${id}`

/**
 * A request port.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Rpc => {
  const pending = new Map<string, Deferred.Deferred<Inbound>>()
  let nextId = 1
  let unknownReplies = 0

  const exchange = (contact: Info, message: Request): Effect.Effect<Answer, RequestFailed> =>
    Effect.gen(function*() {
      const handle = yield* Effect.mapError(
        options.connect(contact),
        (e) => new RequestFailed({ reason: "unreachable", detail: String((e as { _tag?: string })?._tag ?? e) })
      )
      const lane = yield* Effect.mapError(handle.openLane("dht"), (e) => new RequestFailed({ reason: "send_failed", detail: e.reason }))
      const id = nextId++
      if (nextId > 2 ** 52) nextId = 1
      const key = slot(handle.connectionId, id)
      const reply = Deferred.makeUnsafe<Inbound>()
      pending.set(key, reply)
      return yield* Effect.gen(function*() {
        yield* Effect.mapError(lane.send(Frames.requestFrame(id, message)), (e) => new RequestFailed({ reason: "send_failed", detail: e.reason }))
        const inbound = yield* Deferred.await(reply)
        const read = Frames.readResponse(inbound.frame, options.open)
        if (read.badRecords > 0) yield* handle.penalize("major", "record with a bad signature in a dht reply")
        if (read.message === undefined) {
          return yield* Effect.fail(new RequestFailed({ reason: "bad_answer", detail: inbound.frame.t }))
        }
        return { response: read.message, ip: ipOf(handle.remoteAddress), handle }
      }).pipe(Effect.ensuring(Effect.sync(() => pending.delete(key))))
    })

  return {
    request: (contact, message) =>
      Effect.suspend(() => {
        if (pending.size >= options.maxPending) return Effect.fail(new RequestFailed({ reason: "busy", detail: "too many requests waiting" }))
        return Effect.timeoutOption(exchange(contact, message), options.timeoutMs).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(new RequestFailed({ reason: "timeout", detail: `${options.timeoutMs} ms` })),
            onSome: Effect.succeed
          }))
        )
      }),
    settle: (inbound) =>
      Effect.sync(() => {
        const id = Frames.idOf(inbound.frame)
        const waiting = id === undefined ? undefined : pending.get(slot(inbound.connectionId, id))
        if (waiting === undefined) unknownReplies++
        else Deferred.doneUnsafe(waiting, Effect.succeed(inbound))
      }),
    stats: () => ({ pending: pending.size, unknownReplies })
  }
}

/**
 * The remote IP of a `quic://host:port` or `tls://host:port` address.
 *
 * @since 0.1.0
 * @category getters
 */
export const ipOf = (address: string): string | undefined => /^[a-z]+:\/\/\[?([^\]#]*?)\]?:\d+/.exec(address)?.[1]

/**
 * A station's DHT contact from its connection status: its key (from the DID its certificate
 * proved), the addresses of its hello, and the observed IP. `undefined` for clients and for
 * connections not yet ready.
 *
 * @since 0.1.0
 * @category getters
 */
export const contactOfStatus = (status: Status): { readonly info: Info; readonly ip: string } | undefined => {
  if (status.phase !== "ready" || status.peerRole !== "station") return undefined
  let pk: Uint8Array
  try {
    pk = Did.toPublicKey(status.peerDid)
  } catch {
    return undefined
  }
  return { info: { pk, addrs: status.peerHello?.addrs ?? [] }, ip: ipOf(status.remoteAddress) ?? status.remoteAddress }
}

/**
 * The DID of a contact's key.
 *
 * @since 0.1.0
 * @category getters
 */
export const didOf = (info: Info): string => Did.fromPublicKey(info.pk)

/**
 * The platform's SHA-256 (node ids, record keys).
 *
 * @since 0.1.0
 * @category crypto
 */
export const sha256 = (bytes: Uint8Array): Uint8Array => NodeId.ofPublicKey(bytes)

/**
 * Opens a signed record with strict Ed25519 verification (§2.1, §5).
 *
 * @since 0.1.0
 * @category crypto
 */
export const openRecord = (
  verify: SignedObjects.Verify = Ed25519.verify
): Frames.Open => (signed: Signed): SignedRecord | undefined => {
  const body = SignedObjects.openRecord(signed, verify)
  return body instanceof Error || !("ty" in body) ? undefined : { body, signed }
}

/**
 * The node id of a DID's key, `undefined` for a malformed DID.
 *
 * @since 0.1.0
 * @category getters
 */
export const nodeIdOfDid = (did: string): Uint8Array | undefined => {
  try {
    return NodeId.ofPublicKey(Did.toPublicKey(did))
  } catch {
    return undefined
  }
}

/**
 * A re-signer for own records: the same record with `seq`, `iat` = `wallNow` and the same
 * lifetime, signed with `sign` (the node key). `undefined` if it does not encode.
 *
 * @since 0.1.0
 * @category crypto
 */
export const resigner = (sign: SignedObjects.Sign) => (record: SignedRecord, seq: number, wallNow: number): SignedRecord | undefined => {
  const body = { ...record.body, seq, iat: wallNow, exp: wallNow + (record.body.exp - record.body.iat) }
  const signed = SignedObjects.signRecord(body, sign)
  return "b" in signed ? { body, signed } : undefined
}

/**
 * The DHT knobs, presets and checks (for modules that may import actors but not the protocol
 * folder: supervisors).
 *
 * @since 0.1.0
 * @category models
 */
export * as DhtConfig from "../src/protocols/dht/Config.ts"

/**
 * Types the supervisor's callers need.
 *
 * @since 0.1.0
 * @category models
 */
export type { Contact, Info } from "../src/protocols/dht/Contact.ts"
export type { Request, Response } from "../src/protocols/dht/Message.ts"
export type { Refusal, SignedRecord } from "../src/protocols/dht/Records.ts"
export type { Signed } from "../src/wire/Frame.ts"
export type { RecordType } from "../src/wire/SignedBody.ts"

/**
 * Relayed content sessions in the node (PROTOCOL.md §12.3, the `to` field): the pieces of
 * `./Content.ts` that let two clients exchange content through stations.
 *
 * - **Fetcher side.** A provider that is a client (its `content-provider` record has no address)
 *   is reached over a station's connection: the home station for a client, the provider's own
 *   station (`st` of its record) for a station. `relayedHandle` wraps that connection so that
 *   each content session opened on it names the provider in `to` on its first frame; the fetch
 *   actor uses it like any provider's connection. Bad blocks are the provider's doing, not the
 *   station's, so the wrapper does not pass penalties on to the station's connection.
 * - **Provider side.** A client that provides content publishes its endpoint record (§10.3:
 *   `st` = its home station) through the station's proxy, so a station whose client wants the
 *   content can find the provider's station (`endpointRecord`).
 * - **Station side.** `relay` starts the relay driver (`actors/ContentRelayActor.ts`) with the
 *   node's ports: ready connections by DID, and endpoint records looked up in the DHT.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ContentRelayActor from "../../actors/ContentRelayActor.ts"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import * as Did from "../identity/Did.ts"
import type { Handle, Session } from "../platform/transport/ConnectionHandle.ts"
import * as Relay from "../protocols/content/Relay.ts"
import type { Frame } from "../wire/Frame.ts"
import { signedRecord } from "./SignedRecord.ts"

/**
 * The DHT key of `pk`'s endpoint record: SHA-256(`endpoint` 0x00 ‖ pk).
 *
 * @since 0.1.0
 * @category keys
 */
export const endpointKey = (pk: Uint8Array): Uint8Array => {
  const tag = new TextEncoder().encode("endpoint")
  const material = new Uint8Array(tag.length + 1 + pk.length)
  material.set(tag, 0)
  material.set(pk, tag.length + 1)
  return DhtRpc.sha256(material)
}

/**
 * A client's signed endpoint record (§10.3): its stations, no addresses (clients never
 * listen). An `Error` if it does not encode.
 *
 * @since 0.1.0
 * @category constructors
 */
export const endpointRecord = (input: {
  readonly publicKey: Uint8Array
  readonly stations: ReadonlyArray<Uint8Array>
  readonly sign: (message: Uint8Array) => Uint8Array
  readonly seq: number
  readonly now: number
  readonly ttlMs: number
}): DhtRpc.SignedRecord | Error => {
  const body = {
    ty: "endpoint" as const,
    key: endpointKey(input.publicKey),
    pk: input.publicKey,
    seq: input.seq,
    iat: input.now,
    exp: input.now + input.ttlMs,
    d: { st: [...input.stations], a: [] as Array<string> }
  }
  return signedRecord(body, input.sign)
}

/**
 * The stations an endpoint record of `did` names (records signed by another key are ignored).
 * Pure.
 *
 * @since 0.1.0
 * @category getters
 */
export const stationsOfRecords = (records: ReadonlyArray<DhtRpc.SignedRecord>, did: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const record of records) {
    if (record.body.ty !== "endpoint" || Did.fromPublicKeyUnsafe(record.body.pk) !== did) continue
    for (const st of record.body.d.st) {
      const station = Did.fromPublicKeyUnsafe(st)
      if (!out.includes(station)) out.push(station)
    }
  }
  return out
}

const relayable = new Set(["content.want", "content.have", "content.manifest_req"])

/**
 * A session whose first frame names `to` (the far end behind the station).
 *
 * @since 0.1.0
 * @category constructors
 */
export const relayedSession = (session: Session, to: Uint8Array): Session => {
  let first = true
  return {
    stream: session.stream,
    end: session.end,
    send: (frame: Frame) => {
      if (!first) return session.send(frame)
      first = false
      return session.send(relayable.has(frame.t) ? ({ ...frame, to } as Frame) : frame)
    }
  }
}

/**
 * `via` (a station's connection) as the connection to `target`, a client behind it: content
 * sessions opened on it carry `to` = `target`, and penalties for the target's frames are not
 * charged to the station.
 *
 * @since 0.1.0
 * @category constructors
 */
export const relayedHandle = (via: Handle, target: string): Handle => {
  const to = Did.toPublicKey(target)
  const open = via.openSession
  return {
    ...via,
    ...(open === undefined ? {} : { openSession: () => Effect.map(open(), (session) => relayedSession(session, to)) }),
    penalize: () => Effect.void
  }
}

/**
 * Starts a station's relay of content sessions in `scope`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const relay = (input: {
  readonly self: string
  readonly handle: (did: string) => Effect.Effect<Handle | undefined>
  readonly dht: DhtSupervisor.Dht | undefined
  readonly config?: Partial<Omit<Relay.Config, "self">>
}, scope: Scope.Scope): Effect.Effect<ContentRelayActor.ContentRelay> =>
  ContentRelayActor.make({
    config: Relay.config(input.self, input.config),
    handle: input.handle,
    stationsOf: (did) => {
      const dht = input.dht
      if (dht === undefined) return Effect.succeed([])
      return Effect.suspend(() => {
        const pk = Did.parsePublicKey(did)
        if (!(pk instanceof Uint8Array)) return Effect.succeed([])
        return Effect.orElseSucceed(
          Effect.map(dht.findValue(endpointKey(pk), "endpoint"), (r) => stationsOfRecords(r.records, did)),
          () => [] as ReadonlyArray<string>
        )
      })
    },
    didOf: (to) => (to.length === 32 ? Did.fromPublicKeyUnsafe(to) : undefined)
  }, scope)

/**
 * A station's running relay.
 *
 * @since 0.1.0
 * @category models
 */
export type Running = ContentRelayActor.ContentRelay

/**
 * Overrides of the relay's limits.
 *
 * @since 0.1.0
 * @category models
 */
export type RelayOptions = Partial<Omit<Relay.Config, "self">>

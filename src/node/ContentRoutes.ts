/**
 * Where a content session goes (PROTOCOL.md §12.3, §12.6): the connection a fetch uses to reach
 * a provider, the route of an offer to a recipient, and which part takes a frame that arrives on
 * a content session (an answer to our offer, the station's relay, an offer to us, or the
 * subtree). Kept apart from `./Content.ts` so that every choice of connection reads in one place;
 * the relayed sessions themselves are built in `./ContentRelay.ts`.
 *
 * - **A provider** (`connect`) is reached over the home station's connection when it is the home
 *   station, over an existing ready connection, or by dialling a station's address; a client
 *   behind a station through a session relayed by the home station or by its station.
 * - **A recipient** (`routeTo`) is reached over the home station's connection, one already open,
 *   or a station dialled at the addresses of its `station` record; a client through the home
 *   station's relay, or (from a station) through a station its endpoint record names.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as ConnectionActor from "../../actors/ConnectionActor.ts"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import type * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import type * as TransportSupervisor from "../../supervisors/TransportSupervisor.ts"
import * as Did from "../identity/Did.ts"
import * as Relay from "../protocols/content/Relay.ts"
import * as StationRecord from "../protocols/dht/StationRecord.ts"
import type { Frame } from "../wire/Frame.ts"
import type { Options } from "./Content.ts"
import * as ContentRelay from "./ContentRelay.ts"
import { ConnectionLost } from "./Errors.ts"

type Handle = ConnectionActor.Handle
type Sink = ConnectionActor.Sink

/**
 * Where an offer goes (see `routeTo`).
 *
 * @since 0.1.0
 * @category models
 */
export interface OfferRoute {
  readonly handle: Handle
  /** A session spliced by stations (its first frame carries `to`). */
  readonly relayed: boolean
  /** A client offering on a connection to a station other than its home one. */
  readonly visiting: boolean
  /** A connection this node dialled only to push: closed when its last push ends. */
  readonly dialled: boolean
}

/** What reading `station` records needs: the key hash and the §16 clock leeway. */
const stationRecordConfig = { sha256: DhtRpc.sha256, clockSkewLeewayMs: 60_000 }

/**
 * The ready connection to a DID in the running transport's registry, if there is one.
 *
 * @since 0.1.0
 * @category getters
 */
export const readyHandle = (transport: () => TransportSupervisor.TransportTree | undefined) => (did: string): Effect.Effect<Handle | undefined> =>
  Effect.suspend(() => {
    const tree = transport()
    if (tree === undefined) return Effect.succeed(undefined)
    return Effect.map(tree.registry.lookup(did), (h) => (h !== undefined && h.status().phase === "ready" ? h : undefined))
  })

/**
 * What the routes need from the node's content options. Functions are read at each use.
 *
 * @since 0.1.0
 * @category models
 */
export type RoutesOptions = Pick<Options, "role" | "transport" | "home">

/**
 * What the routes need from the rest of the content part.
 *
 * @since 0.1.0
 * @category models
 */
export interface RoutesPorts {
  /** A ready connection to `did` (`readyHandle`). */
  readonly handle: (did: string) => Effect.Effect<Handle | undefined>
  /** Records looked up in the DHT (`./ContentDirectory.ts`). */
  readonly findRecords: (key: Uint8Array, ty?: DhtRpc.RecordType) => Effect.Effect<ReadonlyArray<DhtRpc.SignedRecord>, unknown>
  /** The station of a provider that is a client, from its records (`./ContentDirectory.ts`). */
  readonly stationOf: (did: string) => string | undefined
}

/**
 * The outbound routes of a node's content part.
 *
 * @since 0.1.0
 * @category models
 */
export interface Routes {
  /** The subtree's transport port: a connection to a provider. */
  readonly connect: (provider: ContentSupervisor.ProviderRef) => Effect.Effect<Handle, unknown>
  /**
   * Where an offer to `to` goes: a connection to it (the home station, one already open, or a
   * station dialled at the addresses of its `station` record), or a station's connection with
   * `to` set. `visiting`: a client offering to a station other than its home one.
   * `dialledForPush` tells the connections dialled to push (`./ContentPush.ts`).
   */
  readonly routeTo: (to: string, dialledForPush: (connectionId: string) => boolean) => Effect.Effect<OfferRoute, ConnectionLost>
}

/**
 * Builds the outbound routes of a node's content part.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: RoutesOptions, ports: RoutesPorts): Routes => {
  const registryHandle = ports.handle

  const connect = (provider: ContentSupervisor.ProviderRef): Effect.Effect<Handle, unknown> =>
    Effect.gen(function*() {
      const home = options.home?.()
      if (home !== undefined && home.did === provider.did) return home.handle
      const existing = yield* registryHandle(provider.did)
      if (existing !== undefined) return existing
      const tree = options.transport()
      if (tree === undefined) return yield* Effect.fail(new ConnectionLost({ code: "transport_restarting", reason: "the transport is restarting" }))
      if (provider.address === undefined) {
        // A client behind a station: a session relayed by our home station or by its station (§12.3).
        const st = ports.stationOf(provider.did)
        const via = home?.handle ?? (st === undefined ? undefined : yield* registryHandle(st))
        if (via !== undefined) return ContentRelay.relayedHandle(via, provider.did)
        return yield* Effect.fail(new ConnectionLost({
          code: "unreachable",
          reason: `${provider.did} is a client behind a station this node has no connection to`,
          peer: provider.did
        }))
      }
      return yield* tree.dialer.dial(provider.address, { expectedDid: provider.did })
    })

  const routeTo = (to: string, dialledForPush: (connectionId: string) => boolean): Effect.Effect<OfferRoute, ConnectionLost> =>
    Effect.gen(function*() {
      const home = options.home?.()
      const client = options.role === "client"
      const viaHome = { relayed: false, visiting: false, dialled: false }
      if (home !== undefined && home.did === to) return { handle: home.handle, ...viaHome }
      const direct = yield* registryHandle(to)
      if (direct !== undefined) {
        return { handle: direct, relayed: false, visiting: client, dialled: dialledForPush(direct.connectionId) }
      }
      // A station listens: dial it (stations relay content sessions to clients only).
      const dialled = yield* dialStation(to)
      if (dialled !== undefined) return { handle: dialled, relayed: false, visiting: client, dialled: true }
      // A client: through the home station, which relays to the recipient's station (§12.3).
      const relayed = { relayed: true, visiting: false, dialled: false }
      if (home !== undefined) return { handle: ContentRelay.relayedHandle(home.handle, to), ...relayed }
      // A station: through a station the recipient's endpoint record names and we are linked to.
      const pk = Did.toPublicKey(to)
      const records = yield* Effect.orElseSucceed(ports.findRecords(ContentRelay.endpointKey(pk), "endpoint"), () => [])
      for (const st of ContentRelay.stationsOfRecords(records, to)) {
        const via = yield* registryHandle(st)
        if (via !== undefined) return { handle: ContentRelay.relayedHandle(via, to), ...relayed }
      }
      return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: `no route to ${to}: not connected, no station of it linked here`, peer: to }))
    })

  /**
   * A connection to `to` if it is a station: dialled at the addresses of its `station` record
   * (§10.3; each pinned with its DID), in order. `undefined` when it has no such record (a
   * client); fails when it has one but no address answers.
   */
  const dialStation = (to: string): Effect.Effect<Handle | undefined, ConnectionLost> =>
    Effect.gen(function*() {
      const pk = Did.toPublicKey(to)
      const records = yield* Effect.orElseSucceed(ports.findRecords(StationRecord.key(stationRecordConfig, pk), "station"), () => [])
      const addresses = StationRecord.stationAddresses(stationRecordConfig, records.map((r) => r.body), pk, Date.now())
      if (addresses.length === 0) return undefined
      const tree = options.transport()
      if (tree === undefined) return yield* Effect.fail(new ConnectionLost({ code: "transport_restarting", reason: "the transport is restarting", peer: to }))
      const failures: Array<string> = []
      for (const address of addresses) {
        const dialled = yield* Effect.result(tree.dialer.dial(address, { expectedDid: to }))
        if (dialled._tag === "Success") return dialled.success
        failures.push(`${address}: ${dialled.failure._tag}`)
      }
      return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: `station ${to} did not answer at ${failures.join(", ")}`, peer: to }))
    })

  return { connect, routeTo }
}

/**
 * Who takes the frames of content sessions (`inboundSink`).
 *
 * @since 0.1.0
 * @category models
 */
export interface InboundPorts {
  /** A ready connection to `did` (`readyHandle`): tells a client peer from a station. */
  readonly handle: (did: string) => Effect.Effect<Handle | undefined>
  /** Stations: the relay of content sessions, while the subtree runs. */
  readonly relay: () => ContentRelay.Running | undefined
  /** The handler of a session this node opened to offer content, by `connectionId/stream`. */
  readonly offered: (session: string) => ((frame: Frame) => void) | undefined
  /** Takes an offer to this node (`./ContentPush.ts`); `false`: not an offer. */
  readonly offerReceived: (inbound: ConnectionActor.Inbound) => Effect.Effect<boolean>
  /** The subtree's sink: fetches and serving. */
  readonly serve: Sink
}

/**
 * `sinks.content` for the transport: frames on sessions this node opened go to its offer or
 * to the relay (the way back), else to the subtree; frames on sessions a peer opened go to the
 * relay if they name a far end, else to an offer to this node, else to the subtree.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inboundSink = (ports: InboundPorts): Sink => (inbound) =>
  Effect.suspend(() => {
    if (inbound.opener === "local") {
      const offered = ports.offered(`${inbound.connectionId}/${inbound.stream}`)
      if (offered !== undefined) return Effect.sync(() => offered(inbound.frame))
      const down = ports.relay()
      if (down !== undefined) return Effect.flatMap(down.down(inbound), (taken) => (taken ? Effect.void : ports.serve(inbound)))
      return ports.serve(inbound)
    }
    const r = ports.relay()
    const f = inbound.frame
    const namesPeer = f.t === "content.have" || ((f.t === "content.want" || f.t === "content.manifest_req") && (f.to !== undefined || f.from !== undefined))
    // No offer among the rest (an offer is a `content.have`): the relay, else the subtree.
    if (!namesPeer) return r === undefined ? ports.serve(inbound) : Effect.flatMap(r.up(inbound), (taken) => (taken ? Effect.void : ports.serve(inbound)))
    const local = (i: ConnectionActor.Inbound) => Effect.flatMap(ports.offerReceived(i), (taken) => (taken ? Effect.void : ports.serve(i)))
    return Effect.gen(function*() {
      // `from` on an offer or a request is the home station's word (§12.6, §13.0): a client's
      // own `from` is replaced by its key, here and on every frame it sends through the relay.
      const peer = yield* ports.handle(inbound.peerDid)
      const upstream = { role: peer?.status().peerRole === "client" ? "client" as const : "station" as const, key: Did.toPublicKey(inbound.peerDid) }
      if (r !== undefined && (yield* r.up({ ...inbound, frame: Relay.stampRelayed(f, upstream) }))) return
      yield* local({ ...inbound, frame: Relay.confineFrom(f, upstream) })
    })
  })

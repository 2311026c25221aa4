/**
 * The transport of a node (PROTOCOL.md §3, §15.2): where it listens, how its QUIC socket is
 * made, the `hello` it announces, and the options of its transport subtree (connections,
 * dialer, bans, the inbound lanes of every other part, the notices turned into `NodeEvent`s).
 * `./MaculaNode.ts` builds the other parts first and hands their lanes in here; kept apart so
 * that the port a restarted transport binds again lives with the code that binds it.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as ConnectionActor from "../../actors/ConnectionActor.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type * as MembershipSupervisor from "../../supervisors/MembershipSupervisor.ts"
import type * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import type * as RoutingSupervisor from "../../supervisors/RoutingSupervisor.ts"
import type * as TransportSupervisor from "../../supervisors/TransportSupervisor.ts"
import type { Identity } from "../identity/Identity.ts"
import * as Realm from "../identity/Realm.ts"
import * as Address from "../platform/transport/Address.ts"
import * as Quic from "../platform/transport/Quic.ts"
import * as QuicConfig from "../platform/transport/QuicConfig.ts"
import * as BanFile from "./BanFile.ts"
import type { Resolved } from "./Config.ts"
import { ConnectionLost } from "./Errors.ts"
import type * as Content from "./Content.ts"
import type { NodeEvent } from "./MaculaNode.ts"

/**
 * Where a node listens: the configured host, else a wildcard of the first seed's family; and
 * whether that host is a wildcard (then it announces no address of its own).
 *
 * @since 0.1.0
 * @category constructors
 */
export const listenHost = (resolved: Resolved): { readonly host: string; readonly unspecified: boolean } => {
  const host = resolved.listen?.host ?? (resolved.seeds[0]?.address.host.includes(":") ? "::" : "0.0.0.0")
  return { host, unspecified: host === "0.0.0.0" || host === "::" }
}

/**
 * The addresses a node announces (its SWIM entry, its content-provider records): the listen
 * address of the live transport subtree, nothing for a wildcard host or while it restarts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const listenAddresses = (live: NodeSupervisor.Live, unspecified: boolean): Effect.Effect<ReadonlyArray<string>> =>
  Effect.suspend(() =>
    live.transportTree === undefined || unspecified
      ? Effect.succeed([])
      : Effect.map(live.transportTree.listenAddress, (a) => [a])
  )

/**
 * Dials through the live transport subtree; while it restarts, fails `transport_restarting`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialVia = (live: NodeSupervisor.Live) =>
(address: string, options?: TransportSupervisor.DialOptions): Effect.Effect<ConnectionActor.Handle, unknown> =>
  Effect.suspend((): Effect.Effect<ConnectionActor.Handle, unknown> =>
    live.transportTree === undefined
      ? Effect.fail(new ConnectionLost({ code: "transport_restarting", reason: "the transport is restarting" }))
      : live.transportTree.dialer.dial(address, options)
  )

/**
 * A peer offered in a station's `hello` (§3.4 `peers`): its public key and addresses.
 *
 * @since 0.1.0
 * @category models
 */
export interface OfferedPeer {
  readonly pk: Uint8Array
  readonly a: ReadonlyArray<string>
}

/**
 * What the transport is made from: the node's config and identity, its listen host, and the
 * other parts whose inbound lanes it feeds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly resolved: Resolved
  readonly identity: Identity
  /** The implementation string announced in `hello`. */
  readonly impl: string
  readonly host: string
  readonly unspecified: boolean
  /** The realms a station serves, as ids (`[]` = all). */
  readonly servedRealmIds: ReadonlyArray<Uint8Array>
  readonly emit: (event: NodeEvent) => void
  /** Stations: the peers offered in `hello`, read at each hello. */
  readonly offeredPeers: (() => ReadonlyArray<OfferedPeer>) | undefined
  /** Stations: SWIM membership. */
  readonly membership: MembershipSupervisor.Membership | undefined
  /** Stations: the DHT. */
  readonly dht: ReturnType<typeof DhtSupervisor.make> | undefined
  readonly routing: RoutingSupervisor.Routing
  readonly content: Content.Content
}

/**
 * The transport of a node: `transport` makes its QUIC socket (a station binds the same port
 * again after a restart), `transportOptions` the options of its subtree, as
 * `NodeSupervisor.start` takes them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (context: Context) => {
  const { resolved, identity, host, unspecified, servedRealmIds, emit, offeredPeers, membership, dht, routing, content } = context
  const knobs = resolved.knobs
  const role = resolved.role
  // Stations listen on the configured port; after the first bind a restarted transport binds
  // the same port again, so `address` never changes under the user.
  let port = resolved.listen?.port ?? 0
  const transport = () =>
    Effect.gen(function*() {
      const t = yield* Quic.make(QuicConfig.make(identity.exportSeed(), { host, port, handshakeTimeoutMs: knobs.handshakeTimeoutMs }))
      if (role === "station") port = Address.parse(t.localAddress)?.port ?? port
      return t
    })
  const helloOf = (t: ConnectionActor.TransportService["Service"]): ConnectionActor.Options["config"]["hello"] => {
    const hello = {
      feat: [],
      // Client: the realm it acts in; station: the realms it serves (`[]` = all, §3.4).
      realms: role === "client" ? (resolved.realm !== undefined ? [Realm.id(resolved.realm)] : []) : servedRealmIds,
      addrs: role === "station" && !unspecified ? [t.localAddress] : [],
      impl: context.impl
    }
    // Stations offer their alive SWIM peers for fail-over (§3.4 `peers`). A getter, read at each
    // hello, so every new connection gets the view of the moment (a spread would freeze it).
    if (role === "station" && offeredPeers !== undefined) {
      Object.defineProperty(hello, "peers", { get: offeredPeers, enumerable: true })
    }
    return hello
  }
  const transportOptions = (t: ConnectionActor.TransportService["Service"]): TransportSupervisor.Options => ({
    connection: ConnectionActor.config(role, {
      handshakeTimeoutMs: knobs.handshakeTimeoutMs,
      appPingIntervalMs: knobs.appPingIntervalMs,
      appPingTimeoutMs: knobs.appPingTimeoutMs,
      appPingMaxMisses: knobs.appPingMaxMisses,
      stationPowBits: knobs.stationPowBits,
      hello: helloOf(t)
    }),
    dialer: { reconnectMinMs: knobs.reconnectMinMs, reconnectMaxMs: knobs.reconnectMaxMs, dialTimeoutMs: knobs.handshakeTimeoutMs },
    // With a data directory, bans outlive restarts of the transport and of the process (§15.2).
    ...(resolved.dataDir === undefined
      ? {}
      : { bans: BanFile.store(resolved.dataDir, (message) => emit({ _tag: "Warning", message })) }),
    sinks: {
      ...(membership === undefined ? {} : { swim: membership.swimSink }),
      // Clients have no DHT: their `dht` lane carries the station proxy's replies (content).
      ...(dht === undefined ? { dht: content.dhtSink } : { dht: dht.dht.sink }),
      pubsub: routing.sinks.pubsub,
      rpc: routing.sinks.rpc,
      call: routing.sinks.call,
      control: routing.sinks.control,
      content: content.sink
    },
    intensity: knobs.transportIntensity,
    periodMs: knobs.transportPeriodMs,
    connectionShutdownMs: knobs.connectionShutdownMs,
    workerShutdownMs: knobs.workerShutdownMs,
    onNotice: (notice, status) => {
      if (notice._tag === "Ready") {
        if (dht !== undefined && notice.peerRole === "station") Effect.runFork(dht.dht.addPeer(status))
        emit({ _tag: "Connection", change: "ready", did: status.peerDid, role: notice.peerRole, direction: status.direction, remoteAddress: status.remoteAddress })
      } else if (notice._tag === "Closed") {
        emit({
          _tag: "Connection",
          change: "closed",
          did: status.peerDid,
          role: status.peerRole,
          direction: status.direction,
          remoteAddress: status.remoteAddress,
          code: notice.code
        })
      }
    },
    onRefused: (c, code, reason) =>
      emit({ _tag: "Refused", did: c.peerDid, remoteAddress: c.remoteAddress, code, reason })
  })
  return { transport, transportOptions }
}

/**
 * Finds the transport's start failure inside a root start failure, if that is what it was.
 *
 * @since 0.1.0
 * @category utils
 */
export const transportStartMessage = (error: unknown): string | undefined => {
  const seen = new Set<unknown>()
  const walk = (value: unknown): string | undefined => {
    if (value === null || typeof value !== "object" || seen.has(value)) return undefined
    seen.add(value)
    const tagged = value as { _tag?: unknown; message?: unknown; reason?: unknown; cause?: unknown }
    if (tagged._tag === "TransportStartFailed" && typeof tagged.message === "string") return tagged.message
    if (Cause.isCause(value)) {
      for (const reason of value.reasons) {
        const found = walk(Cause.isFailReason(reason) ? reason.error : Cause.isDieReason(reason) ? reason.defect : undefined)
        if (found !== undefined) return found
      }
      return undefined
    }
    return walk(tagged.reason) ?? walk(tagged.cause)
  }
  return walk(error)
}

/**
 * `MaculaNode`: a station or a client, assembled from the supervision tree of PROTOCOL.md §15
 * (API.md "The node"). Three ways in, one implementation:
 *
 * - `MaculaNode.start(config)`: the Promise facade; `node.stop()` shuts the tree down in order.
 * - `MaculaNode.layer(config)`: a `Layer` providing the `Mesh` service; the node lives as long as
 *   the layer.
 * - `MaculaNode.make(config)`: the scoped `Effect` both are built on.
 *
 * What starting does, in order: check the config (`ConfigError` lists every problem); load the
 * key from `dataDir` or create it there (atomic, mode 0600), else use `identity` or a fresh
 * in-memory key (stations get one with `stationPowBits` of proof of work); start the root
 * `NodeSupervisor`, which binds the QUIC socket and starts the transport subtree (stations
 * listen); clients then wait until their station link is up on one of the seeds
 * (`ConnectionLost` after `connectTimeoutMs` if none answers). Each node has its own process
 * registry, so several nodes can share one JavaScript process.
 *
 * What is wired: identity, transport (listener, registry, connections, dialer), SWIM membership
 * and the DHT (stations, each publishing its own `station` record), routing (stations: the
 * pub/sub router and the RPC dispatcher, with provider records in the DHT and the realm
 * authorisation of `Authorisation`; clients: the station link with fail-over, the pub/sub
 * session and the RPC endpoint, which replay subscriptions and advertisements on every new link,
 * and resolve `direct: true` calls through the DHT: `./DirectCall.ts`), and the application
 * supervisor for user actors, and content transfer (`./Content.ts`: the ContentSupervisor, content-provider records
 * in the DHT, uploads from clients to their station).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as ConnectionActor from "../../actors/ConnectionActor.ts"
import * as SwimProberActor from "../../actors/SwimProberActor.ts"
import * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import * as MembershipSupervisor from "../../supervisors/MembershipSupervisor.ts"
import * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import * as RoutingSupervisor from "../../supervisors/RoutingSupervisor.ts"
import * as SubscriptionCursors from "./SubscriptionCursors.ts"
import type * as TransportSupervisor from "../../supervisors/TransportSupervisor.ts"
import * as Did from "../identity/Did.ts"
import { Identity } from "../identity/Identity.ts"
import * as NodeId from "../identity/NodeId.ts"
import * as Realm from "../identity/Realm.ts"
import * as Address from "../platform/transport/Address.ts"
import * as Quic from "../platform/transport/Quic.ts"
import * as QuicConfig from "../platform/transport/QuicConfig.ts"
import type * as Actor from "../runtime/Actor.ts"
import type { ChildSpec } from "../runtime/ChildSpec.ts"
import * as ExitReason from "../runtime/ExitReason.ts"
import * as Lifecycle from "../runtime/Lifecycle.ts"
import type { LifecycleEvent } from "../runtime/Lifecycle.ts"
import type { Process } from "../runtime/Process.ts"
import * as Registry from "../runtime/Registry.ts"
import * as Supervisor from "../runtime/Supervisor.ts"
import * as Ucan from "../identity/ucan/index.ts"
import * as Authorisation from "./Authorisation.ts"
import * as ClientCapabilities from "./ClientCapabilities.ts"
import * as Config from "./Config.ts"
import type { NodeConfig, Resolved } from "./Config.ts"
import { ConfigError, ConnectionLost, NodeStopped } from "./Errors.ts"
import * as IdentityConfig from "./IdentityConfig.ts"
import * as KeyFile from "./KeyFile.ts"
import { Mesh } from "./Mesh.ts"
import type {
  Advertisement,
  AdvertiseOptions,
  CallOptions,
  DhtSummary,
  Handler,
  HomeStation,
  MembershipView,
  MeshApi,
  PeerConnection,
  SpawnError,
  SpawnOptions,
  SubscribeOptions,
  SubscriptionEvent
} from "./Mesh.ts"
import type { Mcid } from "../content/Mcid.ts"
import * as Content from "./Content.ts"
import * as ContentAuthority from "./ContentAuthority.ts"
import * as BanFile from "./BanFile.ts"
import * as DhtFile from "./DhtFile.ts"
import * as DirectCall from "./DirectCall.ts"
import * as ProviderInvocation from "./ProviderInvocation.ts"
import * as NonceLog from "./NonceLog.ts"
import * as SeenNonces from "./SeenNonces.ts"
import * as SignedRecord from "./SignedRecord.ts"
import type { GetContentOptions, PushContentOptions } from "./Content.ts"
import * as Messaging from "./Messaging.ts"
import type { StreamCall, StreamCallOptions, StreamHandler, StreamMode } from "./RpcStream.ts"
import * as StationLink from "./StationLink.ts"
import * as Supervision from "./Supervision.ts"
import type { SupervisionTree } from "./Supervision.ts"

/**
 * The implementation string a node announces in its `hello`.
 *
 * @since 0.1.0
 * @category constants
 */
export const impl = "macula-node/0.1.0"

/**
 * What a node reports while it runs (logs, tests): supervision lifecycle events, the client's
 * station link, refused inbound connections, and connections that became ready or closed.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeEvent =
  | { readonly _tag: "Lifecycle"; readonly event: LifecycleEvent; readonly line: string }
  | { readonly _tag: "Link"; readonly event: StationLink.LinkEvent }
  | {
    readonly _tag: "Dht"
    /** A station entered or left this node's routing table. */
    readonly change: "added" | "removed"
    /** Its DID (the hex node id when a removed contact was never seen added). */
    readonly peer: string
    /** Why it left: `dead` (a SWIM verdict), `unresponsive`, `stale`. */
    readonly reason?: string
  }
  | {
    readonly _tag: "Membership"
    readonly change: "alive" | "suspect" | "dead" | "left"
    readonly did: string
    readonly incarnation: number
  }
  | { readonly _tag: "Refused"; readonly did: string; readonly remoteAddress: string; readonly code: string; readonly reason: string }
  /** Something the operator should know that did not stop the node (e.g. a damaged ban file). */
  | { readonly _tag: "Warning"; readonly message: string }
  | {
    /** Content arrived by push (§12.6, admitted by `acceptPushFrom`): whole in the store, pinned. */
    readonly _tag: "ContentPushed"
    readonly mcid: string
    /** The sender's DID. */
    readonly from: string
    /** Its size as offered, in bytes. */
    readonly size: number | undefined
  }
  | {
    readonly _tag: "Connection"
    readonly change: "ready" | "closed"
    readonly did: string
    readonly role: string | undefined
    readonly direction: "inbound" | "outbound"
    readonly remoteAddress: string
    readonly code?: string
  }

/**
 * Options of `start`, `make` and `layer` beyond the config.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hooks {
  /** Called for every `NodeEvent`; must not throw or block. */
  readonly onEvent?: (event: NodeEvent) => void
  /**
   * Called once with the node's root supervisor after it started: a handle for fault-injection
   * tests (`testkit/Chaos`) that must reach the live processes, which snapshots only name.
   */
  readonly onRoot?: (root: Supervisor.SupervisorRef) => void
  /**
   * Overrides of the content part (tests and tools): its store (a layer), subtree and core knobs,
   * `uploadToStation`, and a view of the frames it serves.
   */
  readonly content?: Content.Overrides
  /** Stations: called once with the node's DHT handle (tests and tools: look records up). */
  readonly onDht?: (dht: DhtSupervisor.Dht) => void
  /**
   * Called once with the node's record lookup and store: a value lookup (a store) on a station,
   * `dht.get` (`dht.put`) through the home station's proxy on a client (§10.5). Tools look records
   * up with it (`macula status`) and store them (`macula realm revoke`).
   */
  readonly onRecords?: (find: Content.Content["findRecords"], put: Content.Content["putRecord"]) => void
}

const describeCause = (cause: Cause.Cause<unknown>): string => ExitReason.describe(ExitReason.ExitReason.Failure({ cause }))

/** Finds the transport's start failure inside a root start failure, if that is what it was. */
const transportStartMessage = (error: unknown): string | undefined => {
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

/** The routing dependency of a client's capabilities, when it holds a chain to present. */
const withCapabilities = (
  capabilities: ((station: string) => ClientCapabilities.Presenter) | undefined
): { readonly capabilities?: (station: string) => ClientCapabilities.Presenter } =>
  capabilities === undefined ? {} : { capabilities }

/** The identity a node runs with: given, loaded from / created in dataDir, or fresh. */
const loadIdentity = (config: Resolved): { readonly identity: Identity; readonly keyPath: string | undefined } | ConfigError => {
  const generate = () =>
    config.role === "station" ? Identity.generateStation(config.knobs.stationPowBits) : Identity.generate()
  if (config.identity !== undefined) return { identity: config.identity, keyPath: undefined }
  if (config.dataDir === undefined) return { identity: generate(), keyPath: undefined }
  try {
    const loaded = KeyFile.loadOrCreate(config.dataDir, generate)
    return { identity: loaded.identity, keyPath: loaded.path }
  } catch (error) {
    return new ConfigError({ problems: [`dataDir: ${error instanceof Error ? error.message : String(error)}`] })
  }
}

const homeOf = (home: StationLink.Home | undefined, failovers: number): HomeStation | undefined => {
  if (home === undefined) return undefined
  const status = home.handle.status()
  const hello = status.peerHello
  return {
    seed: home.seed,
    did: home.did,
    remoteAddress: status.remoteAddress,
    since: home.since,
    rttMs: status.rttMs,
    skewMs: status.skewMs,
    addresses: hello?.addrs ?? [],
    realms: (hello?.realms ?? []).map((r) => Realm.toHex(r)),
    offeredPeers: hello?.peers?.length ?? 0,
    peers: (hello?.peers ?? []).map((p) => ({ did: Did.fromPublicKeyUnsafe(p.pk), addresses: p.a })),
    impl: hello?.impl,
    failovers
  }
}

const peerOf = (handle: ConnectionActor.Handle): PeerConnection => {
  const s = handle.status()
  return {
    did: s.peerDid,
    role: s.peerRole,
    direction: s.direction,
    remoteAddress: s.remoteAddress,
    phase: s.phase,
    rttMs: s.rttMs,
    score: s.score
  }
}

/**
 * Starts a node in the current scope and returns its operations; closing the scope stops it
 * (children in reverse start order). Fails with `ConfigError` for a configuration it cannot run
 * (including a listen address that cannot be bound), or `ConnectionLost` when a client reaches
 * none of its seeds within `connectTimeoutMs`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: NodeConfig,
  hooks: Hooks = {}
): Effect.Effect<MeshApi & { readonly snapshot: () => SupervisionTree; readonly homeNow: () => HomeStation | undefined }, ConfigError | ConnectionLost, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = Config.resolve(config)
    if (resolved instanceof ConfigError) return yield* Effect.fail(resolved)
    const loaded = loadIdentity(resolved)
    if (loaded instanceof ConfigError) return yield* Effect.fail(loaded)
    const { identity, keyPath } = loaded
    const knobs = resolved.knobs
    const role = resolved.role
    const emit = (event: NodeEvent) => {
      try {
        hooks.onEvent?.(event)
      } catch {
        // a logging hook must not break the node
      }
    }

    let stopped = false
    const live: NodeSupervisor.Live = { transport: undefined, transportTree: undefined, application: undefined }
    const view: StationLink.LinkView = { home: undefined, failovers: 0 }

    // The root's latest snapshot, refreshed after every lifecycle event (for the synchronous
    // `supervision()` of the facade); `supervision` (the Effect) always asks the live tree.
    let root: Supervisor.SupervisorRef | undefined
    let snapshot: SupervisionTree = { id: "node", strategy: "rest_for_one", takenAt: 0, children: [] }
    let refreshing = false
    let again = false
    const takeSnapshot: Effect.Effect<SupervisionTree, NodeStopped> = Effect.gen(function*() {
      if (root === undefined || stopped) return yield* Effect.fail(new NodeStopped({ operation: "supervision" }))
      const children = yield* Effect.mapError(root.whichChildren, () => new NodeStopped({ operation: "supervision" }))
      const tree: SupervisionTree = {
        id: "node",
        strategy: "rest_for_one",
        takenAt: yield* Clock.currentTimeMillis,
        children: Supervision.fromChildren(children)
      }
      snapshot = tree
      return tree
    })
    const refresh = (): void => {
      if (refreshing) return void (again = true)
      refreshing = true
      Effect.runFork(Effect.ensuring(
        Effect.ignore(Effect.repeat(Effect.suspend(() => (again = false, takeSnapshot)), { while: () => again })),
        Effect.sync(() => void (refreshing = false))
      ))
    }
    const sink: Lifecycle.LifecycleSink = {
      publish: (event) => {
        emit({ _tag: "Lifecycle", event, line: Lifecycle.format(event, ExitReason.describe) })
        if (root !== undefined && !stopped) refresh()
      }
    }

    // Stations listen on the configured port; after the first bind a restarted transport binds
    // the same port again, so `address` never changes under the user.
    let port = resolved.listen?.port ?? 0
    const host = resolved.listen?.host ?? (resolved.seeds[0]?.address.host.includes(":") ? "::" : "0.0.0.0")
    const transport = () =>
      Effect.gen(function*() {
        const t = yield* Quic.make(QuicConfig.make(identity.exportSeed(), { host, port, handshakeTimeoutMs: knobs.handshakeTimeoutMs }))
        if (role === "station") port = Address.parse(t.localAddress)?.port ?? port
        return t
      })
    const unspecified = host === "0.0.0.0" || host === "::"
    const servedRealmIds = resolved.servedRealms.map((h) => Realm.fromHex(h)!)
    const helloOf = (t: ConnectionActor.TransportService["Service"]): ConnectionActor.Options["config"]["hello"] => {
      const hello = {
        feat: [],
        // Client: the realm it acts in; station: the realms it serves (`[]` = all, §3.4).
        realms: role === "client" ? (resolved.realm !== undefined ? [Realm.id(resolved.realm)] : []) : servedRealmIds,
        addrs: role === "station" && !unspecified ? [t.localAddress] : [],
        impl
      }
      // Stations offer their alive SWIM peers for fail-over (§3.4 `peers`). A getter, read at each
      // hello, so every new connection gets the view of the moment (a spread would freeze it).
      if (role === "station") Object.defineProperty(hello, "peers", { get: offeredPeers, enumerable: true })
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

    // Stations: alive SWIM members with addresses, newest last, offered to clients in `hello`
    // (at most helloPeersMax = 8; suspect, dead and departed members leave at once).
    const alivePeers = new Map<string, { readonly pk: Uint8Array; readonly a: ReadonlyArray<string> }>()
    const offeredPeers = () => Array.from(alivePeers.values()).slice(-8)

    // Stations: the Kademlia DHT (PROTOCOL.md §10). Contacts come from ready station connections;
    // a SWIM death removes one at once (§11.6).
    const contactDids = new Map<string, string>()
    const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
    const dht = role === "station"
      ? DhtSupervisor.make({
        publicKey: identity.publicKey,
        sign: (message) => identity.sign(message),
        transport: {
          lookup: (did) => Effect.suspend(() => live.transportTree?.registry.lookup(did) ?? Effect.succeed(undefined)),
          dial: (address, options) =>
            Effect.suspend((): Effect.Effect<ConnectionActor.Handle, unknown> =>
              live.transportTree === undefined
                ? Effect.fail(new ConnectionLost({ code: "transport_restarting", reason: "the transport is restarting" }))
                : live.transportTree.dialer.dial(address, options)
            )
        },
        workerShutdownMs: knobs.workerShutdownMs,
        // With a data directory the records held and the routing contacts survive a restart (§15.2).
        ...(resolved.dataDir === undefined
          ? {}
          : { persistence: DhtFile.store(resolved.dataDir, (message) => emit({ _tag: "Warning", message })) }),
        // Our own `station` record (§10.3): where we listen (nothing for a wildcard host), the
        // realms served (empty = all).
        station: {
          content: Effect.suspend(() =>
            live.transportTree === undefined || unspecified
              ? Effect.succeed({ a: [], realms: servedRealmIds, feat: [] })
              : Effect.map(live.transportTree.listenAddress, (a) => ({ a: [a], realms: servedRealmIds, feat: [] }))
          ),
          sign: SignedRecord.signer((message) => identity.sign(message))
        },
        // acceptPrivateAddrs `auto` (§3.2): private peers count as diverse only when we are private too.
        config: {
          stationPowBits: knobs.stationPowBits,
          acceptPrivateAddrs: Config.isPrivateHost(host),
          maxRevocationTtlMs: knobs.maxRevocationTtlMs
        },
        onEvent: (event) => {
          if (event._tag === "ContactAdded") {
            const did = Did.fromPublicKeyUnsafe(event.contact.pk)
            contactDids.set(hexOf(event.contact.id), did)
            emit({ _tag: "Dht", change: "added", peer: did })
          } else if (event._tag === "ContactEvicted") {
            const key = hexOf(event.id)
            emit({ _tag: "Dht", change: "removed", peer: contactDids.get(key) ?? key, reason: event.reason })
            contactDids.delete(key)
          }
        }
      })
      : undefined
    if (dht !== undefined) hooks.onDht?.(dht.dht)

    // Stations: SWIM membership and the links between stations (PROTOCOL.md §11).
    const membership = role === "station"
      ? MembershipSupervisor.make({
        identity,
        transport: () => live.transportTree,
        store: resolved.dataDir === undefined ? SwimProberActor.memoryStore() : SwimProberActor.fileStore(resolved.dataDir),
        addresses: Effect.suspend(() =>
          live.transportTree === undefined || unspecified
            ? Effect.succeed([])
            : Effect.map(live.transportTree.listenAddress, (a) => [a])
        ),
        ...(dht === undefined ? {} : {
          onVerdict: (verdict: SwimProberActor.MemberChange) =>
            Effect.suspend(() => {
              const key = Did.parsePublicKey(verdict.did)
              return key instanceof Uint8Array ? dht.dht.removeContact(NodeId.ofPublicKey(key)) : Effect.void
            })
        }),
        config: {
          seeds: resolved.seeds.map((s) => s.url),
          stationPowBits: knobs.stationPowBits,
          stationDialBackoffMinMs: knobs.stationDialBackoffMinMs,
          stationDialBackoffMaxMs: knobs.stationDialBackoffMaxMs,
          workerShutdownMs: knobs.workerShutdownMs,
          swim: {
            ...SwimProberActor.Swim.lan,
            probeIntervalMs: knobs.probeIntervalMs,
            probeTimeoutMs: knobs.probeTimeoutMs,
            indirectProbes: knobs.indirectProbes,
            suspicionMult: knobs.suspicionMult,
            suspicionMaxTimeoutMult: knobs.suspicionMaxTimeoutMult,
            pushPullIntervalMs: knobs.pushPullIntervalMs,
            deadRetentionMs: knobs.deadRetentionMs
          }
        }
      })
      : undefined
    if (membership !== undefined) {
      const unsubscribe = membership.subscribe((change) => {
        const key = change._tag === "MemberAlive" ? Did.parsePublicKey(change.did) : undefined
        if (change._tag === "MemberAlive" && key instanceof Uint8Array && change.addrs.length > 0) {
          alivePeers.set(change.did, { pk: key, a: change.addrs.slice(0, 8) })
        } else alivePeers.delete(change.did)
        emit({
          _tag: "Membership",
          change: change._tag === "MemberAlive"
            ? "alive"
            : change._tag === "MemberSuspect"
            ? "suspect"
            : change._tag === "MemberDead"
            ? "dead"
            : "left",
          did: change.did,
          incarnation: change.incarnation
        })
      })
      yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))
    }

    // Routing (PROTOCOL.md §8, §9). Stations: the pub/sub router and the RPC dispatcher over
    // every connection, provider records in the DHT, grants from the pinned realm authorities.
    // Clients: the session and the endpoint over the station link's current connection; they
    // notice a new link within `linkCheckMs` and replay subscriptions and advertisements on it.
    // Stations: the authorisation port; revocations (§13.6) come from DHT `revocation` records,
    // looked up while granting and after the realms' `revoked_v1` facts the router watches.
    // One seen-nonce memory for every invocation checker (§13.4), the room of their three
    // former ones; with a data directory it survives a restart (`DIR/nonces.log`).
    const seenNonceOptions = { leewaySec: 60, cap: 300_000 }
    const seenNonces = resolved.dataDir === undefined
      ? SeenNonces.make(seenNonceOptions)
      : NonceLog.open({
        ...seenNonceOptions,
        dataDir: resolved.dataDir,
        now: () => Date.now(),
        warn: (message) => emit({ _tag: "Warning", message })
      })
    const authorisation = role === "station"
      ? Authorisation.port({
        authorities: resolved.realmAuthorities,
        station: identity.did,
        now: () => Date.now(),
        seenNonces,
        revocationCacheMs: knobs.revocationCacheMs,
        maxRevocationTtlMs: knobs.maxRevocationTtlMs,
        ...(dht === undefined ? {} : {
          findRevocations: (cid: string) => {
            const key = Ucan.Revocation.recordKey(cid)
            if (key === undefined) return Effect.succeed([])
            return Effect.map(dht.dht.findValue(key, "revocation"), (found) =>
              found.records.flatMap((r) => (r.body.ty === "revocation" ? [r.body.d] : [])))
          }
        })
      })
      : undefined
    // Held grants are re-checked against the DHT as their negative answers run out (§13.6): a
    // revocation whose fact this station missed still ends what it admitted.
    if (authorisation !== undefined && dht !== undefined) yield* Effect.forkScoped(authorisation.run)
    const routing = RoutingSupervisor.make({
      role,
      identity,
      ...(role === "station" && authorisation !== undefined
        ? {
          transport: () => live.transportTree,
          ...(dht === undefined ? {} : { directory: Messaging.directory(dht.dht) }),
          authorise: authorisation.authorise,
          revocations: {
            subscribe: authorisation.subscribe,
            granted: authorisation.granted,
            observed: (envelope) => {
              const cid = Authorisation.factCid(envelope.p)
              if (cid !== undefined) Effect.runFork(authorisation.onFact(cid))
            }
          }
        }
        : {
          station: () => Effect.sync(() => view.home?.handle),
          // Direct-mode calls (§9.2) go to the serving station on a connection of their own.
          dial: (address: string) =>
            Effect.suspend((): Effect.Effect<ConnectionActor.Handle, unknown> =>
              live.transportTree === undefined
                ? Effect.fail(new ConnectionLost({ code: "transport_restarting", reason: "the transport is restarting" }))
                : live.transportTree.dialer.dial(address)
            ),
          // Delegations held: presented to each station connection with the gated frames (§13.4).
          ...withCapabilities(ClientCapabilities.make({ identity, delegations: resolved.capabilities })),
          // Calls for our `requireInvocation` advertisements carry an invocation for us (§13.4).
          checkInvocation: ProviderInvocation.verifier({ identity, delegations: resolved.capabilities, seenNonces }),
          // With a data directory, at-least-once subscriptions outlive the process (§8.5).
          ...(resolved.dataDir === undefined ? {} : { cursors: SubscriptionCursors.load(resolved.dataDir) })
        }),
      config: {
        workerShutdownMs: knobs.workerShutdownMs,
        // Stations refuse clients of realms they do not serve (`realm_refused`, both families).
        ...(resolved.servedRealms.length === 0
          ? {}
          : { pubsub: { servedRealms: resolved.servedRealms }, rpc: { servedRealms: resolved.servedRealms } })
      }
    })
    const routingSlot: NodeSupervisor.Slot = role === "station"
      ? { start: () => routing.child.start }
      : {
        // The station link and the routing subtree side by side, one-for-one: a crashed link
        // restarts alone (the session and the endpoint replay onto its next connection), a
        // crashed routing subtree finds the link where it was.
        start: (current) =>
          Supervisor.start({
            label: "routing",
            strategy: "one_for_one",
            intensity: 5,
            periodMs: 10_000,
            children: [
              Supervisor.worker(
                "station-link",
                StationLink.behavior({
                  seeds: resolved.seeds,
                  dialer: () => current.transportTree?.dialer,
                  reconnectMinMs: knobs.reconnectMinMs,
                  reconnectMaxMs: knobs.reconnectMaxMs,
                  failoverAfterMs: knobs.failoverAfterMs,
                  dialTimeoutMs: knobs.handshakeTimeoutMs,
                  view,
                  // Stations that do not serve the client's realm are passed over (servedRealms).
                  ...(resolved.realm === undefined ? {} : { realm: resolved.realm }),
                  onEvent: (event) => emit({ _tag: "Link", event })
                }),
                { shutdown: knobs.workerShutdownMs }
              ),
              { ...routing.child, id: "sessions" }
            ]
          })
      }

    // Content (PROTOCOL.md §12): the ContentSupervisor with its DHT and transport ports (./Content.ts).
    const content = Content.make({
      role,
      identity,
      ...(role === "station" ? { quotaBytes: knobs.stationContentMaxBytes } : {}),
      transport: () => live.transportTree,
      ...(dht === undefined ? {} : { dht: dht.dht }),
      home: () => (view.home === undefined ? undefined : { did: view.home.did, handle: view.home.handle }),
      addresses: () =>
        Effect.suspend(() =>
          live.transportTree === undefined || unspecified
            ? Effect.succeed([])
            : Effect.map(live.transportTree.listenAddress, (a) => [a])
        ),
      ...(resolved.dataDir === undefined ? {} : { dataDir: resolved.dataDir }),
      acceptPushFrom: resolved.acceptPushFrom,
      // UCAN authority on content (§13.3 `/content/get`, `/content/put`): members-only serving,
      // a station's check of uploads in pinned realms, and what this node presents for both.
      authority: ContentAuthority.forNode({
        role,
        identity,
        delegations: resolved.capabilities,
        servePolicy: resolved.contentServePolicy,
        realmAuthorities: resolved.realmAuthorities,
        servedRealms: resolved.servedRealms,
        ...(authorisation === undefined ? {} : { isRevoked: authorisation.isRevoked }),
        seenNonces
      }),
      pushTimeoutMs: knobs.pushTimeoutMs,
      onPushed: (pushed) => emit({ _tag: "ContentPushed", ...pushed }),
      ...hooks.content,
      config: {
        workerShutdownMs: knobs.workerShutdownMs,
        ...(role === "station" ? { fetchedPinMs: knobs.stationUploadPinMs } : {}),
        ...hooks.content?.config
      }
    })
    hooks.onRecords?.(content.findRecords, content.putRecord)

    const registry = Registry.make()
    const inNode = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      effect.pipe(
        Effect.provideService(Registry.CurrentRegistry, registry),
        Effect.provideService(Lifecycle.CurrentLifecycle, sink)
      )

    const started = yield* Effect.result(inNode(NodeSupervisor.start({
      identity: Supervisor.worker("identity", IdentityConfig.behavior(resolved, identity, keyPath), {
        shutdown: knobs.workerShutdownMs
      }),
      transport,
      transportOptions,
      ...(membership === undefined ? {} : { membership: { start: () => membership.child.start } }),
      ...(dht === undefined ? {} : { dht: { start: () => dht.spec.start } }),
      routing: routingSlot,
      content: content.slot,
      intensity: knobs.rootIntensity,
      periodMs: knobs.rootPeriodMs,
      appIntensity: knobs.appIntensity,
      appPeriodMs: knobs.appPeriodMs
    }, live)))
    if (started._tag === "Failure") {
      const bind = transportStartMessage(started.failure)
      if (bind !== undefined) return yield* Effect.fail(new ConfigError({ problems: [`listen: ${bind}`] }))
      return yield* Effect.die(started.failure)
    }
    root = started.success
    hooks.onRoot?.(root)
    // Finalizers run last-added first: operations refuse before the tree begins to stop.
    yield* Effect.addFinalizer(() => Effect.sync(() => void (stopped = true)))

    let address: string | undefined
    if (role === "station") {
      const tree = live.transportTree
      if (tree === undefined) return yield* Effect.die(new Error("the transport subtree did not start"))
      address = yield* Effect.timeoutOrElse(tree.listenAddress, {
        duration: 10_000,
        orElse: () => Effect.die(new Error("the listener did not start within 10 s"))
      })
    } else {
      const up = yield* Effect.timeoutOption(
        Effect.gen(function*() {
          while (view.home === undefined) yield* Effect.sleep(10)
        }),
        knobs.connectTimeoutMs
      )
      if (Option.isNone(up)) {
        return yield* Effect.fail(
          new ConnectionLost({
            code: "unreachable",
            reason: `none of the seeds answered within ${knobs.connectTimeoutMs} ms (${resolved.seeds.map((s) => s.url).join(", ")})`
          })
        )
      }
    }
    yield* Effect.ignore(takeSnapshot)

    const application = (operation: string): Effect.Effect<Supervisor.SupervisorRef, NodeStopped> =>
      Effect.suspend(() =>
        stopped || live.application === undefined ? Effect.fail(new NodeStopped({ operation })) : Effect.succeed(live.application)
      )
    const startChild = (spec: ChildSpec<never>): Effect.Effect<Process, SpawnError> =>
      Effect.flatMap(application("startChild"), (app) =>
        Effect.catchTag(inNode(app.startChild(spec)), "SupervisorStopped", () => Effect.fail(new NodeStopped({ operation: "startChild" }))))
    const operations = Messaging.operations(routing, role, () => stopped)
    // Clients: `direct: true` finds the serving station through the DHT, via the home station.
    const messaging = role === "client"
      ? {
        ...operations,
        ...DirectCall.wrap(
          DirectCall.make({
            findRecords: content.findRecords,
            home: () => (view.home === undefined ? undefined : { did: view.home.did, rttMs: view.home.handle.status().rttMs })
          }),
          operations,
          undefined,
          // A `req: true` provider gets an invocation signed for it (§9.2, §13.4), in every mode.
          (() => {
            const invoke = ProviderInvocation.invoker({ identity, delegations: resolved.capabilities })
            return (provider: string, realm: string, procedure: string) => invoke(provider, realm, procedure, Date.now())
          })()
        )
      }
      : operations
    const live$ = <A>(operation: string, effect: Effect.Effect<A, never>): Effect.Effect<A, NodeStopped> =>
      Effect.suspend(() => (stopped ? Effect.fail(new NodeStopped({ operation })) : effect))

    return {
      role,
      did: identity.did,
      address,
      realm: resolved.realm,
      supervision: takeSnapshot,
      home: Effect.sync(() => homeOf(view.home, view.failovers)),
      connections: Effect.suspend(() =>
        live.transportTree === undefined ? Effect.succeed([]) : Effect.map(live.transportTree.connections, (list) => list.map(peerOf))
      ),
      dht: dht === undefined
        ? Effect.succeed(undefined)
        : Effect.map(dht.dht.stats, (st): DhtSummary => ({
          contacts: st.contacts,
          buckets: st.buckets,
          cached: st.cached,
          records: st.records,
          lookups: st.lookups
        })),
      membership: membership === undefined
        ? Effect.succeed(undefined)
        : Effect.map(membership.view, (v): MembershipView | undefined =>
          v === undefined ? undefined : {
            self: { did: v.self.did, incarnation: v.self.incarnation },
            members: v.members.map((m) => ({ did: m.did, status: m.status, incarnation: m.incarnation, addrs: m.addrs }))
          }),
      spawn: <Msg, S, E>(id: string, behavior: Actor.Behavior<Msg, S, E, never>, options?: SpawnOptions) =>
        Effect.map(
          startChild(Supervisor.worker(id, behavior, options) as ChildSpec<never>),
          (process) => process as Actor.ActorRef<Msg>
        ),
      startChild,
      terminateChild: (id: string) =>
        Effect.flatMap(application("terminateChild"), (app) =>
          Effect.catchTag(app.terminateChild(id), "SupervisorStopped", () => Effect.fail(new NodeStopped({ operation: "terminateChild" })))),
      ...messaging,
      putContent: (input) => Effect.andThen(live$("putContent", Effect.void), content.put(input)),
      getContent: (mcid, options) => Effect.andThen(live$("getContent", Effect.void), content.get(mcid, options)),
      getContentToFile: (mcid, path, options) =>
        Effect.andThen(live$("getContentToFile", Effect.void), content.getToFile(mcid, path, options)),
      pushContent: (mcid, options) => Effect.andThen(live$("pushContent", Effect.void), content.push(mcid, options)),
      snapshot: () => snapshot,
      homeNow: () => homeOf(view.home, view.failovers)
    }
  })

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    const error = Cause.findErrorOption(exit.cause)
    if (Option.isSome(error)) throw error.value
    throw new Error(describeCause(exit.cause))
  })

/**
 * A running node (the Promise facade). Create one with `MaculaNode.start(config)`.
 *
 * @since 0.1.0
 * @category models
 */
export class MaculaNode {
  /**
   * Starts a node: a station (`listen`) or a client (`seeds`). Rejects with `ConfigError` for
   * a configuration it cannot run, or `ConnectionLost` when a client reaches none of its seeds.
   */
  static async start(config: NodeConfig, hooks: Hooks = {}): Promise<MaculaNode> {
    const scope = Scope.makeUnsafe("sequential")
    try {
      const api = await run(Scope.provide(make(config, hooks), scope))
      return new MaculaNode(api, scope)
    } catch (error) {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      throw error
    }
  }

  /**
   * The node as a `Layer` providing `Mesh`; it stops when the layer's scope closes.
   */
  static layer(config: NodeConfig, hooks: Hooks = {}): Layer.Layer<Mesh, ConfigError | ConnectionLost> {
    return Layer.effect(Mesh, make(config, hooks))
  }

  /** The scoped `Effect` behind `start` and `layer`. */
  static make = make

  #stopping: Promise<void> | undefined

  private constructor(
    private readonly api: MeshApi & { readonly snapshot: () => SupervisionTree; readonly homeNow: () => HomeStation | undefined },
    private readonly scope: Scope.Closeable
  ) {}

  /** `station` or `client`. */
  get role(): "station" | "client" {
    return this.api.role
  }

  /** This node's DID (`did:key:z6Mk…`). */
  get did(): string {
    return this.api.did
  }

  /** Stations: `quic://host:port` with the real bound port; clients: `undefined`. */
  get address(): string | undefined {
    return this.api.address
  }

  /** Clients: the realm they act in. */
  get realm(): string | undefined {
    return this.api.realm
  }

  /** Whether `stop` was called. */
  get stopped(): boolean {
    return this.#stopping !== undefined
  }

  /**
   * The live supervision tree as of the latest lifecycle event (refreshed within milliseconds
   * of every start, exit and restart). `supervisionNow()` asks the tree itself.
   */
  supervision(): SupervisionTree {
    return this.api.snapshot()
  }

  /** A fresh snapshot, asked of the running tree. */
  supervisionNow(): Promise<SupervisionTree> {
    return run(this.api.supervision)
  }

  /** Clients: the station they are attached to now (`undefined` while failing over). */
  home(): HomeStation | undefined {
    return this.api.homeNow()
  }

  /** The node's live connections. */
  connections(): Promise<ReadonlyArray<PeerConnection>> {
    return run(this.api.connections)
  }

  /** Stations: the DHT counters; clients: `undefined`. */
  dht(): Promise<DhtSummary | undefined> {
    return run(this.api.dht)
  }

  /** Stations: the SWIM view; clients: `undefined`. */
  membership(): Promise<MembershipView | undefined> {
    return run(this.api.membership)
  }

  /** Starts a user actor under the node's application supervisor. */
  spawn<Msg, S, E>(id: string, behavior: Actor.Behavior<Msg, S, E, never>, options?: SpawnOptions): Promise<Actor.ActorRef<Msg>> {
    return run(this.guard("spawn", this.api.spawn(id, behavior, options)))
  }

  /** Starts any child spec under the node's application supervisor. */
  startChild(spec: ChildSpec<never>): Promise<Process> {
    return run(this.guard("startChild", this.api.startChild(spec)))
  }

  /** Stops a user child. */
  terminateChild(id: string): Promise<void> {
    return run(this.guard("terminateChild", this.api.terminateChild(id)))
  }

  /**
   * The node's operations as `Effect`s (the `Mesh` service's value), for code that runs inside
   * the node: a user actor's `init` can `subscribeScoped` / `advertiseScoped` with it, so its
   * subscriptions and advertisements end with it and come back when it is restarted.
   */
  get mesh(): MeshApi {
    return this.api
  }

  /**
   * Clients: publishes `payload` (any msgpack-encodable value) on `topic`; resolves once the home
   * station accepted the event. Rejects with `TopicError`, `EncodeError`, `Unauthorized`,
   * `RemoteError` (e.g. `overloaded`) or `ConnectionLost`.
   */
  publish(topic: string, payload: unknown): Promise<void> {
    return run(this.guard("publish", this.api.publish(topic, payload)))
  }

  /**
   * Clients: subscribes to a topic or a pattern; resolves once the station accepted it. The
   * handler gets one `SubscriptionEvent` at a time per subscription (a returned promise is awaited
   * before the next). Rejects with `TopicError` or `Unauthorized`.
   */
  async subscribe(
    topicOrPattern: string,
    onEvent: (event: SubscriptionEvent) => unknown,
    options?: SubscribeOptions
  ): Promise<{ readonly pattern: string; readonly unsubscribe: () => Promise<void> }> {
    const sub = await run(this.guard("subscribe", this.api.subscribe(topicOrPattern, onEvent, options)))
    return { pattern: sub.pattern, unsubscribe: () => run(sub.unsubscribe) }
  }

  /**
   * Clients: serves `procedure`; resolves once the home station registered it. The handler's
   * result (or resolved value) is the caller's result; a throw reaches the caller as
   * `RemoteError` (`handler_error`). After a fail-over the advertisement is replayed on the new
   * station. With `{ requireInvocation: true }` only calls carrying an invocation signed for this
   * node reach the handler (PROTOCOL.md §13.4; `direct: true` callers sign one). `onEnd` hears
   * when the station ends the advertisement later (its grant revoked: `Unauthorized`, `Revoked`).
   */
  async advertise(
    procedure: string,
    handler: Handler,
    options?: AdvertiseOptions
  ): Promise<{ readonly procedure: string; readonly unadvertise: () => Promise<void> }> {
    const ad: Advertisement = await run(this.guard("advertise", this.api.advertise(procedure, handler, options)))
    return { procedure, unadvertise: () => run(ad.unadvertise) }
  }

  /**
   * Clients: calls `procedure` and resolves with its result. Rejects with `CallTimeout` (no reply
   * within `timeoutMs`, default 5 s), `NoProvider`, `RemoteError` (the handler failed: `code`,
   * `message`, `data`), `Unauthorized` or `TopicError`. Only `idempotent` calls are retried.
   */
  call(procedure: string, args: unknown, options?: CallOptions): Promise<unknown> {
    return run(this.guard("call", this.api.call(procedure, args, options)))
  }

  /**
   * Clients: serves a streaming `procedure` (PROTOCOL.md §9.5) in one `mode`: `server` (the
   * handler sends many messages), `client` (it reads many), `bidi` (both). The handler gets the
   * arguments, the call's `StreamChannel` (`send`, async iteration) and the context; what it
   * returns, after its messages, is the call's result.
   */
  async advertiseStream(
    procedure: string,
    mode: StreamMode,
    handler: StreamHandler,
    options?: AdvertiseOptions
  ): Promise<{ readonly procedure: string; readonly unadvertise: () => Promise<void> }> {
    const ad: Advertisement = await run(this.guard("advertise", this.api.advertiseStream(procedure, mode, handler, options)))
    return { procedure, unadvertise: () => run(ad.unadvertise) }
  }

  /**
   * Clients: starts a streaming call. Iterate the returned `StreamCall` for the provider's
   * messages, `send` / `end` your own (`client`, `bidi`), await `result`, or `cancel`. Flow
   * control is end to end: a slow reader holds back the provider, never the memory.
   */
  callStream(procedure: string, args: unknown, options: StreamCallOptions): Promise<StreamCall> {
    return run(this.guard("call", this.api.callStream(procedure, args, options)))
  }

  /**
   * Stores bytes (or the file at a path), pins them and announces this node as a provider;
   * a client also uploads them to its home station. Resolves with the MCID.
   */
  putContent(bytesOrFilePath: Uint8Array | string): Promise<Mcid> {
    return run(this.guard("putContent", this.api.putContent(bytesOrFilePath)))
  }

  /**
   * The content's bytes, from the local store or fetched from its providers and verified.
   * Rejects with `ContentNotFound`, `McidError` (a malformed MCID) or `NodeStopped`.
   */
  getContent(mcid: Mcid | string, options?: GetContentOptions): Promise<Uint8Array> {
    return run(this.guard("getContent", this.api.getContent(mcid, options)))
  }

  /**
   * Like `getContent`, but writes the content to `path` chunk by chunk (through a temporary
   * file renamed into place) instead of returning it, so big content is never whole in memory.
   * Resolves with the size in bytes; rejects like `getContent`, or with `ContentStoreError`
   * when the file cannot be written.
   */
  getContentToFile(mcid: Mcid | string, path: string, options?: GetContentOptions): Promise<number> {
    return run(this.guard("getContentToFile", this.api.getContentToFile(mcid, path, options)))
  }

  /**
   * Pushes content held here (put or fetched before) to the node `options.to` (PROTOCOL.md
   * §12.6): resolves once that node holds it. Rejects with `PushFailed` (`declined`: its
   * `acceptPushFrom` does not admit this node, it is busy or its pull failed; `timeout`: no
   * answer within `timeoutMs`, default knob `pushTimeoutMs`), `ContentNotFound` (not whole
   * here), `ConnectionLost` (no route to it), `McidError`, `DidError` (a bad `to`), `ConfigError`
   * (a `timeoutMs` that is not a positive number) or `NodeStopped`.
   */
  pushContent(mcid: Mcid | string, options: PushContentOptions): Promise<void> {
    return run(this.guard("pushContent", this.api.pushContent(mcid, options)))
  }

  /**
   * Graceful, ordered shutdown: user actors first, then links, then every connection (each peer
   * gets `goodbye going_away`), the socket last. Idempotent; later operations fail `NodeStopped`.
   */
  stop(): Promise<void> {
    this.#stopping ??= Effect.runPromise(Scope.close(this.scope, Exit.void))
    return this.#stopping
  }

  private guard<A, E>(operation: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E | NodeStopped> {
    return this.#stopping === undefined ? effect : Effect.fail(new NodeStopped({ operation }))
  }
}

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
 * What is wired, a module per part: identity (`./IdentityConfig.ts`), transport (listener,
 * registry, connections, dialer, bans: `./NodeTransport.ts`), SWIM membership and the DHT
 * (stations, each publishing its own `station` record: `./StationOverlay.ts`), the seen-nonce
 * memory and the realm authorisation of `Authorisation` (`./NodeAuthorisation.ts`), routing
 * (`./NodeRouting.ts`; stations: the pub/sub router and the RPC dispatcher, with provider records
 * in the DHT; clients: the station link with fail-over, the pub/sub session and the RPC endpoint,
 * which replay subscriptions and advertisements on every new link), content transfer
 * (`./NodeContent.ts` over `./Content.ts`: the ContentSupervisor, content-provider records in the
 * DHT, uploads from clients to their station), and the application supervisor for user actors.
 * The operations over them are `./NodeApi.ts` (clients resolve `direct: true` calls through the
 * DHT: `./DirectCall.ts`); the supervision snapshots are `./SupervisionTracker.ts`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import * as Realm from "../identity/Realm.ts"
import type * as Actor from "../runtime/Actor.ts"
import type { ChildSpec } from "../runtime/ChildSpec.ts"
import * as ExitReason from "../runtime/ExitReason.ts"
import * as Lifecycle from "../runtime/Lifecycle.ts"
import type { LifecycleEvent } from "../runtime/Lifecycle.ts"
import type { Process } from "../runtime/Process.ts"
import * as Registry from "../runtime/Registry.ts"
import * as Supervisor from "../runtime/Supervisor.ts"
import * as Config from "./Config.ts"
import type { NodeConfig } from "./Config.ts"
import { ConfigError, ConnectionLost, NodeStopped } from "./Errors.ts"
import * as IdentityConfig from "./IdentityConfig.ts"
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
  SpawnOptions,
  SubscribeOptions,
  SubscriptionEvent
} from "./Mesh.ts"
import type { Mcid } from "../content/Mcid.ts"
import type * as Content from "./Content.ts"
import type { GetContentOptions, PushContentOptions } from "./Content.ts"
import * as NodeApi from "./NodeApi.ts"
import * as NodeAuthorisation from "./NodeAuthorisation.ts"
import * as NodeContent from "./NodeContent.ts"
import * as NodeRouting from "./NodeRouting.ts"
import * as NodeTransport from "./NodeTransport.ts"
import type { StreamCall, StreamCallOptions, StreamHandler, StreamMode } from "./RpcStream.ts"
import type * as StationLink from "./StationLink.ts"
import * as StationOverlay from "./StationOverlay.ts"
import type { SupervisionTree } from "./Supervision.ts"
import * as SupervisionTracker from "./SupervisionTracker.ts"

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
    const loaded = IdentityConfig.load(resolved)
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
    const isStopped = () => stopped
    const live: NodeSupervisor.Live = { transport: undefined, transportTree: undefined, application: undefined }
    const view: StationLink.LinkView = { home: undefined, failovers: 0 }

    // The root's latest snapshot, refreshed after every lifecycle event (for the synchronous
    // `supervision()` of the facade); `supervision` (the Effect) always asks the live tree.
    let root: Supervisor.SupervisorRef | undefined
    const snapshots = SupervisionTracker.make({ root: () => root, stopped: isStopped })
    const sink: Lifecycle.LifecycleSink = {
      publish: (event) => {
        emit({ _tag: "Lifecycle", event, line: Lifecycle.format(event, ExitReason.describe) })
        if (root !== undefined && !stopped) snapshots.refresh()
      }
    }

    // The parts, each in its module. The transport's options are made last, as they carry every
    // other part's inbound lanes; the root still starts the transport first.
    const { host, unspecified } = NodeTransport.listenHost(resolved)
    const servedRealmIds = resolved.servedRealms.map((h) => Realm.fromHex(h)!)
    const overlay = role === "station"
      ? yield* StationOverlay.make({
        resolved,
        identity,
        live,
        host,
        unspecified,
        servedRealmIds,
        emit,
        onDht: (dht) => hooks.onDht?.(dht)
      })
      : undefined
    const dht = overlay?.dht
    const membership = overlay?.membership
    const { seenNonces, authorisation } = yield* NodeAuthorisation.make({ resolved, identity, dht: dht?.dht, emit })
    const routing = NodeRouting.make({ resolved, identity, live, view, dht: dht?.dht, authorisation, seenNonces, emit })
    const content = NodeContent.make({
      resolved,
      identity,
      live,
      view,
      unspecified,
      dht: dht?.dht,
      authorisation,
      seenNonces,
      emit,
      overrides: hooks.content
    })
    hooks.onRecords?.(content.findRecords, content.putRecord)
    const { transport, transportOptions } = NodeTransport.make({
      resolved,
      identity,
      impl,
      host,
      unspecified,
      servedRealmIds,
      emit,
      offeredPeers: overlay?.offeredPeers,
      membership,
      dht,
      routing: routing.routing,
      content
    })

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
      routing: routing.slot,
      content: content.slot,
      intensity: knobs.rootIntensity,
      periodMs: knobs.rootPeriodMs,
      appIntensity: knobs.appIntensity,
      appPeriodMs: knobs.appPeriodMs
    }, live)))
    if (started._tag === "Failure") {
      const bind = NodeTransport.transportStartMessage(started.failure)
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
    yield* Effect.ignore(snapshots.take)

    return NodeApi.make({
      resolved,
      identity,
      address,
      live,
      view,
      dht,
      membership,
      routing: routing.routing,
      content,
      inNode,
      stopped: isStopped,
      supervision: snapshots.take,
      snapshot: snapshots.latest
    })
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
    private readonly api: NodeApi.NodeApi,
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

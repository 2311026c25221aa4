/**
 * The `Mesh` service: a running node as Effect users see it (API.md "The node", last paragraph).
 * `MaculaNode.layer(config)` provides it; every operation returns an `Effect` with the node's
 * typed errors in the error channel, and user actors run under the node's application
 * supervisor through `spawn` / `startChild`.
 *
 * Pub/sub and RPC (`publish`, `subscribe`, `advertise`, `call`) run on clients, through their
 * home station (PROTOCOL.md §8, §9); a station routes for its clients and answers these with
 * `NotImplemented`. `subscribeScoped` / `advertiseScoped` tie a subscription or an advertisement
 * to the current scope, so a user actor that makes them in `init` drops them when it exits and
 * makes them again when its supervisor restarts it (docs/guides/application-actors.md).
 *
 * Content (`putContent`, `getContent`, `pushContent`) works on both roles; it is built in `./Content.ts`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Actor from "../runtime/Actor.ts"
import type { ChildSpec, RestartType, Shutdown } from "../runtime/ChildSpec.ts"
import type { ChildNotFound, ChildStateError, StartFailed } from "../runtime/Errors.ts"
import type { Process } from "../runtime/Process.ts"
import type { TopicError } from "../topic/index.ts"
import type { EncodeError } from "../wire/index.ts"
import type { Mcid } from "../content/Mcid.ts"
import type { GetContentError, GetContentOptions, PushContentError, PushContentOptions, PutContentError } from "./Content.ts"
import type { CallTimeout, ConnectionLost, NodeStopped, NoProvider, NotImplemented, RemoteError, Unauthorized } from "./Errors.ts"
import type { StreamCall, StreamCallOptions, StreamHandler, StreamMode } from "./RpcStream.ts"
import type { SupervisionTree } from "./Supervision.ts"

/**
 * The station a client is attached to, as the client sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface HomeStation {
  /** The seed URL it was reached through. */
  readonly seed: string
  readonly did: string
  /** Its socket address as seen from here (`quic://127.0.0.1:4433`). */
  readonly remoteAddress: string
  /** Unix ms when the link came up. */
  readonly since: number
  /** Round trip of the latest application ping, ms. */
  readonly rttMs: number | undefined
  /** Its clock minus ours at the handshake, ms. */
  readonly skewMs: number | undefined
  /** Addresses it announced in its `hello`. */
  readonly addresses: ReadonlyArray<string>
  /** Realms it serves (hex ids); empty = all. */
  readonly realms: ReadonlyArray<string>
  /** Alternative stations it offered for failover. */
  readonly offeredPeers: number
  /**
   * Those stations (its `hello.peers`, §3.4): the alive SWIM members it chose to offer, at most
   * `helloPeersMax`, each with the addresses it gave.
   */
  readonly peers: ReadonlyArray<{ readonly did: string; readonly addresses: ReadonlyArray<string> }>
  /** Its implementation string, if it sent one. */
  readonly impl: string | undefined
  /** Times this client changed home station since it started. */
  readonly failovers: number
}

/**
 * One live connection of the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeerConnection {
  readonly did: string
  /** `station` or `client`, once its hello was accepted. */
  readonly role: "station" | "client" | undefined
  readonly direction: "inbound" | "outbound"
  readonly remoteAddress: string
  readonly phase: string
  readonly rttMs: number | undefined
  readonly score: number
}

/**
 * A station's SWIM view (PROTOCOL.md §11): itself and every member it knows, dead ones included
 * while tombstoned.
 *
 * @since 0.1.0
 * @category models
 */
export interface MembershipView {
  readonly self: { readonly did: string; readonly incarnation: number }
  readonly members: ReadonlyArray<{
    readonly did: string
    readonly status: "alive" | "suspect" | "dead"
    readonly incarnation: number
    readonly addrs: ReadonlyArray<string>
  }>
}

/**
 * A station's DHT counters (PROTOCOL.md §10).
 *
 * @since 0.1.0
 * @category models
 */
export interface DhtSummary {
  /** Stations in the routing table. */
  readonly contacts: number
  /** Bucket actors running (one per non-empty bucket). */
  readonly buckets: number
  /** Replacement-cache candidates. */
  readonly cached: number
  /** Records held. */
  readonly records: number
  /** Lookups running. */
  readonly lookups: number
}

/**
 * Options of `spawn`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SpawnOptions {
  /** @default "permanent" */
  readonly restart?: RestartType
  /** @default 5_000 */
  readonly shutdown?: Shutdown
  /** Registers the actor under this unique name in the node's registry. */
  readonly name?: string
}

/**
 * Why starting a user actor failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type SpawnError = NodeStopped | StartFailed | ChildStateError

/**
 * One event as a subscription handler sees it (API.md).
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscriptionEvent {
  /** The topic it was published on (never a pattern). */
  readonly topic: string
  /** The publisher's payload, as decoded from msgpack (`bin` arrives as `Uint8Array`). */
  readonly payload: unknown
  /** The publisher's DID. */
  readonly publisher: string
  /** The publisher's per-session sequence number (its dedup key with the session). */
  readonly seq: number
  /** The publisher's wall clock when it published, unix ms. */
  readonly ts: number
}

/**
 * Events `from` … `to` (cursors) of an at-least-once subscription were lost, and why
 * (`overflow`, `retention`, `station_restart`, `resume_unavailable`; PROTOCOL.md §8.5).
 *
 * @since 0.1.0
 * @category models
 */
export interface Gap {
  readonly from: number
  readonly to: number
  readonly why: string
}

/**
 * Options of `advertise` and `advertiseStream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AdvertiseOptions {
  /**
   * Serve only callers that present an invocation signed for this provider (PROTOCOL.md §10.3
   * `req: true`, §13.4): the provider record says so, and a caller resolving it signs a
   * `/mesh/call` invocation whose audience is this node (a `direct: true` call at once, another
   * call after a first refusal). A call without a valid one is refused `unauthorized`
   * (`Unauthorized` with the UCAN error name as `reason`) before the handler runs. @default false
   */
  readonly requireInvocation?: boolean
  /**
   * The station ended the advertisement after accepting it: its grant was revoked (PROTOCOL.md
   * §13.6), `Unauthorized` with reason `Revoked`. It is withdrawn (not replayed after a
   * fail-over) and no more calls come; advertise again with a valid delegation to serve again.
   */
  readonly onEnd?: (error: SubscribeError) => void
}

/**
 * Options of `subscribe`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscribeOptions {
  /**
   * `at-most-once`: no acknowledgements, ordered per publisher and topic, duplicates dropped.
   * `at-least-once`: the home station keeps unacknowledged events and replays them after a
   * reconnect; losses are announced through `onGap`. @default "at-most-once"
   */
  readonly delivery?: "at-most-once" | "at-least-once"
  /** Announced losses of an at-least-once subscription. */
  readonly onGap?: (gap: Gap) => void
  /**
   * The station ended the subscription after accepting it: its grant was revoked (PROTOCOL.md
   * §13.6), `Unauthorized` with reason `Revoked`. No more events come.
   */
  readonly onEnd?: (error: SubscribeError) => void
}

/**
 * A live subscription (Effect API).
 *
 * @since 0.1.0
 * @category models
 */
export interface Subscription {
  /** The topic or pattern subscribed to. */
  readonly pattern: string
  /** Ends it (idempotent). */
  readonly unsubscribe: Effect.Effect<void>
}

/**
 * What a procedure's handler gets besides its arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallContext {
  readonly procedure: string
  /** The caller's DID, when the station passed it on. */
  readonly caller: string | undefined
  /** Aborted when the caller cancels or the call's deadline passes. */
  readonly signal: AbortSignal
}

/**
 * A procedure's handler: returns (or resolves to) the result, any msgpack-encodable value; a
 * throw or rejection reaches the caller as `RemoteError` with code `handler_error`.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (args: unknown, ctx: CallContext) => unknown

/**
 * A live advertisement (Effect API).
 *
 * @since 0.1.0
 * @category models
 */
export interface Advertisement {
  readonly procedure: string
  /** Withdraws it (idempotent). */
  readonly unadvertise: Effect.Effect<void>
}

/**
 * Options of `call`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** The caller's budget, ms (at most `maxCallTtlMs`, 300 000). @default 5_000 (callTimeoutMs) */
  readonly timeoutMs?: number
  /**
   * The handler may safely run twice: the mesh may then retry another provider within the
   * budget, and re-issues the call after a lost link. @default false
   */
  readonly idempotent?: boolean
  /**
   * Direct mode (PROTOCOL.md §9.2): the call goes to the station serving the provider on a
   * connection of its own, and that station acts as home for it, so it does not pass through the
   * home station. Either that station's address (`quic://host:port#did:key:…`), or `true`: the
   * client finds it itself, through the DHT (via its home station): the procedure's provider
   * records name the serving station, whose `station` record gives its address (cached for
   * `providerCacheMs`; the lookups spend the call's budget). With `true`, `NoProvider` when no
   * provider record or no station record with an address is found (`detail` says which).
   */
  readonly direct?: string | true
}

/**
 * Why a publish failed: an invalid topic, a payload msgpack cannot carry (`EncodeError`), a
 * refused capability, a station refusal (`RemoteError`, e.g. `overloaded`), or no answer from
 * the home station in time (`ConnectionLost`).
 *
 * @since 0.1.0
 * @category errors
 */
export type PublishError = TopicError | EncodeError | Unauthorized | RemoteError | ConnectionLost | NodeStopped | NotImplemented

/**
 * Why a subscribe or an advertise failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type SubscribeError = TopicError | Unauthorized | RemoteError | NodeStopped | NotImplemented

/**
 * Why a call failed (docs/errors.md maps every §9.4 code to one of these).
 *
 * @since 0.1.0
 * @category errors
 */
export type CallError = TopicError | EncodeError | Unauthorized | CallTimeout | NoProvider | RemoteError | NodeStopped | NotImplemented

/**
 * The operations of a running node.
 *
 * @since 0.1.0
 * @category models
 */
export interface MeshApi {
  readonly role: "station" | "client"
  /** This node's DID. */
  readonly did: string
  /** Stations: `quic://host:port` with the real bound port; clients: `undefined`. */
  readonly address: string | undefined
  /** Clients: the realm they act in. */
  readonly realm: string | undefined
  /** A fresh snapshot of the live supervision tree. */
  readonly supervision: Effect.Effect<SupervisionTree, NodeStopped>
  /** Clients: the station they are attached to (`undefined` while failing over); stations: `undefined`. */
  readonly home: Effect.Effect<HomeStation | undefined>
  /** The node's live connections. */
  readonly connections: Effect.Effect<ReadonlyArray<PeerConnection>>
  /** Stations: the DHT counters; clients: `undefined`. */
  readonly dht: Effect.Effect<DhtSummary | undefined>
  /** Stations: the SWIM view (`undefined` while membership restarts); clients: `undefined`. */
  readonly membership: Effect.Effect<MembershipView | undefined>
  /** Starts a user actor under the application supervisor (one_for_one, appIntensity / appPeriodMs). */
  readonly spawn: <Msg, S, E>(
    id: string,
    behavior: Actor.Behavior<Msg, S, E, never>,
    options?: SpawnOptions
  ) => Effect.Effect<Actor.ActorRef<Msg>, SpawnError>
  /** Starts any child (an actor or a nested supervisor) under the application supervisor. */
  readonly startChild: (spec: ChildSpec<never>) => Effect.Effect<Process, SpawnError>
  /** Stops a user child (its spec is kept, except for temporary children). */
  readonly terminateChild: (id: string) => Effect.Effect<void, NodeStopped | ChildNotFound>
  /**
   * Clients: publishes `payload` (any msgpack-encodable value) on `topic`; succeeds once the home
   * station accepted the event.
   */
  readonly publish: (topic: string, payload: unknown) => Effect.Effect<void, PublishError>
  /**
   * Clients: subscribes to a topic or pattern (`*` one segment, trailing `#`); succeeds once the
   * station accepted it (or after the confirmation window, when it stands and is replayed on
   * the next link). The handler runs once per event, one event at a time per subscription.
   */
  readonly subscribe: (
    topicOrPattern: string,
    onEvent: (event: SubscriptionEvent) => unknown,
    options?: SubscribeOptions
  ) => Effect.Effect<Subscription, SubscribeError>
  /** `subscribe`, ended when the current scope closes (a user actor's `init`). */
  readonly subscribeScoped: (
    topicOrPattern: string,
    onEvent: (event: SubscriptionEvent) => unknown,
    options?: SubscribeOptions
  ) => Effect.Effect<Subscription, SubscribeError, Scope.Scope>
  /** Clients: serves `procedure` with `handler`; succeeds once the station registered it. */
  readonly advertise: (procedure: string, handler: Handler, options?: AdvertiseOptions) => Effect.Effect<Advertisement, SubscribeError>
  /** `advertise`, withdrawn when the current scope closes (a user actor's `init`). */
  readonly advertiseScoped: (
    procedure: string,
    handler: Handler,
    options?: AdvertiseOptions
  ) => Effect.Effect<Advertisement, SubscribeError, Scope.Scope>
  /** Clients: calls `procedure` with `args` (any msgpack-encodable value) and returns the result. */
  readonly call: (procedure: string, args: unknown, options?: CallOptions) => Effect.Effect<unknown, CallError>
  /**
   * Clients: serves a streaming `procedure` in one `mode` (`server`, `client`, `bidi`; §9.5).
   * The handler gets the call's `StreamChannel`; its return value is the call's result.
   */
  readonly advertiseStream: (
    procedure: string,
    mode: StreamMode,
    handler: StreamHandler,
    options?: AdvertiseOptions
  ) => Effect.Effect<Advertisement, SubscribeError>
  /**
   * Clients: starts a streaming call; the returned `StreamCall` carries the messages (both ways,
   * credit-based flow control end to end) and the `result`. Fails at once only for a bad
   * procedure name or arguments; everything after surfaces through the handle.
   */
  readonly callStream: (procedure: string, args: unknown, options: StreamCallOptions) => Effect.Effect<StreamCall, CallError>
  /**
   * Stores bytes (or the file at a path), pins them and announces this node as a provider (a
   * `content-provider` record); a client also uploads them to its home station (§12.5).
   */
  readonly putContent: (bytesOrFilePath: Uint8Array | string) => Effect.Effect<Mcid, PutContentError>
  /** The content's bytes: from the local store, else fetched from its providers and verified. */
  readonly getContent: (mcid: Mcid | string, options?: GetContentOptions) => Effect.Effect<Uint8Array, GetContentError>
  /**
   * Fetches like `getContent` but writes the content to `path` (a temporary file beside it,
   * renamed into place) chunk by chunk, never holding it whole; returns its size in bytes.
   */
  readonly getContentToFile: (mcid: Mcid | string, path: string, options?: GetContentOptions) => Effect.Effect<number, GetContentError>
  /**
   * Pushes content held here to the node `options.to` (PROTOCOL.md §12.6): resolves once it holds
   * the content; fails `PushFailed` when it declines (its `acceptPushFrom`) or does not answer
   * in time, `ContentNotFound` when the content is not whole here.
   */
  readonly pushContent: (mcid: Mcid | string, options: PushContentOptions) => Effect.Effect<void, PushContentError>
}

/**
 * The running node, for Effect programs. Provide it with `MaculaNode.layer(config)`.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const mesh = yield* Mesh
 *   return mesh.did
 * })
 * Effect.runPromise(Effect.provide(program, MaculaNode.layer({ role: "station", listen: "127.0.0.1:0" })))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Mesh extends Context.Service<Mesh, MeshApi>()("macula/Mesh") {}

/**
 * Streaming calls (§9.5): the caller's and the handler's sides, the handler type and options.
 *
 * @since 0.1.0
 * @category models
 */
export type { StreamCall, StreamCallOptions, StreamChannel, StreamHandler, StreamMode } from "./RpcStream.ts"

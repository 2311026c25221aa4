/**
 * The routing subtree (PROTOCOL.md §8, §9, §15): pub/sub and RPC, station side or client side.
 *
 * ```
 * RoutingSupervisor (one_for_one, routingIntensity / routingPeriodMs = 5 / 10 000)
 * station:
 * ├─ pubsub-router    PubSubRouterActor    permanent   subscriptions, interest, forwarding, alo buffers
 * └─ rpc-dispatcher   RpcDispatcherActor   permanent   advertisements, resolution, routing, deadlines, retries
 * client:
 * ├─ pubsub-session   PubSubSessionActor   permanent   subscriptions, publishes, dedup, order, acks
 * └─ rpc-endpoint     RpcEndpointActor     permanent   calls, advertisements, handlers
 * ```
 *
 * The SessionRegistry of §15.1 is the state this module keeps outside the children: on a
 * client, the application's subscriptions, handlers and advertisements (a restarted session or
 * endpoint replays them into its fresh core); on a station, the journals the router and the
 * dispatcher restore from after a crash (clients' subscriptions and advertisements, peers'
 * interest). The client's StationLink (failover) stays the node's: it is injected as
 * `deps.station`.
 *
 * **Why a station keeps a journal although `resync` exists (§15.2).** A restarted router or
 * dispatcher sends `resync` on the control stream of every client and peer station it adopts
 * (`sub` / `adv` to clients, `interest` to stations), and they replay: that is the spec's
 * restore, and it alone repairs what the journal cannot know (frames that arrived while no actor
 * ran are dropped by the inbox; grants are re-presented with the replayed `au`). The journal stays
 * as the first, local restore for two reasons `resync` cannot cover. (1) No window: the tables
 * are back before the first new frame is handled, instead of a round trip later, so an
 * at-most-once subscriber loses nothing published meanwhile. (2) Cursor continuity for `alo`: the
 * restarted router resumes each subscription after the last cursor it *sent*, so it never
 * numbers a new event with a cursor the client still holds in flight; a replay alone resumes
 * after the client's last *processed* cursor, and in-flight cursors would be reused (their acks
 * would then acknowledge events not yet handled). The two restores agree: a replayed `sub` with
 * the same `sid` resumes the journalled one, an `interest.sync` replaces the journalled interest,
 * a replayed `adv` re-registers the provider. `config.replayJournal: false` leaves the restore to
 * `resync` alone.
 *
 * **How the node wires it.**
 *
 * ```ts
 * const routing = RoutingSupervisor.make({
 *   role,                                        // "station" | "client"
 *   identity,                                    // the node's Identity
 *   transport: () => live.transportTree,         // registry.lookup / registry.list (stations)
 *   station: () => Effect.sync(() => view.home?.handle),   // clients: the StationLink's connection
 *   directory: { putProvider, findProviders },   // stations: backed by the DHT subtree
 *   authorise,                                   // stations: realm → UCAN verdict; open when absent
 *   config: { pubsub: {...}, rpc: {...} }
 * })
 * // 1. the transport takes `routing.sinks` (`sinks: { pubsub, rpc, call, control }`), so nothing arriving
 * //    before the actors subscribe a connection is lost;
 * // 2. the root lists `routing.child` in the routing slot;
 * // 3. the facade calls routing.publish / subscribe / advertise / call, and for streaming
 * //    calls (§9.5) advertiseStream / callStream (clients).
 * ```
 *
 * **Restarts.** One-for-one: a crashed router restarts alone, adopts the live connections,
 * replays the journal (an `alo` subscription sees one `station_restart` gap) and sends `resync`;
 * a crashed dispatcher replays the advertisements and sends `resync` (in-flight calls are lost:
 * callers time out or retry if idempotent); a crashed session or endpoint replays the registry
 * (publishes and calls in flight fail). Beyond the budget the subtree escalates to the root.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as PubSubRouterActor from "../actors/PubSubRouterActor.ts"
import * as PubSubSessionActor from "../actors/PubSubSessionActor.ts"
import * as RpcDispatcherActor from "../actors/RpcDispatcherActor.ts"
import * as RpcEndpointActor from "../actors/RpcEndpointActor.ts"
import * as Bytes from "../src/core/Bytes.ts"
import * as Did from "../src/identity/Did.ts"
import * as Realm from "../src/identity/Realm.ts"
import { CallTimeout, ConnectionLost, NoProvider, RemoteError, Unauthorized } from "../src/node/Errors.ts"
import { Pipe } from "../src/node/RpcStream.ts"
import type { SubscriptionCursors } from "../src/node/SubscriptionCursors.ts"
import type { StreamCall, StreamChannel, StreamMode } from "../src/node/RpcStream.ts"
import type { Handle, Sink } from "../src/platform/transport/ConnectionHandle.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
import type { ChildSpec } from "../src/runtime/ChildSpec.ts"
import type { ConfigError, NameTaken, StartFailed } from "../src/runtime/Errors.ts"
import * as Supervisor from "../src/runtime/Supervisor.ts"
import * as Topic from "../src/topic/Topic.ts"
import { TopicError, type TopicErrorReason } from "../src/topic/TopicError.ts"
import type * as Frame from "../src/wire/Frame.ts"
import type { EnvelopeBody } from "../src/wire/SignedBody.ts"

const PubSub = PubSubRouterActor.PubSub
const Rpc = RpcDispatcherActor.Rpc

/**
 * What routing needs of the transport subtree (a `TransportTree` fits).
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportPort {
  readonly registry: {
    readonly lookup: (did: string) => Effect.Effect<Handle | undefined>
    readonly list: Effect.Effect<ReadonlyArray<Handle>>
  }
}

/**
 * The authorisation port (§13.4): one verdict per gated frame; absent = every realm open.
 *
 * @since 0.1.0
 * @category models
 */
export type Authorise = (request: {
  readonly peerDid: string
  readonly realm: Uint8Array
  readonly command: "/mesh/subscribe" | "/mesh/publish" | "/mesh/advertise" | "/mesh/call"
  readonly topic: string
  readonly au: Frame.Authority | undefined
}) => Effect.Effect<{ readonly _tag: "Allowed" } | { readonly _tag: "Denied"; readonly reason: string }>

/**
 * Knobs of the subtree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /** Pub/sub knob overrides over `PubSub.defaults` (§16). */
  readonly pubsub?: Partial<PubSubRouterActor.PubSub.Config>
  /** RPC knob overrides over `Rpc.defaults` (§16). */
  readonly rpc?: Partial<RpcDispatcherActor.Rpc.Config>
  /** @default 5 (routingIntensity) */
  readonly intensity?: number
  /** @default 10_000 (routingPeriodMs) */
  readonly periodMs?: number
  /** @default 5_000 (workerShutdownMs) */
  readonly workerShutdownMs?: number
  /** Clients: how often the home-station connection is read. @default 100 */
  readonly linkCheckMs?: number
  /** Stations: how often the registry is scanned for new connections. @default 1_000 */
  readonly scanIntervalMs?: number
  /** Clients: longest wait for the station to confirm a publish, subscribe or advertise. @default callTimeoutMs */
  readonly confirmTimeoutMs?: number
  /** PRNG seed of the RPC cores (tests). @default from the clock */
  readonly seed?: number
  /**
   * Stations: whether a restarted router or dispatcher restores from the journal before its
   * `resync` (see the module comment); `false` restores through `resync` alone. @default true
   */
  readonly replayJournal?: boolean
}

/**
 * Everything the subtree is built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Deps {
  readonly role: "station" | "client"
  /** The node's key (an `Identity` fits). */
  readonly identity: { readonly publicKey: Uint8Array; readonly sign: (message: Uint8Array) => Uint8Array }
  /** Stations: the transport subtree now (read at each use; `undefined` while it restarts). */
  readonly transport?: () => TransportPort | undefined
  /** Clients: the current home-station connection (the StationLink owns failover). */
  readonly station?: () => Effect.Effect<Handle | undefined>
  /** Clients: a ready connection to a station address, for direct-mode calls (§9.2). */
  readonly dial?: (address: string) => Effect.Effect<Handle, unknown>
  /** Stations: where provider records live (the DHT). @default none: local providers only */
  readonly directory?: RpcDispatcherActor.Directory
  /** Stations: the authorisation port. @default open realms */
  readonly authorise?: Authorise
  /** Stations: the port's revocation notices and the facts the router watches (§13.6). @default none */
  readonly revocations?: PubSubRouterActor.Revocations
  /** Clients: per station connection, what adds `au` to gated frames (§13.4). @default none */
  readonly capabilities?: (station: string) => PubSubSessionActor.Presenter & RpcEndpointActor.Presenter
  /** Clients: the verdict on a call's `ucan` for a `req` advertisement (§13.4). @default none: refused */
  readonly checkInvocation?: (frame: Frame.Call) => RpcEndpointActor.Rpc.Verdict
  /**
   * Clients with a data directory: where at-least-once subscriptions keep their `sid` and last
   * handled cursor, so a restarted process resumes them (§8.5). @default none: they end with the process
   */
  readonly cursors?: SubscriptionCursors
  readonly config?: Config
}

/**
 * Options of `advertise` / `advertiseStream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AdvertiseOptions {
  /** Callers must present an invocation for this provider (§10.3 `req`, §13.4). @default false */
  readonly req?: boolean
  /**
   * The station ended the advertisement after accepting it (its grant was revoked, §13.6:
   * `Unauthorized` with reason `Revoked`); it is withdrawn and no more calls come.
   */
  readonly onEnd?: (error: SubscribeError) => void
}

/**
 * A call pinned to a provider (`to`, its key), with the invocation a `req` one needs (`ucan`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Pin {
  readonly to: Uint8Array
  readonly ucan?: Frame.Authority
}

/**
 * One event as a subscription handler sees it (API.md).
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscriptionEvent {
  readonly topic: string
  readonly payload: unknown
  /** The publisher's DID. */
  readonly publisher: string
  readonly seq: number
  /** Publisher wall clock, unix ms. */
  readonly ts: number
}

/**
 * Events `from` … `to` (cursors) of an at-least-once subscription were lost, and why (§8.5).
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
 * Options of `subscribe`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscribeOptions {
  /** @default "at-most-once" */
  readonly delivery?: "at-most-once" | "at-least-once"
  /** Announced losses of an at-least-once subscription. */
  readonly onGap?: (gap: Gap) => void
  /**
   * The station ended the subscription after accepting it (its grant was revoked, §13.6:
   * `Unauthorized` with reason `Revoked`); no more events come.
   */
  readonly onEnd?: (error: SubscribeError) => void
}

/**
 * What a procedure's handler gets besides its arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallContext {
  readonly procedure: string
  /** The caller's DID, when known. */
  readonly caller: string | undefined
  /** Aborted when the call is cancelled or out of time. */
  readonly signal: AbortSignal
}

/**
 * A subtree's API errors (API.md).
 *
 * @since 0.1.0
 * @category errors
 */
export type PublishError = TopicError | Unauthorized | RemoteError | ConnectionLost
/** @since 0.1.0 @category errors */
export type SubscribeError = TopicError | Unauthorized | RemoteError
/** @since 0.1.0 @category errors */
export type CallError = TopicError | Unauthorized | CallTimeout | NoProvider | RemoteError

/**
 * The routing subtree, built but not started, and its API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Routing {
  /** The child for the node's root: id `routing`, a supervisor, permanent. */
  readonly child: ChildSpec<Scope.Scope>
  /**
   * Give them to the transport as node-wide sinks (`sinks: { pubsub, rpc, call, control }`).
   * `control` takes `resync` (§15.2): on a station to the router (a peer's `interest`), on a
   * client to both the session (`sub`) and the endpoint (`adv`).
   */
  readonly sinks: { readonly pubsub: Sink; readonly rpc: Sink; readonly call: Sink; readonly control: Sink }
  /** Publishes; resolves once the home station accepted the event. Clients. */
  readonly publish: (topic: string, payload: Frame.Any) => Effect.Effect<void, PublishError>
  /** Subscribes to a topic or pattern; resolves once the station accepted it. Clients. */
  readonly subscribe: (
    pattern: string,
    handler: (event: SubscriptionEvent) => unknown,
    options?: SubscribeOptions
  ) => Effect.Effect<{ readonly unsubscribe: Effect.Effect<void> }, SubscribeError>
  /** Advertises a procedure; resolves once the station registered it. Clients. */
  readonly advertise: (
    procedure: string,
    handler: (args: unknown, ctx: CallContext) => unknown,
    options?: AdvertiseOptions
  ) => Effect.Effect<{ readonly unadvertise: Effect.Effect<void> }, SubscribeError>
  /** Calls a procedure (`pin`: the provider, and an invocation for a `req` one, §9.2). Clients. */
  readonly call: (
    procedure: string,
    args: Frame.Any,
    options?: { readonly timeoutMs?: number; readonly idempotent?: boolean; readonly direct?: string; readonly pin?: Pin }
  ) => Effect.Effect<unknown, CallError>
  /**
   * Advertises a streaming procedure (§9.5) of one `mode`; the handler gets the call's stream.
   * `check` vets each message the handler sends (the facade's payload rule). Clients.
   */
  readonly advertiseStream: (
    procedure: string,
    mode: StreamMode,
    handler: (args: unknown, stream: StreamChannel, ctx: CallContext) => unknown,
    check?: (message: unknown) => Error | undefined,
    options?: AdvertiseOptions
  ) => Effect.Effect<{ readonly unadvertise: Effect.Effect<void> }, SubscribeError>
  /** Starts a streaming call (§9.5); its messages and result come through the returned handle. Clients. */
  readonly callStream: (
    procedure: string,
    args: Frame.Any,
    options: { readonly mode: StreamMode; readonly timeoutMs?: number; readonly direct?: string; readonly pin?: Pin },
    check?: (message: unknown) => Error | undefined
  ) => Effect.Effect<StreamCall, CallError>
  /** The running children (they change across restarts), for tests and status. */
  readonly processes: () => {
    readonly supervisor: Supervisor.SupervisorRef | undefined
    readonly router: Actor.ActorRef<PubSubRouterActor.Msg> | undefined
    readonly dispatcher: Actor.ActorRef<RpcDispatcherActor.Msg> | undefined
    readonly session: Actor.ActorRef<PubSubSessionActor.Msg> | undefined
    readonly endpoint: Actor.ActorRef<RpcEndpointActor.Msg> | undefined
  }
  /** Counters of the running children. */
  readonly stats: Effect.Effect<{
    readonly router: PubSubRouterActor.Stats | undefined
    readonly dispatcher: RpcDispatcherActor.Stats | undefined
    readonly session: PubSubSessionActor.Stats | undefined
    readonly endpoint: RpcEndpointActor.Stats | undefined
  }>
}

interface Wiring {
  supervisor: Supervisor.SupervisorRef | undefined
  router: Actor.ActorRef<PubSubRouterActor.Msg> | undefined
  dispatcher: Actor.ActorRef<RpcDispatcherActor.Msg> | undefined
  session: Actor.ActorRef<PubSubSessionActor.Msg> | undefined
  endpoint: Actor.ActorRef<RpcEndpointActor.Msg> | undefined
}

const alive = <A extends Actor.ActorRef<any>>(ref: A | undefined): A | undefined => ref?.isAlive() === true ? ref : undefined

/**
 * A bounded memo: `compute` runs once per key while the key stays among the `max` most recent
 * insertions (the oldest is dropped first). Keeps per-message hashing and parsing off hot paths.
 */
const boundedMemo = <K, V>(max: number, compute: (key: K) => V): (key: K) => V => {
  const cache = new Map<K, V>()
  return (key) => {
    const hit = cache.get(key)
    if (hit !== undefined) return hit
    const value = compute(key)
    if (cache.size >= max) cache.delete(cache.keys().next().value!)
    cache.set(key, value)
    return value
  }
}

/** The realm id of a realm name (SHA-256), memoised: every publish and call names one. */
const realmIdOf = boundedMemo(1_024, (name: string): Uint8Array => Realm.id(name))

/** The realm id of a topic, pattern or procedure: SHA-256 of its first segment; zero for system topics. */
const realmOf = (topic: string): Uint8Array =>
  Topic.isSystem(topic) ? Realm.zero() : realmIdOf(topic.slice(0, Math.max(0, topic.indexOf("/"))))

/** The DID of a raw key given as a latin1 string (a cheap map key), memoised. */
const didOfKeyString = boundedMemo(4_096, (key: string): string => Did.fromPublicKeyUnsafe(Uint8Array.from(Buffer.from(key, "latin1"))))

/** A publisher's DID from its raw key: every delivered event names one, and base58 is not cheap. */
const publisherDid = (pk: Uint8Array): string =>
  didOfKeyString(Buffer.from(pk.buffer, pk.byteOffset, pk.byteLength).toString("latin1"))

/**
 * Runs a unary handler as an effect; interrupting it aborts the handler's `signal`. Every call a
 * provider serves runs through here, so the context is built lazily: the `AbortController` only
 * when the handler reads `signal`, the caller's DID only when it reads `caller`.
 */
const runUnary = (
  handler: (args: unknown, ctx: CallContext) => unknown,
  args: Frame.Any,
  procedure: string,
  from: RpcEndpointActor.HandlerContext
): Effect.Effect<Frame.Any, unknown> =>
  Effect.callback<Frame.Any, unknown>((resume) => {
    let controller: AbortController | undefined
    let aborted = false
    const ctx: CallContext = {
      procedure,
      get caller() {
        return from.caller
      },
      get signal() {
        if (controller === undefined) {
          controller = new AbortController()
          // Read only after the call was over: the signal is born aborted.
          if (aborted) controller.abort()
        }
        return controller.signal
      }
    }
    try {
      Promise.resolve(handler(args, ctx)).then(
        (result) => resume(Effect.succeed(result as Frame.Any)),
        (error) => resume(Effect.fail(error))
      )
    } catch (error) {
      resume(Effect.fail(error))
    }
    return Effect.sync(() => {
      aborted = true
      controller?.abort()
    })
  })

/** The grammar check of the API (§7.4), as a typed failure. */
const checkTopic = (topic: string, allowPattern: boolean): Effect.Effect<void, TopicError> =>
  Effect.try({
    try: () => (allowPattern && Topic.isPattern(topic) ? Topic.validatePattern(topic) : Topic.validate(topic)),
    catch: (e) => e instanceof TopicError ? e : new TopicError({ reason: "invalid_structure", detail: String(e) })
  })

const topicReasons: ReadonlyArray<string> = [
  "invalid_segment", "invalid_tier_combination", "invalid_structure", "missing_version_suffix",
  "mismatched_realm_sentinel", "misplaced_org_sentinel", "invalid_version", "invalid_pattern"
]

/** A station's refusal (`err c, r`) as the API error. */
const refusal = (operation: string, code: string, reason: string | undefined): TopicError | Unauthorized | RemoteError => {
  if (code === "invalid_topic" || code === "invalid_pattern") {
    const r = reason !== undefined && topicReasons.includes(reason) ? reason as TopicErrorReason : "invalid_structure"
    return new TopicError({ reason: r, detail: reason ?? code })
  }
  if (code === "unauthorized") return new Unauthorized(reason === undefined ? { operation } : { operation, reason })
  return new RemoteError({ code, message: reason ?? code })
}

/**
 * Builds the routing subtree from its deps: the child for the root, the sinks for the
 * transport and the API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (deps: Deps): Routing => {
  const config = deps.config ?? {}
  const pubsubConfig: PubSubRouterActor.PubSub.Config = { ...PubSub.defaults, ...config.pubsub }
  const rpcConfig: RpcDispatcherActor.Rpc.Config = { ...Rpc.defaults, ...config.rpc }
  const confirmMs = config.confirmTimeoutMs ?? rpcConfig.callTimeoutMs
  const shutdownMs = config.workerShutdownMs ?? 5_000
  const wiring: Wiring = { supervisor: undefined, router: undefined, dispatcher: undefined, session: undefined, endpoint: undefined }

  // ---------------------------------------------------------------------------------------------
  // Station side

  const routerInbox = PubSubRouterActor.inbox()
  const dispatcherInbox = RpcDispatcherActor.inbox()
  const routerJournal = PubSubRouterActor.journal()
  const dispatcherJournal = RpcDispatcherActor.journal()
  const connections = {
    lookup: (did: string) => Effect.suspend(() => deps.transport?.()?.registry.lookup(did) ?? Effect.succeed(undefined)),
    list: Effect.suspend(() => deps.transport?.()?.registry.list ?? Effect.succeed([]))
  }
  const directory: RpcDispatcherActor.Directory = deps.directory ?? {
    putProvider: () => Effect.succeed(0),
    findProviders: () => Effect.succeed([])
  }

  // ---------------------------------------------------------------------------------------------
  // Client side: the SessionRegistry

  let nextSid = 1
  let nextRef = 1
  const subs = new Map<number, {
    /** Replaced as the recorded cursor moves, so a restarted session resumes from it. */
    sub: PubSubSessionActor.Subscription
    readonly pattern: string
    readonly handler: (event: SubscriptionEvent) => unknown
    readonly onGap: ((gap: Gap) => void) | undefined
    readonly onEnd?: ((error: SubscribeError) => void) | undefined
    readonly confirmed: Deferred.Deferred<void, SubscribeError>
  }>()
  const publishes = new Map<number, { readonly topic: string; readonly done: Deferred.Deferred<void, PublishError> }>()
  const handlers = new Map<string, RpcEndpointActor.Handler>()
  const ads = new Map<number, {
    readonly ad: RpcEndpointActor.Advertisement
    readonly done: Deferred.Deferred<void, SubscribeError>
    readonly onEnd: ((error: SubscribeError) => void) | undefined
  }>()
  const calls = new Map<number, { readonly procedure: string; readonly timeoutMs: number; readonly done: Deferred.Deferred<unknown, CallError> }>()
  /**
   * The facade's bound on each unary call (its timeout and a second more), for an endpoint that
   * is down: otherwise the endpoint core's own deadline answers first. One timer table for every
   * call — one sleeping fiber at most, none while no call is pending — instead of a race of two
   * fibers and a sleep per call. Its fiber lives as long as a call is pending, as the race did.
   */
  const callBounds = CoreTimers.make<number>(Scope.makeUnsafe(), (fired) => {
    const c = calls.get(fired.timer)
    if (c === undefined) return
    calls.delete(fired.timer)
    Deferred.doneUnsafe(c.done, Effect.fail(new CallTimeout({ procedure: c.procedure, timeoutMs: c.timeoutMs })))
  }, { stopWhenIdle: true })
  /** Streaming calls and handlers: one pipe per call stream, by its endpoint handle. */
  const pipes = new Map<RpcEndpointActor.Rpc.Handle, Pipe>()
  const pipeIo = (handle: RpcEndpointActor.Rpc.Handle) => ({
    send: (data: unknown) => void alive(wiring.endpoint)?.tell({ _tag: "StreamSend", handle, data: data as Frame.Any }),
    close: () => void alive(wiring.endpoint)?.tell({ _tag: "StreamClose", handle }),
    consumed: (n: number) => void alive(wiring.endpoint)?.tell({ _tag: "StreamConsumed", handle, n })
  })

  /**
   * What each at-least-once subscription's handler already got, by (publisher key, session, seq).
   * §8.5's client dedup lives in the session core, which a crash of the session actor takes with
   * it; the restarted core resumes from the last acknowledged cursor, so events handled but not
   * yet acknowledged come again and are dropped here instead. The station never has more than
   * `aloMaxInFlight` unacknowledged, so twice that many keys cover any replay.
   */
  const aloHandled = new Map<number, Set<string>>()
  const aloHandledMax = 2 * pubsubConfig.aloMaxInFlight
  const seenBefore = (sid: number, envelope: EnvelopeBody): boolean => {
    let handled = aloHandled.get(sid)
    if (handled === undefined) aloHandled.set(sid, handled = new Set())
    const key = `${Bytes.toHex(envelope.pk)}|${Bytes.toHex(envelope.sess)}|${envelope.seq}`
    if (handled.has(key)) return true
    handled.add(key)
    if (handled.size > aloHandledMax) handled.delete(handled.values().next().value!)
    return false
  }

  // Durable at-least-once subscriptions (with a data directory): the sids recorded in the file.
  const cursors = deps.cursors
  /** The recorded (realm, pattern) of each durable subscription running now, by sid. */
  const durable = new Map<number, { readonly realm: string; readonly pattern: string }>()
  const recordAck = (sid: number, cur: number): Effect.Effect<void> => {
    const d = durable.get(sid)
    const s = subs.get(sid)
    if (cursors === undefined || d === undefined || s === undefined) return Effect.void
    s.sub = { ...s.sub, resume: cur }
    return cursors.record({ realm: d.realm, pattern: d.pattern, sid, cur })
  }
  const forgetDurable = (sid: number): Effect.Effect<void> => {
    const d = durable.get(sid)
    if (cursors === undefined || d === undefined) return Effect.void
    durable.delete(sid)
    return cursors.remove(d.realm, d.pattern)
  }
  /** A sid no running subscription and no recorded one uses. */
  const freshSid = (): number => {
    while (subs.has(nextSid) || cursors?.reserved(nextSid) === true) nextSid++
    return nextSid++
  }

  const sessionRegistry: PubSubSessionActor.Registry = {
    subscriptions: () => Array.from(subs.values(), (s) => s.sub),
    ...(cursors === undefined ? {} : { acknowledging: recordAck }),
    deliver: (sid, envelope: EnvelopeBody, cur) =>
      Effect.suspend(() => {
        const s = subs.get(sid)
        if (s === undefined) return Effect.void
        if (cur !== undefined && seenBefore(sid, envelope)) return Effect.void
        const event: SubscriptionEvent = {
          topic: envelope.topic,
          payload: envelope.p,
          publisher: publisherDid(envelope.pk),
          seq: envelope.seq,
          ts: envelope.ts
        }
        return Effect.ignore(Effect.tryPromise(async () => await s.handler(event)))
      }),
    notify: (notice) => {
      switch (notice._tag) {
        case "Subscribed":
          return void (subs.has(notice.sid) && Deferred.doneUnsafe(subs.get(notice.sid)!.confirmed, Effect.void))
        case "SubscribeFailed": {
          const s = subs.get(notice.sid)
          if (s === undefined) return
          subs.delete(notice.sid)
          aloHandled.delete(notice.sid)
          Effect.runFork(forgetDurable(notice.sid))
          const error = refusal("subscribe", notice.code, notice.reason)
          // Refused at once, the caller's promise says so; ended later, `onEnd` does.
          if (!Deferred.doneUnsafe(s.confirmed, Effect.fail(error))) s.onEnd?.(error)
          return
        }
        case "Published": {
          const p = publishes.get(notice.ref)
          publishes.delete(notice.ref)
          return void (p !== undefined && Deferred.doneUnsafe(p.done, Effect.void))
        }
        case "PublishFailed": {
          const p = publishes.get(notice.ref)
          publishes.delete(notice.ref)
          return void (p !== undefined && Deferred.doneUnsafe(p.done, Effect.fail(refusal("publish", notice.code, notice.reason))))
        }
        case "Gap":
          return void subs.get(notice.sid)?.onGap?.({ from: notice.from, to: notice.to, why: notice.why })
      }
    },
    started: (restart) => {
      if (!restart) return
      // Publishes the crashed session held are gone with it (never confirmed, maybe routed).
      for (const [ref, p] of publishes) {
        publishes.delete(ref)
        Deferred.doneUnsafe(p.done, Effect.fail(new RemoteError({ code: "relay_failed", message: "session restarted" })))
      }
    }
  }

  const endpointRegistry: RpcEndpointActor.Registry = {
    advertisements: () => Array.from(ads.values(), (a) => a.ad),
    handlerOf: (proc) => handlers.get(proc),
    complete: (ref, outcome) => {
      const c = calls.get(ref)
      if (c === undefined) return
      calls.delete(ref)
      callBounds.cancelUnsafe(ref)
      const exit = Rpc.Outcome.$match(outcome, {
        Ok: ({ result }) => Effect.succeed(result as unknown),
        CallTimeout: () => Effect.fail(new CallTimeout({ procedure: c.procedure, timeoutMs: c.timeoutMs })),
        NoProvider: () => Effect.fail(new NoProvider({ procedure: c.procedure })),
        Unauthorized: ({ reason }) =>
          Effect.fail(new Unauthorized(reason === undefined ? { operation: "call" } : { operation: "call", reason })),
        RemoteError: ({ code, message, data }) =>
          Effect.fail(new RemoteError({ code, message: message ?? code, ...(data === undefined ? {} : { data }) })),
        Cancelled: () => Effect.fail(new RemoteError({ code: "cancelled", message: "cancelled" }))
      })
      Deferred.doneUnsafe(c.done, exit as Effect.Effect<unknown, CallError>)
      const pipe = pipes.get(`c/${ref}`)
      if (pipe !== undefined) {
        pipes.delete(`c/${ref}`)
        const over = new RemoteError({ code: "call_ended", message: `${c.procedure}: the call is over` })
        if (outcome._tag === "Ok") pipe.finish(over)
        else pipe.fail(Effect.runSync(Effect.flip(exit as Effect.Effect<unknown, CallError>)))
      }
    },
    stream: {
      message: (handle, data) => pipes.get(handle)?.push(data),
      ended: (handle) => pipes.get(handle)?.end(),
      sent: (handle) => pipes.get(handle)?.sent()
    },
    notify: (notice) => {
      switch (notice._tag) {
        case "Advertised":
          return void (ads.has(notice.ref) && Deferred.doneUnsafe(ads.get(notice.ref)!.done, Effect.void))
        case "AdvertiseFailed": {
          const a = ads.get(notice.ref)
          if (a === undefined) return
          ads.delete(notice.ref)
          handlers.delete(a.ad.proc)
          const error = refusal("advertise", notice.code, notice.reason)
          // Refused at once, the caller's promise says so; ended later, `onEnd` does.
          if (!Deferred.doneUnsafe(a.done, Effect.fail(error))) a.onEnd?.(error)
          return
        }
        default:
          return
      }
    },
    started: (restart) => {
      if (!restart) return
      for (const [ref, c] of calls) {
        calls.delete(ref)
        callBounds.cancelUnsafe(ref)
        Deferred.doneUnsafe(c.done, Effect.fail(new RemoteError({ code: "relay_failed", message: "endpoint restarted" })))
      }
      for (const [handle, pipe] of pipes) {
        pipes.delete(handle)
        pipe.fail(new RemoteError({ code: "relay_failed", message: "endpoint restarted" }))
      }
    }
  }

  const station = deps.station ?? (() => Effect.succeed(undefined))
  const identity = deps.identity

  // ---------------------------------------------------------------------------------------------
  // Children

  const spawnAs = <M, S>(behavior: Actor.Behavior<M, S>, set: (ref: Actor.ActorRef<M>) => void) =>
    Effect.tap(Actor.spawn(behavior), (ref) => Effect.sync(() => set(ref)))

  const stationChildren: ReadonlyArray<ChildSpec<Scope.Scope>> = [
    {
      id: "pubsub-router",
      shutdown: shutdownMs,
      start: spawnAs(PubSubRouterActor.behavior({
        publicKey: identity.publicKey,
        config: pubsubConfig,
        connections,
        journal: routerJournal,
        inbox: routerInbox,
        ...(config.replayJournal === undefined ? {} : { replayJournal: config.replayJournal }),
        ...(deps.authorise === undefined ? {} : { authorise: deps.authorise }),
        ...(deps.revocations === undefined ? {} : { revocations: deps.revocations }),
        ...(config.scanIntervalMs === undefined ? {} : { scanIntervalMs: config.scanIntervalMs })
      }), (ref) => void (wiring.router = ref))
    },
    {
      id: "rpc-dispatcher",
      shutdown: shutdownMs,
      start: spawnAs(RpcDispatcherActor.behavior({
        publicKey: identity.publicKey,
        config: rpcConfig,
        connections,
        directory,
        journal: dispatcherJournal,
        inbox: dispatcherInbox,
        ...(config.replayJournal === undefined ? {} : { replayJournal: config.replayJournal }),
        ...(deps.authorise === undefined ? {} : { authorise: deps.authorise }),
        ...(deps.revocations === undefined ? {} : { revocations: deps.revocations }),
        ...(config.seed === undefined ? {} : { seed: config.seed }),
        ...(config.scanIntervalMs === undefined ? {} : { scanIntervalMs: config.scanIntervalMs })
      }), (ref) => void (wiring.dispatcher = ref))
    }
  ]

  const clientChildren: ReadonlyArray<ChildSpec<Scope.Scope>> = [
    {
      id: "pubsub-session",
      shutdown: shutdownMs,
      start: spawnAs(PubSubSessionActor.behavior({
        identity,
        config: pubsubConfig,
        station,
        registry: sessionRegistry,
        ...(deps.capabilities === undefined ? {} : { capabilities: deps.capabilities }),
        ...(config.linkCheckMs === undefined ? {} : { linkCheckMs: config.linkCheckMs })
      }), (ref) => void (wiring.session = ref))
    },
    {
      id: "rpc-endpoint",
      shutdown: shutdownMs,
      start: spawnAs(RpcEndpointActor.behavior({
        identity,
        config: rpcConfig,
        station,
        registry: endpointRegistry,
        ...(deps.capabilities === undefined ? {} : { capabilities: deps.capabilities }),
        ...(deps.dial === undefined ? {} : { dial: deps.dial }),
        ...(deps.checkInvocation === undefined ? {} : { checkInvocation: deps.checkInvocation }),
        ...(config.seed === undefined ? {} : { seed: config.seed }),
        ...(config.linkCheckMs === undefined ? {} : { linkCheckMs: config.linkCheckMs })
      }), (ref) => void (wiring.endpoint = ref))
    }
  ]

  const tree: Effect.Effect<Supervisor.SupervisorRef, ConfigError | StartFailed | NameTaken, Scope.Scope> = Effect.tap(
    Supervisor.start({
      label: "routing",
      strategy: "one_for_one",
      intensity: config.intensity ?? 5,
      periodMs: config.periodMs ?? 10_000,
      children: deps.role === "station" ? stationChildren : clientChildren
    }),
    (ref) => Effect.sync(() => void (wiring.supervisor = ref))
  )
  const child: ChildSpec<Scope.Scope> = { id: "routing", kind: "supervisor", start: tree }

  // Frames arriving before an actor adopted their connection go to the running actor.
  const clientSink = (channel: "pubsub" | "rpc" | "call"): Sink => (inbound) =>
    Effect.sync(() => {
      if (channel === "pubsub") alive(wiring.session)?.tell({ _tag: "Inbound", inbound })
      else alive(wiring.endpoint)?.tell({ _tag: "Inbound", inbound })
    })
  // `resync` on the control stream: one sink per connection channel, so a client's reaches both
  // of its actors (each replays its own half) and a station's reaches its router.
  const clientControl: Sink = (inbound) =>
    Effect.sync(() => {
      alive(wiring.session)?.tell({ _tag: "Inbound", inbound })
      alive(wiring.endpoint)?.tell({ _tag: "Inbound", inbound })
    })
  const sinks = deps.role === "station"
    ? { pubsub: routerInbox.sink, rpc: dispatcherInbox.sink, call: dispatcherInbox.sink, control: routerInbox.sink }
    : { pubsub: clientSink("pubsub"), rpc: clientSink("rpc"), call: clientSink("call"), control: clientControl }

  // ---------------------------------------------------------------------------------------------
  // API (clients)

  const clientOnly = (operation: string) =>
    new RemoteError({ code: "bad_request", message: `${operation} runs on a client node (this routing subtree is a station's)` })

  /** Waits for a confirmation; past `confirmMs` a still-pending request stands (it is replayed on the next link). */
  const confirmed = <E>(done: Deferred.Deferred<void, E>): Effect.Effect<void, E> =>
    Effect.asVoid(Effect.timeoutOption(Deferred.await(done), confirmMs))

  const publish = (topic: string, payload: Frame.Any): Effect.Effect<void, PublishError> =>
    Effect.gen(function*() {
      if (deps.role !== "client") return yield* Effect.fail(clientOnly("publish"))
      yield* checkTopic(topic, false)
      const ref = nextRef++
      const done = Deferred.makeUnsafe<void, PublishError>()
      publishes.set(ref, { topic, done })
      yield* Effect.sync(() => alive(wiring.session)?.tell({ _tag: "Publish", ref, realm: realmOf(topic), topic, payload }))
      const answered = yield* Effect.timeoutOption(Deferred.await(done), confirmMs)
      if (answered._tag === "None") {
        publishes.delete(ref)
        return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: `publish: no answer from the home station within ${confirmMs} ms` }))
      }
    })

  const subscribe = (
    pattern: string,
    handler: (event: SubscriptionEvent) => unknown,
    options?: SubscribeOptions
  ): Effect.Effect<{ readonly unsubscribe: Effect.Effect<void> }, SubscribeError> =>
    Effect.gen(function*() {
      if (deps.role !== "client") return yield* Effect.fail(clientOnly("subscribe"))
      yield* checkTopic(pattern, true)
      const mode: Frame.SubMode = options?.delivery === "at-least-once" ? "alo" : "amo"
      const realm = realmOf(pattern)
      // With a data directory, an `alo` subscription takes the sid and cursor a previous run
      // recorded for its (realm, pattern) (unless one running now holds them) and is recorded.
      const realmHex = Bytes.toHex(realm)
      const recorded = mode === "alo" ? cursors?.lookup(realmHex, pattern) : undefined
      const resumes = recorded !== undefined && !subs.has(recorded.sid)
      const claims = cursors !== undefined && mode === "alo" &&
        (resumes || Array.from(durable.values()).every((d) => d.realm !== realmHex || d.pattern !== pattern))
      const sid = resumes ? recorded.sid : freshSid()
      const sub: PubSubSessionActor.Subscription = resumes && recorded.cur !== undefined
        ? { sid, realm, pattern, mode, resume: recorded.cur }
        : { sid, realm, pattern, mode }
      const done = Deferred.makeUnsafe<void, SubscribeError>()
      subs.set(sid, { sub, pattern, handler, onGap: options?.onGap, onEnd: options?.onEnd, confirmed: done })
      if (claims && cursors !== undefined) {
        durable.set(sid, { realm: realmHex, pattern })
        yield* cursors.record({ realm: realmHex, pattern, sid, cur: resumes ? recorded.cur : undefined })
      }
      yield* Effect.sync(() => alive(wiring.session)?.tell({ _tag: "Subscribe", subscription: sub }))
      yield* confirmed(done)
      const unsubscribe = Effect.suspend(() => {
        aloHandled.delete(sid)
        if (!subs.delete(sid)) return Effect.void
        alive(wiring.session)?.tell({ _tag: "Unsubscribe", sid })
        return forgetDurable(sid)
      })
      return { unsubscribe }
    })

  /** Registers `ad` and its handler at the endpoint, waits for the station, and undoes both on `unadvertise`. */
  const register = (
    ad: RpcEndpointActor.Advertisement,
    handler: RpcEndpointActor.Handler,
    onEnd: ((error: SubscribeError) => void) | undefined
  ): Effect.Effect<{ readonly unadvertise: Effect.Effect<void> }, SubscribeError> =>
    Effect.gen(function*() {
      handlers.set(ad.proc, handler)
      const done = Deferred.makeUnsafe<void, SubscribeError>()
      ads.set(ad.ref, { ad, done, onEnd })
      yield* Effect.sync(() => alive(wiring.endpoint)?.tell({ _tag: "Advertise", advertisement: ad }))
      yield* confirmed(done)
      const unadvertise = Effect.sync(() => {
        if (!ads.delete(ad.ref)) return
        handlers.delete(ad.proc)
        alive(wiring.endpoint)?.tell({ _tag: "Unadvertise", advertisement: { ...ad, ref: nextRef++ } })
      })
      return { unadvertise }
    })

  const advertise = (
    procedure: string,
    handler: (args: unknown, ctx: CallContext) => unknown,
    options?: AdvertiseOptions
  ): Effect.Effect<{ readonly unadvertise: Effect.Effect<void> }, SubscribeError> =>
    Effect.gen(function*() {
      if (deps.role !== "client") return yield* Effect.fail(clientOnly("advertise"))
      yield* checkTopic(procedure, false)
      const ref = nextRef++
      const ad: RpcEndpointActor.Advertisement = { ref, realm: realmOf(procedure), proc: procedure, ...(options?.req === true ? { req: true } : {}) }
      return yield* register(ad, (args, ctx) => runUnary(handler, args, procedure, ctx), options?.onEnd)
    })

  const call = (
    procedure: string,
    args: Frame.Any,
    options?: { readonly timeoutMs?: number; readonly idempotent?: boolean; readonly direct?: string; readonly pin?: Pin }
  ): Effect.Effect<unknown, CallError> => {
    if (deps.role !== "client") return Effect.fail(clientOnly("call"))
    // A plain chain (no generator): every call runs through here.
    return Effect.flatMap(checkTopic(procedure, false), () => {
      const ref = nextRef++
      const timeoutMs = Math.min(options?.timeoutMs ?? rpcConfig.callTimeoutMs, rpcConfig.maxCallTtlMs)
      const done = Deferred.makeUnsafe<unknown, CallError>()
      calls.set(ref, { procedure, timeoutMs, done })
      alive(wiring.endpoint)?.tell({
        _tag: "Call", ref, realm: realmOf(procedure), proc: procedure, args, timeoutMs, idempotent: options?.idempotent ?? false,
        ...(options?.direct === undefined ? {} : { direct: options.direct }),
        ...(options?.pin === undefined ? {} : { pin: options.pin })
      })
      // The core's own timer answers; this bound only covers an endpoint that is down.
      return Effect.andThen(
        Effect.flatMap(Clock.currentTimeMillis, (now) => callBounds.set(ref, now + timeoutMs + 1_000, 0)),
        Effect.onInterrupt(Deferred.await(done), () =>
          Effect.sync(() => {
            callBounds.cancelUnsafe(ref)
            if (calls.delete(ref)) alive(wiring.endpoint)?.tell({ _tag: "CancelCall", ref })
          }))
      )
    })
  }

  const noCheck = (): Error | undefined => undefined

  const advertiseStream = (
    procedure: string,
    mode: StreamMode,
    handler: (args: unknown, stream: StreamChannel, ctx: CallContext) => unknown,
    check: (message: unknown) => Error | undefined = noCheck,
    options?: AdvertiseOptions
  ): Effect.Effect<{ readonly unadvertise: Effect.Effect<void> }, SubscribeError> =>
    Effect.gen(function*() {
      if (deps.role !== "client") return yield* Effect.fail(clientOnly("advertise"))
      yield* checkTopic(procedure, false)
      const ref = nextRef++
      const ad: RpcEndpointActor.Advertisement = {
        ref, realm: realmOf(procedure), proc: procedure, modes: [mode], ...(options?.req === true ? { req: true } : {})
      }
      return yield* register(ad, (args, ctx) =>
        Effect.tryPromise({
          try: async (signal) => {
            const handle = ctx.handle
            const pipe = new Pipe(pipeIo(handle), rpcConfig.streamQueueMax, check)
            pipes.set(handle, pipe)
            const aborted = () => pipe.fail(new RemoteError({ code: "cancelled", message: `${procedure}: the call was cancelled or ran out of time` }))
            signal.addEventListener("abort", aborted)
            const closedError = () => new RemoteError({ code: "call_ended", message: `${procedure}: the stream is closed` })
            const channel: StreamChannel = {
              mode,
              send: (message) => pipe.send(message, closedError),
              [Symbol.asyncIterator]: () => pipe.iterator()
            }
            try {
              const result = await handler(args, channel, { procedure, caller: ctx.caller, signal })
              // Every message the handler sent goes out, then `s.end`, then the reply (§9.5).
              await pipe.drained()
              pipe.close()
              return result as Frame.Any
            } finally {
              signal.removeEventListener("abort", aborted)
              if (pipes.get(handle) === pipe) pipes.delete(handle)
            }
          },
          catch: (e) => e
        }), options?.onEnd)
    })

  const callStream = (
    procedure: string,
    args: Frame.Any,
    options: { readonly mode: StreamMode; readonly timeoutMs?: number; readonly direct?: string; readonly pin?: Pin },
    check: (message: unknown) => Error | undefined = noCheck
  ): Effect.Effect<StreamCall, CallError> =>
    Effect.gen(function*() {
      if (deps.role !== "client") return yield* Effect.fail(clientOnly("call"))
      yield* checkTopic(procedure, false)
      const ref = nextRef++
      const handle: RpcEndpointActor.Rpc.Handle = `c/${ref}`
      const timeoutMs = Math.min(options.timeoutMs ?? rpcConfig.callTimeoutMs, rpcConfig.maxCallTtlMs)
      const done = Deferred.makeUnsafe<unknown, CallError>()
      calls.set(ref, { procedure, timeoutMs, done })
      const pipe = new Pipe(pipeIo(handle), rpcConfig.streamQueueMax, check)
      pipes.set(handle, pipe)
      yield* Effect.sync(() =>
        alive(wiring.endpoint)?.tell({
          _tag: "Call", ref, realm: realmOf(procedure), proc: procedure, args, timeoutMs, idempotent: false, mode: options.mode,
          ...(options.direct === undefined ? {} : { direct: options.direct }),
          ...(options.pin === undefined ? {} : { pin: options.pin })
        }))
      // The core's own timer answers; this bound only covers an endpoint that is down.
      const result = new Promise<unknown>((resolve, reject) => {
        Effect.runFork(Effect.gen(function*() {
          const answer = yield* Effect.result(Effect.timeoutOption(Deferred.await(done), timeoutMs + 1_000))
          if (answer._tag === "Failure") return reject(answer.failure)
          if (answer.success._tag === "Some") return resolve(answer.success.value)
          calls.delete(ref)
          const timedOut = new CallTimeout({ procedure, timeoutMs })
          pipes.delete(handle)
          pipe.fail(timedOut)
          reject(timedOut)
        }))
      })
      result.catch(() => undefined) // observed through `result`; never an unhandled rejection
      const closedError = () => new RemoteError({ code: "call_ended", message: `${procedure}: the stream is closed` })
      const streamCall: StreamCall = {
        procedure,
        mode: options.mode,
        send: (message) => pipe.send(message, closedError),
        end: async () => pipe.close(),
        result,
        cancel: async () => {
          if (!calls.has(ref)) return
          alive(wiring.endpoint)?.tell({ _tag: "CancelCall", ref })
        },
        [Symbol.asyncIterator]: () => pipe.iterator()
      }
      return streamCall
    })

  const routing: Routing = {
    child,
    sinks,
    publish,
    subscribe,
    advertise,
    call,
    advertiseStream,
    callStream,
    processes: () => ({
      supervisor: wiring.supervisor,
      router: alive(wiring.router),
      dispatcher: alive(wiring.dispatcher),
      session: alive(wiring.session),
      endpoint: alive(wiring.endpoint)
    }),
    stats: Effect.gen(function*() {
      return {
        router: yield* PubSubRouterActor.stats(alive(wiring.router)),
        dispatcher: yield* RpcDispatcherActor.stats(alive(wiring.dispatcher)),
        session: yield* PubSubSessionActor.stats(alive(wiring.session)),
        endpoint: yield* RpcEndpointActor.stats(alive(wiring.endpoint))
      }
    })
  }
  trees.set(routing, tree)
  return routing
}

const trees = new WeakMap<Routing, Effect.Effect<Supervisor.SupervisorRef, ConfigError | StartFailed | NameTaken, Scope.Scope>>()

/**
 * Builds and starts the subtree in the current scope (tests, tools); a node nests
 * `make(deps).child` under its root instead.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  deps: Deps
): Effect.Effect<Routing & { readonly supervisor: Supervisor.SupervisorRef }, ConfigError | StartFailed | NameTaken, Scope.Scope> =>
  Effect.gen(function*() {
    const routing = make(deps)
    const supervisor = yield* trees.get(routing)!
    return { ...routing, supervisor }
  })

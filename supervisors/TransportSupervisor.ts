/**
 * The transport subtree of a node (PROTOCOL.md §15): connections as supervised actors.
 *
 * ```
 * TransportSupervisor (one_for_one, transportIntensity / transportPeriodMs)
 * ├─ registry      ConnectionRegistryActor   permanent   connections by DID, admission, duplicates, bans, dials
 * ├─ connections   simple_one_for_one        permanent   ConnectionActor × n, temporary (never restarted)
 * └─ listener      ListenerActor             permanent   stations only: accept, admit, start a connection
 * ```
 *
 * Connections are `temporary`: an accepted connection cannot be re-accepted and a dialled one
 * belongs to whoever needs it, so the relationship's owner (a station link, the station dialer,
 * a fetch) redials, through the `Dialer` below: one dial per peer at a time, jittered
 * exponential backoff from `reconnectMinMs` to `reconnectMaxMs`.
 *
 * What a restart rebuilds: the registry re-learns the live connections from the `connections`
 * supervisor; a restarted `connections` supervisor starts empty (its connections died with it
 * and their owners redial); a restarted listener listens again on the same socket.
 *
 * Siblings reach each other through `wiring`, a small table of the current refs that each
 * child's start effect updates, so a restarted child is found by the others at once.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as ConnectionActor from "../actors/ConnectionActor.ts"
import * as ConnectionRegistryActor from "../actors/ConnectionRegistryActor.ts"
import * as ListenerActor from "../actors/ListenerActor.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as Backoff from "../src/runtime/Backoff.ts"
import type { ChildSpec } from "../src/runtime/ChildSpec.ts"
import type { ConfigError, NameTaken, StartFailed } from "../src/runtime/Errors.ts"
import type { Process } from "../src/runtime/Process.ts"
import * as Supervisor from "../src/runtime/Supervisor.ts"

type Handle = ConnectionActor.Handle

/**
 * Redial knobs (PROTOCOL.md §16 "links").
 *
 * @since 0.1.0
 * @category models
 */
export interface DialerConfig {
  /** Delay before the first redial of a streak. @default 250 */
  readonly reconnectMinMs: number
  /** Largest delay between redials (before jitter). @default 30_000 */
  readonly reconnectMaxMs: number
  /** Growth per consecutive failure. @default 2 */
  readonly factor: number
  /** Relative spread of each delay, 0..1 (±). Spreads the redials of many clients. @default 0.2 */
  readonly jitter: number
  /** A link that stayed up this long starts a fresh streak at `reconnectMinMs`. @default 10_000 */
  readonly healthyAfterMs: number
  /** Give up one dial (QUIC + TLS) after this long. @default 10_000 (handshakeTimeoutMs) */
  readonly dialTimeoutMs: number
}

/**
 * The §16 redial defaults for client links (stations dialling stations use
 * `stationDialBackoffMinMs` 1 000 → `stationDialBackoffMaxMs` 60 000).
 *
 * @since 0.1.0
 * @category constants
 */
export const dialerDefaults: DialerConfig = {
  reconnectMinMs: 250,
  reconnectMaxMs: 30_000,
  factor: 2,
  jitter: 0.2,
  healthyAfterMs: 10_000,
  dialTimeoutMs: 10_000
}

/**
 * The delay before redial number `attempt` (1-based): `min(max, min × factor^(attempt−1))`,
 * spread by ±`jitter`; `random` is uniform in [0, 1). Pure.
 *
 * @since 0.1.0
 * @category dialing
 */
export const redialDelayMs = (config: DialerConfig, attempt: number, random: number): number =>
  Backoff.next(
    {
      initialMs: config.reconnectMinMs,
      maxMs: config.reconnectMaxMs,
      factor: config.factor,
      jitter: config.jitter,
      resetAfterMs: Number.MAX_SAFE_INTEGER
    },
    { attempts: Math.max(0, attempt - 1), startedAt: 0 },
    0,
    random
  )[0]

/**
 * The transport subtree could not take the request: it is stopped or restarting.
 *
 * @since 0.1.0
 * @category errors
 */
export class DialerUnavailable extends Data.TaggedError("DialerUnavailable")<{ readonly reason: string }> {}

/**
 * The peer is banned (PROTOCOL.md §3.7): a dial to a DID known to be banned fails at once,
 * without touching the network, and a connection whose authenticated peer turns out to be
 * banned is closed `banned`. Callers fail over to another peer instead of redialling this one.
 *
 * @since 0.1.0
 * @category errors
 */
export class PeerBanned extends Data.TaggedError("PeerBanned")<{ readonly peerDid: string; readonly address: string }> {}

/**
 * Why a dial produced no ready connection.
 *
 * @since 0.1.0
 * @category errors
 */
export type DialFailure = ConnectionActor.DialError | ConnectionActor.ConnectionClosed | DialerUnavailable | PeerBanned

/**
 * Options of one dial.
 *
 * @since 0.1.0
 * @category models
 */
export interface DialOptions {
  /** The peer's DID (overrides a `#did:key:…` fragment). */
  readonly expectedDid?: string
}

/**
 * What `maintain` reports, for logs and tests.
 *
 * @since 0.1.0
 * @category models
 */
export type LinkEvent =
  | { readonly _tag: "Dialing"; readonly attempt: number }
  | { readonly _tag: "Up"; readonly handle: Handle }
  | { readonly _tag: "Down"; readonly status: ConnectionActor.Status }
  | { readonly _tag: "Failed"; readonly error: DialFailure }
  | { readonly _tag: "Waiting"; readonly delayMs: number }

/**
 * Outbound connections for the owners of links (station links, the station dialer, fetches).
 *
 * @since 0.1.0
 * @category models
 */
export interface Dialer {
  /**
   * One dial: the ready connection to the peer if there is one, else joins the dial in flight
   * to it, else dials, starts a connection actor and waits for both hellos. Fails `PeerBanned`
   * at once when the peer's DID (given or pinned in the address) is banned, and when the peer
   * that answered turns out to be banned.
   */
  readonly dial: (address: string, options?: DialOptions) => Effect.Effect<Handle, DialFailure>
  /** Dials until it succeeds (or `maxAttempts` fail), waiting a jittered backoff between tries. */
  readonly dialWithBackoff: (
    address: string,
    options?: DialOptions & { readonly maxAttempts?: number }
  ) => Effect.Effect<Handle, DialFailure>
  /**
   * Keeps a link up for as long as it runs: dial (with backoff), run `use(handle)` while the
   * connection lives, and when it ends redial after a backoff (reset once a link stayed up
   * `healthyAfterMs`). Fork it; interrupt it to stop.
   */
  readonly maintain: (
    address: string,
    options: DialOptions,
    use: (handle: Handle) => Effect.Effect<void>,
    onEvent?: (event: LinkEvent) => void
  ) => Effect.Effect<never>
}

/**
 * Options of the transport subtree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The connection core's knobs (`ConnectionActor.config(role, overrides)`). */
  readonly connection: ConnectionActor.Options["config"]
  /** Listen for inbound connections. @default true for stations, false for clients */
  readonly listen?: boolean
  /** Admission limits. @default ConnectionRegistryActor.defaultLimits (§16) */
  readonly limits?: Partial<ConnectionRegistryActor.Limits>
  /** Where the registry's bans outlive it (a data directory, §15.2). @default none: in memory */
  readonly bans?: ConnectionRegistryActor.BanStore
  /** Codec limits of every connection. */
  readonly codec?: ConnectionActor.Options["codec"]
  /** Node-wide sinks by channel: the subsystems that take lane traffic of every connection. */
  readonly sinks?: ConnectionActor.Options["sinks"]
  /** Every connection notice (logs, metrics). */
  readonly onNotice?: ConnectionActor.Options["onNotice"]
  /** Every refused inbound connection (logs, tests). */
  readonly onRefused?: ListenerActor.Options["onRefused"]
  /** Redial knobs. */
  readonly dialer?: Partial<DialerConfig>
  /** Restarts allowed per period before escalating. @default 10 (transportIntensity) */
  readonly intensity?: number
  /** @default 10_000 (transportPeriodMs) */
  readonly periodMs?: number
  /** Time a connection gets to say goodbye at shutdown. @default 2_000 (connectionShutdownMs) */
  readonly connectionShutdownMs?: number
  /** @default 5_000 (workerShutdownMs) */
  readonly workerShutdownMs?: number
}

/**
 * A running transport subtree.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportTree {
  readonly supervisor: Supervisor.SupervisorRef
  readonly dialer: Dialer
  readonly registry: ConnectionRegistryActor.Client
  /** The listener's bound address (waits until it listens). */
  readonly listenAddress: Effect.Effect<string>
  /** The live connections. */
  readonly connections: Effect.Effect<ReadonlyArray<Handle>>
}

interface Wiring {
  registry: Actor.ActorRef<ConnectionRegistryActor.Msg> | undefined
  connections: Supervisor.DynamicSupervisorRef<ConnectionActor.Options> | undefined
  readonly address: Deferred.Deferred<string>
}

const pinnedDid = (address: string): string | undefined => /#(did:key:z[1-9A-HJ-NP-Za-km-z]+)$/.exec(address)?.[1]

/**
 * Starts the transport subtree in the current scope (it needs the node's `Transport`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  options: Options
): Effect.Effect<TransportTree, ConfigError | StartFailed | NameTaken, ConnectionActor.TransportService | Scope.Scope> =>
  Effect.gen(function*() {
    const core = options.connection
    const limits: ConnectionRegistryActor.Limits = { ...ConnectionRegistryActor.defaultLimits, ...options.limits }
    const dialerConfig: DialerConfig = { ...dialerDefaults, dialTimeoutMs: core.handshakeTimeoutMs, ...options.dialer }
    const localDid = yield* ConnectionActor.localDid
    const transport = yield* Effect.service(ConnectionActor.TransportService)
    const wiring: Wiring = { registry: undefined, connections: undefined, address: Deferred.makeUnsafe<string>() }
    const registry = ConnectionRegistryActor.client(() => wiring.registry)

    const live: Effect.Effect<ReadonlyArray<readonly [Process, Handle]>> = Effect.suspend(() => {
      const connections = wiring.connections
      if (connections === undefined) return Effect.succeed([])
      return Effect.map(
        Effect.orElseSucceed(connections.whichChildren, () => []),
        (children) =>
          children.flatMap((child) => {
            const handle = child.process === undefined ? undefined : ConnectionActor.handleOf(child.process)
            return handle === undefined || child.process === undefined ? [] : [[child.process, handle] as const]
          })
      )
    })

    const optionsFor = (connection: ConnectionActor.TransportConnection, initialScore: number): ConnectionActor.Options => ({
      connection,
      config: core,
      initialScore,
      ...(options.codec === undefined ? {} : { codec: options.codec }),
      ...(options.sinks === undefined ? {} : { sinks: options.sinks }),
      onReady: (status, handle) => registry.ready(status, handle),
      onNotice: (notice, status) => {
        registry.noticed(connection.peerDid, notice, status)
        options.onNotice?.(notice, status)
      }
    })

    /** Starts a connection actor for an authenticated connection and registers it. */
    const startConnection = (connection: ConnectionActor.TransportConnection): Effect.Effect<Handle, DialerUnavailable> =>
      Effect.gen(function*() {
        const connections = wiring.connections
        if (connections === undefined) {
          yield* Effect.forkDetach(connection.close("going_away", "transport restarting"))
          return yield* Effect.fail(new DialerUnavailable({ reason: "connections supervisor is restarting" }))
        }
        const score = yield* registry.scoreOf(connection.peerDid)
        const started = yield* Effect.result(connections.startChild(optionsFor(connection, score)))
        if (Result.isFailure(started)) {
          yield* Effect.forkDetach(connection.close("going_away", "could not start"))
          return yield* Effect.fail(new DialerUnavailable({ reason: started.failure._tag }))
        }
        const handle = ConnectionActor.handleOf(started.success)!
        yield* registry.attach(started.success, handle)
        return handle
      })

    const children: Array<ChildSpec<any>> = [
      {
        id: "registry",
        start: Effect.tap(
          Actor.spawn(ConnectionRegistryActor.behavior({
            localDid,
            localRole: core.role,
            limits,
            score: core,
            rebuild: live,
            ...(options.bans === undefined ? {} : { bans: options.bans })
          })),
          (ref) => Effect.sync(() => void (wiring.registry = ref))
        ),
        shutdown: options.workerShutdownMs ?? 5_000
      },
      {
        id: "connections",
        kind: "supervisor",
        start: Effect.tap(
          Supervisor.startDynamic<ConnectionActor.Options, Scope.Scope>({
            label: "connections",
            strategy: "simple_one_for_one",
            intensity: options.intensity ?? 10,
            periodMs: options.periodMs ?? 10_000,
            maxChildren: limits.maxConnections,
            template: {
              label: "connection",
              restart: "temporary",
              shutdown: options.connectionShutdownMs ?? 2_000,
              start: (o) => ConnectionActor.start(o)
            }
          }),
          (ref) => Effect.sync(() => void (wiring.connections = ref))
        )
      }
    ]
    if (options.listen ?? core.role === "station") {
      children.push({
        id: "listener",
        start: Actor.spawn(ListenerActor.behavior({
          admit: (c) => registry.admit({ id: c.id, did: c.peerDid, remoteAddress: c.remoteAddress }),
          start: (c) => startConnection(c),
          onListening: (address) => void Deferred.doneUnsafe(wiring.address, Effect.succeed(address)),
          ...(options.onRefused === undefined ? {} : { onRefused: options.onRefused })
        })),
        shutdown: options.workerShutdownMs ?? 5_000
      })
    }

    const supervisor = yield* Supervisor.start({
      label: "transport",
      strategy: "one_for_one",
      intensity: options.intensity ?? 10,
      periodMs: options.periodMs ?? 10_000,
      children
    })

    const attempt = (address: string, did: string | undefined) =>
      Effect.gen(function*() {
        const connection = yield* ConnectionActor.dial(address, {
          ...(did === undefined ? {} : { expectedDid: did }),
          timeoutMs: dialerConfig.dialTimeoutMs
        })
        // An unpinned address names no DID: the certificate just told us who answered. Refuse a
        // banned peer here, as the listener refuses a banned DID before any actor starts.
        if (yield* registry.isBanned(connection.peerDid)) {
          yield* Effect.forkDetach(connection.close("banned", "peer is banned"))
          return yield* Effect.fail(new PeerBanned({ peerDid: connection.peerDid, address }))
        }
        yield* registry.addOutbound(connection.id, connection.peerDid)
        const handle = yield* startConnection(connection)
        const ready = yield* Effect.result(handle.ready)
        if (Result.isSuccess(ready)) return handle
        // Banned while handshaking: the registry closed it `banned` when it became ready.
        if (ready.failure.code === "banned" && ready.failure.by === "local") {
          return yield* Effect.fail(new PeerBanned({ peerDid: connection.peerDid, address }))
        }
        // Lost the duplicate rule to a connection that already exists: use that one.
        if (ready.failure.code === "replaced") {
          const existing = yield* registry.lookup(connection.peerDid)
          if (existing !== undefined) return existing
        }
        return yield* Effect.fail(ready.failure)
      })

    const dial = (address: string, dialOptions?: DialOptions): Effect.Effect<Handle, DialFailure> =>
      Effect.gen(function*() {
        const did = dialOptions?.expectedDid ?? pinnedDid(address)
        if (did !== undefined && (yield* registry.isBanned(did))) {
          return yield* Effect.fail(new PeerBanned({ peerDid: did, address }))
        }
        if (did !== undefined) {
          const existing = yield* registry.lookup(did)
          if (existing !== undefined) return existing
        }
        const key = did ?? address
        const ticket = yield* registry.beginDial(key)
        if (!ticket.lead) return yield* (Deferred.await(ticket.wait) as Effect.Effect<Handle, DialFailure>)
        return yield* Effect.onExit(attempt(address, did), (exit) => registry.endDial(key, exit))
      }).pipe(Effect.provideService(ConnectionActor.TransportService, transport))

    const backoff = (attempt: number) => Effect.map(Random.next, (r) => redialDelayMs(dialerConfig, attempt, r))

    const dialWithBackoff = (
      address: string,
      dialOptions?: DialOptions & { readonly maxAttempts?: number }
    ): Effect.Effect<Handle, DialFailure> =>
      Effect.gen(function*() {
        for (let attempt = 1;; attempt++) {
          const result = yield* Effect.result(dial(address, dialOptions))
          if (Result.isSuccess(result)) return result.success
          if (dialOptions?.maxAttempts !== undefined && attempt >= dialOptions.maxAttempts) {
            return yield* Effect.fail(result.failure)
          }
          yield* Effect.sleep(yield* backoff(attempt))
        }
      })

    const maintain = (
      address: string,
      dialOptions: DialOptions,
      use: (handle: Handle) => Effect.Effect<void>,
      onEvent?: (event: LinkEvent) => void
    ): Effect.Effect<never> =>
      Effect.gen(function*() {
        let failures = 0
        while (true) {
          onEvent?.({ _tag: "Dialing", attempt: failures + 1 })
          const result = yield* Effect.result(dial(address, dialOptions))
          if (Result.isSuccess(result)) {
            const handle = result.success
            const upAt = yield* Clock.currentTimeMillis
            onEvent?.({ _tag: "Up", handle })
            const status = yield* Effect.raceFirst(Effect.andThen(use(handle), Effect.never), handle.closed)
            onEvent?.({ _tag: "Down", status })
            if ((yield* Clock.currentTimeMillis) - upAt >= dialerConfig.healthyAfterMs) failures = 0
          } else {
            onEvent?.({ _tag: "Failed", error: result.failure })
          }
          failures++
          const delayMs = yield* backoff(failures)
          onEvent?.({ _tag: "Waiting", delayMs })
          yield* Effect.sleep(delayMs)
        }
      })

    return {
      supervisor,
      dialer: { dial, dialWithBackoff, maintain },
      registry,
      listenAddress: Deferred.await(wiring.address),
      connections: Effect.map(live, (pairs) => pairs.map(([, handle]) => handle))
    }
  })

/**
 * The membership subtree of a station (PROTOCOL.md §11, §15): SWIM with Lifeguard and the links
 * between stations.
 *
 * ```
 * MembershipSupervisor (one_for_one, membershipIntensity / membershipPeriodMs = 5 / 10 000)
 * ├─ prober   SwimProberActor      permanent   the SWIM core: probes, claims, verdicts
 * └─ dialer   StationDialerActor   permanent   seeds, a link to every alive member, rejoin on collapse
 * ```
 *
 * **How the node wires it.** Clients have no membership; a station builds it before its tree:
 *
 * ```ts
 * const wiring: { transport: TransportTree | undefined } = { transport: undefined }
 * const membership = MembershipSupervisor.make({
 *   identity,                                   // the node's Identity
 *   transport: () => wiring.transport,          // read at each use: the transport restarts
 *   store: SwimProberActor.fileStore(dataDir),  // or memoryStore() without a data directory
 *   addresses: Effect.suspend(() => wiring.transport === undefined
 *     ? Effect.succeed([]) : Effect.map(wiring.transport.listenAddress, (a) => [a])),
 *   onVerdict: (v) => dht.removeContact(v.did), // the DHT drops a dead or departed station
 *   config: { seeds, swim: SwimProberActor.Swim.lan }
 * })
 * // 1. the transport takes the swim sink, so no frame is lost before the prober subscribes:
 * //    TransportSupervisor.start({ ..., sinks: { swim: membership.swimSink } }), saved in wiring
 * // 2. the root (rest_for_one) lists `membership.child` right after the transport child
 * // 3. the DHT and the node subscribe to `membership.subscribe(listener)` (MemberAlive,
 * //    MemberSuspect, MemberDead, MemberLeft, each with the member's DID)
 * ```
 *
 * `start(deps)` builds it and starts the subtree directly in the current scope, for a node (or
 * a test) that does not nest it under a root supervisor; the transport wiring is the same.
 *
 * **Restarts.** One-for-one: a crashed prober restarts alone, reloads its incarnation (+1) from
 * the store and syncs with every station it is still connected to, so the table is rebuilt
 * within one round trip; the subscribers, the inbox and the dialer's links are untouched. A
 * crashed dialer restarts alone and rebuilds its links from the prober's table and the seeds.
 * Beyond `intensity` restarts in `periodMs` the subtree escalates to the root, which (rest for
 * one) restarts it and everything after it. Shutdown is in reverse order: the dialer stops its
 * links, then the prober gossips its leave (bounded by `leaveTimeoutMs`).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as StationDialerActor from "../actors/StationDialerActor.ts"
import * as SwimProberActor from "../actors/SwimProberActor.ts"
import * as Actor from "../src/runtime/Actor.ts"
import type { ChildSpec } from "../src/runtime/ChildSpec.ts"
import type { ConfigError, NameTaken, StartFailed } from "../src/runtime/Errors.ts"
import * as Supervisor from "../src/runtime/Supervisor.ts"

type Handle = SwimProberActor.Handle

/**
 * What membership needs of the transport subtree; a `TransportTree` fits.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportPort {
  readonly registry: {
    readonly lookup: (did: string) => Effect.Effect<Handle | undefined>
    readonly list: Effect.Effect<ReadonlyArray<Handle>>
  }
  readonly dialer: {
    readonly dial: (address: string, options?: { readonly expectedDid?: string }) => Effect.Effect<Handle, unknown>
  }
}

/**
 * Knobs of the membership subtree. Durations in ms.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /** The SWIM core's knobs (`Swim.lan` = the §16 defaults, `Swim.wan`, `Swim.local` for tests). @default Swim.lan */
  readonly swim?: SwimProberActor.Swim.Config
  /** Stations to join through (`quic://host:port`, optionally `#did:key:…`). @default [] (the first station) */
  readonly seeds?: ReadonlyArray<string>
  /** §2.4 proof of work required of claim subjects and signers; 0 disables. @default 8 (stationPowBits) */
  readonly stationPowBits?: number
  /** Member links the dialer keeps at most (§11.5 wants one per alive member). @default 1_024 */
  readonly maxLinks?: number
  /** First station redial delay. @default 1_000 (stationDialBackoffMinMs) */
  readonly stationDialBackoffMinMs?: number
  /** Largest station redial delay. @default 60_000 (stationDialBackoffMaxMs) */
  readonly stationDialBackoffMaxMs?: number
  /** Gossip a leave claim on a graceful stop. @default true */
  readonly leaveOnShutdown?: boolean
  /** Longest wait for the leave pings. @default 1_000 */
  readonly leaveTimeoutMs?: number
  /** Restarts allowed per period before escalating. @default 5 (membershipIntensity) */
  readonly intensity?: number
  /** @default 10_000 (membershipPeriodMs) */
  readonly periodMs?: number
  /** @default 5_000 (workerShutdownMs) */
  readonly workerShutdownMs?: number
  /** Seed of the SWIM core's PRNG (tests). @default drawn from `Random` at each prober start */
  readonly seed?: number
}

/**
 * Everything the subtree is built from; nothing is global.
 *
 * @since 0.1.0
 * @category models
 */
export interface Deps {
  /** The node's key and DID (an `Identity` fits). */
  readonly identity: SwimProberActor.Signer & { readonly did: string }
  /** The transport subtree now, or `undefined` while it is down (read at each use). */
  readonly transport: () => TransportPort | undefined
  /** Where the own incarnation is persisted (`SwimProberActor.fileStore(dataDir)` or `memoryStore()`). */
  readonly store: SwimProberActor.IncarnationStore
  /** Our listen addresses, read at each prober start (the alive claim carries them). */
  readonly addresses: Effect.Effect<ReadonlyArray<string>>
  /** A dead or departed station (§11.6): the node removes it from the DHT routing table. */
  readonly onVerdict?: (verdict: SwimProberActor.MemberChange) => Effect.Effect<void>
  readonly config?: Config
}

/**
 * The membership subtree, built but not necessarily started.
 *
 * @since 0.1.0
 * @category models
 */
export interface Membership {
  /** The child for the node's root supervisor: id `membership`, a supervisor, permanent. */
  readonly child: ChildSpec<Scope.Scope>
  /** Give it to the transport as the node-wide `swim` sink (`sinks: { swim }`). */
  readonly swimSink: SwimProberActor.Sink
  /** Membership changes, across prober restarts; returns the unsubscribe. */
  readonly subscribe: (listener: (change: SwimProberActor.MemberChange) => void) => () => void
  /** The prober's view (self, members, counters); `undefined` while it is down. */
  readonly view: Effect.Effect<SwimProberActor.View | undefined>
  /** Asks the prober to sync with these stations (by DID). */
  readonly join: (dids: ReadonlyArray<string>) => Effect.Effect<void>
  /** Our addresses changed: a new alive claim at incarnation + 1. */
  readonly updateAddresses: (addrs: ReadonlyArray<string>) => Effect.Effect<void>
  /** The running processes, for tests and status (they change across restarts). */
  readonly processes: () => {
    readonly supervisor: Supervisor.SupervisorRef | undefined
    readonly prober: Actor.ActorRef<SwimProberActor.Msg> | undefined
    readonly dialer: Actor.ActorRef<StationDialerActor.Msg> | undefined
  }
}

/**
 * The transport is down (restarting): nothing can be dialled now.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportDown extends Data.TaggedError("TransportDown")<{}> {}

interface Wiring {
  supervisor: Supervisor.SupervisorRef | undefined
  prober: Actor.ActorRef<SwimProberActor.Msg> | undefined
  dialer: Actor.ActorRef<StationDialerActor.Msg> | undefined
}

/**
 * Builds the membership subtree from its deps: the child spec for the root, the sink for the
 * transport, and the subscription to membership changes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (deps: Deps): Membership => {
  const config = deps.config ?? {}
  const swim = config.swim ?? SwimProberActor.Swim.lan
  const wiring: Wiring = { supervisor: undefined, prober: undefined, dialer: undefined }
  const inbox = SwimProberActor.inbox()
  const changes = SwimProberActor.changes()

  const connections: SwimProberActor.Connections = {
    lookup: (did) => Effect.suspend(() => deps.transport()?.registry.lookup(did) ?? Effect.succeed(undefined)),
    list: Effect.suspend(() => deps.transport()?.registry.list ?? Effect.succeed([]))
  }
  const dial = (address: string, options: { readonly expectedDid?: string }): Effect.Effect<Handle, unknown> =>
    Effect.suspend(() => {
      const transport = deps.transport()
      return transport === undefined ? Effect.fail(new TransportDown()) : transport.dialer.dial(address, options)
    })
  const tell = (message: SwimProberActor.Msg): Effect.Effect<void> =>
    Effect.suspend(() => wiring.prober === undefined ? Effect.void : Effect.ignore(wiring.prober.cast(message)))
  const view = Effect.suspend(() => SwimProberActor.view(wiring.prober))
  const join = (dids: ReadonlyArray<string>) => tell({ _tag: "Join", dids })
  const shutdownMs = config.workerShutdownMs ?? 5_000

  const prober: ChildSpec<Scope.Scope> = {
    id: "prober",
    start: Effect.tap(
      Actor.spawn(SwimProberActor.behavior({
        identity: deps.identity,
        config: swim,
        stationPowBits: config.stationPowBits ?? 8,
        addresses: deps.addresses,
        connections,
        store: deps.store,
        changes,
        inbox,
        ...(deps.onVerdict === undefined ? {} : { onVerdict: deps.onVerdict }),
        ...(config.leaveOnShutdown === undefined ? {} : { leaveOnShutdown: config.leaveOnShutdown }),
        ...(config.leaveTimeoutMs === undefined ? {} : { leaveTimeoutMs: config.leaveTimeoutMs }),
        ...(config.seed === undefined ? {} : { seed: config.seed })
      })),
      (ref) => Effect.sync(() => void (wiring.prober = ref))
    ),
    shutdown: Math.max(shutdownMs, (config.leaveTimeoutMs ?? 1_000) + 500)
  }

  const dialer: ChildSpec<Scope.Scope> = {
    id: "dialer",
    start: Effect.tap(
      Effect.flatMap(deps.addresses, (selfAddresses) =>
        Actor.spawn(StationDialerActor.behavior({
          selfDid: deps.identity.did,
          seeds: config.seeds ?? [],
          selfAddresses,
          dial,
          subscribe: changes.subscribe,
          join,
          members: Effect.map(view, (v) =>
            (v?.members ?? []).filter((m) => m.status !== "dead").map((m) => ({ did: m.did, addrs: m.addrs }))),
          ...(config.maxLinks === undefined ? {} : { maxLinks: config.maxLinks }),
          ...(config.stationDialBackoffMinMs === undefined ? {} : { backoffMinMs: config.stationDialBackoffMinMs }),
          ...(config.stationDialBackoffMaxMs === undefined ? {} : { backoffMaxMs: config.stationDialBackoffMaxMs })
        }))),
      (ref) => Effect.sync(() => void (wiring.dialer = ref))
    ),
    shutdown: shutdownMs
  }

  const tree = Effect.tap(
    Supervisor.start({
      label: "membership",
      strategy: "one_for_one",
      intensity: config.intensity ?? 5,
      periodMs: config.periodMs ?? 10_000,
      children: [prober, dialer]
    }),
    (ref) => Effect.sync(() => void (wiring.supervisor = ref))
  )
  const child: ChildSpec<Scope.Scope> = { id: "membership", kind: "supervisor", start: tree }

  const membership: Membership = {
    child,
    swimSink: inbox.sink,
    subscribe: changes.subscribe,
    view,
    join,
    updateAddresses: (addrs) => tell({ _tag: "UpdateAddresses", addrs }),
    processes: () => ({
      supervisor: wiring.supervisor,
      prober: wiring.prober?.isAlive() === true ? wiring.prober : undefined,
      dialer: wiring.dialer?.isAlive() === true ? wiring.dialer : undefined
    })
  }
  trees.set(membership, tree)
  return membership
}

const trees = new WeakMap<
  Membership,
  Effect.Effect<Supervisor.SupervisorRef, ConfigError | StartFailed | NameTaken, Scope.Scope>
>()

/**
 * Builds and starts the membership subtree in the current scope (closing the scope stops it,
 * with the leave gossiped). For a node that nests it under its root, use `make(deps).child`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  deps: Deps
): Effect.Effect<Membership & { readonly supervisor: Supervisor.SupervisorRef }, ConfigError | StartFailed | NameTaken, Scope.Scope> =>
  Effect.gen(function*() {
    const membership = make(deps)
    const supervisor = yield* trees.get(membership)!
    return { ...membership, supervisor }
  })

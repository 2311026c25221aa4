/**
 * The root of a node's supervision tree (PROTOCOL.md §15.1).
 *
 * ```
 * NodeSupervisor            rest_for_one   rootIntensity / rootPeriodMs (3 / 10 s)
 * ├─ identity               permanent      IdentityConfig: key and checked config
 * ├─ transport              supervisor     the QUIC socket + TransportSupervisor (registry, connections, listener)
 * ├─ membership             supervisor     slot: MembershipSupervisor (stations)
 * ├─ dht                    supervisor     slot: DhtSupervisor (stations)
 * ├─ routing                supervisor     slot: RoutingSupervisor; clients run their StationLink here
 * ├─ content                supervisor     slot: ContentSupervisor
 * └─ application            one_for_one    appIntensity / appPeriodMs (3 / 5 s): the user's actors
 * ```
 *
 * Children start in this order and stop in reverse, so a graceful stop ends the user's actors
 * first, then links and protocols, then every connection (each says `goodbye going_away`), and
 * the socket last. `rest_for_one` follows dependency order: a transport crash restarts all that
 * needs connections; an application crash touches nothing above it. A slot left empty is simply
 * absent from the tree.
 *
 * The transport child owns the node's `Transport` (the QUIC socket): it is made in the child's
 * scope, so a restarted transport binds a fresh socket (on the same port) and a stopped one
 * releases it. Siblings reach the running subtree through `Live`, which each start updates, so
 * a restarted child is found by the others at once (slots are built from it at each start).
 *
 * This module arranges children; it does not build them. The assembly layer (`src/node`) passes
 * the identity child, the transport factory and the slot factories, so this file imports only
 * the runtime and other supervisors.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ConnectionActor from "../actors/ConnectionActor.ts"
import type { ChildSpec } from "../src/runtime/ChildSpec.ts"
import type { ConfigError, NameTaken, StartFailed } from "../src/runtime/Errors.ts"
import type { Process } from "../src/runtime/Process.ts"
import * as Supervisor from "../src/runtime/Supervisor.ts"
import * as TransportSupervisor from "./TransportSupervisor.ts"

/**
 * The running pieces siblings need, as of their latest (re)start.
 *
 * @since 0.1.0
 * @category models
 */
export interface Live {
  /** The node's transport (QUIC socket). */
  transport: ConnectionActor.TransportService["Service"] | undefined
  /** The transport subtree: dialer, registry, connections, listen address. */
  transportTree: TransportSupervisor.TransportTree | undefined
  /** The application supervisor, where user actors run. */
  application: Supervisor.SupervisorRef | undefined
}

/**
 * A slot's child: how to start it from the live pieces (called at each (re)start, so it sees
 * the transport of the current generation), and its kind and shutdown.
 *
 * @since 0.1.0
 * @category models
 */
export interface Slot {
  readonly start: (live: Live) => Effect.Effect<Process, unknown, Scope.Scope>
  /** @default "supervisor" */
  readonly kind?: "worker" | "supervisor"
  /** @default "infinity" for supervisors (they wait for their children), 5_000 for workers */
  readonly shutdown?: ChildSpec["shutdown"]
}

/**
 * What the root is made of.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The `identity` child (IdentityConfig). */
  readonly identity: ChildSpec<Scope.Scope>
  /** Makes the node's transport in the scope it is given (the transport child's). */
  readonly transport: () => Effect.Effect<ConnectionActor.TransportService["Service"], unknown, Scope.Scope>
  /** The transport subtree's options, given the transport just made. */
  readonly transportOptions: (transport: ConnectionActor.TransportService["Service"]) => TransportSupervisor.Options
  readonly membership?: Slot
  readonly dht?: Slot
  readonly routing?: Slot
  readonly content?: Slot
  /** @default 3 (rootIntensity) */
  readonly intensity?: number
  /** @default 10_000 (rootPeriodMs) */
  readonly periodMs?: number
  /** @default 3 (appIntensity) */
  readonly appIntensity?: number
  /** @default 5_000 (appPeriodMs) */
  readonly appPeriodMs?: number
}

/**
 * The order of the root's children (§15.1).
 *
 * @since 0.1.0
 * @category constants
 */
export const childOrder = ["identity", "transport", "membership", "dht", "routing", "content", "application"] as const

const slot = (id: string, child: Slot, live: Live): ChildSpec<Scope.Scope> => ({
  id,
  kind: child.kind ?? "supervisor",
  ...(child.shutdown === undefined ? {} : { shutdown: child.shutdown }),
  start: Effect.suspend(() => child.start(live))
})

/**
 * Starts the root in the current scope; `live` is filled in as children start.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  options: Options,
  live: Live
): Effect.Effect<Supervisor.SupervisorRef, ConfigError | StartFailed | NameTaken, Scope.Scope> =>
  Effect.gen(function*() {
    const children: Array<ChildSpec<any>> = [
      options.identity,
      {
        id: "transport",
        kind: "supervisor",
        start: Effect.gen(function*() {
          live.transport = undefined
          live.transportTree = undefined
          const transport = yield* options.transport()
          const tree = yield* Effect.provideService(
            TransportSupervisor.start(options.transportOptions(transport)),
            ConnectionActor.TransportService,
            transport
          )
          live.transport = transport
          live.transportTree = tree
          return tree.supervisor
        })
      }
    ]
    if (options.membership !== undefined) children.push(slot("membership", options.membership, live))
    if (options.dht !== undefined) children.push(slot("dht", options.dht, live))
    if (options.routing !== undefined) children.push(slot("routing", options.routing, live))
    if (options.content !== undefined) children.push(slot("content", options.content, live))
    children.push({
      id: "application",
      kind: "supervisor",
      start: Effect.tap(
        Supervisor.start({
          label: "application",
          strategy: "one_for_one",
          intensity: options.appIntensity ?? 3,
          periodMs: options.appPeriodMs ?? 5_000,
          children: []
        }),
        (ref) => Effect.sync(() => void (live.application = ref))
      )
    })
    return yield* Supervisor.start({
      label: "node",
      strategy: "rest_for_one",
      intensity: options.intensity ?? 3,
      periodMs: options.periodMs ?? 10_000,
      children
    })
  })

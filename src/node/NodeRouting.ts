/**
 * The routing of a node (PROTOCOL.md §8, §9): the routing subtree and its slot under the root.
 * Stations: the pub/sub router and the RPC dispatcher over every connection, provider records in
 * the DHT, grants from the pinned realm authorities (`./Authorisation.ts`). Clients: the session
 * and the endpoint over the station link's current connection (`./StationLink.ts`), side by side
 * with that link under one supervisor. Kept apart from `./MaculaNode.ts` because the two roles
 * wire routing so differently.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import * as RoutingSupervisor from "../../supervisors/RoutingSupervisor.ts"
import type { Identity } from "../identity/Identity.ts"
import * as Supervisor from "../runtime/Supervisor.ts"
import * as Authorisation from "./Authorisation.ts"
import * as ClientCapabilities from "./ClientCapabilities.ts"
import type { Resolved } from "./Config.ts"
import type { NodeEvent } from "./MaculaNode.ts"
import * as Messaging from "./Messaging.ts"
import { dialVia } from "./NodeTransport.ts"
import * as ProviderInvocation from "./ProviderInvocation.ts"
import type * as SeenNonces from "./SeenNonces.ts"
import * as StationLink from "./StationLink.ts"
import * as SubscriptionCursors from "./SubscriptionCursors.ts"

/**
 * What routing is made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly resolved: Resolved
  readonly identity: Identity
  /** The live pieces of the node's tree (the transport subtree of the moment). */
  readonly live: NodeSupervisor.Live
  /** Clients: the station link's view (its current home), shared with the rest of the node. */
  readonly view: StationLink.LinkView
  /** Stations: the DHT, where provider records live. */
  readonly dht: DhtSupervisor.Dht | undefined
  /** Stations: the authorisation port. */
  readonly authorisation: Authorisation.Port | undefined
  readonly seenNonces: SeenNonces.SeenNonces
  readonly emit: (event: NodeEvent) => void
}

/**
 * A node's routing: the subtree's handle and the slot it starts in under the root.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeRouting {
  readonly routing: RoutingSupervisor.Routing
  readonly slot: NodeSupervisor.Slot
}

/** The routing dependency of a client's capabilities, when it holds a chain to present. */
const withCapabilities = (
  capabilities: ((station: string) => ClientCapabilities.Presenter) | undefined
): { readonly capabilities?: (station: string) => ClientCapabilities.Presenter } =>
  capabilities === undefined ? {} : { capabilities }

/**
 * Makes a node's routing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (context: Context): NodeRouting => {
  const { resolved, identity, live, view, dht, authorisation, seenNonces, emit } = context
  const knobs = resolved.knobs
  const role = resolved.role
  // Routing (PROTOCOL.md §8, §9). Stations: the pub/sub router and the RPC dispatcher over
  // every connection, provider records in the DHT, grants from the pinned realm authorities.
  // Clients: the session and the endpoint over the station link's current connection; they
  // notice a new link within `linkCheckMs` and replay subscriptions and advertisements on it.
  const routing = RoutingSupervisor.make({
    role,
    identity,
    ...(role === "station" && authorisation !== undefined
      ? {
        transport: () => live.transportTree,
        ...(dht === undefined ? {} : { directory: Messaging.directory(dht) }),
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
        dial: dialVia(live),
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
  const slot: NodeSupervisor.Slot = role === "station"
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
  return { routing, slot }
}

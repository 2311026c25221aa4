/**
 * The operations of a running node (API.md "The node"): the `MeshApi` value `./MaculaNode.ts`
 * returns once the tree is up, over the parts it built (the live tree, the station link's view,
 * the DHT, membership, routing, content). Clients resolve `direct: true` calls through the DHT
 * (`./DirectCall.ts`). Kept apart so that the node's assembly and the surface it offers read on
 * their own.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as ConnectionActor from "../../actors/ConnectionActor.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type * as MembershipSupervisor from "../../supervisors/MembershipSupervisor.ts"
import type * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import type * as RoutingSupervisor from "../../supervisors/RoutingSupervisor.ts"
import * as Did from "../identity/Did.ts"
import type { Identity } from "../identity/Identity.ts"
import * as Realm from "../identity/Realm.ts"
import type * as Actor from "../runtime/Actor.ts"
import type { ChildSpec } from "../runtime/ChildSpec.ts"
import type { Process } from "../runtime/Process.ts"
import * as Supervisor from "../runtime/Supervisor.ts"
import type { Resolved } from "./Config.ts"
import type * as Content from "./Content.ts"
import * as DirectCall from "./DirectCall.ts"
import { NodeStopped } from "./Errors.ts"
import type { DhtSummary, HomeStation, MembershipView, MeshApi, PeerConnection, SpawnError, SpawnOptions } from "./Mesh.ts"
import * as Messaging from "./Messaging.ts"
import * as ProviderInvocation from "./ProviderInvocation.ts"
import type * as StationLink from "./StationLink.ts"
import type { SupervisionTree } from "./Supervision.ts"

/**
 * A node's operations: `MeshApi`, with the latest supervision snapshot and the home station as
 * of now, read synchronously by the Promise facade.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeApi = MeshApi & { readonly snapshot: () => SupervisionTree; readonly homeNow: () => HomeStation | undefined }

/**
 * What the operations are made over: the node's parts, and how to tell that it stopped.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly resolved: Resolved
  readonly identity: Identity
  /** Stations: the bound listen address. */
  readonly address: string | undefined
  /** The live pieces of the node's tree. */
  readonly live: NodeSupervisor.Live
  /** Clients: the station link's view. */
  readonly view: StationLink.LinkView
  readonly dht: ReturnType<typeof DhtSupervisor.make> | undefined
  readonly membership: MembershipSupervisor.Membership | undefined
  readonly routing: RoutingSupervisor.Routing
  readonly content: Content.Content
  /** Runs an effect with the node's registry and lifecycle sink. */
  readonly inNode: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Whether the node began to stop. */
  readonly stopped: () => boolean
  /** A fresh snapshot of the live tree. */
  readonly supervision: Effect.Effect<SupervisionTree, NodeStopped>
  /** The latest snapshot taken. */
  readonly snapshot: () => SupervisionTree
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
 * The operations of a started node.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (context: Context): NodeApi => {
  const { resolved, identity, address, live, view, dht, membership, routing, content, inNode, stopped } = context
  const role = resolved.role
  const application = (operation: string): Effect.Effect<Supervisor.SupervisorRef, NodeStopped> =>
    Effect.suspend(() =>
      stopped() || live.application === undefined ? Effect.fail(new NodeStopped({ operation })) : Effect.succeed(live.application)
    )
  const startChild = (spec: ChildSpec<never>): Effect.Effect<Process, SpawnError> =>
    Effect.flatMap(application("startChild"), (app) =>
      Effect.catchTag(inNode(app.startChild(spec)), "SupervisorStopped", () => Effect.fail(new NodeStopped({ operation: "startChild" }))))
  const operations = Messaging.operations(routing, role, stopped)
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
    Effect.suspend(() => (stopped() ? Effect.fail(new NodeStopped({ operation })) : effect))

  return {
    role,
    did: identity.did,
    address,
    realm: resolved.realm,
    supervision: context.supervision,
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
    snapshot: context.snapshot,
    homeNow: () => homeOf(view.home, view.failovers)
  }
}

/**
 * The `Mesh` service: a running node as Effect users see it (API.md "The node", last paragraph).
 * `MaculaNode.layer(config)` provides it; every operation returns an `Effect` with the node's
 * typed errors in the error channel, and user actors run under the node's application
 * supervisor through `spawn` / `startChild`.
 *
 * Operations this build does not carry yet (`publish`, `subscribe`, `advertise`, `call`,
 * `putContent`, `getContent`) are present and fail at once with `NotImplemented`, naming what
 * they wait for; they never pretend to succeed.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Actor from "../runtime/Actor.ts"
import type { ChildSpec, RestartType, Shutdown } from "../runtime/ChildSpec.ts"
import type { ChildNotFound, ChildStateError, StartFailed } from "../runtime/Errors.ts"
import type { Process } from "../runtime/Process.ts"
import type { NodeStopped, NotImplemented } from "./Errors.ts"
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
  /** Not implemented yet: pub/sub is not wired into the node. */
  readonly publish: (topic: string, payload: unknown) => Effect.Effect<never, NotImplemented | NodeStopped>
  /** Not implemented yet: pub/sub is not wired into the node. */
  readonly subscribe: (
    topicOrPattern: string,
    onEvent: (event: unknown) => void,
    options?: { readonly delivery?: "at-most-once" | "at-least-once" }
  ) => Effect.Effect<never, NotImplemented | NodeStopped>
  /** Not implemented yet: RPC is not wired into the node. */
  readonly advertise: (procedure: string, handler: (args: unknown, ctx: unknown) => Promise<unknown>) => Effect.Effect<never, NotImplemented | NodeStopped>
  /** Not implemented yet: RPC is not wired into the node. */
  readonly call: (
    procedure: string,
    args: unknown,
    options?: { readonly timeoutMs?: number; readonly idempotent?: boolean }
  ) => Effect.Effect<never, NotImplemented | NodeStopped>
  /** Not implemented yet: content transfer is not wired into the node. */
  readonly putContent: (bytesOrFilePath: Uint8Array | string) => Effect.Effect<never, NotImplemented | NodeStopped>
  /** Not implemented yet: content transfer is not wired into the node. */
  readonly getContent: (mcid: unknown, options?: { readonly onProgress?: (progress: unknown) => void }) => Effect.Effect<never, NotImplemented | NodeStopped>
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

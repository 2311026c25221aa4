/**
 * The connection registry: the node's live connections by peer DID, kept by one actor around
 * the pure book of `Connection.Peers` (PROTOCOL.md §3.4, §3.7, §14 #14).
 *
 * It answers the listener's admission question (bans, `maxConnections`, `maxConnectionsPerIp`,
 * `maxHandshakesInFlight`), applies the duplicate rule when a connection becomes ready (the
 * loser is closed `replaced`; a banned peer's connection is closed `banned`, whichever side
 * dialled), remembers scores and bans across connections, answers whether a DID is banned (so
 * our own dials to it fail at once), keeps at most one
 * dial per peer in flight (a second caller waits for the first's result), and finds the ready
 * connection to a DID for the owners of links.
 *
 * It monitors every connection it is told about, so an exited connection leaves the book at
 * once. After a restart the book is rebuilt from the live connections (`rebuild`); scores held
 * only here are lost with it. Bans outlive it when a `bans` store is given (a node with a data
 * directory, §15.2): loaded at every start (expired ones dropped), saved after every new ban.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Bytes from "../src/core/Bytes.ts"
import * as Did from "../src/identity/Did.ts"
import * as NodeId from "../src/identity/NodeId.ts"
import type { CloseName } from "../src/protocols/connection/Codes.ts"
import type { Notice } from "../src/protocols/connection/Command.ts"
import type { Handle, Status } from "../src/platform/transport/ConnectionHandle.ts"
import * as Peers from "../src/protocols/connection/Peers.ts"
import type { ScoreConfig } from "../src/protocols/connection/Score.ts"
import * as Score from "../src/protocols/connection/Score.ts"
import * as Actor from "../src/runtime/Actor.ts"
import type { Process } from "../src/runtime/Process.ts"

/**
 * Knobs and wiring of the registry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** This node's DID (its node id decides the station duplicate rule). */
  readonly localDid: string
  readonly localRole: "station" | "client"
  /** Admission limits. @default Peers.defaultLimits */
  readonly limits?: Peers.Limits
  /** Score knobs (the same as the connections'). */
  readonly score: ScoreConfig & { readonly banDurationMs: number }
  /** Live connections to re-learn after a restart. @default none */
  readonly rebuild?: Effect.Effect<ReadonlyArray<readonly [Process, Handle]>>
  /** Where bans outlive the registry and the process. @default none: bans live in memory */
  readonly bans?: BanStore
}

/**
 * A store of bans (`until`: the registry's clock, `Clock.currentTimeMillis`, i.e. unix ms).
 *
 * @since 0.1.0
 * @category models
 */
export interface BanStore {
  /** The bans held (expired ones are dropped by the registry). */
  readonly load: Effect.Effect<ReadonlyArray<{ readonly did: string; readonly until: number }>>
  /** Every ban in force, after a change. */
  readonly save: (bans: ReadonlyArray<{ readonly did: string; readonly until: number }>) => Effect.Effect<void>
}

/**
 * The verdict on an inbound connection.
 *
 * @since 0.1.0
 * @category models
 */
export type Admission = { readonly ok: true } | { readonly ok: false; readonly code: CloseName; readonly reason: string }

/**
 * Whether the caller leads a dial or waits for the one in flight.
 *
 * @since 0.1.0
 * @category models
 */
export type DialTicket =
  | { readonly lead: true }
  | { readonly lead: false; readonly wait: Deferred.Deferred<Handle, unknown> }

/**
 * What the registry says of a connection that just became ready: keep it, close it `replaced`
 * (a duplicate lost) or close it `banned` (its peer is banned).
 *
 * @since 0.1.0
 * @category models
 */
export type ReadyVerdict = "keep" | "replaced" | "banned"

/**
 * The registry's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Admit"; readonly id: string; readonly did: string; readonly ip: string | undefined; readonly reply: Actor.Reply<Admission> }
  | { readonly _tag: "AddOutbound"; readonly id: string; readonly did: string }
  | { readonly _tag: "Attach"; readonly process: Process; readonly handle: Handle }
  | { readonly _tag: "Ready"; readonly status: Status; readonly handle: Handle; readonly reply: Actor.Reply<ReadyVerdict> }
  | { readonly _tag: "Exited"; readonly id: string }
  | { readonly _tag: "Noticed"; readonly did: string; readonly notice: Notice; readonly status: Status }
  | { readonly _tag: "Lookup"; readonly did: string; readonly reply: Actor.Reply<Handle | undefined> }
  | { readonly _tag: "List"; readonly reply: Actor.Reply<ReadonlyArray<Handle>> }
  | { readonly _tag: "ScoreOf"; readonly did: string; readonly reply: Actor.Reply<number> }
  | { readonly _tag: "IsBanned"; readonly did: string; readonly reply: Actor.Reply<boolean> }
  | { readonly _tag: "BeginDial"; readonly key: string; readonly reply: Actor.Reply<DialTicket> }
  | { readonly _tag: "EndDial"; readonly key: string; readonly exit: Exit.Exit<Handle, unknown> }
  | { readonly _tag: "Snapshot"; readonly reply: Actor.Reply<Peers.Peers> }

interface RegistryState {
  peers: Peers.Peers
  readonly handles: Map<string, Handle>
  readonly watched: Set<string>
  readonly waiters: Map<string, Deferred.Deferred<Handle, unknown>>
  readonly localId: Uint8Array
}

const nodeIdOfDid = (did: string): Uint8Array | undefined => {
  try {
    return NodeId.ofPublicKey(Did.toPublicKey(did))
  } catch {
    return undefined
  }
}

/**
 * The remote IP of a `quic://host:port` or `tls://host:port` address, `undefined` if unparsable.
 *
 * @since 0.1.0
 * @category getters
 */
export const ipOf = (address: string): string | undefined => /^[a-z]+:\/\/\[?([^\]#]*?)\]?:\d+/.exec(address)?.[1]

/**
 * The registry's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, RegistryState> => {
  const limits = options.limits ?? Peers.defaultLimits
  const watch = (ctx: Actor.ActorContext<Msg>, state: RegistryState, process: Process, handle: Handle) =>
    Effect.gen(function*() {
      state.handles.set(handle.connectionId, handle)
      if (state.watched.has(handle.connectionId)) return
      state.watched.add(handle.connectionId)
      yield* ctx.monitor(process, () => ({ _tag: "Exited", id: handle.connectionId }))
    })
  return Actor.make<Msg, RegistryState>({
    label: "connection-registry",
    mailbox: { capacity: 8_192, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const state: RegistryState = {
          peers: Peers.empty,
          handles: new Map(),
          watched: new Set(),
          waiters: new Map(),
          localId: nodeIdOfDid(options.localDid) ?? new Uint8Array(32)
        }
        // After a restart: learn the connections that outlived the old registry.
        const live = options.rebuild === undefined ? [] : yield* options.rebuild
        const now = yield* Clock.currentTimeMillis
        for (const ban of options.bans === undefined ? [] : yield* options.bans.load) {
          if (ban.until > now) state.peers = Peers.ban(state.peers, ban.did, ban.until, limits)
        }
        for (const [process, handle] of live) {
          const status = handle.status()
          if (status.phase === "closed") continue
          state.peers = Peers.addOutbound(state.peers, { id: handle.connectionId, did: handle.peerDid, now })
          if (status.phase === "ready") {
            const peerId = nodeIdOfDid(handle.peerDid)
            state.peers = Peers.ready(state.peers, {
              id: handle.connectionId,
              did: handle.peerDid,
              direction: handle.direction,
              now,
              localRole: options.localRole,
              peerRole: status.peerRole ?? "client",
              localIdSmaller: peerId !== undefined && Bytes.compare(state.localId, peerId) < 0
            })[0]
          }
          yield* watch(ctx, state, process, handle)
        }
        return state
      }),
    receive: (message, state, ctx) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        switch (message._tag) {
          case "Admit": {
            const [peers, verdict] = Peers.admit(state.peers, { id: message.id, did: message.did, ip: message.ip, now }, limits)
            state.peers = peers
            message.reply.succeed(verdict)
            break
          }
          case "AddOutbound":
            state.peers = Peers.addOutbound(state.peers, { id: message.id, did: message.did, now })
            break
          case "Attach":
            yield* watch(ctx, state, message.process, message.handle)
            break
          case "Ready": {
            const peerId = nodeIdOfDid(message.status.peerDid)
            const [peers, verdict] = Peers.ready(state.peers, {
              id: message.status.connectionId,
              did: message.status.peerDid,
              direction: message.status.direction,
              now,
              localRole: options.localRole,
              peerRole: message.status.peerRole ?? "client",
              localIdSmaller: peerId !== undefined && Bytes.compare(state.localId, peerId) < 0
            })
            state.peers = peers
            state.handles.set(message.handle.connectionId, message.handle)
            for (const id of verdict.replace) {
              const old = state.handles.get(id)
              if (old !== undefined) yield* old.close({ code: "replaced", message: "a newer connection to this peer" })
            }
            message.reply.succeed(verdict.banned === true ? "banned" : verdict.keep ? "keep" : "replaced")
            break
          }
          case "Exited":
            state.peers = Peers.remove(state.peers, message.id)
            state.handles.delete(message.id)
            state.watched.delete(message.id)
            break
          case "Noticed": {
            const notice = message.notice
            if (notice._tag === "ScoreChanged" || notice._tag === "Closed") {
              state.peers = Peers.setScore(state.peers, message.did, Score.make(now, options.score, message.status.score), limits)
            }
            if (notice._tag === "Banned") {
              state.peers = Peers.ban(state.peers, message.did, now + options.score.banDurationMs, limits)
              if (options.bans !== undefined) yield* options.bans.save(Peers.activeBans(state.peers, now))
            }
            break
          }
          case "Lookup": {
            const entry = Peers.readyFor(state.peers, message.did)
            const handle = entry === undefined ? undefined : state.handles.get(entry.id)
            message.reply.succeed(handle !== undefined && handle.status().phase === "ready" ? handle : undefined)
            break
          }
          case "List":
            message.reply.succeed([...state.handles.values()])
            break
          case "ScoreOf":
            message.reply.succeed(Peers.scoreOf(state.peers, message.did, now, options.score))
            break
          case "IsBanned":
            message.reply.succeed(Peers.isBanned(state.peers, message.did, now))
            break
          case "BeginDial": {
            const [peers, lead] = Peers.beginDial(state.peers, message.key)
            state.peers = peers
            if (lead) {
              state.waiters.set(message.key, Deferred.makeUnsafe<Handle, unknown>())
              message.reply.succeed({ lead: true })
            } else {
              const wait = state.waiters.get(message.key) ?? Deferred.makeUnsafe<Handle, unknown>()
              state.waiters.set(message.key, wait)
              message.reply.succeed({ lead: false, wait })
            }
            break
          }
          case "EndDial": {
            state.peers = Peers.endDial(state.peers, message.key)
            const wait = state.waiters.get(message.key)
            state.waiters.delete(message.key)
            if (wait !== undefined) Deferred.doneUnsafe(wait, message.exit)
            break
          }
          case "Snapshot":
            message.reply.succeed(state.peers)
            break
        }
        return state
      })
  })
}

/**
 * The registry as other modules use it: plain effects over its ref. Every request is bounded
 * (`timeoutMs`); a registry that is down answers like an empty one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly admit: (c: { readonly id: string; readonly did: string; readonly remoteAddress: string }) => Effect.Effect<Admission>
  readonly addOutbound: (id: string, did: string) => Effect.Effect<void>
  readonly attach: (process: Process, handle: Handle) => Effect.Effect<void>
  readonly ready: (status: Status, handle: Handle) => Effect.Effect<ReadyVerdict>
  readonly noticed: (did: string, notice: Notice, status: Status) => void
  readonly lookup: (did: string) => Effect.Effect<Handle | undefined>
  readonly list: Effect.Effect<ReadonlyArray<Handle>>
  readonly scoreOf: (did: string) => Effect.Effect<number>
  /** Whether `did` is banned now (`false` while the registry is down). */
  readonly isBanned: (did: string) => Effect.Effect<boolean>
  readonly beginDial: (key: string) => Effect.Effect<DialTicket>
  readonly endDial: (key: string, exit: Exit.Exit<Handle, unknown>) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<Peers.Peers | undefined>
}

/**
 * A client over the registry currently at `ref()` (the ref changes when the registry restarts).
 *
 * @since 0.1.0
 * @category constructors
 */
export const client = (ref: () => Actor.ActorRef<Msg> | undefined, timeoutMs = 5_000): Client => {
  const ask = <A>(make: (reply: Actor.Reply<A>) => Msg, fallback: A): Effect.Effect<A> =>
    Effect.suspend(() => {
      const r = ref()
      return r === undefined ? Effect.succeed(fallback) : Effect.orElseSucceed(r.call<A>(make, { timeoutMs }), () => fallback)
    })
  const tell = (message: Msg): Effect.Effect<void> =>
    Effect.suspend(() => {
      const r = ref()
      return r === undefined ? Effect.void : Effect.ignore(r.cast(message))
    })
  return {
    admit: (c) => ask<Admission>((reply) => ({ _tag: "Admit", id: c.id, did: c.did, ip: ipOf(c.remoteAddress), reply }), { ok: true }),
    addOutbound: (id, did) => tell({ _tag: "AddOutbound", id, did }),
    attach: (process, handle) => tell({ _tag: "Attach", process, handle }),
    ready: (status, handle) => ask<ReadyVerdict>((reply) => ({ _tag: "Ready", status, handle, reply }), "keep"),
    noticed: (did, notice, status) => {
      if (notice._tag !== "ScoreChanged" && notice._tag !== "Banned" && notice._tag !== "Closed") return
      const r = ref()
      if (r !== undefined) Actor.tellUrgent(r, { _tag: "Noticed", did, notice, status })
    },
    lookup: (did) => ask<Handle | undefined>((reply) => ({ _tag: "Lookup", did, reply }), undefined),
    list: ask<ReadonlyArray<Handle>>((reply) => ({ _tag: "List", reply }), []),
    scoreOf: (did) => ask<number>((reply) => ({ _tag: "ScoreOf", did, reply }), 0),
    isBanned: (did) => ask<boolean>((reply) => ({ _tag: "IsBanned", did, reply }), false),
    beginDial: (key) => ask<DialTicket>((reply) => ({ _tag: "BeginDial", key, reply }), { lead: true }),
    endDial: (key, exit) => tell({ _tag: "EndDial", key, exit }),
    snapshot: ask<Peers.Peers | undefined>((reply) => ({ _tag: "Snapshot", reply }), undefined)
  }
}

/**
 * Admission limits (`maxConnections`, `maxConnectionsPerIp`, `maxHandshakesInFlight`, …).
 *
 * @since 0.1.0
 * @category models
 */
export type Limits = Peers.Limits

/**
 * The §16 admission limits.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLimits: Limits = Peers.defaultLimits

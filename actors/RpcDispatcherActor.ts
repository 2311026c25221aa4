/**
 * The station's RPC dispatcher (PROTOCOL.md §9): drives the `Rpc` dispatcher core over the
 * connections of the transport subtree, with provider records kept in the DHT through an
 * injected `Directory` port.
 *
 * What it owns: the core's state, one sleeping fiber per armed timer, one ordered outbox per
 * peer (frames leave on this side's `rpc` lane in the core's order), a watcher per adopted
 * connection, and the DHT stores and lookups in flight (forked; their completions come back as
 * `RecordStored` / `ProvidersResolved`).
 *
 * What it does around the core:
 * - **Connections.** As the pub/sub router: a ready client is `ClientAttached` (its close
 *   `ClientDetached`, which tombstones its providers), a ready station `PeerStatus alive` (its
 *   close `PeerStatus dead`, which fails the calls sent through it with `relay_failed` so an
 *   idempotent call retries elsewhere). A call for a station we hold no connection to is
 *   treated the same way.
 * - **Records.** `adv` / `unadv` records and the records the directory returns are opened
 *   (Ed25519 over the exact bytes, `provider` type, derived key, not expired) before the core
 *   sees them; a bad one from a client costs a major penalty (§14 row 17).
 * - **Grants.** `adv` and a client's `call` get the authorisation port's verdict.
 * - **Restart (§15.2).** A restarted dispatcher sends `resync {what: [adv]}` to every attached
 *   client, which re-sends its advertisements. Before that, the supervisor's `Journal` keeps
 *   each attached client's accepted `adv` frames; a restarted dispatcher replays them (storing
 *   the records again) without answering, so providers stay callable at once (RoutingSupervisor
 *   says why both).
 *
 * - **Call streams (§9.5).** A streaming `call` arrives on a stream its sender opened; the core
 *   names the stream by (peer, call id), and the next hop's stream is opened here when the
 *   forwarded `call` is sent on it (`openCallStream`), so each station on the path splices two
 *   streams. Every stream has an ordered outbox; after its last frame (`reply` or `cancel`, sent
 *   or received) this side finishes it, and `ResetStream` resets it (`flow_control`).
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Did from "../src/identity/Did.ts"
import * as Ed25519 from "../src/identity/Ed25519.ts"
import type { CallStream, Handle, Inbound, Lane } from "../src/platform/transport/ConnectionHandle.ts"
import * as Records from "../src/protocols/dht/Records.ts"
import { hex, unhex } from "../src/protocols/rpc/Keys.ts"
import { Rpc } from "../src/protocols/rpc/index.ts"
import type { RevocationFeed } from "../src/protocols/Revocations.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as Commands from "../src/runtime/Commands.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
import * as Outboxes from "../src/runtime/Outboxes.ts"
import * as RuntimeInbox from "../src/runtime/Inbox.ts"
import type * as Frame from "../src/wire/Frame.ts"
import * as Signed from "../src/wire/Signed.ts"
import type { ProviderRecordBody } from "../src/wire/SignedBody.ts"

/**
 * What the dispatcher needs of the transport subtree (a `TransportTree`'s registry fits).
 *
 * @since 0.1.0
 * @category models
 */
export interface Connections {
  readonly lookup: (did: string) => Effect.Effect<Handle | undefined>
  readonly list: Effect.Effect<ReadonlyArray<Handle>>
}

/**
 * Where provider records live (§9.1, §10): the node backs it with the DHT subtree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Directory {
  /** Stores a signed provider record (or withdrawal); the number of replicas that acknowledged. */
  readonly putProvider: (record: Frame.Signed) => Effect.Effect<number, unknown>
  /** The signed provider records held for (realm, proc); verified here before use. */
  readonly findProviders: (realm: Uint8Array, proc: string) => Effect.Effect<ReadonlyArray<Frame.Signed>, unknown>
}

/**
 * One gated request for the authorisation port.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthRequest {
  readonly peerDid: string
  /** The connection the frame came on: grants die with it (§13.4). */
  readonly connectionId: string
  readonly realm: Uint8Array
  readonly command: "/mesh/advertise" | "/mesh/call"
  readonly topic: string
  readonly au: Frame.Authority | undefined
}

/**
 * The authorisation port: realm → UCAN verdict.
 *
 * @since 0.1.0
 * @category models
 */
export type Authorise = (request: AuthRequest) => Effect.Effect<Rpc.Verdict>

/**
 * What the station's authorisation port tells the dispatcher about revocations (§13.6): a
 * connection's advertise grants dropped; its advertisements no `keep` procedure names end with
 * `err unauthorized`. Other notices are ignored here.
 *
 * @since 0.1.0
 * @category models
 */
export type Revocations = RevocationFeed

/**
 * What a restarted dispatcher replays (held by the supervisor).
 *
 * @since 0.1.0
 * @category models
 */
export interface Journal {
  /** Per client (hex key): its `adv` frames by `realmHex|proc`, with the opened record. */
  readonly ads: Map<string, Map<string, { readonly frame: Frame.Adv; readonly record: ProviderRecordBody }>>
  starts: number
}

/**
 * An empty journal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const journal = (): Journal => ({ ads: new Map(), starts: 0 })

/**
 * Where the node-wide `rpc` sink delivers.
 *
 * @since 0.1.0
 * @category models
 */
export type Inbox = RuntimeInbox.Inbox<Inbound, Msg>

/**
 * A fresh inbox; give `inbox.sink` to the transport as `sinks.rpc`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inbox = (): Inbox => RuntimeInbox.make((inbound: Inbound): Msg => ({ _tag: "Inbound", inbound }))

/**
 * What the dispatcher is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly publicKey: Uint8Array
  readonly config: Rpc.Config
  readonly connections: Connections
  readonly directory: Directory
  /** @default every request allowed (open realm) */
  readonly authorise?: Authorise
  /** @default strict Ed25519 */
  readonly verify?: Signed.Verify
  /** @default the platform's SHA-256 */
  readonly sha256?: (bytes: Uint8Array) => Uint8Array
  readonly journal: Journal
  /**
   * Whether a restarted dispatcher restores advertisements from `journal` before asking its
   * clients for `resync`. `false` leaves the restore to `resync` alone (tests). @default true
   */
  readonly replayJournal?: boolean
  readonly inbox: Inbox
  /** PRNG seed of the core (provider choice). @default drawn at each start */
  readonly seed?: number
  /** @default 1_000 */
  readonly scanIntervalMs?: number
  /** Revocation notices: advertisements whose grant was revoked end (§13.6). @default none */
  readonly revocations?: Revocations
}

/**
 * The dispatcher's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Inbound"; readonly inbound: Inbound }
  | { readonly _tag: "TimerFired"; readonly timer: string; readonly generation: number; readonly now: number }
  | { readonly _tag: "Closed"; readonly connectionId: string; readonly peer: string }
  | { readonly _tag: "Unreachable"; readonly peer: string }
  | { readonly _tag: "StreamOpenFailed"; readonly peer: string; readonly id: number }
  | { readonly _tag: "StreamReset"; readonly peer: string; readonly connectionId: string; readonly stream: number; readonly code: string }
  | { readonly _tag: "Stored"; readonly ref: number; readonly acks: number }
  | { readonly _tag: "Resolved"; readonly realm: Uint8Array; readonly proc: string; readonly records: ReadonlyArray<ProviderRecordBody> }
  | { readonly _tag: "Scan" }
  | { readonly _tag: "Stats"; readonly reply: Actor.Reply<Stats> }
  | {
    readonly _tag: "GrantsRevoked"
    readonly client: string
    readonly realm: Uint8Array
    readonly keep: ReadonlyArray<string>
    readonly reason: string
  }

/**
 * Sizes and counters, for tests and status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly sizes: ReturnType<typeof Rpc.dispatcherSizes>
  readonly counters: Rpc.DispatcherCounters
  readonly badRecords: number
  readonly streamFramesDropped: number
  /** Call streams held now, over every peer (two per relayed call); 0 once every call is over. */
  readonly streams: number
}

/** One call stream with a peer: an ordered outbox over a stream we opened or the peer opened. */
interface StreamLink {
  opened: CallStream | undefined
  readonly inbound: Inbound | undefined
  readonly outbox: Array<Frame.Frame>
  draining: boolean
  done: boolean
}

interface Peer {
  /** Call streams by `up/<id>` (the peer opened it) or `leg/<id>` (we did), as the core names them. */
  readonly streams: Map<string, StreamLink>
  /** Call id by stream id. */
  readonly streamIds: Map<number, { readonly on: Rpc.StreamSide; readonly id: number }>
  readonly id: string
  readonly handle: Handle
  readonly role: "client" | "station"
  lane: Lane | undefined
  /** Writes on the peer's own lane: where `ok` / `err` answers go (they cannot open a lane). */
  answer: Inbound["reply"] | undefined
  readonly outbox: Array<Frame.Frame>
  draining: boolean
}

/** Sender DID → key hex, memoised (bounded): every inbound frame names its sender's DID. */
const hexOfDidCache = new Map<string, string | undefined>()
const hexOfDidCacheMax = 4_096

const hexOfDid = (did: string): string | undefined => {
  if (hexOfDidCache.has(did)) return hexOfDidCache.get(did)
  const key = Did.parsePublicKey(did)
  const id = key instanceof Uint8Array ? hex(key) : undefined
  if (hexOfDidCache.size >= hexOfDidCacheMax) hexOfDidCache.delete(hexOfDidCache.keys().next().value!)
  hexOfDidCache.set(did, id)
  return id
}

/** A call stream's name among a peer's streams: which side opened it, and the call id. */
const streamKey = (on: Rpc.StreamSide, id: number): string => `${on}/${id}`

const allowed: Rpc.Verdict = { _tag: "Allowed" }

/** Frames queued before `flush` starts the drainers even while messages still wait. */
const flushEvery = 64

const platformSha256 = (bytes: Uint8Array): Uint8Array => Uint8Array.from(createHash("sha256").update(bytes).digest())

class Driver {
  core!: Rpc.DispatcherState
  readonly step: ReturnType<typeof Rpc.makeDispatcherStep>
  readonly self: string
  timers!: CoreTimers.CoreTimers<string>
  readonly peers = new Map<string, Peer>()
  readonly verify: Signed.Verify
  readonly sha256: (bytes: Uint8Array) => Uint8Array
  /** `client|id` answers not to send (the replay after a restart). */
  readonly suppressed = new Set<string>()
  badRecords = 0
  streamFramesDropped = 0
  /** The `call` whose event the core is handling (a `RejectFrame` resets its stream). */
  calling: Inbound | undefined = undefined
  /** Peers whose outbox waits for `flush`. */
  readonly waiting = new Outboxes.Outboxes<Peer>(flushEvery)
  ref!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.step = Rpc.makeDispatcherStep(options.config)
    this.self = hex(options.publicKey)
    this.verify = options.verify ?? Ed25519.verify
    this.sha256 = options.sha256 ?? platformSha256
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<void> {
    return Effect.asVoid(Effect.forkIn(Effect.ignoreCause(effect), this.scope, { startImmediately: true }))
  }

  tell(message: Msg): void {
    if (this.ref.isAlive()) this.ref.tell(message)
  }

  /** Steps the core when run, then runs its commands in order. */
  feed(event: Rpc.DispatcherEvent): Effect.Effect<void> {
    return Effect.suspend(() => {
      const [next, commands] = this.step(this.core, event)
      this.core = next
      return Commands.runInOrder(commands, (command) => this.interpret(command))
    })
  }


  interpret(command: Rpc.DispatcherCommand): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "Send":
        if (command.stream !== undefined) return driver.sendOnStream(command.to, command.stream, command.frame, command.on)
        return driver.enqueue(command.to, command.frame)
      case "ResetStream":
        return driver.resetStream(command.to, command.stream, command.on)
      case "StoreRecord":
        return driver.fork(Effect.gen(function*() {
          const acks = yield* Effect.orElseSucceed(driver.options.directory.putProvider(command.record), () => 0)
          driver.tell({ _tag: "Stored", ref: command.ref, acks })
        }))
      case "ResolveProviders":
        return driver.fork(Effect.gen(function*() {
          const found = yield* Effect.orElseSucceed(
            driver.options.directory.findProviders(command.realm, command.proc),
            (): ReadonlyArray<Frame.Signed> => []
          )
          const wall = yield* Clock.currentTimeMillis
          const records: Array<ProviderRecordBody> = []
          for (const signed of found) {
            const body = driver.openProvider(signed, wall)
            if (body !== undefined) records.push(body)
          }
          driver.tell({ _tag: "Resolved", realm: command.realm, proc: command.proc, records })
        }))
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
      case "Penalise": {
        const peer = driver.peers.get(command.peer)
        return peer === undefined ? Effect.void : driver.fork(peer.handle.penalize(command.severity, command.reason))
      }
      case "RejectFrame": {
        // The frame the core refused is the `call` being handled: its stream is reset.
        const inbound = driver.calling
        if (inbound === undefined || hexOfDid(inbound.peerDid) !== command.to || inbound.reset === undefined) return Effect.void
        return driver.fork(inbound.reset(command.code))
      }
    }
  }

  /** A verified, unexpired provider record with the right key; `undefined` otherwise. */
  openProvider(signed: Frame.Signed, wall: number): ProviderRecordBody | undefined {
    const body = Signed.openRecord({ b: signed.b, s: signed.s }, this.verify)
    if (body instanceof Error || body.ty !== "provider" || body.exp <= wall) return undefined
    const key = Records.expectedKey({ sha256: this.sha256 }, body)
    return hex(key) === hex(body.key) ? body : undefined
  }

  /**
   * The peer a call goes to. One whose connection came up since the last scan is adopted now,
   * so a fresh station link is not mistaken for a dead route.
   */
  reach(to: string): Effect.Effect<Peer | undefined> {
    const known = this.peers.get(to)
    if (known !== undefined) return Effect.succeed(known)
    const key = unhex(to)
    if (key === undefined) return Effect.succeed(undefined)
    const driver = this
    return Effect.gen(function*() {
      const handle = yield* driver.options.connections.lookup(Did.fromPublicKeyUnsafe(key))
      if (handle === undefined) return undefined
      return yield* driver.adopt(handle, yield* Clock.currentTimeMillis)
    })
  }

  enqueue(to: string, frame: Frame.Frame): Effect.Effect<void> {
    const peer = this.peers.get(to)
    if (peer === undefined) {
      if (frame.t !== "call") return Effect.void
      // A call for a station we hold no link to: that route is dead for now.
      return Effect.flatMap(this.reach(to), (found) =>
        found === undefined ? Effect.sync(() => this.tell({ _tag: "Unreachable", peer: to })) : this.enqueue(to, frame))
    }
    if ((frame.t === "ok" || frame.t === "err") && frame.id !== undefined && this.suppressed.delete(`${to}|${frame.id}`)) {
      return Effect.void
    }
    peer.outbox.push(frame)
    this.waiting.queued(peer)
    return Effect.void
  }

  /**
   * Starts a drainer for every peer with frames waiting, once no message waits behind the one
   * just handled (or a burst has piled up): the frames a burst of inbound frames produced leave
   * from one fiber per peer, not one per frame.
   */
  flush(): Effect.Effect<void> {
    return this.waiting.flush(this.ref.stats().queued, (peer) => this.fork(this.drain(peer)))
  }

  /** Writes the peer's outbox in order until it is empty. */
  drain(peer: Peer): Effect.Effect<void> {
    const next = (): Effect.Effect<void> => {
      for (;;) {
        const frame = peer.outbox.shift()
        if (frame === undefined) {
          peer.draining = false
          return Effect.void
        }
        if (frame.t === "ok" || frame.t === "err") {
          // An answer goes back on the lane its request came on; without one it cannot be sent.
          if (peer.answer === undefined) continue
          return Effect.flatMap(Effect.ignore(peer.answer(frame)), next)
        }
        if (peer.lane !== undefined) return this.sendOnLane(peer, peer.lane, frame, next)
        return Effect.flatMap(Effect.result(peer.handle.openLane("rpc")), (lane) => {
          if (Result.isSuccess(lane)) peer.lane = lane.success
          if (peer.lane !== undefined) return this.sendOnLane(peer, peer.lane, frame, next)
          this.notSent(peer, frame)
          return next()
        })
      }
    }
    return Effect.suspend(next)
  }

  sendOnLane(peer: Peer, lane: Lane, frame: Frame.Frame, next: () => Effect.Effect<void>): Effect.Effect<void> {
    return Effect.flatMap(Effect.result(lane.send(frame)), (sent) => {
      if (Result.isFailure(sent)) {
        // A lane the peer reset (e.g. `invalid_field`, §14 row 9) is gone: the next frame opens a new one.
        if (peer.lane === lane) peer.lane = undefined
        this.notSent(peer, frame)
      }
      return next()
    })
  }

  /** A call that could not leave for a station: that route is dead for now. */
  notSent(peer: Peer, frame: Frame.Frame): void {
    if (frame.t === "call" && peer.role === "station") this.tell({ _tag: "Unreachable", peer: peer.id })
  }

  // -------------------------------------------------------------------------------------------
  // Call streams (§9.5)

  /**
   * Queues `frame` on the call stream (`on`, `id`) with `to`: the `call` of a leg opens it; an
   * upstream stream exists since its `call` arrived. Frames of unknown streams are dropped.
   */
  sendOnStream(to: string, id: number, frame: Frame.Frame, on: Rpc.StreamSide | undefined): Effect.Effect<void> {
    const side: Rpc.StreamSide = on ?? (frame.t === "call" ? "leg" : "up")
    const peer = this.peers.get(to)
    if (peer === undefined) {
      if (frame.t !== "call") return Effect.void
      return Effect.flatMap(this.reach(to), (found) =>
        found === undefined ? Effect.sync(() => this.tell({ _tag: "Unreachable", peer: to })) : this.sendOnStream(to, id, frame, side))
    }
    const key = streamKey(side, id)
    let link = peer.streams.get(key)
    if (link === undefined) {
      if (frame.t !== "call" || side !== "leg") {
        this.streamFramesDropped++
        return Effect.void
      }
      link = { opened: undefined, inbound: undefined, outbox: [], draining: false, done: false }
      peer.streams.set(key, link)
    }
    link.outbox.push(frame)
    if (frame.t === "reply" || frame.t === "cancel") link.done = true
    if (link.draining) return Effect.void
    link.draining = true
    return this.fork(this.drainStream(peer, key, id, link))
  }

  drainStream(peer: Peer, key: string, id: number, link: StreamLink): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      while (link.outbox.length > 0) {
        const frame = link.outbox.shift()!
        if (link.inbound !== undefined) {
          yield* Effect.ignore(link.inbound.reply(frame))
          continue
        }
        if (link.opened === undefined) {
          const open = peer.handle.openCallStream
          const opened = open === undefined ? undefined : yield* Effect.result(open())
          if (opened === undefined || Result.isFailure(opened)) {
            link.outbox.length = 0
            link.draining = false
            if (peer.streams.get(key) === link) peer.streams.delete(key)
            if (frame.t === "call") driver.tell({ _tag: "StreamOpenFailed", peer: peer.id, id })
            return
          }
          link.opened = opened.success
          peer.streamIds.set(opened.success.stream, { on: "leg", id })
        }
        yield* Effect.ignore(link.opened.send(frame))
      }
      link.draining = false
      if (link.done) yield* driver.endStream(peer, key, link)
    })
  }

  endStream(peer: Peer, key: string, link: StreamLink): Effect.Effect<void> {
    if (peer.streams.get(key) === link) peer.streams.delete(key)
    const stream = link.opened?.stream ?? link.inbound?.stream
    if (stream !== undefined) peer.streamIds.delete(stream)
    const end = link.opened?.end ?? link.inbound?.end
    return end === undefined ? Effect.void : this.fork(end)
  }

  /** The last frame of a stream came from the peer: finish our side once the outbox drained. */
  finishStream(peer: Peer, key: string): Effect.Effect<void> {
    const link = peer.streams.get(key)
    if (link === undefined) return Effect.void
    link.done = true
    return link.draining ? Effect.void : this.endStream(peer, key, link)
  }

  resetStream(to: string, id: number, on: Rpc.StreamSide | undefined): Effect.Effect<void> {
    const peer = this.peers.get(to)
    const key = streamKey(on ?? "up", id)
    const link = peer?.streams.get(key)
    if (peer === undefined || link === undefined) return Effect.void
    peer.streams.delete(key)
    link.outbox.length = 0
    const stream = link.opened?.stream ?? link.inbound?.stream
    if (stream !== undefined) peer.streamIds.delete(stream)
    const reset = link.opened?.reset ?? link.inbound?.reset
    return reset === undefined ? Effect.void : this.fork(reset("flow_control"))
  }

  /** A frame on a call stream: a new streaming call, or a frame of a stream we know. */
  onCallStream(peer: Peer, inbound: Inbound, now: number): Effect.Effect<void> {
    const f = inbound.frame
    if (inbound.opener === "peer" && f.t === "call") {
      const key = streamKey("up", f.id)
      if (!peer.streams.has(key)) {
        peer.streams.set(key, { opened: undefined, inbound, outbox: [], draining: false, done: false })
        peer.streamIds.set(inbound.stream, { on: "up", id: f.id })
      }
      return this.onCall(peer, inbound, f, now)
    }
    const known = peer.streamIds.get(inbound.stream)
    if (known === undefined) return Effect.void
    const key = streamKey(known.on, known.id)
    switch (f.t) {
      case "reply":
        return Effect.flatMap(
          this.feed(Rpc.DispatcherEvent.ReplyReceived({ now, from: peer.id, frame: f })),
          () => this.finishStream(peer, key)
        )
      case "cancel":
        return Effect.flatMap(
          this.feed(Rpc.DispatcherEvent.CancelReceived({ now, from: peer.id, frame: f })),
          () => this.finishStream(peer, key)
        )
      case "s.data":
      case "s.end":
      case "s.credit":
        return this.feed(Rpc.DispatcherEvent.StreamFrameReceived({ now, from: peer.id, id: known.id, frame: f, on: known.on }))
      default:
        return Effect.void
    }
  }

  /**
   * The peer reset a call stream (§9.5: a reset aborts the call): a caller's stream is its
   * cancel; a leg's is a failed relay for the call it serves.
   */
  onStreamReset(peerId: string, connectionId: string, stream: number, code: string, now: number): Effect.Effect<void> {
    const peer = this.peers.get(peerId)
    if (peer === undefined || peer.handle.connectionId !== connectionId) return Effect.void
    const known = peer.streamIds.get(stream)
    if (known === undefined) return Effect.void
    peer.streamIds.delete(stream)
    const key = streamKey(known.on, known.id)
    const link = peer.streams.get(key)
    if (link !== undefined) {
      peer.streams.delete(key)
      link.outbox.length = 0
    }
    return known.on === "up"
      ? this.feed(Rpc.DispatcherEvent.CancelReceived({ now, from: peer.id, frame: { t: "cancel", id: known.id } }))
      : this.feed(Rpc.DispatcherEvent.ReplyReceived({
        now, from: peer.id, frame: { t: "reply", id: known.id, e: { c: "relay_failed", m: `call stream reset: ${code}` } }
      }))
  }

  onCall(peer: Peer, inbound: Inbound, f: Frame.Call, now: number): Effect.Effect<void> {
    const received = (verdict: Rpc.Verdict) => {
      this.calling = inbound
      return this.feed(Rpc.DispatcherEvent.CallReceived({ now, from: peer.id, role: peer.role, frame: f, verdict }))
    }
    // An open realm (no port) and a station's relay need no verdict effect.
    if (peer.role !== "client" || this.options.authorise === undefined) return received(allowed)
    return Effect.flatMap(
      this.options.authorise({ peerDid: inbound.peerDid, connectionId: inbound.connectionId, realm: f.realm, command: "/mesh/call", topic: f.proc, au: f.au }),
      received
    )
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  adopt(handle: Handle, now: number): Effect.Effect<Peer | undefined> {
    const driver = this
    return Effect.gen(function*() {
      const status = handle.status()
      if (status.phase !== "ready" || status.peerRole === undefined) return undefined
      const id = hexOfDid(handle.peerDid)
      if (id === undefined || id === driver.self) return undefined
      const known = driver.peers.get(id)
      if (known !== undefined && known.handle.connectionId === handle.connectionId) return known
      if (known !== undefined) yield* driver.drop(known, now)
      const peer: Peer = {
        id, handle, role: status.peerRole, lane: undefined, answer: undefined, outbox: [], draining: false,
        streams: new Map(), streamIds: new Map()
      }
      driver.peers.set(id, peer)
      handle.subscribe("rpc", driver.options.inbox.sink)
      handle.subscribe("call", driver.options.inbox.sink)
      handle.onCallStreamReset?.((stream, code) =>
        driver.tell({ _tag: "StreamReset", peer: id, connectionId: handle.connectionId, stream, code }))
      yield* driver.fork(Effect.flatMap(handle.closed, () =>
        Effect.sync(() => driver.tell({ _tag: "Closed", connectionId: handle.connectionId, peer: id }))))
      if (peer.role === "client") yield* driver.feed(Rpc.DispatcherEvent.ClientAttached({ now, client: id }))
      else yield* driver.feed(Rpc.DispatcherEvent.PeerStatus({ now, peer: id, status: "alive" }))
      return peer
    })
  }

  drop(peer: Peer, now: number): Effect.Effect<void> {
    this.peers.delete(peer.id)
    if (peer.role === "client") {
      this.options.journal.ads.delete(peer.id)
      return this.feed(Rpc.DispatcherEvent.ClientDetached({ now, client: peer.id }))
    }
    return this.feed(Rpc.DispatcherEvent.PeerStatus({ now, peer: peer.id, status: "dead" }))
  }

  scan(now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      for (const handle of yield* driver.options.connections.list) yield* driver.adopt(handle, now)
    })
  }

  /** The adopted peer `inbound` came from; adopts its connection if it is new. */
  peerOf(inbound: Inbound, now: number): Effect.Effect<Peer | undefined> {
    return Effect.flatMap(this.options.connections.lookup(inbound.peerDid), (handle) =>
      handle === undefined || handle.connectionId !== inbound.connectionId ? Effect.undefined : this.adopt(handle, now))
  }

  // -------------------------------------------------------------------------------------------
  // Inbound

  authorise(request: AuthRequest): Effect.Effect<Rpc.Verdict> {
    return this.options.authorise === undefined ? Effect.succeed({ _tag: "Allowed" }) : this.options.authorise(request)
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const id = hexOfDid(inbound.peerDid)
    if (id === undefined) return Effect.void
    // A frame from an adopted peer's current connection finds it without an effect.
    const known = this.peers.get(id)
    if (known !== undefined && known.handle.connectionId === inbound.connectionId) return this.onFrame(known, inbound, now)
    return Effect.flatMap(this.peerOf(inbound, now), (peer) => peer === undefined ? Effect.void : this.onFrame(peer, inbound, now))
  }

  onFrame(peer: Peer, inbound: Inbound, now: number): Effect.Effect<void> {
    if (inbound.channel === "call") return this.onCallStream(peer, inbound, now)
    if (inbound.opener === "peer") peer.answer = inbound.reply
    const f = inbound.frame
    switch (f.t) {
      case "call":
        return this.onCall(peer, inbound, f, now)
      case "reply":
        return this.feed(Rpc.DispatcherEvent.ReplyReceived({ now, from: peer.id, frame: f }))
      case "cancel":
        return this.feed(Rpc.DispatcherEvent.CancelReceived({ now, from: peer.id, frame: f }))
      case "adv":
      case "unadv":
        return this.onAdvertisement(peer, inbound, f, now)
      default:
        return Effect.void
    }
  }

  onAdvertisement(peer: Peer, inbound: Inbound, f: Frame.Adv | Frame.Unadv, now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const client = peer.role === "client"
      switch (f.t) {
        case "adv":
        case "unadv": {
          if (!client) return
          const record = driver.openProvider(f.rec, now)
          if (record === undefined) {
            driver.badRecords++
            yield* driver.fork(peer.handle.penalize("major", `${f.t}: bad provider record`))
            return yield* driver.enqueue(peer.id, { t: "err", id: f.id, c: "bad_signature" })
          }
          const procKey = `${hex(f.realm)}|${f.proc}`
          if (f.t === "unadv") {
            driver.options.journal.ads.get(peer.id)?.delete(procKey)
            return yield* driver.feed(Rpc.DispatcherEvent.UnadvReceived({ now, client: peer.id, frame: f, record }))
          }
          const verdict = yield* driver.authorise({
            peerDid: inbound.peerDid, connectionId: inbound.connectionId, realm: f.realm, command: "/mesh/advertise", topic: f.proc, au: f.au
          })
          if (verdict._tag === "Allowed") {
            let ads = driver.options.journal.ads.get(peer.id)
            if (ads === undefined) driver.options.journal.ads.set(peer.id, ads = new Map())
            ads.set(procKey, { frame: f, record })
          }
          return yield* driver.feed(Rpc.DispatcherEvent.AdvReceived({ now, client: peer.id, frame: f, record, verdict }))
        }
      }
    })
  }

  /** After a restart: every attached client's advertisements, answered to nobody. */
  replay(now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      for (const [id, ads] of Array.from(driver.options.journal.ads)) {
        if (driver.peers.get(id)?.role !== "client") {
          driver.options.journal.ads.delete(id)
          continue
        }
        for (const { frame, record } of ads.values()) {
          driver.suppressed.add(`${id}|${frame.id}`)
          yield* driver.feed(Rpc.DispatcherEvent.AdvReceived({ now, client: id, frame, record, verdict: { _tag: "Allowed" } }))
        }
      }
    })
  }

  stats(): Stats {
    return {
      sizes: Rpc.dispatcherSizes(this.core),
      counters: { ...this.core.counters },
      badRecords: this.badRecords,
      streamFramesDropped: this.streamFramesDropped,
      streams: Array.from(this.peers.values()).reduce((n, p) => n + p.streams.size, 0)
    }
  }
}

/**
 * The dispatcher's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> =>
  Actor.make<Msg, Driver>({
    label: "rpc-dispatcher",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const problems = Rpc.problems(options.config)
        if (problems.length > 0) return yield* Effect.die(new Error(`rpc config: ${problems.join("; ")}`))
        const driver = new Driver(options)
        driver.ref = ctx.self
        driver.scope = yield* Effect.scope
        driver.timers = CoreTimers.make(driver.scope, (fired) => {
          Actor.tellUrgent(driver.ref, { _tag: "TimerFired", ...fired })
        })
        const now = yield* Clock.currentTimeMillis
        const restarted = options.journal.starts > 0
        options.journal.starts++
        const seed = options.seed ?? Math.floor(now % 2_147_483_647)
        driver.core = Rpc.initialDispatcher({ self: driver.self, seed })
        options.inbox.current = ctx.self
        yield* driver.scan(now)
        if (restarted && options.replayJournal !== false) yield* driver.replay(now)
        // §15.2: the provider table is soft state; every client adopted now re-sends its `adv`
        // on `resync` (re-signed records, re-checked grants). Stations hold no advertisements of
        // each other (§9.1), so they are not asked. Forked: a slow control stream must not hold
        // up the start.
        if (restarted) {
          for (const peer of driver.peers.values()) {
            if (peer.role === "client") yield* driver.fork(peer.handle.resync?.(["adv"]) ?? Effect.void)
          }
        }
        else options.journal.ads.clear()
        if (options.revocations !== undefined) {
          const unsubscribe = options.revocations.subscribe((notice) => {
            if (notice._tag !== "Dropped" || notice.command !== "/mesh/advertise") return
            const client = hexOfDid(notice.peerDid)
            if (client === undefined || !driver.ref.isAlive()) return
            driver.ref.tell({ _tag: "GrantsRevoked", client, realm: notice.realm, keep: notice.keep, reason: notice.reason })
          })
          yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))
        }
        const every = options.scanIntervalMs ?? 1_000
        yield* Effect.forkIn(
          Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => void ctx.self.tell({ _tag: "Scan" })))),
          driver.scope,
          { startImmediately: true }
        )
        yield* driver.flush()
        return driver
      }),
    receive: (message, driver) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const handled = ((): Effect.Effect<void> => {
          switch (message._tag) {
            case "Inbound":
              return driver.onInbound(message.inbound, now)
            case "TimerFired":
              return driver.feed(Rpc.DispatcherEvent.TimerFired({ now: message.now, timer: message.timer, generation: message.generation }))
            case "Closed": {
              const peer = driver.peers.get(message.peer)
              return peer !== undefined && peer.handle.connectionId === message.connectionId ? driver.drop(peer, now) : Effect.void
            }
            case "Unreachable":
              return driver.feed(Rpc.DispatcherEvent.PeerStatus({ now, peer: message.peer, status: "dead" }))
            case "StreamReset":
              return driver.onStreamReset(message.peer, message.connectionId, message.stream, message.code, now)
            case "StreamOpenFailed":
              // The next hop's stream could not be opened: that leg failed (nothing ran there).
              return driver.feed(Rpc.DispatcherEvent.ReplyReceived({
                now, from: message.peer, frame: { t: "reply", id: message.id, e: { c: "relay_failed", m: "call stream" } }
              }))
            case "Stored":
              return driver.feed(Rpc.DispatcherEvent.RecordStored({ now, ref: message.ref, acks: message.acks }))
            case "Resolved":
              return driver.feed(Rpc.DispatcherEvent.ProvidersResolved({ now, realm: message.realm, proc: message.proc, records: message.records }))
            case "Scan":
              return driver.scan(now)
            case "Stats":
              message.reply.succeed(driver.stats())
              return Effect.void
            case "GrantsRevoked": {
              // What the core ends must not come back from the journal after a restart.
              const ads = driver.options.journal.ads.get(message.client)
              const prefix = `${hex(message.realm)}|`
              if (ads !== undefined) {
                for (const procKey of Array.from(ads.keys())) {
                  if (procKey.startsWith(prefix) && !message.keep.includes(procKey.slice(prefix.length))) ads.delete(procKey)
                }
              }
              return driver.feed(Rpc.DispatcherEvent.GrantsRevoked({ now, ...message }))
            }
          }
        })()
        return Outboxes.thenFlush(handled, () => driver.flush(), driver)
      }),
    terminate: (_reason, driver) =>
      Effect.sync(() => {
        if (driver.options.inbox.current === driver.ref) driver.options.inbox.current = undefined
      })
  })

/**
 * Asks a running dispatcher for its sizes and counters.
 *
 * @since 0.1.0
 * @category getters
 */
export const stats = (ref: Actor.ActorRef<Msg> | undefined): Effect.Effect<Stats | undefined> =>
  ref === undefined
    ? Effect.succeed(undefined)
    : Effect.orElseSucceed(ref.call<Stats>((reply) => ({ _tag: "Stats", reply }), { timeoutMs: 5_000 }), () => undefined)

export { Rpc }

/**
 * The station's pub/sub router (PROTOCOL.md §8): drives the `PubSub` router core over the
 * connections of the transport subtree.
 *
 * What it owns: the core's state, one sleeping fiber per armed timer, one ordered outbox per
 * peer (a client or a station; frames leave on this side's `pubsub` lane, in the order the core
 * produced them), and a watcher fiber per adopted connection.
 *
 * What it does around the core:
 * - **Connections.** Every ready connection is adopted (at start, on a periodic scan of the
 *   registry, or when its first pubsub frame arrives): a client becomes `ClientAttached`, a
 *   station `PeerUp`; when it closes, `ClientDetached` / `PeerDown`. A replaced connection of
 *   the same peer is a detach followed by an attach.
 * - **Frames.** `pub` and `fwd` envelopes are opened (pre-scan, decode, Ed25519 over the exact
 *   bytes); a bad signature never reaches the core and costs the sender a major penalty (§14
 *   row 17). `sub` and `pub` get the authorisation port's verdict (§13.4; open realm without
 *   one).
 * - **Writes.** `event` and `gap` frames to a client are reported back as `Flushed` once
 *   written (or failed), which reopens the client's send window in the core.
 * - **Restart (§15.2).** The tables are soft state. A restarted router adopts the live
 *   connections and sends `resync` on each one's control stream (`sub` to clients, `interest` to
 *   peer stations), which replay; a peer station's `resync` reaches this router through the
 *   `control` sink and is answered with a full `interest.sync`. Before that, it restores from a
 *   `Journal` the supervisor keeps (outside this actor, so it survives a crash): the `sub` frames
 *   each attached client sent, the last cursor sent per `alo` subscription, and the interest each
 *   peer station announced. The journal restores at once, with no window, and an `alo`
 *   subscription resumes after the last cursor sent (the client sees a `station_restart` gap and
 *   no cursor is reused); the replays on `resync` then land on the same `sid`s and correct
 *   anything the journal missed (RoutingSupervisor says why both). The journal's replay is
 *   answered to nobody.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Did from "../src/identity/Did.ts"
import * as Realm from "../src/identity/Realm.ts"
import * as Ed25519 from "../src/identity/Ed25519.ts"
import type { Handle, Inbound, Lane } from "../src/platform/transport/ConnectionHandle.ts"
import { PubSub } from "../src/protocols/pubsub/index.ts"
import type { RevocationFeed, RevocationNotice as Notice } from "../src/protocols/Revocations.ts"
import * as Topic from "../src/topic/Topic.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as Commands from "../src/runtime/Commands.ts"
import * as CoreTimers from "../src/runtime/CoreTimers.ts"
import * as Outboxes from "../src/runtime/Outboxes.ts"
import * as RuntimeInbox from "../src/runtime/Inbox.ts"
import type * as Frame from "../src/wire/Frame.ts"
import * as Signed from "../src/wire/Signed.ts"
import type { EnvelopeBody } from "../src/wire/SignedBody.ts"

/**
 * What the router needs of the transport subtree (a `TransportTree`'s registry fits).
 *
 * @since 0.1.0
 * @category models
 */
export interface Connections {
  readonly lookup: (did: string) => Effect.Effect<Handle | undefined>
  readonly list: Effect.Effect<ReadonlyArray<Handle>>
}

/**
 * One gated request for the authorisation port (§13.3, §13.4).
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthRequest {
  readonly peerDid: string
  /** The connection the frame came on: grants die with it (§13.4). */
  readonly connectionId: string
  readonly realm: Uint8Array
  readonly command: "/mesh/subscribe" | "/mesh/publish" | "/mesh/advertise" | "/mesh/call"
  /** The topic, pattern or procedure. */
  readonly topic: string
  /** The invocation carried by the frame, if any. */
  readonly au: Frame.Authority | undefined
}

/**
 * The authorisation port: realm → UCAN verdict (grant caching is the port's business).
 *
 * @since 0.1.0
 * @category models
 */
export type Authorise = (request: AuthRequest) => Effect.Effect<PubSub.Verdict>

/**
 * What the station's authorisation port tells the router about revocations (§13.6).
 *
 * @since 0.1.0
 * @category models
 */
export type RevocationNotice = Notice

/**
 * The revocation side of the authorisation port, as the router uses it: the notices, and the
 * realm facts to watch.
 *
 * @since 0.1.0
 * @category models
 */
export interface Revocations extends RevocationFeed {
  /** Realms (names) with grants so far: watched again by a restarted router. */
  readonly granted: () => ReadonlyArray<string>
  /** An event of a watched `revoked_v1` fact reached this station. */
  readonly observed: (envelope: EnvelopeBody) => void
}

/**
 * The topic of a realm's revocation fact (§13.6). `realm` is a pinned realm's name, checked
 * when the node's config was.
 *
 * @since 0.1.0
 * @category constants
 */
export const revokedTopic = (realm: string): string => Topic.realmFact(realm, "membership", "revoked", 1)

/**
 * What a restarted router replays (held by the supervisor, outside the actor).
 *
 * @since 0.1.0
 * @category models
 */
export interface Journal {
  /** Per client (hex key): its subscriptions by sid, with the last `alo` cursor sent. */
  readonly subs: Map<string, Map<number, { readonly frame: Frame.Sub; sent: number }>>
  /** Per peer station (hex key): the interest it announced, by `realmHex pattern`. */
  readonly interest: Map<string, { syncId: number | undefined; readonly entries: Map<string, Frame.InterestEntry> }>
  /** Router starts so far (a start after the first is a restart). */
  starts: number
}

/**
 * An empty journal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const journal = (): Journal => ({ subs: new Map(), interest: new Map(), starts: 0 })

/**
 * Where the node-wide `pubsub` sink delivers: the running router, if any.
 *
 * @since 0.1.0
 * @category models
 */
export type Inbox = RuntimeInbox.Inbox<Inbound, Msg>

/**
 * A fresh inbox; give `inbox.sink` to the transport as `sinks.pubsub`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inbox = (): Inbox => RuntimeInbox.make((inbound: Inbound): Msg => ({ _tag: "Inbound", inbound }))

/**
 * What the router is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** This station's public key. */
  readonly publicKey: Uint8Array
  readonly config: PubSub.Config
  readonly connections: Connections
  /** @default every request allowed (open realm) */
  readonly authorise?: Authorise
  /** Ed25519 verification. @default strict Ed25519 (§2.1) */
  readonly verify?: Signed.Verify
  readonly journal: Journal
  /**
   * Whether a restarted router restores its tables from `journal` before asking for `resync`
   * (see "Restart" above). `false` leaves the restore to `resync` alone (tests). @default true
   */
  readonly replayJournal?: boolean
  readonly inbox: Inbox
  /** How often the registry is scanned for new connections. @default 1_000 */
  readonly scanIntervalMs?: number
  /** Frames waiting for a peer station beyond which forwarded events are dropped. @default 4_096 */
  readonly maxOutboxFrames?: number
  /** Revocation notices and the realm facts to watch (§13.6). @default none */
  readonly revocations?: Revocations
}

/**
 * The router's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Inbound"; readonly inbound: Inbound }
  | { readonly _tag: "TimerFired"; readonly timer: string; readonly generation: number; readonly now: number }
  | { readonly _tag: "Flushed"; readonly client: string; readonly count: number }
  | { readonly _tag: "Closed"; readonly connectionId: string; readonly peer: string }
  | { readonly _tag: "Scan" }
  | { readonly _tag: "Stats"; readonly reply: Actor.Reply<Stats> }
  | { readonly _tag: "Revocation"; readonly notice: RevocationNotice }

/**
 * Sizes and counters of the core, for tests and status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly sizes: ReturnType<typeof PubSub.routerSizes>
  readonly counters: PubSub.RouterCounters
  readonly clients: number
  readonly peers: number
  readonly badSignatures: number
  /** `fwd` frames dropped because a peer station's outbox was full. */
  readonly outboxDrops: number
}

interface Peer {
  readonly id: string
  readonly handle: Handle
  readonly role: "client" | "station"
  lane: Lane | undefined
  /** Writes on the peer's own lane: where `ok` / `err` answers go (they cannot open a lane). */
  answer: Inbound["reply"] | undefined
  readonly outbox: Array<Frame.Frame>
  draining: boolean
}

/** Frames queued before `flush` starts the drainers even while messages still wait. */
const flushEvery = 64

/** DIDs already parsed (base58), newest last: every inbound frame names its sender's. */
const hexOfDidCache = new Map<string, string | undefined>()
const hexOfDidCacheMax = 4_096

const hexOfDid = (did: string): string | undefined => {
  if (hexOfDidCache.has(did)) return hexOfDidCache.get(did)
  const key = Did.parsePublicKey(did)
  const hex = key instanceof Uint8Array ? PubSub.Keys.hex(key) : undefined
  if (hexOfDidCache.size >= hexOfDidCacheMax) hexOfDidCache.delete(hexOfDidCache.keys().next().value!)
  hexOfDidCache.set(did, hex)
  return hex
}

/**
 * Sends frames in order, each on its own (one that fails, say too large for the peer, does
 * not take the others with it).
 */
const sendEach = (lane: Lane, frames: ReadonlyArray<Frame.Frame>): Effect.Effect<void> =>
  frames.length === 1
    ? Effect.ignore(lane.send(frames[0]!))
    : Effect.forEach(frames, (frame) => Effect.ignore(lane.send(frame)), { discard: true })

class Driver {
  core!: PubSub.RouterState
  readonly step: ReturnType<typeof PubSub.makeRouterStep>
  readonly self: string
  timers!: CoreTimers.CoreTimers<string>
  readonly peers = new Map<string, Peer>()
  readonly verify: Signed.Verify
  badSignatures = 0
  outboxDrops = 0
  /** Per client: frames written and not yet reported to the core, in the order first held. */
  readonly pendingFlushed = new Map<string, number>()
  /** The clients with a `Flushed` message in the mailbox. */
  readonly flushMessages = new Set<string>()
  /** Peers whose outbox waits for `flush`. */
  readonly waiting = new Outboxes.Outboxes<Peer>(flushEvery)
  /** The peer whose journalled state is being replayed: its answers are not sent. */
  replaying: string | undefined = undefined
  ref!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.step = PubSub.makeRouterStep(options.config)
    this.self = PubSub.Keys.hex(options.publicKey)
    this.verify = options.verify ?? Ed25519.verify
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<void> {
    return Effect.asVoid(Effect.forkIn(Effect.ignoreCause(effect), this.scope, { startImmediately: true }))
  }

  /**
   * Steps the core when run, then runs its commands in order. Write counts held back by
   * `flushed` reach the core first, so it never decides on a window staler than the writes.
   */
  feed(event: PubSub.RouterEvent): Effect.Effect<void> {
    return Effect.suspend(() =>
      this.pendingFlushed.size === 0
        ? this.stepWith(event)
        : Effect.flatMap(this.flushPending(event.now), () => this.stepWith(event)))
  }

  stepWith(event: PubSub.RouterEvent): Effect.Effect<void> {
    const [next, commands] = this.step(this.core, event)
    this.core = next
    return Commands.runInOrder(commands, (command) => this.interpret(command))
  }

  /** Hands every held write count to the core (`Flushed`), in the order they were held. */
  flushPending(now: number): Effect.Effect<void> {
    if (this.pendingFlushed.size === 0) return Effect.void
    const held = Array.from(this.pendingFlushed)
    this.pendingFlushed.clear()
    return Effect.forEach(held, ([client, count]) => this.stepWith(PubSub.RouterEvent.Flushed({ now, client, count })), {
      discard: true
    })
  }


  interpret(command: PubSub.RouterCommand): Effect.Effect<void> {
    const driver = this
    switch (command._tag) {
      case "Send":
        return driver.enqueue(command.to, command.frame)
      case "SetTimer":
        return driver.timers.set(command.timer, command.at, command.generation)
      case "CancelTimer":
        return driver.timers.cancel(command.timer)
      case "Penalise": {
        const peer = driver.peers.get(command.peer)
        return peer === undefined ? Effect.void : driver.fork(peer.handle.penalize(command.severity, command.reason))
      }
      case "Observed":
        return Effect.sync(() => driver.options.revocations?.observed(command.envelope))
    }
  }

  /** A revocation notice: watch a realm's fact, or end what a dropped grant admitted. */
  onRevocation(notice: RevocationNotice, now: number): Effect.Effect<void> {
    if (notice._tag === "Granted") {
      return this.feed(PubSub.RouterEvent.Watch({ now, realm: Realm.id(notice.realm), topic: revokedTopic(notice.realm) }))
    }
    const client = hexOfDid(notice.peerDid)
    if (notice.command !== "/mesh/subscribe" || client === undefined) return Effect.void
    const event = PubSub.RouterEvent.GrantsRevoked({ now, client, realm: notice.realm, keep: notice.keep, reason: notice.reason })
    return Effect.andThen(this.feed(event), Effect.sync(() => {
      // What the core ended must not come back from the journal after a restart.
      const journalled = this.options.journal.subs.get(client)
      const held = this.core.clients.get(client)?.subs
      if (journalled !== undefined) for (const sid of journalled.keys()) if (held?.has(sid) !== true) journalled.delete(sid)
    }))
  }

  /** Queues a frame for `to`; one drainer per peer keeps the core's order on the wire. */
  enqueue(to: string, frame: Frame.Frame): Effect.Effect<void> {
    const peer = this.peers.get(to)
    if (peer === undefined) {
      if (frame.t === "event" || frame.t === "gap") this.flushed(to, 1, true)
      return Effect.void
    }
    // The replay of a restart is answered to nobody: the client settled those requests long ago.
    if (this.replaying === to && (frame.t === "ok" || frame.t === "err")) return Effect.void
    if (frame.t === "fwd" && peer.outbox.length >= (this.options.maxOutboxFrames ?? 4_096)) {
      // A peer station that cannot keep up loses forwarded events (at most once between
      // stations), never interest: the outbox stays bounded.
      this.outboxDrops++
      return Effect.void
    }
    if (frame.t === "event" || frame.t === "gap") this.noteSent(to, frame)
    peer.outbox.push(frame)
    this.waiting.queued(peer)
    return Effect.void
  }

  /**
   * Starts a drainer for every peer with frames waiting, once no message waits behind the one
   * just handled (or a burst has piled up, or `force`): the frames of a burst of publishes leave
   * from one fiber per peer and in one batch, not one fiber per frame.
   */
  flush(force = false): Effect.Effect<void> {
    return this.waiting.flush(this.ref.stats().queued, (peer) => this.fork(this.drain(peer)), force)
  }

  /**
   * Writes `peer`'s outbox in order (plain `flatMap` steps: it runs per frame). The frames
   * queued while a write waited leave as one batch, reported with one `Flushed`.
   */
  drain(peer: Peer): Effect.Effect<void> {
    while (peer.outbox.length > 0) {
      const first = peer.outbox[0]!
      if (first.t === "ok" || first.t === "err") {
        peer.outbox.shift()
        // An answer goes back on the lane its request came on; without one it cannot be sent.
        if (peer.answer !== undefined) return Effect.flatMap(Effect.ignore(peer.answer(first)), () => this.drain(peer))
        continue
      }
      const batch: Array<Frame.Frame> = []
      while (peer.outbox.length > 0 && peer.outbox[0]!.t !== "ok" && peer.outbox[0]!.t !== "err") batch.push(peer.outbox.shift()!)
      if (peer.lane === undefined) {
        return Effect.flatMap(Effect.result(peer.handle.openLane("pubsub")), (lane) => {
          if (Result.isSuccess(lane)) peer.lane = lane.success
          return this.write(peer, batch)
        })
      }
      return this.write(peer, batch)
    }
    peer.draining = false
    return Effect.void
  }

  /** Writes `batch` on the peer's lane (dropped without one), reports the client frames, drains on. */
  write(peer: Peer, batch: ReadonlyArray<Frame.Frame>): Effect.Effect<void> {
    const after = () => {
      let written = 0
      for (const frame of batch) if (frame.t === "event" || frame.t === "gap") written++
      if (written > 0) this.flushed(peer.id, written)
      return this.drain(peer)
    }
    const lane = peer.lane
    if (lane === undefined) return Effect.suspend(after)
    return Effect.flatMap(sendEach(lane, batch), after)
  }

  /**
   * Reports written frames to the core. The count is held, and a `Flushed` message wakes the
   * actor only when something waits on it (`PubSub.flushWaits`, or `urgent`) and no such message
   * for the client is already in the mailbox; otherwise the core's next event carries it
   * (`feed`). Most events then cost one actor message fewer.
   */
  flushed(client: string, count: number, urgent = false): void {
    this.pendingFlushed.set(client, (this.pendingFlushed.get(client) ?? 0) + count)
    if (this.flushMessages.has(client) || !this.ref.isAlive()) return
    if (!urgent && !PubSub.flushWaits(this.core, client)) return
    this.flushMessages.add(client)
    this.ref.tell({ _tag: "Flushed", client, count })
  }

  noteSent(client: string, frame: Frame.Event | Frame.Gap): void {
    const subs = this.options.journal.subs.get(client)
    if (subs === undefined) return
    const cur = frame.t === "gap" ? frame.to : frame.cur
    if (cur === undefined) return
    for (const sid of frame.t === "gap" ? [frame.sid] : frame.sid) {
      const entry = subs.get(sid)
      if (entry !== undefined && cur > entry.sent) entry.sent = cur
    }
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  /** Starts routing a ready connection's peer; a replaced connection is a detach, then an attach. */
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
      const peer: Peer = { id, handle, role: status.peerRole, lane: undefined, answer: undefined, outbox: [], draining: false }
      driver.peers.set(id, peer)
      handle.subscribe("pubsub", driver.options.inbox.sink)
      yield* driver.fork(Effect.flatMap(handle.closed, () =>
        Effect.sync(() => {
          if (driver.ref.isAlive()) driver.ref.tell({ _tag: "Closed", connectionId: handle.connectionId, peer: id })
        })))
      if (peer.role === "client") yield* driver.feed(PubSub.RouterEvent.ClientAttached({ now, client: id }))
      else yield* driver.feed(PubSub.RouterEvent.PeerUp({ now, peer: id }))
      return peer
    })
  }

  drop(peer: Peer, now: number): Effect.Effect<void> {
    this.peers.delete(peer.id)
    if (peer.role === "client") {
      this.options.journal.subs.delete(peer.id)
      return this.feed(PubSub.RouterEvent.ClientDetached({ now, client: peer.id }))
    }
    this.options.journal.interest.delete(peer.id)
    return this.feed(PubSub.RouterEvent.PeerDown({ now, peer: peer.id }))
  }

  scan(now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      for (const handle of yield* driver.options.connections.list) yield* driver.adopt(handle, now)
    })
  }

  /** The peer of a connection not adopted yet (the known ones are found without an effect). */
  adoptFor(inbound: Inbound, now: number): Effect.Effect<Peer | undefined> {
    return Effect.flatMap(this.options.connections.lookup(inbound.peerDid), (handle) =>
      handle === undefined || handle.connectionId !== inbound.connectionId
        ? Effect.succeed(undefined)
        : this.adopt(handle, now))
  }

  // -------------------------------------------------------------------------------------------
  // Inbound

  authorise(request: AuthRequest): Effect.Effect<PubSub.Verdict> {
    return this.options.authorise === undefined ? Effect.succeed(PubSub.allowed) : this.options.authorise(request)
  }

  open(signed: Frame.Signed): EnvelopeBody | undefined {
    const body = Signed.openEnvelope({ b: signed.b, s: signed.s }, this.verify)
    return body instanceof Error ? undefined : body
  }

  onInbound(inbound: Inbound, now: number): Effect.Effect<void> {
    const id = hexOfDid(inbound.peerDid)
    if (id === undefined) return Effect.void
    const known = this.peers.get(id)
    // The common case (a frame from a peer already adopted) takes no effect to find it.
    if (known !== undefined && known.handle.connectionId === inbound.connectionId) return this.onFrame(known, inbound, now)
    return Effect.flatMap(this.adoptFor(inbound, now), (peer) => peer === undefined ? Effect.void : this.onFrame(peer, inbound, now))
  }

  onFrame(peer: Peer, inbound: Inbound, now: number): Effect.Effect<void> {
    const driver = this
    // Answers go back on the peer's lane; never on the control stream (a `resync` came on it).
    if (inbound.opener === "peer" && inbound.channel !== "control") peer.answer = inbound.reply
    const f = inbound.frame
    const client = peer.role === "client"
    switch (f.t) {
      case "sub": {
        if (!client) return Effect.void
        return Effect.gen(function*() {
          // §8.5: an `alo` sub is answered once every peer station knows its interest. A peer
          // whose connection is ready but not yet adopted (the periodic scan runs every second)
          // would be left out, and the events it routes before the next scan silently lost.
          if (f.mode === "alo") yield* driver.scan(now)
          const verdict = yield* driver.authorise({
            peerDid: inbound.peerDid, connectionId: inbound.connectionId, realm: f.realm, command: "/mesh/subscribe", topic: f.pat, au: f.au
          })
          let subs = driver.options.journal.subs.get(peer.id)
          if (subs === undefined) driver.options.journal.subs.set(peer.id, subs = new Map())
          subs.set(f.sid, { frame: f, sent: f.cur ?? 0 })
          return yield* driver.feed(PubSub.RouterEvent.SubReceived({ now, client: peer.id, frame: f, verdict }))
        })
      }
      case "unsub":
        if (!client) return Effect.void
        driver.options.journal.subs.get(peer.id)?.delete(f.sid)
        return driver.feed(PubSub.RouterEvent.UnsubReceived({ now, client: peer.id, frame: f }))
      case "ack":
        if (!client) return Effect.void
        return driver.feed(PubSub.RouterEvent.AckReceived({ now, client: peer.id, frame: f }))
      case "pub": {
        if (!client) return Effect.void
        const envelope = driver.open(f)
        if (envelope === undefined) {
          driver.badSignatures++
          const penalty = driver.fork(peer.handle.penalize("major", "pub: bad envelope signature"))
          return f.id === undefined ? penalty : Effect.flatMap(penalty, () => driver.enqueue(peer.id, { t: "err", id: f.id!, c: "bad_signature" }))
        }
        const received = (verdict: PubSub.Verdict) =>
          driver.feed(PubSub.RouterEvent.PubReceived({ now, wall: now, client: peer.id, frame: f, envelope, verdict }))
        // An open realm (no authorisation port) needs no effect for its verdict.
        if (driver.options.authorise === undefined) return received(PubSub.allowed)
        return Effect.flatMap(driver.options.authorise({
          peerDid: inbound.peerDid, connectionId: inbound.connectionId, realm: envelope.realm, command: "/mesh/publish", topic: envelope.topic, au: f.au
        }), received)
      }
      case "fwd": {
        if (client) return Effect.void
        const envelope = driver.open(f)
        if (envelope === undefined) {
          driver.badSignatures++
          return driver.fork(peer.handle.penalize("major", "fwd: bad envelope signature"))
        }
        return driver.feed(PubSub.RouterEvent.FwdReceived({ now, wall: now, peer: peer.id, frame: f, envelope }))
      }
      case "interest.sync":
      case "interest.add":
      case "interest.del":
        if (client) return Effect.void
        driver.noteInterest(peer.id, f)
        return driver.feed(PubSub.RouterEvent.InterestReceived({ now, peer: peer.id, frame: f }))
      case "ok":
        if (client) return Effect.void
        return driver.feed(PubSub.RouterEvent.PeerOkReceived({ now, peer: peer.id, frame: f }))
      case "resync":
        // A peer station's router restarted (§15.2): announce our interest again, in full, as
        // on link-up (`PeerUp` of a known peer is exactly that full `interest.sync`).
        if (client || !f.what.includes("interest")) return Effect.void
        return driver.feed(PubSub.RouterEvent.PeerUp({ now, peer: peer.id }))
      default:
        return Effect.void
    }
  }

  noteInterest(peer: string, f: Frame.InterestSync | Frame.InterestAdd | Frame.InterestDel): void {
    let held = this.options.journal.interest.get(peer)
    if (held === undefined) this.options.journal.interest.set(peer, held = { syncId: undefined, entries: new Map() })
    if (f.t === "interest.sync" && held.syncId !== f.id) {
      held.syncId = f.id
      held.entries.clear()
    }
    for (const e of f.e) {
      const key = `${PubSub.Keys.hex(e[0])} ${e[1]}`
      if (f.t === "interest.del") held.entries.delete(key)
      else if (held.entries.size < this.options.config.maxInterestEntriesPerPeer) held.entries.set(key, e)
    }
  }

  /** After a restart: the peers' interest, then the clients' subscriptions, into the fresh core. */
  replay(now: number): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      for (const [id, held] of Array.from(driver.options.journal.interest)) {
        if (driver.peers.get(id)?.role !== "station") {
          driver.options.journal.interest.delete(id)
          continue
        }
        const frame: Frame.InterestSync = { t: "interest.sync", id: 0, gen: 0, e: Array.from(held.entries.values()), more: false }
        driver.replaying = id
        yield* driver.feed(PubSub.RouterEvent.InterestReceived({ now, peer: id, frame }))
      }
      for (const [id, subs] of Array.from(driver.options.journal.subs)) {
        if (driver.peers.get(id)?.role !== "client") {
          driver.options.journal.subs.delete(id)
          continue
        }
        driver.replaying = id
        for (const entry of subs.values()) {
          const { cur: _cur, ...base } = entry.frame
          // An `alo` subscription resumes after the last cursor sent: the client holds (or has
          // handled) everything up to it, and the placeholder gap reports what the crash lost.
          const frame: Frame.Sub = base.mode === "alo" ? { ...base, id: 0, cur: entry.sent } : { ...base, id: 0 }
          yield* driver.feed(PubSub.RouterEvent.SubReceived({ now, client: id, frame, verdict: PubSub.allowed }))
        }
      }
      driver.replaying = undefined
    })
  }

  stats(): Stats {
    let clients = 0
    for (const p of this.peers.values()) if (p.role === "client") clients++
    return {
      sizes: PubSub.routerSizes(this.core),
      counters: { ...this.core.counters },
      clients,
      peers: this.peers.size - clients,
      badSignatures: this.badSignatures,
      outboxDrops: this.outboxDrops
    }
  }
}

/**
 * The router's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> =>
  Actor.make<Msg, Driver>({
    label: "pubsub-router",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const problems = PubSub.problems(options.config)
        if (problems.length > 0) return yield* Effect.die(new Error(`pubsub config: ${problems.join("; ")}`))
        const driver = new Driver(options)
        driver.ref = ctx.self
        driver.scope = yield* Effect.scope
        driver.timers = CoreTimers.make(driver.scope, (fired) => {
          Actor.tellUrgent(driver.ref, { _tag: "TimerFired", ...fired })
        })
        const now = yield* Clock.currentTimeMillis
        const restarted = options.journal.starts > 0
        options.journal.starts++
        driver.core = PubSub.initialRouter(options.config, restarted ? { self: driver.self, restartedAt: now } : { self: driver.self })
        options.inbox.current = ctx.self
        yield* driver.scan(now)
        if (restarted && options.replayJournal !== false) yield* driver.replay(now)
        // Revocation facts of every realm with grants (again, after a restart), then the notices.
        if (options.revocations !== undefined) {
          for (const realm of options.revocations.granted()) yield* driver.onRevocation({ _tag: "Granted", realm }, now)
          const unsubscribe = options.revocations.subscribe((notice) => {
            if (driver.ref.isAlive()) driver.ref.tell({ _tag: "Revocation", notice })
          })
          yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))
        }
        // §15.2: the tables are soft state; every client and peer station adopted now replays
        // its own (`sub`, `interest`) on `resync`. Connections that become ready later replay on
        // their own link-up. Forked: a slow control stream must not hold up the start.
        if (restarted) {
          for (const peer of driver.peers.values()) {
            yield* driver.fork(peer.handle.resync?.(peer.role === "client" ? ["sub"] : ["interest"]) ?? Effect.void)
          }
        }
        else {
          options.journal.subs.clear()
          options.journal.interest.clear()
        }
        const every = options.scanIntervalMs ?? 1_000
        yield* Effect.forkIn(
          Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => void ctx.self.tell({ _tag: "Scan" })))),
          driver.scope,
          { startImmediately: true }
        )
        yield* driver.flush(true)
        return driver
      }),
    // Plain `flatMap` steps, not a generator: this runs for every message.
    receive: (message, driver) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const handled = ((): Effect.Effect<void> => {
          switch (message._tag) {
            case "Inbound":
              return driver.onInbound(message.inbound, now)
            case "TimerFired":
              return driver.feed(PubSub.RouterEvent.TimerFired({ now: message.now, timer: message.timer, generation: message.generation }))
            case "Flushed":
              // The held counts carry this message's (and any held since for other clients).
              driver.flushMessages.delete(message.client)
              return driver.flushPending(now)
            case "Closed": {
              const peer = driver.peers.get(message.peer)
              return peer !== undefined && peer.handle.connectionId === message.connectionId ? driver.drop(peer, now) : Effect.void
            }
            case "Scan":
              return driver.scan(now)
            case "Revocation":
              return driver.onRevocation(message.notice, now)
            case "Stats":
              // Waiting frames written and held write counts first: the sizes of a quiet core.
              return Effect.andThen(driver.flush(true), Effect.map(Effect.suspend(() => driver.flushPending(now)), () => message.reply.succeed(driver.stats())))
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
 * Asks a running router for its sizes and counters (`undefined` if none answers).
 *
 * @since 0.1.0
 * @category getters
 */
export const stats = (ref: Actor.ActorRef<Msg> | undefined): Effect.Effect<Stats | undefined> =>
  ref === undefined
    ? Effect.succeed(undefined)
    : Effect.orElseSucceed(ref.call<Stats>((reply) => ({ _tag: "Stats", reply }), { timeoutMs: 5_000 }), () => undefined)

export { PubSub }

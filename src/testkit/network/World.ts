/**
 * The mutable state of one simulated network (internal to `SimNetwork`): its nodes, the
 * partitions, the link models, one seeded generator, and an agenda of what happens when.
 *
 * Time: every entry point reads the Effect `Clock` once (`run`) and everything it causes is put
 * on an `(at, seq)` agenda. For each distinct due time one fiber sleeps on `Effect.sleep`; when it
 * wakes it processes every entry due by then in agenda order, so under `TestClock` the order of
 * deliveries never depends on how fibers are scheduled, and the same seed and the same calls give
 * the same deliveries.
 *
 * Faults: each transmission asks `Sim.Network.transmit` (the simulator's link model) for its fate.
 * A loss becomes a retransmission after a backed-off timeout, so on a stream it shows as delay,
 * never as a gap. A partition or a crashed receiver blocks a transmission (retried the same way
 * while the sender lives); keepalives stop, and the ends die by idle timeout unless the path
 * comes back first.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Address from "../../platform/transport/Address.ts"
import {
  ConnectionLost,
  type DialError,
  DialFailed,
  IdentityMismatch,
  ListenerClosed,
  ListenFailed
} from "../../platform/transport/Errors.ts"
import { Inbox } from "../../platform/transport/Inbox.ts"
import type { Connection, DialOptions } from "../../platform/transport/Transport.ts"
import * as Agenda from "../sim/Agenda.ts"
import * as Network from "../sim/Network.ts"
import * as Rng from "../sim/Rng.ts"
import { type Arrival, type Carrier, End, type Limits, type Payload } from "./SimConnection.ts"

/**
 * The resolved knobs of a network (see `SimNetwork.Options` for their meaning and defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly seed: number
  readonly link: Network.Link
  readonly linkOf: ((from: string, to: string) => Partial<Network.Link> | undefined) | undefined
  readonly idleTimeoutMs: number
  readonly handshakeTimeoutMs: number
  readonly retransmitMs: number
  readonly maxRetransmitMs: number
  readonly limits: Limits
  readonly trace: boolean
}

/**
 * What a transmission is, in the trace.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "initial" | "reply" | "finished" | "data" | "fin" | "reset" | "close"

/**
 * What became of one transmission (one copy of one segment):
 * - `delivered`: it reached a live end (a stream frame may still wait there for earlier ones);
 * - `duplicate`: a copy of something already received, discarded by the receiver;
 * - `dropped`: it reached an end that is gone;
 * - `unanswered`: a handshake packet nobody listened for (retransmitted);
 * - `lost`: lost to the link's `loss` (retransmitted);
 * - `blocked`: stopped by a partition, at sending or at arrival;
 * - `down`: it reached a crashed node.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = Arrival | "unanswered" | "lost" | "blocked" | "down"

/**
 * One line of the delivery trace.
 *
 * @since 0.1.0
 * @category models
 */
export interface TraceEntry {
  /** Virtual time of the arrival (of the sending, for `lost` and `blocked` at sending). */
  readonly at: number
  readonly kind: Kind
  /** Node keys (`host:port`). */
  readonly from: string
  readonly to: string
  /** The dialling end's connection id (`out-N` of the dialler) with its node. */
  readonly connection: string
  readonly stream?: number
  readonly seq?: number
  /** 0 for the first transmission, then one more per retransmission. */
  readonly attempt: number
  /** Whether this is the extra copy made by the `duplicate` knob. */
  readonly copy: boolean
  readonly outcome: Outcome
}

/**
 * Counters over the whole run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Transmissions, retransmissions included. */
  sent: number
  /** Transmissions that were retransmissions. */
  retransmitted: number
  /** Lost to the `loss` knob (each one retransmitted). */
  lost: number
  /** Extra copies made by the `duplicate` knob. */
  duplicated: number
  /** Copies that reached a live end. */
  delivered: number
  /** Copies discarded by the receiver as already received. */
  discarded: number
  /** Stopped by a partition. */
  blocked: number
  /** Reached a crashed node. */
  down: number
  /** Reached an end that was gone. */
  dropped: number
  /** Connections established (dials that returned one). */
  connections: number
  /** Connection ends that died by idle timeout. */
  idleTimeouts: number
}

interface Entry extends Agenda.Scheduled {
  readonly at: number
  seq: number
  readonly action: (now: number) => void
}

/** One transmission's description: who, what, and what arrival means. */
interface Flight {
  readonly kind: Kind
  readonly from: NodeRecord
  readonly to: NodeRecord
  readonly connection: string
  readonly stream?: number
  readonly seq?: number
  /** Whether the sender still (re)transmits. */
  readonly alive: () => boolean
  /** Whether a partition or a crashed receiver means "retransmit" (`true`) or "gone" (`false`). */
  readonly persistent: boolean
  /** The first copy arrives no earlier than this. */
  readonly notBefore?: () => number
  readonly onScheduled?: (at: number) => void
  readonly arrive: (now: number) => Arrival | "unanswered"
}

/**
 * One node of the network: an address, an identity, up or crashed, attached to a transport or
 * not.
 *
 * @since 0.1.0
 * @category models
 */
export class NodeRecord {
  /** `host:port`, the key of the node. */
  readonly key: string
  /** `quic://host:port` (or the scheme it was given). */
  readonly address: string
  did: string
  publicKey: Uint8Array
  up = true
  attached = true
  listener: Inbox<Connection, ListenerClosed> | undefined = undefined
  readonly ends = new Set<End>()
  readonly dials = new Set<DialState>()
  nextId = 0

  constructor(key: string, address: string, did: string, publicKey: Uint8Array) {
    this.key = key
    this.address = address
    this.did = did
    this.publicKey = publicKey
  }
}

/**
 * One dial in progress.
 *
 * @since 0.1.0
 * @category models
 */
export interface DialState {
  done: boolean
  readonly result: Deferred.Deferred<Connection, DialError>
  server: End | undefined
  client: End | undefined
  offered: boolean
}

/**
 * The key (`host:port`) of a parsed address.
 *
 * @since 0.1.0
 * @category getters
 */
export const keyOf = (address: Address.Address): string =>
  Address.format({ scheme: "quic", host: address.host, port: address.port }).slice("quic://".length)

const payloadKind = (payload: Payload): Kind => {
  switch (payload._tag) {
    case "Data":
      return "data"
    case "Fin":
      return "fin"
    case "Reset":
      return "reset"
    case "Close":
      return "close"
  }
}

/**
 * The network's state and machinery. One per `SimNetwork.make`.
 *
 * @since 0.1.0
 * @category models
 */
export class World implements Carrier {
  readonly config: Config
  readonly scope: Scope.Scope
  readonly rng: Rng.Rng
  readonly nodes = new Map<string, NodeRecord>()
  readonly stats: Stats = {
    sent: 0,
    retransmitted: 0,
    lost: 0,
    duplicated: 0,
    delivered: 0,
    discarded: 0,
    blocked: 0,
    down: 0,
    dropped: 0,
    connections: 0,
    idleTimeouts: 0
  }
  readonly trace: Array<TraceEntry> = []
  link: Network.Link
  readonly linkOverrides = new Map<string, Partial<Network.Link>>()
  readonly linkCache = new Map<string, Network.Link>()
  partitions: ReadonlyArray<{ readonly id: number; readonly groupOf: ReadonlyMap<string, number> }> = []
  nextPartition = 0
  stopped = false

  readonly #agenda = Agenda.make<Entry>()
  readonly #armed = new Set<number>()
  #toArm: Array<number> = []
  #draining = false

  constructor(config: Config, scope: Scope.Scope) {
    this.config = config
    this.scope = scope
    this.rng = Rng.fromSeed(config.seed)
    this.link = config.link
  }

  // ------------------------------------------------------------------------------------------
  // Time
  // ------------------------------------------------------------------------------------------

  /**
   * Puts `action` on the agenda at `at`, rounded up to a whole millisecond: virtual time stays on
   * whole milliseconds, where `Clock` arithmetic is exact (a timer armed for a fractional instant
   * can wake a hair early, and a driver that re-arms it would spin without the clock moving).
   */
  schedule(at: number, action: (now: number) => void): void {
    at = Math.ceil(at)
    Agenda.push(this.#agenda, { at, seq: 0, action })
    if (!this.#armed.has(at)) {
      this.#armed.add(at)
      this.#toArm.push(at)
    }
  }

  /** One fiber per newly due time, sleeping until then in the network's scope. */
  readonly arm: Effect.Effect<void> = Effect.suspend(() => {
    if (this.#toArm.length === 0 || this.stopped) return Effect.void
    const times = this.#toArm
    this.#toArm = []
    return Effect.forEach(
      times,
      (at) => Effect.forkIn(this.#sleeper(at), this.scope, { startImmediately: true }),
      { discard: true }
    )
  })

  #sleeper(at: number): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.andThen(
        at > now ? Effect.sleep(at - now) : Effect.yieldNow,
        Effect.suspend(() => {
          this.#armed.delete(at)
          this.drain(at)
          return this.arm
        })
      ))
  }

  /** Processes every entry due by `upTo`, in `(at, seq)` order. */
  drain(upTo: number): void {
    if (this.#draining || this.stopped) return
    this.#draining = true
    try {
      for (;;) {
        const next = Agenda.peek(this.#agenda)
        if (next === undefined || next.at > upTo) break
        Agenda.pop(this.#agenda)
        next.action(next.at)
      }
    } finally {
      this.#draining = false
    }
  }

  readonly run = <A>(f: (now: number) => A): Effect.Effect<A> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const result = f(now)
      return this.#toArm.length === 0 ? Effect.succeed(result) : Effect.as(this.arm, result)
    })

  // ------------------------------------------------------------------------------------------
  // Links, partitions, reachability
  // ------------------------------------------------------------------------------------------

  blocked(a: NodeRecord, b: NodeRecord): boolean {
    for (const p of this.partitions) {
      if ((p.groupOf.get(a.key) ?? -1) !== (p.groupOf.get(b.key) ?? -1)) return true
    }
    return false
  }

  linkFor(from: NodeRecord, to: NodeRecord): Network.Link {
    if (this.config.linkOf === undefined && this.linkOverrides.size === 0) return this.link
    const key = `${from.key}>${to.key}`
    const cached = this.linkCache.get(key)
    if (cached !== undefined) return cached
    const patched = Network.merge(this.link, this.config.linkOf?.(from.address, to.address))
    const link = checked(Network.merge(patched, this.linkOverrides.get(key)), `link ${from.key} -> ${to.key}`)
    this.linkCache.set(key, link)
    return link
  }

  /**
   * Recomputes, for every live end, whether keepalives from its peer can reach it: both nodes
   * up, the peer end alive, no partition between them and a link from the peer that is not
   * `loss: 1`. Called after every change of any of these.
   */
  refreshPaths(now: number): void {
    for (const node of this.nodes.values()) {
      for (const end of node.ends) {
        const peerNode = this.nodes.get(end.peer.node)
        // A link that loses everything (`loss: 1`) carries no keepalive either.
        const flowing = peerNode !== undefined && !end.peer.isClosed() && node.up && peerNode.up &&
          !this.blocked(node, peerNode) && this.linkFor(peerNode, node).loss < 1
        if (!flowing) end.silentSince ??= now
        else if (end.silentSince !== undefined) {
          end.silentSince = undefined
          end.lastHeard = Math.max(end.lastHeard, now)
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Transmission
  // ------------------------------------------------------------------------------------------

  #record(at: number, f: Flight, attempt: number, copy: boolean, outcome: Outcome): void {
    if (!this.config.trace) return
    const entry: TraceEntry = {
      at,
      kind: f.kind,
      from: f.from.key,
      to: f.to.key,
      connection: f.connection,
      ...(f.stream === undefined ? {} : { stream: f.stream }),
      ...(f.seq === undefined ? {} : { seq: f.seq }),
      attempt,
      copy,
      outcome
    }
    this.trace.push(entry)
  }

  #rto(attempt: number): number {
    return Math.min(this.config.maxRetransmitMs, this.config.retransmitMs * 2 ** attempt)
  }

  #retry(f: Flight, sentAt: number, now: number, attempt: number): void {
    this.schedule(Math.max(now, sentAt + this.#rto(attempt)), (t) => this.#attempt(f, t, attempt + 1))
  }

  #attempt(f: Flight, now: number, attempt: number): void {
    if (!f.alive() || !f.from.up) return
    this.stats.sent++
    if (attempt > 0) this.stats.retransmitted++
    if (this.blocked(f.from, f.to)) {
      this.stats.blocked++
      this.#record(now, f, attempt, false, "blocked")
      if (f.persistent) this.#retry(f, now, now, attempt)
      return
    }
    const delays = Network.transmit(this.linkFor(f.from, f.to), this.rng)
    if (delays.length === 0) {
      this.stats.lost++
      this.#record(now, f, attempt, false, "lost")
      this.#retry(f, now, now, attempt)
      return
    }
    if (delays.length > 1) this.stats.duplicated++
    delays.forEach((delay, i) => {
      let at = now + delay
      if (i === 0) {
        if (f.notBefore !== undefined) at = Math.max(at, f.notBefore())
        f.onScheduled?.(at)
      }
      this.schedule(at, (t) => this.#land(f, now, t, attempt, i > 0))
    })
  }

  #land(f: Flight, sentAt: number, now: number, attempt: number, copy: boolean): void {
    if (!f.to.up) {
      this.stats.down++
      this.#record(now, f, attempt, copy, "down")
      if (f.persistent && !copy) this.#retry(f, sentAt, now, attempt)
      return
    }
    if (this.blocked(f.from, f.to)) {
      this.stats.blocked++
      this.#record(now, f, attempt, copy, "blocked")
      if (f.persistent && !copy) this.#retry(f, sentAt, now, attempt)
      return
    }
    const outcome = f.arrive(now)
    this.#record(now, f, attempt, copy, outcome)
    switch (outcome) {
      case "delivered":
        this.stats.delivered++
        break
      case "duplicate":
        this.stats.discarded++
        break
      case "dropped":
        this.stats.dropped++
        break
      case "unanswered":
        if (!copy) this.#retry(f, sentAt, now, attempt)
        break
    }
  }

  // ------------------------------------------------------------------------------------------
  // The Carrier of connection ends
  // ------------------------------------------------------------------------------------------

  readonly send = (from: End, payload: Payload, now: number): void => {
    const fromNode = this.nodes.get(from.node)
    const toNode = this.nodes.get(from.peer.node)
    if (fromNode === undefined || toNode === undefined) return
    const isClose = payload._tag === "Close"
    const flight: Flight = {
      kind: payloadKind(payload),
      from: fromNode,
      to: toNode,
      connection: from.direction === "outbound" ? `${from.node}/${from.id}` : `${from.peer.node}/${from.peer.id}`,
      ...("stream" in payload ? { stream: payload.stream } : {}),
      ...("seq" in payload ? { seq: payload.seq } : {}),
      // A closing end still sends its close; everything else stops with its end.
      alive: isClose ? () => true : () => !from.isClosed(),
      persistent: !isClose,
      ...(isClose ? { notBefore: () => from.lastArrival } : {}),
      onScheduled: (at) => {
        if (at > from.lastArrival) from.lastArrival = at
      },
      arrive: (t) => from.peer.arrive(payload, t)
    }
    this.#attempt(flight, now, 0)
  }

  readonly ended = (end: End, now: number): void => {
    this.nodes.get(end.node)?.ends.delete(end)
    const peer = end.peer as End | undefined
    if (peer !== undefined && !peer.isClosed()) peer.silentSince ??= now
  }

  // ------------------------------------------------------------------------------------------
  // The idle timeout
  // ------------------------------------------------------------------------------------------

  /** Starts the idle timer of a new end. */
  watch(end: End, now: number): void {
    end.lastHeard = now
    this.schedule(now + this.config.idleTimeoutMs, (t) => this.#idleCheck(end, t))
  }

  #idleCheck(end: End, now: number): void {
    if (end.isClosed()) return
    const timeout = this.config.idleTimeoutMs
    if (end.silentSince === undefined) {
      // Keepalives flow while the path is up: the peer was heard just now.
      end.lastHeard = now
      this.schedule(now + timeout, (t) => this.#idleCheck(end, t))
      return
    }
    const deadline = Math.max(end.lastHeard, end.silentSince) + timeout
    if (now >= deadline) {
      this.stats.idleTimeouts++
      end.lose(
        new ConnectionLost({ peerDid: end.peerDid, by: "idle_timeout", code: "idle_timeout", message: "no packet within the idle timeout" }),
        now
      )
      return
    }
    this.schedule(deadline, (t) => this.#idleCheck(end, t))
  }

  // ------------------------------------------------------------------------------------------
  // Nodes: listen, dial, crash, restart, detach
  // ------------------------------------------------------------------------------------------

  /** Resolves a DID, an address or `host:port` to a node; throws (a defect) when unknown. */
  resolve(ref: string): NodeRecord {
    const direct = this.nodes.get(ref)
    if (direct !== undefined) return direct
    const parsed = Address.parse(ref)
    if (parsed !== undefined) {
      const byAddress = this.nodes.get(keyOf(parsed))
      if (byAddress !== undefined) return byAddress
    }
    for (const node of this.nodes.values()) if (node.attached && node.did === ref) return node
    for (const node of this.nodes.values()) if (node.did === ref) return node
    throw new RangeError(`SimNetwork: no node ${JSON.stringify(ref)}`)
  }

  startListening(node: NodeRecord): Inbox<Connection, ListenerClosed> | ListenFailed {
    if (!node.attached || !node.up) {
      return new ListenFailed({ address: node.address, message: node.attached ? "the node is down" : "the transport is stopped" })
    }
    if (node.listener !== undefined) return new ListenFailed({ address: node.address, message: "already listening" })
    const inbox = new Inbox<Connection, ListenerClosed>()
    node.listener = inbox
    return inbox
  }

  stopListening(node: NodeRecord, inbox: Inbox<Connection, ListenerClosed>): void {
    inbox.fail(new ListenerClosed({ address: node.address }))
    if (node.listener === inbox) node.listener = undefined
  }

  #newEnd(node: NodeRecord, peer: NodeRecord, id: string, direction: "inbound" | "outbound", remoteAddress: string): End {
    return new End({
      id,
      node: node.key,
      peerDid: peer.did,
      peerPublicKey: peer.publicKey,
      remoteAddress,
      direction,
      limits: this.config.limits,
      carrier: this
    })
  }

  #discard(end: End | undefined, now: number, why: string): void {
    end?.lose(new ConnectionLost({ peerDid: end.peerDid, by: "local", code: "handshake_timeout", message: why }), now)
  }

  #failDial(node: NodeRecord, state: DialState, error: DialError, now: number): void {
    if (state.done) return
    state.done = true
    node.dials.delete(state)
    if (!state.offered) this.#discard(state.server, now, "handshake abandoned")
    this.#discard(state.client, now, "handshake abandoned")
    Deferred.doneUnsafe(state.result, Effect.fail(error))
  }

  /** Starts a dial; its outcome completes the returned state's `result`. */
  startDial(node: NodeRecord, address: string, options: DialOptions, now: number): DialState | DialError {
    if (!node.attached || !node.up) {
      return new DialFailed({ address, reason: "transport_stopped", message: node.attached ? "the node is down" : "the transport is stopped" })
    }
    const parsed = Address.parse(address)
    if (parsed === undefined) {
      return new DialFailed({ address, reason: "invalid_address", message: "not a quic:// or tls:// address" })
    }
    const target = this.nodes.get(keyOf(parsed))
    if (target === undefined) {
      return new DialFailed({ address, reason: "unreachable", message: "no node has this address in the simulated network" })
    }
    const expected = options.expectedDid ?? parsed.did
    const timeoutMs = options.timeoutMs ?? this.config.handshakeTimeoutMs
    const state: DialState = {
      done: false,
      result: Deferred.makeUnsafe<Connection, DialError>(),
      server: undefined,
      client: undefined,
      offered: false
    }
    node.dials.add(state)
    const clientId = `out-${++node.nextId}`
    const label = `${node.key}/${clientId}`
    const remote = Address.format({ scheme: parsed.scheme, host: parsed.host, port: parsed.port })
    const own = Address.parse(node.address)
    const back = own === undefined ? node.address : Address.format({ scheme: parsed.scheme, host: own.host, port: own.port })
    this.schedule(now + timeoutMs, (t) =>
      this.#failDial(node, state, new DialFailed({ address, reason: "handshake_timeout", message: `no handshake within ${timeoutMs} ms` }), t))

    const finished = (client: End, server: End): Flight => ({
      kind: "finished",
      from: node,
      to: target,
      connection: label,
      alive: () => !client.isClosed(),
      persistent: true,
      arrive: (t) => {
        if (server.isClosed()) return "dropped"
        if (state.offered) return "duplicate"
        const listener = target.listener
        if (listener === undefined || !listener.offer(server)) {
          server.lose(new ConnectionLost({ peerDid: server.peerDid, by: "local", code: "going_away", message: "not listening" }), t)
          this.send(server, { _tag: "Close", code: "going_away", reason: "not listening" }, t)
          return "delivered"
        }
        state.offered = true
        return "delivered"
      }
    })

    const reply = (client: End, server: End): Flight => ({
      kind: "reply",
      from: target,
      to: node,
      connection: label,
      alive: () => !state.done && !server.isClosed(),
      persistent: true,
      arrive: (t) => {
        if (state.done) return state.client === client && node.ends.has(client) ? "duplicate" : "dropped"
        state.done = true
        node.dials.delete(state)
        node.ends.add(client)
        if (expected !== undefined && expected !== target.did) {
          client.lose(
            new ConnectionLost({ peerDid: client.peerDid, by: "local", code: "identity_mismatch", message: `expected ${expected}` }),
            t
          )
          this.send(client, { _tag: "Close", code: "identity_mismatch", reason: `expected ${expected}` }, t)
          Deferred.doneUnsafe(state.result, Effect.fail(new IdentityMismatch({ address, expected, actual: target.did })))
          return "delivered"
        }
        this.watch(client, t)
        this.stats.connections++
        this.#attempt(finished(client, server), t, 0)
        Deferred.doneUnsafe(state.result, Effect.succeed(client))
        return "delivered"
      }
    })

    const initial: Flight = {
      kind: "initial",
      from: node,
      to: target,
      connection: label,
      alive: () => !state.done,
      persistent: true,
      arrive: (t) => {
        if (state.done) return "dropped"
        if (state.server !== undefined) return "duplicate"
        if (!target.attached || target.listener === undefined) return "unanswered"
        const server = this.#newEnd(target, node, `in-${++target.nextId}`, "inbound", back)
        const client = this.#newEnd(node, target, clientId, "outbound", remote)
        server.peer = client
        client.peer = server
        state.server = server
        state.client = client
        target.ends.add(server)
        this.watch(server, t)
        // A server end whose dialler never finishes is dropped after the handshake timeout.
        this.schedule(t + this.config.handshakeTimeoutMs, (at) => {
          if (!state.offered) this.#discard(server, at, "the dialler never finished the handshake")
        })
        this.#attempt(reply(client, server), t, 0)
        return "delivered"
      }
    }
    this.#attempt(initial, now, 0)
    return state
  }

  /** The dial was interrupted: abandon it. */
  cancelDial(node: NodeRecord, state: DialState, now: number): void {
    if (state.done) {
      // It completed at the same moment; a connection nobody will see is closed.
      const client = state.client
      if (client !== undefined && !client.isClosed() && Deferred.isDoneUnsafe(state.result)) {
        client.lose(new ConnectionLost({ peerDid: client.peerDid, by: "local", code: "normal", message: "dial interrupted" }), now)
        this.send(client, { _tag: "Close", code: "normal", reason: "dial interrupted" }, now)
      }
      return
    }
    this.#failDial(node, state, new DialFailed({ address: node.address, reason: "transport_stopped", message: "interrupted" }), now)
  }

  crash(node: NodeRecord, now: number): void {
    if (!node.up) return
    node.up = false
    if (node.listener !== undefined) this.stopListening(node, node.listener)
    for (const state of [...node.dials]) {
      this.#failDial(node, state, new DialFailed({ address: node.address, reason: "transport_stopped", message: "the node crashed" }), now)
    }
    for (const end of [...node.ends]) {
      end.lose(new ConnectionLost({ peerDid: end.peerDid, by: "transport", code: "crashed", message: "the node crashed" }), now)
    }
    this.refreshPaths(now)
  }

  restart(node: NodeRecord, now: number): void {
    if (node.up) return
    node.up = true
    this.refreshPaths(now)
  }

  /** The node's transport stopped (its scope closed): close everything, as a clean shutdown. */
  detach(node: NodeRecord, now: number): void {
    if (!node.attached) return
    node.attached = false
    if (node.listener !== undefined) this.stopListening(node, node.listener)
    for (const state of [...node.dials]) {
      this.#failDial(node, state, new DialFailed({ address: node.address, reason: "transport_stopped", message: "the transport stopped" }), now)
    }
    for (const end of [...node.ends]) {
      if (end.isClosed()) continue
      end.lose(new ConnectionLost({ peerDid: end.peerDid, by: "local", code: "normal", message: "transport stopped" }), now)
      if (node.up) this.send(end, { _tag: "Close", code: "normal", reason: "transport stopped" }, now)
    }
  }
}

/**
 * `link`, or a defect naming what is wrong with it.
 *
 * @since 0.1.0
 * @category validation
 */
export const checked = (link: Network.Link, what: string): Network.Link => {
  const found = Network.problems(link)
  if (found.length > 0) throw new RangeError(`SimNetwork: ${what}: ${found.join("; ")}`)
  return link
}

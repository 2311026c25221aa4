/**
 * The simulated network as a `Transport` layer: many nodes in one process, each with a
 * `Transport` whose connections behave like the QUIC transport's (listen and accept, dial with an
 * optional pinned DID, the peer's DID on both sides, long-lived streams of whole frames in order,
 * close with the §3.7 codes, idle timeout), over a network with seeded latency, jitter, loss,
 * duplication, reordering, partitions and node crash/restart that can change during a run.
 *
 * ```ts
 * const net = yield* SimNetwork.make({ seed: 42, network: Sim.Network.wan })
 * const a = yield* SimNetwork.transport(net, alice, { listen: "quic://a:4433" })
 * const b = yield* SimNetwork.transport(net, bob)
 * const listener = yield* a.listen
 * const connection = yield* b.dial("quic://a:4433", { expectedDid: alice.did })
 * ```
 *
 * The fault model (per frame; see `docs/guides/simulation.md`, "Simulated network"):
 * - every frame, FIN, reset, close and handshake packet is one transmission whose fate is drawn
 *   from `Sim.Network.transmit` (the simulator's link model): a delay of `latencyMs` plus jitter,
 *   a loss, a duplicate;
 * - streams are reliable: a lost transmission is sent again after a retransmission timeout
 *   (`retransmitMs`, doubling, at most `maxRetransmitMs`), so loss shows as delay, never as a
 *   gap; a duplicate is discarded by the receiver; frames that overtake each other (jitter) wait
 *   for the ones before them, so each stream stays in order while different streams do not wait
 *   for each other;
 * - a partition or a crashed node blocks transmissions (retried while the sender lives) and
 *   stops keepalives: the connection stalls and each end dies by idle timeout
 *   (`idleTimeoutMs` after it last heard its peer) unless the path comes back first;
 * - time is the Effect `Clock`, so `TestClock` drives it; the same seed and the same calls give
 *   the same deliveries (`trace`); virtual time stays on whole milliseconds (every arrival is
 *   rounded up to the next one, so sub-millisecond latencies take 1 ms).
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Address from "../../platform/transport/Address.ts"
import { type DialError, type ListenFailed, TransportStartFailed } from "../../platform/transport/Errors.ts"
import { type Connection, type DialOptions, type Listener, Transport } from "../../platform/transport/Transport.ts"
import * as Network from "../sim/Network.ts"
import { checked, keyOf, NodeRecord, type Stats, type TraceEntry, World } from "./World.ts"

/**
 * The fault model of one directed link: the simulator's (`Sim.Network.Link`), with its presets
 * `perfect`, `lan`, `wan` and `lossy`.
 *
 * @since 0.1.0
 * @category models
 */
export type Link = Network.Link

/**
 * What the trace records and the counters count.
 *
 * @since 0.1.0
 * @category models
 */
export type { Kind, Outcome, Stats, TraceEntry } from "./World.ts"

/**
 * Options of a simulated network.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Every random draw of the network comes from it. */
  readonly seed: number
  /** The default link, a preset or a patch over `Sim.Network.perfect`. @default Sim.Network.perfect (10 ms, no jitter, loss or duplicates) */
  readonly network?: Partial<Link>
  /** A patch per directed link, by node address (called once per link, then cached). */
  readonly link?: (from: string, to: string) => Partial<Link> | undefined
  /** An end that has heard nothing from its peer for this long is lost (`idle_timeout`). @default 10_000 (quicIdleTimeoutMs) */
  readonly idleTimeoutMs?: number
  /** A dial not complete within this long fails `handshake_timeout`. @default 10_000 (handshakeTimeoutMs) */
  readonly handshakeTimeoutMs?: number
  /** First retransmission timeout of a lost or blocked transmission; doubles per retry. @default 200 */
  readonly retransmitMs?: number
  /** Largest retransmission timeout. @default 2_000 */
  readonly maxRetransmitMs?: number
  /** Largest frame body accepted, and the initial send limit. @default 1_048_576 */
  readonly maxFrameBytes?: number
  /** Bytes a stream may have unread by the peer before `send` waits (backpressure). @default 1_048_576 */
  readonly sendBufferBytes?: number
  /** Streams one side may have open on a connection. @default 128 */
  readonly maxStreamsPerConnection?: number
  /** Keep every transmission's fate for `trace` (costs memory). @default false */
  readonly trace?: boolean
}

/**
 * A simulated network. Opaque: use the functions of this module.
 *
 * @since 0.1.0
 * @category models
 */
export interface SimNetwork {
  /** The seed it was made with. */
  readonly seed: number
}

/**
 * A node, as fault functions name it: its DID, its address (`quic://host:port`, a `#did`
 * fragment is ignored) or its key `host:port`.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeRef = string

/**
 * Who a node is: an `Identity`, or any DID with its 32-byte Ed25519 public key.
 *
 * @since 0.1.0
 * @category models
 */
export interface Who {
  readonly did: string
  readonly publicKey: Uint8Array
}

/**
 * Options of one node's transport.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportOptions {
  /** The node's address, where it listens and what peers see. @default `quic://node-N:4433` (N counts nodes from 0) */
  readonly listen?: string
}

/**
 * What a node looks like from outside.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeInfo {
  readonly address: string
  readonly did: string
  /** `false` while crashed. */
  readonly up: boolean
  /** Whether a transport is attached (its scope is open). */
  readonly attached: boolean
  readonly listening: boolean
  /** Live connection ends on this node (handshakes in progress included). */
  readonly connections: number
}

/**
 * A partition's handle, for `heal`.
 *
 * @since 0.1.0
 * @category models
 */
export type PartitionId = number

const worlds = new WeakMap<SimNetwork, World>()

const world = (net: SimNetwork): World => {
  const w = worlds.get(net)
  if (w === undefined) throw new TypeError("SimNetwork: not a network made by SimNetwork.make")
  return w
}

/**
 * The defaults of every knob but `seed` and `network`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  idleTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  retransmitMs: 200,
  maxRetransmitMs: 2_000,
  maxFrameBytes: 1_048_576,
  sendBufferBytes: 1_048_576,
  maxStreamsPerConnection: 128
} as const

/**
 * What is wrong with the options, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (options: Options): ReadonlyArray<string> => {
  const found: Array<string> = []
  if (!Number.isFinite(options.seed)) found.push(`seed must be a finite number, got ${options.seed}`)
  for (const name of Object.keys(defaults) as ReadonlyArray<keyof typeof defaults>) {
    const value = options[name]
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) found.push(`${name} must be a finite number > 0, got ${value}`)
  }
  found.push(...Network.problems(Network.merge(Network.perfect, options.network)))
  return found
}

/**
 * A new network in the current scope; closing the scope stops its delivery fibers. Dies (a
 * defect) on invalid options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<SimNetwork, never, Scope.Scope> =>
  Effect.gen(function*() {
    const found = problems(options)
    if (found.length > 0) return yield* Effect.die(new RangeError(`SimNetwork: ${found.join("; ")}`))
    const scope = yield* Effect.scope
    const w = new World({
      seed: options.seed,
      link: Network.merge(Network.perfect, options.network),
      linkOf: options.link,
      idleTimeoutMs: options.idleTimeoutMs ?? defaults.idleTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? defaults.handshakeTimeoutMs,
      retransmitMs: options.retransmitMs ?? defaults.retransmitMs,
      maxRetransmitMs: options.maxRetransmitMs ?? defaults.maxRetransmitMs,
      limits: {
        maxFrameBytes: options.maxFrameBytes ?? defaults.maxFrameBytes,
        sendBufferBytes: options.sendBufferBytes ?? defaults.sendBufferBytes,
        maxStreams: options.maxStreamsPerConnection ?? defaults.maxStreamsPerConnection
      },
      trace: options.trace ?? false
    }, scope)
    yield* Effect.addFinalizer(() => Effect.sync(() => void (w.stopped = true)))
    const net: SimNetwork = { seed: options.seed }
    worlds.set(net, w)
    return net
  })

/**
 * Attaches a node to the network and returns its `Transport`. The node keeps its address for
 * the whole run; closing the scope stops the transport (listener closed, connections closed
 * `normal`, dials failed), after which another transport may attach at the same address (a
 * process restarted with a fresh transport).
 *
 * @since 0.1.0
 * @category constructors
 */
export const transport = (
  net: SimNetwork,
  who: Who,
  options: TransportOptions = {}
): Effect.Effect<Transport["Service"], TransportStartFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const w = world(net)
    const given = options.listen ?? `quic://node-${w.nodes.size}:4433`
    const parsed = Address.parse(given)
    if (parsed === undefined) {
      return yield* Effect.fail(new TransportStartFailed({ message: `not a quic:// or tls:// address: ${given}` }))
    }
    const key = keyOf(parsed)
    const address = Address.format({ scheme: parsed.scheme, host: parsed.host, port: parsed.port })
    const node = yield* Effect.acquireRelease(
      w.run((): NodeRecord | TransportStartFailed => {
        const existing = w.nodes.get(key)
        if (existing !== undefined) {
          if (existing.attached) return new TransportStartFailed({ message: `${address} is in use by another node` })
          existing.attached = true
          existing.did = who.did
          existing.publicKey = Uint8Array.from(who.publicKey)
          existing.nextId = 0
          return existing
        }
        const made = new NodeRecord(key, address, who.did, Uint8Array.from(who.publicKey))
        w.nodes.set(key, made)
        return made
      }).pipe(Effect.flatMap((r) => (r instanceof TransportStartFailed ? Effect.fail(r) : Effect.succeed(r)))),
      (n) => w.run((now) => w.detach(n, now))
    )

    const listen: Effect.Effect<Listener, ListenFailed, Scope.Scope> = Effect.map(
      Effect.acquireRelease(
        Effect.flatMap(w.run(() => w.startListening(node)), (r) => ("_tag" in r ? Effect.fail(r) : Effect.succeed(r))),
        (inbox) => w.run(() => w.stopListening(node, inbox))
      ),
      (inbox): Listener => ({ address: node.address, addresses: [node.address], accept: inbox.take })
    )

    const dial = (target: string, dialOptions: DialOptions = {}): Effect.Effect<Connection, DialError> =>
      Effect.flatMap(w.run((now) => w.startDial(node, target, dialOptions, now)), (state) => {
        if ("_tag" in state) return Effect.fail(state)
        return Effect.onInterrupt(Deferred.await(state.result), () => w.run((now) => w.cancelDial(node, state, now)))
      })

    return { localDid: who.did, localAddress: node.address, listen, dial }
  })

/**
 * A `Transport` layer for one node of `net` (see `transport`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (net: SimNetwork, who: Who, options: TransportOptions = {}): Layer.Layer<Transport, TransportStartFailed> =>
  Layer.effect(Transport, transport(net, who, options))

// ---------------------------------------------------------------------------------------------
// Faults and changes
// ---------------------------------------------------------------------------------------------

/**
 * Splits the network now: nodes in different `groups` cannot reach each other, and the nodes in
 * no group form one more group, so `[[a]]` cuts `a` off from everyone. Transmissions between
 * the sides are blocked (and retried while their sender lives); keepalives stop, so connections
 * across the cut die by idle timeout unless it heals first. Several partitions can be active.
 * With `healAfterMs`, it heals by itself that much later.
 *
 * @since 0.1.0
 * @category faults
 */
export const partition = (
  net: SimNetwork,
  groups: ReadonlyArray<ReadonlyArray<NodeRef>>,
  options: { readonly healAfterMs?: number } = {}
): Effect.Effect<PartitionId> => {
  const w = world(net)
  return w.run((now) => {
    const groupOf = new Map<string, number>()
    groups.forEach((group, g) => {
      for (const ref of group) {
        const key = w.resolve(ref).key
        if (groupOf.has(key)) throw new RangeError(`SimNetwork: node ${JSON.stringify(ref)} is in two groups of one partition`)
        groupOf.set(key, g)
      }
    })
    const id = w.nextPartition++
    w.partitions = [...w.partitions, { id, groupOf }]
    w.refreshPaths(now)
    if (options.healAfterMs !== undefined) {
      w.schedule(now + options.healAfterMs, (t) => healNow(w, id, t))
    }
    return id
  })
}

const healNow = (w: World, id: PartitionId | undefined, now: number): void => {
  w.partitions = id === undefined ? [] : w.partitions.filter((p) => p.id !== id)
  w.refreshPaths(now)
}

/**
 * Ends one partition now, or every partition when `id` is omitted. Connections that have not
 * timed out carry on (blocked transmissions get through at their next retry); new dials pass.
 *
 * @since 0.1.0
 * @category faults
 */
export const heal = (net: SimNetwork, id?: PartitionId): Effect.Effect<void> => {
  const w = world(net)
  return w.run((now) => healNow(w, id, now))
}

/**
 * Crashes a node now: its listener stops (`accept` fails `ListenerClosed`), its connection ends
 * are lost (`ConnectionLost` by `transport`, code `crashed`), its dials fail `transport_stopped`,
 * and nothing reaches it any more. Its peers hear nothing: their ends stall and die by idle
 * timeout. With `restartAfterMs`, it restarts by itself that much later.
 *
 * @since 0.1.0
 * @category faults
 */
export const crash = (
  net: SimNetwork,
  node: NodeRef,
  options: { readonly restartAfterMs?: number } = {}
): Effect.Effect<void> => {
  const w = world(net)
  return w.run((now) => {
    const n = w.resolve(node)
    w.crash(n, now)
    if (options.restartAfterMs !== undefined) w.schedule(now + options.restartAfterMs, (t) => w.restart(n, t))
  })
}

/**
 * Restarts a crashed node now: same address and identity, reachable again. Like a restarted
 * process it starts with no connections; it accepts again once its code calls `listen` again (a
 * supervised listener actor does, when it is restarted).
 *
 * @since 0.1.0
 * @category faults
 */
export const restart = (net: SimNetwork, node: NodeRef): Effect.Effect<void> => {
  const w = world(net)
  return w.run((now) => w.restart(w.resolve(node), now))
}

/**
 * Patches the default link model from now on; transmissions already under way keep their fate.
 *
 * @since 0.1.0
 * @category faults
 */
export const setNetwork = (net: SimNetwork, patch: Partial<Link>): Effect.Effect<void> => {
  const w = world(net)
  return w.run((now) => {
    w.link = checked(Network.merge(w.link, patch), "network")
    w.linkCache.clear()
    w.refreshPaths(now)
  })
}

/**
 * Overrides the directed link `from -> to` (and back with `bothWays`) from now on; `undefined`
 * clears the override. `{ loss: 1 }` one way is an asymmetric cut: every transmission that way
 * is retried in vain, and the receiving end stops hearing keepalives (idle timeout).
 *
 * @since 0.1.0
 * @category faults
 */
export const setLink = (
  net: SimNetwork,
  from: NodeRef,
  to: NodeRef,
  patch: Partial<Link> | undefined,
  options: { readonly bothWays?: boolean } = {}
): Effect.Effect<void> => {
  const w = world(net)
  return w.run((now) => {
    const a = w.resolve(from).key
    const b = w.resolve(to).key
    const keys = options.bothWays === true ? [`${a}>${b}`, `${b}>${a}`] : [`${a}>${b}`]
    for (const key of keys) {
      if (patch === undefined) w.linkOverrides.delete(key)
      else w.linkOverrides.set(key, { ...w.linkOverrides.get(key), ...patch })
    }
    w.linkCache.clear()
    w.refreshPaths(now)
  })
}

// ---------------------------------------------------------------------------------------------
// What happened
// ---------------------------------------------------------------------------------------------

/**
 * The counters so far (a copy).
 *
 * @since 0.1.0
 * @category getters
 */
export const stats = (net: SimNetwork): Stats => ({ ...world(net).stats })

/**
 * Every transmission's fate so far, in order (empty unless the network was made with
 * `trace: true`).
 *
 * @since 0.1.0
 * @category getters
 */
export const trace = (net: SimNetwork): ReadonlyArray<TraceEntry> => world(net).trace.slice()

/**
 * A node's state.
 *
 * @since 0.1.0
 * @category getters
 */
export const nodeInfo = (net: SimNetwork, node: NodeRef): NodeInfo => {
  const n = world(net).resolve(node)
  return {
    address: n.address,
    did: n.did,
    up: n.up,
    attached: n.attached,
    listening: n.listener !== undefined,
    connections: n.ends.size
  }
}

/**
 * Whether no partition separates two nodes now.
 *
 * @since 0.1.0
 * @category getters
 */
export const reachable = (net: SimNetwork, from: NodeRef, to: NodeRef): boolean => {
  const w = world(net)
  return !w.blocked(w.resolve(from), w.resolve(to))
}

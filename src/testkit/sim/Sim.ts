/**
 * The deterministic simulator: many pure cores (`step(state, event) -> [state, commands]`)
 * on one seeded agenda of virtual time, over a seeded faulty network.
 *
 * You supply how to build a node's state (`initial`), its `step`, an `interpret`er that maps
 * each command to simulator actions (`send`, `setTimer`, `cancelTimer`, `emit`, `count`) and
 * `events`, which turns a delivered message or a fired timer into the core's event type.
 * The simulator delivers every input with its virtual `now`, samples each message's fate
 * (loss, delay, duplicate) from the `Network` model, applies partitions, crashes and
 * restarts, and records what happened: message counts, per-node counters, emitted records and,
 * on request, a full trace of deliveries.
 *
 * Key invariant: the run is a pure function of the seed and of the calls made on the `Sim`.
 * The agenda orders entries by `(time, sequence number)`, every random draw comes from a
 * generator seeded from `seed`, and nothing reads a clock, `Math.random` or the event loop,
 * so the same seed and the same calls give the same trace, bit for bit.
 *
 * It is a mutable driver, not a pure value: `make` returns a handle and the functions here
 * update it in place (the cores themselves stay pure). It does not run Effects, actors or
 * real I/O, does not copy or serialise messages (do not mutate one after sending it), and
 * does not decide what a core's commands mean: that is the `interpret` function's job.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import * as Prng from "../../core/Prng.ts"
import type { Step } from "../../core/Step.ts"
import * as Agenda from "./Agenda.ts"
import * as Network from "./Network.ts"
import * as Rng from "./Rng.ts"

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * A node's address in the simulation.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeId = string

/**
 * Send `message` to node `to` over the simulated network.
 *
 * @since 0.1.0
 * @category actions
 */
export interface Send<M> {
  readonly _tag: "Send"
  readonly to: NodeId
  readonly message: M
}

/**
 * Fire `timer` at virtual time `at` (clamped to now) with `generation`. A later `SetTimer` for
 * the same key replaces a pending one, as an actor's timer map does.
 *
 * @since 0.1.0
 * @category actions
 */
export interface SetTimer<K> {
  readonly _tag: "SetTimer"
  readonly timer: K
  readonly at: Millis
  readonly generation: number
}

/**
 * Forget the pending `timer`, if any.
 *
 * @since 0.1.0
 * @category actions
 */
export interface CancelTimer<K> {
  readonly _tag: "CancelTimer"
  readonly timer: K
}

/**
 * Record an observation (kept in `records`, passed to `onEmit`).
 *
 * @since 0.1.0
 * @category actions
 */
export interface Emit<R> {
  readonly _tag: "Emit"
  readonly record: R
}

/**
 * Add `by` to the named counter of the node and of the whole simulation.
 *
 * @since 0.1.0
 * @category actions
 */
export interface Count {
  readonly _tag: "Count"
  readonly name: string
  readonly by: number
}

/**
 * What the simulator can do for a core.
 *
 * @since 0.1.0
 * @category actions
 */
export type Action<M, K, R> = Send<M> | SetTimer<K> | CancelTimer<K> | Emit<R> | Count

/**
 * What `interpret` returns for one command: one action, several, or none.
 *
 * @since 0.1.0
 * @category actions
 */
export type Actions<M, K, R> = Action<M, K, R> | ReadonlyArray<Action<M, K, R>> | undefined

/**
 * What `initial` gets when it builds a node's state (at creation and on a `reset` restart).
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeContext {
  /** The node's address. */
  readonly id: NodeId
  /** Its position in `nodes(sim)`. */
  readonly index: number
  /** Virtual time of the (re)start. */
  readonly now: Millis
  /** 0 for the first start, then one more per restart. */
  readonly incarnation: number
  /** A 32-bit seed derived from the simulation seed, the id and the incarnation. */
  readonly seed: number
  /** `Prng.fromSeed(seed)`: put it in the state if the core draws random numbers. */
  readonly prng: Prng.Prng
}

/**
 * What `interpret` gets besides the command.
 *
 * @since 0.1.0
 * @category models
 */
export interface StepContext {
  /** The node whose step produced the command. */
  readonly self: NodeId
  /** The virtual time of that step. */
  readonly now: Millis
}

/**
 * What `events.started` gets when a node starts or restarts.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartInfo {
  readonly self: NodeId
  readonly now: Millis
  /** 0 for the first start, then one more per restart. */
  readonly incarnation: number
}

/**
 * How the simulator builds the core's events. Each gets the virtual `now` to put in the event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Events<E, M, K> {
  /** A message from `from` arrives. */
  readonly message: (message: M, from: NodeId, now: Millis) => E
  /** A timer fires (a stale `generation` only reaches the core with `staleTimers: "deliver"`). */
  readonly timer: (timer: K, generation: number, now: Millis) => E
  /**
   * Optional: the event a node gets when it starts (at creation) and after every restart.
   * Pending timers die with a crash, so a core restarted with its state kept uses this to
   * set them again.
   */
  readonly started?: (info: StartInfo) => E
}

/**
 * Everything `make` needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config<S, E, C, M, K, R> {
  /** The seed of every random draw (network, node seeds, `random`). Any finite number. */
  readonly seed: number
  /** The initial nodes, in order; ids must be distinct. More can join with `addNode`. */
  readonly nodes: ReadonlyArray<NodeId>
  /** Builds a node's state; must be pure (called again on a `reset` restart). */
  readonly initial: (ctx: NodeContext) => S
  /** The core. */
  readonly step: Step<S, E, C>
  /** Maps one command to what the simulator should do; called in command order. */
  readonly interpret: (command: C, ctx: StepContext) => Actions<M, K, R>
  /** Builds the core's events from deliveries. */
  readonly events: Events<E, M, K>
  /** The default link model, patched over `Network.perfect`. @default Network.perfect */
  readonly network?: Partial<Network.Link>
  /** Per-link patches over the default (called once per directed link, then cached). */
  readonly link?: (from: NodeId, to: NodeId) => Partial<Network.Link> | undefined
  /**
   * The identity of a timer key in the node's timer table. @default the key itself when it is
   * not an object, `JSON.stringify(key)` when it is
   */
  readonly timerKey?: (timer: K) => unknown
  /**
   * `"drop"`: a superseded or cancelled timer never fires, as with an actor's timer map.
   * `"deliver"`: it fires anyway with its old generation, to exercise the core's stale-timer
   * guard (the race where a timer fired just before it was replaced). @default "drop"
   */
  readonly staleTimers?: "drop" | "deliver"
  /** Names a message's kind, to split message counts by kind in `stats(sim).byKind`. */
  readonly kindOf?: (message: M) => string
  /** Keep every delivery (with its event) for `trace(sim)`. Costs memory. @default false */
  readonly trace?: boolean
  /** Keep emitted records for `records(sim)`. @default true */
  readonly keepRecords?: boolean
  /** Called for every emitted record, in emission order. */
  readonly onEmit?: (observation: Observation<R>) => void
}

/**
 * An emitted record with where and when it was emitted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Observation<R> {
  readonly at: Millis
  readonly node: NodeId
  readonly record: R
}

/**
 * One input handed to a core, as kept by `trace`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Delivery<E> {
  /** The agenda sequence number of the entry. */
  readonly seq: number
  readonly at: Millis
  readonly node: NodeId
  readonly kind: "message" | "timer" | "inject" | "start"
  /** The sender, for messages. */
  readonly from: NodeId | undefined
  /** When the message was sent, for messages. */
  readonly sentAt: Millis | undefined
  readonly event: E
}

/**
 * Message counts. They balance: `sent + duplicated = delivered + (every dropped) + inFlight`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MessageCounts {
  /** `Send` actions carried out. */
  readonly sent: number
  /** Messages handed to a core (duplicates count twice). */
  readonly delivered: number
  /** Extra copies created by duplication. */
  readonly duplicated: number
  readonly dropped: {
    /** Lost by the link's loss probability. */
    readonly loss: number
    /** Blocked by a partition, at send or (in flight) at arrival. */
    readonly partition: number
    /** Arrived at a node that was down. */
    readonly crash: number
    /** Addressed to an id that is not in the simulation. */
    readonly unknown: number
  }
}

/**
 * A snapshot of the whole simulation's counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats extends MessageCounts {
  readonly now: Millis
  /** Core steps taken (every delivered input). */
  readonly steps: number
  /** Message copies scheduled and not yet arrived. */
  readonly inFlight: number
  /** Entries waiting on the agenda (including stale timers not yet skipped). */
  readonly pending: number
  readonly timers: {
    readonly set: number
    readonly fired: number
    /** Pending timers replaced by a `SetTimer` with the same key. */
    readonly superseded: number
    readonly cancelled: number
    /** Pending timers that died with a crash. */
    readonly lost: number
  }
  /** Injected events delivered, and lost because the node was down. */
  readonly injected: { readonly delivered: number; readonly lost: number }
  /** Sum of every node's `count` actions, by name. */
  readonly counters: Readonly<Record<string, number>>
  /** Message counts by `kindOf(message)` (empty without `kindOf`). */
  readonly byKind: Readonly<Record<string, MessageCounts>>
}

/**
 * A snapshot of one node's counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeStats {
  readonly id: NodeId
  readonly up: boolean
  readonly incarnation: number
  readonly steps: number
  /** Messages this node sent. */
  readonly sent: number
  /** Messages delivered to this node. */
  readonly received: number
  /** Messages addressed to this node that were dropped, by cause. */
  readonly dropped: { readonly loss: number; readonly partition: number; readonly crash: number }
  readonly crashes: number
  readonly restarts: number
  readonly counters: Readonly<Record<string, number>>
}

/**
 * Why a run returned.
 *
 * - `time`: virtual time reached the bound (`untilMs`, or `maxMs` for `runUntilQuiet`);
 * - `quiet`: the agenda is empty (only `runUntilQuiet`);
 * - `stopped`: the `stop` predicate returned true;
 * - `limit`: `maxSteps` core steps were taken.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunResult {
  readonly reason: "time" | "quiet" | "stopped" | "limit"
  readonly now: Millis
  /** Core steps taken by this run. */
  readonly steps: number
}

/**
 * Options of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<S, E, R> {
  /** Checked after every agenda entry; the run returns as soon as it is true. */
  readonly stop?: (sim: Sim<S, E, R>) => boolean
  /**
   * Returns after this many core steps (reason `limit`). @default Infinity for `runUntil` and
   * `runFor` (time bounds them), 10_000_000 for `runUntilQuiet` (periodic timers never go quiet)
   */
  readonly maxSteps?: number
}

/**
 * When a fault or change applies: omitted means now, at once; otherwise a virtual time not
 * in the past, at which it is scheduled on the agenda (after entries already due then).
 *
 * @since 0.1.0
 * @category models
 */
export interface When {
  readonly at?: Millis
}

/**
 * A partition's handle, for `heal`.
 *
 * @since 0.1.0
 * @category models
 */
export type PartitionId = number

/**
 * A step, `initial` or `interpret` threw: a broken invariant in the core (a defect). The
 * simulation must not be used after it.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimDefect extends Error {
  readonly _tag = "SimDefect"
  constructor(
    readonly node: NodeId,
    readonly at: Millis,
    readonly phase: "initial" | "step" | "interpret",
    cause: unknown
  ) {
    super(`${phase} threw on node ${node} at ${at} ms: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause
    })
    this.name = "SimDefect"
  }
}

/**
 * Brands a `Sim` handle.
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("macula-node/testkit/Sim")

/**
 * A running simulation: a mutable handle that the functions of this module read and update.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sim<S, E, R = unknown> {
  readonly [TypeId]: {
    readonly _S: (s: S) => S
    readonly _E: (e: E) => E
    readonly _R: (r: R) => R
  }
}

// ---------------------------------------------------------------------------------------------
// Action constructors
// ---------------------------------------------------------------------------------------------

/**
 * Send `message` to `to`.
 *
 * @since 0.1.0
 * @category actions
 */
export const send = <M>(to: NodeId, message: M): Send<M> => ({ _tag: "Send", to, message })

/**
 * Fire `timer` at `at` with `generation`.
 *
 * @since 0.1.0
 * @category actions
 */
export const setTimer = <K>(timer: K, at: Millis, generation: number): SetTimer<K> => ({
  _tag: "SetTimer",
  timer,
  at,
  generation
})

/**
 * Forget the pending `timer`.
 *
 * @since 0.1.0
 * @category actions
 */
export const cancelTimer = <K>(timer: K): CancelTimer<K> => ({ _tag: "CancelTimer", timer })

/**
 * Record `record`.
 *
 * @since 0.1.0
 * @category actions
 */
export const emit = <R>(record: R): Emit<R> => ({ _tag: "Emit", record })

/**
 * Add `by` (default 1) to the counter `name`.
 *
 * @since 0.1.0
 * @category actions
 */
export const count = (name: string, by = 1): Count => ({ _tag: "Count", name, by })

/**
 * `count` ids `"<prefix>0"`, `"<prefix>1"`, ...
 *
 * @since 0.1.0
 * @category constructors
 */
export const ids = (count: number, prefix = "n"): ReadonlyArray<NodeId> =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}`)

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

const MESSAGE = 0
const TIMER = 1
const INJECT = 2
const START = 3
const CONTROL = 4
const kindNames = ["message", "timer", "inject", "start"] as const

/**
 * One agenda entry. One class for every kind, so the heap holds a single object shape; entries
 * are recycled through a pool once processed, since at 10^5 entries in flight allocating each
 * one made the garbage collector the main cost.
 */
class Entry implements Agenda.Scheduled {
  seq = 0
  constructor(
    public at: Millis,
    public kind: number,
    /** Node index (messages, timers, injects, starts); -1 for control entries. */
    public to: number,
    /** Sender index, for messages; otherwise -1. */
    public from: number,
    public sentAt: Millis,
    /** The message, the timer key, the injected event or the control callback. */
    public payload: unknown,
    public generation: number,
    /** The node's incarnation when the entry was made; -1 once superseded or cancelled. */
    public token: number,
    /** The timer's identity in the node's timer table. */
    public key: unknown
  ) {}
}

interface Counts {
  sent: number
  delivered: number
  duplicated: number
  loss: number
  partition: number
  crash: number
  unknown: number
}

const zeroCounts = (): Counts => ({ sent: 0, delivered: 0, duplicated: 0, loss: 0, partition: 0, crash: 0, unknown: 0 })

const snapshotCounts = (c: Counts): MessageCounts => ({
  sent: c.sent,
  delivered: c.delivered,
  duplicated: c.duplicated,
  dropped: { loss: c.loss, partition: c.partition, crash: c.crash, unknown: c.unknown }
})

interface NodeRecord<S> {
  readonly id: NodeId
  readonly index: number
  state: S
  up: boolean
  incarnation: number
  /** Pending timers by key. */
  readonly timers: Map<unknown, Entry>
  steps: number
  sent: number
  received: number
  dropLoss: number
  dropPartition: number
  dropCrash: number
  crashes: number
  restarts: number
  readonly counters: Map<string, number>
}

interface Partition {
  readonly id: PartitionId
  /** Group index of each listed node; unlisted nodes share the implicit group -1. */
  readonly groupOf: ReadonlyMap<NodeId, number>
}

/** Murmur3's finaliser: spreads every input bit over the word. */
const fmix32 = (h0: number): number => {
  let h = h0 ^ (h0 >>> 16)
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const mixWord = (h: number, x: number): number => Math.imul(h ^ (x | 0), 0x01000193)

/** A 32-bit seed for a labelled stream: the sim seed, a label (node id) and a counter. */
const deriveSeed = (seed: number, label: string, n: number): number => {
  let h = 0x811c9dc5
  h = mixWord(h, seed | 0)
  h = mixWord(h, Math.floor(seed / 0x100000000) | 0)
  for (let i = 0; i < label.length; i++) h = mixWord(h, label.charCodeAt(i))
  h = mixWord(h, n)
  return fmix32(h)
}

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)

/** Keys of the link cache: a pair of node indexes in one number (up to 2^21 nodes). */
const LINK_STRIDE = 0x200000

const defaultTimerKey = (timer: unknown): unknown =>
  typeof timer === "object" && timer !== null ? JSON.stringify(timer) : timer

class World<S, E, R> {
  readonly [TypeId] = undefined as unknown as Sim<S, E, R>[typeof TypeId]
  readonly agenda = Agenda.make<Entry>()
  readonly pool: Array<Entry> = []
  readonly nodes: Array<NodeRecord<S>> = []
  readonly index = new Map<NodeId, number>()
  now: Millis = 0
  steps = 0
  inFlight = 0
  digest = 0x811c9dc5
  readonly counts = zeroCounts()
  readonly byKind = new Map<string, Counts>()
  readonly timers = { set: 0, fired: 0, superseded: 0, cancelled: 0, lost: 0 }
  readonly injected = { delivered: 0, lost: 0 }
  readonly counters = new Map<string, number>()
  readonly records: Array<Observation<R>> = []
  readonly traceLog: Array<Delivery<E>> = []
  partitions: Array<Partition> = []
  nextPartition = 0
  defaultLink: Network.Link
  readonly linkOverrides = new Map<number, Partial<Network.Link>>()
  readonly linkCache = new Map<number, Network.Link>()
  readonly rng: Rng.Rng
  readonly scenario: Rng.Rng
  readonly dropStale: boolean
  readonly keyOf: (timer: unknown) => unknown

  constructor(readonly config: Config<S, E, unknown, unknown, unknown, R>) {
    this.rng = Rng.fromSeed(deriveSeed(config.seed, "\u0000network", 0))
    this.scenario = Rng.fromSeed(deriveSeed(config.seed, "\u0000scenario", 0))
    this.defaultLink = checked(Network.merge(Network.perfect, config.network), "network")
    this.dropStale = (config.staleTimers ?? "drop") === "drop"
    this.keyOf = config.timerKey ?? defaultTimerKey
  }

  // --- nodes --------------------------------------------------------------------------------

  node(id: NodeId): NodeRecord<S> {
    const i = this.index.get(id)
    if (i === undefined) throw new RangeError(`Sim: no node ${JSON.stringify(id)}`)
    return this.nodes[i]!
  }

  initialState(id: NodeId, index: number, incarnation: number): S {
    const seed = deriveSeed(this.config.seed, id, incarnation)
    const ctx: NodeContext = { id, index, now: this.now, incarnation, seed, prng: Prng.fromSeed(seed) }
    try {
      return this.config.initial(ctx)
    } catch (cause) {
      throw new SimDefect(id, this.now, "initial", cause)
    }
  }

  addNode(id: NodeId): void {
    if (this.index.has(id)) throw new RangeError(`Sim: node ${JSON.stringify(id)} already exists`)
    const index = this.nodes.length
    const record: NodeRecord<S> = {
      id,
      index,
      state: this.initialState(id, index, 0),
      up: true,
      incarnation: 0,
      timers: new Map(),
      steps: 0,
      sent: 0,
      received: 0,
      dropLoss: 0,
      dropPartition: 0,
      dropCrash: 0,
      crashes: 0,
      restarts: 0,
      counters: new Map()
    }
    this.nodes.push(record)
    this.index.set(id, index)
    this.scheduleStart(record)
  }

  scheduleStart(node: NodeRecord<S>): void {
    if (this.config.events.started === undefined) return
    this.schedule(this.now, START, node.index, -1, undefined, 0, node.incarnation, undefined)
  }

  crash(node: NodeRecord<S>): void {
    if (!node.up) return
    node.up = false
    node.crashes++
    // Timers die with the process; their agenda entries are skipped when they come up.
    this.timers.lost += node.timers.size
    node.timers.clear()
  }

  restart(node: NodeRecord<S>, keep: boolean): void {
    this.crash(node)
    node.incarnation++
    node.restarts++
    node.up = true
    if (!keep) node.state = this.initialState(node.id, node.index, node.incarnation)
    this.scheduleStart(node)
  }

  // --- the agenda ---------------------------------------------------------------------------

  /** Schedules an entry, reusing a processed one when the pool has one. */
  schedule(
    at: Millis,
    kind: number,
    to: number,
    from: number,
    payload: unknown,
    generation: number,
    token: number,
    key: unknown
  ): Entry {
    let e = this.pool.pop()
    if (e === undefined) {
      e = new Entry(at, kind, to, from, this.now, payload, generation, token, key)
    } else {
      e.at = at
      e.kind = kind
      e.to = to
      e.from = from
      e.sentAt = this.now
      e.payload = payload
      e.generation = generation
      e.token = token
      e.key = key
    }
    Agenda.push(this.agenda, e)
    return e
  }

  /** Returns a processed entry to the pool. Nothing refers to it any more: the node's timer
   * table only holds pending entries, and the trace copies values. */
  release(e: Entry): void {
    e.payload = undefined
    e.key = undefined
    this.pool.push(e)
  }

  /** Runs `f` now, or at `when.at` through the agenda. */
  later(when: When | undefined, f: () => void): void {
    const at = when?.at
    if (at === undefined) return f()
    if (!(at >= this.now)) throw new RangeError(`Sim: cannot schedule at ${at} ms, now is ${this.now} ms`)
    this.schedule(at, CONTROL, -1, -1, f, 0, 0, undefined)
  }

  run(untilMs: Millis, options: RunOptions<S, E, R> | undefined, defaultMaxSteps: number): RunResult["reason"] {
    const maxSteps = options?.maxSteps ?? defaultMaxSteps
    const stop = options?.stop
    const handle = this as unknown as Sim<S, E, R>
    const startSteps = this.steps
    const agenda = this.agenda
    for (;;) {
      const top = Agenda.peek(agenda)
      if (top === undefined) return "quiet"
      if (top.at > untilMs) return "time"
      if (this.steps - startSteps >= maxSteps) return "limit"
      Agenda.pop(agenda)
      this.now = top.at
      this.process(top)
      this.release(top)
      if (stop !== undefined && stop(handle)) return "stopped"
    }
  }

  process(e: Entry): void {
    switch (e.kind) {
      case MESSAGE:
        return this.arrive(e)
      case TIMER:
        return this.fire(e)
      case INJECT: {
        const node = this.nodes[e.to]!
        if (!node.up) {
          this.injected.lost++
          return
        }
        this.injected.delivered++
        return this.deliver(node, e.payload as E, e)
      }
      case START: {
        const node = this.nodes[e.to]!
        if (!node.up || e.token !== node.incarnation) return
        const started = this.config.events.started!
        return this.deliver(node, started({ self: node.id, now: this.now, incarnation: node.incarnation }), e)
      }
      case CONTROL:
        return (e.payload as () => void)()
    }
  }

  // --- deliveries ---------------------------------------------------------------------------

  arrive(e: Entry): void {
    const node = this.nodes[e.to]!
    const from = this.nodes[e.from]!
    const kind = this.kindCounts(e.payload)
    this.inFlight--
    if (!node.up) {
      this.counts.crash++
      node.dropCrash++
      if (kind !== undefined) kind.crash++
      return
    }
    if (this.partitions.length > 0 && this.blocked(from.id, node.id)) {
      this.counts.partition++
      node.dropPartition++
      if (kind !== undefined) kind.partition++
      return
    }
    this.counts.delivered++
    node.received++
    if (kind !== undefined) kind.delivered++
    this.deliver(node, this.config.events.message(e.payload, from.id, e.at), e)
  }

  fire(e: Entry): void {
    const node = this.nodes[e.to]!
    // Lost in a crash, or (with staleTimers "drop") superseded or cancelled: already counted.
    if (!node.up || e.token !== node.incarnation) return
    if (node.timers.get(e.key) === e) node.timers.delete(e.key)
    this.timers.fired++
    this.deliver(node, this.config.events.timer(e.payload, e.generation, e.at), e)
  }

  deliver(node: NodeRecord<S>, event: E, e: Entry): void {
    this.steps++
    node.steps++
    f64[0] = e.at
    let h = mixWord(this.digest, e.kind)
    h = mixWord(h, node.index)
    h = mixWord(h, e.from)
    h = mixWord(h, u32[0]!)
    this.digest = mixWord(h, u32[1]!)
    if (this.config.trace === true) {
      const isMessage = e.kind === MESSAGE
      this.traceLog.push({
        seq: e.seq,
        at: e.at,
        node: node.id,
        kind: kindNames[e.kind as 0 | 1 | 2 | 3],
        from: isMessage ? this.nodes[e.from]!.id : undefined,
        sentAt: isMessage ? e.sentAt : undefined,
        event
      })
    }
    let result: readonly [S, ReadonlyArray<unknown>]
    try {
      result = this.config.step(node.state, event)
    } catch (cause) {
      throw new SimDefect(node.id, this.now, "step", cause)
    }
    node.state = result[0]
    const commands = result[1]
    if (commands.length === 0) return
    const ctx: StepContext = { self: node.id, now: this.now }
    const interpret = this.config.interpret
    for (const command of commands) {
      let actions: Actions<unknown, unknown, R>
      try {
        actions = interpret(command, ctx)
      } catch (cause) {
        throw new SimDefect(node.id, this.now, "interpret", cause)
      }
      if (actions === undefined) continue
      if (Array.isArray(actions)) {
        for (const action of actions as ReadonlyArray<Action<unknown, unknown, R>>) this.act(node, action)
      } else {
        this.act(node, actions as Action<unknown, unknown, R>)
      }
    }
  }

  act(node: NodeRecord<S>, action: Action<unknown, unknown, R>): void {
    switch (action._tag) {
      case "Send":
        return this.send(node, action.to, action.message)
      case "SetTimer":
        return this.setTimer(node, action.timer, action.at, action.generation)
      case "CancelTimer":
        return this.cancelTimer(node, action.timer)
      case "Emit":
        return this.emit(node, action.record)
      case "Count":
        return this.count(node, action.name, action.by)
    }
  }

  // --- actions ------------------------------------------------------------------------------

  send(from: NodeRecord<S>, toId: NodeId, message: unknown): void {
    const kind = this.kindCounts(message)
    this.counts.sent++
    from.sent++
    if (kind !== undefined) kind.sent++
    const toIndex = this.index.get(toId)
    if (toIndex === undefined) {
      this.counts.unknown++
      if (kind !== undefined) kind.unknown++
      return
    }
    const to = this.nodes[toIndex]!
    if (this.partitions.length > 0 && this.blocked(from.id, toId)) {
      this.counts.partition++
      to.dropPartition++
      if (kind !== undefined) kind.partition++
      return
    }
    const link = this.linkFor(from.index, toIndex)
    const rng = this.rng
    // The same draws, in the same order, as Network.transmit.
    if (Network.sampleLost(link, rng)) {
      this.counts.loss++
      to.dropLoss++
      if (kind !== undefined) kind.loss++
      return
    }
    const now = this.now
    this.schedule(now + Network.sampleDelay(link, rng), MESSAGE, toIndex, from.index, message, 0, 0, undefined)
    this.inFlight++
    if (Network.sampleDuplicated(link, rng)) {
      this.counts.duplicated++
      if (kind !== undefined) kind.duplicated++
      this.schedule(now + Network.sampleDelay(link, rng), MESSAGE, toIndex, from.index, message, 0, 0, undefined)
      this.inFlight++
    }
  }

  setTimer(node: NodeRecord<S>, timer: unknown, at: Millis, generation: number): void {
    const key = this.keyOf(timer)
    const pending = node.timers.get(key)
    if (pending !== undefined) {
      this.timers.superseded++
      if (this.dropStale) pending.token = -1
    }
    const entry = this.schedule(at > this.now ? at : this.now, TIMER, node.index, -1, timer, generation, node.incarnation, key)
    node.timers.set(key, entry)
    this.timers.set++
  }

  cancelTimer(node: NodeRecord<S>, timer: unknown): void {
    const key = this.keyOf(timer)
    const pending = node.timers.get(key)
    if (pending === undefined) return
    this.timers.cancelled++
    if (this.dropStale) pending.token = -1
    node.timers.delete(key)
  }

  emit(node: NodeRecord<S>, record: R): void {
    const observation: Observation<R> = { at: this.now, node: node.id, record }
    if (this.config.keepRecords !== false) this.records.push(observation)
    this.config.onEmit?.(observation)
  }

  count(node: NodeRecord<S>, name: string, by: number): void {
    node.counters.set(name, (node.counters.get(name) ?? 0) + by)
    this.counters.set(name, (this.counters.get(name) ?? 0) + by)
  }

  kindCounts(message: unknown): Counts | undefined {
    const kindOf = this.config.kindOf
    if (kindOf === undefined) return undefined
    const name = kindOf(message)
    let counts = this.byKind.get(name)
    if (counts === undefined) {
      counts = zeroCounts()
      this.byKind.set(name, counts)
    }
    return counts
  }

  // --- the network --------------------------------------------------------------------------

  blocked(a: NodeId, b: NodeId): boolean {
    for (const p of this.partitions) {
      if ((p.groupOf.get(a) ?? -1) !== (p.groupOf.get(b) ?? -1)) return true
    }
    return false
  }

  linkFor(from: number, to: number): Network.Link {
    if (this.config.link === undefined && this.linkOverrides.size === 0) return this.defaultLink
    const key = from * LINK_STRIDE + to
    const cached = this.linkCache.get(key)
    if (cached !== undefined) return cached
    const fromId = this.nodes[from]!.id
    const toId = this.nodes[to]!.id
    const patched = Network.merge(this.defaultLink, this.config.link?.(fromId, toId))
    const link = checked(Network.merge(patched, this.linkOverrides.get(key)), `link ${fromId} -> ${toId}`)
    this.linkCache.set(key, link)
    return link
  }
}

const checked = (link: Network.Link, what: string): Network.Link => {
  const found = Network.problems(link)
  if (found.length > 0) throw new RangeError(`Sim: invalid ${what}: ${found.join("; ")}`)
  return link
}

const world = <S, E, R>(sim: Sim<S, E, R>): World<S, E, R> => sim as unknown as World<S, E, R>

const recordOf = (entries: Map<string, number>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [name, value] of entries) out[name] = value
  return out
}

// ---------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------

/**
 * A new simulation at virtual time 0 with every node of `config.nodes` up and its state
 * built by `initial`. With `events.started`, each node's start event is already on the agenda.
 *
 * Throws a `RangeError` for duplicate ids, a non-finite seed or an invalid network, and a
 * `SimDefect` if `initial` throws.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <S, E, C, M, K, R = never>(config: Config<S, E, C, M, K, R>): Sim<S, E, R> => {
  if (!Number.isFinite(config.seed)) throw new RangeError(`Sim: seed must be a finite number, got ${config.seed}`)
  const w = new World<S, E, R>(config as unknown as Config<S, E, unknown, unknown, unknown, R>)
  for (const id of config.nodes) w.addNode(id)
  return w as unknown as Sim<S, E, R>
}

// ---------------------------------------------------------------------------------------------
// Driving
// ---------------------------------------------------------------------------------------------

/**
 * Schedules `event` for node `id` at virtual time `at` (not in the past). Put `at` in the
 * event as its `now`. If the node is down when it comes up, the event is lost.
 *
 * @since 0.1.0
 * @category driving
 */
export const inject = <S, E, R>(sim: Sim<S, E, R>, at: Millis, id: NodeId, event: E): void => {
  const w = world(sim)
  const node = w.node(id)
  if (!(at >= w.now)) throw new RangeError(`Sim: cannot inject at ${at} ms, now is ${w.now} ms`)
  w.schedule(at, INJECT, node.index, -1, event, 0, 0, undefined)
}

/**
 * Runs `f` at virtual time `at` (not in the past), in agenda order: the hook for scripted
 * scenarios (churn, load). `f` may call any function of this module except the runs.
 *
 * @since 0.1.0
 * @category driving
 */
export const schedule = <S, E, R>(sim: Sim<S, E, R>, at: Millis, f: (sim: Sim<S, E, R>) => void): void => {
  world(sim).later({ at }, () => f(sim))
}

/**
 * Processes every agenda entry due at or before `untilMs`, then sets the virtual time to
 * `untilMs` (time passes even when nothing happens). Returns early on `stop` or `maxSteps`.
 *
 * @since 0.1.0
 * @category driving
 */
export const runUntil = <S, E, R>(sim: Sim<S, E, R>, untilMs: Millis, options?: RunOptions<S, E, R>): RunResult => {
  const w = world(sim)
  if (!Number.isFinite(untilMs)) throw new RangeError(`Sim: runUntil needs a finite time, got ${untilMs}; use runUntilQuiet`)
  const startSteps = w.steps
  const reason = w.run(untilMs, options, Infinity)
  if ((reason === "time" || reason === "quiet") && untilMs > w.now) w.now = untilMs
  return { reason: reason === "quiet" ? "time" : reason, now: w.now, steps: w.steps - startSteps }
}

/**
 * `runUntil(sim, now(sim) + durationMs, options)`.
 *
 * @since 0.1.0
 * @category driving
 */
export const runFor = <S, E, R>(sim: Sim<S, E, R>, durationMs: Millis, options?: RunOptions<S, E, R>): RunResult =>
  runUntil(sim, world(sim).now + durationMs, options)

/**
 * Processes entries until the agenda is empty (`quiet`; time stays at the last entry), or
 * the next entry is past `maxMs` (`time`; time is set to `maxMs`), or `stop` or `maxSteps`.
 * Cores that re-arm a periodic timer are never quiet: give them `maxMs`.
 *
 * @since 0.1.0
 * @category driving
 */
export const runUntilQuiet = <S, E, R>(
  sim: Sim<S, E, R>,
  options?: RunOptions<S, E, R> & { readonly maxMs?: Millis }
): RunResult => {
  const w = world(sim)
  const startSteps = w.steps
  const maxMs = options?.maxMs ?? Infinity
  const reason = w.run(maxMs, options, 10_000_000)
  if (reason === "time" && maxMs > w.now) w.now = maxMs
  return { reason, now: w.now, steps: w.steps - startSteps }
}

// ---------------------------------------------------------------------------------------------
// Faults and changes
// ---------------------------------------------------------------------------------------------

/**
 * Splits the network: nodes in different `groups` cannot reach each other, and the nodes in
 * no group form one more group. `partition(sim, [["a", "b"]])` cuts `a` and `b` off from the
 * rest. Messages are dropped at send and, if they were in flight, at arrival. Several
 * partitions can be active; a link is cut if any of them separates its ends. Starts now or
 * at `at`, heals at `healAt` if given. Returns its handle for `heal`.
 *
 * @since 0.1.0
 * @category faults
 */
export const partition = <S, E, R>(
  sim: Sim<S, E, R>,
  groups: ReadonlyArray<ReadonlyArray<NodeId>>,
  options?: When & { readonly healAt?: Millis }
): PartitionId => {
  const w = world(sim)
  const groupOf = new Map<NodeId, number>()
  groups.forEach((group, g) => {
    for (const id of group) {
      if (groupOf.has(id)) throw new RangeError(`Sim: node ${JSON.stringify(id)} is in two groups of one partition`)
      groupOf.set(id, g)
    }
  })
  const id = w.nextPartition++
  w.later(options, () => {
    w.partitions = [...w.partitions, { id, groupOf }]
  })
  if (options?.healAt !== undefined) {
    const start = options.at ?? w.now
    if (!(options.healAt >= start)) throw new RangeError(`Sim: healAt ${options.healAt} ms is before the start ${start} ms`)
    heal(sim, id, { at: options.healAt })
  }
  return id
}

/**
 * Ends one partition, or every partition when `id` is omitted, now or at `at`. Healing a
 * partition that is not active does nothing.
 *
 * @since 0.1.0
 * @category faults
 */
export const heal = <S, E, R>(sim: Sim<S, E, R>, id?: PartitionId, options?: When): void => {
  const w = world(sim)
  w.later(options, () => {
    w.partitions = id === undefined ? [] : w.partitions.filter((p) => p.id !== id)
  })
}

/**
 * Crashes node `id` now or at `at`: it takes no steps, every input that reaches it while down
 * is lost (messages count as `dropped.crash`) and its pending timers die. Its state is kept
 * for `restart`. Messages it sent before are still delivered. Crashing a down node does
 * nothing.
 *
 * @since 0.1.0
 * @category faults
 */
export const crash = <S, E, R>(sim: Sim<S, E, R>, id: NodeId, options?: When): void => {
  const w = world(sim)
  const node = w.node(id)
  w.later(options, () => w.crash(node))
}

/**
 * Restarts node `id` now or at `at` (crashing it first if it is up) with a new incarnation:
 * `state: "reset"` (the default) rebuilds its state with `initial`, `"keep"` keeps the state
 * it had, as after a restart from persisted state. Timers never survive; with
 * `events.started` the node gets its start event at the restart time.
 *
 * @since 0.1.0
 * @category faults
 */
export const restart = <S, E, R>(
  sim: Sim<S, E, R>,
  id: NodeId,
  options?: When & { readonly state?: "keep" | "reset" }
): void => {
  const w = world(sim)
  const node = w.node(id)
  w.later(options, () => w.restart(node, options?.state === "keep"))
}

/**
 * Adds a node now or at `at`, built by `initial` (with `events.started`, it gets its start
 * event then). Ids must stay distinct.
 *
 * @since 0.1.0
 * @category faults
 */
export const addNode = <S, E, R>(sim: Sim<S, E, R>, id: NodeId, options?: When): void => {
  const w = world(sim)
  w.later(options, () => w.addNode(id))
}

/**
 * Patches the default link model (every link without its own override), now or at `at`.
 * Messages already in flight keep their fate.
 *
 * @since 0.1.0
 * @category faults
 */
export const setNetwork = <S, E, R>(sim: Sim<S, E, R>, patch: Partial<Network.Link>, options?: When): void => {
  const w = world(sim)
  checked(Network.merge(w.defaultLink, patch), "network")
  w.later(options, () => {
    w.defaultLink = Network.merge(w.defaultLink, patch)
    w.linkCache.clear()
  })
}

/**
 * Sets (or with `undefined`, clears) the override of the directed link `from -> to`, a patch
 * over the default model and `config.link`, now or at `at`; `bothWays` also sets `to -> from`.
 * `{ loss: 1 }` one way is an asymmetric cut.
 *
 * @since 0.1.0
 * @category faults
 */
export const setLink = <S, E, R>(
  sim: Sim<S, E, R>,
  from: NodeId,
  to: NodeId,
  patch: Partial<Network.Link> | undefined,
  options?: When & { readonly bothWays?: boolean }
): void => {
  const w = world(sim)
  const a = w.node(from).index
  const b = w.node(to).index
  if (patch !== undefined) checked(Network.merge(w.defaultLink, patch), `link ${from} -> ${to}`)
  w.later(options, () => {
    for (const key of options?.bothWays === true ? [a * LINK_STRIDE + b, b * LINK_STRIDE + a] : [a * LINK_STRIDE + b]) {
      if (patch === undefined) w.linkOverrides.delete(key)
      else w.linkOverrides.set(key, patch)
    }
    w.linkCache.clear()
  })
}

// ---------------------------------------------------------------------------------------------
// Getters
// ---------------------------------------------------------------------------------------------

/**
 * The virtual time.
 *
 * @since 0.1.0
 * @category getters
 */
export const now = <S, E, R>(sim: Sim<S, E, R>): Millis => world(sim).now

/**
 * Every node's id, in creation order.
 *
 * @since 0.1.0
 * @category getters
 */
export const nodes = <S, E, R>(sim: Sim<S, E, R>): ReadonlyArray<NodeId> => world(sim).nodes.map((n) => n.id)

/**
 * Node `id`'s current state (kept while it is down). Throws a `RangeError` for an unknown id.
 *
 * @since 0.1.0
 * @category getters
 */
export const state = <S, E, R>(sim: Sim<S, E, R>, id: NodeId): S => world(sim).node(id).state

/**
 * Every node's state by id, in creation order.
 *
 * @since 0.1.0
 * @category getters
 */
export const states = <S, E, R>(sim: Sim<S, E, R>): ReadonlyMap<NodeId, S> =>
  new Map(world(sim).nodes.map((n) => [n.id, n.state] as const))

/**
 * Whether node `id` is up.
 *
 * @since 0.1.0
 * @category getters
 */
export const isUp = <S, E, R>(sim: Sim<S, E, R>, id: NodeId): boolean => world(sim).node(id).up

/**
 * Whether a partition currently separates `from` and `to` (loss aside).
 *
 * @since 0.1.0
 * @category getters
 */
export const isCut = <S, E, R>(sim: Sim<S, E, R>, from: NodeId, to: NodeId): boolean => world(sim).blocked(from, to)

/**
 * The link model currently in force for `from -> to`.
 *
 * @since 0.1.0
 * @category getters
 */
export const link = <S, E, R>(sim: Sim<S, E, R>, from: NodeId, to: NodeId): Network.Link => {
  const w = world(sim)
  return w.linkFor(w.node(from).index, w.node(to).index)
}

/**
 * A snapshot of the global counters.
 *
 * @since 0.1.0
 * @category getters
 */
export const stats = <S, E, R>(sim: Sim<S, E, R>): Stats => {
  const w = world(sim)
  const byKind: Record<string, MessageCounts> = {}
  for (const [name, counts] of w.byKind) byKind[name] = snapshotCounts(counts)
  return {
    ...snapshotCounts(w.counts),
    now: w.now,
    steps: w.steps,
    inFlight: w.inFlight,
    pending: Agenda.size(w.agenda),
    timers: { ...w.timers },
    injected: { ...w.injected },
    counters: recordOf(w.counters),
    byKind
  }
}

/**
 * A snapshot of node `id`'s counters.
 *
 * @since 0.1.0
 * @category getters
 */
export const nodeStats = <S, E, R>(sim: Sim<S, E, R>, id: NodeId): NodeStats => {
  const n = world(sim).node(id)
  return {
    id: n.id,
    up: n.up,
    incarnation: n.incarnation,
    steps: n.steps,
    sent: n.sent,
    received: n.received,
    dropped: { loss: n.dropLoss, partition: n.dropPartition, crash: n.dropCrash },
    crashes: n.crashes,
    restarts: n.restarts,
    counters: recordOf(n.counters)
  }
}

/**
 * The counter `name`, of node `id` or (without it) summed over all nodes; 0 if never counted.
 *
 * @since 0.1.0
 * @category getters
 */
export const counter = <S, E, R>(sim: Sim<S, E, R>, name: string, id?: NodeId): number => {
  const w = world(sim)
  return (id === undefined ? w.counters.get(name) : w.node(id).counters.get(name)) ?? 0
}

/**
 * Emitted records in emission order, of node `id` or of all nodes (empty with
 * `keepRecords: false`).
 *
 * @since 0.1.0
 * @category getters
 */
export const records = <S, E, R>(sim: Sim<S, E, R>, id?: NodeId): ReadonlyArray<Observation<R>> => {
  const all = world(sim).records
  return id === undefined ? all.slice() : all.filter((o) => o.node === id)
}

/**
 * Every delivery so far, in order (empty unless the sim was made with `trace: true`).
 *
 * @since 0.1.0
 * @category getters
 */
export const trace = <S, E, R>(sim: Sim<S, E, R>): ReadonlyArray<Delivery<E>> => world(sim).traceLog.slice()

/**
 * A running 32-bit digest of every delivery (kind, node, sender, time), always kept: two runs
 * with equal digests delivered the same inputs to the same nodes at the same times. It does not
 * look inside events; use `trace` for that.
 *
 * @since 0.1.0
 * @category getters
 */
export const digest = <S, E, R>(sim: Sim<S, E, R>): number => fmix32(world(sim).digest)

/**
 * The scenario's own seeded generator (separate from the network's), for scripts that pick
 * nodes to crash or messages to inject. Drawing from it never changes the network's fate.
 *
 * @since 0.1.0
 * @category getters
 */
export const random = <S, E, R>(sim: Sim<S, E, R>): Rng.Rng => world(sim).scenario

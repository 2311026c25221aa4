/**
 * The Kademlia DHT on the deterministic simulator: the swarm harness shared with `dht.sim.ts`,
 * and the scale run behind `npm run sim -- dht ...`.
 *
 * The model:
 * - **Cores.** Every honest station runs the real core (`Dht.makeStep`) with the §16 defaults
 *   (k = 20, α = 3, d = 3 disjoint paths, 2 s request timeout, 10 s lookup timeout, 8 bits of
 *   station proof of work). The harness plays the part of the station's actor and transport:
 *   it carries `SendRequest` / `SendResponse` / `Ping` as messages, answers pings, turns the
 *   core's timers into simulator timers and ignores `RepublishDue` (no renewal: a record
 *   lapses at its `exp`).
 * - **Identities.** Keys are 32 random bytes mined until SHA-256(SHA-256(key)) has
 *   `stationPowBits` leading zero bits (§2.4): the core checks the proof of work of every
 *   contact in every reply, so adversaries must mine theirs too. Each node has a public IPv4
 *   address in a random /16 of 11.0.0.0–99.255.255.255, so diversity caps apply as on the
 *   internet and rarely bind for honest nodes.
 * - **Connections.** A node keeps a connection to each peer it exchanged a message with until
 *   it has been idle for 60 s. The first message on a new connection from a station that is
 *   not a member of the receiver's routing table delivers `PeerConnected` first (the handshake
 *   that carried it): a request makes the responder learn the requester, an answer makes the
 *   requester learn the responder. Full buckets then cache the newcomer and ping their least
 *   recently seen member, as §10.1 says. Messages to a station that left are lost silently:
 *   the requester finds out by timeout. There is no SWIM: dead members leave tables only
 *   through `staleAfterFailures` and failed pings, the slow path.
 * - **Network.** One-way delay 40 ms plus exponential jitter (mean 10 ms, cut at 200 ms), the
 *   `wan` preset. DHT frames travel on QUIC streams, so loss is delay, never a gap: each
 *   transmission is lost with probability `--loss` (default 0.5 %) and sent again after a
 *   retransmission timeout of 200 ms, doubling up to 2 s.
 * - **Warm start.** The initial nodes start with correct routing tables: bucket i of node x
 *   holds min(k, all) nodes whose common prefix with x is exactly i, chosen at random under
 *   the diversity caps, so the measurement starts in steady state. They are taken to have been
 *   up for a while: each boots at a random time in the first 20 s, when the core gets
 *   `Started` (arming its periodic timers) without the start-up self-lookup, which in steady
 *   state happened long ago. Newcomers (churn) join for real: they connect to one of three
 *   seeds and run their own self-lookup; `dht.sim.ts` also checks a cold start of every node
 *   through the seeds.
 * - **Churn** (`--churn F`): F × N honest nodes (never the seeds) leave at random times of the
 *   measurement window, simply ceasing to answer, and as many newcomers join at random times.
 * - **Adversaries** (`--adversarial F`): F × N nodes, in the warm tables like everyone else,
 *   answer pings, refuse every `dht.store` (`ok: false`), never serve records, and answer
 *   `dht.find_node` / `dht.find_value` with poisoned routes: the k contacts nearest the target
 *   among the colluding adversaries and a pool of as many mined fake identities that do not
 *   exist. They never start lookups and never leave.
 *
 * The figures (all over lookups started in the measurement window, from honest live nodes that
 * had joined, to uniformly random targets):
 * - lookup success: a `FIND_NODE` succeeds when its result (the k closest responders) holds the
 *   oracle node: the live honest node closest to the target, by brute force over the nodes up
 *   at the end of the lookup that had joined before it started;
 * - hops: the core's `hops`, the length of the chain of answers that led to the closest
 *   responder (a contact from our own table is hop 1, one learnt from a hop-h answer is
 *   h + 1): the number of sequential round trips the result needed;
 * - messages per lookup: the requests the lookup sent (`queried`), each one round trip;
 * - value lookups: records stored at the start of the window by random honest owners
 *   (`Store`, quorum `storeQuorum`), then `FIND_VALUE` of random keys among them; a value
 *   lookup succeeds when it returns the stored record; hops are those of the first holder.
 *
 * Same seed, same arguments: the same JSON, except `timing` (CPU and wall-clock seconds).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import type { Millis } from "../../src/core/Millis.ts"
import { Dht } from "../../src/protocols/dht/index.ts"
import * as Arb from "../../src/testkit/arbitraries/Dht.ts"
import * as Sim from "../../src/testkit/sim/index.ts"

// ---------------------------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------------------------

/** A station's identity as the harness knows it. */
export interface Identity {
  /** The simulator's name for it (`n7`, `j3`, `x12` for a fake that does not exist). */
  readonly name: string
  readonly pk: Uint8Array
  readonly id: Uint8Array
  /** Hex of `id`. */
  readonly key: string
  readonly ip: string
  /** What a `dht.nodes` reply carries about it. */
  readonly info: Dht.Contact.Info
}

/** Unix ms of virtual time 0: record times are wall-clock instants. */
export const wallBase = 1_700_000_000_000

/**
 * A SHA-256 memoised by the identity of its input array. Every array hashed in a run is never
 * mutated afterwards (the simulator passes messages by reference, determinism rule 4), so the
 * cache is exact; it saves the two hashes per contact per reply that checking proof of work
 * costs, which would otherwise dominate a large run. The core sees an ordinary pure SHA-256.
 */
const memoHash = (): Dht.Contact.Sha256 & { readonly seed: (input: Uint8Array, output: Uint8Array) => void } => {
  const memo = new WeakMap<Uint8Array, Uint8Array>()
  const hash = (bytes: Uint8Array): Uint8Array => {
    const hit = memo.get(bytes)
    if (hit !== undefined) return hit
    const out = sha256(bytes)
    memo.set(bytes, out)
    return out
  }
  return Object.assign(hash, { seed: (input: Uint8Array, output: Uint8Array) => void memo.set(input, output) })
}

/**
 * Mined keys by stream (`seed/label/bits`) with the stream's generator, shared by runs in one
 * process (mining is the slow part). Extending a stream continues its generator, so the first
 * n keys of a stream are the same however they were asked for.
 */
const mined = new Map<string, { readonly keys: Array<Uint8Array>; readonly rng: Sim.Rng.Rng }>()

/**
 * The first `count` keys of a stream: 32 random bytes from a generator seeded by the stream,
 * redrawn until the id carries `bits` of proof of work. About 2^bits × 2 hashes per key.
 */
const mine = (seed: number, label: string, bits: number, count: number): ReadonlyArray<Uint8Array> => {
  const stream = `${seed}/${label}/${bits}`
  let entry = mined.get(stream)
  if (entry === undefined) {
    let labelHash = 0
    for (let i = 0; i < label.length; i++) labelHash = Math.imul(labelHash ^ label.charCodeAt(i), 0x01000193)
    entry = { keys: [], rng: Sim.Rng.fromSeed((Math.imul(seed | 0, 0x9e3779b1) ^ labelHash) | 0) }
    mined.set(stream, entry)
  }
  const { keys, rng } = entry
  while (keys.length < count) {
    for (;;) {
      const pk = new Uint8Array(32)
      for (let i = 0; i < 32; i += 4) {
        const u = rng.u32()
        pk[i] = u >>> 24
        pk[i + 1] = (u >>> 16) & 255
        pk[i + 2] = (u >>> 8) & 255
        pk[i + 3] = u & 255
      }
      if (bits <= 0 || Dht.Xor.leadingZeroBits(sha256(sha256(pk))) >= bits) {
        keys.push(pk)
        break
      }
    }
  }
  return keys.slice(0, count)
}

/** A public IPv4 address in a random /16 of 11.0.0.0/8 … 99.0.0.0/8 (none private, none CGNAT). */
const publicIp = (rng: Sim.Rng.Rng): string => `${rng.int(11, 99)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`

/** Big-endian value of an id, for sorting and range searches. */
const bigOf = (id: Uint8Array): bigint => BigInt(`0x${Dht.Xor.toHex(id)}`)

// ---------------------------------------------------------------------------------------------
// Messages, inputs, outputs
// ---------------------------------------------------------------------------------------------

/** What travels between stations: the `dht.*` frames and control pings. */
export type Message =
  | { readonly _tag: "Req"; readonly request: number; readonly message: Dht.Request }
  | { readonly _tag: "Res"; readonly request: number; readonly response: Dht.Response }
  | { readonly _tag: "Ping"; readonly request: number }
  | { readonly _tag: "Pong"; readonly request: number }

/**
 * The transport's retransmission of a message whose first transmissions were lost: a timer of
 * the sender, so it dies if the sender leaves first.
 */
export interface Resend {
  readonly _tag: "Resend"
  readonly n: number
  readonly to: string
  readonly message: Message
}

/** A warm node's boot (below). */
export interface Boot {
  readonly _tag: "Boot"
}

/** Timers: the core's, the transport's retransmissions, and a warm node's boot. */
export type TimerKey = Dht.Timer.Timer | Resend | Boot

/**
 * What the simulator hands a node: a core event (timers, starts, injections), a message, a
 * retransmission due, or, for a warm node, its start (`Warm`, at 0) and its boot (`Booted`).
 */
export type Input =
  | Dht.Event
  | { readonly _tag: "Deliver"; readonly from: string; readonly message: Message; readonly now: Millis }
  | Resend
  | { readonly _tag: "Warm"; readonly now: Millis; readonly bootAt: Millis }
  | { readonly _tag: "Booted"; readonly now: Millis }

/**
 * What a node asks for: a core command, a message the harness itself sends (`Wire`: pong,
 * adversary answer), or a retransmission (`Transmit`, whose fate is already drawn).
 */
export type Output =
  | Dht.Command
  | { readonly _tag: "Wire"; readonly to: string; readonly message: Message }
  | { readonly _tag: "Transmit"; readonly to: string; readonly message: Message }
  | { readonly _tag: "BootAt"; readonly at: Millis }

/** An adversary's state: it keeps none. */
export interface Adversary {
  readonly _tag: "Adversary"
}

const adversary: Adversary = { _tag: "Adversary" }

/** A node's state: an honest core's, or the adversary marker. */
export type Node = Dht.State.State | Adversary

const isAdversary = (node: Node): node is Adversary => node === adversary

/** What the harness records: finished lookups and stores, with their node and time. */
export type Finished = Extract<Dht.Observation, { readonly _tag: "LookupFinished" | "StoreFinished" }>

// ---------------------------------------------------------------------------------------------
// The swarm
// ---------------------------------------------------------------------------------------------

/** A lookup the harness started, and its outcome once finished. */
export interface LookupTrack {
  readonly query: number
  readonly origin: string
  readonly kind: "node" | "value"
  readonly target: Uint8Array
  readonly startedAt: Millis
  /** Value lookups: the record expected (stored by the harness), if any. */
  readonly expect: Dht.Records.SignedRecord | undefined
  finishedAt: Millis | undefined
  /** The oracle's node at the end (node lookups); undefined when no honest node qualified. */
  oracle: string | undefined
  /** Whether the result held the oracle node (node lookups) or the expected record (value lookups). */
  success: boolean
  /** The first honest, live responder of the result is the oracle node (node lookups). */
  exact: boolean
  hops: number
  queried: number
  timedOut: boolean
  busy: boolean
  /** Value lookups: records returned. */
  records: number
}

/** A store the harness started, and its outcome. */
export interface StoreTrack {
  readonly query: number
  readonly owner: string
  readonly record: Dht.Records.SignedRecord
  readonly startedAt: Millis
  finishedAt: Millis | undefined
  ok: boolean
  acks: number
  candidates: number
  /** Of the k live honest nodes closest to the key when the store finished, how many hold it. */
  coverage: number
}

/** Options of `makeSwarm`. */
export interface SwarmOptions {
  readonly nodes: number
  readonly seed: number
  /** Seed of the mined keys (they are cached per process, by this seed). @default seed */
  readonly keys?: number
  /** Fraction of the initial nodes that are adversaries (the last ones by index). @default 0 */
  readonly adversarial?: number
  /** Mined fake identities per adversary, in the pool of poisoned routes. @default 1 */
  readonly fakesPerAdversary?: number
  /** Probability that a transmission is lost (and sent again after a timeout). @default 0.005 */
  readonly loss?: number
  /** Warm nodes boot (arm their periodic timers) at random times within this. @default 20_000 */
  readonly bootSpreadMs?: number
  /** A connection unused for this long is closed; the next message opens a new one. @default 60_000 */
  readonly connectionIdleMs?: number
  /** Knobs over `Dht.Config.defaults`. */
  readonly knobs?: Partial<Dht.Config.Knobs>
  /** Start with correct routing tables (true) or empty ones (false: join them yourself). @default true */
  readonly warm?: boolean
  /** Keep every delivery for `Sim.trace` (small runs only). @default false */
  readonly trace?: boolean
  /** How many newcomers may join (their keys are mined up front). @default 0 */
  readonly newcomers?: number
  /** The seeds newcomers join through. @default the first three nodes */
  readonly seeds?: number
}

/** A run of the harness: the simulator handle and what the harness keeps beside it. */
export interface Swarm {
  readonly sim: Sim.Sim<Node, Input, Finished>
  readonly config: Dht.Config.Config
  /** Every identity that can be a node, by name (initial nodes, newcomers). */
  readonly byName: ReadonlyMap<string, Identity>
  /** The initial nodes, in order. */
  readonly initial: ReadonlyArray<Identity>
  /** Newcomers not yet added, in order. */
  readonly spare: Array<Identity>
  readonly adversaries: ReadonlySet<string>
  readonly seeds: ReadonlyArray<string>
  /** When each honest node joined: 0 for warm nodes, the end of its first self-lookup otherwise. */
  readonly joinedAt: Map<string, Millis>
  /** Names of every node added so far, in order. */
  readonly names: Array<string>
  /** The simulator name of a node id (`"?"` for an id nobody holds). */
  readonly nameOf: (id: Uint8Array) => string
  readonly lookups: Map<number, LookupTrack>
  readonly stores: Map<number, StoreTrack>
  /** Counters of things that must never happen (records served or returned after their `exp`). */
  readonly violations: Map<string, number>
  nextQuery: number
}

/** Map from node id (by array identity, then hex) to its simulator name. */
interface Directory {
  readonly byId: WeakMap<Uint8Array, string>
  readonly byKey: Map<string, string>
}

const nameOf = (dir: Directory, id: Uint8Array): string => dir.byId.get(id) ?? dir.byKey.get(Dht.Xor.toHex(id)) ?? "?"

/** Whether `key` is a member of the table (a cheap `RoutingTable.member` without hex parsing). */
const isMember = (table: Dht.RoutingTable.RoutingTable, id: Uint8Array, key: string): boolean => {
  const index = Dht.RoutingTable.bucketIndex(table, id)
  if (index >= Dht.Xor.idBits) return true
  for (const e of table.buckets[index]!.members) if (e.key === key) return true
  return false
}

/**
 * The poisoned routes of the adversaries: their own identities and the fakes, sorted by id.
 * `near(target, k)` gives the k of them nearest the target, looking among the 4k around the
 * target's place in id order (XOR-nearest ids share the target's longest prefixes, so they sit
 * there; the adversary does not need the exact k nearest, only plausible ones).
 */
const poisonPool = (members: ReadonlyArray<Identity>) => {
  const sorted = members.map((m) => ({ m, v: bigOf(m.id) })).sort((a, b) => (a.v < b.v ? -1 : a.v > b.v ? 1 : 0))
  const values = sorted.map((s) => s.v)
  const near = (target: Uint8Array, k: number): ReadonlyArray<Dht.Contact.Info> => {
    if (values.length === 0) return []
    const t = bigOf(target)
    let lo = 0
    let hi = values.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (values[mid]! < t) lo = mid + 1
      else hi = mid
    }
    const from = Math.max(0, lo - 2 * k)
    const to = Math.min(values.length, lo + 2 * k)
    const window: Array<{ readonly d: bigint; readonly info: Dht.Contact.Info }> = []
    for (let i = from; i < to; i++) window.push({ d: values[i]! ^ t, info: sorted[i]!.m.info })
    window.sort((a, b) => (a.d < b.d ? -1 : a.d > b.d ? 1 : 0))
    return window.slice(0, k).map((w) => w.info)
  }
  return { near }
}

/**
 * Correct routing tables for `members`: bucket i of x holds min(k, all) of the members whose
 * common prefix with x is exactly i, picked at random under the diversity caps of
 * `RoutingTable.observe` (per bucket and per table). The tables are assembled directly, since
 * 10,000 × 250 `observe` calls (each copying the bucket array and the prefix counts) would take
 * minutes, and each is checked with `RoutingTable.violations`.
 */
const warmTables = (
  config: Dht.Config.Config,
  members: ReadonlyArray<Identity>,
  rng: Sim.Rng.Rng
): Map<string, Dht.RoutingTable.RoutingTable> => {
  const k = config.dhtK
  const sorted = members.map((m) => ({ m, v: bigOf(m.id) })).sort((a, b) => (a.v < b.v ? -1 : a.v > b.v ? 1 : 0))
  const values = sorted.map((s) => s.v)
  const lowerBound = (x: bigint): number => {
    let lo = 0
    let hi = values.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (values[mid]! < x) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const tables = new Map<string, Dht.RoutingTable.RoutingTable>()
  const entries = sorted.map(({ m }): Dht.RoutingTable.Entry => ({
    contact: { id: m.id, pk: m.pk, addrs: m.info.addrs },
    key: m.key,
    ip: m.ip,
    prefix: Dht.Diversity.classOf(config, m.ip),
    lastSeen: 0,
    failures: 0
  }))
  for (const { m, v } of sorted) {
    const empty = Dht.RoutingTable.empty(m.id)
    const buckets = empty.buckets.slice()
    const prefixCounts = new Map<string, number>()
    let size = 0
    for (let i = 0; i < Dht.Xor.idBits; i++) {
      const shift = BigInt(Dht.Xor.idBits - 1 - i)
      // Ids sharing the first i bits with x and differing at bit i: one contiguous range.
      const lo = ((v >> shift) ^ 1n) << shift
      const a = lowerBound(lo)
      const b = lowerBound(lo + (1n << shift))
      // Ids sharing the first i + 1 bits with x (x included): when x is alone there, stop.
      const own = (v >> shift) << shift
      const alone = lowerBound(own + (1n << shift)) - lowerBound(own) <= 1
      const n = b - a
      if (n > 0) {
        // Candidates in random order: all of them when few, else 2k distinct draws.
        let picks: Array<number>
        if (n <= 2 * k) {
          picks = Array.from({ length: n }, (_, j) => a + j)
          for (let j = picks.length - 1; j > 0; j--) {
            const r = rng.int(0, j)
            const t = picks[j]!
            picks[j] = picks[r]!
            picks[r] = t
          }
        } else {
          const seen = new Set<number>()
          picks = []
          while (picks.length < 2 * k) {
            const r = rng.int(a, b - 1)
            if (!seen.has(r)) {
              seen.add(r)
              picks.push(r)
            }
          }
        }
        const members: Array<Dht.RoutingTable.Entry> = []
        const inBucket = new Map<string, number>()
        for (const j of picks) {
          if (members.length >= k) break
          const e = entries[j]!
          if (e.prefix !== undefined) {
            if ((inBucket.get(e.prefix) ?? 0) >= config.maxPerPrefixPerBucket) continue
            if ((prefixCounts.get(e.prefix) ?? 0) >= config.maxPerPrefixPerTable) continue
            inBucket.set(e.prefix, (inBucket.get(e.prefix) ?? 0) + 1)
            prefixCounts.set(e.prefix, (prefixCounts.get(e.prefix) ?? 0) + 1)
          }
          members.push(e)
        }
        buckets[i] = { members, cache: [], probe: undefined, touchedAt: 0 }
        size += members.length
      }
      if (alone) break
    }
    const table: Dht.RoutingTable.RoutingTable = { self: m.id, buckets, size, prefixCounts }
    const broken = Dht.RoutingTable.violations(config, table)
    if (broken.length > 0) throw new Error(`warm table of ${m.name}: ${broken.join("; ")}`)
    tables.set(m.name, table)
  }
  return tables
}

/**
 * A swarm of `nodes` stations `n0 … n(N-1)` on the simulator (the last `adversarial × N` of
 * them adversaries). Nothing runs until you call `Sim.run*`; every node gets `Started` at 0.
 */
export const makeSwarm = (options: SwarmOptions): Swarm => {
  const hash = memoHash()
  const knobs: Dht.Config.Knobs = { ...Dht.Config.defaults, ...options.knobs }
  const found = Dht.Config.problems(knobs)
  if (found.length > 0) throw new RangeError(`invalid DHT config: ${found.join("; ")}`)
  const config = Dht.Config.withHash(knobs, hash)
  const bits = config.stationPowBits
  const setupRng = Sim.Rng.fromSeed(options.seed ^ 0x5eed)
  const dir: Directory = { byId: new WeakMap(), byKey: new Map() }

  const identities = (label: string, prefix: string, count: number): Array<Identity> =>
    mine(options.keys ?? options.seed, label, bits, count).map((pk, i) => {
      const id = sha256(pk)
      hash.seed(pk, id)
      hash.seed(id, sha256(id))
      const ip = publicIp(setupRng)
      const name = `${prefix}${i}`
      const identity: Identity = { name, pk, id, key: Dht.Xor.toHex(id), ip, info: { pk, addrs: [`quic://${ip}:4433`] } }
      dir.byId.set(id, name)
      dir.byKey.set(identity.key, name)
      return identity
    })

  const initial = identities("node", "n", options.nodes)
  const spare = identities("newcomer", "j", options.newcomers ?? 0)
  const advCount = Math.round((options.adversarial ?? 0) * options.nodes)
  const adversaries = new Set(initial.slice(options.nodes - advCount).map((m) => m.name))
  // The fakes: mined identities that no node holds (messages to them are lost).
  const fakes = identities("fake", "x", advCount * (options.fakesPerAdversary ?? 1))
  const pool = poisonPool([...initial.filter((m) => adversaries.has(m.name)), ...fakes])
  const byName = new Map<string, Identity>()
  for (const m of [...initial, ...spare]) byName.set(m.name, m)
  const tables = (options.warm ?? true) ? warmTables(config, initial, setupRng) : new Map<string, Dht.RoutingTable.RoutingTable>()
  const seeds = initial.slice(0, options.seeds ?? 3).map((m) => m.name)
  // Warm nodes boot at random times over the first `bootSpreadMs`, so their periodic timers
  // (sweep, snapshot, replication, refresh) do not all fire together.
  const boots = new Map<string, Millis>()
  const spread = options.bootSpreadMs ?? 20_000
  for (const m of initial) if (tables.has(m.name) && !adversaries.has(m.name)) boots.set(m.name, setupRng.int(0, spread - 1))

  const core = Dht.makeStep(config)
  const time = (now: Millis) => ({ now, wallNow: wallBase + now })

  // Connections: per node, when it last exchanged a message with each peer. A message on no
  // connection, or on one idle for `connectionIdleMs`, opens one: its handshake is what admits
  // a non-member to the routing table (`PeerConnected`).
  const connectionIdleMs = options.connectionIdleMs ?? 60_000
  const lastHeard = new Map<string, Map<string, Millis>>()
  const freshConnection = (self: string, peer: string, now: Millis): boolean => {
    let table = lastHeard.get(self)
    if (table === undefined) {
      table = new Map()
      lastHeard.set(self, table)
    }
    const last = table.get(peer)
    table.set(peer, now)
    return last === undefined || now - last > connectionIdleMs
  }

  const honest = (state: Dht.State.State, input: Input, self: string): readonly [Node, ReadonlyArray<Output>] => {
    switch (input._tag) {
      case "Resend":
        return [state, [{ _tag: "Transmit", to: input.to, message: input.message }]]
      case "Warm":
        return [state, [{ _tag: "BootAt", at: input.bootAt }]]
      case "Booted": {
        // A warm node has been up for long: its start-up self-lookup is history. The core gets
        // `Started` (arming its periodic timers) with the table set aside, so that it does not
        // look itself up again, then gets its table back.
        const [started, commands] = core({ ...state, table: Dht.RoutingTable.empty(state.self.id) }, Dht.Event.Started(time(input.now)))
        return [{ ...started, table: state.table, joined: true }, commands]
      }
      case "Deliver":
        break
      default:
        return core(state, input)
    }
    const { from, message, now } = input
    const peer = byName.get(from)!
    const fresh = freshConnection(self, from, now)
    switch (message._tag) {
      case "Ping":
        return [state, [{ _tag: "Wire", to: from, message: { _tag: "Pong", request: message.request } }]]
      case "Pong":
        return core(state, Dht.Event.PongReceived({ ...time(now), request: message.request }))
      case "Req":
      case "Res": {
        // The handshake that carried a message from a non-member: the one door into the table.
        let s = state
        let before: ReadonlyArray<Output> = []
        if (fresh && !isMember(s.table, peer.id, peer.key)) {
          const [next, commands] = core(s, Dht.Event.PeerConnected({ ...time(now), contact: peer.info, ip: peer.ip }))
          s = next
          before = commands
        }
        const event = message._tag === "Req"
          ? Dht.Event.RequestReceived({ ...time(now), from: { id: peer.id, role: "station" }, replyTo: message.request, request: message.message })
          : Dht.Event.ResponseReceived({ ...time(now), request: message.request, response: message.response, ip: peer.ip })
        const [after, commands] = core(s, event)
        return [after, before.length === 0 ? commands : [...before, ...commands]]
      }
    }
  }

  const adversaryStep = (input: Input): readonly [Node, ReadonlyArray<Output>] => {
    if (input._tag === "Resend") return [adversary, [{ _tag: "Transmit", to: input.to, message: input.message }]]
    if (input._tag !== "Deliver") return [adversary, []] // no timers, no lookups
    const { from, message } = input
    const reply = (m: Message): readonly [Node, ReadonlyArray<Output>] => [adversary, [{ _tag: "Wire", to: from, message: m }]]
    switch (message._tag) {
      case "Ping":
        return reply({ _tag: "Pong", request: message.request })
      case "Req":
        return reply({ _tag: "Res", request: message.request, response: poisoned(message.message) })
      // Adversaries send no requests, so answers and pongs never reach them.
      case "Res":
      case "Pong":
        return [adversary, []]
    }
  }

  /** An adversary's answer: poisoned routes, no records, every store refused. */
  const poisoned = (request: Dht.Request): Dht.Response => {
    switch (request._tag) {
      case "FindNode":
        return Dht.Response.Nodes({ contacts: pool.near(request.key, config.dhtK) })
      case "FindValue":
        return Dht.Response.Value({ records: [], contacts: pool.near(request.key, config.dhtK) })
      case "Store":
        return Dht.Response.StoreAck({ ok: false, why: "store_full" })
      case "Get":
      case "Put":
        return Dht.Response.Refused({ code: "busy" })
    }
  }

  // Loss is delay, never a gap: DHT frames travel on QUIC streams, so a lost transmission is
  // sent again after a retransmission timeout (200 ms, doubling, at most 2 s), as in the
  // simulated network of the testkit. The fate of every transmission is drawn at send time from
  // a generator of the harness; the simulator's own link model only delays.
  const loss = options.loss ?? 0.005
  const lossRng = Sim.Rng.fromSeed((options.seed ^ 0x1055) | 0)
  let resends = 0
  const transmit = (to: string, message: Message, now: Millis): Sim.Actions<Message, TimerKey, Finished> => {
    if (loss === 0 || lossRng.float() >= loss) return Sim.send(to, message)
    let delay = 0
    let rto = 200
    do {
      delay += rto
      rto = Math.min(2 * rto, 2_000)
    } while (lossRng.float() < loss && delay < connectionIdleMs)
    return [Sim.setTimer({ _tag: "Resend", n: resends++, to, message }, now + delay, 0), Sim.count("retransmitted")]
  }

  const violations = new Map<string, number>()
  const violation = (name: string) => violations.set(name, (violations.get(name) ?? 0) + 1)

  let swarm: Swarm | undefined
  const sim = Sim.make<Node, Input, Output, Message, TimerKey, Finished>({
    seed: options.seed,
    nodes: initial.map((m) => m.name),
    initial: (ctx) => {
      if (adversaries.has(ctx.id)) return adversary
      const m = byName.get(ctx.id)!
      const state = Dht.initial(config, { publicKey: m.pk, seed: ctx.seed, now: ctx.now })
      const table = ctx.incarnation === 0 ? tables.get(ctx.id) : undefined
      return table === undefined ? state : { ...state, table }
    },
    step: (state, input) => (isAdversary(state) ? adversaryStep(input) : honest(state, input, state.self.key)),
    interpret: (command, ctx) => {
      switch (command._tag) {
        case "Wire":
          return transmit(command.to, command.message, ctx.now)
        case "Transmit":
          return Sim.send(command.to, command.message)
        case "BootAt":
          return Sim.setTimer({ _tag: "Boot" }, command.at, 0)
        case "SendRequest":
          return transmit(nameOf(dir, command.to.id), { _tag: "Req", request: command.request, message: command.message }, ctx.now)
        case "SendResponse": {
          const response = command.message
          if (response._tag === "Value") {
            const wallNow = wallBase + ctx.now
            for (const r of response.records) if (r.body.exp <= wallNow) violation("servedExpired")
          }
          return transmit(nameOf(dir, command.to), { _tag: "Res", request: command.replyTo, response }, ctx.now)
        }
        case "Ping":
          return transmit(nameOf(dir, command.to.id), { _tag: "Ping", request: command.request }, ctx.now)
        case "SetTimer":
          return Sim.setTimer(command.timer, command.at, command.generation)
        case "CancelTimer":
          return Sim.cancelTimer(command.timer)
        case "Penalise":
          return Sim.count(`penalised:${command.reason}`)
        case "Emit": {
          const o = command.observation
          switch (o._tag) {
            case "LookupFinished":
            case "StoreFinished":
              return Sim.emit(o)
            case "ContactEvicted":
              return Sim.count(`evicted:${o.reason}`)
            case "ContactAdded":
            case "ContactRejected":
            case "RecordStored":
            case "RecordRefused":
            case "RecordExpired":
            case "RepublishDue":
              return Sim.count(o._tag)
            case "RoutingSnapshot":
              return undefined
          }
        }
      }
    },
    events: {
      message: (message, from, now) => ({ _tag: "Deliver", from, message, now }),
      timer: (timer, generation, now) =>
        timer._tag === "Resend" ? timer : timer._tag === "Boot" ? { _tag: "Booted", now } : Dht.Event.TimerFired({ ...time(now), timer, generation }),
      started: ({ self, now, incarnation }) => {
        const bootAt = incarnation === 0 ? boots.get(self) : undefined
        return bootAt === undefined ? Dht.Event.Started(time(now)) : { _tag: "Warm", now, bootAt }
      }
    },
    timerKey: (timer) => (timer._tag === "Resend" ? `resend:${timer.n}` : timer._tag === "Boot" ? "boot" : Dht.Timer.key(timer)),
    network: { ...Sim.Network.wan, loss: 0 },
    kindOf: (m) => (m._tag === "Req" ? m.message._tag : m._tag === "Res" ? m.response._tag : m._tag),
    keepRecords: false,
    trace: options.trace ?? false,
    onEmit: (o) => observe(swarm!, o)
  })
  swarm = {
    sim,
    config,
    byName,
    initial,
    spare,
    adversaries,
    seeds,
    joinedAt: new Map(initial.filter((m) => !adversaries.has(m.name) && (options.warm ?? true)).map((m) => [m.name, 0])),
    names: initial.map((m) => m.name),
    nameOf: (id) => nameOf(dir, id),
    lookups: new Map(),
    stores: new Map(),
    violations,
    nextQuery: 1
  }
  return swarm
}

// ---------------------------------------------------------------------------------------------
// The oracle and the outcomes
// ---------------------------------------------------------------------------------------------

/** Honest nodes up now. */
export const honestUp = (swarm: Swarm): ReadonlyArray<string> =>
  swarm.names.filter((n) => !swarm.adversaries.has(n) && Sim.isUp(swarm.sim, n))

/** Honest nodes up now that joined at or before `by`: eligible origins and oracle answers. */
export const eligible = (swarm: Swarm, by: Millis): ReadonlyArray<string> =>
  swarm.names.filter((n) => {
    const at = swarm.joinedAt.get(n)
    return at !== undefined && at <= by && Sim.isUp(swarm.sim, n)
  })

/** The `count` nodes of `among` nearest `target`, nearest first (brute force). */
export const nearest = (swarm: Swarm, among: ReadonlyArray<string>, target: Uint8Array, count: number): ReadonlyArray<string> => {
  const ids = among.map((n) => ({ n, id: swarm.byName.get(n)!.id }))
  if (count === 1) {
    let best: { n: string; id: Uint8Array } | undefined
    for (const x of ids) if (best === undefined || Dht.Xor.compareDistance(x.id, best.id, target) < 0) best = x
    return best === undefined ? [] : [best.n]
  }
  return ids.sort((a, b) => Dht.Xor.compareDistance(a.id, b.id, target)).slice(0, count).map((x) => x.n)
}

const observe = (swarm: Swarm, o: Sim.Observation<Finished>): void => {
  const r = o.record
  if (r._tag === "LookupFinished") {
    if (r.origin._tag === "SelfLookup") {
      if (!swarm.joinedAt.has(o.node) && r.closest.length > 0) swarm.joinedAt.set(o.node, o.at)
      return
    }
    if (r.origin._tag !== "Local") return
    const track = swarm.lookups.get(r.origin.query)
    if (track === undefined) return
    const wallNow = wallBase + o.at
    for (const rec of r.records) if (rec.body.exp <= wallNow) swarm.violations.set("returnedExpired", (swarm.violations.get("returnedExpired") ?? 0) + 1)
    track.finishedAt = o.at
    track.hops = r.hops
    track.queried = r.queried
    track.timedOut = r.timedOut
    track.busy = r.busy
    track.records = r.records.length
    if (track.kind === "node") {
      // A lookup returns other nodes: the origin is never its own answer.
      const [oracle] = nearest(swarm, eligible(swarm, track.startedAt).filter((n) => n !== track.origin), track.target, 1)
      track.oracle = oracle
      const names = r.closest.map((c) => swarm.nameOf(c.id))
      track.success = oracle !== undefined && names.includes(oracle)
      const firstHonestLive = names.find((n) => swarm.byName.has(n) && !swarm.adversaries.has(n) && Sim.isUp(swarm.sim, n))
      track.exact = oracle !== undefined && firstHonestLive === oracle
    } else {
      const want = track.expect
      track.success = want !== undefined &&
        r.records.some((rec) => Dht.Xor.equals(rec.body.pk, want.body.pk) && rec.body.seq === want.body.seq)
    }
    return
  }
  if (r.origin._tag !== "Local") return
  const track = swarm.stores.get(r.origin.query)
  if (track === undefined) return
  track.finishedAt = o.at
  track.ok = r.ok
  track.acks = r.acks
  track.candidates = r.candidates
  const closest = nearest(swarm, honestUp(swarm), r.key, swarm.config.dhtK)
  track.coverage = closest.filter((n) => holds(swarm, n, track.record)).length
}

/** Whether node `name` holds `record` (same signer and seq) in its store. */
export const holds = (swarm: Swarm, name: string, record: Dht.Records.SignedRecord): boolean => {
  const state = Sim.state(swarm.sim, name)
  if (isAdversary(state)) return false
  const held = Dht.Records.held(state.store, Dht.Xor.toHex(record.body.key), Dht.Xor.toHex(record.body.pk))
  return held !== undefined && held.record.body.seq === record.body.seq
}

// ---------------------------------------------------------------------------------------------
// Driving a run
// ---------------------------------------------------------------------------------------------

/** 32 random bytes from the scenario's generator. */
export const randomId = (swarm: Swarm): Uint8Array => {
  const rng = Sim.random(swarm.sim)
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i += 4) {
    const u = rng.u32()
    out[i] = u >>> 24
    out[i + 1] = (u >>> 16) & 255
    out[i + 2] = (u >>> 8) & 255
    out[i + 3] = u & 255
  }
  return out
}

const newTrack = (swarm: Swarm, origin: string, kind: "node" | "value", target: Uint8Array, at: Millis, expect?: Dht.Records.SignedRecord): LookupTrack => {
  const track: LookupTrack = {
    query: swarm.nextQuery++,
    origin,
    kind,
    target,
    startedAt: at,
    expect,
    finishedAt: undefined,
    oracle: undefined,
    success: false,
    exact: false,
    hops: 0,
    queried: 0,
    timedOut: false,
    busy: false,
    records: 0
  }
  swarm.lookups.set(track.query, track)
  return track
}

/** Starts a `FIND_NODE` of `target` at `origin` now; the track fills in when it finishes. */
export const findNode = (swarm: Swarm, origin: string, target: Uint8Array): LookupTrack => {
  const now = Sim.now(swarm.sim)
  const track = newTrack(swarm, origin, "node", target, now)
  Sim.inject(swarm.sim, now, origin, Dht.Event.FindNode({ now, wallNow: wallBase + now, query: track.query, target }))
  return track
}

/** Starts a `FIND_VALUE` of `record`'s key at `origin` now, expecting `record`. */
export const findValue = (swarm: Swarm, origin: string, record: Dht.Records.SignedRecord): LookupTrack => {
  const now = Sim.now(swarm.sim)
  const track = newTrack(swarm, origin, "value", record.body.key, now, record)
  Sim.inject(swarm.sim, now, origin, Dht.Event.FindValue({ now, wallNow: wallBase + now, query: track.query, key: record.body.key }))
  return track
}

/**
 * Has `owner` store its endpoint record (§10.3), valid from now for `ttlMs`, with `seq`;
 * returns the track (the record is `track.record`).
 */
export const storeRecord = (swarm: Swarm, owner: string, ttlMs: Millis, seq = 1): StoreTrack => {
  const now = Sim.now(swarm.sim)
  const wallNow = wallBase + now
  const m = swarm.byName.get(owner)!
  const record = Arb.endpointRecord(m.pk, { seq, iat: wallNow, exp: wallNow + ttlMs }, m.info.addrs)
  const track: StoreTrack = {
    query: swarm.nextQuery++,
    owner,
    record,
    startedAt: now,
    finishedAt: undefined,
    ok: false,
    acks: 0,
    candidates: 0,
    coverage: 0
  }
  swarm.stores.set(track.query, track)
  Sim.inject(swarm.sim, now, owner, Dht.Event.Store({ now, wallNow, query: track.query, record }))
  return track
}

/** Node `name` leaves now: it stops answering (a crash, as far as the others can tell). */
export const leave = (swarm: Swarm, name: string): void => Sim.crash(swarm.sim, name)

/**
 * The next spare identity joins now through `seed`: it starts with an empty table, connects
 * to the seed (both learn each other, as a handshake does) and runs its self-lookup. Returns
 * its name.
 */
export const join = (swarm: Swarm, seed: string): string => {
  const m = swarm.spare.shift()
  if (m === undefined) throw new RangeError("no spare identity left: raise `newcomers`")
  joinAs(swarm, m.name, seed)
  return m.name
}

/** Adds node `name` (an identity of the swarm, not yet a node) now and connects it to `seed`. */
export const joinAs = (swarm: Swarm, name: string, seed: string): void => {
  const now = Sim.now(swarm.sim)
  const time = { now, wallNow: wallBase + now }
  const m = swarm.byName.get(name)!
  const s = swarm.byName.get(seed)!
  Sim.addNode(swarm.sim, name)
  swarm.names.push(name)
  Sim.inject(swarm.sim, now, name, Dht.Event.PeerConnected({ ...time, contact: s.info, ip: s.ip }))
  Sim.inject(swarm.sim, now, seed, Dht.Event.PeerConnected({ ...time, contact: m.info, ip: m.ip }))
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

const round = (x: number, digits = 4): number => {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** The q-quantile of a list by nearest rank (q = 0.5: the lower median); NaN if empty. */
export const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}

/** Figures over a set of finished lookups. */
export interface LookupFigures {
  readonly lookups: number
  readonly success: number
  readonly exact: number
  readonly medianHops: number
  readonly p95Hops: number
  readonly maxHops: number
  readonly msgsPerLookup: number
  readonly p95Msgs: number
  /** Virtual time from start to `LookupFinished`, in ms. */
  readonly medianMs: number
  readonly p95Ms: number
  /** Ended by `lookupTimeoutMs` (they still return what they found). */
  readonly timedOut: number
  readonly busy: number
  readonly unfinished: number
}

/** Summarises lookup tracks (unfinished ones count as failures). */
export const figures = (tracks: ReadonlyArray<LookupTrack>): LookupFigures => {
  const done = tracks.filter((t) => t.finishedAt !== undefined)
  const hops = done.map((t) => t.hops)
  const msgs = done.map((t) => t.queried)
  const durations = done.map((t) => t.finishedAt! - t.startedAt)
  const n = tracks.length
  return {
    lookups: n,
    success: n === 0 ? NaN : round(tracks.filter((t) => t.success).length / n),
    exact: n === 0 ? NaN : round(tracks.filter((t) => t.exact).length / n),
    medianHops: quantile(hops, 0.5),
    p95Hops: quantile(hops, 0.95),
    maxHops: hops.length === 0 ? NaN : Math.max(...hops),
    msgsPerLookup: msgs.length === 0 ? NaN : round(msgs.reduce((a, b) => a + b, 0) / msgs.length, 2),
    p95Msgs: quantile(msgs, 0.95),
    medianMs: quantile(durations, 0.5),
    p95Ms: quantile(durations, 0.95),
    timedOut: done.filter((t) => t.timedOut).length,
    busy: done.filter((t) => t.busy).length,
    unfinished: n - done.length
  }
}

// ---------------------------------------------------------------------------------------------
// The scale run
// ---------------------------------------------------------------------------------------------

/** The arguments of `npm run sim -- dht ...` (after `--json` is taken out by the runner). */
export interface ScaleArgs {
  readonly nodes: number
  readonly churn: number
  readonly adversarial: number
  readonly seed: number
  readonly loss: number
  readonly lookups: number
  readonly records: number
  readonly valueLookups: number
  readonly windowS: number
  readonly fakes: number
}

/** The usage of this kind, for the runner. */
export const usage =
  `npm run sim -- dht --nodes N [--churn F] [--adversarial F] [--seed S] [--loss F] [--lookups L]
                   [--records R] [--value-lookups V] [--window S] [--fakes M] --json FILE
  --nodes N          stations at the start (default 1000)
  --churn F          fraction of nodes that leave, and as many that join, during the window (default 0)
  --adversarial F    fraction of nodes that poison routes and refuse records (default 0)
  --seed S           seed of the run (default 1); same seed, same result
  --loss F           message loss probability in [0, 1) (default 0.005)
  --lookups L        FIND_NODE lookups of random ids, spread over the window (default 2000)
  --records R        records stored at the start of the window (default 100)
  --value-lookups V  FIND_VALUE lookups of those records, spread over the window (default 500)
  --window S         length of the measurement window in virtual seconds (default 600)
  --fakes M          fake identities the adversaries mine, per adversary (default 1)`

const usageError = (message: string): Error => Object.assign(new Error(message), { name: "UsageError" })

const number = (name: string, raw: string | undefined, ok: (x: number) => boolean): number => {
  const x = raw === undefined ? NaN : Number(raw)
  if (!Number.isFinite(x) || !ok(x)) throw usageError(`bad value for ${name}: ${raw ?? "(missing)"}`)
  return x
}

/** Parses the arguments; throws an error named `UsageError` on bad input. */
export const parseArgs = (argv: ReadonlyArray<string>): ScaleArgs => {
  let nodes = 1_000
  let churn = 0
  let adversarial = 0
  let seed = 1
  let loss = 0.005
  let lookups = 2_000
  let records = 100
  let valueLookups = 500
  let windowS = 600
  let fakes = 1
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => argv[++i]
    switch (arg) {
      case "--nodes":
        nodes = number(arg, value(), (x) => Number.isSafeInteger(x) && x >= 30)
        break
      case "--churn":
        churn = number(arg, value(), (x) => x >= 0 && x <= 0.5)
        break
      case "--adversarial":
        adversarial = number(arg, value(), (x) => x >= 0 && x <= 0.5)
        break
      case "--seed":
        seed = number(arg, value(), Number.isSafeInteger)
        break
      case "--loss":
        loss = number(arg, value(), (x) => x >= 0 && x < 1)
        break
      case "--lookups":
        lookups = number(arg, value(), (x) => Number.isSafeInteger(x) && x >= 1)
        break
      case "--records":
        records = number(arg, value(), (x) => Number.isSafeInteger(x) && x >= 0)
        break
      case "--value-lookups":
        valueLookups = number(arg, value(), (x) => Number.isSafeInteger(x) && x >= 0)
        break
      case "--window":
        windowS = number(arg, value(), (x) => Number.isSafeInteger(x) && x >= 10)
        break
      case "--fakes":
        fakes = number(arg, value(), (x) => Number.isSafeInteger(x) && x >= 0)
        break
      default:
        throw usageError(`unknown argument ${arg}`)
    }
  }
  if (records === 0 && valueLookups > 0) throw usageError("--value-lookups needs --records > 0")
  return { nodes, churn, adversarial, seed, loss, lookups, records, valueLookups, windowS, fakes }
}

/** Scenario timing of the scale run: the start-up self-lookups settle well within this. */
const warmupMs = 20_000
/** After the window: the longest lookup (10 s) and its stragglers end. */
const tailMs = 15_000

/** A uniformly random element of a non-empty list, from the scenario's generator. */
const pick = <A>(swarm: Swarm, xs: ReadonlyArray<A>): A => xs[Sim.random(swarm.sim).int(0, xs.length - 1)]!

/** The scale run: builds the swarm, schedules churn, stores and lookups, runs, and returns the figures. */
export const scale = (args: ScaleArgs, log: (line: string) => void = () => {}) => {
  const windowMs = args.windowS * 1_000
  const endMs = warmupMs + windowMs + tailMs
  const churners = Math.round(args.churn * args.nodes)
  const t0 = performance.now()
  const swarm = makeSwarm({
    nodes: args.nodes,
    seed: args.seed,
    adversarial: args.adversarial,
    loss: args.loss,
    newcomers: churners,
    fakesPerAdversary: args.fakes
  })
  log(`set up ${args.nodes} nodes (mining, warm tables) in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const sim = swarm.sim
  const rng = Sim.random(sim)
  const honestInitial = swarm.initial.map((m) => m.name).filter((n) => !swarm.adversaries.has(n))
  const seeds = new Set(swarm.seeds)

  // Churn: leavers are honest non-seeds, chosen up front; times uniform over the window.
  const leavable = honestInitial.filter((n) => !seeds.has(n))
  for (let i = leavable.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    const t = leavable[i]!
    leavable[i] = leavable[j]!
    leavable[j] = t
  }
  for (const name of leavable.slice(0, churners)) {
    Sim.schedule(sim, warmupMs + rng.int(0, windowMs - 1), () => leave(swarm, name))
  }
  for (let i = 0; i < churners; i++) {
    Sim.schedule(sim, warmupMs + rng.int(0, windowMs - 1), () => void join(swarm, pick(swarm, swarm.seeds)))
  }

  // Records: stored just after the warm-up by random honest owners, valid for the whole run.
  const stores: Array<StoreTrack> = []
  Sim.schedule(sim, warmupMs, () => {
    const owners = eligible(swarm, warmupMs)
    for (let i = 0; i < args.records; i++) stores.push(storeRecord(swarm, pick(swarm, owners), endMs + 60_000))
  })
  // Lookups: uniform over the window (value lookups from 10 s in, once the stores are done).
  const nodeTracks: Array<LookupTrack> = []
  const valueTracks: Array<LookupTrack> = []
  for (let i = 0; i < args.lookups; i++) {
    Sim.schedule(sim, warmupMs + rng.int(0, windowMs - 1), (s) => {
      nodeTracks.push(findNode(swarm, pick(swarm, eligible(swarm, Sim.now(s))), randomId(swarm)))
    })
  }
  for (let i = 0; i < args.valueLookups; i++) {
    Sim.schedule(sim, warmupMs + 10_000 + rng.int(0, windowMs - 10_001), (s) => {
      const done = stores.filter((t) => t.ok)
      if (done.length === 0) return
      valueTracks.push(findValue(swarm, pick(swarm, eligible(swarm, Sim.now(s))), pick(swarm, done).record))
    })
  }

  let sentAtWarmup = 0
  Sim.schedule(sim, warmupMs, (s) => {
    sentAtWarmup = Sim.stats(s).sent
  })
  for (let t = 30_000; t < endMs; t += 30_000) {
    Sim.schedule(sim, t, (s) => log(`t = ${t / 1000} s, ${Sim.stats(s).steps} steps, ${nodeTracks.length} lookups started`))
  }
  Sim.runUntil(sim, endMs)

  const stats = Sim.stats(sim)
  // A lookup whose origin left before it finished has no outcome: it is not counted.
  const counted = (t: LookupTrack) => t.finishedAt !== undefined || Sim.isUp(sim, t.origin)
  const node = figures(nodeTracks.filter(counted))
  const value = figures(valueTracks.filter(counted))
  const byKind: { [kind: string]: number } = {}
  for (const [kind, counts] of Object.entries(stats.byKind)) byKind[kind] = counts.sent
  const upAtEnd = honestUp(swarm).length
  const storeAcks = stores.map((t) => t.acks)
  const evicted: { [reason: string]: number } = {}
  for (const [name, n] of Object.entries(stats.counters)) if (name.startsWith("evicted:")) evicted[name.slice(8)] = n
  const penalised: { [reason: string]: number } = {}
  for (const [name, n] of Object.entries(stats.counters)) if (name.startsWith("penalised:")) penalised[name.slice(10)] = n
  return {
    lookupSuccess: node.success,
    medianHops: node.medianHops,
    p95Hops: node.p95Hops,
    msgsPerLookup: node.msgsPerLookup,
    valueSuccess: value.success,
    valueMedianHops: value.medianHops,
    params: {
      nodes: args.nodes,
      churn: args.churn,
      adversarial: args.adversarial,
      seed: args.seed,
      loss: args.loss,
      lookups: args.lookups,
      records: args.records,
      valueLookups: args.valueLookups,
      windowSeconds: args.windowS,
      fakesPerAdversary: args.fakes,
      virtualSeconds: endMs / 1_000,
      k: swarm.config.dhtK,
      alpha: swarm.config.dhtAlpha,
      paths: swarm.config.dhtDisjointPaths,
      powBits: swarm.config.stationPowBits
    },
    details: {
      findNode: node,
      findValue: value,
      stores: {
        count: stores.length,
        ok: stores.filter((t) => t.ok).length,
        medianAcks: quantile(storeAcks, 0.5),
        minAcks: storeAcks.length === 0 ? NaN : Math.min(...storeAcks),
        medianCoverage: quantile(stores.map((t) => t.coverage), 0.5)
      },
      originLeft: nodeTracks.length + valueTracks.length - node.lookups - value.lookups,
      left: churners,
      joined: churners - swarm.spare.length,
      honestUpAtEnd: upAtEnd,
      msgsPerNodePerSecond: round((stats.sent - sentAtWarmup) / ((upAtEnd + swarm.adversaries.size) * (endMs - warmupMs) / 1_000), 3),
      sentByKind: byKind,
      evicted,
      penalised,
      contactsAdded: stats.counters["ContactAdded"] ?? 0,
      contactsRejected: stats.counters["ContactRejected"] ?? 0,
      violations: Object.fromEntries(swarm.violations),
      lost: stats.dropped.loss,
      toMissingNodes: stats.dropped.crash + stats.dropped.unknown,
      steps: stats.steps,
      digest: Sim.digest(sim)
    }
  }
}

/** The runner's entry: `run(args)` for `npm run sim -- dht ...`. */
export const run = async (argv: ReadonlyArray<string>): Promise<object> => {
  const args = parseArgs(argv)
  const started = performance.now()
  const cpu = process.cpuUsage()
  const result = scale(args, (line) => void process.stderr.write(`  ${line}\n`))
  const used = process.cpuUsage(cpu)
  const wall = (performance.now() - started) / 1_000
  process.stderr.write(`dht: ${args.nodes} nodes, ${result.details.steps} steps in ${wall.toFixed(1)} s wall clock\n`)
  return { ...result, timing: { cpuSeconds: round((used.user + used.system) / 1e6, 1), wallSeconds: round(wall, 1) } }
}

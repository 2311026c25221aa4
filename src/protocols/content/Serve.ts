/**
 * The serving core: answering other nodes' wants (PROTOCOL.md §12.3).
 *
 * One core per node, driven by the `ContentStoreActor` (or whichever actor owns the sessions):
 * it receives `content.want`, `content.cancel` and `content.manifest_req` frames from peers and
 * decides what to read from the store and what to send back. The store is I/O, so reads are
 * commands (`CheckHave`, `ReadBlock`, `ReadManifest`) answered by events (`HaveChecked`,
 * `BlockRead`, `ManifestRead`).
 *
 * Per-peer credit: a peer has at most `maxWantsPerPeer` open wants (the excess is answered
 * `y: false` and penalised, §14 row 28) and at most `maxInFlightBlocksPerPeer` blocks being read
 * or sent (a slot frees when the actor reports `BlockSent`). Blocks are served by priority
 * (`p`, default 128, higher first; oldest first among equals), round-robin across peers, so a
 * peer with a long want list cannot starve the others. Wants older than `wantTtlMs` are
 * forgotten; `full: true` replaces a peer's list; `content.cancel` removes wants. At most
 * `maxServedPeers` peers are tracked; wants from more are answered `y: false`.
 *
 * An unsolicited `content.have {y: true}` is a push offer (§12.6) and becomes an `Offered`
 * command. The node normally takes offers before they reach this core (`./Push.ts` decides with
 * `acceptPushFrom`); the serving actor counts and declines any that still arrive.
 *
 * Members-only serving (PROTOCOL.md §13.0, §13.3 `/content/get`) is decided before this core:
 * the serving actor judges each session's first request (`opensSession`) and confines an
 * admitted session to its root and that root's chunks (`scopeOf`, `confine`), pure helpers kept
 * here; the core itself serves whatever reaches it.
 *
 * Pure: no I/O, no clock. Nonsense from a peer (cancels of unknown wants, answers for a peer
 * that left) is ignored.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { Millis } from "../../core/Millis.ts"
import * as Step from "../../core/Step.ts"
import type { ContentBlock, ContentCancel, ContentHave, ContentManifestReq, ContentManifestRes, ContentWant } from "../../wire/Frame.ts"
import type { Knobs } from "./Config.ts"
import * as Ids from "./Ids.ts"

/**
 * A peer, as the actor names it.
 *
 * @since 0.1.0
 * @category models
 */
export type PeerId = string

/**
 * Frames a peer sends to the serving side. A `content.have` arriving here is unsolicited (no
 * fetch of ours asked): with `y: true` it is a push offer (§12.6).
 *
 * @since 0.1.0
 * @category models
 */
export type Inbound = ContentWant | ContentCancel | ContentManifestReq | ContentHave

/**
 * Frames the serving side sends.
 *
 * @since 0.1.0
 * @category models
 */
export type Outbound = ContentHave | ContentBlock | ContentManifestRes

/**
 * The one timer: forget expired wants.
 *
 * @since 0.1.0
 * @category models
 */
export type Timer = { readonly _tag: "Sweep" }

/**
 * Inputs.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  FrameReceived: { readonly now: Millis; readonly from: PeerId; readonly frame: Inbound }
  /** Answer to `CheckHave`. */
  HaveChecked: { readonly now: Millis; readonly peer: PeerId; readonly m: Ids.McidBytes; readonly held: boolean; readonly size?: number }
  /** Answer to `ReadBlock`: the bytes, or none if the block is not held. */
  BlockRead: { readonly now: Millis; readonly peer: PeerId; readonly m: Ids.McidBytes; readonly bytes?: Uint8Array }
  /** A `content.block` for this peer left (its credit slot is free again). */
  BlockSent: { readonly now: Millis; readonly peer: PeerId }
  /** Answer to `ReadManifest`. */
  ManifestRead: { readonly now: Millis; readonly peer: PeerId; readonly id: number; readonly m: Ids.McidBytes; readonly bytes?: Uint8Array }
  /** The peer's session closed: forget it. */
  PeerGone: { readonly now: Millis; readonly peer: PeerId }
  TimerFired: { readonly now: Millis; readonly timer: Timer; readonly generation: number }
}>

/**
 * Constructors of `Event`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Event = Data.taggedEnum<Event>()

/**
 * Outputs, to be carried out in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = Data.TaggedEnum<{
  Send: { readonly to: PeerId; readonly frame: Outbound }
  /** Is `m` held (and how big)? Answer `HaveChecked`. */
  CheckHave: { readonly peer: PeerId; readonly m: Ids.McidBytes }
  /** Read block `m` for `peer`; answer `BlockRead`, then `BlockSent` once sent. */
  ReadBlock: { readonly peer: PeerId; readonly m: Ids.McidBytes }
  /** Read manifest `m`; answer `ManifestRead`. */
  ReadManifest: { readonly peer: PeerId; readonly id: number; readonly m: Ids.McidBytes }
  /** A minor violation (want list over its cap). */
  Penalise: { readonly peer: PeerId; readonly reason: string }
  /**
   * A push offer (§12.6): `peer` holds `m` and offers it. Offers are decided by `./Push.ts`
   * (driven by the node's content glue); one that reaches the serving actor is declined.
   */
  Offered: { readonly peer: PeerId; readonly m: Ids.McidBytes; readonly size?: number }
  SetTimer: { readonly timer: Timer; readonly at: Millis; readonly generation: number }
}>

/**
 * Constructors of `Command`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Command = Data.taggedEnum<Command>()

/**
 * One open block want.
 *
 * @since 0.1.0
 * @category models
 */
export interface Want {
  readonly m: Ids.McidBytes
  readonly priority: number
  readonly at: Millis
  /** Arrival order, for oldest-first among equal priorities. */
  readonly seq: number
}

/**
 * What is kept per peer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Peer {
  /** Block wants not yet being served, by MCID key. */
  readonly wants: ReadonlyMap<string, Want>
  /** Reads and sends in progress (blocks and manifests): the credit in use. */
  readonly inFlight: number
  /** `have` checks in progress (count against `maxWantsPerPeer`). */
  readonly checks: number
}

/**
 * Counters for logs and tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counters {
  readonly blocksServed: number
  readonly refusedOverCap: number
  readonly expired: number
  readonly notHeld: number
}

/**
 * The serving state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly peers: ReadonlyMap<PeerId, Peer>
  /** Round-robin order of peers and whose turn is next. */
  readonly order: ReadonlyArray<PeerId>
  readonly turn: number
  readonly seq: number
  readonly sweepGeneration: number | undefined
  readonly nextGeneration: number
  readonly counters: Counters
}

/**
 * Nobody served yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial: State = {
  peers: new Map(),
  order: [],
  turn: 0,
  seq: 0,
  sweepGeneration: undefined,
  nextGeneration: 1,
  counters: { blocksServed: 0, refusedOverCap: 0, expired: 0, notHeld: 0 }
}

interface Tx {
  s: { -readonly [K in keyof State]: State[K] }
  peers: Map<PeerId, Peer>
  out: Array<Command>
}

const emptyPeer: Peer = { wants: new Map(), inFlight: 0, checks: 0 }

const peerOf = (tx: Tx, id: PeerId): Peer | undefined => tx.peers.get(id)

const ensurePeer = (tx: Tx, knobs: Knobs, id: PeerId): Peer | undefined => {
  const p = tx.peers.get(id)
  if (p !== undefined) return p
  if (tx.peers.size >= knobs.maxServedPeers) return undefined
  tx.peers.set(id, emptyPeer)
  tx.s.order = [...tx.s.order, id]
  return emptyPeer
}

const forgetIfIdle = (tx: Tx, id: PeerId): void => {
  const p = tx.peers.get(id)
  if (p !== undefined && p.wants.size === 0 && p.inFlight === 0 && p.checks === 0) {
    tx.peers.delete(id)
    const at = tx.s.order.indexOf(id)
    tx.s.order = tx.s.order.filter((x) => x !== id)
    if (at >= 0 && at < tx.s.turn) tx.s.turn--
  }
}

const refuse = (tx: Tx, to: PeerId, ms: ReadonlyArray<Ids.McidBytes>): void => {
  if (ms.length === 0) return
  tx.out.push(Command.Send({ to, frame: { t: "content.have", h: ms.map((m) => ({ m, y: false })) } }))
}

const onWant = (tx: Tx, knobs: Knobs, from: PeerId, frame: ContentWant, now: Millis): void => {
  let p = ensurePeer(tx, knobs, from)
  if (p === undefined) {
    refuse(tx, from, frame.w.map((e) => e.m))
    tx.s.counters = { ...tx.s.counters, refusedOverCap: tx.s.counters.refusedOverCap + frame.w.length }
    return
  }
  const wants = new Map(frame.full === true ? [] : p.wants)
  let checks = p.checks
  const over: Array<Ids.McidBytes> = []
  for (const entry of frame.w) {
    if (!Ids.isMcid(entry.m)) continue
    const k = Ids.key(entry.m)
    if (entry.k === "have") {
      if (wants.size + checks >= knobs.maxWantsPerPeer) {
        over.push(entry.m)
        continue
      }
      checks++
      tx.out.push(Command.CheckHave({ peer: from, m: entry.m }))
      continue
    }
    const priority = entry.p ?? knobs.defaultWantPriority
    const existing = wants.get(k)
    if (existing !== undefined) {
      wants.set(k, { ...existing, priority, at: now })
    } else if (wants.size + checks >= knobs.maxWantsPerPeer) {
      over.push(entry.m)
    } else {
      wants.set(k, { m: entry.m, priority, at: now, seq: tx.s.seq++ })
    }
  }
  p = { ...p, wants, checks }
  tx.peers.set(from, p)
  if (over.length > 0) {
    refuse(tx, from, over)
    tx.s.counters = { ...tx.s.counters, refusedOverCap: tx.s.counters.refusedOverCap + over.length }
    tx.out.push(Command.Penalise({ peer: from, reason: `want list over ${knobs.maxWantsPerPeer}` }))
  }
}

const onCancel = (tx: Tx, from: PeerId, frame: ContentCancel): void => {
  const p = peerOf(tx, from)
  if (p === undefined) return
  const wants = new Map(p.wants)
  for (const m of frame.c) wants.delete(Ids.key(m))
  tx.peers.set(from, { ...p, wants })
  forgetIfIdle(tx, from)
}

const expire = (tx: Tx, knobs: Knobs, now: Millis): void => {
  for (const [id, p] of tx.peers) {
    let wants: Map<string, Want> | undefined
    for (const [k, w] of p.wants) {
      if (w.at + knobs.wantTtlMs <= now) {
        wants ??= new Map(p.wants)
        wants.delete(k)
        tx.s.counters = { ...tx.s.counters, expired: tx.s.counters.expired + 1 }
      }
    }
    if (wants !== undefined) {
      tx.peers.set(id, { ...p, wants })
      forgetIfIdle(tx, id)
    }
  }
}

const best = (p: Peer): Want | undefined => {
  let out: Want | undefined
  for (const w of p.wants.values()) {
    if (out === undefined || w.priority > out.priority || (w.priority === out.priority && w.seq < out.seq)) out = w
  }
  return out
}

/** Starts reads by priority, round-robin across peers, within each peer's credit. */
const pump = (tx: Tx, knobs: Knobs): void => {
  let idle = 0
  while (tx.s.order.length > 0 && idle < tx.s.order.length) {
    if (tx.s.turn >= tx.s.order.length) tx.s.turn = 0
    const id = tx.s.order[tx.s.turn]!
    tx.s.turn++
    const p = tx.peers.get(id)
    const want = p === undefined || p.inFlight >= knobs.maxInFlightBlocksPerPeer ? undefined : best(p)
    if (p === undefined || want === undefined) {
      idle++
      continue
    }
    idle = 0
    const wants = new Map(p.wants)
    wants.delete(Ids.key(want.m))
    tx.peers.set(id, { ...p, wants, inFlight: p.inFlight + 1 })
    tx.out.push(Command.ReadBlock({ peer: id, m: want.m }))
  }
}

const armSweep = (tx: Tx, knobs: Knobs, now: Millis): void => {
  if (tx.s.sweepGeneration !== undefined) return
  let any = false
  for (const p of tx.peers.values()) if (p.wants.size > 0) any = true
  if (!any) return
  const generation = tx.s.nextGeneration++
  tx.s.sweepGeneration = generation
  tx.out.push(Command.SetTimer({ timer: { _tag: "Sweep" }, at: now + knobs.wantTtlMs, generation }))
}

const release = (tx: Tx, id: PeerId): void => {
  const p = tx.peers.get(id)
  if (p === undefined || p.inFlight === 0) return
  tx.peers.set(id, { ...p, inFlight: p.inFlight - 1 })
  forgetIfIdle(tx, id)
}

/**
 * The serving step for `knobs`.
 *
 * @since 0.1.0
 * @category step
 */
export const make = (knobs: Knobs): Step.Step<State, Event, Command> => (state, event) => {
  const tx: Tx = { s: { ...state }, peers: new Map(state.peers), out: [] }
  const now = event.now
  expire(tx, knobs, now)
  switch (event._tag) {
    case "FrameReceived": {
      const f = event.frame
      if (f.t === "content.want") onWant(tx, knobs, event.from, f, now)
      else if (f.t === "content.cancel") onCancel(tx, event.from, f)
      else if (f.t === "content.have") {
        for (const e of f.h) {
          if (!e.y || !Ids.isMcid(e.m)) continue
          tx.out.push(Command.Offered({ peer: event.from, m: e.m, ...(e.sz === undefined ? {} : { size: e.sz }) }))
        }
      } else {
        const p = ensurePeer(tx, knobs, event.from)
        if (p === undefined || p.inFlight >= knobs.maxInFlightBlocksPerPeer) {
          // No credit for another read: say not found rather than queue without bound.
          tx.out.push(Command.Send({ to: event.from, frame: { t: "content.manifest_res", id: f.id, m: f.m, nf: true } }))
        } else {
          tx.peers.set(event.from, { ...p, inFlight: p.inFlight + 1 })
          tx.out.push(Command.ReadManifest({ peer: event.from, id: f.id, m: f.m }))
        }
      }
      break
    }
    case "HaveChecked": {
      const p = tx.peers.get(event.peer)
      if (p === undefined || p.checks === 0) return Step.unchanged(state)
      tx.peers.set(event.peer, { ...p, checks: p.checks - 1 })
      const entry = event.size === undefined || !event.held ? { m: event.m, y: event.held } : { m: event.m, y: true, sz: event.size }
      tx.out.push(Command.Send({ to: event.peer, frame: { t: "content.have", h: [entry] } }))
      forgetIfIdle(tx, event.peer)
      break
    }
    case "BlockRead": {
      if (!tx.peers.has(event.peer)) return Step.unchanged(state)
      if (event.bytes === undefined) {
        tx.s.counters = { ...tx.s.counters, notHeld: tx.s.counters.notHeld + 1 }
        refuse(tx, event.peer, [event.m])
        release(tx, event.peer)
      } else {
        tx.s.counters = { ...tx.s.counters, blocksServed: tx.s.counters.blocksServed + 1 }
        tx.out.push(Command.Send({ to: event.peer, frame: { t: "content.block", m: event.m, d: event.bytes } }))
      }
      break
    }
    case "BlockSent":
      release(tx, event.peer)
      break
    case "ManifestRead": {
      if (!tx.peers.has(event.peer)) return Step.unchanged(state)
      const frame: ContentManifestRes = event.bytes === undefined
        ? { t: "content.manifest_res", id: event.id, m: event.m, nf: true }
        : { t: "content.manifest_res", id: event.id, m: event.m, man: event.bytes }
      tx.out.push(Command.Send({ to: event.peer, frame }))
      release(tx, event.peer)
      break
    }
    case "PeerGone":
      if (!tx.peers.has(event.peer)) return Step.unchanged(state)
      tx.peers.set(event.peer, emptyPeer)
      forgetIfIdle(tx, event.peer)
      break
    case "TimerFired":
      if (event.generation !== state.sweepGeneration) return Step.unchanged(state)
      tx.s.sweepGeneration = undefined
      break
  }
  pump(tx, knobs)
  armSweep(tx, knobs, now)
  return [{ ...tx.s, peers: tx.peers }, tx.out]
}

/**
 * A members-only session's scope (PROTOCOL.md §13.0, `/content/get`): whether an MCID may be
 * served on it.
 *
 * @since 0.1.0
 * @category models
 */
export type InScope = (m: Ids.McidBytes) => boolean

/**
 * Confines a frame of an admitted members-only session to its scope: block and `have` wants of
 * MCIDs outside it are answered `y: false` here (the session was admitted for other content), a
 * manifest request outside it is answered `nf`. `frame` is what still goes to the core
 * (`undefined`: nothing), `answers` what to send back first. Cancels and offers pass as they are.
 * Pure.
 *
 * @since 0.1.0
 * @category admission
 */
export const confine = (
  frame: Inbound,
  inScope: InScope
): { readonly frame: Inbound | undefined; readonly answers: ReadonlyArray<Outbound> } => {
  switch (frame.t) {
    case "content.want": {
      const kept = frame.w.filter((e) => inScope(e.m))
      if (kept.length === frame.w.length) return { frame, answers: [] }
      const out = frame.w.filter((e) => !inScope(e.m))
      const answers: ReadonlyArray<Outbound> = [{ t: "content.have", h: out.map((e) => ({ m: e.m, y: false })) }]
      // A `full` list still replaces the old one, even when nothing of it is in scope.
      return { frame: kept.length > 0 || frame.full === true ? { ...frame, w: kept } : undefined, answers }
    }
    case "content.manifest_req":
      return inScope(frame.m) ? { frame, answers: [] } : { frame: undefined, answers: [{ t: "content.manifest_res", id: frame.id, m: frame.m, nf: true }] }
    default:
      return { frame, answers: [] }
  }
}

/**
 * Whether a frame opens a members-only session, so it must carry `au`: the first `content.want`
 * or `content.manifest_req` of a session (§13.0). Pure.
 *
 * @since 0.1.0
 * @category admission
 */
export const opensSession = (frame: Inbound): frame is ContentWant | ContentManifestReq =>
  frame.t === "content.want" || frame.t === "content.manifest_req"

/**
 * The scope of a session admitted for `root` (§13.3 `/content/get`): the root and, for a
 * manifest, the chunks it lists (`hashes`, as raw-block MCIDs). Keys as `Ids.key`. Pure.
 *
 * @since 0.1.0
 * @category admission
 */
export const scopeOf = (root: Ids.McidBytes, hashes: ReadonlyArray<Uint8Array> = []): ReadonlySet<string> => {
  const keys = new Set<string>([Ids.key(root)])
  for (const h of hashes) keys.add(Ids.key(Ids.rawMcid(h)))
  return keys
}

/**
 * The fetch core: downloading one MCID from several providers at once (PROTOCOL.md §12.4).
 *
 * One core per fetched MCID X, driven by a `ContentFetchActor`. The core decides; the actor
 * sends the frames, arms the timers, writes verified blocks to the `ContentStore` and reports
 * back with events:
 *
 * 1. `Start` says what the store already holds: everything (done at once), X's manifest and
 *    some chunks (a **resume**: only the missing chunks are fetched), or nothing.
 * 2. Without the manifest, it is asked of up to `manifestParallelism` providers; bytes that do
 *    not open under X (`hooks.openManifest`) cost the provider `badBlockPenalty` and the next
 *    provider is asked (§14 row 27). The actor stores the manifest and answers
 *    `ManifestStored` with the chunks it already had (deduplication across contents).
 * 3. Missing chunks are assigned in order to providers with a free window
 *    (`fetchWindowPerProvider`), fastest measured throughput first. When nothing is left to
 *    assign, the end game duplicates outstanding wants to up to `endgameDuplicates` other
 *    providers, and the losers get `content.cancel` once the block arrives. A want is
 *    duplicated only when that can pay: its provider has no measured throughput yet, it is
 *    overdue (twice its provider's smoothed latency), or its provider is expected to take
 *    more than twice as long as the free one would; otherwise an `Endgame` timer looks again
 *    when it becomes overdue. Equal providers thus finish their own wants instead of each
 *    receiving the last window two or three times.
 * 4. Every block is verified (BLAKE3 and length) **before** `StoreBlock` is emitted. A good
 *    block earns `goodBlockReward`; a bad one costs `badBlockPenalty` and the chunk is asked
 *    elsewhere; a want unanswered within `blockRequestTimeoutMs` costs `timeoutPenalty` and
 *    lowers the provider's throughput estimate; its other wants are released at once (they
 *    were sent with the silent one, so they cost no second wait) and it is kept to one want
 *    (`probation`) until it delivers again. At `providerBlacklistScore` a provider is
 *    dropped and `Blacklist`ed; a provider that says it lacks X (`y: false`, `nf`) is dropped
 *    without penalty. A provider whose session is lost is set aside, not dropped: it is taken
 *    back after `lostProviderRetryMs` (doubled per loss in a row). After
 *    `lostProviderRetries` losses with no verified block in between it is `gone`: no longer
 *    retried on its own, but taken back when `ProvidersFound` names it again. A waiting
 *    candidate takes the free place meanwhile.
 * 5. The fetch completes when the actor has confirmed (`Stored`) every chunk. `storing` counts
 *    the chunks verified and not yet confirmed, so a confirmation that is late, repeated or
 *    about a chunk that was meanwhile marked held cannot skew the store backlog.
 *
 * `Pause` cancels every outstanding want and keeps verified chunks; `Resume` recomputes what is
 * missing; `Cancel` stops for good. A write the store refuses for good (`StoreRefused`: its
 * quota is full of content it may not evict, or the manifest would not store) ends the fetch
 * `Failed` in the same way, with every outstanding want cancelled: asking again for the chunk
 * would only be refused again. With no usable provider in use the core emits
 * `NeedProviders` and waits for `ProvidersFound` or a lost provider's retry (an actor gives up
 * with `Cancel` only when none is `lost` either).
 *
 * A raw MCID (one block) is fetched the same way, as content of one chunk of unknown length.
 *
 * Pure: no I/O, no clock (time comes in events), randomness from the seeded PRNG in the state.
 * Remote nonsense (unknown blocks, late answers, foreign request ids) never throws: it is
 * ignored or penalised.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { Millis } from "../../core/Millis.ts"
import * as Prng from "../../core/Prng.ts"
import * as Step from "../../core/Step.ts"
import type { ContentBlock, ContentCancel, ContentHave, ContentManifestReq, ContentManifestRes, ContentWant } from "../../wire/Frame.ts"
import type { Config, OpenedManifest } from "./Config.ts"
import * as Ids from "./Ids.ts"

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * A provider, as the actor names it (a DID, or a peer key in hex).
 *
 * @since 0.1.0
 * @category models
 */
export type ProviderId = string

/**
 * What the store holds of X when the fetch starts.
 *
 * @since 0.1.0
 * @category models
 */
export type Stored =
  | { readonly _tag: "Nothing" }
  | { readonly _tag: "Manifest"; readonly manifest: OpenedManifest; readonly held: ReadonlyArray<number> }
  | { readonly _tag: "Complete" }

/**
 * The core's timers.
 *
 * @since 0.1.0
 * @category models
 */
export type Timer =
  | { readonly _tag: "Want"; readonly provider: ProviderId; readonly index: number }
  | { readonly _tag: "Manifest"; readonly request: number }
  /** A lost provider is taken back. */
  | { readonly _tag: "Retry"; readonly provider: ProviderId }
  /** An end-game straggler becomes overdue: look again whether to duplicate it. */
  | { readonly _tag: "Endgame" }

/**
 * A timer's key: one armed timer per key.
 *
 * @since 0.1.0
 * @category getters
 */
export const timerKey = (t: Timer): string =>
  t._tag === "Want"
    ? `want:${t.index}:${t.provider}`
    : t._tag === "Manifest"
    ? `manifest:${t.request}`
    : t._tag === "Retry"
    ? `retry:${t.provider}`
    : "endgame"

/**
 * Frames a provider sends to a fetch.
 *
 * @since 0.1.0
 * @category models
 */
export type Inbound = ContentHave | ContentBlock | ContentManifestRes

/**
 * Frames a fetch sends.
 *
 * @since 0.1.0
 * @category models
 */
export type Outbound = ContentWant | ContentCancel | ContentManifestReq

/**
 * Inputs.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  /** Begin: the providers known so far and what the store holds. */
  Start: { readonly now: Millis; readonly providers: ReadonlyArray<ProviderId>; readonly stored: Stored }
  /** More providers (DHT records, hints); known and dropped ones are skipped. */
  ProvidersFound: { readonly now: Millis; readonly providers: ReadonlyArray<ProviderId> }
  /** A frame from a provider's session. */
  FrameReceived: { readonly now: Millis; readonly from: ProviderId; readonly frame: Inbound }
  /** The manifest is stored; `held` lists the chunks the store already had. */
  ManifestStored: { readonly now: Millis; readonly held: ReadonlyArray<number> }
  /** Chunk `index` is on disk. */
  Stored: { readonly now: Millis; readonly index: number }
  /** Writing chunk `index` failed; it is fetched again. */
  StoreFailed: { readonly now: Millis; readonly index: number }
  /**
   * The store refused a write for good: its quota is full of content it may not evict
   * (`quota`), or the manifest could not be written (`manifest`). Asking for the chunk again
   * would be refused again, so the fetch ends `Failed`. `index` is the refused chunk, if any.
   */
  StoreRefused: { readonly now: Millis; readonly reason: StoreRefusal; readonly index?: number; readonly detail?: string }
  /** A timer fired. */
  TimerFired: { readonly now: Millis; readonly timer: Timer; readonly generation: number }
  /** The session to a provider is gone. */
  ProviderLost: { readonly now: Millis; readonly provider: ProviderId }
  /** Stop asking; keep what is verified. */
  Pause: { readonly now: Millis }
  /** Ask again; `held`, when given, is what the store now holds (it may have changed). */
  Resume: { readonly now: Millis; readonly held?: ReadonlyArray<number> }
  /** Stop for good. */
  Cancel: { readonly now: Millis }
}>

/**
 * Constructors of `Event`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Event = Data.taggedEnum<Event>()

/**
 * Why the store refused a write for good (`StoreRefused`).
 *
 * @since 0.1.0
 * @category models
 */
export type StoreRefusal = "quota" | "manifest"

/**
 * Why a provider's score changed.
 *
 * @since 0.1.0
 * @category models
 */
export type ScoreReason = "good_block" | "bad_block" | "bad_manifest" | "timeout"

/**
 * Outputs, to be carried out in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = Data.TaggedEnum<{
  /** Send a frame on the session to a provider. */
  Send: { readonly to: ProviderId; readonly frame: Outbound }
  SetTimer: { readonly timer: Timer; readonly at: Millis; readonly generation: number }
  CancelTimer: { readonly timer: Timer }
  /** Write the (already checked) manifest; answer `ManifestStored`. */
  StoreManifest: { readonly mcid: Ids.McidBytes; readonly bytes: Uint8Array }
  /** Write chunk `index` (already verified); answer `Stored` or `StoreFailed`. */
  StoreBlock: { readonly index: number; readonly mcid: Ids.McidBytes; readonly bytes: Uint8Array }
  /** A provider's score moved (the node's peer scoring may act on it). */
  Score: { readonly provider: ProviderId; readonly delta: number; readonly reason: ScoreReason }
  /** A minor protocol violation by a peer (unsolicited block). */
  Penalise: { readonly provider: ProviderId; readonly reason: string }
  /** Keep this provider out of every fetch until `until`. */
  Blacklist: { readonly provider: ProviderId; readonly until: Millis }
  /** No usable provider is left: find more, or give up with `Cancel`. */
  NeedProviders: {}
  /** Progress for `onProgress`: chunks and bytes on disk. */
  Progress: { readonly storedChunks: number; readonly totalChunks: number; readonly storedBytes: number; readonly totalBytes?: number }
  /** Every chunk is stored. */
  Completed: { readonly mcid: Ids.McidBytes }
  /** The fetch stopped on `Cancel`. */
  Cancelled: {}
  /**
   * The fetch ended without the content (`StoreRefused`): its wants are cancelled in the same
   * step; verified chunks stay on disk. `reason` and `detail` say why, for the report.
   */
  Failed: { readonly reason: StoreRefusal; readonly detail: string }
}>

/**
 * Constructors of `Command`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Command = Data.taggedEnum<Command>()

/**
 * One provider in use.
 *
 * @since 0.1.0
 * @category models
 */
export interface Provider {
  readonly id: ProviderId
  /** Starts at 0; rewards and penalties move it. */
  readonly score: number
  /** Chunk index → when its want was sent. */
  readonly inFlight: ReadonlyMap<number, Millis>
  /** Smoothed throughput in bytes/ms; `undefined` before the first block. */
  readonly rate: number | undefined
  /** Verified blocks received. */
  readonly blocks: number
  /** Random tie-break rank, drawn when it joined. */
  readonly rank: number
  /** A want of it timed out and no block came since: one want at a time. */
  readonly probation: boolean
}

/**
 * Chunk status values.
 *
 * @since 0.1.0
 * @category constants
 */
export const chunkStatus = { missing: 0, verified: 2, stored: 3 } as const

/**
 * Counters of what went wrong, for logs and tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counters {
  readonly badBlocks: number
  readonly badManifests: number
  readonly timeouts: number
  readonly unsolicited: number
  /** Blocks that arrived after the chunk was done or the sender dropped. */
  readonly late: number
  readonly duplicates: number
  readonly dropped: number
  /** Sessions lost (each set the provider aside for a retry, or dropped it). */
  readonly lost: number
}

/**
 * The state of one fetch.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly target: Ids.McidBytes
  readonly phase: "idle" | "manifest" | "storing_manifest" | "blocks" | "paused" | "done" | "cancelled" | "failed"
  /** Content size, once the manifest is known (undefined for a raw target). */
  readonly size: number | undefined
  /** Chunk MCIDs in order (one, the target itself, for a raw target); empty until known. */
  readonly chunks: ReadonlyArray<Ids.McidBytes>
  /** Chunk MCID key → the first index with that MCID (the one fetched and stored). */
  readonly chunkIndex: ReadonlyMap<string, number>
  /**
   * First index → the later indices with the same MCID. Equal chunks are one block: only the
   * first is asked for and stored; the copies wait as `verified` and count as stored with it.
   */
  readonly copies: ReadonlyMap<number, ReadonlyArray<number>>
  /** Per chunk: `chunkStatus`. */
  readonly status: Uint8Array
  /** Lowest index that may be missing and unassigned. */
  readonly hint: number
  /** Chunk → providers asked for it now. */
  readonly outstanding: ReadonlyMap<number, ReadonlyArray<ProviderId>>
  readonly providers: ReadonlyMap<ProviderId, Provider>
  /** Known providers beyond `maxProvidersPerFetch`, waiting for a free place. */
  readonly candidates: ReadonlyArray<ProviderId>
  /** Providers dropped from this fetch (never reused by it). */
  readonly dropped: ReadonlySet<ProviderId>
  /**
   * Providers lost `lostProviderRetries` times in a row: no longer retried on their own, but
   * taken back when `ProvidersFound` names them again (the DHT still says they hold it).
   */
  readonly gone: ReadonlySet<ProviderId>
  /** Providers whose session was lost, → when they are taken back (a `Retry` timer is armed). */
  readonly lost: ReadonlyMap<ProviderId, Millis>
  /** Losses in a row per provider (reset by a verified block from it). */
  readonly losses: ReadonlyMap<ProviderId, number>
  /** Manifest request id → provider. */
  readonly manifestRequests: ReadonlyMap<number, ProviderId>
  readonly triedForManifest: ReadonlySet<ProviderId>
  readonly nextRequestId: number
  readonly timers: ReadonlyMap<string, number>
  readonly nextGeneration: number
  readonly storedChunks: number
  readonly storedBytes: number
  /**
   * Chunks verified and handed to the store (`StoreBlock`) whose write is not confirmed yet:
   * the chunks in status `verified` other than copies. Kept exact at each status change, so
   * late or repeated confirmations do not move it. While it is at `storeBacklog(config)`, no
   * new wants go out: a store slower than the network then slows the fetch instead of piling
   * verified blocks up in memory.
   */
  readonly storing: number
  readonly needProvidersSent: boolean
  readonly pausedFrom: "manifest" | "blocks" | undefined
  readonly prng: Prng.Prng
  readonly counters: Counters
}

const MAX_DROPPED = 1_024

/**
 * A fetch of `target` (34-byte MCID) that has not started. Pure, like OTP's `init`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = (target: Ids.McidBytes, seed: number): State => ({
  target,
  phase: "idle",
  size: undefined,
  chunks: [],
  chunkIndex: new Map(),
  copies: new Map(),
  status: new Uint8Array(0),
  hint: 0,
  outstanding: new Map(),
  providers: new Map(),
  candidates: [],
  dropped: new Set(),
  gone: new Set(),
  lost: new Map(),
  losses: new Map(),
  manifestRequests: new Map(),
  triedForManifest: new Set(),
  nextRequestId: 1,
  timers: new Map(),
  nextGeneration: 1,
  storedChunks: 0,
  storedBytes: 0,
  storing: 0,
  needProvidersSent: false,
  pausedFrom: undefined,
  prng: Prng.fromSeed(seed),
  counters: { badBlocks: 0, badManifests: 0, timeouts: 0, unsolicited: 0, late: 0, duplicates: 0, dropped: 0, lost: 0 }
})

/**
 * Indexes of the chunks not yet stored.
 *
 * @since 0.1.0
 * @category getters
 */
export const missing = (s: State): ReadonlyArray<number> => {
  const out: Array<number> = []
  for (let i = 0; i < s.status.length; i++) if (s.status[i] !== chunkStatus.stored) out.push(i)
  return out
}

// ---------------------------------------------------------------------------------------------
// The step
// ---------------------------------------------------------------------------------------------

/** A working copy of the state for one step: maps copied, the status array copied on write. */
interface Tx {
  s: {
    -readonly [K in keyof State]: State[K]
  }
  providers: Map<ProviderId, Provider>
  outstanding: Map<number, ReadonlyArray<ProviderId>>
  timers: Map<string, number>
  statusCopied: boolean
  out: Array<Command>
  wants: Map<ProviderId, Array<Ids.McidBytes>>
  cancels: Map<ProviderId, Array<Ids.McidBytes>>
}

const begin = (state: State): Tx => ({
  s: { ...state },
  providers: new Map(state.providers),
  outstanding: new Map(state.outstanding),
  timers: new Map(state.timers),
  statusCopied: false,
  out: [],
  wants: new Map(),
  cancels: new Map()
})

const commit = (tx: Tx): readonly [State, ReadonlyArray<Command>] => {
  for (const [to, ms] of tx.cancels) if (ms.length > 0) tx.out.push(Command.Send({ to, frame: { t: "content.cancel", c: ms } }))
  for (const [to, ms] of tx.wants) {
    if (ms.length > 0) tx.out.push(Command.Send({ to, frame: { t: "content.want", w: ms.map((m) => ({ m, k: "block" as const })) } }))
  }
  return [{ ...tx.s, providers: tx.providers, outstanding: tx.outstanding, timers: tx.timers }, tx.out]
}

const setStatus = (tx: Tx, index: number, value: number): void => {
  if (!tx.statusCopied) {
    tx.s.status = tx.s.status.slice()
    tx.statusCopied = true
  }
  tx.s.status[index] = value
}

const push = <K, V>(map: Map<K, Array<V>>, k: K, v: V): void => {
  const xs = map.get(k)
  if (xs === undefined) map.set(k, [v])
  else xs.push(v)
}

const setTimer = (tx: Tx, config: Config, timer: Timer, now: Millis, after: Millis = config.blockRequestTimeoutMs): void => {
  const generation = tx.s.nextGeneration++
  tx.timers.set(timerKey(timer), generation)
  tx.out.push(Command.SetTimer({ timer, at: now + after, generation }))
}

const cancelTimer = (tx: Tx, timer: Timer): void => {
  if (tx.timers.delete(timerKey(timer))) tx.out.push(Command.CancelTimer({ timer }))
}

const updateProvider = (tx: Tx, id: ProviderId, f: (p: Provider) => Provider): Provider | undefined => {
  const p = tx.providers.get(id)
  if (p === undefined) return undefined
  const next = f(p)
  tx.providers.set(id, next)
  return next
}

const withoutInFlight = (p: Provider, index: number): Provider => {
  if (!p.inFlight.has(index)) return p
  const inFlight = new Map(p.inFlight)
  inFlight.delete(index)
  return { ...p, inFlight }
}

/** Removes `provider` from chunk `index`'s outstanding list; the chunk becomes assignable if none is left. */
const unassign = (tx: Tx, index: number, provider: ProviderId): void => {
  const asked = tx.outstanding.get(index)
  if (asked === undefined) return
  const rest = asked.filter((p) => p !== provider)
  if (rest.length > 0) tx.outstanding.set(index, rest)
  else {
    tx.outstanding.delete(index)
    if (tx.s.status[index] === chunkStatus.missing) tx.s.hint = Math.min(tx.s.hint, index)
  }
}

const score = (tx: Tx, config: Config, id: ProviderId, delta: number, reason: ScoreReason, now: Millis): void => {
  const p = updateProvider(tx, id, (p) => ({ ...p, score: p.score + delta }))
  if (p === undefined) return
  tx.out.push(Command.Score({ provider: id, delta, reason }))
  if (p.score <= config.providerBlacklistScore) drop(tx, config, id, now, { blacklist: true, sendCancel: true })
}

/** Takes a provider out of this fetch, re-assigning its chunks and promoting a candidate. */
const drop = (
  tx: Tx,
  config: Config,
  id: ProviderId,
  now: Millis,
  how: { readonly blacklist: boolean; readonly sendCancel: boolean }
): void => {
  if (!release(tx, id, how.sendCancel)) return
  const losses = new Map(tx.s.losses)
  losses.delete(id)
  tx.s.losses = losses
  const dropped = new Set(tx.s.dropped)
  if (dropped.size >= MAX_DROPPED) dropped.delete(dropped.values().next().value!)
  dropped.add(id)
  tx.s.dropped = dropped
  tx.s.counters = { ...tx.s.counters, dropped: tx.s.counters.dropped + 1 }
  if (how.blacklist) tx.out.push(Command.Blacklist({ provider: id, until: now + config.providerBlacklistMs }))
  promote(tx, config)
}

/** Takes `id` out of the providers in use, its wants and manifest requests released; `false` if not in use. */
const release = (tx: Tx, id: ProviderId, sendCancel: boolean): boolean => {
  const p = tx.providers.get(id)
  if (p === undefined) return false
  for (const index of p.inFlight.keys()) {
    cancelTimer(tx, { _tag: "Want", provider: id, index })
    unassign(tx, index, id)
    if (sendCancel) push(tx.cancels, id, tx.s.chunks[index]!)
  }
  tx.wants.delete(id)
  for (const [request, owner] of tx.s.manifestRequests) {
    if (owner === id) {
      const requests = new Map(tx.s.manifestRequests)
      requests.delete(request)
      tx.s.manifestRequests = requests
      cancelTimer(tx, { _tag: "Manifest", request })
    }
  }
  tx.providers.delete(id)
  return true
}

/**
 * The session to `id` is gone: set it aside and take it back after a backoff (the actor opens
 * a new session on its next frame), or mark it `gone` once it was lost too often in a row. A lost
 * connection says nothing about the content, and the provider may be the only one there is.
 */
const lose = (tx: Tx, config: Config, id: ProviderId, now: Millis): void => {
  if (!tx.providers.has(id)) return
  tx.s.counters = { ...tx.s.counters, lost: tx.s.counters.lost + 1 }
  const n = (tx.s.losses.get(id) ?? 0) + 1
  release(tx, id, false)
  if (n > config.lostProviderRetries) {
    const gone = new Set(tx.s.gone)
    if (gone.size >= MAX_DROPPED) gone.delete(gone.values().next().value!)
    tx.s.gone = gone.add(id)
    tx.s.counters = { ...tx.s.counters, dropped: tx.s.counters.dropped + 1 }
    promote(tx, config)
    return
  }
  const losses = new Map(tx.s.losses)
  if (losses.size >= MAX_DROPPED && !losses.has(id)) losses.delete(losses.keys().next().value!)
  tx.s.losses = losses.set(id, n)
  const after = config.lostProviderRetryMs * 2 ** (n - 1)
  tx.s.lost = new Map(tx.s.lost).set(id, now + after)
  setTimer(tx, config, { _tag: "Retry", provider: id }, now, after)
  promote(tx, config)
}

/** A lost provider's backoff is over: it is used again (first among the candidates if full). */
const takeBack = (tx: Tx, config: Config, id: ProviderId): void => {
  if (!tx.s.lost.has(id)) return
  const lost = new Map(tx.s.lost)
  lost.delete(id)
  tx.s.lost = lost
  if (tx.providers.has(id) || tx.s.dropped.has(id)) return
  if (tx.providers.size < config.maxProvidersPerFetch) addProvider(tx, id)
  else tx.s.candidates = [id, ...tx.s.candidates.filter((c) => c !== id)].slice(0, 4 * config.maxProvidersPerFetch)
  tx.s.needProvidersSent = false
}

const addProvider = (tx: Tx, id: ProviderId): void => {
  const [rank, prng] = Prng.nextU32(tx.s.prng)
  tx.s.prng = prng
  tx.providers.set(id, { id, score: 0, inFlight: new Map(), rate: undefined, blocks: 0, rank, probation: false })
}

const promote = (tx: Tx, config: Config): void => {
  const candidates = [...tx.s.candidates]
  while (tx.providers.size < config.maxProvidersPerFetch && candidates.length > 0) {
    const id = candidates.shift()!
    if (!tx.providers.has(id) && !tx.s.dropped.has(id) && !tx.s.lost.has(id) && !tx.s.gone.has(id)) addProvider(tx, id)
  }
  tx.s.candidates = candidates
}

/** Wants a provider may have outstanding: one while on probation. */
const windowOf = (config: Config, p: Provider): number => (p.probation ? 1 : config.fetchWindowPerProvider)

const offer = (tx: Tx, config: Config, ids: ReadonlyArray<ProviderId>): void => {
  const candidates = [...tx.s.candidates]
  for (const id of ids) {
    // A lost provider comes back with its retry, not earlier; a gone one now, named again.
    if (tx.providers.has(id) || tx.s.dropped.has(id) || tx.s.lost.has(id) || candidates.includes(id)) continue
    if (tx.providers.size < config.maxProvidersPerFetch) addProvider(tx, id)
    else if (candidates.length < 4 * config.maxProvidersPerFetch) candidates.push(id)
    else continue
    if (tx.s.gone.has(id)) {
      const gone = new Set(tx.s.gone)
      gone.delete(id)
      tx.s.gone = gone
    }
  }
  tx.s.candidates = candidates
  if (ids.length > 0) tx.s.needProvidersSent = false
}

/** Providers by preference: fastest measured throughput, then score, then random rank. */
const ranked = (tx: Tx): ReadonlyArray<Provider> =>
  [...tx.providers.values()].sort((a, b) =>
    (b.rate ?? Infinity) - (a.rate ?? Infinity) || b.score - a.score || a.rank - b.rank
  )

const needProviders = (tx: Tx): void => {
  if (tx.s.needProvidersSent) return
  tx.s.needProvidersSent = true
  tx.out.push(Command.NeedProviders())
}

const ask = (tx: Tx, config: Config, p: Provider, index: number, now: Millis): Provider => {
  const inFlight = new Map(p.inFlight).set(index, now)
  const next = { ...p, inFlight }
  tx.providers.set(p.id, next)
  tx.outstanding.set(index, [...(tx.outstanding.get(index) ?? []), p.id])
  push(tx.wants, p.id, tx.s.chunks[index]!)
  setTimer(tx, config, { _tag: "Want", provider: p.id, index }, now)
  return next
}

/**
 * Most blocks waiting for the store at once: as many as all windows together can hold
 * (`fetchWindowPerProvider` × `maxProvidersPerFetch`), so wants in flight plus blocks being
 * written stay within twice the windows, whatever the speed of the store.
 *
 * @since 0.1.0
 * @category getters
 */
export const storeBacklog = (config: Config): number => Math.max(1, config.fetchWindowPerProvider * config.maxProvidersPerFetch)

/** Assigns missing chunks to free windows, then duplicates stragglers in the end game. */
const pump = (tx: Tx, config: Config, now: Millis): void => {
  if (tx.s.phase !== "blocks") return
  const n = tx.s.chunks.length
  let order = tx.s.storing >= storeBacklog(config) ? [] : ranked(tx).filter((p) => p.inFlight.size < windowOf(config, p))
  let i = tx.s.hint
  for (; i < n && order.length > 0; i++) {
    if (tx.s.status[i] !== chunkStatus.missing || tx.outstanding.has(i)) continue
    const p = ask(tx, config, order[0]!, i, now)
    if (p.inFlight.size >= windowOf(config, p)) order = order.slice(1)
    else order = [p, ...order.slice(1)]
  }
  // Skip past what is no longer assignable so the next pump starts there.
  while (i < n && (tx.s.status[i] !== chunkStatus.missing || tx.outstanding.has(i))) i++
  tx.s.hint = i
  if (i >= n && order.length > 0 && config.endgameDuplicates > 0) {
    const stragglers = [...tx.outstanding.keys()].sort((a, b) => a - b)
    let recheckAt = Infinity
    for (const index of stragglers) {
      const asked = tx.outstanding.get(index)!
      if (asked.length >= 1 + config.endgameDuplicates) continue
      for (const p of ranked(tx)) {
        if ((tx.outstanding.get(index)?.length ?? 0) >= 1 + config.endgameDuplicates) break
        if (p.inFlight.size >= windowOf(config, p) || p.inFlight.has(index)) continue
        const due = duplicateDue(tx, index, p, now)
        if (due > now) {
          recheckAt = Math.min(recheckAt, due)
          continue
        }
        ask(tx, config, p, index, now)
        tx.s.counters = { ...tx.s.counters, duplicates: tx.s.counters.duplicates + 1 }
      }
    }
    if (recheckAt < Infinity && !tx.timers.has(timerKey({ _tag: "Endgame" }))) {
      setTimer(tx, config, { _tag: "Endgame" }, now, recheckAt - now)
    }
  }
  const work = tx.s.storedChunks < n && missingUnverified(tx) > 0
  if (work && tx.providers.size === 0) needProviders(tx)
}

/**
 * When chunk `index` should be duplicated to the free provider `p` (at or before `now`: at
 * once). Latencies come from the smoothed rates, which are bytes per ms of one want's round
 * trip: a provider without one is duplicated at once; otherwise a want is duplicated when its
 * holder is expected to take more than twice what `p` would, or once it is overdue (twice its
 * holder's expected latency).
 */
const duplicateDue = (tx: Tx, index: number, p: Provider, now: Millis): Millis => {
  const bytes = chunkLength(tx.s, index) ?? 262_144
  if (p.rate === undefined || p.rate <= 0) return now
  let due = Infinity
  for (const id of tx.outstanding.get(index) ?? []) {
    const holder = tx.providers.get(id)
    const sentAt = holder?.inFlight.get(index)
    if (holder === undefined || sentAt === undefined || holder.rate === undefined || holder.rate <= 0) return now
    const latency = bytes / holder.rate
    if (sentAt + latency - now > 2 * (bytes / p.rate)) return now
    due = Math.min(due, sentAt + 2 * latency)
  }
  return due === Infinity ? now : Math.ceil(due)
}

const missingUnverified = (tx: Tx): number => {
  let count = 0
  for (let i = 0; i < tx.s.status.length; i++) if (tx.s.status[i] === chunkStatus.missing) count++
  return count
}

const startManifest = (tx: Tx, config: Config, now: Millis): void => {
  if (tx.s.phase !== "manifest") return
  let tried = tx.s.triedForManifest
  const untried = () => ranked(tx).filter((p) => !tried.has(p.id))
  if (tx.s.manifestRequests.size === 0 && untried().length === 0 && tx.providers.size > 0) tried = new Set()
  const requests = new Map(tx.s.manifestRequests)
  for (const p of untried()) {
    if (requests.size >= config.manifestParallelism) break
    const request = tx.s.nextRequestId++
    requests.set(request, p.id)
    tried = new Set(tried).add(p.id)
    tx.out.push(Command.Send({ to: p.id, frame: { t: "content.manifest_req", id: request, m: tx.s.target } }))
    setTimer(tx, config, { _tag: "Manifest", request }, now)
  }
  tx.s.manifestRequests = requests
  tx.s.triedForManifest = tried
  if (requests.size === 0) needProviders(tx)
}

/** Chunk MCIDs and status from a checked manifest (or the raw target), `held` marked stored. */
const layOut = (tx: Tx, chunks: ReadonlyArray<Ids.McidBytes>, size: number | undefined, held: ReadonlyArray<number>): void => {
  tx.s.chunks = chunks
  tx.s.size = size
  const chunkIndex = new Map<string, number>()
  const copies = new Map<number, Array<number>>()
  tx.s.status = new Uint8Array(chunks.length)
  tx.statusCopied = true
  chunks.forEach((m, i) => {
    const key = Ids.key(m)
    const first = chunkIndex.get(key)
    if (first === undefined) chunkIndex.set(key, i)
    else {
      push(copies, first, i)
      tx.s.status[i] = chunkStatus.verified // never asked for: it arrives with its first copy
    }
  })
  tx.s.chunkIndex = chunkIndex
  tx.s.copies = copies
  tx.s.storedChunks = 0
  tx.s.storedBytes = 0
  markHeld(tx, held)
}

/** Marks chunk `index` stored, and the later chunks equal to it. */
const markStored = (tx: Tx, index: number): void => {
  // Its write was awaited (copies never had one of their own).
  if (tx.s.status[index] === chunkStatus.verified) tx.s.storing = Math.max(0, tx.s.storing - 1)
  for (const i of [index, ...(tx.s.copies.get(index) ?? [])]) {
    if (tx.s.status[i] === chunkStatus.stored) continue
    setStatus(tx, i, chunkStatus.stored)
    tx.s.storedChunks++
    tx.s.storedBytes += chunkLength(tx.s, i) ?? 0
  }
}

const chunkLength = (s: State, index: number): number | undefined =>
  s.size === undefined ? undefined : Math.min(s.size, (index + 1) * CHUNK) - index * CHUNK

const CHUNK = 262_144

const markHeld = (tx: Tx, held: ReadonlyArray<number>): void => {
  for (const index of held) {
    if (!Number.isInteger(index) || index < 0 || index >= tx.s.chunks.length) continue
    // A held copy means its block is held: count it under its first index.
    markStored(tx, tx.s.chunkIndex.get(Ids.key(tx.s.chunks[index]!)) ?? index)
  }
  tx.s.hint = 0
}

const completeIfDone = (tx: Tx): void => {
  if (tx.s.chunks.length > 0 && tx.s.storedChunks === tx.s.chunks.length && tx.s.phase === "blocks") {
    tx.s.phase = "done"
    tx.out.push(Command.Completed({ mcid: tx.s.target }))
  }
}

const progress = (tx: Tx): void => {
  tx.out.push(Command.Progress({
    storedChunks: tx.s.storedChunks,
    totalChunks: tx.s.chunks.length,
    storedBytes: tx.s.storedBytes,
    ...(tx.s.size === undefined ? {} : { totalBytes: tx.s.size })
  }))
}

/**
 * Stops for good (cancel, a refused write): every want and manifest request is cancelled
 * (the providers see `content.cancel`), lost providers are no longer retried and the end-game
 * timer is disarmed, so nothing of this fetch fires again.
 */
const halt = (tx: Tx): void => {
  stopAsking(tx)
  for (const provider of tx.s.lost.keys()) cancelTimer(tx, { _tag: "Retry", provider })
  tx.s.lost = new Map()
  cancelTimer(tx, { _tag: "Endgame" })
}

/**
 * Whether the fetch has ended (`done`, `cancelled` or `failed`): every later event is ignored.
 *
 * @since 0.1.0
 * @category getters
 */
export const isOver = (s: State): boolean => s.phase === "done" || s.phase === "cancelled" || s.phase === "failed"

/** Cancels every outstanding want and manifest request (pause and cancel). */
const stopAsking = (tx: Tx): void => {
  for (const [id, p] of tx.providers) {
    for (const index of p.inFlight.keys()) {
      cancelTimer(tx, { _tag: "Want", provider: id, index })
      push(tx.cancels, id, tx.s.chunks[index]!)
    }
    if (p.inFlight.size > 0) tx.providers.set(id, { ...p, inFlight: new Map() })
  }
  tx.outstanding.clear()
  for (const request of tx.s.manifestRequests.keys()) cancelTimer(tx, { _tag: "Manifest", request })
  tx.s.manifestRequests = new Map()
  tx.s.hint = 0
}

const onBlock = (tx: Tx, config: Config, from: ProviderId, frame: ContentBlock, now: Millis): void => {
  const index = tx.s.chunkIndex.get(Ids.key(frame.m))
  const p = tx.providers.get(from)
  if (index === undefined || (p === undefined && !tx.s.dropped.has(from) && !tx.s.lost.has(from) && !tx.s.gone.has(from))) {
    // Not a chunk of this content, or from a node never asked: unsolicited (§14 row 26).
    tx.s.counters = { ...tx.s.counters, unsolicited: tx.s.counters.unsolicited + 1 }
    tx.out.push(Command.Penalise({ provider: from, reason: "unsolicited content.block" }))
    return
  }
  if (p === undefined || tx.s.status[index] !== chunkStatus.missing) {
    // A block that crossed our cancel (an end-game loser, a provider dropped meanwhile, a
    // chunk already verified): normal on a real network, so neither used nor penalised.
    tx.s.counters = { ...tx.s.counters, late: tx.s.counters.late + 1 }
    return
  }
  const wasAsked = p.inFlight.has(index)
  const expectedLength = chunkLength(tx.s, index)
  const good = (expectedLength === undefined || frame.d.length === expectedLength) &&
    Ids.sameBytes(config.blake3(frame.d), Ids.digestOf(tx.s.chunks[index]!))
  if (!good) {
    tx.s.counters = { ...tx.s.counters, badBlocks: tx.s.counters.badBlocks + 1 }
    if (wasAsked) {
      cancelTimer(tx, { _tag: "Want", provider: from, index })
      updateProvider(tx, from, (q) => withoutInFlight(q, index))
      unassign(tx, index, from)
    }
    score(tx, config, from, -config.badBlockPenalty, "bad_block", now)
    return
  }
  const sentAt = p.inFlight.get(index)
  // Every provider asked for this chunk is released; the others were losers of the end game.
  for (const asked of tx.outstanding.get(index) ?? []) {
    cancelTimer(tx, { _tag: "Want", provider: asked, index })
    updateProvider(tx, asked, (q) => withoutInFlight(q, index))
    if (asked !== from) push(tx.cancels, asked, tx.s.chunks[index]!)
  }
  tx.outstanding.delete(index)
  setStatus(tx, index, chunkStatus.verified)
  updateProvider(tx, from, (q) => {
    const sample = sentAt === undefined ? undefined : frame.d.length / Math.max(1, now - sentAt)
    const rate = sample === undefined
      ? q.rate
      : q.rate === undefined
      ? sample
      : q.rate + config.throughputSmoothing * (sample - q.rate)
    return { ...q, rate, blocks: q.blocks + 1, probation: false }
  })
  if (tx.s.losses.has(from)) {
    const losses = new Map(tx.s.losses)
    losses.delete(from)
    tx.s.losses = losses
  }
  tx.out.push(Command.StoreBlock({ index, mcid: tx.s.chunks[index]!, bytes: frame.d }))
  tx.s.storing++
  if (config.goodBlockReward !== 0) score(tx, config, from, config.goodBlockReward, "good_block", now)
}

const onManifest = (tx: Tx, config: Config, from: ProviderId, frame: ContentManifestRes, now: Millis): void => {
  if (tx.s.manifestRequests.get(frame.id) !== from || !Ids.sameBytes(frame.m, tx.s.target)) return
  const requests = new Map(tx.s.manifestRequests)
  requests.delete(frame.id)
  tx.s.manifestRequests = requests
  cancelTimer(tx, { _tag: "Manifest", request: frame.id })
  if (tx.s.phase !== "manifest") return
  if (frame.man === undefined) {
    // Not found there (or an answer with neither): that provider cannot serve this fetch.
    drop(tx, config, from, now, { blacklist: false, sendCancel: false })
    startManifest(tx, config, now)
    return
  }
  const opened = config.openManifest(tx.s.target, frame.man, config.maxManifestChunks)
  if (opened === undefined) {
    tx.s.counters = { ...tx.s.counters, badManifests: tx.s.counters.badManifests + 1 }
    score(tx, config, from, -config.badBlockPenalty, "bad_manifest", now)
    drop(tx, config, from, now, { blacklist: false, sendCancel: false })
    startManifest(tx, config, now)
    return
  }
  for (const request of tx.s.manifestRequests.keys()) cancelTimer(tx, { _tag: "Manifest", request })
  tx.s.manifestRequests = new Map()
  layOut(tx, opened.hashes.map(Ids.rawMcid), opened.size, [])
  tx.s.phase = "storing_manifest"
  tx.out.push(Command.StoreManifest({ mcid: tx.s.target, bytes: frame.man }))
}

const onHave = (tx: Tx, config: Config, from: ProviderId, frame: ContentHave, now: Millis): void => {
  const p = tx.providers.get(from)
  if (p === undefined) return
  for (const entry of frame.h) {
    if (entry.y) continue
    const index = tx.s.chunkIndex.get(Ids.key(entry.m))
    const aboutTarget = Ids.sameBytes(entry.m, tx.s.target)
    if (aboutTarget || (index !== undefined && p.inFlight.has(index))) {
      drop(tx, config, from, now, { blacklist: false, sendCancel: true })
      startManifest(tx, config, now)
      return
    }
  }
}

const onTimer = (tx: Tx, config: Config, timer: Timer, now: Millis): void => {
  tx.timers.delete(timerKey(timer))
  if (timer._tag === "Manifest") {
    const owner = tx.s.manifestRequests.get(timer.request)
    if (owner === undefined) return
    const requests = new Map(tx.s.manifestRequests)
    requests.delete(timer.request)
    tx.s.manifestRequests = requests
    tx.s.counters = { ...tx.s.counters, timeouts: tx.s.counters.timeouts + 1 }
    score(tx, config, owner, -config.timeoutPenalty, "timeout", now)
    startManifest(tx, config, now)
    return
  }
  if (timer._tag === "Retry") {
    takeBack(tx, config, timer.provider)
    return
  }
  // The pump that follows every timer looks at the stragglers again.
  if (timer._tag === "Endgame") return
  const { provider, index } = timer
  const p = tx.providers.get(provider)
  if (p === undefined || !p.inFlight.has(index)) return
  tx.s.counters = { ...tx.s.counters, timeouts: tx.s.counters.timeouts + 1 }
  // Its other wants went out with this one or after it: rather than wait for each to time out
  // too, they are cancelled and given to others now, and it gets one want at a time until it
  // delivers (a provider that went silent, or a relayed one whose route went nowhere).
  for (const other of p.inFlight.keys()) {
    if (other === index) continue
    cancelTimer(tx, { _tag: "Want", provider, index: other })
    unassign(tx, other, provider)
    push(tx.cancels, provider, tx.s.chunks[other]!)
  }
  // A timeout counts as a sample of zero throughput, so slow providers sink in the ranking.
  updateProvider(tx, provider, (q) => ({
    ...q,
    inFlight: new Map(),
    rate: (q.rate ?? 0) * (1 - config.throughputSmoothing),
    probation: true
  }))
  unassign(tx, index, provider)
  score(tx, config, provider, -config.timeoutPenalty, "timeout", now)
}

/**
 * The fetch step for `config`.
 *
 * @since 0.1.0
 * @category step
 */
export const make = (config: Config): Step.Step<State, Event, Command> => (state, event) => {
  if (isOver(state)) return Step.unchanged(state)
  const tx = begin(state)
  const now = event.now
  switch (event._tag) {
    case "Start": {
      if (state.phase !== "idle") return Step.unchanged(state)
      offer(tx, config, event.providers)
      const stored = event.stored
      if (stored._tag === "Complete") {
        tx.s.phase = "done"
        tx.out.push(Command.Completed({ mcid: state.target }))
      } else if (state.target[1] === Ids.codecRaw) {
        layOut(tx, [state.target], undefined, [])
        tx.s.phase = "blocks"
        pump(tx, config, now)
      } else if (stored._tag === "Manifest") {
        layOut(tx, stored.manifest.hashes.map(Ids.rawMcid), stored.manifest.size, stored.held)
        tx.s.phase = "blocks"
        progress(tx)
        completeIfDone(tx)
        pump(tx, config, now)
      } else {
        tx.s.phase = "manifest"
        startManifest(tx, config, now)
      }
      break
    }
    case "ProvidersFound":
      offer(tx, config, event.providers)
      startManifest(tx, config, now)
      pump(tx, config, now)
      break
    case "FrameReceived": {
      const f = event.frame
      if (f.t === "content.block") onBlock(tx, config, event.from, f, now)
      else if (f.t === "content.manifest_res") onManifest(tx, config, event.from, f, now)
      else onHave(tx, config, event.from, f, now)
      pump(tx, config, now)
      break
    }
    case "ManifestStored":
      if (state.phase !== "storing_manifest") return Step.unchanged(state)
      markHeld(tx, event.held)
      tx.s.phase = "blocks"
      progress(tx)
      completeIfDone(tx)
      pump(tx, config, now)
      break
    case "Stored": {
      // Only a chunk still awaiting its write counts: a late or repeated confirmation, or one
      // for a chunk marked held meanwhile, changes nothing (so `storing` stays exact).
      const i = event.index
      if (tx.s.status[i] !== chunkStatus.verified || tx.s.chunkIndex.get(Ids.key(tx.s.chunks[i]!)) !== i) return Step.unchanged(state)
      const backlogged = tx.s.storing >= storeBacklog(config)
      markStored(tx, i)
      progress(tx)
      completeIfDone(tx)
      // A store that had stopped the wants has room again.
      if (backlogged) pump(tx, config, now)
      break
    }
    case "StoreFailed": {
      const i = event.index
      if (tx.s.status[i] !== chunkStatus.verified || tx.s.chunkIndex.get(Ids.key(tx.s.chunks[i]!)) !== i) return Step.unchanged(state)
      tx.s.storing = Math.max(0, tx.s.storing - 1)
      setStatus(tx, event.index, chunkStatus.missing)
      tx.s.hint = Math.min(tx.s.hint, event.index)
      pump(tx, config, now)
      break
    }
    case "TimerFired":
      if (state.timers.get(timerKey(event.timer)) !== event.generation) return Step.unchanged(state)
      onTimer(tx, config, event.timer, now)
      startManifest(tx, config, now)
      pump(tx, config, now)
      break
    case "ProviderLost":
      lose(tx, config, event.provider, now)
      startManifest(tx, config, now)
      pump(tx, config, now)
      break
    case "Pause":
      if (state.phase !== "manifest" && state.phase !== "blocks") return Step.unchanged(state)
      stopAsking(tx)
      tx.s.pausedFrom = state.phase
      tx.s.phase = "paused"
      break
    case "Resume":
      if (state.phase !== "paused") return Step.unchanged(state)
      tx.s.phase = state.pausedFrom ?? "manifest"
      tx.s.pausedFrom = undefined
      tx.s.needProvidersSent = false
      if (event.held !== undefined && tx.s.chunks.length > 0) markHeld(tx, event.held)
      completeIfDone(tx)
      startManifest(tx, config, now)
      pump(tx, config, now)
      break
    case "Cancel":
      halt(tx)
      tx.s.phase = "cancelled"
      tx.out.push(Command.Cancelled())
      break
    case "StoreRefused": {
      // A refusal of a write the core no longer awaits (a chunk since stored or re-assigned)
      // is still final: the store will refuse the next write as well, whichever chunk it is.
      halt(tx)
      const i = event.index
      // The refused chunk is no longer awaited (a copy, which has no write of its own, aside).
      if (i !== undefined && tx.s.status[i] === chunkStatus.verified && tx.s.chunkIndex.get(Ids.key(tx.s.chunks[i]!)) === i) {
        tx.s.storing = Math.max(0, tx.s.storing - 1)
        setStatus(tx, i, chunkStatus.missing)
      }
      tx.s.phase = "failed"
      const what = event.index === undefined ? "the manifest" : `chunk ${event.index}`
      const detail = event.detail ?? (event.reason === "quota" ? `${what}: the store's quota is full` : `${what}: not stored`)
      tx.out.push(Command.Failed({ reason: event.reason, detail }))
      break
    }
  }
  return commit(tx)
}

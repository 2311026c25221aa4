/**
 * The node-wide book of connections by peer DID, as a pure value: admission of inbound
 * connections (§3.4, §14 #14), the duplicate rule, bans and scores carried across connections
 * (§3.7), and dials in flight.
 *
 * Rules:
 * - **Admission** (stations): an inbound connection is refused `banned` while its DID is
 *   banned, and `too_many_connections` beyond `maxConnections` (all connections),
 *   `maxConnectionsPerIp` (inbound, per remote IP) or `maxHandshakesInFlight` (inbound, not yet
 *   ready).
 * - **Bans at ready**: a connection whose peer is banned by the time it becomes ready (our own
 *   dial to a peer we learn the DID of only from its certificate, or a ban that arrived during
 *   the handshake) is closed `banned`, never kept.
 * - **Duplicates**: when a connection becomes ready while another ready one has the same peer,
 *   one must go. Between two stations whose connections were dialled from opposite sides, the
 *   one dialled by the smaller node id is kept (both sides compute the same verdict); in every
 *   other case (a client at either end, or both dialled from the same side) the newer wins. The
 *   loser is closed `replaced`.
 * - **Dials**: at most one dial per key (a DID or an address) at a time.
 *
 * Node ids are compared outside (hashing needs `node:crypto`): callers pass `localIdSmaller`.
 *
 * Bounded: `maxConnections` entries; scores of at most `maxRememberedPeers` DIDs (oldest
 * change forgotten first); bans likewise.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import type { Role } from "../../wire/Frame.ts"
import type { CloseName } from "./Codes.ts"
import * as Score from "./Score.ts"

/**
 * Admission limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** Most connections at once, inbound and outbound. @default 4_096 */
  readonly maxConnections: number
  /** Most inbound connections from one IP address. @default 32 */
  readonly maxConnectionsPerIp: number
  /** Most inbound connections still in their handshake. @default 256 */
  readonly maxHandshakesInFlight: number
  /** Most DIDs whose score or ban is remembered. @default 65_536 */
  readonly maxRememberedPeers: number
}

/**
 * The §16 defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLimits: Limits = {
  maxConnections: 4_096,
  maxConnectionsPerIp: 32,
  maxHandshakesInFlight: 256,
  maxRememberedPeers: 65_536
}

/**
 * One connection in the book.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly id: string
  readonly did: string
  readonly direction: "inbound" | "outbound"
  /** Remote IP of an inbound connection. */
  readonly ip: string | undefined
  readonly ready: boolean
  /** When it was admitted or added. */
  readonly since: Millis
}

/**
 * The book.
 *
 * @since 0.1.0
 * @category models
 */
export interface Peers {
  readonly entries: ReadonlyMap<string, Entry>
  /** Banned DIDs and until when (monotonic ms). */
  readonly bans: ReadonlyMap<string, Millis>
  /** The last known score of each remembered DID. */
  readonly scores: ReadonlyMap<string, Score.Score>
  /** Dials in flight, by key. */
  readonly dials: ReadonlySet<string>
}

/**
 * An empty book.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: Peers = { entries: new Map(), bans: new Map(), scores: new Map(), dials: new Set() }

/**
 * Whether `did` is banned at `now`.
 *
 * @since 0.1.0
 * @category getters
 */
export const isBanned = (p: Peers, did: string, now: Millis): boolean => {
  const until = p.bans.get(did)
  return until !== undefined && until > now
}

/**
 * Connection counts.
 *
 * @since 0.1.0
 * @category getters
 */
export const counts = (p: Peers): { readonly total: number; readonly ready: number; readonly handshaking: number } => {
  let ready = 0
  let handshaking = 0
  for (const e of p.entries.values()) {
    if (e.ready) ready++
    else if (e.direction === "inbound") handshaking++
  }
  return { total: p.entries.size, ready, handshaking }
}

/**
 * The ready connection to `did` (the newest if, briefly, there are two).
 *
 * @since 0.1.0
 * @category getters
 */
export const readyFor = (p: Peers, did: string): Entry | undefined => {
  let found: Entry | undefined
  for (const e of p.entries.values()) if (e.did === did && e.ready && (found === undefined || e.since >= found.since)) found = e
  return found
}

const withEntry = (p: Peers, entry: Entry): Peers => {
  const entries = new Map(p.entries)
  entries.set(entry.id, entry)
  return { ...p, entries }
}

/**
 * Admits (or refuses) an inbound connection from `did` at `ip`.
 *
 * @since 0.1.0
 * @category admission
 */
export const admit = (
  p: Peers,
  candidate: { readonly id: string; readonly did: string; readonly ip: string | undefined; readonly now: Millis },
  limits: Limits
): readonly [Peers, { readonly ok: true } | { readonly ok: false; readonly code: CloseName; readonly reason: string }] => {
  if (isBanned(p, candidate.did, candidate.now)) return [p, { ok: false, code: "banned", reason: "peer is banned" }]
  if (p.entries.size >= limits.maxConnections) {
    return [p, { ok: false, code: "too_many_connections", reason: `${limits.maxConnections} connections` }]
  }
  let perIp = 0
  let handshaking = 0
  for (const e of p.entries.values()) {
    if (e.direction !== "inbound") continue
    if (candidate.ip !== undefined && e.ip === candidate.ip) perIp++
    if (!e.ready) handshaking++
  }
  if (perIp >= limits.maxConnectionsPerIp) {
    return [p, { ok: false, code: "too_many_connections", reason: `${limits.maxConnectionsPerIp} connections from ${candidate.ip}` }]
  }
  if (handshaking >= limits.maxHandshakesInFlight) {
    return [p, { ok: false, code: "too_many_connections", reason: `${limits.maxHandshakesInFlight} handshakes in flight` }]
  }
  const entry: Entry = { id: candidate.id, did: candidate.did, direction: "inbound", ip: candidate.ip, ready: false, since: candidate.now }
  return [withEntry(p, entry), { ok: true }]
}

/**
 * Records an outbound connection (our own dials are not capped here; `Dialer` keeps them unique).
 *
 * @since 0.1.0
 * @category admission
 */
export const addOutbound = (p: Peers, c: { readonly id: string; readonly did: string; readonly now: Millis }): Peers =>
  withEntry(p, { id: c.id, did: c.did, direction: "outbound", ip: undefined, ready: false, since: c.now })

/**
 * The verdict on a connection that just became ready: keep it (closing `replace` as
 * `replaced`), close it `replaced` because an existing one wins, or close it `banned`
 * (`banned: true`, `keep: false`) because its peer is banned.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadyVerdict {
  readonly keep: boolean
  readonly replace: ReadonlyArray<string>
  /** Present (and `true`) only when the peer is banned. */
  readonly banned?: true
}

/**
 * Whether the connection `direction` was dialled by the smaller node id.
 *
 * @since 0.1.0
 * @category duplicates
 */
export const dialedBySmaller = (direction: "inbound" | "outbound", localIdSmaller: boolean): boolean =>
  (direction === "outbound") === localIdSmaller

/**
 * Which of two ready connections to the same peer survives (§3.4): `"new"` or `"old"`.
 *
 * @since 0.1.0
 * @category duplicates
 */
export const survivor = (input: {
  readonly localRole: Role
  readonly peerRole: Role
  readonly localIdSmaller: boolean
  readonly old: "inbound" | "outbound"
  readonly new: "inbound" | "outbound"
}): "new" | "old" => {
  if (input.localRole === "station" && input.peerRole === "station" && input.old !== input.new) {
    return dialedBySmaller(input.new, input.localIdSmaller) ? "new" : "old"
  }
  return "new"
}

/**
 * Marks connection `id` ready and applies the duplicate rule against the other ready
 * connections to the same DID; a banned peer's connection is refused instead (and not marked
 * ready, so it never shadows a lookup).
 *
 * @since 0.1.0
 * @category duplicates
 */
export const ready = (
  p: Peers,
  c: {
    readonly id: string
    readonly did: string
    readonly direction: "inbound" | "outbound"
    readonly now: Millis
    readonly localRole: Role
    readonly peerRole: Role
    readonly localIdSmaller: boolean
  }
): readonly [Peers, ReadyVerdict] => {
  const current = p.entries.get(c.id) ?? { id: c.id, did: c.did, direction: c.direction, ip: undefined, ready: false, since: c.now }
  if (isBanned(p, c.did, c.now)) return [withEntry(p, current), { keep: false, replace: [], banned: true }]
  const replace: Array<string> = []
  for (const other of p.entries.values()) {
    if (other.id === c.id || other.did !== c.did || !other.ready) continue
    const wins = survivor({
      localRole: c.localRole,
      peerRole: c.peerRole,
      localIdSmaller: c.localIdSmaller,
      old: other.direction,
      new: c.direction
    })
    if (wins === "old") return [withEntry(p, current), { keep: false, replace: [] }]
    replace.push(other.id)
  }
  return [withEntry(p, { ...current, ready: true }), { keep: true, replace }]
}

/**
 * Forgets connection `id`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const remove = (p: Peers, id: string): Peers => {
  if (!p.entries.has(id)) return p
  const entries = new Map(p.entries)
  entries.delete(id)
  return { ...p, entries }
}

const bounded = <V>(map: ReadonlyMap<string, V>, key: string, value: V, max: number): ReadonlyMap<string, V> => {
  const next = new Map(map)
  next.delete(key) // re-inserted last: the map's order is the order of the latest changes
  next.set(key, value)
  while (next.size > max) next.delete(next.keys().next().value!)
  return next
}

/**
 * Bans `did` until `untilMs`.
 *
 * @since 0.1.0
 * @category scores
 */
export const ban = (p: Peers, did: string, untilMs: Millis, limits: Limits): Peers => ({
  ...p,
  bans: bounded(p.bans, did, Math.max(untilMs, p.bans.get(did) ?? 0), limits.maxRememberedPeers)
})

/**
 * The bans in force at `now`, oldest change first (what a node persists, §15.2).
 *
 * @since 0.1.0
 * @category scores
 */
export const activeBans = (p: Peers, now: Millis): ReadonlyArray<{ readonly did: string; readonly until: Millis }> => {
  const out: Array<{ readonly did: string; readonly until: Millis }> = []
  for (const [did, until] of p.bans) if (until > now) out.push({ did, until })
  return out
}

/**
 * Remembers the latest score of `did`.
 *
 * @since 0.1.0
 * @category scores
 */
export const setScore = (p: Peers, did: string, score: Score.Score, limits: Limits): Peers => ({
  ...p,
  scores: bounded(p.scores, did, score, limits.maxRememberedPeers)
})

/**
 * The score of `did` at `now` (0 for a peer never penalised).
 *
 * @since 0.1.0
 * @category scores
 */
export const scoreOf = (p: Peers, did: string, now: Millis, config: Score.ScoreConfig): number => {
  const score = p.scores.get(did)
  return score === undefined ? 0 : Score.valueAt(score, now, config)
}

/**
 * Starts a dial under `key` unless one is in flight: `true` if this caller leads the dial.
 *
 * @since 0.1.0
 * @category dials
 */
export const beginDial = (p: Peers, key: string): readonly [Peers, boolean] => {
  if (p.dials.has(key)) return [p, false]
  const dials = new Set(p.dials)
  dials.add(key)
  return [{ ...p, dials }, true]
}

/**
 * Ends the dial under `key`.
 *
 * @since 0.1.0
 * @category dials
 */
export const endDial = (p: Peers, key: string): Peers => {
  if (!p.dials.has(key)) return p
  const dials = new Set(p.dials)
  dials.delete(key)
  return { ...p, dials }
}

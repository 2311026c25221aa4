/**
 * The station side of pub/sub (PROTOCOL.md §8.2–§8.6) as a sans-IO core:
 * `makeRouterStep(config)` gives `step(state, event) -> [state, commands]`.
 *
 * What it does: registers subscriptions by exact topic or wildcard pattern in one
 * `PatternTrie` per realm; validates every `sub` and `pub` (topic grammar, realm, publisher
 * key, size, age, rate, the actor's authorisation verdict); dedups by (`pk`, `sess`, `seq`);
 * delivers one `event` per client listing every matching `amo` subscription and one per
 * `alo` subscription with its cursor; keeps each `alo` subscription's bounded replay buffer,
 * pauses it at `aloMaxInFlight` unacknowledged deliveries and announces every loss with a
 * `gap`; exchanges interest with peer stations (full sync on link-up, batched adds, delayed
 * deletes) and forwards a client's event with one `fwd` to each peer whose interest matches,
 * never forwarding a `fwd` again; bounds each client's outgoing frames by a send window plus
 * a drop-oldest queue for `amo`.
 *
 * Key invariants: every table is capped by a knob (see `Config`); a frame that fails a check
 * changes nothing but a counter and gets an `err` when the protocol says so; remote input
 * never throws.
 *
 * State ownership (a deliberate departure from the copy-on-write states of the other cores):
 * the state holds mutable tables (tries, maps, replay buffers) and `step` updates them in
 * place, returning the same object. A station's interest table reaches 10^5 entries per peer;
 * copying it on each event would cost more than routing. The actor owns the only reference;
 * tests and simulations that want two futures build two states from `initial`.
 *
 * It does not verify signatures, decode frames, check UCANs, read clocks or hold connections.
 *
 * @since 0.1.0
 */
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import * as Step from "../../core/Step.ts"
import { PatternTrie } from "../../topic/PatternTrie.ts"
import * as Topic from "../../topic/Topic.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { EnvelopeBody } from "../../wire/SignedBody.ts"
import type { Config } from "./Config.ts"
import * as Keys from "./Keys.ts"
import { RouterCommand as Cmd } from "./RouterCommand.ts"
import type { RouterCommand } from "./RouterCommand.ts"
import type { PeerId, RouterEvent, Verdict } from "./RouterEvent.ts"

/** The zero realm (system topics), as hex. */
const ZERO_REALM = "0".repeat(64)

// ---------------------------------------------------------------------------------------------
// State

/**
 * One replay-buffer entry of an `alo` subscription.
 *
 * @since 0.1.0
 * @category models
 */
export interface Buffered {
  readonly cur: number
  readonly b: Uint8Array
  readonly s: Uint8Array
  readonly at: Millis
}

/**
 * The at-least-once part of a subscription (§8.5). Cursors in (`acked`, `last`] are either
 * in `buffer` (ascending, contiguous up to `last`) or were evicted, and evicted cursors are
 * exactly those in (`acked`, first buffered − 1]: eviction only ever takes the head.
 *
 * @since 0.1.0
 * @category models
 */
export interface Alo {
  /** Highest cursor assigned. */
  last: number
  /** Highest cursor the client acknowledged. */
  acked: number
  /** Highest cursor sent (event or gap) since the last (re)attachment. */
  sent: number
  /** Unacknowledged events, ascending by cursor; `head` is the first live index. */
  buffer: Array<Buffered>
  head: number
  bytes: number
  /** Ranges of evicted cursors with their reason, ascending by `to` (at most 64). */
  evicted: Array<{ to: number; why: Frame.GapReason }>
  /** The `ok` went out; events flow only after it. */
  ready: boolean
  detachedAt: Millis | undefined
}

/**
 * A subscription held by the station.
 *
 * @since 0.1.0
 * @category models
 */
export interface Subscription {
  readonly client: PeerId
  readonly sid: number
  readonly realm: string
  readonly realmBytes: Uint8Array
  readonly pattern: string
  readonly mode: Frame.SubMode
  readonly alo: Alo | undefined
  /** The `id` of the `sub` that (last) opened it: an `err` ending it names this (§13.6). */
  reqId: number
}

/**
 * A client known to the router: attached, or detached with `alo` state kept.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly id: PeerId
  attached: boolean
  readonly subs: Map<number, Subscription>
  tokens: number
  refilledAt: Millis
  /** Frames handed to the actor and not yet reported `Flushed`. */
  inFlight: number
  /** `amo` event frames behind the window, oldest first (≤ `subscriberMailboxSize`). */
  queue: Array<Frame.Event>
  detachedAt: Millis
}

/**
 * A pattern some local subscription uses, as announced to peers.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalInterest {
  readonly realmBytes: Uint8Array
  readonly pattern: string
  refs: number
  /** Waiting out `interestDelDelayMs` with no subscribers. */
  deleting: boolean
}

/**
 * A peer station and the interest it announced.
 *
 * @since 0.1.0
 * @category models
 */
export interface Peer {
  readonly id: PeerId
  /** Its entries, by `realmHex pattern`. */
  readonly interest: Map<string, Frame.InterestEntry>
  /** The highest generation seen from it. */
  gen: number
  /** A sync in progress: its request id and the entries so far. */
  staging: { readonly id: number; readonly entries: Map<string, Frame.InterestEntry> } | undefined
}

/**
 * An `alo` subscription whose `ok` waits for peers to acknowledge its interest.
 *
 * @since 0.1.0
 * @category models
 */
export interface AckWaiter {
  readonly client: PeerId
  readonly sid: number
  readonly reqId: number
  readonly remaining: Set<PeerId>
}

/**
 * Counters the actor turns into metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface RouterCounters {
  published: number
  forwarded: number
  delivered: number
  duplicates: number
  staleEvents: number
  refused: number
  rateLimited: number
  queueDrops: number
  aloEvicted: number
  gapsSent: number
  interestIgnored: number
  staleTimers: number
  ignored: number
}

/**
 * The router core's state (mutable, owned by one actor: see the module header).
 *
 * @since 0.1.0
 * @category models
 */
export interface RouterState {
  readonly self: PeerId
  /** The router started after a crash: unknown `alo` resumes are answered `station_restart`. */
  readonly restartedAt: Millis | undefined
  readonly clients: Map<PeerId, Client>
  /** Local subscriptions per realm (hex). */
  readonly subs: Map<string, PatternTrie<Subscription>>
  readonly local: Map<string, LocalInterest>
  readonly pendingAdds: Set<string>
  readonly pendingDels: Map<string, Frame.InterestEntry>
  readonly peers: Map<PeerId, Peer>
  /** Peer interest per realm (hex). */
  readonly peerTries: Map<string, PatternTrie<PeerId>>
  readonly waiters: Map<number, AckWaiter>
  /** Exact topics the station itself watches (`Watch`), by `realmHex topic`. */
  readonly watched: Set<string>
  /** Our `interest.add` ids awaiting a peer's `ok`: id → waiter. */
  readonly peerAcks: Map<number, { readonly peer: PeerId; readonly waiter: number }>
  readonly dedup: Keys.DedupWindow
  readonly timers: Keys.Timers
  gen: number
  nextId: number
  readonly counters: RouterCounters
}

/**
 * What `initialRouter` needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface RouterInit {
  /** This station's key, hex. */
  readonly self: PeerId
  /** Set when the router is restarted by its supervisor, with the restart's `now`. */
  readonly restartedAt?: Millis
}

/**
 * A fresh router state. Pure, so a restarted actor rebuilds the same state (§15.2: the
 * tables are soft state that clients and peers replay after `resync`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const initialRouter = (config: Config, init: RouterInit): RouterState => ({
  self: init.self,
  restartedAt: init.restartedAt,
  clients: new Map(),
  subs: new Map(),
  local: new Map(),
  pendingAdds: new Set(),
  pendingDels: new Map(),
  peers: new Map(),
  peerTries: new Map(),
  waiters: new Map(),
  watched: new Set(),
  peerAcks: new Map(),
  dedup: Keys.dedupWindow(config.stationDedupWindowMs, config.stationDedupMaxEntries),
  timers: Keys.timers(),
  gen: 0,
  nextId: 1,
  counters: {
    published: 0,
    forwarded: 0,
    delivered: 0,
    duplicates: 0,
    staleEvents: 0,
    refused: 0,
    rateLimited: 0,
    queueDrops: 0,
    aloEvicted: 0,
    gapsSent: 0,
    interestIgnored: 0,
    staleTimers: 0,
    ignored: 0
  }
})

// ---------------------------------------------------------------------------------------------
// Step

interface Turn {
  readonly config: Config
  readonly now: Millis
  readonly out: Array<RouterCommand>
}

type S = RouterState

/**
 * Builds the router's step function for `config` (checked beforehand with `problems`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRouterStep = (config: Config): Step.Step<S, RouterEvent, RouterCommand> => (state, event) => {
  const t: Turn = { config, now: event.now, out: [] }
  switch (event._tag) {
    case "ClientAttached":
      attach(t, state, event.client)
      break
    case "ClientDetached":
      detach(t, state, event.client)
      break
    case "SubReceived":
      onSub(t, state, event.client, event.frame, event.verdict)
      break
    case "UnsubReceived":
      onUnsub(t, state, event.client, event.frame)
      break
    case "PubReceived":
      onPub(t, state, event.client, event.wall, event.frame, event.envelope, event.verdict)
      break
    case "AckReceived":
      onAck(t, state, event.client, event.frame)
      break
    case "Flushed":
      onFlushed(t, state, event.client, event.count)
      break
    case "PeerUp":
      peerUp(t, state, event.peer)
      break
    case "PeerDown":
      peerDown(t, state, event.peer)
      break
    case "FwdReceived":
      onFwd(t, state, event.peer, event.wall, event.frame, event.envelope)
      break
    case "InterestReceived":
      onInterest(t, state, event.peer, event.frame)
      break
    case "PeerOkReceived":
      onPeerOk(t, state, event.peer, event.frame.id)
      break
    case "PublishLocal":
      onPublishLocal(t, state, event.wall, event.signed, event.envelope)
      break
    case "TimerFired":
      if (Keys.fire(state.timers, event.timer, event.generation)) onTimer(t, state, event.timer)
      else state.counters.staleTimers++
      break
    case "Watch":
      watch(t, state, event.realm, event.topic)
      break
    case "GrantsRevoked":
      onGrantsRevoked(t, state, event.client, event.realm, event.keep, event.reason)
      break
  }
  return Step.next(state, t.out)
}

// ---------------------------------------------------------------------------------------------
// Helpers

const setTimer = (t: Turn, s: S, timer: string, at: Millis): void => {
  t.out.push(Cmd.SetTimer({ timer, at, generation: Keys.arm(s.timers, timer) }))
}

const cancelTimer = (t: Turn, s: S, timer: string): void => {
  if (Keys.disarm(s.timers, timer)) t.out.push(Cmd.CancelTimer({ timer }))
}

const err = (t: Turn, to: PeerId, id: number | undefined, c: string, r?: string): void => {
  const frame: Frame.Err = id === undefined
    ? (r === undefined ? { t: "err", c } : { t: "err", c, r })
    : (r === undefined ? { t: "err", id, c } : { t: "err", id, c, r })
  t.out.push(Cmd.Send({ to, frame }))
}

const interestKey = (realm: string, pattern: string): string => `${realm} ${pattern}`

/** The `TopicError` reason of a bad topic or pattern, or `undefined` if it is fine. */
const topicProblem = (pattern: string, allowPattern: boolean): { code: string; reason: string } | undefined => {
  try {
    if (allowPattern && Topic.isPattern(pattern)) Topic.validatePattern(pattern)
    else Topic.validate(pattern)
    return undefined
  } catch (e) {
    const reason = typeof e === "object" && e !== null && "reason" in e ? String(e.reason) : "invalid_structure"
    return { code: allowPattern && Topic.isPattern(pattern) ? "invalid_pattern" : "invalid_topic", reason }
  }
}

const realmServed = (t: Turn, realm: string): boolean =>
  realm === ZERO_REALM || t.config.servedRealms.length === 0 || t.config.servedRealms.includes(realm)

const trieOf = <V>(tries: Map<string, PatternTrie<V>>, realm: string): PatternTrie<V> => {
  let trie = tries.get(realm)
  if (trie === undefined) {
    trie = new PatternTrie<V>()
    tries.set(realm, trie)
  }
  return trie
}

const removeFromTrie = <V>(tries: Map<string, PatternTrie<V>>, realm: string, pattern: string, value: V): void => {
  const trie = tries.get(realm)
  if (trie === undefined) return
  trie.remove(pattern, value)
  if (trie.size === 0) tries.delete(realm)
}

// ---------------------------------------------------------------------------------------------
// Clients

const newClient = (t: Turn, id: PeerId): Client => ({
  id,
  attached: true,
  subs: new Map(),
  tokens: t.config.publishBurst,
  refilledAt: t.now,
  inFlight: 0,
  queue: [],
  detachedAt: t.now
})

const attach = (t: Turn, s: S, id: PeerId): void => {
  const known = s.clients.get(id)
  if (known !== undefined) {
    known.attached = true
    known.inFlight = 0
    known.queue = []
    // Detached `alo` subscriptions wait for the client's replayed `sub` to resume.
    return
  }
  s.clients.set(id, newClient(t, id))
  if (s.clients.size > t.config.maxClients) evictDetachedClient(t, s)
}

/** Over `maxClients`: forget the client detached longest (attached ones are capped upstream). */
const evictDetachedClient = (t: Turn, s: S): void => {
  let oldest: Client | undefined
  for (const c of s.clients.values()) if (!c.attached && (oldest === undefined || c.detachedAt < oldest.detachedAt)) oldest = c
  if (oldest === undefined) return
  for (const sub of Array.from(oldest.subs.values())) dropSubscription(t, s, oldest, sub)
  s.clients.delete(oldest.id)
}

const detach = (t: Turn, s: S, id: PeerId): void => {
  const c = s.clients.get(id)
  if (c === undefined || !c.attached) return void s.counters.ignored++
  c.attached = false
  c.detachedAt = t.now
  c.inFlight = 0
  c.queue = []
  for (const sub of Array.from(c.subs.values())) {
    if (sub.alo === undefined) dropSubscription(t, s, c, sub)
    else {
      sub.alo.detachedAt = t.now
      sub.alo.ready = false // events flow again only after the replayed `sub`
      sub.alo.sent = sub.alo.acked // what was sent but not acknowledged is replayed on resume
      setTimer(t, s, aloTimer(id, sub.sid), t.now + t.config.aloRetentionMs)
    }
  }
  for (const [n, w] of s.waiters) if (w.client === id) forgetWaiter(t, s, n)
  if (c.subs.size === 0) s.clients.delete(id)
}

const aloTimer = (client: PeerId, sid: number): string => `alo/${client}/${sid}`

// ---------------------------------------------------------------------------------------------
// Subscriptions

const onSub = (t: Turn, s: S, id: PeerId, f: Frame.Sub, verdict: Verdict): void => {
  const c = s.clients.get(id)
  if (c === undefined || !c.attached) return void s.counters.ignored++
  const realm = Keys.hex(f.realm)
  const refuse = (code: string, reason?: string): void => {
    s.counters.refused++
    err(t, id, f.id, code, reason)
  }
  if (!realmServed(t, realm)) return refuse("realm_refused")
  const problem = topicProblem(f.pat, true)
  if (problem !== undefined) return refuse(problem.code, problem.reason)
  if (Topic.isSystem(f.pat) !== (realm === ZERO_REALM)) return refuse("invalid_topic", "system_topic_realm")
  if (verdict._tag === "Denied") return refuse("unauthorized", verdict.reason)
  const previous = c.subs.get(f.sid)
  if (previous === undefined && c.subs.size >= t.config.maxSubscriptionsPerClient) return refuse("overloaded")
  const mode: Frame.SubMode = f.mode ?? "amo"
  // A resumed `alo` subscription keeps its cursors and buffer; anything else starts afresh.
  if (
    previous !== undefined && previous.alo !== undefined && mode === "alo" && previous.pattern === f.pat &&
    previous.realm === realm
  ) return resume(t, s, c, previous, f)
  if (previous !== undefined) dropSubscription(t, s, c, previous)
  const alo: Alo | undefined = mode === "alo" ? freshAlo(t, s, f.cur) : undefined
  const sub: Subscription = { client: id, sid: f.sid, realm, realmBytes: f.realm, pattern: f.pat, mode, alo, reqId: f.id }
  c.subs.set(f.sid, sub)
  trieOf(s.subs, realm).insert(f.pat, sub)
  const fresh = addLocalInterest(t, s, realm, f.realm, f.pat)
  if (alo === undefined) return void t.out.push(Cmd.Send({ to: id, frame: { t: "ok", id: f.id } }))
  // §8.5: answer an `alo` sub only once every live peer knows the interest (or after the timeout).
  if (fresh && s.peers.size > 0) awaitPeers(t, s, sub, f.id)
  else aloReady(t, s, c, sub, f.id)
}

/** An `alo` subscription the station holds no state for; a `cur` means a resume we cannot honour. */
const freshAlo = (t: Turn, s: S, cur: number | undefined): Alo => {
  const alo: Alo = { last: 0, acked: 0, sent: 0, buffer: [], head: 0, bytes: 0, evicted: [], ready: false, detachedAt: undefined }
  if (cur === undefined) return alo
  // One placeholder cursor stands for the unknown amount lost; the gap for it goes out first.
  const why: Frame.GapReason = s.restartedAt !== undefined && t.now - s.restartedAt <= t.config.aloRetentionMs
    ? "station_restart"
    : "resume_unavailable"
  return { ...alo, last: cur + 1, acked: cur, sent: cur, evicted: [{ to: cur + 1, why }] }
}

const resume = (t: Turn, s: S, c: Client, sub: Subscription, f: Frame.Sub): void => {
  const alo = sub.alo!
  sub.reqId = f.id
  cancelTimer(t, s, aloTimer(c.id, sub.sid))
  alo.detachedAt = undefined
  const cur = Math.min(f.cur ?? alo.acked, alo.last)
  if (cur > alo.acked) acknowledge(alo, cur)
  // Cursors the client says it has not processed are sent again (or reported lost).
  alo.sent = cur
  aloReady(t, s, c, sub, f.id)
}

const aloReady = (t: Turn, s: S, c: Client, sub: Subscription, reqId: number): void => {
  const alo = sub.alo!
  alo.ready = true
  t.out.push(Cmd.Send({ to: c.id, frame: { t: "ok", id: reqId, cur: alo.sent } }))
  pump(t, s, c)
}

const onUnsub = (t: Turn, s: S, id: PeerId, f: Frame.Unsub): void => {
  const c = s.clients.get(id)
  if (c === undefined || !c.attached) return void s.counters.ignored++
  const sub = c.subs.get(f.sid)
  if (sub !== undefined) dropSubscription(t, s, c, sub)
  t.out.push(Cmd.Send({ to: id, frame: { t: "ok", id: f.id } }))
}

/**
 * A revocation took `id`'s subscribe grants in a realm (§13.6): every subscription there that no
 * kept scope covers ends, with `err unauthorized` naming the `sub` that opened it.
 */
const onGrantsRevoked = (
  t: Turn,
  s: S,
  id: PeerId,
  realmBytes: Uint8Array,
  keep: ReadonlyArray<string>,
  reason: string
): void => {
  const c = s.clients.get(id)
  if (c === undefined) return void s.counters.ignored++
  const realm = Keys.hex(realmBytes)
  for (const sub of Array.from(c.subs.values())) {
    if (sub.realm !== realm || keep.some((scope) => Topic.covers(scope, sub.pattern))) continue
    dropSubscription(t, s, c, sub)
    s.counters.refused++
    if (c.attached) err(t, id, sub.reqId, "unauthorized", reason)
  }
  if (!c.attached && c.subs.size === 0) s.clients.delete(id)
}

/** The station follows an exact realm topic itself: interest to peers, events as `Observed`. */
const watch = (t: Turn, s: S, realmBytes: Uint8Array, topic: string): void => {
  const realm = Keys.hex(realmBytes)
  if (realmBytes.length !== 32 || !Topic.isValid(topic) || Topic.isSystem(topic) || Topic.isPattern(topic)) {
    return void s.counters.ignored++
  }
  const key = interestKey(realm, topic)
  if (s.watched.has(key)) return
  // Bounded like one client's subscriptions (the station watches one topic per granted realm).
  if (s.watched.size >= t.config.maxSubscriptionsPerClient) return void s.counters.ignored++
  s.watched.add(key)
  addLocalInterest(t, s, realm, realmBytes, topic)
}

const dropSubscription = (t: Turn, s: S, c: Client, sub: Subscription): void => {
  c.subs.delete(sub.sid)
  removeFromTrie(s.subs, sub.realm, sub.pattern, sub)
  releaseLocalInterest(t, s, sub.realm, sub.pattern)
  if (sub.alo !== undefined) cancelTimer(t, s, aloTimer(c.id, sub.sid))
  for (const [n, w] of s.waiters) if (w.client === c.id && w.sid === sub.sid) forgetWaiter(t, s, n)
}

// ---------------------------------------------------------------------------------------------
// Publishing and delivery

const refill = (t: Turn, c: Client): void => {
  const elapsed = Math.max(0, t.now - c.refilledAt)
  c.tokens = Math.min(t.config.publishBurst, c.tokens + (elapsed * t.config.publishRatePerSec) / 1_000)
  c.refilledAt = t.now
}

const onPub = (
  t: Turn,
  s: S,
  id: PeerId,
  wall: UnixMillis,
  f: Frame.Pub,
  env: EnvelopeBody,
  verdict: Verdict
): void => {
  const c = s.clients.get(id)
  if (c === undefined || !c.attached) return void s.counters.ignored++
  const refuse = (code: string, reason?: string): void => {
    s.counters.refused++
    err(t, id, f.id, code, reason)
  }
  if (f.b.length > t.config.maxEventBytes) return refuse("payload_too_large")
  if (Keys.hex(env.pk) !== id) {
    // §14 row 16: someone else's envelope on this connection.
    t.out.push(Cmd.Penalise({ peer: id, severity: "major", reason: "pub_foreign_envelope" }))
    return refuse("unauthorized", "publisher_mismatch")
  }
  const problem = topicProblem(env.topic, false)
  if (problem !== undefined) return refuse(problem.code, problem.reason)
  if (Topic.isSystem(env.topic)) return refuse("unauthorized", "system_topic") // stations only (§7.1)
  const realm = Keys.hex(env.realm)
  if (realm === ZERO_REALM || !realmServed(t, realm)) return refuse("realm_refused")
  if (verdict._tag === "Denied") return refuse("unauthorized", verdict.reason)
  if (!fresh(t, wall, env.ts)) {
    s.counters.staleEvents++
    if (f.id !== undefined) err(t, id, f.id, "bad_request", "stale_event")
    return
  }
  refill(t, c)
  if (c.tokens < 1) {
    s.counters.rateLimited++
    return refuse("overloaded")
  }
  c.tokens -= 1
  route(t, s, { b: f.b, s: f.s }, env, true)
  if (f.id !== undefined) t.out.push(Cmd.Send({ to: id, frame: { t: "ok", id: f.id } }))
}

const fresh = (t: Turn, wall: UnixMillis, ts: number): boolean =>
  ts >= wall - t.config.eventMaxAgeMs - t.config.clockSkewLeewayMs && ts <= wall + t.config.clockSkewLeewayMs

const onFwd = (t: Turn, s: S, peer: PeerId, wall: UnixMillis, f: Frame.Fwd, env: EnvelopeBody): void => {
  if (!s.peers.has(peer)) return void s.counters.ignored++
  if (f.b.length > t.config.maxEventBytes || !Topic.isValid(env.topic) || Topic.isSystem(env.topic)) {
    t.out.push(Cmd.Penalise({ peer, severity: "minor", reason: "fwd_invalid" }))
    return void s.counters.refused++
  }
  if (!fresh(t, wall, env.ts)) return void s.counters.staleEvents++
  // Interest is not transitive: a forwarded event is delivered here and goes nowhere else.
  route(t, s, { b: f.b, s: f.s }, env, false)
}

const onPublishLocal = (t: Turn, s: S, wall: UnixMillis, signed: Frame.Signed, env: EnvelopeBody): void => {
  if (!Topic.isValid(env.topic) || !fresh(t, wall, env.ts)) return void s.counters.refused++
  // System topics stay on this station's clients; realm topics travel like a client's.
  route(t, s, signed, env, !Topic.isSystem(env.topic))
}

/** Dedups, delivers to local subscribers and, for events that entered here, forwards to peers. */
const route = (t: Turn, s: S, signed: Frame.Signed, env: EnvelopeBody, forward: boolean): void => {
  const dedupKey = `${Keys.hex(env.pk)}/${Keys.hex(env.sess)}/${env.seq}`
  if (Keys.checkAndRecord(s.dedup, dedupKey, t.now)) return void s.counters.duplicates++
  s.counters.published++
  const realm = Keys.hex(env.realm)
  if (s.watched.size > 0 && s.watched.has(interestKey(realm, env.topic))) t.out.push(Cmd.Observed({ envelope: env }))
  const matched = s.subs.get(realm)?.match(env.topic) ?? []
  // One frame per client for all its `amo` subscriptions; each `alo` one gets its own.
  const amo = new Map<PeerId, Array<number>>()
  for (const sub of matched) {
    const c = s.clients.get(sub.client)
    if (c === undefined) continue
    if (sub.alo !== undefined) {
      append(t, s, sub.alo, signed)
      continue
    }
    const sids = amo.get(sub.client)
    if (sids === undefined) amo.set(sub.client, [sub.sid])
    else sids.push(sub.sid)
  }
  for (const [client, sids] of amo) {
    const c = s.clients.get(client)!
    sids.sort((a, b) => a - b)
    enqueue(t, s, c, { t: "event", sid: sids, b: signed.b, s: signed.s })
  }
  const aloClients = new Set<PeerId>()
  for (const sub of matched) if (sub.alo !== undefined) aloClients.add(sub.client)
  for (const client of aloClients) {
    const c = s.clients.get(client)
    if (c !== undefined) pump(t, s, c)
  }
  if (!forward) return
  const peers = s.peerTries.get(realm)?.match(env.topic) ?? []
  for (const peer of peers) {
    s.counters.forwarded++
    t.out.push(Cmd.Send({ to: peer, frame: { t: "fwd", b: signed.b, s: signed.s } }))
  }
}

/** An `amo` frame: straight out while the window is open, else queued; a full queue drops its oldest. */
const enqueue = (t: Turn, s: S, c: Client, frame: Frame.Event): void => {
  if (!c.attached) return
  if (c.inFlight < t.config.clientSendWindow && c.queue.length === 0) return send(t, s, c, frame)
  c.queue.push(frame)
  if (c.queue.length > t.config.subscriberMailboxSize) {
    c.queue.shift()
    s.counters.queueDrops++
  }
}

const send = (t: Turn, s: S, c: Client, frame: Frame.Event | Frame.Gap): void => {
  c.inFlight++
  if (frame.t === "event") s.counters.delivered++
  else s.counters.gapsSent++
  t.out.push(Cmd.Send({ to: c.id, frame }))
}

const onFlushed = (t: Turn, s: S, id: PeerId, count: number): void => {
  const c = s.clients.get(id)
  if (c === undefined || !c.attached) return void s.counters.ignored++
  c.inFlight = Math.max(0, c.inFlight - Math.max(0, Math.floor(count)))
  pump(t, s, c)
}

/** Fills the client's window: queued `amo` frames first, then `alo` subscriptions in sid order. */
const pump = (t: Turn, s: S, c: Client): void => {
  if (!c.attached) return
  while (c.inFlight < t.config.clientSendWindow && c.queue.length > 0) send(t, s, c, c.queue.shift()!)
  for (const sub of c.subs.values()) {
    if (sub.alo !== undefined) pumpAlo(t, s, c, sub, sub.alo)
  }
}

const pumpAlo = (t: Turn, s: S, c: Client, sub: Subscription, alo: Alo): void => {
  expire(t, s, alo)
  while (alo.ready && alo.sent < alo.last && alo.sent - alo.acked < t.config.aloMaxInFlight) {
    if (c.inFlight >= t.config.clientSendWindow) return
    const next = alo.sent + 1
    const first = alo.head < alo.buffer.length ? alo.buffer[alo.head]!.cur : alo.last + 1
    if (next < first) {
      // Cursors `next` … `first − 1` were evicted (or precede the acknowledged ones on resume).
      const range = lostRange(alo, next, first - 1)
      send(t, s, c, { t: "gap", sid: sub.sid, from: next, to: range.to, why: range.why })
      alo.sent = range.to
      continue
    }
    const entry = alo.buffer[alo.head + (next - first)]!
    send(t, s, c, { t: "event", sid: [sub.sid], b: entry.b, s: entry.s, cur: entry.cur })
    alo.sent = next
  }
}

/** The first homogeneous stretch of lost cursors starting at `from`, ending at or before `to`. */
const lostRange = (alo: Alo, from: number, to: number): { to: number; why: Frame.GapReason } => {
  for (const e of alo.evicted) if (e.to >= from) return { to: Math.min(e.to, to), why: e.why }
  return { to, why: "retention" }
}

const append = (t: Turn, s: S, alo: Alo, signed: Frame.Signed): void => {
  alo.last++
  alo.buffer.push({ cur: alo.last, b: signed.b, s: signed.s, at: t.now })
  alo.bytes += signed.b.length + signed.s.length
  while (
    alo.buffer.length - alo.head > t.config.aloBufferMaxEvents || alo.bytes > t.config.aloBufferMaxBytes
  ) evictHead(s, alo, "overflow")
  expire(t, s, alo)
}

const expire = (t: Turn, s: S, alo: Alo): void => {
  while (alo.head < alo.buffer.length && alo.buffer[alo.head]!.at <= t.now - t.config.aloRetentionMs) {
    evictHead(s, alo, "retention")
  }
}

const evictHead = (s: S, alo: Alo, why: Frame.GapReason): void => {
  const entry = alo.buffer[alo.head]!
  alo.head++
  alo.bytes -= entry.b.length + entry.s.length
  s.counters.aloEvicted++
  const last = alo.evicted[alo.evicted.length - 1]
  if (last !== undefined && last.why === why && last.to === entry.cur - 1) last.to = entry.cur
  else alo.evicted.push({ to: entry.cur, why })
  if (alo.evicted.length > 64) {
    // Merge the two oldest ranges; the later reason wins. Loses detail, never a cursor.
    alo.evicted.splice(0, 2, { to: alo.evicted[1]!.to, why: alo.evicted[1]!.why })
  }
  compact(alo)
}

/** Drops consumed slots once they dominate the array, so the buffer never grows past its cap. */
const compact = (alo: Alo): void => {
  if (alo.head > 64 && alo.head * 2 > alo.buffer.length) {
    alo.buffer = alo.buffer.slice(alo.head)
    alo.head = 0
  }
}

const acknowledge = (alo: Alo, cur: number): void => {
  alo.acked = cur
  while (alo.head < alo.buffer.length && alo.buffer[alo.head]!.cur <= cur) {
    const entry = alo.buffer[alo.head]!
    alo.bytes -= entry.b.length + entry.s.length
    alo.head++
  }
  while (alo.evicted.length > 0 && alo.evicted[0]!.to <= cur) alo.evicted.shift()
  compact(alo)
}

const onAck = (t: Turn, s: S, id: PeerId, f: Frame.Ack): void => {
  const c = s.clients.get(id)
  const sub = c?.subs.get(f.sid)
  if (c === undefined || !c.attached || sub?.alo === undefined) return void s.counters.ignored++
  const alo = sub.alo
  if (f.cur > alo.sent) {
    t.out.push(Cmd.Penalise({ peer: id, severity: "minor", reason: "ack_beyond_sent" }))
    return void s.counters.ignored++
  }
  if (f.cur <= alo.acked) return
  acknowledge(alo, f.cur)
  pumpAlo(t, s, c, sub, alo)
}

// ---------------------------------------------------------------------------------------------
// Interest (§8.3)

/** Counts one more local subscription on (realm, pattern); true if the pattern is new to peers. */
const addLocalInterest = (t: Turn, s: S, realm: string, realmBytes: Uint8Array, pattern: string): boolean => {
  const key = interestKey(realm, pattern)
  const known = s.local.get(key)
  if (known !== undefined) {
    known.refs++
    if (known.deleting) {
      known.deleting = false
      cancelTimer(t, s, `idel/${key}`)
    }
    return s.pendingAdds.has(key)
  }
  s.local.set(key, { realmBytes, pattern, refs: 1, deleting: false })
  s.pendingDels.delete(key)
  s.pendingAdds.add(key)
  armBatch(t, s)
  return true
}

const releaseLocalInterest = (t: Turn, s: S, realm: string, pattern: string): void => {
  const key = interestKey(realm, pattern)
  const known = s.local.get(key)
  if (known === undefined) return
  known.refs--
  if (known.refs > 0) return
  // Even a pattern still queued may have gone out in a sync: withdraw it the normal way.
  known.deleting = true
  setTimer(t, s, `idel/${key}`, t.now + t.config.interestDelDelayMs)
}

const armBatch = (t: Turn, s: S): void => {
  if (!s.timers.armed.has("interest-batch")) setTimer(t, s, "interest-batch", t.now + t.config.interestBatchMs)
}

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const flushInterest = (t: Turn, s: S): void => {
  const adds: Array<Frame.InterestEntry> = []
  for (const key of s.pendingAdds) {
    const l = s.local.get(key)
    if (l !== undefined) adds.push([l.realmBytes, l.pattern])
  }
  const dels = Array.from(s.pendingDels.values())
  s.pendingAdds.clear()
  s.pendingDels.clear()
  for (const peer of s.peers.keys()) {
    for (const e of chunks(adds, t.config.maxInterestEntriesPerFrame)) {
      t.out.push(Cmd.Send({ to: peer, frame: { t: "interest.add", gen: s.gen, e } }))
    }
    for (const e of chunks(dels, t.config.maxInterestEntriesPerFrame)) {
      t.out.push(Cmd.Send({ to: peer, frame: { t: "interest.del", gen: s.gen, e } }))
    }
  }
}

const peerUp = (t: Turn, s: S, id: PeerId): void => {
  if (id === s.self) return void s.counters.ignored++
  if (!s.peers.has(id)) {
    if (s.peers.size >= t.config.maxPeers) return void s.counters.ignored++
    s.peers.set(id, { id, interest: new Map(), gen: 0, staging: undefined })
  }
  // Full sync: every pattern we announce (those still queued go too; duplicates are harmless).
  s.gen++
  const entries: Array<Frame.InterestEntry> = []
  for (const l of s.local.values()) entries.push([l.realmBytes, l.pattern])
  const parts = chunks(entries, t.config.maxInterestEntriesPerFrame)
  if (parts.length === 0) parts.push([])
  const reqId = s.nextId++
  parts.forEach((e, i) => {
    t.out.push(Cmd.Send({ to: id, frame: { t: "interest.sync", id: reqId, gen: s.gen, e, more: i < parts.length - 1 } }))
  })
}

const peerDown = (t: Turn, s: S, id: PeerId): void => {
  const peer = s.peers.get(id)
  if (peer === undefined) return void s.counters.ignored++
  dropPeerInterest(s, peer)
  s.peers.delete(id)
  for (const [n, ack] of s.peerAcks) {
    if (ack.peer !== id) continue
    s.peerAcks.delete(n)
    peerAcked(t, s, ack.waiter, id)
  }
}

const dropPeerInterest = (s: S, peer: Peer): void => {
  for (const [key, [realmBytes, pattern]] of peer.interest) {
    removeFromTrie(s.peerTries, Keys.hex(realmBytes), pattern, peer.id)
    peer.interest.delete(key)
  }
}

const validEntry = (e: Frame.InterestEntry): boolean => {
  const [realmBytes, pattern] = e
  if (realmBytes.length !== 32) return false
  if (Topic.isSystem(pattern)) return false // system topics stay local
  return Topic.isPattern(pattern) ? Topic.isValidPattern(pattern) : Topic.isValid(pattern)
}

const onInterest = (
  t: Turn,
  s: S,
  id: PeerId,
  f: Frame.InterestSync | Frame.InterestAdd | Frame.InterestDel
): void => {
  const peer = s.peers.get(id)
  if (peer === undefined) return void s.counters.ignored++
  let bad = 0
  if (f.t === "interest.sync") {
    // A sync is authoritative whatever its generation: a restarted peer counts from 0 again.
    peer.gen = f.gen
    if (peer.staging === undefined || peer.staging.id !== f.id) peer.staging = { id: f.id, entries: new Map() }
    for (const e of f.e) {
      if (!validEntry(e)) bad++
      else if (peer.staging.entries.size < t.config.maxInterestEntriesPerPeer) {
        peer.staging.entries.set(interestKey(Keys.hex(e[0]), e[1]), e)
      } else s.counters.interestIgnored++
    }
    if (!f.more) {
      const staged = peer.staging.entries
      peer.staging = undefined
      dropPeerInterest(s, peer)
      for (const [key, e] of staged) insertPeerEntry(s, peer, key, e)
      t.out.push(Cmd.Send({ to: id, frame: { t: "ok", id: f.id } }))
    }
  } else {
    if (f.gen < peer.gen) s.counters.interestIgnored++
    else {
      peer.gen = f.gen
      for (const e of f.e) {
        if (!validEntry(e)) {
          bad++
          continue
        }
        const key = interestKey(Keys.hex(e[0]), e[1])
        if (f.t === "interest.del") {
          if (peer.interest.delete(key)) removeFromTrie(s.peerTries, Keys.hex(e[0]), e[1], id)
        } else if (peer.interest.has(key)) continue
        else if (peer.interest.size < t.config.maxInterestEntriesPerPeer) insertPeerEntry(s, peer, key, e)
        else s.counters.interestIgnored++
      }
    }
    if (f.id !== undefined) t.out.push(Cmd.Send({ to: id, frame: { t: "ok", id: f.id } }))
  }
  if (bad > 0) {
    s.counters.interestIgnored += bad
    t.out.push(Cmd.Penalise({ peer: id, severity: "minor", reason: "interest_invalid" }))
  }
}

const insertPeerEntry = (s: S, peer: Peer, key: string, e: Frame.InterestEntry): void => {
  peer.interest.set(key, e)
  trieOf(s.peerTries, Keys.hex(e[0])).insert(e[1], peer.id)
}

/** Sends the new pattern to every peer at once, with ids, and holds the `ok` until all answer. */
const awaitPeers = (t: Turn, s: S, sub: Subscription, reqId: number): void => {
  const key = interestKey(sub.realm, sub.pattern)
  s.pendingAdds.delete(key) // goes out now instead of with the batch
  const n = s.nextId++
  const waiter: AckWaiter = { client: sub.client, sid: sub.sid, reqId, remaining: new Set() }
  s.waiters.set(n, waiter)
  for (const peer of s.peers.keys()) {
    const id = s.nextId++
    waiter.remaining.add(peer)
    s.peerAcks.set(id, { peer, waiter: n })
    t.out.push(Cmd.Send({ to: peer, frame: { t: "interest.add", id, gen: s.gen, e: [[sub.realmBytes, sub.pattern]] } }))
  }
  setTimer(t, s, `iack/${n}`, t.now + t.config.interestAckTimeoutMs)
}

const onPeerOk = (t: Turn, s: S, peer: PeerId, id: number): void => {
  const ack = s.peerAcks.get(id)
  if (ack === undefined || ack.peer !== peer) return void s.counters.ignored++ // e.g. a sync's ok
  s.peerAcks.delete(id)
  peerAcked(t, s, ack.waiter, peer)
}

const peerAcked = (t: Turn, s: S, n: number, peer: PeerId): void => {
  const w = s.waiters.get(n)
  if (w === undefined) return
  w.remaining.delete(peer)
  if (w.remaining.size === 0) releaseWaiter(t, s, n)
}

const releaseWaiter = (t: Turn, s: S, n: number): void => {
  const w = s.waiters.get(n)
  if (w === undefined) return
  forgetWaiter(t, s, n)
  const c = s.clients.get(w.client)
  const sub = c?.subs.get(w.sid)
  if (c !== undefined && c.attached && sub?.alo !== undefined) aloReady(t, s, c, sub, w.reqId)
}

const forgetWaiter = (t: Turn, s: S, n: number): void => {
  s.waiters.delete(n)
  cancelTimer(t, s, `iack/${n}`)
  for (const [id, ack] of s.peerAcks) if (ack.waiter === n) s.peerAcks.delete(id)
}

// ---------------------------------------------------------------------------------------------
// Timers

const onTimer = (t: Turn, s: S, timer: string): void => {
  if (timer === "interest-batch") return flushInterest(t, s)
  if (timer.startsWith("idel/")) {
    const key = timer.slice("idel/".length)
    const l = s.local.get(key)
    if (l === undefined || !l.deleting || l.refs > 0) return
    s.local.delete(key)
    s.pendingDels.set(key, [l.realmBytes, l.pattern])
    return armBatch(t, s)
  }
  if (timer.startsWith("iack/")) return releaseWaiter(t, s, Number(timer.slice("iack/".length)))
  if (timer.startsWith("alo/")) {
    const slash = timer.lastIndexOf("/")
    const client = timer.slice("alo/".length, slash)
    const c = s.clients.get(client)
    const sub = c?.subs.get(Number(timer.slice(slash + 1)))
    if (c === undefined || sub === undefined || c.attached) return
    dropSubscription(t, s, c, sub)
    if (c.subs.size === 0) s.clients.delete(client)
  }
}

/**
 * Whether a `Flushed` for `client` must reach the core at once: frames wait behind its send
 * window (queued `amo` frames), or it has an `alo` subscription (whose sends the window paces).
 * Otherwise nothing waits on the count, and the actor may hand it over with the core's next event.
 *
 * @since 0.1.0
 * @category getters
 */
export const flushWaits = (s: RouterState, client: PeerId): boolean => {
  const c = s.clients.get(client)
  if (c === undefined) return false
  if (c.queue.length > 0) return true
  for (const sub of c.subs.values()) if (sub.alo !== undefined) return true
  return false
}

/**
 * Live counts of what the router holds, for tests, metrics and the bounded-memory checks.
 *
 * @since 0.1.0
 * @category getters
 */
export const routerSizes = (s: RouterState): {
  readonly clients: number
  readonly subscriptions: number
  readonly maxQueue: number
  readonly maxInFlight: number
  readonly maxAloBuffer: number
  readonly maxAloBytes: number
  readonly peerEntries: number
  readonly dedup: number
  readonly timers: number
} => {
  let subscriptions = 0, maxQueue = 0, maxInFlight = 0, maxAloBuffer = 0, maxAloBytes = 0, peerEntries = 0
  for (const c of s.clients.values()) {
    subscriptions += c.subs.size
    maxQueue = Math.max(maxQueue, c.queue.length)
    maxInFlight = Math.max(maxInFlight, c.inFlight)
    for (const sub of c.subs.values()) {
      if (sub.alo === undefined) continue
      maxAloBuffer = Math.max(maxAloBuffer, sub.alo.buffer.length - sub.alo.head)
      maxAloBytes = Math.max(maxAloBytes, sub.alo.bytes)
    }
  }
  for (const p of s.peers.values()) peerEntries = Math.max(peerEntries, p.interest.size)
  return {
    clients: s.clients.size,
    subscriptions,
    maxQueue,
    maxInFlight,
    maxAloBuffer,
    maxAloBytes,
    peerEntries,
    dedup: s.dedup.seen.size,
    timers: s.timers.armed.size
  }
}

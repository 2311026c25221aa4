/**
 * The client side of pub/sub (PROTOCOL.md §8.2, §8.4–§8.6) as a sans-IO core:
 * `makeSessionStep(config)` gives `step(state, event) -> [state, commands]`.
 *
 * What it does: keeps the application's subscriptions (sid, realm, pattern, mode) and replays
 * them, in sid order and with resume cursors, after every (re)attachment and on `resync` (an
 * `alo` subscription may start from a cursor a previous process recorded: `Subscribe.resume`);
 * numbers publishes (`seq` per session, `tseq` per session and topic) and re-sends the
 * unanswered ones after a reconnect (the station dedups); drops duplicates by (`pk`, `sess`,
 * `seq`) per subscription within `dedupWindowMs`; restores per-publisher, per-topic order with
 * a bounded reorder buffer (skip after `orderGapWaitMs`, skip to the smallest on overflow,
 * rebase on a new session or a jump past `orderRestartJump`); hands events to each handler
 * one at a time through a mailbox of `subscriberMailboxSize` (`amo` drops the oldest,
 * counted; `alo` reports a local gap); acknowledges `alo` cursors cumulatively once handled,
 * at most every `aloAckIntervalMs`, so a slow handler pauses the station.
 *
 * Key invariants: a handler never sees two events with the same (`pk`, `sess`, `seq`) within
 * the dedup window, nor, for one publisher session and topic, a `tseq` lower than one it has
 * already seen while that reorder stream is held (an evicted stream starts a new base); an
 * `alo` cursor is acknowledged only after its event was handled, dropped as a duplicate or
 * reported in a gap; events for a subscription the current link has not accepted are
 * ignored; every buffer is capped by a knob.
 *
 * State ownership: as in `Router`, the state's tables are updated in place and `step` returns
 * the same object; the actor holds the only reference.
 *
 * It does not sign or verify envelopes, hold the connection or run handlers.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import * as Step from "../../core/Step.ts"
import * as Topic from "../../topic/Topic.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { EnvelopeBody } from "../../wire/SignedBody.ts"
import type { Config } from "./Config.ts"
import * as Keys from "./Keys.ts"
import { Notice, SessionCommand as Cmd } from "./SessionCommand.ts"
import type { SessionCommand } from "./SessionCommand.ts"
import type { SessionEvent } from "./SessionEvent.ts"

// ---------------------------------------------------------------------------------------------
// State

/**
 * One event on its way to a handler, with its `alo` cursor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Item {
  readonly envelope: EnvelopeBody
  readonly cur: number | undefined
}

/**
 * Cursor bookkeeping of an `alo` subscription: `processed` is the highest cursor below which
 * everything was handled, dropped or reported lost; `done` holds finished ranges above it;
 * `pending` the cursors still in a reorder buffer, the mailbox or the handler.
 *
 * @since 0.1.0
 * @category models
 */
export interface AloCursor {
  /** The station answered `ok` once: `processed` is meaningful and goes out as `cur`. */
  based: boolean
  processed: number
  readonly done: Array<[number, number]>
  readonly pending: Set<number>
  lastAcked: number
  ackedAt: Millis
}

/**
 * A subscription of this client.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientSubscription {
  readonly sid: number
  readonly realm: Frame.Bin32
  readonly pattern: string
  readonly mode: Frame.SubMode
  readonly alo: AloCursor | undefined
  /** Accepted by the current station. */
  active: boolean
  /** The `id` of the `sub` the current station accepted: an `err` naming it later ends it (§13.6). */
  acceptedId?: number
  readonly mailbox: Array<Item>
  busy: Item | undefined
}

/**
 * A reorder stream: one subscription, one publisher session, one topic (§8.4).
 *
 * @since 0.1.0
 * @category models
 */
export interface OrderStream {
  readonly key: string
  readonly sid: number
  expected: number
  readonly buffer: Map<number, Item>
}

type Request =
  | { readonly kind: "sub"; readonly sid: number }
  | { readonly kind: "unsub"; readonly sid: number }

/**
 * Counters the actor turns into metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionCounters {
  delivered: number
  duplicates: number
  dropsEarlier: number
  skipped: number
  mailboxDrops: number
  rebases: number
  unknownReplies: number
  ignored: number
  staleTimers: number
}

/**
 * The session core's state (mutable, owned by one actor).
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionState {
  readonly pk: Frame.Bin32
  readonly sess: Frame.Bin8
  station: string | undefined
  seq: number
  readonly tseq: Map<string, number>
  readonly subs: Map<number, ClientSubscription>
  readonly requests: Map<number, Request>
  /** Unanswered publishes by request id, oldest first. */
  readonly publishes: Map<number, { readonly ref: number; readonly body: EnvelopeBody }>
  readonly streams: Map<string, OrderStream>
  /** Current publisher session per `sid|pk`, to spot a publisher restart. */
  readonly sessions: Map<string, string>
  /**
   * `sid|pk|sess` of publisher sessions a newer one replaced, oldest first (at most
   * `maxOrderStreams`): their late events are dropped, as their streams are gone.
   */
  readonly retired: Set<string>
  readonly dedup: Keys.DedupWindow
  readonly timers: Keys.Timers
  nextId: number
  readonly counters: SessionCounters
}

/**
 * What `initialSession` needs: the node key and the session id drawn at node start (8
 * random bytes, drawn by the actor: the core has no randomness of its own to offer).
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionInit {
  readonly pk: Frame.Bin32
  readonly sess: Frame.Bin8
}

/**
 * A fresh session state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initialSession = (config: Config, init: SessionInit): SessionState => ({
  pk: init.pk,
  sess: init.sess,
  station: undefined,
  seq: 0,
  tseq: new Map(),
  subs: new Map(),
  requests: new Map(),
  publishes: new Map(),
  streams: new Map(),
  sessions: new Map(),
  retired: new Set(),
  dedup: Keys.dedupWindow(config.dedupWindowMs, config.dedupMaxEntries),
  timers: Keys.timers(),
  nextId: 1,
  counters: {
    delivered: 0,
    duplicates: 0,
    dropsEarlier: 0,
    skipped: 0,
    mailboxDrops: 0,
    rebases: 0,
    unknownReplies: 0,
    ignored: 0,
    staleTimers: 0
  }
})

// ---------------------------------------------------------------------------------------------
// Step

interface Turn {
  readonly config: Config
  readonly now: Millis
  readonly out: Array<SessionCommand>
}

type S = SessionState

/**
 * Builds the session's step function for `config`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSessionStep = (config: Config): Step.Step<S, SessionEvent, SessionCommand> => (state, event) => {
  const t: Turn = { config, now: event.now, out: [] }
  switch (event._tag) {
    case "LinkUp":
      linkUp(t, state, event.station)
      break
    case "LinkDown":
      linkDown(state)
      break
    case "Subscribe":
      subscribe(t, state, event.sid, event.realm, event.pattern, event.mode, event.resume)
      break
    case "Unsubscribe":
      unsubscribe(t, state, event.sid)
      break
    case "Publish":
      publish(t, state, event.ref, event.wall, event.realm, event.topic, event.payload)
      break
    case "EventReceived":
      onEvent(t, state, event.frame, event.envelope)
      break
    case "GapReceived":
      onGap(t, state, event.frame)
      break
    case "ReplyReceived":
      onReply(t, state, event.frame)
      break
    case "ResyncReceived":
      if (event.what.includes("sub") && state.station !== undefined) replaySubs(t, state)
      break
    case "Handled":
      onHandled(t, state, event.sid)
      break
    case "TimerFired":
      if (Keys.fire(state.timers, event.timer, event.generation)) onTimer(t, state, event.timer)
      else state.counters.staleTimers++
      break
  }
  return Step.next(state, t.out)
}

const notify = (t: Turn, notice: Notice): void => void t.out.push(Cmd.Notify({ notice }))

const setTimer = (t: Turn, s: S, timer: string, at: Millis): void => {
  t.out.push(Cmd.SetTimer({ timer, at, generation: Keys.arm(s.timers, timer) }))
}

const cancelTimer = (t: Turn, s: S, timer: string): void => {
  if (Keys.disarm(s.timers, timer)) t.out.push(Cmd.CancelTimer({ timer }))
}

// ---------------------------------------------------------------------------------------------
// Link

const linkUp = (t: Turn, s: S, station: string): void => {
  s.station = station
  replaySubs(t, s)
  // Unanswered publishes go again, oldest first; the station dedups by (pk, sess, seq).
  for (const [id, p] of s.publishes) t.out.push(Cmd.Publish({ id, body: p.body }))
}

const linkDown = (s: S): void => {
  s.station = undefined
  for (const [id, r] of s.requests) if (r.kind === "sub" || r.kind === "unsub") s.requests.delete(id)
  for (const sub of s.subs.values()) sub.active = false
}

/** Sends `sub` for every subscription, in sid order, `alo` ones with their resume cursor. */
const replaySubs = (t: Turn, s: S): void => {
  const sids = Array.from(s.subs.keys()).sort((a, b) => a - b)
  for (const sid of sids) sendSub(t, s, s.subs.get(sid)!)
}

const sendSub = (t: Turn, s: S, sub: ClientSubscription): void => {
  const id = s.nextId++
  s.requests.set(id, { kind: "sub", sid: sub.sid })
  const base = { t: "sub" as const, id, sid: sub.sid, realm: sub.realm, pat: sub.pattern, mode: sub.mode }
  const frame: Frame.Sub = sub.alo?.based === true ? { ...base, cur: sub.alo.processed } : base
  if (sub.alo !== undefined) sub.alo.lastAcked = sub.alo.processed
  t.out.push(Cmd.Send({ frame }))
}

// ---------------------------------------------------------------------------------------------
// Requests

const problemOf = (pattern: string, allowPattern: boolean): { code: string; reason: string } | undefined => {
  try {
    if (allowPattern && Topic.isPattern(pattern)) Topic.validatePattern(pattern)
    else Topic.validate(pattern)
    return undefined
  } catch (e) {
    const reason = typeof e === "object" && e !== null && "reason" in e ? String(e.reason) : "invalid_structure"
    return { code: allowPattern && Topic.isPattern(pattern) ? "invalid_pattern" : "invalid_topic", reason }
  }
}

const subscribe = (
  t: Turn,
  s: S,
  sid: number,
  realm: Frame.Bin32,
  pattern: string,
  mode: Frame.SubMode,
  resume: number | undefined
): void => {
  const fail = (code: string, reason?: string): void =>
    notify(t, reason === undefined ? Notice.SubscribeFailed({ sid, code }) : Notice.SubscribeFailed({ sid, code, reason }))
  if (s.subs.has(sid)) return fail("bad_request", "duplicate_sid")
  if (resume !== undefined && !(Number.isSafeInteger(resume) && resume >= 0)) return fail("bad_request", "bad_resume_cursor")
  if (s.subs.size >= t.config.maxSubscriptionsPerClient) return fail("overloaded")
  const problem = problemOf(pattern, true)
  if (problem !== undefined) return fail(problem.code, problem.reason)
  // A resumed subscription is based on the recorded cursor from the start: its `sub` carries
  // it as `cur`, and replayed cursors up to it count as finished (a restarted process has no
  // dedup window left to hide them).
  const alo: AloCursor | undefined = mode === "alo"
    ? {
      based: resume !== undefined,
      processed: resume ?? 0,
      done: [],
      pending: new Set(),
      lastAcked: resume ?? 0,
      ackedAt: Number.NEGATIVE_INFINITY
    }
    : undefined
  const sub: ClientSubscription = { sid, realm, pattern, mode, alo, active: false, mailbox: [], busy: undefined }
  s.subs.set(sid, sub)
  if (s.station !== undefined) sendSub(t, s, sub)
}

const unsubscribe = (t: Turn, s: S, sid: number): void => {
  const sub = s.subs.get(sid)
  if (sub === undefined) return void s.counters.ignored++
  s.subs.delete(sid)
  for (const [key, stream] of s.streams) {
    if (stream.sid !== sid) continue
    s.streams.delete(key)
    cancelTimer(t, s, `order/${key}`)
  }
  cancelTimer(t, s, `ack/${sid}`)
  for (const [id, r] of s.requests) if (r.sid === sid) s.requests.delete(id)
  if (s.station !== undefined) {
    const id = s.nextId++
    s.requests.set(id, { kind: "unsub", sid })
    t.out.push(Cmd.Send({ frame: { t: "unsub", id, sid } }))
  }
}

const publish = (
  t: Turn,
  s: S,
  ref: number,
  wall: number,
  realm: Frame.Bin32,
  topic: string,
  payload: Frame.Any
): void => {
  const fail = (code: string, reason?: string): void =>
    notify(t, reason === undefined ? Notice.PublishFailed({ ref, code }) : Notice.PublishFailed({ ref, code, reason }))
  const problem = problemOf(topic, false)
  if (problem !== undefined) return fail(problem.code, problem.reason)
  if (Topic.isSystem(topic)) return fail("unauthorized", "system_topic")
  if (s.publishes.size >= t.config.maxPendingPublishes) return fail("overloaded", "pending_publishes")
  const known = s.tseq.get(topic)
  if (known === undefined && s.tseq.size >= t.config.maxPublishTopics) return fail("overloaded", "publish_topics")
  const tseq = (known ?? 0) + 1
  s.tseq.set(topic, tseq)
  s.seq++
  const body: EnvelopeBody = {
    realm,
    topic,
    pk: s.pk,
    sess: s.sess,
    seq: s.seq,
    tseq,
    ts: Math.max(0, Math.floor(wall)),
    p: payload
  }
  const id = s.nextId++
  s.publishes.set(id, { ref, body })
  if (s.station !== undefined) t.out.push(Cmd.Publish({ id, body }))
}

const onReply = (t: Turn, s: S, f: Frame.Ok | Frame.Err): void => {
  if (f.id === undefined) return void s.counters.unknownReplies++
  const p = s.publishes.get(f.id)
  if (p !== undefined) {
    s.publishes.delete(f.id)
    if (f.t === "ok") notify(t, Notice.Published({ ref: p.ref }))
    else {
      notify(
        t,
        f.r === undefined
          ? Notice.PublishFailed({ ref: p.ref, code: f.c })
          : Notice.PublishFailed({ ref: p.ref, code: f.c, reason: f.r })
      )
    }
    return
  }
  const r = s.requests.get(f.id)
  if (r === undefined) {
    // The station ends an accepted subscription (its grant was revoked, §13.6) with an `err`
    // naming the `sub` that opened it; anything else is late, or for a request we dropped.
    const ended = f.t === "err" ? Array.from(s.subs.values()).find((sub) => sub.active && sub.acceptedId === f.id) : undefined
    if (ended === undefined || f.t !== "err") return void s.counters.unknownReplies++
    unsubscribeLocally(t, s, ended)
    return void notify(
      t,
      f.r === undefined
        ? Notice.SubscribeFailed({ sid: ended.sid, code: f.c })
        : Notice.SubscribeFailed({ sid: ended.sid, code: f.c, reason: f.r })
    )
  }
  s.requests.delete(f.id)
  if (r.kind === "unsub") return
  const sub = s.subs.get(r.sid)
  if (sub === undefined) return
  if (f.t === "err") {
    unsubscribeLocally(t, s, sub)
    notify(
      t,
      f.r === undefined
        ? Notice.SubscribeFailed({ sid: sub.sid, code: f.c })
        : Notice.SubscribeFailed({ sid: sub.sid, code: f.c, reason: f.r })
    )
    return
  }
  sub.active = true
  sub.acceptedId = f.id
  if (sub.alo !== undefined && !sub.alo.based) {
    sub.alo.based = true
    sub.alo.processed = f.cur ?? 0
    sub.alo.lastAcked = sub.alo.processed
  }
  notify(t, Notice.Subscribed({ sid: sub.sid }))
}

const unsubscribeLocally = (t: Turn, s: S, sub: ClientSubscription): void => {
  s.subs.delete(sub.sid)
  for (const [key, stream] of s.streams) {
    if (stream.sid !== sub.sid) continue
    s.streams.delete(key)
    cancelTimer(t, s, `order/${key}`)
  }
  cancelTimer(t, s, `ack/${sub.sid}`)
}

// ---------------------------------------------------------------------------------------------
// Receiving: dedup, order, mailbox

const onEvent = (t: Turn, s: S, f: Frame.Event, env: EnvelopeBody): void => {
  const pk = Keys.hex(env.pk)
  const sess = Keys.hex(env.sess)
  for (const sid of new Set(f.sid)) {
    const sub = s.subs.get(sid)
    // The station answers `ok` before any event of a subscription on the same lane, so an event
    // for one not (re)accepted on this link belongs to an older connection: ignore it, or it
    // would set the reorder base ahead of the replay that follows.
    if (sub === undefined || !sub.active) {
      s.counters.ignored++
      continue
    }
    const cur = sub.alo !== undefined ? f.cur : undefined
    if (cur !== undefined && sub.alo !== undefined) {
      // A replayed cursor we already hold or finished: nothing new.
      if (isFinished(sub.alo, cur) || sub.alo.pending.has(cur)) {
        s.counters.duplicates++
        continue
      }
      if (cur - sub.alo.processed > 4 * t.config.aloMaxInFlight + t.config.orderBufferMax) {
        s.counters.ignored++ // far beyond any window the station may open: nonsense
        continue
      }
    }
    const item: Item = { envelope: env, cur }
    if (Keys.checkAndRecord(s.dedup, `${sid}|${pk}|${sess}|${env.seq}`, t.now)) {
      s.counters.duplicates++
      finish(t, s, sub, item)
      continue
    }
    if (cur !== undefined) sub.alo!.pending.add(cur)
    order(t, s, sub, pk, sess, item)
  }
}

const streamKey = (sid: number, pk: string, sess: string, topic: string): string => `${sid}|${pk}|${sess}|${topic}`

const order = (t: Turn, s: S, sub: ClientSubscription, pk: string, sess: string, item: Item): void => {
  const sessionKey = `${sub.sid}|${pk}`
  if (s.retired.has(`${sessionKey}|${sess}`)) {
    // A late event of a session already replaced: its stream was flushed and closed, so it
    // could only arrive out of order (below a tseq already handed over).
    s.counters.dropsEarlier++
    return finish(t, s, sub, item)
  }
  const previous = s.sessions.get(sessionKey)
  if (previous !== undefined && previous !== sess) {
    s.retired.add(`${sessionKey}|${previous}`)
    if (s.retired.size > t.config.maxOrderStreams) s.retired.delete(s.retired.values().next().value!)
    // A new publisher session: the old one's buffered events go out in order, then it is gone.
    const prefix = `${sessionKey}|${previous}|`
    for (const [key, stream] of s.streams) {
      if (key.startsWith(prefix)) closeStream(t, s, sub, stream)
    }
    s.counters.rebases++
  }
  s.sessions.delete(sessionKey)
  s.sessions.set(sessionKey, sess)
  if (s.sessions.size > t.config.maxOrderStreams) s.sessions.delete(s.sessions.keys().next().value!)
  const key = streamKey(sub.sid, pk, sess, item.envelope.topic)
  const tseq = item.envelope.tseq
  let stream = s.streams.get(key)
  if (stream === undefined) {
    stream = { key, sid: sub.sid, expected: tseq, buffer: new Map() }
    s.streams.set(key, stream)
    if (s.streams.size > t.config.maxOrderStreams) {
      const oldest = s.streams.values().next().value!
      const owner = s.subs.get(oldest.sid)
      if (owner !== undefined) closeStream(t, s, owner, oldest)
      else s.streams.delete(oldest.key)
    }
  } else {
    s.streams.delete(key) // most recently used goes last
    s.streams.set(key, stream)
  }
  if (tseq < stream.expected) {
    s.counters.dropsEarlier++
    return finish(t, s, sub, item)
  }
  if (tseq === stream.expected) {
    toMailbox(t, s, sub, item)
    stream.expected++
    drain(t, s, sub, stream)
  } else if (tseq - stream.expected > t.config.orderRestartJump) {
    // Counters restarted without a new session: flush what waits, in order, and rebase.
    flushBuffer(t, s, sub, stream)
    s.counters.rebases++
    toMailbox(t, s, sub, item)
    stream.expected = tseq + 1
  } else if (stream.buffer.has(tseq)) {
    s.counters.duplicates++
    return finish(t, s, sub, item)
  } else {
    stream.buffer.set(tseq, item)
    if (stream.buffer.size > t.config.orderBufferMax) skipToSmallest(t, s, sub, stream)
  }
  const timer = `order/${key}`
  if (stream.buffer.size === 0) cancelTimer(t, s, timer)
  else if (!s.timers.armed.has(timer)) setTimer(t, s, timer, t.now + t.config.orderGapWaitMs)
}

const drain = (t: Turn, s: S, sub: ClientSubscription, stream: OrderStream): void => {
  for (let next = stream.buffer.get(stream.expected); next !== undefined; next = stream.buffer.get(stream.expected)) {
    stream.buffer.delete(stream.expected)
    stream.expected++
    toMailbox(t, s, sub, next)
  }
}

const skipToSmallest = (t: Turn, s: S, sub: ClientSubscription, stream: OrderStream): void => {
  let smallest = Number.POSITIVE_INFINITY
  for (const k of stream.buffer.keys()) if (k < smallest) smallest = k
  if (smallest === Number.POSITIVE_INFINITY) return
  s.counters.skipped += smallest - stream.expected
  stream.expected = smallest
  drain(t, s, sub, stream)
}

const flushBuffer = (t: Turn, s: S, sub: ClientSubscription, stream: OrderStream): void => {
  const keys = Array.from(stream.buffer.keys()).sort((a, b) => a - b)
  for (const k of keys) toMailbox(t, s, sub, stream.buffer.get(k)!)
  stream.buffer.clear()
}

const closeStream = (t: Turn, s: S, sub: ClientSubscription, stream: OrderStream): void => {
  flushBuffer(t, s, sub, stream)
  s.streams.delete(stream.key)
  cancelTimer(t, s, `order/${stream.key}`)
}

const toMailbox = (t: Turn, s: S, sub: ClientSubscription, item: Item): void => {
  if (sub.busy === undefined) return handOver(t, s, sub, item)
  sub.mailbox.push(item)
  if (sub.mailbox.length <= t.config.subscriberMailboxSize) return
  s.counters.mailboxDrops++
  if (sub.alo === undefined) {
    sub.mailbox.shift() // §8.6: `amo` drops the oldest
    return
  }
  // `alo`: the newest cannot be held; it is reported, never silently lost.
  const dropped = sub.mailbox.pop()!
  if (dropped.cur !== undefined) {
    notify(t, Notice.Gap({ sid: sub.sid, from: dropped.cur, to: dropped.cur, why: "mailbox_overflow" }))
  }
  finish(t, s, sub, dropped)
}

const handOver = (t: Turn, s: S, sub: ClientSubscription, item: Item): void => {
  sub.busy = item
  s.counters.delivered++
  t.out.push(
    Cmd.Deliver(
      item.cur === undefined
        ? { sid: sub.sid, envelope: item.envelope }
        : { sid: sub.sid, envelope: item.envelope, cur: item.cur }
    )
  )
}

const onHandled = (t: Turn, s: S, sid: number): void => {
  const sub = s.subs.get(sid)
  if (sub === undefined || sub.busy === undefined) return void s.counters.ignored++
  const item = sub.busy
  sub.busy = undefined
  finish(t, s, sub, item)
  const next = sub.mailbox.shift()
  if (next !== undefined) handOver(t, s, sub, next)
}

// ---------------------------------------------------------------------------------------------
// Cursors and acknowledgements (§8.5)

const isFinished = (alo: AloCursor, cur: number): boolean =>
  cur <= alo.processed || alo.done.some(([a, b]) => a <= cur && cur <= b)

/** The item is handled, dropped or reported: its cursor (if any) may be acknowledged. */
const finish = (t: Turn, s: S, sub: ClientSubscription, item: Item): void => {
  if (sub.alo === undefined || item.cur === undefined) return
  sub.alo.pending.delete(item.cur)
  markDone(t, s, sub, item.cur, item.cur)
}

const markDone = (t: Turn, s: S, sub: ClientSubscription, from: number, to: number): void => {
  const alo = sub.alo!
  if (to <= alo.processed) return
  const lo = Math.max(from, alo.processed + 1)
  // Insert [lo, to] into the sorted, disjoint ranges and merge neighbours.
  const ranges = alo.done
  ranges.push([lo, to])
  ranges.sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  for (const r of ranges) {
    const last = merged[merged.length - 1]
    if (last !== undefined && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1])
    else merged.push([r[0], r[1]])
  }
  ranges.length = 0
  for (const r of merged) ranges.push(r)
  while (ranges.length > 0 && ranges[0]![0] <= alo.processed + 1) {
    alo.processed = Math.max(alo.processed, ranges[0]![1])
    ranges.shift()
  }
  if (ranges.length > 4 * t.config.aloMaxInFlight) ranges.splice(0, ranges.length - 4 * t.config.aloMaxInFlight)
  maybeAck(t, s, sub)
}

const maybeAck = (t: Turn, s: S, sub: ClientSubscription): void => {
  const alo = sub.alo!
  if (!alo.based || alo.processed <= alo.lastAcked || s.station === undefined || !sub.active) return
  const due = alo.ackedAt + t.config.aloAckIntervalMs
  if (t.now >= due) sendAck(t, s, sub)
  else if (!s.timers.armed.has(`ack/${sub.sid}`)) setTimer(t, s, `ack/${sub.sid}`, due)
}

const sendAck = (t: Turn, s: S, sub: ClientSubscription): void => {
  const alo = sub.alo!
  alo.lastAcked = alo.processed
  alo.ackedAt = t.now
  cancelTimer(t, s, `ack/${sub.sid}`)
  t.out.push(Cmd.Send({ frame: { t: "ack", sid: sub.sid, cur: alo.processed } }))
}

const onGap = (t: Turn, s: S, f: Frame.Gap): void => {
  const sub = s.subs.get(f.sid)
  if (sub?.alo === undefined || !sub.active || f.to < f.from) return void s.counters.ignored++
  if (f.to <= sub.alo.processed) return void s.counters.duplicates++
  notify(t, Notice.Gap({ sid: f.sid, from: f.from, to: f.to, why: f.why }))
  markDone(t, s, sub, f.from, f.to)
}

// ---------------------------------------------------------------------------------------------
// Timers

const onTimer = (t: Turn, s: S, timer: string): void => {
  if (timer.startsWith("ack/")) {
    const sub = s.subs.get(Number(timer.slice("ack/".length)))
    if (sub?.alo !== undefined && sub.alo.processed > sub.alo.lastAcked && s.station !== undefined && sub.active) {
      sendAck(t, s, sub)
    }
    return
  }
  if (timer.startsWith("order/")) {
    const stream = s.streams.get(timer.slice("order/".length))
    const sub = stream === undefined ? undefined : s.subs.get(stream.sid)
    if (stream === undefined || sub === undefined || stream.buffer.size === 0) return
    // The gap has waited `orderGapWaitMs`: skip it (counted) and deliver what follows.
    skipToSmallest(t, s, sub, stream)
    if (stream.buffer.size > 0) setTimer(t, s, timer, t.now + t.config.orderGapWaitMs)
  }
}

/**
 * Live counts of what the session holds, for tests and the bounded-memory checks.
 *
 * @since 0.1.0
 * @category getters
 */
export const sessionSizes = (s: SessionState): {
  readonly streams: number
  readonly maxOrderBuffer: number
  readonly maxMailbox: number
  readonly dedup: number
  readonly timers: number
} => {
  let maxOrderBuffer = 0, maxMailbox = 0
  for (const st of s.streams.values()) maxOrderBuffer = Math.max(maxOrderBuffer, st.buffer.size)
  for (const sub of s.subs.values()) maxMailbox = Math.max(maxMailbox, sub.mailbox.length)
  return { streams: s.streams.size, maxOrderBuffer, maxMailbox, dedup: s.dedup.seen.size, timers: s.timers.armed.size }
}

/**
 * The station side of RPC (PROTOCOL.md §9) as a sans-IO core:
 * `makeDispatcherStep(config)` gives `step(state, event) -> [state, commands]`.
 *
 * What it does: refuses advertisements and calls in a realm it does not serve (`servedRealms`,
 * `realm_refused`); registers advertisements of attached clients (checking name, signer, serving
 * station and the actor's grant verdict) and asks for their provider records to be stored in
 * the DHT; tombstones providers that withdraw or disconnect (`withdrawn`); routes calls as the
 * caller's home station H — pinned provider, local providers, the resolution cache, then the
 * DHT — preferring local, then non-suspect providers, at random (seeded PRNG) among equals;
 * forwards with the remaining budget (`ttl` = deadline − now − `ttlHopMarginMs`) and `hop` + 1;
 * as the serving station S hands a pinned call to its local provider or answers
 * `provider_gone`; retries idempotent unary calls on another provider (never one already
 * tried) within the deadline, at most `callMaxAttempts`, with doubling backoff, for the error
 * codes §9.4 allows; answers the caller at its deadline and cancels downstream; relays call
 * stream frames, counting credits in both directions and resetting a stream that exceeds them.
 *
 * Key invariants: every call received is answered exactly once upstream (reply, or nothing
 * after the caller's own cancel), never after its deadline; a provider is tried at most once
 * per call; every table is capped by a knob; remote input never throws.
 *
 * State ownership: the tables are updated in place and `step` returns the same object (as the
 * pub/sub cores, for the same reason: large soft-state tables). The actor holds the only
 * reference; tests build separate states from `initialDispatcher`.
 *
 * It does not verify records, check UCANs, talk to the DHT, or run handlers.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import * as Prng from "../../core/Prng.ts"
import * as Step from "../../core/Step.ts"
import * as Topic from "../../topic/Topic.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { ProviderRecordBody } from "../../wire/SignedBody.ts"
import type { Config } from "./Config.ts"
import * as Credit from "./Credit.ts"
import { DispatcherCommand as Cmd } from "./DispatcherCommand.ts"
import type { DispatcherCommand } from "./DispatcherCommand.ts"
import type { DispatcherEvent, PeerId, StreamFrame, StreamSide, Verdict } from "./DispatcherEvent.ts"
import * as Keys from "./Keys.ts"
import * as Outcome from "./Outcome.ts"

// ---------------------------------------------------------------------------------------------
// State

/**
 * A provider a call can be sent to: `provider` served through `station` (ourselves for a
 * local provider).
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate {
  readonly provider: PeerId
  readonly station: PeerId
  readonly modes: ReadonlyArray<Frame.CallMode>
  readonly req: boolean
  /** A local provider: the `id` of its `adv`, which an `err` ending it names (§13.6). */
  readonly advId?: number
}

/**
 * A call this station holds: received from `up`, currently sent down `leg` (if any).
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingCall {
  /** `upstream peer|upstream id`. */
  readonly key: string
  readonly up: { readonly peer: PeerId; readonly id: number; readonly role: "client" | "station" }
  /** The call as received, with `from` set to the caller. */
  readonly frame: Frame.Call
  readonly procKey: string
  readonly deadline: Millis
  readonly receivedAt: Millis
  /** We are the caller's home station (we resolve and retry). */
  readonly home: boolean
  readonly streaming: boolean
  readonly tried: Set<PeerId>
  attempts: number
  leg: { readonly peer: PeerId; readonly id: number; readonly provider: PeerId } | undefined
  phase: "resolving" | "backoff" | "inflight"
  /** Resolution already went to the DHT for this call (a second pass would find nothing new). */
  resolvedFresh: boolean
  lastError: Frame.CallError | undefined
  /** Credits counted by this relay: caller → provider and provider → caller. */
  toProvider: Credit.Window
  toCaller: Credit.Window
}

/**
 * Counters the actor turns into metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface DispatcherCounters {
  calls: number
  forwarded: number
  retries: number
  replied: number
  timeouts: number
  refused: number
  unknownReplies: number
  flowViolations: number
  ignored: number
  staleTimers: number
}

/**
 * The dispatcher's state (mutable, owned by one actor).
 *
 * @since 0.1.0
 * @category models
 */
export interface DispatcherState {
  readonly self: PeerId
  readonly clients: Set<PeerId>
  /** Local providers per `realmHex|proc`. */
  readonly providers: Map<string, Map<PeerId, Candidate>>
  providerCount: number
  /** `realmHex|proc|provider` → until. */
  readonly tombstones: Map<string, Millis>
  readonly cache: Map<string, { readonly at: Millis; readonly list: ReadonlyArray<Candidate> }>
  readonly resolving: Map<string, Set<string>>
  readonly calls: Map<string, PendingCall>
  /** `downstream peer|downstream id` → call key. */
  readonly legs: Map<string, string>
  readonly inFlightFrom: Map<PeerId, number>
  readonly pendingStores: Map<number, { readonly client: PeerId; readonly id: number }>
  readonly dead: Set<PeerId>
  readonly suspects: Set<PeerId>
  readonly timers: Keys.Timers
  prng: Prng.Prng
  nextId: number
  readonly counters: DispatcherCounters
}

/**
 * What `initialDispatcher` needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface DispatcherInit {
  /** This station's key, hex. */
  readonly self: PeerId
  /** Seed of the PRNG that picks among equally good providers. */
  readonly seed: number
}

/**
 * A fresh dispatcher state. Pure: a restarted actor rebuilds it and sends `resync`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initialDispatcher = (init: DispatcherInit): DispatcherState => ({
  self: init.self,
  clients: new Set(),
  providers: new Map(),
  providerCount: 0,
  tombstones: new Map(),
  cache: new Map(),
  resolving: new Map(),
  calls: new Map(),
  legs: new Map(),
  inFlightFrom: new Map(),
  pendingStores: new Map(),
  dead: new Set(),
  suspects: new Set(),
  timers: Keys.timers(),
  prng: Prng.fromSeed(init.seed),
  nextId: 1,
  counters: {
    calls: 0,
    forwarded: 0,
    retries: 0,
    replied: 0,
    timeouts: 0,
    refused: 0,
    unknownReplies: 0,
    flowViolations: 0,
    ignored: 0,
    staleTimers: 0
  }
})

// ---------------------------------------------------------------------------------------------
// Step

interface Turn {
  readonly config: Config
  readonly now: Millis
  readonly out: Array<DispatcherCommand>
}

type S = DispatcherState

/**
 * Builds the dispatcher's step function for `config` (checked beforehand with `problems`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDispatcherStep = (config: Config): Step.Step<S, DispatcherEvent, DispatcherCommand> =>
(state, event) => {
  const t: Turn = { config, now: event.now, out: [] }
  switch (event._tag) {
    case "ClientAttached":
      state.clients.add(event.client)
      break
    case "ClientDetached":
      clientDetached(t, state, event.client)
      break
    case "GrantsRevoked":
      onGrantsRevoked(t, state, event.client, event.realm, event.keep, event.reason)
      break
    case "PeerStatus":
      peerStatus(t, state, event.peer, event.status)
      break
    case "AdvReceived":
      onAdv(t, state, event.client, event.frame, event.record, event.verdict)
      break
    case "UnadvReceived":
      onUnadv(t, state, event.client, event.frame, event.record)
      break
    case "RecordStored":
      onStored(t, state, event.ref, event.acks)
      break
    case "ProvidersResolved":
      onResolved(t, state, event.realm, event.proc, event.records)
      break
    case "CallReceived":
      onCall(t, state, event.from, event.role, event.frame, event.verdict)
      break
    case "ReplyReceived":
      onReply(t, state, event.from, event.frame)
      break
    case "CancelReceived":
      onCancel(t, state, event.from, event.frame.id)
      break
    case "StreamFrameReceived":
      onStreamFrame(t, state, event.from, event.id, event.frame, event.on)
      break
    case "TimerFired":
      if (Keys.fire(state.timers, event.timer, event.generation)) onTimer(t, state, event.timer)
      else state.counters.staleTimers++
      break
  }
  return Step.next(state, t.out)
}

const setTimer = (t: Turn, s: S, timer: string, at: Millis): void => {
  t.out.push(Cmd.SetTimer({ timer, at, generation: Keys.arm(s.timers, timer) }))
}

const cancelTimer = (t: Turn, s: S, timer: string): void => {
  if (Keys.disarm(s.timers, timer)) t.out.push(Cmd.CancelTimer({ timer }))
}

const procKeyOf = (realm: Uint8Array, proc: string): string => `${Keys.hex(realm)}|${proc}`

const procProblem = (proc: string): string | undefined => {
  if (Topic.isPattern(proc) || Topic.isSystem(proc)) return "invalid_structure"
  try {
    Topic.validate(proc)
    return undefined
  } catch (e) {
    return typeof e === "object" && e !== null && "reason" in e ? String(e.reason) : "invalid_structure"
  }
}

const sendErr = (t: Turn, to: PeerId, id: number, c: string, r?: string): void => {
  t.out.push(Cmd.Send({ to, frame: r === undefined ? { t: "err", id, c } : { t: "err", id, c, r } }))
}

/** Served here: every realm when `servedRealms` is empty (§1), else only those listed. */
const realmServed = (t: Turn, realm: Uint8Array): boolean =>
  t.config.servedRealms.length === 0 || t.config.servedRealms.includes(Keys.hex(realm))

const isTombstoned = (t: Turn, s: S, key: string): boolean => {
  const until = s.tombstones.get(key)
  if (until === undefined) return false
  if (until > t.now) return true
  s.tombstones.delete(key)
  return false
}

const tombstone = (t: Turn, s: S, key: string): void => {
  s.tombstones.delete(key)
  s.tombstones.set(key, t.now + t.config.withdrawnTombstoneMs)
  while (s.tombstones.size > t.config.maxCacheEntries) s.tombstones.delete(s.tombstones.keys().next().value!)
}

// ---------------------------------------------------------------------------------------------
// Advertisements (§9.1)

const onAdv = (
  t: Turn,
  s: S,
  client: PeerId,
  f: Frame.Adv,
  rec: ProviderRecordBody,
  verdict: Verdict
): void => {
  if (!s.clients.has(client)) return void s.counters.ignored++
  const refuse = (c: string, r?: string): void => {
    s.counters.refused++
    sendErr(t, client, f.id, c, r)
  }
  if (!realmServed(t, f.realm)) return refuse("realm_refused")
  const problem = procProblem(f.proc)
  if (problem !== undefined) return refuse("invalid_topic", problem)
  if (Keys.hex(rec.pk) !== client) {
    t.out.push(Cmd.Penalise({ peer: client, severity: "major", reason: "adv_foreign_record" }))
    return refuse("unauthorized", "record_signer")
  }
  if (
    Keys.hex(rec.d.realm) !== Keys.hex(f.realm) || rec.d.proc !== f.proc || Keys.hex(rec.d.st) !== s.self ||
    rec.d.gone === true
  ) return refuse("bad_request", "record_mismatch")
  if (verdict._tag === "Denied") return refuse("unauthorized", verdict.reason)
  const procKey = procKeyOf(f.realm, f.proc)
  const held = s.providers.get(procKey)
  if (held?.has(client) !== true && s.providerCount >= t.config.maxProviders) return refuse("overloaded")
  if (s.pendingStores.size >= t.config.maxPendingCalls) return refuse("overloaded")
  const row = held ?? new Map<PeerId, Candidate>()
  if (!row.has(client)) s.providerCount++
  row.set(client, { provider: client, station: s.self, modes: f.modes, req: rec.d.req, advId: f.id })
  s.providers.set(procKey, row)
  s.tombstones.delete(`${procKey}|${client}`)
  const ref = s.nextId++
  s.pendingStores.set(ref, { client, id: f.id })
  t.out.push(Cmd.StoreRecord({ ref, record: f.rec }))
}

const removeProvider = (t: Turn, s: S, procKey: string, client: PeerId): void => {
  const row = s.providers.get(procKey)
  if (row?.delete(client) === true) {
    s.providerCount--
    if (row.size === 0) s.providers.delete(procKey)
  }
  tombstone(t, s, `${procKey}|${client}`)
}

const onUnadv = (t: Turn, s: S, client: PeerId, f: Frame.Unadv, rec: ProviderRecordBody): void => {
  if (!s.clients.has(client)) return void s.counters.ignored++
  if (Keys.hex(rec.pk) !== client || rec.d.gone !== true || rec.d.proc !== f.proc) {
    s.counters.refused++
    return sendErr(t, client, f.id, "bad_request", "record_mismatch")
  }
  removeProvider(t, s, procKeyOf(f.realm, f.proc), client)
  if (s.pendingStores.size >= t.config.maxPendingCalls) {
    return void t.out.push(Cmd.Send({ to: client, frame: { t: "ok", id: f.id } }))
  }
  const ref = s.nextId++
  s.pendingStores.set(ref, { client, id: f.id })
  t.out.push(Cmd.StoreRecord({ ref, record: f.rec }))
}

const onStored = (t: Turn, s: S, ref: number, acks: number): void => {
  const p = s.pendingStores.get(ref)
  if (p === undefined) return void s.counters.ignored++
  s.pendingStores.delete(ref)
  if (s.clients.has(p.client)) {
    t.out.push(Cmd.Send({ to: p.client, frame: { t: "ok", id: p.id, n: Math.max(0, Math.floor(acks)) } }))
  }
}

/**
 * A revocation took `client`'s advertise grants in a realm (§13.6): its advertisements there
 * whose procedure no kept grant names leave the registry (tombstoned, as a withdrawal) and are
 * ended with `err unauthorized` naming their `adv`.
 */
const onGrantsRevoked = (
  t: Turn,
  s: S,
  client: PeerId,
  realm: Uint8Array,
  keep: ReadonlyArray<string>,
  reason: string
): void => {
  const prefix = `${Keys.hex(realm)}|`
  for (const [procKey, row] of Array.from(s.providers)) {
    const held = row.get(client)
    if (held === undefined || !procKey.startsWith(prefix) || keep.includes(procKey.slice(prefix.length))) continue
    removeProvider(t, s, procKey, client)
    s.counters.refused++
    if (held.advId !== undefined && s.clients.has(client)) sendErr(t, client, held.advId, "unauthorized", reason)
  }
}

const clientDetached = (t: Turn, s: S, client: PeerId): void => {
  if (!s.clients.delete(client)) return void s.counters.ignored++
  for (const [procKey, row] of Array.from(s.providers)) if (row.has(client)) removeProvider(t, s, procKey, client)
  for (const [ref, p] of s.pendingStores) if (p.client === client) s.pendingStores.delete(ref)
  lostPeer(t, s, client)
}

const peerStatus = (t: Turn, s: S, peer: PeerId, status: "alive" | "suspect" | "dead"): void => {
  if (status === "alive") {
    s.dead.delete(peer)
    s.suspects.delete(peer)
    return
  }
  if (status === "suspect") return void s.suspects.add(peer)
  s.suspects.delete(peer)
  s.dead.add(peer)
  if (s.dead.size > t.config.maxCacheEntries) s.dead.delete(s.dead.values().next().value!)
  for (const [key, entry] of s.cache) {
    if (entry.list.some((c) => c.station === peer)) s.cache.set(key, { ...entry, list: entry.list.filter((c) => c.station !== peer) })
  }
  lostPeer(t, s, peer)
}

/** A connection is gone: calls it sent are dropped (cancelled downstream), calls sent to it fail. */
const lostPeer = (t: Turn, s: S, peer: PeerId): void => {
  for (const call of Array.from(s.calls.values())) {
    if (call.up.peer === peer) {
      cancelLeg(t, s, call)
      forget(t, s, call)
    } else if (call.leg?.peer === peer) {
      s.legs.delete(`${call.leg.peer}|${call.leg.id}`)
      call.leg = undefined
      failed(t, s, call, { c: "relay_failed", m: "link lost" })
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Calls (§9.2, §9.3)

const reply = (t: Turn, s: S, call: PendingCall, answer: { readonly r?: Frame.Any; readonly e?: Frame.CallError }): void => {
  // At or past the deadline the only answer is its expiry, whatever else arrived first (§9.3).
  const body = t.now >= call.deadline ? { e: { c: "deadline_exceeded" as const } } : answer
  const frame: Frame.Reply = body.e !== undefined
    ? { t: "reply", id: call.up.id, e: body.e }
    : { t: "reply", id: call.up.id, r: body.r ?? null }
  s.counters.replied++
  t.out.push(
    call.streaming ? Cmd.Send({ to: call.up.peer, frame, stream: call.up.id, on: "up" }) : Cmd.Send({ to: call.up.peer, frame })
  )
  forget(t, s, call)
}

/** Drops every trace of the call (timers, leg, counters); sends nothing. */
const forget = (t: Turn, s: S, call: PendingCall): void => {
  if (!s.calls.delete(call.key)) return
  if (call.leg !== undefined) s.legs.delete(`${call.leg.peer}|${call.leg.id}`)
  call.leg = undefined
  s.resolving.get(call.procKey)?.delete(call.key)
  cancelTimer(t, s, `deadline/${call.key}`)
  cancelTimer(t, s, `retry/${call.key}`)
  cancelTimer(t, s, `idle/${call.key}`)
  const n = (s.inFlightFrom.get(call.up.peer) ?? 1) - 1
  if (n <= 0) s.inFlightFrom.delete(call.up.peer)
  else s.inFlightFrom.set(call.up.peer, n)
}

const cancelLeg = (t: Turn, s: S, call: PendingCall): void => {
  if (call.leg === undefined) return
  const frame: Frame.Cancel = { t: "cancel", id: call.leg.id }
  t.out.push(
    call.streaming ? Cmd.Send({ to: call.leg.peer, frame, stream: call.leg.id, on: "leg" }) : Cmd.Send({ to: call.leg.peer, frame })
  )
  s.legs.delete(`${call.leg.peer}|${call.leg.id}`)
  call.leg = undefined
}

const onCall = (t: Turn, s: S, from: PeerId, role: "client" | "station", f: Frame.Call, verdict: Verdict): void => {
  const key = `${from}|${f.id}`
  if (s.calls.has(key)) {
    // §14 row 9: a reused in-flight id is `invalid_field`: the stream it came on is reset and
    // the sender penalised (minor); the call in flight under that id goes on.
    t.out.push(Cmd.RejectFrame({ to: from, code: "invalid_field", reason: "call_id_reused" }))
    t.out.push(Cmd.Penalise({ peer: from, severity: "minor", reason: "call_id_reused" }))
    return void s.counters.ignored++
  }
  const mode: Frame.CallMode = f.mode ?? "unary"
  const streaming = mode !== "unary"
  const refuse = (c: Frame.RpcErrorCode, m?: string): void => {
    s.counters.refused++
    const frame: Frame.Reply = { t: "reply", id: f.id, e: m === undefined ? { c } : { c, m } }
    t.out.push(streaming ? Cmd.Send({ to: from, frame, stream: f.id, on: "up" }) : Cmd.Send({ to: from, frame }))
  }
  s.counters.calls++
  if (f.ttl === 0) return refuse("deadline_exceeded")
  if (f.ttl > t.config.maxCallTtlMs) return refuse("bad_request", "ttl")
  if (f.hop > t.config.maxCallHops) return refuse("loop_detected")
  if (!realmServed(t, f.realm)) return refuse("realm_refused")
  const problem = procProblem(f.proc)
  if (problem !== undefined) return refuse("bad_request", `invalid_topic:${problem}`)
  if (role === "client" && f.from !== undefined) return refuse("bad_request", "from")
  if (role === "station" && f.to === undefined) return refuse("wrong_station")
  if (verdict._tag === "Denied") return refuse("unauthorized", verdict.reason)
  if ((s.inFlightFrom.get(from) ?? 0) >= t.config.maxInFlightCallsPerConn || s.calls.size >= t.config.maxPendingCalls) {
    return refuse("overloaded")
  }
  const fromKey = role === "client" ? Keys.unhex(from) : undefined
  const frame: Frame.Call = fromKey !== undefined ? { ...f, from: fromKey } : f
  const call: PendingCall = {
    key,
    up: { peer: from, id: f.id, role },
    frame,
    procKey: procKeyOf(f.realm, f.proc),
    deadline: t.now + f.ttl,
    receivedAt: t.now,
    home: role === "client",
    streaming,
    tried: new Set(),
    attempts: 0,
    leg: undefined,
    phase: "resolving",
    resolvedFresh: false,
    lastError: undefined,
    toProvider: Credit.open(0),
    toCaller: Credit.open(f.cr ?? t.config.streamInitialCredit)
  }
  s.calls.set(key, call)
  s.inFlightFrom.set(from, (s.inFlightFrom.get(from) ?? 0) + 1)
  setTimer(t, s, `deadline/${key}`, call.deadline)
  if (streaming) setTimer(t, s, `idle/${key}`, t.now + t.config.streamIdleTimeoutMs)
  route(t, s, call)
}

const localCandidates = (s: S, call: PendingCall): Array<Candidate> => {
  const row = s.providers.get(call.procKey)
  return row === undefined ? [] : Array.from(row.values())
}

const servesMode = (c: Candidate, call: PendingCall): boolean =>
  c.modes.length === 0 || c.modes.includes(call.frame.mode ?? "unary")

/** Sends the call to the best untried provider, asks the DHT, or gives up. */
const route = (t: Turn, s: S, call: PendingCall): void => {
  const pinned = call.frame.to === undefined ? undefined : Keys.hex(call.frame.to)
  const usable = (c: Candidate): boolean =>
    !call.tried.has(c.provider) && !s.dead.has(c.station) && servesMode(c, call) &&
    (pinned === undefined || c.provider === pinned) && !isTombstoned(t, s, `${call.procKey}|${c.provider}`)
  const local = localCandidates(s, call).filter(usable)
  if (!call.home) {
    // Serving station: only the pinned local provider will do; nothing is forwarded further.
    if (local.length > 0) return forward(t, s, call, local[0]!)
    const gone = pinned !== undefined && isTombstoned(t, s, `${call.procKey}|${pinned}`)
    return reply(t, s, call, { e: call.lastError ?? { c: gone ? "withdrawn" : "provider_gone" } })
  }
  if (local.length > 0) return forward(t, s, call, pick(s, local))
  const cached = s.cache.get(call.procKey)
  const fresh = cached !== undefined && t.now - cached.at < t.config.providerCacheMs
  if (fresh) {
    const remote = cached.list.filter((c) => usable(c) && c.station !== s.self)
    if (remote.length > 0) {
      const calm = remote.filter((c) => !s.suspects.has(c.station))
      return forward(t, s, call, pick(s, calm.length > 0 ? calm : remote))
    }
  }
  if (!call.resolvedFresh) return resolve(t, s, call)
  s.counters.refused++
  reply(t, s, call, { e: call.lastError ?? { c: "no_provider" } })
}

const pick = (s: S, from: ReadonlyArray<Candidate>): Candidate => {
  const [i, next] = Prng.nextInt(s.prng, 0, from.length - 1)
  s.prng = next
  return from[i]!
}

const resolve = (t: Turn, s: S, call: PendingCall): void => {
  call.phase = "resolving"
  call.resolvedFresh = true
  const waiting = s.resolving.get(call.procKey)
  if (waiting !== undefined) return void waiting.add(call.key) // one lookup serves every waiting call
  if (s.resolving.size >= t.config.maxCacheEntries) return reply(t, s, call, { e: { c: "overloaded" } })
  s.resolving.set(call.procKey, new Set([call.key]))
  t.out.push(Cmd.ResolveProviders({ realm: call.frame.realm, proc: call.frame.proc }))
}

const onResolved = (t: Turn, s: S, realm: Uint8Array, proc: string, records: ReadonlyArray<ProviderRecordBody>): void => {
  const procKey = procKeyOf(realm, proc)
  const list: Array<Candidate> = []
  const seen = new Set<PeerId>()
  for (const r of records) {
    const provider = Keys.hex(r.pk)
    const station = Keys.hex(r.d.st)
    if (r.d.gone === true || r.d.proc !== proc || Keys.hex(r.d.realm) !== Keys.hex(realm)) continue
    if (seen.has(provider) || s.dead.has(station)) continue
    seen.add(provider)
    list.push({ provider, station, modes: r.d.modes, req: r.d.req })
  }
  s.cache.delete(procKey)
  s.cache.set(procKey, { at: t.now, list })
  while (s.cache.size > t.config.maxCacheEntries) s.cache.delete(s.cache.keys().next().value!)
  const waiting = s.resolving.get(procKey)
  s.resolving.delete(procKey)
  for (const key of waiting ?? []) {
    const call = s.calls.get(key)
    if (call !== undefined && call.phase === "resolving") route(t, s, call)
  }
}

const forward = (t: Turn, s: S, call: PendingCall, c: Candidate): void => {
  const ttl = call.deadline - t.now - t.config.ttlHopMarginMs
  if (ttl <= 0) return reply(t, s, call, { e: { c: "deadline_exceeded" } })
  const to = Keys.unhex(c.provider)
  if (to === undefined) return reply(t, s, call, { e: { c: "no_provider" } })
  const id = s.nextId++
  const peer = c.station === s.self ? c.provider : c.station
  const frame: Frame.Call = { ...call.frame, id, ttl, hop: call.frame.hop + 1, to }
  call.tried.add(c.provider)
  call.attempts++
  call.phase = "inflight"
  call.leg = { peer, id, provider: c.provider }
  s.legs.set(`${peer}|${id}`, call.key)
  s.counters.forwarded++
  t.out.push(call.streaming ? Cmd.Send({ to: peer, frame, stream: id, on: "leg" }) : Cmd.Send({ to: peer, frame }))
}

const onReply = (t: Turn, s: S, from: PeerId, f: Frame.Reply): void => {
  const key = s.legs.get(`${from}|${f.id}`)
  const call = key === undefined ? undefined : s.calls.get(key)
  if (call === undefined) return void s.counters.unknownReplies++ // §14 row 10: late, after a timeout
  s.legs.delete(`${from}|${f.id}`)
  call.leg = undefined
  // Never answer after the deadline with anything but its expiry (the timer may be queued behind us).
  if (t.now >= call.deadline) return reply(t, s, call, { e: { c: "deadline_exceeded" } })
  if (f.e === undefined) return reply(t, s, call, { r: f.r ?? null })
  failed(t, s, call, f.e)
}

/** The current attempt failed with `e`: retry elsewhere when §9.3 allows, else pass it up. */
const failed = (t: Turn, s: S, call: PendingCall, e: Frame.CallError): void => {
  call.lastError = e
  const idem = call.frame.idem && !call.streaming
  if (Outcome.staleRouting(e.c)) s.cache.delete(call.procKey)
  if (!call.home || !idem || !Outcome.retryable(e.c) || call.attempts >= t.config.callMaxAttempts) {
    return reply(t, s, call, { e })
  }
  const wait = t.config.callRetryBackoffMs * 2 ** (call.attempts - 1)
  if (t.now + wait + t.config.ttlHopMarginMs >= call.deadline) return reply(t, s, call, { e })
  s.counters.retries++
  call.phase = "backoff"
  // A fresh resolution may find providers the stale cache did not have.
  if (Outcome.staleRouting(e.c)) call.resolvedFresh = false
  setTimer(t, s, `retry/${call.key}`, t.now + wait)
}

const onCancel = (t: Turn, s: S, from: PeerId, id: number): void => {
  const call = s.calls.get(`${from}|${id}`)
  if (call === undefined) return void s.counters.ignored++
  cancelLeg(t, s, call)
  forget(t, s, call)
}

// ---------------------------------------------------------------------------------------------
// Call streams (§9.5): credits end to end, counted here so excess never travels on.

const onStreamFrame = (t: Turn, s: S, from: PeerId, id: number, f: StreamFrame, on: StreamSide | undefined): void => {
  const upCall = on === "leg" ? undefined : s.calls.get(`${from}|${id}`)
  const legKey = on === "up" ? undefined : s.legs.get(`${from}|${id}`)
  const call = upCall ?? (legKey === undefined ? undefined : s.calls.get(legKey))
  if (call === undefined || !call.streaming) return void s.counters.ignored++
  const fromCaller = upCall !== undefined
  setTimer(t, s, `idle/${call.key}`, t.now + t.config.streamIdleTimeoutMs)
  if (f.t === "s.data") {
    const window = fromCaller ? call.toProvider : call.toCaller
    const after = Credit.take(window)
    if (after === undefined) return flowViolation(t, s, call, fromCaller)
    if (fromCaller) call.toProvider = after
    else call.toCaller = after
  } else if (f.t === "s.credit") {
    if (fromCaller) call.toCaller = Credit.grant(call.toCaller, f.n)
    else call.toProvider = Credit.grant(call.toProvider, f.n)
  }
  if (fromCaller) {
    // Before a leg exists the provider granted nothing, so only credit and end can get here.
    if (call.leg !== undefined) t.out.push(Cmd.Send({ to: call.leg.peer, frame: f, stream: call.leg.id, on: "leg" }))
  } else t.out.push(Cmd.Send({ to: call.up.peer, frame: f, stream: call.up.id, on: "up" }))
}

const flowViolation = (t: Turn, s: S, call: PendingCall, byCaller: boolean): void => {
  s.counters.flowViolations++
  if (byCaller) {
    t.out.push(Cmd.ResetStream({ to: call.up.peer, stream: call.up.id, code: "flow_control", on: "up" }))
    cancelLeg(t, s, call)
    return forget(t, s, call)
  }
  const leg = call.leg!
  t.out.push(Cmd.ResetStream({ to: leg.peer, stream: leg.id, code: "flow_control", on: "leg" }))
  s.legs.delete(`${leg.peer}|${leg.id}`)
  call.leg = undefined
  reply(t, s, call, { e: { c: "relay_failed", m: "flow_control" } })
}

// ---------------------------------------------------------------------------------------------
// Timers

const onTimer = (t: Turn, s: S, timer: string): void => {
  const slash = timer.indexOf("/")
  const kind = timer.slice(0, slash)
  const call = s.calls.get(timer.slice(slash + 1))
  if (call === undefined) return
  if (kind === "deadline" || kind === "idle") {
    // §9.3: at the deadline answer upstream and cancel downstream.
    s.counters.timeouts++
    cancelLeg(t, s, call)
    return reply(t, s, call, { e: { c: "deadline_exceeded" } })
  }
  if (kind === "retry" && call.phase === "backoff") {
    if (t.now >= call.deadline) return reply(t, s, call, { e: { c: "deadline_exceeded" } })
    route(t, s, call)
  }
}

/**
 * Live counts, for tests, metrics and the bounded-memory checks.
 *
 * @since 0.1.0
 * @category getters
 */
export const dispatcherSizes = (s: DispatcherState): {
  readonly calls: number
  readonly legs: number
  readonly providers: number
  readonly cache: number
  readonly tombstones: number
  readonly timers: number
} => ({
  calls: s.calls.size,
  legs: s.legs.size,
  providers: s.providerCount,
  cache: s.cache.size,
  tombstones: s.tombstones.size,
  timers: s.timers.armed.size
})

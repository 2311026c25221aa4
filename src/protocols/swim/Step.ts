/**
 * The SWIM core as one pure function: `makeStep(config)` gives `step(state, event) ->
 * [state, commands]`, total over every `Event` tag (PROTOCOL.md §11).
 *
 * Each call builds a fresh `Turn` (config, the event's `now`, an empty command list), routes
 * the event to the module that owns it (`Probe` for the failure detector, `Membership` for
 * claims, push-pull and the local requests here) and returns the new state with the commands
 * in the order the actor must carry them out.
 *
 * Key invariants: a timer whose generation is not the current one for its key does nothing
 * (stale-timer guard); remote input never throws, it is applied, ignored or counted; the step
 * reads no clock and draws randomness only from the state's PRNG, so the same state and
 * events give the same result.
 *
 * @see Das et al., SWIM (2002); Dadgar et al., Lifeguard (2018).
 * @since 0.1.0
 */
import * as Step from "../../core/Step.ts"
import * as Check from "./Check.ts"
import * as Claims from "./Claims.ts"
import type { Claim, MemberId } from "./Claims.ts"
import type { Command } from "./Command.ts"
import { Command as Cmd } from "./Command.ts"
import type { Config } from "./Config.ts"
import { Event } from "./Event.ts"
import * as Membership from "./Membership.ts"
import { Packet } from "./Packet.ts"
import * as Probe from "./Probe.ts"
import * as State from "./State.ts"
import type { Turn } from "./State.ts"
import * as Timer from "./Timer.ts"
import type { TimerKey } from "./Timer.ts"

type S = State.State

/**
 * Builds the step function for `config` (checked beforehand with `problems`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStep = (config: Config): Step.Step<S, Event, Command> => (state, event) => {
  const t: Turn = { config, now: event.now, out: [] }
  const after = Event.$match(event, {
    Start: () => start(t, state),
    Join: (e) => join(t, state, e.peers),
    PacketReceived: (e) => onPacket(t, state, e.from, e.packet),
    SendFailed: (e) => onSendFailed(t, state, e.to, e.packet),
    TimerFired: (e) =>
      State.isCurrentTimer(state, e.timer, e.generation)
        ? onTimer(t, State.forgetTimer(state, e.timer), e.timer)
        : State.count(state, "staleTimers"), // superseded by a later SetTimer, or cancelled
    UpdateAddresses: (e) => updateAddresses(t, state, e.addrs),
    Leave: () => leave(t, state)
  })
  return after === state && t.out.length === 0 ? Step.unchanged(state) : Step.next(after, t.out)
}

// ---------------------------------------------------------------------------------------------
// Local requests

const start = (t: Turn, s: S): S => {
  if (s.started) return State.count(s, "ignoredEvents")
  // Persist first: the incarnation must be on disk before any claim carrying it leaves.
  t.out.push(Cmd.PersistIncarnation({ incarnation: s.self.incarnation }))
  let out: S = State.gossip(t, { ...s, started: true }, State.ownClaim(s))
  // Random first deadlines, so stations started together do not probe in lock-step.
  const [probeAt, a] = State.randomInt(out, 0, t.config.probeIntervalMs - 1)
  out = State.setTimer(t, a, Timer.probe, t.now + probeAt)
  if (t.config.pushPullIntervalMs > 0) {
    const [syncAt, b] = State.randomInt(out, 0, t.config.pushPullIntervalMs - 1)
    out = State.setTimer(t, b, Timer.pushPull, t.now + t.config.pushPullIntervalMs + syncAt)
  }
  return out
}

const join = (t: Turn, s: S, peers: ReadonlyArray<MemberId>): S => {
  let out = s
  const seen = new Set<MemberId>()
  for (const peer of peers) {
    if (peer === s.self.id || seen.has(peer) || seen.size >= t.config.maxPendingSyncs) continue
    seen.add(peer)
    out = requestSync(t, out, peer)
  }
  return out
}

const updateAddresses = (t: Turn, s: S, addrs: ReadonlyArray<string>): S => {
  if (s.self.leaving || Claims.sameAddrs(s.self.addrs, addrs)) return s
  if (s.self.incarnation >= Claims.maxIncarnation) return State.count(s, "unrefutable")
  const incarnation = s.self.incarnation + 1
  const out: S = { ...s, self: { ...s.self, incarnation, addrs: [...addrs] } }
  t.out.push(Cmd.PersistIncarnation({ incarnation }))
  return State.gossip(t, out, State.ownClaim(out))
}

const leave = (t: Turn, s: S): S => {
  if (s.self.leaving) return s
  let out: S = { ...s, self: { ...s.self, leaving: true } }
  out = State.gossip(t, out, State.ownClaim(out))
  // Push the leave straight to a few members rather than waiting for our next probes; the
  // acks they return are not tracked (a leaving station counts no unexpected acks).
  const [targets, sampled] = State.sample(out, State.withStatus(out, "alive"), Math.max(1, t.config.indirectProbes))
  out = sampled
  for (const to of targets) {
    const [seq, numbered] = State.takeSeq(out)
    const [claims, after] = Probe.piggyback(t, numbered, to)
    out = after
    t.out.push(Cmd.Send({ to, packet: Packet.Ping({ seq, claims }) }))
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Network

const onPacket = (t: Turn, s: S, from: MemberId, packet: Packet): S => {
  if (from === s.self.id) return State.count(s, "ignoredEvents")
  return Packet.$match(packet, {
    Ping: (p) => {
      const out = Membership.applyAll(t, s, p.claims, from)
      const [claims, after] = Probe.ackClaims(t, out, from, p.claims)
      t.out.push(Cmd.Send({ to: from, packet: Packet.Ack({ seq: p.seq, claims }) }))
      return after
    },
    PingReq: (p) => Probe.onPingReq(t, Membership.applyAll(t, s, p.claims, from), from, p.seq, p.target),
    Ack: (p) => {
      // Looked up before the claims, which may carry the refutation that ends the suspicion.
      const checked = Check.owner(s, from, p.seq)
      const out = Membership.applyAll(t, s, p.claims, from)
      return checked === undefined ? Probe.onAck(t, out, from, p.seq) : Check.answered(t, out, checked)
    },
    // A helper's nack to a last probe only says it heard nothing; the timer decides.
    Nack: (p) => Check.owner(s, from, p.seq) === undefined ? Probe.onNack(s, from, p.seq) : s,
    Sync: (p) => onSync(t, s, from, p.seq, p.claims)
  })
}

const onSync = (t: Turn, s: S, from: MemberId, seq: number, claims: ReadonlyArray<Claim>): S => {
  // A full state never needs more than two claims per member plus the sender's own.
  const cap = 2 * t.config.swimMaxMembers + 1
  let out = claims.length > cap ? State.count(s, "syncClaimsDropped", claims.length - cap) : s
  out = Membership.applyAll(t, out, claims.length > cap ? claims.slice(0, cap) : claims, from)
  if (out.pendingSyncs.get(seq) === from) {
    const pendingSyncs = new Map(out.pendingSyncs)
    pendingSyncs.delete(seq)
    return { ...out, pendingSyncs }
  }
  t.out.push(Cmd.Send({ to: from, packet: Packet.Sync({ seq, claims: State.snapshot(out) }) }))
  return out
}

const onSendFailed = (t: Turn, s: S, to: MemberId, packet: Packet): S => {
  if (packet._tag === "Ping") {
    const handled = Probe.onPingFailed(t, s, to, packet.seq) ?? Check.onPingFailed(t, s, to, packet.seq)
    if (handled !== undefined) return handled
  }
  if (packet._tag === "Sync" && s.pendingSyncs.get(packet.seq) === to) {
    const pendingSyncs = new Map(s.pendingSyncs)
    pendingSyncs.delete(packet.seq)
    return { ...s, pendingSyncs }
  }
  // Acks, nacks and ping-reqs are best effort: a lost one is a lost packet, which SWIM absorbs.
  return State.count(s, "sendFailures")
}

// ---------------------------------------------------------------------------------------------
// Timers (already checked current and forgotten)

const onTimer = (t: Turn, s: S, timer: TimerKey): S => {
  const parsed = Timer.parse(timer)
  switch (parsed._tag) {
    case "Probe":
      return Probe.tick(t, s)
    case "ProbeTimeout":
      return Probe.goIndirect(t, s)
    case "PushPull":
      return pushPull(t, s)
    case "Suspicion":
      return Check.onTimer(t, s, parsed.member)
    case "Relay":
      return Probe.onRelayTimer(t, s, parsed.seq)
    case "Unknown":
      return State.count(s, "ignoredEvents")
  }
}

const pushPull = (t: Turn, s: S): S => {
  let out = State.setTimer(t, s, Timer.pushPull, t.now + t.config.pushPullIntervalMs)
  if (out.self.leaving) return out
  // Tombstones (not those that left) are candidates too, as memberlist gossips to the
  // recently dead: after a partition heals, the two sides have declared each other dead and
  // would never talk again; a sync carries the dead claim to its subject, which refutes.
  const tombs = State.withStatus(out, "dead").filter((id) => !Claims.isLeave(out.members.get(id)!.claim))
  const [partner, sampled] = State.sample(out, [...State.withStatus(out, "alive"), ...tombs], 1)
  out = sampled
  return partner[0] === undefined ? out : requestSync(t, out, partner[0])
}

/** Sends our full state to `peer` and remembers the request (oldest forgotten past the cap). */
const requestSync = (t: Turn, s: S, peer: MemberId): S => {
  const [seq, out] = State.takeSeq(s)
  const pendingSyncs = new Map(out.pendingSyncs)
  while (pendingSyncs.size >= t.config.maxPendingSyncs) {
    const oldest = pendingSyncs.keys().next()
    if (oldest.done === true) break
    pendingSyncs.delete(oldest.value)
  }
  pendingSyncs.set(seq, peer)
  t.out.push(Cmd.Send({ to: peer, packet: Packet.Sync({ seq, claims: State.snapshot(out) }) }))
  return { ...out, pendingSyncs }
}

/**
 * SWIM's failure detector (PROTOCOL.md §11.3) with Lifeguard's nacks, local health and buddy
 * system (§11.4): the probe round, indirect probes, and the relays this station runs when
 * others ask it to probe for them.
 *
 * One probe per interval: ping the next member of a round-robin list that is reshuffled
 * every pass (the SWIM paper's variant that bounds the time to first detection by one pass,
 * where uniformly random targets only bound it in expectation). No ack within the timeout:
 * ask k helpers to probe too, so one bad link does not condemn a member. No ack by the end
 * of the interval: suspect it. Interval and timeout stretch with local health, so a member
 * that cannot keep up accuses less.
 *
 * Key invariants: at most one probe is in flight; only the target or an asked helper can
 * complete it, and each helper's nack counts once; a relay answers its requester at most
 * once with a nack and once with an ack; every piggyback respects `maxPiggybackClaims`.
 *
 * @see Das et al., SWIM (2002), §3 and §4.3 "Round-Robin Probe Target Selection".
 * @see Dadgar et al., Lifeguard (2018), §IV.A, §IV.C "Buddy System".
 * @since 0.1.0
 */
import * as Prng from "../../core/Prng.ts"
import * as Awareness from "./Awareness.ts"
import type { Claim, MemberId } from "./Claims.ts"
import { Command } from "./Command.ts"
import * as Dissemination from "./Dissemination.ts"
import * as Membership from "./Membership.ts"
import { Packet } from "./Packet.ts"
import * as State from "./State.ts"
import type { Turn } from "./State.ts"
import * as Timer from "./Timer.ts"

type S = State.State

/**
 * The claims to piggyback on a packet to `to`: its own suspect claim first when we suspect
 * it (the buddy system: it learns of the accusation from the very member probing it, and
 * refutes at once), then the least-sent queued claims, `maxPiggybackClaims` in all. We put
 * the buddy claim on acks too, which helps a suspect that is probing us.
 *
 * @since 0.1.0
 * @category combinators
 */
export const piggyback = (
  t: Turn,
  s: S,
  to: MemberId,
  first?: Claim
): readonly [ReadonlyArray<Claim>, S] => {
  const m = s.members.get(to)
  const buddy = t.config.lifeguard && m?.status === "suspect" ? m.claim : undefined
  const limit = Dissemination.retransmitLimit(t.config.retransmitMult, State.clusterSize(s))
  const head = [...(buddy === undefined ? [] : [buddy]), ...(first === undefined ? [] : [first])]
  const room = t.config.maxPiggybackClaims - head.length
  const [taken, queue] = Dissemination.take(s.queue, room, limit, buddy === undefined ? undefined : to)
  // `first` may also sit in the queue: it goes out once, in front.
  const claims = first === undefined ? taken : taken.filter((c) => c.subject !== first.subject)
  return [head.length === 0 ? claims : [...head, ...claims], { ...s, queue }]
}

/**
 * The claims of our ack to `to`, whose ping carried `received`. As `piggyback`, except that
 * when the ping accused us below our current incarnation (the pinger missed our refutation,
 * or we refuted just now), our own alive claim goes first: the pinger learns the refutation
 * from this very answer, whatever else waits in the queue. This is the buddy system's other
 * half (Lifeguard only, like the buddy claim); it makes the last probe before a verdict
 * (`Check.ts`) conclusive.
 *
 * @since 0.1.0
 * @category combinators
 */
export const ackClaims = (
  t: Turn,
  s: S,
  to: MemberId,
  received: ReadonlyArray<Claim>
): readonly [ReadonlyArray<Claim>, S] => {
  const accused = t.config.lifeguard && !s.self.leaving && received.some((c) =>
    c.subject === s.self.id && c.kind !== "alive" && c.incarnation < s.self.incarnation
  )
  return piggyback(t, s, to, accused ? State.ownClaim(s) : undefined)
}

/**
 * The next member to probe: the next listed member that is still live; at the end of a
 * pass, the live members are reshuffled with the state's PRNG into a new list.
 *
 * @since 0.1.0
 * @category combinators
 */
export const nextTarget = (s: S): readonly [MemberId | undefined, S] => {
  let order = s.order
  let cursor = s.cursor
  let prng = s.prng
  for (let pass = 0; pass < 2; pass++) {
    while (cursor < order.length) {
      const id = order[cursor++]!
      const m = s.members.get(id)
      if (m !== undefined && m.status !== "dead") return [id, { ...s, order, cursor, prng }]
    }
    const ids = State.withStatus(s, "alive").concat(State.withStatus(s, "suspect"))
    if (ids.length === 0) break
    const shuffled = [...ids]
    for (let i = shuffled.length - 1; i > 0; i--) {
      const [j, next] = Prng.nextInt(prng, 0, i)
      prng = next
      const tmp = shuffled[i]!
      shuffled[i] = shuffled[j]!
      shuffled[j] = tmp
    }
    order = shuffled
    cursor = 0
  }
  return [undefined, { ...s, order: [], cursor: 0, prng }]
}

/**
 * The `probe` timer fired: settle the previous probe (a miss makes a suspect), expire
 * tombstones, ping the next member and arm the timeout and the next round.
 *
 * @since 0.1.0
 * @category combinators
 */
export const tick = (t: Turn, s: S): S => {
  let out = Membership.reap(t, settle(t, s))
  const h = out.health
  out = State.setTimer(t, out, Timer.probe, t.now + Awareness.scale(t.config.probeIntervalMs, h))
  const [target, picked] = nextTarget(out)
  if (target === undefined) return picked
  const [seq, numbered] = State.takeSeq(picked)
  const [claims, sent] = piggyback(t, numbered, target)
  t.out.push(Command.Send({ to: target, packet: Packet.Ping({ seq, claims }) }))
  out = {
    ...sent,
    probe: { seq, target, startedAt: t.now, indirect: false, helpers: [], nacks: [], acked: false }
  }
  return State.setTimer(t, out, Timer.probeTimeout, t.now + Awareness.scale(t.config.probeTimeoutMs, h))
}

/**
 * No direct ack in time (or the ping could not be sent): ask up to `indirectProbes` random
 * alive members, other than the target, to probe it for us under the same `seq`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const goIndirect = (t: Turn, s: S): S => {
  const p = s.probe
  if (p === undefined || p.acked || p.indirect) return s
  const candidates = State.withStatus(s, "alive").filter((id) => id !== p.target)
  const [helpers, sampled] = State.sample(s, candidates, t.config.indirectProbes)
  let out = sampled
  for (const helper of helpers) {
    const [claims, after] = piggyback(t, out, helper)
    out = after
    t.out.push(Command.Send({ to: helper, packet: Packet.PingReq({ seq: p.seq, target: p.target, claims }) }))
  }
  return { ...out, probe: { ...p, indirect: true, helpers } }
}

/**
 * An ack arrived: it completes our probe (from the target or an asked helper), or it is the
 * target's answer to a relay we run, which we pass back to the requester; else it is counted.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onAck = (t: Turn, s: S, from: MemberId, seq: number): S => {
  const p = s.probe
  if (p !== undefined && p.seq === seq && !p.acked && (from === p.target || p.helpers.includes(from))) {
    const health = t.config.lifeguard ? Awareness.adjust(s.health, -1, t.config.awarenessMaxMult) : s.health
    return State.cancelTimer(t, { ...s, health, probe: { ...p, acked: true } }, Timer.probeTimeout)
  }
  const r = s.relays.get(seq)
  if (r !== undefined && r.target === from) {
    const [claims, after] = piggyback(t, s, r.requester)
    t.out.push(Command.Send({ to: r.requester, packet: Packet.Ack({ seq: r.requesterSeq, claims }) }))
    return State.cancelTimer(t, dropRelay(after, seq), Timer.relay(seq))
  }
  return s.self.leaving ? s : State.count(s, "unexpectedAcks")
}

/**
 * A nack arrived: one of our helpers heard nothing from the target (counted once each).
 *
 * @since 0.1.0
 * @category combinators
 */
export const onNack = (s: S, from: MemberId, seq: number): S => {
  const p = s.probe
  if (p === undefined || p.seq !== seq || !p.helpers.includes(from) || p.nacks.includes(from)) {
    return State.count(s, "unexpectedNacks")
  }
  return { ...s, probe: { ...p, nacks: [...p.nacks, from] } }
}

/**
 * A member asks us to probe `target` for it. We ping the target under a `seq` of our own
 * and pass its ack back; with Lifeguard, a nack follows at `nackFraction × probeTimeoutMs`
 * if the target stayed silent. Past `maxPendingRelays` the request is dropped and counted.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onPingReq = (t: Turn, s: S, from: MemberId, requesterSeq: number, target: MemberId): S => {
  if (target === s.self.id) {
    // Asked to probe ourselves: we are evidently up, so answer directly.
    const [claims, after] = piggyback(t, s, from)
    t.out.push(Command.Send({ to: from, packet: Packet.Ack({ seq: requesterSeq, claims }) }))
    return after
  }
  if (s.relays.size >= t.config.maxPendingRelays) return State.count(s, "relaysDropped")
  const [seq, numbered] = State.takeSeq(s)
  // With Lifeguard only the buddy claim rides on a relayed ping: its target is one the
  // requester could not reach, likely down, and a claim sent into the void still counts one of
  // its transmissions (with every last probe before a verdict asking helpers, a partition or a
  // burst of crashes wasted most of the piggyback room that way). Plain SWIM, which has no
  // last probe, keeps its gossip there: its suspects learn of accusations only by gossip.
  const m = numbered.members.get(target)
  const [claims, after] = !t.config.lifeguard
    ? piggyback(t, numbered, target)
    : [m?.status === "suspect" ? [m.claim] : [], numbered] as const
  t.out.push(Command.Send({ to: target, packet: Packet.Ping({ seq, claims }) }))
  // Without Lifeguard there is no nack: the relay only waits for the ack, then expires.
  const relay = { requester: from, requesterSeq, target, startedAt: t.now, nacked: !t.config.lifeguard }
  const relays = new Map(after.relays).set(seq, relay)
  const firstDue = t.config.lifeguard
    ? t.now + Math.floor(t.config.nackFraction * t.config.probeTimeoutMs)
    : t.now + t.config.probeIntervalMs
  return State.setTimer(t, { ...after, relays }, Timer.relay(seq), firstDue)
}

/**
 * A relay's timer fired: send the nack if not sent yet and wait for a late ack until the end
 * of the requester's interval; after that, forget the relay.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onRelayTimer = (t: Turn, s: S, seq: number): S => {
  const r = s.relays.get(seq)
  if (r === undefined) return s
  if (r.nacked) return dropRelay(s, seq)
  t.out.push(Command.Send({ to: r.requester, packet: Packet.Nack({ seq: r.requesterSeq }) }))
  const relays = new Map(s.relays).set(seq, { ...r, nacked: true })
  return State.setTimer(t, { ...s, relays }, Timer.relay(seq), Math.max(t.now, r.startedAt + t.config.probeIntervalMs))
}

/**
 * A ping of ours could not be sent. For the current probe, a failed dial counts as a failed
 * direct probe (§11.3), so helpers are asked at once; for a relay, the requester gets its
 * nack at once. Returns `undefined` if the packet concerned neither.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onPingFailed = (t: Turn, s: S, to: MemberId, seq: number): S | undefined => {
  const p = s.probe
  if (p !== undefined && p.seq === seq && p.target === to) {
    return goIndirect(t, State.cancelTimer(t, s, Timer.probeTimeout))
  }
  const r = s.relays.get(seq)
  if (r !== undefined && r.target === to) {
    if (!r.nacked) t.out.push(Command.Send({ to: r.requester, packet: Packet.Nack({ seq: r.requesterSeq }) }))
    return State.cancelTimer(t, dropRelay(s, seq), Timer.relay(seq))
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------

/** Ends the previous probe: nothing to do if acked; else adjust health and accuse the target. */
const settle = (t: Turn, s: S): S => {
  const p = s.probe
  if (p === undefined) return s
  let out: S = State.cancelTimer(t, { ...s, probe: undefined }, Timer.probeTimeout)
  if (p.acked) return out
  if (t.config.lifeguard) {
    const delta = Awareness.afterFailedProbe(p.helpers.length, p.nacks.length)
    out = { ...out, health: Awareness.adjust(out.health, delta, t.config.awarenessMaxMult) }
  }
  // A leaving station keeps probing only to carry its leave claim; it accuses nobody.
  return out.self.leaving ? out : Membership.accuse(t, out, p.target)
}

const dropRelay = (s: S, seq: number): S => {
  const relays = new Map(s.relays)
  relays.delete(seq)
  return { ...s, relays }
}

/**
 * The last probe before a verdict (with Lifeguard; beyond PROTOCOL.md §11.4): when our
 * suspicion window for a member runs out, we probe it once more ourselves, directly and then
 * through helpers as in a probe round, and declare it dead only if that probe goes unanswered.
 * An answer starts the window over.
 *
 * Why: a window that runs out proves only that no refutation reached us in time, and at scale
 * the piggyback room is contended, so a bystander can miss a refutation that everyone else has
 * (the 1,000-member simulation at 5 % loss and 5 % stalled members lost one live member per
 * run that way). The SWIM paper already un-marks a suspect that answers a ping; asking at the
 * deadline turns a verdict on hearsay into one on first-hand evidence, and the buddy claim on
 * our ping makes the member answer with its refutation (`Probe.ackClaims`). A crashed member
 * is declared one probe interval later; the check runs beside the probe round, so any number
 * of windows ending together (a partition, a rack failing) are checked at once.
 *
 * Key invariants: a check lives in its member's `Suspicion` record, so whatever ends the
 * suspicion (a refutation, a higher suspicion, a dead claim) ends the check; the member's
 * suspicion timer is the check's own while it runs; only the member or an asked helper can
 * answer it, under its `seq`.
 *
 * @see Das et al., SWIM (2002), §4.2: a suspect that answers a ping is un-marked.
 * @see Dadgar et al., Lifeguard (2018), §IV.C "Buddy System".
 * @since 0.1.0
 */
import * as Awareness from "./Awareness.ts"
import type { MemberId } from "./Claims.ts"
import { Command } from "./Command.ts"
import * as Membership from "./Membership.ts"
import { Packet } from "./Packet.ts"
import * as Probe from "./Probe.ts"
import * as State from "./State.ts"
import type { Member, Turn } from "./State.ts"
import * as Suspicion from "./Suspicion.ts"
import * as Timer from "./Timer.ts"

type S = State.State

/**
 * The suspicion timer of `id` fired: the window ran out (start the check, or with plain SWIM
 * declare dead), the direct phase of the check is over (ask helpers), or the check went
 * unanswered (declare dead).
 *
 * @since 0.1.0
 * @category combinators
 */
export const onTimer = (t: Turn, s: S, id: MemberId): S => {
  const m = s.members.get(id)
  if (m === undefined || m.status !== "suspect" || m.suspicion === undefined) return s
  if (!t.config.lifeguard || s.self.leaving) return Membership.declareDead(t, s, id)
  const check = m.suspicion.check
  if (check === undefined) return begin(t, s, m, m.suspicion)
  if (!check.indirect) return indirect(t, s, m, m.suspicion, check)
  return Membership.declareDead(t, s, id)
}

/**
 * The suspect whose check `seq` an ack or nack from `from` belongs to (the member itself or
 * one of the helpers asked), if any. Read it before applying the packet's claims, which may
 * end the suspicion.
 *
 * @since 0.1.0
 * @category getters
 */
export const owner = (s: S, from: MemberId, seq: number): MemberId | undefined => {
  // Most acks complete a probe or a relay: no need to look further.
  if (s.probe?.seq === seq || s.relays.has(seq)) return undefined
  if (s.members.get(from)?.suspicion?.check?.seq === seq) return from
  // A helper's answer: a scan, but only for acks and nacks nothing else claimed.
  for (const m of s.members.values()) {
    const check = m.suspicion?.check
    if (check !== undefined && check.seq === seq && check.helpers.includes(from)) return m.id
  }
  return undefined
}

/**
 * An ack answered the check of `id` (found with `owner`): the member was up a moment ago, so
 * its window starts over with the same bounds and accusers. Usually the ack carried its
 * refutation and the suspicion is already gone; then there is nothing left to do.
 *
 * @since 0.1.0
 * @category combinators
 */
export const answered = (t: Turn, s: S, id: MemberId): S => {
  const m = s.members.get(id)
  if (m === undefined || m.status !== "suspect" || m.suspicion?.check === undefined) return s
  const out = State.putMember(s, { ...m, suspicion: Suspicion.restart(m.suspicion, t.now) })
  return Membership.rearm(t, out, id)
}

/**
 * Our ping of a suspect could not be sent: if it was the direct phase of its last probe, the
 * helpers are asked at once (a failed dial counts as a failed direct probe, §11.3). Returns
 * `undefined` if the ping was not such a probe.
 *
 * @since 0.1.0
 * @category combinators
 */
export const onPingFailed = (t: Turn, s: S, to: MemberId, seq: number): S | undefined => {
  const m = s.members.get(to)
  const check = m?.suspicion?.check
  if (m === undefined || m.suspicion === undefined || check === undefined || check.seq !== seq) return undefined
  return check.indirect ? s : indirect(t, s, m, m.suspicion, check)
}

// ---------------------------------------------------------------------------------------------

/**
 * Pings the suspect with its suspect claim alone (the buddy system, so a live member answers
 * with its refutation) and waits the probe timeout. No other gossip rides on it: the member is
 * likely dead, and a claim sent into the void still counts one of its transmissions.
 */
const begin = (t: Turn, s: S, m: Member, window: Suspicion.Suspicion): S => {
  const [seq, numbered] = State.takeSeq(s)
  t.out.push(Command.Send({ to: m.id, packet: Packet.Ping({ seq, claims: [m.claim] }) }))
  const check: Suspicion.LastProbe = { seq, startedAt: t.now, indirect: false, helpers: [] }
  const out = State.putMember(numbered, { ...m, suspicion: { ...window, check } })
  return State.setTimer(t, out, Timer.suspicion(m.id), t.now + Awareness.scale(t.config.probeTimeoutMs, s.health))
}

/** No direct ack: asks helpers, as a probe round does, and waits until the interval ends. */
const indirect = (t: Turn, s: S, m: Member, window: Suspicion.Suspicion, check: Suspicion.LastProbe): S => {
  const candidates = State.withStatus(s, "alive")
  const [helpers, sampled] = State.sample(s, candidates, t.config.indirectProbes)
  let out = sampled
  for (const helper of helpers) {
    const [claims, after] = Probe.piggyback(t, out, helper)
    out = after
    t.out.push(Command.Send({ to: helper, packet: Packet.PingReq({ seq: check.seq, target: m.id, claims }) }))
  }
  out = State.putMember(out, { ...m, suspicion: { ...window, check: { ...check, indirect: true, helpers } } })
  const end = check.startedAt + Awareness.scale(t.config.probeIntervalMs, s.health)
  return State.setTimer(t, out, Timer.suspicion(m.id), Math.max(end, t.now))
}

/**
 * Applying claims to the membership table (PROTOCOL.md §11.2, §11.4, §11.6): joins, the
 * precedence rules, suspicion windows and their confirmations, verdicts, refutation of
 * accusations against ourselves, and tombstone expiry.
 *
 * Every claim that changes the table is queued for piggybacking, so a station passes on what
 * it believes (the infection style of SWIM) and nothing it has discarded. Every change of
 * status is reported once through `Emit`.
 *
 * Key invariants: a claim never lowers a member's `(incarnation, rank)` (precedence is a
 * join), so replays and reorderings are harmless; a member is declared dead only by a dead
 * claim or by its own suspicion window running out (with Lifeguard, and our last probe of it
 * going unanswered: `Check.ts`); a remote claim never throws.
 *
 * @see Das et al., SWIM (2002), §4.2 "Suspicion Mechanism".
 * @see Dadgar et al., Lifeguard (2018), §IV.B.
 * @since 0.1.0
 */
import * as Awareness from "./Awareness.ts"
import * as Claims from "./Claims.ts"
import type { Claim, MemberId } from "./Claims.ts"
import { Change, Command } from "./Command.ts"
import * as Dissemination from "./Dissemination.ts"
import * as State from "./State.ts"
import type { Member, Turn } from "./State.ts"
import * as Suspicion from "./Suspicion.ts"
import * as Timer from "./Timer.ts"

type S = State.State

/**
 * Applies one verified claim, received from `from` (undefined for the core's own claims).
 *
 * @since 0.1.0
 * @category combinators
 */
export const apply = (t: Turn, s: S, claim: Claim, from: MemberId | undefined): S => {
  const why = Claims.problem(claim)
  if (why !== undefined) {
    // The actor should have dropped it (§14 row 22); if it slipped through, still no harm.
    if (from !== undefined) t.out.push(Command.Penalise({ peer: from, reason: why }))
    return State.count(s, "claimsRejected")
  }
  if (claim.subject === s.self.id) return aboutSelf(t, s, claim)
  const current = s.members.get(claim.subject)
  const decision = Claims.decide(
    current === undefined ? undefined : { kind: current.status, incarnation: current.incarnation },
    claim,
    current?.suspicion?.accusers
  )
  switch (decision) {
    case "join":
      return join(t, s, claim)
    case "override":
      return override(t, s, current!, claim)
    case "confirm":
      return confirm(t, s, current!, claim)
    case "stale":
      return State.count(s, "claimsStale")
    case "unknown":
      // We cannot probe a member whose addresses we never saw; its alive claim will come.
      return State.count(s, "claimsUnknown")
  }
}

/**
 * Applies a list of claims in order (the `g` of a packet, the `m` of a sync).
 *
 * @since 0.1.0
 * @category combinators
 */
export const applyAll = (t: Turn, s: S, claims: ReadonlyArray<Claim>, from: MemberId | undefined): S => {
  let out = s
  // Most claims on a packet, and nearly all of a sync, are ones we already hold. Counting each
  // through `apply` copied the state once per claim (the costliest line of a 1,000-member
  // simulation); they are tallied here and counted once, with the same result.
  let stale = 0
  for (const claim of claims) {
    if (isStale(out, claim)) stale++
    else out = apply(t, out, claim, from)
  }
  return stale === 0 ? out : State.count(out, "claimsStale", stale)
}

/** Whether `apply` would only count `claim` as stale: about a held member, and not greater. */
const isStale = (s: S, claim: Claim): boolean => {
  if (claim.subject === s.self.id) return false
  const current = s.members.get(claim.subject)
  if (current === undefined || Claims.problem(claim) !== undefined) return false
  const decision = Claims.decide(
    { kind: current.status, incarnation: current.incarnation },
    claim,
    current.suspicion?.accusers
  )
  return decision === "stale"
}

/**
 * Declares `id` dead on our own authority: its window ran out (plain SWIM), and with Lifeguard
 * our last probe of it went unanswered too (`Check.ts`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const declareDead = (t: Turn, s: S, id: MemberId): S => {
  const m = s.members.get(id)
  if (m === undefined || m.status !== "suspect") return s
  return apply(t, s, Claims.dead(id, m.incarnation, s.self.id), undefined)
}

/**
 * Our probe of `id` failed: accuse it (or, if already suspect, add our confirmation).
 *
 * @since 0.1.0
 * @category combinators
 */
export const accuse = (t: Turn, s: S, id: MemberId): S => {
  const m = s.members.get(id)
  if (m === undefined || m.status === "dead") return s
  return apply(t, s, Claims.suspect(id, m.incarnation, s.self.id), undefined)
}

/**
 * Raises our incarnation above `accused` and gossips a fresh alive claim, so the accusation
 * is outbid everywhere it spread (§11.2). Lifeguard counts it against our health: being
 * suspected suggests we are slow to answer.
 *
 * @since 0.1.0
 * @category combinators
 */
export const refute = (t: Turn, s: S, accused: number): S => {
  const incarnation = Math.max(s.self.incarnation, accused) + 1
  const after: S = {
    ...s,
    self: { ...s.self, incarnation },
    health: t.config.lifeguard ? Awareness.adjust(s.health, 1, t.config.awarenessMaxMult) : s.health
  }
  t.out.push(Command.PersistIncarnation({ incarnation }))
  return State.count(State.gossip(t, after, State.ownClaim(after)), "refutations")
}

/**
 * Forgets tombstones older than `deadRetentionMs` (§11.5).
 *
 * @since 0.1.0
 * @category combinators
 */
export const reap = (t: Turn, s: S): S => {
  // No tombstones, nothing to reap: skip the scan that would otherwise run every probe tick.
  if (s.live === s.members.size) return s
  // Nor while the oldest tombstone is too young: the scan would find nothing to reap.
  if (s.tombstonesSince !== undefined && t.now - s.tombstonesSince < t.config.deadRetentionMs) return s
  const expired: Array<MemberId> = []
  let since = Number.POSITIVE_INFINITY
  for (const m of s.members.values()) {
    if (m.status !== "dead") continue
    if (t.now - m.changedAt >= t.config.deadRetentionMs) expired.push(m.id)
    else if (m.changedAt < since) since = m.changedAt
  }
  return { ...State.removeMembers(s, expired), tombstonesSince: since }
}

/**
 * Puts `id` somewhere in the rest of this pass's probe list (at a random position, so a
 * newcomer is probed within one pass without a fixed place), unless it is already listed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const enlist = (s: S, id: MemberId): S => {
  if (s.order.includes(id)) return s
  const [at, after] = State.randomInt(s, s.cursor, s.order.length)
  const order = [...s.order.slice(0, at), id, ...s.order.slice(at)]
  return forgetGone({ ...after, order })
}

/**
 * Drops from the probe list the ids of members since forgotten (an evicted or reaped
 * tombstone): the round skips them anyway, and without this a pass with many evictions could
 * grow the list past the table's cap. Runs only when the list is longer than the table.
 */
const forgetGone = (s: S): S => {
  if (s.order.length <= s.members.size) return s
  let cursor = s.cursor
  const order = s.order.filter((id, i) => {
    const kept = s.members.has(id)
    if (!kept && i < s.cursor) cursor--
    return kept
  })
  return { ...s, order, cursor }
}

// ---------------------------------------------------------------------------------------------

const aboutSelf = (t: Turn, s: S, claim: Claim): S => {
  if (Claims.aboutSelf(s.self.incarnation, claim, s.self.leaving) === "ignore") {
    // An accusation we already outbid: whoever still passes it on missed our refutation (the
    // buddy claim of a member that keeps suspecting us arrives here). Gossip our alive claim
    // again, so it rides on our next packets, the ack to that member first. Not when it is
    // still queued: it is on its way, and stale rumours must not keep resetting it.
    const stale = claim.kind !== "alive" && !s.self.leaving && Dissemination.queued(s.queue, s.self.id) === undefined
    return stale ? State.gossip(t, s, State.ownClaim(s)) : s
  }
  // An accusation at the largest incarnation cannot be outbid (§4.3 integer range).
  if (claim.incarnation >= Claims.maxIncarnation) return State.count(s, "unrefutable")
  return refute(t, s, claim.incarnation)
}

const join = (t: Turn, s: S, claim: Claim): S => {
  let room = s
  if (s.members.size >= t.config.swimMaxMembers) {
    // Full: the oldest tombstone makes way; live members are never evicted for newcomers.
    let oldest: Member | undefined
    for (const m of s.members.values()) {
      if (m.status === "dead" && (oldest === undefined || m.changedAt < oldest.changedAt)) oldest = m
    }
    if (oldest === undefined) return State.count(s, "membersRefused")
    room = State.removeMembers(s, [oldest.id])
  }
  const addrs = claim.addrs ?? []
  const m: Member = {
    id: claim.subject,
    status: "alive",
    incarnation: claim.incarnation,
    addrs,
    claim,
    lastAlive: claim,
    suspicion: undefined,
    changedAt: t.now
  }
  t.out.push(Command.Emit({ change: Change.MemberAlive({ member: m.id, incarnation: m.incarnation, addrs }) }))
  return enlist(State.gossip(t, State.putMember(room, m), claim), m.id)
}

const override = (t: Turn, s: S, cur: Member, claim: Claim): S => {
  switch (claim.kind) {
    case "alive": {
      const addrs = claim.addrs ?? []
      let out = State.cancelTimer(t, s, Timer.suspicion(cur.id))
      out = State.putMember(out, {
        ...cur,
        status: "alive",
        incarnation: claim.incarnation,
        addrs,
        claim,
        lastAlive: claim,
        suspicion: undefined,
        changedAt: cur.status === "alive" ? cur.changedAt : t.now
      })
      if (cur.status !== "alive" || !Claims.sameAddrs(cur.addrs, addrs)) {
        t.out.push(
          Command.Emit({ change: Change.MemberAlive({ member: cur.id, incarnation: claim.incarnation, addrs }) })
        )
      }
      if (cur.status === "dead") out = enlist(out, cur.id)
      return State.gossip(t, out, claim)
    }
    case "suspect": {
      // A new window, sized by the cluster as it is now and then kept (memberlist does the
      // same). This holds for a suspicion at a higher incarnation too: it proves the member
      // refuted the old one (we missed the alive claim), so the old window and its accusers,
      // who accused another incarnation, say nothing about this one. Keeping them declared a
      // re-suspected live member dead seconds after the new accusation.
      const window = Suspicion.start(Suspicion.bounds(t.config, State.clusterSize(s)), t.now, claim.by)
      if (cur.status === "suspect") {
        const out = State.putMember(s, { ...cur, incarnation: claim.incarnation, claim, suspicion: window })
        return rearm(t, State.gossip(t, out, claim), cur.id)
      }
      let out = State.putMember(s, {
        ...cur,
        status: "suspect",
        incarnation: claim.incarnation,
        claim,
        suspicion: window,
        changedAt: t.now
      })
      t.out.push(
        Command.Emit({
          change: Change.MemberSuspect({ member: cur.id, incarnation: claim.incarnation, by: claim.by })
        })
      )
      if (cur.status === "dead") out = enlist(out, cur.id)
      return rearm(t, State.gossip(t, out, claim), cur.id)
    }
    case "dead": {
      let out = State.cancelTimer(t, s, Timer.suspicion(cur.id))
      out = State.putMember(out, {
        ...cur,
        status: "dead",
        incarnation: claim.incarnation,
        claim,
        suspicion: undefined,
        changedAt: cur.status === "dead" ? cur.changedAt : t.now
      })
      if (cur.status !== "dead") {
        t.out.push(
          Command.Emit({
            change: Claims.isLeave(claim)
              ? Change.MemberLeft({ member: cur.id, incarnation: claim.incarnation })
              : Change.MemberDead({ member: cur.id, incarnation: claim.incarnation, by: claim.by })
          })
        )
      }
      return State.gossip(t, out, claim)
    }
  }
}

const confirm = (t: Turn, s: S, cur: Member, claim: Claim): S => {
  const more = cur.suspicion === undefined ? undefined : Suspicion.confirm(cur.suspicion, claim.by)
  // Already k confirmations: the window cannot shrink further, so the claim adds nothing.
  if (more === undefined) return State.count(s, "claimsStale")
  const out = State.putMember(s, { ...cur, suspicion: more })
  // Re-gossip the confirmation: others need independent accusers to shorten their windows.
  return rearm(t, State.gossip(t, out, claim), cur.id)
}

/**
 * Sets the suspicion timer to the window's current deadline. Past it, plain SWIM declares dead
 * at once; with Lifeguard the timer is set to now, and its firing starts our last probe
 * (`Check.ts`). While that probe runs, its outcome decides and the timer is its own.
 *
 * @since 0.1.0
 * @category combinators
 */
export const rearm = (t: Turn, s: S, id: MemberId): S => {
  const m = s.members.get(id)
  if (m === undefined || m.suspicion === undefined || m.suspicion.check !== undefined) return s
  const at = Suspicion.deadline(m.suspicion)
  if (at <= t.now && !t.config.lifeguard) return declareDead(t, State.cancelTimer(t, s, Timer.suspicion(id)), id)
  return State.setTimer(t, s, Timer.suspicion(id), Math.max(at, t.now))
}

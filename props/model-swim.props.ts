/**
 * A model-based test of SWIM membership precedence through the whole SWIM step, with the
 * testkit's runner (`Model`): the second worked example of docs/guides/property-testing.md.
 *
 * The model is the precedence lattice of §11.2 and nothing else: per member, the pair
 * (incarnation, rank) with alive < suspect < dead, a claim taking over exactly when its pair is
 * strictly greater; an unknown member joins only by an alive claim; a suspicion whose window
 * runs out (its timer fires) turns into dead at the same incarnation. About itself, the station
 * refutes: a suspect or dead claim at or above its own incarnation, or an alive claim above it,
 * raises its incarnation past the claim's.
 *
 * After every step, for any sequence of claims (in pings and syncs, from any sender) and of
 * suspicion timeouts in virtual time:
 * - the real table equals the model's, member by member, and the own incarnation too;
 * - no incarnation ever goes down;
 * - a membership change is emitted exactly for each member whose kind changed in the model;
 * - a live station that is suspected refutes: it persists the new incarnation before anything
 *   carries it and its answer to the accuser already carries the refuting alive claim.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Claims from "../src/protocols/swim/Claims.ts"
import type { Claim, Kind, MemberId } from "../src/protocols/swim/Claims.ts"
import type { Command } from "../src/protocols/swim/Command.ts"
import * as Config from "../src/protocols/swim/Config.ts"
import { Event } from "../src/protocols/swim/Event.ts"
import { Packet } from "../src/protocols/swim/Packet.ts"
import * as State from "../src/protocols/swim/State.ts"
import { makeStep } from "../src/protocols/swim/Step.ts"
import type { TimerKey } from "../src/protocols/swim/Timer.ts"
import * as Arb from "../src/testkit/arbitraries/Swim.ts"
import * as Model from "../src/testkit/model/index.ts"

// Room for every member of the alphabet, so the member cap (tested in props/swim.props.ts)
// never decides anything here. Without Lifeguard, a suspicion ends only when its timer fires:
// with it, a confirming accuser shortens the window and may end it at once, which is timing,
// not precedence (props/swim.props.ts covers it).
const config: Config.Config = { ...Config.local, swimMaxMembers: 16, lifeguard: false }
const self = "m0"
const ids = fc.constantFrom("m0", "m1", "m2", "m3", "m4", "m5")

// ---------------------------------------------------------------------------------------------
// The model: the lattice
// ---------------------------------------------------------------------------------------------

interface Pair {
  readonly incarnation: number
  readonly rank: number
}

interface Lattice {
  readonly members: ReadonlyMap<MemberId, Pair>
  readonly own: number
  /** Whether the last step had to refute. */
  readonly refuted: boolean
  /** The changes of kind the last step made, in order (`m3:suspect`). */
  readonly changes: ReadonlyArray<string>
}

const rank = (kind: Kind): number => ["alive", "suspect", "dead"].indexOf(kind)
const kindOf = (p: Pair): Kind => (["alive", "suspect", "dead"] as const)[p.rank]!
const above = (a: Pair, b: Pair): boolean => a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.rank > b.rank)

interface Draft {
  members: Map<MemberId, Pair>
  own: number
  refuted: boolean
  changes: Array<string>
}

/** Moves a member to `pair`, noting a change of kind (or a join). */
const put = (m: Draft, id: MemberId, pair: Pair): void => {
  if (m.members.get(id)?.rank !== pair.rank) m.changes.push(`${id}:${kindOf(pair)}`)
  m.members.set(id, pair)
}

const receive = (m: Draft, claim: Claim): void => {
  const pair = { incarnation: claim.incarnation, rank: rank(claim.kind) }
  if (claim.subject === self) {
    const accused = claim.kind === "alive" ? claim.incarnation > m.own : claim.incarnation >= m.own
    if (accused && claim.incarnation < Claims.maxIncarnation) {
      m.own = Math.max(m.own, claim.incarnation) + 1
      m.refuted = true
    }
    return
  }
  const current = m.members.get(claim.subject)
  if (current === undefined ? claim.kind === "alive" : above(pair, current)) put(m, claim.subject, pair)
}

const next = (before: Lattice, event: Event): Lattice => {
  const m: Draft = { members: new Map(before.members), own: before.own, refuted: false, changes: [] }
  if (event._tag === "PacketReceived" && event.packet._tag !== "Nack") {
    for (const claim of event.packet.claims) receive(m, claim)
  }
  if (event._tag === "TimerFired" && event.timer.startsWith("suspicion/")) {
    const member = event.timer.slice("suspicion/".length)
    const current = m.members.get(member)
    if (current?.rank === 1) put(m, member, { ...current, rank: 2 })
  }
  return m
}

// ---------------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------------

const table = (members: ReadonlyMap<MemberId, Pair>): ReadonlyArray<string> =>
  [...members].map(([id, p]) => `${id}:${kindOf(p)}@${p.incarnation}`).sort()

const changeOf = (c: Command): string | undefined => {
  if (c._tag !== "Emit") return undefined
  const change = c.change
  const kind = change._tag === "MemberAlive" ? "alive" : change._tag === "MemberSuspect" ? "suspect" : "dead"
  return `${change.member}:${kind}`
}

const check = ({ state, previous, model, event, commands }: Model.Checked<State.State, Event, Command, Lattice>): void => {
  expect(table(new Map([...state.members].map(([id, x]) => [id, { incarnation: x.incarnation, rank: rank(x.status) }])))).toEqual(table(model.members))
  expect(state.self.incarnation).toBe(model.own)
  // Monotonic: nothing the station holds ever goes back.
  expect(state.self.incarnation).toBeGreaterThanOrEqual(previous.self.incarnation)
  for (const [id, m] of state.members) expect(m.incarnation).toBeGreaterThanOrEqual(previous.members.get(id)?.incarnation ?? 0)
  // One change per change of kind (or join), in the order the claims made them.
  const emitted = commands.flatMap((c) => changeOf(c) ?? [])
  expect(emitted).toEqual(model.changes)
  if (model.refuted) {
    // Persisted before any packet carries it (§15.2), and the answer already outbids the lie.
    const persist = commands.findIndex((c) => c._tag === "PersistIncarnation" && c.incarnation === model.own)
    const firstSend = commands.findIndex((c) => c._tag === "Send")
    expect(persist).toBeGreaterThanOrEqual(0)
    expect(firstSend === -1 || persist < firstSend).toBe(true)
    if (event._tag === "PacketReceived") {
      const reply = commands.find((c) => c._tag === "Send" && c.to === event.from)
      const carried = reply?._tag === "Send" && reply.packet._tag !== "Nack" ? reply.packet.claims : []
      expect(carried.some((c) => c.subject === self && c.kind === "alive" && c.incarnation === model.own)).toBe(true)
    }
  }
  seen.refutations += model.refuted ? 1 : 0
  seen.deaths += emitted.filter((e) => e.endsWith(":dead")).length
  if (event._tag === "TimerFired") seen.timeouts++
}

/** What the runs exercised, so a model that never reaches the interesting states cannot pass quietly. */
const seen = { refutations: 0, deaths: 0, timeouts: 0 }

// ---------------------------------------------------------------------------------------------
// The spec
// ---------------------------------------------------------------------------------------------

// Claims are drawn small (kind, subject, incarnation, accuser) so counterexamples print short,
// and built in the action with a stand-in signed object the core only relays.
interface Drawn {
  readonly kind: Kind
  readonly subject: MemberId
  readonly incarnation: number
  readonly by: MemberId
}
const drawn: fc.Arbitrary<Drawn> = fc.record({ kind: Arb.kind, subject: ids, incarnation: Arb.incarnation, by: ids })
const signed = { b: Uint8Array.of(1), s: new Uint8Array(64) }
/** A well-formed claim, as the actor would let it through: alive self-signed, no self-accusation. */
const claimOf = (d: Drawn): Claim =>
  d.kind === "alive"
    ? { ...Claims.alive(d.subject, d.incarnation, [`quic://${d.subject}`]), signed }
    : d.kind === "suspect"
    ? { ...Claims.suspect(d.subject, d.incarnation, d.by === d.subject ? `${d.by}x` : d.by), signed }
    : { ...Claims.dead(d.subject, d.incarnation, d.by), signed }
const claims = fc.array(drawn, { minLength: 1, maxLength: 3 })
const sender = fc.constantFrom("m1", "m2", "m3", "m4", "m5", "m9")

const spec: Model.Spec<State.State, Event, Command, Lattice> = {
  step: makeStep(config),
  initial: () => State.initial({ self, incarnation: 0, addrs: [`quic://${self}`], seed: 1 }),
  model: { initial: () => ({ members: new Map(), own: 0, refuted: false, changes: [] }), next },
  actions: {
    ping: Model.action(
      fc.record({ from: sender, seq: fc.nat({ max: 20 }), claims }),
      ({ from, seq, claims }, { now }) => Event.PacketReceived({ now, from, packet: Packet.Ping({ seq, claims: claims.map(claimOf) }) }),
      { weight: 4 }
    ),
    sync: Model.action(
      fc.record({ from: sender, seq: fc.nat({ max: 20 }), claims }),
      ({ from, seq, claims }, { now }) => Event.PacketReceived({ now, from, packet: Packet.Sync({ seq, claims: claims.map(claimOf) }) })
    ),
    wait: Model.advance({ max: 2_000 }, { weight: 2 }),
    timeout: Model.fireNext()
  },
  timers: Model.tagged({ fire: (timer: TimerKey, generation, now) => Event.TimerFired({ now, timer, generation }) }),
  check
}

describe("SWIM membership against the precedence lattice (Model runner)", () => {
  it("holds exactly the lattice's view after any claims and timeouts, and refutes every accusation", () => {
    Model.assert(spec, { numRuns: 300, maxActions: 40 })
    expect(seen.refutations).toBeGreaterThan(0)
    expect(seen.deaths).toBeGreaterThan(0)
    expect(seen.timeouts).toBeGreaterThan(0)
  })
})

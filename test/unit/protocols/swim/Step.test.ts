/**
 * The SWIM step, one table per event tag: state + event in, state + commands out. Configs
 * are the `local` preset (probe interval 100 ms, timeout 40 ms, 3 helpers) unless a case
 * says otherwise.
 */
import { describe, expect, it } from "vitest"
import { Swim } from "../../../../src/protocols/swim/index.ts"
import type * as State from "../../../../src/protocols/swim/State.ts"
import * as Build from "./Build.ts"

const { Command, Event, Packet, Change } = Swim
const config = Swim.local
const step = Swim.makeStep(config)

type Cmd = Swim.Command
const sends = (commands: ReadonlyArray<Cmd>) =>
  commands.flatMap((c) => (c._tag === "Send" ? [c] : []))
const timers = (commands: ReadonlyArray<Cmd>) =>
  commands.flatMap((c) => (c._tag === "SetTimer" ? [c] : []))
const changes = (commands: ReadonlyArray<Cmd>) =>
  commands.flatMap((c) => (c._tag === "Emit" ? [c.change] : []))
const timerOf = (commands: ReadonlyArray<Cmd>, key: string) => timers(commands).find((c) => c.timer === key)

/** Delivers `packet` from `from` at `now`. */
const recv = (s: State.State, now: number, from: string, packet: Swim.Packet) =>
  step(s, Event.PacketReceived({ now, from, packet }))

/** Fires the currently armed timer `key` at `now`. */
const fire = (s: State.State, key: Swim.TimerKey, now: number) =>
  step(s, Event.TimerFired({ now, timer: key, generation: s.timers.get(key)! }))

/** `fire` with plain SWIM (Lifeguard off), whose verdict follows the window at once. */
const firePlain = (s: State.State, key: Swim.TimerKey, now: number) =>
  Swim.makeStep({ ...config, lifeguard: false })(s, Event.TimerFired({ now, timer: key, generation: s.timers.get(key)! }))

/**
 * With Lifeguard, the window of `id` runs out at `now` (its timer fires): our last probe of it
 * goes unanswered, directly and through the helpers; returns the step at the end of it.
 */
const lastProbeFails = (s: State.State, id: string, now: number) => {
  const [pinged, ping] = fire(s, `suspicion/${id}`, now)
  expect(sends(ping).map((c) => [c.to, c.packet._tag])).toEqual([[id, "Ping"]])
  const [asked, reqs] = fire(pinged, `suspicion/${id}`, now + config.probeTimeoutMs)
  expect(sends(reqs).every((c) => c.packet._tag === "PingReq" && c.to !== id)).toBe(true)
  return fire(asked, `suspicion/${id}`, now + config.probeIntervalMs)
}

/** A started state for `self` with `members`, its probe timer armed. */
const started = (opts: Parameters<typeof Build.swimState>[0]) => {
  const [s] = step(Build.swimState(opts), Event.Start({ now: 0 }))
  return { ...s, queue: Swim.Dissemination.empty } // drop our own alive claim: tests see only new gossip
}

/** Runs one probe tick and returns the state, the commands and the probed member. */
const tick = (s: State.State, now: number) => {
  const [after, commands] = fire(s, "probe", now)
  return { after, commands, target: after.probe?.target }
}

describe("Swim.step: Start", () => {
  it("persists the incarnation, queues its alive claim and arms the probe and push-pull timers", () => {
    const [after, commands] = step(Build.swimState({ self: "a", incarnation: 7 }), Event.Start({ now: 1_000 }))
    expect(commands[0]).toEqual(Command.PersistIncarnation({ incarnation: 7 }))
    expect(Build.queued(after)).toEqual([Swim.Claims.alive("a", 7, ["quic://a"])])
    const probe = timerOf(commands, "probe")!
    expect(probe.at).toBeGreaterThanOrEqual(1_000)
    expect(probe.at).toBeLessThan(1_000 + config.probeIntervalMs)
    expect(timerOf(commands, "push-pull")!.at).toBeGreaterThanOrEqual(1_000 + config.pushPullIntervalMs)
    expect(after.started).toBe(true)
  })

  it("ignores a second Start", () => {
    const [once] = step(Build.swimState({ self: "a" }), Event.Start({ now: 0 }))
    const [twice, commands] = step(once, Event.Start({ now: 5 }))
    expect(commands).toEqual([])
    expect(twice.counters.ignoredEvents).toBe(1)
  })

  it("arms no push-pull timer when pushPullIntervalMs is 0", () => {
    const [, commands] = Swim.makeStep({ ...config, pushPullIntervalMs: 0 })(
      Build.swimState({ self: "a" }),
      Event.Start({ now: 0 })
    )
    expect(timerOf(commands, "push-pull")).toBeUndefined()
  })
})

describe("Swim.step: Join", () => {
  it("sends its full state to each seed once, never to itself, and remembers the requests", () => {
    const s = Build.swimState({ self: "a", incarnation: 2 })
    const [after, commands] = step(s, Event.Join({ now: 0, peers: ["s1", "a", "s2", "s1"] }))
    expect(sends(commands).map((c) => c.to)).toEqual(["s1", "s2"])
    expect(sends(commands)[0]!.packet).toEqual(Packet.Sync({ seq: 1, claims: [Swim.Claims.alive("a", 2, ["quic://a"])] }))
    expect([...after.pendingSyncs]).toEqual([[1, "s1"], [2, "s2"]])
  })

  it("keeps at most maxPendingSyncs requests", () => {
    const peers = Array.from({ length: 20 }, (_, i) => `p${i}`)
    const [after, commands] = step(Build.swimState({ self: "a" }), Event.Join({ now: 0, peers }))
    expect(sends(commands)).toHaveLength(config.maxPendingSyncs)
    expect(after.pendingSyncs.size).toBe(config.maxPendingSyncs)
  })
})

describe("Swim.step: PacketReceived Ping", () => {
  it("refutes a suspicion about itself by raising its incarnation", () => {
    const before = Build.swimState({ self: "a", incarnation: 3, members: ["b"] })
    const suspicion = Build.suspect({ about: "a", incarnation: 3, by: "b" })
    const event = Event.PacketReceived({ now: 10, from: "b", packet: Packet.Ping({ seq: 9, claims: [suspicion] }) })
    const [after, commands] = step(before, event)
    expect(after.self.incarnation).toBe(4)
    expect(commands).toContainEqual(Command.PersistIncarnation({ incarnation: 4 }))
    // The refutation rides on the very ack: the accuser learns it first.
    expect(commands).toContainEqual(
      Command.Send({ to: "b", packet: Packet.Ack({ seq: 9, claims: [Build.alive("a", 4, ["quic://a"])] }) })
    )
    expect(after.counters.refutations).toBe(1)
    expect(after.health).toBe(1) // Lifeguard: being suspected counts against our health
  })

  it("re-asserts its alive claim to a member that still accuses an incarnation it already outbid", () => {
    // Regression (found by the 100-member simulation at 10 % loss): b missed our refutation,
    // kept suspecting us at 0 and told us so (the buddy claim) on every packet; we ignored the
    // stale claim, so b declared us dead when its window ran out, 60 s later.
    const before = Build.swimState({ self: "a", incarnation: 1, members: ["b", "c"] })
    const stale = Build.suspect({ about: "a", incarnation: 0, by: "b" })
    const [after, commands] = step(before, Event.PacketReceived({ now: 10, from: "b", packet: Packet.Ping({ seq: 4, claims: [stale] }) }))
    expect(after.self.incarnation).toBe(1) // nothing to refute again
    expect(after.counters.refutations).toBe(0)
    expect(commands).toContainEqual(
      Command.Send({ to: "b", packet: Packet.Ack({ seq: 4, claims: [Build.alive("a", 1, ["quic://a"])] }) })
    )
    // While our alive claim is still queued, stale rumours do not reset its transmit count.
    const queued = { ...before, queue: Swim.Dissemination.enqueue(before.queue, Build.alive("a", 1, ["quic://a"]), 10) }
    const sent = { ...queued, queue: Swim.Dissemination.take(queued.queue, 16, 12)[1] }
    const [again] = step(sent, Event.PacketReceived({ now: 10, from: "c", packet: Packet.Ack({ seq: 99, claims: [Build.dead({ about: "a", incarnation: 0, by: "c" })] }) }))
    expect(again.queue.entries.get("a")?.transmits).toBe(1)
  })

  it("answers a ping that accuses an outbid incarnation with its alive claim first, however full the queue", () => {
    // The last probe before a verdict (or any buddy ping) from a member that missed our
    // refutation: the ack must carry it, not whatever fresher rumours wait in the queue.
    const base = Build.swimState({ self: "a", incarnation: 1, members: ["b"] })
    let queue = Swim.Dissemination.enqueue(base.queue, Build.alive("a", 1, ["quic://a"]), 100)
    queue = Swim.Dissemination.take(queue, 16, 12)[1] // sent once: behind anything fresh
    for (let i = 0; i < 20; i++) queue = Swim.Dissemination.enqueue(queue, Build.alive(`x${i}`, 0), 100)
    const stale = Build.suspect({ about: "a", incarnation: 0, by: "b" })
    const [, commands] = step({ ...base, queue }, Event.PacketReceived({ now: 10, from: "b", packet: Packet.Ping({ seq: 4, claims: [stale] }) }))
    const ack = sends(commands)[0]!.packet as Swim.Packet & { readonly claims: ReadonlyArray<Swim.Claim> }
    expect(ack._tag).toBe("Ack")
    expect(ack.claims[0]).toEqual(Build.alive("a", 1, ["quic://a"]))
    expect(ack.claims.filter((c) => c.subject === "a")).toHaveLength(1)
    expect(ack.claims).toHaveLength(config.maxPiggybackClaims)
  })

  it("persists the refutation before sending the ack that carries it", () => {
    const before = Build.swimState({ self: "a", incarnation: 3, members: ["b"] })
    const event = Event.PacketReceived({
      now: 10,
      from: "b",
      packet: Packet.Ping({ seq: 1, claims: [Build.dead({ about: "a", incarnation: 5, by: "b" })] })
    })
    const [after, commands] = step(before, event)
    expect(after.self.incarnation).toBe(6)
    const persist = commands.findIndex((c) => c._tag === "PersistIncarnation")
    const send = commands.findIndex((c) => c._tag === "Send")
    expect(persist).toBeGreaterThanOrEqual(0)
    expect(persist).toBeLessThan(send)
  })

  it("answers with an ack of the same seq and learns the piggybacked members", () => {
    const before = Build.swimState({ self: "a" })
    const event = Event.PacketReceived({ now: 5, from: "b", packet: Packet.Ping({ seq: 42, claims: [Build.alive("b", 0), Build.alive("c", 2)] }) })
    const [after, commands] = step(before, event)
    expect(Swim.member(after, "c")?.status).toBe("alive")
    expect(changes(commands)).toEqual([
      Change.MemberAlive({ member: "b", incarnation: 0, addrs: ["quic://b"] }),
      Change.MemberAlive({ member: "c", incarnation: 2, addrs: ["quic://c"] })
    ])
    const ack = sends(commands).find((c) => c.to === "b")!
    expect(ack.packet._tag).toBe("Ack")
    expect(ack.packet).toMatchObject({ seq: 42 })
    // What it just learnt is passed on at once.
    expect(Swim.Packet.$is("Ack")(ack.packet) && ack.packet.claims.map((c) => c.subject)).toEqual(["c", "b"])
  })

  it("puts a suspect's own suspect claim first when answering it (buddy system)", () => {
    const before = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect", incarnation: 1 }, "c"] })
    const withGossip = { ...before, queue: Swim.Dissemination.enqueue(before.queue, Build.alive("c", 0), 10) }
    const [, commands] = recv(withGossip, 5, "b", Packet.Ping({ seq: 1, claims: [] }))
    const ack = sends(commands)[0]!
    expect(Swim.Packet.$is("Ack")(ack.packet) && ack.packet.claims[0]).toEqual(Swim.Claims.suspect("b", 1, "a"))
  })

  it("ignores a stale alive claim and counts it (§14 row 22)", () => {
    const before = Build.swimState({ self: "a", members: [{ id: "b", incarnation: 5 }] })
    const event = Event.PacketReceived({ now: 5, from: "c", packet: Packet.Ping({ seq: 1, claims: [Build.alive("b", 4)] }) })
    const [after, commands] = step(before, event)
    expect(Swim.member(after, "b")).toEqual(Swim.member(before, "b"))
    expect(after.counters.claimsStale).toBe(1)
    expect(changes(commands)).toEqual([])
  })

  it("drops an alive claim signed by another member, counts it and asks for a penalty", () => {
    const before = Build.swimState({ self: "a" })
    const forged = { ...Build.alive("b", 9), by: "c" }
    const [after, commands] = recv(before, 5, "c", Packet.Ping({ seq: 1, claims: [forged] }))
    expect(Swim.member(after, "b")).toBeUndefined()
    expect(after.counters.claimsRejected).toBe(1)
    expect(commands).toContainEqual(Command.Penalise({ peer: "c", reason: "alive claim not signed by its subject" }))
  })

  it("ignores a packet that claims to come from itself", () => {
    const before = Build.swimState({ self: "a" })
    const [after, commands] = recv(before, 5, "a", Packet.Ping({ seq: 1, claims: [] }))
    expect(commands).toEqual([])
    expect(after.counters.ignoredEvents).toBe(1)
  })
})

describe("Swim.step: PacketReceived claims (membership table)", () => {
  const receive = (s: State.State, claims: ReadonlyArray<Swim.Claim>, now = 5) =>
    step(s, Event.PacketReceived({ now, from: "z", packet: Packet.Ping({ seq: 1, claims }) }))

  it("starts a suspicion window sized by the cluster and emits MemberSuspect", () => {
    const before = Build.swimState({ self: "a", members: ["b", "c"] })
    const [after, commands] = receive(before, [Build.suspect({ about: "b", incarnation: 0, by: "c" })], 100)
    expect(Swim.member(after, "b")?.status).toBe("suspect")
    expect(changes(commands)).toEqual([Change.MemberSuspect({ member: "b", incarnation: 0, by: "c" })])
    // n = 3 < k + 2, so k = 0: the window is min = 4 × log10(10) × 100 ms.
    expect(timerOf(commands, "suspicion/b")!.at).toBe(100 + 400)
  })

  it("shortens the window with each independent confirmation (dogpile)", () => {
    const members = ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
    let s = Build.swimState({ self: "a", members })
    // n = 10, local preset: min 400 ms, max 1 600 ms, k = 2.
    let [after, commands] = receive(s, [Build.suspect({ about: "b", incarnation: 0, by: "c" })], 0)
    expect(timerOf(commands, "suspicion/b")!.at).toBe(1_600)
    s = after
    ;[after, commands] = receive(s, [Build.suspect({ about: "b", incarnation: 0, by: "d" })], 10)
    expect(timerOf(commands, "suspicion/b")!.at).toBe(Math.floor(1_600 - 1_200 * Math.log(2) / Math.log(3)))
    s = after
    ;[after, commands] = receive(s, [Build.suspect({ about: "b", incarnation: 0, by: "d" })], 20)
    expect(commands.filter((c) => c._tag === "SetTimer")).toEqual([]) // same accuser: no confirmation
    ;[after, commands] = receive(s, [Build.suspect({ about: "b", incarnation: 0, by: "e" })], 20)
    expect(timerOf(commands, "suspicion/b")!.at).toBe(400)
  })

  it("starts a fresh window for a suspicion at a higher incarnation: the old window and accusers do not carry over", () => {
    // Regression (found by the 1,000-member simulation): we held b suspect at 0 with two
    // confirmations, missed b's refutation (alive at 1), then heard it suspected at 1. The old
    // window, almost run out, made us declare a live b dead right after the new accusation.
    const members = ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
    let [s] = receive(Build.swimState({ self: "a", members }), [Build.suspect({ about: "b", incarnation: 0, by: "c" })], 0)
    ;[s] = receive(s, [Build.suspect({ about: "b", incarnation: 0, by: "d" }), Build.suspect({ about: "b", incarnation: 0, by: "e" })], 10)
    expect(s.timers.has("suspicion/b")).toBe(true) // deadline 400 (k = 2 confirmations)
    const [after, commands] = receive(s, [Build.suspect({ about: "b", incarnation: 1, by: "c" })], 390)
    expect(Swim.member(after, "b")).toMatchObject({ status: "suspect", incarnation: 1 })
    expect(Swim.member(after, "b")!.suspicion).toMatchObject({ startedAt: 390, accusers: ["c"] })
    expect(timerOf(commands, "suspicion/b")!.at).toBe(390 + 1_600) // unconfirmed: max again
    expect(Build.queued(after)).toContainEqual(Build.suspect({ about: "b", incarnation: 1, by: "c" }))
    // Accusers of incarnation 1 confirm it as usual.
    const [confirmed, more] = receive(after, [Build.suspect({ about: "b", incarnation: 1, by: "d" })], 400)
    expect(Swim.member(confirmed, "b")!.suspicion!.accusers).toEqual(["c", "d"])
    expect(timerOf(more, "suspicion/b")!.at).toBe(Math.floor(390 + 1_600 - 1_200 * Math.log(2) / Math.log(3)))
  })

  it("checks at once when a confirmation brings the deadline into the past, and declares dead if unanswered", () => {
    const members = ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
    const [s] = receive(Build.swimState({ self: "a", members }), [Build.suspect({ about: "b", incarnation: 0, by: "c" })], 0)
    const [after, commands] = receive(s, [Build.suspect({ about: "b", incarnation: 0, by: "d" }), Build.suspect({ about: "b", incarnation: 0, by: "e" })], 900)
    // The window ran out: no verdict on hearsay; the timer, due now, starts our last probe.
    expect(changes(commands)).toEqual([])
    expect(timerOf(commands, "suspicion/b")?.at).toBe(900)
    const [dead, verdict] = lastProbeFails(after, "b", 900)
    expect(Swim.member(dead, "b")?.status).toBe("dead")
    expect(changes(verdict)).toContainEqual(Change.MemberDead({ member: "b", incarnation: 0, by: "a" }))
  })

  it("clears a suspicion when the member refutes with a higher incarnation", () => {
    const before = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect", incarnation: 2 }] })
    const [after, commands] = receive(before, [Build.alive("b", 3)])
    expect(Swim.member(after, "b")).toMatchObject({ status: "alive", incarnation: 3, suspicion: undefined })
    expect(commands).toContainEqual(Command.CancelTimer({ timer: "suspicion/b" }))
    expect(changes(commands)).toEqual([Change.MemberAlive({ member: "b", incarnation: 3, addrs: ["quic://b"] })])
  })

  it("never revives a dead member on a replayed alive, only on a higher incarnation", () => {
    const before = Build.swimState({ self: "a", members: [{ id: "b", status: "dead", incarnation: 2 }] })
    const [replayed] = receive(before, [Build.alive("b", 2)])
    expect(Swim.member(replayed, "b")?.status).toBe("dead")
    const [revived, commands] = receive(before, [Build.alive("b", 3)])
    expect(Swim.member(revived, "b")?.status).toBe("alive")
    expect(revived.order).toContain("b")
    expect(changes(commands)).toHaveLength(1)
  })

  it("reports a graceful leave as MemberLeft and an accusation as MemberDead", () => {
    const before = Build.swimState({ self: "a", members: ["b", "c"] })
    const [, left] = receive(before, [Build.dead({ about: "b", incarnation: 0, by: "b" })])
    expect(changes(left)).toEqual([Change.MemberLeft({ member: "b", incarnation: 0 })])
    const [, killed] = receive(before, [Build.dead({ about: "c", incarnation: 0, by: "b" })])
    expect(changes(killed)).toEqual([Change.MemberDead({ member: "c", incarnation: 0, by: "b" })])
  })

  it("ignores suspect and dead claims about members it does not hold", () => {
    const [after, commands] = receive(Build.swimState({ self: "a" }), [Build.suspect({ about: "q", incarnation: 0 }), Build.dead({ about: "r", incarnation: 0 })])
    expect(after.members.size).toBe(0)
    expect(after.counters.claimsUnknown).toBe(2)
    expect(changes(commands)).toEqual([])
  })

  it("emits MemberAlive again when a member's addresses change", () => {
    const before = Build.swimState({ self: "a", members: ["b"] })
    const [, same] = receive(before, [Build.alive("b", 1)])
    expect(changes(same)).toEqual([])
    const [, moved] = receive(before, [Build.alive("b", 1, ["quic://b2"])])
    expect(changes(moved)).toEqual([Change.MemberAlive({ member: "b", incarnation: 1, addrs: ["quic://b2"] })])
  })

  it("refuses a newcomer when swimMaxMembers live members are held, evicting a tombstone first", () => {
    const small = { ...config, swimMaxMembers: 2 }
    const stepSmall = Swim.makeStep(small)
    const full = Build.swimState({ self: "a", members: ["b", "c"], config: small })
    const [refused] = stepSmall(full, Event.PacketReceived({ now: 5, from: "b", packet: Packet.Ping({ seq: 1, claims: [Build.alive("d", 0)] }) }))
    expect(refused.members.size).toBe(2)
    expect(refused.counters.membersRefused).toBe(1)
    const withTomb = Build.swimState({ self: "a", members: ["b", { id: "c", status: "dead" }], config: small })
    const [admitted] = stepSmall(withTomb, Event.PacketReceived({ now: 5, from: "b", packet: Packet.Ping({ seq: 1, claims: [Build.alive("d", 0)] }) }))
    expect([...admitted.members.keys()].sort()).toEqual(["b", "d"])
  })
})

describe("Swim.step: TimerFired probe round", () => {
  it("pings every live member exactly once per pass, in a shuffled order", () => {
    const members = ["b", "c", "d", "e", "f"]
    let s = started({ self: "a", members })
    const seen: Array<string> = []
    let now = 0
    for (let i = 0; i < 10; i++) {
      now += config.probeIntervalMs
      // Ack each probe so nobody is suspected.
      const r = tick(s, now)
      seen.push(r.target!)
      ;[s] = recv(r.after, now + 1, r.target!, Packet.Ack({ seq: r.after.probe!.seq, claims: [] }))
    }
    expect(new Set(seen.slice(0, 5)).size).toBe(5)
    expect(new Set(seen.slice(5)).size).toBe(5)
    expect(seen.slice(0, 5)).not.toEqual(seen.slice(5)) // reshuffled (for this seed)
  })

  it("sends a ping, arms the timeout and the next round scaled by health", () => {
    const s = { ...started({ self: "a", members: ["b"] }), health: 2 }
    const { commands, target } = tick(s, 1_000)
    expect(target).toBe("b")
    expect(sends(commands)[0]!.packet._tag).toBe("Ping")
    expect(timerOf(commands, "probe-timeout")!.at).toBe(1_000 + 3 * config.probeTimeoutMs)
    expect(timerOf(commands, "probe")!.at).toBe(1_000 + 3 * config.probeIntervalMs)
  })

  it("only re-arms the round when nobody is there to probe", () => {
    const { after, commands } = tick(started({ self: "a" }), 1_000)
    expect(sends(commands)).toEqual([])
    expect(after.probe).toBeUndefined()
    expect(timerOf(commands, "probe")!.at).toBe(1_100)
  })

  it("asks indirectProbes alive helpers, never the target, after the direct timeout", () => {
    const s = started({ self: "a", members: ["b", "c", "d", "e", "f"] })
    const r = tick(s, 1_000)
    const [after, commands] = fire(r.after, "probe-timeout", 1_040)
    const reqs = sends(commands)
    expect(reqs).toHaveLength(config.indirectProbes)
    expect(reqs.map((c) => c.to)).not.toContain(r.target)
    for (const c of reqs) expect(c.packet).toMatchObject({ _tag: "PingReq", seq: r.after.probe!.seq, target: r.target })
    expect(after.probe!.helpers).toEqual(reqs.map((c) => c.to))
  })

  it("suspects the target when no ack came by the end of the interval", () => {
    const s = started({ self: "a", members: ["b", "c"] })
    const r = tick(s, 1_000)
    const [mid] = fire(r.after, "probe-timeout", 1_040)
    const [after, commands] = fire(mid, "probe", 1_100)
    expect(Swim.member(after, r.target!)?.status).toBe("suspect")
    expect(changes(commands)).toContainEqual(Change.MemberSuspect({ member: r.target!, incarnation: 0, by: "a" }))
    expect(after.health).toBe(1) // the helper's nack never came
  })

  it("does not raise its health when every helper nacked", () => {
    const s = started({ self: "a", members: ["b", "c"] })
    const r = tick(s, 1_000)
    const [mid, reqCommands] = fire(r.after, "probe-timeout", 1_040)
    const helper = sends(reqCommands)[0]!.to
    const [nacked] = recv(mid, 1_070, helper, Packet.Nack({ seq: r.after.probe!.seq }))
    const [after] = fire(nacked, "probe", 1_100)
    expect(after.health).toBe(0)
    expect(Swim.member(after, r.target!)?.status).toBe("suspect")
  })

  it("carries the suspect claim first when probing a suspect (buddy system)", () => {
    const s = started({ self: "a", members: [{ id: "b", status: "suspect", incarnation: 4 }] })
    const r = tick(s, 1_000)
    const ping = sends(r.commands)[0]!
    expect(ping.packet).toMatchObject({ _tag: "Ping", claims: [Swim.Claims.suspect("b", 4, "a")] })
  })

  it("with Lifeguard, probes a suspect whose window ran out before declaring it dead", () => {
    const s = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect" }, "c", "d"] })
    const [pinged, ping] = fire(s, "suspicion/b", 400)
    expect(changes(ping)).toEqual([])
    // The buddy claim first, so a live b learns it is suspected and answers with its refutation.
    expect(sends(ping)[0]!.packet).toMatchObject({ _tag: "Ping", claims: [Swim.Claims.suspect("b", 0, "a")] })
    expect(timerOf(ping, "suspicion/b")?.at).toBe(400 + config.probeTimeoutMs)
    const seq = Swim.member(pinged, "b")!.suspicion!.check!.seq
    const [asked, reqs] = fire(pinged, "suspicion/b", 440)
    expect(sends(reqs).map((c) => c.to).sort()).toEqual(["c", "d"])
    for (const c of sends(reqs)) expect(c.packet).toMatchObject({ _tag: "PingReq", seq, target: "b" })
    expect(timerOf(reqs, "suspicion/b")?.at).toBe(400 + config.probeIntervalMs)
    // A helper's nack is no answer, and no stray either.
    const [nacked] = recv(asked, 450, "c", Packet.Nack({ seq }))
    expect(nacked.counters.unexpectedNacks).toBe(0)
    const [after, commands] = fire(nacked, "suspicion/b", 500)
    expect(Swim.member(after, "b")?.status).toBe("dead")
    expect(changes(commands)).toEqual([Change.MemberDead({ member: "b", incarnation: 0, by: "a" })])
  })

  it("with Lifeguard, asks the helpers at once when the last probe's ping cannot be sent", () => {
    const s = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect" }, "c", "d"] })
    const [pinged, ping] = fire(s, "suspicion/b", 400)
    const [asked, reqs] = step(pinged, Event.SendFailed({ now: 401, to: "b", packet: sends(ping)[0]!.packet }))
    expect(sends(reqs).map((c) => c.to).sort()).toEqual(["c", "d"])
    expect(Swim.member(asked, "b")!.suspicion!.check!.indirect).toBe(true)
    expect(timerOf(reqs, "suspicion/b")?.at).toBe(400 + config.probeIntervalMs)
    expect(asked.counters.sendFailures).toBe(0)
  })

  it("with Lifeguard, starts the window over when the suspect or a helper answers that last probe", () => {
    const s = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect" }, "c", "d"] })
    const [pinged] = fire(s, "suspicion/b", 400)
    const seq = Swim.member(pinged, "b")!.suspicion!.check!.seq
    const [direct, commands] = recv(pinged, 410, "b", Packet.Ack({ seq, claims: [] }))
    expect(Swim.member(direct, "b")).toMatchObject({ status: "suspect", suspicion: { startedAt: 410, check: undefined } })
    expect(changes(commands)).toEqual([])
    const window = Swim.member(direct, "b")!.suspicion!
    expect(timerOf(commands, "suspicion/b")?.at).toBe(410 + Swim.Suspicion.timeout(window.bounds, 0))
    expect(direct.counters.unexpectedAcks).toBe(0)
    const [asked] = fire(pinged, "suspicion/b", 440)
    const [relayed] = recv(asked, 460, "c", Packet.Ack({ seq, claims: [] }))
    expect(Swim.member(relayed, "b")).toMatchObject({ status: "suspect", suspicion: { startedAt: 460, check: undefined } })
    // Anyone else's ack under that seq is a stray.
    const [stray] = recv(asked, 460, "z", Packet.Ack({ seq, claims: [] }))
    expect(Swim.member(stray, "b")?.suspicion?.check).toBeDefined()
    expect(stray.counters.unexpectedAcks).toBe(1)
  })

  it("with Lifeguard, clears the suspicion when the ack to that probe carries the refutation", () => {
    const s = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect" }, "c", "d"] })
    const [pinged] = fire(s, "suspicion/b", 400)
    const seq = Swim.member(pinged, "b")!.suspicion!.check!.seq
    const [after, commands] = recv(pinged, 410, "b", Packet.Ack({ seq, claims: [Build.alive("b", 1)] }))
    expect(Swim.member(after, "b")).toMatchObject({ status: "alive", incarnation: 1, suspicion: undefined })
    expect(commands).toContainEqual(Command.CancelTimer({ timer: "suspicion/b" }))
    expect(after.counters.unexpectedAcks).toBe(0)
    // The check's timer, left over, does nothing.
    const [later, none] = step(after, Event.TimerFired({ now: 440, timer: "suspicion/b", generation: pinged.timers.get("suspicion/b")! }))
    expect(none).toEqual([])
    expect(Swim.member(later, "b")?.status).toBe("alive")
  })

  it("plain SWIM declares a member dead when its suspicion timer fires, and reaps the tombstone later", () => {
    const s = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect" }] })
    const [after, commands] = firePlain(s, "suspicion/b", 400)
    expect(Swim.member(after, "b")?.status).toBe("dead")
    expect(changes(commands)).toEqual([Change.MemberDead({ member: "b", incarnation: 0, by: "a" })])
    expect(Build.queued(after)).toEqual([Swim.Claims.dead("b", 0, "a")])
    const armed = { ...after, timers: new Map(after.timers).set("probe", 99), started: true }
    const [early] = step(armed, Event.TimerFired({ now: 400 + config.deadRetentionMs - 1, timer: "probe", generation: 99 }))
    expect(Swim.member(early, "b")).toBeDefined()
    const [late] = step(armed, Event.TimerFired({ now: 400 + config.deadRetentionMs, timer: "probe", generation: 99 }))
    expect(Swim.member(late, "b")).toBeUndefined()
  })

  it("reaps each tombstone when its own retention ends, not before", () => {
    const s = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect" }, { id: "c", status: "suspect" }] })
    const [one] = firePlain(s, "suspicion/b", 400)
    const [both] = firePlain(one, "suspicion/c", 900)
    const armed = { ...both, timers: new Map(both.timers).set("probe", 99), started: true }
    const at = (now: number, st: State.State = armed) =>
      step(st, Event.TimerFired({ now, timer: "probe", generation: 99 }))[0]
    const first = at(400 + config.deadRetentionMs)
    expect(Swim.member(first, "b")).toBeUndefined()
    expect(Swim.member(first, "c")?.status).toBe("dead")
    const early = at(900 + config.deadRetentionMs - 1, { ...first, timers: new Map(first.timers).set("probe", 99) })
    expect(Swim.member(early, "c")).toBeDefined()
    const late = at(900 + config.deadRetentionMs, { ...early, timers: new Map(early.timers).set("probe", 99) })
    expect(Swim.member(late, "c")).toBeUndefined()
  })

  it("ignores a stale timer generation (stale-timer guard)", () => {
    const s = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect" }] })
    const current = s.timers.get("suspicion/b")!
    const [after, commands] = step(s, Event.TimerFired({ now: 10_000, timer: "suspicion/b", generation: current - 1 }))
    expect(commands).toEqual([])
    expect(Swim.member(after, "b")?.status).toBe("suspect")
    expect(after.counters.staleTimers).toBe(1)
  })

  it("ignores a suspicion timer left over from before a refutation", () => {
    const s = Build.swimState({ self: "a", members: [{ id: "b", status: "suspect" }] })
    const generation = s.timers.get("suspicion/b")!
    const [refuted] = recv(s, 5, "b", Packet.Ping({ seq: 1, claims: [Build.alive("b", 1)] }))
    const [after, commands] = step(refuted, Event.TimerFired({ now: 400, timer: "suspicion/b", generation }))
    expect(commands).toEqual([])
    expect(Swim.member(after, "b")?.status).toBe("alive")
  })
})

describe("Swim.step: PacketReceived Ack and Nack", () => {
  it("completes the probe on the target's ack, cancels the timeout and lowers health", () => {
    const s = { ...started({ self: "a", members: ["b"] }), health: 3 }
    const r = tick(s, 1_000)
    const [after, commands] = recv(r.after, 1_010, "b", Packet.Ack({ seq: r.after.probe!.seq, claims: [] }))
    expect(after.probe!.acked).toBe(true)
    expect(after.health).toBe(2)
    expect(commands).toContainEqual(Command.CancelTimer({ timer: "probe-timeout" }))
    const [next] = fire(after, "probe", 1_100)
    expect(Swim.member(next, "b")?.status).toBe("alive")
  })

  it("accepts a relayed ack from a helper, but not an ack from a stranger", () => {
    const s = started({ self: "a", members: ["b", "c", "d"] })
    const r = tick(s, 1_000)
    const [mid, reqCommands] = fire(r.after, "probe-timeout", 1_040)
    const helper = sends(reqCommands)[0]!.to
    const stranger = ["b", "c", "d"].find((id) => id !== helper && id !== r.target && !mid.probe!.helpers.includes(id))
    if (stranger !== undefined) {
      const [ignored] = recv(mid, 1_050, stranger, Packet.Ack({ seq: mid.probe!.seq, claims: [] }))
      expect(ignored.probe!.acked).toBe(false)
      expect(ignored.counters.unexpectedAcks).toBe(1)
    }
    const [after] = recv(mid, 1_060, helper, Packet.Ack({ seq: mid.probe!.seq, claims: [] }))
    expect(after.probe!.acked).toBe(true)
  })

  it("counts a late ack with an unknown seq (§14 row 10)", () => {
    const [after, commands] = recv(Build.swimState({ self: "a", members: ["b"] }), 5, "b", Packet.Ack({ seq: 77, claims: [] }))
    expect(commands).toEqual([])
    expect(after.counters.unexpectedAcks).toBe(1)
  })

  it("counts each helper's nack once and ignores nacks from others", () => {
    const s = started({ self: "a", members: ["b", "c", "d", "e"] })
    const r = tick(s, 1_000)
    const [mid, reqCommands] = fire(r.after, "probe-timeout", 1_040)
    const helper = sends(reqCommands)[0]!.to
    const nack = (from: string, st: State.State) => step(st, Event.PacketReceived({ now: 1_070, from, packet: Packet.Nack({ seq: r.after.probe!.seq }) }))[0]
    const once = nack(helper, mid)
    const twice = nack(helper, once)
    expect(twice.probe!.nacks).toEqual([helper])
    expect(twice.counters.unexpectedNacks).toBe(1)
    expect(nack(r.target!, mid).counters.unexpectedNacks).toBe(1)
  })
})

describe("Swim.step: PacketReceived PingReq (relaying for others)", () => {
  it("pings the target under its own seq, then passes the target's ack back with the requester's seq", () => {
    const s = Build.swimState({ self: "h", members: ["a", "t"] })
    const [relaying, commands] = recv(s, 0, "a", Packet.PingReq({ seq: 5, target: "t", claims: [] }))
    const ping = sends(commands)[0]!
    expect(ping.to).toBe("t")
    const ourSeq = (ping.packet as { seq: number }).seq
    expect(timerOf(commands, `relay/${ourSeq}`)!.at).toBe(Math.floor(config.nackFraction * config.probeTimeoutMs))
    const [after, back] = recv(relaying, 10, "t", Packet.Ack({ seq: ourSeq, claims: [] }))
    expect(sends(back)).toEqual([Command.Send({ to: "a", packet: Packet.Ack({ seq: 5, claims: [] }) })])
    expect(after.relays.size).toBe(0)
  })

  it("nacks when the target stays silent, still passes a late ack, then forgets the relay", () => {
    const s = Build.swimState({ self: "h", members: ["a", "t"] })
    const [relaying, commands] = recv(s, 0, "a", Packet.PingReq({ seq: 5, target: "t", claims: [] }))
    const ourSeq = (sends(commands)[0]!.packet as { seq: number }).seq
    const [nacked, nackCommands] = fire(relaying, `relay/${ourSeq}`, 32)
    expect(sends(nackCommands)).toEqual([Command.Send({ to: "a", packet: Packet.Nack({ seq: 5 }) })])
    const [, lateCommands] = recv(nacked, 50, "t", Packet.Ack({ seq: ourSeq, claims: [] }))
    expect(sends(lateCommands)).toEqual([Command.Send({ to: "a", packet: Packet.Ack({ seq: 5, claims: [] }) })])
    const [expired, expiredCommands] = fire(nacked, `relay/${ourSeq}`, 100)
    expect(sends(expiredCommands)).toEqual([])
    expect(expired.relays.size).toBe(0)
  })

  it("answers directly when asked to probe itself", () => {
    const [, commands] = recv(Build.swimState({ self: "h" }), 0, "a", Packet.PingReq({ seq: 5, target: "h", claims: [] }))
    expect(sends(commands)).toEqual([Command.Send({ to: "a", packet: Packet.Ack({ seq: 5, claims: [] }) })])
  })

  it("drops requests past maxPendingRelays and counts them", () => {
    let s = Build.swimState({ self: "h", config: { ...config, maxPendingRelays: 2 } })
    const stepSmall = Swim.makeStep({ ...config, maxPendingRelays: 2 })
    for (let i = 0; i < 4; i++) {
      ;[s] = stepSmall(s, Event.PacketReceived({ now: 0, from: "a", packet: Packet.PingReq({ seq: i, target: `t${i}`, claims: [] }) }))
    }
    expect(s.relays.size).toBe(2)
    expect(s.counters.relaysDropped).toBe(2)
  })
})

describe("Swim.step: PacketReceived Sync (push-pull)", () => {
  it("answers a request with its full state under the same seq and merges the sender's", () => {
    const s = Build.swimState({ self: "a", incarnation: 1, members: ["b", { id: "c", status: "suspect", incarnation: 2 }] })
    const [after, commands] = recv(s, 0, "d", Packet.Sync({ seq: 3, claims: [Build.alive("d", 0), Build.alive("e", 1)] }))
    expect(Swim.member(after, "e")?.status).toBe("alive")
    const reply = sends(commands)[0]!
    expect(reply.to).toBe("d")
    expect(reply.packet).toMatchObject({ _tag: "Sync", seq: 3 })
    const claims = (reply.packet as { claims: ReadonlyArray<Swim.Claim> }).claims
    expect(claims[0]).toEqual(Swim.Claims.alive("a", 1, ["quic://a"]))
    // A suspect travels with its last alive claim, so the receiver can probe it.
    expect(claims.filter((c) => c.subject === "c").map((c) => c.kind)).toEqual(["alive", "suspect"])
  })

  it("takes a reply to its own request without answering it", () => {
    const [s] = step(Build.swimState({ self: "a" }), Event.Join({ now: 0, peers: ["s"] }))
    const [after, commands] = recv(s, 10, "s", Packet.Sync({ seq: 1, claims: [Build.alive("s", 0)] }))
    expect(sends(commands)).toEqual([])
    expect(after.pendingSyncs.size).toBe(0)
    expect(Swim.member(after, "s")?.status).toBe("alive")
  })

  it("drops claims beyond 2 × swimMaxMembers + 1 in one sync", () => {
    const small = { ...config, swimMaxMembers: 2 }
    const claims = Array.from({ length: 9 }, (_, i) => Build.alive(`m${i}`, 0))
    const [after] = Swim.makeStep(small)(Build.swimState({ self: "a", config: small }), Event.PacketReceived({ now: 0, from: "m0", packet: Packet.Sync({ seq: 1, claims }) }))
    expect(after.counters.syncClaimsDropped).toBe(4)
    expect(after.members.size).toBe(2)
  })

  it("syncs with a random member when the push-pull timer fires, and re-arms it; never with one that left", () => {
    const base = started({ self: "a", members: ["b", "c"] })
    const [s] = recv(base, 1, "c", Packet.Ping({ seq: 1, claims: [Build.dead({ about: "c", incarnation: 0, by: "c" })] }))
    const [after, commands] = fire(s, "push-pull", 5_000)
    expect(sends(commands).map((c) => [c.to, c.packet._tag])).toEqual([["b", "Sync"]])
    expect(timerOf(commands, "push-pull")!.at).toBe(5_000 + config.pushPullIntervalMs)
    expect(after.pendingSyncs.size).toBe(1)
  })

  it("heals a partition: two members that declared each other dead sync, refute and revive", () => {
    const a = started({ self: "a", members: [{ id: "b", status: "dead" }] })
    const b = Build.swimState({ self: "b", members: [{ id: "a", status: "dead" }] })
    // The only push-pull candidate of a is the tombstone b (it did not leave).
    const [a1, toB] = fire(a, "push-pull", 5_000)
    const request = sends(toB)[0]!
    expect(request.to).toBe("b")
    const [b1, toA] = recv(b, 5_001, "a", request.packet)
    expect(b1.self.incarnation).toBe(1)
    const [a2] = recv(a1, 5_002, "b", sends(toA)[0]!.packet)
    expect(Swim.member(a2, "b")).toMatchObject({ status: "alive", incarnation: 1 })
    expect(a2.self.incarnation).toBe(1)
  })
})

describe("Swim.step: SendFailed", () => {
  it("treats a failed direct ping as a failed direct probe: helpers are asked at once", () => {
    const s = started({ self: "a", members: ["b", "c", "d"] })
    const r = tick(s, 1_000)
    const ping = sends(r.commands)[0]!
    const [after, commands] = step(r.after, Event.SendFailed({ now: 1_001, to: ping.to, packet: ping.packet }))
    expect(commands).toContainEqual(Command.CancelTimer({ timer: "probe-timeout" }))
    expect(sends(commands).every((c) => c.packet._tag === "PingReq")).toBe(true)
    expect(sends(commands).length).toBeGreaterThan(0)
    expect(after.probe!.indirect).toBe(true)
  })

  it("nacks the requester at once when the relayed ping cannot be sent", () => {
    const [relaying, commands] = recv(Build.swimState({ self: "h" }), 0, "a", Packet.PingReq({ seq: 5, target: "t", claims: [] }))
    const ping = sends(commands)[0]!
    const [after, failed] = step(relaying, Event.SendFailed({ now: 1, to: "t", packet: ping.packet }))
    expect(sends(failed)).toEqual([Command.Send({ to: "a", packet: Packet.Nack({ seq: 5 }) })])
    expect(after.relays.size).toBe(0)
  })

  it("forgets a sync request that could not be sent, and counts other failures", () => {
    const [s, commands] = step(Build.swimState({ self: "a" }), Event.Join({ now: 0, peers: ["s"] }))
    const [after] = step(s, Event.SendFailed({ now: 1, to: "s", packet: sends(commands)[0]!.packet }))
    expect(after.pendingSyncs.size).toBe(0)
    const [counted] = step(after, Event.SendFailed({ now: 1, to: "s", packet: Packet.Nack({ seq: 1 }) }))
    expect(counted.counters.sendFailures).toBe(1)
  })
})

describe("Swim.step: UpdateAddresses", () => {
  it("announces new addresses under a higher incarnation", () => {
    const s = Build.swimState({ self: "a", incarnation: 4 })
    const [after, commands] = step(s, Event.UpdateAddresses({ now: 0, addrs: ["quic://new"] }))
    expect(after.self).toMatchObject({ incarnation: 5, addrs: ["quic://new"] })
    expect(commands).toEqual([Command.PersistIncarnation({ incarnation: 5 })])
    expect(Build.queued(after)).toEqual([Swim.Claims.alive("a", 5, ["quic://new"])])
    const [same, none] = step(after, Event.UpdateAddresses({ now: 1, addrs: ["quic://new"] }))
    expect(none).toEqual([])
    expect(same).toBe(after)
  })
})

describe("Swim.step: Leave", () => {
  it("gossips its own dead claim to a few members and refutes nothing afterwards", () => {
    const s = Build.swimState({ self: "a", incarnation: 2, members: ["b", "c", "d", "e"] })
    const [after, commands] = step(s, Event.Leave({ now: 0 }))
    expect(after.self.leaving).toBe(true)
    const pings = sends(commands)
    expect(pings).toHaveLength(config.indirectProbes)
    for (const p of pings) expect(p.packet).toMatchObject({ _tag: "Ping", claims: [Swim.Claims.dead("a", 2, "a")] })
    const [later] = recv(after, 5, "b", Packet.Ping({ seq: 1, claims: [Build.suspect({ about: "a", incarnation: 2, by: "b" })] }))
    expect(later.self.incarnation).toBe(2)
    expect(Swim.snapshot(later)[0]).toEqual(Swim.Claims.dead("a", 2, "a"))
  })

  it("accuses nobody once leaving", () => {
    const s = started({ self: "a", members: ["b"] })
    const r = tick(s, 1_000)
    const [leaving] = step(r.after, Event.Leave({ now: 1_001 }))
    const [after, commands] = fire(leaving, "probe", 1_100)
    expect(Swim.member(after, "b")?.status).toBe("alive")
    expect(changes(commands)).toEqual([])
  })
})

describe("Swim.step: purity", () => {
  it("gives the same result for the same state and event, and leaves the input untouched", () => {
    const s = started({ self: "a", members: ["b", "c", "d"] })
    const snapshot = JSON.stringify([...s.members]) + JSON.stringify([...s.timers])
    const once = fire(s, "probe", 1_000)
    const again = fire(s, "probe", 1_000)
    expect(once).toEqual(again)
    expect(JSON.stringify([...s.members]) + JSON.stringify([...s.timers])).toBe(snapshot)
  })
})

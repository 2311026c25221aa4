/**
 * The station router, one table per event tag: state + event in, commands out. Configs are
 * the `local` preset (small windows: send window 8, mailbox 16, alo buffer 32, alo in-flight
 * 8) unless a case says otherwise.
 */
import { describe, expect, it } from "vitest"
import { PubSub } from "../../../../src/protocols/pubsub/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import type { EnvelopeBody } from "../../../../src/wire/SignedBody.ts"
import * as B from "./Build.ts"

const { RouterEvent: E } = PubSub
const self = B.id(0xee)
const alice = B.id(1)
const bob = B.id(2)
const peer = B.id(0x51)
const WALL = 1_000_000

/** A router with a step function that remembers the clock and the commands. */
const station = (config: PubSub.Config = PubSub.local, init: Partial<PubSub.RouterInit> = {}) => {
  const step = PubSub.makeRouterStep(config)
  let state = PubSub.initialRouter(config, { self, ...init })
  let now = 0
  const run = (event: PubSub.RouterEvent): ReadonlyArray<PubSub.RouterCommand> => {
    const [after, commands] = step(state, event)
    state = after
    return commands
  }
  let nextId = 100
  const api = {
    get state() {
      return state
    },
    run,
    at: (t: number) => {
      now = t
      return api
    },
    attach: (client: string) => run(E.ClientAttached({ now, client })),
    detach: (client: string) => run(E.ClientDetached({ now, client })),
    sub: (client: string, sid: number, pat: string, extra: Partial<Frame.Sub> = {}, verdict = PubSub.allowed) =>
      run(E.SubReceived({ now, client, verdict, frame: { t: "sub", id: nextId++, sid, realm: B.realm, pat, ...extra } })),
    pub: (client: string, env: EnvelopeBody, opts: { id?: number; verdict?: PubSub.Verdict; wall?: number } = {}) =>
      run(
        E.PubReceived({
          now,
          wall: opts.wall ?? WALL,
          client,
          envelope: env,
          verdict: opts.verdict ?? PubSub.allowed,
          frame: { t: "pub", ...(opts.id === undefined ? {} : { id: opts.id }), ...B.signedOf(env) }
        })
      ),
    ack: (client: string, sid: number, cur: number) => run(E.AckReceived({ now, client, frame: { t: "ack", sid, cur } })),
    flushed: (client: string, count: number) => run(E.Flushed({ now, client, count })),
    fire: (timer: string) => run(E.TimerFired({ now, timer, generation: state.timers.armed.get(timer)! }))
  }
  return api
}

const ev = (pub: number, seq: number, extra: Partial<Parameters<typeof B.envelope>[0]> = {}) =>
  B.envelope({ pub, seq, ts: WALL, ...extra })

const errs = (cs: ReadonlyArray<PubSub.RouterCommand>) => B.frames(cs, undefined, "err") as Array<Frame.Err>
const events = (cs: ReadonlyArray<PubSub.RouterCommand>, to?: string) => B.frames(cs, to, "event") as Array<Frame.Event>

describe("Router: SubReceived", () => {
  it("answers ok and registers an exact topic and a wildcard pattern", () => {
    const s = station()
    s.attach(alice)
    expect(B.frames(s.sub(alice, 1, B.topic()), alice, "ok")).toHaveLength(1)
    expect(B.frames(s.sub(alice, 2, B.allMpong), alice, "ok")).toHaveLength(1)
    expect(PubSub.routerSizes(s.state).subscriptions).toBe(2)
  })
  it.each([
    ["io.macula/#/x", "invalid_pattern", "invalid_pattern"],
    ["io.macula/a*/b/c/d_v1", "invalid_pattern", "invalid_pattern"],
    ["a/b/c/d", "invalid_topic", "invalid_structure"],
    ["io.macula/beam-campus/hecate/mpong/event_v0", "invalid_topic", "invalid_version"]
  ])("refuses %s with %s (%s) and registers nothing", (pat, code, reason) => {
    const s = station()
    s.attach(alice)
    const e = errs(s.sub(alice, 1, pat))
    expect(e).toEqual([expect.objectContaining({ c: code, r: reason })])
    expect(PubSub.routerSizes(s.state).subscriptions).toBe(0)
  })
  it("refuses a denied verdict with the UCAN reason", () => {
    const s = station()
    s.attach(alice)
    expect(errs(s.sub(alice, 1, B.topic(), {}, PubSub.denied("Expired")))).toEqual([
      expect.objectContaining({ c: "unauthorized", r: "Expired" })
    ])
  })
  it("refuses a realm it does not serve", () => {
    const s = station({ ...PubSub.local, servedRealms: [B.id(0xbb)] })
    s.attach(alice)
    expect(errs(s.sub(alice, 1, B.topic()))[0]?.c).toBe("realm_refused")
  })
  it("refuses a system topic outside the zero realm", () => {
    const s = station()
    s.attach(alice)
    expect(errs(s.sub(alice, 1, "_station.events"))[0]).toMatchObject({ c: "invalid_topic", r: "system_topic_realm" })
  })
  it("refuses subscriptions past maxSubscriptionsPerClient with overloaded", () => {
    const s = station({ ...PubSub.local, maxSubscriptionsPerClient: 2 })
    s.attach(alice)
    s.sub(alice, 1, B.topic("a"))
    s.sub(alice, 2, B.topic("b"))
    expect(errs(s.sub(alice, 3, B.topic("c")))[0]?.c).toBe("overloaded")
    // Replacing an existing sid is not a new subscription.
    expect(errs(s.sub(alice, 2, B.topic("d")))).toEqual([])
  })
  it("ignores a sub from a client that is not attached", () => {
    const s = station()
    expect(s.sub(alice, 1, B.topic())).toEqual([])
    expect(s.state.counters.ignored).toBe(1)
  })
})

describe("Router: PubReceived", () => {
  it("sends one event per client listing every matching amo sid, and ok when asked", () => {
    const s = station()
    s.attach(alice)
    s.attach(bob)
    s.sub(alice, 1, B.topic())
    s.sub(alice, 2, B.allMpong)
    s.sub(alice, 3, B.topic("other"))
    s.sub(bob, 9, B.everything)
    const out = s.pub(bob, ev(2, 1), { id: 7 })
    expect(events(out, alice).map((f) => f.sid)).toEqual([[1, 2]])
    expect(events(out, bob).map((f) => f.sid)).toEqual([[9]])
    expect(B.frames(out, bob, "ok")).toEqual([{ t: "ok", id: 7 }])
  })
  it("drops a duplicate (pk, sess, seq) but still confirms it", () => {
    const s = station()
    s.attach(alice)
    s.sub(alice, 1, B.topic())
    s.pub(alice, ev(1, 1))
    const again = s.pub(alice, ev(1, 1), { id: 3 })
    expect(events(again)).toEqual([])
    expect(B.frames(again, alice, "ok")).toHaveLength(1)
    expect(s.state.counters.duplicates).toBe(1)
  })
  it("refuses an envelope signed by someone else (major penalty)", () => {
    const s = station()
    s.attach(alice)
    const out = s.pub(alice, ev(2, 1), { id: 1 })
    expect(errs(out)[0]).toMatchObject({ c: "unauthorized", r: "publisher_mismatch" })
    expect(B.ofTag(out, "Penalise")).toEqual([expect.objectContaining({ peer: alice, severity: "major" })])
  })
  it.each([
    ["too old", WALL - PubSub.local.eventMaxAgeMs - PubSub.local.clockSkewLeewayMs - 1],
    ["from the future", WALL + PubSub.local.clockSkewLeewayMs + 1]
  ])("drops an event whose ts is %s and counts it", (_, ts) => {
    const s = station()
    s.attach(alice)
    s.sub(alice, 1, B.topic())
    const out = s.pub(alice, ev(1, 1, { ts }), { id: 4 })
    expect(events(out)).toEqual([])
    expect(errs(out)[0]).toMatchObject({ c: "bad_request", r: "stale_event" })
    expect(s.state.counters.staleEvents).toBe(1)
  })
  it("refuses system topics from clients, bad topics and denied verdicts", () => {
    const s = station()
    s.attach(alice)
    expect(errs(s.pub(alice, ev(1, 1, { topic: "_x.y", realm: B.zeroRealm }), { id: 1 }))[0]?.c).toBe("unauthorized")
    expect(errs(s.pub(alice, ev(1, 2, { topic: "a/b" }), { id: 2 }))[0]).toMatchObject({ c: "invalid_topic" })
    expect(errs(s.pub(alice, ev(1, 3), { id: 3, verdict: PubSub.denied("MatchError") }))[0]).toMatchObject({
      c: "unauthorized",
      r: "MatchError"
    })
  })
  it("refuses bodies above maxEventBytes", () => {
    const s = station({ ...PubSub.local, maxEventBytes: 8 })
    s.attach(alice)
    expect(errs(s.pub(alice, ev(1, 1), { id: 1 }))[0]?.c).toBe("payload_too_large")
  })
  it("rate-limits a client to its burst, then refills at publishRatePerSec", () => {
    const s = station({ ...PubSub.local, publishBurst: 2, publishRatePerSec: 10 })
    s.attach(alice)
    s.pub(alice, ev(1, 1))
    s.pub(alice, ev(1, 2))
    expect(errs(s.pub(alice, ev(1, 3)))[0]?.c).toBe("overloaded")
    expect(errs(s.at(100).pub(alice, ev(1, 4)))).toEqual([])
  })
  it("forwards once to each peer whose interest matches, never to others", () => {
    const s = station()
    s.attach(alice)
    s.run(E.PeerUp({ now: 0, peer }))
    s.run(E.PeerUp({ now: 0, peer: B.id(0x52) }))
    s.run(E.InterestReceived({ now: 0, peer, frame: { t: "interest.add", gen: 1, e: [[B.realm, B.allMpong], [B.realm, B.everything]] } }))
    s.run(E.InterestReceived({ now: 0, peer: B.id(0x52), frame: { t: "interest.add", gen: 1, e: [[B.realm, B.topic("x")]] } }))
    const out = s.pub(alice, ev(1, 1))
    expect(B.frames(out, undefined, "fwd").length).toBe(1)
    expect(B.frames(out, peer, "fwd").length).toBe(1)
  })
})

describe("Router: FwdReceived and PublishLocal", () => {
  it("delivers a forwarded event locally and never forwards it again", () => {
    const s = station()
    s.attach(alice)
    s.sub(alice, 1, B.topic())
    s.run(E.PeerUp({ now: 0, peer }))
    s.run(E.PeerUp({ now: 0, peer: B.id(0x52) }))
    s.run(E.InterestReceived({ now: 0, peer: B.id(0x52), frame: { t: "interest.add", gen: 1, e: [[B.realm, B.everything]] } }))
    const env = ev(7, 1)
    const out = s.run(E.FwdReceived({ now: 0, wall: WALL, peer, envelope: env, frame: { t: "fwd", ...B.signedOf(env) } }))
    expect(events(out, alice)).toHaveLength(1)
    expect(B.frames(out, undefined, "fwd")).toEqual([])
  })
  it("ignores a fwd from a station without an interest link", () => {
    const s = station()
    const env = ev(7, 1)
    expect(s.run(E.FwdReceived({ now: 0, wall: WALL, peer, envelope: env, frame: { t: "fwd", ...B.signedOf(env) } }))).toEqual([])
  })
  it("delivers the station's own system-topic publish to zero-realm subscribers only", () => {
    const s = station()
    s.attach(alice)
    s.sub(alice, 1, "_station.revoked", { realm: B.zeroRealm })
    const env = ev(0xee, 1, { topic: "_station.revoked", realm: B.zeroRealm })
    const out = s.run(E.PublishLocal({ now: 0, wall: WALL, envelope: env, signed: B.signedOf(env) }))
    expect(events(out, alice).map((f) => f.sid)).toEqual([[1]])
  })
})

describe("Router: UnsubReceived", () => {
  it("stops delivery and answers ok", () => {
    const s = station()
    s.attach(alice)
    s.sub(alice, 1, B.topic())
    const out = s.run(E.UnsubReceived({ now: 0, client: alice, frame: { t: "unsub", id: 5, sid: 1 } }))
    expect(B.frames(out, alice, "ok")).toEqual([{ t: "ok", id: 5 }])
    expect(events(s.pub(alice, ev(1, 1)))).toEqual([])
  })
})

describe("Router: Flushed (slow subscribers)", () => {
  it("holds frames behind the send window and drops the oldest past subscriberMailboxSize", () => {
    const c = PubSub.local
    const s = station()
    s.attach(alice)
    s.attach(bob)
    s.sub(alice, 1, B.topic())
    const total = c.clientSendWindow + c.subscriberMailboxSize + 5
    let sent = 0
    for (let i = 1; i <= total; i++) sent += events(s.pub(bob, ev(2, i))).length
    expect(sent).toBe(c.clientSendWindow)
    expect(PubSub.routerSizes(s.state).maxQueue).toBe(c.subscriberMailboxSize)
    expect(s.state.counters.queueDrops).toBe(5)
    const out = s.flushed(alice, 3)
    expect(events(out, alice)).toHaveLength(3)
  })
})

describe("Router: at-least-once", () => {
  const aloSub = (s: ReturnType<typeof station>, sid = 1, extra: Partial<Frame.Sub> = {}) =>
    s.sub(alice, sid, B.topic(), { mode: "alo", ...extra })

  it("answers ok with cur 0 at once when no peer is linked, then numbers deliveries", () => {
    const s = station()
    s.attach(alice)
    s.attach(bob)
    expect(B.frames(aloSub(s), alice, "ok")).toEqual([expect.objectContaining({ cur: 0 })])
    const out = s.pub(bob, ev(2, 1))
    expect(events(out, alice)).toEqual([expect.objectContaining({ sid: [1], cur: 1 })])
  })
  it("pauses at aloMaxInFlight unacknowledged deliveries and resumes on ack", () => {
    const s = station({ ...PubSub.local, clientSendWindow: 1_000 })
    s.attach(alice)
    s.attach(bob)
    aloSub(s)
    let n = 0
    for (let i = 1; i <= 12; i++) n += events(s.pub(bob, ev(2, i)), alice).length
    expect(n).toBe(PubSub.local.aloMaxInFlight)
    const out = s.ack(alice, 1, 4)
    expect(events(out, alice).map((f) => f.cur)).toEqual([9, 10, 11, 12])
  })
  it("announces evicted events with a gap (overflow) instead of losing them silently", () => {
    const s = station({ ...PubSub.local, clientSendWindow: 1_000, aloBufferMaxEvents: 4, aloMaxInFlight: 2 })
    s.attach(alice)
    s.attach(bob)
    aloSub(s)
    for (let i = 1; i <= 10; i++) s.pub(bob, ev(2, i))
    // Delivered 1, 2; buffer holds 7..10 (1, 2 were evicted while unacknowledged, 3..6 never sent).
    const out = s.ack(alice, 1, 2)
    expect(B.frames(out, alice, "gap")).toEqual([{ t: "gap", sid: 1, from: 3, to: 6, why: "overflow" }])
    // Gap cursors count as in flight until acknowledged, like events.
    expect(events(out, alice)).toEqual([])
    expect(events(s.ack(alice, 1, 6), alice).map((f) => f.cur)).toEqual([7, 8])
  })
  it("evicts past aloRetentionMs with why retention", () => {
    const s = station({ ...PubSub.local, clientSendWindow: 1_000, aloMaxInFlight: 1 })
    s.attach(alice)
    s.attach(bob)
    aloSub(s)
    s.pub(bob, ev(2, 1))
    s.pub(bob, ev(2, 2))
    const out = s.at(PubSub.local.aloRetentionMs + 1).ack(alice, 1, 1)
    expect(B.frames(out, alice, "gap")).toEqual([{ t: "gap", sid: 1, from: 2, to: 2, why: "retention" }])
  })
  it("keeps the subscription across a disconnect and replays everything after the client's cursor", () => {
    const s = station({ ...PubSub.local, clientSendWindow: 1_000 })
    s.attach(alice)
    s.attach(bob)
    aloSub(s)
    for (let i = 1; i <= 3; i++) s.pub(bob, ev(2, i))
    s.detach(alice)
    s.pub(bob, ev(2, 4)) // buffered while detached
    s.attach(alice)
    const out = aloSub(s, 1, { cur: 1 })
    expect(B.frames(out, alice, "ok")).toEqual([expect.objectContaining({ cur: 1 })])
    expect(events(out, alice).map((f) => f.cur)).toEqual([2, 3, 4])
  })
  it("drops a detached alo subscription after aloRetentionMs", () => {
    const s = station()
    s.attach(alice)
    aloSub(s)
    s.detach(alice)
    s.at(PubSub.local.aloRetentionMs).fire(`alo/${alice}/1`)
    expect(s.state.clients.size).toBe(0)
  })
  it.each([
    [{}, "resume_unavailable"],
    [{ restartedAt: 0 }, "station_restart"]
  ])("answers a resume it has no state for with a gap (%o → %s)", (init, why) => {
    const s = station(PubSub.local, init)
    s.attach(alice)
    const out = aloSub(s, 1, { cur: 41 })
    expect(B.frames(out, alice, "gap")).toEqual([{ t: "gap", sid: 1, from: 42, to: 42, why }])
  })
  it("holds the ok until every linked peer acknowledged the new interest", () => {
    const s = station()
    s.attach(alice)
    s.run(E.PeerUp({ now: 0, peer }))
    const out = aloSub(s)
    const add = B.frames(out, peer, "interest.add")[0] as Frame.InterestAdd
    expect(add.id).toBeDefined()
    expect(B.frames(out, alice, "ok")).toEqual([])
    const done = s.run(E.PeerOkReceived({ now: 1, peer, frame: { t: "ok", id: add.id! } }))
    expect(B.frames(done, alice, "ok")).toHaveLength(1)
  })
  it("answers after interestAckTimeoutMs when a peer stays silent", () => {
    const s = station()
    s.attach(alice)
    s.run(E.PeerUp({ now: 0, peer }))
    aloSub(s)
    const timer = Array.from(s.state.timers.armed.keys()).find((k) => k.startsWith("iack/"))!
    expect(B.frames(s.at(PubSub.local.interestAckTimeoutMs).fire(timer), alice, "ok")).toHaveLength(1)
  })
  it("penalises an ack beyond what was sent", () => {
    const s = station()
    s.attach(alice)
    aloSub(s)
    expect(B.ofTag(s.ack(alice, 1, 5), "Penalise")).toHaveLength(1)
  })
})

describe("Router: ClientDetached", () => {
  it("ends amo subscriptions and forgets the client", () => {
    const s = station()
    s.attach(alice)
    s.sub(alice, 1, B.topic())
    s.detach(alice)
    expect(s.state.clients.size).toBe(0)
    expect(PubSub.routerSizes(s.state).subscriptions).toBe(0)
  })
})

describe("Router: interest exchange", () => {
  it("PeerUp sends a full sync of local patterns in parts of maxInterestEntriesPerFrame", () => {
    const s = station({ ...PubSub.local, maxInterestEntriesPerFrame: 2 })
    s.attach(alice)
    for (let i = 1; i <= 5; i++) s.sub(alice, i, B.topic(`t${i}`))
    const parts = B.frames(s.run(E.PeerUp({ now: 0, peer })), peer, "interest.sync") as Array<Frame.InterestSync>
    expect(parts.map((p) => [p.e.length, p.more])).toEqual([[2, true], [2, true], [1, false]])
  })
  it("batches new patterns over interestBatchMs into one interest.add", () => {
    const s = station()
    s.run(E.PeerUp({ now: 0, peer }))
    s.attach(alice)
    s.sub(alice, 1, B.topic("a"))
    s.sub(alice, 2, B.topic("b"))
    const out = s.at(PubSub.local.interestBatchMs).fire("interest-batch")
    expect((B.frames(out, peer, "interest.add") as Array<Frame.InterestAdd>).map((f) => f.e.length)).toEqual([2])
  })
  it("withdraws a pattern only after interestDelDelayMs without subscribers", () => {
    const s = station()
    s.run(E.PeerUp({ now: 0, peer }))
    s.attach(alice)
    s.sub(alice, 1, B.topic())
    s.fire("interest-batch")
    s.run(E.UnsubReceived({ now: 0, client: alice, frame: { t: "unsub", id: 1, sid: 1 } }))
    // A quick re-subscribe cancels the withdrawal.
    s.sub(alice, 2, B.topic())
    expect(s.state.timers.armed.has(`idel/${B.id(0xaa)} ${B.topic()}`)).toBe(false)
    s.run(E.UnsubReceived({ now: 0, client: alice, frame: { t: "unsub", id: 2, sid: 2 } }))
    s.at(PubSub.local.interestDelDelayMs).fire(`idel/${B.id(0xaa)} ${B.topic()}`)
    const out = s.fire("interest-batch")
    expect(B.frames(out, peer, "interest.del")).toHaveLength(1)
  })
  it("assembles a multi-part sync, replaces the peer's interest and answers ok after the last part", () => {
    const s = station()
    s.run(E.PeerUp({ now: 0, peer }))
    s.run(E.InterestReceived({ now: 0, peer, frame: { t: "interest.add", gen: 1, e: [[B.realm, B.topic("old")]] } }))
    const first = s.run(E.InterestReceived({ now: 0, peer, frame: { t: "interest.sync", id: 9, gen: 2, e: [[B.realm, B.topic("a")]], more: true } }))
    expect(B.frames(first, peer, "ok")).toEqual([])
    const last = s.run(E.InterestReceived({ now: 0, peer, frame: { t: "interest.sync", id: 9, gen: 2, e: [[B.realm, B.topic("b")]], more: false } }))
    expect(B.frames(last, peer, "ok")).toEqual([{ t: "ok", id: 9 }])
    expect(Array.from(s.state.peers.get(peer)!.interest.keys()).sort()).toEqual([
      `${B.id(0xaa)} ${B.topic("a")}`,
      `${B.id(0xaa)} ${B.topic("b")}`
    ])
  })
  it("ignores invalid entries with a minor penalty and caps entries per peer", () => {
    const s = station({ ...PubSub.local, maxInterestEntriesPerPeer: 1 })
    s.run(E.PeerUp({ now: 0, peer }))
    const out = s.run(E.InterestReceived({
      now: 0,
      peer,
      frame: { t: "interest.add", id: 3, gen: 1, e: [[B.realm, "bad/pattern"], [B.realm, B.topic("a")], [B.realm, B.topic("b")]] }
    }))
    expect(B.ofTag(out, "Penalise")).toHaveLength(1)
    expect(s.state.peers.get(peer)!.interest.size).toBe(1)
    expect(B.frames(out, peer, "ok")).toEqual([{ t: "ok", id: 3 }])
  })
  it("PeerDown drops the peer's interest: nothing is forwarded to it", () => {
    const s = station()
    s.attach(alice)
    s.run(E.PeerUp({ now: 0, peer }))
    s.run(E.InterestReceived({ now: 0, peer, frame: { t: "interest.add", gen: 1, e: [[B.realm, B.everything]] } }))
    s.run(E.PeerDown({ now: 0, peer }))
    expect(B.frames(s.pub(alice, ev(1, 1)), undefined, "fwd")).toEqual([])
    expect(s.state.peerTries.size).toBe(0)
  })
})

describe("Router: TimerFired", () => {
  it("ignores a stale generation", () => {
    const s = station()
    expect(s.run(E.TimerFired({ now: 0, timer: "interest-batch", generation: 99 }))).toEqual([])
    expect(s.state.counters.staleTimers).toBe(1)
  })
})

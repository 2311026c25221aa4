/**
 * The client session, one table per event tag. Config: the `local` preset (gap wait 50 ms,
 * reorder buffer 16, mailbox 16, restart jump 1 000, ack interval 10 ms).
 */
import { describe, expect, it } from "vitest"
import { PubSub } from "../../../../src/protocols/pubsub/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import type { EnvelopeBody } from "../../../../src/wire/SignedBody.ts"
import * as B from "./Build.ts"

const { SessionEvent: E, Notice } = PubSub
const station = B.id(0xee)

const client = (config: PubSub.Config = PubSub.local) => {
  const step = PubSub.makeSessionStep(config)
  let state = PubSub.initialSession(config, { pk: B.bytes32(1), sess: B.sess(9) })
  let now = 0
  const run = (event: PubSub.SessionEvent): ReadonlyArray<PubSub.SessionCommand> => {
    const [after, commands] = step(state, event)
    state = after
    return commands
  }
  const api = {
    get state() {
      return state
    },
    run,
    at: (t: number) => {
      now = t
      return api
    },
    up: () => run(E.LinkUp({ now, station })),
    sub: (sid: number, pattern = B.topic(), mode: Frame.SubMode = "amo") => run(E.Subscribe({ now, sid, realm: B.realm, pattern, mode })),
    ok: (id: number, cur?: number) => run(E.ReplyReceived({ now, frame: cur === undefined ? { t: "ok", id } : { t: "ok", id, cur } })),
    event: (sids: ReadonlyArray<number>, env: EnvelopeBody, cur?: number) =>
      run(E.EventReceived({ now, envelope: env, frame: { t: "event", sid: sids, ...B.signedOf(env), ...(cur === undefined ? {} : { cur }) } })),
    handled: (sid: number) => run(E.Handled({ now, sid })),
    fire: (timer: string) => run(E.TimerFired({ now, timer, generation: state.timers.armed.get(timer)! }))
  }
  return api
}

const sent = (cs: ReadonlyArray<PubSub.SessionCommand>) => B.ofTag(cs, "Send").map((c) => c.frame)
const delivered = (cs: ReadonlyArray<PubSub.SessionCommand>) => B.ofTag(cs, "Deliver").map((c) => c.envelope.tseq)
const notices = (cs: ReadonlyArray<PubSub.SessionCommand>) => B.ofTag(cs, "Notify").map((c) => c.notice)

/** A client with subscription 1 accepted; handlers finish at once unless `slow`. */
const subscribed = (mode: Frame.SubMode = "amo", config = PubSub.local) => {
  const c = client(config)
  c.up()
  const [subFrame] = sent(c.sub(1, B.topic(), mode)) as Array<Frame.Sub>
  c.ok(subFrame!.id, mode === "alo" ? 0 : undefined)
  return c
}
const ev = (seq: number, extra: Partial<Parameters<typeof B.envelope>[0]> = {}) => B.envelope({ pub: 2, seq, ...extra })

describe("Session: Subscribe / LinkUp / ResyncReceived", () => {
  it("sends sub while linked, and replays every subscription in sid order on LinkUp", () => {
    const c = client()
    c.sub(3)
    c.sub(1, B.allMpong, "alo")
    expect(sent(c.up()).map((f) => (f as Frame.Sub).sid)).toEqual([1, 3])
  })
  it("replays an alo subscription with its resume cursor", () => {
    const c = subscribed("alo")
    c.event([1], ev(1), 1)
    c.handled(1)
    c.run(E.LinkDown({ now: 0 }))
    expect(sent(c.up())).toEqual([expect.objectContaining({ t: "sub", sid: 1, mode: "alo", cur: 1 })])
  })
  it("refuses a bad pattern and a duplicate sid locally", () => {
    const c = client()
    expect(notices(c.sub(1, "io.macula/#/x"))).toEqual([
      Notice.SubscribeFailed({ sid: 1, code: "invalid_pattern", reason: "invalid_pattern" })
    ])
    c.sub(2)
    expect(notices(c.sub(2))[0]).toMatchObject({ _tag: "SubscribeFailed", reason: "duplicate_sid" })
  })
  it("reports a station's err and forgets the subscription", () => {
    const c = client()
    c.up()
    const [f] = sent(c.sub(1)) as Array<Frame.Sub>
    const out = c.run(E.ReplyReceived({ now: 0, frame: { t: "err", id: f!.id, c: "unauthorized", r: "Expired" } }))
    expect(notices(out)).toEqual([Notice.SubscribeFailed({ sid: 1, code: "unauthorized", reason: "Expired" })])
    expect(c.state.subs.size).toBe(0)
  })
  it("replays subscriptions on resync", () => {
    const c = subscribed()
    expect(sent(c.run(E.ResyncReceived({ now: 0, what: ["sub"] })))).toHaveLength(1)
  })
})

describe("Session: Publish", () => {
  it("numbers seq over all topics and tseq per topic", () => {
    const c = client()
    c.up()
    const bodies = [B.topic("a"), B.topic("b"), B.topic("a")].flatMap((topic, i) =>
      B.ofTag(c.run(E.Publish({ now: 0, wall: 5, ref: i, realm: B.realm, topic, payload: i })), "Publish").map((p) => p.body)
    )
    expect(bodies.map((b) => [b.seq, b.tseq])).toEqual([[1, 1], [2, 1], [3, 2]])
  })
  it("resolves on ok, fails on err, refuses bad and system topics", () => {
    const c = client()
    c.up()
    const [p] = B.ofTag(c.run(E.Publish({ now: 0, wall: 5, ref: 7, realm: B.realm, topic: B.topic(), payload: null })), "Publish")
    expect(notices(c.ok(p!.id))).toEqual([Notice.Published({ ref: 7 })])
    expect(notices(c.run(E.Publish({ now: 0, wall: 5, ref: 8, realm: B.realm, topic: "a/b", payload: null })))[0]).toMatchObject({
      _tag: "PublishFailed",
      code: "invalid_topic"
    })
    expect(notices(c.run(E.Publish({ now: 0, wall: 5, ref: 9, realm: B.zeroRealm, topic: "_x", payload: null })))[0]).toMatchObject({
      code: "unauthorized"
    })
  })
  it("holds publishes while unlinked and re-sends unanswered ones after LinkUp", () => {
    const c = client()
    c.run(E.Publish({ now: 0, wall: 5, ref: 1, realm: B.realm, topic: B.topic(), payload: null }))
    expect(B.ofTag(c.up(), "Publish")).toHaveLength(1)
    c.run(E.LinkDown({ now: 0 }))
    expect(B.ofTag(c.up(), "Publish")).toHaveLength(1)
  })
})

describe("Session: EventReceived (dedup and order)", () => {
  it("ignores events for a subscription the current link has not accepted yet (an older connection's)", () => {
    const c = client()
    c.up()
    c.sub(1)
    expect(delivered(c.event([1], ev(7)))).toEqual([])
    expect(c.state.counters.ignored).toBe(1)
  })
  it("drops a duplicate (pk, sess, seq)", () => {
    const c = subscribed()
    c.event([1], ev(1))
    c.handled(1)
    expect(delivered(c.event([1], ev(1)))).toEqual([])
    expect(c.state.counters.duplicates).toBe(1)
  })
  it("buffers a later tseq and delivers the run once the gap fills", () => {
    const c = subscribed()
    c.event([1], ev(1))
    c.handled(1)
    expect(delivered(c.event([1], ev(3)))).toEqual([])
    const out = c.event([1], ev(2))
    expect(delivered(out)).toEqual([2])
    expect(delivered(c.handled(1))).toEqual([3])
  })
  it("skips a gap after orderGapWaitMs, counted", () => {
    const c = subscribed()
    c.event([1], ev(1))
    c.handled(1)
    c.event([1], ev(3))
    const timer = `order/1|${B.id(2)}|${PubSub.Keys.hex(B.sess(1))}|${B.topic()}`
    expect(delivered(c.at(PubSub.local.orderGapWaitMs).fire(timer))).toEqual([3])
    expect(c.state.counters.skipped).toBe(1)
  })
  it("drops a tseq earlier than the expected one", () => {
    const c = subscribed()
    c.event([1], ev(5))
    c.handled(1)
    expect(delivered(c.event([1], ev(4)))).toEqual([])
    expect(c.state.counters.dropsEarlier).toBe(1)
  })
  it("skips to the smallest buffered entry when the reorder buffer overflows", () => {
    const c = subscribed("amo", { ...PubSub.local, orderBufferMax: 2 })
    c.event([1], ev(1))
    c.handled(1)
    c.event([1], ev(3))
    c.event([1], ev(4))
    expect(delivered(c.event([1], ev(5)))).toEqual([3])
  })
  it("rebases after a jump beyond orderRestartJump, flushing what waited in order", () => {
    const c = subscribed()
    c.event([1], ev(1))
    c.handled(1)
    c.event([1], ev(3))
    const jump = 3 + PubSub.local.orderRestartJump + 1
    const out = c.event([1], ev(jump))
    expect(delivered(out)).toEqual([3])
    expect(delivered(c.handled(1))).toEqual([jump])
  })
  it("flushes the old session's buffer when the publisher's session changes", () => {
    const c = subscribed()
    c.event([1], ev(1))
    c.handled(1)
    c.event([1], ev(3))
    const out = c.event([1], ev(1, { sess: 2 }))
    expect(delivered(out)).toEqual([3])
    expect(c.state.counters.rebases).toBe(1)
  })
  it("keeps order per topic: another topic's tseq does not wait", () => {
    const c = subscribed("amo")
    const [f] = sent(c.sub(2, B.allMpong)) as Array<Frame.Sub>
    c.ok(f!.id)
    c.event([2], ev(1, { tseq: 1 }))
    c.handled(2)
    expect(delivered(c.event([2], ev(2, { tseq: 1, topic: B.topic("other") })))).toEqual([1])
  })
})

describe("Session: Handled (mailbox)", () => {
  it("hands one event at a time and drops the oldest amo event past subscriberMailboxSize", () => {
    const c = subscribed()
    let first = 0
    for (let i = 1; i <= PubSub.local.subscriberMailboxSize + 3; i++) first += delivered(c.event([1], ev(i))).length
    expect(first).toBe(1)
    expect(c.state.counters.mailboxDrops).toBe(2)
    expect(delivered(c.handled(1))).toEqual([4]) // 2 and 3 were dropped
  })
  it("reports an alo event it cannot hold as a local gap and acknowledges past it", () => {
    const c = subscribed("alo", { ...PubSub.local, subscriberMailboxSize: 1 })
    c.event([1], ev(1), 1)
    c.event([1], ev(2), 2)
    const out = c.event([1], ev(3), 3)
    expect(notices(out)).toEqual([Notice.Gap({ sid: 1, from: 3, to: 3, why: "mailbox_overflow" })])
  })
})

describe("Session: alo acknowledgements", () => {
  it("acks cumulatively only after the handler finished, paced by aloAckIntervalMs", () => {
    const c = subscribed("alo")
    c.event([1], ev(1), 1)
    c.event([1], ev(2), 2)
    expect(sent(c.handled(1))).toEqual([{ t: "ack", sid: 1, cur: 1 }])
    const early = c.at(1).handled(1)
    expect(sent(early)).toEqual([])
    expect(sent(c.at(PubSub.local.aloAckIntervalMs).fire("ack/1"))).toEqual([{ t: "ack", sid: 1, cur: 2 }])
  })
  it("treats a replayed cursor it already finished as a duplicate", () => {
    const c = subscribed("alo")
    c.event([1], ev(1), 1)
    c.handled(1)
    expect(delivered(c.event([1], ev(1), 1))).toEqual([])
  })
  it("GapReceived: reports the gap and acknowledges through it", () => {
    const c = subscribed("alo")
    const out = c.at(100).run(E.GapReceived({ now: 100, frame: { t: "gap", sid: 1, from: 1, to: 4, why: "overflow" } }))
    expect(notices(out)).toEqual([Notice.Gap({ sid: 1, from: 1, to: 4, why: "overflow" })])
    expect(sent(out)).toEqual([{ t: "ack", sid: 1, cur: 4 }])
  })
})

describe("Session: Unsubscribe and TimerFired", () => {
  it("sends unsub and drops later events for the sid", () => {
    const c = subscribed()
    expect(sent(c.run(E.Unsubscribe({ now: 0, sid: 1 })))).toEqual([expect.objectContaining({ t: "unsub", sid: 1 })])
    expect(delivered(c.event([1], ev(1)))).toEqual([])
  })
  it("ignores a stale timer", () => {
    const c = client()
    c.run(E.TimerFired({ now: 0, timer: "ack/1", generation: 42 }))
    expect(c.state.counters.staleTimers).toBe(1)
  })
})

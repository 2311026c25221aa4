/**
 * Revocation in the pub/sub cores (PROTOCOL.md §13.6): the router ends the subscriptions a
 * revoked grant admitted (`err unauthorized` naming their `sub`), keeps what a remaining grant
 * covers and other clients' subscriptions, and watches a realm's `revoked_v1` fact (interest to
 * peers, `Observed` out); the session ends a subscription on such an `err`.
 */
import { describe, expect, it } from "vitest"
import { PubSub } from "../../../../src/protocols/pubsub/index.ts"
import type * as Frame from "../../../../src/wire/Frame.ts"
import * as B from "./Build.ts"

const { RouterEvent: E } = PubSub
const self = B.id(0xee)
const alice = B.id(1)
const bob = B.id(2)
const peer = B.id(0x51)
const fact = "io.macula/_realm/_realm/membership/revoked_v1"

const router = () => {
  const step = PubSub.makeRouterStep(PubSub.local)
  let state = PubSub.initialRouter(PubSub.local, { self })
  const run = (event: PubSub.RouterEvent) => {
    const [next, commands] = step(state, event)
    state = next
    return commands
  }
  let id = 100
  return {
    get state() {
      return state
    },
    run,
    sub: (client: string, sid: number, pat: string, reqId = id++) =>
      run(E.SubReceived({ now: 0, client, verdict: PubSub.allowed, frame: { t: "sub", id: reqId, sid, realm: B.realm, pat } })),
    revoke: (client: string, keep: ReadonlyArray<string>, realm = B.realm) =>
      run(E.GrantsRevoked({ now: 1, client, realm, keep, reason: "Revoked" }))
  }
}

describe("Router: GrantsRevoked", () => {
  it("ends the client's uncovered subscriptions in the realm with err unauthorized naming their sub", () => {
    const r = router()
    r.run(E.ClientAttached({ now: 0, client: alice }))
    r.run(E.ClientAttached({ now: 0, client: bob }))
    r.sub(alice, 1, B.everything, 7)
    r.sub(alice, 2, B.allMpong, 8)
    r.sub(bob, 1, B.everything, 9)
    const out = r.revoke(alice, ["io.macula/beam-campus/hecate/#"])
    // sid 1 (io.macula/#) is beyond the kept scope; sid 2 is covered by it.
    expect(B.frames(out, alice, "err")).toEqual([{ t: "err", id: 7, c: "unauthorized", r: "Revoked" }])
    expect(Array.from(r.state.clients.get(alice)!.subs.keys())).toEqual([2])
    expect(Array.from(r.state.clients.get(bob)!.subs.keys())).toEqual([1])
    // Events now reach only what is left.
    const event = B.envelope({ pub: 2, seq: 1, topic: B.topic() })
    const delivered = r.run(E.PubReceived({ now: 2, wall: 1_000_000, client: bob, frame: { t: "pub", ...B.signedOf(event) }, envelope: event, verdict: PubSub.allowed }))
    expect((B.frames(delivered, alice, "event") as Array<Frame.Event>).map((f) => f.sid)).toEqual([[2]])
  })

  it("ends everything in the realm when no scope is kept, and nothing in another realm", () => {
    const r = router()
    r.run(E.ClientAttached({ now: 0, client: alice }))
    r.sub(alice, 1, B.everything)
    expect(B.frames(r.revoke(alice, [], B.bytes32(0xbb)), alice, "err")).toEqual([])
    expect(B.frames(r.revoke(alice, []), alice, "err")).toHaveLength(1)
    expect(PubSub.routerSizes(r.state).subscriptions).toBe(0)
    // Unknown clients and repeats are ignored.
    expect(r.revoke(alice, [])).toEqual([])
    expect(r.revoke(bob, [])).toEqual([])
  })

  it("names the latest sub of a resumed at-least-once subscription", () => {
    const r = router()
    r.run(E.ClientAttached({ now: 0, client: alice }))
    r.run(E.SubReceived({ now: 0, client: alice, verdict: PubSub.allowed, frame: { t: "sub", id: 1, sid: 1, realm: B.realm, pat: B.everything, mode: "alo" } }))
    r.run(E.SubReceived({ now: 0, client: alice, verdict: PubSub.allowed, frame: { t: "sub", id: 5, sid: 1, realm: B.realm, pat: B.everything, mode: "alo", cur: 0 } }))
    expect(B.frames(r.revoke(alice, []), alice, "err")).toEqual([{ t: "err", id: 5, c: "unauthorized", r: "Revoked" }])
  })
})

describe("Router: Watch", () => {
  it("announces the fact's interest once and reports its events as Observed", () => {
    const r = router()
    r.run(E.PeerUp({ now: 0, peer }))
    r.run(E.Watch({ now: 0, realm: B.realm, topic: fact }))
    r.run(E.Watch({ now: 0, realm: B.realm, topic: fact }))
    const flushed = r.run(E.TimerFired({ now: 500, timer: "interest-batch", generation: r.state.timers.armed.get("interest-batch")! }))
    expect(B.frames(flushed, peer, "interest.add")).toEqual([{ t: "interest.add", gen: r.state.gen, e: [[B.realm, fact]] }])
    const event = B.envelope({ pub: 3, seq: 1, topic: fact })
    const out = r.run(E.FwdReceived({ now: 600, wall: 1_000_000, peer, frame: { t: "fwd", ...B.signedOf(event) }, envelope: event }))
    expect(B.ofTag(out, "Observed")).toEqual([{ _tag: "Observed", envelope: event }])
    // Other topics are not observed.
    const other = B.envelope({ pub: 3, seq: 2, topic: B.topic() })
    expect(B.ofTag(r.run(E.FwdReceived({ now: 600, wall: 1_000_000, peer, frame: { t: "fwd", ...B.signedOf(other) }, envelope: other })), "Observed")).toEqual([])
  })

  it("ignores patterns, system topics and bad realms", () => {
    const r = router()
    for (const [realm, topic] of [[B.realm, B.everything], [B.zeroRealm, "_x"], [new Uint8Array(3), fact]] as const) {
      r.run(E.Watch({ now: 0, realm, topic }))
    }
    expect(r.state.watched.size).toBe(0)
  })
})

describe("Session: a station ending an accepted subscription", () => {
  it("turns err naming the accepted sub into SubscribeFailed and forgets the subscription", () => {
    const S = PubSub.SessionEvent
    const step = PubSub.makeSessionStep(PubSub.local)
    let state = PubSub.initialSession(PubSub.local, { pk: B.bytes32(1), sess: B.sess(9) })
    const run = (event: PubSub.SessionEvent) => {
      const [next, commands] = step(state, event)
      state = next
      return commands
    }
    run(S.LinkUp({ now: 0, station: self }))
    const [subFrame] = B.ofTag(run(S.Subscribe({ now: 0, sid: 1, realm: B.realm, pattern: B.everything, mode: "amo" })), "Send")
      .map((c) => c.frame) as Array<Frame.Sub>
    run(S.ReplyReceived({ now: 1, frame: { t: "ok", id: subFrame!.id } }))
    // An unrelated err is only counted.
    expect(run(S.ReplyReceived({ now: 2, frame: { t: "err", id: 999, c: "unauthorized" } }))).toEqual([])
    const out = run(S.ReplyReceived({ now: 3, frame: { t: "err", id: subFrame!.id, c: "unauthorized", r: "Revoked" } }))
    expect(B.ofTag(out, "Notify").map((c) => c.notice)).toEqual([
      { _tag: "SubscribeFailed", sid: 1, code: "unauthorized", reason: "Revoked" }
    ])
    expect(state.subs.size).toBe(0)
    // Events for it are ignored from now on.
    const event = B.envelope({ pub: 2, seq: 1 })
    expect(B.ofTag(run(S.EventReceived({ now: 4, envelope: event, frame: { t: "event", sid: [1], ...B.signedOf(event) } })), "Deliver")).toEqual([])
  })
})

/**
 * Push upload (PROTOCOL.md §12.6), the pure parts: checking `acceptPushFrom`, the admission
 * decision, who the sender of an offer is, the recipient's core (one pull per MCID, answers on
 * every waiting session, refusals at once, the pull limit) and the sender's reading of answers.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Push from "../../../../src/protocols/content/Push.ts"
import * as Relay from "../../../../src/protocols/content/Relay.ts"
import type { ContentHave, Frame } from "../../../../src/wire/Frame.ts"
import { mcidN } from "./Fixtures.ts"

const alice = "did:key:z6MkAlice"
const bob = "did:key:z6MkBob"
const isDid = (text: string) => text.startsWith("did:key:z6Mk")

const mcid = mcidN
const key = (n: number) => new Uint8Array(32).fill(n)

const offered = (session: string, n: number, sender: Push.Sender, now = 0) =>
  Push.Event.Offered({ now, session, sender, m: mcid(n), size: 10 })

describe("acceptPushFrom", () => {
  it("defaults per role (§16): a station its attached clients, a client nobody", () => {
    expect(Push.parsePolicy(undefined, "station", isDid)).toEqual({ any: false, attached: true, dids: [] })
    expect(Push.parsePolicy(undefined, "client", isDid)).toEqual(Push.nobody)
  })

  it("takes the three words and lists of DIDs (with `attached`), duplicates once", () => {
    expect(Push.parsePolicy("none", "station", isDid)).toEqual(Push.nobody)
    expect(Push.parsePolicy("any", "client", isDid)).toEqual({ any: true, attached: false, dids: [] })
    expect(Push.parsePolicy("attached", "client", isDid)).toEqual({ any: false, attached: true, dids: [] })
    expect(Push.parsePolicy([alice, "attached", alice], "client", isDid)).toEqual({ any: false, attached: true, dids: [alice] })
    expect(Push.parsePolicy([], "station", isDid)).toEqual(Push.nobody)
  })

  it("says what is wrong with bad input, every entry", () => {
    const bad = Push.parsePolicy(["nope", 3, bob], "client", isDid)
    expect(bad).toEqual({ problems: [expect.stringContaining('"nope"'), expect.stringContaining("3")] })
    expect(Push.parsePolicy("everyone", "client", isDid)).toEqual({ problems: [expect.stringContaining('"everyone"')] })
    expect(Push.parsePolicy({ any: true }, "client", isDid)).toHaveProperty("problems")
  })

  it("admits by policy", () => {
    const attached: Push.Sender = { did: alice, attached: true, direct: true }
    const remote: Push.Sender = { did: alice, attached: false, direct: false }
    expect(Push.admits(Push.nobody, attached)).toBe(false)
    expect(Push.admits(Push.defaultPolicy("station"), attached)).toBe(true)
    expect(Push.admits(Push.defaultPolicy("station"), remote)).toBe(false)
    expect(Push.admits({ any: true, attached: false, dids: [] }, remote)).toBe(true)
    expect(Push.admits({ any: false, attached: false, dids: [alice] }, remote)).toBe(true)
    expect(Push.admits({ any: false, attached: false, dids: [bob] }, remote)).toBe(false)
  })

  it("takes the sender from a client peer itself (a visitor when it stamps `from`), through a station from `from`", () => {
    const didOf = (k: Uint8Array) => (k[0] === 1 ? alice : undefined)
    const frame: ContentHave = { t: "content.have", h: [{ m: mcid(1), y: true }], from: key(1) }
    // A client cannot claim to be someone else; its `from` only says it is not attached here.
    expect(Push.senderOf(frame, { did: bob, role: "client" }, didOf)).toEqual({ did: bob, attached: false, direct: true })
    const plain: ContentHave = { t: "content.have", h: [{ m: mcid(1), y: true }] }
    expect(Push.senderOf(plain, { did: bob, role: "client" }, didOf)).toEqual({ did: bob, attached: true, direct: true })
    expect(Push.senderOf(frame, { did: "did:key:z6MkStation", role: "station" }, didOf)).toEqual({ did: alice, attached: false, direct: false })
    const own: ContentHave = { t: "content.have", h: [{ m: mcid(1), y: true }] }
    expect(Push.senderOf(own, { did: "did:key:z6MkStation", role: "station" }, didOf)).toEqual({ did: "did:key:z6MkStation", attached: false, direct: true })
  })
})

describe("the recipient core", () => {
  const step = Push.make({ policy: { any: false, attached: false, dids: [alice] }, maxPulls: 2 })
  const a: Push.Sender = { did: alice, attached: false, direct: false }
  const b: Push.Sender = { did: bob, attached: false, direct: false }

  it("refuses a sender the policy does not admit at once, with y: false, and pulls nothing", () => {
    const [state, out] = step(Push.initial, offered("s1", 1, b))
    expect(out).toEqual([Push.Command.Answer({ session: "s1", m: mcid(1), y: false })])
    expect(state.pulls.size).toBe(0)
    expect(state.counters.refused).toBe(1)
  })

  it("pulls an admitted offer from its sender, answers y: true when it is whole, and tells the application", () => {
    const [s1, out1] = step(Push.initial, offered("s1", 1, a))
    expect(out1).toEqual([Push.Command.Pull({ m: mcid(1), sender: alice, direct: false })])
    const [, direct] = step(Push.initial, offered("s1", 1, { ...a, direct: true }))
    expect(direct).toEqual([Push.Command.Pull({ m: mcid(1), sender: alice, direct: true })])
    const [s2, out2] = step(s1, Push.Event.Pulled({ now: 5, m: mcid(1), ok: true, fresh: true }))
    expect(out2).toEqual([
      Push.Command.Answer({ session: "s1", m: mcid(1), y: true }),
      Push.Command.Arrived({ m: mcid(1), sender: alice, size: 10 })
    ])
    expect(s2.pulls.size).toBe(0)
    expect(s2.counters.completed).toBe(1)
  })

  it("answers a repeated offer of content already taken y: true, without telling the application again", () => {
    const [s1] = step(Push.initial, offered("s1", 1, a))
    const [s2] = step(s1, Push.Event.Pulled({ now: 5, m: mcid(1), ok: true, fresh: true }))
    // The sender's repeat was in flight when the answer went: a new pull finds it whole.
    const [s3, again] = step(s2, offered("s1", 1, a, 50))
    expect(again).toEqual([Push.Command.Pull({ m: mcid(1), sender: alice, direct: false })])
    const [, out] = step(s3, Push.Event.Pulled({ now: 60, m: mcid(1), ok: true, fresh: false }))
    expect(out).toEqual([Push.Command.Answer({ session: "s1", m: mcid(1), y: true })])
  })

  it("answers y: false when the pull failed, and nothing arrived", () => {
    const [s1] = step(Push.initial, offered("s1", 1, a))
    const [s2, out] = step(s1, Push.Event.Pulled({ now: 5, m: mcid(1), ok: false, fresh: true }))
    expect(out).toEqual([Push.Command.Answer({ session: "s1", m: mcid(1), y: false })])
    expect(s2.counters.failed).toBe(1)
  })

  it("takes a repeated offer as a no-op and answers every session that offered the same content", () => {
    const [s1] = step(Push.initial, offered("s1", 1, a))
    const [s2, again] = step(s1, offered("s1", 1, a, 15_000))
    expect(again).toEqual([])
    const [s3, other] = step(s2, offered("s2", 1, a))
    expect(other).toEqual([])
    const [, out] = step(s3, Push.Event.Pulled({ now: 5, m: mcid(1), ok: true, fresh: true }))
    expect(out.filter((c) => c._tag === "Answer").map((c) => (c as { session: string }).session)).toEqual(["s1", "s2"])
  })

  it("keeps a session's sender from its first offer: a repeat without `from` is not a new sender", () => {
    const station: Push.Sender = { did: "did:key:z6MkStation", attached: false, direct: true }
    const [s1] = step(Push.initial, offered("s1", 1, a))
    // The repeat came through the same relays, unstamped: it looks like the station's own offer.
    const [s2, again] = step(s1, offered("s1", 1, station, 15_000))
    expect(again).toEqual([])
    const [s3, out] = step(s2, Push.Event.Pulled({ now: 20_000, m: mcid(1), ok: true, fresh: true }))
    expect(out[0]).toEqual(Push.Command.Answer({ session: "s1", m: mcid(1), y: true }))
    // Answered: the session is forgotten, and so is its sender.
    expect(s3.sessions.size).toBe(0)
    expect(step(s3, offered("s1", 1, station))[1]).toEqual([Push.Command.Answer({ session: "s1", m: mcid(1), y: false })])
  })

  it("answers y: false past maxPulls pulls at once", () => {
    const [s1] = step(Push.initial, offered("s1", 1, a))
    const [s2] = step(s1, offered("s2", 2, a))
    const [s3, out] = step(s2, offered("s3", 3, a))
    expect(out).toEqual([Push.Command.Answer({ session: "s3", m: mcid(3), y: false })])
    expect(s3.counters.busy).toBe(1)
    expect(s3.pulls.size).toBe(2)
  })

  it("ignores an offer that is not an MCID and a completion nobody waits for", () => {
    const [s1, out1] = step(Push.initial, Push.Event.Offered({ now: 0, session: "s1", sender: a, m: new Uint8Array(3) }))
    expect(out1).toEqual([])
    expect(s1.pulls.size).toBe(0)
    expect(step(s1, Push.Event.Pulled({ now: 0, m: mcid(9), ok: true, fresh: true }))[1]).toEqual([])
  })

  it("property: one pull per MCID at a time; every offering session is answered exactly once per offer round", () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant("offer" as const), session: fc.integer({ min: 0, max: 4 }), n: fc.integer({ min: 0, max: 3 }), admitted: fc.boolean() }),
      fc.record({ t: fc.constant("done" as const), n: fc.integer({ min: 0, max: 3 }), ok: fc.boolean() })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      let state = Push.initial
      const pulling = new Set<number>()
      // Sessions owed an answer, per MCID.
      const owed = new Map<number, Set<string>>()
      const answered: Array<string> = []
      const apply = (event: Push.Event) => {
        const [next, out] = step(state, event)
        state = next
        for (const c of out) {
          if (c._tag === "Pull") {
            expect(pulling.has(c.m[2]!)).toBe(false)
            pulling.add(c.m[2]!)
          }
          if (c._tag === "Answer") answered.push(`${c.session}:${c.m[2]}:${c.y}`)
        }
        return out
      }
      for (const o of ops) {
        if (o.t === "offer") {
          const session = `s${o.session}`
          const out = apply(offered(session, o.n, o.admitted ? a : b))
          if (out.some((c) => c._tag === "Pull" || (c._tag === "Answer" && !c.y))) continue
          if (pulling.has(o.n)) owed.set(o.n, (owed.get(o.n) ?? new Set()).add(session))
        } else {
          const before = answered.length
          const wasPulling = pulling.has(o.n)
          apply(Push.Event.Pulled({ now: 0, m: mcid(o.n), ok: o.ok, fresh: true }))
          pulling.delete(o.n)
          if (!wasPulling) expect(answered.length).toBe(before)
          else {
            const sessions = answered.slice(before).map((x) => x.split(":")[0])
            expect(new Set(sessions).size).toBe(sessions.length)
            for (const s of owed.get(o.n) ?? []) expect(sessions).toContain(s)
            owed.delete(o.n)
          }
        }
      }
      expect(state.pulls.size).toBe(pulling.size)
      // Only sessions still owed an answer keep a sender.
      for (const session of state.sessions.keys()) expect([...state.pulls.values()].some((p) => p.sessions.includes(session))).toBe(true)
    }))
  })
})

describe("the sender", () => {
  it("offers with y: true and the size", () => {
    expect(Push.offerFrame(mcid(1), 42)).toEqual({ t: "content.have", h: [{ m: mcid(1), y: true, sz: 42 }] })
    expect(Push.offerFrame(mcid(1), undefined)).toEqual({ t: "content.have", h: [{ m: mcid(1), y: true }] })
  })

  it("reads answers for its content; other frames do not settle the push", () => {
    const have = (n: number, y: boolean): Frame => ({ t: "content.have", h: [{ m: mcid(n), y }] })
    expect(Push.outcomeOf(have(1, true), mcid(1))).toEqual(Push.Outcome.Done())
    expect(Push.outcomeOf(have(1, false), mcid(1))).toEqual(Push.Outcome.Declined())
    expect(Push.outcomeOf(have(2, true), mcid(1))).toBeUndefined()
    expect(Push.outcomeOf({ t: "content.cancel", c: [mcid(1)] }, mcid(1))).toBeUndefined()
    expect(Push.outcomeOf({ t: "err", c: "relay_refused", m: "no route" }, mcid(1))).toEqual(
      Push.Outcome.Unreachable({ code: "relay_refused", reason: "no route" })
    )
  })
})

describe("the stamp of a relayed offer", () => {
  const offer: ContentHave = { t: "content.have", h: [{ m: mcid(1), y: true }], to: key(9) }

  it("names the client that offered, whatever it claimed", () => {
    const forged: ContentHave = { ...offer, from: key(5) }
    expect(Relay.stampRelayed(forged, { role: "client", key: key(1) })).toEqual({ ...offer, from: key(1) })
  })

  it("keeps what a station stamped, and leaves a client's want without to or from alone", () => {
    const stamped: ContentHave = { ...offer, from: key(1) }
    expect(Relay.stampRelayed(stamped, { role: "station", key: key(2) })).toBe(stamped)
    const local: Frame = { t: "content.want", w: [{ m: mcid(1), k: "block" }] }
    expect(Relay.stampRelayed(local, { role: "client", key: key(1) })).toBe(local)
  })
})

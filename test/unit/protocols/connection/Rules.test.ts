/**
 * The pure rules around the connection core: the hello checks (§3.4, §2.4), the peer score
 * (§3.7) and the node-wide book of connections (admission, duplicates, bans, dials).
 */
import { describe, expect, it } from "vitest"
import { Connection } from "../../../../src/protocols/connection/index.ts"
import { hello } from "./Build.ts"

const { Handshake, Peers, Score } = Connection
const scoring = { banScore: -100, scoreRecoveryPerMin: 5 }

describe("Handshake", () => {
  it("negotiates the highest common version", () => {
    expect(Handshake.negotiate([1, 2, 3], [2, 3, 4])).toBe(3)
    expect(Handshake.negotiate([1], [2])).toBeUndefined()
  })

  it.each([
    ["client", "station", true],
    ["station", "station", true],
    ["station", "client", false],
    ["client", "client", false]
  ] as const)("allows a %s dialing a %s: %s", (dialer, listener, allowed) => {
    expect(Handshake.rolePairAllowed(dialer, listener)).toBe(allowed)
  })

  it("checks version, then roles, then proof of work", () => {
    const base = { localRole: "station" as const, localVersions: [1], direction: "inbound" as const, stationPowBits: 8 }
    expect(Handshake.evaluate({ ...base, peer: hello("station", { vers: [9] }), peerPowBits: 0 })).toEqual({ ok: false, refusal: "version_mismatch" })
    expect(Handshake.evaluate({ ...base, localRole: "client", peer: hello("station"), peerPowBits: 0 })).toEqual({ ok: false, refusal: "role_refused" })
    expect(Handshake.evaluate({ ...base, peer: hello("station"), peerPowBits: 7 })).toEqual({ ok: false, refusal: "pow_insufficient" })
    expect(Handshake.evaluate({ ...base, peer: hello("station"), peerPowBits: 8 })).toEqual({ ok: true, version: 1 })
    expect(Handshake.evaluate({ ...base, peer: hello("client"), peerPowBits: 0 })).toEqual({ ok: true, version: 1 })
  })
})

describe("Score", () => {
  it("recovers by scoreRecoveryPerMin towards 0, never above", () => {
    const s = Score.make(0, scoring, -20)
    expect(Score.valueAt(s, 60_000, scoring)).toBe(-15)
    expect(Score.valueAt(s, 600_000, scoring)).toBe(0)
  })

  it("never goes below banScore, and bans exactly there", () => {
    let s = Score.make(0, scoring)
    for (let i = 0; i < 10; i++) s = Score.penalize(s, 0, 25, scoring)
    expect(s.value).toBe(-100)
    expect(Score.isBanned(s.value, scoring)).toBe(true)
    expect(Score.isBanned(-99, scoring)).toBe(false)
  })
})

describe("Peers", () => {
  const limits = { maxConnections: 4, maxConnectionsPerIp: 2, maxHandshakesInFlight: 3, maxRememberedPeers: 2 }
  const admit = (p: Connection.Peers.Peers, id: string, ip = "10.0.0.1", did = `did:${id}`) =>
    Peers.admit(p, { id, did, ip, now: 0 }, limits)

  it("refuses beyond maxConnectionsPerIp, maxHandshakesInFlight and maxConnections", () => {
    let p = Peers.empty
    const verdicts: Array<string> = []
    for (const [id, ip] of [["a", "1"], ["b", "1"], ["c", "1"], ["d", "2"], ["e", "3"]] as const) {
      const [next, v] = admit(p, id, ip)
      p = next
      verdicts.push(v.ok ? "ok" : v.reason)
    }
    expect(verdicts).toEqual(["ok", "ok", "2 connections from 1", "ok", "3 handshakes in flight"])
    p = Peers.ready(p, { id: "a", did: "did:a", direction: "inbound", now: 1, localRole: "station", peerRole: "client", localIdSmaller: true })[0]
    p = Peers.addOutbound(p, { id: "o", did: "did:o", now: 1 })
    expect(admit(p, "f", "4")[1]).toMatchObject({ ok: false, code: "too_many_connections", reason: "4 connections" })
  })

  it("refuses a banned DID until the ban expires", () => {
    const p = Peers.ban(Peers.empty, "did:x", 1_000, limits)
    expect(Peers.admit(p, { id: "1", did: "did:x", ip: "1", now: 999 }, limits)[1]).toMatchObject({ ok: false, code: "banned" })
    expect(Peers.admit(p, { id: "1", did: "did:x", ip: "1", now: 1_000 }, limits)[1]).toEqual({ ok: true })
  })

  it("refuses a banned peer's connection when it becomes ready, and never marks it ready", () => {
    const p = Peers.addOutbound(Peers.ban(Peers.empty, "did:s", 1_000, limits), { id: "o", did: "did:s", now: 0 })
    const at = (now: number) =>
      Peers.ready(p, { id: "o", did: "did:s", direction: "outbound", now, localRole: "client", peerRole: "station", localIdSmaller: false })
    const [during, refused] = at(999)
    expect(refused).toEqual({ keep: false, replace: [], banned: true })
    expect(Peers.readyFor(during, "did:s")).toBeUndefined()
    expect(at(1_000)[1]).toEqual({ keep: true, replace: [] })
  })

  it("for a client, the newer connection replaces the older", () => {
    let p = Peers.addOutbound(Peers.empty, { id: "old", did: "did:s", now: 0 })
    p = Peers.ready(p, { id: "old", did: "did:s", direction: "outbound", now: 1, localRole: "client", peerRole: "station", localIdSmaller: false })[0]
    const [after, verdict] = Peers.ready(p, { id: "new", did: "did:s", direction: "outbound", now: 2, localRole: "client", peerRole: "station", localIdSmaller: false })
    expect(verdict).toEqual({ keep: true, replace: ["old"] })
    expect(Peers.readyFor(after, "did:s")?.id).toBe("new")
  })

  it("between stations keeps the connection dialled by the smaller node id, on both sides", () => {
    const decide = (localIdSmaller: boolean, old: "inbound" | "outbound", fresh: "inbound" | "outbound") =>
      Peers.survivor({ localRole: "station", peerRole: "station", localIdSmaller, old, new: fresh })
    // A (smaller) dialled X; B dialled Y. On A: X outbound, Y inbound. On B: X inbound, Y outbound.
    expect(decide(true, "outbound", "inbound")).toBe("old") // A keeps X
    expect(decide(false, "outbound", "inbound")).toBe("new") // B keeps X (inbound on B)
    expect(decide(true, "inbound", "outbound")).toBe("new")
    expect(decide(true, "outbound", "outbound")).toBe("new") // same side redialled: newer wins
  })

  it("keeps one dial per key in flight", () => {
    const [p1, first] = Peers.beginDial(Peers.empty, "k")
    const [, second] = Peers.beginDial(p1, "k")
    expect([first, second]).toEqual([true, false])
    expect(Peers.beginDial(Peers.endDial(p1, "k"), "k")[1]).toBe(true)
  })

  it("remembers at most maxRememberedPeers scores, forgetting the oldest change", () => {
    let p = Peers.empty
    for (const did of ["a", "b", "c"]) p = Peers.setScore(p, did, Score.make(0, scoring, -10), limits)
    expect([...p.scores.keys()]).toEqual(["b", "c"])
    expect(Peers.scoreOf(p, "c", 0, scoring)).toBe(-10)
    expect(Peers.scoreOf(p, "a", 0, scoring)).toBe(0)
  })
})

describe("Config", () => {
  it("has the §16 defaults and a detection bound of 4 s", () => {
    const c = Connection.Config.make("station", { opens: () => undefined, allows: () => true })
    expect(Connection.Config.problems(c)).toEqual([])
    expect(Connection.Config.detectionBoundMs(c)).toBe(4_000)
    expect(Connection.Config.problems({ ...c, appPingMaxMisses: 0, banScore: 1, versions: [2, 1] })).toHaveLength(3)
  })
})

/**
 * Held grants re-checked (PROTOCOL.md §13.6): a station that missed a `revoked_v1` fact learns the
 * revocation from the DHT once the negative answer for the chain runs out (`revocationCacheMs`),
 * not only at the next grant of that chain. Time is the port's injected clock; the DHT is a map;
 * each sweep asks a bounded number of delegations, the oldest answer first.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect, it, vi } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import * as Authorisation from "../../../src/node/Authorisation.ts"
import { effect } from "../../support/it.ts"
import { revocationOf, subscribeAu } from "./AuthorisationFixtures.ts"

const authority = Identity.fromSeed(new Uint8Array(32).fill(31))
const station = Identity.fromSeed(new Uint8Array(32).fill(32))
const members = [33, 34, 35, 36].map((n) => Identity.fromSeed(new Uint8Array(32).fill(n)))
const alice = members[0]!
const realm = "io.example"
const t0 = 1_800_000_000_000
const sec = (ms: number) => Math.floor(ms / 1_000)

const capOf = (member: Identity, expiresIn = 86_400) =>
  RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm, topics: [`${realm}/acme/#`], expiration: sec(t0) + expiresIn })
    .find((c) => Ucan.decode(c).cmd === "/mesh/subscribe")!

const setup = { realm, authority, station }

const request = (member: Identity, connectionId: string, cap: Uint8Array, nowMs: number): Authorisation.Request => ({
  peerDid: member.did,
  connectionId,
  realm: Realm.id(realm),
  command: "/mesh/subscribe",
  topic: `${realm}/acme/#`,
  au: subscribeAu(setup, member, cap, nowMs)
})

const recordOf = (cap: Uint8Array) => revocationOf(setup, cap)

/** The station's port for the realm, on the clock `now`, with `options` on top. */
const portOf = (now: () => number, options: Partial<Authorisation.Options> = {}) =>
  Authorisation.port({ authorities: { [realm]: authority.did }, station: station.did, now, ...options })

/** A DHT of revocation records, recording every lookup. */
const fakeDht = () => {
  const records = new Map<string, Array<Ucan.Revocation.RecordData>>()
  const asked: Array<string> = []
  const findRevocations = (cid: string) => Effect.sync(() => (asked.push(cid), records.get(cid) ?? []))
  return { records, asked, findRevocations }
}

const run = <A>(e: Effect.Effect<A>): Promise<A> => Effect.runPromise(e)
/** Lets a background lookup the port forked finish (its answer is noted after the DHT returns). */
const settle = () => new Promise((r) => setTimeout(r, 20))

describe("Authorisation re-check of held grants", () => {
  it("catches a missed revocation once the negative answer runs out, and ends the grant", async () => {
    let now = t0
    const dht = fakeDht()
    const port = portOf(() => now, { revocationCacheMs: 60_000, findRevocations: dht.findRevocations })
    const notices: Array<Authorisation.Notice> = []
    port.subscribe((n) => notices.push(n))
    const cap = capOf(alice)
    expect(await run(port.authorise(request(alice, "a", cap, now)))).toEqual({ _tag: "Allowed" })
    await vi.waitFor(() => expect(dht.asked).toEqual([Ucan.cid(cap)]))
    await settle()

    // The realm service revokes; this station never hears the fact.
    dht.records.set(Ucan.cid(cap), [recordOf(cap)])
    now += 59_000
    expect(await run(port.recheck)).toBe(0) // the negative answer still stands
    expect(notices.filter((n) => n._tag === "Dropped")).toEqual([])

    now += 2_000
    expect(await run(port.recheck)).toBe(1)
    expect(notices.filter((n) => n._tag === "Dropped")).toEqual([
      { _tag: "Dropped", peerDid: alice.did, connectionId: "a", realm: Realm.id(realm), command: "/mesh/subscribe", keep: [], reason: "Revoked" }
    ])
    expect(port.isRevoked(Ucan.cid(cap))).toBe(true)
    // Nothing is held any more: later sweeps ask nothing.
    now += 120_000
    expect(await run(port.recheck)).toBe(0)
    expect(dht.asked).toHaveLength(2)
  })

  it("asks at most recheckBatch delegations per sweep, oldest answer first, and skips expired grants", async () => {
    let now = t0
    const dht = fakeDht()
    const port = portOf(() => now, { revocationCacheMs: 10_000, recheckBatch: 2, findRevocations: dht.findRevocations })
    // Four members, granted a second apart; the last one's delegation expires after 5 min (the
    // invocations, and so the grants, after 10).
    const caps = members.map((m, i) => capOf(m, i === 3 ? 300 : 86_400))
    for (const [i, m] of members.entries()) {
      expect(await run(port.authorise(request(m, `c${i}`, caps[i]!, now)))).toEqual({ _tag: "Allowed" })
      await vi.waitFor(() => expect(dht.asked).toHaveLength(i + 1))
      await settle()
      now += 1_000
    }
    dht.asked.length = 0
    now += 10_000
    expect(await run(port.recheck)).toBe(2)
    expect(dht.asked).toEqual([Ucan.cid(caps[0]!), Ucan.cid(caps[1]!)])
    expect(await run(port.recheck)).toBe(2)
    expect(dht.asked.slice(2)).toEqual([Ucan.cid(caps[2]!), Ucan.cid(caps[3]!)])
    expect(await run(port.recheck)).toBe(0) // every answer fresh again

    // Past the short delegation's expiry (plus leeway) its grant is dead: only three are asked.
    now += 400_000
    dht.asked.length = 0
    expect((await run(port.recheck)) + (await run(port.recheck))).toBe(3)
    expect(dht.asked).not.toContain(Ucan.cid(caps[3]!))
  })

  it("retries a delegation whose lookup failed at the next sweep (an unreachable DHT caches nothing)", async () => {
    const now = t0
    let reachable = false
    let lookups = 0
    const port = portOf(() => now, {
      findRevocations: () => Effect.suspend(() => (lookups++, reachable ? Effect.succeed([]) : Effect.fail("unreachable")))
    })
    expect(await run(port.authorise(request(alice, "a", capOf(alice), now)))).toEqual({ _tag: "Allowed" })
    await vi.waitFor(() => expect(lookups).toBe(1))
    await settle()
    expect(await run(port.recheck)).toBe(1)
    reachable = true
    expect(await run(port.recheck)).toBe(1)
    expect(await run(port.recheck)).toBe(0)
    expect(lookups).toBe(3)
  })

  it("has nothing to do without a DHT", async () => {
    const port = portOf(() => t0)
    expect(await run(port.authorise(request(alice, "a", capOf(alice), t0)))).toEqual({ _tag: "Allowed" })
    expect(await run(port.recheck)).toBe(0)
  })

  it("sweeps every quarter of revocationCacheMs, at least every 250 ms", () => {
    expect(Authorisation.recheckIntervalMs(60_000)).toBe(15_000)
    expect(Authorisation.recheckIntervalMs(100)).toBe(250)
  })

  effect("run sweeps on the clock: a missed revocation ends within about revocationCacheMs", () =>
    Effect.gen(function*() {
      let now = t0
      const dht = fakeDht()
      const port = portOf(() => now, { revocationCacheMs: 60_000, findRevocations: dht.findRevocations })
      const dropped: Array<string | undefined> = []
      port.subscribe((n) => n._tag === "Dropped" && dropped.push(n.connectionId))
      const cap = capOf(alice)
      expect(yield* port.authorise(request(alice, "a", cap, now))).toEqual({ _tag: "Allowed" })
      yield* Effect.promise(() => vi.waitFor(() => expect(dht.asked).toHaveLength(1)).then(settle))
      dht.records.set(Ucan.cid(cap), [recordOf(cap)])
      yield* Effect.forkScoped(port.run)
      // Move both clocks in steps of 5 s; the revocation must be found between 60 s and 75 s.
      let elapsed = 0
      while (dropped.length === 0 && elapsed < 120_000) {
        elapsed += 5_000
        now += 5_000
        yield* TestClock.adjust(5_000)
        yield* Effect.repeat(Effect.yieldNow, { times: 100 })
      }
      expect(dropped).toEqual(["a"])
      expect(elapsed).toBeGreaterThanOrEqual(60_000)
      expect(elapsed).toBeLessThanOrEqual(75_000)
    }))
})

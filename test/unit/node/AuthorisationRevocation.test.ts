/**
 * The station's authorisation port and revocations (PROTOCOL.md §13.6): a learned revocation drops
 * the grants whose chain contains it and reports what each connection keeps; a revoked chain is
 * refused `Revoked`; DHT answers are consulted in the background, negative ones cached; forged
 * records change nothing; revocations are kept until the revoked token's expiry and bounded.
 */
import * as Effect from "effect/Effect"
import { describe, expect, it, vi } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import * as Authorisation from "../../../src/node/Authorisation.ts"
import type * as Frame from "../../../src/wire/Frame.ts"
import { revocationOf, subscribeAu } from "./AuthorisationFixtures.ts"

const authority = Identity.fromSeed(new Uint8Array(32).fill(21))
const station = Identity.fromSeed(new Uint8Array(32).fill(22))
const alice = Identity.fromSeed(new Uint8Array(32).fill(23))
const bob = Identity.fromSeed(new Uint8Array(32).fill(24))
const realm = "io.example"
const t0 = 1_800_000_000_000
const sec = (ms: number) => Math.floor(ms / 1_000)

const capsOf = (member: Identity, expiresIn = 86_400) =>
  RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm, topics: [`${realm}/acme/#`], expiration: sec(t0) + expiresIn })
const subscribeCap = (caps: ReadonlyArray<Uint8Array>) => caps.find((c) => Ucan.decode(c).cmd === "/mesh/subscribe")!

const setup = { realm, authority, station }
const au = (member: Identity, cap: Uint8Array, nowMs: number, topic?: string) => subscribeAu(setup, member, cap, nowMs, topic)

const sub = (member: Identity, connectionId: string, a: Frame.Authority | undefined, topic = `${realm}/acme/#`): Authorisation.Request => ({
  peerDid: member.did,
  connectionId,
  realm: Realm.id(realm),
  command: "/mesh/subscribe",
  topic,
  au: a
})

const recordOf = (cap: Uint8Array, issuer: Identity = authority) => revocationOf(setup, cap, issuer)

const run = <A>(effect: Effect.Effect<A>): Promise<A> => Effect.runPromise(effect)

describe("Authorisation revocations", () => {
  it("drops the grants of a revoked delegation, notifies, and refuses the chain afterwards", async () => {
    let now = t0
    const port = Authorisation.port({ authorities: { [realm]: authority.did }, station: station.did, now: () => now })
    const notices: Array<Authorisation.Notice> = []
    port.subscribe((n) => notices.push(n))
    const aliceCap = subscribeCap(capsOf(alice))
    const bobCap = subscribeCap(capsOf(bob))
    expect(await run(port.authorise(sub(alice, "a1", au(alice, aliceCap, now))))).toEqual({ _tag: "Allowed" })
    expect(await run(port.authorise(sub(bob, "b1", au(bob, bobCap, now))))).toEqual({ _tag: "Allowed" })
    expect(notices).toEqual([{ _tag: "Granted", realm }])

    const learned = await run(port.learn(recordOf(aliceCap)))
    expect(learned._tag).toBe("Revoked")
    expect(notices.slice(1)).toEqual([
      { _tag: "Dropped", peerDid: alice.did, connectionId: "a1", realm: Realm.id(realm), command: "/mesh/subscribe", keep: [], reason: "Revoked" }
    ])
    // Alice's grant is gone; a fresh presentation of the revoked chain is refused `Revoked`.
    expect(await run(port.authorise(sub(alice, "a1", undefined)))).toEqual({ _tag: "Denied", reason: "UnavailableProof" })
    now += 1_000
    expect(await run(port.authorise(sub(alice, "a2", au(alice, aliceCap, now))))).toEqual({ _tag: "Denied", reason: "Revoked" })
    expect(port.isRevoked(Ucan.cid(aliceCap))).toBe(true)
    // Bob is unaffected.
    expect(await run(port.authorise(sub(bob, "b1", undefined)))).toEqual({ _tag: "Allowed" })
    // A replay of the same revocation is harmless.
    expect((await run(port.learn(recordOf(aliceCap))))._tag).toBe("Known")
    expect(notices).toHaveLength(2)
  })

  it("keeps the grants of another path: only the revoked link dies", async () => {
    const now = t0
    const port = Authorisation.port({ authorities: { [realm]: authority.did }, station: station.did, now: () => now })
    const first = subscribeCap(capsOf(alice))
    const second = subscribeCap(capsOf(alice))
    const narrow = `${realm}/acme/shop/#`
    expect(await run(port.authorise(sub(alice, "a", au(alice, first, now))))).toEqual({ _tag: "Allowed" })
    expect(await run(port.authorise(sub(alice, "a", au(alice, second, now, narrow), narrow)))).toEqual({ _tag: "Allowed" })
    const dropped: Array<Authorisation.Notice> = []
    port.subscribe((n) => dropped.push(n))
    await run(port.learn(recordOf(first)))
    expect(dropped).toMatchObject([{ _tag: "Dropped", keep: [narrow] }])
    expect(await run(port.authorise(sub(alice, "a", undefined, `${realm}/acme/shop/x/n_v1`)))).toEqual({ _tag: "Allowed" })
    expect(await run(port.authorise(sub(alice, "a", undefined, `${realm}/acme/other/x/n_v1`)))).toEqual({ _tag: "Denied", reason: "UnavailableProof" })
    expect(await run(port.authorise(sub(alice, "b", au(alice, second, now, narrow), narrow)))).toEqual({ _tag: "Allowed" })
  })

  it("refuses forged records and changes nothing", async () => {
    const now = t0
    const port = Authorisation.port({ authorities: { [realm]: authority.did }, station: station.did, now: () => now })
    const cap = subscribeCap(capsOf(alice))
    expect(await run(port.authorise(sub(alice, "a", au(alice, cap, now))))).toEqual({ _tag: "Allowed" })
    // Alice cannot revoke her own delegation (she issued none on the path); a flipped signature fails.
    const byMember = await run(port.learn(recordOf(cap, alice)))
    expect(byMember._tag === "Refused" && byMember.error.name).toBe("InvalidClaim")
    const good = recordOf(cap)
    const forged = Uint8Array.from(good.inv)
    forged[10]! ^= 0x01
    const bad = await run(port.learn({ ...good, inv: forged }))
    expect(bad._tag === "Refused" && bad.error.name).toBe("InvalidSignature")
    expect(port.isRevoked(Ucan.cid(cap))).toBe(false)
    expect(await run(port.authorise(sub(alice, "a", undefined)))).toEqual({ _tag: "Allowed" })
  })

  it("consults the DHT in the background, caches negative answers, and ends a grant it finds revoked", async () => {
    let now = t0
    const aliceCap = subscribeCap(capsOf(alice))
    const dht = new Map<string, Array<Ucan.Revocation.RecordData>>()
    const asked: Array<string> = []
    const port = Authorisation.port({
      authorities: { [realm]: authority.did },
      station: station.did,
      now: () => now,
      revocationCacheMs: 60_000,
      findRevocations: (cid) => Effect.sync(() => (asked.push(cid), dht.get(cid) ?? []))
    })
    const notices: Array<Authorisation.Notice> = []
    port.subscribe((n) => notices.push(n))
    expect(await run(port.authorise(sub(alice, "a", au(alice, aliceCap, now))))).toEqual({ _tag: "Allowed" })
    await vi.waitFor(() => expect(asked).toEqual([Ucan.cid(aliceCap)]))
    // Within revocationCacheMs the negative answer stands: no second lookup.
    now += 30_000
    expect(await run(port.authorise(sub(alice, "a2", au(alice, aliceCap, now))))).toEqual({ _tag: "Allowed" })
    await new Promise((r) => setTimeout(r, 20))
    expect(asked).toHaveLength(1)
    // After it, the DHT is asked again, holds a revocation now, and the fresh grant is dropped.
    dht.set(Ucan.cid(aliceCap), [recordOf(aliceCap)])
    now += 31_000
    expect(await run(port.authorise(sub(alice, "a3", au(alice, aliceCap, now))))).toEqual({ _tag: "Allowed" })
    await vi.waitFor(() => expect(notices.filter((n) => n._tag === "Dropped").map((n) => n._tag === "Dropped" && n.connectionId)).toEqual(["a", "a2", "a3"]))
    expect(await run(port.authorise(sub(alice, "a4", au(alice, aliceCap, now))))).toEqual({ _tag: "Denied", reason: "Revoked" })
  })

  it("onFact looks the record up and learns it; a failing DHT changes nothing", async () => {
    const now = t0
    const cap = subscribeCap(capsOf(alice))
    const failing = Authorisation.port({
      authorities: { [realm]: authority.did },
      station: station.did,
      now: () => now,
      findRevocations: () => Effect.fail("unreachable")
    })
    expect(await run(failing.onFact(Ucan.cid(cap)))).toEqual([])
    expect(failing.isRevoked(Ucan.cid(cap))).toBe(false)
    let lookups = 0
    const port = Authorisation.port({
      authorities: { [realm]: authority.did },
      station: station.did,
      now: () => now,
      findRevocations: (cid) => Effect.sync(() => (lookups++, cid === Ucan.cid(cap) ? [recordOf(cap)] : []))
    })
    expect(await run(port.onFact("not a cid"))).toEqual([])
    const learned = await run(port.onFact(Ucan.cid(cap)))
    expect(learned.map((l) => l._tag)).toEqual(["Revoked"])
    expect(port.isRevoked(Ucan.cid(cap))).toBe(true)
    // The same fact again (a replay, or from another station) costs no lookup.
    expect(await run(port.onFact(Ucan.cid(cap)))).toEqual([{ _tag: "Known", cid: Ucan.cid(cap) }])
    expect(lookups).toBe(1)
  })

  it("keeps a revocation until the revoked token's expiry plus leeway, and stays bounded", async () => {
    let now = t0
    const port = Authorisation.port({
      authorities: { [realm]: authority.did },
      station: station.did,
      now: () => now,
      clockSkewLeewayMs: 60_000,
      maxRevocations: 2
    })
    const caps = [0, 1, 2].map(() => subscribeCap(capsOf(alice, 3_600)))
    for (const cap of caps) await run(port.learn(recordOf(cap)))
    // The oldest fell out past the cap of two.
    expect(caps.map((c) => port.isRevoked(Ucan.cid(c)))).toEqual([false, true, true])
    now += 3_600_000 + 59_000
    expect(port.isRevoked(Ucan.cid(caps[2]!))).toBe(true)
    now += 2_000
    expect(port.isRevoked(Ucan.cid(caps[2]!))).toBe(false)
    // Revoking a delegation long dead keeps nothing.
    expect((await run(port.learn(recordOf(caps[0]!))))._tag).toBe("Known")
  })
})

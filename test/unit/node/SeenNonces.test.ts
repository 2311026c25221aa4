/**
 * The seen-nonce memory of invocation checkers (PROTOCOL.md §13.4): check-and-record, expiry with
 * the clock-skew leeway, the sweeps, the cap with oldest-first eviction; and, through the
 * three checkers, that each keeps the semantics it had with a memory of its own (the station's
 * port remembers one more than `maxSeenInvocations`, the providers exactly that many), and that
 * one memory shared by them refuses what any of them accepted.
 */
import { describe, expect, it } from "vitest"
import * as Mcid from "../../../src/content/Mcid.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import * as Authorisation from "../../../src/node/Authorisation.ts"
import * as ContentAuthority from "../../../src/node/ContentAuthority.ts"
import * as ProviderInvocation from "../../../src/node/ProviderInvocation.ts"
import * as SeenNonces from "../../../src/node/SeenNonces.ts"
import type * as Frame from "../../../src/wire/Frame.ts"

const nonce = (i: number) => Ucan.cid(Uint8Array.of(i & 0xff, i >> 8))
const T = 1_800_000_000

describe("SeenNonces", () => {
  it("checks and records in one call: a nonce is new once", () => {
    const seen = SeenNonces.make({ leewaySec: 60, cap: 10 })
    expect(seen.has(nonce(1))).toBe(false)
    expect(seen.record(nonce(1), T + 600, T)).toBe(true)
    expect(seen.has(nonce(1))).toBe(true)
    expect(seen.record(nonce(1), T + 600, T)).toBe(false)
    expect(seen.entries()).toEqual([[nonce(1), T + 600]])
  })

  it("keeps a nonce until its expiry plus the leeway, and sweeps it at a later record", () => {
    const seen = SeenNonces.make({ leewaySec: 60, cap: 10 })
    seen.record(nonce(1), T, T - 10)
    seen.record(nonce(2), T + 60, T + 60) // exactly at exp + leeway: still live
    expect(seen.has(nonce(1))).toBe(true)
    seen.record(nonce(3), T + 600, T + 61) // one second past: swept
    expect(seen.has(nonce(1))).toBe(false)
    expect(seen.has(nonce(2))).toBe(true)
    // Not swept until a record: `has` does not look at expiries.
    expect(seen.entries().map(([n]) => n)).toEqual([nonce(2), nonce(3)])
  })

  it("sweeps only up to the first live entry, and every expired entry before it drops a live one", () => {
    const seen = SeenNonces.make({ leewaySec: 0, cap: 3 })
    seen.record(nonce(1), T + 1_000, T) // long-lived, oldest
    seen.record(nonce(2), T + 10, T) // expires behind it
    seen.record(nonce(3), T + 1_000, T + 100)
    expect(seen.has(nonce(2))).toBe(true) // the head sweep stopped at nonce 1
    seen.record(nonce(4), T + 1_000, T + 100) // full: the expired one goes, not the oldest live one
    expect(seen.has(nonce(1))).toBe(true)
    expect(seen.has(nonce(2))).toBe(false)
    expect(seen.size()).toBe(3)
  })

  it("holds at most `cap` entries, dropping the oldest first", () => {
    const seen = SeenNonces.make({ leewaySec: 60, cap: 3 })
    for (let i = 0; i < 10; i++) {
      expect(seen.record(nonce(i), T + 600, T)).toBe(true)
      expect(seen.size()).toBeLessThanOrEqual(3)
    }
    expect(seen.entries().map(([n]) => n)).toEqual([nonce(7), nonce(8), nonce(9)])
  })

  it("starts from given entries, oldest first", () => {
    const seen = SeenNonces.make({ leewaySec: 60, cap: 2 }, [[nonce(1), T], [nonce(2), T]])
    expect(seen.record(nonce(2), T, T)).toBe(false)
    expect(seen.record(nonce(3), T, T)).toBe(true)
    expect(seen.entries().map(([n]) => n)).toEqual([nonce(2), nonce(3)])
  })
})

// The three checkers, each with `maxSeenInvocations: 1`.
const realm = "io.example"
const authority = Identity.fromSeed(new Uint8Array(32).fill(1))
const station = Identity.fromSeed(new Uint8Array(32).fill(2))
const member = Identity.fromSeed(new Uint8Array(32).fill(3))
const NOW = T * 1_000
const expiration = T + 86_400

const stationPort = (seenNonces?: SeenNonces.SeenNonces) =>
  Authorisation.decide({
    authorities: { [realm]: authority.did },
    station: station.did,
    now: () => NOW,
    maxSeenInvocations: 1,
    ...(seenNonces === undefined ? {} : { seenNonces })
  })
const pubCaps = Ucan.RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm, topics: [`${realm}/acme/#`], expiration })
const publish = (): Frame.Authority => {
  const proof = pubCaps.find((c) => Ucan.decode(c).cmd === "/mesh/publish")!
  const inv = Ucan.RealmCapabilities.invokeMember({
    issuer: member, authority: authority.did, station: station.did, realm, command: "/mesh/publish",
    args: { topic: `${realm}/acme/#` }, proofs: [proof], expiration: T + 600
  })
  return { inv, prf: [proof] }
}
const pubRequest = (au: Frame.Authority): Authorisation.Request => ({
  peerDid: member.did, realm: Realm.id(realm), command: "/mesh/publish", topic: `${realm}/acme/x/d/n_v1`, au
})

const contentCaps = Ucan.RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm, commands: ["/content/get"], expiration })
const mcid = Mcid.toString(Mcid.ofBlock(new TextEncoder().encode("members only")))
const contentVerifier = (seenNonces?: SeenNonces.SeenNonces) =>
  ContentAuthority.verifier({ self: station.did, now: () => NOW, maxSeenInvocations: 1, ...(seenNonces === undefined ? {} : { seenNonces }) })
const get = () => ContentAuthority.invoker({ identity: member, delegations: contentCaps })!(station.did, "/content/get", { mcid }, NOW)!
const getRequest = (au: Frame.Authority): ContentAuthority.Request => ({ command: "/content/get", realm, authority: authority.did, requester: member.did, au })

const proc = `${realm}/acme/calc/math/add_v1`
const providerVerifier = (seenNonces?: SeenNonces.SeenNonces) =>
  ProviderInvocation.verifier({ identity: station, delegations: [], maxSeenInvocations: 1, ...(seenNonces === undefined ? {} : { seenNonces }) }, () => NOW)
const call = () => ProviderInvocation.invoker({ identity: member, delegations: [] })(station.did, realm, proc, NOW)
const callFrame = (ucan: Frame.Authority): Frame.Call => ({
  t: "call", id: 1, cid: new Uint8Array(16), realm: Realm.id(realm), proc, a: null, ttl: 1_000, idem: false, hop: 1,
  to: station.publicKey, from: member.publicKey, ucan
})

const allowed = { _tag: "Allowed" }
const replayed = { _tag: "Denied", reason: "InvalidClaim" }

describe("the checkers over SeenNonces", () => {
  it("the station's port remembers maxSeenInvocations + 1 nonces, as it always did", () => {
    const port = stationPort()
    const [a, b, c] = [publish(), publish(), publish()]
    expect(port(pubRequest(a))).toEqual(allowed)
    expect(port(pubRequest(b))).toEqual(allowed)
    expect(port(pubRequest(a))).toEqual(replayed) // two held with a cap of one
    expect(port(pubRequest(c))).toEqual(allowed)
    expect(port(pubRequest(b))).toEqual(replayed)
    expect(port(pubRequest(a))).toEqual(allowed) // the oldest was evicted
  })

  it("a content verifier remembers maxSeenInvocations nonces", () => {
    const check = contentVerifier()
    const [a, b] = [get(), get()]
    expect(check(getRequest(a))).toMatchObject(allowed)
    expect(check(getRequest(a))).toEqual(replayed)
    expect(check(getRequest(b))).toMatchObject(allowed)
    expect(check(getRequest(b))).toEqual(replayed)
    expect(check(getRequest(a))).toMatchObject(allowed) // evicted by b
  })

  it("a provider remembers maxSeenInvocations nonces", () => {
    const check = providerVerifier()
    const [a, b] = [call(), call()]
    expect(check(callFrame(a))).toEqual(allowed)
    expect(check(callFrame(a))).toEqual(replayed)
    expect(check(callFrame(b))).toEqual(allowed)
    expect(check(callFrame(b))).toEqual(replayed)
    expect(check(callFrame(a))).toEqual(allowed) // evicted by b
  })

  it("one shared memory holds what each checker accepted; its own cap, not theirs, bounds it", () => {
    const shared = SeenNonces.make({ leewaySec: 60, cap: 10 })
    const port = stationPort(shared)
    const content = contentVerifier(shared)
    const provider = providerVerifier(shared)
    const [p, g, c] = [publish(), get(), call()]
    expect(port(pubRequest(p))).toEqual(allowed)
    expect(content(getRequest(g))).toMatchObject(allowed)
    expect(provider(callFrame(c))).toEqual(allowed)
    expect(shared.entries().map(([n]) => n)).toEqual([Ucan.cid(p.inv), Ucan.cid(g.inv), Ucan.cid(c.inv)])
    expect(port(pubRequest(p))).toEqual(replayed)
    expect(content(getRequest(g))).toEqual(replayed)
    expect(provider(callFrame(c))).toEqual(replayed)
  })
})

/**
 * A client's capabilities (PROTOCOL.md §13.4): the proof chains its delegations form, the
 * invocations it builds for a station (audience, command, args, expiry, proofs), the frames it
 * attaches them to once per connection and scope, and — checked by the station's own
 * authorisation port — that what it sends is accepted, while a chain that does not cover the
 * frame is never attached.
 */
import { describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import * as Authorisation from "../../../src/node/Authorisation.ts"
import * as ClientCapabilities from "../../../src/node/ClientCapabilities.ts"
import type * as Frame from "../../../src/wire/Frame.ts"

const authority = Identity.fromSeed(new Uint8Array(32).fill(1))
const stationA = Identity.fromSeed(new Uint8Array(32).fill(2))
const stationB = Identity.fromSeed(new Uint8Array(32).fill(5))
const member = Identity.fromSeed(new Uint8Array(32).fill(3))
const service = Identity.fromSeed(new Uint8Array(32).fill(4))
const stranger = Identity.fromSeed(new Uint8Array(32).fill(6))
const realm = "io.example"
const realmId = Realm.id(realm)
const nowMs = 1_800_000_000_000
const nowSec = nowMs / 1_000
const acme = `${realm}/acme/shop/orders/placed_v1`
const other = `${realm}/other/shop/orders/placed_v1`

/** publish + subscribe limited to io.example/acme/#, advertise + call over the realm. */
const memberCaps = [
  ...RealmCapabilities.issueMember({
    issuer: authority, member: member.did, realm, commands: ["/mesh/publish", "/mesh/subscribe"],
    topics: [`${realm}/acme/#`], expiration: nowSec + 86_400
  }),
  ...RealmCapabilities.issueMember({
    issuer: authority, member: member.did, realm, commands: ["/mesh/advertise", "/mesh/call"], expiration: nowSec + 86_400
  })
]

const stationPort = (station: Identity) =>
  Authorisation.decide({ authorities: { [realm]: authority.did }, station: station.did, now: () => nowMs })

const subFrame = (id: number, pat: string): Frame.Sub => ({ t: "sub", id, sid: id, realm: realmId, pat })
const callFrame = (id: number, proc: string): Frame.Frame =>
  ({ t: "call", id, cid: new Uint8Array(16), realm: realmId, proc, a: null, ttl: 5_000, idem: false, hop: 0 }) as Frame.Frame

const auOf = (frame: Frame.Frame): Frame.Authority | undefined => (frame as { readonly au?: Frame.Authority }).au

describe("ClientCapabilities.chainsOf", () => {
  it("finds the direct chains addressed to the holder, one per delegation", () => {
    const chains = ClientCapabilities.chainsOf(memberCaps, member.did)
    expect(chains.map((c) => c.tokens.map((t) => t.cmd)).sort()).toEqual(
      [["/mesh/advertise"], ["/mesh/call"], ["/mesh/publish"], ["/mesh/subscribe"]]
    )
    expect(chains.every((c) => c.authority === authority.did && c.expiresAt === nowSec + 86_400)).toBe(true)
  })

  it("links a realm service's delegation to its member delegation, root first", () => {
    const toService = RealmCapabilities.issueService({ authority, service: service.did, expiration: nowSec + 86_400 })
    const toMember = RealmCapabilities.issueMember({
      issuer: service, authority: authority.did, member: member.did, realm, commands: ["/mesh/publish"], expiration: nowSec + 3_600
    })
    const chains = ClientCapabilities.chainsOf([...toMember, toService], member.did)
    expect(chains).toHaveLength(1)
    expect(chains[0]!.proofs).toEqual([toService, toMember[0]])
    expect(chains[0]!.expiresAt).toBe(nowSec + 3_600)
  })

  it("finds nothing in delegations addressed to someone else or not rooted at an authority", () => {
    expect(ClientCapabilities.chainsOf(memberCaps, stranger.did)).toEqual([])
    // service → member without the authority's delegation to the service: no root.
    const orphan = RealmCapabilities.issueMember({
      issuer: service, authority: authority.did, member: member.did, realm, expiration: nowSec + 3_600
    })
    expect(ClientCapabilities.chainsOf(orphan, member.did)).toEqual([])
    expect(ClientCapabilities.make({ identity: stranger, delegations: memberCaps })).toBeUndefined()
  })
})

describe("ClientCapabilities.present", () => {
  const options = { identity: member, delegations: memberCaps }
  const chains = ClientCapabilities.chainsOf(memberCaps, member.did)

  it("builds an invocation for the station: audience, command, args, expiry and the proof chain", () => {
    const made = ClientCapabilities.present(options, chains, {
      station: stationA.did, command: "/mesh/publish", realm, scope: acme
    }, nowMs)!
    expect(made).toBeDefined()
    const inv = Ucan.decode(made.au.inv)
    if (inv.kind !== "invocation") throw new Error("not an invocation")
    expect(inv.iss).toBe(member.did)
    expect(inv.aud).toBe(stationA.did)
    expect(inv.sub).toBe(authority.did)
    expect(inv.cmd).toBe("/mesh/publish")
    expect(inv.args).toEqual({ realm, topic: acme })
    expect(inv.exp).toBe(nowSec + 600)
    expect(made.expiresAt).toBe(nowSec + 600)
    const publishCap = memberCaps.find((c) => Ucan.decode(c).cmd === "/mesh/publish")!
    expect(made.au.prf).toEqual([publishCap])
    expect(inv.prf).toEqual([Ucan.cid(publishCap)])
    // A fresh nonce each time: the station refuses a replayed invocation.
    const again = ClientCapabilities.present(options, chains, { station: stationA.did, command: "/mesh/publish", realm, scope: acme }, nowMs)!
    expect(Ucan.decode(again.au.inv).nonce).not.toEqual(inv.nonce)
    // The station accepts it (and only at that station).
    const peer = { peerDid: member.did, realm: realmId, command: "/mesh/publish" as const, topic: acme }
    expect(stationPort(stationA)({ ...peer, au: made.au })).toEqual({ _tag: "Allowed" })
    expect(stationPort(stationB)({ ...peer, au: again.au })).toEqual({ _tag: "Denied", reason: "InvalidAudience" })
  })

  it("uses args.proc for advertise and call, and honours a shorter invocation lifetime", () => {
    const made = ClientCapabilities.present({ ...options, invocationTtlMs: 120_000 }, chains, {
      station: stationA.did, command: "/mesh/call", realm, scope: `${realm}/acme/calc/math/add_v1`
    }, nowMs)!
    const inv = Ucan.decode(made.au.inv)
    expect(inv.kind === "invocation" && inv.args).toEqual({ realm, proc: `${realm}/acme/calc/math/add_v1` })
    expect(inv.exp).toBe(nowSec + 120)
  })

  it("attaches nothing when no chain covers the topic, the command or the time", () => {
    const request = { station: stationA.did, realm }
    expect(ClientCapabilities.present(options, chains, { ...request, command: "/mesh/publish", scope: other }, nowMs)).toBeUndefined()
    expect(ClientCapabilities.present(options, chains, { ...request, command: "/mesh/subscribe", scope: `${realm}/#` }, nowMs))
      .toBeUndefined()
    const pubOnly = ClientCapabilities.chainsOf(memberCaps.slice(0, 1), member.did)
    expect(ClientCapabilities.present(options, pubOnly, { ...request, command: "/mesh/subscribe", scope: acme }, nowMs)).toBeUndefined()
    // Past the delegations' expiry (and the leeway).
    expect(ClientCapabilities.present(options, chains, { ...request, command: "/mesh/publish", scope: acme }, nowMs + 86_500_000))
      .toBeUndefined()
    // A scope outside the realm named.
    expect(ClientCapabilities.present(options, chains, { ...request, command: "/mesh/publish", realm: "io.other", scope: acme }, nowMs))
      .toBeUndefined()
  })

  it("invokes one /mesh delegation (the default of `macula realm issue --realm`) for all four commands", () => {
    const mesh = Ucan.delegate({
      issuer: authority, audience: member.did, subject: authority.did, command: "/mesh",
      policy: [["==", ".realm", realm]], expiration: nowSec + 3_600
    })
    const meshChains = ClientCapabilities.chainsOf([mesh], member.did)
    const port = stationPort(stationA)
    for (const [command, scope] of [
      ["/mesh/subscribe", `${realm}/#`], ["/mesh/publish", other], ["/mesh/advertise", `${realm}/x/calc/math/add_v1`],
      ["/mesh/call", `${realm}/x/calc/math/add_v1`]
    ] as const) {
      const made = ClientCapabilities.present(options, meshChains, { station: stationA.did, command, realm, scope }, nowMs)!
      expect(made.au.prf).toEqual([mesh])
      expect(port({ peerDid: member.did, realm: realmId, command, topic: scope, au: made.au })).toEqual({ _tag: "Allowed" })
    }
  })

  it("picks the covering chain among several", () => {
    const wide = RealmCapabilities.issueMember({
      issuer: authority, member: member.did, realm, commands: ["/mesh/publish"], topics: [`${realm}/other/#`], expiration: nowSec + 100
    })
    const all = ClientCapabilities.chainsOf([...memberCaps, ...wide], member.did)
    const made = ClientCapabilities.present(options, all, { station: stationA.did, command: "/mesh/publish", realm, scope: other }, nowMs)!
    expect(made.au.prf).toEqual(wide)
    expect(made.expiresAt).toBe(nowSec + 100)
  })
})

describe("ClientCapabilities.Presenter", () => {
  const forStation = ClientCapabilities.make({ identity: member, delegations: memberCaps })!

  it("attaches au once per scope on a connection, and the station's grant admits the rest", () => {
    const presenter = forStation(stationA.did)
    const port = stationPort(stationA)
    const first = presenter.attach(subFrame(1, `${realm}/acme/#`), nowMs)
    expect(auOf(first)).toBeDefined()
    expect(port({ peerDid: member.did, realm: realmId, command: "/mesh/subscribe", topic: `${realm}/acme/#`, au: auOf(first) }))
      .toEqual({ _tag: "Allowed" })
    presenter.answered(1, false)
    // The same scope, and a narrower one it covers: no au, and the station's grant admits them.
    for (const [id, pat] of [[2, `${realm}/acme/#`], [3, `${realm}/acme/shop/#`]] as const) {
      const next = presenter.attach(subFrame(id, pat), nowMs + 1_000)
      expect(auOf(next)).toBeUndefined()
      expect(port({ peerDid: member.did, realm: realmId, command: "/mesh/subscribe", topic: pat, au: undefined })).toEqual({ _tag: "Allowed" })
    }
    expect(presenter.signed).toBe(1)
  })

  it("presents a pub's topic from what the actor names, and nothing for an uncovered topic", () => {
    const presenter = forStation(stationA.did)
    const pub: Frame.Frame = { t: "pub", id: 7, b: new Uint8Array(1), s: new Uint8Array(64) }
    expect(auOf(presenter.attach(pub, nowMs))).toBeUndefined() // no realm and topic named: untouched
    const withAu = presenter.attach(pub, nowMs, { realm: realmId, topic: acme })
    const inv = Ucan.decode(auOf(withAu)!.inv)
    expect(inv.kind === "invocation" && inv.args).toEqual({ realm, topic: acme })
    expect(auOf(presenter.attach({ ...pub, id: 8 }, nowMs, { realm: realmId, topic: other }))).toBeUndefined()
    // Unauthorised frames stay as they are (another realm id, a system topic, ungated frames).
    expect(auOf(presenter.attach({ ...subFrame(9, `${realm}/acme/#`), realm: Realm.id("io.other") }, nowMs))).toBeUndefined()
    expect(auOf(presenter.attach({ t: "unsub", id: 10, sid: 1 }, nowMs))).toBeUndefined()
  })

  it("presents again on a new connection, to the new station (fail-over)", () => {
    const first = forStation(stationA.did).attach(callFrame(1, `${realm}/acme/calc/math/add_v1`), nowMs)
    const second = forStation(stationB.did).attach(callFrame(1, `${realm}/acme/calc/math/add_v1`), nowMs)
    const audienceOf = (f: Frame.Frame) => {
      const inv = Ucan.decode(auOf(f)!.inv)
      return inv.kind === "invocation" ? inv.aud : undefined
    }
    expect(audienceOf(first)).toBe(stationA.did)
    expect(audienceOf(second)).toBe(stationB.did)
    const request = { peerDid: member.did, realm: realmId, command: "/mesh/call" as const, topic: `${realm}/acme/calc/math/add_v1` }
    expect(stationPort(stationB)({ ...request, au: auOf(second) })).toEqual({ _tag: "Allowed" })
  })

  it("presents again after a refusal, before the invocation expires, and past the station's grants per key", () => {
    const presenter = forStation(stationA.did)
    expect(auOf(presenter.attach(subFrame(1, `${realm}/acme/#`), nowMs))).toBeDefined()
    presenter.answered(1, true)
    expect(auOf(presenter.attach(subFrame(2, `${realm}/acme/#`), nowMs))).toBeDefined()
    presenter.answered(2, false)
    expect(auOf(presenter.attach(subFrame(3, `${realm}/acme/#`), nowMs + 400_000))).toBeUndefined()
    // Three quarters into the 600 s invocation: renewed.
    expect(auOf(presenter.attach(subFrame(4, `${realm}/acme/#`), nowMs + 451_000))).toBeDefined()

    // The station keeps the newest `grantsPerKey` scopes per command: the oldest is presented again.
    const many = forStation(stationA.did)
    const topic = (i: number) => `${realm}/acme/shop/orders/t${i}_v1`
    for (let i = 0; i <= Authorisation.grantsPerKey; i++) {
      expect(auOf(many.attach({ t: "pub", id: i, b: new Uint8Array(1), s: new Uint8Array(64) }, nowMs, { realm: realmId, topic: topic(i) })))
        .toBeDefined()
    }
    expect(auOf(many.attach({ t: "pub", id: 99, b: new Uint8Array(1), s: new Uint8Array(64) }, nowMs, { realm: realmId, topic: topic(0) })))
      .toBeDefined()
    expect(auOf(many.attach({ t: "pub", id: 100, b: new Uint8Array(1), s: new Uint8Array(64) }, nowMs, { realm: realmId, topic: topic(5) })))
      .toBeUndefined()
  })
})

/**
 * Realm membership: member delegations for the mesh commands and the station-side check of
 * PROTOCOL.md §13.3–§13.4.
 */
import { describe, expect, it } from "vitest"
import * as Ucan from "../../../../src/identity/ucan/index.ts"
import { RealmCapabilities as Realm } from "../../../../src/identity/ucan/index.ts"
import { identity, NOW } from "./Build.ts"

const authority = identity(50)
const service = identity(51)
const alice = identity(52)
const station = identity(53)
const mallory = identity(54)
const realm = "io.example"

const member = Realm.issueMember({
  issuer: authority,
  member: alice.did,
  realm,
  commands: [Realm.commands.publish, Realm.commands.subscribe, Realm.commands.call, Realm.commands.contentGet],
  topics: ["io.example/acme/#"],
  procedures: ["io.example/acme/*/orders/place_v1"],
  expiration: NOW + 86_400
})
const capFor = (command: string): Uint8Array =>
  member.find((t) => Ucan.decode(t).cmd === command) ?? (() => { throw new Error(`no capability for ${command}`) })()

const attempt = (command: string, args: object, overrides: Partial<Realm.CheckOptions> = {}, proofs = [capFor(command)]) => {
  const invocation = Realm.invokeMember({
    issuer: alice,
    authority: authority.did,
    station: station.did,
    realm,
    command,
    args,
    proofs,
    expiration: NOW + 120
  })
  const result = Realm.check({
    invocation,
    proofs,
    authority: authority.did,
    realm,
    station: station.did,
    peer: alice.did,
    command,
    now: NOW,
    ...overrides
  })
  return result.ok ? "ok" : result.error.name
}

describe("member delegations", () => {
  it("issues one delegation per command, subject the authority, audience the member", () => {
    expect(member.map((t) => Ucan.decode(t).cmd)).toEqual(["/mesh/publish", "/mesh/subscribe", "/mesh/call", "/content/get"])
    for (const token of member) {
      expect(Ucan.decode(token)).toMatchObject({ kind: "delegation", iss: authority.did, aud: alice.did, sub: authority.did, exp: NOW + 86_400 })
    }
  })

  it("carries the realm and glob policies of PROTOCOL.md §13.3", () => {
    expect(Ucan.decode(capFor("/mesh/publish"))).toMatchObject({
      pol: [["==", ".realm", realm], ["like", ".topic", "io.example/acme/*"]]
    })
    expect(Ucan.decode(capFor("/mesh/call"))).toMatchObject({
      pol: [["==", ".realm", realm], ["like", ".proc", "io.example/acme/*/orders/place_v1"]]
    })
    expect(Ucan.decode(capFor("/content/get"))).toMatchObject({ pol: [] })
    expect(Realm.memberPolicy("/mesh/subscribe", { realm, topics: ["io.example/a/#", "io.example/b/#"] })).toEqual([
      ["==", ".realm", realm],
      ["or", [["like", ".topic", "io.example/a/*"], ["like", ".topic", "io.example/b/*"]]]
    ])
    expect(Realm.memberPolicy("/mesh/publish", { realm })).toEqual([["==", ".realm", realm], ["like", ".topic", "io.example/*"]])
    expect(Realm.issueMember({ issuer: authority, member: alice.did, realm, expiration: null }).length).toBe(4)
  })

  it.each(["io.other/acme/#", "io.example/#/x", "io.example/a*/b/c/d_v1", "not a topic"])("refuses the topic pattern %j", (pattern) => {
    expect(() => Realm.topicGlob(realm, pattern)).toThrow(Ucan.UcanError)
  })
})

describe("the station check", () => {
  it.each<[string, string, object, string]>([
    ["a topic under the glob", "/mesh/publish", { topic: "io.example/acme/shop/orders/placed_v1" }, "ok"],
    ["a pattern the glob absorbs", "/mesh/subscribe", { topic: "io.example/acme/#" }, "ok"],
    ["a narrower pattern", "/mesh/subscribe", { topic: "io.example/acme/*/orders/#" }, "ok"],
    ["a topic outside the glob", "/mesh/publish", { topic: "io.example/other/shop/orders/placed_v1" }, "MatchError"],
    ["a broader pattern", "/mesh/subscribe", { topic: "io.example/#" }, "MatchError"],
    ["a look-alike org", "/mesh/publish", { topic: "io.example/acmex/shop/orders/placed_v1" }, "MatchError"],
    ["a procedure matching", "/mesh/call", { proc: "io.example/acme/shop/orders/place_v1" }, "ok"],
    ["another procedure", "/mesh/call", { proc: "io.example/acme/shop/orders/cancel_v1" }, "MatchError"],
    ["a topic where a procedure is expected", "/mesh/call", { topic: "io.example/acme/shop/orders/place_v1" }, "MatchError"],
    ["content without realm", "/content/get", { mcid: "b".padEnd(57, "a") }, "ok"]
  ])("%s: %s", (_name, command, args, expected) => {
    expect(attempt(command, args)).toBe(expected)
  })

  it("requires the realm authority as subject", () => {
    const rogue = Realm.issueMember({ issuer: mallory, member: alice.did, realm, commands: ["/mesh/publish"], expiration: NOW + 60 })
    expect(attempt("/mesh/publish", { topic: "io.example/acme/a/b/c_v1" }, {}, [...rogue])).toBe("InvalidSubject")
  })

  it("requires the station as audience, the peer as issuer, the frame's command and realm", () => {
    const args = { topic: "io.example/acme/a/b/c_v1" }
    expect(attempt("/mesh/publish", args, { station: mallory.did })).toBe("InvalidAudience")
    expect(attempt("/mesh/publish", args, { peer: mallory.did })).toBe("InvalidClaim")
    expect(attempt("/mesh/publish", args, { command: "/mesh/subscribe" })).toBe("InvalidClaim")
    expect(attempt("/mesh/publish", args, { realm: "io.other" })).toBe("InvalidClaim")
  })

  it("requires an invocation expiry within maxInvocationTtlSec", () => {
    const args = { topic: "io.example/acme/a/b/c_v1" }
    expect(attempt("/mesh/publish", args, { maxInvocationTtlSec: 119 })).toBe("InvalidClaim")
    expect(attempt("/mesh/publish", args, { maxInvocationTtlSec: 120 })).toBe("ok")
    const proofs = [capFor("/mesh/publish")]
    const forever = Ucan.invoke({
      issuer: alice,
      subject: authority.did,
      audience: station.did,
      command: "/mesh/publish",
      args: { realm, ...args },
      proofs: proofs.map(Ucan.cid)
    })
    const result = Realm.check({ invocation: forever, proofs, authority: authority.did, realm, now: NOW })
    expect(result.ok ? "ok" : result.error.name).toBe("InvalidClaim")
  })

  it("refuses a .topic glob with an escaped star", () => {
    const sneaky = Ucan.delegate({
      issuer: authority,
      audience: alice.did,
      subject: authority.did,
      command: "/mesh/subscribe",
      policy: [["like", ".topic", "io.example/acme/\\*"]],
      expiration: NOW + 60
    })
    expect(attempt("/mesh/subscribe", { topic: "io.example/acme/*" }, {}, [sneaky])).toBe("MatchError")
  })

  it("grants until the earliest expiry of the chain, through a realm service", () => {
    const delegation = Realm.issueService({ authority, service: service.did, expiration: NOW + 1_000 })
    const [viaService] = Realm.issueMember({
      issuer: service,
      authority: authority.did,
      member: alice.did,
      realm,
      commands: ["/mesh/publish"],
      expiration: NOW + 5_000
    })
    const proofs = [delegation, viaService!]
    const invocation = Realm.invokeMember({
      issuer: alice,
      authority: authority.did,
      station: station.did,
      realm,
      command: "/mesh/publish",
      args: { topic: "io.example/any/a/b/c_v1" },
      proofs,
      expiration: NOW + 100
    })
    const result = Realm.check({ invocation, proofs, authority: authority.did, realm, station: station.did, peer: alice.did, now: NOW })
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.grant).toMatchObject({
      command: "/mesh/publish",
      invoker: alice.did,
      expiresAt: NOW + 100,
      args: { realm, topic: "io.example/any/a/b/c_v1" }
    })
    expect(result.grant.cids).toEqual([...proofs.map(Ucan.cid), Ucan.cid(invocation)])
    const revoked = Realm.check({ invocation, proofs, authority: authority.did, realm, now: NOW, isRevoked: (c) => c === Ucan.cid(viaService!) })
    expect(revoked.ok ? "ok" : revoked.error.name).toBe("Revoked")
  })
})

/**
 * The station's authorisation port: open realms, grants from UCAN chains rooted at a pinned
 * authority, grant reuse without `au`, replayed nonces, and refusals named by UCAN error.
 */
import { describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import * as Authorisation from "../../../src/node/Authorisation.ts"

const authority = Identity.fromSeed(new Uint8Array(32).fill(1))
const station = Identity.fromSeed(new Uint8Array(32).fill(2))
const member = Identity.fromSeed(new Uint8Array(32).fill(3))
const stranger = Identity.fromSeed(new Uint8Array(32).fill(4))
const realm = "io.example"
const nowMs = 1_800_000_000_000
const nowSec = nowMs / 1_000

const caps = RealmCapabilities.issueMember({
  issuer: authority,
  member: member.did,
  realm,
  topics: [`${realm}/acme/#`],
  expiration: nowSec + 86_400
})
const proofFor = (command: string) => caps.find((c) => Ucan.decode(c).cmd === command)!

const invoke = (issuer: Identity, command: string, args: object, nonceExp = nowSec + 600) => ({
  inv: RealmCapabilities.invokeMember({
    issuer,
    authority: authority.did,
    station: station.did,
    realm,
    command,
    args,
    proofs: [proofFor(command)],
    expiration: nonceExp
  }),
  prf: [proofFor(command)]
})

const decide = () => Authorisation.decide({ authorities: { [realm]: authority.did }, station: station.did, now: () => nowMs })

describe("Authorisation", () => {
  it("allows everything in a realm without a pinned authority", () => {
    const verdict = decide()({ peerDid: stranger.did, realm: Realm.id("io.open"), command: "/mesh/publish", topic: "io.open/_realm/_realm/d/n_v1", au: undefined })
    expect(verdict).toEqual({ _tag: "Allowed" })
  })

  it("grants a covered publish once, then reuses the grant without au", () => {
    const port = decide()
    const topic = `${realm}/acme/shop/orders/placed_v1`
    const au = invoke(member, "/mesh/publish", { topic: `${realm}/acme/#` })
    expect(port({ peerDid: member.did, realm: Realm.id(realm), command: "/mesh/publish", topic, au })).toEqual({ _tag: "Allowed" })
    expect(port({ peerDid: member.did, realm: Realm.id(realm), command: "/mesh/publish", topic, au: undefined })).toEqual({ _tag: "Allowed" })
    // The same invocation again is a replay.
    expect(port({ peerDid: member.did, realm: Realm.id(realm), command: "/mesh/publish", topic, au })).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
    // Outside the grant's topic, and for another command, no grant applies.
    expect(port({ peerDid: member.did, realm: Realm.id(realm), command: "/mesh/publish", topic: `${realm}/other/x/d/n_v1`, au: undefined }))
      .toEqual({ _tag: "Denied", reason: "UnavailableProof" })
    expect(port({ peerDid: member.did, realm: Realm.id(realm), command: "/mesh/subscribe", topic, au: undefined }))
      .toEqual({ _tag: "Denied", reason: "UnavailableProof" })
  })

  it("keeps a grant per connection: it dies with the connection that presented it (§13.4)", () => {
    const port = decide()
    const topic = `${realm}/acme/shop/orders/placed_v1`
    const request = (connectionId: string, au: ReturnType<typeof invoke> | undefined) =>
      port({ peerDid: member.did, connectionId, realm: Realm.id(realm), command: "/mesh/publish", topic, au })
    expect(request("c1", invoke(member, "/mesh/publish", { topic: `${realm}/acme/#` }))).toEqual({ _tag: "Allowed" })
    expect(request("c1", undefined)).toEqual({ _tag: "Allowed" })
    // The same peer on a new connection presents again.
    expect(request("c2", undefined)).toEqual({ _tag: "Denied", reason: "UnavailableProof" })
    expect(request("c2", invoke(member, "/mesh/publish", { topic: `${realm}/acme/#` }))).toEqual({ _tag: "Allowed" })
    expect(request("c2", undefined)).toEqual({ _tag: "Allowed" })
  })

  it("refuses an invocation from someone else than the connection's peer, or a topic beyond it", () => {
    const port = decide()
    const au = invoke(member, "/mesh/subscribe", { topic: `${realm}/acme/#` })
    expect(port({ peerDid: stranger.did, realm: Realm.id(realm), command: "/mesh/subscribe", topic: `${realm}/acme/#`, au }))
      .toMatchObject({ _tag: "Denied" })
    const narrow = invoke(member, "/mesh/subscribe", { topic: `${realm}/acme/shop/#` })
    expect(port({ peerDid: member.did, realm: Realm.id(realm), command: "/mesh/subscribe", topic: `${realm}/acme/#`, au: narrow }))
      .toEqual({ _tag: "Denied", reason: "InvalidClaim" })
    expect(port({ peerDid: member.did, realm: Realm.id(realm), command: "/mesh/subscribe", topic: `${realm}/acme/*/orders/#`, au: undefined }))
      .toEqual({ _tag: "Denied", reason: "UnavailableProof" })
  })

  it("admits procedures exactly and topics by cover", () => {
    expect(Authorisation.admits("/mesh/call", "io.example/a/b/c/d_v1", "io.example/a/b/c/d_v1")).toBe(true)
    expect(Authorisation.admits("/mesh/call", "io.example/#", "io.example/a/b/c/d_v1")).toBe(false)
    expect(Authorisation.admits("/mesh/subscribe", "io.example/#", "io.example/a/*/c/#")).toBe(true)
  })
})

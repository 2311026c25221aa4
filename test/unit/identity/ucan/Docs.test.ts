/**
 * The examples of the "Capabilities (UCAN 1.0)" section of docs/identity.md, run as written.
 */
import { expect, it } from "vitest"
import { Identity } from "../../../../src/identity/Identity.ts"
import * as Ucan from "../../../../src/identity/ucan/index.ts"

it("the documented member flow, policy, station check and revocation work as shown", () => {
  const now = 1_760_000_000
  const authority = Identity.generate()
  const alice = Identity.generate()
  const station = Identity.generate()

  const [publish] = Ucan.RealmCapabilities.issueMember({
    issuer: authority, member: alice.did, realm: "io.example",
    commands: ["/mesh/publish"], topics: ["io.example/acme/#"], expiration: now + 30 * 86_400
  })
  const invocation = Ucan.invoke({
    issuer: alice, subject: authority.did, audience: station.did, command: "/mesh/publish",
    args: { realm: "io.example", topic: "io.example/acme/shop/orders/placed_v1" },
    proofs: [Ucan.cid(publish!)], expiration: now + 120
  })
  const result = Ucan.verifyInvocation(invocation, [publish!], { now })
  expect(result.ok).toBe(true)
  if (result.ok) expect(result.chain.map((t) => t.cid)).toEqual([Ucan.cid(publish!), Ucan.cid(invocation)])

  const policy: Ucan.Policy = [
    ["==", ".realm", "io.example"],
    ["like", ".topic", "io.example/acme/*"],
    ["any", ".to", ["like", ".", "*@example.com"]]
  ]
  expect(Ucan.matchesPolicy(policy, { realm: "io.example", topic: "io.example/acme/a/b/c_v1", to: ["bob@example.com"] })).toBe(true)
  expect(Ucan.globMatches("Alice\\*, Bob*, Carol.", "Alice*, Bob, Dan, Erin, Carol.")).toBe(true)

  const verdict = Ucan.RealmCapabilities.check({
    invocation, proofs: [publish!], authority: authority.did, realm: "io.example",
    station: station.did, peer: alice.did, command: "/mesh/publish", now
  })
  expect(verdict.ok).toBe(true)

  const revoked = new Set<string>()
  const revocation = Ucan.revoke({
    issuer: authority, subject: authority.did, delegation: Ucan.cid(publish!), path: [Ucan.cid(publish!)], expiration: now + 60
  })
  const checked = Ucan.verifyRevocation(revocation, [publish!], { now })
  if (checked.ok) revoked.add(checked.revoked)
  expect(revoked.has(Ucan.cid(publish!))).toBe(true)
  const after = Ucan.verifyInvocation(invocation, [publish!], { now, isRevoked: (cid) => revoked.has(cid) })
  expect(after.ok ? "ok" : after.error.name).toBe("Revoked")

  const dlg = Ucan.delegate({ issuer: authority, audience: alice.did, subject: authority.did, command: "/mesh", expiration: now + 3_600 })
  const inv = Ucan.invoke({ issuer: alice, subject: authority.did, command: "/mesh/call",
    args: { realm: "io.example", proc: "io.example/acme/app/orders/place_v1" }, proofs: [Ucan.cid(dlg)], expiration: now + 60 })
  expect(Ucan.verifyInvocation(inv, [dlg], { now }).ok).toBe(true)
})

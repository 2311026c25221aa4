/**
 * End-to-end invocations for `req: true` providers (PROTOCOL.md §9.2, §13.4), with real UCAN
 * 1.0 tokens: the caller signs a `/mesh/call` invocation for the provider (its delegation chain
 * when one covers the call, else rooted at itself); the provider allows it only when it is for
 * this provider, issued by the caller the station named, for this realm and procedure, rooted at
 * the authority of the provider's own delegations (any root when it holds none), unexpired and
 * never seen before.
 */
import { describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import * as ProviderInvocation from "../../../src/node/ProviderInvocation.ts"
import type * as Frame from "../../../src/wire/Frame.ts"

const realm = "io.example"
const proc = "io.example/acme/calc/math/add_v1"
const authority = Identity.generate()
const stranger = Identity.generate()
const caller = Identity.generate()
const provider = Identity.generate()
const other = Identity.generate()
const NOW = 1_800_000_000_000
const expiration = NOW / 1_000 + 86_400

const member = (who: Identity, by: Identity = authority) =>
  Ucan.RealmCapabilities.issueMember({ issuer: by, member: who.did, realm, expiration })

const callFrame = (ucan: Frame.Authority | undefined, extra: Partial<Frame.Call> = {}): Frame.Call => ({
  t: "call", id: 1, cid: new Uint8Array(16), realm: Realm.id(realm), proc, a: null, ttl: 1_000, idem: false, hop: 1,
  to: provider.publicKey, from: caller.publicKey, ...(ucan === undefined ? {} : { ucan }), ...extra
})

describe("ProviderInvocation", () => {
  const invoke = ProviderInvocation.invoker({ identity: caller, delegations: member(caller) })

  it("allows a member's invocation for this provider, once", () => {
    const check = ProviderInvocation.verifier({ identity: provider, delegations: member(provider) }, () => NOW)
    const au = invoke(provider.did, realm, proc, NOW)
    expect(au.prf.length).toBeGreaterThan(0)
    const decoded = Ucan.decode(au.inv)
    expect(decoded).toMatchObject({ aud: provider.did, sub: authority.did, cmd: "/mesh/call", args: { realm, proc } })
    expect(check(callFrame(au))).toEqual({ _tag: "Allowed" })
    expect(check(callFrame(au))).toEqual({ _tag: "Denied", reason: "InvalidClaim" }) // replayed nonce
    expect(check(callFrame(invoke(provider.did, realm, proc, NOW)))).toEqual({ _tag: "Allowed" }) // a fresh one
  })

  it.each<[string, () => Frame.Call, string]>([
    ["no invocation", () => callFrame(undefined), "UnavailableProof"],
    ["an invocation for another provider", () => callFrame(invoke(other.did, realm, proc, NOW)), "InvalidAudience"],
    ["a caller other than the one the station named", () => callFrame(invoke(provider.did, realm, proc, NOW), { from: other.publicKey }), "InvalidClaim"],
    ["an invocation for another procedure", () => callFrame(invoke(provider.did, realm, "io.example/acme/calc/math/sub_v1", NOW)), "InvalidClaim"],
    ["an expired invocation", () => callFrame(invoke(provider.did, realm, proc, NOW - 2 * 3_600_000)), "Expired"],
    [
      "a chain rooted at another authority",
      () => callFrame(ProviderInvocation.invoker({ identity: caller, delegations: member(caller, stranger) })(provider.did, realm, proc, NOW)),
      "InvalidSubject"
    ],
    [
      "a self-rooted invocation where the provider knows the authority",
      () => callFrame(ProviderInvocation.invoker({ identity: caller, delegations: [] })(provider.did, realm, proc, NOW)),
      "InvalidSubject"
    ],
    ["garbage", () => callFrame({ inv: new Uint8Array([1, 2, 3]), prf: [] }), "MalformedToken"]
  ])("denies %s", (_, frame, reason) => {
    const check = ProviderInvocation.verifier({ identity: provider, delegations: member(provider) }, () => NOW)
    expect(check(frame())).toEqual({ _tag: "Denied", reason })
  })

  it("in an open realm (no delegations anywhere) a self-rooted invocation proves the caller", () => {
    const open = ProviderInvocation.invoker({ identity: caller, delegations: [] })
    const check = ProviderInvocation.verifier({ identity: provider, delegations: [] }, () => NOW)
    const au = open(provider.did, realm, proc, NOW)
    expect(au.prf).toEqual([])
    expect(Ucan.decode(au.inv)).toMatchObject({ iss: caller.did, sub: caller.did, aud: provider.did })
    expect(check(callFrame(au))).toEqual({ _tag: "Allowed" })
    // Signed by someone else than the caller named by the station: refused.
    const forged = ProviderInvocation.invoker({ identity: other, delegations: [] })(provider.did, realm, proc, NOW)
    expect(check(callFrame(forged))).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
  })
})

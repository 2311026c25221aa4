/**
 * Revocation verification as stations do it (PROTOCOL.md §13.6): valid revocations by the issuer
 * of the revoked delegation or one above it; forged signatures, wrong issuers, wrong paths and
 * records naming another CID refused with the UCAN error name; replay harmless; expiry bounds.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Ucan from "../../../../src/identity/ucan/index.ts"
import { chain, identity, NOW } from "./Build.ts"

const { Revocation } = Ucan
const [authority, member, sub, outsider] = [identity(11), identity(12), identity(13), identity(14)] as const

// authority → member → sub, about the authority.
const { proofs } = chain([authority, member, sub], [{ command: "/mesh" }, { command: "/mesh/subscribe" }], { command: "/mesh/subscribe" })
const [root, leaf] = [proofs[0]!, proofs[1]!]

const revoke = (issuer = authority, path: ReadonlyArray<Uint8Array> = [root, leaf], target = leaf) =>
  Ucan.revoke({ issuer, subject: authority.did, delegation: Ucan.cid(target), path: path.map(Ucan.cid) })

const nameOf = (result: Ucan.Revocation.Result): string => (result.ok ? "ok" : result.error.name)

describe("Revocation.verify", () => {
  it("accepts the issuer of the revoked delegation and anyone above it on the path", () => {
    for (const revoker of [member, authority]) {
      const result = Revocation.verify(revoke(revoker), [root, leaf], { now: NOW, authority: authority.did })
      expect(result.ok).toBe(true)
      if (!result.ok) continue
      expect(result.revocation).toMatchObject({ revoked: Ucan.cid(leaf), revoker: revoker.did, subject: authority.did, revokedExp: NOW + 3_600 })
    }
  })

  it("refuses a revoker off the path (the member below, an outsider)", () => {
    expect(nameOf(Revocation.verify(revoke(sub), [root, leaf], { now: NOW }))).toBe("InvalidClaim")
    expect(nameOf(Revocation.verify(revoke(outsider), [root, leaf], { now: NOW }))).toBe("InvalidClaim")
  })

  it("refuses a path not ending at the revoked CID, and a missing proof", () => {
    const wrongEnd = Ucan.revoke({ issuer: authority, subject: authority.did, delegation: Ucan.cid(leaf), path: [Ucan.cid(root)] })
    expect(nameOf(Revocation.verify(wrongEnd, [root], { now: NOW }))).toBe("InvalidClaim")
    expect(nameOf(Revocation.verify(revoke(), [leaf], { now: NOW }))).toBe("UnavailableProof")
  })

  it("refuses a chain about another authority when one is pinned", () => {
    expect(nameOf(Revocation.verify(revoke(), [root, leaf], { now: NOW, authority: outsider.did }))).toBe("InvalidSubject")
  })

  it("refuses a token that is not a /ucan/revoke, and garbage", () => {
    const notRevoke = Ucan.invoke({ issuer: authority, subject: authority.did, command: "/mesh/publish", args: { ucan: "x" }, proofs: [] })
    expect(nameOf(Revocation.verify(notRevoke, [], { now: NOW }))).toBe("InvalidClaim")
    expect(nameOf(Revocation.verify(Uint8Array.of(1, 2, 3), [], { now: NOW }))).toBe("MalformedToken")
  })

  it("refuses any single flipped bit in the revocation's signature (forgery)", () => {
    const bytes = revoke()
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 7 }), (index, bit) => {
        // The envelope starts with the array header (1 byte) and the 64-byte signature's header (2 bytes).
        const forged = Uint8Array.from(bytes)
        forged[3 + index]! ^= 1 << bit
        expect(nameOf(Revocation.verify(forged, [root, leaf], { now: NOW }))).toBe("InvalidSignature")
      }),
      { numRuns: 100 }
    )
  })

  it("never throws and never accepts random mutations of the revocation (fuzz)", () => {
    const bytes = revoke()
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        const mutated = Uint8Array.from(bytes)
        mutated[index]! ^= mask
        const result = Revocation.verify(mutated, [root, leaf], { now: NOW })
        expect(result.ok).toBe(false)
      }),
      { numRuns: 300 }
    )
  })

  it("gives the same answer for a replay", () => {
    const bytes = revoke()
    const first = Revocation.verify(bytes, [root, leaf], { now: NOW })
    const again = Revocation.verify(bytes, [root, leaf], { now: NOW + 1_000 })
    expect(first).toEqual(again)
  })
})

describe("Revocation.verifyRecord", () => {
  it("accepts a record built by recordData, and keys it by the revoked CID", () => {
    const d = Revocation.recordData(revoke(), [root, leaf])
    if (d instanceof Error) throw d
    expect(Revocation.verifyRecord(d, { now: NOW }).ok).toBe(true)
    expect(d.cid).toEqual(Revocation.cidBytes(Ucan.cid(leaf)))
    expect(Revocation.recordKey(Ucan.cid(leaf))).toEqual(Revocation.recordKey(d.cid))
    expect(Revocation.recordKey("not a cid")).toBeUndefined()
  })

  it("refuses a record whose cid names another delegation, or is no CID", () => {
    const d = Revocation.recordData(revoke(), [root, leaf])
    if (d instanceof Error) throw d
    expect(nameOf(Revocation.verifyRecord({ ...d, cid: Revocation.cidBytes(root)! }, { now: NOW }))).toBe("InvalidClaim")
    expect(nameOf(Revocation.verifyRecord({ ...d, cid: Uint8Array.of(1, 2) }, { now: NOW }))).toBe("MalformedToken")
  })

  it("recordData refuses a token that is not a revocation", () => {
    expect(Revocation.recordData(leaf, [])).toBeInstanceOf(Ucan.UcanError)
  })
})

describe("Revocation.keepUntil", () => {
  const options = { leewayMs: 60_000, maxTtlMs: 7_776_000_000 }
  it("keeps until the revoked token's exp plus leeway, capped at maxRevocationTtlMs", () => {
    fc.assert(
      fc.property(fc.option(fc.integer({ min: 0, max: 4_000_000_000 }), { nil: null }), fc.integer({ min: 0, max: 4_000_000_000_000 }), (exp, now) => {
        const until = Revocation.keepUntil(exp, now, options)
        expect(until).toBeLessThanOrEqual(now + options.maxTtlMs)
        if (exp === null) expect(until).toBe(now + options.maxTtlMs)
        else expect(until).toBe(Math.min(exp * 1_000 + options.leewayMs, now + options.maxTtlMs))
      })
    )
  })
})

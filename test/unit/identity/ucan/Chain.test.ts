/**
 * Chain validation, one group per error name, plus decoding of non-canonical and malformed tokens,
 * the builders' input checks, and revocations.
 */
import { describe, expect, it } from "vitest"
import * as Ucan from "../../../../src/identity/ucan/index.ts"
import type { UcanErrorName, VerifyOptions } from "../../../../src/identity/ucan/index.ts"
import { ascii, chain, delegationPayload, header, identity, NOW, nonce, patch, rawEnvelope, unsortedCbor } from "./Build.ts"

const [alice, bob, carol, dan, eve] = [identity(1), identity(2), identity(3), identity(4), identity(5)] as const

const verdict = (inv: Uint8Array, proofs: ReadonlyArray<Uint8Array>, opts: Partial<VerifyOptions> = {}): "ok" | UcanErrorName => {
  const result = Ucan.verifyInvocation(inv, proofs, { now: NOW, ...opts })
  return result.ok ? "ok" : result.error.name
}

const flip = (bytes: Uint8Array, at: number): Uint8Array => {
  const copy = Uint8Array.from(bytes)
  copy[at]! ^= 0x01
  return copy
}

describe("a valid chain", () => {
  it("verifies, returning the proofs root first and then the invocation", () => {
    const { proofs, invocation } = chain([alice, bob, carol], [{ command: "/mesh" }, { command: "/mesh/call" }], { command: "/mesh/call" })
    const result = Ucan.verifyInvocation(invocation, proofs, { now: NOW })
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.chain.map((t) => t.iss)).toEqual([alice.did, bob.did, carol.did])
    expect(result.chain.map((t) => t.kind)).toEqual(["delegation", "delegation", "invocation"])
    expect(result.chain.map((t) => t.cid)).toEqual([...proofs.map(Ucan.cid), Ucan.cid(invocation)])
  })

  it("accepts the proofs in any order and ignores extra ones", () => {
    const { proofs, invocation } = chain([alice, bob, carol], [{}, {}], { command: "/x" })
    const unrelated = chain([dan, eve], [{}], { command: "/x" }).proofs[0]!
    expect(verdict(invocation, [unrelated, proofs[1]!, proofs[0]!])).toBe("ok")
  })

  it("lets the subject invoke on itself without proofs", () => {
    const { proofs, invocation } = chain([alice], [], { command: "/anything" })
    expect(proofs).toEqual([])
    expect(verdict(invocation, [])).toBe("ok")
  })

  it("accepts a powerline (sub: null) below the root", () => {
    const { proofs, invocation } = chain([alice, bob, carol], [{}, { subject: null }], { command: "/x" })
    expect(verdict(invocation, proofs)).toBe("ok")
  })

  it("accepts the /ucan namespace and / as proofs of deeper commands", () => {
    const { proofs, invocation } = chain([alice, bob], [{ command: "/" }], { command: "/ucan/revoke" })
    expect(verdict(invocation, proofs)).toBe("ok")
  })

  it("accepts tokens at exactly exp + leeway and nbf - leeway", () => {
    const { proofs, invocation } = chain([alice, bob], [{ expiration: NOW - 60, notBefore: NOW + 60 }], { command: "/x", expiration: NOW - 60 })
    expect(verdict(invocation, proofs)).toBe("ok")
  })
})

describe("Expired", () => {
  it("a proof past exp + leeway", () => {
    const { proofs, invocation } = chain([alice, bob], [{ expiration: NOW - 61 }], { command: "/x" })
    expect(verdict(invocation, proofs)).toBe("Expired")
    expect(verdict(invocation, proofs, { leewaySec: 61 })).toBe("ok")
  })

  it("the invocation past exp + leeway", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x", expiration: NOW - 61 })
    expect(verdict(invocation, proofs)).toBe("Expired")
  })

  it("with leeway 0, one second after exp", () => {
    const { proofs, invocation } = chain([alice, bob], [{ expiration: NOW - 1 }], { command: "/x" })
    expect(verdict(invocation, proofs, { leewaySec: 0 })).toBe("Expired")
  })

  it("never for exp: null", () => {
    const { proofs, invocation } = chain([alice, bob], [{ expiration: null }], { command: "/x", expiration: null })
    expect(verdict(invocation, proofs, { now: 9_000_000_000_000 })).toBe("ok")
  })
})

describe("TooEarly", () => {
  it("a proof before nbf - leeway", () => {
    const { proofs, invocation } = chain([alice, bob, carol], [{}, { notBefore: NOW + 61 }], { command: "/x" })
    expect(verdict(invocation, proofs)).toBe("TooEarly")
    expect(verdict(invocation, proofs, { now: NOW + 1 })).toBe("ok")
  })
})

describe("InvalidAudience", () => {
  it("a proof addressed to someone other than the next issuer", () => {
    const first = Ucan.delegate({ issuer: alice, audience: dan.did, subject: alice.did, command: "/", nonce: nonce(1) })
    const second = Ucan.delegate({ issuer: bob, audience: carol.did, subject: alice.did, command: "/", nonce: nonce(2) })
    const inv = Ucan.invoke({ issuer: carol, subject: alice.did, command: "/x", args: {}, proofs: [Ucan.cid(first), Ucan.cid(second)] })
    expect(verdict(inv, [first, second])).toBe("InvalidAudience")
  })

  it("the last proof addressed to someone other than the invoker", () => {
    const { proofs } = chain([alice, bob], [{}], { command: "/x" })
    const inv = Ucan.invoke({ issuer: eve, subject: alice.did, command: "/x", args: {}, proofs: proofs.map(Ucan.cid) })
    expect(verdict(inv, proofs)).toBe("InvalidAudience")
  })

  it("an invocation not addressed to the executor", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x", audience: dan.did })
    expect(verdict(invocation, proofs, { executor: dan.did })).toBe("ok")
    expect(verdict(invocation, proofs, { executor: eve.did })).toBe("InvalidAudience")
    // Without aud, the subject is the addressee.
    const plain = chain([alice, bob], [{}], { command: "/x" })
    expect(verdict(plain.invocation, plain.proofs, { executor: alice.did })).toBe("ok")
    expect(verdict(plain.invocation, plain.proofs, { executor: dan.did })).toBe("InvalidAudience")
  })
})

describe("InvalidSubject", () => {
  it("a later proof about another subject", () => {
    const { proofs, invocation } = chain([alice, bob, carol], [{}, { subject: dan.did }], { command: "/x" })
    expect(verdict(invocation, proofs)).toBe("InvalidSubject")
  })

  it("an invocation about another subject than the chain", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x", subject: dan.did })
    expect(verdict(invocation, proofs)).toBe("InvalidSubject")
  })
})

describe("InvalidSignature", () => {
  it("a proof whose signature was altered", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x" })
    const proof = proofs[0]!
    const tampered = flip(proof, 10) // inside the 64-byte signature
    // The CID changes with the bytes, so the invocation must reference the tampered proof.
    const inv = Ucan.invoke({ issuer: bob, subject: alice.did, command: "/x", args: {}, proofs: [Ucan.cid(tampered)] })
    expect(verdict(inv, [tampered])).toBe("InvalidSignature")
    expect(verdict(invocation, proofs)).toBe("ok")
  })

  it("an invocation signed by someone other than its issuer", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x" })
    const forged = Ucan.invoke({
      issuer: { did: bob.did, sign: (m) => eve.sign(m) },
      subject: alice.did,
      command: "/x",
      args: {},
      proofs: proofs.map(Ucan.cid)
    })
    expect(verdict(forged, proofs)).toBe("InvalidSignature")
    expect(verdict(flip(invocation, 5), proofs)).toBe("InvalidSignature")
  })

  it("an issuer that is not an Ed25519 did:key", () => {
    const inv = Ucan.invoke({ issuer: { did: "did:web:example.com", sign: (m) => alice.sign(m) }, subject: "did:web:example.com", command: "/x", args: {}, proofs: [] })
    expect(verdict(inv, [])).toBe("InvalidSignature")
  })
})

describe("UnavailableProof", () => {
  it("a proof CID with no supplied token", () => {
    const { proofs, invocation } = chain([alice, bob, carol], [{}, {}], { command: "/x" })
    expect(verdict(invocation, [proofs[0]!])).toBe("UnavailableProof")
    expect(verdict(invocation, [])).toBe("UnavailableProof")
  })
})

describe("MatchError", () => {
  it("arguments failing the policy of any proof", () => {
    const links = [{ policy: [["==", ".realm", "io.example"]] as const }, { policy: [["<", ".size", 10]] as const }]
    const ok = chain([alice, bob, carol], links, { command: "/x", args: { realm: "io.example", size: 9 } })
    expect(verdict(ok.invocation, ok.proofs)).toBe("ok")
    const big = chain([alice, bob, carol], links, { command: "/x", args: { realm: "io.example", size: 10 } })
    expect(verdict(big.invocation, big.proofs)).toBe("MatchError")
    const other = chain([alice, bob, carol], links, { command: "/x", args: { realm: "io.other", size: 1 } })
    expect(verdict(other.invocation, other.proofs)).toBe("MatchError")
  })
})

describe("InvalidClaim", () => {
  it("no proofs and an invoker that is not the subject", () => {
    const inv = Ucan.invoke({ issuer: bob, subject: alice.did, command: "/x", args: {}, proofs: [] })
    expect(verdict(inv, [])).toBe("InvalidClaim")
  })

  it("a root proof not issued by its subject", () => {
    const { proofs, invocation } = chain([bob, carol], [{ subject: alice.did }], { command: "/x", subject: alice.did })
    expect(verdict(invocation, proofs)).toBe("InvalidClaim")
  })

  it("a powerline as the root", () => {
    const { proofs, invocation } = chain([alice, bob], [{ subject: null }], { command: "/x" })
    expect(verdict(invocation, proofs)).toBe("InvalidClaim")
  })

  it.each<[string, string, string, "ok" | "InvalidClaim"]>([
    ["/mesh", "/mesh/call", "/mesh/call", "ok"],
    ["/mesh", "/mesh", "/meshes", "InvalidClaim"],
    ["/mesh/publish", "/mesh/publish", "/mesh/call", "InvalidClaim"],
    ["/mesh/publish", "/mesh", "/mesh/publish", "ok"], // a child widening its parent gains nothing…
    ["/mesh/publish", "/mesh", "/mesh/call", "InvalidClaim"], // …as the parent still bounds it
    ["/", "/", "/content/get", "ok"],
    ["/mesh/call", "/mesh/call", "/mesh", "InvalidClaim"]
  ])("commands %s → %s, invoking %s: %s", (rootCommand, childCommand, invoked, expected) => {
    const { proofs, invocation } = chain([alice, bob, carol], [{ command: rootCommand }, { command: childCommand }], { command: invoked })
    expect(verdict(invocation, proofs)).toBe(expected)
  })
})

describe("Revoked", () => {
  it("any token of the chain reported revoked", () => {
    const { proofs, invocation } = chain([alice, bob, carol], [{}, {}], { command: "/x" })
    const cids = [...proofs.map(Ucan.cid), Ucan.cid(invocation)]
    for (const revoked of cids) expect(verdict(invocation, proofs, { isRevoked: (cid) => cid === revoked })).toBe("Revoked")
    expect(verdict(invocation, proofs, { isRevoked: () => false })).toBe("ok")
  })
})

describe("MalformedToken in a chain", () => {
  it("an invocation over maxUcanBytes, and a proof over it", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x", args: { blob: new Uint8Array(20_000) } })
    expect(verdict(invocation, proofs)).toBe("MalformedToken")
    expect(verdict(invocation, proofs, { maxUcanBytes: 30_000 })).toBe("ok")
    const bigProof = chain([alice, bob], [{ policy: [["==", ".blob", new Uint8Array(200)]] }], { command: "/x", args: { blob: new Uint8Array(200) } })
    expect(verdict(bigProof.invocation, bigProof.proofs, { maxUcanBytes: 400 })).toBe("MalformedToken")
  })

  it("more proofs than maxProofChainLength", () => {
    const people = Array.from({ length: 10 }, (_, i) => identity(10 + i))
    const { proofs, invocation } = chain(people, Array.from({ length: 9 }, () => ({})), { command: "/x" })
    expect(verdict(invocation, proofs)).toBe("MalformedToken")
    expect(verdict(invocation, proofs, { maxProofChainLength: 9 })).toBe("ok")
  })

  it("a delegation where an invocation is expected, and an invocation as a proof", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x" })
    expect(verdict(proofs[0]!, proofs)).toBe("MalformedToken")
    const inv = Ucan.invoke({ issuer: bob, subject: alice.did, command: "/x", args: {}, proofs: [Ucan.cid(invocation)] })
    expect(verdict(inv, [invocation])).toBe("MalformedToken")
  })

  it("bytes that are no token at all", () => {
    expect(verdict(new Uint8Array(0), [])).toBe("MalformedToken")
    expect(verdict(Uint8Array.of(0xff, 0x00), [])).toBe("MalformedToken")
  })

  it("refuses a bad config as a programming error", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x" })
    expect(() => Ucan.verifyInvocation(invocation, proofs, { now: Number.NaN })).toThrow(RangeError)
    expect(() => Ucan.verifyInvocation(invocation, proofs, { now: NOW, maxUcanBytes: -1 })).toThrow(RangeError)
  })
})

describe("decode", () => {
  const signed = (payload: Map<string, unknown>, tag = "ucan/dlg@1.0.0", h: Uint8Array = header): Uint8Array =>
    unsortedCbor(new Map<string, unknown>([["h", h], [tag, payload]]))
  const canonical = rawEnvelope(alice, signed(delegationPayload(alice, bob.did)))
  const malformed = (bytes: Uint8Array): string => {
    try {
      Ucan.decode(bytes)
      return "decoded"
    } catch (e) {
      return e instanceof Ucan.UcanError ? e.name : `threw ${String(e)}`
    }
  }

  it("accepts a hand-built canonical delegation, equal to the builder's", () => {
    expect(malformed(canonical)).toBe("decoded")
    const built = Ucan.delegate({ issuer: alice, audience: bob.did, subject: alice.did, command: "/", nonce: nonce(7) })
    expect(built).toEqual(canonical)
  })

  it("reports the tag version and the fields", () => {
    const decoded = Ucan.decode(rawEnvelope(alice, signed(delegationPayload(alice, bob.did), "ucan/dlg@1.0.0-rc.1")))
    expect(decoded).toMatchObject({ kind: "delegation", version: "1.0.0-rc.1", iss: alice.did, aud: bob.did, sub: alice.did, cmd: "/", exp: null })
  })

  it.each<[string, () => Uint8Array]>([
    ["empty input", () => new Uint8Array(0)],
    ["trailing bytes", () => Uint8Array.from([...canonical, 0x00])],
    ["indefinite-length envelope", () => Uint8Array.from([0x9f, ...canonical.subarray(1), 0xff])],
    ["a three-element envelope", () => Uint8Array.from([0x83, ...canonical.subarray(1), 0xf6])],
    ["map keys out of order", () => rawEnvelope(alice, signed(new Map([...delegationPayload(alice, bob.did)].reverse())))],
    ["h after the payload tag", () => rawEnvelope(alice, unsortedCbor(new Map<string, unknown>([["ucan/dlg@1.0.0", delegationPayload(alice, bob.did)], ["h", header]])))],
    ["a duplicate key", () => patch(canonical, ascii("cexp"), ascii("ciss"))],
    ["a non-minimal integer", () => rawEnvelope(alice, patch(signed(delegationPayload(alice, bob.did, { exp: 100 })), [0x18, 100], [0x19, 0, 100]))],
    ["a float timestamp", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did, { exp: 1.5 })))],
    ["an integral float timestamp", () => rawEnvelope(alice, patch(signed(delegationPayload(alice, bob.did, { exp: 100 })), [0x18, 100], [0xfb, 0x40, 0x59, 0, 0, 0, 0, 0, 0]))],
    ["a 16-bit float", () => rawEnvelope(alice, patch(signed(delegationPayload(alice, bob.did, { exp: 100 })), [0x18, 100], [0xf9, 0x56, 0x40]))],
    ["a timestamp beyond 2^53", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did, { exp: 2n ** 60n })))],
    ["undefined", () => rawEnvelope(alice, patch(signed(delegationPayload(alice, bob.did)), [0x63, ...ascii("exp"), 0xf6], [0x63, ...ascii("exp"), 0xf7]))],
    ["another tag than 42", () => rawEnvelope(alice, patch(signed(delegationPayload(alice, bob.did, { meta: { t: "x" } })), [0x61, 0x74, 0x61], [0x61, 0x74, 0xc1, 0x61]))],
    ["invalid UTF-8", () => rawEnvelope(alice, patch(signed(delegationPayload(alice, bob.did, { meta: { t: "xé" } })), [0x78, 0xc3, 0xa9], [0x78, 0xc3, 0x28]))],
    ["an unknown varsig header", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did), "ucan/dlg@1.0.0", Uint8Array.of(0x34, 0x01, 0x12, 0x00, 0x13, 0x71)))],
    ["an unknown payload tag", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did), "ucan/dlg@2.0.0"))],
    ["an unknown token kind", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did), "ucan/rcp@1.0.0"))],
    ["an extra key beside h", () => rawEnvelope(alice, unsortedCbor(new Map<string, unknown>([["h", header], ["x", 1], ["ucan/dlg@1.0.0", delegationPayload(alice, bob.did)]])))],
    ["a missing nonce", () => rawEnvelope(alice, signed(new Map([...delegationPayload(alice, bob.did)].filter(([k]) => k !== "nonce"))))],
    ["a missing exp", () => rawEnvelope(alice, signed(new Map([...delegationPayload(alice, bob.did)].filter(([k]) => k !== "exp"))))],
    ["a nonce that is a string", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did, { nonce: "abc" })))],
    ["an upper-case command", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did, { cmd: "/Mesh" })))],
    ["a command with a trailing slash", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did, { cmd: "/mesh/" })))],
    ["a malformed policy", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did, { pol: [["==", ".a"]] })))],
    ["an issuer that is no DID", () => rawEnvelope(alice, signed(delegationPayload(alice, bob.did, { iss: "alice" })))],
    ["a signature that is not bytes", () => Uint8Array.from([0x82, 0x60, ...canonical.subarray(3 + 64)])]
  ])("refuses %s as MalformedToken", (_name, build) => {
    expect(malformed(build())).toBe("MalformedToken")
  })

  it("accepts a signature of the wrong length (InvalidSignature comes later)", () => {
    const bytes = Uint8Array.from([0x82, 0x43, 1, 2, 3, ...canonical.subarray(3 + 64)])
    expect(malformed(bytes)).toBe("decoded")
  })

  it("parses an invocation's fields", () => {
    const { proofs, invocation } = chain([alice, bob], [{}], { command: "/x", args: { n: 1n << 60n, f: 0.5 }, audience: dan.did })
    const decoded = Ucan.decode(invocation)
    expect(decoded).toMatchObject({ kind: "invocation", iss: bob.did, sub: alice.did, aud: dan.did, cmd: "/x", prf: [Ucan.cid(proofs[0]!)], args: { n: 1n << 60n, f: 0.5 } })
  })
})

describe("builders", () => {
  const refuses = (build: () => unknown): string => {
    try {
      build()
      return "built"
    } catch (e) {
      return e instanceof Ucan.UcanError ? e.name : `threw ${String(e)}`
    }
  }
  const base = { issuer: alice, audience: bob.did, subject: alice.did, command: "/x" } as const

  it.each<[string, () => unknown]>([
    ["an invalid command", () => Ucan.delegate({ ...base, command: "x" })],
    ["an audience that is no DID", () => Ucan.delegate({ ...base, audience: "bob" })],
    ["a fractional expiration", () => Ucan.delegate({ ...base, expiration: 1.5 })],
    ["a malformed policy", () => Ucan.delegate({ ...base, policy: [["~", ".a", 1]] as never })],
    ["undefined inside meta", () => Ucan.delegate({ ...base, meta: { a: undefined } })],
    ["args that are a list", () => Ucan.invoke({ issuer: alice, subject: alice.did, command: "/x", args: [1], proofs: [] })],
    ["args holding a Date", () => Ucan.invoke({ issuer: alice, subject: alice.did, command: "/x", args: { d: new Date(0) }, proofs: [] })],
    ["args holding NaN", () => Ucan.invoke({ issuer: alice, subject: alice.did, command: "/x", args: { n: Number.NaN }, proofs: [] })],
    ["args holding a bigint beyond 64 bits", () => Ucan.invoke({ issuer: alice, subject: alice.did, command: "/x", args: { n: 2n ** 64n }, proofs: [] })],
    ["a proof that is no CID", () => Ucan.invoke({ issuer: alice, subject: alice.did, command: "/x", args: {}, proofs: ["zdpuAbc"] })]
  ])("refuses %s with MalformedToken", (_name, build) => {
    expect(refuses(build)).toBe("MalformedToken")
  })

  it("draws a fresh random nonce by default", () => {
    const a = Ucan.decode(Ucan.delegate(base))
    const b = Ucan.decode(Ucan.delegate(base))
    expect(a.nonce.length).toBe(Ucan.defaultNonceBytes)
    expect(a.nonce).not.toEqual(b.nonce)
    expect(a.cid).not.toBe(b.cid)
  })

  it("round-trips every option of delegate and invoke", () => {
    const d = Ucan.decode(
      Ucan.delegate({ ...base, subject: null, policy: [["like", ".t", "a*"]], expiration: 10, notBefore: 5, nonce: nonce(3), meta: { note: "hi", n: [1, 2] } })
    )
    expect(d).toMatchObject({ kind: "delegation", sub: null, pol: [["like", ".t", "a*"]], exp: 10, nbf: 5, nonce: nonce(3), meta: { note: "hi", n: [1, 2] } })
    const i = Ucan.decode(
      Ucan.invoke({ issuer: bob, subject: alice.did, audience: carol.did, command: "/x", args: { a: { b: [true, null] } }, proofs: [d.cid], expiration: 20, issuedAt: 3, meta: { m: 1 } })
    )
    expect(i).toMatchObject({ kind: "invocation", aud: carol.did, args: { a: { b: [true, null] } }, prf: [d.cid], exp: 20, iat: 3, meta: { m: 1 } })
  })
})

describe("revocation", () => {
  const { proofs } = chain([alice, bob, carol], [{}, {}], { command: "/x" })
  const [root, member] = [proofs[0]!, proofs[1]!]
  const check = (issuer: typeof alice, path: ReadonlyArray<Uint8Array>, target = member) =>
    Ucan.verifyRevocation(
      Ucan.revoke({ issuer, subject: alice.did, delegation: Ucan.cid(target), path: path.map(Ucan.cid), expiration: NOW + 60 }),
      path,
      { now: NOW }
    )

  it("is valid from the issuer of the revoked delegation or of one above it", () => {
    for (const revoker of [bob, alice]) {
      const result = check(revoker, [root, member])
      expect(result.ok && result.revoked).toBe(Ucan.cid(member))
    }
  })

  it("is refused from anyone else, or with a path not ending at the revoked delegation", () => {
    const byMember = check(carol, [root, member])
    expect(byMember.ok ? "ok" : byMember.error.name).toBe("InvalidClaim")
    const wrongEnd = check(alice, [root], member)
    expect(wrongEnd.ok ? "ok" : wrongEnd.error.name).toBe("InvalidClaim")
    const missing = Ucan.verifyRevocation(
      Ucan.revoke({ issuer: alice, subject: alice.did, delegation: Ucan.cid(member), path: [Ucan.cid(root), Ucan.cid(member)] }),
      [member],
      { now: NOW }
    )
    expect(missing.ok ? "ok" : missing.error.name).toBe("UnavailableProof")
  })

  it("feeds isRevoked: the revoked link fails, another path still works", () => {
    const revoked = new Set([Ucan.cid(member)])
    const viaRevoked = chain([alice, bob, carol], [{}, {}], { command: "/x" })
    expect(verdict(viaRevoked.invocation, viaRevoked.proofs, { isRevoked: (c) => revoked.has(c) })).toBe("Revoked")
    const second = Ucan.delegate({ issuer: bob, audience: carol.did, subject: alice.did, command: "/", expiration: NOW + 3_600, nonce: nonce(42) })
    const inv = Ucan.invoke({ issuer: carol, subject: alice.did, command: "/x", args: {}, proofs: [Ucan.cid(root), Ucan.cid(second)], expiration: NOW + 60 })
    expect(verdict(inv, [root, second], { isRevoked: (c) => revoked.has(c) })).toBe("ok")
  })
})

import { X509Certificate, createPrivateKey, randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import * as Did from "../../../src/identity/Did.ts"
import * as Certificate from "../../../src/platform/transport/Certificate.ts"
import * as Der from "../../../src/platform/transport/Der.ts"

const seed = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
const now = Date.UTC(2026, 0, 15, 12, 0, 0)

describe("Certificate.make", () => {
  const creds = Certificate.make(seed, now)

  it("is an X.509 v3 certificate the platform parses, self-signed by the node key", () => {
    const x509 = new X509Certificate(creds.der)
    expect(x509.subject).toBe(`CN=${creds.did}`)
    expect(x509.issuer).toBe(`CN=${creds.did}`)
    expect(x509.publicKey.asymmetricKeyType).toBe("ed25519")
    expect(x509.verify(x509.publicKey)).toBe(true)
    expect(x509.checkPrivateKey(createPrivateKey(creds.privateKeyPem))).toBe(true)
    expect(x509.ca).toBe(false)
  })

  it("is valid from one day before to one year after creation", () => {
    const x509 = new X509Certificate(creds.der)
    expect(new Date(x509.validFrom).getTime()).toBe(now - 86_400_000)
    expect(new Date(x509.validTo).getTime()).toBe(now + 365 * 86_400_000)
  })

  it("names the DID of its key and is deterministic", () => {
    expect(creds.did).toBe(Did.fromPublicKey(creds.publicKey))
    expect(creds.did.startsWith("did:key:z6Mk")).toBe(true)
    expect(Certificate.make(seed, now).der).toEqual(creds.der)
    expect(Certificate.fromPem(creds.certificatePem)).toEqual(creds.der)
  })

  it("uses GeneralizedTime past 2049", () => {
    const late = new X509Certificate(Certificate.make(seed, Date.UTC(2060, 5, 1)).der)
    expect(new Date(late.validTo).getUTCFullYear()).toBe(2061)
  })
})

describe("Certificate.verify (§3.3)", () => {
  const creds = Certificate.make(randomBytes(32), now)

  it("accepts a node certificate and derives the DID from its key", () => {
    expect(Certificate.verify(creds.der)).toEqual({ ok: true, publicKey: creds.publicKey, did: creds.did })
    expect(Certificate.verifyChain([creds.der])).toMatchObject({ ok: true, did: creds.did })
  })

  it("ignores the dates: an expired certificate still proves its key", () => {
    const old = Certificate.make(seed, Date.UTC(1990, 0, 1))
    expect(Certificate.verify(old.der)).toMatchObject({ ok: true })
  })

  it("refuses empty chains and chains of two", () => {
    expect(Certificate.verifyChain([])).toEqual({ ok: false, problem: "no_certificate" })
    expect(Certificate.verifyChain([creds.der, creds.der])).toEqual({ ok: false, problem: "more_than_one_certificate" })
  })

  it("refuses a certificate whose signature does not verify", () => {
    const tampered = Uint8Array.from(creds.der)
    tampered[tampered.length - 1]! ^= 0x01
    expect(Certificate.verify(tampered)).toEqual({ ok: false, problem: "bad_signature" })
  })

  it("refuses a certificate carrying another key than the one that signed it", () => {
    const other = Certificate.make(randomBytes(32), now)
    const swapped = Uint8Array.from(creds.der)
    const at = indexOf(swapped, creds.publicKey)
    swapped.set(other.publicKey, at)
    expect(Certificate.verify(swapped)).toEqual({ ok: false, problem: "bad_signature" })
  })

  it("refuses a small-order public key", () => {
    const swapped = Uint8Array.from(creds.der)
    const at = indexOf(swapped, creds.publicKey)
    swapped.set(new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0)), at) // the identity point
    expect(Certificate.verify(swapped)).toEqual({ ok: false, problem: "invalid_public_key" })
  })

  it("refuses other algorithms", () => {
    const swapped = Uint8Array.from(creds.der)
    // Turn every Ed25519 OID (2b 65 70) into Ed448 (2b 65 71).
    for (let i = 0; i + 2 < swapped.length; i++) {
      if (swapped[i] === 0x2b && swapped[i + 1] === 0x65 && swapped[i + 2] === 0x70) swapped[i + 2] = 0x71
    }
    expect(Certificate.verify(swapped)).toEqual({ ok: false, problem: "not_ed25519" })
  })

  it("never throws on junk: every truncation and random input is refused", () => {
    for (let n = 0; n < creds.der.length; n++) {
      expect(Certificate.verify(creds.der.subarray(0, n)).ok).toBe(false)
    }
    for (let i = 0; i < 500; i++) expect(Certificate.verify(randomBytes(i % 300)).ok).toBe(false)
    // Lengths that point past the end, indefinite lengths, non-minimal lengths.
    for (const bad of [[0x30, 0x80, 0, 0], [0x30, 0x84, 0xff, 0xff, 0xff, 0xff], [0x30, 0x81, 0x05, 1, 2, 3, 4, 5]]) {
      expect(Certificate.verify(Uint8Array.from(bad)).ok).toBe(false)
    }
  })
})

describe("Der", () => {
  it("encodes lengths minimally in short and long form", () => {
    expect(Array.from(Der.tlv(0x04, new Uint8Array(3)).subarray(0, 2))).toEqual([0x04, 3])
    expect(Array.from(Der.tlv(0x04, new Uint8Array(200)).subarray(0, 3))).toEqual([0x04, 0x81, 200])
    expect(Array.from(Der.tlv(0x04, new Uint8Array(300)).subarray(0, 4))).toEqual([0x04, 0x82, 1, 44])
    expect(Der.read(Der.tlv(0x04, new Uint8Array(300)), 0)).toEqual({ tag: 4, start: 0, contentStart: 4, end: 304 })
  })

  it("encodes object identifiers and positive integers", () => {
    expect(Array.from(Der.oid("1.3.101.112"))).toEqual([0x06, 0x03, 0x2b, 0x65, 0x70])
    expect(Array.from(Der.oid("1.2.840.10045.4.3.2"))).toEqual([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])
    expect(Array.from(Der.unsignedInteger(Uint8Array.of(0x80)))).toEqual([0x02, 0x02, 0x00, 0x80])
    expect(Array.from(Der.unsignedInteger(Uint8Array.of(0, 0, 5)))).toEqual([0x02, 0x01, 0x05])
  })
})

const indexOf = (haystack: Uint8Array, needle: Uint8Array): number => {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  throw new Error("not found")
}

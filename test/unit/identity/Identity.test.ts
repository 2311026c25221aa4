/** Identity: construction, signing, verification by DID or key, secrecy of the seed, stations. */
import { createHash } from "node:crypto"
import { inspect } from "node:util"
import { describe, expect, it } from "vitest"
import * as Did from "../../../src/identity/Did.ts"
import * as Ed25519 from "../../../src/identity/Ed25519.ts"
import { Did as DidNs, DidError, Identity, NodeId } from "../../../src/identity/index.ts"

const utf8 = (text: string) => new TextEncoder().encode(text)
const message = utf8("macula-node/1/event\u0000body")

describe("Identity.generate", () => {
  it("makes a working key pair with a did:key:z6Mk DID", () => {
    const identity = Identity.generate()
    expect(identity.did.startsWith("did:key:z6Mk")).toBe(true)
    expect(identity.publicKey.length).toBe(32)
    expect(Did.toPublicKey(identity.did)).toEqual(identity.publicKey)
    const signature = identity.sign(message)
    expect(signature.length).toBe(64)
    expect(Identity.verify(identity.did, message, signature)).toBe(true)
    expect(Identity.verify(identity.publicKey, message, signature)).toBe(true)
  })

  it("draws a different key each time", () => {
    const dids = new Set(Array.from({ length: 8 }, () => Identity.generate().did))
    expect(dids.size).toBe(8)
  })

  it("exports a seed that rebuilds the same identity", () => {
    const identity = Identity.generate()
    const again = Identity.fromSeed(identity.exportSeed())
    expect(again.did).toBe(identity.did)
    expect(again.sign(message)).toEqual(identity.sign(message))
    expect(Ed25519.signNoble(identity.exportSeed(), message)).toEqual(identity.sign(message))
  })
})

describe("Identity.fromSeed", () => {
  it("is deterministic and signs exactly as @noble/ed25519 does", () => {
    const seed = new Uint8Array(32).fill(7)
    const a = Identity.fromSeed(seed)
    const b = Identity.fromSeed(seed)
    expect(a.did).toBe(b.did)
    expect(a.sign(message)).toEqual(Ed25519.signNoble(seed, message))
    expect(a.publicKey).toEqual(Ed25519.publicKeyOfNoble(seed))
  })

  it("copies the seed it is given", () => {
    const seed = new Uint8Array(32).fill(9)
    const identity = Identity.fromSeed(seed)
    seed.fill(0)
    expect(identity.exportSeed()).toEqual(new Uint8Array(32).fill(9))
  })

  it("refuses seeds that are not 32 bytes", () => {
    for (const length of [0, 16, 31, 33, 64]) {
      expect(() => Identity.fromSeed(new Uint8Array(length)), `${length}`).toThrow(RangeError)
    }
    expect(() => Identity.fromSeed("seed" as unknown as Uint8Array)).toThrow(RangeError)
  })
})

describe("identity getters", () => {
  const identity = Identity.fromSeed(new Uint8Array(32).fill(3))

  it("returns copies of the public key and seed", () => {
    identity.publicKey.fill(0)
    identity.exportSeed().fill(0)
    expect(identity.publicKey).toEqual(Ed25519.publicKeyOf(new Uint8Array(32).fill(3)))
    expect(identity.exportSeed()).toEqual(new Uint8Array(32).fill(3))
  })

  it("has node id SHA-256(public key)", () => {
    expect(identity.nodeId).toEqual(Uint8Array.from(createHash("sha256").update(identity.publicKey).digest()))
    expect(identity.nodeId).toEqual(NodeId.ofPublicKey(identity.publicKey))
  })

  it("never shows the seed when serialised, printed or inspected", () => {
    const seedHex = Buffer.from(identity.exportSeed()).toString("hex")
    for (const text of [JSON.stringify(identity), String(identity), inspect(identity, { showHidden: true, depth: 5 })]) {
      expect(text).toContain(identity.did)
      expect(text).not.toContain(seedHex)
      expect(text).not.toContain("3,3,3,3")
      expect(text).not.toContain("3, 3, 3, 3")
    }
  })
})

describe("Identity.verify", () => {
  const alice = Identity.fromSeed(new Uint8Array(32).fill(1))
  const bob = Identity.fromSeed(new Uint8Array(32).fill(2))
  const signature = alice.sign(message)

  it("refuses another signer, another message or a changed signature", () => {
    expect(Identity.verify(bob.did, message, signature)).toBe(false)
    expect(Identity.verify(bob.publicKey, message, signature)).toBe(false)
    expect(Identity.verify(alice.did, utf8("something else"), signature)).toBe(false)
    const changed = Uint8Array.from(signature)
    changed[63]! ^= 0x01
    expect(Identity.verify(alice.did, message, changed)).toBe(false)
  })

  it("returns false, never throws, for a bad DID or key", () => {
    for (const bad of ["", "did:web:x", "did:key:z", alice.did.slice(0, -2), alice.did + "#frag"]) {
      expect(Identity.verify(bad, message, signature), bad).toBe(false)
    }
    expect(Identity.verify(new Uint8Array(31), message, signature)).toBe(false)
    expect(Identity.verify(new Uint8Array(32), message, signature)).toBe(false)
    expect(Identity.verify(42 as unknown as string, message, signature)).toBe(false)
  })

  it("refuses signatures that are not 64 bytes", () => {
    expect(Identity.verify(alice.did, message, signature.subarray(0, 63))).toBe(false)
    expect(Identity.verify(alice.did, message, Uint8Array.from([...signature, 0]))).toBe(false)
  })

  it("signs the empty message", () => {
    const empty = new Uint8Array(0)
    expect(Identity.verify(alice.did, empty, alice.sign(empty))).toBe(true)
  })
})

describe("Identity.generateStation", () => {
  it("finds a key with the requested proof of work", () => {
    for (const bits of [0, 1, 4, 8]) {
      const station = Identity.generateStation(bits)
      expect(NodeId.powBits(station.publicKey)).toBeGreaterThanOrEqual(bits)
      expect(NodeId.meetsPow(station.publicKey, bits)).toBe(true)
    }
  })

  it("refuses a bit count that is not an integer in 0..24", () => {
    for (const bits of [-1, 1.5, 25, Number.NaN]) expect(() => Identity.generateStation(bits), `${bits}`).toThrow(RangeError)
  })
})

describe("the index", () => {
  it("exports the API.md names", () => {
    expect(typeof Identity.generate).toBe("function")
    expect(typeof DidNs.fromPublicKey).toBe("function")
    expect(typeof DidNs.toPublicKey).toBe("function")
    expect(new DidError({ code: "invalidDid", message: "x" })._tag).toBe("DidError")
  })
})

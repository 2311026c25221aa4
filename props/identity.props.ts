/**
 * Properties of the identity library (PROTOCOL.md §2):
 * - `node:crypto` and `@noble/ed25519` derive the same public key and byte-identical signatures
 *   for any seed and message;
 * - every verifier (platform, our noble path, plain strict noble, `Identity.verify` by DID and by
 *   key) accepts honest signatures, and all of them refuse a signature, key or message with one
 *   bit flipped, with one shared verdict;
 * - a signature whose S is replaced by S + L (same scalar, non-canonical) is refused by every
 *   verifier, strict or lenient;
 * - `Did.fromPublicKey` and `Did.toPublicKey` are inverse;
 * - any string whatever given to `Did.toPublicKey` yields 32 bytes or a `DidError`, nothing else;
 * - Base58 and varints round-trip.
 *
 * Regression cases: counterexamples found by these properties are pinned as `examples` of the
 * property that found them. None so far; the examples below are hand-picked corners.
 */
import * as ed from "@noble/ed25519"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Base58, Did, DidError, Ed25519, Identity, Varint } from "../src/identity/index.ts"

// ---------------------------------------------------------------------------------------------
// Helpers and arbitraries
// ---------------------------------------------------------------------------------------------

const L = 2n ** 252n + 27742317777372353535851937790883648493n

const leToBigInt = (bytes: Uint8Array): bigint => {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!)
  return n
}
const bigIntToLe32 = (value: bigint): Uint8Array => {
  const out = new Uint8Array(32)
  let n = value
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return out
}

const plainNoble = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, zip215: boolean): boolean => {
  try {
    return ed.verify(signature, message, publicKey, { zip215 })
  } catch {
    return false
  }
}

/** The verdicts of every verifier we have, keyed by name (plain noble in both modes). */
const verdicts = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => ({
  platform: Ed25519.verify(publicKey, message, signature),
  noble: Ed25519.verifyNoble(publicKey, message, signature),
  plainNobleStrict: plainNoble(publicKey, message, signature, false),
  identity: Identity.verify(publicKey, message, signature)
})

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
const messageArb = fc.uint8Array({ maxLength: 200 })
const zeroSeed = new Uint8Array(32)
const onesSeed = new Uint8Array(32).fill(0xff)
const empty = new Uint8Array(0)

/** Where to flip one bit: in the signature, the public key or the message. */
const mutationArb = fc.record({
  target: fc.constantFrom("signature", "publicKey", "message"),
  index: fc.nat({ max: 511 }),
  bit: fc.nat({ max: 7 })
})

const flip = (bytes: Uint8Array, index: number, bit: number): Uint8Array => {
  if (bytes.length === 0) return Uint8Array.of(1 << bit) // nothing to flip: a different message
  const out = Uint8Array.from(bytes)
  out[index % out.length]! ^= 1 << bit
  return out
}

// ---------------------------------------------------------------------------------------------
// Ed25519: platform and noble agree
// ---------------------------------------------------------------------------------------------

describe("Ed25519 implementations agree", () => {
  it("derive the same public key and sign byte for byte identically", () => {
    fc.assert(
      fc.property(seedArb, messageArb, (seed, message) => {
        const publicKey = Ed25519.publicKeyOf(seed)
        expect(Ed25519.publicKeyOfNoble(seed)).toEqual(publicKey)
        const signature = Ed25519.sign(seed, message)
        expect(Ed25519.signNoble(seed, message)).toEqual(signature)
        expect(Identity.fromSeed(seed).sign(message)).toEqual(signature)
      }),
      { numRuns: 100, examples: [[zeroSeed, empty], [onesSeed, empty], [zeroSeed, new Uint8Array(200)]] }
    )
  })

  it("every verifier accepts an honest signature, by key and by DID", () => {
    fc.assert(
      fc.property(seedArb, messageArb, (seed, message) => {
        const identity = Identity.fromSeed(seed)
        const signature = identity.sign(message)
        expect(verdicts(identity.publicKey, message, signature)).toEqual({
          platform: true,
          noble: true,
          plainNobleStrict: true,
          identity: true
        })
        expect(Identity.verify(identity.did, message, signature)).toBe(true)
      }),
      { numRuns: 60, examples: [[zeroSeed, empty]] }
    )
  })

  it("every verifier refuses a one-bit change to the signature, key or message, with one verdict", () => {
    fc.assert(
      fc.property(seedArb, messageArb, mutationArb, (seed, message, { target, index, bit }) => {
        const publicKey = Ed25519.publicKeyOf(seed)
        const signature = Ed25519.sign(seed, message)
        const [k, m, s] = target === "signature"
          ? [publicKey, message, flip(signature, index, bit)]
          : target === "publicKey"
          ? [flip(publicKey, index, bit), message, signature]
          : [publicKey, flip(message, index, bit), signature]
        expect(verdicts(k, m, s)).toEqual({ platform: false, noble: false, plainNobleStrict: false, identity: false })
      }),
      {
        numRuns: 150,
        examples: [
          // the sign bit of R, of A, and the top bit of S (which pushes S past L)
          [zeroSeed, empty, { target: "signature", index: 31, bit: 7 }],
          [zeroSeed, empty, { target: "publicKey", index: 31, bit: 7 }],
          [zeroSeed, empty, { target: "signature", index: 63, bit: 7 }],
          [zeroSeed, empty, { target: "message", index: 0, bit: 0 }]
        ]
      }
    )
  })

  it("every verifier, strict or lenient, refuses S replaced by S + L", () => {
    fc.assert(
      fc.property(seedArb, messageArb, (seed, message) => {
        const publicKey = Ed25519.publicKeyOf(seed)
        const signature = Ed25519.sign(seed, message)
        const s = leToBigInt(signature.subarray(32))
        const malleated = Uint8Array.from([...signature.subarray(0, 32), ...bigIntToLe32(s + L)])
        expect(Ed25519.isCanonicalScalar(malleated, 32)).toBe(false)
        expect(verdicts(publicKey, message, malleated)).toEqual({
          platform: false,
          noble: false,
          plainNobleStrict: false,
          identity: false
        })
        expect(plainNoble(publicKey, message, malleated, true)).toBe(false)
      }),
      { numRuns: 60, examples: [[zeroSeed, empty]] }
    )
  })

  it("random keys and signatures get one verdict from every verifier", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        messageArb,
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        (publicKey, message, signature) => {
          const v = verdicts(publicKey, message, signature)
          expect(new Set(Object.values(v)).size).toBe(1)
        }
      ),
      { numRuns: 100 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// DIDs
// ---------------------------------------------------------------------------------------------

const didCodes = new Set(["invalidDid", "invalidPublicKeyType", "invalidPublicKeyLength", "unsupportedDidMethod"])

const validDidArb = seedArb.map((seed) => Identity.fromSeed(seed).did)
const base58Char = fc.constantFrom(...Base58.alphabet)

/** Strings that reach every branch of the parser, from noise to near-misses of valid DIDs. */
const didLikeArb: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.string().map((s) => `did:key:${s}`),
  fc.string({ unit: base58Char, maxLength: 140 }).map((s) => `did:key:z${s}`),
  fc
    .tuple(fc.constantFrom(0xed, 0xec, 0xe7, 0x00, 0x12, 0x1200), fc.uint8Array({ maxLength: 40 }))
    .map(([codec, key]) => `did:key:z${Base58.encode(Uint8Array.from([...Varint.encode(codec), ...key]))}`),
  fc
    .tuple(validDidArb, fc.nat({ max: 60 }), fc.string({ minLength: 0, maxLength: 2 }), fc.nat({ max: 2 }))
    .map(([did, at, insert, remove]) => did.slice(0, at) + insert + did.slice(at + remove)),
  validDidArb
)

describe("Did", () => {
  it("toPublicKey ∘ fromPublicKey is the identity on keys, and the reverse on DIDs", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const publicKey = Ed25519.publicKeyOf(seed)
        const did = Did.fromPublicKey(publicKey)
        expect(did.startsWith("did:key:z6Mk")).toBe(true)
        expect(did.length).toBe(56)
        expect(Did.toPublicKey(did)).toEqual(publicKey)
        expect(Did.fromPublicKey(Did.toPublicKey(did))).toBe(did)
        expect(Did.isValid(did)).toBe(true)
      }),
      { numRuns: 100, examples: [[zeroSeed], [onesSeed]] }
    )
  })

  it("any string gives 32 valid bytes or a DidError, and nothing else", () => {
    fc.assert(
      fc.property(didLikeArb, (text) => {
        let result: Uint8Array | undefined
        try {
          result = Did.toPublicKey(text)
        } catch (error) {
          expect(error).toBeInstanceOf(DidError)
          expect(didCodes.has((error as DidError).code)).toBe(true)
          expect(Did.isValid(text)).toBe(false)
          return
        }
        expect(result).toBeInstanceOf(Uint8Array)
        expect(result.length).toBe(32)
        expect(Ed25519.isValidPublicKey(result)).toBe(true)
        expect(Did.fromPublicKey(result)).toBe(text)
        expect(Did.isValid(text)).toBe(true)
      }),
      {
        numRuns: 1_000,
        examples: [[""], ["did:key:"], ["did:key:z"], ["did:key:z1"], ["did:key:z" + "z".repeat(500)], ["did:key:z\u0000"]]
      }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------------------

describe("encodings round-trip", () => {
  it("Base58: decode ∘ encode on bytes, encode ∘ decode on alphabet strings", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(Base58.decode(Base58.encode(bytes))).toEqual(bytes)
      }),
      { numRuns: 300 }
    )
    fc.assert(
      fc.property(fc.string({ unit: base58Char, maxLength: 64 }), (text) => {
        expect(Base58.encode(Base58.decode(text)!)).toBe(text)
      }),
      { numRuns: 300 }
    )
  })

  it("Varint: decode ∘ encode on safe integers, using exactly the encoded bytes", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.uint8Array({ maxLength: 4 }), (value, trailing) => {
        const encoded = Varint.encode(value)
        expect(Varint.decode(Uint8Array.from([...encoded, ...trailing]))).toEqual({
          _tag: "Ok",
          value,
          length: encoded.length
        })
      }),
      { numRuns: 300 }
    )
  })
})

/**
 * did:key (PROTOCOL.md §2.2): the official did:key Ed25519 vectors, and the error code assigned
 * to each kind of bad input.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Base58 from "../../../src/identity/Base58.ts"
import * as Did from "../../../src/identity/Did.ts"
import { DidError, type DidErrorCode } from "../../../src/identity/DidError.ts"
import * as Ed25519 from "../../../src/identity/Ed25519.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import { canonicalSmallOrder, hex, honestPublicKey, P, bigIntToLe32 } from "./EdgeCases.ts"

interface KeyPair {
  readonly type: string
  readonly publicKeyBase58?: string
  readonly publicKeyJwk?: { readonly kty: string; readonly crv: string; readonly x: string }
  readonly privateKeyJwk?: { readonly d: string }
}
interface DidVector {
  readonly seed: string
  readonly verificationKeyPair: KeyPair
  readonly keyAgreementKeyPair?: { readonly controller: string; readonly id: string }
  readonly didDocument: { readonly id: string; readonly verificationMethod: ReadonlyArray<{ readonly id: string }> }
}
const vectors: Record<string, DidVector> = JSON.parse(
  readFileSync(new URL("../../vectors/did-key-ed25519.json", import.meta.url), "utf8")
)

/** The public key a vector states, in whichever form its key pair uses. */
const statedPublicKey = (pair: KeyPair): Uint8Array => {
  if (pair.publicKeyBase58 !== undefined) return Base58.decode(pair.publicKeyBase58)!
  if (pair.publicKeyJwk !== undefined) return Uint8Array.from(Buffer.from(pair.publicKeyJwk.x, "base64url"))
  throw new Error("vector has no public key")
}

const codeOf = (did: string): DidErrorCode | "ok" => {
  try {
    Did.toPublicKey(did)
    return "ok"
  } catch (error) {
    expect(error).toBeInstanceOf(DidError)
    return (error as DidError).code
  }
}

/** `did:key:z` + base58btc(bytes). */
const didOf = (...parts: ReadonlyArray<Uint8Array>) => "did:key:z" + Base58.encode(Uint8Array.from(Buffer.concat(parts)))
const ed01 = Uint8Array.of(0xed, 0x01)

describe("official did:key Ed25519 vectors", () => {
  const entries = Object.entries(vectors)

  it("holds the five Ed25519 entries (2018 and JsonWebKey2020 styles)", () => {
    expect(entries.length).toBe(5)
    for (const [, v] of entries) expect(["Ed25519VerificationKey2018", "JsonWebKey2020"]).toContain(v.verificationKeyPair.type)
  })

  for (const [did, v] of entries) {
    describe(did, () => {
      const seed = hex(v.seed)
      const publicKey = statedPublicKey(v.verificationKeyPair)

      it("seed → public key on both implementations", () => {
        expect(Ed25519.publicKeyOf(seed)).toEqual(publicKey)
        expect(Ed25519.publicKeyOfNoble(seed)).toEqual(publicKey)
      })
      it("seed → DID through Identity.fromSeed", () => {
        const identity = Identity.fromSeed(seed)
        expect(identity.did).toBe(did)
        expect(identity.publicKey).toEqual(publicKey)
      })
      it("public key → DID and back", () => {
        expect(Did.fromPublicKey(publicKey)).toBe(did)
        expect(Did.toPublicKey(did)).toEqual(publicKey)
        expect(Did.isValid(did)).toBe(true)
      })
      it("the DID document names the same DID", () => {
        expect(v.didDocument.id).toBe(did)
        expect(v.didDocument.verificationMethod[0]!.id).toBe(`${did}#${did.slice("did:key:".length)}`)
      })
      if (v.verificationKeyPair.privateKeyJwk !== undefined) {
        it("the JWK private key is the seed", () => {
          expect(Buffer.from(v.verificationKeyPair.privateKeyJwk!.d, "base64url").toString("hex")).toBe(v.seed)
        })
      }
    })
  }

  it("refuses the X25519 key-agreement DIDs of the same vectors as invalidPublicKeyType", () => {
    for (const [, v] of entries) {
      const agreement = v.didDocument.verificationMethod[1]?.id.split("#")[1]
      if (agreement !== undefined) expect(codeOf(`did:key:${agreement}`)).toBe("invalidPublicKeyType")
    }
  })
})

describe("Did.toPublicKey error codes (§2.2)", () => {
  const valid = Did.fromPublicKey(honestPublicKey)
  const table: ReadonlyArray<readonly [string, string, DidErrorCode]> = [
    ["the empty string", "", "unsupportedDidMethod"],
    ["another method", "did:web:example.com", "unsupportedDidMethod"],
    ["no method separator", "did:key", "unsupportedDidMethod"],
    ["upper-case scheme", valid.toUpperCase(), "unsupportedDidMethod"],
    ["a bare multibase key", valid.slice("did:key:".length), "unsupportedDidMethod"],
    ["no multibase body", "did:key:", "invalidDid"],
    ["no z prefix", "did:key:" + valid.slice("did:key:z".length), "invalidDid"],
    ["base16 multibase (f)", "did:key:fed01" + Buffer.from(honestPublicKey).toString("hex"), "invalidDid"],
    ["z and nothing else", "did:key:z", "invalidDid"],
    ["a character outside base58btc", valid.slice(0, -1) + "0", "invalidDid"],
    ["a DID URL with a fragment", `${valid}#${valid.slice(8)}`, "invalidDid"],
    ["trailing whitespace", valid + " ", "invalidDid"],
    ["a truncated varint", didOf(Uint8Array.of(0xed)), "invalidDid"],
    ["a non-minimal varint for 0xed", didOf(Uint8Array.of(0xed, 0x81, 0x00), honestPublicKey), "invalidDid"],
    ["a varint over 9 bytes", didOf(new Uint8Array(10).fill(0xff)), "invalidDid"],
    ["codec 0xec (x25519-pub)", didOf(Uint8Array.of(0xec, 0x01), honestPublicKey), "invalidPublicKeyType"],
    ["codec 0xe7 (secp256k1-pub)", didOf(Uint8Array.of(0xe7, 0x01), new Uint8Array(33).fill(2)), "invalidPublicKeyType"],
    ["codec 0 (leading 1s)", "did:key:z1" + valid.slice(9), "invalidPublicKeyType"],
    ["a small-order key (identity)", didOf(ed01, hex(canonicalSmallOrder[0]!)), "invalidPublicKeyType"],
    ["a small-order key (order 8)", didOf(ed01, hex(canonicalSmallOrder[1]!)), "invalidPublicKeyType"],
    ["a non-canonical key (y ≥ p)", didOf(ed01, bigIntToLe32(P + 3n)), "invalidPublicKeyType"],
    ["a key off the curve", didOf(ed01, bigIntToLe32(2n)), "invalidPublicKeyType"],
    ["an empty key", didOf(ed01), "invalidPublicKeyLength"],
    ["a 31-byte key", didOf(ed01, honestPublicKey.subarray(0, 31)), "invalidPublicKeyLength"],
    ["a trailing byte", didOf(ed01, honestPublicKey, Uint8Array.of(0)), "invalidPublicKeyLength"],
    ["a 64-byte key", didOf(ed01, honestPublicKey, honestPublicKey), "invalidPublicKeyLength"],
    ["a body far too long", "did:key:z" + "6Mk".repeat(100), "invalidPublicKeyLength"]
  ]
  for (const [label, did, code] of table) {
    it(`${label} → ${code}`, () => {
      expect(codeOf(did)).toBe(code)
      expect(Did.isValid(did)).toBe(false)
      const parsed = Did.parsePublicKey(did)
      expect(parsed).toBeInstanceOf(DidError)
      expect((parsed as DidError).code).toBe(code)
    })
  }

  it("accepts the valid DID these were made from", () => {
    expect(codeOf(valid)).toBe("ok")
    expect(valid.startsWith("did:key:z6Mk")).toBe(true)
  })

  it("refuses a value that is not a string without throwing anything but DidError", () => {
    expect(codeOf(42 as unknown as string)).toBe("unsupportedDidMethod")
    expect(Did.isValid(undefined as unknown as string)).toBe(false)
  })
})

describe("DidError", () => {
  it("is an Error with _tag DidError, a code and a message", () => {
    let caught: unknown
    try {
      Did.toPublicKey("did:web:example.com")
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(Error)
    expect(caught).toBeInstanceOf(DidError)
    const e = caught as DidError
    expect(e._tag).toBe("DidError")
    expect(e.code).toBe("unsupportedDidMethod")
    expect(e.message.length).toBeGreaterThan(0)
  })
})

describe("Did.fromPublicKey", () => {
  it("refuses keys that would not parse back", () => {
    const codeFor = (key: Uint8Array) => {
      try {
        Did.fromPublicKey(key)
        return "ok"
      } catch (error) {
        return (error as DidError).code
      }
    }
    expect(codeFor(new Uint8Array(31))).toBe("invalidPublicKeyLength")
    expect(codeFor(new Uint8Array(33))).toBe("invalidPublicKeyLength")
    expect(codeFor(hex(canonicalSmallOrder[0]!))).toBe("invalidPublicKeyType")
    expect(codeFor(bigIntToLe32(P + 3n))).toBe("invalidPublicKeyType")
    expect(codeFor(bigIntToLe32(2n))).toBe("invalidPublicKeyType")
  })

  it("hands out copies: mutating a returned key does not change the next answer", () => {
    const did = Did.fromPublicKey(honestPublicKey)
    const first = Did.toPublicKey(did)
    first.fill(0)
    expect(Did.toPublicKey(did)).toEqual(honestPublicKey)
  })
})

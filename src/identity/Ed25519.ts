/**
 * Ed25519 (RFC 8032, pure Ed25519, no context) with the strict verification rules of
 * PROTOCOL.md §2.1, on two independent implementations that must agree:
 *
 * - **the platform** (`node:crypto`, OpenSSL): the hot path. Private keys live in `KeyObject`s
 *   held by their `Identity`; public keys are imported once per peer into a bounded LRU cache.
 * - **`@noble/ed25519`** (pure JavaScript): the reference used by tests and by anything that
 *   wants a second opinion.
 *
 * Strictness. Both verifiers reject, before any curve arithmetic:
 * - a signature that is not exactly 64 bytes;
 * - S ≥ L (a non-reduced scalar; `S + L` would otherwise be a second valid signature);
 * - a non-canonical encoding of A or R (y ≥ p, or x = 0 with the sign bit set);
 * - a small-order public key A: the 8 torsion points, in every 32-byte encoding (14 of them).
 *
 * Then the platform checks the cofactorless equation `[S]B = R + [k]A` by re-encoding the left
 * side and comparing it with the received R. `@noble/ed25519`'s strict (`zip215: false`) verify
 * checks the cofactored equation `[8][S]B = [8]R + [8][k]A` instead; the two only disagree on
 * inputs whose R or A carries a torsion component, which only the key holder can build (honest
 * signers never produce them). `verifyNoble` therefore also confirms the cofactorless equation
 * with noble's point arithmetic, so both verifiers give the same verdict on every input.
 *
 * What this module does not do: DIDs (`Did.ts`), identities (`Identity.ts`), randomness (only
 * `Identity.generate` draws keys).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8032 RFC 8032 §5.1.7 (verify) and §7.1 (test vectors)
 * @since 0.1.0
 */
import * as ed from "@noble/ed25519"
import { sha512 } from "@noble/hashes/sha2.js"
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as platformSign,
  verify as platformVerify
} from "node:crypto"

// noble's synchronous API needs a SHA-512; @noble/hashes keeps the reference path free of OpenSSL.
// Set once, and only if nobody else has, so other modules that configure noble are not overridden.
if (ed.hashes.sha512 === undefined) ed.hashes.sha512 = (message) => sha512(message)

/**
 * Bytes in a private seed (RFC 8032 secret key).
 *
 * @since 0.1.0
 * @category constants
 */
export const seedLength = 32

/**
 * Bytes in a public key (the compressed point A).
 *
 * @since 0.1.0
 * @category constants
 */
export const publicKeyLength = 32

/**
 * Bytes in a signature (`R ‖ S`).
 *
 * @since 0.1.0
 * @category constants
 */
export const signatureLength = 64

// ---------------------------------------------------------------------------------------------
// Byte-level strictness checks (no curve arithmetic)
// ---------------------------------------------------------------------------------------------

/** L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const orderL = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10
])

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"))

/**
 * Every 32-byte string that decodes (leniently) to one of the 8 points of the torsion subgroup.
 * The first 8 are the canonical encodings; the last 6 are non-canonical aliases (y ≥ p, or x = 0
 * with the sign bit set), which `isCanonicalPoint` already rejects but are listed so that
 * `isSmallOrderPoint` is right on its own.
 */
const smallOrderEncodings: ReadonlyArray<Uint8Array> = [
  "0100000000000000000000000000000000000000000000000000000000000000", // order 1: (0, 1)
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2: (0, -1)
  "0000000000000000000000000000000000000000000000000000000000000000", // order 4: (+x, 0)
  "0000000000000000000000000000000000000000000000000000000000000080", // order 4: (-x, 0)
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
  "0100000000000000000000000000000000000000000000000000000000000080", // (0, 1), sign bit set
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // (0, -1), sign bit set
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p ≡ 0
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p ≡ 0, sign bit set
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p + 1 ≡ 1
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" //  y = p + 1 ≡ 1, sign bit set
].map(hex)

/** Whether the 32 bytes of `bytes` at `offset` equal `target`. */
const equalAt = (bytes: Uint8Array, offset: number, target: Uint8Array): boolean => {
  for (let i = 0; i < 32; i++) if (bytes[offset + i] !== target[i]) return false
  return true
}

/**
 * Whether the 32-byte point encoding at `offset` is canonical (RFC 8032 §5.1.3 strict decoding):
 * the y coordinate (the low 255 bits) is below p = 2^255 − 19, and the sign bit is not set on a
 * point whose x is 0, i.e. the two encodings `01 00…00 80` and `ec ff…ff ff` are refused.
 * Byte comparisons only; it does not check that y lies on the curve.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCanonicalPoint = (bytes: Uint8Array, offset = 0): boolean => {
  if (bytes.length < offset + 32) return false
  const top = bytes[offset + 31]!
  // y ≥ p only if y's top byte is 0x7f, bytes 30..1 are 0xff and byte 0 is ≥ 0xed.
  if ((top & 0x7f) === 0x7f) {
    let allOnes = true
    for (let i = 30; i >= 1; i--) {
      if (bytes[offset + i] !== 0xff) {
        allOnes = false
        break
      }
    }
    if (allOnes && bytes[offset]! >= 0xed) return false
    // y = p − 1 (x = 0) with the sign bit set.
    if (allOnes && bytes[offset] === 0xec && top === 0xff) return false
  }
  if (top === 0x80 && bytes[offset] === 0x01) {
    // y = 1 (x = 0) with the sign bit set: 01 00…00 80.
    for (let i = 1; i <= 30; i++) if (bytes[offset + i] !== 0) return true
    return false
  }
  return true
}

/**
 * Whether the 32-byte encoding at `offset` denotes a point of small order (one of the 8 torsion
 * points), in any of its 14 encodings, canonical or not.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSmallOrderPoint = (bytes: Uint8Array, offset = 0): boolean => {
  if (bytes.length < offset + 32) return false
  for (const candidate of smallOrderEncodings) if (equalAt(bytes, offset, candidate)) return true
  return false
}

/**
 * Whether the 32-byte little-endian scalar at `offset` is reduced: S < L (RFC 8032 §5.1.7 step 1).
 *
 * @since 0.1.0
 * @category guards
 */
export const isCanonicalScalar = (bytes: Uint8Array, offset = 0): boolean => {
  if (bytes.length < offset + 32) return false
  for (let i = 31; i >= 0; i--) {
    const b = bytes[offset + i]!
    const l = orderL[i]!
    if (b < l) return true
    if (b > l) return false
  }
  return false // S = L
}

/**
 * The byte-level part of §2.1 for a public key: 32 bytes, canonical, not small order. It does not
 * decompress the point, so a y that is off the curve passes here (and fails every verify); use
 * `isValidPublicKey` to check that too.
 *
 * @since 0.1.0
 * @category guards
 */
export const isStrictPublicKey = (publicKey: Uint8Array): boolean =>
  publicKey instanceof Uint8Array && publicKey.length === publicKeyLength && isCanonicalPoint(publicKey) &&
  !isSmallOrderPoint(publicKey)

/**
 * The byte-level part of §2.1 for a signature: exactly 64 bytes, R canonical, S < L.
 *
 * @since 0.1.0
 * @category guards
 */
export const isStrictSignature = (signature: Uint8Array): boolean =>
  signature instanceof Uint8Array && signature.length === signatureLength && isCanonicalScalar(signature, 32) &&
  isCanonicalPoint(signature, 0)

/**
 * Whether the bytes decode to a point on the curve (strict RFC 8032 decoding). Costs a field
 * exponentiation (tens of microseconds), so hot paths rely on the verifier instead.
 *
 * @since 0.1.0
 * @category guards
 */
export const isOnCurve = (publicKey: Uint8Array): boolean => {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== publicKeyLength) return false
  try {
    ed.Point.fromBytes(publicKey, false)
    return true
  } catch {
    return false
  }
}

/**
 * A public key acceptable under §2.1: `isStrictPublicKey` and on the curve. This is what a DID
 * must carry.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValidPublicKey = (publicKey: Uint8Array): boolean =>
  isStrictPublicKey(publicKey) && isOnCurve(publicKey)

// ---------------------------------------------------------------------------------------------
// Platform implementation (node:crypto)
// ---------------------------------------------------------------------------------------------

/** The DER prefix that wraps a raw 32-byte seed as a PKCS#8 Ed25519 key (OID 1.3.101.112). */
const pkcs8Prefix = hex("302e020100300506032b657004220420")

const assertSeed = (seed: Uint8Array): void => {
  if (!(seed instanceof Uint8Array) || seed.length !== seedLength) {
    throw new RangeError(`an Ed25519 seed is ${seedLength} bytes`)
  }
}

/**
 * A private key ready for signing: the platform key object and its public key. Secret: never log
 * it or send it anywhere.
 *
 * @since 0.1.0
 * @category models
 */
export interface SigningKey {
  /** The OpenSSL private key object (holds the seed). */
  readonly keyObject: KeyObject
  /** The 32-byte public key A. */
  readonly publicKey: Uint8Array
}

/**
 * Imports a 32-byte seed into the platform. Throws `RangeError` if the seed is not 32 bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const signingKey = (seed: Uint8Array): SigningKey => {
  assertSeed(seed)
  const der = Buffer.concat([pkcs8Prefix, seed])
  try {
    const keyObject = createPrivateKey({ key: der, format: "der", type: "pkcs8" })
    const spki = createPublicKey(keyObject).export({ format: "der", type: "spki" })
    return { keyObject, publicKey: Uint8Array.from(spki.subarray(spki.length - publicKeyLength)) }
  } finally {
    der.fill(0)
  }
}

/**
 * The public key of a seed, computed by the platform.
 *
 * @since 0.1.0
 * @category constructors
 */
export const publicKeyOf = (seed: Uint8Array): Uint8Array => signingKey(seed).publicKey

/**
 * Signs with a platform key: 64 bytes, deterministic (RFC 8032 §5.1.6).
 *
 * @since 0.1.0
 * @category signing
 */
export const signWith = (key: SigningKey, message: Uint8Array): Uint8Array =>
  Uint8Array.from(platformSign(null, message, key.keyObject))

/**
 * Signs `message` with a seed through the platform. Imports the key on every call; hold an
 * `Identity` (or a `SigningKey`) to sign repeatedly.
 *
 * @since 0.1.0
 * @category signing
 */
export const sign = (seed: Uint8Array, message: Uint8Array): Uint8Array => signWith(signingKey(seed), message)

/**
 * Default number of peer public keys a `Verifier` keeps imported.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxCachedKeys = 4_096

/**
 * A strict platform verifier with a bounded least-recently-used cache of imported public keys,
 * keyed by the raw key bytes. A key enters the cache only after passing the byte-level checks
 * of §2.1, so junk keys cost a few comparisons and never evict real peers' keys.
 *
 * @since 0.1.0
 * @category models
 */
export class Verifier {
  readonly #keys = new Map<string, KeyObject>()
  readonly #maxKeys: number

  /**
   * @param maxCachedKeys - cap on imported keys held; the least recently used is dropped first.
   *   Throws `RangeError` unless it is a positive integer. @default 4_096
   * @since 0.1.0
   */
  constructor(maxCachedKeys: number = defaultMaxCachedKeys) {
    if (!Number.isSafeInteger(maxCachedKeys) || maxCachedKeys < 1) {
      throw new RangeError("maxCachedKeys must be a positive integer")
    }
    this.#maxKeys = maxCachedKeys
  }

  /**
   * Number of public keys currently imported.
   *
   * @since 0.1.0
   * @category getters
   */
  get size(): number {
    return this.#keys.size
  }

  /**
   * Strict verification (§2.1) of `signature` over `message` under `publicKey`. Never throws:
   * anything malformed is simply `false`.
   *
   * @since 0.1.0
   * @category verifying
   */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (!(message instanceof Uint8Array) || !isStrictSignature(signature)) return false
    const key = this.#keyObject(publicKey)
    if (key === undefined) return false
    try {
      return platformVerify(null, message, key, signature)
    } catch {
      return false
    }
  }

  #keyObject(publicKey: Uint8Array): KeyObject | undefined {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== publicKeyLength) return undefined
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKeyLength).toString("latin1")
    const cached = this.#keys.get(id)
    if (cached !== undefined) {
      // Refresh recency: Map iteration order is insertion order, so the first key is the LRU.
      this.#keys.delete(id)
      this.#keys.set(id, cached)
      return cached
    }
    if (!isStrictPublicKey(publicKey)) return undefined
    let key: KeyObject
    try {
      // JWK import maps straight onto OpenSSL's raw-key constructor: about 3× cheaper than SPKI DER.
      const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKeyLength).toString("base64url")
      key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" })
    } catch {
      return undefined
    }
    if (this.#keys.size >= this.#maxKeys) {
      const oldest = this.#keys.keys().next()
      if (oldest.done !== true) this.#keys.delete(oldest.value)
    }
    this.#keys.set(id, key)
    return key
  }
}

const sharedVerifier = new Verifier()

/**
 * Strict verification on the platform (the hot path), through a process-wide `Verifier`.
 * Never throws.
 *
 * @since 0.1.0
 * @category verifying
 */
export const verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean =>
  sharedVerifier.verify(publicKey, message, signature)

// ---------------------------------------------------------------------------------------------
// Reference implementation (@noble/ed25519)
// ---------------------------------------------------------------------------------------------

const scalarL = 2n ** 252n + 27742317777372353535851937790883648493n

const littleEndianToBigInt = (bytes: Uint8Array): bigint => {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!)
  return n
}

/**
 * The public key of a seed, computed by `@noble/ed25519`.
 *
 * @since 0.1.0
 * @category reference
 */
export const publicKeyOfNoble = (seed: Uint8Array): Uint8Array => {
  assertSeed(seed)
  return ed.getPublicKey(seed)
}

/**
 * Signs with `@noble/ed25519`; byte-identical to `sign`.
 *
 * @since 0.1.0
 * @category reference
 */
export const signNoble = (seed: Uint8Array, message: Uint8Array): Uint8Array => {
  assertSeed(seed)
  return ed.sign(message, seed)
}

/**
 * Strict verification with `@noble/ed25519`: the same byte-level checks as `verify`, noble's
 * strict (`zip215: false`) verify, and the cofactorless equation `R = [S]B − [k]A` (see the
 * module header). Gives the same verdict as `verify` on every input. Never throws.
 *
 * @since 0.1.0
 * @category reference
 */
export const verifyNoble = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
  if (!(message instanceof Uint8Array) || !isStrictSignature(signature) || !isStrictPublicKey(publicKey)) return false
  try {
    if (!ed.verify(signature, message, publicKey, { zip215: false })) return false
    // noble's check is cofactored; pin the verdict to the cofactorless equation the platform uses.
    const r = signature.subarray(0, 32)
    const s = littleEndianToBigInt(signature.subarray(32, 64))
    const k = littleEndianToBigInt(sha512(Buffer.concat([r, publicKey, message]))) % scalarL
    const a = ed.Point.fromBytes(publicKey, false)
    const expectedR = ed.Point.BASE.multiply(s, false).subtract(a.multiply(k, false))
    return equalAt(expectedR.toBytes(), 0, r)
  } catch {
    return false
  }
}

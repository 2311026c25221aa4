/**
 * `Identity`: one node's Ed25519 key pair (PROTOCOL.md §2.1) with its DID and node id.
 *
 * An identity holds its 32-byte seed and the platform `KeyObject` made from it, so signing never
 * re-imports the key. The seed leaves only through `exportSeed()`, which exists for the key
 * store and for UCAN signing; `JSON.stringify`, `String()` and `util.inspect` show the DID only.
 * Verification is static (`Identity.verify`) because it needs no private key: it accepts a DID
 * or a raw public key and applies the strict rules of §2.1 through `Ed25519.verify`.
 *
 * Randomness is drawn here and nowhere else in `src/identity`: `Identity.generate` (and
 * `Identity.generateStation`, which calls it) have `node:crypto` draw the key. Everything else is
 * a pure function of its inputs.
 *
 * @example
 * ```ts
 * import { Identity } from "./identity/index.ts"
 *
 * const alice = Identity.generate()
 * const message = new TextEncoder().encode("hello")
 * const signature = alice.sign(message) // 64 bytes
 * Identity.verify(alice.did, message, signature) // true
 * ```
 *
 * @since 0.1.0
 */
import { generateKeyPairSync } from "node:crypto"
import * as Did from "./Did.ts"
import * as Ed25519 from "./Ed25519.ts"
import * as NodeId from "./NodeId.ts"

/**
 * Highest proof of work `Identity.generateStation` will search for. Each extra bit doubles the
 * expected number of key generations (2^bits), and 24 bits already takes minutes.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxStationPowBits = 24

/**
 * An Ed25519 identity: key pair, DID and node id.
 *
 * @since 0.1.0
 * @category models
 */
export class Identity {
  /**
   * The DID, `did:key:z6Mk…` (PROTOCOL.md §2.2).
   *
   * @since 0.1.0
   * @category getters
   */
  readonly did: string
  readonly #seed: Uint8Array
  readonly #key: Ed25519.SigningKey

  private constructor(seed: Uint8Array, key: Ed25519.SigningKey) {
    this.#seed = seed
    this.#key = key
    // A key derived from a seed is always valid (A = aB with a clamped scalar), so skip the checks.
    this.did = Did.fromPublicKeyUnsafe(key.publicKey)
  }

  /**
   * A fresh identity from 32 bytes of `node:crypto` randomness.
   *
   * @since 0.1.0
   * @category constructors
   */
  static generate(): Identity {
    // Let the platform draw the key: it hands back a ready `KeyObject`, which is several times
    // cheaper than importing a seed (this matters for `generateStation`). JWK export yields the
    // seed (`d`) and the public key (`x`), RFC 8037.
    const { privateKey } = generateKeyPairSync("ed25519")
    const jwk = privateKey.export({ format: "jwk" })
    if (typeof jwk.d !== "string" || typeof jwk.x !== "string") throw new Error("Ed25519 JWK export lacks d or x")
    const seed = Uint8Array.from(Buffer.from(jwk.d, "base64url"))
    const publicKey = Uint8Array.from(Buffer.from(jwk.x, "base64url"))
    if (seed.length !== Ed25519.seedLength || publicKey.length !== Ed25519.publicKeyLength) {
      throw new Error("Ed25519 JWK export has the wrong lengths")
    }
    return new Identity(seed, { keyObject: privateKey, publicKey })
  }

  /**
   * The identity of a 32-byte seed (RFC 8032 secret key). Deterministic; the seed is copied.
   * Throws `RangeError` if the seed is not 32 bytes.
   *
   * @since 0.1.0
   * @category constructors
   */
  static fromSeed(seed: Uint8Array): Identity {
    if (!(seed instanceof Uint8Array) || seed.length !== Ed25519.seedLength) {
      throw new RangeError(`an Ed25519 seed is ${Ed25519.seedLength} bytes`)
    }
    const copy = Uint8Array.from(seed)
    return new Identity(copy, Ed25519.signingKey(copy))
  }

  /**
   * A fresh station identity whose key carries at least `bits` bits of proof of work (§2.4):
   * generates keys until `NodeId.meetsPow` holds. Expected 2^bits attempts (8 bits ≈ 256, tens of
   * milliseconds). Throws `RangeError` unless `bits` is an integer in 0..`maxStationPowBits`.
   *
   * @since 0.1.0
   * @category constructors
   */
  static generateStation(bits: number): Identity {
    if (!Number.isInteger(bits) || bits < 0 || bits > maxStationPowBits) {
      throw new RangeError(`proof-of-work bits must be an integer in 0..${maxStationPowBits}`)
    }
    for (;;) {
      const candidate = Identity.generate()
      if (NodeId.meetsPow(candidate.#key.publicKey, bits)) return candidate
    }
  }

  /**
   * Strict Ed25519 verification (§2.1) of `signature` over `message` by the key a DID names, or
   * by a raw 32-byte public key. Never throws: an unparsable DID, a bad key or a malformed
   * signature is `false`.
   *
   * @since 0.1.0
   * @category verifying
   */
  static verify(didOrPublicKey: string | Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (typeof didOrPublicKey === "string") {
      let publicKey: Uint8Array
      try {
        publicKey = Did.toPublicKey(didOrPublicKey)
      } catch {
        return false
      }
      return Ed25519.verify(publicKey, message, signature)
    }
    return Ed25519.verify(didOrPublicKey, message, signature)
  }

  /**
   * The 32-byte public key (a fresh copy on each read).
   *
   * @since 0.1.0
   * @category getters
   */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#key.publicKey)
  }

  /**
   * The node id, SHA-256(public key) (§2.3).
   *
   * @since 0.1.0
   * @category getters
   */
  get nodeId(): Uint8Array {
    return NodeId.ofPublicKey(this.#key.publicKey)
  }

  /**
   * Signs `message`: a 64-byte deterministic Ed25519 signature (RFC 8032 §5.1.6). Callers sign
   * `domain ‖ body` for the signed objects of PROTOCOL.md §5.
   *
   * @since 0.1.0
   * @category signing
   */
  sign(message: Uint8Array): Uint8Array {
    return Ed25519.signWith(this.#key, message)
  }

  /**
   * **Secret.** A copy of the 32-byte seed, for the key store (which writes it to an owner-only
   * file) and for signers outside this class. Anyone holding it *is* this identity: never log it,
   * send it, or keep it longer than needed.
   *
   * @since 0.1.0
   * @category secrets
   */
  exportSeed(): Uint8Array {
    return Uint8Array.from(this.#seed)
  }

  /**
   * The DID, so an identity never serialises its secret by accident.
   *
   * @since 0.1.0
   * @category conversions
   */
  toJSON(): { readonly did: string } {
    return { did: this.did }
  }

  /**
   * `Identity(did:key:…)`.
   *
   * @since 0.1.0
   * @category conversions
   */
  toString(): string {
    return `Identity(${this.did})`
  }
}

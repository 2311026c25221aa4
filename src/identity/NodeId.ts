/**
 * Node ids (PROTOCOL.md §2.3) and the station proof of work (§2.4).
 *
 * A node id is SHA-256 of the node's 32-byte Ed25519 public key: 256 bits, uniformly spread,
 * compared as unsigned big-endian integers by the DHT (the XOR metric lives with the DHT, not
 * here). A station's key carries proof of work: SHA-256(node id) = SHA-256(SHA-256(key)) must
 * start with at least `stationPowBits` zero bits. Hashing the id rather than the key makes the
 * work a property of the id, as in S/Kademlia, and costs a verifier two hashes.
 *
 * Pure functions of their inputs; the only search (`Identity.generateStation`) lives with the
 * identity, since it draws keys.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Bytes from "../core/Bytes.ts"

/**
 * Bytes in a node id.
 *
 * @since 0.1.0
 * @category constants
 */
export const length = 32

const sha256 = (bytes: Uint8Array): Uint8Array => Uint8Array.from(createHash("sha256").update(bytes).digest())

/**
 * The node id of a public key: SHA-256(public key), 32 bytes.
 *
 * @example
 * ```ts
 * NodeId.toHex(NodeId.ofPublicKey(identity.publicKey)) // 64 hex digits
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const ofPublicKey = (publicKey: Uint8Array): Uint8Array => sha256(publicKey)

/**
 * Lower-case hex of a node id (or any bytes): `Bytes.toHex` of `src/core/Bytes.ts`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toHex: (id: Uint8Array) => string = Bytes.toHex

/**
 * The number of leading zero bits of a byte string, most significant bit of byte 0 first
 * (0 to 8 × length).
 *
 * @since 0.1.0
 * @category proof of work
 */
export const leadingZeroBits = (bytes: Uint8Array): number => {
  let bits = 0
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8
      continue
    }
    return bits + Math.clz32(byte) - 24
  }
  return bits
}

/**
 * The proof of work a node id carries: leading zero bits of SHA-256(node id).
 *
 * @since 0.1.0
 * @category proof of work
 */
export const powBitsOfNodeId = (nodeId: Uint8Array): number => leadingZeroBits(sha256(nodeId))

/**
 * The proof of work a public key carries (§2.4): leading zero bits of SHA-256(SHA-256(key)).
 *
 * @since 0.1.0
 * @category proof of work
 */
export const powBits = (publicKey: Uint8Array): number => powBitsOfNodeId(sha256(publicKey))

/**
 * Whether a public key carries at least `bits` bits of proof of work. `bits` ≤ 0 (proof of work
 * disabled) always passes.
 *
 * @example
 * ```ts
 * NodeId.meetsPow(peerPublicKey, 8) // the default stationPowBits
 * ```
 *
 * @since 0.1.0
 * @category proof of work
 */
export const meetsPow = (publicKey: Uint8Array, bits: number): boolean => bits <= 0 || powBits(publicKey) >= bits

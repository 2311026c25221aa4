/**
 * The Kademlia XOR metric over 256-bit ids (PROTOCOL.md §2.3, §10): distance, ordering by
 * distance to a target, common prefix length (the bucket index) and hex keys for maps.
 *
 * Key invariant: ids are compared as unsigned big-endian integers, so `compareDistance` is a
 * total order for a fixed target and `distance(a, b)` is zero only for `a = b`.
 *
 * It does not hash: ids arrive as bytes (SHA-256 of a public key, computed by the caller or
 * by the hash function in `Config`).
 *
 * @see Maymounkov & Mazières, "Kademlia: A Peer-to-peer Information System Based on the XOR
 *   Metric" (IPTPS 2002), §2.1
 * @since 0.1.0
 */
import * as Bytes from "../../core/Bytes.ts"
import * as Prng from "../../core/Prng.ts"

/**
 * A 32-byte node id or record key.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeId = Uint8Array

/**
 * Bytes in an id (256 bits).
 *
 * @since 0.1.0
 * @category constants
 */
export const idBytes = 32

/**
 * Bits in an id; also the number of buckets of a routing table.
 *
 * @since 0.1.0
 * @category constants
 */
export const idBits = 256

/**
 * Whether a value is a well-formed id (exactly 32 bytes).
 *
 * @since 0.1.0
 * @category guards
 */
export const isId = (u: unknown): u is NodeId => u instanceof Uint8Array && u.length === idBytes

/**
 * `a XOR b`, byte by byte.
 *
 * @since 0.1.0
 * @category metric
 */
export const distance = (a: NodeId, b: NodeId): Uint8Array => {
  const out = new Uint8Array(idBytes)
  for (let i = 0; i < idBytes; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0)
  return out
}

/**
 * Compares two byte strings as unsigned big-endian integers of the same length
 * (lexicographic byte order): negative, zero or positive. `Bytes.compare` of `src/core/Bytes.ts`.
 *
 * @since 0.1.0
 * @category metric
 */
export const compareBytes: (x: Uint8Array, y: Uint8Array) => number = Bytes.compare

/**
 * Negative when `a` is closer to `target` than `b`, positive when farther, zero when `a = b`.
 * Computed without allocating: the first byte where `a` and `b` differ decides.
 *
 * @since 0.1.0
 * @category metric
 */
export const compareDistance = (a: NodeId, b: NodeId, target: NodeId): number => {
  for (let i = 0; i < idBytes; i++) {
    const da = (a[i] ?? 0) ^ (target[i] ?? 0)
    const db = (b[i] ?? 0) ^ (target[i] ?? 0)
    if (da !== db) return da - db
  }
  return 0
}

/**
 * Leading zero bits of a byte string (0 to 8 × length).
 *
 * @since 0.1.0
 * @category metric
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
 * The number of leading bits `a` and `b` share: 256 when equal. For a routing table this is
 * the bucket index of `b` seen from `a`; bucket 0 holds the farthest half of the id space.
 *
 * @since 0.1.0
 * @category metric
 */
export const commonPrefixLength = (a: NodeId, b: NodeId): number => {
  for (let i = 0; i < idBytes; i++) {
    const x = (a[i] ?? 0) ^ (b[i] ?? 0)
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return idBits
}

/**
 * Whether two ids are the same bytes. `Bytes.equals` of `src/core/Bytes.ts`.
 *
 * @since 0.1.0
 * @category metric
 */
export const equals: (a: Uint8Array, b: Uint8Array) => boolean = Bytes.equals

/**
 * Lower-case hex of an id: the key of every map the DHT keeps (a `Uint8Array` has no value
 * equality, a string does). `Bytes.toHex` of `src/core/Bytes.ts`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toHex: (bytes: Uint8Array) => string = Bytes.toHex

/**
 * Bytes from lower- or upper-case hex; `undefined` for an odd length or a non-hex digit.
 * `Bytes.fromHex` of `src/core/Bytes.ts`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromHex: (hex: string) => Uint8Array | undefined = Bytes.fromHex

/**
 * A random id whose common prefix with `self` is exactly `index` bits (0 ≤ index < 256): the
 * target of a bucket refresh, which must land in that bucket's range. Drawn from the seeded
 * PRNG so a refresh is replayable.
 *
 * @see Kademlia §2.3 ("refresh any bucket to which it has not performed a node lookup")
 * @since 0.1.0
 * @category constructors
 */
export const randomInBucket = (self: NodeId, index: number, prng: Prng.Prng): readonly [NodeId, Prng.Prng] => {
  const out = new Uint8Array(idBytes)
  let p = prng
  for (let i = 0; i < idBytes; i += 4) {
    const [u, after] = Prng.nextU32(p)
    p = after
    out[i] = u >>> 24
    out[i + 1] = (u >>> 16) & 255
    out[i + 2] = (u >>> 8) & 255
    out[i + 3] = u & 255
  }
  // Copy the first `index` bits of self, then flip bit `index`: the result shares exactly
  // `index` leading bits with self whatever the random tail.
  const whole = Math.floor(index / 8)
  for (let i = 0; i < whole; i++) out[i] = self[i] ?? 0
  const bit = index % 8
  const mask = bit === 0 ? 0 : (0xff << (8 - bit)) & 0xff
  const flip = 0x80 >>> bit
  const own = self[whole] ?? 0
  out[whole] = (own & mask) | ((own ^ flip) & flip) | ((out[whole] ?? 0) & ~(mask | flip) & 0xff)
  return [out, p]
}

/**
 * MCIDs as the cores see them: the 34 raw bytes of the wire (`0x01 ‖ codec ‖ digest`), keyed by
 * hex. The cores may not import `src/content`; these few lines are all they need of it.
 *
 * @since 0.1.0
 */

/**
 * The 34-byte binary form of an MCID.
 *
 * @since 0.1.0
 * @category models
 */
export type McidBytes = Uint8Array

/**
 * Codec byte of a raw block.
 *
 * @since 0.1.0
 * @category constants
 */
export const codecRaw = 0x55

/**
 * Codec byte of a manifest.
 *
 * @since 0.1.0
 * @category constants
 */
export const codecManifest = 0x56

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/**
 * Hex of some bytes: map keys for MCIDs and hashes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const key = (bytes: Uint8Array): string => {
  let out = ""
  for (const b of bytes) out += HEX[b]!
  return out
}

/**
 * Whether `m` has the shape of an MCID (34 bytes, version 1, a known codec).
 *
 * @since 0.1.0
 * @category guards
 */
export const isMcid = (m: Uint8Array): boolean =>
  m.length === 34 && m[0] === 0x01 && (m[1] === codecRaw || m[1] === codecManifest)

/**
 * The raw-block MCID with digest `hash`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rawMcid = (hash: Uint8Array): McidBytes => {
  const out = new Uint8Array(34)
  out[0] = 0x01
  out[1] = codecRaw
  out.set(hash, 2)
  return out
}

/**
 * The digest part of an MCID.
 *
 * @since 0.1.0
 * @category getters
 */
export const digestOf = (m: McidBytes): Uint8Array => m.subarray(2)

/**
 * Whether two byte strings are equal.
 *
 * @since 0.1.0
 * @category guards
 */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

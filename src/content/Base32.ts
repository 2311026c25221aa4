/**
 * RFC 4648 base32, lowercase, unpadded: the text alphabet of MCIDs (PROTOCOL.md §12.1).
 *
 * Strict: `decode` refuses uppercase, padding, characters outside `a-z2-7`, a length no byte
 * string encodes to, and unused trailing bits that are not zero. So it is a bijection between
 * byte strings and the strings it accepts: `encode(decode(s)) === s` whenever `decode(s)` is
 * defined.
 *
 * @since 0.1.0
 */

/**
 * The 32 characters in digit order.
 *
 * @since 0.1.0
 * @category constants
 */
export const alphabet = "abcdefghijklmnopqrstuvwxyz234567"

const digitOf: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1)
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i
  return table
})()

/**
 * Characters that encode `n` bytes: ⌈8n / 5⌉.
 *
 * @since 0.1.0
 * @category getters
 */
export const encodedLength = (n: number): number => Math.ceil((n * 8) / 5)

/**
 * Lowercase unpadded base32 of `bytes`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (bytes: Uint8Array): string => {
  let out = ""
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += alphabet[(buffer >>> bits) & 31]
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31]
  return out
}

/**
 * The bytes `text` encodes, or `undefined` when it is not strict lowercase unpadded base32.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (text: string): Uint8Array | undefined => {
  const n = Math.floor((text.length * 5) / 8)
  if (encodedLength(n) !== text.length) return undefined
  const out = new Uint8Array(n)
  let buffer = 0
  let bits = 0
  let at = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const digit = code < 128 ? digitOf[code]! : -1
    if (digit < 0) return undefined
    buffer = ((buffer << 5) | digit) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[at++] = (buffer >>> bits) & 0xff
    }
  }
  // Leftover bits are padding of the last character: they must be zero.
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined
  return out
}

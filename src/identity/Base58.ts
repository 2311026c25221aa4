/**
 * Base58btc (the Bitcoin alphabet), as used by multibase prefix `z` in `did:key`.
 *
 * Each leading zero byte becomes one leading `1`; the rest is the big-endian number written
 * in base 58 with no leading zero digit. The mapping is a bijection between byte strings and
 * valid base58btc strings, so `encode(decode(s)) === s` for every `s` that decodes.
 *
 * Quadratic in the input length, which is fine for keys and hashes; callers that accept
 * strings from peers bound the length first (see `Did.toPublicKey`).
 *
 * @since 0.1.0
 */

/**
 * The 58 characters of the base58btc alphabet, in digit order (no `0`, `O`, `I`, `l`).
 *
 * @since 0.1.0
 * @category constants
 */
export const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

/** Char code → digit value, or -1 for a character outside the alphabet. */
const digitOf: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1)
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i
  return table
})()

/**
 * Encodes bytes as base58btc text.
 *
 * @example
 * ```ts
 * Base58.encode(new Uint8Array([0, 0, 1])) // "112"
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (bytes: Uint8Array): string => {
  let zeros = 0
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++
  // Base-58 digits, least significant first; each input byte multiplies the number by 256.
  const digits: Array<number> = []
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i]!
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j]! * 256
      digits[j] = carry % 58
      carry = Math.floor(carry / 58)
    }
    while (carry > 0) {
      digits.push(carry % 58)
      carry = Math.floor(carry / 58)
    }
  }
  let out = "1".repeat(zeros)
  for (let j = digits.length - 1; j >= 0; j--) out += alphabet[digits[j]!]!
  return out
}

/**
 * Decodes base58btc text, or returns `undefined` if a character is outside the alphabet.
 * The empty string decodes to the empty byte string.
 *
 * @example
 * ```ts
 * Base58.decode("112") // Uint8Array [0, 0, 1]
 * Base58.decode("0OIl") // undefined
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const decode = (text: string): Uint8Array | undefined => {
  let ones = 0
  while (ones < text.length && text.charCodeAt(ones) === 0x31) ones++
  // Bytes, least significant first; each digit multiplies the number by 58.
  const bytes: Array<number> = []
  for (let i = ones; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const digit = code < 128 ? digitOf[code]! : -1
    if (digit < 0) return undefined
    let carry = digit
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j]! * 58
      bytes[j] = carry & 0xff
      carry >>= 8
    }
    while (carry > 0) {
      bytes.push(carry & 0xff)
      carry >>= 8
    }
  }
  const out = new Uint8Array(ones + bytes.length)
  for (let j = 0; j < bytes.length; j++) out[out.length - 1 - j] = bytes[j]!
  return out
}

/**
 * Whether every character of `text` is in the base58btc alphabet (linear time; no decoding).
 *
 * @since 0.1.0
 * @category guards
 */
export const isAlphabet = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 128 || digitOf[code]! < 0) return false
  }
  return true
}

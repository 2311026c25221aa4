/**
 * Small helpers on byte strings (`Uint8Array`) that every layer needs: equality, ordering,
 * concatenation and hexadecimal.
 *
 * Pure and total: nothing here allocates more than its result, reads a clock or throws on any
 * input; `fromHex` returns `undefined` for text that is not hex. Encodings with more rules
 * (base32, base58, base64, strict UTF-8) stay with the module whose format needs them.
 *
 * @since 0.1.0
 */

/**
 * Whether `a` and `b` hold the same bytes (lengths included). Not constant-time: never use it to
 * compare secrets.
 *
 * @since 0.1.0
 * @category comparisons
 */
export const equals = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Lexicographic order of unsigned bytes, a shorter prefix first: negative, zero or positive. For
 * two strings of one length this is their order as unsigned big-endian integers.
 *
 * @since 0.1.0
 * @category comparisons
 */
export const compare = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}

/**
 * The parts one after another, in a new array (always a copy, even of a single part).
 *
 * @since 0.1.0
 * @category constructors
 */
export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let size = 0
  for (const part of parts) size += part.length
  const out = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

const hexDigits = "0123456789abcdef"

/**
 * Lower-case hexadecimal, two digits a byte. Also the usual map key for bytes: a `Uint8Array` has
 * no value equality, a string does.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toHex = (bytes: Uint8Array): string => {
  let out = ""
  for (const byte of bytes) out += hexDigits[byte >>> 4]! + hexDigits[byte & 15]!
  return out
}

/**
 * Bytes from even-length hexadecimal, either case; `undefined` for an odd length or a character
 * that is not a hex digit.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromHex = (text: string): Uint8Array | undefined => {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16)
  return out
}

/**
 * Bytes from even-length lower-case hexadecimal, the canonical form `toHex` writes; `undefined`
 * for anything else (upper case included). Use it to turn a hex map key back into bytes, where
 * accepting another spelling of the same bytes would let two keys name one value.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromLowerHex = (text: string): Uint8Array | undefined =>
  /^[0-9a-f]*$/.test(text) ? fromHex(text) : undefined

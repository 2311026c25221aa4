/**
 * Byte encodings for the UCAN module: RFC 4648 base32 (lower case, unpadded, the multibase `b`
 * alphabet), base64 (standard alphabet, padding optional on input) and strict UTF-8.
 *
 * Pure and total on valid input; the decoders return `undefined` on anything that is not exactly
 * one canonical spelling (wrong alphabet, bad length, non-zero trailing bits), never throw.
 *
 * Hex, equality and concatenation live in `src/core/Bytes.ts`.
 *
 * @since 0.1.0
 */

const BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

const reverse = (alphabet: string): Int8Array => {
  const table = new Int8Array(128).fill(-1)
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i
  return table
}
const BASE32_LOOKUP = reverse(BASE32_ALPHABET)
const BASE64_LOOKUP = reverse(BASE64_ALPHABET)

/**
 * Encodes bytes with a power-of-two alphabet (`bits` per character), without padding.
 */
const encodeBits = (bytes: Uint8Array, alphabet: string, bits: number): string => {
  const mask = (1 << bits) - 1
  let out = ""
  let buffer = 0
  let held = 0
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte
    held += 8
    while (held >= bits) {
      held -= bits
      out += alphabet[(buffer >>> held) & mask]
    }
    buffer &= (1 << held) - 1 // keep only the bits not yet written, so the buffer never overflows
  }
  if (held > 0) out += alphabet[(buffer << (bits - held)) & mask]
  return out
}

/**
 * The inverse of `encodeBits`. Rejects characters outside the alphabet, a length no encoder
 * produces, and non-zero padding bits (so each byte string has exactly one text form).
 */
const decodeBits = (text: string, lookup: Int8Array, bits: number): Uint8Array | undefined => {
  const out = new Uint8Array(Math.floor((text.length * bits) / 8))
  let buffer = 0
  let held = 0
  let written = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const value = code < 128 ? lookup[code]! : -1
    if (value < 0) return undefined
    buffer = ((buffer << bits) | value) & 0xffff
    held += bits
    if (held >= 8) {
      held -= 8
      out[written++] = (buffer >>> held) & 0xff
    }
  }
  // Leftover bits must be fewer than `bits` (else the length is impossible) and all zero.
  if (held >= bits || (buffer & ((1 << held) - 1)) !== 0) return undefined
  return out
}

/**
 * RFC 4648 base32, lower case, no padding (multibase prefix `b` not included).
 *
 * @since 0.1.0
 * @category encoding
 */
export const base32Encode = (bytes: Uint8Array): string => encodeBits(bytes, BASE32_ALPHABET, 5)

/**
 * Parses lower-case unpadded base32; `undefined` for any other spelling.
 *
 * @since 0.1.0
 * @category encoding
 */
export const base32Decode = (text: string): Uint8Array | undefined => decodeBits(text, BASE32_LOOKUP, 5)

/**
 * RFC 4648 base64 with the standard alphabet; `pad` adds `=` to a multiple of four characters.
 *
 * @since 0.1.0
 * @category encoding
 */
export const base64Encode = (bytes: Uint8Array, pad = true): string => {
  const text = encodeBits(bytes, BASE64_ALPHABET, 6)
  return pad ? text + "=".repeat((4 - (text.length % 4)) % 4) : text
}

/**
 * Parses standard-alphabet base64, padded or not (the DAG-JSON `bytes` form is unpadded, the
 * fixtures' principals are padded); `undefined` for anything else.
 *
 * @since 0.1.0
 * @category encoding
 */
export const base64Decode = (text: string): Uint8Array | undefined => {
  let end = text.length
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--
  const padding = text.length - end
  if (padding > 2 || (padding > 0 && text.length % 4 !== 0)) return undefined
  return decodeBits(text.slice(0, end), BASE64_LOOKUP, 6)
}

const utf8Encoder = new TextEncoder()
const utf8StrictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * UTF-8 bytes of a string.
 *
 * @since 0.1.0
 * @category encoding
 */
export const utf8 = (text: string): Uint8Array => utf8Encoder.encode(text)

/**
 * Strict UTF-8 decoding: `undefined` for malformed input (no replacement characters).
 *
 * @since 0.1.0
 * @category encoding
 */
export const utf8DecodeStrict = (bytes: Uint8Array): string | undefined => {
  try {
    return utf8StrictDecoder.decode(bytes)
  } catch {
    return undefined
  }
}

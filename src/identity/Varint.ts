/**
 * Unsigned LEB128 varints as multiformats uses them (multicodec prefixes): seven bits per byte,
 * least significant group first, high bit set on every byte but the last.
 *
 * Decoding is strict, as multiformats requires: at most 9 bytes, and minimal (no trailing
 * `0x00` group after a continuation), so every value has exactly one encoding.
 *
 * @since 0.1.0
 */

/**
 * Most bytes a multiformats varint may take (63 bits of payload).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBytes = 9

/**
 * The outcome of `decode`: the value and how many bytes it used, or why it failed.
 *
 * @since 0.1.0
 * @category models
 */
export type Decoded =
  | { readonly _tag: "Ok"; readonly value: number; readonly length: number }
  | { readonly _tag: "Truncated" }
  | { readonly _tag: "TooLong" }
  | { readonly _tag: "NonMinimal" }
  | { readonly _tag: "Unsafe" }

/**
 * Encodes a non-negative safe integer.
 *
 * @example
 * ```ts
 * Varint.encode(0xed) // Uint8Array [0xed, 0x01]
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (value: number): Uint8Array => {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not an unsigned safe integer: ${value}`)
  const out: Array<number> = []
  let rest = value
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  out.push(rest)
  return Uint8Array.from(out)
}

/**
 * Decodes the varint that starts at `offset`. Values above `Number.MAX_SAFE_INTEGER` are
 * reported as `Unsafe` rather than rounded.
 *
 * @since 0.1.0
 * @category encoding
 */
export const decode = (bytes: Uint8Array, offset = 0): Decoded => {
  let value = 0
  let scale = 1
  for (let i = 0; i < maxBytes; i++) {
    const byte = bytes[offset + i]
    if (byte === undefined) return { _tag: "Truncated" }
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) {
      // A final 0x00 after at least one byte adds nothing: a shorter encoding exists.
      if (byte === 0 && i > 0) return { _tag: "NonMinimal" }
      if (!Number.isSafeInteger(value)) return { _tag: "Unsafe" }
      return { _tag: "Ok", value, length: i + 1 }
    }
    scale *= 0x80
  }
  return { _tag: "TooLong" }
}

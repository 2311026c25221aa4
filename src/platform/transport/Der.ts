/**
 * The few DER (ITU-T X.690) pieces a self-signed Ed25519 certificate needs: definite-length TLV
 * encoding of the universal types we emit, and a bounds-checked TLV reader for parsing a peer's
 * certificate.
 *
 * Invariant: the reader never throws and never reads outside the input; every malformed length
 * (indefinite, non-minimal, longer than the input) yields `undefined`. Not here: BER, high tag
 * numbers (≥ 31), any type beyond what X.509 with Ed25519 uses.
 *
 * @since 0.1.0
 */

/**
 * Universal and context tags used by X.509 (the full identifier octet).
 *
 * @since 0.1.0
 * @category constants
 */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
  /** `[n]` constructed, context-specific: `context(0)` is `0xa0`. */
  context: (n: number): number => 0xa0 | n
} as const

const lengthOctets = (length: number): Array<number> => {
  if (length < 0x80) return [length]
  const bytes: Array<number> = []
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff)
  return [0x80 | bytes.length, ...bytes]
}

/**
 * One TLV: `tag`, the definite length, then the concatenated `contents`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const tlv = (tag: number, ...contents: ReadonlyArray<Uint8Array>): Uint8Array => {
  const size = contents.reduce((n, c) => n + c.length, 0)
  const head = [tag, ...lengthOctets(size)]
  const out = new Uint8Array(head.length + size)
  out.set(head, 0)
  let at = head.length
  for (const c of contents) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/**
 * A SEQUENCE of already encoded elements.
 *
 * @since 0.1.0
 * @category encoding
 */
export const sequence = (...elements: ReadonlyArray<Uint8Array>): Uint8Array => tlv(Tag.sequence, ...elements)

/**
 * An OBJECT IDENTIFIER from its dotted arcs (first arc 0..2).
 *
 * @since 0.1.0
 * @category encoding
 */
export const oid = (dotted: string): Uint8Array => {
  const arcs = dotted.split(".").map(Number)
  const [a = 0, b = 0, ...rest] = arcs
  const out: Array<number> = [a * 40 + b]
  for (const arc of rest) {
    const groups: Array<number> = [arc & 0x7f]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80)
    out.push(...groups)
  }
  return tlv(Tag.oid, Uint8Array.from(out))
}

/**
 * A positive INTEGER from big-endian magnitude bytes, made minimal (a leading 0x00 is added when
 * the top bit is set, redundant leading zeros are dropped).
 *
 * @since 0.1.0
 * @category encoding
 */
export const unsignedInteger = (magnitude: Uint8Array): Uint8Array => {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  const body = magnitude.subarray(start)
  return (body[0] ?? 0) & 0x80 ? tlv(Tag.integer, Uint8Array.of(0), body) : tlv(Tag.integer, body)
}

/**
 * A BIT STRING holding whole bytes (zero unused bits).
 *
 * @since 0.1.0
 * @category encoding
 */
export const bitString = (bytes: Uint8Array): Uint8Array => tlv(Tag.bitString, Uint8Array.of(0), bytes)

/**
 * A UTF8String.
 *
 * @since 0.1.0
 * @category encoding
 */
export const utf8String = (text: string): Uint8Array => tlv(Tag.utf8String, new TextEncoder().encode(text))

/**
 * An X.509 `Time` (RFC 5280 §4.1.2.5): UTCTime for years 1950–2049, GeneralizedTime otherwise,
 * always in seconds and `Z`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const time = (unixMs: number): Uint8Array => {
  const d = new Date(Math.floor(unixMs / 1000) * 1000)
  const two = (n: number) => String(n).padStart(2, "0")
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}` +
    `${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`
  const year = d.getUTCFullYear()
  const ascii = (s: string) => new TextEncoder().encode(s)
  return year >= 1950 && year < 2050
    ? tlv(Tag.utcTime, ascii(`${two(year % 100)}${rest}`))
    : tlv(Tag.generalizedTime, ascii(`${String(year).padStart(4, "0")}${rest}`))
}

/**
 * One parsed TLV: its tag, where its contents start and end, and where the whole element
 * (header included) starts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Element {
  readonly tag: number
  readonly start: number
  readonly contentStart: number
  readonly end: number
}

/**
 * Reads the TLV at `offset`, which must end at or before `limit`. `undefined` for anything not
 * strict DER: a high tag number, an indefinite or non-minimal length, a length past `limit`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const read = (bytes: Uint8Array, offset: number, limit: number = bytes.length): Element | undefined => {
  if (offset + 2 > limit) return undefined
  const tag = bytes[offset]!
  if ((tag & 0x1f) === 0x1f) return undefined
  const first = bytes[offset + 1]!
  let length: number
  let contentStart: number
  if (first < 0x80) {
    length = first
    contentStart = offset + 2
  } else {
    const count = first & 0x7f
    if (count === 0 || count > 4 || offset + 2 + count > limit) return undefined
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i]!
    // Minimal: long form only from 128, and no leading zero octet.
    if (length < 0x80 || bytes[offset + 2] === 0) return undefined
    contentStart = offset + 2 + count
  }
  const end = contentStart + length
  if (end > limit) return undefined
  return { tag, start: offset, contentStart, end }
}

/**
 * The elements directly inside a constructed element, which must fill it exactly; `undefined`
 * if any child is malformed.
 *
 * @since 0.1.0
 * @category decoding
 */
export const children = (bytes: Uint8Array, parent: Element): ReadonlyArray<Element> | undefined => {
  const out: Array<Element> = []
  let at = parent.contentStart
  while (at < parent.end) {
    const child = read(bytes, at, parent.end)
    if (child === undefined) return undefined
    out.push(child)
    at = child.end
  }
  return out
}

/**
 * The pre-scan of PROTOCOL.md §4.2: one walk over a frame body, before msgpack decoding, that
 * proves the decoder will only ever see a well-formed, bounded value.
 *
 * Key invariant: the walk allocates nothing proportional to what a header *declares*; it
 * checks every declared length against the bytes actually remaining, so a 4 GiB array
 * announced in 5 bytes, or 10 000 nested arrays, is rejected in a few steps. It is iterative
 * (an explicit stack bounded by `maxDecodeDepth`), so hostile nesting cannot overflow the call
 * stack. The small work arrays it keeps are reused across calls and grow only with real,
 * already-present content (the keys of open maps).
 *
 * A body passes iff: the top level is a map; the value ends exactly at `end`; nesting is at
 * most `maxDecodeDepth`; every str/bin/array/map length fits in the bytes remaining; no array
 * or map declares more than `maxCollectionEntries` entries; no 0xc1 byte appears as a type;
 * no extension type (so no timestamps, no records) appears; every map key is a str and keys
 * are unique per map (compared by content, whatever their header); every str is valid UTF-8.
 *
 * It does not decode values and does not check field types: that is the catalogue's job after
 * msgpack decoding. It reports, without rejecting, whether an int64 outside ±(2^53−1)
 * appeared, because §14 row 9 makes that an `invalid_field`, decided after `t` is known.
 *
 * @since 0.1.0
 */
import type { CodecConfig } from "./CodecConfig.ts"
import * as DecodeError from "./DecodeError.ts"

/**
 * Scan outcome: `ok`, `okWideInteger`, or one of the failure codes below (all `malformed_frame`).
 *
 * @since 0.1.0
 * @category models
 */
export type ScanResult = number

/**
 * The body is well formed.
 *
 * @since 0.1.0
 * @category constants
 */
export const ok: ScanResult = 0

/**
 * The body is well formed but holds an int64 outside ±(2^53−1) (§4.3); decoding turns this
 * into `invalid_field` once the frame type is known.
 *
 * @since 0.1.0
 * @category constants
 */
export const okWideInteger: ScanResult = 1

const EMPTY = 2
const NOT_A_MAP = 3
const TRUNCATED = 4
const TRAILING = 5
const TOO_DEEP = 6
const TOO_MANY_ENTRIES = 7
const LENGTH_EXCEEDS = 8
const NEVER_USED = 9
const EXTENSION = 10
const KEY_NOT_STR = 11
const DUPLICATE_KEY = 12
const BAD_UTF8 = 13
const TOO_BIG = 14

/**
 * The failure codes a scan can return, by name (every one is a `malformed_frame`). The fused
 * decoder (`Decoder.ts`) reports the same codes, so `describe` words both alike.
 *
 * @since 0.1.0
 * @category constants
 */
export const failures = {
  emptyBody: EMPTY,
  notAMap: NOT_A_MAP,
  truncated: TRUNCATED,
  trailingBytes: TRAILING,
  tooDeep: TOO_DEEP,
  tooManyEntries: TOO_MANY_ENTRIES,
  lengthExceeds: LENGTH_EXCEEDS,
  neverUsed: NEVER_USED,
  extension: EXTENSION,
  keyNotStr: KEY_NOT_STR,
  duplicateKey: DUPLICATE_KEY,
  badUtf8: BAD_UTF8,
  tooBig: TOO_BIG
} as const satisfies Readonly<Record<string, ScanResult>>

const details: ReadonlyArray<string> = [
  "well formed",
  "well formed (wide integer)",
  "empty body",
  "top level is not a map",
  "value runs past the end of the frame",
  "trailing bytes after the top-level map",
  "nesting deeper than maxDecodeDepth",
  "collection declares more than maxCollectionEntries entries",
  "declared length exceeds the bytes remaining",
  "byte 0xc1 (never used) as a type",
  "extension type (ext, fixext, timestamp or record)",
  "map key is not a str",
  "duplicate map key",
  "str is not valid UTF-8",
  "body of 2 GiB or more"
]

/**
 * Whether a scan result admits decoding.
 *
 * @since 0.1.0
 * @category guards
 */
export const isOk = (result: ScanResult): boolean => result <= okWideInteger

/**
 * The words for a scan result, used as the `detail` of the `malformed_frame` it causes.
 *
 * @since 0.1.0
 * @category getters
 */
export const describe = (result: ScanResult): string => details[result] ?? "unknown scan result"

// Work arrays, reused across scans. `left[d]` counts the elements (array items, map entries)
// still expected by the container open at depth d; `mapAt[d]` is 1 for maps (`mapAt[0]`
// stays 0: the top level is a lone value); `keyBase[d]` is where that map's keys start in
// `keys`. Counts fit in 32 bits: bodies are below 2^31 bytes and every element takes at
// least one byte.
let left = new Int32Array(33)
let mapAt = new Uint8Array(33)
let keyBase = new Int32Array(33)
// Offsets (of the str header) of the keys of every map still open, innermost last, and a
// cheap signature of each (length and first bytes): different signatures, different keys.
let keys = new Int32Array(256)
let keySigs = new Int32Array(256)
// The body being scanned, for the key comparator used when sorting big maps.
const NO_BYTES = new Uint8Array(0)
let scanning: Uint8Array = NO_BYTES

const ensureDepth = (maxDepth: number): void => {
  if (left.length > maxDepth) return
  left = new Int32Array(maxDepth + 1)
  mapAt = new Uint8Array(maxDepth + 1)
  keyBase = new Int32Array(maxDepth + 1)
}

const pushKey = (top: number, offset: number, sig: number): void => {
  if (top === keys.length) {
    const grown = new Int32Array(keys.length * 2)
    grown.set(keys)
    keys = grown
    const grownSigs = new Int32Array(keySigs.length * 2)
    grownSigs.set(keySigs)
    keySigs = grownSigs
  }
  keys[top] = offset
  keySigs[top] = sig
}

/** Start of the content of the str whose header is at `at` (the header was checked). */
const strStart = (src: Uint8Array, at: number): number => {
  const tag = src[at]!
  return tag === 0xd9 ? at + 2 : tag === 0xda ? at + 3 : tag === 0xdb ? at + 5 : at + 1
}

/** Length of the str whose header is at `at` (the header was checked). */
const strLength = (src: Uint8Array, at: number): number => {
  const tag = src[at]!
  if (tag === 0xd9) return src[at + 1]!
  if (tag === 0xda) return (src[at + 1]! << 8) | src[at + 2]!
  if (tag === 0xdb) return src[at + 1]! * 0x100_0000 + ((src[at + 2]! << 16) | (src[at + 3]! << 8) | src[at + 4]!)
  return tag & 0x1f
}

/** Orders keys by length, then bytes; 0 means same content. */
const compareKeys = (a: number, b: number): number => {
  const src = scanning
  const la = strLength(src, a)
  const lb = strLength(src, b)
  if (la !== lb) return la - lb
  let i = strStart(src, a)
  let j = strStart(src, b)
  const stop = i + la
  for (; i < stop; i++, j++) {
    const d = src[i]! - src[j]!
    if (d !== 0) return d
  }
  return 0
}

/** Whether the keys `keys[from..to)` of one map are pairwise distinct. */
const distinctKeys = (src: Uint8Array, from: number, to: number): boolean => {
  const n = to - from
  if (n < 2) return true
  scanning = src
  let distinct = true
  if (n <= 16) {
    for (let i = from + 1; i < to && distinct; i++) {
      const sig = keySigs[i]!
      for (let j = from; j < i; j++) {
        if (keySigs[j] === sig && compareKeys(keys[i]!, keys[j]!) === 0) {
          distinct = false
          break
        }
      }
    }
  } else {
    // Sorting keeps a map of n keys at O(n log n) comparisons whatever the keys are.
    const sorted = keys.subarray(from, to).sort(compareKeys)
    for (let i = 1; i < n; i++) {
      if (compareKeys(sorted[i - 1]!, sorted[i]!) === 0) {
        distinct = false
        break
      }
    }
  }
  scanning = NO_BYTES // hold no reference to the body once done
  return distinct
}

/**
 * Whether `src[i..end)` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
 * The one definition of valid UTF-8 on this wire, shared with the fused decoder.
 *
 * @since 0.1.0
 * @category guards
 */
export const validUtf8 = (src: Uint8Array, i: number, end: number): boolean => {
  while (i < end) {
    const c = src[i]!
    if (c < 0x80) {
      i++
      continue
    }
    if (c < 0xc2) return false
    if (c < 0xe0) {
      if (i + 1 >= end || (src[i + 1]! & 0xc0) !== 0x80) return false
      i += 2
      continue
    }
    if (c < 0xf0) {
      if (i + 2 >= end) return false
      const c1 = src[i + 1]!
      if ((c1 & 0xc0) !== 0x80 || (src[i + 2]! & 0xc0) !== 0x80) return false
      if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 >= 0xa0)) return false
      i += 3
      continue
    }
    if (c < 0xf5) {
      if (i + 3 >= end) return false
      const c1 = src[i + 1]!
      if ((c1 & 0xc0) !== 0x80 || (src[i + 2]! & 0xc0) !== 0x80 || (src[i + 3]! & 0xc0) !== 0x80) return false
      if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 >= 0x90)) return false
      i += 4
      continue
    }
    return false
  }
  return true
}

const u32At = (src: Uint8Array, at: number): number =>
  src[at]! * 0x100_0000 + ((src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!)

/**
 * Scans the msgpack body `src[start..end)`. Returns `ok`, `okWideInteger` or a failure code
 * (see `describe`). Never throws and never allocates in proportion to declared lengths.
 *
 * @since 0.1.0
 * @category scanning
 */
export const scan = (
  src: Uint8Array,
  start: number,
  end: number,
  maxDepth: number,
  maxEntries: number
): ScanResult => {
  const result = walk(src, start, end, maxDepth, maxEntries)
  if (keys.length > KEEP_KEYS) {
    // A body with very many keys grew the key arrays; do not keep that memory around.
    keys = new Int32Array(KEEP_KEYS)
    keySigs = new Int32Array(KEEP_KEYS)
  }
  return result
}

const KEEP_KEYS = 4_096

const walk = (
  src: Uint8Array,
  start: number,
  end: number,
  maxDepth: number,
  maxEntries: number
): ScanResult => {
  if (start >= end) return EMPTY
  if (end - start > 0x7fff_ffff) return TOO_BIG
  const first = src[start]!
  if ((first & 0xf0) !== 0x80 && first !== 0xde && first !== 0xdf) return NOT_A_MAP
  ensureDepth(maxDepth)
  const counts = left
  const maps = mapAt
  const bases = keyBase
  let pos = start
  let depth = 0
  let keyTop = 0
  let wide = false
  // Each turn reads one element of the innermost open container: a value, or for a map a
  // key and its value. `counts[d]` is the number of elements still expected at depth d.
  for (;;) {
    if (pos >= end) return TRUNCATED
    let tag = src[pos]!
    if (maps[depth] === 1) {
      // A map key: a str, checked like any str, and remembered for the duplicate check.
      let length: number
      let body: number
      if ((tag & 0xe0) === 0xa0) {
        length = tag & 0x1f
        body = pos + 1
      } else if (tag === 0xd9) {
        if (end - pos < 2) return TRUNCATED
        length = src[pos + 1]!
        body = pos + 2
      } else if (tag === 0xda) {
        if (end - pos < 3) return TRUNCATED
        length = (src[pos + 1]! << 8) | src[pos + 2]!
        body = pos + 3
      } else if (tag === 0xdb) {
        if (end - pos < 5) return TRUNCATED
        length = u32At(src, pos + 1)
        body = pos + 5
      } else {
        return KEY_NOT_STR
      }
      const next = body + length
      if (length > end - body || next >= end) return length > end - body ? LENGTH_EXCEEDS : TRUNCATED
      // Signature: length and up to 3 leading bytes; equal keys get equal signatures.
      let sig = (length & 0xff) << 24
      let i = body
      for (; i < next; i++) {
        const c = src[i]!
        if (c >= 0x80) break
        if (i < body + 3) sig |= c << (16 - 8 * (i - body))
      }
      if (i < next && !validUtf8(src, i, next)) return BAD_UTF8
      pushKey(keyTop++, pos, sig)
      pos = next
      tag = src[pos]!
    }
    if (tag < 0x80 || tag >= 0xe0 || tag === 0xc0 || tag === 0xc2 || tag === 0xc3) {
      pos++ // fixint, negative fixint, nil, false, true
    } else if (tag < 0xa0 || tag >= 0xdc) {
      // A container: fixmap, fixarray, array16/32, map16/32 (0xe0 and up were taken above).
      const isMap = tag < 0x90 || tag >= 0xde
      let entries: number
      if (tag < 0xa0) {
        entries = tag & 0x0f
        pos += 1
      } else if (tag === 0xdc || tag === 0xde) {
        if (end - pos < 3) return TRUNCATED
        entries = (src[pos + 1]! << 8) | src[pos + 2]!
        pos += 3
      } else {
        if (end - pos < 5) return TRUNCATED
        entries = u32At(src, pos + 1)
        pos += 5
      }
      if (depth >= maxDepth) return TOO_DEEP
      if (entries > maxEntries) return TOO_MANY_ENTRIES
      // Every array element takes at least one byte, every map entry at least two.
      if ((isMap ? entries * 2 : entries) > end - pos) return LENGTH_EXCEEDS
      if (entries > 0) {
        depth++
        counts[depth] = entries
        maps[depth] = isMap ? 1 : 0
        bases[depth] = keyTop
        continue
      }
    } else if (tag < 0xc0 || tag >= 0xd9) {
      // A str value: fixstr, str8/16/32 (0xdc and up were taken above).
      let length: number
      let body: number
      if (tag < 0xc0) {
        length = tag & 0x1f
        body = pos + 1
      } else if (tag === 0xd9) {
        if (end - pos < 2) return TRUNCATED
        length = src[pos + 1]!
        body = pos + 2
      } else if (tag === 0xda) {
        if (end - pos < 3) return TRUNCATED
        length = (src[pos + 1]! << 8) | src[pos + 2]!
        body = pos + 3
      } else {
        if (end - pos < 5) return TRUNCATED
        length = u32At(src, pos + 1)
        body = pos + 5
      }
      if (length > end - body) return LENGTH_EXCEEDS
      const next = body + length
      let i = body
      while (i < next && src[i]! < 0x80) i++
      if (i < next && !validUtf8(src, i, next)) return BAD_UTF8
      pos = next
    } else {
      switch (tag) {
        case 0xc1:
          return NEVER_USED
        case 0xc4: {
          if (end - pos < 2) return TRUNCATED
          const length = src[pos + 1]!
          pos += 2
          if (length > end - pos) return LENGTH_EXCEEDS
          pos += length
          break
        }
        case 0xc5: {
          if (end - pos < 3) return TRUNCATED
          const length = (src[pos + 1]! << 8) | src[pos + 2]!
          pos += 3
          if (length > end - pos) return LENGTH_EXCEEDS
          pos += length
          break
        }
        case 0xc6: {
          if (end - pos < 5) return TRUNCATED
          const length = u32At(src, pos + 1)
          pos += 5
          if (length > end - pos) return LENGTH_EXCEEDS
          pos += length
          break
        }
        case 0xca:
        case 0xce:
        case 0xd2:
          if (end - pos < 5) return TRUNCATED
          pos += 5
          break
        case 0xcb:
          if (end - pos < 9) return TRUNCATED
          pos += 9
          break
        case 0xcc:
        case 0xd0:
          if (end - pos < 2) return TRUNCATED
          pos += 2
          break
        case 0xcd:
        case 0xd1:
          if (end - pos < 3) return TRUNCATED
          pos += 3
          break
        case 0xcf:
        case 0xd3: {
          if (end - pos < 9) return TRUNCATED
          // 2^53−1 is 0x001F_FFFF_FFFF_FFFF: the high word decides, except at −2^53.
          const high = (src[pos + 1]! << 24) | (src[pos + 2]! << 16) | (src[pos + 3]! << 8) | src[pos + 4]!
          if (tag === 0xcf) {
            if (high >>> 0 > 0x1f_ffff) wide = true
          } else if (high > 0x1f_ffff || high < -0x20_0000 || (high === -0x20_0000 && u32At(src, pos + 5) === 0)) {
            wide = true
          }
          pos += 9
          break
        }
        default:
          // 0xc7–0xc9 ext 8/16/32 and 0xd4–0xd8 fixext: no extension types on this wire.
          return EXTENSION
      }
    }
    // One element completed: close every container it completes.
    while (depth > 0) {
      const remaining = counts[depth]! - 1
      counts[depth] = remaining
      if (remaining > 0) break
      if (maps[depth] === 1) {
        const base = bases[depth]!
        if (keyTop - base > 1 && !distinctKeys(src, base, keyTop)) return DUPLICATE_KEY
        keyTop = base
      }
      depth--
    }
    if (depth === 0) break
  }
  if (pos !== end) return TRAILING
  return wide ? okWideInteger : ok
}

/**
 * Scans a whole body with the limits of `config`; `undefined` when it passes (wide integers
 * included), else the `malformed_frame` error it earns.
 *
 * @since 0.1.0
 * @category scanning
 */
export const check = (
  body: Uint8Array,
  config: CodecConfig
): DecodeError.DecodeError | undefined => {
  const result = scan(body, 0, body.length, config.maxDecodeDepth, config.maxCollectionEntries)
  return isOk(result) ? undefined : DecodeError.make("malformed_frame", describe(result))
}

/**
 * Field checks shared by the frame catalogue and the signed bodies: one small function per
 * wire type of PROTOCOL.md §0.2 (`u`, `str`, `bool`, `bin`, `binN`, lists, `any`, …).
 *
 * Key invariant: a check never throws, whatever it is given; it returns the field's value
 * (or a placeholder) and, on the first mismatch since `reset`, records one problem naming the
 * field. Callers build the whole frame, then ask `problem()` once, so the happy path pays no
 * allocation for error reporting and no closure per field. Checks take the field's *value*,
 * not the map: each frame's check reads its own fields (`o.id`), so those reads stay
 * monomorphic per frame type instead of sharing one megamorphic site here.
 *
 * The problem slot is module state. That is safe because every check is synchronous and no
 * check calls back into user code; a caller must `reset` before checking a frame and read
 * `problem` before checking the next one.
 *
 * It does not decide error codes; the codec turns a problem into `invalid_field` (decoding)
 * or `invalid_frame` (encoding).
 *
 * @since 0.1.0
 */
import type { Any, Authority, Contact, InterestEntry, Signed } from "./Frame.ts"

/**
 * A decoded msgpack map, before its fields are checked.
 *
 * @since 0.1.0
 * @category models
 */
export type WireMap = { readonly [key: string]: unknown }

let found: string | undefined

/**
 * Forgets any recorded problem; call before checking a frame.
 *
 * @since 0.1.0
 * @category state
 */
export const reset = (): void => {
  found = undefined
}

/**
 * The first problem recorded since `reset`, if any.
 *
 * @since 0.1.0
 * @category state
 */
export const problem = (): string | undefined => found

/**
 * Records a problem with the field at `path`, unless one is already recorded.
 *
 * @since 0.1.0
 * @category state
 */
export const fail = (path: string, what: string): void => {
  if (found === undefined) found = `${path}: ${what}`
}

const failField = (path: string, value: unknown, expected: string): void => {
  fail(path, value === undefined ? "missing" : `expected ${expected}`)
}

const EMPTY_BYTES = new Uint8Array(0)
const EMPTY_LIST: ReadonlyArray<never> = []
const EMPTY_MAP: WireMap = {}
const EMPTY_SIGNED: Signed = { b: EMPTY_BYTES, s: EMPTY_BYTES }
const EMPTY_CONTACT: Contact = { pk: EMPTY_BYTES, a: EMPTY_LIST }

/**
 * Whether `x` is a protocol integer, 0..2^53−1.
 *
 * @since 0.1.0
 * @category guards
 */
export const isU = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0

/**
 * Whether `x` is a string-keyed map as msgpack decodes it (not an array, not bytes).
 *
 * @since 0.1.0
 * @category guards
 */
export const isMap = (x: unknown): x is WireMap =>
  typeof x === "object" && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x)

/**
 * UTF-8 length of a string, in bytes (lone surrogates count as the 3 bytes of U+FFFD).
 *
 * @since 0.1.0
 * @category getters
 */
export const utf8Length = (s: string): number => {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      n += 1
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2 // a surrogate pair: 4 bytes for 2 code units
      i++
    } else {
      n += 2
    }
  }
  return n
}

/**
 * Required `u`.
 *
 * @since 0.1.0
 * @category fields
 */
export const u = (x: unknown, k: string): number => {
  if (isU(x)) return x
  failField(k, x, "u (0..2^53-1)")
  return 0
}

/**
 * Optional `u` (nil = absent).
 *
 * @since 0.1.0
 * @category fields
 */
export const optU = (x: unknown, k: string): number | undefined => {
  if (x === undefined || x === null) return undefined
  if (isU(x)) return x
  fail(k, "expected u (0..2^53-1)")
  return undefined
}

/**
 * Required `str`.
 *
 * @since 0.1.0
 * @category fields
 */
export const str = (x: unknown, k: string): string => {
  if (typeof x === "string") return x
  failField(k, x, "str")
  return ""
}

/**
 * Optional `str`.
 *
 * @since 0.1.0
 * @category fields
 */
export const optStr = (x: unknown, k: string): string | undefined => {
  if (x === undefined || x === null) return undefined
  if (typeof x === "string") return x
  fail(k, "expected str")
  return undefined
}

/**
 * Optional `str` of at most `maxBytes` UTF-8 bytes.
 *
 * @since 0.1.0
 * @category fields
 */
export const optStrMax = (x: unknown, k: string, maxBytes: number): string | undefined => {
  const s = optStr(x, k)
  if (s !== undefined && s.length > maxBytes / 3 && utf8Length(s) > maxBytes) fail(k, `longer than ${maxBytes} bytes`)
  return s
}

/**
 * Whether `x` is one of `allowed` (a short list, compared with `===`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isOneOf = <A extends string>(x: unknown, allowed: ReadonlyArray<A>): x is A => {
  if (typeof x !== "string") return false
  for (let i = 0; i < allowed.length; i++) if (allowed[i] === x) return true
  return false
}

/**
 * Required `str` from a fixed list.
 *
 * @since 0.1.0
 * @category fields
 */
export const oneOf = <A extends string>(x: unknown, k: string, allowed: ReadonlyArray<A>): A => {
  if (isOneOf(x, allowed)) return x
  failField(k, x, `one of ${allowed.join(" | ")}`)
  return allowed[0]!
}

/**
 * Optional `str` from a fixed list.
 *
 * @since 0.1.0
 * @category fields
 */
export const optOneOf = <A extends string>(x: unknown, k: string, allowed: ReadonlyArray<A>): A | undefined => {
  if (x === undefined || x === null) return undefined
  if (isOneOf(x, allowed)) return x
  fail(k, `expected one of ${allowed.join(" | ")}`)
  return undefined
}

/**
 * Required `bool`.
 *
 * @since 0.1.0
 * @category fields
 */
export const bool = (x: unknown, k: string): boolean => {
  if (typeof x === "boolean") return x
  failField(k, x, "bool")
  return false
}

/**
 * Optional `bool`.
 *
 * @since 0.1.0
 * @category fields
 */
export const optBool = (x: unknown, k: string): boolean | undefined => {
  if (x === undefined || x === null) return undefined
  if (typeof x === "boolean") return x
  fail(k, "expected bool")
  return undefined
}

/**
 * Optional literal `true` (e.g. `nf`).
 *
 * @since 0.1.0
 * @category fields
 */
export const optTrue = (x: unknown, k: string): true | undefined => {
  if (x === undefined || x === null) return undefined
  if (x === true) return true
  fail(k, "expected true")
  return undefined
}

/**
 * Required `bin` of any length.
 *
 * @since 0.1.0
 * @category fields
 */
export const bin = (x: unknown, k: string): Uint8Array => {
  if (x instanceof Uint8Array) return x
  failField(k, x, "bin")
  return EMPTY_BYTES
}

/**
 * Optional `bin` of any length.
 *
 * @since 0.1.0
 * @category fields
 */
export const optBin = (x: unknown, k: string): Uint8Array | undefined => {
  if (x === undefined || x === null) return undefined
  if (x instanceof Uint8Array) return x
  fail(k, "expected bin")
  return undefined
}

/**
 * Required `bin` of at most `max` bytes.
 *
 * @since 0.1.0
 * @category fields
 */
export const binMax = (x: unknown, k: string, max: number): Uint8Array => {
  const b = bin(x, k)
  if (b.length > max) fail(k, `bin longer than ${max} bytes`)
  return b
}

/**
 * Required `binN`: exactly `n` bytes.
 *
 * @since 0.1.0
 * @category fields
 */
export const binN = (x: unknown, k: string, n: number): Uint8Array => {
  if (x instanceof Uint8Array && x.length === n) return x
  failField(k, x, `bin${n}`)
  return EMPTY_BYTES
}

/**
 * Optional `binN`.
 *
 * @since 0.1.0
 * @category fields
 */
export const optBinN = (x: unknown, k: string, n: number): Uint8Array | undefined => {
  if (x === undefined || x === null) return undefined
  if (x instanceof Uint8Array && x.length === n) return x
  fail(k, `expected bin${n}`)
  return undefined
}

/**
 * Required string-keyed map.
 *
 * @since 0.1.0
 * @category fields
 */
export const map = (x: unknown, k: string): WireMap => {
  if (isMap(x)) return x
  failField(k, x, "map")
  return EMPTY_MAP
}

/**
 * Required `any` payload: present, whatever its value (nil included).
 *
 * @since 0.1.0
 * @category fields
 */
export const any = (x: unknown, k: string): Any => {
  if (x !== undefined) return x as Any
  fail(k, "missing")
  return null
}

/**
 * Optional `any` payload (nil = absent).
 *
 * @since 0.1.0
 * @category fields
 */
export const optAny = (x: unknown): Any | undefined => (x === undefined || x === null ? undefined : (x as Any))

const list = (x: unknown, k: string): ReadonlyArray<unknown> | undefined => {
  if (Array.isArray(x)) return x
  failField(k, x, "array")
  return undefined
}

const optList = (x: unknown, k: string): ReadonlyArray<unknown> | undefined => {
  if (x === undefined || x === null) return undefined
  if (Array.isArray(x)) return x
  fail(k, "expected array")
  return undefined
}

/** `k`, `k[i]` or `k[i].sub`, built only when a problem is recorded. */
const pathOf = (k: string, i: number, sub: string): string => (i < 0 ? k : `${k}[${i}]`) + sub

/**
 * Required `[u]`.
 *
 * @since 0.1.0
 * @category fields
 */
export const listU = (x: unknown, k: string): ReadonlyArray<number> => {
  const xs = list(x, k)
  if (xs === undefined) return EMPTY_LIST
  for (let i = 0; i < xs.length; i++) {
    if (!isU(xs[i])) {
      fail(pathOf(k, i, ""), "expected u (0..2^53-1)")
      break
    }
  }
  return xs as ReadonlyArray<number>
}

const checkStrList = (k: string, xs: ReadonlyArray<unknown>, maxCount: number): ReadonlyArray<string> => {
  if (xs.length > maxCount) fail(k, `more than ${maxCount} entries`)
  for (let i = 0; i < xs.length; i++) {
    if (typeof xs[i] !== "string") {
      fail(pathOf(k, i, ""), "expected str")
      break
    }
  }
  return xs as ReadonlyArray<string>
}

/**
 * Required `[str]`, with at most `maxCount` entries.
 *
 * @since 0.1.0
 * @category fields
 */
export const listStr = (x: unknown, k: string, maxCount = Infinity): ReadonlyArray<string> => {
  const xs = list(x, k)
  return xs === undefined ? EMPTY_LIST : checkStrList(k, xs, maxCount)
}

/**
 * Optional `[str]`.
 *
 * @since 0.1.0
 * @category fields
 */
export const optListStr = (x: unknown, k: string): ReadonlyArray<string> | undefined => {
  const xs = optList(x, k)
  return xs === undefined ? undefined : checkStrList(k, xs, Infinity)
}

/**
 * Required `[str]` whose entries come from a fixed list.
 *
 * @since 0.1.0
 * @category fields
 */
export const listOneOf = <A extends string>(x: unknown, k: string, allowed: ReadonlyArray<A>): ReadonlyArray<A> => {
  const xs = list(x, k)
  if (xs === undefined) return EMPTY_LIST
  for (let i = 0; i < xs.length; i++) {
    if (!isOneOf(xs[i], allowed)) {
      fail(pathOf(k, i, ""), `expected one of ${allowed.join(" | ")}`)
      break
    }
  }
  return xs as ReadonlyArray<A>
}

const isBinList = (x: unknown): x is ReadonlyArray<Uint8Array> => {
  if (!Array.isArray(x)) return false
  for (let i = 0; i < x.length; i++) if (!(x[i] instanceof Uint8Array)) return false
  return true
}

const isStrList = (x: unknown): x is ReadonlyArray<string> => {
  if (!Array.isArray(x)) return false
  for (let i = 0; i < x.length; i++) if (typeof x[i] !== "string") return false
  return true
}

/**
 * Required `[bin]` of any lengths.
 *
 * @since 0.1.0
 * @category fields
 */
export const listBin = (x: unknown, k: string): ReadonlyArray<Uint8Array> => {
  const xs = list(x, k)
  if (xs === undefined) return EMPTY_LIST
  for (let i = 0; i < xs.length; i++) {
    if (!(xs[i] instanceof Uint8Array)) {
      fail(pathOf(k, i, ""), "expected bin")
      break
    }
  }
  return xs as ReadonlyArray<Uint8Array>
}

/**
 * Required `[binN]`.
 *
 * @since 0.1.0
 * @category fields
 */
export const listBinN = (x: unknown, k: string, n: number): ReadonlyArray<Uint8Array> => {
  const xs = list(x, k)
  if (xs === undefined) return EMPTY_LIST
  for (let i = 0; i < xs.length; i++) {
    const b = xs[i]
    if (!(b instanceof Uint8Array) || b.length !== n) {
      fail(pathOf(k, i, ""), `expected bin${n}`)
      break
    }
  }
  return xs as ReadonlyArray<Uint8Array>
}

const signedAt = (x: unknown, k: string, i: number): Signed => {
  if (!isMap(x)) {
    failField(pathOf(k, i, ""), x, "signed object {b, s}")
    return EMPTY_SIGNED
  }
  const b = x["b"]
  const s = x["s"]
  if (!(b instanceof Uint8Array)) failField(pathOf(k, i, ".b"), b, "bin")
  else if (!(s instanceof Uint8Array) || s.length !== 64) failField(pathOf(k, i, ".s"), s, "bin64")
  else return { b, s }
  return EMPTY_SIGNED
}

/**
 * Required signed object `{b: bin, s: bin64}` (§5).
 *
 * @since 0.1.0
 * @category fields
 */
export const signed = (x: unknown, k: string): Signed => signedAt(x, k, -1)

/**
 * Required `[signed object]`.
 *
 * @since 0.1.0
 * @category fields
 */
export const listSigned = (x: unknown, k: string): ReadonlyArray<Signed> => {
  const xs = list(x, k)
  if (xs === undefined) return EMPTY_LIST
  const out = new Array<Signed>(xs.length)
  for (let i = 0; i < xs.length; i++) out[i] = signedAt(xs[i], k, i)
  return out
}

const contactAt = (x: unknown, k: string, i: number): Contact => {
  if (!isMap(x)) {
    failField(pathOf(k, i, ""), x, "contact {pk, a}")
    return EMPTY_CONTACT
  }
  const pk = x["pk"]
  const a = x["a"]
  if (!(pk instanceof Uint8Array) || pk.length !== 32) {
    failField(pathOf(k, i, ".pk"), pk, "bin32")
    return EMPTY_CONTACT
  }
  if (!isStrList(a)) {
    failField(pathOf(k, i, ".a"), a, "[str]")
    return EMPTY_CONTACT
  }
  return { pk, a }
}

const contacts = (k: string, xs: ReadonlyArray<unknown>): ReadonlyArray<Contact> => {
  const out = new Array<Contact>(xs.length)
  for (let i = 0; i < xs.length; i++) out[i] = contactAt(xs[i], k, i)
  return out
}

/**
 * Required `[contact]`.
 *
 * @since 0.1.0
 * @category fields
 */
export const listContact = (x: unknown, k: string): ReadonlyArray<Contact> => {
  const xs = list(x, k)
  return xs === undefined ? EMPTY_LIST : contacts(k, xs)
}

/**
 * Optional `[contact]`.
 *
 * @since 0.1.0
 * @category fields
 */
export const optListContact = (x: unknown, k: string): ReadonlyArray<Contact> | undefined => {
  const xs = optList(x, k)
  return xs === undefined ? undefined : contacts(k, xs)
}

/**
 * Optional authority `{inv: bin, prf: [bin]}` (`au`, `ucan`; §13).
 *
 * @since 0.1.0
 * @category fields
 */
export const optAuthority = (x: unknown, k: string): Authority | undefined => {
  if (x === undefined || x === null) return undefined
  if (!isMap(x)) {
    fail(k, "expected {inv, prf}")
    return undefined
  }
  const inv = x["inv"]
  const prf = x["prf"]
  if (!(inv instanceof Uint8Array)) {
    failField(`${k}.inv`, inv, "bin")
    return undefined
  }
  if (!isBinList(prf)) {
    failField(`${k}.prf`, prf, "[bin]")
    return undefined
  }
  return { inv, prf }
}

/**
 * Required `[[bin32, str]]` interest entries (§8.3).
 *
 * @since 0.1.0
 * @category fields
 */
export const listInterest = (x: unknown, k: string): ReadonlyArray<InterestEntry> => {
  const xs = list(x, k)
  if (xs === undefined) return EMPTY_LIST
  for (let i = 0; i < xs.length; i++) {
    const e: unknown = xs[i]
    if (
      !Array.isArray(e) || e.length !== 2 || !(e[0] instanceof Uint8Array) || e[0].length !== 32 ||
      typeof e[1] !== "string"
    ) {
      fail(pathOf(k, i, ""), "expected [bin32, str]")
      break
    }
  }
  return xs as ReadonlyArray<InterestEntry>
}

/**
 * Why a value cannot travel as msgpack under §4.3, or `undefined` if it can: only nil,
 * booleans, numbers, strings, `Uint8Array`s (Buffers included), arrays and plain objects, at
 * most `maxDepth` levels deep (counting `value` itself as level `depth`) and with at most
 * `maxEntries` entries per array or object. `undefined` is allowed (it encodes as nil). Used
 * when encoding; msgpackr would otherwise write a `Date` as a timestamp, a `Map` with
 * non-string keys, or a wider typed array as a bin of the wrong bytes.
 *
 * @since 0.1.0
 * @category guards
 */
export const unencodable = (
  value: unknown,
  depth: number,
  maxDepth: number,
  maxEntries: number
): string | undefined => {
  switch (typeof value) {
    case "undefined":
    case "boolean":
    case "number":
    case "string":
      return undefined
    case "object": {
      if (value === null) return undefined
      if (value instanceof Uint8Array) return undefined
      if (depth > maxDepth) return "nesting deeper than maxDecodeDepth"
      if (Array.isArray(value)) {
        if (value.length > maxEntries) return "array with more than maxCollectionEntries entries"
        for (let i = 0; i < value.length; i++) {
          const why = unencodable(value[i], depth + 1, maxDepth, maxEntries)
          if (why !== undefined) return why
        }
        return undefined
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        const name = (value as { readonly constructor?: { readonly name?: unknown } }).constructor?.name
        return `a ${typeof name === "string" ? name : "non-plain"} object (only plain objects)`
      }
      let entries = 0
      for (const key in value) {
        if (!Object.prototype.hasOwnProperty.call(value, key)) continue
        if (++entries > maxEntries) return "map with more than maxCollectionEntries entries"
        const why = unencodable((value as Record<string, unknown>)[key], depth + 1, maxDepth, maxEntries)
        if (why !== undefined) return why
      }
      return undefined
    }
    default:
      return `a ${typeof value}`
  }
}

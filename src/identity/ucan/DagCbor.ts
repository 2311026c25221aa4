/**
 * Strict DAG-CBOR for UCAN envelopes, on top of `cborg`'s tokenizer and encoder.
 *
 * The decoder accepts exactly the canonical DAG-CBOR encoding of an IPLD value and nothing else:
 * minimal integer and length headers, definite lengths only, string map keys in length-first then
 * byte-wise order without duplicates, 64-bit floats only (no NaN or infinities), valid UTF-8, tag 42
 * (CIDs) as the only tag, no `undefined` or other simple values, no trailing bytes and a bounded
 * nesting depth. Because every value has a single encoding, the signature over the received bytes
 * and the CID of the token are stable, and nothing needs to be re-encoded to verify them.
 *
 * Integers outside the safe range decode to `bigint`. Floats decode to `number`; since `1.0` and `1`
 * are then the same JS value, the decoder also reports which map entries held floats, so callers can
 * insist on integers where the UCAN specification means integers (`exp`, `nbf`, `iat`).
 *
 * It does not know about UCANs: `Envelope.ts` gives the structure its meaning.
 *
 * @since 0.1.0
 */
import { encode as cborEncode, Token, Tokenizer, Type } from "cborg"
import * as Bytes from "../../core/Bytes.ts"
import { utf8DecodeStrict } from "./Bytes.ts"
import { Link } from "./Cid.ts"

/**
 * An IPLD data-model value as this module represents it.
 *
 * @since 0.1.0
 * @category models
 */
export type Ipld = null | boolean | number | bigint | string | Uint8Array | Link | IpldList | IpldMap

/**
 * An IPLD list.
 *
 * @since 0.1.0
 * @category models
 */
export interface IpldList extends ReadonlyArray<Ipld> {}

/**
 * An IPLD map (string keys only, as DAG-CBOR requires).
 *
 * @since 0.1.0
 * @category models
 */
export interface IpldMap {
  readonly [key: string]: Ipld
}

/**
 * Why a byte string is not canonical DAG-CBOR, in words. Thrown by {@link decode}.
 *
 * @since 0.1.0
 * @category errors
 */
export class DagCborError extends Error {
  override readonly name = "DagCborError"
}

/**
 * The result of {@link decode}: the value, the byte spans of a top-level array's elements, and a
 * query for float-encoded map entries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoded {
  readonly value: Ipld
  /** `[start, end)` offsets of each element when the top-level value is an array. */
  readonly elementSpans: ReadonlyArray<readonly [number, number]>
  /** Whether `map[key]` was encoded as a CBOR float (rather than an integer). */
  readonly isFloatEntry: (map: IpldMap, key: string) => boolean
}

/**
 * The deepest nesting {@link decode} accepts by default. UCAN payloads and policies are shallow;
 * the bound keeps hostile input from exhausting the stack.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxDepth = 64

const tokenizerOptions = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: true
} as const

/** Length of a CBOR item header from its first byte (major type and additional info). */
const headerLength = (first: number): number => {
  const info = first & 0x1f
  return info < 24 ? 1 : info === 24 ? 2 : info === 25 ? 3 : info === 26 ? 5 : 9
}

/** DAG-CBOR key order: shorter encoded key first, then byte-wise. Negative when `a` sorts first. */
const compareKeys = (a: Uint8Array, b: Uint8Array): number => {
  if (a.length !== b.length) return a.length - b.length
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

const setEntry = (map: Record<string, Ipld>, key: string, value: Ipld): void => {
  if (key === "__proto__") Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true })
  else map[key] = value
}

class Reader {
  private readonly tokens: InstanceType<typeof Tokenizer>
  readonly floats = new WeakMap<object, Set<string>>()

  constructor(private readonly data: Uint8Array, private readonly maxDepth: number) {
    this.tokens = new Tokenizer(data, tokenizerOptions)
  }

  pos(): number {
    return this.tokens.pos()
  }

  done(): boolean {
    return this.tokens.done()
  }

  private next(): Token {
    if (this.tokens.done()) throw new DagCborError("unexpected end of input")
    return this.tokens.next()
  }

  /**
   * Reads the top-level value; when it is an array, also the `[start, end)` span of each element,
   * so that a signature can be checked over the exact bytes of one element.
   */
  readTop(): { readonly value: Ipld; readonly spans: ReadonlyArray<readonly [number, number]> } {
    if ((this.data[0]! >> 5) !== 4) return { value: this.read(0).value, spans: [] }
    const header = this.next()
    const items: Array<Ipld> = []
    const spans: Array<readonly [number, number]> = []
    for (let i = 0; i < (header.value as number); i++) {
      const start = this.pos()
      items.push(this.read(1).value)
      spans.push([start, this.pos()])
    }
    return { value: items, spans }
  }

  /** Reads one value; `isFloat` is set when it was a float (for the caller's bookkeeping). */
  read(depth: number): { readonly value: Ipld; readonly isFloat: boolean } {
    if (depth > this.maxDepth) throw new DagCborError(`nesting deeper than ${this.maxDepth}`)
    const start = this.pos()
    const token = this.next()
    switch (token.type.name) {
      case "uint":
      case "negint":
        return { value: token.value as number | bigint, isFloat: false }
      case "float":
        // DAG-CBOR floats are always 64-bit: a half or single float is a second spelling.
        if (token.encodedLength !== 9) throw new DagCborError("float not encoded in 64 bits")
        return { value: token.value as number, isFloat: true }
      case "bytes":
        return { value: new Uint8Array(token.value as Uint8Array), isFloat: false }
      case "string":
        return { value: this.string(token, start), isFloat: false }
      case "true":
        return { value: true, isFloat: false }
      case "false":
        return { value: false, isFloat: false }
      case "null":
        return { value: null, isFloat: false }
      case "array": {
        const items: Array<Ipld> = []
        for (let i = 0; i < (token.value as number); i++) items.push(this.read(depth + 1).value)
        return { value: items, isFloat: false }
      }
      case "map":
        return { value: this.map(token.value as number, depth), isFloat: false }
      case "tag":
        return { value: this.link(token.value as number), isFloat: false }
      default:
        throw new DagCborError(`${token.type.name} is not part of DAG-CBOR`)
    }
  }

  /** The decoded text, after checking the raw bytes are valid UTF-8 when the fast decoder had doubts. */
  private string(token: Token, start: number): string {
    const text = token.value as string
    if (text.includes("\uFFFD")) {
      const raw = this.data.subarray(start + headerLength(this.data[start]!), start + token.encodedLength!)
      if (utf8DecodeStrict(raw) === undefined) throw new DagCborError("invalid UTF-8 in a string")
    }
    return text
  }

  private map(size: number, depth: number): IpldMap {
    const map: Record<string, Ipld> = {}
    let previous: Uint8Array | undefined
    for (let i = 0; i < size; i++) {
      const start = this.pos()
      const keyToken = this.next()
      if (keyToken.type.name !== "string") throw new DagCborError("map key is not a string")
      const key = this.string(keyToken, start)
      const keyBytes = this.data.subarray(start, start + keyToken.encodedLength!)
      if (previous !== undefined) {
        const order = compareKeys(previous, keyBytes)
        if (order === 0) throw new DagCborError(`duplicate map key ${JSON.stringify(key)}`)
        if (order > 0) throw new DagCborError(`map keys out of canonical order at ${JSON.stringify(key)}`)
      }
      previous = keyBytes
      const { value, isFloat } = this.read(depth + 1)
      setEntry(map, key, value)
      if (isFloat) {
        const keys = this.floats.get(map) ?? new Set<string>()
        keys.add(key)
        this.floats.set(map, keys)
      }
    }
    return map
  }

  private link(tag: number): Link {
    if (tag !== 42) throw new DagCborError(`tag ${tag} is not allowed (only 42)`)
    const content = this.next()
    if (content.type.name !== "bytes") throw new DagCborError("tag 42 does not hold bytes")
    const bytes = content.value as Uint8Array
    // Tag 42 carries the identity multibase prefix 0x00 before the binary CID.
    if (bytes.length < 3 || bytes[0] !== 0x00) throw new DagCborError("tag 42 does not hold a binary CID")
    return new Link(bytes.slice(1))
  }
}

/**
 * Decodes one canonical DAG-CBOR value occupying all of `bytes`. Throws {@link DagCborError} on
 * anything else (including trailing bytes).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array, maxDepth: number = defaultMaxDepth): Decoded => {
  const reader = new Reader(bytes, maxDepth)
  try {
    if (bytes.length === 0) throw new DagCborError("empty input")
    const { value, spans } = reader.readTop()
    if (!reader.done()) throw new DagCborError("trailing bytes after the value")
    return { value, elementSpans: spans, isFloatEntry: (map, key) => reader.floats.get(map)?.has(key) === true }
  } catch (cause) {
    throw cause instanceof DagCborError ? cause : new DagCborError(cause instanceof Error ? cause.message : String(cause))
  }
}

const encodeOptions = {
  float64: true,
  typeEncoders: {
    Object: (obj: unknown) =>
      obj instanceof Link ? [new Token(Type.tag, 42), new Token(Type.bytes, Bytes.concat(Uint8Array.of(0), obj.bytes))] : null,
    undefined: () => {
      throw new DagCborError("undefined is not part of DAG-CBOR")
    },
    number: (n: unknown) => {
      if (typeof n === "number" && !Number.isFinite(n)) throw new DagCborError("NaN and infinities are not part of DAG-CBOR")
      return null // integers within 2^53 as CBOR integers, every other number as a 64-bit float
    }
  }
}

/**
 * Encodes an IPLD value as canonical DAG-CBOR (sorted keys, 64-bit floats, CIDs as tag 42).
 * Throws {@link DagCborError} for values DAG-CBOR cannot represent.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (value: Ipld): Uint8Array => {
  try {
    return cborEncode(value, encodeOptions)
  } catch (cause) {
    throw cause instanceof DagCborError ? cause : new DagCborError(cause instanceof Error ? cause.message : String(cause))
  }
}

const TWO_64 = 1n << 64n

/**
 * Checks that a JavaScript value is IPLD this module can encode and returns it typed as such:
 * `null`, booleans, strings, finite numbers (a safe integer encodes as a CBOR integer, any other
 * number as a 64-bit float; use `bigint` for exact integers beyond 2^53, up to 64 bits),
 * `Uint8Array`, {@link Link}, dense arrays and plain objects without `undefined` entries.
 * Throws {@link DagCborError} naming the offending path otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromJs = (value: unknown, path = "value", depth = 0): Ipld => {
  if (depth > defaultMaxDepth) throw new DagCborError(`${path}: nested deeper than ${defaultMaxDepth} (or cyclic)`)
  if (value === null || typeof value === "boolean" || typeof value === "string") return value
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new DagCborError(`${path}: NaN and infinities are not IPLD`)
    return value
  }
  if (typeof value === "bigint") {
    if (value >= TWO_64 || value < -TWO_64) throw new DagCborError(`${path}: integers are limited to 64 bits`)
    return value
  }
  if (value instanceof Link) return value
  if (value instanceof Uint8Array) return value
  if (Array.isArray(value)) {
    const out: Array<Ipld> = []
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new DagCborError(`${path}[${i}]: sparse arrays are not IPLD`)
      out.push(fromJs(value[i], `${path}[${i}]`, depth + 1))
    }
    return out
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) throw new DagCborError(`${path}: only plain objects are IPLD maps`)
    const out: Record<string, Ipld> = {}
    for (const key of Object.keys(value)) {
      const entry = (value as Record<string, unknown>)[key]
      if (entry === undefined) throw new DagCborError(`${path}.${key}: undefined is not IPLD`)
      setEntry(out, key, fromJs(entry, `${path}.${key}`, depth + 1))
    }
    return out
  }
  throw new DagCborError(`${path}: a ${typeof value} is not IPLD`)
}

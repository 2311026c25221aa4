/**
 * The fused decoder against its reference: for any bytes and any limits, `Decoder.decode`
 * must give exactly what the pre-scan followed by msgpackr's `unpack` gives — the same scan
 * result (so the same `malformed_frame` words) and, for a body that passes, a value equal in
 * every detail (types, key order, `-0`, NaN, bins as fresh plain copies). The reference path
 * is kept here, and only here, as the oracle. Inputs: valid frames, random values packed by
 * msgpackr, hand-built msgpack covering every header width and hostile case (invalid UTF-8,
 * duplicate keys under different headers, wide integers, 0xc1, extensions, wrong counts),
 * mutations of all of these, random bytes, deep nesting, length bombs, and streams of maps
 * whose shapes repeat (built by per-shape builders, keys guessed from the last shape).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Wire from "../src/testkit/arbitraries/Wire.ts"
import * as Codec from "../src/wire/Codec.ts"
import * as CodecConfig from "../src/wire/CodecConfig.ts"
import * as DecodeError from "../src/wire/DecodeError.ts"
import * as Decoder from "../src/wire/Decoder.ts"
import { packr, plain } from "../src/wire/Msgpack.ts"
import * as PreScan from "../src/wire/PreScan.ts"

interface Outcome {
  readonly result: PreScan.ScanResult
  readonly value?: unknown
}

/** The reference path: pre-scan, then msgpackr on what passed. A throw there fails the property. */
const reference = (src: Uint8Array, start: number, end: number, maxDepth: number, maxEntries: number): Outcome => {
  const result = PreScan.scan(src, start, end, maxDepth, maxEntries)
  if (!PreScan.isOk(result)) return { result }
  return { result, value: packr.unpack(plain(src), { start, end }) }
}

const fused = (src: Uint8Array, start: number, end: number, maxDepth: number, maxEntries: number): Outcome => {
  const value = Decoder.decode(src, start, end, maxDepth, maxEntries)
  const result = Decoder.result()
  return value === undefined ? { result } : { result, value }
}

/** Where `a` (fused) and `b` (reference) first differ, or `undefined`. */
const difference = (a: unknown, b: unknown, source: ArrayBufferLike, path = "$"): string | undefined => {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`
  if (typeof a === "number") return Object.is(a, b) ? undefined : `${path}: ${a} vs ${String(b)}`
  if (typeof a !== "object" || a === null || b === null) return a === b ? undefined : `${path}: ${String(a)} vs ${String(b)}`
  if (b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || a.constructor !== Uint8Array) return `${path}: not a plain Uint8Array`
    if (a.buffer === source) return `${path}: a view of the body, not a copy`
    if (a.byteOffset !== 0 || a.buffer.byteLength !== a.length) return `${path}: not an exact copy`
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) return `${path}: bytes differ`
    return undefined
  }
  if (Array.isArray(b)) {
    if (!Array.isArray(a) || a.length !== b.length) return `${path}: array shape`
    for (let i = 0; i < b.length; i++) {
      const d = difference(a[i], b[i], source, `${path}[${i}]`)
      if (d !== undefined) return d
    }
    return undefined
  }
  const oa = a as object
  const ob = b as object
  if (Object.getPrototypeOf(oa) !== Object.prototype || Object.getPrototypeOf(ob) !== Object.prototype) {
    return `${path}: not plain objects`
  }
  const ka = Reflect.ownKeys(oa)
  const kb = Reflect.ownKeys(ob)
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return `${path}: keys ${String(ka)} vs ${String(kb)}`
  for (const k of kb) {
    const d = difference((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k], source, `${path}.${String(k)}`)
    if (d !== undefined) return d
  }
  return undefined
}

interface Limits {
  readonly maxDepth: number
  readonly maxEntries: number
}

const defaults: Limits = { maxDepth: 32, maxEntries: 65_536 }
const limits: fc.Arbitrary<Limits> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(defaults) },
  fc.record({
    maxDepth: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(32)),
    maxEntries: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(65_536))
  })
)

/** Where the body sits: alone, or inside a larger buffer (prefix and suffix bytes), or in a Node `Buffer`. */
const placement = fc.record({
  before: fc.uint8Array({ maxLength: 6 }),
  after: fc.uint8Array({ maxLength: 6 }),
  buffer: fc.boolean()
})

const agree = (body: Uint8Array, lim: Limits, where?: { before: Uint8Array; after: Uint8Array; buffer: boolean }) => {
  let src = body
  let start = 0
  if (where !== undefined) {
    const joined = new Uint8Array(where.before.length + body.length + where.after.length)
    joined.set(where.before, 0)
    joined.set(body, where.before.length)
    joined.set(where.after, where.before.length + body.length)
    src = where.buffer ? Buffer.from(joined) : joined
    start = where.before.length
  }
  const end = start + body.length
  const expected = reference(src, start, end, lim.maxDepth, lim.maxEntries)
  const actual = fused(src, start, end, lim.maxDepth, lim.maxEntries)
  expect(PreScan.describe(actual.result)).toBe(PreScan.describe(expected.result))
  expect("value" in actual).toBe("value" in expected)
  if ("value" in expected) expect(difference(actual.value, expected.value, src.buffer)).toBeUndefined()
}

// --- Hand-built msgpack -------------------------------------------------------------------

const be = (value: number, bytes: number): Array<number> => {
  const out: Array<number> = []
  for (let i = bytes - 1; i >= 0; i--) out.push(Math.floor(value / 2 ** (8 * i)) & 0xff)
  return out
}

/** A length header: the smallest form, or a wider one (str8/16/32 for 5 bytes is legal msgpack). */
const header = (
  n: number,
  fix: { readonly base: number; readonly max: number } | undefined,
  wide: ReadonlyArray<readonly [tag: number, bytes: number]>,
  choice: number
): Array<number> => {
  const forms: Array<Array<number>> = []
  if (fix !== undefined && n <= fix.max) forms.push([fix.base | n])
  for (const [tag, bytes] of wide) if (n < 2 ** (8 * bytes)) forms.push([tag, ...be(n, bytes)])
  return forms[choice % forms.length]!
}

const strHeader = (n: number, choice: number) =>
  header(n, { base: 0xa0, max: 31 }, [[0xd9, 1], [0xda, 2], [0xdb, 4]], choice)
const binHeader = (n: number, choice: number) => header(n, undefined, [[0xc4, 1], [0xc5, 2], [0xc6, 4]], choice)
const arrayHeader = (n: number, choice: number) => header(n, { base: 0x90, max: 15 }, [[0xdc, 2], [0xdd, 4]], choice)
const mapHeader = (n: number, choice: number) => header(n, { base: 0x80, max: 15 }, [[0xde, 2], [0xdf, 4]], choice)

const utf8 = (s: string): Array<number> => [...new TextEncoder().encode(s)]

/**
 * String contents: valid UTF-8 of every kind and length band (the decoder builds strings of
 * up to 16, up to 64 and more bytes differently), or arbitrary (often invalid) bytes.
 */
const ascii = (minLength: number, maxLength: number) =>
  fc.string({ unit: "binary-ascii", minLength, maxLength, size: "max" })
const unicode = (minLength: number, maxLength: number) =>
  fc.string({ unit: "binary", minLength, maxLength, size: "max" })
const strBytes: fc.Arbitrary<Array<number>> = fc.oneof(
  ascii(0, 16).map(utf8),
  ascii(17, 64).map(utf8),
  ascii(65, 200).map(utf8),
  unicode(0, 8).map(utf8),
  unicode(5, 30).map(utf8),
  unicode(30, 100).map(utf8),
  fc.string({ unit: "grapheme", maxLength: 12 }).map(utf8),
  fc.constantFrom("\uFEFFbom", "\uFEFF", "__proto__", "__proto_", "constructor", "toString", "0", "1", "42", "-1", "é", "𝄞").map(utf8),
  // A leading byte-order mark is content, short or long.
  fc.oneof(ascii(0, 100), unicode(0, 60)).map((t) => utf8(`\uFEFF${t}`)),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 13, maxLength: 100, size: "max" }),
  // Nearly valid: one bad byte inside ASCII, or a truncated / overlong / surrogate sequence.
  fc.tuple(ascii(0, 70), fc.constantFrom(
    [0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xc2], [0xe0, 0x80, 0x80], [0xe0, 0xa0], [0xed, 0xa0, 0x80], [0xed, 0x9f, 0xbf],
    [0xf0, 0x8f, 0xbf, 0xbf], [0xf0, 0x90, 0x80, 0x80], [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80],
    [0xff], [0xef, 0xbb, 0xbf]
  ), ascii(0, 70)).map(([a, bad, b]) => [...utf8(a), ...bad, ...utf8(b)])
)

const str: fc.Arbitrary<Array<number>> = fc.tuple(strBytes, fc.nat()).map(([b, c]) => [...strHeader(b.length, c), ...b])

/** A small pool of keys, so maps often repeat one (possibly under a different header). */
const pooledKey: fc.Arbitrary<Array<number>> = fc.tuple(
  fc.constantFrom("a", "b", "t", "v", "id", "__proto__", "__proto_", "key-of-seventeen!", "é"),
  fc.nat()
).map(([k, c]) => [...strHeader(utf8(k).length, c), ...utf8(k)])

const hiWords = [0, 1, 0x1f_ffff, 0x20_0000, 0x7fff_ffff, 0x8000_0000, 0xffdf_ffff, 0xffe0_0000, 0xffe0_0001, 0xffff_ffff]
const loWords = [0, 1, 0xffff_ffff]

const scalar: fc.Arbitrary<Array<number>> = fc.oneof(
  fc.integer({ min: 0, max: 0xff }).map((b) => [b < 0x80 || b >= 0xe0 ? b : 0xc0]),
  fc.constantFrom<Array<number>>([0xc0], [0xc2], [0xc3]),
  fc.tuple(fc.constantFrom(0xcc, 0xd0), fc.integer({ min: 0, max: 0xff })).map(([t, b]) => [t, b]),
  fc.tuple(fc.constantFrom(0xcd, 0xd1), fc.uint8Array({ minLength: 2, maxLength: 2 })).map(([t, b]) => [t, ...b]),
  fc.tuple(fc.constantFrom(0xce, 0xd2, 0xca), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([t, b]) => [t, ...b]),
  fc.tuple(fc.constantFrom(0xcf, 0xd3, 0xcb), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([t, b]) => [t, ...b]),
  fc.tuple(
    fc.constantFrom(0xcf, 0xd3),
    fc.oneof(fc.constantFrom(...hiWords), fc.integer({ min: 0, max: 0xffff_ffff })),
    fc.oneof(fc.constantFrom(...loWords), fc.integer({ min: 0, max: 0xffff_ffff }))
  ).map(([t, hi, lo]) => [t, ...be(hi, 4), ...be(lo, 4)]),
  fc.constantFrom<Array<number>>(
    [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0], // -0
    [0xca, 0x80, 0, 0, 0], // float32 -0
    [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1], // NaN with a payload
    [0xca, 0x7f, 0x80, 0, 0], // float32 +Infinity
    [0xca, 0x00, 0x00, 0x00, 0x01] // float32 denormal
  ),
  str,
  fc.tuple(fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 300, size: "max" })), fc.nat())
    .map(([b, c]) => [...binHeader(b.length, c), ...b]),
  // Never valid here: 0xc1, extension types (with a plausible body after them).
  fc.tuple(fc.constantFrom(0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8), fc.uint8Array({ maxLength: 6 }))
    .map(([t, b]) => [t, ...b])
)


/** Occasionally a count one off from the real number of elements (truncation, trailing bytes). */
const skew = fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, fc.constantFrom(-1, 1))

const raw = fc.letrec((tie) => {
  const value = tie("value") as fc.Arbitrary<Array<number>>
  const map = tie("map") as fc.Arbitrary<Array<number>>
  return {
    value: fc.oneof(
      { maxDepth: 4, depthIdentifier: "raw" },
      { weight: 4, arbitrary: scalar },
      fc.tuple(fc.array(value, { maxLength: 5 }), fc.nat(), skew).map(([items, c, d]): Array<number> => [
        ...arrayHeader(Math.max(0, items.length + d), c),
        ...items.flat()
      ]),
      map
    ),
    map: fc.tuple(
      fc.array(
        fc.tuple(fc.oneof({ weight: 4, arbitrary: str }, { weight: 4, arbitrary: pooledKey }, scalar), value),
        { maxLength: 6 }
      ),
      fc.nat(),
      skew
    ).map(([entries, c, d]): Array<number> => [
      ...mapHeader(Math.max(0, entries.length + d), c),
      ...entries.flatMap(([k, v]) => [...k, ...v])
    ])
  }
})

/** Any JS value msgpackr can pack, as a top-level map (or, now and then, not a map). */
const packedValue: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(fc.string({ unit: "binary", maxLength: 20 }), fc.anything({
    maxDepth: 3,
    withBigInt: false,
    withDate: false,
    withMap: false,
    withSet: false,
    withTypedArray: false,
    withSparseArray: false,
    withObjectString: false,
    withNullPrototype: false,
    withBoxedValues: false
  }), { maxKeys: 8 }) },
  fc.dictionary(fc.string({ unit: "binary", maxLength: 20 }), Wire.anyValue, { maxKeys: 6 }),
  fc.anything({ maxDepth: 1, withBigInt: false, withDate: false, withMap: false, withSet: false, withTypedArray: false })
).chain((value) => {
  try {
    return fc.constant(Uint8Array.from(packr.pack(value)))
  } catch {
    return fc.constant(Uint8Array.of(0x80))
  }
})

const encodedFrameBody: fc.Arbitrary<Uint8Array> = Wire.encodedFrame.map(({ bytes }) => bytes.slice(4))

/** Content offers and requests with `from` and `au` (§12.6, §13.0): keys of any length, `au` of any shape. */
const contentIdentityBody: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.oneof(Wire.frames["content.have"], Wire.frames["content.want"], Wire.frames["content.manifest_req"]),
  fc.record({
    from: fc.oneof(Wire.bytes(32), fc.integer({ min: 0, max: 40 }).chain((n) => Wire.bytes(n)), Wire.anyValue),
    au: fc.oneof(Wire.authority, Wire.anyValue)
  }, { requiredKeys: [] })
).map(([frame, extra]) => Uint8Array.from(packr.pack({ v: 1, ...frame, ...extra })))

const mutated = (bodies: fc.Arbitrary<Uint8Array>) =>
  fc.tuple(bodies, fc.array(Wire.mutation.filter((m) => m.kind !== "length"), { minLength: 1, maxLength: 3 }))
    .map(([b, ms]) => ms.reduce(Wire.mutate, b))

/** Nesting around the maximum depth, in arrays and maps. */
const nested: fc.Arbitrary<Uint8Array> = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.boolean(), fc.constantFrom(0xc0, 0x80, 0x90))
  .map(([depth, maps, leafByte]) => {
    const out = [0x81, 0xa1, 0x6b]
    for (let i = 0; i < depth; i++) out.push(...(maps ? [0x81, 0xa1, 0x6b] : [0x91]))
    out.push(leafByte)
    return Uint8Array.from(out)
  })

/** A collection, str or bin declaring far more than the frame holds, possibly nested. */
const bomb: fc.Arbitrary<Uint8Array> = fc.record({
  tag: fc.constantFrom(0xdd, 0xdf, 0xdb, 0xc6, 0xdc, 0xde, 0xda, 0xc5, 0xd9, 0xc4),
  declared: fc.oneof(fc.constant(0xffff_ffff), fc.integer({ min: 2, max: 0xffff_ffff })),
  depth: fc.nat({ max: 4 }),
  tail: fc.uint8Array({ maxLength: 4 })
}).map(({ tag, declared, depth, tail }) => {
  const width = tag === 0xdd || tag === 0xdf || tag === 0xdb || tag === 0xc6 ? 4 : tag === 0xd9 || tag === 0xc4 ? 1 : 2
  return Uint8Array.from([0x81, 0xa1, 0x76, ...new Array<number>(depth).fill(0x91), tag, ...be(declared % 2 ** (8 * width), width), ...tail])
})

/** Random bytes that at least start like a map, and bytes that do not. */
const randomBody: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.tuple(fc.constantFrom(0x81, 0x82, 0x83, 0x8f, 0x80, 0xde, 0xdf), fc.uint8Array({ maxLength: 64 }))
    .map(([first, rest]) => Uint8Array.from([first, ...rest]))
)

// --- Properties ------------------------------------------------------------------------------

describe("the fused decoder agrees with pre-scan + msgpackr", () => {
  it("on valid frame bodies, whole or placed inside larger buffers", () => {
    fc.assert(fc.property(encodedFrameBody, placement, (body, where) => agree(body, defaults, where)), { numRuns: 600 })
  })

  it("on arbitrary values packed by msgpackr", () => {
    fc.assert(fc.property(packedValue, limits, (body, lim) => agree(body, lim)), { numRuns: 1_500 })
  })

  it("on hand-built msgpack: every header width, bad UTF-8, duplicate keys, wide integers, extensions", () => {
    fc.assert(fc.property(raw.map, limits, placement, (bytes, lim, where) => agree(Uint8Array.from(bytes), lim, where)), {
      numRuns: 4_000
    })
    fc.assert(fc.property(raw.value, limits, (bytes, lim) => agree(Uint8Array.from(bytes), lim)), { numRuns: 1_000 })
  })

  it("on mutated frames, mutated packed values and mutated hand-built msgpack", () => {
    const bodies = fc.oneof(encodedFrameBody, packedValue, raw.map.map((b) => Uint8Array.from(b)))
    fc.assert(fc.property(mutated(bodies), limits, placement, (body, lim, where) => agree(body, lim, where)), {
      numRuns: 3_000
    })
  })

  it("on random bytes", () => {
    fc.assert(fc.property(randomBody, limits, (body, lim) => agree(body, lim)), { numRuns: 3_000 })
  })

  it("on deep nesting and length bombs", () => {
    fc.assert(fc.property(fc.oneof(nested, bomb), limits, (body, lim) => agree(body, lim)), { numRuns: 1_500 })
  })

  it("on maps with many keys, large maps (sorted duplicate check) and a churning key cache", () => {
    const manyKeys = fc.tuple(
      fc.uniqueArray(fc.string({ unit: "binary", minLength: 0, maxLength: 18 }), { minLength: 10, maxLength: 60, size: "max" }),
      fc.option(fc.nat(), { nil: undefined })
    ).map(([keys, duplicate]) => {
      const out = [...mapHeader(keys.length + (duplicate === undefined ? 0 : 1), 0)]
      for (const [i, k] of keys.entries()) out.push(...strHeader(utf8(k).length, i), ...utf8(k), i & 0x7f)
      if (duplicate !== undefined) {
        const k = keys[duplicate % keys.length]!
        out.push(...strHeader(utf8(k).length, duplicate), ...utf8(k), 0xc3)
      }
      return Uint8Array.from(out)
    })
    fc.assert(fc.property(manyKeys, (body) => agree(body, defaults)), { numRuns: 800 })
  })
})

/**
 * Streams of maps whose key sequences repeat, as frames of one type do: enough repeats for
 * each shape to get a builder and become the guess for its entry count, then variants that
 * break the guess part way (another key, a duplicate of an earlier key, a wider header for
 * the same key, the body cut after a key) and nested maps of other shapes. The keys include
 * what an object literal could misread (`__proto__`, quotes, backslashes, U+2028, digits).
 */
const shapeKey = fc.constantFrom(
  "t", "id", "v", "a", "b", "__proto__", "__proto_", "constructor", "0", "7", "", "é", "𝄞", "\"", "\\", "\u2028",
  "'); throw 1; ('", "}", "sixteen-byte-key", "seventeen-byte-key"
)
const shapeValue = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }).map((b) => [b]),
  fc.constantFrom([0xc0], [0xc3], [0xcd, 0x04, 0x00], [0xa3, 0x61, 0x6c, 0x6f], [0xc4, 2, 7, 9])
)
const shapeStream = fc.record({
  shapes: fc.array(fc.uniqueArray(shapeKey, { minLength: 1, maxLength: 7 }), { minLength: 1, maxLength: 4 }),
  maps: fc.array(
    fc.record({
      shape: fc.nat(),
      values: fc.array(shapeValue, { minLength: 7, maxLength: 7 }),
      variant: fc.oneof(
        { weight: 12, arbitrary: fc.constant({ kind: "same" as const, at: 0, key: "" }) },
        fc.record({ kind: fc.constantFrom("key" as const, "wide" as const, "cut" as const, "nest" as const), at: fc.nat(), key: shapeKey })
      )
    }),
    { minLength: 60, maxLength: 160 }
  )
})
type ShapeStream = typeof shapeStream extends fc.Arbitrary<infer T> ? T : never
const shapedBodies = ({ shapes, maps }: ShapeStream): Array<Uint8Array> =>
  maps.map(({ shape, values, variant }) => {
    const keys = [...shapes[shape % shapes.length]!]
    const at = variant.at % keys.length
    if (variant.kind === "key") keys[at] = variant.key // may repeat an earlier key
    const entries = keys.map((k, i) => {
      const name = utf8(k)
      const wide = variant.kind === "wide" && i === at
      let value = values[i]!
      if (variant.kind === "nest" && i === at) {
        const inner = shapes[(shape + 1) % shapes.length]!
        value = [...mapHeader(inner.length, 0), ...inner.flatMap((n, j) => [...strHeader(utf8(n).length, 0), ...utf8(n), j])]
      }
      return [...strHeader(name.length, wide ? 1 : 0), ...name, ...value]
    })
    const out = [...mapHeader(keys.length, 0), ...entries.flat()]
    if (variant.kind === "cut") {
      const keyEnd = 1 + entries.slice(0, at).flat().length + strHeader(utf8(keys[at]!).length, 0).length + utf8(keys[at]!).length
      return Uint8Array.from(out.slice(0, keyEnd))
    }
    return Uint8Array.from(out)
  })

describe("the fused decoder agrees with pre-scan + msgpackr on maps whose shapes repeat", () => {
  it("built by a shape's builder, guessed from the last shape, and guessed wrong part way", () => {
    fc.assert(fc.property(shapeStream, (stream) => {
      for (const body of shapedBodies(stream)) agree(body, defaults)
    }), { numRuns: 150 })
  })
})

describe("Codec.decodeBody agrees with the reference path", () => {
  /** The codec as it was: pre-scan, msgpackr, then the same field checks. */
  const referenceBody = (body: Uint8Array): unknown => {
    const config = CodecConfig.defaults
    if (body.length === 0) return Codec.decodeBody(body)
    const scanned = PreScan.scan(body, 0, body.length, config.maxDecodeDepth, config.maxCollectionEntries)
    if (!PreScan.isOk(scanned)) return DecodeError.make("malformed_frame", PreScan.describe(scanned))
    const value: unknown = packr.unpack(plain(body), { start: 0, end: body.length })
    return Codec.fromWire(value, body.length, scanned === PreScan.okWideInteger, config, 1)
  }
  const words = (out: unknown): string | undefined =>
    out instanceof DecodeError.DecodeError ? `${out.code}: ${out.detail}` : undefined

  it("on valid and mutated frames: the same frame, or the same code and detail", () => {
    fc.assert(
      fc.property(fc.oneof(encodedFrameBody, mutated(encodedFrameBody), packedValue, contentIdentityBody, mutated(contentIdentityBody)), (body) => {
        const actual = Codec.decodeBody(body)
        const expected = referenceBody(body)
        expect(words(actual)).toBe(words(expected))
        if (!(expected instanceof DecodeError.DecodeError)) expect(difference(actual, expected, body.buffer)).toBeUndefined()
      }),
      { numRuns: 1_500 }
    )
  })
})

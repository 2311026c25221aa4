/**
 * The fused decoder, case by case: msgpackr's value rules it reproduces (`__proto__`, a
 * leading byte-order mark, int64 as the nearest number, `-0`), bins as fresh copies, the
 * order in which it reports the pre-scan's failures, its string cache under churn, maps of a
 * frequent shape, and totality when a depth limit exceeds what the call stack can hold.
 */
import { afterEach, describe, expect, it, vi } from "vitest"
import * as Codec from "../../../src/wire/Codec.ts"
import * as CodecConfig from "../../../src/wire/CodecConfig.ts"
import { DecodeError } from "../../../src/wire/DecodeError.ts"
import * as Decoder from "../../../src/wire/Decoder.ts"
import { packr } from "../../../src/wire/Msgpack.ts"
import * as PreScan from "../../../src/wire/PreScan.ts"

const decode = (bytes: ReadonlyArray<number> | Uint8Array, maxDepth = 32, maxEntries = 65_536) => {
  const body = Uint8Array.from(bytes)
  const value = Decoder.decode(body, 0, body.length, maxDepth, maxEntries)
  return { value, result: PreScan.describe(Decoder.result()) }
}
const WELL_FORMED = PreScan.describe(PreScan.ok)
const WIDE = PreScan.describe(PreScan.okWideInteger)
const utf8 = (s: string): Array<number> => [...new TextEncoder().encode(s)]
const str = (s: string): Array<number> => {
  const b = utf8(s)
  return b.length < 32 ? [0xa0 | b.length, ...b] : b.length < 256 ? [0xd9, b.length, ...b] : [0xda, b.length >> 8, b.length & 0xff, ...b]
}
/** `{"k": <value bytes>}` */
const inMap = (...value: ReadonlyArray<number>): Array<number> => [0x81, 0xa1, 0x6b, ...value]

describe("Decoder.decode builds what msgpackr builds", () => {
  it.each([
    ["every scalar", inMap(0x96, 0x00, 0x7f, 0xe0, 0xc0, 0xc2, 0xc3)],
    ["every integer width", inMap(0x98, 0xcc, 0xff, 0xcd, 0xff, 0xfe, 0xce, 0xff, 0, 0, 1, 0xd0, 0x80, 0xd1, 0x80, 0, 0xd2, 0x80, 0, 0, 0, 0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 1)],
    ["floats, -0 included", inMap(0x93, 0xca, 0x3f, 0xc0, 0, 0, 0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xca, 0x80, 0, 0, 0)],
    ["str and bin of every header", inMap(0x96, 0xd9, 1, 0x61, 0xda, 0, 1, 0x61, 0xdb, 0, 0, 0, 1, 0x61, 0xc4, 1, 9, 0xc5, 0, 1, 9, 0xc6, 0, 0, 0, 1, 9)],
    ["array16/32 and map16/32", inMap(0x92, 0xdc, 0, 1, 0xc0, 0xdf, 0, 0, 0, 1, 0xa1, 0x61, 0xdd, 0, 0, 0, 0)],
    ["a key __proto__, renamed __proto_", [0x81, ...str("__proto__"), 0x01]],
    ["__proto__ then __proto_ (the later wins)", [0x82, ...str("__proto__"), 0x01, ...str("__proto_"), 0x02]],
    ["keys that look like indices", [0x83, ...str("b"), 1, ...str("1"), 2, ...str("0"), 3]],
    ["a leading byte-order mark, short and long", inMap(0x92, ...str("\uFEFFx"), ...str(`\uFEFF${"y".repeat(80)}`))],
    ["strings of every length band", inMap(0x95, ...str("a".repeat(16)), ...str("é".repeat(20)), ...str("b".repeat(64)), ...str("𝄞".repeat(30)), ...str("c".repeat(300)))],
    ["an empty key and an empty str", [0x81, 0xa0, 0xa0]],
    ["long keys, ASCII and not", [0x82, ...str("k".repeat(40)), 1, ...str("ключ-длинный-очень"), 2]]
  ])("%s", (_, bytes) => {
    const body = Uint8Array.from(bytes)
    const { value, result } = decode(body)
    expect(result).toBe(WELL_FORMED)
    expect(value).toStrictEqual(packr.unpack(body))
    expect(Object.keys(value!)).toEqual(Object.keys(packr.unpack(body) as object))
  })

  it("keeps -0 and NaN exactly as msgpackr reads them", () => {
    const { value } = decode(inMap(0x92, 0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0))
    const [minusZero, nan] = (value as { k: [number, number] }).k
    expect(Object.is(minusZero, -0)).toBe(true)
    expect(Number.isNaN(nan)).toBe(true)
  })

  it("reads int64 beyond ±(2^53−1) as msgpackr does, and flags it", () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<number>, string]> = [
      [[0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], WELL_FORMED],
      [[0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0], WIDE],
      [[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], WIDE],
      [[0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 1], WELL_FORMED],
      [[0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0], WIDE],
      [[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], WIDE],
      [[0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], WELL_FORMED]
    ]
    for (const [int, expected] of cases) {
      const body = Uint8Array.from(inMap(...int))
      const { value, result } = decode(body)
      expect(result).toBe(expected)
      expect(value).toEqual(packr.unpack(body))
    }
  })

  it("returns bins as fresh plain Uint8Array copies, whatever the input", () => {
    const bytes = Uint8Array.from(inMap(0x92, 0xc4, 3, 1, 2, 3, 0xc5, 0, 100, ...new Array<number>(100).fill(7)))
    for (const src of [bytes, Buffer.from(bytes)]) {
      const value = Decoder.decode(src, 0, src.length, 32, 65_536) as { k: [Uint8Array, Uint8Array] }
      for (const bin of value.k) {
        expect(bin.constructor).toBe(Uint8Array)
        expect(bin.buffer).not.toBe(src.buffer)
        expect(bin.byteOffset).toBe(0)
        expect(bin.buffer.byteLength).toBe(bin.length)
      }
      src.fill(0)
      expect([...value.k[0]]).toEqual([1, 2, 3])
      expect(value.k[1].every((b) => b === 7)).toBe(true)
      src.set(Uint8Array.from(inMap(0x92, 0xc4, 3, 1, 2, 3, 0xc5, 0, 100, ...new Array<number>(100).fill(7))))
    }
  })

  it("reads only src[start..end)", () => {
    const buffer = Uint8Array.from([0xff, 0x81, 0xa1, 0x61, 0x01, 0x02])
    expect(Decoder.decode(buffer, 1, 5, 32, 10)).toEqual({ a: 1 })
    expect(Decoder.decode(buffer, 1, 4, 32, 10)).toBeUndefined()
    expect(PreScan.describe(Decoder.result())).toBe("value runs past the end of the frame")
  })
})

describe("Decoder.decode fails exactly as the pre-scan does", () => {
  it.each([
    ["an empty body", [], "empty body"],
    ["a top-level array", [0x91, 0x01], "top level is not a map"],
    ["trailing bytes", [0x80, 0x00], "trailing bytes after the top-level map"],
    ["a key with no value", [0x81, 0xa1, 0x61], "value runs past the end of the frame"],
    ["a declared length past the end", inMap(0xdb, 0, 0, 1, 0, 0x61), "declared length exceeds the bytes remaining"],
    ["a duplicate key under two headers", [0x82, 0xa1, 0x61, 0x01, 0xd9, 0x01, 0x61, 0x02], "duplicate map key"],
    ["a non-str key", [0x81, 0x01, 0x01], "map key is not a str"],
    ["0xc1", inMap(0xc1), "byte 0xc1 (never used) as a type"],
    ["a timestamp", inMap(0xd6, 0xff, 0, 0, 0, 0), "extension type (ext, fixext, timestamp or record)"],
    ["a surrogate in a short str", inMap(0xa3, 0xed, 0xa0, 0x80), "str is not valid UTF-8"],
    ["an overlong form in a long str", inMap(...str("x".repeat(70)).slice(0, -2), 0xc0, 0x80), "str is not valid UTF-8"],
    // The duplicate is only found when its map ends, after the bad str inside it.
    ["a duplicate key, then bad UTF-8 in the same map", [0x83, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02, 0xa1, 0x62, 0xa1, 0xff], "str is not valid UTF-8"],
    ["a duplicate key in a child map, then a bad str in the parent", [0x82, 0xa1, 0x61, 0x82, 0xa1, 0x78, 1, 0xa1, 0x78, 2, 0xa1, 0x62, 0xa1, 0xff], "duplicate map key"],
    ["a duplicate key among 40", [0xde, 0, 41, ...Array.from({ length: 40 }, (_, i) => [...str(`key${i}`), 0]).flat(), ...str("key7"), 1], "duplicate map key"]
  ])("%s", (_, bytes, detail) => {
    const body = Uint8Array.from(bytes)
    expect(decode(body).value).toBeUndefined()
    expect(decode(body).result).toBe(detail)
    expect(PreScan.describe(PreScan.scan(body, 0, body.length, 32, 65_536))).toBe(detail)
  })

  it("checks depth and entries before building a collection", () => {
    const nested = (depth: number) => [0x81, 0xa1, 0x6b, ...new Array<number>(depth - 1).fill(0x91), 0xc0]
    expect(decode(nested(32)).result).toBe(WELL_FORMED)
    expect(decode(nested(33)).result).toBe("nesting deeper than maxDecodeDepth")
    expect(decode(nested(3), 2).result).toBe("nesting deeper than maxDecodeDepth")
    expect(decode(inMap(0x94, 1, 2, 3, 4), 32, 3).result).toBe("collection declares more than maxCollectionEntries entries")
    expect(decode(inMap(0xdd, 0xff, 0xff, 0xff, 0xff)).result).toBe("collection declares more than maxCollectionEntries entries")
    expect(decode(inMap(0xdd, 0, 0, 0, 9, 1, 2)).result).toBe("declared length exceeds the bytes remaining")
  })

  it("stays total when the depth limit is beyond what the call stack holds", () => {
    const body = Uint8Array.from([0x81, 0xa1, 0x6b, ...new Array<number>(300_000).fill(0x91), 0xc0])
    expect(() => Decoder.decode(body, 0, body.length, 1_000_000, 65_536)).not.toThrow()
    const out = Codec.decodeBody(body, CodecConfig.make({ maxDecodeDepth: 1_000_000 }))
    expect(out).toBeInstanceOf(DecodeError)
    expect((out as DecodeError).code).toBe("malformed_frame")
    // The next body decodes normally.
    expect(decode([0x81, 0xa1, 0x61, 0x01]).value).toEqual({ a: 1 })
  })
})

describe("the string cache", () => {
  it("returns the right string for thousands of similar keys and values, over and over", () => {
    const alphabet = "abcdefghijklmnopqrst"
    const words: Array<string> = []
    for (const a of alphabet) for (const b of alphabet) for (const c of alphabet) words.push(`${a}${b}${c}`)
    for (const a of alphabet) for (const b of alphabet) words.push(`${"p".repeat(14)}${a}${b}`)
    for (let round = 0; round < 2; round++) {
      for (let at = 0; at < words.length; at += 100) {
        const chunk = words.slice(at, at + 100)
        const bytes = [0xde, 0, chunk.length, ...chunk.flatMap((w) => [...str(w), ...str(w.toUpperCase())])]
        const value = decode(bytes).value
        expect(value).toEqual(Object.fromEntries(chunk.map((w) => [w, w.toUpperCase()])))
      }
    }
  })

  it("never caches a str that is not valid UTF-8", () => {
    expect(decode([0x81, 0xa2, 0xc3, 0x28, 0x01]).result).toBe("str is not valid UTF-8")
    expect(decode([0x81, 0xa2, 0xc3, 0x28, 0x01]).result).toBe("str is not valid UTF-8")
    expect(decode([0x81, 0xa2, 0xc3, 0xa9, 0x01]).value).toEqual({ "é": 1 })
  })
})

describe("map shapes", () => {
  /** A map with these keys in order, each value its index. */
  const shaped = (...names: ReadonlyArray<string>): Array<number> => [0x80 | names.length, ...names.flatMap((n, i) => [...str(n), i])]
  const scanned = (bytes: ReadonlyArray<number>) => {
    const body = Uint8Array.from(bytes)
    return PreScan.describe(PreScan.scan(body, 0, body.length, 32, 65_536))
  }
  const often = 40 // well past the repeats after which a shape gets its builder

  it("builds maps of a frequent shape as msgpackr does, whatever the keys hold", () => {
    const names = ["__proto__", "\"", "\\", "\u2028", "'); throw 1; ('", "0", "", "𝄞"]
    const bytes = shaped(...names)
    for (let i = 0; i < often; i++) {
      const value = decode(bytes).value as Record<string, unknown>
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect(value).toEqual(packr.unpack(Uint8Array.from(bytes)))
      expect(Object.keys(value)).toEqual(["0", "__proto_", "\"", "\\", "\u2028", "'); throw 1; ('", "", "𝄞"])
    }
  })

  it("reads on key by key where a map leaves the guessed shape, duplicates and cut bodies included", () => {
    for (let i = 0; i < often; i++) decode(shaped("t", "id", "sid"))
    expect(decode(shaped("t", "id", "cur")).value).toEqual({ t: 0, id: 1, cur: 2 })
    expect(decode(shaped("t", "id", "t")).result).toBe(scanned(shaped("t", "id", "t")))
    expect(decode(shaped("t", "id", "t")).result).toBe("duplicate map key")
    // `id` under a str8 header: the same key, not the guessed bytes.
    expect(decode([0x83, ...str("t"), 0, 0xd9, 2, ...utf8("id"), 1, ...str("sid"), 2]).value).toEqual({ t: 0, id: 1, sid: 2 })
    const cut = [0x83, ...str("t"), 0, ...str("id")]
    expect(decode(cut).result).toBe(scanned(cut))
    expect(decode(shaped("t", "id", "sid")).value).toEqual({ t: 0, id: 1, sid: 2 })
  })
})

describe("Codec decoding", () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it("never calls msgpackr to decode", () => {
    const unpack = vi.spyOn(packr, "unpack")
    const bytes = Codec.encode({ t: "ping", n: 7 })
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(Codec.decode(bytes as Uint8Array)).toEqual({ t: "ping", n: 7 })
    expect(unpack).not.toHaveBeenCalled()
  })
})

/**
 * The pre-scan of PROTOCOL.md §4.2, case by case: what passes, and each reason a body is a
 * `malformed_frame` before msgpack decodes it.
 */
import { describe, expect, it } from "vitest"
import * as CodecConfig from "../../../src/wire/CodecConfig.ts"
import { packr } from "../../../src/wire/Msgpack.ts"
import * as PreScan from "../../../src/wire/PreScan.ts"

const scan = (bytes: ReadonlyArray<number> | Uint8Array, maxDepth = 32, maxEntries = 65_536): string => {
  const body = Uint8Array.from(bytes)
  return PreScan.describe(PreScan.scan(body, 0, body.length, maxDepth, maxEntries))
}
const WELL_FORMED = PreScan.describe(PreScan.ok)
const WIDE = PreScan.describe(PreScan.okWideInteger)
const pack = (value: unknown): Uint8Array => Uint8Array.from(packr.pack(value))

/** `{"k": <value bytes>}` */
const inMap = (...value: ReadonlyArray<number>): Array<number> => [0x81, 0xa1, 0x6b, ...value]
const str = (s: string): Array<number> => {
  const utf8 = [...new TextEncoder().encode(s)]
  return utf8.length < 32 ? [0xa0 | utf8.length, ...utf8] : [0xd9, utf8.length, ...utf8]
}

describe("PreScan.scan accepts", () => {
  it.each([
    ["an empty map", [0x80]],
    ["a map of every scalar", inMap(0x96, 0x00, 0x7f, 0xe0, 0xc0, 0xc2, 0xc3)],
    ["every integer width", inMap(0x98, 0xcc, 1, 0xcd, 1, 2, 0xce, 1, 2, 3, 4, 0xd0, 0xff, 0xd1, 1, 2, 0xd2, 1, 2, 3, 4, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1, 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
    ["floats", inMap(0x92, 0xca, 0, 0, 0, 0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0)],
    ["bin 8/16/32", inMap(0x93, 0xc4, 1, 9, 0xc5, 0, 1, 9, 0xc6, 0, 0, 0, 1, 9)],
    ["str 8/16/32", inMap(0x93, 0xd9, 1, 0x61, 0xda, 0, 1, 0x61, 0xdb, 0, 0, 0, 1, 0x61)],
    ["array16/32 and map16/32 headers", inMap(0x92, 0xdc, 0, 1, 0xc0, 0xdd, 0, 0, 0, 0)],
    ["map16 and map32 at the top", [0xde, 0, 1, 0xa1, 0x61, 0xc0]],
    ["map32 at the top", [0xdf, 0, 0, 0, 1, 0xa1, 0x61, 0xc0]],
    ["the same key in a parent and a child map", [0x82, 0xa1, 0x61, 0x81, 0xa1, 0x61, 0x01, 0xa1, 0x62, 0x02]],
    ["multi-byte UTF-8", inMap(...str("é€𝄞 aé"))],
    ["a map with many distinct keys (sorted check)", [...pack(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i])))]],
    ["an empty str key", [0x81, 0xa0, 0xc0]]
  ])("%s", (_, bytes) => {
    expect(scan(bytes)).toBe(WELL_FORMED)
  })

  it("accepts nesting exactly at maxDecodeDepth and rejects one more", () => {
    const nested = (depth: number): Array<number> => [0x81, 0xa1, 0x6b, ...new Array<number>(depth - 1).fill(0x91), 0xc0]
    expect(scan(nested(32))).toBe(WELL_FORMED)
    expect(scan(nested(33))).toBe("nesting deeper than maxDecodeDepth")
    expect(scan(nested(4), 4)).toBe(WELL_FORMED)
    expect(scan(nested(5), 4)).toBe("nesting deeper than maxDecodeDepth")
  })

  it("accepts collections of exactly maxCollectionEntries and rejects one more", () => {
    expect(scan(inMap(0x93, 1, 2, 3), 32, 3)).toBe(WELL_FORMED)
    expect(scan(inMap(0x94, 1, 2, 3, 4), 32, 3)).toBe("collection declares more than maxCollectionEntries entries")
    expect(scan([0x82, 0xa1, 0x61, 1, 0xa1, 0x62, 2], 32, 1)).toBe("collection declares more than maxCollectionEntries entries")
  })

  it("reports integers beyond ±(2^53−1) without rejecting", () => {
    const u64 = (hi: number, lo: number) => inMap(0xcf, ...[hi >>> 24, hi >>> 16, hi >>> 8, hi, lo >>> 24, lo >>> 16, lo >>> 8, lo].map((b) => b & 0xff))
    const i64 = (hi: number, lo: number) => inMap(0xd3, ...[hi >>> 24, hi >>> 16, hi >>> 8, hi, lo >>> 24, lo >>> 16, lo >>> 8, lo].map((b) => b & 0xff))
    expect(scan(u64(0x1f_ffff, 0xffff_ffff))).toBe(WELL_FORMED) // 2^53 − 1
    expect(scan(u64(0x20_0000, 0))).toBe(WIDE) // 2^53
    expect(scan(u64(0xffff_ffff, 0xffff_ffff))).toBe(WIDE)
    expect(scan(i64(0x1f_ffff, 0xffff_ffff))).toBe(WELL_FORMED)
    expect(scan(i64(0x20_0000, 0))).toBe(WIDE)
    expect(scan(i64(0xffe0_0000, 1))).toBe(WELL_FORMED) // −(2^53 − 1)
    expect(scan(i64(0xffe0_0000, 0))).toBe(WIDE) // −2^53
    expect(scan(i64(0x8000_0000, 0))).toBe(WIDE)
  })

  it("scans a body in the middle of a larger buffer", () => {
    const buffer = Uint8Array.from([0xc1, 0xc1, 0x81, 0xa1, 0x61, 0x01, 0xc1])
    expect(PreScan.scan(buffer, 2, 6, 32, 10)).toBe(PreScan.ok)
  })
})

describe("PreScan.scan rejects", () => {
  it.each<readonly [string, ReadonlyArray<number>, string]>([
    ["an empty body", [], "empty body"],
    ["a top-level array", [0x91, 0x01], "top level is not a map"],
    ["a top-level scalar", [0x01], "top level is not a map"],
    ["a top-level str", str("hi"), "top level is not a map"],
    ["trailing bytes", [0x80, 0x00], "trailing bytes after the top-level map"],
    ["two maps", [0x80, 0x80], "trailing bytes after the top-level map"],
    ["a map missing its value", [0x81, 0xa1, 0x61], "value runs past the end of the frame"],
    ["a map missing entries", [0x82, 0xa1, 0x61, 0x01], "declared length exceeds the bytes remaining"],
    ["an array whose last item is cut", inMap(0x92, 0xcd, 0x01), "value runs past the end of the frame"],
    ["a cut uint32", inMap(0xce, 1, 2), "value runs past the end of the frame"],
    ["a cut float64", inMap(0xcb, 1, 2, 3), "value runs past the end of the frame"],
    ["a cut str8 header", [0x81, 0xa1, 0x61, 0xd9], "value runs past the end of the frame"],
    ["a cut map32 header", inMap(0xdf, 0, 0), "value runs past the end of the frame"],
    ["0xc1 as a value", inMap(0xc1), "byte 0xc1 (never used) as a type"],
    ["0xc1 as a key", [0x81, 0xc1, 0x01], "map key is not a str"],
    ["a fixext 1 (undefined)", inMap(0xd4, 0x00, 0x00), "extension type (ext, fixext, timestamp or record)"],
    ["a timestamp 32", inMap(0xd6, 0xff, 0, 0, 0, 0), "extension type (ext, fixext, timestamp or record)"],
    ["a timestamp 96", inMap(0xc7, 12, 0xff, ...new Array<number>(12).fill(0)), "extension type (ext, fixext, timestamp or record)"],
    ["a msgpackr record definition", inMap(0xd4, 0x72, 0x40), "extension type (ext, fixext, timestamp or record)"],
    ...[0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8].map((tag) =>
      [`ext tag 0x${tag.toString(16)}`, inMap(tag, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "extension type (ext, fixext, timestamp or record)"] as const
    ),
    ["an integer key", [0x81, 0x01, 0x02], "map key is not a str"],
    ["a bin key", [0x81, 0xc4, 0x01, 0x61, 0x02], "map key is not a str"],
    ["a nil key", [0x81, 0xc0, 0x02], "map key is not a str"],
    ["an array key", [0x81, 0x90, 0x02], "map key is not a str"],
    ["a duplicate key", [0x82, 0xa1, 0x61, 1, 0xa1, 0x61, 2], "duplicate map key"],
    ["a duplicate key in different encodings", [0x82, 0xa1, 0x61, 1, 0xd9, 0x01, 0x61, 2], "duplicate map key"],
    ["a duplicate key in a nested map", inMap(0x82, 0xa1, 0x62, 1, 0xa1, 0x62, 2), "duplicate map key"],
    ["an overlong encoding", inMap(0xa2, 0xc0, 0xaf), "str is not valid UTF-8"],
    ["a lone continuation byte", inMap(0xa1, 0x80), "str is not valid UTF-8"],
    ["a surrogate half", inMap(0xa3, 0xed, 0xa0, 0x80), "str is not valid UTF-8"],
    ["a code point beyond U+10FFFF", inMap(0xa4, 0xf4, 0x90, 0x80, 0x80), "str is not valid UTF-8"],
    ["a cut multi-byte sequence", inMap(0xa2, 0xe2, 0x82), "str is not valid UTF-8"],
    ["an overlong 3-byte encoding", inMap(0xa3, 0xe0, 0x80, 0x80), "str is not valid UTF-8"],
    ["an overlong 4-byte encoding", inMap(0xa4, 0xf0, 0x80, 0x80, 0x80), "str is not valid UTF-8"],
    ["byte 0xff in a str", inMap(0xa1, 0xff), "str is not valid UTF-8"],
    ["invalid UTF-8 in a key", [0x81, 0xa1, 0xff, 0x01], "str is not valid UTF-8"],
    ["a 4 GiB array in 10 bytes", inMap(0xdd, 0xff, 0xff, 0xff, 0xff, 0x00), "collection declares more than maxCollectionEntries entries"],
    ["a 4 GiB map", inMap(0xdf, 0xff, 0xff, 0xff, 0xff, 0x00), "collection declares more than maxCollectionEntries entries"],
    ["an array declaring more items than bytes", inMap(0xdc, 0xff, 0xff, 0x00), "declared length exceeds the bytes remaining"],
    ["a map declaring more entries than bytes", inMap(0xde, 0x00, 0x10, 0xa1, 0x61, 0x00), "declared length exceeds the bytes remaining"],
    ["a 4 GiB str", inMap(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61), "declared length exceeds the bytes remaining"],
    ["a 4 GiB bin", inMap(0xc6, 0xff, 0xff, 0xff, 0xff, 0x61), "declared length exceeds the bytes remaining"],
    ["a bin16 past the end", inMap(0xc5, 0x01, 0x00, 0x61), "declared length exceeds the bytes remaining"],
    ["a key longer than the body", [0x81, 0xa5, 0x61], "declared length exceeds the bytes remaining"]
  ])("%s", (_, bytes, reason) => {
    expect(scan(bytes)).toBe(reason)
  })

  it("rejects a duplicate among many keys (sorted check)", () => {
    const entries = Array.from({ length: 100 }, (_, i) => [0xa3, 0x6b, 0x30 + Math.floor(i / 10), 0x30 + (i % 10), 0x01])
    const body = [0xde, 0, 101, ...entries.flat(), 0xa3, 0x6b, 0x34, 0x32, 0x02] // k42 twice
    expect(scan(body)).toBe("duplicate map key")
  })

  it("rejects 100 000 levels of nesting in one pass, without recursion", () => {
    const body = [0x81, 0xa1, 0x6b, ...new Array<number>(100_000).fill(0x91), 0xc0]
    expect(scan(body, 1_000_000)).toBe(WELL_FORMED)
    expect(scan(body)).toBe("nesting deeper than maxDecodeDepth")
  })

  it("never reads outside [start, end)", () => {
    const buffer = Uint8Array.from([0x81, 0xa1, 0x61, 0x01, 0x02])
    expect(PreScan.scan(buffer, 0, 3, 32, 10)).not.toBe(PreScan.ok)
  })
})

describe("PreScan.check", () => {
  it("returns a malformed_frame DecodeError or nothing", () => {
    expect(PreScan.check(Uint8Array.from([0x80]), CodecConfig.defaults)).toBeUndefined()
    expect(PreScan.check(Uint8Array.from([0x91, 0x01]), CodecConfig.defaults)).toMatchObject({
      _tag: "DecodeError",
      code: "malformed_frame",
      detail: "top level is not a map"
    })
  })
})

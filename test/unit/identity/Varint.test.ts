/** Unsigned varints: the multiformats encoding, and strict decoding (minimal, at most 9 bytes). */
import { describe, expect, it } from "vitest"
import * as Varint from "../../../src/identity/Varint.ts"

const bytes = (...values: ReadonlyArray<number>) => Uint8Array.from(values)

describe("Varint", () => {
  const known: ReadonlyArray<readonly [number, Uint8Array]> = [
    [0, bytes(0x00)],
    [1, bytes(0x01)],
    [127, bytes(0x7f)],
    [128, bytes(0x80, 0x01)],
    [0xed, bytes(0xed, 0x01)],
    [300, bytes(0xac, 0x02)],
    [16_384, bytes(0x80, 0x80, 0x01)],
    [Number.MAX_SAFE_INTEGER, bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f)]
  ]
  for (const [value, encoded] of known) {
    it(`encodes and decodes ${value}`, () => {
      expect(Varint.encode(value)).toEqual(encoded)
      expect(Varint.decode(encoded)).toEqual({ _tag: "Ok", value, length: encoded.length })
    })
  }

  it("decodes at an offset and reports the bytes used", () => {
    expect(Varint.decode(bytes(0x99, 0xed, 0x01, 0x42), 1)).toEqual({ _tag: "Ok", value: 0xed, length: 2 })
  })

  it("refuses non-minimal encodings", () => {
    expect(Varint.decode(bytes(0x80, 0x00))._tag).toBe("NonMinimal")
    expect(Varint.decode(bytes(0xed, 0x81, 0x00))._tag).toBe("NonMinimal")
    expect(Varint.decode(bytes(0xff, 0x80, 0x80, 0x00))._tag).toBe("NonMinimal")
  })

  it("refuses truncated input", () => {
    expect(Varint.decode(bytes())._tag).toBe("Truncated")
    expect(Varint.decode(bytes(0xed))._tag).toBe("Truncated")
    expect(Varint.decode(bytes(0x80, 0x80))._tag).toBe("Truncated")
  })

  it("refuses more than 9 bytes", () => {
    expect(Varint.decode(new Uint8Array(10).fill(0x80))._tag).toBe("TooLong")
    expect(Varint.decode(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))._tag).toBe("Unsafe")
  })

  it("refuses to encode what is not an unsigned safe integer", () => {
    for (const value of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => Varint.encode(value)).toThrow(RangeError)
  })
})

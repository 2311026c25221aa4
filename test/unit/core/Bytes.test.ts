import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Bytes from "../../../src/core/Bytes.ts"

describe("Bytes", () => {
  it("compares contents, not identity or the underlying buffer", () => {
    const backing = Uint8Array.of(9, 1, 2, 3)
    expect(Bytes.equals(backing.subarray(1), Uint8Array.of(1, 2, 3))).toBe(true)
    expect(Bytes.equals(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false)
    expect(Bytes.equals(new Uint8Array(0), new Uint8Array(0))).toBe(true)
  })

  it("orders lexicographically as unsigned bytes, a prefix first", () => {
    expect(Bytes.compare(Uint8Array.of(0x7f), Uint8Array.of(0x80))).toBeLessThan(0)
    expect(Bytes.compare(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBeLessThan(0)
    expect(Bytes.compare(Uint8Array.of(2), Uint8Array.of(1, 9))).toBeGreaterThan(0)
    expect(Bytes.compare(Uint8Array.of(4, 5), Uint8Array.of(4, 5))).toBe(0)
  })

  it("agrees with Buffer on order and hex", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        expect(Math.sign(Bytes.compare(a, b))).toBe(Buffer.compare(a, b))
        expect(Bytes.equals(a, b)).toBe(Buffer.compare(a, b) === 0)
        expect(Bytes.toHex(a)).toBe(Buffer.from(a).toString("hex"))
        expect(Bytes.fromHex(Bytes.toHex(a))).toEqual(a)
        expect(Bytes.fromHex(Bytes.toHex(a).toUpperCase())).toEqual(a)
      })
    )
  })

  it("rejects text that is not even-length hex", () => {
    expect(Bytes.fromHex("0")).toBeUndefined()
    expect(Bytes.fromHex("0g")).toBeUndefined()
    expect(Bytes.fromHex(" 00")).toBeUndefined()
    expect(Bytes.fromHex("")).toEqual(new Uint8Array(0))
  })

  it("concatenates into a fresh array", () => {
    const part = Uint8Array.of(1, 2)
    const joined = Bytes.concat(part)
    expect(joined).toEqual(part)
    expect(joined).not.toBe(part)
    expect(Bytes.concat(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))).toEqual(Uint8Array.of(1, 2, 3))
    expect(Bytes.concat()).toEqual(new Uint8Array(0))
  })
})

import { describe, expect, it } from "vitest"
import * as Prng from "../../../../src/core/Prng.ts"
import * as Xor from "../../../../src/protocols/dht/Xor.ts"

const id = (...head: Array<number>): Uint8Array => {
  const out = new Uint8Array(32)
  out.set(head)
  return out
}

describe("Xor", () => {
  it("computes the distance byte by byte and is zero only for equal ids", () => {
    expect(Xor.distance(id(0xf0, 1), id(0x0f, 1))).toEqual(id(0xff, 0))
    expect(Xor.distance(id(7), id(7))).toEqual(id())
  })

  it.each([
    [id(0x80), id(0x00), 0],
    [id(0x40), id(0x00), 1],
    [id(0x00, 0x01), id(0x00, 0x00), 15],
    [id(0xab), id(0xab), 256]
  ])("gives the common prefix length of %j and %j as %i", (a, b, expected) => {
    expect(Xor.commonPrefixLength(a, b)).toBe(expected)
  })

  it("orders by distance to a target as unsigned big-endian integers", () => {
    const target = id(0x10)
    expect(Xor.compareDistance(id(0x11), id(0x12), target)).toBeLessThan(0)
    expect(Xor.compareDistance(id(0x00), id(0x11), target)).toBeGreaterThan(0)
    expect(Xor.compareDistance(id(0x33), id(0x33), target)).toBe(0)
  })

  it("compares bytes lexicographically", () => {
    expect(Xor.compareBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBeLessThan(0)
    expect(Xor.compareBytes(Uint8Array.of(2), Uint8Array.of(1, 9))).toBeGreaterThan(0)
    expect(Xor.equals(Uint8Array.of(1), Uint8Array.of(1))).toBe(true)
  })

  it("round-trips hex and rejects malformed hex", () => {
    const x = id(0xde, 0xad, 0xbe, 0xef)
    expect(Xor.fromHex(Xor.toHex(x))).toEqual(x)
    expect(Xor.toHex(Uint8Array.of(0, 15, 255))).toBe("000fff")
    expect(Xor.fromHex("abc")).toBeUndefined()
    expect(Xor.fromHex("zz")).toBeUndefined()
  })

  it("counts leading zero bits", () => {
    expect(Xor.leadingZeroBits(Uint8Array.of(0, 0x10))).toBe(11)
    expect(Xor.leadingZeroBits(Uint8Array.of(0, 0))).toBe(16)
  })

  it("draws refresh targets that land in the requested bucket", () => {
    const self = id(0x5a, 0xc3, 0x99)
    let prng = Prng.fromSeed(7)
    for (const index of [0, 1, 7, 8, 9, 100, 254, 255]) {
      const [target, next] = Xor.randomInBucket(self, index, prng)
      prng = next
      expect(Xor.commonPrefixLength(self, target)).toBe(index)
    }
  })

  it("recognises well-formed ids only", () => {
    expect(Xor.isId(new Uint8Array(32))).toBe(true)
    expect(Xor.isId(new Uint8Array(31))).toBe(false)
    expect(Xor.isId("x".repeat(32))).toBe(false)
  })
})

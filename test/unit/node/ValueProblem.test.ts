/**
 * The facade's payload rule (`valueProblem`): a value is refused as too large exactly when its
 * msgpack encoding is above the operation's limit, whether or not the cheap size bound let it
 * skip encoding.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { maxValueBytes, valueProblem } from "../../../src/node/Messaging.ts"
import * as Msgpack from "../../../src/wire/Msgpack.ts"

const tooLarge = (operation: "publish" | "call", value: unknown): boolean =>
  valueProblem(operation, value)?.code === "payload_too_large"

describe("valueProblem", () => {
  it("refuses a value one byte above the limit and accepts one at the limit", () => {
    for (const operation of ["publish", "call"] as const) {
      const limit = maxValueBytes[operation]
      // A str32 header is 5 bytes.
      expect(Msgpack.packr.pack("x".repeat(limit - 5)).length).toBe(limit)
      expect(tooLarge(operation, "x".repeat(limit - 5))).toBe(false)
      expect(tooLarge(operation, "x".repeat(limit - 4))).toBe(true)
      // Two bytes per character: the bound (three per unit) is above the limit, the size is not.
      const half = Math.floor((limit - 5) / 2)
      expect(tooLarge(operation, { body: "é".repeat(half - 8) })).toBe(false)
      expect(tooLarge(operation, { body: "é".repeat(half + 8) })).toBe(true)
      expect(tooLarge(operation, [new Uint8Array(limit - 20), 1])).toBe(false)
      expect(tooLarge(operation, [new Uint8Array(limit), 1])).toBe(true)
    }
  })

  it("agrees with the encoded size on random values", () => {
    const leaf = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 40 }),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array({ maxLength: 64 })
    )
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("node"), { maxLength: 5 }), fc.dictionary(fc.string({ maxLength: 8 }), tie("node"), { maxKeys: 5 }))
    })).node
    fc.assert(fc.property(value, (v) => {
      expect(tooLarge("call", v)).toBe(Msgpack.packr.pack(v).length > maxValueBytes.call)
    }), { numRuns: 300 })
  })
})

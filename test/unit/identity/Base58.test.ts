/** Base58btc: known encodings, leading zeros, and refusal of characters outside the alphabet. */
import { describe, expect, it } from "vitest"
import * as Base58 from "../../../src/identity/Base58.ts"

const bytes = (...values: ReadonlyArray<number>) => Uint8Array.from(values)
const utf8 = (text: string) => new TextEncoder().encode(text)

describe("Base58", () => {
  const known: ReadonlyArray<readonly [string, Uint8Array, string]> = [
    ["the empty string", bytes(), ""],
    ["one zero byte", bytes(0), "1"],
    ["leading zeros", bytes(0, 0, 1), "112"],
    ["57, the last digit", bytes(57), "z"],
    ["58, the first carry", bytes(58), "21"],
    ["four 0xff bytes", bytes(0xff, 0xff, 0xff, 0xff), "7YXq9G"],
    ["\"hello world\"", utf8("hello world"), "StV1DL6CwTryKyV"]
  ]
  for (const [label, raw, text] of known) {
    it(`encodes ${label}`, () => {
      expect(Base58.encode(raw)).toBe(text)
    })
    it(`decodes ${label}`, () => {
      expect(Base58.decode(text)).toEqual(raw)
    })
  }

  it("uses the Bitcoin alphabet: 58 distinct characters without 0, O, I and l", () => {
    expect(new Set(Base58.alphabet).size).toBe(58)
    for (const c of "0OIl") expect(Base58.alphabet.includes(c)).toBe(false)
  })

  it("refuses characters outside the alphabet", () => {
    for (const text of ["0", "O", "I", "l", "+", "/", " ", "abc=", "é", "z\u0000", "1\uD83D\uDE00"]) {
      expect(Base58.decode(text), JSON.stringify(text)).toBeUndefined()
      expect(Base58.isAlphabet(text), JSON.stringify(text)).toBe(false)
    }
  })

  it("keeps all-zero inputs of any length", () => {
    for (let n = 0; n < 40; n++) {
      const zeros = new Uint8Array(n)
      expect(Base58.encode(zeros)).toBe("1".repeat(n))
      expect(Base58.decode("1".repeat(n))).toEqual(zeros)
    }
  })
})

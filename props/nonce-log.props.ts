/**
 * The seen-nonce log's decoder (PROTOCOL.md §13.4, §15.2) against damaged files: arbitrary text
 * and bytes, truncations and bit flips of a valid log never throw, and every entry it reports live
 * is well-formed (a canonical CID, a safe integer expiry not yet past with the leeway); what a
 * truncation leaves live is an entry that was written, unchanged, never a torn line.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Ucan from "../src/identity/ucan/index.ts"
import * as NonceLog from "../src/node/NonceLog.ts"

const now = 1_800_000_000
const leeway = 60
const written = Array.from({ length: 6 }, (_, i) => [Ucan.cid(Uint8Array.of(i)), now + (i % 2 === 0 ? 600 : -600)] as const)
const text = NonceLog.encode(written)

/** Decodes `input`: must not throw; every live entry must be well-formed and live. */
const check = (input: string) => {
  const decoded = NonceLog.decode(input, now, leeway)
  for (const [nonce, exp] of decoded.live) {
    expect(NonceLog.isNonce(nonce)).toBe(true)
    expect(Number.isSafeInteger(exp)).toBe(true)
    expect(exp + leeway).toBeGreaterThanOrEqual(now)
  }
  expect(new Set(decoded.live.map(([n]) => n)).size).toBe(decoded.live.length)
  return decoded
}

const flip = (s: string, at: number, bit: number) => s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ (1 << bit)) + s.slice(at + 1)

describe("NonceLog.decode", () => {
  it("reads back what was written, the expired entries aside", () => {
    const decoded = check(text)
    expect(decoded.live).toEqual(written.filter(([, exp]) => exp + leeway >= now))
    expect(decoded).toMatchObject({ malformed: 0, expired: 3, torn: false, lines: 6 })
  })

  it("arbitrary text and bytes never throw nor admit a malformed entry", () => {
    const line = fc.tuple(fc.oneof(fc.nat(), fc.constant(now), fc.string()), fc.oneof(fc.constantFrom(...written.map(([n]) => n)), fc.string()))
      .map(([exp, nonce]) => `${exp} ${nonce}`)
    fc.assert(fc.property(fc.oneof(
      fc.string(),
      fc.uint8Array().map((b) => new TextDecoder().decode(b)),
      fc.array(line).map((lines) => lines.join("\n"))
    ), (input) => void check(input)), { numRuns: 500 })
  })

  it("truncations keep only whole entries that were written", () => {
    fc.assert(fc.property(fc.nat({ max: text.length }), (at) => {
      const decoded = check(text.slice(0, at))
      for (const entry of decoded.live) expect(written).toContainEqual(entry)
      // The line cut through is dropped, never read as a shorter nonce or expiry.
      const whole = text.slice(0, at).lastIndexOf("\n") + 1
      expect(decoded.live).toEqual(NonceLog.decode(text.slice(0, whole), now, leeway).live)
    }), { numRuns: 300 })
  })

  it("bit flips never throw nor admit a malformed entry", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }), (flips) => {
      let damaged = text
      for (const [at, bit] of flips) damaged = flip(damaged, at % damaged.length, bit)
      check(damaged)
    }), { numRuns: 500 })
  })
})

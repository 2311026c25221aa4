/**
 * BLAKE3 (PROTOCOL.md §12): the official test vectors, an independent implementation
 * (`@noble/hashes`) agreeing on inputs around the chunk boundaries, and the Merkle parent.
 */
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Blake3 from "../../../src/content/Blake3.ts"

interface Vectors {
  readonly cases: ReadonlyArray<{ readonly input_len: number; readonly hash: string }>
}
const vectors: Vectors = JSON.parse(readFileSync(new URL("../../vectors/blake3.json", import.meta.url), "utf8"))

const input = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 251)
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

describe("Blake3", () => {
  it("matches every official vector (first 32 bytes of the extended output)", () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(20)
    for (const c of vectors.cases) expect([c.input_len, hex(Blake3.hash(input(c.input_len)))]).toEqual([c.input_len, c.hash.slice(0, 64)])
  })

  it("agrees with @noble/hashes around the 1 KiB, 4 KiB and 256 KiB boundaries", () => {
    for (const n of [63, 64, 65, 1023, 1024, 1025, 4095, 4096, 4097, 65_536, 262_143, 262_144, 262_145, 600_000]) {
      const data = input(n)
      expect([n, hex(Blake3.hash(data))]).toEqual([n, hex(nobleBlake3(data))])
    }
  })

  it("hashes views at every offset alike: unaligned inputs (copied to aligned scratch) and the largest", () => {
    const backing = input(262_144 + 8 + 600_000)
    for (const offset of [0, 1, 2, 3, 5]) {
      for (const n of [4_095, 4_096, 65_537, 262_144, 600_000]) {
        const view = backing.subarray(offset, offset + n)
        const out = new Uint8Array(32)
        Blake3.hashInto(view, out)
        expect([offset, n, hex(Blake3.hash(view)), hex(out)]).toEqual([offset, n, hex(nobleBlake3(view)), hex(nobleBlake3(view))])
      }
    }
    // The scratch copy never leaks into the input.
    expect(hex(backing)).toBe(hex(input(262_144 + 8 + 600_000)))
  })

  it("returns a fresh 32-byte array each call", () => {
    const a = Blake3.hash(input(5_000))
    const copy = hex(a)
    Blake3.hash(input(6_000))
    expect(a.length).toBe(32)
    expect(hex(a)).toBe(copy)
  })

  it("hashes a Merkle parent as BLAKE3(left ‖ right)", () => {
    const l = Blake3.hash(input(1))
    const r = Blake3.hash(input(2))
    expect(hex(Blake3.parent(l, r))).toBe(hex(nobleBlake3(new Uint8Array([...l, ...r]))))
  })
})

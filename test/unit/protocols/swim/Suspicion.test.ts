/**
 * The §11.4 suspicion window as a table: bounds per cluster size, the k = 0 rule for small
 * meshes, and the decay with confirmations (the PROTOCOL.md vectors).
 */
import { describe, expect, it } from "vitest"
import * as Config from "../../../../src/protocols/swim/Config.ts"
import * as Suspicion from "../../../../src/protocols/swim/Suspicion.ts"

describe("Suspicion.bounds", () => {
  it.each([
    // n, min, max, k
    [1, 5_000, 30_000, 0],
    [3, 5_000, 30_000, 0], // n − 2 = 1 < 3: too few others could confirm
    [4, 5_000, 30_000, 0],
    [5, 5_000, 30_000, 3],
    [10, 5_000, 30_000, 3],
    [100, 10_000, 60_000, 3],
    [1_000, 15_000, 90_000, 3]
  ])("n = %i gives min %i ms, max %i ms, k = %i with the defaults", (n, min, max, k) => {
    const b = Suspicion.bounds(Config.lan, n)
    expect(Math.floor(b.min)).toBe(min)
    expect(Math.floor(b.max)).toBe(max)
    expect(b.k).toBe(k)
  })

  it("fixes the window at min with Lifeguard off", () => {
    const b = Suspicion.bounds({ ...Config.lan, lifeguard: false }, 100)
    expect(b).toEqual({ min: 10_000, max: 10_000, k: 0 })
    expect(Suspicion.timeout(b, 0)).toBe(10_000)
  })
})

describe("Suspicion.timeout", () => {
  const b10 = Suspicion.bounds(Config.lan, 10)

  it.each([
    [0, 30_000],
    [1, 17_500],
    [2, 10_187],
    [3, 5_000],
    [4, 5_000], // more confirmations than k never go below min
    [100, 5_000]
  ])("n = 10, k = 3: %i confirmations give %i ms", (c, ms) => {
    expect(Suspicion.timeout(b10, c)).toBe(ms)
  })

  it("is min whatever the confirmations when k = 0 (vector n = 3)", () => {
    const b3 = Suspicion.bounds(Config.lan, 3)
    expect([0, 1, 2, 5].map((c) => Suspicion.timeout(b3, c))).toEqual([5_000, 5_000, 5_000, 5_000])
  })

  it("never increases with more confirmations and stays within [min, max]", () => {
    for (const n of [2, 5, 10, 37, 100, 4_096]) {
      const b = Suspicion.bounds(Config.lan, n)
      let previous = Infinity
      for (let c = 0; c <= 10; c++) {
        const ms = Suspicion.timeout(b, c)
        expect(ms).toBeLessThanOrEqual(previous)
        expect(ms).toBeGreaterThanOrEqual(Math.floor(b.min))
        expect(ms).toBeLessThanOrEqual(b.max)
        previous = ms
      }
    }
  })
})

describe("Suspicion records", () => {
  const b = Suspicion.bounds(Config.lan, 10)

  it("counts each accuser once and stops at k confirmations", () => {
    let s = Suspicion.start(b, 1_000, "a")
    expect(Suspicion.deadline(s)).toBe(31_000)
    expect(Suspicion.confirm(s, "a")).toBeUndefined()
    s = Suspicion.confirm(s, "b")!
    expect(Suspicion.deadline(s)).toBe(18_500)
    s = Suspicion.confirm(s, "c")!
    s = Suspicion.confirm(s, "d")!
    expect(Suspicion.confirmations(s)).toBe(3)
    expect(Suspicion.deadline(s)).toBe(6_000)
    expect(Suspicion.confirm(s, "e")).toBeUndefined()
    expect(s.accusers).toHaveLength(b.k + 1)
  })
})

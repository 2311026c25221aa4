/**
 * The pure parts of the client's station link: seed rotation and the redial backoff.
 */
import { describe, expect, it } from "vitest"
import * as StationLink from "../../../src/node/StationLink.ts"

describe("StationLink", () => {
  it("rotates through the seeds in order, wrapping around", () => {
    expect([0, 1, 2].map((i) => StationLink.nextSeed(i, 3))).toEqual([1, 2, 0])
    expect(StationLink.nextSeed(0, 1)).toBe(0)
    expect(StationLink.nextSeed(5, 0)).toBe(0)
  })

  it("doubles the redial delay from reconnectMinMs up to reconnectMaxMs, spread by ±20 %", () => {
    const mid = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => StationLink.backoffMs(250, 30_000, n, 0.5))
    expect(mid).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000])
    expect(StationLink.backoffMs(250, 30_000, 1, 0)).toBe(200)
    expect(StationLink.backoffMs(250, 30_000, 1, 0.999_999)).toBe(300)
    expect(StationLink.backoffMs(250, 30_000, 40, 0.5)).toBe(30_000)
  })
})

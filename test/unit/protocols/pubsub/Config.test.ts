/**
 * Pub/sub knobs: the presets are valid and `problems` names what is wrong.
 */
import { describe, expect, it } from "vitest"
import { PubSub } from "../../../../src/protocols/pubsub/index.ts"

describe("PubSub config", () => {
  it("accepts both presets", () => {
    expect(PubSub.problems(PubSub.defaults)).toEqual([])
    expect(PubSub.problems(PubSub.local)).toEqual([])
  })
  it("names each problem in words", () => {
    const bad = { ...PubSub.defaults, aloMaxInFlight: 0, stationDedupWindowMs: 1_000, servedRealms: ["XYZ"] }
    expect(PubSub.problems(bad)).toEqual([
      "aloMaxInFlight must be a positive integer",
      "stationDedupWindowMs must be at least eventMaxAgeMs + 2 × clockSkewLeewayMs",
      "servedRealms entry XYZ is not 64 lowercase hex digits"
    ])
  })
})

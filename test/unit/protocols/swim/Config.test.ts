/**
 * The SWIM knobs: the presets are valid, `lan` is the §16 table, and `problems` names what
 * is wrong in words.
 */
import { describe, expect, it } from "vitest"
import * as Awareness from "../../../../src/protocols/swim/Awareness.ts"
import * as Config from "../../../../src/protocols/swim/Config.ts"

describe("Swim config", () => {
  it("has valid presets", () => {
    expect(Config.problems(Config.lan)).toEqual([])
    expect(Config.problems(Config.wan)).toEqual([])
    expect(Config.problems(Config.local)).toEqual([])
  })

  it("uses the PROTOCOL.md §16 defaults in lan", () => {
    expect(Config.lan).toMatchObject({
      probeIntervalMs: 1_000,
      probeTimeoutMs: 400,
      indirectProbes: 3,
      nackFraction: 0.8,
      suspicionMult: 5,
      suspicionMaxTimeoutMult: 6,
      retransmitMult: 4,
      awarenessMaxMult: 8,
      pushPullIntervalMs: 30_000,
      deadRetentionMs: 30_000,
      maxPiggybackClaims: 16,
      swimMaxMembers: 4_096
    })
  })

  it.each([
    [{ probeTimeoutMs: 1_000 }, "probeTimeoutMs must be below probeIntervalMs"],
    [{ nackFraction: 1 }, "nackFraction must lie in (0, 1)"],
    [{ swimMaxMembers: 0 }, "swimMaxMembers must be a positive integer"],
    [{ indirectProbes: -1 }, "indirectProbes must be a non-negative integer"],
    [{ pushPullIntervalMs: 1.5 }, "pushPullIntervalMs must be a non-negative integer (0 disables it)"],
    [{ maxPiggybackClaims: 0 }, "maxPiggybackClaims must be a positive integer"]
  ])("reports %o", (patch, problem) => {
    expect(Config.problems({ ...Config.lan, ...patch })).toContain(problem)
  })
})

describe("Awareness (Lifeguard local health)", () => {
  it.each([
    [0, 1, 8, 1],
    [7, 1, 8, 7], // ceiling awarenessMaxMult − 1
    [0, -1, 8, 0], // floor 0
    [3, -1, 8, 2],
    [0, 1, 1, 0] // awarenessMaxMult 1 disables the back-off
  ])("h = %i plus %i with max mult %i is %i", (h, delta, max, expected) => {
    expect(Awareness.adjust(h, delta, max)).toBe(expected)
  })

  it.each([
    [3, 0, 1], // no nack came back: our own link is in doubt
    [3, 2, 1],
    [3, 3, 0], // every helper answered: the target is the problem
    [0, 0, 1] // nobody to ask
  ])("a failed probe with %i helpers and %i nacks adds %i", (expected, got, delta) => {
    expect(Awareness.afterFailedProbe(expected, got)).toBe(delta)
  })

  it("scales a duration by h + 1", () => {
    expect(Awareness.scale(1_000, 0)).toBe(1_000)
    expect(Awareness.scale(400, 3)).toBe(1_600)
  })
})

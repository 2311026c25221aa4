/**
 * The precedence rules of PROTOCOL.md §11.2 as a table, claims about oneself, and the
 * structural checks that back §14 row 22.
 */
import { describe, expect, it } from "vitest"
import * as Claims from "../../../../src/protocols/swim/Claims.ts"

const at = (kind: Claims.Kind, incarnation: number) => ({ kind, incarnation })

describe("Claims.supersedes (§11.2 at local incarnation 5)", () => {
  it.each([
    // incoming, current, overrides?
    ["alive", 6, "alive", 5, true],
    ["alive", 5, "alive", 5, false],
    ["alive", 4, "alive", 5, false],
    ["alive", 6, "suspect", 5, true],
    ["alive", 5, "suspect", 5, false], // a suspicion is only refuted by a higher incarnation
    ["alive", 6, "dead", 5, true], // revival needs j > i
    ["alive", 5, "dead", 5, false], // a replayed alive never revives
    ["suspect", 5, "alive", 5, true], // j ≥ i
    ["suspect", 4, "alive", 5, false],
    ["suspect", 5, "suspect", 5, false], // same suspicion: a confirmation at most, not an override
    ["suspect", 6, "suspect", 5, true],
    ["suspect", 5, "dead", 5, false],
    ["suspect", 6, "dead", 5, true], // §11.2 is silent; the lattice decides (documented)
    ["dead", 5, "alive", 5, true],
    ["dead", 5, "suspect", 5, true],
    ["dead", 4, "suspect", 5, false],
    ["dead", 5, "dead", 5, false],
    ["dead", 6, "dead", 5, true]
  ] as const)("%s(%i) over %s(%i): %s", (kind, j, currentKind, i, expected) => {
    expect(Claims.supersedes(at(kind, j), at(currentKind, i))).toBe(expected)
  })
})

describe("Claims.decide", () => {
  it("joins an unknown member only on an alive claim", () => {
    expect(Claims.decide(undefined, Claims.alive("x", 0))).toBe("join")
    expect(Claims.decide(undefined, Claims.suspect("x", 0, "y"))).toBe("unknown")
    expect(Claims.decide(undefined, Claims.dead("x", 0, "y"))).toBe("unknown")
  })

  it("counts a suspect claim at the same incarnation from a new accuser as a confirmation", () => {
    expect(Claims.decide(at("suspect", 3), Claims.suspect("x", 3, "b"), ["a"])).toBe("confirm")
    expect(Claims.decide(at("suspect", 3), Claims.suspect("x", 3, "a"), ["a"])).toBe("stale")
    expect(Claims.decide(at("suspect", 3), Claims.suspect("x", 2, "b"), ["a"])).toBe("stale")
  })
})

describe("Claims.aboutSelf", () => {
  it.each([
    // own incarnation 3
    ["suspect", 3, "refute"],
    ["suspect", 7, "refute"],
    ["suspect", 2, "ignore"],
    ["dead", 3, "refute"],
    ["alive", 3, "ignore"], // the echo of our own claim
    ["alive", 4, "refute"], // a predecessor's claim we forgot
    ["alive", 1, "ignore"]
  ] as const)("%s(%i) about a station at 3: %s", (kind, j, expected) => {
    const claim = kind === "alive" ? Claims.alive("a", j) : kind === "suspect" ? Claims.suspect("a", j, "b") : Claims.dead("a", j, "b")
    expect(Claims.aboutSelf(3, claim, false)).toBe(expected)
  })

  it("refutes nothing once leaving", () => {
    expect(Claims.aboutSelf(3, Claims.suspect("a", 9, "b"), true)).toBe("ignore")
  })
})

describe("Claims.problem", () => {
  it.each([
    [{ ...Claims.alive("a", 1), by: "b" }, "alive claim not signed by its subject"],
    [Claims.suspect("a", 1, "a"), "suspect claim signed by its subject"],
    [Claims.alive("a", -1), "incarnation out of range"],
    [Claims.alive("a", 2 ** 53), "incarnation out of range"],
    [Claims.alive("a", 1.5), "incarnation out of range"],
    [Claims.alive("", 1), "empty member id"]
  ])("rejects %o", (claim, why) => {
    expect(Claims.problem(claim)).toBe(why)
  })

  it("accepts well-formed claims, a graceful leave included", () => {
    expect(Claims.problem(Claims.alive("a", Claims.maxIncarnation))).toBeUndefined()
    expect(Claims.problem(Claims.dead("a", 1, "a"))).toBeUndefined()
    expect(Claims.isLeave(Claims.dead("a", 1, "a"))).toBe(true)
    expect(Claims.isLeave(Claims.dead("a", 1, "b"))).toBe(false)
  })
})

describe("Claims.join", () => {
  it("keeps the left claim on a tie of (kind, incarnation)", () => {
    const a = Claims.dead("x", 2, "p")
    const b = Claims.dead("x", 2, "q")
    expect(Claims.join(a, b)).toBe(a)
    expect(Claims.join(b, a)).toBe(b)
    expect(Claims.join(Claims.alive("x", 3), a)).toEqual(Claims.alive("x", 3))
  })
})

/**
 * The broadcast queue (§11.5): the retransmit limit, fewest-sent-first selection, one claim
 * per subject, and the cap.
 */
import { describe, expect, it } from "vitest"
import * as Claims from "../../../../src/protocols/swim/Claims.ts"
import * as Dissemination from "../../../../src/protocols/swim/Dissemination.ts"

describe("Dissemination.retransmitLimit", () => {
  it.each([
    [0, 4],
    [1, 4],
    [9, 4],
    [10, 8], // the §11.5 vector: n = 10 → 8
    [99, 8],
    [100, 12],
    [4_096, 16]
  ])("n = %i with λ = 4 gives %i", (n, limit) => {
    expect(Dissemination.retransmitLimit(4, n)).toBe(limit)
  })
})

describe("Dissemination queue", () => {
  it("takes the least-sent claims first, newest first on a tie", () => {
    let q = Dissemination.empty
    for (const id of ["a", "b", "c"]) q = Dissemination.enqueue(q, Claims.alive(id, 0), 10)
    const [first, q1] = Dissemination.take(q, 2, 5)
    expect(first.map((c) => c.subject)).toEqual(["c", "b"])
    const [second] = Dissemination.take(q1, 2, 5)
    expect(second.map((c) => c.subject)).toEqual(["a", "c"])
  })

  it("drops a claim once it reached the limit", () => {
    let q = Dissemination.enqueue(Dissemination.empty, Claims.alive("a", 0), 10)
    for (let i = 0; i < 3; i++) q = Dissemination.take(q, 1, 3)[1]
    expect(Dissemination.size(q)).toBe(0)
  })

  it("keeps one claim per subject: a newer one replaces the queued one with a fresh count", () => {
    let q = Dissemination.enqueue(Dissemination.empty, Claims.alive("a", 0), 10)
    q = Dissemination.take(q, 1, 9)[1]
    q = Dissemination.enqueue(q, Claims.suspect("a", 0, "b"), 10)
    expect(Dissemination.size(q)).toBe(1)
    expect(Dissemination.queued(q, "a")?.kind).toBe("suspect")
    expect(q.entries.get("a")?.transmits).toBe(0)
  })

  it("evicts the most-sent entry past its cap", () => {
    let q = Dissemination.enqueue(Dissemination.empty, Claims.alive("a", 0), 2)
    q = Dissemination.take(q, 1, 9)[1]
    q = Dissemination.enqueue(q, Claims.alive("b", 0), 2)
    q = Dissemination.enqueue(q, Claims.alive("c", 0), 2)
    expect([...q.entries.keys()].sort()).toEqual(["b", "c"])
  })

  it("skips the excluded subject and takes nothing when max is 0", () => {
    let q = Dissemination.enqueue(Dissemination.empty, Claims.alive("a", 0), 10)
    q = Dissemination.enqueue(q, Claims.alive("b", 0), 10)
    expect(Dissemination.take(q, 5, 5, "b")[0].map((c) => c.subject)).toEqual(["a"])
    expect(Dissemination.take(q, 0, 5)[0]).toEqual([])
  })
})

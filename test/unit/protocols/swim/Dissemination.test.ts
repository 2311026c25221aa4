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

  it("takes exactly what a full sort of the queue would give", () => {
    // The selection is one bounded pass; check it against the sort it replaced on a mixed queue.
    let q = Dissemination.empty
    let x = 7
    const draw = (n: number) => (x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) % n
    for (let round = 0; round < 60; round++) {
      const id = `m${draw(25)}`
      q = Dissemination.enqueue(q, Claims.suspect(id, draw(3), "z"), 20)
      if (draw(2) === 0) q = Dissemination.take(q, draw(5), 6)[1]
      const max = 1 + draw(8)
      const expected = [...q.entries.values()]
        .sort((a, b) => a.transmits - b.transmits || b.order - a.order)
        .slice(0, max)
        .map((e) => e.claim)
      expect(Dissemination.take(q, max, 6)[0]).toEqual(expected)
    }
  })
})

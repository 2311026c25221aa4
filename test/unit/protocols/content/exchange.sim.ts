/**
 * The content exchange on the deterministic simulator: a 5 MiB file fetched from several
 * providers at once, one of them lying (corrupted blocks) and one dying mid-transfer, another
 * behind a slow link. The result must be byte-identical, the liar blacklisted, the dead
 * provider's chunks fetched elsewhere, and no corrupted byte ever stored.
 */
import { describe, expect, it } from "vitest"
import * as Sim from "../../../../src/testkit/sim/index.ts"
import { config, contentOf, CS } from "./Fixtures.ts"
import * as World from "./World.ts"

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(Buffer.from(b))

describe("content exchange simulation", () => {
  const content = contentOf(20 * CS + 4_321, 42)
  const big = contentOf(48 * CS + 99, 43)

  it("fetches byte-identical content from honest, lying, dying and slow providers", () => {
    for (const seed of [1, 2, 3]) {
      const w = World.make({
        seed,
        content: big,
        config: config({ blockRequestTimeoutMs: 250, fetchWindowPerProvider: 2 }),
        providers: [
          { id: "honest1", behaviour: "honest" },
          { id: "liar", behaviour: "liar" },
          { id: "dying", behaviour: "honest" },
          { id: "slow", behaviour: "honest" }
        ],
        network: { latencyMs: 10, jitter: Sim.Network.uniform(5) },
        link: (from, to) => (from === "slow" || to === "slow" ? { latencyMs: 200 } : undefined)
      })
      w.start(0)
      Sim.crash(w.sim, "dying", { at: 60 })
      const run = Sim.runUntil(w.sim, 60_000)
      void run
      const f = w.fetcher()
      expect(f.fetch.phase).toBe("done")
      expect(same(w.assembled(), big)).toBe(true)
      expect(f.storedBad).toBe(0)
      expect(f.fetch.dropped.has("liar")).toBe(true)
      expect(Sim.records(w.sim).map((o) => o.record)).toContainEqual({ _tag: "Blacklisted", provider: "liar" })
      expect(f.fetch.counters.timeouts).toBeGreaterThan(0) // the dying provider's wants
      expect(f.fetch.counters.unsolicited).toBe(0)
      // The dead and the slow provider end up below the honest fast one.
      const score = (id: string) => f.fetch.providers.get(id)?.score ?? -Infinity
      expect(score("dying")).toBeLessThan(score("honest1"))
      expect(score("slow")).toBeLessThan(score("honest1"))
      expect(f.fetch.counters.badBlocks + f.fetch.counters.badManifests).toBeGreaterThan(0)
    }
  })

  it("resumes from chunks already held, asking for none of them", () => {
    const w = World.make({ seed: 9, content, config: config(), providers: [{ id: "p", behaviour: "honest" }, { id: "q", behaviour: "honest" }] })
    if (w.layout._tag !== "chunked") throw new Error("chunked expected")
    const held = [0, 1, 2, 3, 4, 10, 20]
    w.start(0, { _tag: "Manifest", manifest: w.layout.manifest, held })
    Sim.runUntil(w.sim, 30_000)
    const f = w.fetcher()
    expect(f.fetch.phase).toBe("done")
    expect([...f.stored.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, i) => i).filter((i) => !held.includes(i)))
    expect(Sim.stats(w.sim).byKind["content.manifest_req"]).toBeUndefined()
  })

  it("finishes with every provider but one mute, and replays a seed exactly", () => {
    const runOnce = () => {
      const w = World.make({
        seed: 5,
        content,
        config: config({ blockRequestTimeoutMs: 300 }),
        providers: [{ id: "m1", behaviour: "mute" }, { id: "m2", behaviour: "mute" }, { id: "ok", behaviour: "honest" }],
        network: { latencyMs: 5, loss: 0.02 }
      })
      w.start(0)
      Sim.runUntil(w.sim, 120_000)
      return w
    }
    const a = runOnce()
    const b = runOnce()
    expect(same(a.assembled(), content)).toBe(true)
    expect(a.fetcher().fetch.counters).toEqual(b.fetcher().fetch.counters)
    expect(Sim.stats(a.sim)).toEqual(Sim.stats(b.sim))
  })
})

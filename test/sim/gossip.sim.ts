/**
 * Push gossip over 1,000 nodes (and one run over 10,000) on the deterministic simulator,
 * measured against theory: with fanout 1 and synchronous rounds, everyone knows the rumour
 * after about log2(n) + ln(n) rounds (Pittel 1987), about 17 for n = 1,000, and never in fewer
 * than log2(n) rounds, since the informed set at most doubles per round. Also: loss and
 * jitter slow it a little, a partition holds the rumour back until it heals, crashed nodes
 * never hear it and catch up once restarted, and a seed replays a run exactly.
 */
import { describe, expect, it } from "vitest"
import * as Sim from "../../src/testkit/sim/index.ts"
import * as Gossip from "./GossipCore.ts"

const n = 1_000
const periodMs = 100
const pittel = (size: number) => Math.log2(size) + Math.log(size)

/** Rounds until the last node learnt the rumour (round k starts at k × periodMs). */
const roundsToAll = (sim: Sim.Sim<Gossip.State, Gossip.Event, Gossip.Learned>) =>
  Math.floor(Math.max(...Sim.records(sim).map((o) => o.at)) / periodMs)

const originate = (sim: Sim.Sim<Gossip.State, Gossip.Event, Gossip.Learned>, at = 0) =>
  Sim.inject(sim, at, "n0", { _tag: "Originate", now: at })

const informed = (sim: Sim.Sim<Gossip.State, Gossip.Event, Gossip.Learned>, ids: ReadonlyArray<string>) =>
  ids.filter((id) => Sim.state(sim, id).hops !== undefined).length

describe("push gossip, 1,000 nodes", () => {
  it("reaches everyone within log2(n) + ln(n) + 3 rounds on a perfect network, over four seeds", () => {
    const rounds: Array<number> = []
    for (const seed of [1, 2, 3, 4]) {
      const { sim, config } = Gossip.make({ n, seed })
      originate(sim)
      expect(Sim.runUntilQuiet(sim).reason).toBe("quiet")
      expect(Sim.records(sim)).toHaveLength(n)
      const r = roundsToAll(sim)
      rounds.push(r)
      expect(r).toBeGreaterThanOrEqual(Math.ceil(Math.log2(n)))
      expect(r).toBeLessThanOrEqual(pittel(n) + 3)
      // No hop count can exceed the rounds it had, and every node pushed exactly pushRounds times.
      expect(Math.max(...Sim.records(sim).map((o) => o.record.hops))).toBeLessThanOrEqual(r)
      const stats = Sim.stats(sim)
      expect(stats.sent).toBe(n * config.pushRounds)
      expect(stats.delivered).toBe(stats.sent)
      expect(Sim.counter(sim, "duplicates")).toBe(stats.delivered - (n - 1))
    }
    const mean = rounds.reduce((a, b) => a + b, 0) / rounds.length
    expect(Math.abs(mean - pittel(n))).toBeLessThan(3)
  })

  it("still reaches everyone with 5 % loss, 1 % duplicates and WAN jitter, a little later", () => {
    for (const seed of [1, 2, 3]) {
      const { sim } = Gossip.make({ n, seed, network: Sim.Network.lossy })
      originate(sim)
      Sim.runUntilQuiet(sim)
      expect(Sim.records(sim)).toHaveLength(n)
      expect(roundsToAll(sim)).toBeLessThanOrEqual(pittel(n) + 6)
      const stats = Sim.stats(sim)
      expect(stats.dropped.loss / stats.sent).toBeGreaterThan(0.04)
      expect(stats.dropped.loss / stats.sent).toBeLessThan(0.06)
      expect(stats.duplicated).toBeGreaterThan(0)
    }
  })

  it("holds the rumour back behind a partition and spreads it once the partition heals", () => {
    const { sim, peers } = Gossip.make({ n, seed: 7 })
    const cut = peers.slice(700)
    const healAt = 20 * periodMs
    Sim.partition(sim, [cut], { healAt })
    originate(sim)
    Sim.runUntil(sim, healAt - 1)
    expect(informed(sim, cut)).toBe(0)
    expect(informed(sim, peers.slice(0, 700))).toBeGreaterThan(650)
    Sim.runUntilQuiet(sim)
    expect(informed(sim, peers)).toBe(n)
    expect(Sim.stats(sim).dropped.partition).toBeGreaterThan(0)
    // Once healed, the cut-off 30 % is covered in a few rounds, since most nodes are pushing.
    const lastCut = Math.max(...cut.map((id) => Sim.state(sim, id).learnedAt!))
    expect((lastCut - healAt) / periodMs).toBeLessThan(10)
  })

  it("never informs crashed nodes; they catch up after a restart while others still push", () => {
    const { sim, peers } = Gossip.make({ n, seed: 11 })
    const rng = Sim.random(sim)
    const down = new Set<string>()
    while (down.size < 100) down.add(peers[rng.int(1, n - 1)]!)
    for (const id of down) Sim.crash(sim, id)
    originate(sim)
    const restartAt = 25 * periodMs
    Sim.runUntil(sim, restartAt)
    expect(informed(sim, [...down])).toBe(0)
    expect(informed(sim, peers.filter((id) => !down.has(id)))).toBe(n - 100)
    expect(Sim.stats(sim).dropped.crash).toBeGreaterThan(0)
    for (const id of down) Sim.restart(sim, id)
    Sim.runUntilQuiet(sim)
    expect(informed(sim, peers)).toBe(n)
    for (const id of down) {
      expect(Sim.state(sim, id).learnedAt!).toBeGreaterThan(restartAt)
      expect(Sim.nodeStats(sim, id)).toMatchObject({ crashes: 1, restarts: 1, incarnation: 1 })
    }
  })

  it("replays a lossy run exactly from its seed, and another seed gives another run", () => {
    const runOnce = (seed: number) => {
      const { sim } = Gossip.make({ n, seed, network: Sim.Network.lossy })
      originate(sim)
      Sim.runUntilQuiet(sim)
      return { digest: Sim.digest(sim), records: Sim.records(sim), stats: Sim.stats(sim) }
    }
    const a = runOnce(42)
    expect(runOnce(42)).toEqual(a)
    expect(runOnce(43).digest).not.toBe(a.digest)
  })
})

describe("push gossip, 10,000 nodes", () => {
  it("reaches everyone within log2(n) + ln(n) + 3 rounds", () => {
    const size = 10_000
    const { sim } = Gossip.make({ n: size, seed: 3, pushRounds: 25 })
    originate(sim)
    const result = Sim.runUntilQuiet(sim)
    expect(result.reason).toBe("quiet")
    expect(result.steps).toBe(size * 25 * 2 + 1)
    expect(Sim.records(sim)).toHaveLength(size)
    expect(roundsToAll(sim)).toBeLessThanOrEqual(pittel(size) + 3)
  })
})

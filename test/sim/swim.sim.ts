/**
 * SWIM + Lifeguard with 100 members on the deterministic simulator, with the §16 defaults
 * (1 s probe period; at n = 100 the suspicion window is 10–60 s). Every figure is virtual
 * time, in probe periods, so the machine's speed never matters. The properties:
 * - a cold cluster joining through one seed converges, without a single suspicion;
 * - crashes are detected within a few periods and every live member marks them dead within
 *   the suspicion window plus O(log n) gossip periods; with no loss, nobody live is suspected;
 * - churn (graceful leaves, crashes, joins) settles to the exact live set;
 * - a partition long enough for each side to declare the other dead heals: the sides refute
 *   and every member is alive everywhere again;
 * - with 5 % loss, crashes are still detected and disseminated, and no live member is
 *   declared dead (suspicions happen and are refuted);
 * - a seed replays a run exactly.
 */
import { describe, expect, it } from "vitest"
import { Swim } from "../../src/protocols/swim/index.ts"
import * as Sim from "../../src/testkit/sim/index.ts"
import * as Swarm from "./swim.ts"

const n = 100
const period = Swim.lan.probeIntervalMs
/** The §11.4 window at n = 100: min 10 s, max 60 s. */
const windowMin = Swim.Suspicion.bounds(Swim.lan, n).min / period
const log2n = Math.log2(n)

/** A cluster with a tracker wired in; `warm` members start knowing each other. */
const setup = (options: { readonly seed: number; readonly warm?: boolean; readonly loss?: number; readonly keepRecords?: boolean }) => {
  let sim: Sim.Sim<Swarm.Member, Swarm.Input, Swim.Change> | undefined
  const tracker = Swarm.makeTracker((id) => Sim.isUp(sim!, id))
  const cluster = Swarm.makeCluster({ nodes: n, ...options, onChange: tracker.observe })
  sim = cluster.sim
  return { cluster, sim: cluster.sim, tracker }
}

/** Crashes `id` at `at` and tells the tracker. */
const crashAt = (c: ReturnType<typeof setup>, id: string, at: number) =>
  Sim.schedule(c.sim, at, () => {
    Swarm.crash(c.cluster, id)
    c.tracker.crashed(id, at)
  })

/** Every tracked crash's figures, judged against the members up at the end. */
const crashResults = (c: ReturnType<typeof setup>) =>
  [...c.tracker.crashes.values()].map((t) =>
    Swarm.crashResult(t, Swarm.upMembers(c.cluster), period, (o, id) => Swarm.statusOf(c.cluster, o, id) !== undefined)
  )

describe("SWIM, 100 members", () => {
  it("converges from one seed with no suspicion at all", () => {
    const c = setup({ seed: 1, warm: false, keepRecords: true })
    for (const id of c.cluster.ids) if (id !== "n0") Swarm.join(c.cluster, id, ["n0"], 0)
    const result = Swarm.runUntilConverged(c.cluster, 120_000)
    expect(result.reason).toBe("stopped")
    // Everyone hears of everyone through n0's answers and piggybacked gossip, not only push-pull.
    expect(result.now / period).toBeLessThan(30)
    expect(Sim.records(c.sim).filter((o) => o.record._tag !== "MemberAlive")).toEqual([])
  })

  it("detects crashes within a few periods, disseminates them, and suspects nobody live without loss", () => {
    const c = setup({ seed: 2 })
    for (const [i, id] of ["n13", "n57", "n91", "n30", "n64"].entries()) crashAt(c, id, 10_000 + i * 5_000)
    Sim.runUntil(c.sim, 120_000)
    const results = crashResults(c)
    expect(results).toHaveLength(5)
    for (const r of results) {
      expect(r.missing).toBe(0)
      // P(nobody probes it for t periods) ≈ e^-t: 6 periods is a 1-in-400 event per crash.
      expect(r.firstDetectionPeriods!).toBeLessThanOrEqual(6)
      // The verdict waits out the window (confirmations bring it to min), then spreads.
      expect(r.firstVerdictPeriods!).toBeGreaterThanOrEqual(windowMin)
      expect(r.fullDisseminationPeriods! - r.firstVerdictPeriods!).toBeLessThanOrEqual(log2n)
    }
    // Someone probes it about once a period, and suspects at the end of that probe's period:
    // expected median ≈ ln 2 + 1 ≈ 1.7 periods.
    expect(Swarm.median(results.map((r) => r.firstDetectionPeriods!))).toBeLessThanOrEqual(3)
    expect(c.tracker.falseSuspicions.size).toBe(0)
    expect(c.tracker.falseVerdicts.size).toBe(0)
    expect(Swarm.converged(c.cluster)).toBe(true)
  })

  it("settles to the exact live set after churn: leaves, crashes and joins", () => {
    const c = setup({ seed: 3, keepRecords: true })
    const rng = Sim.random(c.sim)
    const pool = [...c.cluster.ids]
    const pick = () => pool.splice(rng.int(0, pool.length - 1), 1)[0]!
    const leavers = [pick(), pick(), pick(), pick(), pick()]
    const crashed = [pick(), pick(), pick(), pick(), pick()]
    leavers.forEach((id, i) => Swarm.leave(c.cluster, id, 10_000 + i * 3_000, 2_000))
    crashed.forEach((id, i) => crashAt(c, id, 11_000 + i * 3_000))
    for (let i = 0; i < 5; i++) Swarm.addMember(c.cluster, `new${i}`, [pool[i]!], 12_000 + i * 3_000)
    // Churn stops at 24 s; a crash needs first detection + window + gossip, well under 60 s.
    Sim.runUntil(c.sim, 90_000)
    expect(Swarm.converged(c.cluster)).toBe(true)
    const up = Swarm.upMembers(c.cluster)
    expect(up).toHaveLength(n - 5)
    for (let i = 0; i < 5; i++) expect(up).toContain(`new${i}`)
    // A leave is reported as such everywhere, never as a failure.
    const records = Sim.records(c.sim)
    for (const id of leavers) {
      expect(records.filter((o) => o.record._tag === "MemberLeft" && o.record.member === id).length).toBeGreaterThanOrEqual(n - 10)
      expect(records.filter((o) => o.record._tag === "MemberDead" && o.record.member === id)).toEqual([])
    }
    for (const r of crashResults(c)) expect(r.missing).toBe(0)
    expect(c.tracker.falseVerdicts.size).toBe(0)
  })

  it("heals a partition in which each side declared the other dead", () => {
    const c = setup({ seed: 4 })
    const minority = c.cluster.ids.slice(0, 40)
    const majority = c.cluster.ids.slice(40)
    // 35 s apart: both sides reach verdicts (about 12 s), tombstones (30 s) still stand at the heal.
    const healAt = 45_000
    Sim.partition(c.sim, [minority], { at: 10_000, healAt })
    Sim.runUntil(c.sim, healAt - 1)
    for (const observer of [majority[0]!, majority[30]!]) {
      for (const id of minority) expect(Swarm.statusOf(c.cluster, observer, id)).toBe("dead")
    }
    // The minority's probes fail, and so do most of its helpers': Lifeguard slows it down, so
    // it may still hold some of the majority as suspect rather than dead.
    for (const id of majority) expect(Swarm.statusOf(c.cluster, minority[0]!, id)).not.toBe("alive")
    expect(Swarm.converged(c.cluster)).toBe(false)
    // Push-pull to tombstones bridges the sides; refutations and gossip do the rest.
    const result = Swarm.runUntilConverged(c.cluster, healAt + 180_000)
    expect(result.reason).toBe("stopped")
    // About 32 periods with this seed: the first cross-side push-pulls (every 30 s) and gossip.
    expect((result.now - healAt) / period).toBeLessThan(60)
  })

  it("with 5 % loss, still detects and disseminates crashes and declares no live member dead", () => {
    const c = setup({ seed: 5, loss: 0.05 })
    for (const [i, id] of ["n7", "n42", "n77"].entries()) crashAt(c, id, 10_000 + i * 5_000)
    Sim.runUntil(c.sim, 150_000)
    const results = crashResults(c)
    for (const r of results) {
      expect(r.missing).toBe(0)
      expect(r.firstDetectionPeriods!).toBeLessThanOrEqual(5)
      expect(r.fullDisseminationPeriods! - r.firstVerdictPeriods!).toBeLessThanOrEqual(2 * log2n)
    }
    // Loss does make live members suspect now and then; they refute in time.
    expect(c.tracker.falseSuspicions.size).toBeGreaterThan(0)
    expect(c.tracker.falseVerdicts.size).toBe(0)
    expect(c.tracker.falseDeadObservations).toBe(0)
    expect(Sim.stats(c.sim).dropped.loss / Sim.stats(c.sim).sent).toBeCloseTo(0.05, 2)
  })

  it("replays a lossy run exactly from its seed; another seed gives another run", () => {
    const once = (seed: number) => {
      const c = setup({ seed, loss: 0.05, keepRecords: true })
      crashAt(c, "n3", 5_000)
      Sim.runUntil(c.sim, 30_000)
      return { digest: Sim.digest(c.sim), records: Sim.records(c.sim), stats: Sim.stats(c.sim) }
    }
    const a = once(9)
    expect(once(9)).toEqual(a)
    expect(once(10).digest).not.toBe(a.digest)
  })
})

/**
 * The Kademlia DHT with 1,000 stations on the deterministic simulator, with the §16 defaults
 * (k = 20, α = 3, 3 disjoint paths, 2 s request timeout, 8 bits of proof of work) over a WAN
 * with 1 % loss (retransmitted, as QUIC does). Every figure is virtual time or a count, so the
 * machine's speed never matters. One run, in phases, carries most properties:
 * - steady state (warm tables): every lookup finds the closest live node, within 3 hops;
 * - stores reach their quorum on the true closest set, and every value lookup finds its record;
 * - records whose TTL ran out are never served again, anywhere, and are swept from every store;
 * - churn (10 % of the nodes leave, as many join through a seed): lookups still find the
 *   closest live node, newcomers included, and records survive;
 * - a partition of 30 % of the nodes that heals: lookups find the closest node again once it
 *   has healed, and records are still found;
 * and two more runs:
 * - a cold start: 200 stations joining one by one through three seeds build tables good
 *   enough for every lookup to succeed;
 * - a seed replays a run exactly; another seed gives another run.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { Dht } from "../../src/protocols/dht/index.ts"
import * as Sim from "../../src/testkit/sim/index.ts"
import * as Swarm from "./dht.ts"

const n = 1_000
const k = Dht.Config.defaults.dhtK

/** Starts `count` `FIND_NODE`s of random ids from random eligible nodes, spread over [from, to). */
const lookupsBetween = (swarm: Swarm.Swarm, count: number, from: number, to: number): Array<Swarm.LookupTrack> => {
  const tracks: Array<Swarm.LookupTrack> = []
  const rng = Sim.random(swarm.sim)
  for (let i = 0; i < count; i++) {
    Sim.schedule(swarm.sim, from + Math.floor((i * (to - from)) / count), (s) => {
      const origins = Swarm.eligible(swarm, Sim.now(s))
      tracks.push(Swarm.findNode(swarm, origins[rng.int(0, origins.length - 1)]!, Swarm.randomId(swarm)))
    })
  }
  return tracks
}

/** Starts a `FIND_VALUE` of each record from a random eligible node at `at`. */
const valueLookupsAt = (swarm: Swarm.Swarm, records: () => ReadonlyArray<Dht.Records.SignedRecord>, at: number): Array<Swarm.LookupTrack> => {
  const tracks: Array<Swarm.LookupTrack> = []
  Sim.schedule(swarm.sim, at, (s) => {
    const origins = Swarm.eligible(swarm, Sim.now(s))
    const rng = Sim.random(s)
    for (const record of records()) tracks.push(Swarm.findValue(swarm, origins[rng.int(0, origins.length - 1)]!, record))
  })
  return tracks
}

/** A lookup whose origin left before it finished has no outcome. */
const counted = (swarm: Swarm.Swarm, tracks: ReadonlyArray<Swarm.LookupTrack>) =>
  tracks.filter((t) => t.finishedAt !== undefined || Sim.isUp(swarm.sim, t.origin))

/** Nodes holding a record with this key and signer, live or not. */
const holders = (swarm: Swarm.Swarm, record: Dht.Records.SignedRecord): number =>
  Swarm.honestUp(swarm).filter((name) => {
    const state = Sim.state(swarm.sim, name) as Dht.State.State
    return Dht.Records.held(state.store, Dht.Xor.toHex(record.body.key), Dht.Xor.toHex(record.body.pk)) !== undefined
  }).length

describe("DHT, 1,000 stations", () => {
  // The timeline of the main run, in virtual ms. Warm nodes boot over the first 20 s.
  const storeAt = 20_000
  const shortTtl = 60_000 // short records expire at 80 s
  const churnFrom = 90_000
  const churnTo = 150_000
  const partitionAt = 200_000
  const healAt = 230_000
  const endAt = 330_000

  let swarm: Swarm.Swarm
  let steady: Array<Swarm.LookupTrack>
  let underChurn: Array<Swarm.LookupTrack>
  let newcomerLookups: Array<Swarm.LookupTrack>
  let afterHeal: Array<Swarm.LookupTrack>
  let values: Array<Swarm.LookupTrack>
  let valuesAfterChurn: Array<Swarm.LookupTrack>
  let valuesAfterHeal: Array<Swarm.LookupTrack>
  let expiredLookups: Array<Array<Swarm.LookupTrack>>
  const stores: Array<Swarm.StoreTrack> = []
  const shortStores: Array<Swarm.StoreTrack> = []
  const newcomers: Array<string> = []
  let heldShortAt140 = -1
  let heldShortAtEnd = -1

  beforeAll(() => {
    swarm = Swarm.makeSwarm({ nodes: n, seed: 7, loss: 0.01, newcomers: 100 })
    const sim = swarm.sim
    const rng = Sim.random(sim)
    Sim.schedule(sim, storeAt, () => {
      const owners = Swarm.eligible(swarm, storeAt)
      for (let i = 0; i < 30; i++) stores.push(Swarm.storeRecord(swarm, owners[rng.int(0, owners.length - 1)]!, 600_000))
      for (let i = 0; i < 10; i++) shortStores.push(Swarm.storeRecord(swarm, owners[rng.int(0, owners.length - 1)]!, shortTtl))
    })
    steady = lookupsBetween(swarm, 100, 25_000, 80_000)
    values = valueLookupsAt(swarm, () => stores.map((t) => t.record), 30_000)
    // Expired records: looked up after their exp (80 s), before and after the 60 s sweep.
    // (Filled in when they start: keep the arrays, not copies.)
    expiredLookups = [
      valueLookupsAt(swarm, () => shortStores.map((t) => t.record), 85_000),
      valueLookupsAt(swarm, () => shortStores.map((t) => t.record), 145_000)
    ]
    Sim.schedule(sim, 140_001 + 5_000, () => {
      heldShortAt140 = shortStores.reduce((sum, t) => sum + holders(swarm, t.record), 0)
    })
    // Churn: 100 honest non-seeds leave and 100 newcomers join through a seed, over 60 s.
    const seeds = new Set(swarm.seeds)
    const pool = swarm.initial.map((m) => m.name).filter((name) => !seeds.has(name))
    for (let i = 0; i < 100; i++) {
      const leaver = pool.splice(rng.int(0, pool.length - 1), 1)[0]!
      Sim.schedule(sim, churnFrom + rng.int(0, churnTo - churnFrom - 1), () => Swarm.leave(swarm, leaver))
      Sim.schedule(sim, churnFrom + rng.int(0, churnTo - churnFrom - 1), () => {
        newcomers.push(Swarm.join(swarm, swarm.seeds[rng.int(0, swarm.seeds.length - 1)]!))
      })
    }
    underChurn = lookupsBetween(swarm, 100, churnFrom, churnTo + 20_000)
    // Every newcomer, looked up by its own id from a random node: it must be found.
    newcomerLookups = []
    Sim.schedule(sim, churnTo + 30_000, (s) => {
      const origins = Swarm.eligible(swarm, Sim.now(s))
      for (const name of newcomers) {
        const origin = origins[rng.int(0, origins.length - 1)]!
        if (origin !== name) newcomerLookups.push(Swarm.findNode(swarm, origin, swarm.byName.get(name)!.id))
      }
    })
    valuesAfterChurn = valueLookupsAt(swarm, () => stores.map((t) => t.record), churnTo + 40_000)
    // A partition of 30 % of the nodes for 30 s.
    Sim.schedule(sim, partitionAt - 1, (s) => {
      const names = [...swarm.names]
      const minority: Array<string> = []
      while (minority.length < 0.3 * names.length) minority.push(names.splice(rng.int(0, names.length - 1), 1)[0]!)
      Sim.partition(s, [minority], { healAt })
    })
    afterHeal = lookupsBetween(swarm, 100, healAt + 10_000, endAt - 20_000)
    valuesAfterHeal = valueLookupsAt(swarm, () => stores.map((t) => t.record), healAt + 20_000)
    Sim.runUntil(sim, endAt)
    heldShortAtEnd = shortStores.reduce((sum, t) => sum + holders(swarm, t.record), 0)
  }, 300_000)

  it("in steady state, every lookup finds the closest live node within 3 hops", () => {
    const f = Swarm.figures(steady)
    expect(f.lookups).toBe(100)
    expect(f.success).toBe(1)
    expect(f.exact).toBe(1)
    // log2(1000 / 20) ≈ 5.6 bits to gain from a table that resolves ~4.3 bits per hop.
    expect(f.medianHops).toBeLessThanOrEqual(2)
    expect(f.maxHops).toBeLessThanOrEqual(3)
    // 3 paths converge on their own 20-node windows: about 3 × (20 + a few) requests.
    expect(f.msgsPerLookup).toBeLessThan(90)
    expect(f.timedOut).toBe(0)
  })

  it("stores reach the quorum on the true closest set, and every value lookup finds its record", () => {
    expect(stores).toHaveLength(30)
    for (const t of [...stores, ...shortStores]) {
      expect(t.ok).toBe(true)
      expect(t.acks).toBeGreaterThanOrEqual(Dht.Config.defaults.storeQuorum)
      // Of the 20 live nodes closest to the key, (nearly) all hold it.
      expect(t.coverage).toBeGreaterThanOrEqual(k - 2)
    }
    const f = Swarm.figures(values)
    expect(f.lookups).toBe(30)
    expect(f.success).toBe(1)
    expect(f.medianHops).toBeLessThanOrEqual(2)
  })

  it("never serves a record after its TTL, and sweeps it from every store", () => {
    expect(Object.fromEntries(swarm.violations)).toEqual({})
    expect(expiredLookups.flat()).toHaveLength(20)
    for (const t of expiredLookups.flat()) {
      expect(t.finishedAt).toBeDefined()
      expect(t.records).toBe(0)
      expect(t.success).toBe(false)
    }
    // Sweeps run every 60 s: by 145 s every holder has swept at least once since 80 s.
    expect(heldShortAt140).toBe(0)
    expect(heldShortAtEnd).toBe(0)
    expect(Sim.counter(swarm.sim, "RecordExpired")).toBeGreaterThanOrEqual(10 * (k - 2))
  })

  it("under 10 % churn, lookups still find the closest live node and newcomers are found", () => {
    expect(Swarm.honestUp(swarm)).toHaveLength(n)
    expect(newcomers).toHaveLength(100)
    const f = Swarm.figures(counted(swarm, underChurn))
    expect(f.lookups).toBeGreaterThanOrEqual(95)
    expect(f.success).toBeGreaterThanOrEqual(0.99)
    expect(f.maxHops).toBeLessThanOrEqual(4)
    // Every newcomer finished its join and is found by its own id.
    for (const name of newcomers) expect(swarm.joinedAt.has(name)).toBe(true)
    const g = Swarm.figures(newcomerLookups)
    expect(g.lookups).toBeGreaterThanOrEqual(99)
    expect(g.success).toBe(1)
    // Records outlive the churn (leavers held some copies).
    expect(Swarm.figures(valuesAfterChurn).success).toBe(1)
  })

  it("after a partition heals, lookups find the closest node again and records are still found", () => {
    const f = Swarm.figures(afterHeal)
    expect(f.lookups).toBe(100)
    expect(f.success).toBeGreaterThanOrEqual(0.99)
    expect(f.maxHops).toBeLessThanOrEqual(4)
    expect(Swarm.figures(valuesAfterHeal).success).toBe(1)
  })

  it("keeps every routing table and record store sound", () => {
    for (const name of Swarm.honestUp(swarm)) {
      const state = Sim.state(swarm.sim, name) as Dht.State.State
      expect(Dht.RoutingTable.violations(swarm.config, state.table)).toEqual([])
      expect(Dht.Records.violations(swarm.config, state.store)).toEqual([])
    }
  })
})

describe("DHT, cold start", () => {
  it("200 stations joining one by one through three seeds build tables every lookup succeeds with", () => {
    const swarm = Swarm.makeSwarm({ nodes: 200, seed: 11, keys: 7, warm: false })
    const rng = Sim.random(swarm.sim)
    // The seeds know each other; everyone else joins through one of them, 100 ms apart.
    const [a, b, c] = swarm.seeds as [string, string, string]
    Sim.schedule(swarm.sim, 0, () => {
      for (const [x, y] of [[a, b], [b, c], [a, c]] as const) {
        const [mx, my] = [swarm.byName.get(x)!, swarm.byName.get(y)!]
        const t = { now: 0, wallNow: Swarm.wallBase }
        Sim.inject(swarm.sim, 0, x, Dht.Event.PeerConnected({ ...t, contact: my.info, ip: my.ip }))
        Sim.inject(swarm.sim, 0, y, Dht.Event.PeerConnected({ ...t, contact: mx.info, ip: mx.ip }))
      }
      for (const name of swarm.seeds) swarm.joinedAt.set(name, 0)
    })
    swarm.initial.slice(3).forEach((m, i) => {
      Sim.schedule(swarm.sim, 1_000 + i * 100, () => {
        const seed = swarm.seeds[rng.int(0, 2)]!
        const t = { now: Sim.now(swarm.sim), wallNow: Swarm.wallBase + Sim.now(swarm.sim) }
        Sim.inject(swarm.sim, t.now, m.name, Dht.Event.PeerConnected({ ...t, contact: swarm.byName.get(seed)!.info, ip: swarm.byName.get(seed)!.ip }))
        Sim.inject(swarm.sim, t.now, seed, Dht.Event.PeerConnected({ ...t, contact: m.info, ip: m.ip }))
      })
    })
    const tracks = lookupsBetween(swarm, 100, 30_000, 50_000)
    Sim.runUntil(swarm.sim, 60_000)
    expect(swarm.joinedAt.size).toBe(200)
    const f = Swarm.figures(tracks)
    expect(f.success).toBe(1)
    expect(f.maxHops).toBeLessThanOrEqual(3)
  }, 300_000)
})

describe("DHT, replay", () => {
  it("a seed replays a run with churn and loss exactly; another seed gives another run", () => {
    const once = (seed: number) => {
      // The keys mined for the main run: only the run's seed changes.
      const swarm = Swarm.makeSwarm({ nodes: n, seed, keys: 7, loss: 0.01, newcomers: 5, bootSpreadMs: 5_000 })
      const tracks = lookupsBetween(swarm, 20, 5_000, 15_000)
      for (let i = 0; i < 5; i++) {
        Sim.schedule(swarm.sim, 6_000 + i * 1_000, () => {
          Swarm.leave(swarm, swarm.initial[100 + i]!.name)
          Swarm.join(swarm, swarm.seeds[i % 3]!)
        })
      }
      Sim.runUntil(swarm.sim, 20_000)
      return {
        digest: Sim.digest(swarm.sim),
        stats: Sim.stats(swarm.sim),
        lookups: tracks.map((t) => [t.origin, t.oracle, t.success, t.hops, t.queried, t.finishedAt])
      }
    }
    const a = once(21)
    expect(once(21)).toEqual(a)
    expect(once(22).digest).not.toBe(a.digest)
  }, 300_000)
})

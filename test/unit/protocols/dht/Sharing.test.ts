/**
 * The fast paths of the core give what the plain definitions give, and new versions share
 * structure without changing old ones:
 * - `RoutingTable.closest` walks buckets in distance bands instead of sorting the table: same
 *   contacts, same order, as sorting every member by distance;
 * - the table's prefix counts and a lookup's peers are persistent maps: an old version reads
 *   the same after newer ones are made, and iteration order is that of a copied `Map`;
 * - a key is placed in its bucket straight from its hex, with the same verdicts as decoding it.
 */
import { describe, expect, it } from "vitest"
import type { Contact } from "../../../../src/protocols/dht/Contact.ts"
import * as Lookup from "../../../../src/protocols/dht/Lookup.ts"
import * as RoutingTable from "../../../../src/protocols/dht/RoutingTable.ts"
import * as Xor from "../../../../src/protocols/dht/Xor.ts"

/** A small seeded generator (xorshift32), so every case is reproducible. */
const rng = (seed: number) => {
  let x = seed >>> 0 || 1
  return (bound: number): number => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x % bound
  }
}

const randomId = (next: (bound: number) => number): Xor.NodeId => Uint8Array.from({ length: 32 }, () => next(256))

/** A random id whose common prefix with `self` is exactly `bucket`. */
const inBucket = (self: Xor.NodeId, bucket: number, next: (bound: number) => number): Xor.NodeId => {
  const id = randomId(next)
  for (let bit = 0; bit <= bucket; bit++) {
    const byte = bit >> 3
    const mask = 0x80 >>> (bit & 7)
    const want = bit < bucket ? self[byte]! & mask : ~self[byte]! & mask
    id[byte] = (id[byte]! & ~mask) | want
  }
  return id
}

const contactOf = (id: Xor.NodeId): Contact => ({ id, pk: id, addrs: [] })

const limits: RoutingTable.Limits = {
  dhtK: 8,
  replacementCacheSize: 3,
  staleAfterFailures: 2,
  maxPerPrefixPerBucket: 3,
  maxPerPrefixPerTable: 12,
  diversityPrefixV4Bits: 16,
  diversityPrefixV6Bits: 32,
  acceptPrivateAddrs: true
}

/** A table of `count` observations spread over low buckets, from `count / 4` networks. */
const randomTable = (seed: number, count: number) => {
  const next = rng(seed)
  const self = randomId(next)
  let table = RoutingTable.empty(self)
  for (let i = 0; i < count; i++) {
    const bucket = next(4) === 0 ? next(256) : next(12)
    const ip = `45.${next(Math.max(1, count >> 2))}.0.${1 + next(200)}`
    table = RoutingTable.observe(limits, table, contactOf(inBucket(self, bucket, next)), ip, i)[0]
  }
  return { self, table, next }
}

/** The definition: every member but `exclude`, sorted by distance to the target. */
const bySorting = (table: RoutingTable.RoutingTable, target: Xor.NodeId, count: number, exclude?: string) =>
  RoutingTable.entries(table)
    .filter((e) => e.key !== exclude)
    .sort((a, b) => Xor.compareDistance(a.contact.id, b.contact.id, target))
    .slice(0, Math.max(0, count))
    .map((e) => e.contact)

describe("RoutingTable.closest", () => {
  it("gives the members a full sort by distance gives, in the same order", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { self, table, next } = randomTable(seed, 150)
      const members = RoutingTable.entries(table)
      expect(members.length).toBeGreaterThan(20)
      const targets = [
        self,
        randomId(next),
        ...Array.from({ length: 8 }, () => inBucket(self, next(14), next)),
        members[next(members.length)]!.contact.id
      ]
      for (const target of targets) {
        for (const count of [0, 1, 3, 20, 1_000]) {
          expect(RoutingTable.closest(table, target, count)).toEqual(bySorting(table, target, count))
          const exclude = members[next(members.length)]!.key
          expect(RoutingTable.closest(table, target, count, exclude)).toEqual(bySorting(table, target, count, exclude))
        }
      }
    }
  })

  it("handles an empty table and a negative count", () => {
    const table = RoutingTable.empty(new Uint8Array(32))
    expect(RoutingTable.closest(table, new Uint8Array(32), 5)).toEqual([])
    expect(RoutingTable.closest(randomTable(3, 40).table, new Uint8Array(32), -1)).toEqual([])
  })
})

describe("RoutingTable versions", () => {
  it("an old table's prefix counts read the same after newer versions are made", () => {
    const { self, table, next } = randomTable(7, 120)
    const before = [...table.prefixCounts]
    let t = table
    for (let i = 0; i < 200; i++) {
      const members = RoutingTable.entries(t)
      t = next(3) === 0 && members.length > 0
        ? RoutingTable.remove(limits, t, members[next(members.length)]!.key)[0]
        : RoutingTable.observe(limits, t, contactOf(inBucket(self, next(10), next)), `45.${next(40)}.0.1`, 1_000 + i)[0]
    }
    expect([...table.prefixCounts]).toEqual(before)
    expect(RoutingTable.violations(limits, table)).toEqual([])
    expect(RoutingTable.violations(limits, t)).toEqual([])
  })

  it("keeps the counts in the order a copied Map would", () => {
    const { self, next } = randomTable(9, 0)
    let table = RoutingTable.empty(self)
    const model = new Map<string, number>()
    for (let i = 0; i < 300; i++) {
      const members = RoutingTable.entries(table)
      if (next(3) === 0 && members.length > 0) {
        const [t, removal] = RoutingTable.remove(limits, table, members[next(members.length)]!.key)
        for (const [e, by] of [[removal.evicted, -1], [removal.promoted, 1]] as const) {
          if (e?.prefix === undefined) continue
          const n = (model.get(e.prefix) ?? 0) + by
          if (n <= 0) model.delete(e.prefix)
          else model.set(e.prefix, n)
        }
        table = t
      } else {
        const [t, out] = RoutingTable.observe(limits, table, contactOf(inBucket(self, next(6), next)), `45.${next(30)}.0.1`, i)
        if (out._tag === "Added" && out.entry.prefix !== undefined) model.set(out.entry.prefix, (model.get(out.entry.prefix) ?? 0) + 1)
        table = t
      }
      expect([...table.prefixCounts]).toEqual([...model])
      expect(table.prefixCounts.size).toBe(model.size)
    }
  })
})

describe("RoutingTable keys", () => {
  it("places keys as decoding them would: uppercase, malformed, short and self keys", () => {
    const { self, table } = randomTable(11, 60)
    const entry = RoutingTable.entries(table)[0]!
    expect(RoutingTable.member(table, entry.key)).toBe(entry)
    // Same bucket, but no member has the uppercase key: no member, no change.
    expect(RoutingTable.member(table, entry.key.toUpperCase())).toBeUndefined()
    for (const key of [entry.key.toUpperCase(), entry.key.slice(2), `${entry.key}00`, `zz${entry.key.slice(2)}`, "", Xor.toHex(self)]) {
      expect(RoutingTable.member(table, key)).toBeUndefined()
      expect(RoutingTable.markAlive(table, key, 99)).toBe(table)
      expect(RoutingTable.cancelProbe(table, key)).toBe(table)
      expect(RoutingTable.remove(limits, table, key)[0]).toBe(table)
    }
    // The bucket of an uppercase key is still found: a removal reports it.
    expect(RoutingTable.remove(limits, table, entry.key.toUpperCase())[1].bucket).toBe(RoutingTable.bucketIndex(table, entry.contact.id))
  })
})

describe("Lookup versions", () => {
  it("an old lookup reads the same after newer versions are made, in Map order", () => {
    const next = rng(5)
    const target = randomId(next)
    const params: Lookup.Params = { k: 4, alpha: 2, paths: 3, maxPeers: 40 }
    const seeds = Array.from({ length: 12 }, () => contactOf(randomId(next)))
    let lookup = Lookup.start(params, target, "", seeds)
    const versions: Array<readonly [Lookup.Lookup, ReadonlyArray<readonly [string, Lookup.Peer]>]> = []
    for (let round = 0; round < 60; round++) {
      versions.push([lookup, [...lookup.peers]])
      const [l, picks] = Lookup.next(lookup)
      lookup = l
      for (const peer of picks) {
        versions.push([lookup, [...lookup.peers]])
        lookup = next(5) === 0
          ? Lookup.onFailure(lookup, peer.key)
          : Lookup.onSuccess(lookup, peer.key, Array.from({ length: 6 }, () => contactOf(inBucket(target, round + next(12), next))), "45.1.0.1")
      }
    }
    expect(versions.length).toBeGreaterThan(50)
    expect(lookup.peers.size).toBe(params.maxPeers)
    for (const [version, peers] of versions) expect([...version.peers]).toEqual(peers)
    // The same iteration as a plain Map of the same rows.
    expect([...new Map(lookup.peers).keys()]).toEqual([...lookup.peers.keys()])
    for (const [key, peer] of lookup.peers) expect(lookup.peers.get(key)).toBe(peer)
  })
})

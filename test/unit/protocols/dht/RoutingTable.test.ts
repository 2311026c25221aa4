import { describe, expect, it } from "vitest"
import type { Contact } from "../../../../src/protocols/dht/Contact.ts"
import * as RoutingTable from "../../../../src/protocols/dht/RoutingTable.ts"
import * as Xor from "../../../../src/protocols/dht/Xor.ts"

const limits: RoutingTable.Limits = {
  dhtK: 3,
  replacementCacheSize: 2,
  staleAfterFailures: 2,
  maxPerPrefixPerBucket: 2,
  maxPerPrefixPerTable: 3,
  diversityPrefixV4Bits: 16,
  diversityPrefixV6Bits: 32,
  acceptPrivateAddrs: true
}

const self = new Uint8Array(32)
/** A contact in bucket 0 (first bit set) or, with `bucket`, in that bucket. */
const at = (n: number, bucket = 0): Contact => {
  const id = new Uint8Array(32)
  id[Math.floor(bucket / 8)] = 0x80 >>> bucket % 8
  id[31] = n
  return { id, pk: id, addrs: [] }
}
const ip = (net: number, host = 1) => `45.${net}.0.${host}`

const fill = (contacts: ReadonlyArray<readonly [Contact, string]>, now = 1) =>
  contacts.reduce((t, [c, addr]) => RoutingTable.observe(limits, t, c, addr, now)[0], RoutingTable.empty(self))

const keyOf = (c: Contact) => Xor.toHex(c.id)

describe("RoutingTable.observe", () => {
  it("never admits self", () => {
    const [table, out] = RoutingTable.observe(limits, RoutingTable.empty(self), { id: self, pk: self, addrs: [] }, ip(1), 1)
    expect(out).toEqual({ _tag: "Rejected", reason: "self" })
    expect(table.size).toBe(0)
  })

  it("adds contacts to the bucket of their common prefix length", () => {
    const [table, out] = RoutingTable.observe(limits, RoutingTable.empty(self), at(1, 9), ip(1), 5)
    expect(out).toMatchObject({ _tag: "Added", bucket: 9 })
    expect(table.buckets[9]!.members.map((e) => e.key)).toEqual([keyOf(at(1, 9))])
    expect(table.buckets[9]!.touchedAt).toBe(5)
  })

  it("moves a seen member to the tail (most recently seen)", () => {
    const table = fill([[at(1), ip(1)], [at(2), ip(2)], [at(3), ip(3)]])
    const [after, out] = RoutingTable.observe(limits, table, at(1), ip(1), 9)
    expect(out._tag).toBe("Refreshed")
    expect(after.buckets[0]!.members.map((e) => e.contact.id[31])).toEqual([2, 3, 1])
  })

  it("caches a newcomer for a full bucket and asks to ping the least recently seen member once", () => {
    const table = fill([[at(1), ip(1)], [at(2), ip(2)], [at(3), ip(3)]])
    const [t1, o1] = RoutingTable.observe(limits, table, at(4), ip(4), 2)
    expect(o1).toMatchObject({ _tag: "Cached", bucket: 0, probe: at(1) })
    const [t2, o2] = RoutingTable.observe(limits, t1, at(5), ip(5), 3)
    expect(o2).toMatchObject({ _tag: "Cached", probe: undefined })
    expect(t2.buckets[0]!.cache.map((e) => e.contact.id[31])).toEqual([4, 5])
    expect(t2.buckets[0]!.probe).toBe(keyOf(at(1)))
    expect(t2.size).toBe(3)
  })

  it("keeps the replacement cache bounded, dropping the oldest candidate", () => {
    let table = fill([[at(1), ip(1)], [at(2), ip(2)], [at(3), ip(3)]])
    for (const n of [4, 5, 6]) table = RoutingTable.observe(limits, table, at(n), ip(n), n)[0]
    expect(table.buckets[0]!.cache.map((e) => e.contact.id[31])).toEqual([5, 6])
  })

  it("caps members of one network per bucket (§14 row 21)", () => {
    const table = fill([[at(1), ip(7, 1)], [at(2), ip(7, 2)]])
    const [after, out] = RoutingTable.observe(limits, table, at(3), ip(7, 3), 1)
    expect(out).toEqual({ _tag: "Rejected", reason: "bucket-prefix-cap" })
    expect(after).toBe(table)
  })

  it("caps members of one network over the whole table", () => {
    const table = fill([[at(1, 0), ip(7, 1)], [at(1, 1), ip(7, 2)], [at(1, 2), ip(7, 3)]])
    const [, out] = RoutingTable.observe(limits, table, at(1, 3), ip(7, 4), 1)
    expect(out).toEqual({ _tag: "Rejected", reason: "table-prefix-cap" })
  })

  it("does not let one network fill a replacement cache", () => {
    let table = fill([[at(1), ip(1)], [at(2), ip(2)], [at(3), ip(3)]])
    table = RoutingTable.observe(limits, table, at(4), ip(9, 1), 1)[0]
    table = RoutingTable.observe(limits, table, at(5), ip(9, 2), 1)[0]
    const [, out] = RoutingTable.observe(limits, table, at(6), ip(9, 3), 1)
    expect(out).toEqual({ _tag: "Rejected", reason: "bucket-prefix-cap" })
  })

  it("exempts private addresses only when they are accepted", () => {
    const many = [1, 2, 3].map((n) => [at(n), "10.0.0." + n] as const)
    expect(fill(many).size).toBe(3)
    const strict = { ...limits, acceptPrivateAddrs: false }
    const table = many.reduce((t, [c, a]) => RoutingTable.observe(strict, t, c, a, 1)[0], RoutingTable.empty(self))
    expect(table.size).toBe(2)
  })

  it("re-admits a member seen from a new network only within the caps", () => {
    const table = fill([[at(1), ip(7, 1)], [at(2), ip(7, 2)], [at(3), ip(8, 1)]])
    const [, out] = RoutingTable.observe(limits, table, at(3), ip(7, 3), 2)
    expect(out._tag).toBe("Rejected")
    const [moved, ok] = RoutingTable.observe(limits, table, at(3), ip(9, 1), 2)
    expect(ok._tag).toBe("Refreshed")
    expect(moved.prefixCounts.get("4:2d08/16")).toBeUndefined()
    expect(RoutingTable.violations(limits, moved)).toEqual([])
  })
})

describe("RoutingTable ping-before-evict", () => {
  const full = () => RoutingTable.observe(limits, fill([[at(1), ip(1)], [at(2), ip(2)], [at(3), ip(3)]]), at(4), ip(4), 2)[0]

  it("keeps the incumbent when it answers the probe", () => {
    const table = RoutingTable.probeSucceeded(full(), keyOf(at(1)), 7)
    expect(table.buckets[0]!.members.map((e) => e.contact.id[31])).toEqual([2, 3, 1])
    expect(table.buckets[0]!.probe).toBeUndefined()
    expect(table.buckets[0]!.cache.map((e) => e.contact.id[31])).toEqual([4])
  })

  it("evicts the incumbent and promotes the freshest candidate when the probe fails", () => {
    const withTwo = RoutingTable.observe(limits, full(), at(5), ip(5), 3)[0]
    const [table, removal] = RoutingTable.probeFailed(limits, withTwo, keyOf(at(1)))
    expect(removal.evicted?.key).toBe(keyOf(at(1)))
    expect(removal.promoted?.key).toBe(keyOf(at(5)))
    expect(table.buckets[0]!.members.map((e) => e.contact.id[31])).toEqual([2, 3, 5])
    expect(table.buckets[0]!.cache.map((e) => e.contact.id[31])).toEqual([4])
    expect(RoutingTable.violations(limits, table)).toEqual([])
  })

  it("ignores a probe failure for a member that is not under probe", () => {
    const table = full()
    const [after, removal] = RoutingTable.probeFailed(limits, table, keyOf(at(2)))
    expect(after).toBe(table)
    expect(removal.evicted).toBeUndefined()
  })

  it("does not end a probe on other traffic from the probed member", () => {
    const table = RoutingTable.markAlive(full(), keyOf(at(1)), 9)
    expect(table.buckets[0]!.probe).toBe(keyOf(at(1)))
  })

  it("can cancel a probe without a verdict", () => {
    expect(RoutingTable.cancelProbe(full(), keyOf(at(1))).buckets[0]!.probe).toBeUndefined()
  })
})

describe("RoutingTable failures and removal", () => {
  it("removes a member after staleAfterFailures consecutive failures", () => {
    const table = fill([[at(1), ip(1)]])
    const [t1, r1] = RoutingTable.recordFailure(limits, table, keyOf(at(1)))
    expect(r1.evicted).toBeUndefined()
    expect(RoutingTable.member(t1, keyOf(at(1)))?.failures).toBe(1)
    const [t2, r2] = RoutingTable.recordFailure(limits, t1, keyOf(at(1)))
    expect(r2.evicted?.key).toBe(keyOf(at(1)))
    expect(t2.size).toBe(0)
  })

  it("resets the failure count when the member answers", () => {
    const table = RoutingTable.recordFailure(limits, fill([[at(1), ip(1)]]), keyOf(at(1)))[0]
    expect(RoutingTable.member(RoutingTable.markAlive(table, keyOf(at(1)), 3), keyOf(at(1)))?.failures).toBe(0)
  })

  it("removes a dead member at once and promotes a candidate that passes the caps", () => {
    let table = fill([[at(1), ip(7, 1)], [at(2), ip(7, 2)], [at(3), ip(3)]])
    table = RoutingTable.observe(limits, table, at(4), ip(4), 2)[0]
    const [after, removal] = RoutingTable.remove(limits, table, keyOf(at(3)))
    expect(removal.evicted?.key).toBe(keyOf(at(3)))
    expect(removal.promoted?.key).toBe(keyOf(at(4)))
    expect(RoutingTable.violations(limits, after)).toEqual([])
  })

  it("removes a cached candidate without touching members", () => {
    const table = RoutingTable.observe(limits, fill([[at(1), ip(1)], [at(2), ip(2)], [at(3), ip(3)]]), at(4), ip(4), 2)[0]
    const [after, removal] = RoutingTable.remove(limits, table, keyOf(at(4)))
    expect(removal.evicted).toBeUndefined()
    expect(after.buckets[0]!.cache).toEqual([])
    expect(after.size).toBe(3)
  })
})

describe("RoutingTable queries", () => {
  it("returns the closest members in XOR order, leaving out an excluded key", () => {
    const table = fill([[at(1, 0), ip(1)], [at(2, 3), ip(2)], [at(3, 5), ip(3)], [at(4, 5), ip(4)]])
    const target = at(4, 5).id
    expect(RoutingTable.closest(table, target, 3).map((c) => c.id[31])).toEqual([4, 3, 2])
    expect(RoutingTable.closest(table, target, 2, keyOf(at(4, 5))).map((c) => c.id[31])).toEqual([3, 2])
    expect(RoutingTable.closest(table, target, 0)).toEqual([])
  })

  it("finds buckets due for refresh up to the deepest non-empty one", () => {
    let table = fill([[at(1, 2), ip(1)]], 100)
    table = RoutingTable.touch(table, 1, 500)
    expect(RoutingTable.highestNonEmpty(table)).toBe(2)
    expect(RoutingTable.dueForRefresh(table, 1_000, 600)).toEqual([0, 2])
    expect(RoutingTable.nextRefreshAt(table, 600)).toBe(600)
    expect(RoutingTable.nextRefreshAt(RoutingTable.empty(self), 600)).toBeUndefined()
  })
})

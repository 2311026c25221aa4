/**
 * The persistent membership table: it must behave exactly like a `Map` copied before every
 * update (values, size, iteration order, old versions untouched), while an update costs
 * O(√n) rather than a full copy. Regression for the O(n)-per-row table copy that made one
 * sync of n claims cost O(n²).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Swim } from "../../../src/protocols/swim/index.ts"
import * as Table from "../../../src/core/PersistentMap.ts"

type Op = { readonly set: boolean; readonly key: number; readonly value: number }

const op = fc.record({ set: fc.boolean(), key: fc.integer({ min: 0, max: 60 }), value: fc.integer() })

describe("Swim Table", () => {
  it("matches a Map copied before each update: get, has, size and iteration order, every version", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 40 }), fc.array(op, { maxLength: 300 }), (seedKeys, ops: ReadonlyArray<Op>) => {
        const start = new Map(seedKeys.map((k) => [k, -k] as const))
        let model: Map<number, number> = new Map(start)
        let table = Table.Table.from<number, number>(new Map(start))
        const versions: Array<readonly [Table.Table<number, number>, Array<[number, number]>]> = []
        for (const o of ops) {
          model = new Map(model)
          if (o.set) {
            model.set(o.key, o.value)
            table = table.set(o.key, o.value)
          } else {
            model.delete(o.key)
            table = table.delete(o.key)
          }
          expect(table.size).toBe(model.size)
          expect(table.get(o.key)).toBe(model.get(o.key))
          expect(table.has(o.key)).toBe(model.has(o.key))
          versions.push([table, [...model]])
        }
        for (const [version, entries] of versions) {
          expect([...version]).toEqual(entries)
          expect([...version.keys()]).toEqual(entries.map(([k]) => k))
          expect([...version.values()]).toEqual(entries.map(([, v]) => v))
          const seen: Array<[number, number]> = []
          version.forEach((v, k) => seen.push([k, v]))
          expect(seen).toEqual(entries)
        }
      })
    )
  })

  it("keeps the rows pending since the last fold at O(√n), so an update never copies the table", () => {
    let table = Table.Table.from(new Map<number, number>())
    for (let i = 0; i < 4_096; i++) {
      table = table.set(i, i)
      expect(table.pending).toBeLessThanOrEqual(Math.max(16, Math.sqrt(table.size)) + 1)
    }
    for (let i = 0; i < 10_000; i++) {
      table = i % 3 === 0 ? table.delete((i * 7) % 4_096) : table.set((i * 13) % 4_096, -i)
      expect(table.pending).toBeLessThanOrEqual(Math.max(16, Math.sqrt(4_096)) + 1)
    }
  })

  it("leaves a plain Map handed to it untouched", () => {
    const map = new Map([["a", 1], ["b", 2]])
    const t = Table.set(map, "c", 3)
    expect(Table.remove(t, "a").size).toBe(2)
    expect([...map]).toEqual([["a", 1], ["b", 2]])
    expect([...t]).toEqual([["a", 1], ["b", 2], ["c", 3]])
  })

  it("merges a full sync of swimMaxMembers − 1 claims with a bounded table copy per claim", () => {
    // Before the fix every claim copied the table: 4,095 claims meant ~8.4 M row copies and
    // seconds in one step. Now the table is persistent; the result is the same table.
    const n = Swim.lan.swimMaxMembers - 1
    const claims = Array.from({ length: n }, (_, i) => Swim.Claims.alive(`m${i}`, 0, [`quic://m${i}`]))
    const step = Swim.makeStep(Swim.lan)
    const [s] = step(Swim.initial({ self: "me", incarnation: 0, addrs: ["quic://me"], seed: 1 }), Swim.Event.Start({ now: 0 }))
    const [after] = step(s, Swim.Event.PacketReceived({ now: 1, from: "m0", packet: Swim.Packet.Sync({ seq: 1, claims }) }))
    expect(after.members.size).toBe(n)
    expect(after.live).toBe(n)
    expect([...after.members.keys()]).toEqual(claims.map((c) => c.subject))
    expect(after.members).toBeInstanceOf(Table.Table)
    expect((after.members as Table.Table<string, Swim.Member>).pending).toBeLessThanOrEqual(Math.sqrt(n) + 1)
  })
})

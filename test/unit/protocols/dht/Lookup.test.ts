import { describe, expect, it } from "vitest"
import type { Contact } from "../../../../src/protocols/dht/Contact.ts"
import * as Lookup from "../../../../src/protocols/dht/Lookup.ts"
import * as Xor from "../../../../src/protocols/dht/Xor.ts"

/** A contact at distance `d` from the zero target (d in the last two bytes). */
const near = (d: number): Contact => {
  const id = new Uint8Array(32)
  id[30] = d >> 8
  id[31] = d & 255
  return { id, pk: id, addrs: [] }
}
const target = new Uint8Array(32)
const selfKey = Xor.toHex(near(0xffff).id)
const key = (d: number) => Xor.toHex(near(d).id)
const params: Lookup.Params = { k: 2, alpha: 1, paths: 2, maxPeers: 64 }

describe("Lookup.start", () => {
  it("deals the k × paths closest seeds round-robin by distance onto the paths", () => {
    const lookup = Lookup.start(params, target, selfKey, [near(50), near(10), near(40), near(20), near(30)])
    expect(lookup.order[0]).toEqual([key(10), key(30)])
    expect(lookup.order[1]).toEqual([key(20), key(40)])
    expect(lookup.peers.size).toBe(4)
  })

  it("leaves out ourselves and duplicates", () => {
    const lookup = Lookup.start(params, target, selfKey, [near(0xffff), near(10), near(10)])
    expect([...lookup.peers.keys()]).toEqual([key(10)])
  })

  it("is finished at once without seeds", () => {
    expect(Lookup.isFinished(Lookup.start(params, target, selfKey, []))).toBe(true)
  })
})

describe("Lookup.next", () => {
  it("keeps at most alpha requests in flight per path, nearest first", () => {
    const [lookup, picks] = Lookup.next(Lookup.start(params, target, selfKey, [near(10), near(20), near(30), near(40)]))
    expect(picks.map((p) => p.key)).toEqual([key(10), key(20)])
    expect(Lookup.next(lookup)[1]).toEqual([])
    expect(lookup.queried).toBe(2)
  })
})

describe("Lookup.onSuccess and onFailure", () => {
  it("adds new contacts to the responder's path with the next hop", () => {
    let [lookup] = Lookup.next(Lookup.start(params, target, selfKey, [near(10), near(20)]))
    lookup = Lookup.onSuccess(lookup, key(10), [near(5), near(20), near(0xffff)], "45.1.0.1")
    expect(lookup.order[0]).toEqual([key(5), key(10)])
    expect(lookup.peers.get(key(5))).toMatchObject({ path: 0, hop: 2, state: "pending" })
    expect(lookup.peers.get(key(10))).toMatchObject({ state: "succeeded", ip: "45.1.0.1" })
    // near(20) is claimed by path 1; never moved to path 0; ourselves never enters.
    expect(lookup.peers.get(key(20))?.path).toBe(1)
    expect(lookup.peers.has(selfKey)).toBe(false)
  })

  it("ignores an answer from a peer that is not waiting", () => {
    const lookup = Lookup.start(params, target, selfKey, [near(10)])
    expect(Lookup.onSuccess(lookup, key(10), [near(1)])).toBe(lookup)
    expect(Lookup.onSuccess(lookup, key(99), [near(1)])).toBe(lookup)
  })

  it("finishes a path when its k closest non-failed candidates answered", () => {
    let [lookup] = Lookup.next(Lookup.start({ ...params, paths: 1, alpha: 3 }, target, selfKey, [near(10), near(20)]))
    lookup = Lookup.onFailure(lookup, key(10))
    lookup = Lookup.onSuccess(lookup, key(20), [near(30)])
    // near(10) failed, so near(30) enters the window of the k = 2 closest and must answer too.
    expect(Lookup.isFinished(lookup)).toBe(false)
    const [asked, picks] = Lookup.next(lookup)
    expect(picks.map((p) => p.key)).toEqual([key(30)])
    lookup = Lookup.onSuccess(asked, key(30), [])
    expect(Lookup.isFinished(lookup)).toBe(true)
    expect(Lookup.closest(lookup, 5).map((p) => p.key)).toEqual([key(20), key(30)])
  })

  it("keeps going while a closer candidate has not answered", () => {
    let [lookup] = Lookup.next(Lookup.start({ ...params, paths: 1, alpha: 2 }, target, selfKey, [near(10), near(20)]))
    lookup = Lookup.onSuccess(lookup, key(10), [near(1)])
    lookup = Lookup.onSuccess(lookup, key(20), [])
    expect(Lookup.isFinished(lookup)).toBe(false)
    const [after, picks] = Lookup.next(lookup)
    expect(picks.map((p) => p.key)).toEqual([key(1)])
    expect(Lookup.waiting(after)).toEqual([key(1)])
  })

  it("bounds remembered peers: a closer newcomer displaces the farthest uncontacted one", () => {
    let [lookup] = Lookup.next(Lookup.start({ k: 2, alpha: 1, paths: 1, maxPeers: 3 }, target, selfKey, [near(10), near(40), near(50)]))
    lookup = Lookup.onSuccess(lookup, key(10), [near(5), near(60)])
    expect(lookup.peers.size).toBe(3)
    expect([...lookup.peers.keys()].sort()).toEqual([key(5), key(10), key(40)].sort())
  })
})

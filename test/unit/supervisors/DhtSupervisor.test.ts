/**
 * The DHT subtree of eight stations over the simulated network, with real transport subtrees
 * and connection actors (no QUIC), on `TestClock`: the nodes find each other's closest
 * contacts, a crashed bucket actor restarts empty and refills, a crashed lookup worker fails
 * only its own lookup, and `removeContact` takes a station out of the table.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import { describe, expect } from "vitest"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import { effect } from "../../support/it.ts"
import { advance, drive, hex, K, mesh, settle, sha256, trueClosest } from "./DhtMesh.ts"

describe("DhtSupervisor over the simulated network", () => {
  effect("eight stations find each other's closest contacts", () =>
    Effect.gen(function*() {
      const { nodes } = yield* mesh(8)
      for (const node of nodes) {
        const stats = yield* node.dht.stats
        expect(stats.contacts).toBeGreaterThanOrEqual(K)
        for (const view of yield* node.dht.inspect) expect(view.violations).toEqual([])
      }
      for (const [i, node] of nodes.entries()) {
        const target = nodes[(i + 3) % nodes.length]!.id
        const found = yield* drive(node.dht.lookup(target))
        if (found._tag !== "Success") throw new Error("lookup failed")
        expect(found.value.closest.map((c) => hex(c.id))).toEqual(trueClosest(nodes, target, node.id))
        const random = sha256(new Uint8Array([i, 42]))
        const again = yield* drive(node.dht.lookup(random))
        if (again._tag !== "Success") throw new Error("lookup failed")
        expect(again.value.closest.map((c) => hex(c.id))).toEqual(trueClosest(nodes, random, node.id))
      }
    }), 60_000)

  effect("a crashed bucket actor restarts empty and refills from its refresh and traffic", () =>
    Effect.gen(function*() {
      const { nodes } = yield* mesh(8)
      const node = nodes[1]!
      const views = yield* node.dht.inspect
      const fullest = [...views].sort((a, b) => b.members.length - a.members.length)[0]!
      const before = fullest.members.map((c) => hex(c.id)).sort()
      expect(before.length).toBeGreaterThan(0)
      const old = node.dht.buckets().get(fullest.index)!
      yield* old.exit(ExitReason.killed)
      yield* settle
      const restarted = node.dht.buckets().get(fullest.index)!
      expect(restarted.pid).not.toBe(old.pid)
      const empty = (yield* node.dht.inspect).find((v) => v.index === fullest.index)!
      expect(empty.members).toEqual([])

      for (let t = 0; t < 2_000; t += 10) yield* advance(10)
      const refilled = (yield* node.dht.inspect).find((v) => v.index === fullest.index)!
      // Everyone it held before is back (a refresh may even find a station it had missed).
      expect(refilled.members.map((c) => hex(c.id))).toEqual(expect.arrayContaining(before))
      // The rest of the node never noticed.
      const found = yield* drive(node.dht.lookup(nodes[4]!.id))
      expect(found._tag).toBe("Success")
    }), 60_000)

  effect("a crashed lookup worker fails only its own lookup", () =>
    Effect.gen(function*() {
      const { nodes } = yield* mesh(8)
      const node = nodes[2]!
      const first = yield* Effect.forkChild(node.dht.lookup(sha256(new Uint8Array([1]))))
      const second = yield* Effect.forkChild(node.dht.lookup(sha256(new Uint8Array([2]))))
      yield* settle
      const workers = yield* node.dht.lookups()!.whichChildren
      expect(workers.length).toBe(2)
      yield* workers[0]!.process!.exit(ExitReason.killed)
      for (let t = 0; t < 3_000 && (first.pollUnsafe() === undefined || second.pollUnsafe() === undefined); t += 10) yield* advance(10)
      const a = yield* Effect.result(Fiber.join(first))
      const b = yield* Effect.result(Fiber.join(second))
      expect(Result.isFailure(a) && a.failure._tag === "LookupFailed" && a.failure.reason === "crashed").toBe(true)
      expect(Result.isSuccess(b) && b.success.closest.length).toBe(K)
      expect((yield* node.dht.lookups()!.whichChildren).length).toBe(0) // temporary: not restarted
    }), 60_000)

  effect("removeContact takes a dead station out of the routing table and promotes a cached candidate", () =>
    Effect.gen(function*() {
      // k = 2: bucket 0 (about half the mesh) fills up and keeps candidates in its cache.
      const { nodes } = yield* mesh(8, 7, { dhtK: 2, storeQuorum: 2 })
      let found: { node: (typeof nodes)[number]; index: number } | undefined
      for (const node of nodes) {
        const view = (yield* node.dht.inspect).find((v) => v.cached.length > 0)
        if (view !== undefined) found = { node, index: view.index }
      }
      expect(found).toBeDefined()
      const { node, index } = found!
      const before = (yield* node.dht.inspect).find((v) => v.index === index)!
      const victim = before.members[0]!
      const candidate = before.cached[before.cached.length - 1]!
      yield* node.dht.removeContact(victim.id)
      yield* settle
      const after = (yield* node.dht.inspect).find((v) => v.index === index)!
      const members = after.members.map((c) => hex(c.id))
      expect(members).not.toContain(hex(victim.id))
      expect(members).toContain(hex(candidate.id))
      expect(members.length).toBe(before.members.length)
    }), 60_000)
})

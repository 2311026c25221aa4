/**
 * Records through the DHT subtree of eight stations over the simulated network, on
 * `TestClock`: a record stored with a write quorum is found from another node and is no
 * longer served once expired; an own record is re-signed and re-stored before it lapses; a
 * station that joins closer to a record's key than the holders receives it (hand-off).
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as Config from "../../../src/protocols/dht/Config.ts"
import * as DhtSupervisor from "../../../supervisors/DhtSupervisor.ts"
import { effect } from "../../support/it.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import * as Xor from "../../../src/protocols/dht/Xor.ts"
import { advance, drive, endpointRecord, identity, mesh, type Node, settle, startNode } from "./DhtMesh.ts"

describe("DhtSupervisor records over the simulated network", () => {
  effect("a record stored with a write quorum is found from another node, and not served once expired", () =>
    Effect.gen(function*() {
      const { nodes } = yield* mesh(8)
      const now = yield* DhtSupervisor.now
      // Signed by a key no node owns, so nobody renews it.
      const record = endpointRecord(identity(99), now, now + 20_000)
      const stored = yield* drive(nodes[1]!.dht.putRecord(record.signed))
      if (stored._tag !== "Success") throw new Error("store failed")
      expect(stored.value.ok).toBe(true)
      expect(stored.value.acks).toBeGreaterThanOrEqual(3)

      const found = yield* drive(nodes[6]!.dht.findValue(record.body.key))
      if (found._tag !== "Success") throw new Error("findValue failed")
      expect(found.value.records.map((r) => r.signed.s)).toEqual([record.signed.s])

      yield* advance(20_000)
      const later = yield* drive(nodes[5]!.dht.findValue(record.body.key))
      if (later._tag !== "Success") throw new Error("findValue failed")
      expect(later.value.records).toEqual([])
      yield* advance(Config.local.expireSweepIntervalMs)
      for (const node of nodes) expect((yield* node.dht.stats).records).toBe(0) // swept everywhere
    }), 60_000)

  effect("an own record is re-signed and re-stored before it lapses", () =>
    Effect.gen(function*() {
      const { nodes } = yield* mesh(8)
      const owner = nodes[1]!
      const now = yield* DhtSupervisor.now
      const record = endpointRecord(owner.who, now, now + 20_000)
      const stored = yield* drive(owner.dht.store(record))
      expect(stored._tag === "Success" && stored.value.ok).toBe(true)
      // Due at iat + republishFraction × TTL = 10 s; checked every expireSweepIntervalMs.
      for (let t = 0; t < 25_000; t += 50) yield* advance(50)
      const found = yield* drive(nodes[6]!.dht.findValue(record.body.key))
      if (found._tag !== "Success") throw new Error("findValue failed")
      expect(found.value.records.length).toBe(1)
      const renewed = found.value.records[0]!.body
      expect(renewed.seq).toBeGreaterThan(record.body.seq)
      expect(renewed.exp).toBeGreaterThan(record.body.exp) // still served after the original exp
    }), 60_000)

  effect("a station joining closer to a record's key than its holders is handed the record", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 11 })
      const nodes: Array<Node> = []
      for (let i = 0; i < 8; i++) nodes.push(yield* startNode(net, i))
      yield* settle
      const late = nodes[7]!
      // A signer whose endpoint record key is closer to the late station than to anyone else.
      const now = yield* DhtSupervisor.now
      let record = endpointRecord(identity(100), now, now + 600_000)
      for (let n = 100; n < 400; n++) {
        const candidate = endpointRecord(identity(n), now, now + 600_000)
        const nearest = [...nodes].sort((a, b) => Xor.compareDistance(a.id, b.id, candidate.body.key))[0]!
        if (nearest === late) {
          record = candidate
          break
        }
      }
      expect([...nodes].sort((a, b) => Xor.compareDistance(a.id, b.id, record.body.key))[0]).toBe(late)
      const join = (node: Node) =>
        Effect.gen(function*() {
          const dialed = yield* drive(node.tree.dialer.dial(nodes[0]!.address, { expectedDid: nodes[0]!.who.did }))
          if (dialed._tag !== "Success") throw new Error("dial failed")
          yield* node.dht.attach(dialed.value)
        })
      for (const node of nodes.slice(1, 7)) yield* join(node)
      for (let t = 0; t < 3_000; t += 10) yield* advance(10)
      const stored = yield* drive(nodes[1]!.dht.store(record))
      expect(stored._tag === "Success" && stored.value.ok).toBe(true)
      expect((yield* late.dht.stats).records).toBe(0)

      yield* join(late)
      for (let t = 0; t < 3_000; t += 10) yield* advance(10)
      expect((yield* late.dht.stats).records).toBe(1)
    }), 60_000)
})

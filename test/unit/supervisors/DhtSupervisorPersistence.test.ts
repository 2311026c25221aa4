/**
 * What the DHT subtree keeps across a restart (PROTOCOL.md §15.2), over the simulated network
 * on `TestClock` with the in-memory port: the records it held are served again at once, before
 * any owner republishes them; the routing snapshot is written every
 * `routingSnapshotIntervalMs` and, after the restart, its contacts are re-pinged and only those
 * that answer enter the table.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { describe, expect } from "vitest"
import * as Config from "../../../src/protocols/dht/Config.ts"
import * as Xor from "../../../src/protocols/dht/Xor.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import * as DhtSupervisor from "../../../supervisors/DhtSupervisor.ts"
import * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"
import { effect } from "../../support/it.ts"
import { advance, drive, endpointRecord, identity, makeNode, type Node, startNode } from "./DhtMesh.ts"

const knobs: Partial<Config.Knobs> = { dhtK: 4, storeQuorum: 3, dhtDisjointPaths: 2, valueResponsesWanted: 2 }

const walk = (ms: number) =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += 10) yield* advance(10)
  })

/** A station whose DHT subtree can be stopped and started again (the same `make`, as its supervisor does). */
const restartable = (net: SimNetwork.SimNetwork, n: number, persistence: DhtSupervisor.Persistence | undefined) =>
  Effect.gen(function*() {
    const { startTree, ...node } = yield* makeNode(net, n, {
      overrides: knobs,
      ...(persistence === undefined ? {} : { persistence, recordSaveDelayMs: 500 })
    })
    const life = Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Scope.provide(startTree, scope)
      return Scope.close(scope, Exit.void)
    })
    return { ...node, life }
  })

/** A plain station in a scope of its own, so the test can stop it. */
const stoppable = (net: SimNetwork.SimNetwork, n: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const node = yield* Scope.provide(startNode(net, n, knobs), scope)
    return { node, stop: Scope.close(scope, Exit.void) }
  })

const join = (node: { readonly tree: TransportSupervisor.TransportTree; readonly dht: DhtSupervisor.Dht }, to: Node) =>
  Effect.gen(function*() {
    const dialed = yield* drive(node.tree.dialer.dial(to.address, { expectedDid: to.who.did }))
    if (dialed._tag !== "Success") throw new Error("dial failed")
    yield* node.dht.attach(dialed.value)
  })

const members = (dht: DhtSupervisor.Dht) =>
  Effect.map(dht.inspect, (views) => views.flatMap((v) => v.members.map((c) => Xor.toHex(c.id))).sort())

const recordsSurvive = (persisted: boolean) =>
  Effect.gen(function*() {
    const net = yield* SimNetwork.make({ seed: 5 })
    const a = yield* stoppable(net, 0)
    const b = yield* stoppable(net, 1)
    const store = DhtSupervisor.memoryPersistence()
    const p = yield* restartable(net, 2, persisted ? store : undefined)
    const stopFirst = yield* p.life
    yield* join(b.node, a.node)
    yield* join(p, a.node)
    yield* walk(3_000)

    // Signed by a key no node owns: nobody republishes it.
    const now = yield* DhtSupervisor.now
    const record = endpointRecord(identity(99), now, now + 600_000)
    const stored = yield* drive(p.dht.putRecord(record.signed))
    expect(stored._tag === "Success" && stored.value.ok).toBe(true)
    expect((yield* p.dht.stats).records).toBe(1)
    yield* walk(1_000)

    // The other holders leave; the station restarts its DHT.
    yield* a.stop
    yield* b.stop
    yield* stopFirst
    yield* p.life
    yield* walk(500)

    // A newcomer that knows only the restarted station asks for the record.
    const d = yield* stoppable(net, 3)
    yield* join(d.node, p)
    yield* walk(1_000)
    const found = yield* drive(d.node.dht.findValue(record.body.key))
    if (found._tag !== "Success") throw new Error("findValue failed")
    return { found: found.value.records.map((r) => r.signed.s), record, saved: store.saved() }
  })

describe("DhtSupervisor persistence", () => {
  effect("the records held are served again right after a restart", () =>
    Effect.gen(function*() {
      const { found, record, saved } = yield* recordsSurvive(true)
      expect(saved.records.length).toBe(1)
      expect(found).toEqual([record.signed.s])
    }), 60_000)

  effect("(control) without persistence the restarted station has nothing to serve", () =>
    Effect.gen(function*() {
      const { found } = yield* recordsSurvive(false)
      expect(found).toEqual([])
    }), 60_000)

  effect("the routing snapshot is re-pinged after a restart: only contacts that answer come back", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 6 })
      const a = yield* stoppable(net, 0)
      const b = yield* stoppable(net, 1)
      const c = yield* stoppable(net, 2)
      const store = DhtSupervisor.memoryPersistence()
      const p = yield* restartable(net, 3, store)
      const stopFirst = yield* p.life
      for (const n of [b, c]) yield* join(n.node, a.node)
      yield* join(p, a.node)
      yield* walk(3_000)
      const before = yield* members(p.dht)
      expect(before).toEqual([a, b, c].map((n) => Xor.toHex(n.node.id)).sort())

      expect(store.saved().contacts).toEqual([])
      yield* walk(Config.local.routingSnapshotIntervalMs)
      expect(store.saved().contacts.map((i) => Xor.toHex(i.pk)).sort()).toEqual([a, b, c].map((n) => Xor.toHex(n.node.who.publicKey)).sort())

      yield* c.stop // gone while the station restarts
      yield* stopFirst
      yield* p.life
      expect(yield* members(p.dht)).toEqual([])
      yield* walk(2_000)
      expect(yield* members(p.dht)).toEqual([a, b].map((n) => Xor.toHex(n.node.id)).sort())
    }), 60_000)
})

/**
 * The connection registry with a ban store (PROTOCOL.md §15.2): a new ban is saved with every
 * ban in force; a registry started over the same store (after a crash, or in a new process)
 * refuses the banned DID at admission and at ready, and ignores bans that already expired.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import * as ConnectionRegistryActor from "../../../actors/ConnectionRegistryActor.ts"
import { Connection } from "../../../src/protocols/connection/index.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import { effect } from "../../support/it.ts"
import { advance, identity, settle } from "../testkit/network/Helpers.ts"

const banDurationMs = 600_000

const status = (did: string, id: string): ConnectionActor.Status => ({
  connectionId: id, peerDid: did, direction: "inbound", remoteAddress: "quic://10.0.0.9:4433", phase: "ready",
  peerRole: "client", version: 1, peerHello: undefined, skewMs: 0, rttMs: undefined, score: -100, rejected: 0,
  undelivered: 0, ending: undefined
})

/** A store in memory, as a data directory would keep it across registries. */
const memoryStore = (initial: ReadonlyArray<{ did: string; until: number }> = []) => {
  let held: ReadonlyArray<{ did: string; until: number }> = initial
  const saves: Array<ReadonlyArray<{ did: string; until: number }>> = []
  const store: ConnectionRegistryActor.BanStore = {
    load: Effect.sync(() => held),
    save: (bans) => Effect.sync(() => void (saves.push(bans), (held = bans)))
  }
  return { store, saves, held: () => held }
}

const registryOver = (store: ConnectionRegistryActor.BanStore) =>
  Effect.map(
    Actor.spawn(ConnectionRegistryActor.behavior({
      localDid: identity(9).did,
      localRole: "station",
      score: { ...ConnectionActor.config("station"), banDurationMs },
      bans: store
    })),
    (ref) => ConnectionRegistryActor.client(() => ref)
  )

describe("the registry's ban store", () => {
  effect("saves a new ban and a new registry over the same store still refuses the peer", () =>
    Effect.gen(function*() {
      const peer = identity(0).did
      const mem = memoryStore()
      const first = yield* registryOver(mem.store)
      first.noticed(peer, Connection.Notice.Banned({ untilMs: 0, score: -100 }), status(peer, "c1"))
      yield* settle
      expect(mem.saves).toHaveLength(1)
      expect(mem.saves[0]!.map((b) => b.did)).toEqual([peer])

      const second = yield* registryOver(mem.store)
      expect(yield* second.isBanned(peer)).toBe(true)
      expect(yield* second.admit({ id: "c2", did: peer, remoteAddress: "quic://10.0.0.9:5000" }))
        .toEqual({ ok: false, code: "banned", reason: "peer is banned" })
      expect(yield* second.admit({ id: "c3", did: identity(1).did, remoteAddress: "quic://10.0.0.9:5001" })).toEqual({ ok: true })

      // The ban ends when it was set to, also for the reloaded registry.
      yield* advance(banDurationMs)
      expect(yield* second.isBanned(peer)).toBe(false)
    }))

  effect("ignores bans that expired before the registry started", () =>
    Effect.gen(function*() {
      const peer = identity(0).did
      const registry = yield* registryOver(memoryStore([{ did: peer, until: 0 }]).store)
      expect(yield* registry.isBanned(peer)).toBe(false)
    }))
})

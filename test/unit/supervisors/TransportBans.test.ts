/**
 * Bans on our own dials (PROTOCOL.md §3.7, §14): the registry answers whether a DID is banned
 * and refuses a banned peer's connection when it becomes ready; a connection told so closes
 * `banned`; and the transport subtree's dialer fails `PeerBanned` at once for a pinned DID, and
 * closes the connection of an unpinned address whose peer turns out to be banned.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { describe, expect } from "vitest"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import * as ConnectionRegistryActor from "../../../actors/ConnectionRegistryActor.ts"
import { Connection } from "../../../src/protocols/connection/index.ts"
import { Transport } from "../../../src/platform/transport/Transport.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"
import { effect } from "../../support/it.ts"
import { pair } from "../actors/MemoryConnection.ts"
import { advance, background, identity, settle } from "../testkit/network/Helpers.ts"

const banDurationMs = 600_000

const status = (did: string, id: string, direction: "inbound" | "outbound"): ConnectionActor.Status => ({
  connectionId: id,
  peerDid: did,
  direction,
  remoteAddress: "quic://10.0.0.9:4433",
  phase: "ready",
  peerRole: "station",
  version: 1,
  peerHello: undefined,
  skewMs: 0,
  rttMs: undefined,
  score: -100,
  rejected: 0,
  undelivered: 0,
  ending: undefined
})

/** A stand-in handle: the registry only keeps it and reads its id. */
const handleFor = (id: string) => ({ connectionId: id }) as unknown as ConnectionActor.Handle

/** Tells `registry` that `did` reached the ban score now. */
const ban = (registry: ConnectionRegistryActor.Client, did: string) =>
  Effect.gen(function*() {
    registry.noticed(did, Connection.Notice.Banned({ untilMs: 0, score: -100 }), status(did, "x", "outbound"))
    yield* settle
  })

describe("bans on our own connections", () => {
  effect("the registry refuses a banned peer's connection at ready, until the ban expires", () =>
    Effect.gen(function*() {
      const station = identity(0)
      const ref = yield* Actor.spawn(ConnectionRegistryActor.behavior({
        localDid: identity(1).did,
        localRole: "client",
        score: { ...ConnectionActor.config("client"), banDurationMs }
      }))
      const registry = ConnectionRegistryActor.client(() => ref)
      expect(yield* registry.isBanned(station.did)).toBe(false)
      expect(yield* registry.ready(status(station.did, "c1", "outbound"), handleFor("c1"))).toBe("keep")

      yield* ban(registry, station.did)
      expect(yield* registry.isBanned(station.did)).toBe(true)
      expect(yield* registry.ready(status(station.did, "c2", "outbound"), handleFor("c2"))).toBe("banned")
      // A refused connection never becomes the one a lookup finds.
      const found = yield* registry.lookup(station.did)
      expect(found?.connectionId).not.toBe("c2")

      yield* advance(banDurationMs)
      expect(yield* registry.isBanned(station.did)).toBe(false)
      expect(yield* registry.ready(status(station.did, "c3", "outbound"), handleFor("c3"))).toBe("keep")
    }))

  effect("a connection whose registry says banned at ready closes banned", () =>
    Effect.gen(function*() {
      const a = identity(0)
      const b = identity(1)
      const { dialer, listener } = pair({ did: a.did, key: a.publicKey }, { did: b.did, key: b.publicKey })
      const client = ConnectionActor.handleOf(yield* ConnectionActor.start({
        connection: dialer,
        config: ConnectionActor.config("client", { stationPowBits: 0 }),
        onReady: () => Effect.succeed("banned" as const)
      }))!
      yield* ConnectionActor.start({ connection: listener, config: ConnectionActor.config("station", { stationPowBits: 0 }) })
      yield* settle
      const ready = yield* Effect.exit(client.ready)
      expect(Exit.isFailure(ready)).toBe(true)
      for (let t = 0; t < 5_000 && client.status().phase !== "closed"; t += 10) yield* advance(10)
      expect(client.status().ending).toMatchObject({ code: "banned", by: "local" })
    }))

  effect("the dialer fails PeerBanned for a banned DID, pinned or learnt from the certificate", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 7, network: { latencyMs: 10 } })
      const stationId = identity(0)
      const clientId = identity(1)
      const stationTransport = yield* SimNetwork.transport(net, stationId, { listen: "quic://station:4433" })
      const clientTransport = yield* SimNetwork.transport(net, clientId, { listen: "quic://client:4433" })
      const closes: Array<string> = []
      const station = yield* Effect.provideService(
        TransportSupervisor.start({
          connection: ConnectionActor.config("station", { stationPowBits: 0 }),
          onNotice: (notice) => void (notice._tag === "Closed" && closes.push(notice.code))
        }),
        Transport,
        stationTransport
      )
      const client = yield* Effect.provideService(
        TransportSupervisor.start({ connection: ConnectionActor.config("client", { stationPowBits: 0 }), listen: false }),
        Transport,
        clientTransport
      )
      yield* settle
      const address = yield* station.listenAddress
      yield* ban(client.registry, stationId.did)

      // Pinned: refused before any packet, without moving the clock.
      const pinned = yield* Effect.flip(client.dialer.dial(`${address}#${stationId.did}`))
      expect(pinned).toBeInstanceOf(TransportSupervisor.PeerBanned)
      expect(pinned).toMatchObject({ peerDid: stationId.did })
      const given = yield* Effect.flip(client.dialer.dial(address, { expectedDid: stationId.did }))
      expect(given._tag).toBe("PeerBanned")
      expect(SimNetwork.stats(net).connections).toBe(0)

      // Unpinned: the certificate names the peer; the connection is closed `banned`.
      const dialing = yield* background(Effect.flip(client.dialer.dial(address)))
      for (let t = 0; t < 5_000 && dialing.pollUnsafe() === undefined; t += 5) yield* advance(5)
      const unpinned = yield* Fiber.join(dialing)
      expect(unpinned).toMatchObject({ _tag: "PeerBanned", peerDid: stationId.did, address })
      for (let t = 0; t < 5_000 && closes.length === 0; t += 10) yield* advance(10)
      expect(closes).toEqual(["banned"])
      expect(yield* client.connections).toEqual([])
    }))
})

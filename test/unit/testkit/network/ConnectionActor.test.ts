/**
 * Two nodes' transport subtrees (`TransportSupervisor`, with their connection actors) over the
 * simulated network, on `TestClock`: the client dials the station, both HELLOs complete, and a
 * partition is noticed by both connection actors as `liveness_lost` within
 * `appPingIntervalMs + appPingMaxMisses × appPingTimeoutMs` of virtual time, well before the
 * transport's idle timeout.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { describe, expect } from "vitest"
import * as ConnectionActor from "../../../../actors/ConnectionActor.ts"
import { Transport } from "../../../../src/platform/transport/Transport.ts"
import * as SimNetwork from "../../../../src/testkit/network/SimNetwork.ts"
import * as Network from "../../../../src/testkit/sim/Network.ts"
import * as TransportSupervisor from "../../../../supervisors/TransportSupervisor.ts"
import { effect } from "../../../support/it.ts"
import { advance, background, identity, settle } from "./Helpers.ts"

describe("ConnectionActor over the simulated network", () => {
  effect("completes HELLO through the supervisors and notices a partition as liveness_lost within the bound", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 21, network: { latencyMs: 20, jitter: Network.uniform(10) } })
      const stationId = identity(0)
      const clientId = identity(1)
      const stationTransport = yield* SimNetwork.transport(net, stationId, { listen: "quic://station:4433" })
      const clientTransport = yield* SimNetwork.transport(net, clientId, { listen: "quic://client:4433" })
      const stationConfig = ConnectionActor.config("station", { stationPowBits: 0 })
      const clientConfig = ConnectionActor.config("client", { stationPowBits: 0 })
      const station = yield* Effect.provideService(
        TransportSupervisor.start({ connection: stationConfig }),
        Transport,
        stationTransport
      )
      const client = yield* Effect.provideService(
        TransportSupervisor.start({ connection: clientConfig, listen: false }),
        Transport,
        clientTransport
      )
      yield* settle
      const address = yield* station.listenAddress
      expect(address).toBe("quic://station:4433")

      const dialing = yield* background(client.dialer.dial(address, { expectedDid: stationId.did }))
      for (let t = 0; t < 1_000 && dialing.pollUnsafe() === undefined; t += 5) yield* advance(5)
      const link = yield* Fiber.join(dialing)
      expect(link.status()).toMatchObject({ phase: "ready", peerDid: stationId.did, peerRole: "station", version: 1 })
      yield* advance(100)
      const inbound = yield* station.connections
      expect(inbound.length).toBe(1)
      const peer = inbound[0]!
      expect(peer.status()).toMatchObject({ phase: "ready", peerDid: clientId.did, peerRole: "client", direction: "inbound" })

      // A healthy link stays up through the pings.
      yield* advance(30_000)
      expect([link.status().phase, peer.status().phase]).toEqual(["ready", "ready"])
      expect(link.status().rttMs ?? peer.status().rttMs).toBeGreaterThanOrEqual(40)

      // Note the exact virtual time each side's status first shows the ending.
      const clock = yield* Clock.clockWith(Effect.succeed)
      const noticedAfter = new Map<ConnectionActor.Handle, number>()
      const cutAt = clock.currentTimeMillisUnsafe()
      for (const handle of [link, peer]) {
        handle.watch((status) => {
          if (status.ending !== undefined && !noticedAfter.has(handle)) noticedAfter.set(handle, clock.currentTimeMillisUnsafe() - cutAt)
        })
      }
      yield* SimNetwork.partition(net, [["station:4433"], ["client:4433"]])
      const bound = stationConfig.appPingIntervalMs + stationConfig.appPingMaxMisses * stationConfig.appPingTimeoutMs
      for (let t = 0; t < 12_000 && noticedAfter.size < 2; t += 10) yield* advance(10)
      const noticed = [...noticedAfter.values()]
      expect(noticed.length).toBe(2)
      for (const handle of [link, peer]) expect(handle.status().ending).toMatchObject({ code: "liveness_lost", by: "local" })
      // Noticed `bound` after the last frame heard, which was at most one ping interval (and a
      // round trip) before the cut.
      for (const delay of noticed) {
        expect(delay).toBeGreaterThan(bound - stationConfig.appPingIntervalMs - 100)
        expect(delay).toBeLessThanOrEqual(bound)
      }
      expect(SimNetwork.stats(net).idleTimeouts).toBe(0)
      yield* advance(1_000)
      expect((yield* client.connections).length).toBe(0)
    }))
})

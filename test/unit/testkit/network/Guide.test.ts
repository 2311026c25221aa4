/**
 * The "Simulated network" example of docs/guides/simulation.md, run through the module's index
 * (what `macula-node/testkit` exports as `Network`): it builds, connects and applies its faults.
 */
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect } from "vitest"
import { Identity } from "../../../../src/identity/Identity.ts"
import * as Network from "../../../../src/testkit/network/index.ts"
import { effect } from "../../../support/it.ts"

const { SimNetwork, Links } = Network

describe("the simulation guide's simulated network example", () => {
  effect("runs as written", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const net = yield* SimNetwork.make({ seed: 42, network: Links.wan })
        const alice = Identity.generate()
        const a = yield* SimNetwork.transport(net, alice, { listen: "quic://alice:4433" })
        const b = yield* SimNetwork.transport(net, Identity.generate())

        const listener = yield* a.listen
        const toAlice = yield* Effect.forkChild(b.dial("quic://alice:4433", { expectedDid: alice.did }))
        yield* TestClock.adjust(1_000)
        const connection = yield* Fiber.join(toAlice)
        const accepted = yield* listener.accept

        yield* SimNetwork.partition(net, [["quic://alice:4433"]], { healAfterMs: 3_000 })
        yield* SimNetwork.crash(net, b.localAddress, { restartAfterMs: 5_000 })
        yield* SimNetwork.setNetwork(net, Links.lossy)
        return { connection, accepted, alice, net }
      })
      const { connection, accepted, alice, net } = yield* program
      expect(connection.peerDid).toBe(alice.did)
      expect(accepted.direction).toBe("inbound")
      expect(connection.isClosed()).toBe(true) // b crashed
      expect(SimNetwork.nodeInfo(net, "node-1:4433").up).toBe(false)
      yield* TestClock.adjust(5_000)
      expect(SimNetwork.nodeInfo(net, "node-1:4433").up).toBe(true)
      expect(SimNetwork.reachable(net, "alice:4433", "node-1:4433")).toBe(true)
    }))
})

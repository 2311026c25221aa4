/**
 * Streaming calls through the routing subtree over the simulated network (two stations,
 * clients on each, real connection actors, `TestClock`): a server stream and a bidirectional
 * stream across both stations; while a call lasts each client holds one call stream and each
 * station two (spliced), and afterwards every stream is released at all four.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import type { StreamCall } from "../../../src/node/RpcStream.ts"
import { effect } from "../../support/it.ts"
import { drive, mesh, run } from "./RoutingMesh.ts"

const count = "io.macula/acme/app/math/count_v1"
const double = "io.macula/acme/app/math/double_v1"
const hold = "io.macula/acme/app/math/hold_v1"

const valueOf = <A>(exit: { readonly _tag: "Success"; readonly value: A } | { readonly _tag: "Failure"; readonly cause: unknown }): A => {
  if (exit._tag !== "Success") throw new Error(`failed: ${String(exit.cause)}`)
  return exit.value
}

const collect = async (call: StreamCall): Promise<Array<unknown>> => {
  const out: Array<unknown> = []
  for await (const m of call) out.push(m)
  return out
}

describe("RoutingSupervisor streaming RPC over the simulated network", () => {
  effect("streams across two stations both ways and releases every stream", () =>
    Effect.gen(function*() {
      const { clients: [c0, , c2], stations: [s0, s1] } = yield* mesh()
      valueOf(yield* drive(c2.routing.advertiseStream(count, "server", async (args, stream) => {
        for (let i = 0; i < (args as number); i++) await stream.send(i)
        return "counted"
      })))
      valueOf(yield* drive(c2.routing.advertiseStream(double, "bidi", async (_args, stream) => {
        let n = 0
        for await (const x of stream) {
          await stream.send((x as number) * 2)
          n++
        }
        return n
      })))
      let release: () => void = () => undefined
      valueOf(yield* drive(c2.routing.advertiseStream(hold, "server", async (_args, stream) => {
        await stream.send("held")
        await new Promise<void>((resolve) => (release = resolve))
        return "released"
      })))
      yield* run(100)

      // While a call lasts: one stream at each client, two spliced at each station.
      const holding = valueOf(yield* drive(c0.routing.callStream(hold, null, { mode: "server", timeoutMs: 5_000 })))
      const first = holding[Symbol.asyncIterator]()
      expect(valueOf(yield* drive(Effect.promise(() => first.next())))).toEqual({ value: "held", done: false })
      const held = []
      for (const node of [c0, c2, s0, s1]) {
        const stats = yield* node.routing.stats
        held.push((stats.endpoint?.streams ?? 0) + (stats.dispatcher?.streams ?? 0))
      }
      expect(held).toEqual([1, 1, 2, 2])
      release()
      expect(valueOf(yield* drive(Effect.promise(() => holding.result)))).toBe("released")

      const counting = valueOf(yield* drive(c0.routing.callStream(count, 20, { mode: "server", timeoutMs: 5_000 })))
      expect(valueOf(yield* drive(Effect.promise(() => collect(counting))))).toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect(valueOf(yield* drive(Effect.promise(() => counting.result)))).toBe("counted")

      const doubling = valueOf(yield* drive(c0.routing.callStream(double, null, { mode: "bidi", timeoutMs: 5_000 })))
      const answers = collect(doubling)
      const sent = valueOf(yield* drive(Effect.promise(async () => {
        for (let i = 1; i <= 10; i++) await doubling.send(i)
        await doubling.end()
        return 10
      })))
      expect(sent).toBe(10)
      expect(valueOf(yield* drive(Effect.promise(() => answers)))).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * 2))
      expect(valueOf(yield* drive(Effect.promise(() => doubling.result)))).toBe(10)

      yield* run(200)
      for (const node of [c0, c2, s0, s1]) {
        const stats = yield* node.routing.stats
        expect(stats.endpoint?.streams ?? 0).toBe(0)
        expect(stats.dispatcher?.streams ?? 0).toBe(0)
      }
      const relayed = (yield* s0.routing.stats).dispatcher!
      expect(relayed.counters.flowViolations).toBe(0)
    }), 60_000)
})

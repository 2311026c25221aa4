/**
 * The simulated network's fault model, on `TestClock`: jitter reorders transmissions but every
 * stream stays in order; loss turns into retransmission delay, never a gap; duplicates are
 * discarded; a partition stalls connections until the idle timeout closes them, and a heal
 * before it lets them (and new dials) through; a crash loses the node's ends at once and its
 * peers' by idle timeout, and a restarted node accepts again; knobs change during a run; the
 * same seed gives the same delivery trace.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { describe, expect, it } from "vitest"
import type { FrameStream } from "../../../../src/platform/transport/Transport.ts"
import * as SimNetwork from "../../../../src/testkit/network/SimNetwork.ts"
import * as Network from "../../../../src/testkit/sim/Network.ts"
import { effect, runTest } from "../../../support/it.ts"
import { advance, background, connected, frame, identity, numberOf } from "./Helpers.ts"

/** Receives `n` frames, each with the virtual time it was taken. */
const collect = (stream: FrameStream, n: number) =>
  Effect.gen(function*() {
    const got: Array<{ readonly i: number; readonly at: number }> = []
    while (got.length < n) {
      const bodies = yield* stream.receiveMany
      const at = yield* Clock.currentTimeMillis
      for (const body of bodies) got.push({ i: numberOf(body), at })
    }
    return got
  })

/** Whether no frame is waiting on `stream` (probes without moving the clock). */
const nothingWaiting = (stream: FrameStream) =>
  Effect.map(Effect.timeoutOption(stream.receiveMany, 0), (o) => o._tag === "None")

/** Advances the clock in `stepMs` steps until `fiber` is done (at most `maxMs`). */
const until = <A, E>(fiber: Fiber.Fiber<A, E>, maxMs: number, stepMs = 10) =>
  Effect.gen(function*() {
    for (let t = 0; t < maxMs && fiber.pollUnsafe() === undefined; t += stepMs) yield* advance(stepMs)
    return yield* Fiber.join(fiber)
  })

describe("SimNetwork faults", () => {
  effect("delivers 1,000 frames in order through jitter that reorders their transmissions", () =>
    Effect.gen(function*() {
      const { net, outbound, inbound } = yield* connected({
        seed: 11,
        network: { latencyMs: 20, jitter: Network.uniform(50) },
        trace: true
      })
      const s = yield* outbound.openStream
      yield* s.send(frame(0))
      yield* advance(100)
      const r = yield* inbound.acceptStream
      const receiving = yield* background(collect(r, 1_000))
      for (let i = 1; i < 1_000; i++) {
        yield* s.send(frame(i))
        if (i % 4 === 0) yield* advance(1)
      }
      const got = yield* until(receiving, 1_000)
      expect(got.map((g) => g.i)).toEqual([...Array(1_000).keys()])
      // The transmissions did overtake each other: arrival order of `seq` is not sorted.
      const arrivals = SimNetwork.trace(net).filter((e) => e.kind === "data" && e.outcome === "delivered").map((e) => e.seq!)
      expect(arrivals.length).toBe(1_000)
      expect(arrivals.some((seq, k) => k > 0 && seq < arrivals[k - 1]!)).toBe(true)
      expect(SimNetwork.stats(net)).toMatchObject({ lost: 0, retransmitted: 0 })
    }))

  effect("turns loss into delay, never into a gap, and discards duplicates", () =>
    Effect.gen(function*() {
      const { net, outbound, inbound } = yield* connected({
        seed: 12,
        network: { latencyMs: 10, loss: 0.2, duplicate: 0.2 },
        retransmitMs: 200
      })
      const s = yield* outbound.openStream
      const start = yield* Clock.currentTimeMillis
      for (let i = 0; i < 300; i++) yield* s.send(frame(i))
      yield* advance(10)
      const r = yield* inbound.acceptStream
      const got = yield* until(yield* background(collect(r, 300)), 10_000)
      expect(got.map((g) => g.i)).toEqual([...Array(300).keys()])
      const stats = SimNetwork.stats(net)
      expect(stats.lost).toBeGreaterThan(20)
      expect(stats.retransmitted).toBeGreaterThanOrEqual(stats.lost)
      expect(stats.duplicated).toBeGreaterThan(20)
      expect(stats.discarded).toBeGreaterThan(0)
      // Some frames waited for a retransmission (≥ 200 ms), none arrived before the latency.
      const delays = got.map((g) => g.at - start)
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(10)
      expect(Math.max(...delays)).toBeGreaterThanOrEqual(210)
      // Nothing more arrives: no frame was delivered twice.
      yield* advance(5_000)
      expect(yield* nothingWaiting(r)).toBe(true)
    }))

  effect("a partition stalls the connection and the idle timeout closes both ends", () =>
    Effect.gen(function*() {
      const { net, outbound, inbound } = yield* connected({ seed: 13, idleTimeoutMs: 5_000 })
      const s = yield* outbound.openStream
      yield* s.send(frame(0))
      yield* advance(10)
      const r = yield* inbound.acceptStream
      expect(numberOf(yield* r.receive)).toBe(0)
      yield* advance(3_000) // idle but alive: keepalives flow
      yield* SimNetwork.partition(net, [["a:4433"], ["b:4433"]])
      expect(SimNetwork.reachable(net, "a:4433", "b:4433")).toBe(false)
      yield* s.send(frame(1))
      const receiving = yield* background(r.receive)
      yield* advance(4_999)
      expect(receiving.pollUnsafe()).toBeUndefined()
      expect([outbound.isClosed(), inbound.isClosed()]).toEqual([false, false])
      yield* advance(1)
      expect(yield* outbound.closed).toMatchObject({ by: "idle_timeout", code: "idle_timeout" })
      expect(yield* inbound.closed).toMatchObject({ by: "idle_timeout", code: "idle_timeout" })
      expect(yield* Effect.flip(Fiber.join(receiving))).toMatchObject({ _tag: "ConnectionLost", by: "idle_timeout" })
      expect(SimNetwork.stats(net)).toMatchObject({ idleTimeouts: 2, blocked: expect.any(Number) })
      expect(SimNetwork.stats(net).blocked).toBeGreaterThan(0)
    }))

  effect("a heal before the idle timeout lets the stalled frames through in order; new dials wait for it", () =>
    Effect.gen(function*() {
      const { net, b, outbound, inbound, listener } = yield* connected({ seed: 14, idleTimeoutMs: 5_000 })
      const s = yield* outbound.openStream
      yield* s.send(frame(0))
      yield* advance(10)
      const r = yield* inbound.acceptStream
      yield* r.receive
      yield* SimNetwork.partition(net, [["b:4433"]], { healAfterMs: 3_000 })
      for (let i = 1; i <= 5; i++) yield* s.send(frame(i))
      const redial = yield* background(b.dial("quic://a:4433"))
      const accepting = yield* background(listener.accept)
      yield* advance(2_990)
      expect(yield* nothingWaiting(r)).toBe(true)
      expect([redial.pollUnsafe(), accepting.pollUnsafe()]).toEqual([undefined, undefined])
      const got = yield* until(yield* background(collect(r, 5)), 5_000)
      expect(got.map((g) => g.i)).toEqual([1, 2, 3, 4, 5])
      expect(got[0]!.at).toBeGreaterThanOrEqual(3_000)
      const again = yield* until(redial, 5_000)
      expect(again.peerDid).toBe(identity(0).did)
      yield* until(accepting, 1_000)
      yield* advance(20_000)
      expect([outbound.isClosed(), inbound.isClosed()]).toEqual([false, false])
    }))

  effect("a crash loses the node's ends at once, its peers' by idle timeout; after a restart it accepts again", () =>
    Effect.gen(function*() {
      const { net, a, b, outbound, inbound, listener } = yield* connected({ seed: 15, idleTimeoutMs: 4_000 })
      const accepting = yield* background(Effect.flip(listener.accept))
      yield* SimNetwork.crash(net, identity(0).did)
      expect(SimNetwork.nodeInfo(net, "quic://a:4433")).toMatchObject({ up: false, listening: false, connections: 0 })
      expect(yield* inbound.closed).toMatchObject({ by: "transport", code: "crashed" })
      yield* advance(1)
      expect(yield* Fiber.join(accepting)).toMatchObject({ _tag: "ListenerClosed" })
      expect(outbound.isClosed()).toBe(false)
      const failing = yield* background(Effect.flip(b.dial("quic://a:4433", { timeoutMs: 2_000 })))
      yield* advance(1_999)
      expect(outbound.isClosed()).toBe(false)
      yield* advance(1)
      expect(yield* Fiber.join(failing)).toMatchObject({ reason: "handshake_timeout" })
      yield* advance(1_998)
      expect(outbound.isClosed()).toBe(false)
      yield* advance(1)
      expect(yield* outbound.closed).toMatchObject({ by: "idle_timeout" })

      yield* SimNetwork.restart(net, "a:4433")
      const relistened = yield* a.listen
      const accepted = yield* background(relistened.accept)
      const dialled = yield* until(yield* background(b.dial("quic://a:4433")), 1_000, 5)
      expect(dialled.peerDid).toBe(identity(0).did)
      expect((yield* until(accepted, 100, 5)).peerDid).toBe(identity(1).did)
      // restartAfterMs restarts by itself.
      yield* SimNetwork.crash(net, "a:4433", { restartAfterMs: 500 })
      yield* advance(499)
      expect(SimNetwork.nodeInfo(net, "a:4433").up).toBe(false)
      yield* advance(1)
      expect(SimNetwork.nodeInfo(net, "a:4433").up).toBe(true)
    }))

  effect("knobs change during a run; a one-way loss: 1 link is an asymmetric cut", () =>
    Effect.gen(function*() {
      const { net, outbound, inbound } = yield* connected({ seed: 16, idleTimeoutMs: 3_000 })
      const s = yield* outbound.openStream
      yield* s.send(frame(0))
      yield* advance(10)
      const r = yield* inbound.acceptStream
      yield* r.receive
      yield* SimNetwork.setNetwork(net, { latencyMs: 100 })
      yield* s.send(frame(1))
      const one = yield* background(r.receive)
      yield* advance(99)
      expect(one.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      expect(numberOf(yield* Fiber.join(one))).toBe(1)
      yield* SimNetwork.setLink(net, "b:4433", "a:4433", { loss: 1 })
      yield* advance(2_999)
      expect(inbound.isClosed()).toBe(false)
      yield* advance(1)
      expect(yield* inbound.closed).toMatchObject({ by: "idle_timeout" })
      // The other direction heard keepalives until its peer was gone, then times out too.
      expect(outbound.isClosed()).toBe(false)
      yield* advance(3_000)
      expect(yield* outbound.closed).toMatchObject({ by: "idle_timeout" })
    }))

  effect("builds a mesh: every node dials every other and partitions cut exactly across groups", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 17, network: Network.lan })
      const nodes = []
      for (let i = 0; i < 5; i++) nodes.push(yield* SimNetwork.transport(net, identity(i)))
      const listeners = []
      for (const node of nodes) listeners.push(yield* node.listen)
      const dials = []
      for (const [i, from] of nodes.entries()) {
        for (const [j, to] of nodes.entries()) {
          if (i !== j) dials.push(yield* background(from.dial(to.localAddress, { expectedDid: identity(j).did })))
        }
      }
      yield* advance(5)
      for (const dial of dials) expect(dial.pollUnsafe()?._tag).toBe("Success")
      for (const node of nodes) expect(SimNetwork.nodeInfo(net, node.localAddress).connections).toBe(8)
      yield* SimNetwork.partition(net, [["node-0:4433", "node-1:4433"], ["node-2:4433", "node-3:4433"]])
      expect(SimNetwork.reachable(net, "node-0:4433", "node-1:4433")).toBe(true)
      expect(SimNetwork.reachable(net, "node-1:4433", "node-2:4433")).toBe(false)
      expect(SimNetwork.reachable(net, "node-4:4433", "node-3:4433")).toBe(false)
      expect(SimNetwork.reachable(net, "node-2:4433", "node-3:4433")).toBe(true)
      expect(listeners.length).toBe(5)
    }))
})

/** A busy scenario on a bad network; returns its trace and the frames as received. */
const scenario = (seed: number) =>
  Effect.gen(function*() {
    const { net, outbound, inbound } = yield* connected({ seed, network: Network.lossy, trace: true })
    const streams = [yield* outbound.openStream, yield* outbound.openStream, yield* inbound.openStream]
    for (let i = 0; i < 200; i++) {
      yield* streams[i % 3]!.send(frame(i))
      if (i % 10 === 0) yield* advance(3)
    }
    yield* SimNetwork.partition(net, [["a:4433"]], { healAfterMs: 700 })
    for (let i = 200; i < 260; i++) yield* streams[i % 3]!.send(frame(i))
    yield* advance(8_000)
    const received: Array<Array<number>> = []
    const accepted = [yield* inbound.acceptStream, yield* inbound.acceptStream, yield* outbound.acceptStream]
    for (const stream of accepted.sort((x, y) => x.id - y.id)) {
      const bodies = yield* stream.receiveMany
      received.push(bodies.map(numberOf))
    }
    return { trace: SimNetwork.trace(net), received, stats: SimNetwork.stats(net) }
  })

describe("SimNetwork determinism", () => {
  it("gives the same delivery trace for the same seed, and another for another seed", async () => {
    const first = await runTest(scenario(42))
    const second = await runTest(scenario(42))
    const other = await runTest(scenario(43))
    expect(first.trace.length).toBeGreaterThan(500)
    expect(second.trace).toEqual(first.trace)
    expect(second.stats).toEqual(first.stats)
    expect(other.trace).not.toEqual(first.trace)
    // Every stream got all its frames, in order, whatever the seed.
    for (const run of [first, other]) {
      // Sorted by stream id: 0 and 4 from the dialler (frames i % 3 = 0, 1), 1 from the listener.
      expect([run.received[0], run.received[2], run.received[1]]).toEqual([0, 1, 2].map((k) => Array.from({ length: 260 }, (_, i) => i).filter((i) => i % 3 === k)))
    }
    expect(first.trace.some((e) => e.outcome === "lost")).toBe(true)
    expect(first.trace.some((e) => e.outcome === "blocked")).toBe(true)
    expect(first.trace.some((e) => e.copy)).toBe(true)
  })
})

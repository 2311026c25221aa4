/**
 * The simulated network's connections against the `Transport` port, on `TestClock`: the
 * handshake binds DIDs on both sides in 1.5 round trips, a pinned DID that does not match fails
 * `IdentityMismatch` and the listener never sees the connection, dials to nothing fail typed,
 * streams carry frames both ways with FIN, reset and the send limit, and a close reaches the
 * peer as `ConnectionLost` with its §3.7 code.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { describe, expect } from "vitest"
import { Transport } from "../../../../src/platform/transport/Transport.ts"
import * as SimNetwork from "../../../../src/testkit/network/SimNetwork.ts"
import * as Network from "../../../../src/testkit/sim/Network.ts"
import { effect, live } from "../../../support/it.ts"
import { advance, background, connected, frame, identity, numberOf, settle } from "./Helpers.ts"

describe("SimNetwork handshake", () => {
  effect("binds the peer DID on both sides; the dial returns after one round trip, the accept half a trip later", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 1 }) // perfect: 10 ms one way
      const alice = identity(0)
      const bob = identity(1)
      const a = yield* SimNetwork.transport(net, alice, { listen: "quic://a:4433" })
      const b = yield* SimNetwork.transport(net, bob)
      expect(a).toMatchObject({ localDid: alice.did, localAddress: "quic://a:4433" })
      expect(b.localAddress).toBe("quic://node-1:4433")
      const listener = yield* a.listen
      expect(listener.address).toBe("quic://a:4433")
      const dialing = yield* background(b.dial("quic://a:4433"))
      const accepting = yield* background(listener.accept)
      yield* advance(19)
      expect(dialing.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      const out = yield* Fiber.join(dialing)
      expect(out).toMatchObject({ peerDid: alice.did, direction: "outbound", remoteAddress: "quic://a:4433", id: "out-1" })
      expect(out.peerPublicKey).toEqual(alice.publicKey)
      expect(accepting.pollUnsafe()).toBeUndefined()
      yield* advance(10)
      const inn = yield* Fiber.join(accepting)
      expect(inn).toMatchObject({ peerDid: bob.did, direction: "inbound", remoteAddress: "quic://node-1:4433", id: "in-1" })
      expect(inn.peerPublicKey).toEqual(bob.publicKey)

      // Streams both ways: the dialler opens 0, 4, …; the listener 1, 5, …
      const s = yield* out.openStream
      expect([s.id, s.openedLocally]).toEqual([0, true])
      yield* s.send(frame(1))
      yield* advance(10)
      const r = yield* inn.acceptStream
      expect([r.id, r.openedLocally]).toEqual([0, false])
      expect(numberOf(yield* r.receive)).toBe(1)
      yield* r.send(frame(2))
      const back = yield* inn.openStream
      expect(back.id).toBe(1)
      yield* advance(10)
      expect(numberOf(yield* s.receive)).toBe(2)
      expect((yield* out.openStream).id).toBe(4)
      expect(SimNetwork.stats(net)).toMatchObject({ connections: 1, lost: 0 })
    }))

  effect("fails IdentityMismatch on a pinned DID of another key and the listener never sees the connection", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 2 })
      const alice = identity(0)
      const mallory = identity(2)
      const a = yield* SimNetwork.transport(net, alice, { listen: "quic://a:4433" })
      const b = yield* SimNetwork.transport(net, identity(1))
      const listener = yield* a.listen
      const accepting = yield* background(listener.accept)
      const pinned = yield* background(Effect.flip(b.dial("quic://a:4433", { expectedDid: mallory.did })))
      const fragment = yield* background(Effect.flip(b.dial(`quic://a:4433#${mallory.did}`)))
      yield* advance(20)
      for (const fiber of [pinned, fragment]) {
        const error = yield* Fiber.join(fiber)
        expect(error).toMatchObject({ _tag: "IdentityMismatch", expected: mallory.did, actual: alice.did })
      }
      yield* advance(10_000)
      expect(accepting.pollUnsafe()).toBeUndefined()
      expect(SimNetwork.nodeInfo(net, "a:4433").connections).toBe(0)
      // The right pin passes.
      const ok = yield* background(b.dial(`quic://a:4433#${alice.did}`))
      yield* advance(30)
      expect((yield* Fiber.join(ok)).peerDid).toBe(alice.did)
      expect((yield* Fiber.join(accepting)).direction).toBe("inbound")
    }))

  effect("fails typed: malformed address, nobody there, nobody listening, and dials from a stopped node", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 3 })
      const a = yield* SimNetwork.transport(net, identity(0), { listen: "quic://a:4433" })
      const b = yield* SimNetwork.transport(net, identity(1))
      expect(yield* Effect.flip(b.dial("http://a"))).toMatchObject({ _tag: "DialFailed", reason: "invalid_address" })
      expect(yield* Effect.flip(b.dial("quic://nowhere:1"))).toMatchObject({ _tag: "DialFailed", reason: "unreachable" })
      // a is attached but not listening: the initial packets go unanswered until the timeout.
      const waiting = yield* background(Effect.flip(b.dial("quic://a:4433", { timeoutMs: 3_000 })))
      yield* advance(2_999)
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      expect(yield* Fiber.join(waiting)).toMatchObject({ _tag: "DialFailed", reason: "handshake_timeout" })
      // Listening twice is refused; a listener that stops fails its accepts.
      const scoped = yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* a.listen
        expect(yield* Effect.flip(a.listen)).toMatchObject({ _tag: "ListenFailed" })
        return listener
      }))
      expect(yield* Effect.flip(scoped.accept)).toMatchObject({ _tag: "ListenerClosed" })
      yield* SimNetwork.crash(net, "a:4433")
      expect(yield* Effect.flip(a.dial("quic://node-1:4433"))).toMatchObject({ _tag: "DialFailed", reason: "transport_stopped" })
      expect(yield* Effect.flip(a.listen)).toMatchObject({ _tag: "ListenFailed" })
    }))

  effect("a close reaches the peer as ConnectionLost with its §3.7 code, after the frames sent before it", () =>
    Effect.gen(function*() {
      const { outbound, inbound } = yield* connected({ seed: 4, network: { latencyMs: 5, jitter: Network.uniform(20) } })
      const s = yield* outbound.openStream
      for (let i = 0; i < 20; i++) yield* s.send(frame(i))
      yield* outbound.close("going_away", "maintenance")
      expect(yield* outbound.closed).toMatchObject({ by: "local", code: "going_away", message: "maintenance" })
      expect(outbound.isClosed()).toBe(true)
      expect(yield* Effect.flip(outbound.openStream)).toMatchObject({ _tag: "ConnectionLost", by: "local" })
      expect(yield* Effect.flip(s.send(frame(99)))).toMatchObject({ _tag: "ConnectionLost" })
      yield* advance(30)
      const lost = yield* inbound.closed
      expect(lost).toMatchObject({ _tag: "ConnectionLost", by: "peer", code: "going_away", message: "maintenance" })
      const r = yield* inbound.acceptStream
      const got: Array<number> = []
      for (let i = 0; i < 20; i++) got.push(numberOf(yield* r.receive))
      expect(got).toEqual([...Array(20).keys()])
      expect(yield* Effect.flip(r.receive)).toMatchObject({ _tag: "ConnectionLost", by: "peer" })
      expect(yield* Effect.flip(inbound.acceptStream)).toMatchObject({ _tag: "ConnectionLost" })
    }))

  effect("FIN ends the peer's receiving after the frames before it; a reset reaches both directions with its code", () =>
    Effect.gen(function*() {
      const { outbound, inbound } = yield* connected({ seed: 5 })
      const s = yield* outbound.openStream
      yield* s.sendAll([frame(1), frame(2)])
      yield* s.end
      expect(yield* Effect.flip(s.send(frame(3)))).toMatchObject({ _tag: "StreamReset", by: "local", code: "no_error" })
      yield* advance(10)
      const r = yield* inbound.acceptStream
      expect((yield* r.receiveMany).map(numberOf)).toEqual([1, 2])
      expect(yield* Effect.flip(r.receive)).toMatchObject({ _tag: "StreamEnded", streamId: 0 })
      // Receiving goes on after our FIN: the peer can still answer.
      yield* r.send(frame(7))
      yield* advance(10)
      expect(numberOf(yield* s.receive)).toBe(7)

      const t = yield* outbound.openStream
      yield* t.send(frame(1))
      yield* advance(10)
      const u = yield* inbound.acceptStream
      yield* u.reset("cancelled")
      expect(yield* Effect.flip(u.send(frame(1)))).toMatchObject({ _tag: "StreamReset", by: "local", code: "cancelled" })
      yield* advance(10)
      expect(yield* Effect.flip(t.receive)).toMatchObject({ _tag: "StreamReset", by: "peer", code: "cancelled" })
      expect(yield* Effect.flip(t.send(frame(2)))).toMatchObject({ _tag: "StreamReset", by: "peer", code: "cancelled" })
    }))

  effect("refuses a frame above the send limit without sending it, and an empty frame is a defect", () =>
    Effect.gen(function*() {
      const { outbound, inbound } = yield* connected({ seed: 6, maxFrameBytes: 1_000 })
      const s = yield* outbound.openStream
      expect(s.sendLimitBytes).toBe(1_000)
      s.setSendLimit(100)
      expect(yield* Effect.flip(s.send(new Uint8Array(101)))).toMatchObject({ _tag: "PayloadTooLarge", size: 101, limit: 100 })
      yield* s.send(new Uint8Array(100).fill(1))
      yield* advance(10)
      const r = yield* inbound.acceptStream
      expect((yield* r.receive).length).toBe(100)
      const exit = yield* Effect.exit(s.send(new Uint8Array(0)))
      expect(exit._tag).toBe("Failure")
      yield* settle
    }))

  effect("send waits while more than the send buffer is unread by the peer (backpressure)", () =>
    Effect.gen(function*() {
      const { outbound, inbound } = yield* connected({ seed: 7, sendBufferBytes: 1_000 })
      const s = yield* outbound.openStream
      for (let i = 0; i < 9; i++) yield* s.send(frame(i, 100)) // 9 × 104 bytes = 936
      const blocked = yield* background(s.send(frame(9, 100)))
      yield* advance(50)
      expect(blocked.pollUnsafe()).toBeUndefined()
      const r = yield* inbound.acceptStream
      expect(numberOf(yield* r.receive)).toBe(0)
      yield* settle
      expect(blocked.pollUnsafe()?._tag).toBe("Success")
    }))

  effect("the layer provides the Transport service of one node", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 8 })
      const did = yield* Effect.provide(
        Effect.map(Effect.service(Transport), (t) => t.localDid),
        SimNetwork.layer(net, identity(3), { listen: "tls://c:443" })
      )
      expect(did).toBe(identity(3).did)
      expect(SimNetwork.nodeInfo(net, "c:443")).toMatchObject({ attached: false, address: "tls://c:443" })
    }))

  live("runs on the real clock too (delivery fibers sleep on Effect.sleep)", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make({ seed: 9, network: { latencyMs: 5 } })
      const a = yield* SimNetwork.transport(net, identity(0))
      const b = yield* SimNetwork.transport(net, identity(1))
      const listener = yield* a.listen
      const out = yield* b.dial(a.localAddress)
      const inn = yield* listener.accept
      const s = yield* out.openStream
      yield* s.sendAll([frame(1), frame(2), frame(3)])
      const r = yield* inn.acceptStream
      const got = [numberOf(yield* r.receive), numberOf(yield* r.receive), numberOf(yield* r.receive)]
      expect(got).toEqual([1, 2, 3])
      yield* out.close("normal")
      expect(yield* inn.closed).toMatchObject({ by: "peer", code: "normal" })
    }))
})

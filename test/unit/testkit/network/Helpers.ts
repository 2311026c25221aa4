/**
 * Shared pieces of the simulated network tests: letting fibers run without moving the clock,
 * moving the `TestClock`, fixed identities, and a network with two connected nodes.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import { Identity } from "../../../../src/identity/Identity.ts"
import type { Connection } from "../../../../src/platform/transport/Transport.ts"
import * as SimNetwork from "../../../../src/testkit/network/SimNetwork.ts"

/** Lets forked fibers run without moving the clock. */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

/** Moves the test clock by `ms`, then lets the woken fibers run. */
export const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

/** A fixed identity (same DID every run), so traces compare across runs. */
export const identity = (n: number): Identity => Identity.fromSeed(new Uint8Array(32).fill(n + 1))

/** `n` bytes whose first four carry `i`, so frames can be told apart. */
export const frame = (i: number, n = 16): Uint8Array => {
  const bytes = new Uint8Array(Math.max(4, n))
  new DataView(bytes.buffer).setUint32(0, i)
  return bytes
}

/** The number carried by `frame`. */
export const numberOf = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0)

/** Runs `effect` in the background and returns a way to get its outcome later. */
export const background = <A, E>(effect: Effect.Effect<A, E>) => Effect.forkChild(effect)

/**
 * A network with nodes `a` (listening on `quic://a:4433`) and `b`, and one connection from `b`
 * to `a` (both ends), after `advance`-ing the clock through the handshake.
 */
export const connected = (options: SimNetwork.Options) =>
  Effect.gen(function*() {
    const net = yield* SimNetwork.make(options)
    const alice = identity(0)
    const bob = identity(1)
    const a = yield* SimNetwork.transport(net, alice, { listen: "quic://a:4433" })
    const b = yield* SimNetwork.transport(net, bob, { listen: "quic://b:4433" })
    const listener = yield* a.listen
    const dialing = yield* background(b.dial(a.localAddress, { expectedDid: alice.did }))
    const accepting = yield* background(listener.accept)
    const handshake = options.handshakeTimeoutMs ?? 10_000
    let step = 0
    while (dialing.pollUnsafe() === undefined || accepting.pollUnsafe() === undefined) {
      if (step++ > handshake) throw new Error("no connection")
      yield* advance(1)
    }
    const outbound: Connection = yield* Fiber.join(dialing)
    const inbound: Connection = yield* Fiber.join(accepting)
    return { net, a, b, alice, bob, listener, outbound, inbound }
  })

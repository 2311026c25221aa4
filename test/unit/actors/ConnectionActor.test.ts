/**
 * The connection actor over an in-memory connection, on `TestClock`: handshake, lanes, RTT,
 * a wedged peer noticed at exactly the detection bound, the handshake timeout, a malformed frame
 * resetting one stream only, and goodbye at shutdown. Plus the redial schedule of the dialer.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect, it } from "vitest"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Codec from "../../../src/wire/Codec.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"
import { effect } from "../../support/it.ts"
import { pair } from "./MemoryConnection.ts"

const ids = () => {
  const a = Identity.generate()
  const b = Identity.generate()
  return { client: { did: a.did, key: a.publicKey }, station: { did: b.did, key: b.publicKey } }
}

/** Lets forked fibers and mailboxes run without moving the clock. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

const body = (frame: Frame): Uint8Array => {
  const bytes = Codec.encode(frame)
  if (!(bytes instanceof Uint8Array)) throw new Error(bytes.message)
  return bytes.slice(Codec.prefixBytes)
}

const started = Effect.gen(function*() {
  const who = ids()
  const { dialer, listener } = pair(who.client, who.station)
  const a = yield* ConnectionActor.start({ connection: dialer, config: ConnectionActor.config("client", { stationPowBits: 0 }) })
  const b = yield* ConnectionActor.start({ connection: listener, config: ConnectionActor.config("station", { stationPowBits: 0 }) })
  const client = ConnectionActor.handleOf(a)!
  const station = ConnectionActor.handleOf(b)!
  yield* settle
  return { client, station, dialer, listener, a, b }
})

describe("ConnectionActor", () => {
  effect("handshakes, carries a lane both ways and publishes the RTT of its pings", () =>
    Effect.gen(function*() {
      const { client, station } = yield* started
      expect((yield* client.ready).phase).toBe("ready")
      expect(station.status()).toMatchObject({ phase: "ready", peerRole: "client", version: 1 })
      station.subscribe("dht", (msg) =>
        msg.frame.t === "dht.find_node" ? Effect.ignore(msg.reply({ t: "dht.nodes", id: msg.frame.id, n: [] })) : Effect.void)
      const reply = yield* Deferred.make<Frame>()
      client.subscribe("dht", (msg) => Effect.sync(() => void Deferred.doneUnsafe(reply, Effect.succeed(msg.frame))))
      const lane = yield* client.openLane("dht")
      yield* lane.send({ t: "dht.find_node", id: 7, key: new Uint8Array(32) })
      yield* settle
      expect(yield* Deferred.await(reply)).toEqual({ t: "dht.nodes", id: 7, n: [] })
      yield* advance(2_000)
      // Whoever fell idle first pings; the other hears that ping and has no reason to.
      expect([client.status().rttMs, station.status().rttMs]).toContain(0)
      yield* advance(60_000) // a healthy idle connection stays up
      expect(client.status().phase).toBe("ready")
    }))

  effect("notices a wedged peer at exactly appPingIntervalMs + appPingMaxMisses × appPingTimeoutMs", () =>
    Effect.gen(function*() {
      const { client, listener } = yield* started
      listener.wedged = true // from now on nothing arrives from the station and nothing reaches it
      yield* advance(3_999)
      expect(client.status().phase).toBe("ready")
      yield* advance(1)
      expect(client.status().ending).toMatchObject({ code: "liveness_lost", by: "local" })
      const final = yield* client.closed
      expect(final.phase).toBe("closed")
    }))

  effect("closes handshake_timeout when no hello comes", () =>
    Effect.gen(function*() {
      const who = ids()
      const { listener } = pair(who.client, who.station)
      const ref = yield* ConnectionActor.start({ connection: listener, config: ConnectionActor.config("station", { stationPowBits: 0 }) })
      const handle = ConnectionActor.handleOf(ref)!
      yield* advance(9_999)
      expect(handle.status().phase).toBe("handshaking")
      yield* advance(1)
      expect((yield* handle.closed).ending?.code).toBe("handshake_timeout")
      expect(ref.isAlive()).toBe(false)
    }))

  effect("resets only the stream that carried a malformed frame, counts it and penalises the peer", () =>
    Effect.gen(function*() {
      const who = ids()
      const { dialer, listener } = pair(who.client, who.station)
      const ref = yield* ConnectionActor.start({ connection: listener, config: ConnectionActor.config("station", { stationPowBits: 0 }) })
      const station = ConnectionActor.handleOf(ref)!
      const control = yield* dialer.openStream
      yield* control.send(body({ t: "hello", role: "client", vers: [1], feat: [], realms: [], addrs: [], lim: { f: 65_536 }, ts: 0 }))
      yield* settle
      expect(station.status().phase).toBe("ready")
      const junk = yield* dialer.openStream
      yield* junk.send(Uint8Array.of(0xc1))
      yield* settle
      const error = yield* Effect.flip(junk.receive)
      expect(error).toMatchObject({ _tag: "StreamReset", by: "peer", code: "malformed_frame" })
      expect(station.status()).toMatchObject({ phase: "ready", rejected: 1, score: -5 })
      yield* control.send(body({ t: "ping", n: 1 }))
      yield* settle
      expect(yield* control.receive).toEqual(body({ t: "hello", role: "station", vers: [1], feat: [], realms: [], addrs: [], lim: { f: 1_048_576 }, ts: 0 }))
      expect(yield* control.receive).toEqual(body({ t: "pong", n: 1 }))
    }))

  effect("says goodbye going_away when stopped from outside, and the peer learns why", () =>
    Effect.gen(function*() {
      const { station, a } = yield* started
      yield* a.stop()
      yield* settle
      const final = yield* station.closed
      expect(final.ending).toMatchObject({ code: "going_away", by: "peer" })
    }))

  effect("closes on request with the code and refuses lanes once closing", () =>
    Effect.gen(function*() {
      const { client, station } = yield* started
      yield* client.close({ code: "going_away", message: "maintenance" })
      yield* settle
      const refused = yield* Effect.flip(client.openLane("rpc"))
      expect(refused.reason).toBe("closed")
      expect((yield* station.closed).ending).toMatchObject({ code: "going_away", by: "peer", message: "maintenance" })
      expect((yield* client.closed).ending).toMatchObject({ code: "going_away", by: "local" })
    }))
})

describe("the dialer's redial schedule", () => {
  it("grows from reconnectMinMs by the factor up to reconnectMaxMs, spread by the jitter", () => {
    const config = TransportSupervisor.dialerDefaults
    expect([1, 2, 3, 4, 8, 20].map((n) => TransportSupervisor.redialDelayMs(config, n, 0.5))).toEqual([250, 500, 1_000, 2_000, 30_000, 30_000])
    expect(TransportSupervisor.redialDelayMs(config, 1, 0)).toBe(200)
    expect(TransportSupervisor.redialDelayMs(config, 1, 0.999_999)).toBe(300)
  })
})

/**
 * The connection handle's `resync` and the peer-caused reset count, on the connection actor over
 * an in-memory connection (PROTOCOL.md §3.7, §6, §15.2): a station sends `resync` on the control
 * stream a client dialled, and to a station whichever side dialled; the peer's `control`
 * subscriber gets it; a client cannot send it (typed `SendFailed`), nor a station before the
 * hellos; a client that sends one anyway is penalised, not disconnected; resets a subsystem makes
 * for a peer fault count towards `maxStreamErrorsPerMin`.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Codec from "../../../src/wire/Codec.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import { effect } from "../../support/it.ts"
import { pair } from "./MemoryConnection.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const body = (frame: Frame): Uint8Array => {
  const bytes = Codec.encode(frame)
  if (!(bytes instanceof Uint8Array)) throw new Error(bytes.message)
  return bytes.slice(Codec.prefixBytes)
}

const peer = () => {
  const who = Identity.generate()
  return { did: who.did, key: who.publicKey }
}

/** A dialer of `dialerRole` and a station listener, both connection actors, ready. */
const started = (dialerRole: "client" | "station", overrides: Partial<Parameters<typeof ConnectionActor.config>[1]> = {}) =>
  Effect.gen(function*() {
    const { dialer, listener } = pair(peer(), peer())
    const a = yield* ConnectionActor.start({ connection: dialer, config: ConnectionActor.config(dialerRole, { stationPowBits: 0, ...overrides }) })
    const b = yield* ConnectionActor.start({ connection: listener, config: ConnectionActor.config("station", { stationPowBits: 0, ...overrides }) })
    const dialing = ConnectionActor.handleOf(a)!
    const listening = ConnectionActor.handleOf(b)!
    yield* settle
    yield* dialing.ready
    yield* listening.ready
    return { dialing, listening }
  })

/** The next frame `handle`'s `control` subscriber gets, with who opened the stream it came on. */
const nextControl = (handle: ConnectionActor.Handle) =>
  Effect.gen(function*() {
    const got = yield* Deferred.make<{ readonly frame: Frame; readonly opener: string }>()
    handle.subscribe("control", (inbound) => Effect.sync(() => void Deferred.doneUnsafe(got, Effect.succeed({ frame: inbound.frame, opener: inbound.opener }))))
    return got
  })

describe("ConnectionHandle.resync", () => {
  effect("a station sends resync on the control stream its client dialled; the client's control subscriber gets it", () =>
    Effect.gen(function*() {
      const { dialing: client, listening: station } = yield* started("client")
      const got = yield* nextControl(client)
      yield* station.resync!(["adv", "sub"])
      yield* settle
      expect(yield* Deferred.await(got)).toEqual({ frame: { t: "resync", what: ["sub", "adv"] }, opener: "peer" })
      expect(client.status().phase).toBe("ready")
    }))

  effect("between stations either side sends it, the dialer and the listener", () =>
    Effect.gen(function*() {
      const { dialing, listening } = yield* started("station")
      const atListener = yield* nextControl(listening)
      yield* dialing.resync!(["interest"])
      yield* settle
      expect((yield* Deferred.await(atListener)).frame).toEqual({ t: "resync", what: ["interest"] })
      const atDialer = yield* nextControl(dialing)
      yield* listening.resync!(["interest"])
      yield* settle
      expect((yield* Deferred.await(atDialer)).frame).toEqual({ t: "resync", what: ["interest"] })
    }))

  effect("fails with a typed SendFailed from a client, for an empty what, and once the connection is closing", () =>
    Effect.gen(function*() {
      const { dialing: client, listening: station } = yield* started("client")
      expect(yield* Effect.flip(client.resync!(["sub"]))).toMatchObject({ _tag: "SendFailed", reason: "wrong_stream" })
      expect(yield* Effect.flip(station.resync!([]))).toMatchObject({ _tag: "SendFailed", reason: "invalid_frame" })
      yield* station.close({ code: "normal" })
      yield* settle
      expect(yield* Effect.flip(station.resync!(["sub"]))).toMatchObject({ _tag: "SendFailed", reason: "connection_lost" })
    }))

  effect("fails not_ready before the hellos are exchanged", () =>
    Effect.gen(function*() {
      const { listener } = pair(peer(), peer())
      const ref = yield* ConnectionActor.start({ connection: listener, config: ConnectionActor.config("station", { stationPowBits: 0 }) })
      yield* settle
      const station = ConnectionActor.handleOf(ref)!
      expect(station.status().phase).toBe("handshaking")
      expect(yield* Effect.flip(station.resync!(["sub"]))).toMatchObject({ _tag: "SendFailed", reason: "not_ready" })
    }))

  effect("a resync from a client costs it a minor penalty and reaches nobody; the connection stays up", () =>
    Effect.gen(function*() {
      const { dialer, listener } = pair(peer(), peer())
      const ref = yield* ConnectionActor.start({ connection: listener, config: ConnectionActor.config("station", { stationPowBits: 0 }) })
      const station = ConnectionActor.handleOf(ref)!
      const delivered: Array<Frame> = []
      station.subscribe("control", (inbound) => Effect.sync(() => void delivered.push(inbound.frame)))
      const control = yield* dialer.openStream
      yield* control.send(body({ t: "hello", role: "client", vers: [1], feat: [], realms: [], addrs: [], lim: { f: 65_536 }, ts: 0 }))
      yield* settle
      yield* control.send(body({ t: "resync", what: ["sub"] }))
      yield* settle
      expect(delivered).toEqual([])
      expect(station.status()).toMatchObject({ phase: "ready", score: -5, rejected: 0 })
    }))
})

describe("peer-caused resets made by a subsystem", () => {
  const call = (id: number): Frame => ({
    t: "call", id, cid: new Uint8Array(16), realm: new Uint8Array(32), proc: "io.example/a/b/c/d_v1", a: null, ttl: 1_000, idem: false,
    hop: 0, mode: "bidi", cr: 8
  })

  effect("a flow_control reset through Inbound.reset counts: more than maxStreamErrorsPerMin close protocol_violation", () =>
    Effect.gen(function*() {
      const { dialing: client, listening: station } = yield* started("client", { maxStreamErrorsPerMin: 2 })
      // The station's RPC side finds each call's credit broken and resets that call stream (§9.5).
      station.subscribe("call", (inbound) => inbound.reset === undefined ? Effect.void : inbound.reset("flow_control"))
      for (let i = 1; i <= 3; i++) {
        const stream = yield* client.openCallStream!()
        yield* stream.send(call(i))
        yield* settle
        expect(station.status().rejected).toBe(i)
      }
      const final = yield* station.closed
      expect(final.ending).toMatchObject({ code: "protocol_violation", by: "local" })
      expect((yield* client.closed).ending).toMatchObject({ code: "protocol_violation", by: "peer" })
    }))

  effect("a cancelled reset is this side's decision and does not count", () =>
    Effect.gen(function*() {
      const { dialing: client, listening: station } = yield* started("client", { maxStreamErrorsPerMin: 1 })
      station.subscribe("call", (inbound) => inbound.reset === undefined ? Effect.void : inbound.reset("cancelled"))
      for (let i = 1; i <= 3; i++) {
        const stream = yield* client.openCallStream!()
        yield* stream.send(call(i))
        yield* settle
      }
      expect(station.status()).toMatchObject({ phase: "ready", rejected: 0 })
    }))
})

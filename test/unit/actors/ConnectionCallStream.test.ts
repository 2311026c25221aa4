/**
 * Call streams on the connection actor (PROTOCOL.md §3.5, §9.5), over an in-memory connection:
 * a stream opened with `openCallStream` takes only a streaming `call` first, the peer gets it on
 * its `call` channel with the stream's `end` / `reset`, answers travel back on the same stream,
 * finishing both sides frees the stream at both ends, and a peer's reset reaches the opener's
 * reset listener.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import { effect } from "../../support/it.ts"
import { pair } from "./MemoryConnection.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const started = Effect.gen(function*() {
  const a = Identity.generate()
  const b = Identity.generate()
  const { dialer, listener } = pair({ did: a.did, key: a.publicKey }, { did: b.did, key: b.publicKey })
  const ca = yield* ConnectionActor.start({ connection: dialer, config: ConnectionActor.config("client", { stationPowBits: 0 }) })
  const cb = yield* ConnectionActor.start({ connection: listener, config: ConnectionActor.config("station", { stationPowBits: 0 }) })
  yield* settle
  return { client: ConnectionActor.handleOf(ca)!, station: ConnectionActor.handleOf(cb)! }
})

const call = (mode: "server" | "unary"): Frame => ({
  t: "call", id: 4, cid: new Uint8Array(16), realm: new Uint8Array(32), proc: "io.example/a/b/c/d_v1", a: null, ttl: 1_000, idem: false,
  hop: 0, mode, cr: 8
})

describe("ConnectionActor: call streams", () => {
  effect("opens a call stream, carries frames both ways on it, and frees it when both sides finish", () =>
    Effect.gen(function*() {
      const { client, station } = yield* started
      yield* client.ready
      const arrived = yield* Deferred.make<{ frame: Frame; opener: string; hasEnd: boolean; hasReset: boolean }>()
      const inbound: Array<ConnectionActor.Inbound> = []
      station.subscribe("call", (msg) =>
        Effect.gen(function*() {
          inbound.push(msg)
          Deferred.doneUnsafe(arrived, Effect.succeed({ frame: msg.frame, opener: msg.opener, hasEnd: msg.end !== undefined, hasReset: msg.reset !== undefined }))
          if (msg.frame.t === "call") yield* Effect.ignore(msg.reply({ t: "s.credit", n: 0 }))
        }))
      const back: Array<{ frame: Frame; opener: string; stream: number }> = []
      client.subscribe("call", (msg) => Effect.sync(() => void back.push({ frame: msg.frame, opener: msg.opener, stream: msg.stream })))

      const stream = yield* client.openCallStream!()
      // A unary call cannot open a call stream; nothing is sent.
      const refused = yield* Effect.flip(stream.send(call("unary")))
      expect(refused).toMatchObject({ _tag: "SendFailed", reason: "wrong_stream" })
      yield* stream.send(call("server"))
      yield* settle
      expect(yield* Deferred.await(arrived)).toEqual({ frame: call("server"), opener: "peer", hasEnd: true, hasReset: true })
      expect(back).toEqual([{ frame: { t: "s.credit", n: 0 }, opener: "local", stream: stream.stream }])

      // The provider side answers and finishes; the opener's side finishes in turn.
      yield* inbound[0]!.reply({ t: "reply", id: 4, r: "done" })
      yield* inbound[0]!.end!
      yield* settle
      expect(back.map((b) => b.frame.t)).toEqual(["s.credit", "reply"])
      yield* stream.end
      yield* settle
      expect(client.status()).toMatchObject({ phase: "ready", rejected: 0 })
      expect(station.status()).toMatchObject({ phase: "ready", rejected: 0 })
    }))

  effect("tells the opener when the peer resets its call stream", () =>
    Effect.gen(function*() {
      const { client, station } = yield* started
      yield* client.ready
      const inbound: Array<ConnectionActor.Inbound> = []
      station.subscribe("call", (msg) => Effect.sync(() => void inbound.push(msg)))
      const resets: Array<[number, string]> = []
      client.onCallStreamReset!((stream, code) => void resets.push([stream, code]))
      const stream = yield* client.openCallStream!()
      yield* stream.send(call("server"))
      yield* settle
      yield* inbound[0]!.reset!("flow_control")
      yield* settle
      expect(resets).toEqual([[stream.stream, "flow_control"]])
      expect(client.status()).toMatchObject({ phase: "ready" })
    }))

  effect("a local reset ends the stream without blame", () =>
    Effect.gen(function*() {
      const { client, station } = yield* started
      yield* client.ready
      station.subscribe("call", () => Effect.void)
      const stream = yield* client.openCallStream!()
      yield* stream.send(call("server"))
      yield* settle
      yield* stream.reset("flow_control")
      yield* settle
      const after = yield* Effect.flip(stream.send({ t: "s.end" }))
      expect(after._tag).toBe("SendFailed")
      expect(client.status()).toMatchObject({ phase: "ready", score: 0 })
      expect(station.status()).toMatchObject({ phase: "ready" })
    }))
})

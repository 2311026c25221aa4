/**
 * The record store actor on `TestClock`: records are served until they expire and never after
 * (before and after the sweep), oversized and stale records are refused, and `dht.store` /
 * `dht.find_value` from peers are answered on their lane (stations only for `dht.store`).
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as DhtRecordStoreActor from "../../../actors/DhtRecordStoreActor.ts"
import * as Config from "../../../src/protocols/dht/Config.ts"
import type { SignedRecord } from "../../../src/protocols/dht/Records.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import { endpointRecord, hash, keyOf } from "../../../src/testkit/arbitraries/Dht.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import { effect } from "../../support/it.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

const config = Config.withHash({ ...Config.local, maxRecordBytes: 512 }, hash)
const signer = keyOf(1)
const peer = hash(keyOf(2))

const spawn = (events: Array<DhtRecordStoreActor.StoreEvent> = []) =>
  Actor.spawn(DhtRecordStoreActor.behavior({
    config,
    closest: () => Effect.succeed([]),
    // The stand-in signatures of the testkit builders: "opening" finds the record by its bytes.
    open: (signed) => opened.get(signed.b),
    onEvent: (e) => void events.push(e)
  }))

const opened = new Map<Uint8Array, SignedRecord>()
const register = (record: SignedRecord): SignedRecord => {
  opened.set(record.signed.b, record)
  return record
}

const get = (ref: Actor.ActorRef<DhtRecordStoreActor.Msg>, record: SignedRecord) =>
  ref.call<ReadonlyArray<SignedRecord>>((reply) => ({ _tag: "Get", key: record.body.key, ty: undefined, reply }))
const put = (ref: Actor.ActorRef<DhtRecordStoreActor.Msg>, record: SignedRecord) =>
  ref.call<true | string>((reply) => ({ _tag: "Put", record, reply }))

/** Sends `frame` as a request from a peer and returns what the store answered. */
const ask = (ref: Actor.ActorRef<DhtRecordStoreActor.Msg>, frame: Frame, role: "station" | "client" = "station") =>
  Effect.gen(function*() {
    const replies: Array<Frame> = []
    yield* ref.cast({
      _tag: "Serve",
      incoming: {
        frame,
        from: peer,
        role,
        reply: (f) => Effect.sync(() => void replies.push(f)),
        penalise: () => Effect.void
      }
    })
    yield* settle
    return replies
  })

describe("DhtRecordStoreActor", () => {
  effect("serves a record until it expires and never after, even before the sweep", () =>
    Effect.gen(function*() {
      const events: Array<DhtRecordStoreActor.StoreEvent> = []
      const ref = yield* spawn(events)
      const record = register(endpointRecord(signer, { seq: 1, iat: 0, exp: 1_000 }))
      expect(yield* put(ref, record)).toBe(true)
      expect((yield* get(ref, record)).length).toBe(1)
      const served = yield* ask(ref, { t: "dht.find_value", id: 7, key: record.body.key })
      expect(served[0]).toMatchObject({ t: "dht.value", id: 7, r: [record.signed] })

      yield* advance(1_000) // exp reached; the sweep (every 5 s) has not run yet
      expect(yield* get(ref, record)).toEqual([])
      const after = yield* ask(ref, { t: "dht.find_value", id: 8, key: record.body.key })
      expect(after[0]).toMatchObject({ t: "dht.value", id: 8, r: [] })
      expect(events.some((e) => e._tag === "RecordExpired")).toBe(false)

      yield* advance(config.expireSweepIntervalMs)
      expect(events.filter((e) => e._tag === "RecordExpired").length).toBe(1)
      const stats = yield* ref.call<DhtRecordStoreActor.Stats>((reply) => ({ _tag: "Stats", reply }))
      expect(stats).toMatchObject({ records: 0, expired: 1 })
    }))

  effect("refuses oversized, expired and rolled-back records", () =>
    Effect.gen(function*() {
      const ref = yield* spawn()
      yield* advance(10_000)
      const big = endpointRecord(signer, { seq: 1, iat: 10_000, exp: 20_000 }, [`quic://198.51.100.1:4433#${"x".repeat(600)}`])
      expect(yield* put(ref, big)).toBe("too_large")
      expect(yield* put(ref, endpointRecord(signer, { seq: 1, iat: 1_000, exp: 5_000 }))).toBe("expired")
      expect(yield* put(ref, endpointRecord(signer, { seq: 5, iat: 10_000, exp: 20_000 }))).toBe(true)
      expect(yield* put(ref, endpointRecord(signer, { seq: 4, iat: 10_000, exp: 30_000 }))).toBe("stale_seq")
    }))

  effect("answers dht.store from stations with store_ack and refuses it from clients", () =>
    Effect.gen(function*() {
      const ref = yield* spawn()
      const record = register(endpointRecord(signer, { seq: 1, iat: 0, exp: 60_000 }))
      expect(yield* ask(ref, { t: "dht.store", id: 1, r: record.signed }, "client")).toEqual([{ t: "err", id: 1, c: "stations_only" }])
      expect(yield* ask(ref, { t: "dht.store", id: 2, r: record.signed })).toEqual([{ t: "dht.store_ack", id: 2, ok: true }])
      expect((yield* get(ref, record)).length).toBe(1)
      const unknown = { b: new Uint8Array([1, 2, 3]), s: new Uint8Array(64) }
      expect(yield* ask(ref, { t: "dht.store", id: 3, r: unknown })).toEqual([{ t: "dht.store_ack", id: 3, ok: false, why: "invalid" }])
    }))
})

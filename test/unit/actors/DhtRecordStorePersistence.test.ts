/**
 * The record store's persistence (PROTOCOL.md §15.2) on `TestClock`, over the in-memory port:
 * records are saved a short delay after a change (what survives a crash) and when the store
 * stops, come back after a restart, and are checked again on load: expired and forged ones are
 * dropped, never served.
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as DhtRecordStoreActor from "../../../actors/DhtRecordStoreActor.ts"
import * as DhtRpc from "../../../actors/DhtRpc.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Config from "../../../src/protocols/dht/Config.ts"
import * as Records from "../../../src/protocols/dht/Records.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import type { Signed as SignedObject } from "../../../src/wire/Frame.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import type { RecordBody } from "../../../src/wire/SignedBody.ts"
import { effect } from "../../support/it.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

const sha256 = (bytes: Uint8Array) => Uint8Array.from(createHash("sha256").update(bytes).digest())
const config = Config.withHash(Config.local, sha256)
const delayMs = 1_000

const endpointRecord = (seed: number, iat: number, exp: number): Records.SignedRecord => {
  const who = Identity.fromSeed(new Uint8Array(32).fill(seed))
  const draft: RecordBody = { ty: "endpoint", key: new Uint8Array(32), pk: who.publicKey, seq: 1, iat, exp, d: { st: [], a: [] } }
  const body = { ...draft, key: Records.expectedKey({ sha256 }, draft) }
  const signed = Signed.signRecord(body, (m) => who.sign(m))
  if (!("b" in signed)) throw new Error("record does not encode")
  return { body, signed }
}

/** The in-memory port: what was saved last, and how many saves. */
const memory = () => {
  let saved: ReadonlyArray<SignedObject> = []
  let saves = 0
  return {
    port: {
      load: Effect.sync(() => saved),
      save: (records: ReadonlyArray<SignedObject>) => Effect.sync(() => void ((saved = records), saves++)),
      delayMs
    },
    saved: () => saved,
    saves: () => saves,
    set: (records: ReadonlyArray<SignedObject>) => void (saved = records)
  }
}

/** A store in its own scope (closing it stops the store, as a restart or a node stop does). */
const startStore = (persist: DhtRecordStoreActor.RecordPersistence | undefined, events: Array<DhtRecordStoreActor.StoreEvent> = []) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ref = yield* Scope.provide(
      Actor.spawn(DhtRecordStoreActor.behavior({
        config,
        closest: () => Effect.succeed([]),
        open: DhtRpc.openRecord(),
        onEvent: (e) => void events.push(e),
        ...(persist === undefined ? {} : { persist })
      })),
      scope
    )
    yield* settle
    return { ref, stop: Scope.close(scope, Exit.void) }
  })

const put = (ref: Actor.ActorRef<DhtRecordStoreActor.Msg>, record: Records.SignedRecord) =>
  ref.call<true | string>((reply) => ({ _tag: "Put", record, reply }))
const get = (ref: Actor.ActorRef<DhtRecordStoreActor.Msg>, record: Records.SignedRecord) =>
  ref.call<ReadonlyArray<Records.SignedRecord>>((reply) => ({ _tag: "Get", key: record.body.key, ty: undefined, reply }))

describe("DhtRecordStoreActor persistence", () => {
  effect("saves a short delay after a change, so a crash after it loses nothing", () =>
    Effect.gen(function*() {
      const store = memory()
      const first = yield* startStore(store.port)
      const record = endpointRecord(1, 0, 30_000)
      expect(yield* put(first.ref, record)).toBe(true)
      expect(store.saves()).toBe(0)
      yield* advance(delayMs)
      expect(store.saved()).toEqual([record.signed])
      // A crash: the next life loads what was saved (here without a clean stop's save).
      const second = yield* startStore(store.port)
      expect(yield* get(second.ref, record)).toEqual([record])
      yield* second.stop
      yield* first.stop
    }))

  effect("records survive a restart; expired and forged ones are dropped on load", () =>
    Effect.gen(function*() {
      const store = memory()
      const first = yield* startStore(store.port)
      const lasting = endpointRecord(1, 0, 30_000)
      const brief = endpointRecord(2, 0, 5_000)
      expect(yield* put(first.ref, lasting)).toBe(true)
      expect(yield* put(first.ref, brief)).toBe(true)
      yield* first.stop // a clean stop saves at once
      expect(store.saved().length).toBe(2)

      yield* advance(6_000) // `brief` expires while the store is down
      const forged = { b: lasting.signed.b, s: Uint8Array.from(lasting.signed.s, (x, i) => (i === 5 ? x ^ 0x10 : x)) }
      store.set([...store.saved(), forged])
      const events: Array<DhtRecordStoreActor.StoreEvent> = []
      const second = yield* startStore(store.port, events)
      expect(events).toContainEqual({ _tag: "RecordsLoaded", loaded: 1, dropped: 2 })
      expect(yield* get(second.ref, lasting)).toEqual([lasting])
      expect(yield* get(second.ref, brief)).toEqual([])
      expect((yield* second.ref.call<DhtRecordStoreActor.Stats>((reply) => ({ _tag: "Stats", reply }))).records).toBe(1)
      // What was dropped on load leaves the saved state too.
      yield* advance(delayMs)
      expect(store.saved()).toEqual([lasting.signed])
      yield* second.stop
    }))

  effect("without a port the store restarts empty (nothing is saved)", () =>
    Effect.gen(function*() {
      const first = yield* startStore(undefined)
      const record = endpointRecord(1, 0, 30_000)
      expect(yield* put(first.ref, record)).toBe(true)
      yield* first.stop
      const second = yield* startStore(undefined)
      expect(yield* get(second.ref, record)).toEqual([])
      yield* second.stop
    }))
})

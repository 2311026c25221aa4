/**
 * The republisher's own `station` record on `TestClock` (PROTOCOL.md §10.3, §10.4, §15.2): it is
 * signed and stored when the actor starts (so again after a restart); at each check it is
 * compared with what the station says now and stored again only when that changed; it is
 * renewed, built afresh, at `iat + republishFraction × TTL`; a store without quorum is retried
 * at the next check; `PublishStation` re-signs it at once.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as DhtRepublisherActor from "../../../actors/DhtRepublisherActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as SignedRecord from "../../../src/node/SignedRecord.ts"
import * as Config from "../../../src/protocols/dht/Config.ts"
import type * as Records from "../../../src/protocols/dht/Records.ts"
import * as RecordsCore from "../../../src/protocols/dht/Records.ts"
import * as StationRecord from "../../../src/protocols/dht/StationRecord.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import { hash } from "../../../src/testkit/arbitraries/Dht.ts"
import { effect } from "../../support/it.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

const ttl = 60_000
const config = Config.withHash({ ...Config.local, stationRecordTtlMs: ttl, expireSweepIntervalMs: 5_000 }, hash)
const who = Identity.fromSeed(new Uint8Array(32).fill(9))

const harness = (options: { readonly ok?: () => boolean } = {}) => {
  const stored: Array<Records.SignedRecord> = []
  let addresses: ReadonlyArray<string> = ["quic://192.0.2.1:4433"]
  const behavior = DhtRepublisherActor.behavior({
    config,
    store: (record) => Effect.sync(() => (stored.push(record), options.ok?.() ?? true)),
    dueForReplication: Effect.succeed([]),
    replicate: () => Effect.succeed(0),
    station: {
      publicKey: who.publicKey,
      content: Effect.sync(() => ({ a: addresses, realms: [], feat: [] })),
      sign: SignedRecord.signer((m) => who.sign(m))
    }
  })
  return { stored, behavior, move: (a: ReadonlyArray<string>) => void (addresses = a) }
}

describe("DhtRepublisherActor: the station record", () => {
  effect("is stored at start, valid, and stored again only when it would say something else", () =>
    Effect.gen(function*() {
      const h = harness()
      yield* TestClock.setTime(1_000_000)
      yield* Actor.spawn(h.behavior)
      yield* settle
      expect(h.stored.length).toBe(1)
      const first = h.stored[0]!
      expect(first.body).toMatchObject({ ty: "station", pk: who.publicKey, iat: 1_000_000, exp: 1_000_000 + ttl, seq: 1_000_000 })
      expect(first.body.d).toEqual({ a: ["quic://192.0.2.1:4433"], realms: [], feat: [] })
      expect(RecordsCore.validate(config, first, 1_000_000)).toBeUndefined()

      yield* advance(3 * config.expireSweepIntervalMs) // unchanged: nothing stored
      expect(h.stored.length).toBe(1)

      h.move(["quic://192.0.2.7:4433"])
      yield* advance(config.expireSweepIntervalMs)
      expect(h.stored.length).toBe(2)
      expect(h.stored[1]!.body.d).toMatchObject({ a: ["quic://192.0.2.7:4433"] })
      expect(h.stored[1]!.body.seq).toBeGreaterThan(first.body.seq)
    }), 30_000)

  effect("is renewed afresh at republishFraction × TTL and re-signed at once on PublishStation", () =>
    Effect.gen(function*() {
      const h = harness()
      yield* TestClock.setTime(2_000_000)
      const ref = yield* Actor.spawn(h.behavior)
      yield* settle
      // Due at iat + 0.5 × 60 s = 30 s; nothing before.
      for (let t = 0; t < 25_000; t += 5_000) yield* advance(5_000)
      expect(h.stored.length).toBe(1)
      yield* advance(5_000)
      expect(h.stored.length).toBe(2)
      expect(h.stored[1]!.body.iat).toBe(2_030_000)
      expect(h.stored[1]!.body.exp).toBe(2_030_000 + ttl)

      yield* ref.cast({ _tag: "PublishStation", force: true })
      yield* settle
      expect(h.stored.length).toBe(3)
      expect(h.stored[2]!.body.seq).toBeGreaterThan(h.stored[1]!.body.seq)
      const owned = yield* ref.call<ReadonlyArray<Records.SignedRecord>>((reply) => ({ _tag: "Owned", reply }))
      expect(owned.map((r) => r.body.seq)).toEqual([h.stored[2]!.body.seq])
      expect(StationRecord.sameContent(owned[0]!.body, { a: ["quic://192.0.2.1:4433"], realms: [], feat: [] })).toBe(true)
    }), 30_000)

  effect("retries a store that reached no quorum at the next check", () =>
    Effect.gen(function*() {
      let quorum = false
      const h = harness({ ok: () => quorum })
      yield* TestClock.setTime(3_000_000)
      yield* Actor.spawn(h.behavior)
      yield* settle
      expect(h.stored.length).toBe(1)
      yield* advance(config.expireSweepIntervalMs)
      expect(h.stored.length).toBe(2) // retried although unchanged
      quorum = true
      yield* advance(config.expireSweepIntervalMs)
      expect(h.stored.length).toBe(3)
      yield* advance(2 * config.expireSweepIntervalMs)
      expect(h.stored.length).toBe(3) // stored now: no more until renewal
    }), 30_000)
})

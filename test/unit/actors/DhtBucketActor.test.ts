/**
 * One bucket actor on `TestClock`, with a scripted probe: admission, ping-before-evict (an
 * answering member stays, a silent one is evicted and the newcomer promoted), removal with
 * promotion, the table-wide diversity cap through the ledger, and the refresh lookup.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as DhtBucketActor from "../../../actors/DhtBucketActor.ts"
import * as Config from "../../../src/protocols/dht/Config.ts"
import * as Diversity from "../../../src/protocols/dht/Diversity.ts"
import type { Contact } from "../../../src/protocols/dht/Contact.ts"
import * as Xor from "../../../src/protocols/dht/Xor.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import { hash, keyOf } from "../../../src/testkit/arbitraries/Dht.ts"
import { effect } from "../../support/it.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

const config = Config.withHash({ ...Config.local, dhtK: 2, replacementCacheSize: 3, maxPerPrefixPerBucket: 2, maxPerPrefixPerTable: 3 }, hash)
const self = hash(keyOf(0))
const ip = "45.10.1.1"
const network = Diversity.classOf(config, ip)!
/** One network per contact, so only the caps under test bind. */
const ipOf = (i: number) => `46.${i}.1.1`

/** Contacts whose ids fall in bucket 0 of `self` (first bit differs). */
const bucket0: ReadonlyArray<Contact> = Array.from({ length: 40 }, (_, n) => keyOf(n + 1))
  .map((pk) => ({ id: hash(pk), pk, addrs: ["quic://198.51.100.1:4433"] }))
  .filter((c) => Xor.commonPrefixLength(self, c.id) === 0)
  .slice(0, 6)

const view = (ref: DhtBucketActor.Ref) => ref.call<DhtBucketActor.View>((reply) => ({ _tag: "Inspect", reply }))
const keys = (cs: ReadonlyArray<Contact>) => cs.map((c) => Xor.toHex(c.id))

const spawn = (options: { probe: (c: Contact) => Effect.Effect<boolean>; ledger?: DhtBucketActor.Ledger; refresh?: (t: Uint8Array) => Effect.Effect<void> }) =>
  Actor.spawn(DhtBucketActor.behavior({
    index: 0,
    self,
    config,
    ledger: options.ledger ?? DhtBucketActor.ledger(),
    probe: options.probe,
    refresh: options.refresh ?? (() => Effect.void)
  }))

describe("DhtBucketActor", () => {
  effect("a newcomer for a full bucket waits in the cache while the probed member answers", () =>
    Effect.gen(function*() {
      const probed: Array<string> = []
      const ref = yield* spawn({ probe: (c) => Effect.as(Effect.sync(() => probed.push(Xor.toHex(c.id))), true) })
      const [a, b, c] = [bucket0[0]!, bucket0[1]!, bucket0[2]!]
      for (const [i, contact] of [a, b, c].entries()) {
        yield* ref.cast({ _tag: "Observe", contact, ip: ipOf(i) })
        yield* advance(10)
      }
      const after = yield* view(ref)
      expect(keys(after.members).sort()).toEqual(keys([a, b]).sort())
      expect(keys(after.cached)).toEqual(keys([c]))
      expect(probed).toEqual(keys([a])) // the least recently seen member
      expect(after.probing).toBeUndefined()
      expect(after.violations).toEqual([])
    }))

  effect("a silent probed member is evicted and the newcomer promoted", () =>
    Effect.gen(function*() {
      const ref = yield* spawn({ probe: () => Effect.as(Effect.sleep(config.dhtRpcTimeoutMs), false) })
      const [a, b, c] = [bucket0[0]!, bucket0[1]!, bucket0[2]!]
      for (const [i, contact] of [a, b, c].entries()) {
        yield* ref.cast({ _tag: "Observe", contact, ip: ipOf(i) })
        yield* advance(10)
      }
      expect((yield* view(ref)).probing).toBe(Xor.toHex(a.id))
      yield* advance(config.dhtRpcTimeoutMs)
      const after = yield* view(ref)
      expect(keys(after.members).sort()).toEqual(keys([b, c]).sort())
      expect(after.cached).toEqual([])
    }))

  effect("removing a member (a SWIM death) promotes the freshest cached candidate", () =>
    Effect.gen(function*() {
      const ref = yield* spawn({ probe: () => Effect.succeed(true) })
      const [a, b, c, d] = [bucket0[0]!, bucket0[1]!, bucket0[2]!, bucket0[3]!]
      for (const [i, contact] of [a, b, c, d].entries()) {
        yield* ref.cast({ _tag: "Observe", contact, ip: ipOf(i) })
        yield* advance(10)
      }
      expect(keys((yield* view(ref)).cached)).toEqual(keys([c, d]))
      yield* ref.cast({ _tag: "Remove", key: Xor.toHex(b.id) })
      yield* settle
      const after = yield* view(ref)
      expect(keys(after.members).sort()).toEqual(keys([a, d]).sort())
      expect(keys(after.cached)).toEqual(keys([c]))
    }))

  effect("the table-wide diversity cap counts the other buckets through the ledger", () =>
    Effect.gen(function*() {
      const ledger = DhtBucketActor.ledger()
      ledger.publish(5, new Map([[network, 2]])) // another bucket holds two of 45.10/16
      const ref = yield* spawn({ probe: () => Effect.succeed(true), ledger })
      for (const contact of bucket0.slice(0, 2)) {
        yield* ref.cast({ _tag: "Observe", contact, ip })
      }
      yield* settle
      expect((yield* view(ref)).members.length).toBe(1) // 2 outside + 1 here = maxPerPrefixPerTable
      expect(ledger.outside(5).get(network)).toBe(1)
      expect(network).toBeDefined()
    }))

  effect("an untouched bucket refreshes with a lookup of a random id in its range", () =>
    Effect.gen(function*() {
      const targets: Array<Uint8Array> = []
      const ref = yield* spawn({ probe: () => Effect.succeed(true), refresh: (t) => Effect.sync(() => void targets.push(t)) })
      yield* ref.cast({ _tag: "Observe", contact: bucket0[0]!, ip })
      yield* advance(config.bucketRefreshIntervalMs - 1_000)
      expect(targets).toEqual([])
      yield* advance(config.bucketRefreshIntervalMs)
      expect(targets.length).toBe(1)
      expect(Xor.commonPrefixLength(self, targets[0]!)).toBe(0)
    }))
})

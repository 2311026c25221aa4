/**
 * One lookup worker on `TestClock` over a scripted network of 40 ids (each node answers with
 * the `k` ids it knows closest to the key): it returns the true `k` closest, treats a silent
 * node as a failure, stops a value lookup at `valueResponsesWanted` holders, fans a store out
 * to the store set and counts acks, ends at `lookupTimeoutMs`, and a crash fails its result.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as DhtLookupActor from "../../../actors/DhtLookupActor.ts"
import * as Config from "../../../src/protocols/dht/Config.ts"
import type { Contact } from "../../../src/protocols/dht/Contact.ts"
import { Response } from "../../../src/protocols/dht/Message.ts"
import type { Request } from "../../../src/protocols/dht/Message.ts"
import * as Xor from "../../../src/protocols/dht/Xor.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import { endpointRecord, hash, keyOf } from "../../../src/testkit/arbitraries/Dht.ts"
import { effect } from "../../support/it.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
const advance = (ms: number) => Effect.andThen(TestClock.adjust(ms), settle)

const config = Config.withHash({ ...Config.local, dhtK: 4, dhtDisjointPaths: 2, valueResponsesWanted: 2, storeQuorum: 3 }, hash)
const self = hash(keyOf(0))
const network: ReadonlyArray<Contact> = Array.from({ length: 40 }, (_, n) => {
  const pk = keyOf(n + 1)
  return { id: hash(pk), pk, addrs: [`quic://10.0.${n}.1:4433`] }
})
const closestTo = (target: Uint8Array, count: number, except?: Uint8Array) =>
  network.filter((c) => except === undefined || !Xor.equals(c.id, except))
    .sort((a, b) => Xor.compareDistance(a.id, b.id, target)).slice(0, count)

interface Script {
  readonly silent?: ReadonlySet<string>
  readonly holders?: ReadonlyMap<string, ReturnType<typeof endpointRecord>>
  readonly stores?: Array<string>
}

/** Every node knows everyone and answers after 10 ms; silent ones never answer. */
const scripted = (script: Script) => (to: Contact, message: Request) =>
  Effect.gen(function*() {
    const key = Xor.toHex(to.id)
    if (script.silent?.has(key)) return yield* Effect.never
    yield* Effect.sleep(10)
    switch (message._tag) {
      case "FindNode":
        return { response: Response.Nodes({ contacts: closestTo(message.key, config.dhtK, to.id) }), ip: undefined }
      case "FindValue": {
        const held = script.holders?.get(key)
        return {
          response: Response.Value({ records: held === undefined ? [] : [held], contacts: closestTo(message.key, config.dhtK, to.id) }),
          ip: undefined
        }
      }
      case "Store":
        script.stores?.push(key)
        return { response: Response.StoreAck({ ok: true }), ip: undefined }
      default:
        return yield* Effect.fail("unexpected")
    }
  }).pipe(Effect.timeoutOrElse({ duration: config.dhtRpcTimeoutMs, orElse: () => Effect.fail("timeout") }))

const run = (options: Partial<DhtLookupActor.Options> & { readonly script: Script; readonly target: Uint8Array }) =>
  Effect.gen(function*() {
    const result = Deferred.makeUnsafe<DhtLookupActor.Result, DhtLookupActor.LookupFailed>()
    const seeds = closestTo(Uint8Array.from(self).reverse(), 3) // far from most targets: a real walk
    const ref = yield* Actor.spawn(DhtLookupActor.behavior({
      config,
      self,
      kind: "node",
      seeds,
      request: scripted(options.script),
      result,
      ...options
    }))
    return { ref, result }
  })

const finish = <A, E>(deferred: Deferred.Deferred<A, E>) =>
  Effect.gen(function*() {
    for (let t = 0; t < 5_000 && !Deferred.isDoneUnsafe(deferred); t += 10) yield* advance(10)
    return yield* Effect.exit(Deferred.await(deferred))
  })

describe("DhtLookupActor", () => {
  effect("converges on the true k closest and exits", () =>
    Effect.gen(function*() {
      const target = hash(new Uint8Array([7]))
      const { ref, result } = yield* run({ script: {}, target })
      const exit = yield* finish(result)
      expect(Exit.isSuccess(exit) && exit.value.closest.map((c) => Xor.toHex(c.id))).toEqual(closestTo(target, 4).map((c) => Xor.toHex(c.id)))
      yield* settle
      expect(ref.isAlive()).toBe(false)
    }))

  effect("a silent node fails its request and the lookup routes around it", () =>
    Effect.gen(function*() {
      const target = hash(new Uint8Array([8]))
      const nearest = closestTo(target, 1)[0]!
      const { result } = yield* run({ script: { silent: new Set([Xor.toHex(nearest.id)]) }, target })
      const exit = yield* finish(result)
      const ids = Exit.isSuccess(exit) ? exit.value.closest.map((c) => Xor.toHex(c.id)) : []
      expect(ids).toEqual(closestTo(target, 5).slice(1).map((c) => Xor.toHex(c.id)))
    }))

  effect("a value lookup stops at valueResponsesWanted holders and returns the record once", () =>
    Effect.gen(function*() {
      const record = endpointRecord(keyOf(99), { seq: 3, iat: 0, exp: 60_000 })
      const target = record.body.key
      const holders = new Map(closestTo(target, 3).map((c) => [Xor.toHex(c.id), record] as const))
      const { result } = yield* run({ script: { holders }, target, kind: "value" })
      const exit = yield* finish(result)
      expect(Exit.isSuccess(exit) && exit.value.records.length).toBe(1)
    }))

  effect("a store fans out to the store set and reports the acks against the quorum", () =>
    Effect.gen(function*() {
      const record = endpointRecord(keyOf(98), { seq: 1, iat: 0, exp: 60_000 })
      const stores: Array<string> = []
      const { result } = yield* run({ script: { stores }, target: record.body.key, kind: "store", record, storeLocally: () => Effect.succeed(true) })
      const exit = yield* finish(result)
      const outcome = Exit.isSuccess(exit) ? exit.value.store : undefined
      expect(outcome?.ok).toBe(true)
      expect(outcome!.acks).toBe(outcome!.candidates)
      expect(stores.length).toBe(outcome!.candidates - (outcome!.candidates === config.dhtK ? 0 : 1))
    }))

  effect("ends at lookupTimeoutMs with what it has when requests hang", () =>
    Effect.gen(function*() {
      const target = hash(new Uint8Array([9]))
      const { result } = yield* run({ script: {}, target, request: () => Effect.never })
      yield* advance(config.lookupTimeoutMs - 10)
      expect(Deferred.isDoneUnsafe(result)).toBe(false)
      yield* advance(20)
      const exit = yield* Effect.exit(Deferred.await(result))
      expect(Exit.isSuccess(exit) && exit.value.timedOut).toBe(true)
    }))

  effect("a crash fails its own result with LookupFailed", () =>
    Effect.gen(function*() {
      const { ref, result } = yield* run({ script: {}, target: hash(new Uint8Array([10])) })
      yield* settle
      yield* ref.exit(ExitReason.killed)
      const exit = yield* Effect.exit(Deferred.await(result))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toContain("crashed")
    }))
})

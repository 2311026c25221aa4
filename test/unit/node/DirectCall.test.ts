/**
 * `direct: true` resolution (PROTOCOL.md §9.2) over a stand-in DHT: the provider records of the
 * procedure name the serving station, whose station record gives the pinned address; answers
 * are cached until a failure says the route is stale; no provider record, or no station record
 * with an address, is `NoProvider` with a `detail`; the wrapped `call` sends the call to the
 * resolved address with what is left of the budget and passes other calls through untouched.
 */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import * as DhtRpc from "../../../actors/DhtRpc.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as DirectCall from "../../../src/node/DirectCall.ts"
import { NoProvider, RemoteError } from "../../../src/node/Errors.ts"
import type { CallOptions } from "../../../src/node/Mesh.ts"
import { providerKey } from "../../../src/node/Messaging.ts"
import * as SignedRecord from "../../../src/node/SignedRecord.ts"
import * as StationRecord from "../../../src/protocols/dht/StationRecord.ts"
import type { RecordBody } from "../../../src/wire/SignedBody.ts"

const realm = "io.example"
const proc = `${realm}/acme/calc/math/add_v1`
const station = Identity.fromSeed(new Uint8Array(32).fill(3))
const providerId = Identity.fromSeed(new Uint8Array(32).fill(4))
const config = { sha256: DhtRpc.sha256, stationRecordTtlMs: 900_000 }
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

const sign = (body: RecordBody, who: Identity) => {
  const r = SignedRecord.signedRecord(body, (m) => who.sign(m))
  if (r instanceof Error) throw r
  return r
}
const providerRecord = (now: number) => {
  const draft: RecordBody = {
    ty: "provider", key: new Uint8Array(32), pk: providerId.publicKey, seq: now, iat: now, exp: now + 60_000,
    d: { realm: Realm.id(realm), proc, st: station.publicKey, modes: ["unary"], req: false }
  }
  return sign({ ...draft, key: providerKey(Realm.id(realm), proc) }, providerId)
}
const stationRecord = (now: number) =>
  sign(StationRecord.body(config, station.publicKey, { a: ["quic://127.0.0.1:4433"], realms: [], feat: [] }, now, now), station)

/** A stand-in DHT: records by key, every lookup counted. */
const dht = (records: ReadonlyArray<DhtRpc.SignedRecord>) => {
  const lookups: Array<string> = []
  const findRecords = (key: Uint8Array, ty: DhtRpc.RecordType) =>
    Effect.sync(() => {
      lookups.push(ty)
      return records.filter((r) => hex(r.body.key) === hex(key) && r.body.ty === ty)
    })
  return { lookups, resolver: DirectCall.make({ findRecords, home: () => undefined }) }
}

describe("DirectCall", () => {
  it("resolves the serving station's pinned address, caches it, and looks up again once forgotten", async () => {
    const now = Date.now()
    const { lookups, resolver } = dht([providerRecord(now), stationRecord(now)])
    const route = await Effect.runPromise(resolver.resolve(proc))
    expect(route).toMatchObject({ station: station.did, address: `quic://127.0.0.1:4433#${station.did}` })
    expect(lookups).toEqual(["provider", "station"])
    await Effect.runPromise(resolver.resolve(proc))
    expect(lookups.length).toBe(2)
    resolver.forget(proc)
    await Effect.runPromise(resolver.resolve(proc))
    expect(lookups).toEqual(["provider", "station", "provider"]) // the station's address is still cached
  })

  it("fails NoProvider without a provider record, or without a station record with an address", async () => {
    const now = Date.now()
    const none = await Effect.runPromise(Effect.flip(dht([]).resolver.resolve(proc)))
    expect(none).toBeInstanceOf(NoProvider)
    expect(none).toMatchObject({ procedure: proc, detail: "no valid provider record in the DHT" })
    const noStation = await Effect.runPromise(Effect.flip(dht([providerRecord(now)]).resolver.resolve(proc)))
    expect(noStation).toMatchObject({ _tag: "NoProvider", detail: `no station record with an address for its station ${station.did}` })
    const bad = await Effect.runPromise(Effect.flip(dht([]).resolver.resolve("not a procedure")))
    expect(bad._tag).toBe("TopicError")
  })

  it("sends the wrapped call to the resolved address with the rest of the budget, and forgets a stale route", async () => {
    const now = Date.now()
    const { lookups, resolver } = dht([providerRecord(now), stationRecord(now)])
    const seen: Array<CallOptions | undefined> = []
    let fail = false
    const wrapped = DirectCall.wrap(resolver, {
      call: (_p, _a, options) => {
        seen.push(options)
        return fail ? Effect.fail(new RemoteError({ code: "provider_gone", message: "gone" })) : Effect.succeed("ok")
      },
      callStream: () => Effect.die("unused")
    })
    expect(await Effect.runPromise(wrapped.call(proc, 1, { direct: true, timeoutMs: 4_000, idempotent: true }))).toBe("ok")
    expect(seen[0]).toMatchObject({ direct: `quic://127.0.0.1:4433#${station.did}`, idempotent: true })
    expect(seen[0]!.timeoutMs).toBeGreaterThan(0)
    expect(seen[0]!.timeoutMs).toBeLessThanOrEqual(4_000)
    // Not direct: untouched, nothing looked up.
    await Effect.runPromise(wrapped.call(proc, 1, { timeoutMs: 1_000 }))
    expect(seen[1]).toEqual({ timeoutMs: 1_000 })
    expect(lookups.length).toBe(2)
    // A failure that says the route is stale drops it: the next call resolves again.
    fail = true
    await Effect.runPromise(Effect.flip(wrapped.call(proc, 1, { direct: true })))
    fail = false
    await Effect.runPromise(wrapped.call(proc, 1, { direct: true }))
    expect(lookups).toEqual(["provider", "station", "provider"])
    expect(DirectCall.isStaleRoute(new RemoteError({ code: "handler_error", message: "x" }))).toBe(false)
  })
})

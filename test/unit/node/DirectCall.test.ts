/**
 * `direct: true` resolution (PROTOCOL.md §9.2) over a stand-in DHT: the provider records of the
 * procedure name the serving station, whose station record gives the pinned address; answers
 * are cached until a failure says the route is stale; no provider record, or no station record
 * with an address, is `NoProvider` with a `detail`; the wrapped `call` sends the call to the
 * resolved address with what is left of the budget and passes other calls through untouched;
 * for a provider whose latest record says `req: true` it pins the call to that provider and
 * attaches a fresh invocation signed for it (§9.2), for no other; a routed call refused for want
 * of an invocation is sent once more, pinned, when the provider turns out to require one, and
 * later routed calls to it are pinned at once.
 */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import * as DhtRpc from "../../../actors/DhtRpc.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as DirectCall from "../../../src/node/DirectCall.ts"
import { NoProvider, RemoteError, Unauthorized } from "../../../src/node/Errors.ts"
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
const providerRecord = (now: number, req = false, seq = now) => {
  const draft: RecordBody = {
    ty: "provider", key: new Uint8Array(32), pk: providerId.publicKey, seq, iat: now, exp: now + 60_000,
    d: { realm: Realm.id(realm), proc, st: station.publicKey, modes: ["unary"], req }
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

  it("pins a req: true provider and attaches a fresh invocation for it; no pin otherwise", async () => {
    const now = Date.now()
    const run = async (records: ReadonlyArray<DhtRpc.SignedRecord>) => {
      const seen: Array<(CallOptions & { readonly pin?: DirectCall.Pin }) | undefined> = []
      const invoked: Array<readonly [string, string, string]> = []
      const wrapped = DirectCall.wrap(dht(records).resolver, {
        call: (_p, _a, options) => Effect.sync(() => (seen.push(options), "ok")),
        callStream: () => Effect.die("unused")
      }, 5_000, (provider, realmName, procedure) => {
        invoked.push([provider, realmName, procedure])
        return { inv: Uint8Array.of(invoked.length), prf: [] }
      })
      await Effect.runPromise(wrapped.call(proc, 1, { direct: true }))
      await Effect.runPromise(wrapped.call(proc, 2, { direct: true }))
      return { seen, invoked }
    }
    const req = await run([providerRecord(now, true), stationRecord(now)])
    expect(req.invoked).toEqual([[providerId.did, realm, proc], [providerId.did, realm, proc]])
    expect(req.seen.map((o) => o?.pin)).toEqual([
      { to: providerId.publicKey, ucan: { inv: Uint8Array.of(1), prf: [] } },
      { to: providerId.publicKey, ucan: { inv: Uint8Array.of(2), prf: [] } } // one per call (the provider refuses a replay)
    ])
    const plain = await run([providerRecord(now), stationRecord(now)])
    expect(plain.invoked).toEqual([])
    expect(plain.seen.map((o) => o?.pin)).toEqual([undefined, undefined])
    // The latest record decides: a provider that dropped `req` is called without an invocation.
    const dropped = await run([providerRecord(now, true, now), providerRecord(now, false, now + 1), stationRecord(now)])
    expect(dropped.invoked).toEqual([])
  })

  it("a routed call refused for want of an invocation goes once more, pinned, to a req: true provider", async () => {
    const now = Date.now()
    const run = async (records: ReadonlyArray<DhtRpc.SignedRecord>) => {
      const { lookups, resolver } = dht(records)
      const seen: Array<(CallOptions & { readonly pin?: DirectCall.Pin }) | undefined> = []
      const wrapped = DirectCall.wrap(resolver, {
        // The provider refuses what carries no invocation, as a `requireInvocation` one does.
        call: (_p, _a, options) =>
          Effect.suspend(() => {
            seen.push(options)
            return options?.pin?.ucan === undefined
              ? Effect.fail(new Unauthorized({ operation: "call", reason: "UnavailableProof" }))
              : Effect.succeed("served")
          }),
        callStream: () => Effect.die("unused")
      }, 5_000, () => ({ inv: Uint8Array.of(7), prf: [] }))
      return { lookups, seen, wrapped }
    }
    const req = await run([providerRecord(now, true), stationRecord(now)])
    expect(await Effect.runPromise(req.wrapped.call(proc, 1, { timeoutMs: 4_000 }))).toBe("served")
    expect(req.seen.map((o) => o?.pin?.to)).toEqual([undefined, providerId.publicKey])
    expect(req.seen[1]!.timeoutMs).toBeLessThanOrEqual(4_000)
    expect(req.lookups).toEqual(["provider"]) // no station record needed for a routed call
    // Known now: the next routed call is pinned at once.
    expect(await Effect.runPromise(req.wrapped.call(proc, 2))).toBe("served")
    expect(req.seen).toHaveLength(3)
    expect(req.seen[2]!.pin?.to).toEqual(providerId.publicKey)

    // A provider without req: the refusal stands (it came from elsewhere), one lookup, no second call.
    const plain = await run([providerRecord(now), stationRecord(now)])
    const refused = await Effect.runPromise(Effect.flip(plain.wrapped.call(proc, 1)))
    expect(refused).toMatchObject({ _tag: "Unauthorized", reason: "UnavailableProof" })
    expect(plain.seen).toHaveLength(1)
    expect(plain.lookups).toEqual(["provider"])
    // Nobody in the DHT: the refusal stands too.
    const none = await run([])
    expect(await Effect.runPromise(Effect.flip(none.wrapped.call(proc, 1)))).toMatchObject({ _tag: "Unauthorized" })
  })
})

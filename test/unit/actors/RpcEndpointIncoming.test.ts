/**
 * The client's RPC endpoint actor against a stand-in home-station connection, for what a station
 * may send its provider: a reused in-flight call id (PROTOCOL.md §14 row 9) resets the stream it
 * came on `invalid_field` and costs the station a minor penalty, while the call in flight under
 * that id is answered once; a `req` advertisement (§13.4) puts `req: true` in its record and
 * serves a call only when the injected invocation check allows it.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as RpcEndpointActor from "../../../actors/RpcEndpointActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import type { Inbound, Sink } from "../../../src/platform/transport/ConnectionHandle.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import type * as Frame from "../../../src/wire/Frame.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import { effect } from "../../support/it.ts"
import { settle, standIn } from "./PubSubStandIn.ts"

const station = Identity.fromSeed(new Uint8Array(32).fill(1))
const client = Identity.fromSeed(new Uint8Array(32).fill(2))
const caller = Identity.fromSeed(new Uint8Array(32).fill(3))
const realm = Realm.id("io.macula")
const slow = "io.macula/acme/app/math/slow_v1"
const guarded = "io.macula/acme/app/math/guarded_v1"
const ucan: Frame.Authority = { inv: new Uint8Array([9]), prf: [] }

const call = (id: number, proc: string, extra: Partial<Frame.Call> = {}): Frame.Call => ({
  t: "call", id, cid: new Uint8Array(16).fill(id), realm, proc, a: id, ttl: 10_000, idem: false, hop: 1,
  to: client.publicKey, from: caller.publicKey, ...extra
})

/** A stand-in station whose injected frames can be reset (recorded), on the rpc lane. */
const station$ = () => {
  const home = standIn(station.did, "station", "rpc")
  const resets: Array<string> = []
  let sink: Sink | undefined
  const handle = { ...home.handle, subscribe: (_: unknown, given: Sink) => ((sink = given), () => undefined) }
  const inject = (frame: Frame.Frame) => {
    const inbound: Inbound = {
      frame, channel: "rpc", opener: "peer", stream: 2, connectionId: "conn-1", peerDid: station.did,
      reply: () => Effect.void,
      reset: (code) => Effect.sync(() => void resets.push(code))
    }
    return Effect.andThen(sink === undefined ? Effect.void : sink(inbound), settle)
  }
  return { handle: handle as typeof home.handle, sent: home.sent, penalties: home.penalties, resets, inject }
}

describe("RpcEndpointActor: calls from the station", () => {
  effect("a reused in-flight id is reset invalid_field and penalised; the first call is answered once", () =>
    Effect.gen(function*() {
      const home = station$()
      let runs = 0
      const handlers = new Map<string, RpcEndpointActor.Handler>([
        [slow, (args) => Effect.andThen(Effect.sleep(1_000), Effect.sync(() => (runs++, args)))]
      ])
      yield* Actor.spawn(RpcEndpointActor.behavior({
        identity: client,
        config: RpcEndpointActor.Rpc.local,
        station: () => Effect.succeed(home.handle),
        registry: {
          advertisements: () => [{ ref: 1, realm, proc: slow }],
          handlerOf: (proc) => handlers.get(proc),
          complete: () => undefined,
          notify: () => undefined,
          started: () => undefined
        }
      }))
      yield* settle
      yield* home.inject(call(40, slow))
      yield* home.inject(call(40, slow, { a: "again" }))
      expect(home.resets).toEqual(["invalid_field"])
      expect(home.penalties).toEqual(["minor:call_id_reused"])
      yield* TestClock.adjust(1_000)
      yield* settle
      expect(runs).toBe(1)
      expect(home.sent.filter((f) => f.t === "reply")).toEqual([{ t: "reply", id: 40, r: 40 }])
    }))

  effect("a req advertisement serves only calls whose invocation the check allows", () =>
    Effect.gen(function*() {
      const home = station$()
      const checked: Array<number> = []
      yield* Actor.spawn(RpcEndpointActor.behavior({
        identity: client,
        config: RpcEndpointActor.Rpc.local,
        station: () => Effect.succeed(home.handle),
        registry: {
          advertisements: () => [{ ref: 1, realm, proc: guarded, req: true }],
          handlerOf: () => (args) => Effect.succeed(args),
          complete: () => undefined,
          notify: () => undefined,
          started: () => undefined
        },
        checkInvocation: (f) => {
          checked.push(f.id)
          return f.id === 51 ? { _tag: "Allowed" } : { _tag: "Denied", reason: "InvalidAudience" }
        }
      }))
      yield* settle
      const adv = home.sent.find((f): f is Frame.Adv => f.t === "adv")!
      const record = Signed.openRecord(adv.rec, (pk, m, s) => Identity.verify(pk, m, s))
      if (record instanceof Error || record.ty !== "provider") throw new Error("bad record")
      expect(record.d.req).toBe(true)

      yield* home.inject(call(50, guarded)) // no invocation: not even checked
      yield* home.inject(call(51, guarded, { ucan }))
      yield* home.inject(call(52, guarded, { ucan }))
      yield* TestClock.adjust(1)
      yield* settle
      expect(checked).toEqual([51, 52])
      const replies = home.sent.filter((f): f is Frame.Reply => f.t === "reply").sort((a, b) => a.id - b.id)
      expect(replies).toEqual([
        { t: "reply", id: 50, e: { c: "unauthorized", m: "UnavailableProof" } },
        { t: "reply", id: 51, r: 51 },
        { t: "reply", id: 52, e: { c: "unauthorized", m: "InvalidAudience" } }
      ])
    }))
})

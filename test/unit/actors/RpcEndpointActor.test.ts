/**
 * The client's RPC endpoint actor against a stand-in home-station connection: it links, runs
 * the handler of a call the station hands it and answers `reply` with the result or, for a
 * handler that fails, `handler_error` with its message; it signs an advertisement whose
 * record names the current station and derives its key as the DHT requires.
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as RpcEndpointActor from "../../../actors/RpcEndpointActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Records from "../../../src/protocols/dht/Records.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import type * as Frame from "../../../src/wire/Frame.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import { effect } from "../../support/it.ts"
import { settle, standIn } from "./PubSubStandIn.ts"

const station = Identity.fromSeed(new Uint8Array(32).fill(1))
const client = Identity.fromSeed(new Uint8Array(32).fill(2))
const caller = Identity.fromSeed(new Uint8Array(32).fill(3))
const realm = Realm.id("io.macula")
const add = "io.macula/acme/app/math/add_v1"
const fail = "io.macula/acme/app/math/fail_v1"
const sha256 = (b: Uint8Array) => Uint8Array.from(createHash("sha256").update(b).digest())

const call = (id: number, proc: string, a: Frame.Any): Frame.Call => ({
  t: "call", id, cid: new Uint8Array(16).fill(id), realm, proc, a, ttl: 1_000, idem: false, hop: 1,
  to: client.publicKey, from: caller.publicKey
})

describe("RpcEndpointActor", () => {
  effect("serves calls from its station and signs its advertisements", () =>
    Effect.gen(function*() {
      const home = standIn(station.did, "station", "rpc")
      const callers: Array<string | undefined> = []
      const handlers = new Map<string, RpcEndpointActor.Handler>([
        [add, (args, ctx) => Effect.sync(() => {
          callers.push(ctx.caller)
          const { a, b } = args as { a: number; b: number }
          return a + b
        })],
        [fail, () => Effect.fail(new Error("no such thing"))]
      ])
      const ads: Array<RpcEndpointActor.Advertisement> = [{ ref: 1, realm, proc: add }, { ref: 2, realm, proc: fail }]
      const notices: Array<string> = []
      yield* Actor.spawn(RpcEndpointActor.behavior({
        identity: client,
        config: RpcEndpointActor.Rpc.local,
        station: () => Effect.succeed(home.handle),
        registry: {
          advertisements: () => ads,
          handlerOf: (proc) => handlers.get(proc),
          complete: () => undefined,
          notify: (notice) => void notices.push(notice._tag),
          started: () => undefined
        }
      }))
      yield* settle
      // Linked: both advertisements go out, each record naming this station, keyed for the DHT.
      const advs = home.sent.filter((f): f is Frame.Adv => f.t === "adv")
      expect(advs.map((f) => f.proc)).toEqual([add, fail])
      for (const adv of advs) {
        const record = Signed.openRecord(adv.rec, (pk, m, s) => Identity.verify(pk, m, s))
        if (record instanceof Error || record.ty !== "provider") throw new Error("bad record")
        expect(Buffer.from(record.d.st)).toEqual(Buffer.from(station.publicKey))
        expect(Buffer.from(record.key)).toEqual(Buffer.from(Records.expectedKey({ sha256 }, record)))
      }
      yield* home.inject({ t: "ok", id: advs[0]!.id, n: 1 })
      expect(notices).toEqual(["Advertised"])

      yield* home.inject(call(40, add, { a: 2, b: 5 }))
      yield* TestClock.adjust(1)
      yield* settle
      expect(home.sent).toContainEqual({ t: "reply", id: 40, r: 7 })
      expect(callers).toEqual([caller.did])

      yield* home.inject(call(41, fail, null))
      yield* TestClock.adjust(1)
      yield* settle
      const failed = home.sent.find((f): f is Frame.Reply => f.t === "reply" && f.id === 41)
      expect(failed?.e?.c).toBe("handler_error")
      expect(failed?.e?.m).toBe("no such thing")
    }))
})

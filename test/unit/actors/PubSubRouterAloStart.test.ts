/**
 * Regression: an `alo` subscription's defined start (PROTOCOL.md §8.5) when a peer station's
 * connection became ready after the router's last registry scan. The router must adopt it
 * before answering the `sub`, send it the interest with an id and hold the `ok` until it
 * acknowledges; before the fix it answered at once and the peer learned the interest only at
 * the next scan, so events it routed in between were lost without a gap.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as PubSubRouterActor from "../../../actors/PubSubRouterActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import type { Handle } from "../../../src/platform/transport/ConnectionHandle.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import { effect } from "../../support/it.ts"
import { settle, standIn } from "./PubSubStandIn.ts"

const station = Identity.fromSeed(new Uint8Array(32).fill(1))
const client = Identity.fromSeed(new Uint8Array(32).fill(2))
const peerStation = Identity.fromSeed(new Uint8Array(32).fill(4))

describe("PubSubRouterActor, at-least-once start", () => {
  effect("adopts a peer station that came up since the last scan before answering an alo sub", () =>
    Effect.gen(function*() {
      const sub = standIn(client.did, "client", "pubsub")
      const peer = standIn(peerStation.did, "station", "pubsub")
      // At start only the client's connection is ready; the station's comes up right after.
      const ready: Array<Handle> = [sub.handle]
      yield* Actor.spawn(PubSubRouterActor.behavior({
        publicKey: station.publicKey,
        config: PubSubRouterActor.PubSub.local,
        connections: {
          lookup: (did) => Effect.succeed(ready.find((h) => h.peerDid === did)),
          list: Effect.sync(() => [...ready])
        },
        journal: PubSubRouterActor.journal(),
        inbox: PubSubRouterActor.inbox(),
        scanIntervalMs: 60_000 // no periodic scan within the test
      }))
      yield* settle
      ready.push(peer.handle)

      yield* sub.inject({ t: "sub", id: 1, sid: 7, realm: Realm.id("io.macula"), pat: "io.macula/acme/*/chat/#", mode: "alo" })
      // The new peer got the interest with an id (its full sync may precede it), and the `ok` waits.
      const add = peer.sent.find((f) => f.t === "interest.add")
      expect(add).toMatchObject({ t: "interest.add", e: [[Realm.id("io.macula"), "io.macula/acme/*/chat/#"]] })
      expect(sub.answers).toEqual([])
      const id = (add as { id?: number }).id
      expect(typeof id).toBe("number")
      yield* peer.inject({ t: "ok", id: id! })
      expect(sub.answers).toEqual([{ t: "ok", id: 1, cur: 0 }])
    }))
})

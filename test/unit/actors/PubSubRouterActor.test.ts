/**
 * The station's pub/sub router actor against a stand-in connection (no transport): it adopts
 * the connection as a client, answers `sub` on the client's own lane, routes a verified `pub`
 * as an `event` on its lane, and refuses an envelope whose signature fails, with a major
 * penalty and `err bad_signature`, without the core ever seeing it.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as PubSubRouterActor from "../../../actors/PubSubRouterActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import { effect } from "../../support/it.ts"
import { settle, standIn } from "./PubSubStandIn.ts"

const station = Identity.fromSeed(new Uint8Array(32).fill(1))
const client = Identity.fromSeed(new Uint8Array(32).fill(2))
const forger = Identity.fromSeed(new Uint8Array(32).fill(3))
const topic = "io.macula/acme/app/chat/said_v1"

const envelope = (seq: number, signer: Identity) => {
  const signed = Signed.signEnvelope({
    realm: Realm.id("io.macula"), topic, pk: client.publicKey, sess: new Uint8Array(8).fill(9), seq, tseq: seq, ts: 0, p: { seq }
  }, (m) => signer.sign(m))
  if (signed instanceof Error) throw signed
  return signed
}

describe("PubSubRouterActor", () => {
  effect("routes a verified pub to a subscriber and refuses a forged envelope", () =>
    Effect.gen(function*() {
      const peer = standIn(client.did, "client", "pubsub")
      const router = yield* Actor.spawn(PubSubRouterActor.behavior({
        publicKey: station.publicKey,
        config: PubSubRouterActor.PubSub.local,
        connections: { lookup: () => Effect.succeed(peer.handle), list: Effect.succeed([peer.handle]) },
        journal: PubSubRouterActor.journal(),
        inbox: PubSubRouterActor.inbox()
      }))
      yield* settle
      yield* peer.inject({ t: "sub", id: 1, sid: 7, realm: Realm.id("io.macula"), pat: "io.macula/acme/*/chat/#" })
      expect(peer.answers).toEqual([{ t: "ok", id: 1 }])

      const good = envelope(1, client)
      yield* peer.inject({ t: "pub", id: 2, b: good.b, s: good.s })
      yield* TestClock.adjust(1)
      yield* settle
      expect(peer.answers).toContainEqual({ t: "ok", id: 2 })
      expect(peer.sent).toEqual([{ t: "event", sid: [7], b: good.b, s: good.s }])

      const forged = envelope(2, forger)
      yield* peer.inject({ t: "pub", id: 3, b: forged.b, s: forged.s })
      expect(peer.answers).toContainEqual({ t: "err", id: 3, c: "bad_signature" })
      expect(peer.penalties).toEqual(["major:pub: bad envelope signature"])
      expect(peer.sent.length).toBe(1)
      const stats = yield* PubSubRouterActor.stats(router)
      expect(stats?.badSignatures).toBe(1)
      expect(stats?.counters.published).toBe(1)
    }))
})

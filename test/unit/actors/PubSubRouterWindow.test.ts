/**
 * The router actor's write reports against a stand-in connection whose writes wait on a gate:
 * a burst beyond the client's send window (`clientSendWindow` 8 in the local config) waits in
 * the core's queue, and once the writes complete the reports alone (no further traffic) must
 * release the rest.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as PubSubRouterActor from "../../../actors/PubSubRouterActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import type { Handle } from "../../../src/platform/transport/ConnectionHandle.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import type * as Frame from "../../../src/wire/Frame.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import { effect } from "../../support/it.ts"
import { settle, standIn } from "./PubSubStandIn.ts"

const station = Identity.fromSeed(new Uint8Array(32).fill(1))
const client = Identity.fromSeed(new Uint8Array(32).fill(2))
const topic = "io.macula/acme/app/chat/said_v1"

const envelope = (seq: number) => {
  const signed = Signed.signEnvelope({
    realm: Realm.id("io.macula"), topic, pk: client.publicKey, sess: new Uint8Array(8).fill(9), seq, tseq: seq, ts: 0, p: { seq }
  }, (m) => client.sign(m))
  if (signed instanceof Error) throw signed
  return signed
}

describe("PubSubRouterActor send window", () => {
  effect("frames queued behind a full window leave once the writes before them complete", () =>
    Effect.gen(function*() {
      const peer = standIn(client.did, "client", "pubsub")
      const gate = Deferred.makeUnsafe<void>()
      const written: Array<Frame.Frame> = []
      const handle: Handle = {
        ...peer.handle,
        openLane: (family) =>
          Effect.succeed({
            family,
            stream: 1,
            send: (frame) => Effect.andThen(Deferred.await(gate), Effect.sync(() => void written.push(frame))),
            sendAll: (frames) => Effect.andThen(Deferred.await(gate), Effect.sync(() => void written.push(...frames)))
          })
      }
      yield* Actor.spawn(PubSubRouterActor.behavior({
        publicKey: station.publicKey,
        config: PubSubRouterActor.PubSub.local,
        connections: { lookup: () => Effect.succeed(handle), list: Effect.succeed([handle]) },
        journal: PubSubRouterActor.journal(),
        inbox: PubSubRouterActor.inbox()
      }))
      yield* settle
      yield* peer.inject({ t: "sub", id: 1, sid: 7, realm: Realm.id("io.macula"), pat: topic })
      expect(peer.answers).toEqual([{ t: "ok", id: 1 }])
      // The client publishes to its own subscription: 14 events, 8 fit the window.
      for (let seq = 1; seq <= 14; seq++) {
        const signed = envelope(seq)
        yield* peer.inject({ t: "pub", id: 1 + seq, b: signed.b, s: signed.s })
      }
      expect(written).toEqual([])
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      yield* settle
      expect(written.map((f) => f.t === "event" ? f.b : undefined)).toEqual(
        Array.from({ length: 14 }, (_, i) => envelope(i + 1).b)
      )
    }))
})

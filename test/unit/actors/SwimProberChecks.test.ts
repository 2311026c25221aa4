/**
 * The prober against fake connections (`TestClock`), for what the network tests cannot show
 * directly: it starts one above the stored incarnation and signs its own alive claim with its
 * key; it answers a ping on the lane the ping came on; it drops claims whose subject or signer
 * lacks the station proof of work (§2.4) and penalises the sender; a send with no connection
 * comes back to the core as a failure.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as SwimProberActor from "../../../actors/SwimProberActor.ts"
import * as Ed25519 from "../../../src/identity/Ed25519.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as NodeId from "../../../src/identity/NodeId.ts"
import type { Handle, Inbound, Status } from "../../../src/platform/transport/ConnectionHandle.ts"
import { Swim } from "../../../src/protocols/swim/index.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import type { Frame, Signed as SignedObject } from "../../../src/wire/Frame.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import { effect } from "../../support/it.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

/** A ready station connection that records what is sent and every penalty. */
const fakeConnection = (peer: { readonly did: string }) => {
  const sent: Array<Frame> = []
  const penalties: Array<string> = []
  const status: Status = {
    connectionId: `c-${peer.did.slice(-8)}`,
    peerDid: peer.did,
    direction: "outbound",
    remoteAddress: "quic://peer:4433",
    phase: "ready",
    peerRole: "station",
    version: 1,
    peerHello: undefined,
    skewMs: 0,
    rttMs: undefined,
    score: 0,
    rejected: 0,
    undelivered: 0,
    ending: undefined
  }
  const handle: Handle = {
    connectionId: status.connectionId,
    peerDid: peer.did,
    direction: "outbound",
    remoteAddress: status.remoteAddress,
    status: () => status,
    watch: () => () => undefined,
    ready: Effect.succeed(status),
    closed: Effect.never,
    openLane: (family) =>
      Effect.succeed({
        family,
        stream: 0,
        send: (frame) => Effect.sync(() => void sent.push(frame)),
        sendAll: (frames) => Effect.sync(() => void sent.push(...frames))
      }),
    subscribe: () => () => undefined,
    close: () => Effect.void,
    penalize: (severity, reason) => Effect.sync(() => void penalties.push(`${severity}: ${reason}`))
  }
  return { handle, sent, penalties }
}

const aliveClaim = (subject: Identity, inc: number, signer: Identity = subject): SignedObject => {
  const signed = Signed.signClaim(
    { ty: "alive", pk: subject.publicKey, inc, by: signer.publicKey, a: ["quic://s:1"], ts: 1 },
    (m) => signer.sign(m)
  )
  if (signed instanceof Error) throw signed
  return signed
}

const start = (options: {
  readonly identity: Identity
  readonly connections: ReadonlyArray<Handle>
  readonly store: SwimProberActor.IncarnationStore
  readonly stationPowBits?: number
}) =>
  Effect.gen(function*() {
    const inbox = SwimProberActor.inbox()
    const ref = yield* Actor.spawn(SwimProberActor.behavior({
      identity: options.identity,
      config: Swim.local,
      stationPowBits: options.stationPowBits ?? 0,
      addresses: Effect.succeed(["quic://self:4433"]),
      connections: {
        lookup: (did) => Effect.succeed(options.connections.find((h) => h.peerDid === did)),
        list: Effect.succeed(options.connections)
      },
      store: options.store,
      changes: SwimProberActor.changes(),
      inbox,
      seed: 1
    }))
    const deliver = (from: Handle, frame: Frame, replies: Array<Frame>) =>
      inbox.sink({
        frame,
        channel: "swim",
        opener: "peer",
        stream: 1,
        connectionId: from.connectionId,
        peerDid: from.peerDid,
        reply: (f) => Effect.sync(() => void replies.push(f))
      } satisfies Inbound)
    const view = Effect.map(SwimProberActor.view(ref), (v) => v!)
    return { ref, inbox, deliver, view }
  })

describe("SwimProberActor checks", () => {
  effect("starts one above the stored incarnation and signs its own alive claim with its key", () =>
    Effect.gen(function*() {
      const self = Identity.fromSeed(new Uint8Array(32).fill(70))
      const peer = Identity.fromSeed(new Uint8Array(32).fill(71))
      const link = fakeConnection(peer)
      const store = SwimProberActor.memoryStore(4)
      const prober = yield* start({ identity: self, connections: [link.handle], store })
      expect((yield* prober.view).self.incarnation).toBe(5)
      expect(store.current()).toBe(5)

      yield* prober.ref.cast({ _tag: "Join", dids: [peer.did] })
      yield* settle
      const sync = link.sent.find((f) => f.t === "swim.sync")
      expect(sync).toBeDefined()
      if (sync?.t !== "swim.sync") return
      const own = Signed.openClaim(sync.m[0]!, Ed25519.verify)
      expect(own).toMatchObject({ ty: "alive", inc: 5, a: ["quic://self:4433"] })
      if (own instanceof Error) return
      expect(Array.from(own.pk)).toEqual(Array.from(self.publicKey))
      expect(Array.from(own.by)).toEqual(Array.from(self.publicKey))
    }))

  effect("answers a ping on the lane it came on and takes in the claims it carried", () =>
    Effect.gen(function*() {
      const self = Identity.fromSeed(new Uint8Array(32).fill(72))
      const peer = Identity.fromSeed(new Uint8Array(32).fill(73))
      const link = fakeConnection(peer)
      const prober = yield* start({ identity: self, connections: [link.handle], store: SwimProberActor.memoryStore() })
      const replies: Array<Frame> = []
      yield* prober.deliver(link.handle, { t: "swim.ping", id: 77, g: [aliveClaim(peer, 3)] }, replies)
      yield* settle
      expect(replies.map((f) => [f.t, "id" in f ? f.id : undefined])).toEqual([["swim.ack", 77]])
      expect(link.sent.filter((f) => f.t === "swim.ack")).toEqual([])
      const view = yield* prober.view
      expect(view.members.map((m) => [m.did, m.status, m.incarnation])).toEqual([[peer.did, "alive", 3]])
    }))

  effect("drops claims without the station proof of work and penalises the sender", () =>
    Effect.gen(function*() {
      const bits = 4
      const self = Identity.generateStation(bits)
      const peer = Identity.generateStation(bits)
      // A subject whose key lacks the proof of work (found among fixed seeds).
      let weak = Identity.fromSeed(new Uint8Array(32).fill(80))
      for (let n = 81; NodeId.meetsPow(weak.publicKey, bits); n++) weak = Identity.fromSeed(new Uint8Array(32).fill(n))
      const strong = Identity.generateStation(bits)
      const link = fakeConnection(peer)
      const prober = yield* start({ identity: self, connections: [link.handle], store: SwimProberActor.memoryStore(), stationPowBits: bits })
      yield* prober.deliver(link.handle, { t: "swim.ping", id: 1, g: [aliveClaim(weak, 0), aliveClaim(strong, 0)] }, [])
      yield* settle
      const view = yield* prober.view
      expect(view.claimsForged).toBe(1)
      expect(view.members.map((m) => m.did)).toEqual([strong.did])
      expect(link.penalties).toEqual(["major: claim without station proof of work"])
    }))

  effect("reports a send with no connection to the core, which suspects the unreachable member", () =>
    Effect.gen(function*() {
      const self = Identity.fromSeed(new Uint8Array(32).fill(90))
      const peer = Identity.fromSeed(new Uint8Array(32).fill(91))
      const gone = Identity.fromSeed(new Uint8Array(32).fill(92))
      const link = fakeConnection(peer)
      const prober = yield* start({ identity: self, connections: [link.handle], store: SwimProberActor.memoryStore() })
      // The peer announces itself and `gone`, to which we have no connection.
      yield* prober.deliver(link.handle, { t: "swim.ping", id: 1, g: [aliveClaim(peer, 0), aliveClaim(gone, 0)] }, [])
      yield* settle
      for (let t = 0; t < 2_000; t += 20) {
        yield* TestClock.adjust(20)
        yield* settle
      }
      const row = (yield* prober.view).members.find((m) => m.did === gone.did)
      expect(row?.status).not.toBe("alive")
      // Probes of it went indirect at once, through the one member we can reach.
      const asked = link.sent.filter((f) => f.t === "swim.ping_req")
      expect(asked.length).toBeGreaterThan(0)
      expect(asked.every((f) => f.t === "swim.ping_req" && Array.from(f.pk).join() === Array.from(gone.publicKey).join())).toBe(true)
    }))
})

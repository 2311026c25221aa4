/**
 * The SWIM prober over real connection actors on the simulated network (`TestClock`): four
 * stations converge through one seed; a crashed station is declared dead within the §11.4
 * window by every survivor, which calls `onVerdict` and closes its connections before the
 * connection layer's own liveness check would; forged claims are dropped and their sender
 * penalised while the rest of the packet counts.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as SwimProberActor from "../../../actors/SwimProberActor.ts"
import { Swim } from "../../../src/protocols/swim/index.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import { effect } from "../../support/it.ts"
import { advance, identity, mesh, now, settle, swimConfig, until, untilConverged } from "./SwimHarness.ts"

describe("SwimProberActor", () => {
  effect("four stations converge through one seed, with alive changes published", () =>
    Effect.gen(function*() {
      const { stations } = yield* mesh(4)
      const took = yield* untilConverged(stations, 5_000)
      expect(took).toBeLessThan(5_000)
      for (const s of stations) {
        const view = yield* s.membership.view
        expect(view?.self.incarnation).toBe(0)
        expect(view?.members.map((m) => m.status)).toEqual(["alive", "alive", "alive"])
        const alive = new Set(s.seen.filter((e) => e.change._tag === "MemberAlive").map((e) => e.change.did))
        for (const other of stations) if (other !== s) expect(alive.has(other.identity.did)).toBe(true)
        expect(s.store.current()).toBe(0)
      }
      // Steady state: nobody is suspected over a few seconds of probing.
      yield* advance(3_000, 20)
      for (const s of stations) {
        expect(s.seen.filter((e) => e.change._tag !== "MemberAlive")).toEqual([])
        expect(yield* s.holding("alive")).toHaveLength(3)
      }
    }), 30_000)

  effect("declares a crashed station dead within the suspicion window, calls onVerdict and closes its connections", () =>
    Effect.gen(function*() {
      const { net, stations } = yield* mesh(4)
      expect(yield* untilConverged(stations, 5_000)).toBeLessThan(5_000)
      yield* advance(1_000, 20)
      const victim = stations[3]!
      const survivors = stations.slice(0, 3)
      const handles = (yield* Effect.forEach(survivors, (s) => s.transport.connections)).flat()
        .filter((h) => h.peerDid === victim.identity.did)
      expect(handles.length).toBeGreaterThanOrEqual(3)

      const crashedAt = yield* now
      yield* SimNetwork.crash(net, victim.address)
      const waited = yield* until(() => survivors.every((s) => s.verdicts.length > 0), 6_000)
      // A pass over the 3 others finds it (plus the failed probe's own interval), the window is
      // at most max = suspicionMaxTimeoutMult × min (no confirmations), the verdict then spreads.
      const bounds = Swim.Suspicion.bounds(swimConfig, 4)
      const bound = 4 * swimConfig.probeIntervalMs + bounds.max + 4 * swimConfig.probeIntervalMs
      expect(waited).toBeLessThanOrEqual(bound)
      for (const s of survivors) {
        expect(s.verdicts.map((v) => [v.change._tag, v.change.did])).toEqual([["MemberDead", victim.identity.did]])
        expect(s.verdicts[0]!.at - crashedAt).toBeLessThanOrEqual(bound)
        expect(yield* s.holding("dead")).toEqual([victim.identity.did])
        // Suspected first, then dead.
        const tags = s.seen.filter((e) => e.change.did === victim.identity.did).map((e) => e.change._tag)
        expect(tags.slice(-2)).toEqual(["MemberSuspect", "MemberDead"])
      }
      // Our verdict closed the connections, before the connection layer's liveness (4 s) could.
      expect(waited).toBeLessThan(4_000)
      yield* advance(200)
      for (const h of handles) {
        expect(h.status().phase).toBe("closed")
        expect(h.status().ending?.message).toBe("swim: declared dead")
      }
      // The survivors stay converged among themselves.
      yield* advance(2_000, 20)
      for (const s of survivors) expect(yield* s.holding("alive")).toHaveLength(2)
    }), 30_000)

  effect("drops forged claims, penalises the sender and keeps the rest of the packet", () =>
    Effect.gen(function*() {
      const { stations } = yield* mesh(3)
      expect(yield* untilConverged(stations, 5_000)).toBeLessThan(5_000)
      const [target, sender] = [stations[0]!, stations[1]!]
      const stranger = identity(50)
      const impostor = identity(51)
      const honest = identity(52)
      const wall = yield* now
      const sign = (body: Parameters<typeof Signed.signClaim>[0], by: typeof stranger) => {
        const signed = Signed.signClaim(body, (m) => by.sign(m))
        if (signed instanceof Error) throw signed
        return signed
      }
      // Claims the stranger never made: a bad signature, and an alive claim signed by another key.
      const badSignature = sign({ ty: "alive", pk: stranger.publicKey, inc: 5, by: stranger.publicKey, a: ["quic://x:1"], ts: wall }, impostor)
      const notSelfSigned = sign({ ty: "alive", pk: stranger.publicKey, inc: 6, by: impostor.publicKey, a: ["quic://x:1"], ts: wall }, impostor)
      const genuine = sign({ ty: "alive", pk: honest.publicKey, inc: 0, by: honest.publicKey, a: ["quic://h:1"], ts: wall }, honest)

      const link = yield* sender.transport.registry.lookup(target.identity.did)
      expect(link).toBeDefined()
      const lane = yield* link!.openLane("swim")
      yield* lane.send({ t: "swim.ping", id: 900_001, g: [badSignature, genuine] })
      yield* lane.send({ t: "swim.ping", id: 900_002, g: [notSelfSigned] })
      yield* advance(100)

      const view = (yield* target.membership.view)!
      expect(view.claimsForged).toBe(2)
      const held = view.members.map((m) => m.did)
      expect(held).not.toContain(stranger.did)
      expect(held).toContain(honest.did) // the genuine claim in the same packet still counted
      // One major penalty per packet with a forged claim, on the sender's connection.
      const back = yield* target.transport.registry.lookup(sender.identity.did)
      expect(back?.status().score).toBe(-50)
      // The mesh is unaffected.
      yield* advance(1_000, 20)
      for (const s of stations) {
        const alive = yield* s.holding("alive")
        for (const other of stations) if (other !== s) expect(alive).toContain(other.identity.did)
      }
      yield* settle
    }), 30_000)

  effect("signs its own claims once per content and answers on the requester's lane", () =>
    Effect.gen(function*() {
      const { stations } = yield* mesh(2)
      expect(yield* untilConverged(stations, 5_000)).toBeLessThan(5_000)
      const view = (yield* stations[0]!.membership.view)!
      // Nothing the core sent was counted as a failure or refused by the peer.
      expect(view.counters.claimsRejected).toBe(0)
      expect(view.claimsForged).toBe(0)
      const peer = view.members[0]!
      expect(peer.addrs).toEqual([stations[1]!.address])
      expect(SwimProberActor.memberIdOfDid(peer.did)).toBe(peer.id)
      expect(SwimProberActor.didOfMemberId(peer.id)).toBe(peer.did)
    }), 30_000)
})

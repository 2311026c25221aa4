/**
 * The membership subtree under restarts (PROTOCOL.md §15), over real connection actors on the
 * simulated network (`TestClock`): a crashed prober restarts alone one incarnation up and
 * rebuilds its table from the connections that outlived it; a station stopped gracefully is
 * reported as having left, and once restarted it reloads its incarnation and rejoins above its
 * predecessor; a station cut off from everyone rejoins through its seeds when the cut heals.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import { effect } from "../../support/it.ts"
import { advance, captureClock, converged, mesh, settle, station, until, untilConverged } from "../actors/SwimHarness.ts"

describe("MembershipSupervisor", () => {
  effect("restarts a crashed prober alone, one incarnation up, and rebuilds its table from its connections", () =>
    Effect.gen(function*() {
      const { stations } = yield* mesh(4)
      expect(yield* untilConverged(stations, 5_000)).toBeLessThan(5_000)
      const s = stations[1]!
      const before = s.membership.processes()
      expect(before.prober).toBeDefined()
      const dialer = before.dialer
      expect((yield* s.membership.view)?.self.incarnation).toBe(0)

      yield* before.prober!.exit(ExitReason.killed)
      yield* settle
      const after = s.membership.processes()
      expect(after.prober).toBeDefined()
      expect(after.prober).not.toBe(before.prober)
      expect(after.dialer).toBe(dialer) // one_for_one: the dialer was not touched
      const children = yield* after.supervisor!.whichChildren
      expect(children.map((c) => [c.id, c.status, c.restarts])).toEqual([["prober", "running", 1], ["dialer", "running", 0]])

      // §15.2: reloaded from the store, plus one.
      const view = (yield* s.membership.view)!
      expect(view.self.incarnation).toBe(1)
      expect(s.store.current()).toBe(1)
      // It synced with the stations it is still connected to: the table is back at once.
      const took = yield* untilConverged(stations, 2_000)
      expect(took).toBeLessThanOrEqual(200)
      // The others took in the new incarnation without suspecting anyone.
      yield* advance(1_000, 20)
      for (const other of stations) {
        if (other === s) continue
        const row = (yield* other.membership.view)!.members.find((m) => m.did === s.identity.did)
        expect(row).toMatchObject({ status: "alive", incarnation: 1 })
        expect(other.seen.filter((e) => e.change._tag !== "MemberAlive")).toEqual([])
        expect(other.verdicts).toEqual([])
      }
    }), 30_000)

  effect("reports a graceful stop as a leave, and the restarted station rejoins above its predecessor", () =>
    Effect.gen(function*() {
      const { net, stations } = yield* mesh(3)
      expect(yield* untilConverged(stations, 5_000)).toBeLessThan(5_000)
      const leaving = stations[2]!
      yield* leaving.stop
      const survivors = stations.slice(0, 2)
      yield* until(() => survivors.every((s) => s.verdicts.length > 0), 2_000)
      for (const s of survivors) {
        expect(s.verdicts.map((v) => [v.change._tag, v.change.did])).toEqual([["MemberLeft", leaving.identity.did]])
      }
      expect(leaving.store.current()).toBe(0)

      // The same station comes back (same key, address and store): stored 0, so it starts at 1.
      const back = yield* station(net, 2, { seeds: [0], store: leaving.store })
      const group = [...survivors, back]
      const took = yield* untilConverged(group, 5_000)
      expect(took).toBeLessThan(5_000)
      expect((yield* back.membership.view)!.self.incarnation).toBe(1)
      for (const s of survivors) {
        const row = (yield* s.membership.view)!.members.find((m) => m.did === back.identity.did)
        expect(row).toMatchObject({ status: "alive", incarnation: 1 })
      }
    }), 30_000)

  effect("rejoins through its seeds once everyone it knew is gone and the network heals", () =>
    Effect.gen(function*() {
      yield* captureClock
      const net = yield* SimNetwork.make({ seed: 11 })
      const config = { stationDialBackoffMinMs: 200, stationDialBackoffMaxMs: 1_000 }
      const seed = yield* station(net, 0, { config })
      const lone = yield* station(net, 1, { seeds: [0], config })
      expect(yield* untilConverged([seed, lone], 5_000)).toBeLessThan(5_000)

      const cut = yield* SimNetwork.partition(net, [[seed.address], [lone.address]])
      yield* until(() => seed.verdicts.length > 0 && lone.verdicts.length > 0, 10_000)
      expect(lone.verdicts.map((v) => v.change._tag)).toEqual(["MemberDead"])
      // Past the tombstone retention nobody remembers the other, so push-pull cannot heal it.
      yield* advance(6_000, 50)
      expect((yield* lone.membership.view)!.members).toEqual([])
      expect((yield* seed.membership.view)!.members).toEqual([])

      yield* SimNetwork.heal(net, cut)
      // The lone station's dialer is still in its seed rounds (backoff 200 → 1 000 ms): the
      // next round reaches the seed and the sync rebuilds both tables.
      let waited = 0
      while (!(yield* converged([seed, lone])) && waited < 5_000) {
        yield* advance(100, 20)
        waited += 100
      }
      expect(yield* converged([seed, lone])).toBe(true)
      expect(waited).toBeLessThanOrEqual(2 * config.stationDialBackoffMaxMs)
      for (const s of [seed, lone]) expect(s.seen.at(-1)?.change._tag).toBe("MemberAlive")
    }), 30_000)
})

/**
 * `resync` after a station's router and dispatcher crash (PROTOCOL.md §15.2), over the simulated
 * network with real connection actors and real client sessions and endpoints. The stations run
 * with `replayJournal: false`, so nothing but `resync` can bring the tables back: the restarted
 * actors ask every client and peer station on the control stream, the clients replay `sub` and
 * `adv`, the peer station replays `interest`. A second test kills them with the journal on (the
 * default) and checks the two restores agree: nothing doubled, delivery and calls go on.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import { effect } from "../../support/it.ts"
import type { SubscriptionEvent } from "../../../supervisors/RoutingSupervisor.ts"
import { drive, mesh, run } from "./RoutingMesh.ts"

const chat = "io.macula/acme/app/chat/said_v1"
const news = "io.macula/acme/app/news/posted_v1"
const add = "io.macula/acme/app/math/add_v1"

const ok = <A>(exit: { readonly _tag: string }): A => {
  if (exit._tag !== "Success") throw new Error(`failed: ${String((exit as { cause?: unknown }).cause)}`)
  return (exit as unknown as { value: A }).value
}

/** The mesh with c0 subscribed to chat at s0, c2 to news at s1 (s0 learns it as interest), c1 providing `add` at s0. */
const prepared = (replayJournal: boolean) =>
  Effect.gen(function*() {
    const m = yield* mesh(11, { replayJournal })
    const [c0, c1, c2] = m.clients
    const atC0: Array<SubscriptionEvent> = []
    const atC2: Array<SubscriptionEvent> = []
    ok(yield* drive(c0.routing.subscribe(chat, (e) => void atC0.push(e))))
    ok(yield* drive(c2.routing.subscribe(news, (e) => void atC2.push(e))))
    ok(yield* drive(c1.routing.advertise(add, (args) => {
      const { a, b } = args as { a: number; b: number }
      return a + b
    })))
    yield* run(500) // s1's interest in news reaches s0
    return { ...m, atC0, atC2 }
  })

/** s0's router and dispatcher: subscriptions, peer interest entries and local providers. */
const tablesOf = (routing: { readonly stats: Effect.Effect<any> }) =>
  Effect.map(routing.stats, (stats) => ({
    subscriptions: stats.router?.sizes.subscriptions,
    peerEntries: stats.router?.sizes.peerEntries,
    providers: stats.dispatcher?.sizes.providers
  }))

describe("RoutingSupervisor: resync after a station's router and dispatcher crash", () => {
  effect("restores subscriptions, a peer station's interest and advertisements through resync alone", () =>
    Effect.gen(function*() {
      const { stations: [s0], clients: [c0, c1, c2], atC0, atC2 } = yield* prepared(false)
      const before = yield* tablesOf(s0.routing)
      expect(before).toEqual({ subscriptions: 1, peerEntries: 1, providers: 1 })
      const router = s0.routing.processes().router!
      const dispatcher = s0.routing.processes().dispatcher!
      yield* router.exit(ExitReason.killed)
      yield* dispatcher.exit(ExitReason.killed)
      yield* run(500)
      // Fresh actors (the journal is not replayed), yet the tables are back: the clients and s1
      // replayed on the restarted actors' `resync`.
      expect(s0.routing.processes().router).not.toBe(router)
      expect(s0.routing.processes().dispatcher).not.toBe(dispatcher)
      expect(yield* tablesOf(s0.routing)).toEqual(before)
      // And they work: a local subscriber, a remote one (s0 forwards on s1's interest), a local provider.
      ok(yield* drive(c2.routing.publish(chat, { from: "c2" })))
      ok(yield* drive(c1.routing.publish(news, { from: "c1" })))
      yield* run(500)
      expect(atC0.map((e) => e.payload)).toEqual([{ from: "c2" }])
      expect(atC2.map((e) => e.payload)).toEqual([{ from: "c1" }])
      expect(ok<unknown>(yield* drive(c0.routing.call(add, { a: 2, b: 3 })))).toBe(5)
    }), 60_000)

  effect("with the journal on as well, the two restores agree: nothing doubled, delivery and calls go on", () =>
    Effect.gen(function*() {
      const { stations: [s0], clients: [c0, c1, c2], atC0, atC2 } = yield* prepared(true)
      const before = yield* tablesOf(s0.routing)
      yield* s0.routing.processes().router!.exit(ExitReason.killed)
      yield* s0.routing.processes().dispatcher!.exit(ExitReason.killed)
      yield* run(500)
      expect(yield* tablesOf(s0.routing)).toEqual(before)
      for (let i = 0; i < 3; i++) {
        ok(yield* drive(c2.routing.publish(chat, { i })))
        ok(yield* drive(c1.routing.publish(news, { i })))
      }
      yield* run(500)
      expect(atC0.map((e) => e.payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }])
      expect(atC2.map((e) => e.payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }])
      expect(ok<unknown>(yield* drive(c0.routing.call(add, { a: 20, b: 22 })))).toBe(42)
    }), 60_000)
})

/**
 * The routing subtree's pub/sub over the simulated network (two stations, three clients, real
 * connection actors, `TestClock`): wildcard delivery across stations in per-publisher order
 * without duplicates, at-least-once across a killed subscriber connection, an invalid topic
 * refused with `TopicError`, and a crashed router that restarts and gets its clients'
 * subscriptions back.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import { effect } from "../../support/it.ts"
import { attach, drive, mesh, run, settle } from "./RoutingMesh.ts"
import type { SubscriptionEvent } from "../../../supervisors/RoutingSupervisor.ts"

const chat = "io.macula/acme/app/chat/said_v1"
const news = "io.macula/acme/app/news/posted_v1"
const other = "io.macula/other/app/chat/said_v1"

const ok = <A, E>(exit: { readonly _tag: string } & ({ readonly _tag: "Success"; readonly value: A } | { readonly _tag: "Failure"; readonly cause: E })) => {
  if (exit._tag !== "Success") throw new Error(`failed: ${String((exit as { cause: unknown }).cause)}`)
  return (exit as { value: A }).value
}

/** Per publisher: the seqs seen, in order. */
const byPublisher = (events: ReadonlyArray<SubscriptionEvent>) => {
  const out = new Map<string, Array<number>>()
  for (const e of events) {
    let list = out.get(e.publisher)
    if (list === undefined) out.set(e.publisher, list = [])
    list.push(e.seq)
  }
  return out
}

describe("RoutingSupervisor pub/sub over the simulated network", () => {
  effect("delivers wildcard subscriptions across stations, in order per publisher, without duplicates", () =>
    Effect.gen(function*() {
      const { clients: [c0, c1, c2] } = yield* mesh()
      const star: Array<SubscriptionEvent> = []
      const hash: Array<SubscriptionEvent> = []
      ok(yield* drive(c0.routing.subscribe("io.macula/acme/app/*/said_v1", (e) => void star.push(e))))
      ok(yield* drive(c2.routing.subscribe("io.macula/acme/#", (e) => void hash.push(e))))
      yield* run(300) // interest reaches the other station
      for (let i = 0; i < 10; i++) {
        ok(yield* drive(c1.routing.publish(chat, { i })))
        ok(yield* drive(c2.routing.publish(i % 2 === 0 ? chat : news, { i })))
        ok(yield* drive(c1.routing.publish(other, { i })))
      }
      yield* run(500)
      // c0 (`*` on the name's slot, said_v1 only): c1's 10 chat events and c2's 5 chat events.
      expect(star.every((e) => e.topic === chat)).toBe(true)
      const starBy = byPublisher(star)
      expect(starBy.get(c1.who.did)).toEqual(Array.from({ length: 10 }, (_, i) => 2 * i + 1))
      expect(starBy.get(c2.who.did)?.length).toBe(5)
      // c2 (`#` under acme): everything of acme, its own events included, nothing of `other`.
      expect(hash.some((e) => e.topic === other)).toBe(false)
      const hashBy = byPublisher(hash)
      for (const seqs of hashBy.values()) {
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs) // in order
        expect(new Set(seqs).size).toBe(seqs.length) // no duplicates
      }
      expect(hashBy.get(c1.who.did)?.length).toBe(10)
      expect(hashBy.get(c2.who.did)?.length).toBe(10)
    }), 30_000)

  effect("refuses an invalid topic or pattern with TopicError", () =>
    Effect.gen(function*() {
      const { clients: [c0] } = yield* mesh()
      const published = yield* Effect.flip(c0.routing.publish("io.macula/acme/app/chat", 1))
      expect(published._tag).toBe("TopicError")
      const subscribed = yield* Effect.flip(c0.routing.subscribe("io.macula/#/x", () => undefined))
      expect(subscribed._tag).toBe("TopicError")
      expect(subscribed._tag === "TopicError" && subscribed.reason).toBe("invalid_pattern")
    }), 30_000)

  effect("an at-least-once subscriber misses nothing across a killed connection", () =>
    Effect.gen(function*() {
      const { stations: [s0], clients: [c0, , c2] } = yield* mesh()
      const seen: Array<SubscriptionEvent> = []
      const gaps: Array<unknown> = []
      ok(yield* drive(c0.routing.subscribe(chat, (e) => void seen.push(e), { delivery: "at-least-once", onGap: (g) => void gaps.push(g) })))
      yield* run(300)
      for (let i = 0; i < 30; i++) {
        ok(yield* drive(c2.routing.publish(chat, { i })))
        if (i === 12) {
          // The subscriber's connection dies; events keep coming while it is away.
          yield* c0.home!.close({ graceful: false })
          c0.home = undefined
          yield* settle
        }
        if (i === 20) yield* attach(c0, s0)
      }
      yield* run(1_000)
      const seqs = seen.filter((e) => e.publisher === c2.who.did).map((e) => e.seq)
      // Every event arrived, or a gap announced its loss; never twice, always in order.
      expect(new Set(seqs).size).toBe(seqs.length)
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
      // It came back to the same station within `aloRetentionMs`: the replay covers everything.
      expect(gaps).toEqual([])
      expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
      const stats = yield* c0.routing.stats
      expect(stats.session?.linkUps).toBe(2)
    }), 30_000)

  effect("a crashed router restarts and its clients' subscriptions come back", () =>
    Effect.gen(function*() {
      const { stations: [s0], clients: [c0, c1, c2] } = yield* mesh()
      const local: Array<SubscriptionEvent> = []
      const remote: Array<SubscriptionEvent> = []
      ok(yield* drive(c0.routing.subscribe(chat, (e) => void local.push(e))))
      ok(yield* drive(c2.routing.subscribe(chat, (e) => void remote.push(e))))
      yield* run(300)
      ok(yield* drive(c1.routing.publish(chat, { before: true })))
      yield* run(200)
      expect(local.length).toBe(1)
      expect(remote.length).toBe(1)

      const old = s0.routing.processes().router!
      yield* old.exit(ExitReason.killed)
      yield* run(300)
      const restarted = s0.routing.processes().router
      expect(restarted).toBeDefined()
      expect(restarted!.pid).not.toBe(old.pid)

      ok(yield* drive(c1.routing.publish(chat, { after: true })))
      ok(yield* drive(c2.routing.publish(chat, { after: "remote" })))
      yield* run(500)
      // c0's subscription at s0 was replayed; s1's interest in chat came back too.
      expect(local.map((e) => e.payload)).toEqual([{ before: true }, { after: true }, { after: "remote" }])
      expect(remote.map((e) => e.payload)).toEqual([{ before: true }, { after: true }, { after: "remote" }])
    }), 30_000)

  effect("an at-least-once subscriber hears of a router crash as a station_restart gap", () =>
    Effect.gen(function*() {
      const { stations: [s0], clients: [c0, , c2] } = yield* mesh()
      const seen: Array<SubscriptionEvent> = []
      const gaps: Array<{ readonly why: string }> = []
      ok(yield* drive(c0.routing.subscribe(chat, (e) => void seen.push(e), { delivery: "at-least-once", onGap: (g) => void gaps.push(g) })))
      yield* run(300)
      for (let i = 0; i < 5; i++) ok(yield* drive(c2.routing.publish(chat, { i })))
      yield* run(300)
      expect(seen.length).toBe(5)
      yield* s0.routing.processes().router!.exit(ExitReason.killed)
      yield* run(300)
      for (let i = 5; i < 10; i++) ok(yield* drive(c2.routing.publish(chat, { i })))
      yield* run(500)
      // The replay told the subscriber the restart may have lost something, then delivery went on.
      expect(gaps.map((g) => g.why)).toEqual(["station_restart"])
      const seqs = seen.map((e) => e.seq)
      expect(new Set(seqs).size).toBe(seqs.length)
      expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
    }), 30_000)
})

/**
 * The station dialer against a fake transport (`TestClock`): seed rounds until a member turns
 * up alive, one link per alive member (redialled with backoff while it lives, dropped when it
 * dies, capped by `maxLinks`), and a new seed round when the last member is gone.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as StationDialerActor from "../../../actors/StationDialerActor.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import { effect } from "../../support/it.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})
const advance = (ms: number) =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += 50) {
      yield* TestClock.adjust(50)
      yield* settle
    }
  })

/** A transport where `up` addresses answer with the DID after `#` (or `did:<address>`). */
const fakeTransport = () => {
  const dials: Array<{ readonly address: string; readonly expectedDid: string | undefined }> = []
  const joins: Array<ReadonlyArray<string>> = []
  const up = new Set<string>()
  const open = new Map<string, Deferred.Deferred<void>>()
  let listener: ((change: StationDialerActor.Change) => void) | undefined
  const bare = (a: string) => a.replace(/#.*$/, "")
  const options = (overrides: Partial<StationDialerActor.Options> = {}): StationDialerActor.Options => ({
    selfDid: "did:self",
    seeds: [],
    dial: (address, o) =>
      Effect.suspend(() => {
        dials.push({ address, expectedDid: o.expectedDid })
        if (!up.has(bare(address))) return Effect.fail("unreachable")
        const closed = Deferred.makeUnsafe<void>()
        open.set(bare(address), closed)
        return Effect.succeed({ peerDid: o.expectedDid ?? `did:${bare(address)}`, closed: Deferred.await(closed) })
      }),
    subscribe: (l) => {
      listener = l
      return () => void (listener = undefined)
    },
    join: (dids) => Effect.sync(() => void joins.push(dids)),
    backoffMinMs: 100,
    backoffMaxMs: 400,
    ...overrides
  })
  return {
    dials,
    joins,
    up,
    options,
    emit: (change: StationDialerActor.Change) => listener?.(change),
    drop: (address: string) => {
      const d = open.get(address)
      open.delete(address)
      if (d !== undefined) Deferred.doneUnsafe(d, Effect.void)
    },
    dialsTo: (address: string) => dials.filter((d) => bare(d.address) === address).length
  }
}

describe("StationDialerActor", () => {
  effect("dials the seeds (never itself), joins those that answered, and repeats until a member is alive", () =>
    Effect.gen(function*() {
      const net = fakeTransport()
      const options = net.options({
        seeds: ["quic://a:1", "quic://me:1", "quic://b:1#did:self", "quic://c:1"],
        selfAddresses: ["quic://me:1"]
      })
      net.up.add("quic://a:1")
      yield* Actor.spawn(StationDialerActor.behavior(options))
      yield* settle
      expect(net.dials.map((d) => d.address)).toEqual(["quic://a:1", "quic://c:1"])
      expect(net.joins).toEqual([["did:quic://a:1"]])
      // Nobody turned up alive: another round after the backoff (100 ms ± 20 %).
      yield* advance(150)
      expect(net.dialsTo("quic://a:1")).toBe(2)
      expect(net.joins.length).toBe(2)
      net.emit({ _tag: "MemberAlive", did: "did:quic://a:1", addrs: ["quic://a:1"] })
      yield* advance(2_000)
      // Rounds stopped; the member link dialled `a` once with its DID pinned.
      const seedRounds = net.joins.length
      yield* advance(2_000)
      expect(net.joins.length).toBe(seedRounds)
      expect(net.dials.filter((d) => d.expectedDid === "did:quic://a:1").length).toBe(1)
    }))

  effect("keeps a link to every alive member, redials with backoff, drops the dead and respects maxLinks", () =>
    Effect.gen(function*() {
      const net = fakeTransport()
      net.up.add("quic://m1:1")
      net.up.add("quic://m2:1")
      const ref = yield* Actor.spawn(StationDialerActor.behavior(net.options({ maxLinks: 2 })))
      net.emit({ _tag: "MemberAlive", did: "did:m1", addrs: ["quic://m1:1"] })
      net.emit({ _tag: "MemberAlive", did: "did:m1", addrs: ["quic://m1:1"] }) // no second link
      net.emit({ _tag: "MemberAlive", did: "did:m2", addrs: ["quic://m2:1"] })
      net.emit({ _tag: "MemberAlive", did: "did:m3", addrs: ["quic://m3:1"] }) // past maxLinks
      net.emit({ _tag: "MemberAlive", did: "did:self", addrs: ["quic://me:1"] }) // never itself
      yield* settle
      expect(yield* StationDialerActor.linked(ref)).toEqual(["did:m1", "did:m2"])
      expect([net.dialsTo("quic://m1:1"), net.dialsTo("quic://m2:1"), net.dialsTo("quic://m3:1")]).toEqual([1, 1, 0])

      // The connection to m1 ends: redialled after the backoff.
      net.drop("quic://m1:1")
      yield* settle
      expect(net.dialsTo("quic://m1:1")).toBe(1)
      yield* advance(150)
      expect(net.dialsTo("quic://m1:1")).toBe(2)

      // m2 dies: its link stops; the connection ending later causes no redial.
      net.emit({ _tag: "MemberDead", did: "did:m2" })
      yield* settle
      net.drop("quic://m2:1")
      yield* advance(1_000)
      expect(net.dialsTo("quic://m2:1")).toBe(1)
      expect(yield* StationDialerActor.linked(ref)).toEqual(["did:m1"])
    }))

  effect("runs seed rounds again when the last member it knew is gone", () =>
    Effect.gen(function*() {
      const net = fakeTransport()
      net.up.add("quic://seed:1")
      yield* Actor.spawn(StationDialerActor.behavior(net.options({ seeds: ["quic://seed:1#did:seed"] })))
      yield* settle
      net.emit({ _tag: "MemberAlive", did: "did:seed", addrs: ["quic://seed:1"] })
      net.emit({ _tag: "MemberAlive", did: "did:x", addrs: ["quic://x:1"] })
      yield* advance(500)
      const joined = net.joins.length
      expect(joined).toBeGreaterThanOrEqual(1)
      net.emit({ _tag: "MemberDead", did: "did:x" })
      yield* advance(500)
      expect(net.joins.length).toBe(joined) // one member left: no collapse
      net.emit({ _tag: "MemberLeft", did: "did:seed" })
      yield* settle
      expect(net.joins.length).toBe(joined + 1)
      expect(net.joins.at(-1)).toEqual(["did:seed"])
    }))
})

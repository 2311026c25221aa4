/**
 * The client's station link and `servedRealms` (PROTOCOL.md §1, §3.4): a station whose `hello`
 * does not list the client's realm would answer `realm_refused` to every frame, so the link
 * passes it over for the next seed; when no station of a pass serves the realm it attaches to
 * the first that refused and warns (`NoStationServesRealm`). Stand-in connections, `TestClock`.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect, it } from "vitest"
import type * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Config from "../../../src/node/Config.ts"
import * as StationLink from "../../../src/node/StationLink.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import type * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"
import { effect } from "../../support/it.ts"

const seed = (url: string) => Config.parseSeed(url) as Config.Seed

/**
 * A ready stand-in connection to a station serving `realms` (names; none = every realm); `up`
 * says whether it answers a dial.
 */
const station = (did: string, realms: ReadonlyArray<string>, state = { up: true }) => {
  let closes = 0
  const status = {
    peerDid: did,
    phase: "ready",
    ending: undefined,
    peerHello: { realms: realms.map((r) => Realm.id(r)), peers: [] }
  } as unknown as ConnectionActor.Status
  const handle = {
    connectionId: did,
    peerDid: did,
    direction: "outbound",
    remoteAddress: "",
    status: () => status,
    watch: () => () => undefined,
    closed: Effect.never,
    close: () => Effect.sync(() => void closes++)
  } as unknown as ConnectionActor.Handle
  return { handle, closes: () => closes, state }
}

const link = (stations: ReadonlyArray<ReturnType<typeof station> | undefined>, realm: string) =>
  Effect.gen(function*() {
    const seeds = stations.map((_, i) => seed(`quic://127.0.0.1:${4001 + i}`))
    const dialer = {
      dial: (url: string) => {
        const s = stations[seeds.findIndex((x) => x.url === url)]
        return s === undefined || !s.state.up ? Effect.fail(new Error("unreachable")) : Effect.succeed(s.handle)
      }
    } as unknown as TransportSupervisor.Dialer
    const view: StationLink.LinkView = { home: undefined, failovers: 0 }
    const events: Array<StationLink.LinkEvent> = []
    yield* Actor.spawn(StationLink.behavior({
      seeds,
      dialer: () => dialer,
      reconnectMinMs: 250,
      reconnectMaxMs: 30_000,
      failoverAfterMs: 1_000,
      dialTimeoutMs: 10_000,
      view,
      realm,
      onEvent: (event) => void events.push(event)
    }))
    yield* Effect.repeat(Effect.yieldNow, { times: 50 })
    return { seeds, view, events }
  })

describe("StationLink and served realms", () => {
  it("servesRealm: an empty list serves every realm; otherwise the realm must be listed", () => {
    const id = Realm.idHex("io.example")
    expect(StationLink.servesRealm([], id)).toBe(true)
    expect(StationLink.servesRealm(undefined, id)).toBe(true)
    expect(StationLink.servesRealm([Realm.id("io.example")], id)).toBe(true)
    expect(StationLink.servesRealm([Realm.id("io.other")], id)).toBe(false)
    expect(StationLink.servesRealm([Realm.id("io.other")], undefined)).toBe(true)
  })

  effect("passes over a station that does not serve the realm and closes its connection", () =>
    Effect.gen(function*() {
      const refusing = station("did:key:refusing", ["io.served"])
      const serving = station("did:key:serving", [])
      const { seeds, view, events } = yield* link([refusing, serving], "io.other")
      expect(view.home?.did).toBe("did:key:serving")
      expect(events).toContainEqual({ _tag: "RealmRefused", seed: seeds[0]!.url, index: 0, did: "did:key:refusing" })
      expect(events.some((e) => e._tag === "NoStationServesRealm")).toBe(false)
      expect(refusing.closes()).toBe(1)
      expect(serving.closes()).toBe(0)
    }))

  effect("attaches to the first refusing station and warns when none serves the realm", () =>
    Effect.gen(function*() {
      const first = station("did:key:first", ["io.served"])
      const second = station("did:key:second", ["io.elsewhere"])
      const { seeds, view, events } = yield* link([first, undefined, second], "io.other")
      expect(view.home?.did).toBe("did:key:first")
      expect(events.filter((e) => e._tag === "RealmRefused").map((e) => e._tag === "RealmRefused" && e.did))
        .toEqual(["did:key:first", "did:key:second"])
      expect(events).toContainEqual({ _tag: "NoStationServesRealm", realm: "io.other", seed: seeds[0]!.url, did: "did:key:first" })
      // The one kept is the one attached; the other refusing connection is closed.
      expect(first.closes()).toBe(0)
      expect(second.closes()).toBe(1)
      expect(events.some((e) => e._tag === "Waiting")).toBe(false)
    }))

  effect("while attached to a refusing station, moves to a serving one once it answers", () =>
    Effect.gen(function*() {
      const refusing = station("did:key:refusing", ["io.served"])
      const serving = station("did:key:serving", [], { up: false })
      const { seeds, view, events } = yield* link([refusing, serving], "io.other")
      expect(view.home?.did).toBe("did:key:refusing")
      expect(events.some((e) => e._tag === "NoStationServesRealm")).toBe(true)
      // Nothing serves yet: the first probe (after reconnectMaxMs) finds nothing and stays.
      yield* TestClock.adjust(30_000)
      yield* Effect.repeat(Effect.yieldNow, { times: 50 })
      expect(view.home?.did).toBe("did:key:refusing")
      serving.state.up = true
      yield* TestClock.adjust(30_000)
      yield* Effect.repeat(Effect.yieldNow, { times: 50 })
      expect(view.home?.did).toBe("did:key:serving")
      expect(events).toContainEqual({ _tag: "FailingOver", from: seeds[0]!.url, to: seeds[1]!.url })
      expect(refusing.closes()).toBe(1)
      expect(view.failovers).toBe(1)
    }))

  effect("waits and retries when no seed answers at all, as before", () =>
    Effect.gen(function*() {
      const { view, events } = yield* link([undefined, undefined], "io.other")
      expect(view.home).toBeUndefined()
      expect(events.filter((e) => e._tag === "Waiting")).toHaveLength(1)
      yield* TestClock.adjust(1_000)
      yield* Effect.repeat(Effect.yieldNow, { times: 50 })
      expect(events.filter((e) => e._tag === "DialFailed").length).toBeGreaterThanOrEqual(4)
    }))
})

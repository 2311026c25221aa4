/**
 * The pure parts of the client's station link: seed rotation, the redial backoff and window, and
 * when a connection counts as lost.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect, it } from "vitest"
import type * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Config from "../../../src/node/Config.ts"
import * as StationLink from "../../../src/node/StationLink.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import type * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"
import { effect } from "../../support/it.ts"

const seed = (url: string) => Config.parseSeed(url) as Config.Seed

/**
 * A stand-in connection whose close never finishes draining (as a QUIC close towards a dead
 * peer can take seconds): `closed` never completes, only the status turns to `closing`.
 */
const stalledConnection = (did: string) => {
  let status = { peerDid: did, phase: "ready", ending: undefined, peerHello: undefined } as unknown as (
    ConnectionActor.Status
  )
  const listeners = new Set<(status: ConnectionActor.Status) => void>()
  const handle = {
    connectionId: did,
    peerDid: did,
    direction: "outbound",
    remoteAddress: "",
    status: () => status,
    watch: (listener: (status: ConnectionActor.Status) => void) => {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    closed: Effect.never
  } as unknown as ConnectionActor.Handle
  const loseLiveness = () => {
    status = { ...status, phase: "closing", ending: { code: "liveness_lost", by: "local" } }
    for (const listener of listeners) listener(status)
  }
  return { handle, loseLiveness }
}

describe("StationLink", () => {
  it("rotates through the seeds in order, wrapping around", () => {
    expect([0, 1, 2].map((i) => StationLink.nextSeed(i, 3))).toEqual([1, 2, 0])
    expect(StationLink.nextSeed(0, 1)).toBe(0)
    expect(StationLink.nextSeed(5, 0)).toBe(0)
  })

  it("doubles the redial delay from reconnectMinMs up to reconnectMaxMs, spread by ±20 %", () => {
    const mid = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => StationLink.backoffMs(250, 30_000, n, 0.5))
    expect(mid).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000])
    expect(StationLink.backoffMs(250, 30_000, 1, 0)).toBe(200)
    expect(StationLink.backoffMs(250, 30_000, 1, 0.999_999)).toBe(300)
    expect(StationLink.backoffMs(250, 30_000, 40, 0.5)).toBe(30_000)
  })

  it("redials a lost station only for what is left of failoverAfterMs", () => {
    expect(StationLink.redialWindowLeftMs(10_000, 10_000, 1_000)).toBe(1_000)
    expect(StationLink.redialWindowLeftMs(10_000, 10_750, 1_000)).toBe(250)
    expect(StationLink.redialWindowLeftMs(10_000, 11_000, 1_000)).toBe(0)
    expect(StationLink.redialWindowLeftMs(10_000, 19_000, 1_000)).toBe(0)
    expect(StationLink.redialWindowLeftMs(10_000, 10_000, 0)).toBe(0)
  })

  it("counts a station lost once its connection starts closing, not when the close has drained", () => {
    expect(StationLink.isEnding({ phase: "closing" })).toBe(true)
    expect(StationLink.isEnding({ phase: "closed" })).toBe(true)
    for (const phase of ["idle", "handshaking", "ready"] as const) expect(StationLink.isEnding({ phase })).toBe(false)
  })

  it("adds the stations a home offered after the seeds, pinned to their DIDs", () => {
    const a = Identity.fromSeed(new Uint8Array(32).fill(1))
    const b = Identity.fromSeed(new Uint8Array(32).fill(2))
    const c = Identity.fromSeed(new Uint8Array(32).fill(3))
    const seeds = [seed(`quic://127.0.0.1:4001#${a.did}`)]
    const offered = StationLink.offeredSeeds([
      { pk: a.publicKey, a: ["quic://127.0.0.1:4001"] }, // already a seed
      { pk: b.publicKey, a: ["tls://127.0.0.1:4002", "quic://127.0.0.1:4002"] },
      { pk: c.publicKey, a: ["quic://10.0.0.3:4003"] },
      { pk: new Uint8Array(32), a: ["quic://127.0.0.1:4009"] } // not a valid key
    ], seeds)
    expect(offered.map((s) => s.url)).toEqual([`quic://127.0.0.1:4002#${b.did}`, `quic://10.0.0.3:4003#${c.did}`])
    // Private addresses only when a seed is private too.
    const publicSeeds = [seed("quic://203.0.113.1:4433")]
    expect(StationLink.offeredSeeds([{ pk: b.publicKey, a: ["quic://127.0.0.1:4002"] }], publicSeeds)).toEqual([])
    // A home reached as an offered candidate stays in the rotation.
    const current = seed(`quic://127.0.0.1:4002#${b.did}`)
    expect(StationLink.offeredSeeds([{ pk: c.publicKey, a: ["quic://127.0.0.1:4003"] }], seeds, current).map((s) => s.did))
      .toEqual([b.did, c.did])
  })

  effect("fails over once the connection starts closing, without waiting for the close to drain", () =>
    Effect.gen(function*() {
      const first = stalledConnection("did:key:first")
      const second = stalledConnection("did:key:second")
      const seeds = [seed("quic://127.0.0.1:4001"), seed("quic://127.0.0.1:4002")]
      let firstAlive = true
      const dialer = {
        // The dead station never answers: each redial runs into its bound.
        dial: (url: string) =>
          url === seeds[0]!.url
            ? firstAlive ? Effect.succeed(first.handle) : Effect.never
            : Effect.succeed(second.handle)
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
        onEvent: (event) => void events.push(event)
      }))
      const settle = Effect.repeat(Effect.yieldNow, { times: 50 })
      yield* settle
      expect(view.home?.did).toBe("did:key:first")

      firstAlive = false
      first.loseLiveness()
      yield* settle
      expect(view.home).toBeUndefined()
      expect(events.at(-1)).toMatchObject({ _tag: "Down", code: "liveness_lost", by: "local" })
      // failoverAfterMs of redials to the dead station, then the next seed.
      for (let t = 0; t < 1_100; t += 50) {
        yield* TestClock.adjust(50)
        yield* settle
      }
      expect(view.home?.did).toBe("did:key:second")
      expect(view.failovers).toBe(1)
    }))
})

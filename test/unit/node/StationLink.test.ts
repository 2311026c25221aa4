/**
 * The pure parts of the client's station link: seed rotation and the redial backoff.
 */
import { describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Config from "../../../src/node/Config.ts"
import * as StationLink from "../../../src/node/StationLink.ts"

const seed = (url: string) => Config.parseSeed(url) as Config.Seed

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
})

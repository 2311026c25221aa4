/**
 * The revocation knobs (PROTOCOL.md §13.6, §16): `revocationCacheMs` and `maxRevocationTtlMs`
 * have their §16 defaults, take overrides, are checked like every knob, and reach the port (the
 * negative-answer lifetime and the longest a revocation is kept).
 */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import * as Authorisation from "../../../src/node/Authorisation.ts"
import * as Config from "../../../src/node/Config.ts"
import { ConfigError } from "../../../src/node/Errors.ts"

describe("revocation knobs", () => {
  it("default to the §16 values and take overrides", () => {
    const resolved = Config.resolve({ role: "station" })
    if (resolved instanceof ConfigError) throw resolved
    expect(resolved.knobs.revocationCacheMs).toBe(60_000)
    expect(resolved.knobs.maxRevocationTtlMs).toBe(7_776_000_000)
    const tuned = Config.resolve({ role: "station", knobs: { revocationCacheMs: 5_000, maxRevocationTtlMs: 86_400_000 } })
    if (tuned instanceof ConfigError) throw tuned
    expect(tuned.knobs).toMatchObject({ revocationCacheMs: 5_000, maxRevocationTtlMs: 86_400_000 })
  })

  it("are refused when not positive integers", () => {
    const bad = Config.resolve({ role: "station", knobs: { revocationCacheMs: 0, maxRevocationTtlMs: 1.5 } })
    expect(bad).toBeInstanceOf(ConfigError)
    expect((bad as ConfigError).problems).toEqual([
      "knob revocationCacheMs must be an integer ≥ 1 (got 0)",
      "knob maxRevocationTtlMs must be an integer ≥ 1 (got 1.5)"
    ])
  })

  it("maxRevocationTtlMs bounds how long the port keeps a revocation", async () => {
    const authority = Identity.fromSeed(new Uint8Array(32).fill(41))
    const station = Identity.fromSeed(new Uint8Array(32).fill(42))
    const member = Identity.fromSeed(new Uint8Array(32).fill(43))
    const t0 = 1_800_000_000_000
    let now = t0
    // The delegation lives a year; the port keeps its revocation one day only.
    const cap = RealmCapabilities.issueMember({
      issuer: authority,
      member: member.did,
      realm: "io.example",
      topics: ["io.example/acme/#"],
      expiration: Math.floor(t0 / 1_000) + 365 * 86_400
    })[0]!
    const d = Ucan.Revocation.recordData(
      Ucan.revoke({ issuer: authority, subject: authority.did, delegation: Ucan.cid(cap), path: [Ucan.cid(cap)] }),
      [cap]
    )
    if (d instanceof Error) throw d
    const port = Authorisation.port({
      authorities: { "io.example": authority.did },
      station: station.did,
      now: () => now,
      maxRevocationTtlMs: 86_400_000
    })
    expect((await Effect.runPromise(port.learn(d)))._tag).toBe("Revoked")
    now += 86_400_000 - 1_000
    expect(port.isRevoked(Ucan.cid(cap))).toBe(true)
    now += 2_000
    expect(port.isRevoked(Ucan.cid(cap))).toBe(false)
  })
})

/**
 * `Config.resolve`: every rule of a node configuration, each failure a `ConfigError` listing
 * every problem (not just the first), defaults filled in, and the seed and listen parsers.
 */
import { describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import * as Config from "../../../src/node/Config.ts"
import { ConfigError } from "../../../src/node/Errors.ts"

const station = Identity.generate()
const seed = `quic://127.0.0.1:4433#${station.did}`

const problemsOf = (config: unknown): ReadonlyArray<string> => {
  const result = Config.resolve(config as Config.NodeConfig)
  if (!(result instanceof ConfigError)) throw new Error("expected a ConfigError")
  return result.problems
}

describe("Config.resolve", () => {
  it("fills in the defaults of a station: every interface, port 4433, the §16 knobs", () => {
    const resolved = Config.resolve({ role: "station" })
    if (resolved instanceof ConfigError) throw resolved
    expect(resolved.listen).toEqual({ host: "0.0.0.0", port: 4433 })
    expect(resolved.knobs).toEqual(Config.defaultKnobs)
    expect(resolved.knobs).toMatchObject({ appPingIntervalMs: 2_000, failoverAfterMs: 1_000, rootIntensity: 3, stationPowBits: 8 })
    expect(resolved.seeds).toEqual([])
  })

  it("parses a client's seeds in order, with and without a pinned DID", () => {
    const resolved = Config.resolve({ role: "client", realm: "io.example", seeds: [seed, "quic://[::1]:5000"] })
    if (resolved instanceof ConfigError) throw resolved
    expect(resolved.seeds.map((s) => s.did)).toEqual([station.did, undefined])
    expect(resolved.seeds[1]!.address).toMatchObject({ host: "::1", port: 5000 })
    expect(resolved.listen).toBeUndefined()
  })

  it("lists every problem of a bad config at once", () => {
    const problems = problemsOf({
      role: "client",
      realm: "Not A Realm",
      listen: "127.0.0.1:0",
      seeds: ["http://example.com", "quic://h:1#did:key:zNope"],
      capabilities: [new Uint8Array([1, 2, 3])],
      knobs: { appPingIntervalMs: -1, bogus: 3 }
    })
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringContaining("realm"),
      expect.stringContaining("a client never listens"),
      expect.stringContaining("http://example.com"),
      expect.stringContaining("quic://h:1#did:key:zNope"),
      expect.stringContaining("capability 0"),
      expect.stringContaining("appPingIntervalMs"),
      expect.stringContaining("unknown knob bogus")
    ]))
  })

  it("refuses a client without seeds, an unknown role and a malformed listen address", () => {
    expect(problemsOf({ role: "client" })).toEqual(["a client needs at least one seed"])
    expect(problemsOf({ role: "relay" })[0]).toContain("role must be")
    expect(problemsOf({ role: "station", listen: "localhost" })[0]).toContain("not host:port")
    expect(problemsOf({ role: "station", listen: "127.0.0.1:70000" })[0]).toContain("not host:port")
    expect(problemsOf(null)).toEqual(["config must be an object"])
  })

  it("checks realm authorities: valid realm names mapped to valid DIDs", () => {
    expect(Config.resolve({ role: "station", realmAuthorities: { "io.example": station.did } })).not.toBeInstanceOf(ConfigError)
    expect(problemsOf({ role: "station", realmAuthorities: { "io.example": "did:web:x" } })[0]).toContain("not a valid did:key")
    expect(problemsOf({ role: "station", realmAuthorities: { "a/b": station.did } })[0]).toContain("not a valid realm name")
  })

  it("accepts capabilities that decode as UCANs", () => {
    const authority = Identity.generate()
    const delegation = Ucan.delegate({ issuer: authority, audience: station.did, subject: authority.did, command: "/mesh", expiration: null })
    const resolved = Config.resolve({ role: "client", seeds: [seed], capabilities: [delegation] })
    expect(resolved).not.toBeInstanceOf(ConfigError)
  })

  it("keeps knob relations: probe timeout below the interval, backoff bounds ordered", () => {
    expect(problemsOf({ role: "station", knobs: { probeTimeoutMs: 1_000 } })).toEqual(["knob probeTimeoutMs must be below probeIntervalMs"])
    expect(problemsOf({ role: "client", seeds: [seed], knobs: { reconnectMinMs: 5_000, reconnectMaxMs: 1_000 } }))
      .toEqual(["knob reconnectMinMs must not exceed reconnectMaxMs"])
    expect(problemsOf({ role: "station", knobs: { stationPowBits: 30 } })).toEqual(["knob stationPowBits must be at most 24"])
  })
})

describe("address parsers", () => {
  it("parses host:port with IPv6 brackets and port 0, and nothing else", () => {
    expect(Config.parseHostPort("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 })
    expect(Config.parseHostPort("[::1]:4433")).toEqual({ host: "::1", port: 4433 })
    for (const bad of ["", "127.0.0.1", ":4433", "host:port", "a:b:c", "quic://h:1"]) expect(Config.parseHostPort(bad)).toBeUndefined()
  })

  it("accepts only quic:// seeds, with a valid pinned DID", () => {
    expect(Config.parseSeed("quic://example.com")).toMatchObject({ address: { host: "example.com", port: 4433 } })
    expect(Config.parseSeed("tls://example.com:1")).toContain("only quic://")
    expect(Config.parseSeed("example.com:1")).toContain("is not quic://host:port")
  })

  it("tells loopback, private and link-local hosts (acceptPrivateAddrs auto) from the rest", () => {
    for (const host of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.1", "192.168.1.1", "169.254.0.1", "::1", "fd00::1", "fe80::1", "localhost"]) {
      expect(Config.isPrivateHost(host)).toBe(true)
    }
    for (const host of ["0.0.0.0", "::", "8.8.8.8", "172.32.0.1", "2001:db8::1", "example.com"]) expect(Config.isPrivateHost(host)).toBe(false)
  })

  it("tells valid realm names from invalid ones", () => {
    expect(Config.isRealmName("io.macula")).toBe(true)
    expect(Config.isRealmName("")).toBe(false)
    expect(Config.isRealmName("a/b")).toBe(false)
    expect(Config.isRealmName("_system")).toBe(false)
  })
})

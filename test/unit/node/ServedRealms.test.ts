/**
 * `servedRealms` in the node config and on the `macula station` command line: realm names in,
 * realm ids out (SHA-256 of the name, §1), duplicates once, every bad entry a problem of one
 * `ConfigError`, a station setting only; `--realm NAME` (repeatable) sets it.
 */
import { describe, expect, it } from "vitest"
import { UsageError } from "../../../src/cli/Args.ts"
import * as Station from "../../../src/cli/Station.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Config from "../../../src/node/Config.ts"
import { ConfigError } from "../../../src/node/Errors.ts"

describe("servedRealms", () => {
  it("resolves realm names to realm ids, in order, each once; none means every realm", () => {
    const resolved = Config.resolve({ role: "station", servedRealms: ["io.macula", "io.example", "io.macula"] })
    if (resolved instanceof ConfigError) throw resolved
    expect(resolved.servedRealms).toEqual([
      "abb81b5a614b63551b400b810648c0c8a78efad845442630c94b46cc95d2fcd1", // §1 vector
      Realm.idHex("io.example")
    ])
    const open = Config.resolve({ role: "station" })
    if (open instanceof ConfigError) throw open
    expect(open.servedRealms).toEqual([])
  })

  it("lists every bad entry in one ConfigError", () => {
    const result = Config.resolve({ role: "station", servedRealms: ["io.ok", "IO.Bad", "a/b", 7 as unknown as string] })
    expect(result).toBeInstanceOf(ConfigError)
    expect((result as ConfigError).problems).toEqual([
      'servedRealms entry "IO.Bad" is not a valid realm name',
      'servedRealms entry "a/b" is not a valid realm name',
      "servedRealms entry 7 is not a valid realm name"
    ])
    expect((Config.resolve({ role: "station", servedRealms: "io.ok" as unknown as Array<string> }) as ConfigError).problems)
      .toEqual(["servedRealms must be an array of realm names"])
  })

  it("is a station setting", () => {
    const result = Config.resolve({ role: "client", realm: "io.ok", seeds: ["quic://127.0.0.1:1"], servedRealms: ["io.ok"] })
    expect((result as ConfigError).problems).toEqual(["servedRealms is a station setting: a client acts in its realm"])
  })

  it("is set by --realm on the station command line, and a bad name is a UsageError", () => {
    expect(Station.toConfig(["--listen", "127.0.0.1:0", "--realm", "io.a", "--realm", "io.b"]))
      .toEqual({ role: "station", listen: "127.0.0.1:0", seeds: [], realmAuthorities: {}, servedRealms: ["io.a", "io.b"] })
    const bad = Station.toConfig(["--listen", "127.0.0.1:0", "--realm", "Io.A"])
    expect(bad).toBeInstanceOf(UsageError)
    expect((bad as UsageError).message).toBe('station: --realm "Io.A" is not a valid realm name')
    expect(Station.warnings({ role: "station", servedRealms: ["io.a"] }))
      .toContain("note: serving only io.a; clients of other realms are refused (realm_refused)")
  })
})

/**
 * `acceptPushFrom` in the node's configuration (PROTOCOL.md §12.6, §16): the role's default,
 * the accepted forms, and a `ConfigError` naming each bad entry.
 */
import { describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Config from "../../../src/node/Config.ts"
import { ConfigError } from "../../../src/node/Errors.ts"

const client = { role: "client" as const, realm: "io.example", seeds: ["quic://127.0.0.1:4433"] }
const station = { role: "station" as const, listen: "127.0.0.1:0" }
const did = Identity.generate().did

const resolved = (config: Config.NodeConfig): Config.Resolved => {
  const r = Config.resolve(config)
  if (r instanceof ConfigError) throw new Error(r.problems.join("; "))
  return r
}

describe("acceptPushFrom", () => {
  it("defaults to a station's attached clients and to nobody on a client", () => {
    expect(resolved(station).acceptPushFrom).toEqual({ any: false, attached: true, dids: [] })
    expect(resolved(client).acceptPushFrom).toEqual({ any: false, attached: false, dids: [] })
  })

  it("takes none, any, attached and lists of DIDs", () => {
    expect(resolved({ ...station, acceptPushFrom: "none" }).acceptPushFrom).toEqual({ any: false, attached: false, dids: [] })
    expect(resolved({ ...client, acceptPushFrom: "any" }).acceptPushFrom.any).toBe(true)
    expect(resolved({ ...client, acceptPushFrom: [did] }).acceptPushFrom).toEqual({ any: false, attached: false, dids: [did] })
    expect(resolved({ ...station, acceptPushFrom: ["attached", did] }).acceptPushFrom).toEqual({ any: false, attached: true, dids: [did] })
  })

  it("is a ConfigError naming every bad entry", () => {
    const bad = Config.resolve({ ...client, acceptPushFrom: ["did:key:nope", did, "all"] })
    expect(bad).toBeInstanceOf(ConfigError)
    const problems = (bad as ConfigError).problems
    expect(problems.filter((p) => p.startsWith("acceptPushFrom"))).toHaveLength(2)
    expect(Config.resolve({ ...client, acceptPushFrom: "everyone" as never })).toBeInstanceOf(ConfigError)
  })

  it("has a pushTimeoutMs knob, checked like the others", () => {
    expect(Config.defaultKnobs.pushTimeoutMs).toBe(300_000)
    expect(Config.resolve({ ...client, knobs: { pushTimeoutMs: 0 } })).toBeInstanceOf(ConfigError)
  })
})

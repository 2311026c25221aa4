/**
 * `macula station`: the command line to node config, knob overrides, the stderr lines of node
 * events and the open-realm warnings.
 */
import { describe, expect, it } from "vitest"
import { UsageError } from "../../../src/cli/Args.ts"
import * as Station from "../../../src/cli/Station.ts"
import { Identity } from "../../../src/identity/Identity.ts"

const did = Identity.generate().did

describe("macula station", () => {
  it("turns the command line into a station config", () => {
    expect(Station.toConfig([
      "--listen", "127.0.0.1:0", "--data", "/var/lib/macula", "--seed", "quic://a:1", "--seed", "quic://b:2",
      "--authority", `io.example=${did}`, "--knob", "probeIntervalMs=200"
    ])).toEqual({
      role: "station",
      listen: "127.0.0.1:0",
      dataDir: "/var/lib/macula",
      seeds: ["quic://a:1", "quic://b:2"],
      realmAuthorities: { "io.example": did },
      knobs: { probeIntervalMs: 200 }
    })
    expect(Station.toConfig(["--listen", "[::1]:4433"])).toEqual({ role: "station", listen: "[::1]:4433", seeds: [], realmAuthorities: {} })
  })

  it("refuses a bad command line with a UsageError", () => {
    const message = (args: ReadonlyArray<string>) => (Station.toConfig(args) as UsageError).message
    expect(Station.toConfig([])).toBeInstanceOf(UsageError)
    expect(message([])).toBe("station: --listen is required")
    expect(message(["--listen", "4433"])).toBe('station: --listen must be HOST:PORT (got "4433")')
    expect(message(["--listen", "h:1", "--authority", did])).toContain("--authority must be REALM=DID")
    expect(message(["--listen", "h:1", "--authority", `a=${did}`, "--authority", `a=${did}`])).toContain("given twice")
    expect(message(["--listen", "h:1", "--knob", "nope=1"])).toBe("station: unknown knob nope")
    expect(message(["--listen", "h:1", "--knob", "probeIntervalMs"])).toContain("NAME=INTEGER")
    expect(message(["--listen", "h:1", "--content-policy", "members"])).toContain("open or members:REALM")
    expect(message(["--listen", "h:1", "--content-policy", "members:Not A Realm"])).toContain("open or members:REALM")
  })

  it("takes whom it accepts pushes from and its content policy", () => {
    const base = ["--listen", "h:1", "--authority", `io.example=${did}`]
    expect(Station.toConfig([...base, "--accept-push-from", "any", "--content-policy", "members:io.example"])).toMatchObject({
      acceptPushFrom: "any",
      contentServePolicy: { members: "io.example" }
    })
    expect(Station.toConfig([...base, "--accept-push-from", "attached", "--accept-push-from", did])).toMatchObject({ acceptPushFrom: ["attached", did] })
    expect(Station.toConfig([...base, "--content-policy", "open"])).toMatchObject({ contentServePolicy: "open" })
    expect(Station.toConfig(base)).not.toHaveProperty("acceptPushFrom")
  })

  it("warns that realms without an authority run open", () => {
    expect(Station.warnings({ role: "station" })).toEqual([expect.stringContaining("every realm runs open")])
    expect(Station.warnings({ role: "station", realmAuthorities: { "io.example": did } }))
      .toEqual([expect.stringContaining("realms other than io.example run open"), expect.stringContaining("only UCAN chains rooted at the pinned authority")])
  })

  it("writes one stderr line per interesting node event", () => {
    expect(Station.describeEvent({ _tag: "Membership", change: "dead", did, incarnation: 3 }))
      .toBe(`membership: ${did} dead (incarnation 3)`)
    expect(Station.describeEvent({
      _tag: "Connection", change: "ready", did, role: "client", direction: "inbound", remoteAddress: "quic://127.0.0.1:5"
    })).toBe(`connection ready: client ${did} (inbound, quic://127.0.0.1:5)`)
    expect(Station.describeEvent({ _tag: "Link", event: { _tag: "FailingOver", from: "quic://a:1", to: "quic://b:2" } }))
      .toBe("link: failing over from quic://a:1 to quic://b:2")
  })
})

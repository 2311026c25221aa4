/**
 * `macula sub|pub|call`: command lines, the JSON lines `sub` prints, and the one-line errors.
 */
import { describe, expect, it } from "vitest"
import { UsageError } from "../../../src/cli/Args.ts"
import * as Client from "../../../src/cli/Client.ts"
import { CallTimeout, ConnectionLost, NoProvider, RemoteError, Unauthorized } from "../../../src/node/Errors.ts"
import { TopicError } from "../../../src/topic/index.ts"

const seed = "quic://127.0.0.1:4433"
const topic = "io.example/acme/shop/orders/placed_v1"

describe("macula sub|pub|call", () => {
  it("parses each command line into a client config", () => {
    expect(Client.parse("pub", ["--seed", seed, "--seed", "quic://h:1", "--realm", "io.example", topic, '{"n":1}'])).toEqual({
      command: "pub",
      target: topic,
      value: { n: 1 },
      capFiles: [],
      config: { role: "client", realm: "io.example", seeds: [seed, "quic://h:1"] }
    })
    expect(Client.parse("call", ["--seed", seed, "--realm", "io.example", "--timeout", "750", "--data", "/d", topic, "[1,2]"])).toMatchObject({
      value: [1, 2],
      timeoutMs: 750,
      config: { dataDir: "/d" }
    })
    expect(Client.parse("sub", ["--seed", seed, "--realm", "io.example", "--cap", "m.ucan", "io.example/#"])).toMatchObject({
      target: "io.example/#",
      capFiles: ["m.ucan"]
    })
  })

  it("parses call --direct (find the station) and --direct-to ADDRESS (name it)", () => {
    const call = (...extra: Array<string>) => Client.parse("call", ["--seed", seed, "--realm", "io.example", ...extra, topic, "{}"])
    const station = "quic://127.0.0.1:4433#did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    expect(call()).not.toHaveProperty("direct")
    expect(call("--direct")).toMatchObject({ direct: true, target: topic, value: {} })
    expect(call("--direct-to", station)).toMatchObject({ direct: station })
    expect(call(`--direct-to=tls://[::1]:9000`)).toMatchObject({ direct: "tls://[::1]:9000" })
    const message = (...extra: Array<string>) => {
      const r = call(...extra)
      return r instanceof UsageError ? r.message : "parsed"
    }
    expect(message("--direct", "--direct-to", station)).toMatch(/^call: --direct .* exclude each other$/)
    expect(message("--direct-to", "station-b")).toMatch(/^call: --direct-to "station-b" is not a station address/)
    expect(message("--direct-to", "http://h:1")).toMatch(/is not a station address/)
    const trailing = Client.parse("call", ["--seed", seed, "--realm", "io.example", topic, "{}", "--direct-to"])
    expect(trailing instanceof UsageError ? trailing.message : "parsed").toMatch(/--direct-to needs a value/)
    expect(message("--direct=yes")).toBe("call: --direct takes no value")
    const pub = Client.parse("pub", ["--seed", seed, "--realm", "io.example", "--direct", topic, "{}"])
    expect(pub instanceof UsageError ? pub.message : "parsed").toMatch(/unknown option --direct/)
  })

  it("refuses a wrong command line with a UsageError", () => {
    const message = (command: Client.Command, args: Array<string>) => {
      const r = Client.parse(command, args)
      return r instanceof UsageError ? r.message : "parsed"
    }
    expect(message("pub", ["--seed", seed, topic, "{}"])).toBe("pub: --realm is required")
    expect(message("pub", ["--seed", seed, "--realm", "io.example", topic, "{oops"])).toMatch(/^pub: JSON argument is not valid JSON/)
    expect(message("sub", ["--seed", seed, "--realm", "io.other", topic])).toBe(`sub: "${topic}" is in realm "io.example", not --realm "io.other"`)
    expect(message("call", ["--seed", seed, "--realm", "io.example", "--timeout", "0", topic, "{}"])).toMatch(/--timeout must be an integer from 1/)
    expect(message("call", ["--seed", seed, "--realm", "io.example", topic])).toBe("call: missing JSON")
  })

  it("prints events as one JSON line each, bytes as base64", () => {
    const line = Client.eventLine({ topic, payload: { b: Uint8Array.of(1, 2, 3), n: 1 }, publisher: "did:key:z6Mk", seq: 4, ts: 5 })
    expect(line).toBe(`{"topic":"${topic}","payload":{"b":{"$bytes":"AQID"},"n":1},"publisher":"did:key:z6Mk","seq":4,"ts":5}`)
    expect(line.includes("\n")).toBe(false)
    expect(Client.toJson(undefined)).toBe("null")
  })

  it("says what went wrong in one line", () => {
    expect(Client.describeFailure("x", new TopicError({ reason: "missing_version_suffix", detail: "d" })))
      .toBe('invalid topic "x": missing_version_suffix (d)')
    expect(Client.describeFailure("x/#/y", new TopicError({ reason: "invalid_pattern", detail: "d" }))).toMatch(/^invalid pattern/)
    expect(Client.describeFailure("p", new CallTimeout({ procedure: "p", timeoutMs: 500 }))).toBe("timeout: no reply from p within 500 ms")
    expect(Client.describeFailure("p", new NoProvider({ procedure: "p" }))).toBe("no provider: nobody advertises p")
    expect(Client.describeFailure("p", new NoProvider({ procedure: "p", detail: "no station record with an address" })))
      .toBe("no provider for p: no station record with an address")
    expect(Client.describeFailure("t", new Unauthorized({ operation: "publish", reason: "Expired" })))
      .toBe("refused by the station: unauthorized (Expired); the capability does not allow it")
    expect(Client.describeFailure("p", new RemoteError({ code: "handler_error", message: "boom" }))).toBe("the provider's handler failed: boom")
    expect(Client.describeFailure("t", new ConnectionLost({ code: "unreachable", reason: "none answered" })))
      .toBe("station unreachable or lost (unreachable): none answered")
  })
})

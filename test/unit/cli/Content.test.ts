/**
 * `macula put` / `macula get` command lines and their one-line failures (src/cli/Content.ts).
 */
import { describe, expect, it } from "vitest"
import { UsageError } from "../../../src/cli/Args.ts"
import * as Content from "../../../src/cli/Content.ts"
import { capture } from "../../../src/cli/Io.ts"

describe("parse", () => {
  it("reads put's file and get's MCID and -o", () => {
    expect(Content.parse("put", ["--seed", "quic://h:1", "--realm", "io.example", "f.bin"])).toMatchObject({
      command: "put",
      target: "f.bin",
      config: { role: "client", realm: "io.example", seeds: ["quic://h:1"] }
    })
    expect(Content.parse("get", ["--seed", "quic://h:1", "--realm", "r", "bafk", "-o", "out", "--data", "d"])).toMatchObject({
      command: "get",
      target: "bafk",
      output: "out",
      config: { dataDir: "d" }
    })
  })

  it("reads put's --to DID and --timeout, and refuses a bad DID, a bad timeout and --timeout alone", () => {
    const did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    const base = ["--seed", "quic://h:1", "--realm", "r", "f.bin"]
    expect(Content.parse("put", [...base, "--to", did, "--timeout", "5000"])).toMatchObject({ to: did, timeoutMs: 5000 })
    expect(Content.parse("put", base)).not.toHaveProperty("to")
    expect(Content.parse("put", [...base, "--to", "did:key:nope"])).toMatchObject({ _tag: "UsageError", message: expect.stringContaining("did:key") })
    expect(Content.parse("put", [...base, "--to", did, "--timeout", "soon"])).toBeInstanceOf(UsageError)
    expect(Content.parse("put", [...base, "--timeout", "5000"])).toBeInstanceOf(UsageError)
  })

  it("refuses a get without -o and a put without a file", () => {
    expect(Content.parse("get", ["--seed", "quic://h:1", "--realm", "r", "bafk"])).toBeInstanceOf(UsageError)
    expect(Content.parse("put", ["--seed", "quic://h:1", "--realm", "r"])).toBeInstanceOf(UsageError)
  })
})

describe("failures", () => {
  it("say what went wrong in one line", () => {
    expect(Content.describeFailure("get", "bx", { _tag: "ContentNotFound", mcid: "bx" })).toBe("content not found: bx (no provider has it)")
    expect(Content.describeFailure("get", "bx", { _tag: "McidError" })).toMatch(/^invalid MCID "bx"/)
    expect(Content.describeFailure("put", "f", { _tag: "PushFailed", reason: "declined", to: "did:key:z6MkB" }))
      .toMatch(/^push refused by did:key:z6MkB \(its acceptPushFrom/)
    expect(Content.describeFailure("put", "f", { _tag: "PushFailed", reason: "timeout", to: "did:key:z6MkB" })).toMatch(/^push to did:key:z6MkB timed out/)
    expect(Content.describeFailure("put", "f", { _tag: "ConnectionLost", code: "unreachable", reason: "none answered" }))
      .toBe("station unreachable or lost (unreachable): none answered")
  })

  it("fail before connecting for an invalid MCID or an unreadable file", async () => {
    const io = capture()
    expect(await Content.run("get", ["--seed", "quic://127.0.0.1:9", "--realm", "r", "bnope", "-o", "x"], io)).toBe(1)
    expect(await Content.run("put", ["--seed", "quic://127.0.0.1:9", "--realm", "r", "/nonexistent/file"], io)).toBe(1)
    expect(io.stderr).toEqual([
      'macula get: invalid MCID "bnope": expected "b" and 55 base32 characters',
      "macula put: cannot read /nonexistent/file: ENOENT"
    ])
    expect(io.stdout).toEqual([])
  })
})

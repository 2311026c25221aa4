/**
 * `--cap FILE` of the client commands: capability files read back into their delegations, and
 * every bad file refused as a wrong command line (`UsageError`, exit 2) naming the file; the
 * Unauthorized line when capabilities were given but none covers the target.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { UsageError } from "../../../src/cli/Args.ts"
import * as Capabilities from "../../../src/cli/Capabilities.ts"
import { describeFailure } from "../../../src/cli/Client.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import { Unauthorized } from "../../../src/node/Errors.ts"

const dir = mkdtempSync(join(tmpdir(), "macula-caps-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const authority = Identity.fromSeed(new Uint8Array(32).fill(1))
const member = Identity.fromSeed(new Uint8Array(32).fill(3))
const nowSec = 1_800_000_000
const write = (name: string, bytes: Uint8Array | string): string => {
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}
const issue = (expiration: number) =>
  RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm: "io.example", expiration })

const refusal = (files: ReadonlyArray<string>): string => {
  try {
    Capabilities.readFiles("pub", files, nowSec)
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return (error as UsageError).message
  }
  throw new Error("not refused")
}

describe("Capabilities.readFiles", () => {
  it("reads every delegation of every file, in order", () => {
    const first = issue(nowSec + 60)
    const second = issue(nowSec + 120).slice(0, 1)
    const got = Capabilities.readFiles("pub", [write("a.ucan", Capabilities.encode(first)), write("b.ucan", second[0]!)], nowSec)
    expect(got).toEqual([...first, ...second])
  })

  it("refuses a missing, a malformed, an empty and an expired file, and an invocation", () => {
    expect(refusal([join(dir, "missing.ucan")])).toMatch(/^pub: --cap \S+missing\.ucan: cannot read: ENOENT$/)
    expect(refusal([write("text.ucan", "not a capability")])).toMatch(/^pub: --cap \S+text\.ucan: not a capability file \(/)
    expect(refusal([write("empty.ucan", new Uint8Array(0))])).toMatch(/empty\.ucan: not a capability file \(the file holds no delegation\)$/)
    const caps = issue(nowSec - 10)
    expect(refusal([write("old.ucan", Capabilities.encode(caps))])).toMatch(
      new RegExp(`old\\.ucan: item 1 \\(/mesh/publish\\) expired at ${new Date((nowSec - 10) * 1_000).toISOString()}; ask for a new one$`)
    )
    const inv = RealmCapabilities.invokeMember({
      issuer: member, authority: authority.did, station: authority.did, realm: "io.example", command: "/mesh/publish",
      args: { topic: "io.example/acme/shop/orders/placed_v1" }, proofs: caps.slice(0, 1), expiration: nowSec + 60
    })
    expect(refusal([write("inv.ucan", inv)])).toMatch(/inv\.ucan: the token is an invocation, not a delegation$/)
  })
})

describe("describeFailure with capabilities", () => {
  it("says no delegation covers the target when capabilities were given", () => {
    const error = new Unauthorized({ operation: "publish", reason: "UnavailableProof" })
    expect(describeFailure("io.example/x/y/d/n_v1", error, true)).toBe(
      "refused by the station: unauthorized (UnavailableProof); no --cap delegation of this client covers io.example/x/y/d/n_v1"
    )
    expect(describeFailure("io.example/x/y/d/n_v1", error)).toBe(
      "refused by the station: unauthorized (UnavailableProof); the realm needs a capability and none was presented"
    )
  })
})

/**
 * `macula realm keygen | issue | revoke` in process: the delegations a station's check accepts,
 * the policies for topics, capability files as CBOR sequences, and typed refusals.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as Args from "../../../src/cli/Args.ts"
import { UsageError } from "../../../src/cli/Args.ts"
import * as Capabilities from "../../../src/cli/Capabilities.ts"
import * as Io from "../../../src/cli/Io.ts"
import * as RealmCommand from "../../../src/cli/RealmCommand.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import * as RealmCapabilities from "../../../src/identity/ucan/RealmCapabilities.ts"
import * as KeyFile from "../../../src/node/KeyFile.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "realm-cli-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const plan = (args: ReadonlyArray<string>) => {
  const parsed = Args.parse(RealmCommand.specs.issue, [...args, "--authority-key", "k", "--to", "d", "-o", "f"])
  if (parsed instanceof UsageError) throw parsed
  return RealmCommand.planIssue(parsed)
}

describe("realm issue: the plan", () => {
  it("grants /mesh for the realm by default, and publish+subscribe restricted to --topics", () => {
    expect(plan(["--realm", "io.example"])).toEqual({
      realm: "io.example",
      grants: [{ command: "/mesh", policy: [["==", ".realm", "io.example"]] }],
      ttlSec: RealmCommand.defaultTtlSec
    })
    expect(plan(["--topics", "io.example/acme/#"])).toMatchObject({
      realm: "io.example",
      grants: [
        { command: "/mesh/publish", policy: [["==", ".realm", "io.example"], ["like", ".topic", "io.example/acme/*"]] },
        { command: "/mesh/subscribe", policy: [["==", ".realm", "io.example"], ["like", ".topic", "io.example/acme/*"]] }
      ]
    })
  })

  it("takes short and full command names and a TTL; without a realm the policy is open", () => {
    expect(plan(["--commands", "call,/mesh/advertise", "--ttl", "60"])).toEqual({
      realm: undefined,
      grants: [{ command: "/mesh/call", policy: [] }, { command: "/mesh/advertise", policy: [] }],
      ttlSec: 60
    })
  })

  it("refuses what it cannot sign safely or at all", () => {
    const message = (args: ReadonlyArray<string>) => (plan(args) as UsageError).message
    expect(message(["--realm", "io.a", "--topics", "io.b/x/#"])).toContain("not in realm io.a")
    expect(message(["--commands", "mesh", "--topics", "io.a/x/#"])).toContain("cannot restrict /mesh")
    expect(message(["--commands", "publish", "--topics", "io.a/x y/#"])).toContain("not a valid topic or pattern")
    expect(message(["--commands", "Not a command"])).toContain("is not a command")
    expect(message(["--realm", "bad/realm"])).toContain("not a valid realm name")
    expect(message(["--realm", "io.a", "--ttl", "0"])).toContain("--ttl must be an integer")
  })
})

describe("realm commands", () => {
  it("keygen writes an owner-only key and prints its DID; issue writes delegations a station accepts", () => {
    const dir = tempDir()
    const keyPath = join(dir, "authority.key")
    const keygen = Io.capture()
    expect(RealmCommand.keygen(["-o", keyPath], keygen)).toBe(0)
    const authority = KeyFile.read(keyPath)
    expect(keygen.stdout).toEqual([authority.did])
    expect(statSync(keyPath).mode & 0o777).toBe(0o600)
    expect(() => RealmCommand.keygen(["-o", keyPath], Io.capture())).toThrow(/already exists/)

    const member = Identity.generate()
    const station = Identity.generate()
    const capPath = join(dir, "member.ucan")
    const now = 1_800_000_000
    const io = Io.capture()
    const args = ["--authority-key", keyPath, "--to", member.did, "--topics", "io.example/acme/#", "--ttl", "3600", "-o", capPath]
    expect(RealmCommand.issue(args, io, now)).toBe(0)
    const delegations = Capabilities.decode(readFileSync(capPath))
    expect(delegations).toHaveLength(2)
    expect(io.stdout).toEqual(delegations.map((d) => Ucan.cid(d)))
    const publish = Ucan.decode(delegations[0]!)
    expect(publish).toMatchObject({ kind: "delegation", iss: authority.did, aud: member.did, sub: authority.did, cmd: "/mesh/publish", exp: now + 3600 })

    const check = (topic: string) =>
      RealmCapabilities.check({
        invocation: RealmCapabilities.invokeMember({
          issuer: member, authority: authority.did, station: station.did, realm: "io.example",
          command: "/mesh/publish", args: { topic }, proofs: [delegations[0]!], expiration: now + 60
        }),
        proofs: [delegations[0]!],
        authority: authority.did,
        realm: "io.example",
        station: station.did,
        peer: member.did,
        command: "/mesh/publish",
        now
      })
    expect(check("io.example/acme/app/orders/placed_v1").ok).toBe(true)
    expect(check("io.example/other/app/orders/placed_v1")).toMatchObject({ ok: false, error: { name: "MatchError" } })
  })

  it("a single-command file is exactly one delegation that Ucan.decode reads directly", () => {
    const dir = tempDir()
    const keyPath = join(dir, "a.key")
    RealmCommand.keygen(["-o", keyPath], Io.capture())
    const out = join(dir, "one.ucan")
    RealmCommand.issue(["--authority-key", keyPath, "--to", Identity.generate().did, "--realm", "io.example", "-o", out], Io.capture())
    expect(Ucan.decode(readFileSync(out))).toMatchObject({ cmd: "/mesh", pol: [["==", ".realm", "io.example"]] })
  })

  it("revoke builds a /ucan/revoke of the delegation that verifies, with its path from the capability files", async () => {
    const dir = tempDir()
    const keyPath = join(dir, "a.key")
    RealmCommand.keygen(["-o", keyPath], Io.capture())
    const authority = KeyFile.read(keyPath)
    const capPath = join(dir, "m.ucan")
    const issued = Io.capture()
    RealmCommand.issue(["--authority-key", keyPath, "--to", Identity.generate().did, "--realm", "io.example", "-o", capPath], issued)
    const cid = issued.stdout[0]!
    const revPath = join(dir, "r.ucan")
    const io = Io.capture()
    expect(await RealmCommand.revoke(["--authority-key", keyPath, "--cid", cid, "--cap", capPath, "-o", revPath], io)).toBe(0)
    const revocation = readFileSync(revPath)
    expect(io.stdout).toEqual([Ucan.cid(revocation)])
    const verdict = Ucan.verifyRevocation(revocation, [readFileSync(capPath)], { now: Math.floor(Date.now() / 1000) })
    expect(verdict).toMatchObject({ ok: true, revoked: cid, revoker: authority.did })
    // Offline without --cap: still written (the proofs travel separately).
    expect(await RealmCommand.revoke(["--authority-key", keyPath, "--cid", cid, "-o", join(dir, "r1.ucan")], Io.capture())).toBe(0)
    await expect(RealmCommand.revoke(["--authority-key", keyPath, "--cid", cid, "-o", join(dir, "r2.ucan"), "--seed", "quic://h:1"], Io.capture()))
      .rejects.toThrow(/--seed needs --cap/)
    await expect(RealmCommand.revoke(["--authority-key", keyPath, "--cid", "bafynot"], Io.capture())).rejects.toThrow(/give -o FILE/)
    await expect(RealmCommand.revoke(["--authority-key", keyPath, "--cid", "nope", "-o", join(dir, "x")], Io.capture())).rejects.toThrow(UsageError)
    // A delegation the files do not hold, and a revoker off the path.
    await expect(RealmCommand.revoke(["--authority-key", keyPath, "--cid", Ucan.cid(revocation), "--cap", capPath, "-o", join(dir, "y")], Io.capture()))
      .rejects.toThrow(/no --cap file holds/)
    const otherKey = join(dir, "b.key")
    RealmCommand.keygen(["-o", otherKey], Io.capture())
    await expect(RealmCommand.revoke(["--authority-key", otherKey, "--cid", cid, "--cap", capPath, "-o", join(dir, "z")], Io.capture()))
      .rejects.toThrow(RealmCommand.RealmCommandError)
  })

  it("revocationPath walks from the revoked delegation up to a root", () => {
    const root = Identity.generate()
    const mid = Identity.generate()
    const leaf = Identity.generate()
    const top = Ucan.delegate({ issuer: root, audience: mid.did, subject: root.did, command: "/mesh" })
    const below = Ucan.delegate({ issuer: mid, audience: leaf.did, subject: root.did, command: "/mesh/publish" })
    const unrelated = Ucan.delegate({ issuer: Identity.generate(), audience: leaf.did, subject: root.did, command: "/mesh" })
    expect(RealmCommand.revocationPath([below, unrelated, top], Ucan.cid(below))).toEqual([top, below])
    expect(RealmCommand.revocationPath([top], Ucan.cid(top))).toEqual([top])
    expect(RealmCommand.revocationPath([below], Ucan.cid(below))).toBeInstanceOf(UsageError)
  })
})

/**
 * The `macula` command as a process (API.md "CLI"): `realm keygen` / `issue` / `revoke` produce
 * a key, delegations and a revocation that the UCAN library accepts; every failure exits
 * non-zero with one line on stderr; commands that are not wired yet say so instead of
 * pretending. The CLI is bundled once from the sources; every run has a hard timeout.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cliBundle, killAll } from "../support/cli.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as Ucan from "../../src/identity/ucan/index.ts"

const cli = cliBundle("cli")
const bundle = cli.path
const children: Array<ChildProcessWithoutNullStreams> = []
const dir = mkdtempSync(join(tmpdir(), "macula-cli-"))

beforeAll(cli.build, 60_000)

afterAll(() => {
  killAll(children)
  rmSync(dir, { recursive: true, force: true })
  cli.remove()
})

/** Runs `macula ARGS…` to completion (killed after `ms`). */
const macula = (args: ReadonlyArray<string>, ms = 45_000): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ["pipe", "pipe", "pipe"] })
    children.push(child)
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => void (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => void (stderr += c.toString("utf8")))
    const timer = setTimeout(() => child.kill("SIGKILL"), ms)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
  })

const oneLineError = (result: { code: number | null; stdout: string; stderr: string }) => {
  expect(result.code).not.toBe(0)
  const lines = result.stderr.trim().split("\n")
  expect(lines).toHaveLength(1)
  return lines[0]!
}

describe("macula realm", () => {
  it("keygen, issue and revoke produce a key, delegations and a revocation the UCAN library accepts", async () => {
    const key = join(dir, "authority.key")
    const keygen = await macula(["realm", "keygen", "-o", key])
    expect(keygen.code).toBe(0)
    const authorityDid = keygen.stdout.trim()
    expect(authorityDid).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    expect(statSync(key).mode & 0o777).toBe(0o600)

    const member = Identity.generate().did
    const cap = join(dir, "member.ucan")
    const issue = await macula([
      "realm", "issue", "--authority-key", key, "--to", member, "--realm", "io.example", "--ttl", "600", "-o", cap
    ])
    expect(issue.code).toBe(0)
    const delegation = Ucan.decode(readFileSync(cap))
    expect(delegation).toMatchObject({ kind: "delegation", iss: authorityDid, aud: member, sub: authorityDid, cmd: "/mesh" })
    expect(issue.stdout.trim()).toBe(Ucan.cid(readFileSync(cap)))
    const nowSec = Math.floor(Date.now() / 1000)
    expect(delegation.exp).toBeGreaterThan(nowSec + 500)
    expect(delegation.exp).toBeLessThanOrEqual(nowSec + 601)

    const topics = join(dir, "topics.ucan")
    const scoped = await macula([
      "realm", "issue", "--authority-key", key, "--to", member, "--commands", "publish", "--topics", "io.example/acme/#", "-o", topics
    ])
    expect(scoped.code).toBe(0)
    expect(Ucan.decode(readFileSync(topics))).toMatchObject({
      cmd: "/mesh/publish",
      pol: [["==", ".realm", "io.example"], ["like", ".topic", "io.example/acme/*"]]
    })

    const revocation = join(dir, "revocation.ucan")
    const revoke = await macula(["realm", "revoke", "--authority-key", key, "--cid", issue.stdout.trim(), "-o", revocation])
    expect(revoke.code).toBe(0)
    const verdict = Ucan.verifyRevocation(readFileSync(revocation), [readFileSync(cap)], { now: nowSec })
    expect(verdict).toMatchObject({ ok: true, revoked: issue.stdout.trim(), revoker: authorityDid })
    expect(revoke.stdout.trim()).toBe(Ucan.cid(readFileSync(revocation)))

    const distribute = await macula([
      "realm", "revoke", "--authority-key", key, "--cid", issue.stdout.trim(), "-o", join(dir, "r2.ucan"), "--seed", "quic://127.0.0.1:9"
    ])
    expect(oneLineError(distribute)).toMatch(/^macula: cannot distribute the revocation/)
  }, 120_000)

  it("refuses bad input with one line on stderr", async () => {
    const key = join(dir, "k2.key")
    expect((await macula(["realm", "keygen", "-o", key])).code).toBe(0)
    const [again, badDid, usage, unknown] = await Promise.all([
      macula(["realm", "keygen", "-o", key]),
      macula(["realm", "issue", "--authority-key", key, "--to", "did:web:x", "-o", join(dir, "x")]),
      macula(["realm", "issue", "--to", Identity.generate().did, "-o", join(dir, "x")]),
      macula(["realm", "rotate"])
    ])
    expect(oneLineError(again)).toMatch(/already exists/)
    expect(oneLineError(badDid)).toBe('macula: realm issue: --to "did:web:x" is not a valid did:key')
    expect(usage.code).toBe(2)
    expect(oneLineError(usage)).toBe("macula: realm issue: --authority-key is required")
    expect(oneLineError(unknown)).toContain('unknown subcommand "rotate"')
  }, 120_000)
})

describe("macula", () => {
  it("refuses a client command line without --realm with exit 2 and one line", async () => {
    // pub, sub and call themselves run in test/integration/mesh.int.ts.
    const commands = ["pub", "sub", "call"]
    const args: Record<string, ReadonlyArray<string>> = {
      pub: ["io.example/_realm/_realm/d/n_v1", "{}"],
      sub: ["io.example/#"],
      call: ["io.example/_realm/_realm/d/p_v1", "{}"]
    }
    const results = await Promise.all(commands.map((c) => macula([c, "--seed", "quic://127.0.0.1:9", ...args[c]!])))
    results.forEach((result, i) => {
      expect(result.code).toBe(2)
      expect(oneLineError(result)).toBe(`macula: ${commands[i]}: --realm is required`)
    })
  }, 120_000)

  it("status exits 1 with one line when no seed answers", async () => {
    const result = await macula(["status", "--seed", "quic://127.0.0.1:9", "--timeout", "1500"])
    expect(result.code).toBe(1)
    expect(oneLineError(result)).toMatch(/^macula: connection lost \(unreachable\): none of the seeds answered within 1500 ms/)
    expect(result.stdout).toBe("")
  }, 60_000)
})

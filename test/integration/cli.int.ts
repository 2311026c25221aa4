/**
 * The `macula` command as a process (API.md "CLI"): `realm keygen` / `issue` / `revoke` produce
 * a key, delegations and a revocation that the UCAN library accepts; every failure exits
 * non-zero with one line on stderr; commands that are not wired yet say so instead of
 * pretending; `call --direct` and `--direct-to` reach a provider's station across two station
 * processes. The CLI is bundled once from the sources; every run has a hard timeout.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import * as Stations from "../support/stations.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as Ucan from "../../src/identity/ucan/index.ts"
import { MaculaNode } from "../../src/node/index.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []
const nodes: Array<MaculaNode> = []
const dir = mkdtempSync(join(tmpdir(), "macula-cli-"))

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  killAll(children)
  rmSync(dir, { recursive: true, force: true })
})

/** Runs `macula ARGS…` to completion (killed after `ms`). */
const macula = (args: ReadonlyArray<string>, ms = 45_000) => Stations.run(bundle, children, args, ms)

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
    expect(oneLineError(distribute)).toMatch(/--seed needs --cap/)
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

describe("macula call --direct", () => {
  it("reaches the provider's station found through the DHT, or the one named, bypassing the seed", async () => {
    const { a, b } = await Stations.linkedPair(bundle, children)
    const realm = "io.example"
    const add = `${realm}/acme/calc/math/add_v1`
    const provider = await MaculaNode.start({ role: "client", realm, seeds: [a.seed], knobs: { stationPowBits: 8 } })
    nodes.push(provider)
    await provider.advertise(add, (args) => {
      const { a: x, b: y } = args as { a: number; b: number }
      return { sum: x + y, by: provider.did }
    })
    const call = (...extra: Array<string>) =>
      macula(["call", "--seed", b.seed, "--realm", realm, "--timeout", "20000", ...extra, add, '{"a":2,"b":3}'])
    // Routed through B first: the provider record is in the DHT once this answers.
    const routed = await call()
    expect(routed.stderr).toBe("")
    expect(JSON.parse(routed.stdout)).toEqual({ sum: 5, by: provider.did })

    const [found, named] = await Promise.all([call("--direct"), call("--direct-to", a.seed)])
    for (const result of [found, named]) {
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual({ sum: 5, by: provider.did })
    }
    // The option is not ignored: a named station that does not exist fails the call, though B
    // would have routed it.
    const nowhere = await call("--direct-to", `quic://127.0.0.1:9#${Identity.generate().did}`)
    expect(nowhere.code).toBe(1)
    expect(oneLineError(nowhere)).toMatch(/^macula call: /)
    expect(nowhere.stdout).toBe("")
  }, 180_000)
})

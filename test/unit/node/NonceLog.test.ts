/**
 * Seen nonces that survive a restart (PROTOCOL.md §13.4, §15.2), with real files: a checker over
 * `DIR/nonces.log` accepts an invocation, a new one over the same directory (the restarted node)
 * refuses it as replayed — which a memory-only one accepts; expired entries are not kept; a torn
 * last line, a corrupt file or a failing write never crash (a warning at most); the log is
 * compacted as it grows.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import * as Authorisation from "../../../src/node/Authorisation.ts"
import * as NonceLog from "../../../src/node/NonceLog.ts"
import * as ProviderInvocation from "../../../src/node/ProviderInvocation.ts"
import * as SeenNonces from "../../../src/node/SeenNonces.ts"
import type * as Frame from "../../../src/wire/Frame.ts"

const T = 1_800_000_000
const nonce = (i: number) => Ucan.cid(Uint8Array.of(i & 0xff, i >> 8))

let dir: string
let warnings: Array<string>
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "nonces-"))
  warnings = []
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const open = (nowSec: number, extra: Partial<NonceLog.Options> = {}) =>
  NonceLog.open({ dataDir: dir, leewaySec: 60, cap: 100, now: () => nowSec * 1_000, warn: (m) => warnings.push(m), ...extra })
const logPath = () => join(dir, NonceLog.fileName)
const entryLines = () => readFileSync(logPath(), "utf8").split("\n").filter((l) => l !== "" && l !== NonceLog.header)

const realm = "io.example"
const authority = Identity.fromSeed(new Uint8Array(32).fill(1))
const station = Identity.fromSeed(new Uint8Array(32).fill(2))
const member = Identity.fromSeed(new Uint8Array(32).fill(3))

describe("NonceLog: a restart", () => {
  const proc = `${realm}/acme/calc/math/add_v1`
  const au = ProviderInvocation.invoker({ identity: member, delegations: [] })(station.did, realm, proc, T * 1_000)
  const frame: Frame.Call = {
    t: "call", id: 1, cid: new Uint8Array(16), realm: Realm.id(realm), proc, a: null, ttl: 1_000, idem: false, hop: 1,
    to: station.publicKey, from: member.publicKey, ucan: au
  }
  const provider = (seenNonces: SeenNonces.SeenNonces, nowSec = T) =>
    ProviderInvocation.verifier({ identity: station, delegations: [], seenNonces }, () => nowSec * 1_000)

  it("does not let a provider accept a replay it accepted before the restart", () => {
    expect(existsSync(logPath())).toBe(false) // nothing written until a nonce is
    expect(provider(open(T))(frame)).toEqual({ _tag: "Allowed" })
    expect(statSync(logPath()).mode & 0o777).toBe(0o600)
    // The restarted node: a new memory over the same directory.
    expect(provider(open(T + 5))(frame)).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
    // Memory only (no data directory), the replay goes through: what the log prevents.
    expect(provider(SeenNonces.make({ leewaySec: 60, cap: 100 }))(frame)).toEqual({ _tag: "Allowed" })
    expect(warnings).toEqual([])
  })

  it("does not let a station accept a replay it accepted before the restart", () => {
    const caps = Ucan.RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm, topics: [`${realm}/acme/#`], expiration: T + 86_400 })
    const proof = caps.find((c) => Ucan.decode(c).cmd === "/mesh/subscribe")!
    const inv = Ucan.RealmCapabilities.invokeMember({
      issuer: member, authority: authority.did, station: station.did, realm, command: "/mesh/subscribe",
      args: { topic: `${realm}/acme/#` }, proofs: [proof], expiration: T + 600
    })
    const request: Authorisation.Request = {
      peerDid: member.did, realm: Realm.id(realm), command: "/mesh/subscribe", topic: `${realm}/acme/#`, au: { inv, prf: [proof] }
    }
    const port = (seenNonces: SeenNonces.SeenNonces) =>
      Authorisation.decide({ authorities: { [realm]: authority.did }, station: station.did, now: () => T * 1_000, seenNonces })
    expect(port(open(T))(request)).toEqual({ _tag: "Allowed" })
    expect(port(open(T))(request)).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
  })

  it("drops what expired while the node was down, and compacts it away", () => {
    const before = open(T, { compactMinLines: 1 })
    before.record(nonce(1), T + 10, T)
    before.record(nonce(2), T + 10, T)
    before.record(nonce(3), T + 1_000, T)
    expect(entryLines()).toHaveLength(3)
    // Restarted past the expiry of nonces 1 and 2 plus the leeway: two of three lines are dead.
    const after = open(T + 71, { compactMinLines: 1 })
    expect(after.has(nonce(1))).toBe(false)
    expect(after.has(nonce(2))).toBe(false)
    expect(after.has(nonce(3))).toBe(true)
    expect(entryLines()).toEqual([`${T + 1_000} ${nonce(3)}`])
    // Forgotten, not refused: the checker refuses the expired invocation itself.
    expect(after.record(nonce(1), T + 700, T + 71)).toBe(true)
    expect(entryLines()).toEqual([`${T + 1_000} ${nonce(3)}`, `${T + 700} ${nonce(1)}`])
    expect(warnings).toEqual([])
  })
})

describe("NonceLog: damage", () => {
  it("drops a torn last line with a warning, repairs the file and appends after it", () => {
    open(T).record(nonce(1), T + 600, T)
    const whole = readFileSync(logPath(), "utf8")
    writeFileSync(logPath(), whole + `${T + 600} ${nonce(2).slice(0, 20)}`) // killed mid-write
    const seen = open(T)
    expect(seen.has(nonce(1))).toBe(true)
    expect(seen.size()).toBe(1)
    expect(warnings).toHaveLength(1)
    seen.record(nonce(3), T + 600, T)
    expect(entryLines()).toEqual([`${T + 600} ${nonce(1)}`, `${T + 600} ${nonce(3)}`])
  })

  it("appends on a new line after a torn one it could not rewrite", () => {
    writeFileSync(logPath(), `${NonceLog.header}\n${T + 600} ${nonce(1)}\n${T + 600} bafy`)
    // The rewrite fails (a full disk, say); appends still work.
    const seen = open(T, { rewrite: () => { throw Object.assign(new Error("no space"), { code: "ENOSPC" }) } })
    seen.record(nonce(2), T + 600, T)
    expect(warnings.some((w) => w.includes("cannot rewrite") && w.includes("ENOSPC"))).toBe(true)
    const reopened = open(T)
    expect(reopened.has(nonce(1))).toBe(true)
    expect(reopened.has(nonce(2))).toBe(true)
  })

  it("starts from a corrupt file with a warning, never a throw", () => {
    writeFileSync(logPath(), Buffer.from([0xff, 0x00, 0x0a, 0x31, 0x20, 0x62, 0x0a, 0xc3, 0x28, 0x0a]))
    const seen = open(T)
    expect(seen.size()).toBe(0)
    expect(warnings).toHaveLength(1)
    expect(seen.record(nonce(1), T + 600, T)).toBe(true)
    expect(open(T).has(nonce(1))).toBe(true)
  })

  it("keeps nonces in memory, with one warning, when the log cannot be written", () => {
    mkdirSync(logPath()) // a directory where the file should be: reads and appends fail
    const seen = open(T)
    expect(seen.record(nonce(1), T + 600, T)).toBe(true)
    expect(seen.record(nonce(2), T + 600, T)).toBe(true)
    expect(seen.record(nonce(1), T + 600, T)).toBe(false)
    expect(warnings).toHaveLength(2) // cannot read, then cannot write (once)
  })
})

describe("NonceLog: compaction", () => {
  it("rewrites the log once it holds more than twice its live entries", () => {
    const seen = open(T, { compactMinLines: 8 })
    // Short-lived nonces, the clock moving on: most lines in the file are dead.
    for (let i = 0; i < 100; i++) seen.record(nonce(i), T + i, T + i)
    expect(seen.size()).toBeLessThanOrEqual(61)
    expect(entryLines().length).toBeLessThanOrEqual(Math.max(8, 2 * seen.size()) + 1)
    const reopened = open(T + 99)
    expect(reopened.entries()).toEqual(seen.entries())
    expect(warnings).toEqual([])
  })

  it("compacts an overgrown log on open", () => {
    writeFileSync(logPath(), NonceLog.encode(Array.from({ length: 50 }, (_, i) => [nonce(i), T - 1_000] as const)) + `${T + 600} ${nonce(99)}\n`)
    const seen = open(T, { compactMinLines: 10 })
    expect(seen.entries()).toEqual([[nonce(99), T + 600]])
    expect(entryLines()).toEqual([`${T + 600} ${nonce(99)}`])
  })
})

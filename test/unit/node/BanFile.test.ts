/**
 * The ban file of a data directory (PROTOCOL.md §15.2), with real files: bans written atomically
 * (no temporary file left, owner-only), read back with expired and malformed entries dropped, a
 * missing file meaning no bans, and a damaged one no bans plus a warning, never a throw; the
 * registry's store saves after a ban and reports a failed write as a warning.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { afterEach, describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as BanFile from "../../../src/node/BanFile.ts"

const dirs: Array<string> = []
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), "macula-banfile-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const a = Identity.generate().did
const b = Identity.generate().did
const NOW = 1_800_000_000_000

describe("BanFile", () => {
  it("saves atomically, owner-only, and loads the bans still in force", () => {
    const dir = fresh()
    BanFile.save(dir, [{ did: a, until: NOW + 60_000 }, { did: b, until: NOW - 1 }])
    expect(readdirSync(dir)).toEqual([BanFile.fileName])
    expect(statSync(join(dir, BanFile.fileName)).mode & 0o777).toBe(0o600)
    expect(BanFile.load(dir, NOW)).toEqual({ bans: [{ did: a, until: NOW + 60_000 }] })
    // Rewritten in place: the new list replaces the old one.
    BanFile.save(dir, [{ did: b, until: NOW + 5 }])
    expect(BanFile.load(dir, NOW)).toEqual({ bans: [{ did: b, until: NOW + 5 }] })
    expect(readdirSync(dir)).toEqual([BanFile.fileName])
  })

  it("a missing file is no bans and no warning", () => {
    expect(BanFile.load(fresh(), NOW)).toEqual({ bans: [] })
  })

  it.each([
    ["not JSON", "{ nope", "not JSON"],
    ["another type", JSON.stringify({ type: "macula-node/ed25519-seed", bans: [] }), "not a ban file"],
    ["no list", JSON.stringify({ type: BanFile.fileType, bans: 3 }), "no list of bans"],
    ["JSON null", "null", "not a ban file"]
  ])("a damaged file (%s) is no bans and a warning", (_, text, says) => {
    const dir = fresh()
    writeFileSync(join(dir, BanFile.fileName), text)
    const loaded = BanFile.load(dir, NOW)
    expect(loaded.bans).toEqual([])
    expect(loaded.warning).toContain(says)
    expect(loaded.warning).toContain("starting with no bans")
  })

  it("drops malformed entries with a warning and keeps the latest ban per DID", () => {
    const dir = fresh()
    writeFileSync(join(dir, BanFile.fileName), JSON.stringify({
      type: BanFile.fileType,
      bans: [{ did: a, until: NOW + 1 }, { did: a, until: NOW + 9 }, { did: "did:key:nope", until: NOW + 5 }, { did: b }, null]
    }))
    expect(BanFile.load(dir, NOW)).toEqual({ bans: [{ did: a, until: NOW + 9 }], warning: expect.stringContaining("3 malformed entries ignored") })
  })

  it("the registry's store loads, saves, and turns a failed write into a warning", async () => {
    const dir = fresh()
    const warnings: Array<string> = []
    const store = BanFile.store(dir, (w) => void warnings.push(w))
    expect(await Effect.runPromise(store.load)).toEqual([])
    const until = Date.now() + 60_000
    await Effect.runPromise(store.save([{ did: a, until }]))
    expect(await Effect.runPromise(store.load)).toEqual([{ did: a, until }])
    expect(warnings).toEqual([])
    // A "data directory" that is a file: the write fails (even as root), the node goes on.
    const notADir = join(dir, "plain-file")
    writeFileSync(notADir, "x")
    const broken = BanFile.store(notADir, (w) => void warnings.push(w))
    await Effect.runPromise(broken.save([{ did: b, until }]))
    expect(warnings).toEqual([expect.stringContaining("cannot save the bans")])
    expect(await Effect.runPromise(broken.load)).toEqual([])
    expect(warnings).toHaveLength(2) // unreadable: reported, no bans
    expect(existsSync(join(dir, BanFile.fileName))).toBe(true)
  })
})

/**
 * Key files: the round trip, owner-only mode, atomic creation that never replaces a key, and
 * refusal of damaged files with messages that never contain the seed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as KeyFile from "../../../src/node/KeyFile.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "keyfile-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe("KeyFile", () => {
  it("writes a key readable by its owner only and reads the same identity back", () => {
    const path = join(tempDir(), "nested", "a.key")
    const identity = Identity.generate()
    KeyFile.create(path, identity)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(KeyFile.read(path).did).toBe(identity.did)
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ type: KeyFile.fileType, did: identity.did })
    expect(readdirSync(join(path, ".."))).toEqual(["a.key"]) // no temporary file left behind
  })

  it("never replaces an existing key", () => {
    const path = join(tempDir(), "a.key")
    const first = Identity.generate()
    KeyFile.create(path, first)
    expect(() => KeyFile.create(path, Identity.generate())).toThrow(/already exists/)
    expect(KeyFile.read(path).did).toBe(first.did)
  })

  it("loads the data directory's key, or creates it once", () => {
    const dir = tempDir()
    let made = 0
    const generate = () => (made++, Identity.generate())
    const created = KeyFile.loadOrCreate(dir, generate)
    const loaded = KeyFile.loadOrCreate(dir, generate)
    expect(created.created).toBe(true)
    expect(loaded.created).toBe(false)
    expect(loaded.identity.did).toBe(created.identity.did)
    expect(made).toBe(1)
    expect(created.path).toBe(join(dir, KeyFile.nodeKeyName))
  })

  it("refuses damaged files without echoing the seed", () => {
    const dir = tempDir()
    const identity = Identity.generate()
    const seed = Buffer.from(identity.exportSeed()).toString("base64url")
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      ["not json", /not JSON/],
      [JSON.stringify({ type: "other", seed }), /type "other"/],
      [JSON.stringify({ type: KeyFile.fileType, seed: seed.slice(1) }), /not 32 bytes/],
      [JSON.stringify({ type: KeyFile.fileType, seed, did: Identity.generate().did }), /does not give the DID/]
    ]
    for (const [text, message] of cases) {
      const path = join(dir, "bad.key")
      writeFileSync(path, text)
      let thrown: unknown
      try {
        KeyFile.read(path)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(KeyFile.KeyFileError)
      expect((thrown as Error).message).toMatch(message)
      expect((thrown as Error).message).not.toContain(seed)
    }
    expect(() => KeyFile.read(join(dir, "missing.key"))).toThrow(/ENOENT/)
  })
})

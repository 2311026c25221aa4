/**
 * The DHT's files in a data directory: what is saved loads back; a missing file is nothing
 * saved; a damaged, foreign or oversized file is a warning and nothing loaded, never a failure;
 * a save replaces the file whole (no temporary file is left behind).
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as DhtFile from "../../../src/node/DhtFile.ts"
import * as Config from "../../../src/protocols/dht/Config.ts"
import * as Persisted from "../../../src/protocols/dht/Persisted.ts"

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "dht-file-"))
  dirs.push(dir)
  return dir
}

const record = { b: new Uint8Array([1, 2, 3]), s: new Uint8Array(64).fill(9) }
const contact = { pk: new Uint8Array(32).fill(4), addrs: ["quic://203.0.113.4:4433"] }

describe("DhtFile", () => {
  it("loads what it saved, and nothing from an empty directory", () => {
    const dir = tempDir()
    const warnings: Array<string> = []
    const store = DhtFile.store(dir, (m) => void warnings.push(m))
    expect(Effect.runSync(store.loadRecords)).toEqual([])
    expect(Effect.runSync(store.loadContacts)).toEqual([])
    Effect.runSync(store.saveRecords([record]))
    Effect.runSync(store.saveContacts([contact]))
    Effect.runSync(store.saveRecords([record, record]))
    expect(Effect.runSync(store.loadRecords)).toEqual([record, record])
    expect(Effect.runSync(store.loadContacts)).toEqual([contact])
    expect(readdirSync(dir).sort()).toEqual([DhtFile.recordsFileName, DhtFile.routingFileName])
    expect(warnings).toEqual([])
  })

  it("warns about a damaged, foreign or oversized file and loads nothing from it", () => {
    const dir = tempDir()
    const warnings: Array<string> = []
    const limits = { ...Persisted.limitsOf(Config.defaults), maxRoutingFileBytes: 64 }
    const store = DhtFile.store(dir, (m) => void warnings.push(m), limits)
    writeFileSync(join(dir, DhtFile.recordsFileName), '{"type":"macula-node/dht-records","records":[{"b":"01"')
    writeFileSync(join(dir, DhtFile.routingFileName), " ".repeat(65))
    expect(Effect.runSync(store.loadRecords)).toEqual([])
    expect(Effect.runSync(store.loadContacts)).toEqual([])
    writeFileSync(join(dir, DhtFile.recordsFileName), '{"type":"macula-node/bans","bans":[]}')
    expect(Effect.runSync(store.loadRecords)).toEqual([])
    expect(warnings.length).toBe(3)
    expect(warnings[0]).toContain("not JSON")
    expect(warnings[1]).toContain("larger than")
  })

  it("does not rewrite a routing snapshot equal to the file", () => {
    const dir = tempDir()
    const path = join(dir, DhtFile.routingFileName)
    const first = DhtFile.store(dir, () => {})
    Effect.runSync(first.saveContacts([contact]))
    const written = statSync(path).ino
    Effect.runSync(first.saveContacts([contact]))
    expect(statSync(path).ino).toBe(written)
    // A store that loaded the file knows it too; a changed table is written.
    const second = DhtFile.store(dir, () => {})
    expect(Effect.runSync(second.loadContacts)).toEqual([contact])
    Effect.runSync(second.saveContacts([contact]))
    expect(statSync(path).ino).toBe(written)
    Effect.runSync(second.saveContacts([contact, { ...contact, pk: new Uint8Array(32).fill(5) }]))
    expect(statSync(path).ino).not.toBe(written)
    expect(Effect.runSync(second.loadContacts)).toHaveLength(2)
  })
})

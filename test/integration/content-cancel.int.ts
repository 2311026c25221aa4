/**
 * Cancelling a transfer from either side, across processes (PROTOCOL.md §12.3, §12.4): one
 * `macula station` and client nodes in their own processes (`fixtures/content-node.ts`), the
 * providers reached through relayed sessions.
 *
 * - The fetcher cancels: its `content.cancel` reaches the provider through the station, and the
 *   provider stops serving; the fetch ends with the typed `FetchCancelled`.
 * - The provider refuses part way (it answers that it lacks the remaining chunks): alone, the
 *   fetch fails with the typed `ContentNotFound` and writes no file; next to an honest provider,
 *   the fetch moves on and completes byte-identical, and the refuser is not blacklisted (lacking
 *   content is no offence).
 */
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { processes } from "./fixtures/content-procs.ts"

const procs = processes()
const dir = mkdtempSync(join(tmpdir(), "content-cancel-"))
const realm = "io.example"
const chunks = 24
// Each test its own content, so that the providers of one are no providers of the other.
const source = randomBytes(chunks * 262_144)
const file = join(dir, "source.bin")
writeFileSync(file, source)
const other = randomBytes(chunks * 262_144)
const otherFile = join(dir, "other.bin")
writeFileSync(otherFile, other)
let seed = ""

beforeAll(async () => {
  seed = (await procs.station()).seed
}, 120_000)

afterAll(() => {
  procs.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

const provider = async (name: string, extra: Record<string, unknown> = {}) => {
  const node = procs.node({ mode: "provide", seed, realm, data: join(dir, name), file: otherFile, ...extra })
  const ready = await node.until((e) => e.ev === "ready", 60_000)
  return { node, mcid: ready["mcid"] as string, did: ready["did"] as string }
}

const served = (node: { readonly events: ReadonlyArray<{ readonly ev: string }> }): number => node.events.filter((e) => e.ev === "served").length

describe("cancel from either side", () => {
  it("a fetch cancelled by the fetcher is seen by the provider, which stops serving", async () => {
    const p = await provider("slow", { serialDelayMs: 60, file })
    const out = join(dir, "cancelled.bin")
    const fetcher = procs.node({ mode: "fetch", seed, realm, data: join(dir, "f1"), mcid: p.mcid, out, cancelAfterChunks: 3 })
    const end = await fetcher.until((e) => e.ev === "done" || e.ev === "error", 60_000)
    expect(end).toMatchObject({ ev: "error", tag: "FetchCancelled" })
    expect(existsSync(out)).toBe(false)

    // The provider saw the cancel through the station and served no more than what was in flight.
    await p.node.until((e) => e.ev === "cancel", 30_000)
    const atCancel = served(p.node)
    await new Promise((done) => setTimeout(done, 3_000))
    // At most a want window (fetchWindowPerProvider, 8) was already on its way when the cancel crossed.
    expect(served(p.node)).toBeLessThanOrEqual(atCancel + 8)
    expect(served(p.node)).toBeLessThan(chunks)
  }, 90_000)

  it("a provider that refuses part way: alone, the fetch fails typed; beside an honest one, it moves on", async () => {
    const refuser = await provider("refuser", { refuseAfter: 4 })
    const alone = procs.node({ mode: "fetch", seed, realm, data: join(dir, "f2"), mcid: refuser.mcid, out: join(dir, "alone.bin") })
    const failed = await alone.until((e) => e.ev === "done" || e.ev === "error", 60_000)
    expect(failed).toMatchObject({ ev: "error", tag: "ContentNotFound" })
    expect(existsSync(join(dir, "alone.bin"))).toBe(false)
    expect(served(refuser.node)).toBe(4)

    const honest = await provider("honest")
    const out = join(dir, "moved-on.bin")
    const fetcher = procs.node({ mode: "fetch", seed, realm, data: join(dir, "f3"), mcid: refuser.mcid, out })
    const end = await fetcher.until((e) => e.ev === "done" || e.ev === "error", 60_000)
    expect(end, fetcher.stderr()).toMatchObject({ ev: "done", size: other.length })
    expect(Buffer.compare(readFileSync(out), other)).toBe(0)
    expect(served(honest.node)).toBeGreaterThan(0)
    const stats = fetcher.events.find((e) => e.ev === "stats")!
    expect(stats["blacklisted"]).not.toContain(refuser.did)
  }, 90_000)
})

/**
 * The cursor file of durable at-least-once subscriptions: round trip through a real file,
 * atomic replacement, monotonic cursors, and a corrupt or unreadable file starting fresh with a
 * warning instead of failing.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as SubscriptionCursors from "../../../src/node/SubscriptionCursors.ts"

const realm = "ab".repeat(32)
const other = "cd".repeat(32)
let dir: string
let warnings: Array<string>
const load = (options: SubscriptionCursors.Options = {}) => SubscriptionCursors.load(dir, { warn: (m) => void warnings.push(m), ...options })
const run = <A>(e: Effect.Effect<A>) => Effect.runPromise(e)

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "macula-cursors-"))
  warnings = []
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe("SubscriptionCursors", () => {
  it("starts empty without a file, and a recorded entry survives a reload", async () => {
    const a = load()
    expect(a.entries()).toEqual([])
    await run(a.record({ realm, pattern: "io.example/a/#", sid: 3, cur: undefined }))
    await run(a.record({ realm, pattern: "io.example/a/#", sid: 3, cur: 17 }))
    const b = load()
    expect(b.lookup(realm, "io.example/a/#")).toEqual({ realm, pattern: "io.example/a/#", sid: 3, cur: 17 })
    expect(b.lookup(other, "io.example/a/#")).toBeUndefined()
    expect(b.reserved(3)).toBe(true)
    expect(b.reserved(4)).toBe(false)
    expect(warnings).toEqual([])
  })
  it("never moves a sid's cursor back", async () => {
    const a = load()
    await run(a.record({ realm, pattern: "p/x", sid: 1, cur: 9 }))
    await run(a.record({ realm, pattern: "p/x", sid: 1, cur: 5 }))
    await run(a.record({ realm, pattern: "p/x", sid: 1, cur: undefined }))
    expect(load().lookup(realm, "p/x")?.cur).toBe(9)
    // A new sid for the pattern is a new subscription: its cursor starts over.
    await run(a.record({ realm, pattern: "p/x", sid: 2, cur: undefined }))
    expect(load().lookup(realm, "p/x")).toEqual({ realm, pattern: "p/x", sid: 2, cur: undefined })
  })
  it("replaces the file whole, leaving no temporary file behind, also under concurrent writes", async () => {
    const a = load()
    await Promise.all(Array.from({ length: 50 }, (_, i) => run(a.record({ realm, pattern: `p/${i % 5}`, sid: (i % 5) + 1, cur: i }))))
    expect(readdirSync(dir)).toEqual(["subscriptions.json"])
    const parsed = JSON.parse(readFileSync(join(dir, "subscriptions.json"), "utf8")) as { v: number; subs: Array<{ cur: number }> }
    expect(parsed.v).toBe(1)
    expect(parsed.subs.map((s) => s.cur).sort((x, y) => x - y)).toEqual([45, 46, 47, 48, 49])
  })
  it("forgets a removed subscription", async () => {
    const a = load()
    await run(a.record({ realm, pattern: "p/x", sid: 1, cur: 2 }))
    await run(a.remove(realm, "p/x"))
    expect(load().entries()).toEqual([])
  })
  it("keeps at most maxEntries, dropping the least recently recorded", async () => {
    const a = load({ maxEntries: 2 })
    await run(a.record({ realm, pattern: "p/1", sid: 1, cur: 1 }))
    await run(a.record({ realm, pattern: "p/2", sid: 2, cur: 1 }))
    await run(a.record({ realm, pattern: "p/1", sid: 1, cur: 2 }))
    await run(a.record({ realm, pattern: "p/3", sid: 3, cur: 1 }))
    expect(load().entries().map((e) => e.pattern)).toEqual(["p/1", "p/3"])
  })
  it.each([
    ["not JSON", "{\"v\":1,\"subs\":[{\"realm\""],
    ["an unknown format", JSON.stringify({ v: 99, subs: [] })],
    ["a malformed sid", JSON.stringify({ v: 1, subs: [{ realm, pattern: "p/x", sid: -1 }] })],
    ["a malformed cursor", JSON.stringify({ v: 1, subs: [{ realm, pattern: "p/x", sid: 1, cur: "7" }] })],
    ["a malformed realm", JSON.stringify({ v: 1, subs: [{ realm: "zz", pattern: "p/x", sid: 1 }] })]
  ])("starts fresh with a warning on %s, and the next write repairs the file", async (_, text) => {
    writeFileSync(join(dir, "subscriptions.json"), text)
    const a = load()
    expect(a.entries()).toEqual([])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain("starting fresh")
    await run(a.record({ realm, pattern: "p/x", sid: 1, cur: 4 }))
    expect(load().lookup(realm, "p/x")?.cur).toBe(4)
  })
  it("warns instead of failing when the file cannot be written", async () => {
    const blocked = join(dir, "blocked")
    writeFileSync(blocked, "a file where the data directory should be")
    const a = SubscriptionCursors.load(join(blocked, "data"), { warn: (m) => void warnings.push(m) })
    await run(a.record({ realm, pattern: "p/x", sid: 1, cur: 4 }))
    expect(warnings.some((w) => w.includes("cannot write"))).toBe(true)
    expect(a.lookup(realm, "p/x")?.cur).toBe(4) // still held in memory for this run
  })
  it("warns and starts fresh when the path cannot be read as a file", () => {
    mkdirSync(join(dir, "subscriptions.json"))
    expect(load().entries()).toEqual([])
    expect(warnings.some((w) => w.includes("cannot read"))).toBe(true)
    expect(existsSync(join(dir, "subscriptions.json"))).toBe(true)
  })
})

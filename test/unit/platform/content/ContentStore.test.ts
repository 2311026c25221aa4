/**
 * ContentStore: the same behaviour on disk and in memory (verification before storage, resume
 * state, pins for good and pins that end, collection, quota), plus what only the disk has
 * (reopening, interrupted-write leftovers, files corrupted behind the store's back).
 */
import { Effect, Option } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Content from "../../../../src/content/Content.ts"
import * as Mcid from "../../../../src/content/Mcid.ts"
import * as Backend from "../../../../src/platform/content/Backend.ts"
import * as ContentStore from "../../../../src/platform/content/ContentStore.ts"
import * as FileBackend from "../../../../src/platform/content/FileBackend.ts"

const CS = 262_144
const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
const freshDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "content-store-"))
  dirs.push(d)
  return d
}

const contentOf = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = (Math.imul(seed, 0x9e3779b1) ^ 0x5bd1e995) | 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 255
  }
  return out
}
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))
const run = <A, E>(e: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(e)
/** Runs `e` with the clock at `now` (unix ms), so pin ends are tested without waiting. */
const runAt = <A, E>(now: number, e: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provide(Effect.andThen(TestClock.setTime(now), e), TestClock.layer()))
const failureTag = <A, E extends { readonly _tag: string }>(e: Effect.Effect<A, E>): Promise<string> =>
  Effect.runPromise(Effect.match(e, { onFailure: (err) => err._tag, onSuccess: () => "success" }))

type Open = (config?: Partial<ContentStore.ContentStoreConfig>) => Promise<ContentStore.ContentStoreShape>

const backends: ReadonlyArray<readonly [string, () => Open]> = [
  ["memory", () => {
    const b = Backend.memory()
    return (config) => run(ContentStore.make(b, config))
  }],
  ["disk", () => {
    const dir = freshDir()
    return (config) => run(ContentStore.make(FileBackend.make({ dir, fsync: false }), config))
  }]
]

for (const [name, makeOpen] of backends) {
  describe(`ContentStore (${name})`, () => {
    it("stores small and large content and reads it back under the MCID ofBytes gives", async () => {
      const store = await makeOpen()()
      for (const size of [0, 10, CS, CS + 1, 3 * CS + 17]) {
        const data = contentOf(size, size + 1)
        const mcid = await run(store.put(data))
        expect(Mcid.equals(mcid, Mcid.ofBytes(data))).toBe(true)
        const back = await run(store.read(mcid))
        expect(Option.isSome(back) && same(back.value, data)).toBe(true)
        expect((await run(store.progress(mcid))).complete).toBe(true)
      }
    })

    it("refuses a block that does not hash to its MCID, and writes nothing", async () => {
      const store = await makeOpen()()
      const block = contentOf(100, 1)
      const mcid = Mcid.ofBlock(block)
      const tampered = block.slice()
      tampered[5] = tampered[5]! ^ 1
      expect(await failureTag(store.putBlock(mcid, tampered))).toBe("IntegrityError")
      expect(await run(store.has(mcid))).toBe(false)
      expect((await run(store.usage)).blocks).toBe(0)
      await run(store.putBlock(mcid, block))
      expect(await run(store.has(mcid))).toBe(true)
    })

    it("refuses manifest bytes that do not open under their MCID", async () => {
      const store = await makeOpen()()
      const layout = Content.describe(contentOf(2 * CS + 1, 2))
      if (layout._tag !== "chunked") throw new Error("expected chunked")
      const other = Content.describe(contentOf(2 * CS + 1, 3))
      if (other._tag !== "chunked") throw new Error("expected chunked")
      expect(await failureTag(store.putManifest(layout.mcid, other.manifestBytes))).toBe("IntegrityError")
      expect(await failureTag(store.putManifest(layout.chunks[0]!.mcid, layout.chunks[0]!.bytes))).toBe("IntegrityError")
      const manifest = await run(store.putManifest(layout.mcid, layout.manifestBytes))
      expect(manifest.chunkCount).toBe(3)
    })

    it("reports per-chunk progress: the chunks a fetch still needs", async () => {
      const open = makeOpen()
      const store = await open()
      const data = contentOf(4 * CS + 3, 4)
      const layout = Content.describe(data)
      if (layout._tag !== "chunked") throw new Error("expected chunked")
      expect((await run(store.progress(layout.mcid)))._tag).toBe("unknown")
      await run(store.putManifest(layout.mcid, layout.manifestBytes))
      await run(store.putBlock(layout.chunks[1]!.mcid, layout.chunks[1]!.bytes))
      await run(store.putBlock(layout.chunks[3]!.mcid, layout.chunks[3]!.bytes))
      const p = await run(store.progress(layout.mcid))
      expect(p._tag === "chunked" && p.missing).toEqual([0, 2, 4])
      expect(p._tag === "chunked" && p.heldBytes).toBe(2 * CS)
      expect(Option.isNone(await run(store.read(layout.mcid)))).toBe(true)
      // A store reopened over the same storage knows the same (how a restarted fetch resumes).
      const again = await open()
      const q = await run(again.progress(layout.mcid))
      expect(q._tag === "chunked" && q.missing).toEqual([0, 2, 4])
    })

    it("collects unpinned content, keeps pinned roots with their chunks, and unpin gives them up", async () => {
      const open = makeOpen()
      const store = await open()
      const kept = contentOf(2 * CS + 5, 5)
      const dropped = contentOf(2 * CS + 5, 6)
      const single = contentOf(1000, 7)
      const keptMcid = await run(store.put(kept))
      const droppedMcid = await run(store.put(dropped, { pin: false }))
      const singleMcid = await run(store.put(single, { pin: false }))
      const report = await run(store.gc())
      expect(report.removedBlocks).toBe(4 + 1)
      expect(Option.isSome(await run(store.read(keptMcid)))).toBe(true)
      expect(Option.isNone(await run(store.read(droppedMcid)))).toBe(true)
      expect(await run(store.has(singleMcid))).toBe(false)
      // Pins persist.
      const again = await open()
      expect((await run(again.pins)).map(Mcid.key)).toEqual([Mcid.key(keptMcid)])
      await run(again.unpin(keptMcid))
      await run(again.gc())
      expect((await run(again.usage)).blocks).toBe(0)
    })

    it("evicts unpinned blocks least recently used first to stay under its quota", async () => {
      const store = await makeOpen()({ quotaBytes: 3 * 1000 })
      const [a, b, c, d] = [1, 2, 3, 4].map((s) => contentOf(1000, s)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
      const ma = await run(store.put(a, { pin: false }))
      const mb = await run(store.put(b, { pin: false }))
      const mc = await run(store.put(c, { pin: false }))
      await run(store.getBlock(ma)) // a is now more recent than b
      await run(store.put(d, { pin: false }))
      expect(await run(store.has(mb))).toBe(false)
      expect(await run(store.has(ma))).toBe(true)
      expect(await run(store.has(mc))).toBe(true)
      expect((await run(store.usage)).bytes).toBeLessThanOrEqual(3000)
    })

    it("putFile streams a file in chunk by chunk to the same MCID and blocks as put", async () => {
      const store = await makeOpen()()
      const dir = freshDir()
      for (const size of [0, 10, CS, CS + 1, 5 * CS + 3]) {
        const data = contentOf(size, size + 7)
        const path = join(dir, `f${size}`)
        writeFileSync(path, data)
        const mcid = await run(store.putFile(path))
        expect(Mcid.equals(mcid, Mcid.ofBytes(data))).toBe(true)
        const back = await run(store.read(mcid))
        expect(Option.isSome(back) && same(back.value, data)).toBe(true)
        expect((await run(store.pins)).some((p) => Mcid.equals(p, mcid))).toBe(true)
      }
      const named = contentOf(2 * CS + 1, 9)
      writeFileSync(join(dir, "named"), named)
      const withName = await run(store.putFile(join(dir, "named"), { name: "a.bin", pin: false }))
      expect(Mcid.equals(withName, Content.describe(named, { name: "a.bin" }).mcid)).toBe(true)
      // Unpinned once the put is over: nothing guards its chunks from a collection any more.
      expect((await run(store.gc())).removedBlocks).toBe(4)
    })

    it("putFile fails ContentStoreError (read) on a missing file and IntegrityError above maxManifestChunks", async () => {
      const store = await makeOpen()({ maxManifestChunks: 3 })
      const dir = freshDir()
      const missing = await Effect.runPromise(Effect.flip(store.putFile(join(dir, "absent"))))
      expect(missing).toMatchObject({ _tag: "ContentStoreError", op: "read" })
      writeFileSync(join(dir, "big"), contentOf(3 * CS + 1, 4))
      expect(await failureTag(store.putFile(join(dir, "big")))).toBe("IntegrityError")
      expect((await run(store.usage)).blocks).toBe(0)
    })

    it("writes blocks concurrently: each counted once, the quota held, a failed write leaves nothing", async () => {
      const store = await makeOpen()({ quotaBytes: 5 * 1000 })
      const blocks = [1, 2, 3, 4].map((s) => contentOf(1000, s))
      // Eight writes at once, every block twice: four blocks stored, 4000 bytes.
      await run(Effect.forEach([...blocks, ...blocks], (b) => store.putBlock(Mcid.ofBytes(b), b, { verified: true }), { concurrency: "unbounded" }))
      expect(await run(store.usage)).toMatchObject({ blocks: 4, bytes: 4000 })
      for (const b of blocks) expect(same(Option.getOrThrow(await run(store.getBlock(Mcid.ofBytes(b)))), b)).toBe(true)
      // Two more at once, both pinned (so nothing is evictable): one fits, the other is refused.
      const more = [5, 6].map((s) => contentOf(1000, s))
      for (const b of [...blocks, ...more]) await run(store.pin(Mcid.ofBytes(b)))
      const results = await run(Effect.forEach(more, (b) => Effect.result(store.putBlock(Mcid.ofBytes(b), b, { verified: true })), { concurrency: "unbounded" }))
      expect(results.map((r) => r._tag).sort()).toEqual(["Failure", "Success"])
      expect(await run(store.usage)).toMatchObject({ blocks: 5, bytes: 5000 })
    })

    it("a pin with an end keeps content until then, after which it is evicted least recently used first; ends survive a reopen and only grow", async () => {
      const open = makeOpen()
      const store = await open({ quotaBytes: 3 * 1000 })
      const [a, b, c, d, e] = [11, 12, 13, 14, 15].map((s) => contentOf(1000, s)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array]
      const ma = await runAt(1_000, store.put(a, { pin: false }))
      await runAt(1_000, store.pin(ma, { until: 5_000 }))
      const mb = await runAt(1_000, store.put(b, { pin: false }))
      await runAt(1_000, store.pin(mb, { until: 9_000 }))
      const mc = await runAt(1_000, store.put(c, { pin: false }))
      // Both pins hold: the only unpinned block goes, although a is older.
      const md = await runAt(2_000, store.put(d, { pin: false }))
      expect([await run(store.has(ma)), await run(store.has(mb)), await run(store.has(mc)), await run(store.has(md))]).toEqual([true, true, false, true])
      // a's pin has ended: a is now the least recently used unpinned block.
      const me = await runAt(6_000, store.put(e, { pin: false }))
      expect([await run(store.has(ma)), await run(store.has(mb)), await run(store.has(md)), await run(store.has(me))]).toEqual([false, true, true, true])
      // The ended pin was deleted, not only ignored.
      expect((await runAt(0, store.pinInfo)).map((p) => [Mcid.key(p.mcid), p.until])).toEqual([[Mcid.key(mb), 9_000]])
      // A pin only grows: an earlier end is ignored, a pin for good stays one.
      await runAt(6_000, store.pin(mb, { until: 7_000 }))
      expect((await runAt(6_000, store.pinInfo))[0]!.until).toBe(9_000)
      await runAt(6_000, store.pin(md, { until: 20_000 }))
      await runAt(6_000, store.pin(me))
      await runAt(6_000, store.pin(me, { until: 30_000 }))
      // Reopened: the same pins with the same ends, which still end.
      const again = await open({ quotaBytes: 3 * 1000 })
      const ends = (await runAt(6_000, again.pinInfo)).map((p) => [Mcid.key(p.mcid), p.until]).sort()
      expect(ends).toEqual([[Mcid.key(mb), 9_000], [Mcid.key(md), 20_000], [Mcid.key(me), Infinity]].sort())
      expect((await runAt(25_000, again.pins)).map(Mcid.key)).toEqual([Mcid.key(me)])
      expect((await runAt(25_000, again.gc())).removedBlocks).toBe(2)
      expect((await runAt(25_000, again.usage))).toMatchObject({ blocks: 1, pins: 1 })
    })

    it("a pin's end reads back from the pin file; bytes it did not write read as a pin for good", () => {
      for (const until of [0, 1, 1_700_000_000_123, Infinity]) expect(ContentStore.decodePinEnd(ContentStore.encodePinEnd(until))).toBe(until)
      expect(ContentStore.decodePinEnd(new TextEncoder().encode("soon"))).toBe(Infinity)
      expect(ContentStore.decodePinEnd(new TextEncoder().encode("-5"))).toBe(Infinity)
    })

    it("fails QuotaExceeded rather than evict pinned content", async () => {
      const store = await makeOpen()({ quotaBytes: 2 * 1000 })
      await run(store.put(contentOf(1000, 1)))
      await run(store.put(contentOf(1000, 2)))
      expect(await failureTag(store.put(contentOf(1000, 3), { pin: false }))).toBe("QuotaExceeded")
      expect((await run(store.usage)).blocks).toBe(2)
    })
  })
}

describe("ContentStore (disk only)", () => {
  it("drops a block corrupted on disk instead of serving it", async () => {
    const dir = freshDir()
    const store = await run(ContentStore.make(FileBackend.make({ dir })))
    const block = contentOf(5000, 9)
    const mcid = await run(store.put(block))
    const key = Mcid.key(mcid)
    const shard = readdirSync(join(dir, "blocks")).find((s) => readdirSync(join(dir, "blocks", s)).includes(key))!
    const tampered = block.slice()
    tampered[0] = tampered[0]! ^ 0xff
    writeFileSync(join(dir, "blocks", shard, key), tampered)
    expect(Option.isNone(await run(store.getBlock(mcid)))).toBe(true)
    expect((await run(store.usage)).corruptDropped).toBe(1)
    expect(await run(store.has(mcid))).toBe(false)
  })

  it("deletes leftovers of interrupted writes when it opens, and ignores foreign files", async () => {
    const dir = freshDir()
    const store = await run(ContentStore.make(FileBackend.make({ dir })))
    await run(store.put(contentOf(10, 1)))
    writeFileSync(join(dir, "tmp", "half-written.part"), new Uint8Array(7))
    writeFileSync(join(dir, "blocks", "notes.txt"), "not a block dir entry")
    const again = await run(ContentStore.make(FileBackend.make({ dir })))
    expect(readdirSync(join(dir, "tmp"))).toEqual([])
    expect((await run(again.usage)).blocks).toBe(1)
  })

  it("fails with ContentStoreError when the directory cannot be used", async () => {
    const dir = freshDir()
    writeFileSync(join(dir, "file"), "x")
    const tag = await Effect.runPromise(Effect.match(ContentStore.make(FileBackend.make({ dir: join(dir, "file") })), {
      onFailure: (e) => e._tag,
      onSuccess: () => "success"
    }))
    expect(tag).toBe("ContentStoreError")
  })
})

describe("ContentStore layers", () => {
  it("serves the same operations through the live and the in-memory layers", async () => {
    const program = Effect.gen(function*() {
      const store = yield* ContentStore.ContentStore
      const data = contentOf(CS + 100, 11)
      const mcid = yield* store.put(data)
      const back = yield* store.read(mcid)
      return Option.isSome(back) && same(back.value, data) && Mcid.equals(mcid, Mcid.ofBytes(data))
    })
    expect(await Effect.runPromise(Effect.provide(program, ContentStore.layerMemory()))).toBe(true)
    expect(await Effect.runPromise(Effect.provide(program, ContentStore.layer({ dir: freshDir(), fsync: false })))).toBe(true)
  })
})

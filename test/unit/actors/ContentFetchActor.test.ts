/**
 * The fetch actor under its supervisor, over the simulated network on `TestClock`: a fetch
 * killed mid-transfer (chaos) is restarted by the `fetches` supervisor and resumes from the
 * chunks verified on disk, asking the provider for none of them again (wants are counted at
 * the provider); repeated kills stay within the restart budget; a provider whose connection
 * is cut again and again is taken back after a backoff and the fetch completes from it; with
 * `fetchedPinMs` fetched content is pinned only that long after completion; an unknown MCID
 * fails `ContentNotFound` after the configured DHT queries.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import * as Content from "../../../src/content/Content.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import { effect } from "../../support/it.ts"
import { CHUNK, content, drive, heldChunks, type Node, nodes, sameBytes, settle, world } from "../supervisors/ContentMesh.ts"

const killFetch = (node: Node) =>
  Effect.gen(function*() {
    const fetches = node.content.fetches()!
    const children = yield* Effect.orDie(fetches.whichChildren)
    const process = children[0]?.process
    if (process === undefined) return false
    yield* process.exit(ExitReason.killed)
    yield* settle
    return true
  })

const chunkKeys = (bytes: Uint8Array): ReadonlyArray<string> => {
  const layout = Content.describe(bytes)
  return layout._tag === "single" ? [Mcid.toString(layout.mcid)] : layout.chunks.map((c) => Mcid.toString(c.mcid))
}

describe("ContentFetchActor", () => {
  effect("a fetch killed mid-transfer restarts and resumes from its store on disk without asking again for verified chunks", () =>
    Effect.gen(function*() {
      const w = yield* world(21, { latencyMs: 30 })
      const dir = mkdtempSync(join(tmpdir(), "content-fetch-"))
      // The fetching node keeps its blocks on disk; the want timeout is long enough that real disk
      // time racing the test clock never makes a want time out.
      const [a, c] = yield* nodes(w, 2, (n) => (n === 1 ? { dir, config: { blockRequestTimeoutMs: 60_000 } } : {}))
      const bytes = content(32 * CHUNK, 7)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
      let heldAtCrash: ReadonlyArray<number> | undefined
      let runs = 0
      const got = yield* drive(c!.content.get(mcid), 60_000, () =>
        Effect.gen(function*() {
          runs = Math.max(runs, (yield* c!.content.stats()).transfers[0]?.runs ?? 0)
          if (heldAtCrash !== undefined) return
          const held = yield* heldChunks(c!, mcid)
          if (held.length >= 10) {
            heldAtCrash = held
            expect(yield* killFetch(c!)).toBe(true)
          }
        }))
      if (got._tag !== "Success") throw new Error("get failed")
      expect(sameBytes(got.value, bytes)).toBe(true)
      expect(heldAtCrash).toBeDefined()
      expect(runs).toBe(2) // the supervisor restarted the killed fetch once
      const keys = chunkKeys(bytes)
      // Chunks verified before the crash were asked for exactly once, by the first run.
      for (const i of heldAtCrash!) expect(a!.wants.get(keys[i]!)).toBe(1)
      // The others at most twice: asked again are only the wants in flight at the crash and the
      // verified blocks whose write the crash interrupted.
      const held = new Set(heldAtCrash)
      for (let i = 0; i < keys.length; i++) {
        expect(a!.wants.get(keys[i]!)).toBeGreaterThanOrEqual(1)
        if (!held.has(i)) expect(a!.wants.get(keys[i]!)).toBeLessThanOrEqual(2)
      }
    }), 30_000)

  effect("repeated kills within the fetch budget: every run resumes and the content is complete", () =>
    Effect.gen(function*() {
      const w = yield* world(22, { latencyMs: 30 })
      const [a, c] = yield* nodes(w, 2)
      const bytes = content(40 * CHUNK, 8)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
      const killedAt: Array<number> = []
      const got = yield* drive(c!.content.get(mcid), 60_000, () =>
        Effect.gen(function*() {
          const held = (yield* heldChunks(c!, mcid)).length
          if (killedAt.length < 3 && held >= 8 * (killedAt.length + 1)) {
            if (yield* killFetch(c!)) killedAt.push(held)
          }
        }))
      if (got._tag !== "Success") throw new Error("get failed")
      expect(sameBytes(got.value, bytes)).toBe(true)
      expect(killedAt.length).toBe(3)
      // Each chunk is asked for at most once per run of the fetch.
      for (const key of chunkKeys(bytes)) expect(a!.wants.get(key)).toBeLessThanOrEqual(1 + killedAt.length)
      const stats = yield* c!.content.stats()
      expect(stats.transfers).toEqual([])
    }), 30_000)

  effect("a fetch whose only provider's connection is lost, again and again, takes it back and completes", () =>
    Effect.gen(function*() {
      const w = yield* world(24, { latencyMs: 30 })
      const [a, c] = yield* nodes(w, 2)
      const bytes = content(32 * CHUNK, 10)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
      const cutAt: Array<number> = []
      const got = yield* drive(c!.content.get(mcid), 60_000, () =>
        Effect.gen(function*() {
          const held = (yield* heldChunks(c!, mcid)).length
          if (cutAt.length >= 3 || held < 6 * (cutAt.length + 1)) return
          // The connection the fetch uses goes away under it (the provider itself stays up).
          const handle = yield* c!.tree.registry.lookup(a!.who.did)
          if (handle === undefined) return
          yield* handle.close({ graceful: false, message: "cut by the test" })
          cutAt.push(held)
        }))
      if (got._tag !== "Success") throw new Error(`get failed: ${String(got.cause)}`)
      expect(sameBytes(got.value, bytes)).toBe(true)
      expect(cutAt).toHaveLength(3)
      // One run of the fetch did it all: the provider was taken back, not the fetch restarted.
      expect((yield* c!.content.stats()).transfers).toEqual([])
    }), 30_000)

  effect("with fetchedPinMs the content is pinned until that long after its fetch completes, then a collection takes it", () =>
    Effect.gen(function*() {
      const w = yield* world(25, { latencyMs: 30 })
      const keepMs = 100_000
      const [a, c] = yield* nodes(w, 2, (n) => (n === 1 ? { config: { fetchedPinMs: keepMs } } : {}))
      const bytes = content(6 * CHUNK, 11)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
      const got = yield* drive(c!.content.get(mcid), 60_000)
      if (got._tag !== "Success") throw new Error(`get failed: ${String(got.cause)}`)
      const store = c!.content.store()!
      const doneAt = yield* Clock.currentTimeMillis
      const pin = (yield* store.pinInfo).find((p) => Mcid.equals(p.mcid, mcid))
      // Pinned from completion (the Completed command), not from the start of the fetch.
      expect(pin!.until).toBeGreaterThan(doneAt + keepMs - 1_000)
      expect(pin!.until).toBeLessThanOrEqual(doneAt + keepMs)
      expect((yield* Effect.orDie(store.gc())).removedBlocks).toBe(0)
      yield* TestClock.adjust(keepMs)
      expect((yield* store.pins).map(Mcid.toString)).not.toContain(Mcid.toString(mcid))
      expect((yield* Effect.orDie(store.gc())).removedBlocks).toBe(6 + 1)
      // The provider's own put stays pinned for good.
      expect((yield* a!.content.store()!.pinInfo).find((p) => Mcid.equals(p.mcid, mcid))?.until).toBe(Infinity)
    }), 30_000)

  effect("content nobody provides fails ContentNotFound after the configured DHT queries", () =>
    Effect.gen(function*() {
      const w = yield* world(23)
      const [, c] = yield* nodes(w, 2)
      const missing = Mcid.ofBytes(content(3 * CHUNK, 9))
      const got = yield* drive(c!.content.get(missing), 30_000)
      expect(got._tag).toBe("Failure")
      if (got._tag === "Failure") expect(String(got.cause)).toContain("ContentNotFound")
      expect((yield* c!.content.store()!.pins).map(Mcid.toString)).not.toContain(Mcid.toString(missing))
    }), 30_000)
})

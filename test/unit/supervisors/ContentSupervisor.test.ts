/**
 * The content subtree over the simulated network, with real transport subtrees and connection
 * actors (no QUIC), on `TestClock`: content held by two providers is fetched from both and
 * verified; a provider serving corrupt blocks is dropped and the result is byte-identical; a
 * provider killed mid-transfer; pause and resume; cancel from the fetching side (the provider
 * sees `content.cancel`) and from the providing side (its subtree stops).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { describe, expect } from "vitest"
import * as Mcid from "../../../src/content/Mcid.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import { effect } from "../../support/it.ts"
import { advance, CHUNK, content, corrupting, drive, heldChunks, nodes, sameBytes, world } from "./ContentMesh.ts"

describe("ContentSupervisor over the simulated network", () => {
  effect("content held by two providers is fetched from both in parallel and verified", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [a, b, c] = yield* nodes(w, 3)
      const bytes = content(24 * CHUNK + 1_000)
      const put = yield* drive(a!.content.put(bytes))
      if (put._tag !== "Success") throw new Error("put failed")
      const mcid = put.value
      expect(yield* drive(b!.content.put(bytes))).toMatchObject({ _tag: "Success" })
      const seen: Array<number> = []
      const got = yield* drive(c!.content.get(Mcid.toString(mcid), { onProgress: (p) => seen.push(p.storedChunks) }))
      if (got._tag !== "Success") throw new Error(`get failed: ${String(got.cause)}`)
      expect(sameBytes(got.value, bytes)).toBe(true)
      const servedA = (yield* a!.content.stats()).serve!.blocksServed
      const servedB = (yield* b!.content.stats()).serve!.blocksServed
      expect(servedA).toBeGreaterThan(0)
      expect(servedB).toBeGreaterThan(0)
      expect(servedA + servedB).toBeGreaterThanOrEqual(25)
      expect(seen.at(-1)).toBe(25)
      // Fetched content is announced: c now provides it too.
      yield* advance(100)
      expect([...w.providers.get(Mcid.toString(mcid))!]).toContain(c!.who.did)
      expect((yield* c!.content.stats()).transfers).toEqual([])
    }), 30_000)

  effect("a provider serving corrupt blocks is dropped and the result is byte-identical", () =>
    Effect.gen(function*() {
      const w = yield* world(12)
      const [honest, liar, c] = yield* nodes(w, 3, (n) => (n === 1 ? corrupting : {}))
      const bytes = content(16 * CHUNK, 2)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(honest!.content.put(bytes)), (e) => e))
      yield* drive(liar!.content.put(bytes))
      const got = yield* drive(c!.content.get(mcid))
      if (got._tag !== "Success") throw new Error("get failed")
      expect(sameBytes(got.value, bytes)).toBe(true)
      const stats = yield* c!.content.stats()
      expect(stats.blacklisted).toContain(liar!.who.did)
      // Every chunk came from the honest node in the end.
      expect((yield* honest!.content.stats()).serve!.blocksServed).toBeGreaterThanOrEqual(16)
    }), 30_000)

  effect("a provider killed mid-transfer: the other finishes the content", () =>
    Effect.gen(function*() {
      const w = yield* world(13, { latencyMs: 40 })
      const [a, b, c] = yield* nodes(w, 3)
      const bytes = content(40 * CHUNK, 3)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
      yield* drive(b!.content.put(bytes))
      let killed = false
      let servedByBBeforeCrash = 0
      const got = yield* drive(c!.content.get(mcid), 60_000, () =>
        Effect.gen(function*() {
          if (killed) return
          const held = yield* heldChunks(c!, mcid)
          if (held.length >= 8) {
            killed = true
            servedByBBeforeCrash = (yield* b!.content.stats()).serve!.blocksServed
            yield* SimNetwork.crash(w.net, b!.address)
          }
        }))
      expect(killed).toBe(true)
      expect(servedByBBeforeCrash).toBeGreaterThan(0)
      if (got._tag !== "Success") throw new Error("get failed")
      expect(sameBytes(got.value, bytes)).toBe(true)
    }), 30_000)

  effect("pause stops the wants (the provider sees content.cancel), resume finishes from disk", () =>
    Effect.gen(function*() {
      const w = yield* world(14, { latencyMs: 40 })
      const [a, c] = yield* nodes(w, 2)
      const bytes = content(30 * CHUNK, 4)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
      let paused = false
      const getting = yield* Effect.forkChild(c!.content.get(mcid))
      for (let t = 0; t < 10_000 && !paused; t += 10) {
        yield* advance(10)
        if ((yield* heldChunks(c!, mcid)).length >= 6) {
          paused = yield* c!.content.pause(mcid)
        }
      }
      expect(paused).toBe(true)
      yield* advance(2_000)
      const heldWhilePaused = (yield* heldChunks(c!, mcid)).length
      expect(heldWhilePaused).toBeLessThan(30)
      expect((yield* a!.content.stats()).serve!.openWants).toBe(0)
      expect(a!.cancels.count).toBeGreaterThan(0)
      yield* advance(2_000)
      expect((yield* heldChunks(c!, mcid)).length).toBe(heldWhilePaused)
      expect((yield* c!.content.stats()).transfers[0]!.paused).toBe(true)
      expect(yield* c!.content.resume(mcid)).toBe(true)
      const got = yield* drive(Fiber.join(getting), 60_000)
      if (got._tag !== "Success") throw new Error("get failed")
      expect(sameBytes(got.value, bytes)).toBe(true)
    }), 30_000)

  effect("cancel from the fetching side: waiters fail FetchCancelled, the provider forgets the wants, the root is unpinned", () =>
    Effect.gen(function*() {
      const w = yield* world(15, { latencyMs: 40 })
      const [a, c] = yield* nodes(w, 2)
      const bytes = content(30 * CHUNK, 5)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
      let cancelled = false
      const got = yield* drive(c!.content.get(mcid), 60_000, () =>
        Effect.gen(function*() {
          if (cancelled) return
          if ((yield* heldChunks(c!, mcid)).length >= 5) cancelled = yield* c!.content.cancel(mcid)
        }))
      expect(cancelled).toBe(true)
      expect(got._tag).toBe("Failure")
      if (got._tag === "Failure") expect(String(got.cause)).toContain("FetchCancelled")
      yield* advance(500)
      expect(a!.cancels.count).toBeGreaterThan(0)
      expect((yield* a!.content.stats()).serve!.openWants).toBe(0)
      const pins = yield* c!.content.store()!.pins
      expect(pins.map(Mcid.toString)).not.toContain(Mcid.toString(mcid))
      expect((yield* c!.content.stats()).transfers).toEqual([])
    }), 30_000)

  effect("cancel from the providing side: its only provider stops, the fetch fails ContentNotFound", () =>
    Effect.gen(function*() {
      const w = yield* world(16, { latencyMs: 40 })
      const [a, c] = yield* nodes(w, 2)
      const bytes = content(30 * CHUNK, 6)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
      let stopped = false
      const got = yield* drive(c!.content.get(mcid), 60_000, () =>
        Effect.gen(function*() {
          if (stopped) return
          if ((yield* heldChunks(c!, mcid)).length >= 5) {
            stopped = true
            yield* a!.tree.supervisor.stop()
          }
        }))
      expect(stopped).toBe(true)
      expect(got._tag).toBe("Failure")
      if (got._tag === "Failure") expect(String(got.cause)).toContain("ContentNotFound")
    }), 30_000)

  effect("put from a file, getToFile writes the file, and the announcer renews before the record expires", () =>
    Effect.gen(function*() {
      const w = yield* world(17)
      const [a, c] = yield* nodes(w, 2)
      const dir = mkdtempSync(join(tmpdir(), "content-"))
      const bytes = content(5 * CHUNK + 17, 7)
      writeFileSync(join(dir, "in.bin"), bytes)
      const put = yield* drive(a!.content.put(join(dir, "in.bin")))
      if (put._tag !== "Success") throw new Error("put failed")
      expect(Mcid.toString(put.value)).toBe(Mcid.toString(Mcid.ofBytes(bytes)))
      const size = yield* drive(c!.content.getToFile(put.value, join(dir, "out.bin")))
      expect(size).toMatchObject({ _tag: "Success", value: bytes.length })
      expect(sameBytes(new Uint8Array(readFileSync(join(dir, "out.bin"))), bytes)).toBe(true)
      const before = (yield* a!.content.stats()).announcer!.announcements
      w.providers.clear() // the records expired
      yield* advance(1_800_000)
      expect((yield* a!.content.stats()).announcer!.announcements).toBe(before + 1)
      expect([...w.providers.get(Mcid.toString(put.value))!]).toContain(a!.who.did)
    }), 30_000)

  effect("content of one block (a raw MCID) and content already held locally", () =>
    Effect.gen(function*() {
      const w = yield* world(18)
      const [a, c] = yield* nodes(w, 2)
      const small = content(100_000, 8)
      const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(small)), (e) => e))
      expect(mcid.codec).toBe("raw")
      const got = yield* drive(c!.content.get(mcid))
      if (got._tag !== "Success") throw new Error("get failed")
      expect(sameBytes(got.value, small)).toBe(true)
      const again = yield* drive(a!.content.get(mcid)) // held: no transfer at all
      expect(again._tag).toBe("Success")
      expect((yield* a!.content.stats()).transfers).toEqual([])
      expect(yield* c!.content.cancel(mcid)).toBe(false) // nothing running
    }), 30_000)

  effect("finished sessions free their streams: many fetches over one connection stay under the stream limit", () =>
    Effect.gen(function*() {
      const w = yield* world(19, {}, 6) // the control stream and five more per side
      const [a, c] = yield* nodes(w, 2)
      for (let i = 0; i < 12; i++) {
        const bytes = content(2 * CHUNK, 100 + i)
        const mcid = yield* Effect.orDie(Effect.flatMap(drive(a!.content.put(bytes)), (e) => e))
        const got = yield* drive(c!.content.get(mcid))
        if (got._tag !== "Success") throw new Error(`fetch ${i} failed`)
        expect(sameBytes(got.value, bytes)).toBe(true)
        yield* advance(100)
      }
    }), 30_000)
})

/**
 * The content announcer and the station's quota (PROTOCOL.md §12.5): content the store evicted
 * (whole, or one chunk of it) is no longer announced. A store on disk under a temporary
 * directory is filled past its quota with unpinned content; the oldest goes, and at the next
 * renewal the announcer drops it and renews the rest. Renewals run on `TestClock`; the store's
 * file I/O is real, so the test waits for it with short real sleeps.
 */
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as ContentAnnouncerActor from "../../../actors/ContentAnnouncerActor.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import * as ContentStore from "../../../src/platform/content/ContentStore.ts"
import * as FileBackend from "../../../src/platform/content/FileBackend.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import { effect } from "../../support/it.ts"
import { contentOf, CS } from "../protocols/content/Fixtures.ts"

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** Waits (real time, up to ~5 s) until `done` holds: the store's file I/O is not on TestClock. */
const waitFor = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && !done(); i++) {
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 10)))
    }
    expect(done()).toBe(true)
  })

const noReply: Actor.Reply<void, ContentAnnouncerActor.AnnounceFailed> = { succeed: () => {}, fail: () => {}, isDone: () => true }

describe("ContentAnnouncerActor: renewal", () => {
  it("renews content held whole, drops content no longer held whole, and does not drop on a failed read", () => {
    expect(ContentAnnouncerActor.renewal("complete")).toBe("announce")
    expect(ContentAnnouncerActor.renewal("incomplete")).toBe("drop")
    expect(ContentAnnouncerActor.renewal("unknown")).toBe("announce")
  })
})

describe("ContentAnnouncerActor: a station store past its quota", () => {
  effect("the oldest unpinned content is evicted and no longer announced; the rest is renewed", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "content-announcer-"))
      dirs.push(dir)
      const big = contentOf(2 * CS + 5, 1) // three chunks and a manifest
      const small = [2, 3, 4].map((s) => contentOf(1_000, s))
      // Room for the big content and two small ones, not three.
      const store = yield* ContentStore.make(FileBackend.make({ dir, fsync: false }), { quotaBytes: big.length + 2_000 + 1_024 })
      const bigMcid = yield* store.put(big, { pin: false })
      const [s1, s2] = [yield* store.put(small[0]!, { pin: false }), yield* store.put(small[1]!, { pin: false })]

      const announced = new Map<string, number>()
      const count = (m: Mcid.Mcid) => announced.get(Mcid.key(m)) ?? 0
      const reannounceMs = 60_000
      const ref = yield* Actor.spawn(ContentAnnouncerActor.behavior({
        store,
        announce: (m) => Effect.sync(() => void announced.set(Mcid.key(m), count(m) + 1)),
        reannounceMs,
        retryMs: 1_000
      }))
      for (const m of [bigMcid, s1, s2]) yield* ref.cast({ _tag: "Provide", mcid: m, reply: noReply })
      yield* waitFor(() => count(bigMcid) === 1 && count(s1) === 1 && count(s2) === 1)

      // A third small one passes the quota: the least recently used unpinned block, the big
      // content's first chunk, is evicted, so the big content is no longer held whole.
      const s3 = yield* store.put(small[2]!, { pin: false })
      const progress = yield* store.progress(bigMcid)
      expect(progress.complete).toBe(false)
      expect(progress._tag === "chunked" && progress.missing).toEqual([0])
      yield* ref.cast({ _tag: "Provide", mcid: s3, reply: noReply })
      yield* waitFor(() => count(s3) === 1)

      // At the renewal the evicted content is dropped; what is held is announced again.
      yield* TestClock.adjust(reannounceMs)
      yield* waitFor(() => count(s1) === 2 && count(s2) === 2 && count(s3) === 2)
      const stats = yield* ref.call<ContentAnnouncerActor.Stats>((reply) => ({ _tag: "Stats", reply }))
      expect(stats).toMatchObject({ provided: 3, dropped: 1 })
      expect(count(bigMcid)).toBe(1)

      // And it stays dropped.
      yield* TestClock.adjust(reannounceMs)
      yield* waitFor(() => count(s1) === 3 && count(s2) === 3 && count(s3) === 3)
      expect(count(bigMcid)).toBe(1)
    }))

  effect("content evicted before its first announcement is refused (Provide fails), and after a restart only pins in force are announced", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "content-announcer-"))
      dirs.push(dir)
      yield* TestClock.setTime(1_000_000)
      const store = yield* ContentStore.make(FileBackend.make({ dir, fsync: false }), { quotaBytes: 2_000 })
      const [a, b, c] = [5, 6, 7].map((s) => contentOf(1_000, s))
      const ma = yield* store.put(a!, { pin: false })
      yield* store.pin(ma, { until: 1_000_000 + 10_000 })
      const mb = yield* store.put(b!, { pin: false })
      yield* store.pin(mb, { until: 1_000_000 + 90_000 })
      // a's pin ends: the next write evicts it.
      yield* TestClock.adjust(20_000)
      const mc = yield* store.put(c!, { pin: false })
      expect(yield* store.has(ma)).toBe(false)

      const announced: Array<string> = []
      const behavior = ContentAnnouncerActor.behavior({ store, announce: (m) => Effect.sync(() => void announced.push(Mcid.key(m))), reannounceMs: 60_000 })
      const ref = yield* Actor.spawn(behavior)
      // Started from the pins in force: b only (c is held but not pinned).
      yield* waitFor(() => announced.length === 1)
      expect(announced).toEqual([Mcid.key(mb)])
      const refused = yield* Effect.flip(ref.call<void, ContentAnnouncerActor.AnnounceFailed>((reply) => ({ _tag: "Provide", mcid: ma, reply })))
      expect(refused).toMatchObject({ _tag: "AnnounceFailed", cause: "not held" })
      yield* ref.call<void, ContentAnnouncerActor.AnnounceFailed>((reply) => ({ _tag: "Provide", mcid: mc, reply }))
      expect(announced).toEqual([Mcid.key(mb), Mcid.key(mc)])
    }))
})

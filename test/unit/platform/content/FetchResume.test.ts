/**
 * The fetch core driven against the real store on disk, as `ContentFetchActor` will drive it:
 * a fetch that dies after a few chunks (its process gone, its core state lost) is started
 * again from `ContentStore.resumePoint` on a reopened store, asks only for the chunks not on
 * disk, and completes with byte-identical content. The provider is the serving core over the
 * blocks of the content.
 */
import { Effect, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Content from "../../../../src/content/Content.ts"
import * as Hooks from "../../../../src/content/Hooks.ts"
import * as Mcid from "../../../../src/content/Mcid.ts"
import * as ContentStore from "../../../../src/platform/content/ContentStore.ts"
import * as FileBackend from "../../../../src/platform/content/FileBackend.ts"
import * as Config from "../../../../src/protocols/content/Config.ts"
import * as Fetch from "../../../../src/protocols/content/Fetch.ts"
import * as Serve from "../../../../src/protocols/content/Serve.ts"

const CS = 262_144
const dir = mkdtempSync(join(tmpdir(), "content-resume-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const content = (() => {
  const out = new Uint8Array(10 * CS + 1_234)
  let x = 0x2545f491
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 255
  }
  return out
})()
const layout = Content.describe(content)
const blocks = new Map(Content.blocks(layout).map((b) => [Buffer.from(Mcid.bytes(b.mcid)).toString("hex"), b.bytes]))
const config = Config.make(Hooks.hooks, { ...Config.local, fetchWindowPerProvider: 3 })
const openStore = () => Effect.runPromise(ContentStore.make(FileBackend.make({ dir, fsync: false })))

/** A provider: the serving core over `blocks`, answering at once. */
const provider = () => {
  const step = Serve.make(config)
  let state = Serve.initial
  return (from: string, frame: Serve.Inbound): ReadonlyArray<Fetch.Inbound> => {
    const replies: Array<Fetch.Inbound> = []
    const queue: Array<Serve.Event> = [Serve.Event.FrameReceived({ now: 0, from, frame })]
    while (queue.length > 0) {
      const [next, commands] = step(state, queue.shift()!)
      state = next
      for (const c of commands) {
        const held = (m: Uint8Array) => blocks.get(Buffer.from(m).toString("hex"))
        if (c._tag === "Send") {
          replies.push(c.frame)
          if (c.frame.t === "content.block") queue.push(Serve.Event.BlockSent({ now: 0, peer: c.to }))
        } else if (c._tag === "ReadBlock") {
          const bytes = held(c.m)
          queue.push(Serve.Event.BlockRead({ now: 0, peer: c.peer, m: c.m, ...(bytes === undefined ? {} : { bytes }) }))
        } else if (c._tag === "ReadManifest") {
          const bytes = held(c.m)
          queue.push(Serve.Event.ManifestRead({ now: 0, peer: c.peer, id: c.id, m: c.m, ...(bytes === undefined ? {} : { bytes }) }))
        }
      }
    }
    return replies
  }
}

/**
 * Drives one fetch to completion, or until `dieAfter` chunks were written (then it stops at
 * once, as a killed actor would). Returns the chunks it asked for and whether it completed.
 */
const runFetch = async (store: ContentStore.ContentStoreShape, dieAfter = Infinity) => {
  const serve = provider()
  const step = Fetch.make(config)
  const start = await Effect.runPromise(store.resumePoint(layout.mcid))
  let state = Fetch.initial(Mcid.bytes(layout.mcid), 7)
  const queue: Array<Fetch.Event> = [Fetch.Event.Start({ now: 0, providers: ["p"], stored: start })]
  const asked: Array<string> = []
  let written = 0
  let completed = false
  while (queue.length > 0) {
    const [next, commands] = step(state, queue.shift()!)
    state = next
    for (const c of commands) {
      switch (c._tag) {
        case "Send":
          if (c.frame.t === "content.want") asked.push(...c.frame.w.map((e) => Mcid.toString(Mcid.fromBytes(e.m))))
          for (const reply of serve("f", c.frame)) queue.push(Fetch.Event.FrameReceived({ now: 0, from: "p", frame: reply }))
          break
        case "StoreManifest": {
          await Effect.runPromise(store.putManifest(Mcid.fromBytes(c.mcid), c.bytes))
          const point = await Effect.runPromise(store.resumePoint(layout.mcid))
          queue.push(Fetch.Event.ManifestStored({ now: 0, held: point._tag === "Manifest" ? point.held : [] }))
          break
        }
        case "StoreBlock":
          if (written >= dieAfter) return { asked, completed, written }
          await Effect.runPromise(store.putBlock(Mcid.fromBytes(c.mcid), c.bytes))
          written++
          queue.push(Fetch.Event.Stored({ now: 0, index: c.index }))
          break
        case "Completed":
          completed = true
          break
        default:
          break
      }
    }
  }
  return { asked, completed, written }
}

describe("a fetch restarted after a crash", () => {
  it("resumes from the chunks on disk, asks for none of them again, and completes byte-identical", async () => {
    if (layout._tag !== "chunked") throw new Error("chunked expected")
    const first = await runFetch(await openStore(), 4)
    expect(first.completed).toBe(false)
    expect(first.written).toBe(4)

    const store = await openStore() // the restarted actor opens the store afresh
    const point = await Effect.runPromise(store.resumePoint(layout.mcid))
    expect(point._tag).toBe("Manifest")
    const held = point._tag === "Manifest" ? point.held : []
    expect(held).toHaveLength(4)

    const second = await runFetch(store)
    expect(second.completed).toBe(true)
    const heldMcids = held.map((i) => Mcid.toString(layout.chunks[i]!.mcid))
    for (const m of heldMcids) expect(second.asked).not.toContain(m)
    expect(second.written).toBe(layout.chunks.length - held.length)
    const back = await Effect.runPromise(store.read(layout.mcid))
    expect(Option.isSome(back) && Buffer.from(back.value).equals(Buffer.from(content))).toBe(true)
    expect((await Effect.runPromise(store.resumePoint(layout.mcid)))._tag).toBe("Complete")
  })
})

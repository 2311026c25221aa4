/**
 * A station's uploads under `stationContentMaxBytes` and `stationUploadPinMs` (PROTOCOL.md
 * §12.5), one process, real QUIC on loopback, the station's store on disk: an upload is pinned
 * only `stationUploadPinMs` after it completes, so once that has passed a new upload evicts
 * it (least recently used first) instead of being refused; while the pin holds, the new
 * upload is refused as before.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import type * as ContentSupervisor from "../../../supervisors/ContentSupervisor.ts"
import type * as Mcid from "../../../src/content/Mcid.ts"
import { MaculaNode } from "../../../src/node/MaculaNode.ts"
import { contentOf } from "../protocols/content/Fixtures.ts"

/** A station with room for one 500 kB upload (two chunks and a manifest), not two. */
const station = async (stationUploadPinMs: number) => {
  const dir = mkdtempSync(join(tmpdir(), "station-pins-"))
  let api: ContentSupervisor.Api | undefined
  const node = await MaculaNode.start(
    { role: "station", listen: "127.0.0.1:0", dataDir: dir, knobs: { stationContentMaxBytes: 600_000, stationUploadPinMs } },
    { content: { onApi: (a) => void (api = a) } }
  )
  /** Whether the station's store holds `mcid` whole. */
  const complete = (mcid: Mcid.Mcid) => Effect.runPromise(Effect.map(Effect.orDie(api!.store()!.progress(mcid)), (p) => p.complete))
  return { node, dir, api: () => api!, complete }
}

describe("a station's uploads and stationUploadPinMs", () => {
  it("past its pin an upload is evicted for a new one; within it the new one is refused", async () => {
    const short = await station(1)
    const long = await station(3_600_000)
    const started: Array<MaculaNode> = [short.node, long.node]
    try {
      for (const s of [short, long]) {
        const client = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [`${s.node.address}#${s.node.did}`] })
        started.push(client)
        const first = await client.putContent(contentOf(500_000, 1))
        expect(await s.complete(first)).toBe(true)
        if (s === short) {
          // Pinned for 1 ms: the next upload evicts the first one's blocks to make room.
          await new Promise((resolve) => setTimeout(resolve, 5))
          expect(await Effect.runPromise(s.api().store()!.pins)).toEqual([])
          const second = await client.putContent(contentOf(500_000, 2))
          expect(await s.complete(second)).toBe(true)
          expect(await s.complete(first)).toBe(false)
        } else {
          // Pinned with an end (not for good), `stationUploadPinMs` after the upload completed.
          const pins = await Effect.runPromise(s.api().store()!.pinInfo)
          expect(pins).toHaveLength(1)
          expect(pins[0]!.until).toBeGreaterThan(Date.now() + 3_500_000)
          expect(pins[0]!.until).toBeLessThanOrEqual(Date.now() + 3_600_000)
          // Still pinned: the station keeps it and refuses the next upload.
          await expect(client.putContent(contentOf(500_000, 3))).rejects.toMatchObject({ _tag: "UploadFailed" })
          expect(await s.complete(first)).toBe(true)
        }
      }
    } finally {
      await Promise.all(started.map((n) => n.stop()))
      rmSync(short.dir, { recursive: true, force: true })
      rmSync(long.dir, { recursive: true, force: true })
    }
  }, 60_000)
})

/**
 * An at-least-once subscription outlives its subscriber's process (PROTOCOL.md §8.5), with a real
 * `macula station` process over QUIC on loopback, an in-process publisher, and a subscriber node
 * in a process of its own (`fixtures/alo-subscriber.ts`) keeping its data directory.
 *
 * The subscriber is SIGKILLed while a numbered stream is published, and started again with the
 * same data directory (so the same identity, and the cursor file) well within `aloRetentionMs`;
 * this time it makes another subscription first, so the recorded sid, not the order of calls,
 * names the subscription. The station held it; the restarted process subscribes again, its `sub`
 * carries the recorded `sid` and cursor, and the station replays everything after it. Across
 * both runs every number is handled at least once, none is lost, no gap is reported, and the
 * only numbers handled twice are those the first run finished after its last recorded cursor.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import { launch, type Proc, sleep, station, until, within } from "../support/stations.ts"
import { MaculaNode } from "../../src/node/index.ts"

const bundle = bundled("main")
const fixture = bundled("alo-subscriber")
const children: Array<ChildProcessWithoutNullStreams> = []
const nodes: Array<MaculaNode> = []
const dataDir = mkdtempSync(join(tmpdir(), "macula-alo-restart-"))

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)))
  killAll(children)
  rmSync(dataDir, { recursive: true, force: true })
})

const realm = "io.example"
const topic = `${realm}/acme/shop/orders/placed_v1`

type Line = { readonly ev: string } & Record<string, unknown>

/** The JSON lines a subscriber process printed so far. */
const lines = (p: Proc): ReadonlyArray<Line> =>
  p.stdout().split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Line)
const numbersOf = (p: Proc): Array<number> => lines(p).flatMap((l) => (l.ev === "event" ? [l.n as number] : []))
const gapsOf = (p: Proc): ReadonlyArray<Line> => lines(p).filter((l) => l.ev === "gap")

/** The recorded cursor of the one subscription in the data directory's cursor file (none without a file). */
const recordedCursor = (): number | undefined => {
  const path = join(dataDir, "subscriptions.json")
  if (!existsSync(path)) return undefined
  const file = JSON.parse(readFileSync(path, "utf8")) as {
    subs: Array<{ pattern: string; sid: number; cur?: number }>
  }
  expect(file.subs.map((s) => s.pattern)).toEqual([topic])
  return file.subs[0]!.cur
}

describe("at-least-once subscription across a SIGKILL of the subscriber's process", () => {
  it("a restarted process with the same data directory resumes: nothing lost, no gap, duplicates only past the recorded cursor", async () => {
    const s = await station(bundle, children, ["--listen", "127.0.0.1:0"])
    const input = JSON.stringify({ seed: s.seed, realm, topic, data: dataDir, handleMs: 5 })
    const first = launch(fixture, children, [input])
    await until("the first run subscribed", () => lines(first).some((l) => l.ev === "ready"), 30_000, first)
    const did = lines(first).find((l) => l.ev === "ready")!.did
    const publisher = await MaculaNode.start({ role: "client", realm, seeds: [s.seed], knobs: { stationPowBits: 8 } })
    nodes.push(publisher)

    // Publish a numbered stream; kill the subscriber once a good part arrived, keep publishing
    // while it is down, start it again, and publish the rest.
    const last = 240
    let second: Proc | undefined
    let cursorAtKill: number | undefined
    let handledAtKill: Array<number> = []
    let killedAfter = 0
    await within("the stream", 60_000, (async () => {
      for (let n = 1; n <= last; n++) {
        await publisher.publish(topic, { n })
        if (killedAfter === 0 && numbersOf(first).length >= 80) {
          first.child.kill("SIGKILL")
          await first.exited
          killedAfter = n
          handledAtKill = numbersOf(first)
          cursorAtKill = recordedCursor()
        }
        if (killedAfter > 0 && second === undefined && n >= killedAfter + 40) {
          second = launch(fixture, children, [JSON.stringify({ ...JSON.parse(input), before: `${realm}/acme/shop/other/noted_v1` })])
        }
        await sleep(10)
      }
    })())
    expect(second).toBeDefined()
    const again = second!
    await until("the last number reaches the second run", () => numbersOf(again).includes(last), 45_000, again)
    await sleep(500) // time for a stray redelivery to show up
    expect(lines(again).find((l) => l.ev === "ready")?.did, "same identity").toBe(did)

    const one = handledAtKill
    const two = numbersOf(again)
    // Each run saw its numbers once each, in publish order.
    expect(one).toEqual(Array.from({ length: one.length }, (_, i) => i + 1))
    expect(new Set(two).size).toBe(two.length)
    expect(two).toEqual([...two].sort((a, b) => a - b))
    // Nothing lost, nothing reported lost.
    expect(new Set([...one, ...two])).toEqual(new Set(Array.from({ length: last }, (_, i) => i + 1)))
    expect(gapsOf(first)).toEqual([])
    expect(gapsOf(again)).toEqual([])
    // The cursor file never ran ahead of the handler, and the second run resumed right after it:
    // the numbers handled twice are exactly those the first run finished past it.
    const cursor = cursorAtKill ?? 0
    expect(cursor).toBeLessThanOrEqual(one.length)
    expect(two[0]).toBe(cursor + 1)
    const twice = two.filter((n) => n <= one.length)
    expect(twice).toEqual(one.filter((n) => n > cursor))
    expect(recordedCursor() ?? 0, "the second run records its progress").toBeGreaterThan(cursor)
    console.info(`subscriber killed after ${one.length} handled (cursor file at ${cursor}, ${killedAfter} published); ` +
      `restarted ${40} publishes later; ${twice.length} redelivered, ${last} of ${last} delivered, no gap`)
    expect(s.child.exitCode).toBe(null)
  }, 150_000)
})

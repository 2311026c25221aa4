/**
 * The 1 GiB transfer of the content suite, run in a process of its own so its resident set is
 * not mixed with the in-memory transfers before it: `node ContentBig.js SIZE`.
 *
 * It writes SIZE random bytes to a file (4 MiB at a time, never whole in memory), starts two
 * nodes on loopback QUIC with stores on disk (no fsync: the disk's flush speed is not what is
 * measured), puts the file on the first (`put(path)`: read, hashed and stored chunk by chunk),
 * fetches it on the second to another file (`getToFile`), and compares the two files. A timer
 * samples `process.memoryUsage().rss` every 20 ms. The last line on stdout is the JSON report.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { open } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import type { Scope } from "effect/Scope"
import { quicContentNode } from "./content.ts"
import { now } from "./Measure.ts"

const MiB = 1_048_576
const PIECE = 4 * MiB

/** Writes `size` random bytes to `path`, one piece at a time. */
const generate = async (path: string, size: number): Promise<void> => {
  const file = await open(path, "w")
  try {
    for (let at = 0; at < size; at += PIECE) await file.write(randomBytes(Math.min(PIECE, size - at)))
  } finally {
    await file.close()
  }
}

/** Whether two files hold the same bytes, read a piece at a time. */
const sameFiles = async (a: string, b: string): Promise<boolean> => {
  const [fa, fb] = [await open(a, "r"), await open(b, "r")]
  try {
    const [ba, bb] = [Buffer.alloc(PIECE), Buffer.alloc(PIECE)]
    for (let at = 0;; at += PIECE) {
      const [ra, rb] = [await fa.read(ba, 0, PIECE, at), await fb.read(bb, 0, PIECE, at)]
      if (ra.bytesRead !== rb.bytesRead) return false
      if (ra.bytesRead === 0) return true
      if (ba.compare(bb, 0, rb.bytesRead, 0, ra.bytesRead) !== 0) return false
    }
  } finally {
    await fa.close()
    await fb.close()
  }
}

const main = async (size: number): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), "content-big-"))
  let peak = 0
  const sample = () => void (peak = Math.max(peak, process.memoryUsage().rss))
  const sampler = setInterval(sample, 20)
  try {
    const source = join(dir, "source")
    const output = join(dir, "output")
    await generate(source, size)
    const report = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const providers = new Map<string, Set<string>>()
      const addresses = new Map<string, string>()
      const provider = yield* quicContentNode(80, providers, addresses, { dir: join(dir, "provider"), fsync: false })
      const fetcher = yield* quicContentNode(81, providers, addresses, { dir: join(dir, "fetcher"), fsync: false })
      sample()
      const idleRssMb = process.memoryUsage().rss / MiB
      // The kernel's high-water mark so far: start-up and the generated file, before any transfer.
      const startMaxRssMb = process.resourceUsage().maxRSS / 1_024
      peak = 0
      let start = now()
      const mcid = yield* provider.api.put(source)
      const putMbS = size / MiB / ((now() - start) / 1_000)
      start = now()
      const written = yield* fetcher.api.getToFile(mcid, output)
      const getMbS = size / MiB / ((now() - start) / 1_000)
      sample()
      // The kernel's high-water mark at the end of the get: also catches what fell between samples.
      const maxRssMb = process.resourceUsage().maxRSS / 1_024
      if (written !== size) throw new Error(`wrote ${written} bytes of ${size}`)
      return { putMbS, getMbS, idleRssMb, startMaxRssMb, maxRssMb }
    }) as Effect.Effect<{ putMbS: number; getMbS: number; idleRssMb: number; startMaxRssMb: number; maxRssMb: number }, unknown, Scope>))
    const peakRssMb = peak / MiB
    if (!(await sameFiles(source, output))) throw new Error("the fetched file differs from the source")
    const round1 = (n: number) => Math.round(n * 10) / 10
    process.stdout.write(`${JSON.stringify({
      bytes: size,
      putMbS: round1(report.putMbS),
      getMbS: round1(report.getMbS),
      peakRssMb: round1(peakRssMb),
      maxRssMb: round1(report.maxRssMb),
      startMaxRssMb: round1(report.startMaxRssMb),
      idleRssMb: round1(report.idleRssMb)
    })}\n`)
  } finally {
    clearInterval(sampler)
    rmSync(dir, { recursive: true, force: true })
  }
}

const size = Number(process.argv[2] ?? 1_024 * MiB)
if (!Number.isInteger(size) || size <= 0) {
  process.stderr.write("usage: ContentBig SIZE_BYTES\n")
  process.exit(2)
}
main(size).then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`ContentBig: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})

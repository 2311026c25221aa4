/**
 * The content suite: hashing and addressing, each against baselines measured in the same run.
 *
 * - `blake3_mb_s`: BLAKE3 (`blake3-jit`, what `src/content/Blake3.ts` uses) over 256 KiB chunks,
 *   against SHA-256 of `node:crypto` (`sha256`, hardware-accelerated where the CPU has SHA
 *   extensions) and the pure-JavaScript BLAKE3 of `@noble/hashes` (`noble_blake3`);
 * - `mcid_of_bytes_mb_s`: `Mcid.ofBytes` over 16 MiB (chunking, 64 chunk hashes, the Merkle
 *   root, the manifest and its hash), against SHA-256 of the same bytes;
 * - `manifest_open`: checking a 30 000-chunk manifest (the largest allowed, ~1 MB) against its
 *   MCID: hash, pre-scan, decode, canonical form, Merkle root.
 */
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js"
import { createHash } from "node:crypto"
import * as Blake3 from "../../src/content/Blake3.ts"
import * as Manifest from "../../src/content/Manifest.ts"
import * as Mcid from "../../src/content/Mcid.ts"
import * as Merkle from "../../src/content/Merkle.ts"
import { interleaved, medians, now } from "./Measure.ts"
import type { Result, SuiteOptions, SuiteResult } from "./Report.ts"

const MiB = 1_048_576

/** Runs `body` `n` times; returns MB/s for `bytes` bytes per call. */
const throughput = (n: number, bytes: number, body: () => unknown): Promise<number> => {
  let sink: unknown
  const start = now()
  for (let i = 0; i < n; i++) sink = body()
  const elapsed = now() - start
  if (sink === Symbol.for("never")) throw new Error("unreachable")
  return Promise.resolve((n * bytes) / MiB / (elapsed / 1_000))
}

const filled = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed | 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 255
  }
  return out
}

const hashResults = async (options: SuiteOptions): Promise<ReadonlyArray<Result>> => {
  const chunk = filled(262_144, 1)
  const n = options.quick ? 20 : 200
  const rounds = { rounds: options.quick ? 3 : 7, warmup: 2 }
  options.log(`blake3: 256 KiB chunks, ${n} per sample × ${rounds.rounds}`)
  const m = medians(await interleaved({
    blake3: () => throughput(n, chunk.length, () => Blake3.hash(chunk)),
    sha256: () => throughput(n, chunk.length, () => createHash("sha256").update(chunk).digest()),
    noble_blake3: () => throughput(Math.max(2, n / 10), chunk.length, () => nobleBlake3(chunk))
  }, rounds))
  return [{
    name: "blake3_mb_s",
    unit: "MB/s",
    value: m.blake3,
    baselines: { sha256: m.sha256, noble_blake3: m.noble_blake3 },
    note: "one 256 KiB chunk per call; sha256 = node:crypto, noble_blake3 = @noble/hashes (pure JS)"
  }]
}

const mcidResults = async (options: SuiteOptions): Promise<ReadonlyArray<Result>> => {
  const size = options.quick ? 2 * MiB : 16 * MiB
  const content = filled(size, 2)
  const n = options.quick ? 1 : 3
  options.log(`Mcid.ofBytes: ${size / MiB} MiB × ${n}`)
  const m = medians(await interleaved({
    mcid: () => throughput(n, size, () => Mcid.ofBytes(content)),
    sha256: () => throughput(n, size, () => createHash("sha256").update(content).digest())
  }, { rounds: options.quick ? 3 : 5, warmup: 1 }))
  return [{
    name: "mcid_of_bytes_mb_s",
    unit: "MB/s",
    value: m.mcid,
    baselines: { sha256: m.sha256 },
    note: `${size / MiB} MiB: chunk hashes, Merkle root, manifest, manifest hash`
  }]
}

const manifestResults = async (options: SuiteOptions): Promise<ReadonlyArray<Result>> => {
  const count = options.quick ? 3_000 : 30_000
  const hashes = Array.from({ length: count }, (_, i) => Blake3.hash(new Uint8Array([i & 255, i >> 8, i >> 16])))
  const manifest: Manifest.Manifest = { size: count * 262_144 - 1, chunkCount: count, root: Merkle.root(hashes), hashes }
  const bytes = Manifest.encode(manifest)
  const mcid = Mcid.manifest(Blake3.hash(bytes))
  if (Manifest.isError(Manifest.open(mcid, bytes))) throw new Error("the sample manifest does not open")
  const n = options.quick ? 2 : 10
  options.log(`manifest_open: ${count} chunks (${bytes.length} bytes) × ${n}`)
  const m = medians(await interleaved({
    open: () => {
      const start = now()
      for (let i = 0; i < n; i++) Manifest.open(mcid, bytes)
      return Promise.resolve((n / (now() - start)) * 1_000)
    }
  }, { rounds: options.quick ? 3 : 5, warmup: 1 }))
  return [{
    name: "manifest_open",
    unit: "manifests/s",
    value: m.open,
    baselines: {},
    note: `a ${count}-chunk manifest (${(bytes.length / MiB).toFixed(2)} MiB): BLAKE3, pre-scan, decode, canonical check, Merkle root`
  }]
}

/** The suite entry point used by `npm run bench -- content`. */
export const run = async (options: SuiteOptions): Promise<SuiteResult> => ({
  suite: "content",
  results: [...(await hashResults(options)), ...(await mcidResults(options)), ...(await manifestResults(options))],
  targets: [{ result: "blake3_mb_s", baseline: "noble_blake3", atLeast: 5 }]
})

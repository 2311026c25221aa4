/**
 * The content suite: hashing and addressing, each against baselines measured in the same run.
 *
 * - `blake3_mb_s`: BLAKE3 (`blake3-jit`, what `src/content/Blake3.ts` uses) over 256 KiB chunks,
 *   against SHA-256 of `node:crypto` (`sha256`, hardware-accelerated where the CPU has SHA
 *   extensions) and the pure-JavaScript BLAKE3 of `@noble/hashes` (`noble_blake3`);
 * - `mcid_of_bytes_mb_s`: `Mcid.ofBytes` over 16 MiB (chunking, 64 chunk hashes, the Merkle
 *   root, the manifest and its hash), against SHA-256 of the same bytes;
 * - `manifest_open`: checking a 30 000-chunk manifest (the largest allowed, ~1 MB) against its
 *   MCID: hash, pre-scan, decode, canonical form, Merkle root;
 * - `transfer_mb_s`: 64 MiB fetched by `ContentSupervisor.get` from one provider over real QUIC
 *   on loopback (connection actors, content sessions, verification, in-memory stores), against
 *   `raw_quic_mb_s`: a plain stream of the same transport moving the same bytes in the same run,
 *   and `raw_quic_verified_mb_s`: the same stream whose receiver also hashes every 256 KiB frame
 *   with BLAKE3 and gathers them into one buffer (what a fetch cannot skip, none of the protocol);
 * - `transfer3_mb_s`: the same content from three providers at once, each in a child process of
 *   its own (`ContentProvider.ts`), against `transfer1_procs_mb_s`: one provider process alone;
 * - `transfer3_capped_mb_s`: the same with every provider's uplink capped at a third of what
 *   one uncapped provider process managed, against `transfer1_capped_mb_s` (one such provider):
 *   on loopback an uncapped provider is as fast as the fetcher, so the fetcher alone bounds
 *   `transfer3_mb_s`; capped providers are the case parallel download is for;
 * - `transfer_peak_rss_mb`: the process's peak resident set after the transfers;
 * - `big_get_mb_s`, `big_put_mb_s`, `big_peak_rss_mb`: 1 GiB generated on disk, put from the
 *   file by a provider and fetched to a file by a second node (stores on disk), in a child
 *   process of its own whose resident set is sampled every 20 ms (`ContentBig.ts`).
 */
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js"
import { createHash } from "node:crypto"
import * as Blake3 from "../../src/content/Blake3.ts"
import * as Manifest from "../../src/content/Manifest.ts"
import * as Mcid from "../../src/content/Mcid.ts"
import * as Merkle from "../../src/content/Merkle.ts"
import { randomBytes } from "node:crypto"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { dirname, extname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { Scope } from "effect/Scope"
import * as ConnectionActor from "../../actors/ConnectionActor.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as Quic from "../../src/platform/transport/Quic.ts"
import * as QuicConfig from "../../src/platform/transport/QuicConfig.ts"
import { Transport } from "../../src/platform/transport/Transport.ts"
import * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import * as TransportSupervisor from "../../supervisors/TransportSupervisor.ts"
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

/** `size` pseudo-random bytes from `seed` (xorshift): the same bytes in every process. */
export const filled = (size: number, seed: number): Uint8Array => {
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

const DATAGRAM = 65_527

/**
 * A node on loopback QUIC: transport subtree and content subtree, in the current scope. Its
 * store is in memory, or on disk under `store.dir` (the 1 GiB run); `knobs` override the
 * content defaults (a window experiment).
 */
export const quicContentNode = (
  seed: number,
  providers: Map<string, Set<string>>,
  addresses: Map<string, string>,
  store?: ContentSupervisor.StoreDeps,
  knobs?: ContentSupervisor.Deps["config"]
) =>
  Effect.gen(function*() {
    const seedBytes = new Uint8Array(32).fill(seed)
    const who = Identity.fromSeed(seedBytes)
    const transport = yield* Quic.make(QuicConfig.make(seedBytes, {
      host: "127.0.0.1",
      maxUdpPayloadBytes: DATAGRAM,
      quicIdleTimeoutMs: 30_000
    }))
    let tree: TransportSupervisor.TransportTree | undefined
    const { api, startTree } = ContentSupervisor.make({
      identity: { did: who.did },
      transport: {
        connect: (p) => tree === undefined ? Effect.fail("down") : tree.dialer.dial(p.address ?? addresses.get(p.did)!, { expectedDid: p.did })
      },
      dht: {
        findProviders: (mcid) =>
          Effect.succeed([...(providers.get(Mcid.toString(mcid)) ?? [])].filter((d) => d !== who.did).map((did) => ({ did, address: addresses.get(did)! }))),
        announce: (mcid) =>
          Effect.sync(() => {
            const key = Mcid.toString(mcid)
            providers.set(key, (providers.get(key) ?? new Set()).add(who.did))
          })
      },
      ...(store === undefined ? {} : { store }),
      config: { ...knobs, announceFetched: false }
    })
    let sink: ContentSupervisor.Api["sink"] = () => Effect.void
    tree = yield* Effect.provideService(
      TransportSupervisor.start({
        connection: ConnectionActor.config("station", { stationPowBits: 0, hello: { feat: [], realms: [], addrs: [] } }),
        sinks: { content: (inbound) => sink(inbound) }
      }),
      Transport,
      transport
    )
    sink = api.sink
    yield* startTree
    const address = yield* tree.listenAddress
    addresses.set(who.did, address)
    return { who, api }
  })

/** MB/s of one `get` of `size` bytes held by `providerCount` providers. */
const transfer = (size: number, providerCount: number): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const providers = new Map<string, Set<string>>()
    const addresses = new Map<string, string>()
    const bytes = filled(size, 7)
    const nodes = []
    for (let i = 0; i <= providerCount; i++) nodes.push(yield* quicContentNode(60 + i, providers, addresses))
    for (const node of nodes.slice(1)) yield* node.api.put(bytes)
    // The address is known before the fetch starts (hashing 64 MiB is no part of it).
    const mcid = Mcid.ofBytes(bytes)
    const start = now()
    const got = yield* nodes[0]!.api.get(mcid)
    const seconds = (now() - start) / 1_000
    if (got.length !== bytes.length || Buffer.compare(got, bytes) !== 0) throw new Error("transfer: bytes differ")
    return size / MiB / seconds
  }) as Effect.Effect<number, unknown, Scope>))

/** What `ContentProvider.ts` prints once its content is stored. */
interface ProviderReady {
  readonly did: string
  readonly address: string
  readonly mcid: string
}

/** Starts `ContentProvider` (`.js` once built) with `seed` (and an uplink cap); resolves on its ready line. */
const startProvider = (seed: number, size: number, children: Array<ChildProcess>, uplinkMbS?: number): Promise<ProviderReady> =>
  new Promise((resolveReady, reject) => {
    const here = fileURLToPath(import.meta.url)
    const script = resolve(dirname(here), `ContentProvider${extname(here)}`)
    const args = [script, String(seed), String(size), ...(uplinkMbS === undefined ? [] : [String(uplinkMbS)])]
    const child = spawn(process.execPath, [...process.execArgv, ...args], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    children.push(child)
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (data: string) => {
      out += data
      const end = out.indexOf("\n")
      if (end >= 0) resolveReady(JSON.parse(out.slice(0, end)) as ProviderReady)
    })
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`ContentProvider exited with ${code} before it was ready`)))
  })

/**
 * MB/s of one `get` of `size` bytes from `providerCount` providers, each in a child process of
 * its own (`ContentProvider.ts`), each serving at most `uplinkMbS` when given; the fetching node
 * runs here.
 */
const transferFromProcesses = async (size: number, providerCount: number, uplinkMbS?: number): Promise<number> => {
  const children: Array<ChildProcess> = []
  try {
    const ready = await Promise.all(Array.from({ length: providerCount }, (_, i) => startProvider(70 + i, size, children, uplinkMbS)))
    const providers = new Map<string, Set<string>>()
    const addresses = new Map<string, string>()
    for (const p of ready) {
      providers.set(p.mcid, (providers.get(p.mcid) ?? new Set()).add(p.did))
      addresses.set(p.did, p.address)
    }
    return await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const node = yield* quicContentNode(60, providers, addresses)
      const start = now()
      const got = yield* node.api.get(ready[0]!.mcid)
      const seconds = (now() - start) / 1_000
      if (got.length !== size || Buffer.compare(got, filled(size, 7)) !== 0) throw new Error("transfer: bytes differ")
      return size / MiB / seconds
    }) as Effect.Effect<number, unknown, Scope>))
  } finally {
    // Closing stdin ends a provider; the kill is for one that does not listen.
    for (const child of children) {
      child.stdin?.end()
      child.kill()
    }
  }
}

/**
 * MB/s of `size` bytes in 256 KiB frames on one plain stream of the same QUIC transport. With
 * `verified`, the receiver also does what a fetch cannot skip: it hashes every frame (BLAKE3,
 * as each chunk is verified) and gathers them into one result, as `get` returns one buffer.
 */
const rawQuic = (size: number, verified = false): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const node = () => Quic.make(QuicConfig.make(randomBytes(32), { host: "127.0.0.1", maxUdpPayloadBytes: DATAGRAM, quicIdleTimeoutMs: 30_000 }))
    const a = yield* node()
    const b = yield* node()
    const listener = yield* a.listen
    const out = yield* b.dial(listener.address)
    const stream = yield* out.openStream
    const frame = 262_144
    const body = filled(frame, 3)
    yield* stream.send(body)
    const peer = yield* (yield* listener.accept).acceptStream
    yield* peer.receive
    const start = now()
    const sender = yield* Effect.forkChild(Effect.gen(function*() {
      for (let sent = 0; sent < size; sent += frame) yield* stream.send(body)
    }))
    let got = 0
    const result = verified ? Buffer.allocUnsafe(size) : undefined
    while (got < size) {
      for (const received of yield* peer.receiveMany) {
        if (result !== undefined) {
          Blake3.hash(received)
          result.set(received.subarray(0, Math.min(received.length, size - got)), got)
        }
        got += received.length
      }
    }
    const seconds = (now() - start) / 1_000
    yield* Fiber.join(sender)
    return size / MiB / seconds
  }) as Effect.Effect<number, unknown, Scope>))

const transferResults = async (options: SuiteOptions): Promise<ReadonlyArray<Result>> => {
  const size = options.quick ? 8 * MiB : 64 * MiB
  options.log(`transfer: ${size / MiB} MiB over loopback QUIC, one provider, three providers, raw stream`)
  const raw = await rawQuic(size)
  const rawVerified = await rawQuic(size, true)
  const one = await transfer(size, 1)
  const oneApart = await transferFromProcesses(size, 1)
  const three = await transferFromProcesses(size, 3)
  // Providers behind uplinks slower than the fetcher: a third of what one uncapped provider
  // process managed in this run, so three of them together could just match it.
  const uplink = Math.max(1, Math.round(oneApart / 3))
  const oneCapped = await transferFromProcesses(size, 1, uplink)
  const threeCapped = await transferFromProcesses(size, 3, uplink)
  const rssMb = process.resourceUsage().maxRSS / 1_024
  const round1 = (n: number) => Math.round(n * 10) / 10
  return [
    {
      name: "transfer_mb_s",
      unit: "MB/s",
      value: one,
      baselines: { raw_quic_mb_s: round1(raw), raw_quic_verified_mb_s: round1(rawVerified) },
      note: `${size / MiB} MiB from one provider: connection actors, content sessions, BLAKE3 per chunk, memory stores; raw = one plain stream, same transport`
    },
    {
      name: "transfer3_mb_s",
      unit: "MB/s",
      value: three,
      baselines: { transfer1_procs_mb_s: round1(oneApart), transfer_mb_s: round1(one) },
      note: `${size / MiB} MiB held by three providers, each in a child process, fetched from all at once; transfer1_procs = the same from one provider process`
    },
    {
      name: "transfer3_capped_mb_s",
      unit: "MB/s",
      value: threeCapped,
      baselines: { transfer1_capped_mb_s: round1(oneCapped) },
      note: `as transfer3_mb_s, but every provider serves at most ${uplink} MB/s (a third of transfer1_procs): providers slower than the fetcher, the case parallel download is for`
    },
    {
      name: "transfer_peak_rss_mb",
      unit: "MB",
      value: rssMb,
      baselines: {},
      note: "peak resident set of the bench process after the transfers (in-memory stores hold the content on every node)"
    }
  ]
}

/** What `ContentBig.ts` prints on its last line. */
interface BigReport {
  readonly bytes: number
  readonly putMbS: number
  readonly getMbS: number
  readonly peakRssMb: number
  readonly maxRssMb: number
  readonly startMaxRssMb: number
  readonly idleRssMb: number
}

/** Runs `ContentBig` (the same extension as this file: `.js` once built) in a child process. */
const bigResults = async (options: SuiteOptions): Promise<ReadonlyArray<Result>> => {
  const size = options.quick ? 64 * MiB : 1_024 * MiB
  options.log(`big: ${size / MiB} MiB on disk, put from a file, fetched to a file, in a child process`)
  const here = fileURLToPath(import.meta.url)
  const script = resolve(dirname(here), `ContentBig${extname(here)}`)
  const child = spawnSync(process.execPath, [...process.execArgv, script, String(size)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 20
  })
  if (child.status !== 0) throw new Error(`ContentBig exited with ${child.status ?? child.signal}`)
  const lines = child.stdout.trim().split("\n")
  const report = JSON.parse(lines[lines.length - 1]!) as BigReport
  const mb = Math.round(size / MiB)
  return [
    {
      name: "big_get_mb_s",
      unit: "MB/s",
      value: report.getMbS,
      baselines: {},
      note: `${mb} MiB fetched to a file from one provider, both stores on disk (no fsync)`
    },
    {
      name: "big_put_mb_s",
      unit: "MB/s",
      value: report.putMbS,
      baselines: {},
      note: `${mb} MiB put from a file into a store on disk, chunk by chunk`
    },
    {
      name: "big_peak_rss_mb",
      unit: "MB",
      value: report.peakRssMb,
      baselines: { idle_rss_mb: report.idleRssMb, max_rss_mb: report.maxRssMb, start_max_rss_mb: report.startMaxRssMb },
      note: "peak resident set of the child (both nodes) sampled every 20 ms during the put and the get; idle = after start; max = the kernel's high-water mark at the end of the get, start_max = the same before the put"
    }
  ]
}

/** The suite entry point used by `npm run bench -- content`. */
export const run = async (options: SuiteOptions): Promise<SuiteResult> => ({
  suite: "content",
  results: [
    ...(await hashResults(options)),
    ...(await mcidResults(options)),
    ...(await manifestResults(options)),
    ...(await transferResults(options)),
    ...(await bigResults(options))
  ],
  targets: [
    { result: "blake3_mb_s", baseline: "noble_blake3", atLeast: 5 },
    { result: "transfer_mb_s", baseline: "raw_quic_mb_s", atLeast: 0.7 },
    { result: "transfer3_mb_s", baseline: "transfer1_procs_mb_s", atLeast: 1.5 },
    { result: "big_peak_rss_mb", atMost: 256 }
  ]
})

/**
 * A station with a data directory keeps the DHT records it holds across a restart of its
 * process (PROTOCOL.md §15.2), over real QUIC on loopback in one process: it stores a record,
 * stops, starts again on the same directory and serves the record to a newcomer at once, with
 * no owner running to republish it; a station without a data directory comes back empty. The
 * directory as a crash leaves it (copied while the station runs, a few seconds after the store:
 * no stop ever wrote it) serves the record too.
 */
import { createHash } from "node:crypto"
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import { MaculaNode } from "../../../src/node/index.ts"
import * as DhtFile from "../../../src/node/DhtFile.ts"
import * as Records from "../../../src/protocols/dht/Records.ts"
import * as Signed from "../../../src/wire/Signed.ts"
import type { RecordBody } from "../../../src/wire/SignedBody.ts"
import type * as DhtSupervisor from "../../../supervisors/DhtSupervisor.ts"
import { eventually, nodeSet } from "../../support/nodes.ts"

const knobs = { stationPowBits: 2 } as const
const set = nodeSet()
const dirs: Array<string> = []
afterAll(async () => {
  await set.stopAll()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const sha256 = (bytes: Uint8Array) => Uint8Array.from(createHash("sha256").update(bytes).digest())

/** An endpoint record of a key no node runs: nobody republishes it. */
const endpointRecord = (): Records.SignedRecord => {
  const owner = Identity.fromSeed(new Uint8Array(32).fill(42))
  const now = Date.now()
  const draft: RecordBody = { ty: "endpoint", key: new Uint8Array(32), pk: owner.publicKey, seq: 1, iat: now, exp: now + 600_000, d: { st: [], a: [] } }
  const body = { ...draft, key: Records.expectedKey({ sha256 }, draft) }
  const signed = Signed.signRecord(body, (m) => owner.sign(m))
  if (!("b" in signed)) throw new Error("record does not encode")
  return { body, signed }
}

/** A station and its DHT handle. */
const station = async (config: Omit<Parameters<typeof MaculaNode.start>[0], "role">) => {
  let dht: DhtSupervisor.Dht | undefined
  const node = await set.start({ role: "station", listen: "127.0.0.1:0", knobs, ...config }, { onDht: (d) => void (dht = d) })
  if (dht === undefined) throw new Error("no DHT")
  return { node, dht }
}

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "dht-persist-"))
  dirs.push(dir)
  return dir
}

/** A newcomer that knows only `holder` looks the record up. */
const askNewcomer = async (holder: { readonly node: MaculaNode }, record: Records.SignedRecord) => {
  const newcomer = await station({ seeds: [`${holder.node.address}#${holder.node.did}`] })
  await eventually("the newcomer knows the restarted station", 15_000, async () => {
    if (((await newcomer.node.dht())?.contacts ?? 0) === 0) throw new Error("no contact yet")
  })
  const found = await Effect.runPromise(newcomer.dht.findValue(record.body.key))
  return found.records.map((r) => Buffer.from(r.signed.s).toString("hex"))
}

/** Stores a record on a lone station, restarts it (same data directory or none), and asks a newcomer for the record. */
const restartAndAsk = async (withDataDir: boolean) => {
  const dir = tempDir()
  const data = withDataDir ? { dataDir: dir } : {}
  const record = endpointRecord()
  const first = await station(data)
  const stored = await Effect.runPromise(first.dht.store(record))
  expect(stored.ok).toBe(true)
  await first.node.stop()
  expect(existsSync(join(dir, DhtFile.recordsFileName))).toBe(withDataDir)

  const again = await station(data)
  return { found: await askNewcomer(again, record), record }
}



describe("DHT persistence across a station restart", () => {
  it("serves the records it held before any owner republishes them", async () => {
    const { found, record } = await restartAndAsk(true)
    expect(found).toEqual([Buffer.from(record.signed.s).toString("hex")])
  }, 60_000)

  it("a crash loses nothing saved: the directory as it is a few seconds after the store serves the record", async () => {
    const dir = tempDir()
    const crashed = tempDir()
    const record = endpointRecord()
    const first = await station({ dataDir: dir })
    expect((await Effect.runPromise(first.dht.store(record))).ok).toBe(true)
    const hex = Buffer.from(record.signed.s).toString("hex")
    await eventually("the records file holds the record", 15_000, async () => {
      if (!readFileSync(join(dir, DhtFile.recordsFileName), "utf8").includes(hex)) throw new Error("not saved yet")
    })
    // What a SIGKILL now would leave behind (the station keeps running; its stop writes elsewhere).
    cpSync(dir, crashed, { recursive: true })
    await first.node.stop()
    const again = await station({ dataDir: crashed })
    expect(await askNewcomer(again, record)).toEqual([hex])
  }, 60_000)

  it("(control) without a data directory the restarted station has nothing to serve", async () => {
    const { found } = await restartAndAsk(false)
    expect(found).toEqual([])
  }, 60_000)
})

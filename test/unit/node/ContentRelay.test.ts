/**
 * Relayed content sessions in the node (src/node/ContentRelay.ts, PROTOCOL.md §12.3 `to`):
 * endpoint records as the DHT checks them, the wrapped connection a fetch uses for a provider
 * behind a station, and fetches from a client that did not upload, in one process over real
 * QUIC: through one station, and through two; and a client on a third station fetching from two
 * stations and two relayed clients at once, as `macula demo` does.
 */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import * as DhtRpc from "../../../actors/DhtRpc.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as ContentRelay from "../../../src/node/ContentRelay.ts"
import { MaculaNode } from "../../../src/node/MaculaNode.ts"
import type { Handle, Session } from "../../../src/platform/transport/ConnectionHandle.ts"
import * as DhtConfig from "../../../src/protocols/dht/Config.ts"
import * as Records from "../../../src/protocols/dht/Records.ts"
import type { Frame } from "../../../src/wire/Frame.ts"
import { within } from "../../support/stations.ts"

const config = DhtConfig.withHash(DhtConfig.defaults, DhtRpc.sha256)
const now = 1_800_000_000_000

const pseudoRandom = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

describe("endpoint records", () => {
  it("are keyed, signed and bounded so that the DHT accepts them, and name the client's stations", () => {
    const client = Identity.generate()
    const station = Identity.generate()
    const record = ContentRelay.endpointRecord({
      publicKey: client.publicKey, stations: [station.publicKey], sign: (m) => client.sign(m), seq: now, now, ttlMs: 900_000
    })
    if (record instanceof Error) throw record
    expect(Buffer.from(record.body.key)).toEqual(Buffer.from(Records.expectedKey(config, record.body)))
    expect(DhtRpc.openRecord()(record.signed)?.body).toMatchObject({ ty: "endpoint", d: { a: [] } })
    expect(Records.validate(config, record, now)).toBeUndefined()
    expect(ContentRelay.stationsOfRecords([record], client.did)).toEqual([station.did])
    // A record about someone else names nobody's stations for this client.
    expect(ContentRelay.stationsOfRecords([record], station.did)).toEqual([])
  })
})

describe("relayedHandle", () => {
  it("names the target in `to` on the first frame of each session, and keeps penalties off the station", async () => {
    const sent: Array<Frame> = []
    let penalties = 0
    const session: Session = { stream: 4, send: (f) => Effect.sync(() => void sent.push(f)), end: Effect.void }
    const via = {
      connectionId: "c1",
      openSession: () => Effect.succeed(session),
      penalize: () => Effect.sync(() => void penalties++)
    } as unknown as Handle
    const target = Identity.generate()
    const handle = ContentRelay.relayedHandle(via, target.did)
    expect(handle.connectionId).toBe("c1")
    const s = await Effect.runPromise(handle.openSession!())
    const m = Mcid.bytes(Mcid.ofBytes(new Uint8Array([1])))
    await Effect.runPromise(s.send({ t: "content.manifest_req", id: 1, m } as Frame))
    await Effect.runPromise(s.send({ t: "content.want", w: [{ m, k: "block" }] } as Frame))
    expect((sent[0] as { to?: Uint8Array }).to).toEqual(target.publicKey)
    expect("to" in sent[1]!).toBe(false)
    await Effect.runPromise(handle.penalize("minor", "content: bad_block"))
    expect(penalties).toBe(0)
  })
})

describe("fetching from a client that did not upload", () => {
  const provide = async (seed: string, bytes: Uint8Array) => {
    let served = 0
    const node = await MaculaNode.start(
      { role: "client", realm: "io.example", seeds: [seed] },
      { content: { uploadToStation: false, onServeFrame: (d, _p, f) => void (d === "out" && f.t === "content.block" && served++) } }
    )
    const mcid = await node.putContent(bytes)
    return { node, mcid, served: () => served }
  }

  it("goes through the station both are attached to", async () => {
    const station = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0" })
    const started: Array<MaculaNode> = [station]
    try {
      const seed = `${station.address}#${station.did}`
      const bytes = pseudoRandom(900_000, 3)
      const a = await provide(seed, bytes)
      started.push(a.node)
      const b = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [seed] })
      started.push(b)
      expect(Buffer.from(await b.getContent(Mcid.toString(a.mcid))).equals(Buffer.from(bytes))).toBe(true)
      expect(a.served()).toBe(4)
    } finally {
      await Promise.all(started.map((n) => n.stop()))
    }
  }, 60_000)

  it("goes through the fetcher's station and the provider's station; a station's own fetch through the provider's", async () => {
    const s1 = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0" })
    const started: Array<MaculaNode> = [s1]
    try {
      const seed1 = `${s1.address}#${s1.did}`
      const s2 = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", seeds: [seed1] })
      started.push(s2)
      const bytes = pseudoRandom(600_000, 4)
      const a = await provide(`${s2.address}#${s2.did}`, bytes)
      started.push(a.node)
      const b = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [seed1] })
      started.push(b)
      expect(Buffer.from(await b.getContent(Mcid.toString(a.mcid))).equals(Buffer.from(bytes))).toBe(true)
      expect(a.served()).toBe(3)
      // A station fetches from a client of another station through that station (`st` of its record).
      const other = pseudoRandom(400_000, 5)
      const c = await provide(`${s2.address}#${s2.did}`, other)
      started.push(c.node)
      expect(Buffer.from(await s1.getContent(Mcid.toString(c.mcid))).equals(Buffer.from(other))).toBe(true)
      expect(c.served()).toBe(2)
    } finally {
      await Promise.all(started.map((n) => n.stop()))
    }
  }, 60_000)

  it("a client on a third station fetches from two stations and two relayed clients in parallel, again and again", async () => {
    // Every step has a deadline well inside the test's, so a stall names its step (and, for the
    // fetch, how far it got) instead of timing the whole test out.
    const s1 = await within("station 1 starts", 20_000, MaculaNode.start({ role: "station", listen: "127.0.0.1:0" }))
    const started: Array<MaculaNode> = [s1]
    try {
      const seedOf = (n: MaculaNode) => `${n.address}#${n.did}`
      const [s2, s3] = await within(
        "stations 2 and 3 start",
        20_000,
        Promise.all([1, 2].map(() => MaculaNode.start({ role: "station", listen: "127.0.0.1:0", seeds: [seedOf(s1)] })))
      )
      started.push(s2!, s3!)
      const client = (station: MaculaNode) => MaculaNode.start({ role: "client", realm: "io.example", seeds: [seedOf(station)] })
      const [erin, carol, bob] = await within("the clients start", 20_000, Promise.all([client(s1), client(s3!), client(s2!)]))
      started.push(erin!, carol!, bob!)
      for (const seed of [6, 7]) {
        const bytes = pseudoRandom(3 * 262_144 * 4 + 12_345, seed)
        // Both upload, so stations 1 and 3 hold it too; bob's station 2 does not.
        const [m] = await within(`round ${seed}: both uploads`, 30_000, Promise.all([erin!.putContent(bytes), carol!.putContent(bytes)]))
        let most = 0
        let last = "no progress"
        const fetched = bob!.getContent(Mcid.toString(m!), {
          onProgress: (p) => {
            most = Math.max(most, p.providers)
            last = `${p.storedChunks}/${p.totalChunks} chunks, ${p.providers} providers`
          }
        })
        const got = await within(`round ${seed}: the fetch`, 30_000, fetched).catch((e: Error) => {
          throw new Error(`${e.message} (last progress: ${last})`)
        })
        expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true)
        expect(most).toBeGreaterThanOrEqual(2)
      }
    } finally {
      await within("the nodes stop", 20_000, Promise.all(started.map((n) => n.stop())))
    }
  }, 120_000)
})

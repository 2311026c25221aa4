/**
 * The content glue of the node (src/node/Content.ts): `content-provider` records as PROTOCOL.md
 * §10.3 defines them (key derivation, signature, validity under the DHT's own checks), which
 * records name usable providers, and the node's put/get through a station in one process.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as DhtRpc from "../../../actors/DhtRpc.ts"
import * as Mcid from "../../../src/content/Mcid.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Content from "../../../src/node/Content.ts"
import { MaculaNode } from "../../../src/node/MaculaNode.ts"
import * as DhtConfig from "../../../src/protocols/dht/Config.ts"
import * as Records from "../../../src/protocols/dht/Records.ts"

/** Bytes from a linear congruential generator: no two chunks alike (equal chunks are another case). */
const pseudoRandom = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const config = DhtConfig.withHash(DhtConfig.defaults, DhtRpc.sha256)
const now = 1_800_000_000_000

const recordOf = (signer: Identity, mcid: Mcid.Mcid, station: Uint8Array, addresses: ReadonlyArray<string>) => {
  const record = Content.providerRecord({
    mcid, size: 10, chunks: 1, station, addresses, publicKey: signer.publicKey,
    sign: (m) => signer.sign(m), seq: now, now, ttlMs: 3_600_000
  })
  if (record instanceof Error) throw record
  return record
}

describe("content-provider records", () => {
  const mcid = Mcid.ofBytes(new TextEncoder().encode("hello"))

  it("derive the key as SHA-256 of 'content-provider' 0x00 ‖ MCID, as the DHT expects", () => {
    const signer = Identity.generate()
    const record = recordOf(signer, mcid, signer.publicKey, [])
    expect(Buffer.from(Content.providerKey(mcid))).toEqual(Buffer.from(Records.expectedKey(config, record.body)))
  })

  it("are signed so that the DHT opens them and accepts them under its own checks", () => {
    const signer = Identity.generate()
    const record = recordOf(signer, mcid, signer.publicKey, ["quic://127.0.0.1:4433"])
    const opened = DhtRpc.openRecord()(record.signed)
    expect(opened?.body).toMatchObject({ ty: "content-provider", seq: now, d: { sz: 10, n: 1, a: ["quic://127.0.0.1:4433"] } })
    expect(Records.validate(config, record, now)).toBeUndefined()
  })

  it("are refused by the DHT when tampered with", () => {
    const signer = Identity.generate()
    const record = recordOf(signer, mcid, signer.publicKey, [])
    const b = record.signed.b.slice()
    b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1
    expect(DhtRpc.openRecord()({ b, s: record.signed.s })).toBeUndefined()
  })
})

describe("providersOf", () => {
  const mcid = Mcid.ofBytes(new Uint8Array([1, 2, 3]))
  const station = Identity.generate()
  const client = Identity.generate()
  const other = Identity.generate()
  const self = Identity.generate()

  it("keeps stations with an address and reachable clients, and leaves out ourselves and clients behind other stations", () => {
    const records = [
      recordOf(station, mcid, station.publicKey, ["quic://127.0.0.1:1"]),
      recordOf(client, mcid, station.publicKey, []),
      recordOf(other, mcid, Identity.generate().publicKey, []),
      recordOf(self, mcid, station.publicKey, []),
      recordOf(station, mcid, station.publicKey, ["quic://127.0.0.1:1"])
    ]
    const found = Content.providersOf(records, self.did, (did) => did === client.did)
    expect(found).toEqual([{ did: station.did, address: "quic://127.0.0.1:1" }, { did: client.did }])
  })
})

describe("the node's content operations", () => {
  it("a station stores, announces and reads back its own content; a client uploads to it and another client fetches it", async () => {
    const station = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0" })
    const seed = `${station.address}#${station.did}`
    const started: Array<MaculaNode> = [station]
    try {
      const own = pseudoRandom(300_000, 1)
      const ownMcid = await station.putContent(own)
      expect(Buffer.from(await station.getContent(ownMcid)).equals(Buffer.from(own))).toBe(true)

      const a = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [seed] })
      started.push(a)
      const bytes = pseudoRandom(700_000, 2)
      const mcid = await a.putContent(bytes)
      await a.stop()
      const b = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [seed] })
      started.push(b)
      expect(Buffer.from(await b.getContent(Mcid.toString(mcid))).equals(Buffer.from(bytes))).toBe(true)
      // The station's own content reaches a client too (its home station is a provider).
      expect(Buffer.from(await b.getContent(ownMcid)).equals(Buffer.from(own))).toBe(true)
      await expect(b.getContent("bnot-an-mcid")).rejects.toMatchObject({ _tag: "McidError" })
    } finally {
      await Promise.all(started.map((n) => n.stop()))
    }
  }, 60_000)

  it("a station keeps at most stationContentMaxBytes: an upload past it is refused, a small one is taken", async () => {
    // Room for two 256 KiB chunks and a manifest, not for four chunks.
    const station = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", knobs: { stationContentMaxBytes: 600_000 } })
    const started: Array<MaculaNode> = [station]
    try {
      const client = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [`${station.address}#${station.did}`] })
      started.push(client)
      await expect(client.putContent(pseudoRandom(1_000_000, 3))).rejects.toMatchObject({ _tag: "UploadFailed" })
      const small = pseudoRandom(200_000, 4)
      const mcid = await client.putContent(small)
      expect(Buffer.from(await station.getContent(Mcid.toString(mcid))).equals(Buffer.from(small))).toBe(true)
    } finally {
      await Promise.all(started.map((n) => n.stop()))
    }
  }, 60_000)

  it("fetches content in which chunks are equal (zeros over three chunks)", async () => {
    const station = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0" })
    const started: Array<MaculaNode> = [station]
    try {
      const zeros = new Uint8Array(700_000)
      const mcid = await station.putContent(zeros)
      const client = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [`${station.address}#${station.did}`] })
      started.push(client)
      expect(Buffer.from(await client.getContent(mcid)).equals(Buffer.from(zeros))).toBe(true)
      // The same content written to a file chunk by chunk, through a temporary file renamed into place.
      const dir = mkdtempSync(join(tmpdir(), "content-node-"))
      try {
        const path = join(dir, "zeros.bin")
        expect(await client.getContentToFile(mcid, path)).toBe(zeros.length)
        expect(readFileSync(path).equals(Buffer.from(zeros))).toBe(true)
        expect(readdirSync(dir)).toEqual(["zeros.bin"])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    } finally {
      await Promise.all(started.map((n) => n.stop()))
    }
  }, 60_000)
})

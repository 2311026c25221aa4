/**
 * Content through the node's API over real QUIC on loopback, in one process (PROTOCOL.md §12):
 * a station and two clients; client A puts, uploads to the station and may stop; client B gets
 * the content from the station, byte-identical; an unknown MCID fails `ContentNotFound`.
 */
import { randomBytes } from "node:crypto"
import { afterAll, describe, expect, it } from "vitest"
import * as Mcid from "../../src/content/Mcid.ts"
import { nodeSet } from "../support/nodes.ts"

const { start, stopAll } = nodeSet()
afterAll(async () => {
  await stopAll()
})

describe("content through the node", () => {
  it("a client's put outlives it on the station; another client gets it byte-identical", async () => {
    const station = await start({ role: "station", listen: "127.0.0.1:0" })
    const seed = `${station.address}#${station.did}`
    const a = await start({ role: "client", realm: "io.example", seeds: [seed] })
    const bytes = new Uint8Array(randomBytes(3 * 1024 * 1024 + 123))
    const mcid = await a.putContent(bytes)
    expect(Mcid.toString(mcid)).toBe(Mcid.toString(Mcid.ofBytes(bytes)))
    await a.stop()

    const b = await start({ role: "client", realm: "io.example", seeds: [seed] })
    const seen: Array<number> = []
    const back = await b.getContent(Mcid.toString(mcid), { onProgress: (p) => void seen.push(p.storedBytes) })
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true)
    expect(seen.length).toBeGreaterThan(0)

    const unknown = Mcid.toString(Mcid.ofBytes(new Uint8Array(randomBytes(64))))
    await expect(b.getContent(unknown)).rejects.toMatchObject({ _tag: "ContentNotFound", mcid: unknown })
  }, 90_000)
})

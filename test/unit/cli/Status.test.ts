/**
 * `macula status` without a network: the `station` record lookups (the right DHT key per DID,
 * only the station's own latest live record counts) and the text report's peers, DHT and
 * membership sections. The command against real station processes is in
 * test/integration/status.int.ts.
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import * as Status from "../../../src/cli/Status.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import type { HomeStation } from "../../../src/node/Mesh.ts"
import type { StationRecordBody } from "../../../src/wire/SignedBody.ts"

const a = Identity.fromSeed(new Uint8Array(32).fill(1))
const b = Identity.fromSeed(new Uint8Array(32).fill(2))
const now = 1_700_000_000_000

const keyOf = (pk: Uint8Array): string =>
  createHash("sha256").update(Buffer.concat([Buffer.from("station"), Buffer.of(0), Buffer.from(pk)])).digest("hex")

const record = (pk: Uint8Array, seq: number, addresses: ReadonlyArray<string>, exp = now + 900_000): { readonly body: StationRecordBody } => ({
  body: { ty: "station", key: new Uint8Array(32), pk, seq, iat: now - 1_000, exp, d: { a: addresses, realms: [], feat: [] } }
})

const home: HomeStation = {
  seed: "quic://127.0.0.1:4433",
  did: a.did,
  remoteAddress: "quic://127.0.0.1:4433",
  since: now,
  rttMs: 3,
  skewMs: -2,
  addresses: ["quic://127.0.0.1:4433"],
  realms: [],
  offeredPeers: 1,
  peers: [{ did: b.did, addresses: ["quic://127.0.0.1:4434"] }],
  impl: "macula-node/0.1.0",
  failovers: 0
}

describe("macula status", () => {
  it("looks each station's record up under SHA-256(station 0x00 pk) and keeps its own latest live one", async () => {
    const asked: Array<string> = []
    const find = (key: Uint8Array) =>
      Effect.sync(() => {
        asked.push(Buffer.from(key).toString("hex"))
        if (Buffer.from(key).toString("hex") !== keyOf(a.publicKey)) return []
        // An older record, a newer one, and one signed by somebody else under the same key.
        return [record(a.publicKey, 1, ["quic://old:1"]), record(a.publicKey, 2, ["quic://127.0.0.1:4433"]), record(b.publicKey, 9, ["quic://evil:1"])]
      })
    const entries = await Effect.runPromise(Status.stationRecords(find, [a.did, b.did], now))
    expect(asked).toEqual([keyOf(a.publicKey), keyOf(b.publicKey)])
    expect(entries).toEqual([
      { did: a.did, found: true, addresses: ["quic://127.0.0.1:4433"], expiresAt: now + 900_000 },
      { did: b.did, found: false, addresses: [], expiresAt: undefined }
    ])
  })

  it("counts an expired record as not found, and passes a failed lookup on", async () => {
    const expired = await Effect.runPromise(Status.stationRecords(() => Effect.succeed([record(a.publicKey, 1, ["x"], now - 120_000)]), [a.did], now))
    expect(expired[0]?.found).toBe(false)
    const failed = await Effect.runPromise(Effect.flip(Status.stationRecords(() => Effect.fail("busy"), [a.did], now)))
    expect(failed).toBe("busy")
  })

  it("prints the offered members as peers and membership, and each station record under dht", () => {
    const report: Status.Report = {
      station: home,
      membership: home.peers,
      dht: {
        stations: [
          { did: a.did, found: true, addresses: ["quic://127.0.0.1:4433"], expiresAt: now + 900_000 },
          { did: b.did, found: false, addresses: [], expiresAt: undefined }
        ]
      },
      unavailable: Status.unavailable,
      client: { did: "did:key:z6Mkclient", supervision: { id: "node", strategy: "rest_for_one", takenAt: now, children: [] } }
    }
    const text = Status.render(report, now)
    expect(text).toContain("peers and membership: 1 alive station offered in hello (at most 8)")
    expect(text).toContain(`  ${b.did} quic://127.0.0.1:4434`)
    expect(text).toContain(`  ${a.did} (this station) found: quic://127.0.0.1:4433, expires in 15 min`)
    expect(text).toContain(`  ${b.did} not found`)
    expect(text).toContain("not available from a client:")
    const failed = Status.render({ ...report, dht: { stations: [], error: "TimeoutError" } }, now)
    expect(failed).toContain("  lookup failed: TimeoutError")
  })
})

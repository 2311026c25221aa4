/**
 * The station record and direct-mode resolution cores (PROTOCOL.md §9.2, §10.3): the record a
 * station builds is valid and says what it was given; `sameContent` notices any change;
 * `servingStation` keeps only the latest live, non-withdrawn record per provider, prefers the
 * caller's home station and otherwise weights by inverse RTT; `stationAddresses` takes the
 * station's own latest live record and pins each address with its DID.
 */
import { describe, expect, it } from "vitest"
import * as Records from "../../../../src/protocols/dht/Records.ts"
import * as StationRecord from "../../../../src/protocols/dht/StationRecord.ts"
import type { ProviderRecordBody, RecordBody } from "../../../../src/wire/SignedBody.ts"
import * as Arb from "../../../../src/testkit/arbitraries/Dht.ts"

const cfg = Arb.config({ stationPowBits: 0 })
const now = 10_000_000
const pk = Arb.keyOf(1)
const content: StationRecord.Content = { a: ["quic://198.51.100.4:4433"], realms: [Arb.hash(new TextEncoder().encode("io.example"))], feat: ["x"] }

const proc = "io.example/acme/calc/math/add_v1"
const realm = Arb.hash(new TextEncoder().encode("io.example"))
const provider = (signer: number, st: number, t: { seq: number; iat?: number; exp?: number }, gone?: boolean): ProviderRecordBody => ({
  ty: "provider",
  key: new Uint8Array(32),
  pk: Arb.keyOf(signer),
  seq: t.seq,
  iat: t.iat ?? now - 1_000,
  exp: t.exp ?? now + 60_000,
  d: { realm, proc, st: Arb.keyOf(st), modes: ["unary"], req: false, ...(gone === undefined ? {} : { gone }) }
})
const choice = (random = 0.5, extra: Partial<StationRecord.Choice> = {}): StationRecord.Choice => ({ wallNow: now, random, ...extra })

describe("station record", () => {
  it("builds a record that passes validation and says what it was given", () => {
    const body = StationRecord.body(cfg, pk, content, 7, now)
    expect(body).toMatchObject({ ty: "station", pk, seq: 7, iat: now, exp: now + 900_000, d: content })
    expect(body.key).toEqual(StationRecord.key(cfg, pk))
    expect(Records.validate(cfg, Arb.signed(body), now)).toBeUndefined()
  })

  it("notices any change of addresses, realms or features", () => {
    const body = StationRecord.body(cfg, pk, content, 1, now)
    expect(StationRecord.sameContent(body, content)).toBe(true)
    expect(StationRecord.sameContent(body, { ...content, a: ["quic://198.51.100.5:4433"] })).toBe(false)
    expect(StationRecord.sameContent(body, { ...content, realms: [] })).toBe(false)
    expect(StationRecord.sameContent(body, { ...content, feat: [] })).toBe(false)
    expect(StationRecord.sameContent(Arb.endpointRecord(pk, { seq: 1, iat: now, exp: now + 1 }).body, content)).toBe(false)
  })

  it("uses a strictly increasing seq and publishes no wildcard address", () => {
    expect(StationRecord.nextSeq(5, 3)).toBe(6)
    expect(StationRecord.nextSeq(5, 900)).toBe(900)
    expect(StationRecord.isPublishable("quic://0.0.0.0:4433")).toBe(false)
    expect(StationRecord.isPublishable("quic://[::]:4433")).toBe(false)
    expect(StationRecord.isPublishable("quic://127.0.0.1:4433")).toBe(true)
  })
})

describe("servingStation", () => {
  it("returns nothing without a usable provider record", () => {
    expect(StationRecord.servingStation(cfg, [], realm, proc, choice())).toBeUndefined()
    const expired = provider(1, 11, { seq: 1, iat: now - 100_000, exp: now - 1 })
    const otherProc = { ...provider(2, 12, { seq: 1 }), d: { ...provider(2, 12, { seq: 1 }).d, proc: "io.example/acme/calc/math/sub_v1" } }
    expect(StationRecord.servingStation(cfg, [expired, otherProc], realm, proc, choice())).toBeUndefined()
  })

  it("drops a provider whose latest record is a withdrawal, and keeps one whose withdrawal is older", () => {
    const withdrawn = [provider(1, 11, { seq: 1 }), provider(1, 11, { seq: 2 }, true)]
    expect(StationRecord.servingStation(cfg, withdrawn, realm, proc, choice())).toBeUndefined()
    const back = [provider(1, 11, { seq: 2 }, true), provider(1, 12, { seq: 3 })]
    expect(StationRecord.servingStation(cfg, back, realm, proc, choice())?.station).toEqual(Arb.keyOf(12))
  })

  it("prefers a provider at the home station, else weights by inverse RTT", () => {
    const records: ReadonlyArray<RecordBody> = [provider(1, 11, { seq: 1 }), provider(2, 12, { seq: 1 }), provider(3, 13, { seq: 1 })]
    for (const r of [0, 0.3, 0.99]) {
      expect(StationRecord.servingStation(cfg, records, realm, proc, choice(r, { home: Arb.keyOf(12) }))?.station).toEqual(Arb.keyOf(12))
    }
    // Station 13 is 1 ms away, the others 1 000 ms: it takes almost all of the weight.
    const rttMs = (st: Uint8Array) => (Records.didKeyOf(st) === Records.didKeyOf(Arb.keyOf(13)) ? 1 : 1_000)
    const picks = new Map<string, number>()
    for (let i = 0; i < 100; i++) {
      const got = StationRecord.servingStation(cfg, records, realm, proc, choice(i / 100, { rttMs }))!
      picks.set(Records.didKeyOf(got.station), (picks.get(Records.didKeyOf(got.station)) ?? 0) + 1)
    }
    expect(picks.get(Records.didKeyOf(Arb.keyOf(13)))).toBeGreaterThanOrEqual(98)
    // Excluded stations are never picked.
    const onlyOthers = StationRecord.servingStation(cfg, records, realm, proc, choice(0.5, { rttMs, exclude: (st) => rttMs(st) === 1 }))
    expect(Records.didKeyOf(onlyOthers!.station)).not.toBe(Records.didKeyOf(Arb.keyOf(13)))
  })
})

describe("stationAddresses", () => {
  it("takes the station's own latest live record and pins its DID", () => {
    const old = StationRecord.body(cfg, pk, { ...content, a: ["quic://198.51.100.1:1"] }, 1, now - 1_000)
    const latest = StationRecord.body(cfg, pk, { ...content, a: ["quic://198.51.100.2:2", "quic://0.0.0.0:2"] }, 2, now - 500)
    const someoneElse = StationRecord.body(cfg, Arb.keyOf(2), content, 9, now)
    expect(StationRecord.stationAddresses(cfg, [old, someoneElse, latest], pk, now)).toEqual([`quic://198.51.100.2:2#${Records.didKeyOf(pk)}`])
    expect(StationRecord.stationAddresses(cfg, [someoneElse], pk, now)).toEqual([])
    expect(StationRecord.stationAddresses(cfg, [latest], pk, latest.exp)).toEqual([]) // expired
  })
})

/**
 * The DHT's persisted state (PROTOCOL.md §15.2): the records file and the routing snapshot
 * round-trip; a damaged file is refused as a whole or entry by entry, never with a throw; and
 * records read back pass the checks of a peer's `dht.store` (signature, time window, key), so
 * an expired or forged one is dropped on load.
 */
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import * as DhtRpc from "../../../../actors/DhtRpc.ts"
import { Identity } from "../../../../src/identity/Identity.ts"
import * as Config from "../../../../src/protocols/dht/Config.ts"
import * as Persisted from "../../../../src/protocols/dht/Persisted.ts"
import * as Records from "../../../../src/protocols/dht/Records.ts"
import * as Signed from "../../../../src/wire/Signed.ts"
import type { RecordBody } from "../../../../src/wire/SignedBody.ts"

const sha256 = (bytes: Uint8Array) => Uint8Array.from(createHash("sha256").update(bytes).digest())
const config = Config.withHash(Config.defaults, sha256)
const limits = Persisted.limitsOf(config)
const open = DhtRpc.openRecord()
const owner = Identity.fromSeed(new Uint8Array(32).fill(7))
const now = 1_764_576_000_000

const endpointRecord = (who: Identity, iat: number, exp: number): Records.SignedRecord => {
  const draft: RecordBody = { ty: "endpoint", key: new Uint8Array(32), pk: who.publicKey, seq: 1, iat, exp, d: { st: [], a: [] } }
  const body = { ...draft, key: Records.expectedKey({ sha256 }, draft) }
  const signed = Signed.signRecord(body, (m) => who.sign(m))
  if (!("b" in signed)) throw new Error("record does not encode")
  return { body, signed }
}

const decoded = (text: string) => {
  const out = Persisted.decodeRecords(text, limits)
  if (Persisted.isCorrupt(out)) throw new Error(out.reason)
  return out
}

describe("Persisted", () => {
  it("round-trips records and contacts", () => {
    const records = [endpointRecord(owner, now, now + 60_000), endpointRecord(Identity.fromSeed(new Uint8Array(32).fill(8)), now, now + 60_000)]
    const { text, written } = Persisted.encodeRecords(records.map((r) => r.signed), limits.maxRecordsFileBytes)
    expect(written).toBe(2)
    expect(decoded(text)).toEqual({ records: records.map((r) => r.signed), dropped: 0 })

    const contacts = [{ pk: owner.publicKey, addrs: ["quic://203.0.113.7:4433"] }]
    const back = Persisted.decodeContacts(Persisted.encodeContacts(contacts, limits), limits)
    expect(back).toEqual({ contacts, dropped: 0 })
  })

  it("admits live records and drops expired, forged and mis-keyed ones", () => {
    const live = endpointRecord(owner, now - 1_000, now + 60_000)
    const expired = endpointRecord(Identity.fromSeed(new Uint8Array(32).fill(9)), now - 120_000, now - 1)
    const forged = { b: live.signed.b, s: Uint8Array.from(live.signed.s, (x, i) => (i === 0 ? x ^ 1 : x)) }
    const other = endpointRecord(Identity.fromSeed(new Uint8Array(32).fill(10)), now, now + 60_000)
    const misKeyed = (() => {
      const body = { ...other.body, key: new Uint8Array(32).fill(1) }
      const signed = Signed.signRecord(body, (m) => Identity.fromSeed(new Uint8Array(32).fill(10)).sign(m))
      if (!("b" in signed)) throw new Error("record does not encode")
      return signed
    })()
    const text = Persisted.encodeRecords([live.signed, expired.signed, forged, misKeyed], limits.maxRecordsFileBytes).text
    const [store, counts] = Persisted.admit(config, open, Records.emptyStore(), decoded(text).records, now)
    expect(counts).toEqual({ loaded: 1, dropped: 3 })
    expect(Records.get(config, store, live.body.key, now)).toEqual([live])
    expect(Records.violations(config, store)).toEqual([])
  })

  it("refuses a damaged file as a whole and drops malformed entries one by one", () => {
    const good = endpointRecord(owner, now, now + 60_000).signed
    const text = Persisted.encodeRecords([good], limits.maxRecordsFileBytes).text
    for (const bad of ["", "{", "null", "[]", text.slice(0, text.length - 5), '{"type":"macula-node/bans","bans":[]}', '{"type":"macula-node/dht-records"}']) {
      expect(Persisted.isCorrupt(Persisted.decodeRecords(bad, limits))).toBe(true)
    }
    const entries = JSON.stringify({
      type: Persisted.recordsType,
      records: [null, 3, { b: "zz", s: "00" }, { b: "AB", s: "00".repeat(64) }, { b: "ab", s: "00".repeat(63) }, { b: "ab".repeat(5_000), s: "00".repeat(64) }, {
        b: Buffer.from(good.b).toString("hex"),
        s: Buffer.from(good.s).toString("hex")
      }]
    })
    expect(decoded(entries)).toEqual({ records: [good], dropped: 6 })
    expect(Persisted.isCorrupt(Persisted.decodeRecords(" ".repeat(limits.maxRecordsFileBytes + 1), limits))).toBe(true)
  })

  it("bounds both files", () => {
    const small = Persisted.limitsOf({ ...config, maxStoredRecords: 2, dhtK: 1 })
    const record = endpointRecord(owner, now, now + 60_000).signed
    const many = Array.from({ length: 10 }, () => record)
    const { text, written } = Persisted.encodeRecords(many, 600)
    expect(text.length).toBeLessThanOrEqual(600)
    expect(written).toBeLessThan(10)
    expect(decoded(text).records.length).toBe(written)
    const full = Persisted.encodeRecords(many, Number.MAX_SAFE_INTEGER).text
    expect(Persisted.decodeRecords(full, { ...limits, maxRecords: 2 })).toEqual({ records: [record, record], dropped: 8 })
    const contacts = Array.from({ length: 300 }, (_, i) => ({ pk: new Uint8Array(32).fill(i % 256), addrs: [`quic://203.0.113.${i % 256}:1`] }))
    const back = Persisted.decodeContacts(Persisted.encodeContacts(contacts, small), small)
    expect(Persisted.isCorrupt(back) ? -1 : back.contacts.length).toBe(256)
  })
})

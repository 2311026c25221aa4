import { describe, expect, it } from "vitest"
import * as Records from "../../../../src/protocols/dht/Records.ts"
import * as Xor from "../../../../src/protocols/dht/Xor.ts"
import * as Arb from "../../../../src/testkit/arbitraries/Dht.ts"
import type { RecordBody } from "../../../../src/wire/SignedBody.ts"

const config = Arb.config({ maxRecordsPerKey: 2, maxRecordsPerSigner: 2, maxStoredRecords: 3 })
const now = 1_700_000_000_000
const pk = Arb.keyOf(1)
const t = (seq: number, iat = now - 1_000, exp = now + 60_000) => ({ seq, iat, exp })
const rewrap = (r: Records.SignedRecord, body: Partial<RecordBody>) => Arb.signed({ ...r.body, ...body } as RecordBody)

describe("Records.validate (§10.3, §14 row 19)", () => {
  const good = Arb.endpointRecord(pk, t(1))
  it("accepts a well-formed record of each type", () => {
    expect(Records.validate(config, good, now)).toBeUndefined()
    expect(Records.validate(config, Arb.contentProviderRecord(pk, Arb.keyOf(9), t(1)), now)).toBeUndefined()
    expect(Records.validate(config, Arb.providerRecord(pk, "io.macula/_realm/_realm/svc/echo_v1", t(1)), now)).toBeUndefined()
    expect(Records.validate(config, Arb.realmRecord(pk, "io.macula", t(1)), now)).toBeUndefined()
  })

  it.each<[string, () => Records.SignedRecord, Records.Refusal]>([
    ["an oversize record", () => Arb.endpointRecord(pk, t(1), ["x".repeat(5_000)]), "too_large"],
    ["an expired record", () => Arb.endpointRecord(pk, t(1, now - 10_000, now)), "expired"],
    ["a record from the future", () => Arb.endpointRecord(pk, t(1, now + 61_000, now + 70_000)), "future"],
    ["exp before iat", () => Arb.endpointRecord(pk, t(1, now, now - 1)), "invalid"],
    ["an over-long TTL", () => Arb.endpointRecord(pk, t(1, now, now + 900_001)), "ttl_too_long"],
    ["a wrong key derivation", () => rewrap(good, { key: Arb.keyOf(2) }), "bad_key"],
    ["a signer that is not the key's owner", () => rewrap(good, { pk: Arb.keyOf(3) }), "bad_key"],
    ["a realm record naming another authority", () => {
      const r = Arb.realmRecord(pk, "io.macula", t(1))
      return Arb.signed({ ...r.body, d: { name: "io.macula", auth: Records.didKeyOf(Arb.keyOf(4)), pol: "open" } } as RecordBody)
    }, "bad_signer"],
    ["a provider record with a bad procedure name", () => Arb.providerRecord(pk, "io.macula/BAD/x/y/z_v1", t(1)), "invalid"],
    ["a provider record whose realm id does not match its procedure", () => {
      const r = Arb.providerRecord(pk, "io.macula/_realm/_realm/svc/echo_v1", t(1))
      if (r.body.ty !== "provider") throw new Error("unreachable")
      const body = { ...r.body, d: { ...r.body.d, realm: Arb.keyOf(5) } }
      return Arb.signed({ ...body, key: Records.expectedKey(config, body) })
    }, "invalid"],
    ["a malformed MCID", () => {
      const r = Arb.contentProviderRecord(pk, Arb.keyOf(9), t(1))
      if (r.body.ty !== "content-provider") throw new Error("unreachable")
      const body = { ...r.body, d: { ...r.body.d, m: new Uint8Array(34) } }
      return Arb.signed({ ...body, key: Records.expectedKey(config, body) })
    }, "invalid"]
  ])("refuses %s", (_, make, why) => {
    expect(Records.validate(config, make(), now)).toBe(why)
  })

  it("refuses a station record without proof of work when it is required", () => {
    const body: RecordBody = { ty: "station", key: new Uint8Array(32), pk, seq: 1, iat: now, exp: now + 1_000, d: { a: [], realms: [], feat: [] } }
    const record = Arb.signed({ ...body, key: Records.expectedKey(config, body) })
    expect(Records.validate(config, record, now)).toBeUndefined()
    const pow = Xor.leadingZeroBits(Arb.hash(Arb.hash(pk)))
    expect(Records.validate({ ...config, stationPowBits: pow + 1 }, record, now)).toBe("invalid")
  })

  it("encodes did:key like §2.2 (the identity vector)", () => {
    // RFC 8032 test 1 public key → its published did:key.
    const key = Xor.fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")!
    expect(Records.didKeyOf(key)).toBe("did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw")
  })
})

describe("Records.put", () => {
  it("stores a new record and keeps identical bytes", () => {
    const r = Arb.endpointRecord(pk, t(1))
    const [s1, o1] = Records.put(config, Records.emptyStore(), r, 10, now)
    expect(o1).toEqual({ _tag: "Stored", replaced: false })
    const [s2, o2] = Records.put(config, s1, r, 20, now)
    expect(o2._tag).toBe("Kept")
    expect(Records.held(s2, Xor.toHex(r.body.key), Xor.toHex(pk))?.receivedAt).toBe(20)
  })

  it("replaces only with a higher seq (no rollback)", () => {
    const s1 = Records.put(config, Records.emptyStore(), Arb.endpointRecord(pk, t(5)), 0, now)[0]
    expect(Records.put(config, s1, Arb.endpointRecord(pk, t(4)), 0, now)[1]).toEqual({ _tag: "Refused", why: "stale_seq" })
    const [s2, o] = Records.put(config, s1, Arb.endpointRecord(pk, t(6)), 0, now)
    expect(o).toEqual({ _tag: "Stored", replaced: true })
    expect(Records.get(config, s2, Arb.endpointRecord(pk, t(6)).body.key, now).map((r) => r.body.seq)).toEqual([6])
  })

  it("keeps the lexicographically smaller signature for an equal seq", () => {
    const body = Arb.endpointRecord(pk, t(5)).body
    const small = Arb.signed(body, new Uint8Array(64).fill(1))
    const large = Arb.signed(body, new Uint8Array(64).fill(2))
    const s1 = Records.put(config, Records.emptyStore(), large, 0, now)[0]
    const [s2, o] = Records.put(config, s1, small, 0, now)
    expect(o._tag).toBe("Stored")
    expect(Records.put(config, s2, large, 0, now)[1]).toEqual({ _tag: "Refused", why: "stale_seq" })
  })

  it("never replaces a revocation", () => {
    const body: RecordBody = {
      ty: "revocation", key: new Uint8Array(32), pk, seq: 1, iat: now, exp: now + 1_000,
      d: { cid: Uint8Array.of(1, 2, 3), inv: Uint8Array.of(4), prf: [] }
    }
    const first = Arb.signed({ ...body, key: Records.expectedKey(config, body) })
    const second = Arb.signed({ ...first.body, seq: 2 } as RecordBody)
    const s1 = Records.put(config, Records.emptyStore(), first, 0, now)[0]
    expect(Records.put(config, s1, second, 0, now)[1]).toEqual({ _tag: "Refused", why: "final" })
  })

  it("enforces the per-key, per-signer and store caps", () => {
    const digest = Arb.keyOf(9)
    let store = Records.emptyStore()
    for (const n of [1, 2]) store = Records.put(config, store, Arb.contentProviderRecord(Arb.keyOf(n), digest, t(1)), 0, now)[0]
    expect(Records.put(config, store, Arb.contentProviderRecord(Arb.keyOf(3), digest, t(1)), 0, now)[1])
      .toEqual({ _tag: "Refused", why: "key_full" })
    store = Records.put(config, store, Arb.endpointRecord(Arb.keyOf(1), t(1)), 0, now)[0]
    expect(Records.put(config, store, Arb.contentProviderRecord(Arb.keyOf(1), Arb.keyOf(8), t(1)), 0, now)[1])
      .toEqual({ _tag: "Refused", why: "signer_full" })
    expect(store.size).toBe(3)
    expect(Records.put(config, store, Arb.endpointRecord(Arb.keyOf(7), t(1)), 0, now)[1])
      .toEqual({ _tag: "Refused", why: "store_full" })
    expect(Records.violations(config, store)).toEqual([])
  })
})

describe("Records.get, sweep and schedules", () => {
  it("never serves an expired record, and the sweep drops it", () => {
    const r = Arb.endpointRecord(pk, t(1, now - 1_000, now + 100))
    const store = Records.put(config, Records.emptyStore(), r, 0, now)[0]
    expect(Records.get(config, store, r.body.key, now + 99)).toHaveLength(1)
    expect(Records.get(config, store, r.body.key, now + 100)).toEqual([])
    const [swept, expired] = Records.sweep(store, now + 100)
    expect(expired).toEqual([r])
    expect(swept.size).toBe(0)
    expect(Records.violations(config, swept)).toEqual([])
  })

  it("filters by type", () => {
    const r = Arb.endpointRecord(pk, t(1))
    const store = Records.put(config, Records.emptyStore(), r, 0, now)[0]
    expect(Records.get(config, store, r.body.key, now, "station")).toEqual([])
    expect(Records.get(config, store, r.body.key, now, "endpoint")).toEqual([r])
  })

  it("schedules republishing at iat + republishFraction × lifetime", () => {
    expect(Records.republishAt({ republishFraction: 0.5 }, Arb.endpointRecord(pk, t(1, 1_000, 3_000)).body)).toBe(2_000)
  })

  it("replicates records we do not own that nobody re-stored for an interval", () => {
    const held: Records.Held = { record: Arb.endpointRecord(pk, t(1)), signer: Xor.toHex(pk), receivedAt: 100 }
    expect(Records.dueForReplication({ replicateIntervalMs: 50 }, held, "other", 150)).toBe(true)
    expect(Records.dueForReplication({ replicateIntervalMs: 50 }, held, "other", 149)).toBe(false)
    expect(Records.dueForReplication({ replicateIntervalMs: 50 }, held, Xor.toHex(pk), 500)).toBe(false)
  })
})

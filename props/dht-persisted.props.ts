/**
 * The decoders of the DHT's persisted state (PROTOCOL.md §15.2) against damaged files:
 * arbitrary text, truncations and bit flips of a valid file give a refusal or entries, never a
 * throw; and whatever `admit` takes from a damaged records file is a record that was written,
 * unchanged and valid: a damaged byte never admits a bad record.
 */
import { createHash } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as DhtRpc from "../actors/DhtRpc.ts"
import { Identity } from "../src/identity/Identity.ts"
import * as Config from "../src/protocols/dht/Config.ts"
import * as Persisted from "../src/protocols/dht/Persisted.ts"
import * as Records from "../src/protocols/dht/Records.ts"
import * as Signed from "../src/wire/Signed.ts"
import type { RecordBody } from "../src/wire/SignedBody.ts"

const sha256 = (bytes: Uint8Array) => Uint8Array.from(createHash("sha256").update(bytes).digest())
const config = Config.withHash(Config.defaults, sha256)
const limits = Persisted.limitsOf(config)
const open = DhtRpc.openRecord()
const now = 1_764_576_000_000

const written = Array.from({ length: 4 }, (_, i) => {
  const who = Identity.fromSeed(new Uint8Array(32).fill(i + 1))
  const draft: RecordBody = { ty: "endpoint", key: new Uint8Array(32), pk: who.publicKey, seq: 1, iat: now, exp: now + 60_000, d: { st: [], a: [`quic://203.0.113.${i}:4433`] } }
  const body = { ...draft, key: Records.expectedKey({ sha256 }, draft) }
  const signed = Signed.signRecord(body, (m) => who.sign(m))
  if (!("b" in signed)) throw new Error("record does not encode")
  return signed
})
const recordsText = Persisted.encodeRecords(written, limits.maxRecordsFileBytes).text
const routingText = Persisted.encodeContacts(
  written.map((_, i) => ({ pk: Identity.fromSeed(new Uint8Array(32).fill(i + 1)).publicKey, addrs: [`quic://203.0.113.${i}:4433`] })),
  limits
)
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])
const wasWritten = (s: { readonly b: Uint8Array; readonly s: Uint8Array }) => written.some((w) => same(w.b, s.b) && same(w.s, s.s))

/** Both decoders and the load path on `text`: must not throw; what loads must be sound. */
const check = (text: string) => {
  const records = Persisted.decodeRecords(text, limits)
  if (!Persisted.isCorrupt(records)) {
    const [store] = Persisted.admit(config, open, Records.emptyStore(), records.records, now)
    for (const h of Records.all(store)) {
      expect(wasWritten(h.record.signed)).toBe(true)
      expect(Records.validate(config, h.record, now)).toBeUndefined()
    }
    expect(Records.violations(config, store)).toEqual([])
  }
  const contacts = Persisted.decodeContacts(text, limits)
  if (!Persisted.isCorrupt(contacts)) for (const c of contacts.contacts) expect(c.pk.length).toBe(32)
}

/** `text` with one bit of one UTF-16 unit flipped (JSON is ASCII here). */
const flip = (text: string, at: number, bit: number) =>
  text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ (1 << bit)) + text.slice(at + 1)

describe("DHT persisted state: decoders", () => {
  it("arbitrary text and bytes never throw", () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array().map((b) => new TextDecoder().decode(b))), check), { numRuns: 500 })
  })

  it("truncations of a valid file never throw and admit only what was written", () => {
    fc.assert(fc.property(fc.nat({ max: recordsText.length }), fc.nat({ max: routingText.length }), (a, b) => {
      check(recordsText.slice(0, a))
      check(routingText.slice(0, b))
    }), { numRuns: 500 })
  })

  it("bit flips of a valid file never throw and never admit a changed record", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 4 }), (flips) => {
      let text = recordsText
      for (const [at, bit] of flips) text = flip(text, at % text.length, bit)
      check(text)
      let routing = routingText
      for (const [at, bit] of flips) routing = flip(routing, at % routing.length, bit)
      check(routing)
    }), { numRuns: 500 })
  })
})

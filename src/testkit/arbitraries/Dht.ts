/**
 * fast-check arbitraries and builders for the DHT core: node ids, public keys, contacts,
 * observed IPs drawn from a few networks (so diversity caps get exercised), and well-formed
 * records of every type with correct key derivation.
 *
 * Records built here carry a stand-in signature (64 bytes derived from the body), because the
 * core never verifies signatures: the actor does, before a record reaches the core. The body
 * bytes `b` are a deterministic encoding of the body, so different bodies have different
 * bytes, which is all the core relies on.
 *
 * @since 0.1.0
 */
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import * as Config from "../../protocols/dht/Config.ts"
import type { Contact, Info } from "../../protocols/dht/Contact.ts"
import * as Records from "../../protocols/dht/Records.ts"
import * as Xor from "../../protocols/dht/Xor.ts"
import type { RecordBody } from "../../wire/SignedBody.ts"

/**
 * A pure JavaScript SHA-256 to inject into `Dht.Config`.
 *
 * @since 0.1.0
 * @category builders
 */
export const hash = (bytes: Uint8Array): Uint8Array => sha256(bytes)

/**
 * `Config.local` with the JavaScript SHA-256, plus overrides.
 *
 * @since 0.1.0
 * @category builders
 */
export const config = (overrides: Partial<Config.Knobs> = {}): Config.Config =>
  Config.withHash({ ...Config.local, ...overrides }, hash)

/**
 * Any 32-byte id.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const nodeId: fc.Arbitrary<Uint8Array> = fc.uint8Array({ minLength: 32, maxLength: 32 })

/**
 * Any 32-byte public key (not necessarily a valid Ed25519 point: the core does not check).
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const publicKey: fc.Arbitrary<Uint8Array> = fc.uint8Array({ minLength: 32, maxLength: 32 })

/**
 * A public key from a small integer, deterministic (handy in unit tables).
 *
 * @since 0.1.0
 * @category builders
 */
export const keyOf = (n: number): Uint8Array => hash(new TextEncoder().encode(`key ${n}`))

/**
 * A contact for a public key, with its derived id.
 *
 * @since 0.1.0
 * @category builders
 */
export const contactOf = (pk: Uint8Array, addrs: ReadonlyArray<string> = ["quic://203.0.113.1:4433"]): Contact => ({
  id: hash(pk),
  pk,
  addrs
})

/**
 * Contact info (what a `dht.nodes` reply carries) for a public key.
 *
 * @since 0.1.0
 * @category builders
 */
export const infoOf = (pk: Uint8Array): Info => ({ pk, addrs: ["quic://203.0.113.1:4433"] })

/**
 * A contact with a random key.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const contact: fc.Arbitrary<Contact> = publicKey.map((pk) => contactOf(pk))

/**
 * A public IPv4 address in one of `networks` /16 networks (203.0.0.0/16 upward), so draws
 * collide on diversity prefixes.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const ipv4In = (networks: number): fc.Arbitrary<string> =>
  fc.tuple(fc.integer({ min: 0, max: Math.max(0, networks - 1) }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 254 }))
    .map(([net, c, d]) => `${(net >> 8) + 45}.${net & 255}.${c}.${d}`)

/**
 * An IPv4 address in the /16 numbered `net` (deterministic).
 *
 * @since 0.1.0
 * @category builders
 */
export const ipIn = (net: number, host: number): string => `${(net >> 8) + 45}.${net & 255}.${(host >> 8) & 255}.${(host & 255) || 1}`

const encoder = new TextEncoder()

const describe = (value: unknown): string => {
  if (value instanceof Uint8Array) return `0x${Xor.toHex(value)}`
  if (Array.isArray(value)) return `[${value.map(describe).join(",")}]`
  if (typeof value === "object" && value !== null) {
    return `{${Object.keys(value).sort().map((k) => `${k}:${describe((value as Record<string, unknown>)[k])}`).join(",")}}`
  }
  return JSON.stringify(value)
}

/**
 * Wraps a body as a `SignedRecord`: `b` a deterministic encoding of the body, `s` a stand-in
 * signature (SHA-256 of `b` twice over, or `signature` if given).
 *
 * @since 0.1.0
 * @category builders
 */
export const signed = (body: RecordBody, signature?: Uint8Array): Records.SignedRecord => {
  const b = encoder.encode(describe(body))
  const s = signature ?? new Uint8Array([...hash(b), ...hash(hash(b))])
  return { body, signed: { b, s } }
}

/**
 * Timing of a record: `seq`, `iat`, `exp` (unix ms).
 *
 * @since 0.1.0
 * @category models
 */
export interface Timing {
  readonly seq: number
  readonly iat: number
  readonly exp: number
}

/**
 * An endpoint record of `pk` (key = SHA-256("endpoint" ‖ 0x00 ‖ pk)).
 *
 * @since 0.1.0
 * @category builders
 */
export const endpointRecord = (pk: Uint8Array, t: Timing, addrs: ReadonlyArray<string> = ["quic://203.0.113.9:4433"]): Records.SignedRecord => {
  const body: RecordBody = { ty: "endpoint", key: new Uint8Array(32), pk, seq: t.seq, iat: t.iat, exp: t.exp, d: { st: [], a: addrs } }
  return signed({ ...body, key: Records.expectedKey({ sha256: hash }, body) })
}

/**
 * A content-provider record: `pk` provides the content of MCID `0x01 0x55 ‖ digest`.
 *
 * @since 0.1.0
 * @category builders
 */
export const contentProviderRecord = (pk: Uint8Array, digest: Uint8Array, t: Timing): Records.SignedRecord => {
  const m = new Uint8Array([0x01, 0x55, ...digest.slice(0, 32)])
  const body: RecordBody = {
    ty: "content-provider", key: new Uint8Array(32), pk, seq: t.seq, iat: t.iat, exp: t.exp,
    d: { m, sz: 10, n: 1, st: pk, a: [] }
  }
  return signed({ ...body, key: Records.expectedKey({ sha256: hash }, body) })
}

/**
 * A provider record of `pk` for procedure `proc` (its realm id derived from the topic).
 *
 * @since 0.1.0
 * @category builders
 */
export const providerRecord = (pk: Uint8Array, proc: string, t: Timing): Records.SignedRecord => {
  const realm = hash(encoder.encode(proc.split("/")[0] ?? ""))
  const body: RecordBody = {
    ty: "provider", key: new Uint8Array(32), pk, seq: t.seq, iat: t.iat, exp: t.exp,
    d: { realm, proc, st: pk, modes: ["unary"], req: false }
  }
  return signed({ ...body, key: Records.expectedKey({ sha256: hash }, body) })
}

/**
 * A realm record for realm `name`, signed by `pk` and naming it as authority.
 *
 * @since 0.1.0
 * @category builders
 */
export const realmRecord = (pk: Uint8Array, name: string, t: Timing): Records.SignedRecord => {
  const body: RecordBody = {
    ty: "realm", key: new Uint8Array(32), pk, seq: t.seq, iat: t.iat, exp: t.exp,
    d: { name, auth: Records.didKeyOf(pk), pol: "open" }
  }
  return signed({ ...body, key: Records.expectedKey({ sha256: hash }, body) })
}

/**
 * Timings valid at `wallNow` for a TTL cap of `maxTtlMs`: issued up to `maxTtlMs` ago, lasting
 * at most `maxTtlMs`, `seq` = 1..`maxSeq`.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const timing = (wallNow: number, maxTtlMs: number, maxSeq = 1_000): fc.Arbitrary<Timing> =>
  fc.record({
    seq: fc.integer({ min: 1, max: maxSeq }),
    age: fc.integer({ min: 0, max: maxTtlMs - 1 }),
    ttl: fc.integer({ min: 1, max: maxTtlMs })
  }).map(({ seq, age, ttl }) => ({ seq, iat: wallNow - age, exp: wallNow - age + ttl }))

/**
 * An endpoint record by one of `signers` keys, with a timing from `timings`.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const endpointRecordOf = (signers: ReadonlyArray<Uint8Array>, timings: fc.Arbitrary<Timing>): fc.Arbitrary<Records.SignedRecord> =>
  fc.tuple(fc.constantFrom(...signers), timings).map(([pk, t]) => endpointRecord(pk, t))

/**
 * A content-provider record: one of `signers` provides one of `contents` (digests), so several
 * signers share a key.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const contentProviderRecordOf = (
  signers: ReadonlyArray<Uint8Array>,
  contents: ReadonlyArray<Uint8Array>,
  timings: fc.Arbitrary<Timing>
): fc.Arbitrary<Records.SignedRecord> =>
  fc.tuple(fc.constantFrom(...signers), fc.constantFrom(...contents), timings).map(([pk, m, t]) => contentProviderRecord(pk, m, t))

/**
 * DHT records (PROTOCOL.md §10.3, §10.4): validation, the bounded record store with rollback
 * protection, expiry, and the schedule of republishing and replication.
 *
 * The split with the actor. A record reaches the core as a `SignedRecord`: the decoded body
 * plus the raw signed object `{b, s}` exactly as received. The **actor** has already
 * pre-scanned and decoded `b` and verified `s` over `domain ‖ b` with the body's `pk`
 * (`Signed.openRecord`), and drops a bad signature itself (§14 row 17, a major penalty); for
 * `revocation` records it has also checked the UCAN revocation's consistency (§13.6). The
 * **core** applies the policy: size, time window, TTL per type, key derivation, signer and type
 * checks (`validate`), then precedence and caps (`put`). It stores and forwards the raw bytes, so
 * a record is never re-encoded or re-signed by a holder.
 *
 * Key invariants: a store holds at most one record per (key, signer); the `seq` held for a
 * (key, signer) never decreases while the record is held (higher `seq` replaces, equal `seq`
 * keeps the lexicographically smaller signature, revocations are never replaced); nothing
 * served by `get` is expired; the store never exceeds `maxRecordsPerKey`,
 * `maxRecordsPerSigner` or `maxStoredRecords`.
 *
 * @see Kademlia §2.5 (republishing), S/Kademlia §4 (signed data), PROTOCOL.md §14 row 19
 * @since 0.1.0
 */
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Bytes from "../../core/Bytes.ts"
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import * as Topic from "../../topic/Topic.ts"
import type { Signed } from "../../wire/Frame.ts"
import type { RecordBody, RecordType } from "../../wire/SignedBody.ts"
import type { Config } from "./Config.ts"
import * as Xor from "./Xor.ts"

/**
 * A record whose signature the actor verified: the body and the exact signed bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface SignedRecord {
  readonly body: RecordBody
  readonly signed: Signed
}

/**
 * Why a record is refused; the `why` of `dht.store_ack ok: false` (§14 row 19).
 *
 * @since 0.1.0
 * @category models
 */
export type Refusal =
  | "too_large"
  | "expired"
  | "future"
  | "ttl_too_long"
  | "bad_key"
  | "bad_signer"
  | "invalid"
  | "stale_seq"
  | "final"
  | "key_full"
  | "signer_full"
  | "store_full"

const encoder = new TextEncoder()

/**
 * The bytes hashed into a record key: `ty` ‖ 0x00 ‖ the type's material (§10.3 table).
 *
 * @since 0.1.0
 * @category keys
 */
export const keyMaterial = (config: Pick<Config, "sha256">, body: RecordBody): Uint8Array => {
  const tag = Bytes.concat(encoder.encode(body.ty), Uint8Array.of(0))
  switch (body.ty) {
    case "provider":
      return Bytes.concat(tag, body.d.realm, encoder.encode(body.d.proc))
    case "endpoint":
    case "station":
      return Bytes.concat(tag, body.pk)
    case "content-provider":
      return Bytes.concat(tag, body.d.m)
    case "revocation":
      return Bytes.concat(tag, body.d.cid)
    case "realm":
      return Bytes.concat(tag, config.sha256(encoder.encode(body.d.name)))
  }
}

/**
 * The key a record body must carry: SHA-256 of its `keyMaterial`.
 *
 * @since 0.1.0
 * @category keys
 */
export const expectedKey = (config: Pick<Config, "sha256">, body: RecordBody): Uint8Array =>
  config.sha256(keyMaterial(config, body))

/**
 * The longest `exp − iat` a record type may carry.
 *
 * @since 0.1.0
 * @category validation
 */
export const maxTtl = (config: Config, ty: RecordType): Millis => {
  switch (ty) {
    case "provider":
      return config.providerRecordTtlMs
    case "content-provider":
      return config.contentProviderTtlMs
    case "endpoint":
      return config.endpointRecordTtlMs
    case "station":
      return config.stationRecordTtlMs
    case "realm":
      return config.realmRecordTtlMs
    case "revocation":
      return config.maxRevocationTtlMs
  }
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

/** base58btc (Bitcoin alphabet): the encoding of did:key (§2.2). */
const base58 = (bytes: Uint8Array): string => {
  const digits: Array<number> = []
  for (const byte of bytes) {
    let carry = byte
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i]! << 8
      digits[i] = carry % 58
      carry = Math.floor(carry / 58)
    }
    while (carry > 0) {
      digits.push(carry % 58)
      carry = Math.floor(carry / 58)
    }
  }
  let out = ""
  for (const byte of bytes) {
    if (byte !== 0) break
    out += "1"
  }
  for (let i = digits.length - 1; i >= 0; i--) out += base58Alphabet[digits[i]!]!
  return out
}

/**
 * `did:key:z…` of an Ed25519 public key (§2.2): the signer a `realm` record must name in `auth`.
 *
 * @since 0.1.0
 * @category keys
 */
export const didKeyOf = (publicKey: Uint8Array): string => `did:key:z${base58(Bytes.concat(Uint8Array.of(0xed, 0x01), publicKey))}`

const segment = /^[a-z0-9][a-z0-9._-]*$/

/** The type-specific checks of §10.3 beyond key derivation: `undefined` when they hold. */
const typeProblem = (config: Config, body: RecordBody): Refusal | undefined => {
  switch (body.ty) {
    case "provider": {
      // A procedure name follows the topic grammar (§7.1) and names the realm the record
      // claims: realm id = SHA-256(realm segment).
      if (!Topic.isValid(body.d.proc) || Topic.isSystem(body.d.proc)) return "invalid"
      const realm = Topic.parse(body.d.proc).realm
      return Xor.equals(config.sha256(encoder.encode(realm)), body.d.realm) ? undefined : "invalid"
    }
    case "content-provider":
      // MCID form (§12.1): version 1, codec raw (0x55) or manifest (0x56).
      return body.d.m.length === 34 && body.d.m[0] === 0x01 && (body.d.m[1] === 0x55 || body.d.m[1] === 0x56)
        ? undefined
        : "invalid"
    case "station":
      // Station proof of work (§2.4): SHA-256(SHA-256(pk)) has stationPowBits leading zeros.
      return config.stationPowBits <= 0 || Xor.leadingZeroBits(config.sha256(config.sha256(body.pk))) >= config.stationPowBits
        ? undefined
        : "invalid"
    case "realm":
      if (!segment.test(body.d.name)) return "invalid"
      return body.d.auth === didKeyOf(body.pk) ? undefined : "bad_signer"
    case "endpoint":
    case "revocation":
      return undefined
  }
}

/**
 * Size in bytes as counted against `maxRecordBytes`: body plus signature.
 *
 * @since 0.1.0
 * @category getters
 */
export const sizeOf = (record: SignedRecord): number => record.signed.b.length + record.signed.s.length

/**
 * Whether a record is valid at `wallNow` (unix ms), by the rules of §10.3 other than the
 * signature (the actor's): `undefined` when valid, else the refusal. Checked on store **and**
 * on read (a read only needs the time window again: the rest cannot change).
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (config: Config, record: SignedRecord, wallNow: UnixMillis): Refusal | undefined => {
  const body = record.body
  if (sizeOf(record) > config.maxRecordBytes) return "too_large"
  if (body.exp < body.iat) return "invalid"
  if (body.iat > wallNow + config.clockSkewLeewayMs) return "future"
  if (body.exp <= wallNow) return "expired"
  if (body.exp - body.iat > maxTtl(config, body.ty)) return "ttl_too_long"
  if (!Xor.isId(body.key) || !Xor.isId(body.pk)) return "invalid"
  if (!Xor.equals(body.key, expectedKey(config, body))) return "bad_key"
  return typeProblem(config, body)
}

/**
 * Whether a record may be served at `wallNow`: not expired and not issued too far ahead.
 *
 * @since 0.1.0
 * @category validation
 */
export const isLive = (config: Pick<Config, "clockSkewLeewayMs">, record: SignedRecord, wallNow: UnixMillis): boolean =>
  record.body.exp > wallNow && record.body.iat <= wallNow + config.clockSkewLeewayMs

const sameBytes = (a: Signed, b: Signed): boolean => Xor.equals(a.b, b.b) && Xor.equals(a.s, b.s)

/**
 * Whether `next` takes the place of `current` for the same (key, signer): a higher `seq`, or
 * the same `seq` with a lexicographically smaller signature. Revocations are final.
 *
 * @since 0.1.0
 * @category precedence
 */
export const supersedes = (next: SignedRecord, current: SignedRecord): boolean => {
  if (current.body.ty === "revocation") return false
  if (next.body.seq !== current.body.seq) return next.body.seq > current.body.seq
  return Xor.compareBytes(next.signed.s, current.signed.s) < 0
}

/**
 * A stored record.
 *
 * @since 0.1.0
 * @category models
 */
export interface Held {
  readonly record: SignedRecord
  /** Hex of the signer. */
  readonly signer: string
  /** Last time someone stored it here (monotonic ms); replication skips fresh ones. */
  readonly receivedAt: Millis
}

/**
 * The record store: per key hex, per signer hex, one record. A persistent map keeps a put
 * O(log n) at 200 000 records.
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  readonly byKey: HashMap.HashMap<string, ReadonlyMap<string, Held>>
  readonly perSigner: HashMap.HashMap<string, number>
  readonly size: number
}

/**
 * An empty store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptyStore = (): Store => ({ byKey: HashMap.empty(), perSigner: HashMap.empty(), size: 0 })

/**
 * What a `put` did.
 *
 * @since 0.1.0
 * @category models
 */
export type PutOutcome =
  /** Stored, new or replacing an older record of the same signer. */
  | { readonly _tag: "Stored"; readonly replaced: boolean }
  /** The same bytes were already held (refreshed as recently received). */
  | { readonly _tag: "Kept" }
  | { readonly _tag: "Refused"; readonly why: Refusal }

const slotOf = (store: Store, key: string): ReadonlyMap<string, Held> =>
  Option.getOrElse(HashMap.get(store.byKey, key), () => new Map<string, Held>())

const signerCount = (store: Store, signer: string): number => Option.getOrElse(HashMap.get(store.perSigner, signer), () => 0)

/**
 * Validates and stores a record (`now` monotonic, `wallNow` unix ms).
 *
 * @since 0.1.0
 * @category combinators
 */
export const put = (
  config: Config,
  store: Store,
  record: SignedRecord,
  now: Millis,
  wallNow: UnixMillis
): readonly [Store, PutOutcome] => {
  const why = validate(config, record, wallNow)
  if (why !== undefined) return [store, { _tag: "Refused", why }]
  const key = Xor.toHex(record.body.key)
  const signer = Xor.toHex(record.body.pk)
  const slot = slotOf(store, key)
  const existing = slot.get(signer)
  const held: Held = { record, signer, receivedAt: now }
  if (existing !== undefined) {
    const refreshed = (h: Held): Store => ({ ...store, byKey: HashMap.set(store.byKey, key, new Map(slot).set(signer, h)) })
    if (sameBytes(existing.record.signed, record.signed)) return [refreshed({ ...existing, receivedAt: now }), { _tag: "Kept" }]
    if (existing.record.body.ty === "revocation") return [store, { _tag: "Refused", why: "final" }]
    if (!supersedes(record, existing.record)) return [store, { _tag: "Refused", why: "stale_seq" }]
    return [refreshed(held), { _tag: "Stored", replaced: true }]
  }
  if (slot.size >= config.maxRecordsPerKey) return [store, { _tag: "Refused", why: "key_full" }]
  const count = signerCount(store, signer)
  if (count >= config.maxRecordsPerSigner) return [store, { _tag: "Refused", why: "signer_full" }]
  if (store.size >= config.maxStoredRecords) return [store, { _tag: "Refused", why: "store_full" }]
  return [
    {
      byKey: HashMap.set(store.byKey, key, new Map(slot).set(signer, held)),
      perSigner: HashMap.set(store.perSigner, signer, count + 1),
      size: store.size + 1
    },
    { _tag: "Stored", replaced: false }
  ]
}

/**
 * The live records under a key (optionally of one type), ordered by signer: what a
 * `dht.find_value` / `dht.get` is answered with.
 *
 * @since 0.1.0
 * @category queries
 */
export const get = (
  config: Pick<Config, "clockSkewLeewayMs">,
  store: Store,
  key: Xor.NodeId,
  wallNow: UnixMillis,
  ty?: RecordType
): ReadonlyArray<SignedRecord> =>
  [...slotOf(store, Xor.toHex(key)).values()]
    .filter((h) => isLive(config, h.record, wallNow) && (ty === undefined || h.record.body.ty === ty))
    .sort((a, b) => (a.signer < b.signer ? -1 : a.signer > b.signer ? 1 : 0))
    .map((h) => h.record)

/**
 * The record held for (key, signer), live or not.
 *
 * @since 0.1.0
 * @category queries
 */
export const held = (store: Store, key: string, signer: string): Held | undefined => slotOf(store, key).get(signer)

/**
 * Every held record (any order; deterministic for a given store).
 *
 * @since 0.1.0
 * @category queries
 */
export const all = (store: Store): ReadonlyArray<Held> => {
  const out: Array<Held> = []
  for (const slot of HashMap.values(store.byKey)) for (const h of slot.values()) out.push(h)
  return out
}

/**
 * Removes every record with `exp ≤ wallNow`; returns the store and what it removed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const sweep = (store: Store, wallNow: UnixMillis): readonly [Store, ReadonlyArray<SignedRecord>] => {
  const expired: Array<SignedRecord> = []
  let byKey = store.byKey
  let perSigner = store.perSigner
  for (const [key, slot] of HashMap.entries(store.byKey)) {
    let kept: Map<string, Held> | undefined
    for (const [signer, h] of slot) {
      if (h.record.body.exp > wallNow) continue
      kept ??= new Map(slot)
      kept.delete(signer)
      expired.push(h.record)
      const n = Option.getOrElse(HashMap.get(perSigner, signer), () => 1) - 1
      perSigner = n <= 0 ? HashMap.remove(perSigner, signer) : HashMap.set(perSigner, signer, n)
    }
    if (kept !== undefined) byKey = kept.size === 0 ? HashMap.remove(byKey, key) : HashMap.set(byKey, key, kept)
  }
  if (expired.length === 0) return [store, []]
  return [{ byKey, perSigner, size: store.size - expired.length }, expired]
}

/**
 * When an owner should re-sign and re-store a record: `iat + republishFraction × (exp − iat)`,
 * in unix ms (§10.4).
 *
 * @since 0.1.0
 * @category schedule
 */
export const republishAt = (config: Pick<Config, "republishFraction">, body: RecordBody): UnixMillis =>
  body.iat + Math.floor(config.republishFraction * (body.exp - body.iat))

/**
 * Whether a held record is due for replication at `now`: nobody stored it here during the
 * last interval (Kademlia's optimisation: a node that just received a store assumes the other
 * holders did too, so only one holder per interval re-stores), and we do not own it (owners
 * republish instead).
 *
 * @see Kademlia §2.5
 * @since 0.1.0
 * @category schedule
 */
export const dueForReplication = (
  config: Pick<Config, "replicateIntervalMs">,
  h: Held,
  selfKey: string,
  now: Millis
): boolean => h.signer !== selfKey && h.receivedAt + config.replicateIntervalMs <= now

/**
 * Whether each invariant of the store holds; empty for a sound store (tests call it).
 *
 * @since 0.1.0
 * @category invariants
 */
export const violations = (config: Config, store: Store): ReadonlyArray<string> => {
  const out: Array<string> = []
  const signers = new Map<string, number>()
  let size = 0
  for (const [key, slot] of HashMap.entries(store.byKey)) {
    if (slot.size === 0) out.push(`empty slot for ${key}`)
    if (slot.size > config.maxRecordsPerKey) out.push(`${slot.size} signers under ${key}`)
    for (const [signer, h] of slot) {
      if (Xor.toHex(h.record.body.key) !== key || Xor.toHex(h.record.body.pk) !== signer) out.push(`misfiled record under ${key}`)
      signers.set(signer, (signers.get(signer) ?? 0) + 1)
      size++
    }
  }
  for (const [signer, n] of signers) {
    if (n > config.maxRecordsPerSigner) out.push(`${n} records of ${signer}`)
    if (signerCount(store, signer) !== n) out.push(`signer count of ${signer} is off`)
  }
  if (HashMap.size(store.perSigner) !== signers.size) out.push("stale signer counts")
  if (size !== store.size) out.push(`size is ${store.size}, not ${size}`)
  if (size > config.maxStoredRecords) out.push(`store holds ${size} records`)
  return out
}

/**
 * What a station's DHT keeps across a restart (PROTOCOL.md §15.2): the file formats of the
 * records it holds and of its routing-table snapshot, with strict decoders.
 *
 * Both are one line of JSON, bytes as lower-case hex:
 *
 * ```json
 * {"type":"macula-node/dht-records","records":[{"b":"a5…","s":"9f…"}]}
 * {"type":"macula-node/dht-routing","contacts":[{"pk":"3c…","a":["quic://203.0.113.7:4433"]}]}
 * ```
 *
 * A record is stored as the signed object `{b, s}` exactly as received, so what is loaded is
 * what a peer would have sent: `admit` opens it (decode + signature) with the same `open` as a
 * `dht.store`, then stores it with `Records.put` (size, time window, TTL, key derivation, caps):
 * an expired, forged or damaged record is dropped, never admitted. A contact is only a
 * candidate to dial: it enters a routing table when it answers (§10.1).
 *
 * Decoding never throws: a file that is not of its type gives `Corrupt`, a malformed entry is
 * dropped and counted. Sizes are bounded on both sides (`Limits`): the encoder stops before
 * the budget, the decoder refuses a longer text and reads at most the caps' worth of entries.
 *
 * @since 0.1.0
 */
import * as Bytes from "../../core/Bytes.ts"
import type { UnixMillis } from "../../core/Millis.ts"
import type { Signed } from "../../wire/Frame.ts"
import type { Config } from "./Config.ts"
import type { Info } from "./Contact.ts"
import type * as Frames from "./Frames.ts"
import * as Records from "./Records.ts"

/**
 * The `type` of a records file.
 *
 * @since 0.1.0
 * @category constants
 */
export const recordsType = "macula-node/dht-records"

/**
 * The `type` of a routing snapshot.
 *
 * @since 0.1.0
 * @category constants
 */
export const routingType = "macula-node/dht-routing"

/**
 * The bounds of both files.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** Records read from a file at most (`maxStoredRecords`). */
  readonly maxRecords: number
  /** Largest record, body + signature (`maxRecordBytes`). */
  readonly maxRecordBytes: number
  /** Contacts read from a snapshot at most (one full table: 256 × `dhtK`). */
  readonly maxContacts: number
  /** Longest text of a records file. */
  readonly maxRecordsFileBytes: number
  /** Longest text of a routing snapshot. */
  readonly maxRoutingFileBytes: number
}

/** Addresses kept per contact, and their length (a hello's `a`). */
const maxAddrs = 8
const maxAddrLength = 256
/** A records file never grows past this, whatever the caps allow: replication refills the rest. */
const recordsFileCeiling = 64 * 1024 * 1024

/**
 * The limits that follow from a DHT config.
 *
 * @since 0.1.0
 * @category constructors
 */
export const limitsOf = (config: Pick<Config, "maxStoredRecords" | "maxRecordBytes" | "dhtK">): Limits => {
  const maxContacts = 256 * config.dhtK
  return {
    maxRecords: config.maxStoredRecords,
    maxRecordBytes: config.maxRecordBytes,
    maxContacts,
    // Hex doubles the bytes; 32 covers the entry's punctuation.
    maxRecordsFileBytes: Math.min(recordsFileCeiling, 64 + config.maxStoredRecords * (2 * config.maxRecordBytes + 32)),
    maxRoutingFileBytes: 64 + maxContacts * (96 + maxAddrs * (maxAddrLength + 3))
  }
}

/**
 * Why a whole file was refused.
 *
 * @since 0.1.0
 * @category models
 */
export interface Corrupt {
  readonly _tag: "Corrupt"
  readonly reason: string
}

const corrupt = (reason: string): Corrupt => ({ _tag: "Corrupt", reason })

/**
 * Whether a decoder's result is a refused file.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCorrupt = (u: unknown): u is Corrupt =>
  typeof u === "object" && u !== null && (u as { readonly _tag?: unknown })._tag === "Corrupt"

const recordEntry = (signed: Signed): string => `{"b":"${Bytes.toHex(signed.b)}","s":"${Bytes.toHex(signed.s)}"}`

/**
 * The text of a records file holding `records`, in order, as many as fit `maxBytes` (the rest
 * are left out; the count written is returned).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeRecords = (records: ReadonlyArray<Signed>, maxBytes: number): { readonly text: string; readonly written: number } => {
  const head = `{"type":"${recordsType}","records":[`
  const tail = "]}\n"
  const parts: Array<string> = []
  let size = head.length + tail.length
  for (const signed of records) {
    const entry = recordEntry(signed)
    const grown = size + entry.length + (parts.length === 0 ? 0 : 1)
    if (grown > maxBytes) break
    parts.push(entry)
    size = grown
  }
  return { text: `${head}${parts.join(",")}${tail}`, written: parts.length }
}

/** The list under `field` of a file of `type`, or why the whole file is refused. */
const parseList = (text: string, type: string, field: string, maxBytes: number): ReadonlyArray<unknown> | Corrupt => {
  if (text.length > maxBytes) return corrupt(`larger than ${maxBytes} bytes`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return corrupt("not JSON")
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return corrupt("not an object")
  const found = (parsed as Record<string, unknown>).type
  if (found !== type) return corrupt(`type ${JSON.stringify(found)}, expected "${type}"`)
  const list = (parsed as Record<string, unknown>)[field]
  return Array.isArray(list) ? list : corrupt(`no list of ${field}`)
}

const hexField = (entry: unknown, field: string): Uint8Array | undefined => {
  if (entry === null || typeof entry !== "object") return undefined
  const value = (entry as Record<string, unknown>)[field]
  return typeof value === "string" ? Bytes.fromLowerHex(value) : undefined
}

/**
 * The signed records of a records file's text: malformed entries (not hex, a signature that is
 * not 64 bytes, larger than `maxRecordBytes`) are dropped and counted; past `maxRecords` the
 * rest is dropped too. Nothing is verified here: `admit` does that.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeRecords = (
  text: string,
  limits: Limits
): { readonly records: ReadonlyArray<Signed>; readonly dropped: number } | Corrupt => {
  const list = parseList(text, recordsType, "records", limits.maxRecordsFileBytes)
  if (isCorrupt(list)) return list
  const records: Array<Signed> = []
  let dropped = 0
  for (const entry of list) {
    const b = hexField(entry, "b")
    const s = hexField(entry, "s")
    if (b === undefined || s === undefined || s.length !== 64 || b.length + s.length > limits.maxRecordBytes || records.length >= limits.maxRecords) {
      dropped++
      continue
    }
    records.push({ b, s })
  }
  return { records, dropped }
}

/**
 * The text of a routing snapshot of `contacts` (at most `maxContacts`, addresses cut to the
 * bounds the decoder accepts).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeContacts = (contacts: ReadonlyArray<Info>, limits: Pick<Limits, "maxContacts">): string =>
  `${
    JSON.stringify({
      type: routingType,
      contacts: contacts.slice(0, limits.maxContacts).map((c) => ({
        pk: Bytes.toHex(c.pk),
        a: c.addrs.filter((a) => a.length <= maxAddrLength).slice(0, maxAddrs)
      }))
    })
  }\n`

/**
 * The contacts of a routing snapshot's text (a key of 32 bytes and at least one address each);
 * malformed entries and those past `maxContacts` are dropped and counted.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeContacts = (
  text: string,
  limits: Limits
): { readonly contacts: ReadonlyArray<Info>; readonly dropped: number } | Corrupt => {
  const list = parseList(text, routingType, "contacts", limits.maxRoutingFileBytes)
  if (isCorrupt(list)) return list
  const contacts: Array<Info> = []
  const seen = new Set<string>()
  let dropped = 0
  for (const entry of list) {
    const pk = hexField(entry, "pk")
    const a = entry !== null && typeof entry === "object" ? (entry as Record<string, unknown>).a : undefined
    const addrs = Array.isArray(a) && a.length <= maxAddrs && a.every((x) => typeof x === "string" && x.length > 0 && x.length <= maxAddrLength)
      ? (a as ReadonlyArray<string>)
      : undefined
    if (pk === undefined || pk.length !== 32 || addrs === undefined || addrs.length === 0 || contacts.length >= limits.maxContacts) {
      dropped++
      continue
    }
    const key = Bytes.toHex(pk)
    if (seen.has(key)) continue
    seen.add(key)
    contacts.push({ pk, addrs: [...addrs] })
  }
  return { contacts, dropped }
}

/**
 * Loads signed records into `store` at `wallNow` as if peers had sent them: each is opened
 * (decode + signature, `open`) and stored with `Records.put` (every rule of §10.3 and the
 * caps). Expired, forged and refused records are dropped and counted.
 *
 * @since 0.1.0
 * @category combinators
 */
export const admit = (
  config: Config,
  open: Frames.Open,
  store: Records.Store,
  signeds: ReadonlyArray<Signed>,
  wallNow: UnixMillis
): readonly [Records.Store, { readonly loaded: number; readonly dropped: number }] => {
  let current = store
  let loaded = 0
  let dropped = 0
  for (const signed of signeds) {
    let record: Records.SignedRecord | undefined
    try {
      record = open(signed)
    } catch {
      record = undefined // a verifier that throws counts as a bad signature
    }
    if (record === undefined) {
      dropped++
      continue
    }
    const [next, outcome] = Records.put(config, current, record, wallNow, wallNow)
    current = next
    if (outcome._tag === "Stored") loaded++
    else if (outcome._tag === "Refused") dropped++
  }
  return [current, { loaded, dropped }]
}

/**
 * MCIDs: the content addresses of Macula (PROTOCOL.md §12.1).
 *
 * An MCID is 34 bytes: version `0x01` ‖ codec ‖ BLAKE3-256 digest. Codec `0x55` (raw) names one
 * block by the digest of its bytes; codec `0x56` (manifest) names larger content by the digest
 * of its manifest bytes (§12.2, `Manifest.ts`). The text form is `b` followed by the 34 bytes
 * in RFC 4648 base32, lowercase and unpadded: 56 characters in all. An MCID is not a CID and
 * carries no multihash prefix; nothing here parses CIDs.
 *
 * Key invariant: `parse(toString(m))` equals `m` and `fromBytes(bytes(m))` equals `m` for every
 * MCID, and every other string or byte string is refused with `McidError("invalid_mcid")`: another
 * prefix, uppercase, padding, a decoded length other than 34, version ≠ 1, another codec or
 * non-zero unused trailing bits. So the text and binary forms are each one-to-one.
 *
 * `Mcid` values are immutable. Compare them with `equals` or by `key` (a string usable as a
 * map key), not with `===`.
 *
 * @since 0.1.0
 */
import * as Base32 from "./Base32.ts"
import * as Blake3 from "./Blake3.ts"
import * as Chunker from "./Chunker.ts"
import * as Manifest from "./Manifest.ts"
import { invalid, type McidError } from "./McidError.ts"

/**
 * The version byte of every MCID.
 *
 * @since 0.1.0
 * @category constants
 */
export const version = 0x01

/**
 * Codec byte of a raw block.
 *
 * @since 0.1.0
 * @category constants
 */
export const codecRaw = 0x55

/**
 * Codec byte of a manifest.
 *
 * @since 0.1.0
 * @category constants
 */
export const codecManifest = 0x56

/**
 * Size of the binary form in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const byteLength = 34

/**
 * Length of the text form in characters (`b` + 55 base32 characters).
 *
 * @since 0.1.0
 * @category constants
 */
export const textLength = 56

/**
 * What an MCID names: one raw block, or a manifest of chunks.
 *
 * @since 0.1.0
 * @category models
 */
export type Codec = "raw" | "manifest"

/**
 * A content address. Build one with `ofBytes`, `ofBlock`, `raw`, `manifest`, `parse` or
 * `fromBytes`; `String(mcid)` gives the text form.
 *
 * @since 0.1.0
 * @category models
 */
export interface Mcid {
  readonly _tag: "Mcid"
  /** What it names. */
  readonly codec: Codec
  /** The 32-byte BLAKE3 digest (do not mutate). */
  readonly digest: Uint8Array
  /** The text form, `b…` (56 characters). */
  toString(): string
}

class McidValue implements Mcid {
  readonly _tag = "Mcid" as const
  readonly codec: Codec
  readonly digest: Uint8Array
  #binary: Uint8Array | undefined
  #text: string | undefined
  constructor(codec: Codec, digest: Uint8Array) {
    this.codec = codec
    this.digest = digest
  }
  get binary(): Uint8Array {
    if (this.#binary === undefined) {
      const out = new Uint8Array(byteLength)
      out[0] = version
      out[1] = this.codec === "raw" ? codecRaw : codecManifest
      out.set(this.digest, 2)
      this.#binary = out
    }
    return this.#binary
  }
  toString(): string {
    if (this.#text === undefined) this.#text = "b" + Base32.encode(this.binary)
    return this.#text
  }
  toJSON(): string {
    return this.toString()
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Mcid(${this.toString()})`
  }
}

const make = (codec: Codec, digest: Uint8Array): Mcid => {
  if (digest.length !== Blake3.digestBytes) throw invalid(`a digest has ${Blake3.digestBytes} bytes, not ${digest.length}`)
  return new McidValue(codec, Uint8Array.from(digest))
}

/**
 * The raw-block MCID with this 32-byte digest. Throws `McidError` for another length.
 *
 * @since 0.1.0
 * @category constructors
 */
export const raw = (digest: Uint8Array): Mcid => make("raw", digest)

/**
 * The manifest MCID with this 32-byte digest. Throws `McidError` for another length.
 *
 * @since 0.1.0
 * @category constructors
 */
export const manifest = (digest: Uint8Array): Mcid => make("manifest", digest)

/**
 * The raw-block MCID of `block`: `0x01 0x55 BLAKE3(block)`, whatever its size.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ofBlock = (block: Uint8Array): Mcid => new McidValue("raw", Blake3.hash(block))

/**
 * The MCID of content: a raw block when it fits one chunk (≤ 256 KiB, empty included), else
 * the manifest MCID of its chunks with no name or mime (§12.2). The same bytes always give the
 * same MCID.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ofBytes = (bytes: Uint8Array): Mcid =>
  bytes.length <= Chunker.chunkSizeBytes
    ? ofBlock(bytes)
    : new McidValue("manifest", Blake3.hash(Manifest.encode(Manifest.ofContent(bytes))))

/**
 * The MCID whose binary form is `bin`, or `undefined` when `bin` is not a valid MCID. Never
 * throws: the form for peer input.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromBinary = (bin: Uint8Array): Mcid | undefined => {
  if (bin.length !== byteLength || bin[0] !== version) return undefined
  const codec = bin[1] === codecRaw ? "raw" : bin[1] === codecManifest ? "manifest" : undefined
  return codec === undefined ? undefined : new McidValue(codec, bin.slice(2))
}

const describeBinary = (bin: Uint8Array): string =>
  bin.length !== byteLength
    ? `an MCID has ${byteLength} bytes, not ${bin.length}`
    : bin[0] !== version
    ? `unknown MCID version 0x${bin[0]!.toString(16).padStart(2, "0")}`
    : `unknown MCID codec 0x${bin[1]!.toString(16).padStart(2, "0")}`

/**
 * The MCID whose binary form is `bin`. Throws `McidError` (`invalid_mcid`) otherwise.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromBytes = (bin: Uint8Array): Mcid => {
  const mcid = fromBinary(bin)
  if (mcid === undefined) throw invalid(describeBinary(bin))
  return mcid
}

/**
 * The MCID written as `text`, or the `McidError` saying why it is not one. Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (text: string): Mcid | McidError => {
  if (typeof text !== "string") return invalid("an MCID is a string")
  const shown = JSON.stringify(text.length > 16 ? `${text.slice(0, 16)}…` : text)
  if (text.length !== textLength) return invalid(`${shown} has ${text.length} characters, an MCID has ${textLength}`)
  if (text[0] !== "b") return invalid(`${shown} does not start with "b"`)
  const bin = Base32.decode(text.slice(1))
  if (bin === undefined) return invalid(`${shown} is not lowercase unpadded base32 after "b"`)
  const mcid = fromBinary(bin)
  return mcid === undefined ? invalid(`${shown}: ${describeBinary(bin)}`) : mcid
}

/**
 * Parses the text form. Throws `McidError` (`invalid_mcid`) for anything else.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (text: string): Mcid => {
  const out = decode(text)
  if (out._tag === "McidError") throw out
  return out
}

/**
 * Whether `text` is the text form of an MCID.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValid = (text: string): boolean => decode(text)._tag === "Mcid"

/**
 * Whether `value` is an `Mcid` built by this module.
 *
 * @since 0.1.0
 * @category guards
 */
export const isMcid = (value: unknown): value is Mcid => value instanceof McidValue

/**
 * The text form, `b` + base32 (56 characters).
 *
 * @since 0.1.0
 * @category encoding
 */
export const toString = (mcid: Mcid): string => mcid.toString()

/**
 * The 34-byte binary form (a fresh copy).
 *
 * @since 0.1.0
 * @category encoding
 */
export const bytes = (mcid: Mcid): Uint8Array => asMcidValue(mcid).binary.slice()

/**
 * A string key for maps and sets: the text form.
 *
 * @since 0.1.0
 * @category encoding
 */
export const key = (mcid: Mcid): string => mcid.toString()

/**
 * Whether two MCIDs are the same.
 *
 * @since 0.1.0
 * @category guards
 */
export const equals = (a: Mcid, b: Mcid): boolean => a.codec === b.codec && sameBytes(a.digest, b.digest)

/**
 * Whether `block` hashes to this MCID's digest (for a manifest MCID: whether `block` is its
 * manifest bytes). The check every block passes before it is stored.
 *
 * @since 0.1.0
 * @category guards
 */
export const verifies = (mcid: Mcid, block: Uint8Array): boolean => sameBytes(Blake3.hash(block), mcid.digest)

const asMcidValue = (mcid: Mcid): McidValue =>
  mcid instanceof McidValue ? mcid : new McidValue(mcid.codec, mcid.digest)

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

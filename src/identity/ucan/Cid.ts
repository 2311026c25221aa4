/**
 * Content identifiers for UCAN tokens: CIDv1, codec dag-cbor (0x71), multihash sha2-256, written in
 * multibase base32 lower case (`bafy…`), as PROTOCOL.md §13.1 fixes. A {@link Link} is a CID held
 * inside DAG-CBOR data (tag 42), such as the entries of an invocation's `prf`.
 *
 * Pure: hashing only. This module does not resolve CIDs; callers supply the blocks.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Bytes from "../../core/Bytes.ts"
import { base32Decode, base32Encode } from "./Bytes.ts"

/** CID version 1, dag-cbor, sha2-256, 32-byte digest: the four bytes before every UCAN digest. */
const UCAN_CID_PREFIX = Uint8Array.of(0x01, 0x71, 0x12, 0x20)

/**
 * A CID embedded in IPLD data: the binary CID, without the multibase `0x00` prefix that tag 42 adds.
 * Compare links with {@link Link.equals}; their text form is {@link Link.toString}.
 *
 * @since 0.1.0
 * @category models
 */
export class Link {
  /** The binary CID (version, codec, multihash). */
  readonly bytes: Uint8Array

  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }

  /** Multibase base32 text (`b…`), e.g. `bafyrei…` for a UCAN. */
  toString(): string {
    return "b" + base32Encode(this.bytes)
  }

  /** Same CID bytes. */
  equals(that: Link): boolean {
    return Bytes.equals(this.bytes, that.bytes)
  }
}

/**
 * Whether a value is a {@link Link}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isLink = (u: unknown): u is Link => u instanceof Link

/**
 * SHA-256 of some bytes.
 *
 * @since 0.1.0
 * @category hashing
 */
export const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(bytes).digest())

/**
 * The binary CIDv1 (dag-cbor, sha2-256) of an encoded block.
 *
 * @since 0.1.0
 * @category constructors
 */
export const cidBytesOf = (block: Uint8Array): Uint8Array => {
  const out = new Uint8Array(36)
  out.set(UCAN_CID_PREFIX, 0)
  out.set(sha256(block), 4)
  return out
}

/**
 * The {@link Link} of an encoded DAG-CBOR block.
 *
 * @since 0.1.0
 * @category constructors
 */
export const linkOf = (block: Uint8Array): Link => new Link(cidBytesOf(block))

/**
 * The text CID (`bafy…`) of an encoded DAG-CBOR block.
 *
 * @since 0.1.0
 * @category constructors
 */
export const cidOf = (block: Uint8Array): string => linkOf(block).toString()

/**
 * Parses a base32 (`b…`) CIDv1 text into a {@link Link}; `undefined` when it is not one.
 * Only the structure (version 1, a varint codec, a sha2-256 multihash) is checked, so any
 * dag-cbor or raw CID parses; the UCAN checks compare bytes afterwards.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseCid = (text: string): Link | undefined => {
  if (!text.startsWith("b")) return undefined
  const bytes = base32Decode(text.slice(1))
  return bytes !== undefined && isCidV1Sha256(bytes) ? new Link(bytes) : undefined
}

/**
 * Whether binary CID bytes are CIDv1 with a one- or two-byte codec and a 32-byte sha2-256 digest.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCidV1Sha256 = (bytes: Uint8Array): boolean => {
  if (bytes[0] !== 0x01) return false
  // Codec varint: one byte below 0x80, or two bytes with the continuation bit on the first only.
  const codecLength = (bytes[1] ?? 0x80) < 0x80 ? 1 : (bytes[2] ?? 0x80) < 0x80 && bytes[2] !== 0 ? 2 : 0
  if (codecLength === 0) return false
  const at = 1 + codecLength
  return bytes[at] === 0x12 && bytes[at + 1] === 0x20 && bytes.length === at + 2 + 32
}

/**
 * `did:key` identifiers for Ed25519 public keys (PROTOCOL.md §2.2).
 *
 * A DID is `did:key:z` + base58btc(varint(0xed) ‖ public key), where `0xed` is the multicodec
 * `ed25519-pub` and the varint is `ed 01`; every valid DID therefore starts `did:key:z6Mk`.
 * Parsing is strict and total: any string either yields a 32-byte key that passes the §2.1
 * checks (canonical, not small order, on the curve) or throws a `DidError` whose `code` is
 * assigned exactly as §2.2 says. Encoding and decoding are inverse: `fromPublicKey(toPublicKey(d))
 * === d` for every DID that parses.
 *
 * Not here: other DID methods, DID documents, DID URLs (a `#fragment` is not part of a DID and
 * is refused as `invalidDid`).
 *
 * @see https://w3c-ccg.github.io/did-method-key/ the did:key method
 * @since 0.1.0
 */
import * as Base58 from "./Base58.ts"
import { DidError as DidError, make as makeDidError } from "./DidError.ts"
import * as Ed25519 from "./Ed25519.ts"
import * as Varint from "./Varint.ts"

/**
 * The method prefix every DID here carries.
 *
 * @since 0.1.0
 * @category constants
 */
export const prefix = "did:key:"

/**
 * The multicodec code of an Ed25519 public key (`ed25519-pub`).
 *
 * @since 0.1.0
 * @category constants
 */
export const ed25519PubCodec = 0xed

/** `varint(0xed)`: the two bytes in front of the key. */
const codecPrefix = Varint.encode(ed25519PubCodec)

/**
 * Longest multibase body (after `z`) we decode. An Ed25519 DID body is 48 characters; anything
 * longer than this cannot be 34 bytes, and bounding it keeps the quadratic base58 decoder cheap
 * on hostile input. A longer body made of base58 characters is `invalidPublicKeyLength`.
 */
const maxBodyChars = 128

/**
 * Valid DIDs already parsed, so a peer's DID costs one point decompression per process rather
 * than one per use. Bounded; the least recently used entry goes first.
 */
const parsedCap = 4_096
const parsed = new Map<string, Uint8Array>()

const remember = (did: string, publicKey: Uint8Array): void => {
  if (parsed.size >= parsedCap) {
    const oldest = parsed.keys().next()
    if (oldest.done !== true) parsed.delete(oldest.value)
  }
  parsed.set(did, publicKey)
}

/**
 * The DID of a 32-byte Ed25519 public key. Throws `DidError` (`invalidPublicKeyLength` or
 * `invalidPublicKeyType`) if the key would not parse back, so every DID made here is valid.
 *
 * @example
 * ```ts
 * Did.fromPublicKey(identity.publicKey) // "did:key:z6Mk…"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPublicKey = (publicKey: Uint8Array): string => {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== Ed25519.publicKeyLength) {
    throw makeDidError("invalidPublicKeyLength", `an Ed25519 public key is ${Ed25519.publicKeyLength} bytes`)
  }
  if (!Ed25519.isValidPublicKey(publicKey)) {
    throw makeDidError("invalidPublicKeyType", "not a valid Ed25519 public key (non-canonical, small order or off the curve)")
  }
  return fromPublicKeyUnsafe(publicKey)
}

/**
 * `fromPublicKey` without the §2.1 checks (which cost a point decompression). Only for keys
 * known to be valid, such as one just derived from a seed; a bad key gives a DID that
 * `toPublicKey` refuses.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPublicKeyUnsafe = (publicKey: Uint8Array): string => {
  const payload = new Uint8Array(codecPrefix.length + publicKey.length)
  payload.set(codecPrefix, 0)
  payload.set(publicKey, codecPrefix.length)
  return prefix + "z" + Base58.encode(payload)
}

const parse = (did: string): Uint8Array => {
  if (typeof did !== "string" || !did.startsWith(prefix)) {
    throw makeDidError("unsupportedDidMethod", "not a did:key identifier")
  }
  if (did.charCodeAt(prefix.length) !== 0x7a /* z */) {
    throw makeDidError("invalidDid", "the did:key body must be base58btc (multibase prefix z)")
  }
  const body = did.slice(prefix.length + 1)
  if (body.length === 0 || !Base58.isAlphabet(body)) {
    throw makeDidError("invalidDid", "the did:key body is not base58btc")
  }
  if (body.length > maxBodyChars) {
    throw makeDidError("invalidPublicKeyLength", "the did:key body is far too long for an Ed25519 key")
  }
  const payload = Base58.decode(body)
  if (payload === undefined) throw makeDidError("invalidDid", "the did:key body is not base58btc")
  const codec = Varint.decode(payload, 0)
  if (codec._tag !== "Ok") {
    throw makeDidError("invalidDid", `the multicodec varint is malformed (${codec._tag})`)
  }
  if (codec.value !== ed25519PubCodec) {
    throw makeDidError("invalidPublicKeyType", `multicodec 0x${codec.value.toString(16)} is not ed25519-pub (0xed)`)
  }
  const keyLength = payload.length - codec.length
  if (keyLength !== Ed25519.publicKeyLength) {
    throw makeDidError(
      "invalidPublicKeyLength",
      `an Ed25519 public key is ${Ed25519.publicKeyLength} bytes, got ${keyLength}`
    )
  }
  const publicKey = payload.slice(codec.length)
  if (!Ed25519.isValidPublicKey(publicKey)) {
    throw makeDidError("invalidPublicKeyType", "not a valid Ed25519 public key (non-canonical, small order or off the curve)")
  }
  return publicKey
}

/**
 * The 32-byte public key a DID names. Throws `DidError` with the §2.2 code; never anything
 * else, whatever the string. Returns a fresh copy the caller may keep or mutate.
 *
 * @example
 * ```ts
 * Did.toPublicKey("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp") // 32 bytes
 * Did.toPublicKey("did:web:example.com") // throws DidError, code "unsupportedDidMethod"
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const toPublicKey = (did: string): Uint8Array => {
  const known = parsed.get(did)
  if (known !== undefined) {
    parsed.delete(did)
    parsed.set(did, known)
    return Uint8Array.from(known)
  }
  const publicKey = parse(did)
  remember(did, publicKey)
  return Uint8Array.from(publicKey)
}

/**
 * Like `toPublicKey`, but returns the `DidError` instead of throwing it.
 *
 * @since 0.1.0
 * @category conversions
 */
export const parsePublicKey = (did: string): Uint8Array | DidError => {
  try {
    return toPublicKey(did)
  } catch (error) {
    if (error instanceof DidError) return error
    throw error
  }
}

/**
 * Whether `did` is a valid Ed25519 `did:key` (i.e. `toPublicKey` would not throw).
 *
 * @since 0.1.0
 * @category guards
 */
export const isValid = (did: string): boolean => {
  if (typeof did !== "string") return false
  if (parsed.has(did)) return true
  try {
    remember(did, parse(did))
    return true
  } catch {
    return false
  }
}

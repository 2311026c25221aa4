/**
 * Building and opening signed objects (PROTOCOL.md §5): `{b, s}` with `b` the msgpack body,
 * encoded once by the signer, and `s` the Ed25519 signature over `domain ‖ b`.
 *
 * Key invariant: an `open*` function returns a body only after the signature verified over
 * the **exact received bytes** of `b` with the key the body names (`pk`; `by` for claims).
 * Nothing is re-encoded, so no canonical msgpack is needed. Every failure is a value: a `b`
 * that fails the pre-scan or its field checks is a `DecodeError` (`malformed_frame` /
 * `invalid_field`); a bad signature is a `SignatureInvalid`.
 *
 * It does not hold keys or do cryptography: the caller passes `sign` and `verify` (the
 * identity module provides them). It does not apply policy (record validity windows, key
 * derivation, SWIM precedence); those belong to the cores.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import * as CodecConfig from "./CodecConfig.ts"
import { signatureBytes } from "./Constants.ts"
import * as DecodeError from "./DecodeError.ts"
import * as Decoder from "./Decoder.ts"
import * as EncodeError from "./EncodeError.ts"
import * as Fields from "./Fields.ts"
import type { Signed } from "./Frame.ts"
import { packr } from "./Msgpack.ts"
import * as PreScan from "./PreScan.ts"
import * as SignedBody from "./SignedBody.ts"

/**
 * Signs a message: returns the 64-byte Ed25519 signature.
 *
 * @since 0.1.0
 * @category models
 */
export type Sign = (message: Uint8Array) => Uint8Array

/**
 * Verifies a 64-byte Ed25519 signature over `message` for a 32-byte public key. Must not
 * throw; if it does, the signature counts as invalid.
 *
 * @since 0.1.0
 * @category models
 */
export type Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean

/**
 * A signing domain of §0.3.
 *
 * @since 0.1.0
 * @category models
 */
export type Domain = "record" | "event" | "swim"

const domainText: { readonly [D in Domain]: string } = {
  record: "macula-node/1/record",
  event: "macula-node/1/event",
  swim: "macula-node/1/swim"
}

const domainPrefix = (domain: Domain): Uint8Array => {
  const text = domainText[domain]
  const bytes = new Uint8Array(text.length + 1)
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
  return bytes // ends with the 0x00 separator
}

// Private copies: a caller mutating an exported constant cannot change what we sign.
const prefixes: { readonly [D in Domain]: Uint8Array } = {
  record: domainPrefix("record"),
  event: domainPrefix("event"),
  swim: domainPrefix("swim")
}

/**
 * `macula-node/1/record` ‖ 0x00, the domain of DHT records. Read-only by convention.
 *
 * @since 0.1.0
 * @category constants
 */
export const recordDomain: Uint8Array = domainPrefix("record")

/**
 * `macula-node/1/event` ‖ 0x00, the domain of publisher envelopes. Read-only by convention.
 *
 * @since 0.1.0
 * @category constants
 */
export const eventDomain: Uint8Array = domainPrefix("event")

/**
 * `macula-node/1/swim` ‖ 0x00, the domain of SWIM claims. Read-only by convention.
 *
 * @since 0.1.0
 * @category constants
 */
export const swimDomain: Uint8Array = domainPrefix("swim")

/**
 * The message a signature covers: `domain ‖ b`.
 *
 * @since 0.1.0
 * @category signing
 */
export const message = (domain: Domain, b: Uint8Array): Uint8Array => {
  const prefix = prefixes[domain]
  const out = new Uint8Array(prefix.length + b.length)
  out.set(prefix)
  out.set(b, prefix.length)
  return out
}

/**
 * The signature of a signed object did not verify for the key its body names.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureInvalid extends Data.TaggedError("SignatureInvalid")<{
  /** Which kind of object. */
  readonly domain: Domain
  /** The key it was checked against. */
  readonly publicKey: Uint8Array
}> {
  /** For logs. */
  override get message(): string {
    return `bad ${this.domain} signature`
  }
}

/**
 * Signs already-encoded body bytes. Throws if `sign` returns anything but 64 bytes: that is a
 * defect of the local signer, not remote input.
 *
 * @since 0.1.0
 * @category signing
 */
export const signBytes = (domain: Domain, b: Uint8Array, sign: Sign): Signed => {
  const s = sign(message(domain, b))
  if (!(s instanceof Uint8Array) || s.length !== signatureBytes) {
    throw new TypeError(`signer returned ${s instanceof Uint8Array ? `${s.length} bytes` : typeof s}, not 64`)
  }
  return { b, s: Uint8Array.from(s) }
}

/**
 * Whether `signed.s` verifies over `domain ‖ signed.b` for `publicKey`; a throwing `verify`
 * counts as `false`.
 *
 * @since 0.1.0
 * @category verifying
 */
export const verifyBytes = (domain: Domain, signed: Signed, publicKey: Uint8Array, verify: Verify): boolean => {
  if (signed.s.length !== signatureBytes) return false
  try {
    return verify(publicKey, message(domain, signed.b), signed.s) === true
  } catch {
    return false
  }
}

const encodeBody = <A>(
  body: A,
  check: (o: Fields.WireMap) => A,
  config: CodecConfig.CodecConfig
): Uint8Array | EncodeError.EncodeError => {
  Fields.reset()
  const clean = check(body as unknown as Fields.WireMap)
  const problem = Fields.problem()
  if (problem !== undefined) return EncodeError.make("invalid_frame", `body.${problem}`)
  const unfit = Fields.unencodable(clean, 1, config.maxDecodeDepth, config.maxCollectionEntries)
  if (unfit !== undefined) return EncodeError.make("invalid_frame", `body: cannot carry ${unfit}`)
  let packed: Uint8Array
  try {
    packed = packr.pack(clean)
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.slice(0, 200) : "unencodable value"
    return EncodeError.make("invalid_frame", `msgpack cannot encode the body: ${why}`)
  }
  const scanned = PreScan.scan(packed, 0, packed.length, config.maxDecodeDepth, config.maxCollectionEntries)
  if (scanned !== PreScan.ok) {
    const why = scanned === PreScan.okWideInteger ? "integer beyond ±(2^53-1)" : PreScan.describe(scanned)
    return EncodeError.make("invalid_frame", `body a peer would reject: ${why}`)
  }
  // An exact, plain copy: the packer's buffer is shared, and signed bodies live long (stored
  // records). (`Buffer#slice` would not copy.)
  return new Uint8Array(packed)
}

const decodeBody = <A>(
  b: Uint8Array,
  check: (o: Fields.WireMap) => A,
  config: CodecConfig.CodecConfig
): A | DecodeError.DecodeError => {
  const value = Decoder.decode(b, 0, b.length, config.maxDecodeDepth, config.maxCollectionEntries)
  const scanned = Decoder.result()
  if (value === undefined) return DecodeError.make("malformed_frame", `signed body: ${PreScan.describe(scanned)}`)
  if (scanned === PreScan.okWideInteger) {
    return DecodeError.make("invalid_field", "signed body: integer beyond ±(2^53-1)")
  }
  Fields.reset()
  const body = check(value)
  const problem = Fields.problem()
  return problem === undefined ? body : DecodeError.make("invalid_field", `signed body.${problem}`)
}

/**
 * Decodes and checks the body of a signed object **without** verifying it, e.g. to learn the
 * signer before fetching its key. Never act on the result; use an `open*` function.
 *
 * @since 0.1.0
 * @category decoding
 */
export const peekEnvelope = (
  signed: Signed,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): SignedBody.EnvelopeBody | DecodeError.DecodeError => decodeBody(signed.b, SignedBody.checkEnvelope, config)

/**
 * Like `peekEnvelope`, for record bodies.
 *
 * @since 0.1.0
 * @category decoding
 */
export const peekRecord = (
  signed: Signed,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): SignedBody.RecordBody | DecodeError.DecodeError => decodeBody(signed.b, SignedBody.checkRecord, config)

/**
 * Like `peekEnvelope`, for claim bodies.
 *
 * @since 0.1.0
 * @category decoding
 */
export const peekClaim = (
  signed: Signed,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): SignedBody.ClaimBody | DecodeError.DecodeError => decodeBody(signed.b, SignedBody.checkClaim, config)

const open = <A>(
  domain: Domain,
  signed: Signed,
  check: (o: Fields.WireMap) => A,
  signer: (body: A) => Uint8Array,
  verify: Verify,
  config: CodecConfig.CodecConfig
): A | DecodeError.DecodeError | SignatureInvalid => {
  const body = decodeBody(signed.b, check, config)
  if (body instanceof DecodeError.DecodeError) return body
  const publicKey = signer(body)
  return verifyBytes(domain, signed, publicKey, verify) ? body : new SignatureInvalid({ domain, publicKey })
}

/**
 * Opens a publisher envelope: pre-scan and check `b`, then verify `s` for `pk` in the `event`
 * domain. Returns the body only if all pass.
 *
 * @since 0.1.0
 * @category opening
 */
export const openEnvelope = (
  signed: Signed,
  verify: Verify,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): SignedBody.EnvelopeBody | DecodeError.DecodeError | SignatureInvalid =>
  open("event", signed, SignedBody.checkEnvelope, (body) => body.pk, verify, config)

/**
 * Opens a DHT record: check `b`, then verify `s` for `pk` in the `record` domain.
 *
 * @since 0.1.0
 * @category opening
 */
export const openRecord = (
  signed: Signed,
  verify: Verify,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): SignedBody.RecordBody | DecodeError.DecodeError | SignatureInvalid =>
  open("record", signed, SignedBody.checkRecord, (body) => body.pk, verify, config)

/**
 * Opens a SWIM claim: check `b`, then verify `s` for `by` (the signer) in the `swim` domain.
 * Whether `by` may make that claim (e.g. `alive` must be self-signed) is SWIM's rule.
 *
 * @since 0.1.0
 * @category opening
 */
export const openClaim = (
  signed: Signed,
  verify: Verify,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): SignedBody.ClaimBody | DecodeError.DecodeError | SignatureInvalid =>
  open("swim", signed, SignedBody.checkClaim, (body) => body.by, verify, config)

/**
 * Encodes and signs a publisher envelope (`event` domain). `sign` must be the key `body.pk`.
 *
 * @since 0.1.0
 * @category signing
 */
export const signEnvelope = (
  body: SignedBody.EnvelopeBody,
  sign: Sign,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): Signed | EncodeError.EncodeError => {
  const b = encodeBody(body, SignedBody.checkEnvelope, config)
  return b instanceof EncodeError.EncodeError ? b : signBytes("event", b, sign)
}

/**
 * Encodes and signs a DHT record (`record` domain). `sign` must be the key `body.pk`.
 *
 * @since 0.1.0
 * @category signing
 */
export const signRecord = (
  body: SignedBody.RecordBody,
  sign: Sign,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): Signed | EncodeError.EncodeError => {
  const b = encodeBody(body, SignedBody.checkRecord, config)
  return b instanceof EncodeError.EncodeError ? b : signBytes("record", b, sign)
}

/**
 * Encodes and signs a SWIM claim (`swim` domain). `sign` must be the key `body.by`.
 *
 * @since 0.1.0
 * @category signing
 */
export const signClaim = (
  body: SignedBody.ClaimBody,
  sign: Sign,
  config: CodecConfig.CodecConfig = CodecConfig.defaults
): Signed | EncodeError.EncodeError => {
  const b = encodeBody(body, SignedBody.checkClaim, config)
  return b instanceof EncodeError.EncodeError ? b : signBytes("swim", b, sign)
}

/**
 * The self-signed X.509 v3 certificate that binds a node's Ed25519 key to its TLS identity
 * (PROTOCOL.md §3.3, RFC 5280, RFC 8410), built and checked without any ASN.1 dependency.
 *
 * A node's certificate has the node key as SubjectPublicKeyInfo, is signed by that same key,
 * names the node's DID as subject and issuer CN (informational only) and is valid from one day
 * before to one year after creation. Checking a peer's certificate follows §3.3: exactly one
 * certificate, an Ed25519 key passing §2.1, a valid self-signature; dates, names and extensions
 * are ignored, because TLS 1.3 CertificateVerify already proves possession of the key and the
 * key *is* the identity. The peer DID is derived from the key, never read from the CN.
 *
 * Not here: chains, CAs, revocation, any key type other than Ed25519.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Bytes from "../../core/Bytes.ts"
import * as Did from "../../identity/Did.ts"
import * as Ed25519 from "../../identity/Ed25519.ts"
import * as Der from "./Der.ts"

/** AlgorithmIdentifier for Ed25519: SEQUENCE { OID 1.3.101.112 } with absent parameters (RFC 8410 §3). */
const ed25519Algorithm = Der.sequence(Der.oid("1.3.101.112"))
const commonNameOid = Der.oid("2.5.4.3")
const basicConstraintsOid = Der.oid("2.5.29.19")
const keyUsageOid = Der.oid("2.5.29.15")
const derTrue = Der.tlv(Der.Tag.boolean, Uint8Array.of(0xff))
/** KeyUsage BIT STRING with only digitalSignature (bit 0) set: 7 unused bits, 0x80. */
const digitalSignatureOnly = Der.tlv(Der.Tag.bitString, Uint8Array.of(7, 0x80))
/** PKCS#8 wrapper of a raw Ed25519 seed (RFC 8410 §7). */
const pkcs8Prefix = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])

const dayMs = 86_400_000

/**
 * How long before its creation a certificate is valid, in ms (clock skew allowance for peers that
 * check dates, which macula-node nodes do not). @default 86_400_000 (1 day)
 *
 * @since 0.1.0
 * @category constants
 */
export const validBeforeMs = dayMs

/**
 * How long after its creation a certificate is valid, in ms. @default 31_536_000_000 (365 days)
 *
 * @since 0.1.0
 * @category constants
 */
export const validAfterMs = 365 * dayMs

/**
 * A node's TLS credentials: the certificate (DER and PEM) and its private key (PKCS#8 PEM).
 * **Secret**: `privateKeyPem` holds the node's seed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  /** The certificate, DER. */
  readonly der: Uint8Array
  /** The certificate, PEM. */
  readonly certificatePem: string
  /** The node key as PKCS#8 PEM. Secret. */
  readonly privateKeyPem: string
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** `did:key:z6Mk…` of `publicKey`. */
  readonly did: string
}

const pem = (label: string, der: Uint8Array): string => {
  const base64 = Buffer.from(der).toString("base64")
  const lines = base64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`
}

const name = (did: string): Uint8Array =>
  Der.sequence(Der.tlv(Der.Tag.set, Der.sequence(commonNameOid, Der.utf8String(did))))

/**
 * Builds the node's self-signed certificate from its 32-byte Ed25519 seed. `nowMs` (unix ms) is
 * the creation time; the serial number is derived from the key and that time, so the result is
 * deterministic. Throws `RangeError` if the seed is not 32 bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (seed: Uint8Array, nowMs: number): Credentials => {
  const key = Ed25519.signingKey(seed)
  const publicKey = key.publicKey
  const did = Did.fromPublicKey(publicKey)
  const serial = createHash("sha256").update(publicKey).update(String(nowMs)).digest().subarray(0, 16)
  // Positive and minimal: top bit clear, second-highest set, so no sign octet is ever needed.
  serial[0] = (serial[0]! & 0x7f) | 0x40
  const extensions = Der.tlv(
    Der.Tag.context(3),
    Der.sequence(
      Der.sequence(basicConstraintsOid, derTrue, Der.tlv(Der.Tag.octetString, Der.sequence())),
      Der.sequence(keyUsageOid, derTrue, Der.tlv(Der.Tag.octetString, digitalSignatureOnly))
    )
  )
  const tbs = Der.sequence(
    Der.tlv(Der.Tag.context(0), Der.tlv(Der.Tag.integer, Uint8Array.of(2))), // v3
    Der.unsignedInteger(serial),
    ed25519Algorithm,
    name(did),
    Der.sequence(Der.time(nowMs - validBeforeMs), Der.time(nowMs + validAfterMs)),
    name(did),
    Der.sequence(ed25519Algorithm, Der.bitString(publicKey)),
    extensions
  )
  const signature = Ed25519.signWith(key, tbs)
  const der = Der.sequence(tbs, ed25519Algorithm, Der.bitString(signature))
  const pkcs8 = new Uint8Array(pkcs8Prefix.length + 32)
  pkcs8.set(pkcs8Prefix, 0)
  pkcs8.set(seed, pkcs8Prefix.length)
  const privateKeyPem = pem("PRIVATE KEY", pkcs8)
  pkcs8.fill(0)
  return { der, certificatePem: pem("CERTIFICATE", der), privateKeyPem, publicKey, did }
}

/**
 * Why a peer's certificate was refused.
 *
 * @since 0.1.0
 * @category models
 */
export type Problem =
  | "no_certificate"
  | "more_than_one_certificate"
  | "malformed"
  | "not_ed25519"
  | "invalid_public_key"
  | "bad_signature"

/**
 * The outcome of checking a peer's certificate: its key and DID, or the problem.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict =
  | { readonly ok: true; readonly publicKey: Uint8Array; readonly did: string }
  | { readonly ok: false; readonly problem: Problem }

const refuse = (problem: Problem): Verdict => ({ ok: false, problem })

/**
 * Checks one DER certificate under §3.3: well-formed, Ed25519 key (SPKI and both signature
 * algorithm fields), key passing §2.1 (canonical, not small order, on the curve), valid strict
 * self-signature over the TBSCertificate. Validity dates, names and extensions are not looked at.
 * Total: never throws.
 *
 * @since 0.1.0
 * @category verifying
 */
export const verify = (der: Uint8Array): Verdict => {
  const outer = Der.read(der, 0)
  if (outer === undefined || outer.tag !== Der.Tag.sequence || outer.end !== der.length) return refuse("malformed")
  const parts = Der.children(der, outer)
  if (parts === undefined || parts.length !== 3) return refuse("malformed")
  const [tbs, algorithm, signatureBits] = parts as [Der.Element, Der.Element, Der.Element]
  if (tbs.tag !== Der.Tag.sequence || algorithm.tag !== Der.Tag.sequence || signatureBits.tag !== Der.Tag.bitString) {
    return refuse("malformed")
  }
  if (!Bytes.equals(der.subarray(algorithm.start, algorithm.end), ed25519Algorithm)) return refuse("not_ed25519")
  const fields = Der.children(der, tbs)
  if (fields === undefined) return refuse("malformed")
  // [0] version is optional (absent = v1); then serial, signature, issuer, validity, subject, SPKI.
  const base = fields[0]?.tag === Der.Tag.context(0) ? 1 : 0
  const innerAlgorithm = fields[base + 1]
  const spki = fields[base + 5]
  if (fields[base]?.tag !== Der.Tag.integer || innerAlgorithm === undefined || spki === undefined) {
    return refuse("malformed")
  }
  if (!Bytes.equals(der.subarray(innerAlgorithm.start, innerAlgorithm.end), ed25519Algorithm)) {
    return refuse("not_ed25519")
  }
  if (spki.tag !== Der.Tag.sequence) return refuse("malformed")
  const spkiParts = Der.children(der, spki)
  if (spkiParts === undefined || spkiParts.length !== 2) return refuse("malformed")
  const [keyAlgorithm, keyBits] = spkiParts as [Der.Element, Der.Element]
  if (!Bytes.equals(der.subarray(keyAlgorithm.start, keyAlgorithm.end), ed25519Algorithm)) {
    return refuse("not_ed25519")
  }
  if (keyBits.tag !== Der.Tag.bitString || keyBits.end - keyBits.contentStart !== 33 || der[keyBits.contentStart] !== 0) {
    return refuse("invalid_public_key")
  }
  const publicKey = der.slice(keyBits.contentStart + 1, keyBits.end)
  if (!Ed25519.isValidPublicKey(publicKey)) return refuse("invalid_public_key")
  if (signatureBits.end - signatureBits.contentStart !== 65 || der[signatureBits.contentStart] !== 0) {
    return refuse("bad_signature")
  }
  const signature = der.subarray(signatureBits.contentStart + 1, signatureBits.end)
  if (!Ed25519.verify(publicKey, der.subarray(tbs.start, tbs.end), signature)) return refuse("bad_signature")
  return { ok: true, publicKey, did: Did.fromPublicKey(publicKey) }
}

/**
 * Checks the chain a peer presented in the TLS handshake: exactly one certificate, which passes
 * `verify`.
 *
 * @since 0.1.0
 * @category verifying
 */
export const verifyChain = (chain: ReadonlyArray<Uint8Array>): Verdict => {
  if (chain.length === 0) return refuse("no_certificate")
  if (chain.length > 1) return refuse("more_than_one_certificate")
  return verify(chain[0]!)
}

/**
 * Decodes the first PEM block with `label` (e.g. `CERTIFICATE`) to DER; `undefined` if absent.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromPem = (text: string, label = "CERTIFICATE"): Uint8Array | undefined => {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text)
  return match === null ? undefined : Uint8Array.from(Buffer.from(match[1]!.replace(/\s+/g, ""), "base64"))
}

/**
 * Revocations as stations receive them (PROTOCOL.md §13.6, §10.3 `revocation` records).
 *
 * A revocation is an invocation of `/ucan/revoke` whose `args.ucan` links the revoked
 * delegation, issued by the issuer of that delegation or of one above it, with the path from
 * the root delegation down to the revoked one as proofs (root first, revoked last). It travels
 * as the `d` of a DHT `revocation` record: `{cid, inv, prf}`, `cid` the revoked delegation's
 * binary CID.
 *
 * This module checks one, purely: `verify` a revocation (optionally about one realm authority),
 * `verifyRecord` a record's `d` (the same, plus `cid` naming the revoked delegation), and works
 * out how long a station keeps it (`keepUntil`: the revoked token's `exp` plus leeway, never
 * beyond `maxRevocationTtlMs`). A forged signature, a revoker off the path, a path not ending at
 * the revoked CID or a record naming another CID are refused with a `UcanError` whose `name` says
 * why; nothing here throws for bad input. Verifying the same revocation twice gives the same
 * answer, so a replayed one is harmless.
 *
 * @since 0.1.0
 */
import { cidBytesOf, isCidV1Sha256, Link, parseCid, sha256 } from "./Cid.ts"
import * as Envelope from "./Envelope.ts"
import * as Ucan from "./Ucan.ts"
import { UcanError } from "./UcanError.ts"

/**
 * A revocation that passed `verify`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Verified {
  /** The revoked delegation's CID (`bafy…`). */
  readonly revoked: string
  /** Who revoked it (a DID on the path). */
  readonly revoker: string
  /** The chain's subject: the root delegation's `sub` (for a realm, its authority). */
  readonly subject: string
  /** The revoked delegation's `exp`, unix s; `null` when it never expires. */
  readonly revokedExp: number | null
  /** The revocation invocation's own CID. */
  readonly cid: string
}

/**
 * The outcome of `verify` and `verifyRecord`.
 *
 * @since 0.1.0
 * @category models
 */
export type Result =
  | { readonly ok: true; readonly revocation: Verified }
  | { readonly ok: false; readonly error: UcanError }

/**
 * Options of `verify`.
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifyOptions {
  /** The current time, unix s (bounds the revocation invocation's own `nbf` / `exp`). */
  readonly now: number
  /** @default 60 */
  readonly leewaySec?: number
  /** When given, the chain's subject must be this DID (a realm authority), else `InvalidSubject`. */
  readonly authority?: string
  /** @default 16_384 */
  readonly maxUcanBytes?: number
  /** @default 8 */
  readonly maxProofChainLength?: number
}

/**
 * The `d` of a `revocation` record.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordData {
  /** Binary CID of the revoked delegation. */
  readonly cid: Uint8Array
  /** The revocation invocation. */
  readonly inv: Uint8Array
  /** Its proofs, root first. */
  readonly prf: ReadonlyArray<Uint8Array>
}

const refused = (name: UcanError["name"], message: string): Result => ({ ok: false, error: new UcanError(name, message) })

/**
 * Verifies a revocation against its proof path: `Ucan.verifyRevocation`, then the subject check
 * when `authority` is given. Never throws for bad tokens.
 *
 * @since 0.1.0
 * @category validation
 */
export const verify = (revocation: Uint8Array, proofs: ReadonlyArray<Uint8Array>, options: VerifyOptions): Result => {
  const checked = Ucan.verifyRevocation(revocation, proofs, {
    now: options.now,
    ...(options.leewaySec === undefined ? {} : { leewaySec: options.leewaySec }),
    ...(options.maxUcanBytes === undefined ? {} : { maxUcanBytes: options.maxUcanBytes }),
    ...(options.maxProofChainLength === undefined ? {} : { maxProofChainLength: options.maxProofChainLength })
  })
  if (!checked.ok) return refused(checked.error.name, checked.error.message)
  const path = checked.chain.slice(0, -1)
  const root = path[0]!
  const target = path[path.length - 1]!
  // verifyRevocation refused a null root subject already; the guard keeps the type honest.
  if (root.sub === null) return refused("InvalidClaim", "the root proof has a null subject")
  if (options.authority !== undefined && root.sub !== options.authority) {
    return refused("InvalidSubject", `the revocation is about ${root.sub}, not the realm authority ${options.authority}`)
  }
  return {
    ok: true,
    revocation: {
      revoked: checked.revoked,
      revoker: checked.revoker,
      subject: root.sub,
      revokedExp: target.exp,
      cid: checked.chain[checked.chain.length - 1]!.cid
    }
  }
}

/**
 * Verifies the `d` of a `revocation` record: `cid` must be a binary CIDv1 and name exactly the
 * delegation the invocation revokes (else `InvalidClaim`), and the invocation must `verify`.
 *
 * @since 0.1.0
 * @category validation
 */
export const verifyRecord = (d: RecordData, options: VerifyOptions): Result => {
  if (!(d.cid instanceof Uint8Array) || !isCidV1Sha256(d.cid)) return refused("MalformedToken", "the record's cid is not a binary CIDv1")
  const result = verify(d.inv, d.prf, options)
  if (!result.ok) return result
  const named = new Link(d.cid)
  if (named.toString() !== result.revocation.revoked) {
    return refused("InvalidClaim", `the record is keyed by ${named.toString()}, the revocation revokes ${result.revocation.revoked}`)
  }
  return result
}

/**
 * The `d` of the `revocation` record carrying `revocation` and its proof path, or a `UcanError`
 * (`MalformedToken`) when the token is not a `/ucan/revoke` invocation linking a CID.
 *
 * @since 0.1.0
 * @category constructors
 */
export const recordData = (revocation: Uint8Array, proofs: ReadonlyArray<Uint8Array>): RecordData | UcanError => {
  let decoded: Envelope.DecodedUcan
  try {
    decoded = Envelope.decode(revocation)
  } catch (error) {
    return error instanceof UcanError ? error : new UcanError("MalformedToken", String(error))
  }
  if (decoded.kind !== "invocation" || decoded.cmd !== Ucan.revokeCommand) {
    return new UcanError("MalformedToken", `not a ${Ucan.revokeCommand} invocation`)
  }
  const target = decoded.args["ucan"]
  if (!(target instanceof Link)) return new UcanError("MalformedToken", "args.ucan is not a CID link")
  return { cid: target.bytes, inv: revocation, prf: proofs }
}

const encoder = new TextEncoder()

/**
 * The DHT key of the `revocation` record of a delegation: SHA-256(`revocation` 0x00 ‖ CID bytes)
 * (§10.3), from its text CID or binary CID; `undefined` for a text that is not a CID.
 *
 * @since 0.1.0
 * @category keys
 */
export const recordKey = (cid: string | Uint8Array): Uint8Array | undefined => {
  const bytes = typeof cid === "string" ? parseCid(cid)?.bytes : cid
  if (bytes === undefined) return undefined
  const tag = encoder.encode("revocation")
  const material = new Uint8Array(tag.length + 1 + bytes.length)
  material.set(tag, 0)
  material.set(bytes, tag.length + 1)
  return sha256(material)
}

/**
 * The binary CID of a text CID (`bafy…`), or of a token's bytes when given bytes.
 *
 * @since 0.1.0
 * @category getters
 */
export const cidBytes = (cid: string | Uint8Array): Uint8Array | undefined =>
  typeof cid === "string" ? parseCid(cid)?.bytes : cidBytesOf(cid)

/**
 * Until when (unix ms) a station keeps a revocation and a record carrying it lives: the revoked
 * delegation's `exp` plus the leeway — after that the delegation is dead anyway — but never more
 * than `maxTtlMs` from `nowMs` (`maxRevocationTtlMs`); a delegation without `exp` gets the cap.
 *
 * @since 0.1.0
 * @category getters
 */
export const keepUntil = (
  revokedExp: number | null,
  nowMs: number,
  options: { readonly leewayMs: number; readonly maxTtlMs: number }
): number => {
  const cap = nowMs + options.maxTtlMs
  return revokedExp === null ? cap : Math.min(revokedExp * 1_000 + options.leewayMs, cap)
}

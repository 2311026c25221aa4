/**
 * The one error type of the UCAN module.
 *
 * Every failure a caller can act on carries a {@link UcanErrorName}: the nine names of the UCAN 1.0
 * fixtures plus `Revoked`. `Ucan.decode` and the builders throw a `UcanError`; `Ucan.verifyInvocation`
 * never throws and returns the same name inside its result instead.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * Why a token or chain was refused.
 *
 * - `Expired` / `TooEarly` — a token is outside its `exp` / `nbf` bounds (with the clock-skew leeway).
 * - `InvalidAudience` — a proof's `aud` is not the next issuer, or the invocation is not addressed as expected.
 * - `InvalidSubject` — a later token names a different subject than the root proof.
 * - `InvalidSignature` — a signature does not verify against its issuer's did:key.
 * - `UnavailableProof` — a CID in `prf` is not among the supplied proofs.
 * - `MatchError` — the invocation's `args` fail a proof's policy.
 * - `InvalidClaim` — the chain does not prove the invoked command from its subject.
 * - `MalformedToken` — bytes that are not a canonical UCAN 1.0 envelope, or a limit exceeded.
 * - `Revoked` — a token of the chain has been revoked.
 *
 * @since 0.1.0
 * @category models
 */
export type UcanErrorName =
  | "Expired"
  | "TooEarly"
  | "InvalidAudience"
  | "InvalidSubject"
  | "InvalidSignature"
  | "UnavailableProof"
  | "MatchError"
  | "InvalidClaim"
  | "MalformedToken"
  | "Revoked"

/**
 * Every {@link UcanErrorName}, in the order the API lists them.
 *
 * @since 0.1.0
 * @category constants
 */
export const ucanErrorNames: ReadonlyArray<UcanErrorName> = [
  "Expired",
  "TooEarly",
  "InvalidAudience",
  "InvalidSubject",
  "InvalidSignature",
  "UnavailableProof",
  "MatchError",
  "InvalidClaim",
  "MalformedToken",
  "Revoked"
]

/**
 * A refused token or chain. `_tag` is always `"UcanError"`; `name` says why.
 *
 * @example
 * ```ts
 * try { Ucan.decode(bytes) } catch (e) { if (e instanceof UcanError && e.name === "MalformedToken") ... }
 * ```
 * @since 0.1.0
 * @category errors
 */
export class UcanError extends Data.TaggedError("UcanError")<{
  readonly name: UcanErrorName
  readonly message: string
}> {
  constructor(name: UcanErrorName, message: string) {
    super({ name, message })
  }
}

/**
 * Whether a value is a {@link UcanError}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isUcanError = (u: unknown): u is UcanError => u instanceof UcanError

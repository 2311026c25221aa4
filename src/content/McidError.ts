/**
 * `McidError`: why a value is not an MCID (PROTOCOL.md §12.1, §14 row 29).
 *
 * An expected failure: code that parses MCIDs from users or peers catches it (or uses
 * `Mcid.isValid` / `Mcid.fromBinary`, which do not throw) and treats the input as nonsense.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * The reason code. There is one, as API.md names it.
 *
 * @since 0.1.0
 * @category models
 */
export type McidErrorReason = "invalid_mcid"

/**
 * Thrown by `Mcid.parse` and `Mcid.fromBytes`. `_tag` is `"McidError"`, so Effect callers can
 * recover with `Effect.catchTag("McidError", …)`.
 *
 * @example
 * ```ts
 * try {
 *   Mcid.parse("Bxyz")
 * } catch (e) {
 *   if (e instanceof McidError) console.log(e.reason) // "invalid_mcid"
 * }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class McidError extends Data.TaggedError("McidError")<{
  /** Always `invalid_mcid`. */
  readonly reason: McidErrorReason
  /** A sentence naming the problem (never echoes more than a short prefix of the input). */
  readonly message: string
}> {}

/**
 * Builds an `invalid_mcid` error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const invalid = (message: string): McidError => new McidError({ reason: "invalid_mcid", message })

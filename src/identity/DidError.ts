/**
 * `DidError`: why a string is not a usable `did:key` Ed25519 identifier.
 *
 * The four codes are assigned exactly as PROTOCOL.md §2.2 lists them, so every node reports the
 * same code for the same bad input. A `DidError` is an *expected* failure: callers that parse a
 * DID supplied by a peer catch it (or use `Did.isValid`) and treat the input as peer nonsense.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * The reason a DID was refused (PROTOCOL.md §2.2):
 *
 * - `unsupportedDidMethod`: the string does not start with `did:key:`.
 * - `invalidDid`: no `z` (base58btc) multibase prefix, a character outside the base58btc
 *   alphabet, an empty body, or a multicodec varint that is truncated, too long or not minimal.
 * - `invalidPublicKeyType`: the multicodec is not `0xed` (ed25519-pub), or the key fails the
 *   strict checks of §2.1 (non-canonical encoding, small-order point, not on the curve).
 * - `invalidPublicKeyLength`: the key is not exactly 32 bytes (too short, or trailing bytes).
 *
 * @since 0.1.0
 * @category models
 */
export type DidErrorCode = "invalidDid" | "invalidPublicKeyType" | "invalidPublicKeyLength" | "unsupportedDidMethod"

/**
 * Thrown by `Did.toPublicKey` (and anything that parses a DID on its behalf). `_tag` is
 * `"DidError"`, so Effect callers can recover with `Effect.catchTag("DidError", …)`.
 *
 * @example
 * ```ts
 * try {
 *   Did.toPublicKey("did:web:example.com")
 * } catch (e) {
 *   if (e instanceof DidError) console.log(e.code) // "unsupportedDidMethod"
 * }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class DidError extends Data.TaggedError("DidError")<{
  /** Which §2.2 rule the input broke. */
  readonly code: DidErrorCode
  /** A human-readable sentence naming the problem. Never contains key material. */
  readonly message: string
}> {}

/**
 * Builds a `DidError` with its code and message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (code: DidErrorCode, message: string): DidError => new DidError({ code, message })

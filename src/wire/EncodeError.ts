/**
 * Why a frame or signed body could not be encoded (PROTOCOL.md §4.1, §4.3).
 *
 * Key invariant: when encoding fails, no byte was produced for the caller to send, so a
 * frame the peer would reject (too large for its `lim.f`, or ill-typed) never leaves.
 *
 * This module does not map the failure to an `err` frame; `payload_too_large` is also an RPC
 * error name and the caller decides how to report it.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * - `payload_too_large`: the body exceeds the peer's announced limit (`lim.f`), or a
 *   `content.block` exceeds its own limit.
 * - `invalid_frame`: the frame would fail the peer's checks (a field of the wrong type or
 *   size, an unknown `t`), or a payload holds what §4.3 does not allow (`Date`, `Map`, `Set`,
 *   class instances, functions, bigints, typed arrays other than `Uint8Array`, nesting deeper
 *   than `maxDecodeDepth`, collections larger than `maxCollectionEntries`).
 *
 * @since 0.1.0
 * @category models
 */
export type EncodeErrorCode = "payload_too_large" | "invalid_frame"

/**
 * A frame was refused locally; nothing was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class EncodeError extends Data.TaggedError("EncodeError")<{
  /** Why the frame was refused. */
  readonly code: EncodeErrorCode
  /** What was wrong, in words. */
  readonly detail: string
}> {
  /** `code: detail`, for logs. */
  override get message(): string {
    return `${this.code}: ${this.detail}`
  }
}

/**
 * Whether a codec result is an `EncodeError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isEncodeError = (u: unknown): u is EncodeError => u instanceof EncodeError

/**
 * Builds an `EncodeError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (code: EncodeErrorCode, detail: string): EncodeError => new EncodeError({ code, detail })

/**
 * The one error a peer's bytes can produce: `DecodeError`, named after the stream reset it
 * causes (PROTOCOL.md §3.7, §4.1, §4.4).
 *
 * Key invariant: decoding never throws; every rejection of remote input is a `DecodeError`
 * value whose `code` is a stream reset name, so the connection layer can reset that stream
 * with the matching QUIC application code and score the peer.
 *
 * This module does not decide penalties or log anything; that is the connection layer's job.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * Stream reset names a frame can earn. The codec produces all but `wrong_stream`, which the
 * connection layer raises with `Streams.check` once it knows the stream a frame arrived on.
 *
 * @since 0.1.0
 * @category models
 */
export type DecodeErrorCode =
  | "frame_too_large"
  | "truncated_frame"
  | "malformed_frame"
  | "unknown_type"
  | "unsupported_version"
  | "invalid_field"
  | "wrong_stream"

/**
 * QUIC application codes of the stream resets (§3.7 table, 0x01–0x07).
 *
 * @since 0.1.0
 * @category constants
 */
export const streamResetCodes: { readonly [K in DecodeErrorCode]: number } = {
  frame_too_large: 0x01,
  truncated_frame: 0x02,
  malformed_frame: 0x03,
  unknown_type: 0x04,
  unsupported_version: 0x05,
  invalid_field: 0x06,
  wrong_stream: 0x07
}

/**
 * A frame was rejected: the stream it came on is reset with `code` and nothing is dispatched.
 * `detail` says what was wrong, for the one structured log line of §14.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  /** The stream reset name this rejection maps to. */
  readonly code: DecodeErrorCode
  /** What was wrong, in words (which field, which limit). */
  readonly detail: string
}> {
  /** `code: detail`, for logs. */
  override get message(): string {
    return `${this.code}: ${this.detail}`
  }
}

/**
 * Whether a codec result is a `DecodeError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isDecodeError = (u: unknown): u is DecodeError => u instanceof DecodeError

/**
 * Builds a `DecodeError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (code: DecodeErrorCode, detail: string): DecodeError => new DecodeError({ code, detail })

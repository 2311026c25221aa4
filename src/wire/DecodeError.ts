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
import { streamReset } from "../core/Codes.ts"

/**
 * Stream reset names a frame can earn (a subset of `StreamResetName` in `src/core/Codes.ts`).
 * The transport's framing produces `frame_too_large`, `malformed_frame` and `truncated_frame`
 * (§4.1); the codec produces all but `wrong_stream`, which the connection layer raises with
 * `Streams.check` once it knows the stream a frame arrived on.
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
 * QUIC application codes of the stream resets a frame can earn (§3.7 table, 0x01–0x07): the
 * `DecodeErrorCode` rows of the one table in `src/core/Codes.ts`.
 *
 * @since 0.1.0
 * @category constants
 */
export const streamResetCodes: { readonly [K in DecodeErrorCode]: number } = {
  frame_too_large: streamReset.frame_too_large,
  truncated_frame: streamReset.truncated_frame,
  malformed_frame: streamReset.malformed_frame,
  unknown_type: streamReset.unknown_type,
  unsupported_version: streamReset.unsupported_version,
  invalid_field: streamReset.invalid_field,
  wrong_stream: streamReset.wrong_stream
}

/**
 * A frame was rejected: the stream it came on is reset with `code` and nothing is dispatched.
 * `detail` says what was wrong, for the one structured log line of §14.
 *
 * The same class serves both places bytes can be rejected: the codec (a frame body, no stream
 * known, so no `streamId`) and the transport's framing (a length prefix or a stream that ended
 * inside a frame, always with the `streamId` it reset).
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  /** The stream reset name this rejection maps to. */
  readonly code: DecodeErrorCode
  /** What was wrong, in words (which field, which limit). */
  readonly detail: string
  /**
   * The stream that was reset, when the layer that rejected the bytes knows it: always set by
   * the transport's framing, absent from the codec's results.
   */
  readonly streamId?: number
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

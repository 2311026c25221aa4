/**
 * The wire: length-prefixed msgpack frames, the frame catalogue, the pre-scan, signed objects
 * and the stream placement rules of PROTOCOL.md §3.5–§6.
 *
 * Key invariant: remote bytes become either a checked `Frame` or a `DecodeError` naming the
 * stream reset they earn; nothing here throws on remote input, reads a clock, draws random
 * numbers or does I/O.
 *
 * It does not open streams, keep connection state, score peers or hold keys: the transport
 * and connection layers use it, and the identity module supplies `sign`/`verify`.
 *
 * @since 0.1.0
 */

/**
 * Encoding and decoding single frames.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Codec from "./Codec.ts"

/**
 * Codec knobs and their defaults.
 *
 * @since 0.1.0
 * @category modules
 */
export * as CodecConfig from "./CodecConfig.ts"

/**
 * Protocol constants of the wire.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Constants from "./Constants.ts"

/**
 * Frame types: the catalogue as a tagged union on `t`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Frame from "./Frame.ts"

/**
 * Incremental decoding of a stream.
 *
 * @since 0.1.0
 * @category modules
 */
export * as FrameDecoder from "./FrameDecoder.ts"

/**
 * The allocation-free pre-scan of §4.2.
 *
 * @since 0.1.0
 * @category modules
 */
export * as PreScan from "./PreScan.ts"

/**
 * Building and opening signed objects.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Signed from "./Signed.ts"

/**
 * Typed bodies of envelopes, records and claims.
 *
 * @since 0.1.0
 * @category modules
 */
export * as SignedBody from "./SignedBody.ts"

/**
 * Families and stream kinds of §3.5.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Streams from "./Streams.ts"

export {
  /**
   * A rejected frame, named after the stream reset it causes.
   *
   * @since 0.1.0
   * @category errors
   */
  DecodeError,
  /**
   * Stream reset names a frame can earn.
   *
   * @since 0.1.0
   * @category errors
   */
  type DecodeErrorCode,
  /**
   * Whether a value is a `DecodeError`.
   *
   * @since 0.1.0
   * @category guards
   */
  isDecodeError,
  /**
   * QUIC application codes of the stream resets.
   *
   * @since 0.1.0
   * @category constants
   */
  streamResetCodes
} from "./DecodeError.ts"

export {
  /**
   * A frame refused locally; nothing was sent.
   *
   * @since 0.1.0
   * @category errors
   */
  EncodeError,
  /**
   * Why a frame was refused.
   *
   * @since 0.1.0
   * @category errors
   */
  type EncodeErrorCode,
  /**
   * Whether a value is an `EncodeError`.
   *
   * @since 0.1.0
   * @category guards
   */
  isEncodeError
} from "./EncodeError.ts"

/**
 * Typed failures of the `Transport` port. Every one is an expected failure (`Data.TaggedError`
 * in the error channel), recovered with `catchTag`; the same classes are used by every
 * implementation (QUIC, TLS over TCP, the simulated network) so callers never see a library's
 * own error types.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import { DecodeError } from "../../wire/DecodeError.ts"
import type { DecodeProblem } from "./Frame.ts"

/**
 * A dial did not produce a connection: unreachable, refused, TLS failure, handshake timeout or a
 * malformed address.
 *
 * @since 0.1.0
 * @category errors
 */
export class DialFailed extends Data.TaggedError("DialFailed")<{
  readonly address: string
  readonly reason: "invalid_address" | "handshake_timeout" | "tls_refused" | "unreachable" | "transport_stopped"
  readonly message: string
}> {}

/**
 * The peer's certificate names a different DID from the one the dialer pinned; the connection was
 * closed `identity_mismatch` (§3.3, §14 #12).
 *
 * @since 0.1.0
 * @category errors
 */
export class IdentityMismatch extends Data.TaggedError("IdentityMismatch")<{
  readonly address: string
  readonly expected: string
  readonly actual: string
}> {}

/**
 * The transport could not start listening (address in use, not permitted, already listening).
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly address: string
  readonly message: string
}> {}

/**
 * The transport itself could not start (socket bind failed, bad credentials).
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportStartFailed extends Data.TaggedError("TransportStartFailed")<{
  readonly message: string
}> {}

/**
 * The listener was closed; no more connections will be accepted.
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenerClosed extends Data.TaggedError("ListenerClosed")<{
  readonly address: string
}> {}

/**
 * The connection is gone. `by` says who ended it: `local` (we closed it), `peer` (it sent a
 * close), `idle_timeout` (nothing heard for `quicIdleTimeoutMs` or `tlsIdleTimeoutMs`, e.g. a dead
 * peer), `tls` (the handshake failed after the dial returned, e.g. the listener refused our
 * certificate) or `transport` (the socket stopped; on TLS over TCP also a connection that ended or
 * was reset without a close, e.g. a killed peer process, with `code` `eof` or `reset`). `code` is
 * the §3.7 name when the close carried a known application code, else the raw number in hex.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionLost extends Data.TaggedError("ConnectionLost")<{
  readonly peerDid: string
  readonly by: "local" | "peer" | "idle_timeout" | "tls" | "transport"
  readonly code: string
  readonly message: string
}> {}

/**
 * The peer has finished its side of the stream (FIN): no more frames will arrive. Normal for a
 * stream whose conversation ended; unexpected for a long-lived lane.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamEnded extends Data.TaggedError("StreamEnded")<{
  readonly streamId: number
}> {}

/**
 * The stream was reset. `by: "peer"` carries the peer's §3.7 code (name, or the number in hex);
 * `by: "local"` means this side reset or cancelled it.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamReset extends Data.TaggedError("StreamReset")<{
  readonly streamId: number
  readonly by: "local" | "peer"
  readonly code: string
}> {}

export {
  /**
   * The wire's `DecodeError` (`src/wire/DecodeError.ts`), which framing faults are reported
   * with; re-exported so the transport's errors stay in one import.
   *
   * @since 0.1.0
   * @category errors
   */
  DecodeError
}

/**
 * The received bytes could not be framed (§4.1): the stream `streamId` was reset with `code` and
 * nothing after the fault was delivered. A wire `DecodeError` whose `streamId` is always set and
 * whose `code` is one of the three framing codes.
 *
 * @since 0.1.0
 * @category errors
 */
export type FramingError = DecodeError & { readonly streamId: number; readonly code: DecodeProblem }

const framingDetail: { readonly [K in DecodeProblem]: string } = {
  frame_too_large: "length prefix above maxFrameBytes",
  malformed_frame: "length prefix of 0",
  truncated_frame: "stream ended inside a frame"
}

/**
 * The `DecodeError` for a framing fault on `streamId`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const framingError = (streamId: number, code: DecodeProblem): FramingError =>
  new DecodeError({ code, detail: framingDetail[code], streamId }) as FramingError

/**
 * A frame larger than the limit the peer accepts was refused locally; no byte was sent (§4.1).
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{
  readonly size: number
  readonly limit: number
}> {}

/**
 * No new stream can be opened: the peer's stream limit (`maxStreamsPerConnection`) is reached.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamLimitReached extends Data.TaggedError("StreamLimitReached")<{
  readonly peerDid: string
}> {}

/**
 * What receiving a frame can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReceiveError = StreamEnded | StreamReset | FramingError | ConnectionLost

/**
 * What sending a frame can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type SendError = StreamReset | PayloadTooLarge | ConnectionLost

/**
 * What a dial can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type DialError = DialFailed | IdentityMismatch

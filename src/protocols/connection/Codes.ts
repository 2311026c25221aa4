/**
 * The §3.7 names the connection core speaks in: connection closes and stream resets. They are
 * the same names the transport maps to QUIC application codes (`CloseCode.ts` in the transport);
 * the core keeps its own copy of the names because it may not import the transport.
 *
 * @since 0.1.0
 */

/**
 * Connection close names (§3.7, codes 0x100–0x10B).
 *
 * @since 0.1.0
 * @category models
 */
export type CloseName =
  | "normal"
  | "handshake_timeout"
  | "identity_mismatch"
  | "version_mismatch"
  | "role_refused"
  | "pow_insufficient"
  | "replaced"
  | "liveness_lost"
  | "too_many_connections"
  | "banned"
  | "protocol_violation"
  | "going_away"

/**
 * Every close name, in code order.
 *
 * @since 0.1.0
 * @category constants
 */
export const closeNames: ReadonlyArray<CloseName> = [
  "normal",
  "handshake_timeout",
  "identity_mismatch",
  "version_mismatch",
  "role_refused",
  "pow_insufficient",
  "replaced",
  "liveness_lost",
  "too_many_connections",
  "banned",
  "protocol_violation",
  "going_away"
]

/**
 * Whether a string (e.g. a peer's `goodbye.c`) is a close name.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCloseName = (s: unknown): s is CloseName => typeof s === "string" && (closeNames as ReadonlyArray<string>).includes(s)

/**
 * Stream reset names (§3.7, codes 0x00–0x0C).
 *
 * @since 0.1.0
 * @category models
 */
export type ResetName =
  | "no_error"
  | "frame_too_large"
  | "truncated_frame"
  | "malformed_frame"
  | "unknown_type"
  | "unsupported_version"
  | "invalid_field"
  | "wrong_stream"
  | "flow_control"
  | "cancelled"
  | "deadline_exceeded"
  | "overloaded"
  | "internal"

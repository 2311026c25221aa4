/**
 * The application codes of PROTOCOL.md §3.7: stream resets 0x00–0x0C and connection closes
 * 0x100–0x10B, by name and by number. The same numbers travel in QUIC RESET_STREAM /
 * STOP_SENDING / CONNECTION_CLOSE (application) frames and, on TLS over TCP, in the reset chunk of
 * §3.2a.
 *
 * @since 0.1.0
 */

/**
 * Stream reset codes (§3.7), by name.
 *
 * @since 0.1.0
 * @category constants
 */
export const streamReset = {
  no_error: 0x00,
  frame_too_large: 0x01,
  truncated_frame: 0x02,
  malformed_frame: 0x03,
  unknown_type: 0x04,
  unsupported_version: 0x05,
  invalid_field: 0x06,
  wrong_stream: 0x07,
  flow_control: 0x08,
  cancelled: 0x09,
  deadline_exceeded: 0x0a,
  overloaded: 0x0b,
  internal: 0x0c
} as const

/**
 * The name of a stream reset code.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamResetName = keyof typeof streamReset

/**
 * Connection close codes (§3.7), by name.
 *
 * @since 0.1.0
 * @category constants
 */
export const connectionClose = {
  normal: 0x100,
  handshake_timeout: 0x101,
  identity_mismatch: 0x102,
  version_mismatch: 0x103,
  role_refused: 0x104,
  pow_insufficient: 0x105,
  replaced: 0x106,
  liveness_lost: 0x107,
  too_many_connections: 0x108,
  banned: 0x109,
  protocol_violation: 0x10a,
  going_away: 0x10b
} as const

/**
 * The name of a connection close code.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionCloseName = keyof typeof connectionClose

const invert = <K extends string>(table: Record<K, number>): ReadonlyMap<number, K> =>
  new Map(Object.entries(table).map(([name, code]) => [code as number, name as K]))

const streamResetNames = invert(streamReset)
const connectionCloseNames = invert(connectionClose)

/**
 * The name of a stream reset code, or `undefined` for a code §3.7 does not define.
 *
 * @since 0.1.0
 * @category getters
 */
export const streamResetName = (code: number): StreamResetName | undefined => streamResetNames.get(code)

/**
 * The name of a connection close code, or `undefined` for a code §3.7 does not define.
 *
 * @since 0.1.0
 * @category getters
 */
export const connectionCloseName = (code: number): ConnectionCloseName | undefined => connectionCloseNames.get(code)

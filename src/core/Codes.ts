/**
 * The application codes of PROTOCOL.md §3.7, the one table every layer reads: stream resets
 * 0x00–0x0C and connection closes 0x100–0x10B, by name and by number.
 *
 * The same numbers travel in QUIC RESET_STREAM / STOP_SENDING / CONNECTION_CLOSE (application)
 * frames and, on TLS over TCP, in the reset chunk of §3.2a. Everything above the transport speaks
 * in names: the wire's `DecodeError.code`, the connection core's closes and resets, the transport's
 * `StreamReset` and `ConnectionLost` errors. A code a peer sends that §3.7 does not define keeps
 * its number, spelled `0x…` (`streamResetLabel`, `connectionCloseLabel`).
 *
 * Changing a number here changes the protocol (§0.3: a new protocol version).
 *
 * @since 0.1.0
 */

/**
 * Stream reset codes (§3.7), by name. A reset ends one stream; the connection goes on.
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
 * The name of a stream reset code (§3.7, codes 0x00–0x0C).
 *
 * @since 0.1.0
 * @category models
 */
export type StreamResetName = keyof typeof streamReset

/**
 * Connection close codes (§3.7), by name. A close ends the connection and every stream on it.
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
 * The name of a connection close code (§3.7, codes 0x100–0x10B).
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionCloseName = keyof typeof connectionClose

const namesInCodeOrder = <K extends string>(table: Readonly<Record<K, number>>): ReadonlyArray<K> =>
  Object.freeze((Object.keys(table) as Array<K>).sort((a, b) => table[a] - table[b]))

const invert = <K extends string>(table: Readonly<Record<K, number>>): ReadonlyMap<number, K> =>
  new Map(namesInCodeOrder(table).map((name) => [table[name], name]))

/**
 * Every stream reset name, in code order.
 *
 * @since 0.1.0
 * @category constants
 */
export const streamResetNames: ReadonlyArray<StreamResetName> = namesInCodeOrder(streamReset)

/**
 * Every connection close name, in code order.
 *
 * @since 0.1.0
 * @category constants
 */
export const connectionCloseNames: ReadonlyArray<ConnectionCloseName> = namesInCodeOrder(connectionClose)

const streamResetByCode = invert(streamReset)
const connectionCloseByCode = invert(connectionClose)

/**
 * The name of a stream reset code, or `undefined` for a code §3.7 does not define.
 *
 * @since 0.1.0
 * @category getters
 */
export const streamResetName = (code: number): StreamResetName | undefined => streamResetByCode.get(code)

/**
 * The name of a connection close code, or `undefined` for a code §3.7 does not define.
 *
 * @since 0.1.0
 * @category getters
 */
export const connectionCloseName = (code: number): ConnectionCloseName | undefined => connectionCloseByCode.get(code)

/**
 * Whether a value (e.g. a peer's `goodbye.c`) is a stream reset name.
 *
 * @since 0.1.0
 * @category guards
 */
export const isStreamResetName = (u: unknown): u is StreamResetName =>
  typeof u === "string" && Object.hasOwn(streamReset, u)

/**
 * Whether a value (e.g. a peer's `goodbye.c`) is a connection close name.
 *
 * @since 0.1.0
 * @category guards
 */
export const isConnectionCloseName = (u: unknown): u is ConnectionCloseName =>
  typeof u === "string" && Object.hasOwn(connectionClose, u)

/**
 * How a code with no §3.7 name is written where a name would go: `0x` and lower-case hex
 * (`0x1f`). Also used for codes of other tables the transport reports (TLS alerts).
 *
 * @since 0.1.0
 * @category getters
 */
export const hexCode = (code: number): string => `0x${code.toString(16)}`

/**
 * The name of a stream reset code, or the code in hex (`hexCode`) when §3.7 does not define it:
 * what `StreamReset.code` carries for a reset the peer sent.
 *
 * @since 0.1.0
 * @category getters
 */
export const streamResetLabel = (code: number): string => streamResetName(code) ?? hexCode(code)

/**
 * The name of a connection close code, or the code in hex (`hexCode`) when §3.7 does not define
 * it: what `ConnectionLost.code` carries for a close the peer sent.
 *
 * @since 0.1.0
 * @category getters
 */
export const connectionCloseLabel = (code: number): string => connectionCloseName(code) ?? hexCode(code)

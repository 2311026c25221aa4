/**
 * The §3.7 names the connection core speaks in: connection closes and stream resets, under the
 * core's short names. They are aliases of the one table in `src/core/Codes.ts`, which the
 * transport maps to QUIC application codes; new code can import that module directly.
 *
 * @since 0.1.0
 */
import * as Codes from "../../core/Codes.ts"

/**
 * Connection close names (§3.7, codes 0x100–0x10B). Alias of `Codes.ConnectionCloseName`.
 *
 * @since 0.1.0
 * @category models
 */
export type CloseName = Codes.ConnectionCloseName

/**
 * Every close name, in code order. Alias of `Codes.connectionCloseNames`.
 *
 * @since 0.1.0
 * @category constants
 */
export const closeNames: ReadonlyArray<CloseName> = Codes.connectionCloseNames

/**
 * Whether a string (e.g. a peer's `goodbye.c`) is a close name. Alias of
 * `Codes.isConnectionCloseName`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCloseName: (s: unknown) => s is CloseName = Codes.isConnectionCloseName

/**
 * Stream reset names (§3.7, codes 0x00–0x0C). Alias of `Codes.StreamResetName`.
 *
 * @since 0.1.0
 * @category models
 */
export type ResetName = Codes.StreamResetName

/**
 * Reset names that blame the peer: what it sent could not be framed, decoded or placed, or broke
 * the call stream's credit (§4.1–§4.4, §9.5, §14 rows 1–9 and 25). The others (`no_error`,
 * `cancelled`, `deadline_exceeded`, `overloaded`, `internal`) are this side's own decisions, and
 * never count towards `maxStreamErrorsPerMin` (§3.7).
 *
 * @since 0.1.0
 * @category guards
 */
export const isPeerFault = (code: ResetName): boolean => peerFaults.has(code)

const peerFaults: ReadonlySet<ResetName> = new Set<ResetName>([
  "frame_too_large",
  "truncated_frame",
  "malformed_frame",
  "unknown_type",
  "unsupported_version",
  "invalid_field",
  "wrong_stream",
  "flow_control"
])

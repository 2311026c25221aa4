/**
 * The application codes of PROTOCOL.md §3.7 as the transport uses them: stream resets 0x00–0x0C
 * and connection closes 0x100–0x10B, by name and by number. The table itself lives in
 * `src/core/Codes.ts`; this module re-exports it under the transport's names so that
 * `Transport.CloseCode` and existing imports keep working.
 *
 * @since 0.1.0
 */
export {
  /**
   * Connection close codes (§3.7), by name.
   *
   * @since 0.1.0
   * @category constants
   */
  connectionClose,
  /**
   * The name of a connection close code, or `undefined` for a code §3.7 does not define.
   *
   * @since 0.1.0
   * @category getters
   */
  connectionCloseName,
  /**
   * The name of a connection close code.
   *
   * @since 0.1.0
   * @category models
   */
  type ConnectionCloseName,
  /**
   * Stream reset codes (§3.7), by name.
   *
   * @since 0.1.0
   * @category constants
   */
  streamReset,
  /**
   * The name of a stream reset code, or `undefined` for a code §3.7 does not define.
   *
   * @since 0.1.0
   * @category getters
   */
  streamResetName,
  /**
   * The name of a stream reset code.
   *
   * @since 0.1.0
   * @category models
   */
  type StreamResetName
} from "../../core/Codes.ts"

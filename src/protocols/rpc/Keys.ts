/**
 * Small pure helpers shared by the RPC cores: hex keys for byte ids and the timer
 * generations table.
 *
 * Key invariant: `Timers` holds one generation per live key.
 *
 * The structures are mutable and owned by exactly one core state (see `Dispatcher`
 * for why the states are updated in place).
 *
 * @since 0.1.0
 */

/**
 * `hex` (lowercase hex of some bytes: the map key for realm ids, public keys and sessions) and
 * `unhex` (its inverse: bytes from lowercase hex, `undefined` for anything else).
 *
 * @since 0.1.0
 * @category getters
 */
export { fromLowerHex as unhex, toHex as hex } from "../../core/Bytes.ts"

/**
 * The timer generations table (`Timers`, `timers`, `arm`, `disarm`, `fire`) of `core/TimerTable`.
 *
 * @since 0.1.0
 * @category models
 */
export * from "../../core/TimerTable.ts"

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

import { fromLowerHex } from "../../core/Bytes.ts"

/**
 * `hex`: lowercase hex of some bytes (the map key for realm ids, public keys and sessions).
 *
 * @since 0.1.0
 * @category getters
 */
export { toHex as hex } from "../../core/Bytes.ts"

/** Recent `unhex` answers: a station turns the same few peer keys back into bytes on every call. */
const unhexed = new Map<string, Uint8Array | undefined>()
const unhexedMax = 4_096

/**
 * `unhex`: the inverse of `hex` (bytes from lowercase hex, `undefined` for anything else),
 * memoised (bounded). The bytes may be shared between answers: never mutate them.
 *
 * @since 0.1.0
 * @category getters
 */
export const unhex = (text: string): Uint8Array | undefined => {
  const known = unhexed.get(text)
  if (known !== undefined || unhexed.has(text)) return known
  const bytes = fromLowerHex(text)
  if (unhexed.size >= unhexedMax) unhexed.delete(unhexed.keys().next().value!)
  unhexed.set(text, bytes)
  return bytes
}

/**
 * The timer generations table (`Timers`, `timers`, `arm`, `disarm`, `fire`) of `core/TimerTable`.
 *
 * @since 0.1.0
 * @category models
 */
export * from "../../core/TimerTable.ts"

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

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/**
 * Lowercase hex of some bytes: the map key for realm ids, public keys and sessions.
 *
 * @since 0.1.0
 * @category getters
 */
export const hex = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!
  return out
}

/**
 * Bytes from lowercase hex; `undefined` for anything else.
 *
 * @since 0.1.0
 * @category getters
 */
export const unhex = (text: string): Uint8Array | undefined => {
  if (text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) return undefined
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16)
  return out
}

/**
 * Current generation per armed timer key; a fired timer whose generation is not current was
 * superseded or cancelled.
 *
 * @since 0.1.0
 * @category models
 */
export interface Timers {
  next: number
  readonly armed: Map<string, number>
}

/**
 * An empty timer table.
 *
 * @since 0.1.0
 * @category constructors
 */
export const timers = (): Timers => ({ next: 1, armed: new Map() })

/**
 * Arms `key`, returning its new generation.
 *
 * @since 0.1.0
 * @category mutations
 */
export const arm = (t: Timers, key: string): number => {
  const generation = t.next++
  t.armed.set(key, generation)
  return generation
}

/**
 * Disarms `key`; whether it was armed.
 *
 * @since 0.1.0
 * @category mutations
 */
export const disarm = (t: Timers, key: string): boolean => t.armed.delete(key)

/**
 * Consumes a fired timer: true (and disarmed) iff `generation` is current for `key`.
 *
 * @since 0.1.0
 * @category mutations
 */
export const fire = (t: Timers, key: string, generation: number): boolean => {
  if (t.armed.get(key) !== generation) return false
  t.armed.delete(key)
  return true
}

/**
 * Credit-based flow control of one direction of a call stream (PROTOCOL.md §9.5): the
 * receiver grants messages, the sender never has more unconsumed messages outstanding than
 * granted, and the receiver re-grants as its application consumes, at the latest at half.
 *
 * Key invariant: `sent ≤ granted` on the sending side; the receiving side treats a message
 * beyond what it granted as a `flow_control` violation. Pure functions over small records.
 *
 * @since 0.1.0
 */

/**
 * One direction, as counted by either end or by a relay.
 *
 * @since 0.1.0
 * @category models
 */
export interface Window {
  /** Messages granted in total (initial credit plus every `s.credit`). */
  readonly granted: number
  /** Messages sent (or received) in total. */
  readonly sent: number
  /** Receiver only: messages its application consumed. */
  readonly consumed: number
}

/**
 * A window with an initial grant.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (initial: number): Window => ({ granted: initial, sent: 0, consumed: 0 })

/**
 * Messages the sender may still send.
 *
 * @since 0.1.0
 * @category getters
 */
export const available = (w: Window): number => Math.max(0, w.granted - w.sent)

/**
 * One message sent or received; `undefined` if that exceeds the grant (a violation).
 *
 * @since 0.1.0
 * @category combinators
 */
export const take = (w: Window): Window | undefined => (w.sent < w.granted ? { ...w, sent: w.sent + 1 } : undefined)

/**
 * More credit granted.
 *
 * @since 0.1.0
 * @category combinators
 */
export const grant = (w: Window, n: number): Window => ({ ...w, granted: w.granted + Math.max(0, n) })

/**
 * The receiver's application consumed `n` messages. Returns the new window and the credit to
 * grant now (0 when the outstanding grant is still above half of `window`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const consume = (w: Window, n: number, window: number): readonly [Window, number] => {
  const consumed = Math.min(w.sent, w.consumed + Math.max(0, n))
  const outstanding = w.granted - consumed // grant not yet used up by the application
  if (outstanding > window / 2) return [{ ...w, consumed }, 0]
  const more = window - outstanding
  return [{ ...w, consumed, granted: w.granted + more }, more]
}

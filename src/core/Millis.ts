/**
 * Time as plain numbers. Protocol cores never read a clock: `now` arrives in every event,
 * stamped by the actor that produced it. These aliases keep the unit visible in signatures.
 *
 * @since 0.1.0
 */

/**
 * Milliseconds: a monotonic instant when it is a `now`, a duration when it is a knob.
 *
 * @since 0.1.0
 * @category models
 */
export type Millis = number

/**
 * Unix time in milliseconds (wall clock), used only where the protocol carries wall time.
 *
 * @since 0.1.0
 * @category models
 */
export type UnixMillis = number

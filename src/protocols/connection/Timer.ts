/**
 * The connection core's timers (STYLE.md, the sans-IO rule 3). The core sends `SetTimer
 * {timer, at, generation}`; the actor answers with `TimerFired` carrying the same generation.
 * Setting a timer again supersedes the old one: a firing whose generation is not the latest for
 * its timer is ignored, so the actor never races a cancel.
 *
 * @since 0.1.0
 */

/**
 * A timer of the connection core.
 *
 * - `handshake`: both hellos must be exchanged before it fires (`handshakeTimeoutMs`).
 * - `idle`: nothing heard for `appPingIntervalMs`: send a `ping`.
 * - `pong`: the outstanding `ping` got no `pong` within `appPingTimeoutMs`: a miss.
 * - `drain`: the goodbye drain (`goodbyeDrainMs`) is over: close.
 *
 * @since 0.1.0
 * @category models
 */
export type Timer = "handshake" | "idle" | "pong" | "drain"

/**
 * Every timer.
 *
 * @since 0.1.0
 * @category constants
 */
export const timers: ReadonlyArray<Timer> = ["handshake", "idle", "pong", "drain"]

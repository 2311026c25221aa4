/**
 * The `Connection` namespace: one connection's protocol core (PROTOCOL.md §3.4–§3.7) and the
 * pure rules around it.
 *
 * @since 0.1.0
 */

/**
 * Knobs, defaults and validation.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Config from "./Config.ts"

/**
 * The core's state and `initial`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as State from "./State.ts"

/**
 * §3.7 close and reset names.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Codes from "./Codes.ts"

/**
 * The hello checks.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Handshake from "./Handshake.ts"

/**
 * The peer score.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Score from "./Score.ts"

/**
 * Who may send `resync` and what it may ask for.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Resync from "./Resync.ts"

/**
 * The node-wide connection book: admission, duplicates, bans, dials.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Peers from "./Peers.ts"

/**
 * Timers of the core.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Timer from "./Timer.ts"

/**
 * Inputs of the core.
 *
 * @since 0.1.0
 * @category models
 */
export { Event } from "./Event.ts"

/**
 * Outputs of the core and its notices.
 *
 * @since 0.1.0
 * @category models
 */
export { Command, Notice, type Route } from "./Command.ts"

/**
 * The step.
 *
 * @since 0.1.0
 * @category constructors
 */
export { makeStep } from "./Step.ts"

/**
 * A fresh core.
 *
 * @since 0.1.0
 * @category constructors
 */
export { initial } from "./State.ts"

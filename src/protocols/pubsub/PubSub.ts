/**
 * The `PubSub` namespace: pub/sub as two sans-IO cores (PROTOCOL.md §8).
 *
 * - `Router` (station): `initialRouter` + `makeRouterStep`, driven by `PubSubRouterActor`
 *   with `RouterEvent`s, answering with `RouterCommand`s.
 * - `Session` (client): `initialSession` + `makeSessionStep`, driven by the client's station
 *   link with `SessionEvent`s, answering with `SessionCommand`s and `Notice`s.
 *
 * Two cores rather than one with roles: the two sides share knobs and wire types but no
 * state (a station never orders or acknowledges; a client never routes or holds interest),
 * and a client is never a station. Separate event unions keep each actor's `switch` total
 * over exactly the inputs it can produce.
 *
 * @since 0.1.0
 */

/**
 * Every pub/sub knob.
 *
 * @since 0.1.0
 * @category config
 */
export type { Config } from "./Config.ts"

/**
 * Presets (`defaults` = §16, `local` for tests) and `problems`.
 *
 * @since 0.1.0
 * @category config
 */
export { defaults, local, problems } from "./Config.ts"

/**
 * The station core's inputs, verdicts and peer ids.
 *
 * @since 0.1.0
 * @category models
 */
export { allowed, denied, RouterEvent } from "./RouterEvent.ts"

/**
 * Peer ids and authorisation verdicts.
 *
 * @since 0.1.0
 * @category models
 */
export type { PeerId, Verdict } from "./RouterEvent.ts"

/**
 * The station core's outputs.
 *
 * @since 0.1.0
 * @category models
 */
export { RouterCommand } from "./RouterCommand.ts"

/**
 * The station core: state, constructor, step and size report.
 *
 * @since 0.1.0
 * @category constructors
 */
export { flushWaits, initialRouter, makeRouterStep, routerSizes } from "./Router.ts"

/**
 * The station core's state and its parts.
 *
 * @since 0.1.0
 * @category models
 */
export type {
  AckWaiter,
  Alo,
  Buffered,
  Client,
  LocalInterest,
  Peer,
  RouterCounters,
  RouterInit,
  RouterState,
  Subscription
} from "./Router.ts"

/**
 * The client core's inputs.
 *
 * @since 0.1.0
 * @category models
 */
export { SessionEvent } from "./SessionEvent.ts"

/**
 * The client core's outputs and notices.
 *
 * @since 0.1.0
 * @category models
 */
export { Notice, SessionCommand } from "./SessionCommand.ts"

/**
 * The client core: state, constructor, step and size report.
 *
 * @since 0.1.0
 * @category constructors
 */
export { initialSession, makeSessionStep, sessionSizes } from "./Session.ts"

/**
 * The client core's state and its parts.
 *
 * @since 0.1.0
 * @category models
 */
export type {
  AloCursor,
  ClientSubscription,
  Item,
  OrderStream,
  SessionCounters,
  SessionInit,
  SessionState
} from "./Session.ts"

/**
 * Hex keys, the dedup window and timer generations.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Keys from "./Keys.ts"

/**
 * The `Swim` namespace: SWIM membership with Lifeguard as a sans-IO core (PROTOCOL.md §11).
 *
 * A station's `SwimProberActor` builds `initial({ self, incarnation, addrs, seed })` and
 * `makeStep(config)`, feeds `Start`, `Join`, packets, send failures and fired timers, and
 * carries out the commands. The flat names here are what an actor needs; the helper modules
 * (`Claims`, `Suspicion`, `Dissemination`, `Awareness`, `Timer`) are exposed for tests,
 * simulations and diagnostics.
 *
 * It does not verify signatures, sign, dial, time or log: see `Claims` for the signature
 * split and `Command` for what the actor does with each command.
 *
 * @since 0.1.0
 */

/**
 * Every SWIM knob.
 *
 * @since 0.1.0
 * @category config
 */
export type { Config } from "./Config.ts"

/**
 * Presets (`lan` = §16 defaults, `wan`, `local` for tests) and `problems`.
 *
 * @since 0.1.0
 * @category config
 */
export { lan, local, problems, wan } from "./Config.ts"

/**
 * The core's state and its parts.
 *
 * @since 0.1.0
 * @category models
 */
export type { Counters, Init, Member, Probe, Relay, Self, State, Status } from "./State.ts"

/**
 * Building and reading the state.
 *
 * @since 0.1.0
 * @category constructors
 */
export { clusterSize, initial, member, ownClaim, snapshot, withStatus } from "./State.ts"

/**
 * Inputs of the core.
 *
 * @since 0.1.0
 * @category models
 */
export { Event } from "./Event.ts"

/**
 * Outputs of the core and the membership changes it reports.
 *
 * @since 0.1.0
 * @category models
 */
export { Change, Command } from "./Command.ts"

/**
 * SWIM messages.
 *
 * @since 0.1.0
 * @category models
 */
export { Packet } from "./Packet.ts"

/**
 * Claims and member ids.
 *
 * @since 0.1.0
 * @category models
 */
export type { Claim, Incarnation, Kind, MemberId } from "./Claims.ts"

/**
 * Timer keys.
 *
 * @since 0.1.0
 * @category models
 */
export type { TimerKey } from "./Timer.ts"

/**
 * The step function.
 *
 * @since 0.1.0
 * @category constructors
 */
export { makeStep } from "./Step.ts"

/**
 * Claims and the precedence rules of §11.2.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Claims from "./Claims.ts"

/**
 * The suspicion window of §11.4.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Suspicion from "./Suspicion.ts"

/**
 * The broadcast queue of §11.5.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Dissemination from "./Dissemination.ts"

/**
 * Lifeguard local health.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Awareness from "./Awareness.ts"

/**
 * Timer keys and their parsing.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Timer from "./Timer.ts"

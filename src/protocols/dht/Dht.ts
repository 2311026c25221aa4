/**
 * The members of the `Dht` namespace (re-exported by `index.ts`); see `index.ts` for the
 * module's contract.
 *
 * @since 0.1.0
 */

/**
 * One k-bucket on its own, for a bucket actor.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Bucket from "./Bucket.ts"
/**
 * The `dht.*` frames of the messages.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Frames from "./Frames.ts"
/**
 * One lookup job on its own, for a lookup worker.
 *
 * @since 0.1.0
 * @category modules
 */
export * as LookupJob from "./LookupJob.ts"
/**
 * Knobs, presets and `problems()`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Config from "./Config.ts"
/**
 * Contacts and the proof-of-work check.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Contact from "./Contact.ts"
/**
 * IP-prefix diversity classes.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Diversity from "./Diversity.ts"
/**
 * The S/Kademlia lookup machine.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Lookup from "./Lookup.ts"
/**
 * Record validation, the store, expiry and republishing.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Records from "./Records.ts"
/**
 * The k-bucket routing table.
 *
 * @since 0.1.0
 * @category modules
 */
export * as RoutingTable from "./RoutingTable.ts"
/**
 * Timer keys.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Timer from "./Timer.ts"
/**
 * The XOR metric.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Xor from "./Xor.ts"
/**
 * The state types and counters.
 *
 * @since 0.1.0
 * @category modules
 */
export * as State from "./State.ts"
/**
 * Outputs of the core and the observations it emits (documented in `Command.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export { Command, Observation } from "./Command.ts"
/**
 * Who asked for a lookup or store; why a contact left the table.
 *
 * @since 0.1.0
 * @category models
 */
export type { EvictReason, Origin } from "./Command.ts"
/**
 * Inputs of the core (documented in `Event.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export { Event } from "./Event.ts"
/**
 * The authenticated sender of an inbound request.
 *
 * @since 0.1.0
 * @category models
 */
export type { Sender } from "./Event.ts"
/**
 * The DHT's messages, mirroring the `dht.*` frames.
 *
 * @since 0.1.0
 * @category models
 */
export { Request, Response } from "./Message.ts"
/**
 * Why a request is refused without being served.
 *
 * @since 0.1.0
 * @category models
 */
export type { RefusalCode } from "./Message.ts"
/**
 * The initial state of a node.
 *
 * @since 0.1.0
 * @category constructors
 */
export { initial } from "./State.ts"
/**
 * The step function and its type.
 *
 * @since 0.1.0
 * @category constructors
 */
export { makeStep } from "./Step.ts"
/**
 * The type of the step function.
 *
 * @since 0.1.0
 * @category models
 */
export type { DhtStep } from "./Step.ts"

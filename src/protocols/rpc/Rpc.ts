/**
 * The `Rpc` namespace: RPC as two sans-IO cores (PROTOCOL.md §9).
 *
 * - `Dispatcher` (station): `initialDispatcher` + `makeDispatcherStep`, driven by
 *   `RpcDispatcherActor` with `DispatcherEvent`s, answering with `DispatcherCommand`s.
 * - `Endpoint` (client): `initialEndpoint` + `makeEndpointStep`, driven by the client's
 *   station link and handler registry with `EndpointEvent`s, answering with
 *   `EndpointCommand`s (`Complete` carries the typed `Outcome`).
 *
 * Shared: `Config` (knobs and presets), `Outcome` (typed call endings and the §9.4 retry
 * table), `Credit` (stream flow control).
 *
 * @since 0.1.0
 */

/**
 * Every RPC knob.
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
 * The station core's inputs.
 *
 * @since 0.1.0
 * @category models
 */
export { DispatcherEvent } from "./DispatcherEvent.ts"

/**
 * Peer ids, verdicts and stream frames.
 *
 * @since 0.1.0
 * @category models
 */
export type { PeerId, StreamFrame, StreamSide, Verdict } from "./DispatcherEvent.ts"

/**
 * The station core's outputs.
 *
 * @since 0.1.0
 * @category models
 */
export { DispatcherCommand } from "./DispatcherCommand.ts"

/**
 * The station core.
 *
 * @since 0.1.0
 * @category constructors
 */
export { dispatcherSizes, initialDispatcher, makeDispatcherStep } from "./Dispatcher.ts"

/**
 * The station core's state.
 *
 * @since 0.1.0
 * @category models
 */
export type { Candidate, DispatcherCounters, DispatcherInit, DispatcherState, PendingCall } from "./Dispatcher.ts"

/**
 * The client core's inputs and stream handles.
 *
 * @since 0.1.0
 * @category models
 */
export { EndpointEvent } from "./EndpointEvent.ts"

/**
 * Stream handles.
 *
 * @since 0.1.0
 * @category models
 */
export type { Handle } from "./EndpointEvent.ts"

/**
 * The client core's outputs and notices.
 *
 * @since 0.1.0
 * @category models
 */
export { EndpointCommand, EndpointNotice } from "./EndpointCommand.ts"

/**
 * Provider record drafts.
 *
 * @since 0.1.0
 * @category models
 */
export type { ProviderDraft } from "./EndpointCommand.ts"

/**
 * The client core.
 *
 * @since 0.1.0
 * @category constructors
 */
export { endpointSizes, initialEndpoint, makeEndpointStep } from "./Endpoint.ts"

/**
 * The client core's state.
 *
 * @since 0.1.0
 * @category models
 */
export type { Advertisement, EndpointCounters, EndpointState, IncomingCall, OutgoingCall, StreamState } from "./Endpoint.ts"

/**
 * Typed call endings and the §9.4 table.
 *
 * @since 0.1.0
 * @category models
 */
export { Outcome } from "./Outcome.ts"

/**
 * The §9.4 helpers (`retryable`, `handlerMayHaveRun`, `fromError`, …).
 *
 * @since 0.1.0
 * @category modules
 */
export * as Outcomes from "./Outcome.ts"

/**
 * Stream credit windows.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Credit from "./Credit.ts"

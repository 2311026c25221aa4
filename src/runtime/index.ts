/**
 * `macula-node/runtime`: an Erlang/OTP-style actor runtime on Effect, usable without the mesh.
 *
 * - `Actor`: typed processes with `init` / `receive` / `terminate`, `cast` and `call` with a
 *   timeout, bounded mailboxes with an overflow policy, links, monitors and trapped exits.
 * - `Supervisor`: `one_for_one`, `one_for_all`, `rest_for_one`, `simple_one_for_one`, restart
 *   intensity within a period, `permanent` / `transient` / `temporary` children, per-child
 *   shutdown timeouts, ordered start and stop, escalation, optional restart backoff.
 * - `Registry` (unique names), `Lifecycle` (the event stream), `ExitReason`, typed errors.
 * - `CoreTimers` (keyed one-shot timers for an actor driving a step-core), `Inbox` (a stable
 *   sink that forwards to the current incarnation of a restartable actor, counting drops) and
 *   `Commands` (a core's commands interpreted in order, without an effect per command) and
 *   `Outboxes` (one writer per peer and burst for an actor's outgoing frames).
 *
 * @since 0.1.0
 */
export * as Actor from "./Actor.ts"
export * as Backoff from "./Backoff.ts"
export * as ChildSpec from "./ChildSpec.ts"
export * as Commands from "./Commands.ts"
export * as CoreTimers from "./CoreTimers.ts"
export * from "./Errors.ts"
export * as ExitReason from "./ExitReason.ts"
export * as Inbox from "./Inbox.ts"
export * as Lifecycle from "./Lifecycle.ts"
export * as Mailbox from "./Mailbox.ts"
export * as Outboxes from "./Outboxes.ts"
export * as Process from "./Process.ts"
export * as Registry from "./Registry.ts"
export * as RestartBudget from "./RestartBudget.ts"
export * as Supervisor from "./Supervisor.ts"
export * as Tree from "./Tree.ts"

/**
 * Model-based testing of step-style cores (`Model` in `macula-node/testkit`): a runner on
 * `fc.commands` and `fc.modelRun` that drives your real `step(state, event) -> [state,
 * commands]` beside a simpler reference model, under a virtual clock that stamps `now` into
 * events and fires the timers the core armed, in order.
 *
 * - `action`, `advance`, `fireNext`, `pick`: the inputs a run is made of;
 * - `tagged`: the timer adapter for `SetTimer`/`CancelTimer` commands;
 * - `property`, `assert`, `invariantRun`, `replay`: running it, replaying a counterexample;
 * - `Clock`: the virtual clock and timer table on its own.
 *
 * Pure and synchronous: no Effect, no real clock, no randomness beyond fast-check's seed.
 * See `docs/guides/property-testing.md`.
 *
 * @since 0.1.0
 */
export * from "./Runner.ts"
export * as Clock from "./Clock.ts"

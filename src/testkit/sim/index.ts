/**
 * The deterministic simulator (`Sim` in `macula-node/testkit`): drive many pure
 * `step(state, event) -> [state, commands]` cores on one seeded agenda of virtual time, over a
 * network with seeded latency, jitter, loss, duplication, partitions, crashes and restarts.
 * The same seed and the same calls give exactly the same run.
 *
 * - `make`, `inject`, `schedule`, `runUntil`, `runFor`, `runUntilQuiet`: build and drive a run;
 * - `partition`, `heal`, `crash`, `restart`, `addNode`, `setNetwork`, `setLink`: faults and
 *   changes, now or at a virtual time;
 * - `state`, `stats`, `nodeStats`, `counter`, `records`, `trace`, `digest`: what happened;
 * - `Network`: the link fault model and its presets; `Agenda`: the `(time, seq)` heap;
 *   `Rng`: an allocation-free generator that continues a `Prng` exactly;
 * - `Prng` and `Step`: the pure pieces a core is written with, re-exported for convenience.
 *
 * It never reads a clock or `Math.random`, runs no Effect and does no I/O; the cores it drives
 * stay pure. See `docs/guides/simulation.md`.
 *
 * @since 0.1.0
 */
export * from "./Sim.ts"
export * as Agenda from "./Agenda.ts"
export * as Network from "./Network.ts"
export * as Rng from "./Rng.ts"
export * as Prng from "../../core/Prng.ts"
export * as Step from "../../core/Step.ts"

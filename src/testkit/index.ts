/**
 * `macula-node/testkit`: tools for users who test their own supervision trees and protocol
 * state machines: seeded chaos (`Chaos`), tree invariants (`Invariants`), the deterministic
 * simulator of pure cores (`Sim`), the simulated network as a `Transport` (`Network`), fast-check
 * arbitraries (`Arbitraries`) and ready-made workers (`Workers`).
 * Model-based tests of your own step-style cores, under virtual time, run with `Model`.
 *
 * @since 0.1.0
 */
export * as Arbitraries from "./arbitraries/index.ts"
export * as Chaos from "./Chaos.ts"
export * as Invariants from "./Invariants.ts"
export * as Model from "./model/index.ts"
export * as Network from "./network/index.ts"
export * as Sim from "./sim/index.ts"
export * as Workers from "./Workers.ts"

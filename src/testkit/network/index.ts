/**
 * The simulated network as a `Transport` test layer (`Network` in `macula-node/testkit`): an
 * in-memory mesh of many nodes in one process whose connections behave like the QUIC
 * transport's, over seeded latency, jitter, loss (as retransmission delay), duplication,
 * reordering, partitions and node crash/restart, driven by the Effect `Clock` (so `TestClock`
 * makes it deterministic).
 *
 * - `SimNetwork`: `make`, `transport`, `layer`; faults `partition`, `heal`, `crash`,
 *   `restart`, `setNetwork`, `setLink`; `stats`, `trace`, `nodeInfo`, `reachable`;
 * - `Links`: the link fault model and its presets (the simulator's `Sim.Network`).
 *
 * See `docs/guides/simulation.md`, "Simulated network".
 *
 * @since 0.1.0
 */
export * as SimNetwork from "./SimNetwork.ts"
export * as Links from "../sim/Network.ts"

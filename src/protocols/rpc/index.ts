/**
 * RPC (PROTOCOL.md §9) as two sans-IO cores: the station's `Dispatcher` (advertisements,
 * resolution, routing with deadline propagation, idempotent retries, stream relaying with
 * credit checks) and the client's `Endpoint` (calls with typed outcomes, advertisements and
 * their renewal, handler admission, stream credit).
 *
 * Key invariant: pure and bounded; no clock, randomness beyond a seeded PRNG, I/O or Effect
 * runtime; every call ends exactly once; remote input never throws.
 *
 * It does not sign records, talk to the DHT, check UCANs or run handlers; the actors do.
 *
 * @since 0.1.0
 */

/**
 * The RPC cores: `Rpc.makeDispatcherStep`, `Rpc.makeEndpointStep`, their events, commands,
 * states, outcomes and knobs.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Rpc from "./Rpc.ts"

/**
 * The Kademlia DHT core (PROTOCOL.md §10), sans-IO: one `Dht` namespace holding the config,
 * state, events, commands, the step function and the pure building blocks (XOR metric,
 * routing table, lookup machine, records).
 *
 * Key invariant: `Dht.makeStep(config)` is a pure, total function
 * `step(state, event) -> [state, commands]`. It reads no clock (events carry `now` and
 * `wallNow`), draws no randomness (a seeded PRNG lives in the state), performs no I/O and
 * never throws on remote input. Every table it keeps is capped by a `Config` knob.
 *
 * What it does not do: sign or verify records (the actor verifies signatures before records
 * reach the core, and re-signs own records when `RepublishDue` asks), dial or send (it emits
 * `SendRequest`, `SendResponse`, `Ping`), keep time (`SetTimer` / `CancelTimer`), persist (it
 * emits `RoutingSnapshot`), or check Ed25519 key validity (the TLS handshake does). Its
 * actors (`DhtBucketActor`, `DhtLookupActor`) and `DhtSupervisor` are built on top.
 *
 * @example
 * ```ts
 * import { Dht } from "./src/protocols/dht/index.ts"
 * const config = Dht.Config.withHash(Dht.Config.defaults, sha256)
 * const step = Dht.makeStep(config)
 * let state = Dht.initial(config, { publicKey, seed: 42 })
 * const [next, commands] = step(state, Dht.Event.Started({ now: 0, wallNow })) // both stamped by the actor
 * ```
 *
 * @see docs/protocols/dht.md
 * @since 0.1.0
 */
/**
 * The DHT core as one namespace: `Dht.Config`, `Dht.State`, `Dht.Event`, `Dht.Command`,
 * `Dht.makeStep`, `Dht.initial` and the building blocks.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Dht from "./Dht.ts"

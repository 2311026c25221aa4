/**
 * fast-check arbitraries: supervision trees (`Supervisor`), wire frames (`Wire`) and SWIM
 * members, claims and packets (`Swim`), DHT ids, contacts and records (`Dht`).
 *
 * @since 0.1.0
 */
export * as Supervisor from "./Supervisor.ts"
export * as Wire from "./Wire.ts"
export * as Swim from "./Swim.ts"
export * as Dht from "./Dht.ts"

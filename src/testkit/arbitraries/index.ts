/**
 * fast-check arbitraries: supervision trees (`Supervisor`) and wire frames (`Wire`).
 *
 * @since 0.1.0
 */
export * as Supervisor from "./Supervisor.ts"
export * as Wire from "./Wire.ts"

/**
 * SWIM membership for stations (PROTOCOL.md §11): full SWIM with incarnations and
 * refutation, indirect probes, push-pull, and Lifeguard (local health, nacks, suspicion
 * confirmations, buddy system), as a pure `step(state, event) -> [state, commands]`.
 *
 * Key invariant: pure and bounded; no clock, randomness, I/O or Effect runtime; every
 * collection capped by `Config`; bad or stale remote input is ignored or counted.
 *
 * It does not verify or make signatures, dial, hold connections or act on verdicts; the
 * actor does, from the commands and `Emit`ted changes.
 *
 * @since 0.1.0
 */

/**
 * The SWIM core: `Swim.makeStep`, `Swim.initial`, `Swim.Event`, `Swim.Command`, presets.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Swim from "./Swim.ts"

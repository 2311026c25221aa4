/**
 * The timers the SWIM core asks its actor for, as string keys, so they can key an actor's
 * `FiberMap` or the simulator's timer table directly.
 *
 * Timers are commands (`SetTimer {timer, at, generation}`) and come back as events
 * (`TimerFired {timer, generation, now}`). The core keeps the current generation of each
 * key; a fired timer whose generation is not current was superseded or cancelled and is
 * ignored (the stale-timer guard, as memberlist's suspicion timer checks the member's
 * state-change time).
 *
 * @since 0.1.0
 */
import type { MemberId } from "./Claims.ts"

/**
 * A timer key:
 * - `probe`: end of the current probe interval, start of the next probe;
 * - `probe-timeout`: no direct ack yet, time to ask helpers;
 * - `push-pull`: time to exchange full state with a random member;
 * - `suspicion/<member>`: the member's suspicion window is over;
 * - `relay/<seq>`: an indirect probe we run for someone: nack due, then give up.
 *
 * @since 0.1.0
 * @category models
 */
export type TimerKey = "probe" | "probe-timeout" | "push-pull" | `suspicion/${MemberId}` | `relay/${number}`

/**
 * The probe-round timer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const probe: TimerKey = "probe"

/**
 * The direct-ack timeout of the current probe.
 *
 * @since 0.1.0
 * @category constructors
 */
export const probeTimeout: TimerKey = "probe-timeout"

/**
 * The push-pull timer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pushPull: TimerKey = "push-pull"

/**
 * The suspicion timer of `member`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const suspicion = (member: MemberId): TimerKey => `suspicion/${member}`

/**
 * The timer of the indirect probe we run under our own `seq`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const relay = (seq: number): TimerKey => `relay/${seq}`

/**
 * What a key names, for dispatch on `TimerFired`. Member ids may contain `/`, so only the
 * first segment is the kind.
 *
 * @since 0.1.0
 * @category getters
 */
export type Parsed =
  | { readonly _tag: "Probe" }
  | { readonly _tag: "ProbeTimeout" }
  | { readonly _tag: "PushPull" }
  | { readonly _tag: "Suspicion"; readonly member: MemberId }
  | { readonly _tag: "Relay"; readonly seq: number }
  | { readonly _tag: "Unknown" }

/**
 * Parses a key; anything not made by this module is `Unknown`.
 *
 * @since 0.1.0
 * @category getters
 */
export const parse = (key: string): Parsed => {
  if (key === probe) return { _tag: "Probe" }
  if (key === probeTimeout) return { _tag: "ProbeTimeout" }
  if (key === pushPull) return { _tag: "PushPull" }
  if (key.startsWith("suspicion/")) return { _tag: "Suspicion", member: key.slice("suspicion/".length) }
  if (key.startsWith("relay/")) {
    const seq = Number(key.slice("relay/".length))
    if (Number.isSafeInteger(seq) && seq >= 0) return { _tag: "Relay", seq }
  }
  return { _tag: "Unknown" }
}

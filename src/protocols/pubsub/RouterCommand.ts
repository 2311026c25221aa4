/**
 * What the router core asks its actor to do, in order, after each step.
 *
 * `Send` writes a ready frame on the pubsub lane of that peer's connection (a client or a
 * station); for `event` and `gap` frames to a client the actor reports completed writes back
 * as `Flushed`, which is how a slow subscriber's window closes and reopens. `SetTimer` /
 * `CancelTimer` drive the timer map; `Penalise` lowers the peer's score (§14).
 *
 * @since 0.1.0
 */
import type { Data } from "effect"
import type { Millis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { EnvelopeBody } from "../../wire/SignedBody.ts"
import type { PeerId } from "./RouterEvent.ts"
import type { Args, Variant } from "../../core/Tagged.ts"

/**
 * A command for the router's actor.
 *
 * @since 0.1.0
 * @category models
 */
export type RouterCommand = Data.TaggedEnum<{
  /** Write `frame` to `to` on its pubsub lane. */
  Send: { readonly to: PeerId; readonly frame: Frame.Frame }
  /** Fire `TimerFired {timer, generation}` at `at`, replacing any pending timer of that key. */
  SetTimer: { readonly timer: string; readonly at: Millis; readonly generation: number }
  /** Forget the pending timer of that key. */
  CancelTimer: { readonly timer: string }
  /** Lower `peer`'s score: `minor` or `major` (§14). */
  Penalise: { readonly peer: PeerId; readonly severity: "minor" | "major"; readonly reason: string }
  /** An event on a topic the station watches (`Watch`) passed through; hand it to the station. */
  Observed: { readonly envelope: EnvelopeBody }
}>

/**
 * Constructors for `RouterCommand` (plain object literals: built several times per event).
 *
 * @since 0.1.0
 * @category constructors
 */
export const RouterCommand = {
  Send: (a: Args<RouterCommand, "Send">): Variant<RouterCommand, "Send"> => ({ _tag: "Send", to: a.to, frame: a.frame }),
  SetTimer: (a: Args<RouterCommand, "SetTimer">): Variant<RouterCommand, "SetTimer"> => ({
    _tag: "SetTimer", timer: a.timer, at: a.at, generation: a.generation
  }),
  CancelTimer: (a: Args<RouterCommand, "CancelTimer">): Variant<RouterCommand, "CancelTimer"> => ({ _tag: "CancelTimer", timer: a.timer }),
  Penalise: (a: Args<RouterCommand, "Penalise">): Variant<RouterCommand, "Penalise"> => ({
    _tag: "Penalise", peer: a.peer, severity: a.severity, reason: a.reason
  }),
  Observed: (a: Args<RouterCommand, "Observed">): Variant<RouterCommand, "Observed"> => ({ _tag: "Observed", envelope: a.envelope })
} as const

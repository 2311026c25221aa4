/**
 * What the dispatcher core asks its actor to do, in order, after each step.
 *
 * `Send` writes a frame to a client or station: with `stream` on the call stream of call id
 * `stream` with that peer (the `call` that opens it carries the same id; streaming calls
 * only), otherwise on the rpc lane. `ResetStream` resets such a call stream with a §3.7 code.
 * `StoreRecord` runs a DHT store of a signed provider record and reports `RecordStored`;
 * `ResolveProviders` runs the DHT provider lookup and reports `ProvidersResolved`.
 *
 * @since 0.1.0
 */
import type { Data } from "effect"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"
import type { Millis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { PeerId, StreamSide } from "./DispatcherEvent.ts"

/**
 * A command for the dispatcher's actor.
 *
 * @since 0.1.0
 * @category models
 */
export type DispatcherCommand = Data.TaggedEnum<{
  /**
   * Write `frame` to `to`: on the call stream `stream` if given (`on` says whether the peer
   * opened it, `up`, or we do, `leg`: the `call` that opens a leg travels on it), else on the
   * rpc lane.
   */
  Send: { readonly to: PeerId; readonly frame: Frame.Frame; readonly stream?: number; readonly on?: StreamSide }
  /** Reset call stream `stream` (`on` as for `Send`) with `to` with a stream reset code (e.g. `flow_control`). */
  ResetStream: { readonly to: PeerId; readonly stream: number; readonly code: string; readonly on?: StreamSide }
  /** Store the signed provider record (or withdrawal) in the DHT; answer with `RecordStored`. */
  StoreRecord: { readonly ref: number; readonly record: Frame.Signed }
  /** Look up provider records for (realm, proc); answer with `ProvidersResolved`. */
  ResolveProviders: { readonly realm: Frame.Bin32; readonly proc: string }
  /** Fire `TimerFired {timer, generation}` at `at`, replacing any pending timer of that key. */
  SetTimer: { readonly timer: string; readonly at: Millis; readonly generation: number }
  /** Forget the pending timer of that key. */
  CancelTimer: { readonly timer: string }
  /** Lower `peer`'s score (§14). */
  Penalise: { readonly peer: PeerId; readonly severity: "minor" | "major"; readonly reason: string }
  /**
   * Refuse the frame just received from `to` (§14): reset the stream it came on (its lane, or
   * its call stream) with `code`; `reason` says why.
   */
  RejectFrame: { readonly to: PeerId; readonly code: "invalid_field"; readonly reason: string }
}>

/**
 * Plain constructors (no matchers) for `DispatcherCommand`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const DispatcherCommand = {
  // The hot one (a call and its reply are two): a literal when the optional fields are absent.
  Send: (a: Args<DispatcherCommand, "Send">): Variant<DispatcherCommand, "Send"> =>
    a.stream === undefined && a.on === undefined ? { _tag: "Send", to: a.to, frame: a.frame } : spread<DispatcherCommand, "Send">("Send")(a),
  ResetStream: spread<DispatcherCommand, "ResetStream">("ResetStream"),
  StoreRecord: spread<DispatcherCommand, "StoreRecord">("StoreRecord"),
  ResolveProviders: spread<DispatcherCommand, "ResolveProviders">("ResolveProviders"),
  Penalise: spread<DispatcherCommand, "Penalise">("Penalise"),
  RejectFrame: spread<DispatcherCommand, "RejectFrame">("RejectFrame"),
  SetTimer: (a: Args<DispatcherCommand, "SetTimer">): Variant<DispatcherCommand, "SetTimer"> => ({
    _tag: "SetTimer", timer: a.timer, at: a.at, generation: a.generation
  }),
  CancelTimer: (a: Args<DispatcherCommand, "CancelTimer">): Variant<DispatcherCommand, "CancelTimer"> => ({
    _tag: "CancelTimer", timer: a.timer
  })
} as const

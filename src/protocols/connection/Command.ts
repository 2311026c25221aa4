/**
 * Everything the connection core asks its actor to do, in order, and the notices it emits.
 *
 * Interpretation (`actors/ConnectionActor.ts`):
 * - `OpenControl` (dialer): open the control stream, then feed `StreamOpened {as: control}`.
 * - `Send` writes one control-stream frame; `ResetStream` / `EndStream` reset or finish a stream.
 * - `Deliver` hands a frame that passed every check to the subscriber of its route; only
 *   frames of the event being handled are delivered, in order.
 * - `SetSendLimit` lowers every stream's send limit to the peer's `hello.lim.f`.
 * - `CloseConnection` closes the transport connection with a §3.7 code; `ConnectionLost` follows.
 * - `SetTimer` (re)arms a timer; `CancelTimer` drops it.
 * - `Emit` publishes a notice (status, logs, metrics, the registry); nothing waits for it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"
import type { Millis } from "../../core/Millis.ts"
import type { Frame, Hello, Role } from "../../wire/Frame.ts"
import type { Family } from "../../wire/Streams.ts"
import type { CloseName, ResetName } from "./Codes.ts"
import type { Timer } from "./Timer.ts"

/**
 * Where a delivered frame goes: a lane of a family (opened by us or the peer), a call stream, a
 * content session, or the control stream (`resync`).
 *
 * @since 0.1.0
 * @category models
 */
export type Route =
  | { readonly kind: "lane"; readonly family: Family; readonly opener: "local" | "peer" }
  | { readonly kind: "call"; readonly opener: "local" | "peer" }
  | { readonly kind: "content"; readonly opener: "local" | "peer" }
  | { readonly kind: "control" }

/**
 * Something worth reporting.
 *
 * @since 0.1.0
 * @category models
 */
export type Notice = Data.TaggedEnum<{
  /** Both hellos exchanged: the connection is ready. `skewMs` = peer `ts` − our wall clock. */
  Ready: {
    readonly version: number
    readonly peerRole: Role
    readonly peerHello: Hello
    readonly skewMs: number
  }
  /** The peer's clock is further than `clockSkewLeewayMs` from ours (logged, shown in status). */
  ClockSkew: { readonly skewMs: number }
  /** A `pong` answered our latest `ping` after `rttMs`. */
  Rtt: { readonly rttMs: number }
  /** A stream was reset because of what the peer sent (§14), or refused (`overloaded`). */
  StreamRejected: { readonly stream: number; readonly code: ResetName; readonly detail: string }
  /** The peer's score changed (after a penalty). */
  ScoreChanged: { readonly score: number; readonly reason: string }
  /** The score reached `banScore`: refuse the peer until `untilMs` (monotonic). */
  Banned: { readonly untilMs: Millis; readonly score: number }
  /** The peer said goodbye; `afterMs` = when a redial is welcome. */
  PeerGoodbye: { readonly code: string; readonly message?: string; readonly afterMs?: number }
  /** A lane ended (finished or reset by the peer, or reset by us). */
  LaneClosed: { readonly family: Family; readonly opener: "local" | "peer" }
  /** The connection is closing with `code`; `by` says who decided. */
  Closing: { readonly code: CloseName; readonly by: "local" | "peer"; readonly message?: string }
  /**
   * The connection is gone. `score`: the peer's score at that moment, recovery since the last
   * penalty included, so the node-wide book carries over exactly what the peer has (§3.7).
   */
  Closed: { readonly code: string; readonly by: string; readonly message?: string; readonly score: number }
}>

/**
 * Constructors and matchers for `Notice`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Notice = Data.taggedEnum<Notice>()

/**
 * An output of the connection core.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = Data.TaggedEnum<{
  /** Dialer: open the control stream (report it with `StreamOpened`). */
  OpenControl: {}
  /** Write `frame` on `stream` (the control stream). */
  Send: { readonly stream: number; readonly frame: Frame }
  /** Reset `stream` with a §3.7 code; the stream is forgotten. */
  ResetStream: { readonly stream: number; readonly code: ResetName }
  /** Finish our side of `stream` (FIN) after what is queued. */
  EndStream: { readonly stream: number }
  /** Hand `frame`, received on `stream`, to the subscriber of `route`. */
  Deliver: { readonly stream: number; readonly route: Route; readonly frame: Frame }
  /** The peer accepts bodies up to `bytes` (its `hello.lim.f`). */
  SetSendLimit: { readonly bytes: number }
  /** Close the transport connection now. */
  CloseConnection: { readonly code: CloseName; readonly message: string }
  /** Arm `timer` at `at`; a later `SetTimer` for it supersedes this one. */
  SetTimer: { readonly timer: Timer; readonly at: Millis; readonly generation: number }
  /** Drop `timer`. */
  CancelTimer: { readonly timer: Timer }
  /** Publish a notice. */
  Emit: { readonly notice: Notice }
}>

/**
 * Constructors for `Command`: plain object literals for the ones built per frame (`Tagged.ts`
 * says why), spread for the rest.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Command = {
  OpenControl: (): Variant<Command, "OpenControl"> => ({ _tag: "OpenControl" }),
  Send: (a: Args<Command, "Send">): Variant<Command, "Send"> => ({ _tag: "Send", stream: a.stream, frame: a.frame }),
  ResetStream: spread<Command, "ResetStream">("ResetStream"),
  EndStream: spread<Command, "EndStream">("EndStream"),
  Deliver: (a: Args<Command, "Deliver">): Variant<Command, "Deliver"> => ({
    _tag: "Deliver", stream: a.stream, route: a.route, frame: a.frame
  }),
  SetSendLimit: spread<Command, "SetSendLimit">("SetSendLimit"),
  CloseConnection: spread<Command, "CloseConnection">("CloseConnection"),
  SetTimer: (a: Args<Command, "SetTimer">): Variant<Command, "SetTimer"> => ({
    _tag: "SetTimer", timer: a.timer, at: a.at, generation: a.generation
  }),
  CancelTimer: (a: Args<Command, "CancelTimer">): Variant<Command, "CancelTimer"> => ({ _tag: "CancelTimer", timer: a.timer }),
  Emit: (a: Args<Command, "Emit">): Variant<Command, "Emit"> => ({ _tag: "Emit", notice: a.notice })
} as const

/**
 * What the endpoint core asks its actor (the client's station link plus the handler
 * registry) to do, in order, and what it tells the application facade.
 *
 * `Send` writes on the rpc lane, or with `stream` on that call stream (the `call` frame of a
 * streaming call opens it). `SignAdvertisement` derives the record key (SHA-256 of `provider`
 * ‖ 0x00 ‖ realm ‖ proc), signs the draft as this node and sends `adv` (or, with `gone`,
 * `unadv`) with the given `id`. `RunHandler` starts the procedure's handler with an abort
 * signal; `AbortHandler` fires it. `Complete` ends a call of the application exactly once.
 * `RejectFrame` and `Penalise` answer bad input from the home station (§14): the stream the
 * frame came on is reset, the station's score lowered.
 *
 * @since 0.1.0
 */
import type { Data } from "effect"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"
import type { Millis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { Handle } from "./EndpointEvent.ts"
import type { Outcome } from "./Outcome.ts"

/**
 * A provider record before key derivation and signing (§10.3 `provider`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProviderDraft {
  readonly realm: Frame.Bin32
  readonly proc: string
  /** Serving station: the current home station. */
  readonly st: Frame.Bin32
  readonly modes: ReadonlyArray<Frame.CallMode>
  readonly req: boolean
  readonly gone: boolean
  readonly seq: number
  /** Issued at, unix ms. */
  readonly iat: number
  /** Expires at, unix ms. */
  readonly exp: number
}

/**
 * A notice for the application facade.
 *
 * @since 0.1.0
 * @category models
 */
export type EndpointNotice = Data.TaggedEnum<{
  /** The station registered advertisement `ref`; `acks` replicas hold the record. */
  Advertised: { readonly ref: number; readonly acks: number }
  /**
   * The station refused advertisement `ref`, or ended it after accepting it (`err` naming an
   * accepted `adv`, e.g. `unauthorized` / `Revoked` when its grant was revoked, §13.6); either
   * way it is gone and not replayed. The facade tells the two apart by whether `Advertised`
   * came first.
   */
  AdvertiseFailed: { readonly ref: number; readonly code: string; readonly reason?: string }
  /** Withdrawal `ref` is done. */
  Unadvertised: { readonly ref: number }
  /** A stream message was refused: no credit and the queue is full (back off). */
  StreamRefused: { readonly handle: Handle }
}>

/**
 * Plain constructors (no matchers) for `EndpointNotice`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const EndpointNotice = {
  Advertised: spread<EndpointNotice, "Advertised">("Advertised"),
  AdvertiseFailed: spread<EndpointNotice, "AdvertiseFailed">("AdvertiseFailed"),
  Unadvertised: spread<EndpointNotice, "Unadvertised">("Unadvertised"),
  StreamRefused: spread<EndpointNotice, "StreamRefused">("StreamRefused"),
} as const

/**
 * A command for the endpoint's actor.
 *
 * @since 0.1.0
 * @category models
 */
export type EndpointCommand = Data.TaggedEnum<{
  /**
   * Write `frame` to the home station, or with `via` to that station (direct mode, dialling it
   * if needed): on call stream `stream` if given, else on the rpc lane. Stream frames name only
   * the handle: the stream's connection is the one its `call` went to.
   */
  Send: { readonly frame: Frame.Frame; readonly stream?: Handle; readonly via?: string }
  /** Sign the draft and send `adv` (or `unadv` when `draft.gone`) with request id `id`. */
  SignAdvertisement: { readonly id: number; readonly draft: ProviderDraft }
  /** Run the handler of `proc` for incoming call `id`, aborting at `deadline` (monotonic ms). */
  RunHandler: {
    readonly id: number
    readonly handle: Handle
    readonly proc: string
    readonly args: Frame.Any
    readonly mode: Frame.CallMode
    readonly from?: Frame.Bin32
    readonly deadline: Millis
  }
  /** Abort the handler of incoming call `id` (cancelled or out of time). */
  AbortHandler: { readonly id: number }
  /** One inbound stream message for the application or handler. */
  StreamMessage: { readonly handle: Handle; readonly data: Frame.Any }
  /** The other side half-closed the stream. */
  StreamEnded: { readonly handle: Handle }
  /** Call `ref` of the application ended. Emitted exactly once per call. */
  Complete: { readonly ref: number; readonly outcome: Outcome }
  /** Tell the application facade. */
  Notify: { readonly notice: EndpointNotice }
  /** Fire `TimerFired {timer, generation}` at `at`, replacing any pending timer of that key. */
  SetTimer: { readonly timer: string; readonly at: Millis; readonly generation: number }
  /** Forget the pending timer of that key. */
  CancelTimer: { readonly timer: string }
  /**
   * Refuse the frame just received (§14): reset the stream it came on (the station's rpc lane,
   * or a call stream) with `code`; `reason` says why.
   */
  RejectFrame: { readonly code: "invalid_field"; readonly reason: string }
  /** Lower the score of the station the frame just received came from (§3.7, §14). */
  Penalise: { readonly severity: "minor" | "major"; readonly reason: string }
}>

/**
 * Plain constructors (no matchers) for `EndpointCommand`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const EndpointCommand = {
  // The hot one (every call and reply): a literal when the optional fields are absent.
  Send: (a: Args<EndpointCommand, "Send">): Variant<EndpointCommand, "Send"> =>
    a.stream === undefined && a.via === undefined ? { _tag: "Send", frame: a.frame } : spread<EndpointCommand, "Send">("Send")(a),
  SignAdvertisement: spread<EndpointCommand, "SignAdvertisement">("SignAdvertisement"),
  RunHandler: spread<EndpointCommand, "RunHandler">("RunHandler"),
  AbortHandler: spread<EndpointCommand, "AbortHandler">("AbortHandler"),
  StreamMessage: spread<EndpointCommand, "StreamMessage">("StreamMessage"),
  StreamEnded: spread<EndpointCommand, "StreamEnded">("StreamEnded"),
  Complete: (a: Args<EndpointCommand, "Complete">): Variant<EndpointCommand, "Complete"> => ({
    _tag: "Complete", ref: a.ref, outcome: a.outcome
  }),
  Notify: (a: Args<EndpointCommand, "Notify">): Variant<EndpointCommand, "Notify"> => ({ _tag: "Notify", notice: a.notice }),
  SetTimer: (a: Args<EndpointCommand, "SetTimer">): Variant<EndpointCommand, "SetTimer"> => ({
    _tag: "SetTimer", timer: a.timer, at: a.at, generation: a.generation
  }),
  CancelTimer: (a: Args<EndpointCommand, "CancelTimer">): Variant<EndpointCommand, "CancelTimer"> => ({
    _tag: "CancelTimer", timer: a.timer
  }),
  RejectFrame: spread<EndpointCommand, "RejectFrame">("RejectFrame"),
  Penalise: spread<EndpointCommand, "Penalise">("Penalise")
} as const

/**
 * Everything that can happen to a client's RPC endpoint (PROTOCOL.md §9): the application's
 * calls, advertisements and stream operations, frames from the home station, handler
 * completions, link changes and fired timers. Every event carries `now` (monotonic ms);
 * those that sign records also carry `wall` (unix ms).
 *
 * A call stream is named by a `Handle`: `c/<ref>` for a call this client made (`ref` chosen
 * by the application facade), `p/<id>` for a call its handlers serve (`id` = the call's id
 * on the connection). The actor tags every frame read from a call stream with its handle.
 *
 * @since 0.1.0
 */
import type { Data } from "effect"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { StreamFrame, Verdict } from "./DispatcherEvent.ts"

/**
 * A call stream's name at the endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export type Handle = `c/${number}` | `p/${number}`

/**
 * An input of the endpoint core.
 *
 * @since 0.1.0
 * @category models
 */
export type EndpointEvent = Data.TaggedEnum<{
  /** Attached to home station `station` (hex key): advertisements and unsent calls are replayed. */
  LinkUp: { readonly now: Millis; readonly wall: UnixMillis; readonly station: string }
  /** The link is gone: idempotent unary calls wait for the next link, others fail `relay_failed`. */
  LinkDown: { readonly now: Millis }
  /** The application calls `proc`; the outcome comes back as `Complete {ref}`. */
  Call: {
    readonly now: Millis
    readonly ref: number
    readonly realm: Frame.Bin32
    readonly proc: string
    readonly args: Frame.Any
    readonly timeoutMs?: number
    readonly idempotent: boolean
    readonly mode?: Frame.CallMode
    /** Pin a provider (its key). */
    readonly to?: Frame.Bin32
    /** An invocation for a provider that requires one (§13.4). */
    readonly ucan?: Frame.Authority
    /**
     * Direct mode (§9.2): send the call on a connection to this station (hex key), which acts
     * as home for it, typically the station serving a pinned provider.
     */
    readonly via?: string
  }
  /** The connection to `station` used for direct calls is gone: those calls fail `relay_failed`. */
  DirectLinkLost: { readonly now: Millis; readonly station: string }
  /** The application gives up on call `ref`. */
  CancelCall: { readonly now: Millis; readonly ref: number }
  /** The application sends one message on a call stream (caller or handler side). */
  StreamSend: { readonly now: Millis; readonly handle: Handle; readonly data: Frame.Any }
  /** The application half-closes its side of a call stream. */
  StreamClose: { readonly now: Millis; readonly handle: Handle }
  /** The application consumed `n` messages of a call stream: credit may be re-granted. */
  StreamConsumed: { readonly now: Millis; readonly handle: Handle; readonly n: number }
  /** `reply` to one of our calls (lane or call stream). */
  ReplyReceived: { readonly now: Millis; readonly frame: Frame.Reply }
  /** `ok` / `err` on the rpc lane (answers to `adv` / `unadv`). */
  AnswerReceived: { readonly now: Millis; readonly frame: Frame.Ok | Frame.Err }
  /**
   * `call` for one of our handlers. `verdict`: the actor's check of the call's `ucan` (§13.4,
   * audience = this provider), given when the call carries one; an advertisement with `req`
   * serves only calls whose verdict is `Allowed`.
   */
  CallReceived: { readonly now: Millis; readonly frame: Frame.Call; readonly verdict?: Verdict }
  /** `cancel` of a call our handler serves. */
  CancelReceived: { readonly now: Millis; readonly id: number }
  /** `s.data` / `s.end` / `s.credit` on a call stream. */
  StreamFrameReceived: { readonly now: Millis; readonly handle: Handle; readonly frame: StreamFrame }
  /** Handler of incoming call `id` returned `result`. */
  HandlerReturned: { readonly now: Millis; readonly id: number; readonly result: Frame.Any }
  /** Handler of incoming call `id` failed (threw or returned an error). */
  HandlerFailed: { readonly now: Millis; readonly id: number; readonly message?: string; readonly data?: Frame.Any }
  /** The application advertises `proc` (its handler is registered with the actor). */
  Advertise: {
    readonly now: Millis
    readonly wall: UnixMillis
    readonly ref: number
    readonly realm: Frame.Bin32
    readonly proc: string
    readonly modes: ReadonlyArray<Frame.CallMode>
    /** Callers must present an invocation. */
    readonly req: boolean
  }
  /** The application withdraws `proc`. */
  Unadvertise: {
    readonly now: Millis
    readonly wall: UnixMillis
    readonly ref: number
    readonly realm: Frame.Bin32
    readonly proc: string
  }
  /** A timer set by `SetTimer` fired. */
  TimerFired: { readonly now: Millis; readonly timer: string; readonly generation: number }
  /**
   * `resync` from the home station (§15.2): with `adv` in `what`, every advertisement is sent
   * again, re-signed (the station's restarted dispatcher lost its provider table).
   */
  ResyncReceived: { readonly now: Millis; readonly wall: UnixMillis; readonly what: ReadonlyArray<Frame.ResyncWhat> }
}>

/**
 * Plain constructors (no matchers) for `EndpointEvent`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const EndpointEvent = {
  LinkUp: spread<EndpointEvent, "LinkUp">("LinkUp"),
  LinkDown: spread<EndpointEvent, "LinkDown">("LinkDown"),
  Call: spread<EndpointEvent, "Call">("Call"),
  DirectLinkLost: spread<EndpointEvent, "DirectLinkLost">("DirectLinkLost"),
  CancelCall: spread<EndpointEvent, "CancelCall">("CancelCall"),
  StreamSend: spread<EndpointEvent, "StreamSend">("StreamSend"),
  StreamClose: spread<EndpointEvent, "StreamClose">("StreamClose"),
  StreamConsumed: spread<EndpointEvent, "StreamConsumed">("StreamConsumed"),
  StreamFrameReceived: spread<EndpointEvent, "StreamFrameReceived">("StreamFrameReceived"),
  HandlerFailed: spread<EndpointEvent, "HandlerFailed">("HandlerFailed"),
  Advertise: spread<EndpointEvent, "Advertise">("Advertise"),
  Unadvertise: spread<EndpointEvent, "Unadvertise">("Unadvertise"),
  ReplyReceived: (a: Args<EndpointEvent, "ReplyReceived">): Variant<EndpointEvent, "ReplyReceived"> => ({
    _tag: "ReplyReceived", now: a.now, frame: a.frame
  }),
  AnswerReceived: (a: Args<EndpointEvent, "AnswerReceived">): Variant<EndpointEvent, "AnswerReceived"> => ({
    _tag: "AnswerReceived", now: a.now, frame: a.frame
  }),
  CallReceived: (a: Args<EndpointEvent, "CallReceived">): Variant<EndpointEvent, "CallReceived"> =>
    a.verdict === undefined
      ? { _tag: "CallReceived", now: a.now, frame: a.frame }
      : { _tag: "CallReceived", now: a.now, frame: a.frame, verdict: a.verdict },
  CancelReceived: (a: Args<EndpointEvent, "CancelReceived">): Variant<EndpointEvent, "CancelReceived"> => ({
    _tag: "CancelReceived", now: a.now, id: a.id
  }),
  HandlerReturned: (a: Args<EndpointEvent, "HandlerReturned">): Variant<EndpointEvent, "HandlerReturned"> => ({
    _tag: "HandlerReturned", now: a.now, id: a.id, result: a.result
  }),
  ResyncReceived: spread<EndpointEvent, "ResyncReceived">("ResyncReceived"),
  TimerFired: (a: Args<EndpointEvent, "TimerFired">): Variant<EndpointEvent, "TimerFired"> => ({
    _tag: "TimerFired", now: a.now, timer: a.timer, generation: a.generation
  })
} as const

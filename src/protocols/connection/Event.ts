/**
 * Everything that reaches one connection's core, as one tagged union: facts from the transport
 * (past tense) and local requests (imperative). `Step.makeStep` matches every tag.
 *
 * Time. Every event carries `now` (monotonic ms, stamped where the event was produced: at
 * ingress for frames, at firing for timers). `Started` also carries `wallNow` (unix ms of the same
 * moment); the core keeps the offset to stamp `hello.ts` and to measure the peer's clock skew.
 *
 * Trust. The peer's DID and key were proved by TLS before `Started` (§3.3); `peerPowBits` is
 * computed by the actor from that key. Frames in `FrameReceived` passed the codec; everything
 * about where they travel is checked here.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import type { Frame, ResyncWhat } from "../../wire/Frame.ts"
import type { Stream } from "../../wire/Streams.ts"
import type { CloseName, ResetName } from "./Codes.ts"
import type { Severity } from "./Score.ts"
import type { Timer } from "./Timer.ts"

/**
 * An input of the connection core.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  /**
   * TLS is complete and the actor runs. `peerPowBits`: leading zero bits of SHA-256(node id) of
   * the peer's key (§2.4). `score`: the peer's score carried over from earlier connections.
   */
  Started: {
    readonly now: Millis
    readonly wallNow: UnixMillis
    readonly peerPowBits: number
    readonly score?: number
  }
  /** The actor opened a stream (the control stream after `OpenControl`, or a lane it was asked for). */
  StreamOpened: { readonly now: Millis; readonly stream: number; readonly as: Stream }
  /** A frame arrived whole and decoded on `stream` (opened by either side). */
  FrameReceived: { readonly now: Millis; readonly stream: number; readonly frame: Frame }
  /**
   * Bytes on `stream` could not become a frame (§4.1–§4.4: a framing fault or a codec
   * `DecodeError`). Nothing after the fault is delivered; the stream is reset.
   */
  FrameRejected: { readonly now: Millis; readonly stream: number; readonly code: ResetName; readonly detail: string }
  /** The peer finished (`fin`) or reset (`reset`, with its code) `stream`. */
  StreamClosed: {
    readonly now: Millis
    readonly stream: number
    readonly how: "fin" | "reset"
    readonly code?: string
  }
  /** A timer set by `SetTimer` fired; stale generations are ignored. */
  TimerFired: { readonly now: Millis; readonly timer: Timer; readonly generation: number }
  /**
   * Local: close the connection. `graceful` sends `goodbye` and drains for up to
   * `goodbyeDrainMs`; otherwise `goodbye` is sent and the connection closed at once.
   */
  CloseRequested: {
    readonly now: Millis
    readonly code: CloseName
    readonly message?: string
    readonly afterMs?: number
    readonly graceful: boolean
  }
  /** Local: another subsystem caught the peer misbehaving (§14), e.g. a bad signature (major). */
  Penalized: { readonly now: Millis; readonly severity: Severity; readonly reason: string }
  /**
   * Local: send `resync {what}` on the control stream (§15.2). A station only, once ready
   * (`Resync.refusal` says why not otherwise; the core then sends nothing).
   */
  ResyncRequested: { readonly now: Millis; readonly what: ReadonlyArray<ResyncWhat> }
  /**
   * Local: a subsystem reset `stream` with `code` (the actor already reset it), e.g. a call
   * stream whose peer sent `s.data` beyond its credit (`flow_control`, §9.5, §14 row 25). The
   * core forgets the stream; a code that blames the peer (`Codes.isPeerFault`) counts towards
   * `maxStreamErrorsPerMin` like the core's own resets (§3.7).
   */
  StreamResetLocally: { readonly now: Millis; readonly stream: number; readonly code: ResetName }
  /** The transport connection is gone. `by` and `code` as the transport reports them. */
  ConnectionLost: {
    readonly now: Millis
    readonly by: "local" | "peer" | "idle_timeout" | "tls" | "transport"
    readonly code: string
    readonly message: string
  }
}>

/**
 * Constructors for `Event`: plain object literals for the ones built per frame (`Tagged.ts`
 * says why), spread for the rest.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Event = {
  Started: spread<Event, "Started">("Started"),
  StreamOpened: spread<Event, "StreamOpened">("StreamOpened"),
  FrameReceived: (a: Args<Event, "FrameReceived">): Variant<Event, "FrameReceived"> => ({
    _tag: "FrameReceived", now: a.now, stream: a.stream, frame: a.frame
  }),
  FrameRejected: spread<Event, "FrameRejected">("FrameRejected"),
  StreamClosed: spread<Event, "StreamClosed">("StreamClosed"),
  TimerFired: (a: Args<Event, "TimerFired">): Variant<Event, "TimerFired"> => ({
    _tag: "TimerFired", now: a.now, timer: a.timer, generation: a.generation
  }),
  CloseRequested: spread<Event, "CloseRequested">("CloseRequested"),
  Penalized: spread<Event, "Penalized">("Penalized"),
  ResyncRequested: spread<Event, "ResyncRequested">("ResyncRequested"),
  StreamResetLocally: spread<Event, "StreamResetLocally">("StreamResetLocally"),
  ConnectionLost: spread<Event, "ConnectionLost">("ConnectionLost")
} as const

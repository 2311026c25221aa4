/**
 * What other actors see of a live connection: its status, its lanes and its inbound frames.
 * It is the port `actors/ConnectionActor.ts` implements; it lives with the transport so
 * that any actor can use a connection without importing the connection actor (actors never
 * import actors). Types only, plus the three typed errors; no runtime behaviour.
 *
 * Using a connection:
 * - `openLane(family)` gives this side's lane of a family (one per family, opened on first use,
 *   the same lane afterwards); `lane.send(frame)` sends a request of that family.
 * - `subscribe(channel, sink)` receives the frames of a channel: requests on the peer's lanes
 *   (answer with `inbound.reply`, which writes on the lane they came on) and replies on ours.
 *   A slow sink slows only its own stream: QUIC flow control pushes back on the sender.
 * - `openCallStream()` opens a streaming call's own stream (§9.5); frames on call streams reach
 *   the `call` subscriber, with `end` / `reset` for the stream they came on.
 * - `resync(what)` (stations): sends `resync` on the control stream, asking the peer to replay
 *   its soft state (§15.2); the peer's `resync` reaches the `control` subscriber.
 * - `status()` / `watch(listener)`: phase, peer role, negotiated version, RTT, score.
 * - `ready` waits for both hellos; `closed` for the end (the owner then redials).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { Effect } from "effect/Effect"
import type { Frame, Hello, ResyncWhat, Role } from "../../wire/Frame.ts"
import type { Family } from "../../wire/Streams.ts"
import type { CloseName, ResetName } from "../../protocols/connection/Codes.ts"
import type { Severity } from "../../protocols/connection/Score.ts"
import type { Phase } from "../../protocols/connection/State.ts"

/**
 * Where inbound frames go: a lane family, call streams, content sessions, or the control
 * stream's `resync`.
 *
 * @since 0.1.0
 * @category models
 */
export type Channel = Family | "call" | "content" | "control"

/**
 * A connection's published state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  readonly connectionId: string
  readonly peerDid: string
  readonly direction: "inbound" | "outbound"
  readonly remoteAddress: string
  readonly phase: Phase
  /** The peer's role, once its hello was accepted. */
  readonly peerRole: Role | undefined
  /** The negotiated protocol version, once ready. */
  readonly version: number | undefined
  /** The peer's hello, once accepted (realms, addresses, failover peers, limits). */
  readonly peerHello: Hello | undefined
  /** Peer `ts` minus our wall clock at ready, ms. */
  readonly skewMs: number | undefined
  /** Round trip of the latest answered application ping, ms. */
  readonly rttMs: number | undefined
  /** The peer's score (§3.7), in [banScore, 0]. */
  readonly score: number
  /** Frames refused so far (streams reset). */
  readonly rejected: number
  /** Frames dropped because no subscriber took their channel. */
  readonly undelivered: number
  /** How it ended or is ending: the §3.7 name (or transport reason) and who decided. */
  readonly ending: { readonly code: string; readonly by: string; readonly message?: string } | undefined
}

/**
 * The connection ended before (or while) the caller needed it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{
  readonly connectionId: string
  readonly peerDid: string
  readonly code: string
  readonly by: string
  readonly message: string
}> {}

/**
 * No lane could be opened: the connection is not ready yet, is closing, or the peer's stream
 * limit is reached.
 *
 * @since 0.1.0
 * @category errors
 */
export class LaneUnavailable extends Data.TaggedError("LaneUnavailable")<{
  readonly family: Family
  readonly reason: "not_ready" | "closed" | "stream_limit"
}> {}

/**
 * A frame was not sent: it does not belong on that stream or may not be sent by this side
 * (`wrong_stream`, e.g. `resync` from a client), the peer would refuse it (`invalid_frame`,
 * `payload_too_large`: nothing was sent), the hellos are not exchanged yet (`not_ready`), or the
 * stream or connection is gone.
 *
 * @since 0.1.0
 * @category errors
 */
export class SendFailed extends Data.TaggedError("SendFailed")<{
  readonly reason: "wrong_stream" | "invalid_frame" | "payload_too_large" | "not_ready" | "stream_reset" | "connection_lost"
  readonly detail: string
}> {}

/**
 * A frame received on a lane, call stream, content session or the control stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inbound {
  readonly frame: Frame
  readonly channel: Channel
  /** Who opened the stream it came on: `peer` for requests, `local` for replies to ours. */
  readonly opener: "local" | "peer"
  readonly stream: number
  readonly connectionId: string
  readonly peerDid: string
  /** Sends a frame back on the same stream (a reply on the peer's lane). */
  readonly reply: (frame: Frame) => Effect<void, SendFailed>
  /**
   * Call streams only (§9.5): finishes this side of the stream the frame came on, after the
   * frames already sent. Optional so that stand-ins for a connection need not provide it.
   */
  readonly end?: Effect<void>
  /**
   * Call streams and lanes the peer opened: resets the stream the frame came on with a §3.7 code
   * (e.g. `flow_control`; `invalid_field` for a refused frame, §14 row 9). A code that blames
   * the peer counts towards `maxStreamErrorsPerMin` (§3.7); it costs no penalty by itself.
   */
  readonly reset?: (code: ResetName) => Effect<void>
}

/**
 * Takes inbound frames of one channel. The next frame of the same stream waits until it
 * completes (backpressure); it must not fail (handle errors inside).
 *
 * @since 0.1.0
 * @category models
 */
export type Sink = (inbound: Inbound) => Effect<void>

/**
 * This side's lane of one family.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lane {
  readonly family: Family
  readonly stream: number
  /** Sends one frame of the lane's family (or `ok` / `err`); waits only under backpressure. */
  readonly send: (frame: Frame) => Effect<void, SendFailed>
  /** Sends several frames in order, coalesced into one write. */
  readonly sendAll: (frames: ReadonlyArray<Frame>) => Effect<void, SendFailed>
}

/**
 * A content session this side opened (§3.5, §12.3): its own stream, whose first frame must be
 * a `content.*` frame. The peer's frames on it reach the connection's `content` subscriber
 * with `opener: "local"` and this `stream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly stream: number
  /** Sends one `content.*` frame (or `err`) on the session. */
  readonly send: (frame: Frame) => Effect<void, SendFailed>
  /** Finishes this side of the session. */
  readonly end: Effect<void>
}

/**
 * A call stream this side opened (§3.5, §9.5): its own stream, whose first frame must be a
 * `call` with a streaming `mode`. The peer's frames on it reach the connection's `call`
 * subscriber with `opener: "local"` and this `stream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallStream {
  readonly stream: number
  /** Sends one frame that may travel on a call stream (the opening `call` first). */
  readonly send: (frame: Frame) => Effect<void, SendFailed>
  /** Finishes this side after the frames already sent. */
  readonly end: Effect<void>
  /** Resets the stream with a §3.7 code; frames not yet written are dropped. */
  readonly reset: (code: ResetName) => Effect<void>
}

/**
 * Options of a local close.
 *
 * @since 0.1.0
 * @category models
 */
export interface CloseOptions {
  /** §3.7 name. @default "normal" */
  readonly code?: CloseName
  readonly message?: string
  /** Sent as `goodbye.after`: ms before a redial is welcome. */
  readonly afterMs?: number
  /** Drain (`goodbye`, wait up to `goodbyeDrainMs`) or close at once after `goodbye`. @default true */
  readonly graceful?: boolean
}

/**
 * A live connection, as other actors use it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handle {
  readonly connectionId: string
  readonly peerDid: string
  readonly direction: "inbound" | "outbound"
  readonly remoteAddress: string
  /** The current status (a snapshot). */
  readonly status: () => Status
  /** Calls `listener` on every status change until the returned function is called. */
  readonly watch: (listener: (status: Status) => void) => () => void
  /** Waits until both hellos are exchanged; fails if the connection ends first. */
  readonly ready: Effect<Status, ConnectionClosed>
  /** Waits until the connection is gone; the final status. */
  readonly closed: Effect<Status>
  /** This side's lane of `family`, opened on first use. */
  readonly openLane: (family: Family) => Effect<Lane, LaneUnavailable>
  /**
   * Opens a new content session to the peer. Optional so that stand-ins for a connection in
   * tests need not provide it; `ConnectionActor` always does.
   */
  readonly openSession?: () => Effect<Session, SendFailed>
  /**
   * Opens a new call stream to the peer (§9.5). Optional so that stand-ins for a connection in
   * tests need not provide it; `ConnectionActor` always does.
   */
  readonly openCallStream?: () => Effect<CallStream, SendFailed>
  /**
   * Calls `listener` whenever the peer resets a call stream (§9.5: a reset aborts the call),
   * with the stream and the §3.7 code, until the returned function is called. Optional as
   * `openCallStream`.
   */
  readonly onCallStreamReset?: (listener: (stream: number, code: string) => void) => () => void
  /**
   * Sends `resync {what}` on the control stream (§6, §15.2: S→any, whichever side dialled),
   * asking the peer to replay that soft state: a client its subscriptions (`sub`) and
   * advertisements (`adv`), a peer station its interest (`interest`). Resolves once the frame is
   * queued. Fails `wrong_stream` on a client (only stations send it), `invalid_frame` for an empty
   * or unknown `what`, `not_ready` before both hellos and `connection_lost` once closing.
   * Optional as `openCallStream`.
   */
  readonly resync?: (what: ReadonlyArray<ResyncWhat>) => Effect<void, SendFailed>
  /** Routes `channel`'s frames to `sink` (replacing any earlier sink); returns the unsubscribe. */
  readonly subscribe: (channel: Channel, sink: Sink) => () => void
  /** Closes the connection (gracefully by default). Returns at once; await `closed` to wait. */
  readonly close: (options?: CloseOptions) => Effect<void>
  /** Reports peer misbehaviour found by another subsystem (§14), e.g. a bad signature: major. */
  readonly penalize: (severity: Severity, reason: string) => Effect<void>
}

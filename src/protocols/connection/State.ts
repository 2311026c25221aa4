/**
 * The state of one connection's core: its phase, the streams it knows, the liveness probe, the
 * peer's score and how the connection ended. Immutable; `Step` returns a new value.
 *
 * Phases: `idle` (built, not started) → `handshaking` (TLS done, hellos pending) → `ready` →
 * `closing` (goodbye sent or received, or a close ordered) → `closed` (the transport reported
 * the connection gone). `closing` can be entered from any earlier phase; `closed` from any.
 *
 * Bounded: at most `maxStreams` streams are tracked; the stream-error window holds at most
 * `maxStreamErrorsPerMin + 1` instants.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"
import type { Hello, Role } from "../../wire/Frame.ts"
import type { Family, Stream } from "../../wire/Streams.ts"
import type { CloseName } from "./Codes.ts"
import type { Config } from "./Config.ts"
import * as Score from "./Score.ts"
import type { Timer } from "./Timer.ts"

/**
 * Where the connection is in its life.
 *
 * @since 0.1.0
 * @category models
 */
export type Phase = "idle" | "handshaking" | "ready" | "closing" | "closed"

/**
 * A stream the core knows: its kind (family for a lane) and who opened it.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamInfo {
  readonly stream: Stream
  readonly opener: "local" | "peer"
}

/**
 * The application ping (§3.6).
 *
 * @since 0.1.0
 * @category models
 */
export interface Liveness {
  /** When the last frame (any stream) arrived. */
  readonly lastHeardAt: Millis
  /** The `n` of the next `ping`. */
  readonly nextN: number
  /** The `ping` awaiting its `pong`, if any. */
  readonly outstanding: { readonly n: number; readonly sentAt: Millis } | undefined
  /** The oldest `n` whose `pong` still counts as a sign of life. */
  readonly oldestUnanswered: number
  /** Consecutive misses. */
  readonly misses: number
  /** Round trip of the latest answered `ping`. */
  readonly rttMs: number | undefined
}

/**
 * How the connection ends or ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ending {
  readonly code: CloseName
  readonly by: "local" | "peer"
  readonly message?: string
  readonly afterMs?: number
}

/**
 * The core's state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly phase: Phase
  /** `outbound`: we dialled (and open the control stream); `inbound`: we accepted. */
  readonly direction: "outbound" | "inbound"
  /** Unix ms − monotonic ms, learned at `Started`. */
  readonly wallOffsetMs: number
  readonly peerPowBits: number
  /** The control stream, once known. */
  readonly control: number | undefined
  /** Whether our hello went out. */
  readonly helloSent: boolean
  /** The peer's hello, once received and accepted. */
  readonly peerHello: Hello | undefined
  readonly peerRole: Role | undefined
  /** The negotiated version, once ready. */
  readonly version: number | undefined
  /** Every stream the core knows, by transport stream id. */
  readonly streams: ReadonlyMap<number, StreamInfo>
  /** Lanes opened by the peer, one per family. */
  readonly peerLanes: ReadonlyMap<Family, number>
  /** Lanes opened by us, one per family. */
  readonly localLanes: ReadonlyMap<Family, number>
  /** The latest generation of each timer, and whether it is armed. */
  readonly timers: { readonly [T in Timer]: { readonly generation: number; readonly armed: boolean } }
  readonly liveness: Liveness
  readonly score: Score.Score
  /** Instants of recent peer-caused stream resets (the last minute). */
  readonly streamErrors: ReadonlyArray<Millis>
  /** Set once the connection starts closing. */
  readonly ending: Ending | undefined
  /** Whether `CloseConnection` went out (it goes out once). */
  readonly closeIssued: boolean
  /** Frames refused so far (any reason), for status and tests. */
  readonly rejected: number
}

/**
 * A fresh core for one connection; `Started` begins it. Pure, as OTP's `init`: a restarted
 * actor gets exactly this again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = (config: Config, direction: "outbound" | "inbound"): State => ({
  phase: "idle",
  direction,
  wallOffsetMs: 0,
  peerPowBits: 0,
  control: undefined,
  helloSent: false,
  peerHello: undefined,
  peerRole: undefined,
  version: undefined,
  streams: new Map(),
  peerLanes: new Map(),
  localLanes: new Map(),
  timers: {
    handshake: { generation: 0, armed: false },
    idle: { generation: 0, armed: false },
    pong: { generation: 0, armed: false },
    drain: { generation: 0, armed: false }
  },
  liveness: { lastHeardAt: 0, nextN: 1, outstanding: undefined, oldestUnanswered: 1, misses: 0, rttMs: undefined },
  score: Score.make(0, config),
  streamErrors: [],
  ending: undefined,
  closeIssued: false,
  rejected: 0
})

/**
 * Whether the handshake is over and the connection usable.
 *
 * @since 0.1.0
 * @category guards
 */
export const isReady = (state: State): boolean => state.phase === "ready"

/**
 * The stream of our lane of `family`, if we opened one.
 *
 * @since 0.1.0
 * @category getters
 */
export const localLane = (state: State, family: Family): number | undefined => state.localLanes.get(family)

/**
 * The peer's score at `now`.
 *
 * @since 0.1.0
 * @category getters
 */
export const scoreAt = (state: State, now: Millis, config: Config): number => Score.valueAt(state.score, now, config)

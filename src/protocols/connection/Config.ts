/**
 * Knobs of one connection's protocol (PROTOCOL.md §3.4–§3.7, §16 "transport" and "scoring"
 * rows). Durations in ms; each knob names its unit and gives its default.
 *
 * Two things here are not numbers:
 * - `hello`: what this node says about itself in its `hello` (role, realms, addresses, …);
 * - `placement`: the §3.5 stream rules as two pure functions. The core may not import the wire
 *   at run time (the layering rule), so the actor passes `Streams.opens` / `Streams.allows`
 *   from `src/wire` here; tests do the same.
 *
 * @since 0.1.0
 */
import type { Contact, Frame, FrameType, Role } from "../../wire/Frame.ts"
import type { Stream } from "../../wire/Streams.ts"

/**
 * The §3.5 stream rules, as the wire module states them (`Streams.opens`, `Streams.allows`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Placement {
  /** The stream a first frame opens, `undefined` if it cannot open one. */
  readonly opens: (first: Frame) => Stream | undefined
  /** Whether a frame type may travel on a stream after its first frame. */
  readonly allows: (stream: Stream, t: FrameType) => boolean
}

/**
 * What this node announces in its `hello` (§3.4), besides `vers`, `lim` and `ts`, which the core
 * fills in from the other knobs and the clock offset.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalHello {
  /** Extensions; v1 defines none. @default [] */
  readonly feat: ReadonlyArray<string>
  /** Client: realms it will act in; station: realms served (`[]` = all). @default [] */
  readonly realms: ReadonlyArray<Uint8Array>
  /** Station listen addresses (≤ 8); `[]` for clients. @default [] */
  readonly addrs: ReadonlyArray<string>
  /** Station → client: alternative stations for failover (≤ `helloPeersMax`). */
  readonly peers?: ReadonlyArray<Contact>
  /** Implementation and version, ≤ 64 bytes, informational. */
  readonly impl?: string
}

/**
 * Knobs of the connection core.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /** This node's role (§1). A client never listens. */
  readonly role: Role
  /** Protocol versions this node speaks, ascending; the highest common one is used. @default [1] */
  readonly versions: ReadonlyArray<number>
  /** The rest of this node's `hello`. */
  readonly hello: LocalHello
  /** §3.5 stream rules (pass `Streams.opens` / `Streams.allows`). */
  readonly placement: Placement
  /**
   * Both hellos must be exchanged within this long of TLS completion, else the connection is
   * closed `handshake_timeout` (§3.4, §14 #13). @default 10_000
   */
  readonly handshakeTimeoutMs: number
  /**
   * A side that has received nothing for this long sends `ping` on the control stream (§3.6).
   * Lower = faster detection, more idle traffic. @default 2_000
   */
  readonly appPingIntervalMs: number
  /** No `pong` within this long of a `ping` is a miss; the next `ping` goes out at once. @default 1_000 */
  readonly appPingTimeoutMs: number
  /**
   * This many consecutive misses close the connection `liveness_lost`. A silent peer is noticed
   * within `appPingIntervalMs + appPingMaxMisses × appPingTimeoutMs` of the last frame heard
   * (4 s with the defaults). @default 2
   */
  readonly appPingMaxMisses: number
  /** After sending `goodbye`, wait at most this long for the peer to finish before closing. @default 2_000 */
  readonly goodbyeDrainMs: number
  /** Leading zero bits a station peer's SHA-256(node id) must have (§2.4); 0 disables. @default 8 */
  readonly stationPowBits: number
  /** Largest frame body this side accepts, announced as `hello.lim.f` (§4.1). @default 1_048_576 */
  readonly maxFrameBytes: number
  /** A peer clock further than this from ours is reported (`ClockSkew`), never refused. @default 60_000 */
  readonly clockSkewLeewayMs: number
  /** Score lost per minor violation (§14). @default 5 */
  readonly penaltyMinor: number
  /** Score lost per major violation (§14). @default 25 */
  readonly penaltyMajor: number
  /** At or below this score the peer is closed `banned`; also the score's floor. @default -100 */
  readonly banScore: number
  /** How long a banned peer is refused. @default 600_000 */
  readonly banDurationMs: number
  /** Score regained per minute, drifting back to 0 (never above). @default 5 */
  readonly scoreRecoveryPerMin: number
  /** More peer-caused stream resets than this within a minute close the connection `protocol_violation`. @default 20 */
  readonly maxStreamErrorsPerMin: number
  /**
   * Most streams the core tracks at once (control, lanes, calls, content sessions); a peer
   * stream beyond it is reset `overloaded`. Bounds the state; QUIC's own stream limit
   * (`maxStreamsPerConnection`, 128) normally binds first. @default 256
   */
  readonly maxStreams: number
}

/**
 * The §16 defaults of every numeric knob.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  versions: [1],
  handshakeTimeoutMs: 10_000,
  appPingIntervalMs: 2_000,
  appPingTimeoutMs: 1_000,
  appPingMaxMisses: 2,
  goodbyeDrainMs: 2_000,
  stationPowBits: 8,
  maxFrameBytes: 1_048_576,
  clockSkewLeewayMs: 60_000,
  penaltyMinor: 5,
  penaltyMajor: 25,
  banScore: -100,
  banDurationMs: 600_000,
  scoreRecoveryPerMin: 5,
  maxStreamErrorsPerMin: 20,
  maxStreams: 256
} as const satisfies Partial<Config>

/**
 * An empty `hello` template: no extensions, realms, addresses or peers.
 *
 * @since 0.1.0
 * @category constants
 */
export const emptyHello: LocalHello = { feat: [], realms: [], addrs: [] }

/**
 * A full config from the role, the stream rules and overrides of the defaults.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  role: Role,
  placement: Placement,
  overrides: Partial<Omit<Config, "role" | "placement">> = {}
): Config => ({ ...defaults, hello: emptyHello, ...overrides, role, placement })

/**
 * The longest a silent peer goes unnoticed once the connection is ready, in ms:
 * `appPingIntervalMs + appPingMaxMisses × appPingTimeoutMs`.
 *
 * @since 0.1.0
 * @category getters
 */
export const detectionBoundMs = (c: Config): number => c.appPingIntervalMs + c.appPingMaxMisses * c.appPingTimeoutMs

/**
 * What is wrong with a config, in words; empty means valid. Checked once, when a connection
 * actor starts.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (c: Config): ReadonlyArray<string> => {
  const out: Array<string> = []
  const positive = (name: keyof Config, value: number) => {
    if (!Number.isSafeInteger(value) || value <= 0) out.push(`${name} must be a positive integer`)
  }
  positive("handshakeTimeoutMs", c.handshakeTimeoutMs)
  positive("appPingIntervalMs", c.appPingIntervalMs)
  positive("appPingTimeoutMs", c.appPingTimeoutMs)
  positive("appPingMaxMisses", c.appPingMaxMisses)
  positive("goodbyeDrainMs", c.goodbyeDrainMs)
  positive("maxFrameBytes", c.maxFrameBytes)
  positive("penaltyMinor", c.penaltyMinor)
  positive("penaltyMajor", c.penaltyMajor)
  positive("banDurationMs", c.banDurationMs)
  positive("maxStreamErrorsPerMin", c.maxStreamErrorsPerMin)
  positive("maxStreams", c.maxStreams)
  if (!(c.scoreRecoveryPerMin >= 0)) out.push("scoreRecoveryPerMin must be ≥ 0")
  if (!(c.banScore < 0)) out.push("banScore must be negative")
  if (!Number.isInteger(c.stationPowBits) || c.stationPowBits < 0 || c.stationPowBits > 256) {
    out.push("stationPowBits must be an integer in 0..256")
  }
  if (c.versions.length === 0 || c.versions.some((v, i) => !Number.isSafeInteger(v) || v < 1 || (i > 0 && v <= c.versions[i - 1]!))) {
    out.push("versions must be a non-empty ascending list of positive integers")
  }
  if (c.role !== "station" && c.role !== "client") out.push(`unknown role ${JSON.stringify(c.role)}`)
  if (c.hello.addrs.length > 8) out.push("hello.addrs holds at most 8 addresses")
  return out
}

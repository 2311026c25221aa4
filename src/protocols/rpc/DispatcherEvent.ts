/**
 * Everything that can happen to a station's RPC dispatcher (PROTOCOL.md §9): frames from
 * clients and peer stations, DHT completions, membership verdicts and fired timers. Every
 * event carries `now` (monotonic ms).
 *
 * The actor decodes frames, verifies provider records (signature, key derivation, expiry;
 * §10.3) and decides the station grant (§13.4) before building the event; the verdict
 * arrives in the event and the core enforces it.
 *
 * @since 0.1.0
 */
import type { Data } from "effect"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"
import type { Millis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { ProviderRecordBody } from "../../wire/SignedBody.ts"

/**
 * A node, named by the lowercase hex of its public key.
 *
 * @since 0.1.0
 * @category models
 */
export type PeerId = string

/**
 * The actor's authorisation decision for a gated frame.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict =
  | { readonly _tag: "Allowed" }
  | { readonly _tag: "Denied"; readonly reason: string }

/**
 * Frames that travel on a call stream besides `call`, `reply` and `cancel`.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamFrame = Frame.StreamData | Frame.StreamEnd | Frame.StreamCredit

/**
 * Which of the station's call streams with a peer: `up` (the peer opened it with a call we
 * serve) or `leg` (we opened it to forward a call).
 *
 * @since 0.1.0
 * @category models
 */
export type StreamSide = "up" | "leg"

/**
 * An input of the dispatcher core.
 *
 * @since 0.1.0
 * @category models
 */
export type DispatcherEvent = Data.TaggedEnum<{
  /** A client attached to this station. */
  ClientAttached: { readonly now: Millis; readonly client: PeerId }
  /** A client's connection is gone: its advertisements end (tombstoned), its calls are cancelled. */
  ClientDetached: { readonly now: Millis; readonly client: PeerId }
  /** A peer station's SWIM status or link changed (§11.6): dead stations drop out of routing. */
  PeerStatus: { readonly now: Millis; readonly peer: PeerId; readonly status: "alive" | "suspect" | "dead" }
  /** `adv` from a client; `record` is the verified body of `frame.rec`. */
  AdvReceived: {
    readonly now: Millis
    readonly client: PeerId
    readonly frame: Frame.Adv
    readonly record: ProviderRecordBody
    readonly verdict: Verdict
  }
  /** `unadv` from a client; `record` is the verified withdrawal. */
  UnadvReceived: {
    readonly now: Millis
    readonly client: PeerId
    readonly frame: Frame.Unadv
    readonly record: ProviderRecordBody
  }
  /** The DHT store asked by `StoreRecord` finished with `acks` replicas. */
  RecordStored: { readonly now: Millis; readonly ref: number; readonly acks: number }
  /** The DHT resolution asked by `ResolveProviders` finished: valid records found. */
  ProvidersResolved: {
    readonly now: Millis
    readonly realm: Frame.Bin32
    readonly proc: string
    readonly records: ReadonlyArray<ProviderRecordBody>
  }
  /** `call` from a client (we are its home, or its direct station) or from a peer station. */
  CallReceived: {
    readonly now: Millis
    readonly from: PeerId
    readonly role: "client" | "station"
    readonly frame: Frame.Call
    readonly verdict: Verdict
  }
  /** `reply` from a provider client or a station we forwarded a call to. */
  ReplyReceived: { readonly now: Millis; readonly from: PeerId; readonly frame: Frame.Reply }
  /** `cancel` from whoever sent us the call. */
  CancelReceived: { readonly now: Millis; readonly from: PeerId; readonly frame: Frame.Cancel }
  /**
   * `s.data` / `s.end` / `s.credit` on the call stream `id` (the call's id on that connection).
   * `on` says which stream: `up`, one the peer opened with its `call` (we serve that call), or
   * `leg`, one we opened to forward a call. A peer may be both a caller and a provider here,
   * and the two sides choose ids independently, so an id alone can name two streams; without
   * `on` the upstream call wins.
   */
  StreamFrameReceived: {
    readonly now: Millis
    readonly from: PeerId
    readonly id: number
    readonly frame: StreamFrame
    readonly on?: StreamSide
  }
  /** A timer set by `SetTimer` fired. */
  TimerFired: { readonly now: Millis; readonly timer: string; readonly generation: number }
  /**
   * A revocation took `client`'s advertise grants in `realm` (§13.6): its advertisements there
   * whose procedure is not in `keep` end, with `err unauthorized` (`reason`) naming their `adv`.
   */
  GrantsRevoked: {
    readonly now: Millis
    readonly client: PeerId
    readonly realm: Uint8Array
    readonly keep: ReadonlyArray<string>
    readonly reason: string
  }
}>

/**
 * Plain constructors (no matchers) for `DispatcherEvent`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const DispatcherEvent = {
  ClientAttached: spread<DispatcherEvent, "ClientAttached">("ClientAttached"),
  ClientDetached: spread<DispatcherEvent, "ClientDetached">("ClientDetached"),
  PeerStatus: spread<DispatcherEvent, "PeerStatus">("PeerStatus"),
  AdvReceived: spread<DispatcherEvent, "AdvReceived">("AdvReceived"),
  UnadvReceived: spread<DispatcherEvent, "UnadvReceived">("UnadvReceived"),
  RecordStored: spread<DispatcherEvent, "RecordStored">("RecordStored"),
  ProvidersResolved: spread<DispatcherEvent, "ProvidersResolved">("ProvidersResolved"),
  StreamFrameReceived: spread<DispatcherEvent, "StreamFrameReceived">("StreamFrameReceived"),
  GrantsRevoked: spread<DispatcherEvent, "GrantsRevoked">("GrantsRevoked"),
  CallReceived: (a: Args<DispatcherEvent, "CallReceived">): Variant<DispatcherEvent, "CallReceived"> => ({
    _tag: "CallReceived", now: a.now, from: a.from, role: a.role, frame: a.frame, verdict: a.verdict
  }),
  ReplyReceived: (a: Args<DispatcherEvent, "ReplyReceived">): Variant<DispatcherEvent, "ReplyReceived"> => ({
    _tag: "ReplyReceived", now: a.now, from: a.from, frame: a.frame
  }),
  CancelReceived: (a: Args<DispatcherEvent, "CancelReceived">): Variant<DispatcherEvent, "CancelReceived"> => ({
    _tag: "CancelReceived", now: a.now, from: a.from, frame: a.frame
  }),
  TimerFired: (a: Args<DispatcherEvent, "TimerFired">): Variant<DispatcherEvent, "TimerFired"> => ({
    _tag: "TimerFired", now: a.now, timer: a.timer, generation: a.generation
  })
} as const

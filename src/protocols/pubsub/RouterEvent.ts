/**
 * Everything that can happen to a station's pub/sub router (PROTOCOL.md §8): frames from
 * attached clients and from peer stations, link changes, write completions, fired timers and
 * the station's own publishes. Every event carries `now` (monotonic ms); events whose checks
 * need wall time (envelope age) also carry `wall` (unix ms), both stamped at ingress.
 *
 * Division of labour with the actor: the actor decodes frames, verifies envelope signatures
 * (a bad signature never reaches the core: §14 row 17, major penalty by the actor) and
 * decides authorisation (the UCAN grant of §13.4, or the realm's open policy) before the
 * event is built. The verdict arrives in the event; the core enforces it.
 *
 * @since 0.1.0
 */
import type { Data } from "effect"
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { EnvelopeBody } from "../../wire/SignedBody.ts"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"

/**
 * A node, named by the lowercase hex of its public key (the key its TLS certificate proved).
 *
 * @since 0.1.0
 * @category models
 */
export type PeerId = string

/**
 * The actor's authorisation decision for a gated frame: a grant (or an open realm) covers
 * it, or it does not, with the UCAN error name as `reason`.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict =
  | { readonly _tag: "Allowed" }
  | { readonly _tag: "Denied"; readonly reason: string }

/**
 * The allowing verdict.
 *
 * @since 0.1.0
 * @category constructors
 */
export const allowed: Verdict = { _tag: "Allowed" }

/**
 * A refusing verdict with the UCAN error name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const denied = (reason: string): Verdict => ({ _tag: "Denied", reason })

/**
 * An input of the router core.
 *
 * @since 0.1.0
 * @category models
 */
export type RouterEvent = Data.TaggedEnum<{
  /** A client finished its handshake on this station (or came back). */
  ClientAttached: { readonly now: Millis; readonly client: PeerId }
  /** A client's connection is gone: `amo` subscriptions end, `alo` ones wait `aloRetentionMs`. */
  ClientDetached: { readonly now: Millis; readonly client: PeerId }
  /** `sub` from a client, with the actor's authorisation verdict for (realm, pattern). */
  SubReceived: { readonly now: Millis; readonly client: PeerId; readonly frame: Frame.Sub; readonly verdict: Verdict }
  /** `unsub` from a client. */
  UnsubReceived: { readonly now: Millis; readonly client: PeerId; readonly frame: Frame.Unsub }
  /** `pub` from a client; `envelope` is the decoded body of `frame.b`, signature verified. */
  PubReceived: {
    readonly now: Millis
    readonly wall: UnixMillis
    readonly client: PeerId
    readonly frame: Frame.Pub
    readonly envelope: EnvelopeBody
    readonly verdict: Verdict
  }
  /** `ack` from a client for one of its `alo` subscriptions. */
  AckReceived: { readonly now: Millis; readonly client: PeerId; readonly frame: Frame.Ack }
  /** The actor wrote `count` event or gap frames to `client` (its send window reopens). */
  Flushed: { readonly now: Millis; readonly client: PeerId; readonly count: number }
  /** An interest link to peer station `peer` is up (alive SWIM member, connection ready). */
  PeerUp: { readonly now: Millis; readonly peer: PeerId }
  /** The link to `peer` is gone, or SWIM declared it dead or departed (§11.6). */
  PeerDown: { readonly now: Millis; readonly peer: PeerId }
  /** `fwd` from a peer station; `envelope` decoded and verified (`verifyRelayedEvents`). */
  FwdReceived: {
    readonly now: Millis
    readonly wall: UnixMillis
    readonly peer: PeerId
    readonly frame: Frame.Fwd
    readonly envelope: EnvelopeBody
  }
  /** `interest.sync`, `interest.add` or `interest.del` from a peer station. */
  InterestReceived: {
    readonly now: Millis
    readonly peer: PeerId
    readonly frame: Frame.InterestSync | Frame.InterestAdd | Frame.InterestDel
  }
  /** `ok` from a peer station on the pubsub lane (answers our `interest.*` with `id`). */
  PeerOkReceived: { readonly now: Millis; readonly peer: PeerId; readonly frame: Frame.Ok }
  /** The station itself publishes (system topics such as `…/membership/revoked_v1`). */
  PublishLocal: {
    readonly now: Millis
    readonly wall: UnixMillis
    readonly signed: Frame.Signed
    readonly envelope: EnvelopeBody
  }
  /** A timer set by `SetTimer` fired. */
  TimerFired: { readonly now: Millis; readonly timer: string; readonly generation: number }
  /**
   * The station itself follows an exact realm topic (the realm's `…/membership/revoked_v1`
   * fact, §13.6): its interest goes to peers, and matching events come out as `Observed`.
   */
  Watch: { readonly now: Millis; readonly realm: Uint8Array; readonly topic: string }
  /**
   * A revocation took `client`'s subscribe grants in `realm` (§13.6): its subscriptions there
   * that no `keep` scope covers end with `err unauthorized` (`reason`) naming their `sub`.
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
 * Constructors for `RouterEvent` (plain object literals for the per-event ones).
 *
 * @since 0.1.0
 * @category constructors
 */
export const RouterEvent = {
  ClientAttached: spread<RouterEvent, "ClientAttached">("ClientAttached"),
  ClientDetached: spread<RouterEvent, "ClientDetached">("ClientDetached"),
  SubReceived: spread<RouterEvent, "SubReceived">("SubReceived"),
  UnsubReceived: spread<RouterEvent, "UnsubReceived">("UnsubReceived"),
  PubReceived: (a: Args<RouterEvent, "PubReceived">): Variant<RouterEvent, "PubReceived"> => ({
    _tag: "PubReceived", now: a.now, wall: a.wall, client: a.client, frame: a.frame, envelope: a.envelope, verdict: a.verdict
  }),
  AckReceived: (a: Args<RouterEvent, "AckReceived">): Variant<RouterEvent, "AckReceived"> => ({
    _tag: "AckReceived", now: a.now, client: a.client, frame: a.frame
  }),
  Flushed: (a: Args<RouterEvent, "Flushed">): Variant<RouterEvent, "Flushed"> => ({
    _tag: "Flushed", now: a.now, client: a.client, count: a.count
  }),
  PeerUp: spread<RouterEvent, "PeerUp">("PeerUp"),
  PeerDown: spread<RouterEvent, "PeerDown">("PeerDown"),
  FwdReceived: (a: Args<RouterEvent, "FwdReceived">): Variant<RouterEvent, "FwdReceived"> => ({
    _tag: "FwdReceived", now: a.now, wall: a.wall, peer: a.peer, frame: a.frame, envelope: a.envelope
  }),
  InterestReceived: spread<RouterEvent, "InterestReceived">("InterestReceived"),
  PeerOkReceived: spread<RouterEvent, "PeerOkReceived">("PeerOkReceived"),
  PublishLocal: spread<RouterEvent, "PublishLocal">("PublishLocal"),
  TimerFired: (a: Args<RouterEvent, "TimerFired">): Variant<RouterEvent, "TimerFired"> => ({
    _tag: "TimerFired", now: a.now, timer: a.timer, generation: a.generation
  }),
  Watch: spread<RouterEvent, "Watch">("Watch"),
  GrantsRevoked: spread<RouterEvent, "GrantsRevoked">("GrantsRevoked")
} as const

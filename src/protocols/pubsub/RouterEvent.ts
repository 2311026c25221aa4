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
import { Data } from "effect"
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { EnvelopeBody } from "../../wire/SignedBody.ts"

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
}>

/**
 * Constructors and matchers for `RouterEvent`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const RouterEvent = Data.taggedEnum<RouterEvent>()

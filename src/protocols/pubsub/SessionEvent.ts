/**
 * Everything that can happen to a client's pub/sub session core (PROTOCOL.md §8.2, §8.4,
 * §8.5): the application's requests, link changes, frames from the home station, handler
 * completions and fired timers. Every event carries `now` (monotonic ms); `Publish` also
 * carries `wall` (unix ms) for the envelope's `ts`.
 *
 * The actor decodes frames and verifies envelope signatures (`strictPublisherSig`); an
 * event whose envelope fails verification never reaches the core (the actor counts it
 * against the station, §14 row 17).
 *
 * @since 0.1.0
 */
import type { Data } from "effect"
import type { Millis, UnixMillis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { EnvelopeBody } from "../../wire/SignedBody.ts"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"

/**
 * An input of the session core.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionEvent = Data.TaggedEnum<{
  /** Attached to home station `station`: subscriptions are replayed, then pending publishes. */
  LinkUp: { readonly now: Millis; readonly station: string }
  /** The home station link is gone; everything is kept for the next `LinkUp`. */
  LinkDown: { readonly now: Millis }
  /** The application subscribes `sid` (chosen by the caller, unique) to a topic or pattern. */
  Subscribe: {
    readonly now: Millis
    readonly sid: number
    readonly realm: Frame.Bin32
    readonly pattern: string
    readonly mode: Frame.SubMode
    /**
     * `alo` only: the last cursor a previous run of this subscription (same `sid`) processed and
     * recorded, so the `sub` resumes after it and replayed cursors up to it are dropped (§8.5).
     */
    readonly resume?: number
  }
  /** The application ends subscription `sid`. */
  Unsubscribe: { readonly now: Millis; readonly sid: number }
  /** The application publishes; `ref` (caller-chosen) names the outcome notice. */
  Publish: {
    readonly now: Millis
    readonly wall: UnixMillis
    readonly ref: number
    readonly realm: Frame.Bin32
    readonly topic: string
    readonly payload: Frame.Any
  }
  /** `event` from the home station; `envelope` is the verified, decoded body of `frame.b`. */
  EventReceived: { readonly now: Millis; readonly frame: Frame.Event; readonly envelope: EnvelopeBody }
  /** `gap` from the home station (an `alo` subscription lost events). */
  GapReceived: { readonly now: Millis; readonly frame: Frame.Gap }
  /** `ok` or `err` on the pubsub lane. */
  ReplyReceived: { readonly now: Millis; readonly frame: Frame.Ok | Frame.Err }
  /** `resync` on the control stream: replay what it names. */
  ResyncReceived: { readonly now: Millis; readonly what: ReadonlyArray<Frame.ResyncWhat> }
  /** The handler of `sid` finished the event last handed to it by `Deliver`. */
  Handled: { readonly now: Millis; readonly sid: number }
  /** A timer set by `SetTimer` fired. */
  TimerFired: { readonly now: Millis; readonly timer: string; readonly generation: number }
}>

/**
 * Constructors for `SessionEvent` (plain object literals for the per-event ones).
 *
 * @since 0.1.0
 * @category constructors
 */
export const SessionEvent = {
  LinkUp: spread<SessionEvent, "LinkUp">("LinkUp"),
  LinkDown: spread<SessionEvent, "LinkDown">("LinkDown"),
  Subscribe: spread<SessionEvent, "Subscribe">("Subscribe"),
  Unsubscribe: spread<SessionEvent, "Unsubscribe">("Unsubscribe"),
  Publish: (a: Args<SessionEvent, "Publish">): Variant<SessionEvent, "Publish"> => ({
    _tag: "Publish", now: a.now, wall: a.wall, ref: a.ref, realm: a.realm, topic: a.topic, payload: a.payload
  }),
  EventReceived: (a: Args<SessionEvent, "EventReceived">): Variant<SessionEvent, "EventReceived"> => ({
    _tag: "EventReceived", now: a.now, frame: a.frame, envelope: a.envelope
  }),
  GapReceived: spread<SessionEvent, "GapReceived">("GapReceived"),
  ReplyReceived: (a: Args<SessionEvent, "ReplyReceived">): Variant<SessionEvent, "ReplyReceived"> => ({
    _tag: "ReplyReceived", now: a.now, frame: a.frame
  }),
  ResyncReceived: spread<SessionEvent, "ResyncReceived">("ResyncReceived"),
  Handled: (a: Args<SessionEvent, "Handled">): Variant<SessionEvent, "Handled"> => ({ _tag: "Handled", now: a.now, sid: a.sid }),
  TimerFired: (a: Args<SessionEvent, "TimerFired">): Variant<SessionEvent, "TimerFired"> => ({
    _tag: "TimerFired", now: a.now, timer: a.timer, generation: a.generation
  })
} as const

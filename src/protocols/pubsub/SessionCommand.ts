/**
 * What the session core asks its actor (the client's station link) to do, in order, and the
 * notices it reports to the application facade.
 *
 * `Send` writes a frame on the pubsub lane to the home station (the actor adds `au` when it
 * holds an invocation to present, §13.4); `Publish` signs `body` with the node key (domain
 * `macula-node/1/event`) and sends `pub {id, b, s}`; `Deliver` hands one event to the
 * subscription's handler, which reports `Handled` when done (one at a time per subscription);
 * `Notify` reaches the facade (promises resolve, callbacks fire).
 *
 * @since 0.1.0
 */
import type { Data } from "effect"
import type { Millis } from "../../core/Millis.ts"
import type * as Frame from "../../wire/Frame.ts"
import type { EnvelopeBody } from "../../wire/SignedBody.ts"
import { type Args, spread, type Variant } from "../../core/Tagged.ts"

/**
 * A notice for the application facade.
 *
 * @since 0.1.0
 * @category models
 */
export type Notice = Data.TaggedEnum<{
  /** The station accepted subscription `sid` (also after each replay). */
  Subscribed: { readonly sid: number }
  /** The station refused `sid` (or it failed locally); the subscription is gone. */
  SubscribeFailed: { readonly sid: number; readonly code: string; readonly reason?: string }
  /** Publish `ref` was accepted by the home station. */
  Published: { readonly ref: number }
  /** Publish `ref` was refused (locally or by the station). */
  PublishFailed: { readonly ref: number; readonly code: string; readonly reason?: string }
  /** Events `from` … `to` (cursors) of `alo` subscription `sid` are lost, and why. */
  Gap: { readonly sid: number; readonly from: number; readonly to: number; readonly why: Frame.GapReason | "mailbox_overflow" }
}>

/**
 * Constructors for `Notice`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Notice = {
  Subscribed: (a: Args<Notice, "Subscribed">): Variant<Notice, "Subscribed"> => ({ _tag: "Subscribed", sid: a.sid }),
  SubscribeFailed: spread<Notice, "SubscribeFailed">("SubscribeFailed"),
  Published: (a: Args<Notice, "Published">): Variant<Notice, "Published"> => ({ _tag: "Published", ref: a.ref }),
  PublishFailed: spread<Notice, "PublishFailed">("PublishFailed"),
  Gap: (a: Args<Notice, "Gap">): Variant<Notice, "Gap"> => ({ _tag: "Gap", sid: a.sid, from: a.from, to: a.to, why: a.why })
} as const

/**
 * A command for the session's actor.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionCommand = Data.TaggedEnum<{
  /** Write `frame` on the pubsub lane to the home station. */
  Send: { readonly frame: Frame.Frame }
  /** Sign `body` and send `pub {id, b, s}` (re-sent after a reconnect; the station dedups). */
  Publish: { readonly id: number; readonly body: EnvelopeBody }
  /** Hand one event to subscription `sid`'s handler; `cur` is its `alo` cursor. */
  Deliver: { readonly sid: number; readonly envelope: EnvelopeBody; readonly cur?: number }
  /** Fire `TimerFired {timer, generation}` at `at`, replacing any pending timer of that key. */
  SetTimer: { readonly timer: string; readonly at: Millis; readonly generation: number }
  /** Forget the pending timer of that key. */
  CancelTimer: { readonly timer: string }
  /** Tell the application facade. */
  Notify: { readonly notice: Notice }
}>

/**
 * Constructors for `SessionCommand` (plain object literals: built several times per event).
 *
 * @since 0.1.0
 * @category constructors
 */
export const SessionCommand = {
  Send: (a: Args<SessionCommand, "Send">): Variant<SessionCommand, "Send"> => ({ _tag: "Send", frame: a.frame }),
  Publish: (a: Args<SessionCommand, "Publish">): Variant<SessionCommand, "Publish"> => ({ _tag: "Publish", id: a.id, body: a.body }),
  Deliver: (a: Args<SessionCommand, "Deliver">): Variant<SessionCommand, "Deliver"> =>
    a.cur === undefined
      ? { _tag: "Deliver", sid: a.sid, envelope: a.envelope }
      : { _tag: "Deliver", sid: a.sid, envelope: a.envelope, cur: a.cur },
  SetTimer: (a: Args<SessionCommand, "SetTimer">): Variant<SessionCommand, "SetTimer"> => ({
    _tag: "SetTimer", timer: a.timer, at: a.at, generation: a.generation
  }),
  CancelTimer: (a: Args<SessionCommand, "CancelTimer">): Variant<SessionCommand, "CancelTimer"> => ({ _tag: "CancelTimer", timer: a.timer }),
  Notify: (a: Args<SessionCommand, "Notify">): Variant<SessionCommand, "Notify"> => ({ _tag: "Notify", notice: a.notice })
} as const

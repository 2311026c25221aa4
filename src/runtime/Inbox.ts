/**
 * A stable sink in front of a restartable actor.
 *
 * Whatever feeds an actor from outside (a transport delivering inbound frames, say) is wired
 * once, before the actor starts, and must keep working across restarts. An `Inbox` is that
 * fixed point: its `sink` wraps each value into the actor's message and `tell`s the actor in
 * `current`. The actor sets `current` to itself in `init` and clears it in `terminate` (only if
 * it is still the one installed). Values that arrive while no actor is installed, or that the
 * actor's mailbox refuses, are dropped and counted in `dropped`; nothing waits or fails.
 *
 * Generic in the value and the message; it knows nothing of the mesh.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { ActorRef } from "./Actor.ts"

/**
 * A forwarding sink with its drop counter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inbox<A, Msg> {
  /** Forwards a value to `current`; never fails, never waits. */
  readonly sink: (value: A) => Effect.Effect<void>
  /** The running actor, set by its `init` and cleared by its `terminate`. */
  current: ActorRef<Msg> | undefined
  /** Values dropped because no actor ran or its mailbox was full. */
  dropped: number
}

/**
 * An inbox with no actor behind it yet; `wrap` builds the message for each value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, Msg>(wrap: (value: A) => Msg): Inbox<A, Msg> => {
  const box: Inbox<A, Msg> = {
    current: undefined,
    dropped: 0,
    sink: (value) =>
      Effect.sync(() => {
        const ref = box.current
        if (ref === undefined || !ref.tell(wrap(value))) box.dropped++
      })
  }
  return box
}

/**
 * Like `make`, but each value is stamped with `Clock` time as it arrives, for actors whose
 * core wants the arrival time rather than the time the actor gets round to it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stamped = <A, Msg>(wrap: (value: A, now: number) => Msg): Inbox<A, Msg> => {
  const box: Inbox<A, Msg> = {
    current: undefined,
    dropped: 0,
    sink: (value) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const ref = box.current
          if (ref === undefined || !ref.tell(wrap(value, now))) box.dropped++
        }))
  }
  return box
}

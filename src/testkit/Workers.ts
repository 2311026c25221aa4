/**
 * Small ready-made workers for chaos tests and demos.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Actor from "../runtime/Actor.ts"

/**
 * Messages of `pingable`.
 *
 * @since 0.1.0
 * @category models
 */
export type PingMsg = { readonly _tag: "Ping"; readonly reply: Actor.Reply<number> }

/**
 * A worker that answers `Ping` with how many pings it has answered (its state restarts at 0
 * with every restart), and optionally holds a resource whose acquire/release it counts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pingable = (
  label: string,
  resource?: { acquired: number; released: number }
): Actor.Behavior<PingMsg, number> =>
  Actor.make<PingMsg, number>({
    label,
    init: () =>
      resource === undefined
        ? Effect.succeed(0)
        : Effect.as(
          Effect.acquireRelease(Effect.sync(() => resource.acquired++), () => Effect.sync(() => resource.released++)),
          0
        ),
    receive: (message, count) => {
      message.reply.succeed(count + 1)
      return Effect.succeed(count + 1)
    }
  })

/**
 * Pings an actor (a `call` with `timeoutMs`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const ping = (ref: Actor.ActorRef<PingMsg>, timeoutMs = 1_000) =>
  ref.call<number>((reply) => ({ _tag: "Ping", reply }), { timeoutMs })

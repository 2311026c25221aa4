/**
 * The listener (stations): accepts inbound connections on the node's `Transport`, asks the
 * registry whether to admit each one (bans, `maxConnections`, `maxConnectionsPerIp`,
 * `maxHandshakesInFlight`, PROTOCOL.md §3.4 and §14 #14), and starts a connection actor for
 * each admitted one.
 *
 * A refused connection is closed at once with its §3.7 code (`too_many_connections`,
 * `banned`), which travels in the QUIC close: no actor, no stream and no `hello` is spent on it,
 * so a flood from one address costs the station one close per attempt and leaves every other
 * connection alone.
 *
 * Accepting runs in a fiber of the actor; if the transport stops listening the actor crashes
 * and its supervisor restarts it, which listens again on the same socket (same address).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { Connection as TransportConnection } from "../src/platform/transport/Transport.ts"
import { Transport } from "../src/platform/transport/Transport.ts"
import type { CloseName } from "../src/protocols/connection/Codes.ts"
import * as Actor from "../src/runtime/Actor.ts"

/**
 * Wiring of the listener.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The registry's verdict on a new inbound connection. */
  readonly admit: (connection: TransportConnection) => Effect.Effect<
    { readonly ok: true } | { readonly ok: false; readonly code: CloseName; readonly reason: string }
  >
  /** Starts a connection actor for an admitted connection. */
  readonly start: (connection: TransportConnection) => Effect.Effect<void, unknown>
  /** Told the bound address each time the listener (re)starts. */
  readonly onListening?: (address: string) => void
  /** Told about each refusal (for logs and tests). */
  readonly onRefused?: (connection: TransportConnection, code: CloseName, reason: string) => void
}

/**
 * The listener's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "AcceptStopped"; readonly reason: string }
  | { readonly _tag: "Address"; readonly reply: Actor.Reply<string> }

/**
 * The listener's behavior; needs the `Transport`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, { readonly address: string }, Error, Transport> =>
  Actor.make<Msg, { readonly address: string }, Error, Transport>({
    label: "listener",
    init: (ctx) =>
      Effect.gen(function*() {
        const transport = yield* Effect.service(Transport)
        const listener = yield* Effect.mapError(transport.listen, (e) => new Error(`listen: ${e.message}`))
        options.onListening?.(listener.address)
        const scope = yield* Effect.scope
        const acceptOne = Effect.gen(function*() {
          const accepted = yield* Effect.result(listener.accept)
          if (Result.isFailure(accepted)) {
            Actor.tellUrgent(ctx.self, { _tag: "AcceptStopped", reason: accepted.failure._tag })
            return false
          }
          const connection = accepted.success
          const verdict = yield* options.admit(connection)
          if (!verdict.ok) {
            options.onRefused?.(connection, verdict.code, verdict.reason)
            // Close without waiting: the accept loop goes straight on to the next connection.
            yield* Effect.forkIn(connection.close(verdict.code, verdict.reason), scope)
            return true
          }
          const started = yield* Effect.result(options.start(connection))
          if (Result.isFailure(started)) yield* Effect.forkIn(connection.close("normal", "could not start"), scope)
          return true
        })
        let accepting = true
        yield* Effect.forkIn(
          Effect.whileLoop({ while: () => accepting, body: () => acceptOne, step: (more) => (accepting = more) }),
          scope
        )
        return { address: listener.address }
      }),
    receive: (message, state) => {
      switch (message._tag) {
        case "AcceptStopped":
          // The transport stopped listening under us: crash, so the supervisor listens again.
          return Effect.fail(new Error(`listener stopped accepting: ${message.reason}`))
        case "Address":
          message.reply.succeed(state.address)
          return Effect.succeed(state)
      }
    }
  })

/**
 * Test workers for supervisor tests: each records its starts and stops in a shared journal
 * and can be told to exit with any reason.
 */
import * as Effect from "effect/Effect"
import * as Actor from "../../src/runtime/Actor.ts"
import * as ExitReason from "../../src/runtime/ExitReason.ts"

export type WorkerMsg =
  | { readonly _tag: "ExitWith"; readonly reason: ExitReason.ExitReason }
  | { readonly _tag: "Ping"; readonly reply: Actor.Reply<string> }

export interface Journal {
  readonly lines: Array<string>
}

export const journal = (): Journal => ({ lines: [] })

/** A worker named `name` that journals `start:name` / `stop:name` and exits on request. */
export const worker = (
  log: Journal,
  name: string,
  options: { readonly terminateMs?: number; readonly failInit?: () => boolean } = {}
) =>
  Actor.make<WorkerMsg, string, unknown>({
    label: name,
    init: () =>
      Effect.suspend(() => {
        if (options.failInit?.()) return Effect.die(`init of ${name} failed`)
        log.lines.push(`start:${name}`)
        return Effect.succeed(name)
      }),
    receive: (message, state) => {
      switch (message._tag) {
        case "ExitWith":
          return message.reason._tag === "Failure"
            ? Effect.failCause(message.reason.cause)
            : Effect.succeed(Actor.stop(message.reason))
        case "Ping":
          message.reply.succeed(state)
          return Effect.succeed(state)
      }
    },
    terminate: (reason) =>
      Effect.andThen(
        options.terminateMs === undefined ? Effect.void : Effect.sleep(options.terminateMs),
        Effect.sync(() => log.lines.push(`stop:${name}:${reason._tag}`))
      )
  })

export const crash = (error = "boom"): ExitReason.ExitReason => ExitReason.failure(error)

/**
 * Interpreting a step-core's commands in order, cheaply.
 *
 * A core answers each event with a list of commands; most of them finish at once (a frame
 * queued behind a drainer already running, a notice handed to a registry) and their
 * interpreter answers `Effect.void`. Running those in one synchronous loop, and suspending only
 * behind a command with real work, keeps the core's order without an effect per command.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * Runs `commands` in order through `interpret`: commands whose interpretation is `Effect.void`
 * run in one loop; the first one with real work runs before the rest, which follow it.
 *
 * @since 0.1.0
 * @category interpreting
 */
export const runInOrder = <C>(
  commands: ReadonlyArray<C>,
  interpret: (command: C) => Effect.Effect<void>
): Effect.Effect<void> => {
  const from = (index: number): Effect.Effect<void> => {
    let i = index
    while (i < commands.length) {
      const effect = interpret(commands[i++]!)
      if (effect !== Effect.void) {
        if (i === commands.length) return effect
        const next = i
        return Effect.flatMap(effect, () => from(next))
      }
    }
    return Effect.void
  }
  return from(0)
}

import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import * as Commands from "../../../src/runtime/Commands.ts"

/** An interpreter that records what ran: `s` finishes at once, `a` after a yield to the scheduler. */
const recorder = () => {
  const ran: Array<string> = []
  const interpret = (command: string): Effect.Effect<void> =>
    command.startsWith("s")
      ? (ran.push(command), Effect.void)
      : Effect.andThen(Effect.yieldNow, Effect.sync(() => void ran.push(command)))
  return { ran, interpret }
}

describe("Commands.runInOrder", () => {
  it("runs commands that finish at once without returning an effect of its own", () => {
    const { ran, interpret } = recorder()
    const effect = Commands.runInOrder(["s1", "s2", "s3"], interpret)
    expect(ran).toEqual(["s1", "s2", "s3"])
    expect(effect).toBe(Effect.void)
  })

  it("keeps the order when a command with real work sits between others", async () => {
    const { ran, interpret } = recorder()
    const effect = Commands.runInOrder(["s1", "a2", "s3", "a4", "s5"], interpret)
    // Only what precedes the first real work has run before the effect is run.
    expect(ran).toEqual(["s1"])
    await Effect.runPromise(effect)
    expect(ran).toEqual(["s1", "a2", "s3", "a4", "s5"])
  })

  it("runs a trailing command with real work; no commands is Effect.void", async () => {
    const { ran, interpret } = recorder()
    await Effect.runPromise(Commands.runInOrder(["s1", "a2"], interpret))
    expect(ran).toEqual(["s1", "a2"])
    expect(Commands.runInOrder([], interpret)).toBe(Effect.void)
  })
})

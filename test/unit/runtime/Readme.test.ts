/**
 * The README's example, run as written: the code between the markers below is the README's
 * `ts` block without its imports and its last line, and the test checks both that the README
 * still says exactly this and that it prints what the README says it prints.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import { expect, it, vi } from "vitest"
// The package's `macula-node/runtime` entry point.
import { Actor, Supervisor } from "../../../src/runtime/index.ts"

// README example begins
type Msg = { readonly _tag: "Get"; readonly reply: Actor.Reply<number> }

const Clock = Actor.make<Msg, number>({
  init: () => Effect.succeed(0),
  receive: (msg, ticks) => {
    msg.reply.succeed(ticks + 1)
    return Effect.succeed(ticks + 1)
  }
})

const main = Effect.scoped(
  Effect.gen(function*() {
    const root = yield* Supervisor.start({
      strategy: "one_for_one",
      intensity: 3,
      periodMs: 5_000,
      children: [Supervisor.worker("clock", Clock, { name: "clock" })]
    })
    const [clock] = yield* root.whichChildren
    const ticks = yield* (clock!.process as Actor.ActorRef<Msg>).call<number>((reply) => ({ _tag: "Get", reply }))
    console.log(ticks) // 1
  })
)
// README example ends

const between = (text: string, begin: string, end: string): string => {
  const from = text.indexOf(begin)
  const to = text.indexOf(end, from)
  if (from < 0 || to < 0) throw new Error(`no "${begin}" … "${end}" in the text`)
  return text.slice(from + begin.length, to)
}

it("is the README's example", () => {
  const readme = fs.readFileSync(new URL("../../../README.md", import.meta.url), "utf8")
  const block = between(readme, "## A short example\n\n```ts\n", "```\n")
  const ours = between(fs.readFileSync(new URL(import.meta.url), "utf8"), "// README example begins\n", "// README example ends\n")
  expect(block).toBe(
    "import { Effect } from \"effect\"\n" +
      "import { Actor, Supervisor } from \"macula-node/runtime\"\n\n" +
      ours +
      "\nEffect.runPromise(main)\n"
  )
})

it("prints what the README says", async () => {
  const log = vi.spyOn(console, "log").mockImplementation(() => {})
  try {
    await Effect.runPromise(main)
    expect(log.mock.calls).toEqual([[1]])
  } finally {
    log.mockRestore()
  }
})

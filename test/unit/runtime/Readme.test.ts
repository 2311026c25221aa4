/** The README's example, run as written. */
import * as Effect from "effect/Effect"
import { expect, it } from "vitest"
import * as Actor from "../../../src/runtime/Actor.ts"
import * as Supervisor from "../../../src/runtime/Supervisor.ts"

type Msg = { readonly _tag: "Get"; readonly reply: Actor.Reply<number> }

const Clock = Actor.make<Msg, number>({
  init: () => Effect.succeed(0),
  receive: (msg, ticks) => {
    msg.reply.succeed(ticks + 1)
    return Effect.succeed(ticks + 1)
  }
})

it("runs the README example", async () => {
  const main = Effect.scoped(
    Effect.gen(function*() {
      const root = yield* Supervisor.start({
        strategy: "one_for_one",
        intensity: 3,
        periodMs: 5_000,
        children: [Supervisor.worker("clock", Clock, { name: "clock" })]
      })
      const [clock] = yield* root.whichChildren
      return yield* (clock!.process as Actor.ActorRef<Msg>).call<number>((reply) => ({ _tag: "Get", reply }))
    })
  )
  expect(await Effect.runPromise(main)).toBe(1)
})

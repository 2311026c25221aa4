/**
 * The example of docs/guides/application-actors.md, run against a station over loopback QUIC:
 * an actor that counts orders through a scoped subscription and answers a scoped procedure.
 */
import { Effect } from "effect"
import { afterAll, expect, it } from "vitest"
import { MaculaNode, type MeshApi, type SubscriptionEvent } from "../../../src/index.ts"
import * as Actor from "../../../src/runtime/Actor.ts"

type Msg =
  | { readonly _tag: "Order"; readonly event: SubscriptionEvent }
  | { readonly _tag: "Count"; readonly reply: Actor.Reply<number> }

const OrderCounter = (mesh: MeshApi) =>
  Actor.make<Msg, { count: number }>({
    label: "order-counter",
    init: (self) =>
      Effect.gen(function*() {
        // Events enter the actor's mailbox and are handled one at a time, in order.
        yield* mesh.subscribeScoped("io.example/acme/*/orders/#", (event) =>
          void self.self.tell({ _tag: "Order", event }))
        // The handler answers from outside the mailbox; ask the actor with `call` when it needs its state.
        yield* mesh.advertiseScoped("io.example/acme/stats/orders/count_v1", () =>
          Effect.runPromise(self.self.call<number>((reply) => ({ _tag: "Count", reply }))))
        return { count: 0 }
      }).pipe(Effect.orDie), // a refused subscription is a defect here: the supervisor retries
    receive: (msg, state) => {
      switch (msg._tag) {
        case "Order":
          return Effect.succeed({ count: state.count + 1 })
        case "Count":
          msg.reply.succeed(state.count)
          return Effect.succeed(state)
      }
    }
  })

const nodes: Array<MaculaNode> = []
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

it("runs the application-actors guide's example", async () => {
  const knobs = { stationPowBits: 2 }
  const station = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", knobs })
  nodes.push(station)
  const seeds = [`${station.address}#${station.did}`]
  const node = await MaculaNode.start({ role: "client", realm: "io.example", seeds, knobs })
  const other = await MaculaNode.start({ role: "client", realm: "io.example", seeds, knobs })
  nodes.push(node, other)
  await node.spawn("order-counter", OrderCounter(node.mesh))
  for (let i = 0; i < 3; i++) await other.publish("io.example/acme/shop/orders/placed_v1", { i })
  const deadline = Date.now() + 10_000
  let count = 0
  while (count < 3 && Date.now() < deadline) {
    count = (await other.call("io.example/acme/stats/orders/count_v1", null)) as number
    if (count < 3) await new Promise((r) => setTimeout(r, 50))
  }
  expect(count).toBe(3)
}, 60_000)

/**
 * Act: an application actor crashes and recovers. dave (station 2) runs `tick-logger` under his
 * node's application supervisor; in `init` it subscribes (scoped) to the tick topic that alice
 * (station 1) publishes on. A poison message crashes it; the supervisor restarts it, `init` runs
 * again and subscribes again, and the next tick reaches the new incarnation, and only it.
 */
import * as Effect from "effect/Effect"
import type { MeshApi, SubscriptionEvent } from "../../node/Mesh.ts"
import * as Actor from "../../runtime/Actor.ts"
import { type Act, ActFailed, expect, ms, sleep, until } from "./Act.ts"
import type { Member } from "./Cast.ts"

/** What the tick-logger saw: each tick with the incarnation that handled it. */
export interface TickLog {
  /** Incarnations started so far (1 after the first start). */
  generation: number
  readonly received: Array<{ readonly generation: number; readonly n: number; readonly at: number }>
}

/** An empty log, shared by this act and the station-kill act. */
export const tickLog = (): TickLog => ({ generation: 0, received: [] })

/** The topic alice ticks on. */
export const tickTopic = (realm: string): string => `${realm}/acme/clock/time/tick_v1`

type Msg = { readonly _tag: "Tick"; readonly event: SubscriptionEvent } | { readonly _tag: "Poison" }

/** The actor: logs ticks; a poison message crashes it. Its subscription lives as long as it does. */
const tickLogger = (mesh: MeshApi, topic: string, log: TickLog) =>
  Actor.make<Msg, number>({
    label: "tick-logger",
    init: (self) =>
      Effect.gen(function*() {
        const mine = ++log.generation
        yield* mesh.subscribeScoped(topic, (event) => void self.self.tell({ _tag: "Tick", event }))
        return mine
      }).pipe(Effect.orDie),
    receive: (msg, mine) => {
      if (msg._tag === "Poison") return Effect.die(new Error("poison message"))
      const n = (msg.event.payload as { n: number }).n
      return Effect.sync(() => {
        log.received.push({ generation: mine, n, at: Date.now() })
        return mine
      })
    }
  })

/** Publishes `{ n }` on `topic` every `everyMs` from `member` until stopped; returns the stop and the last n. */
export const ticker = (member: Member, topic: string, everyMs = 200) => {
  let n = 0
  let running = true
  const loop = (async () => {
    while (running) {
      await member.node.publish(topic, { n: ++n }).catch(() => undefined) // a tick lost while a link moves is fine
      await new Promise((r) => setTimeout(r, everyMs))
    }
  })()
  return {
    last: () => n,
    stop: async () => {
      running = false
      await loop
    }
  }
}

/** The act, over `log` (which the station-kill act reads after it). */
export const applicationActorAct = (log: TickLog): Act => ({
  title: "An application actor crashes and recovers",
  timeoutMs: 30_000,
  run: async ({ cast, out, signal }) => {
    const { alice, dave, realm } = cast
    const topic = tickTopic(realm)
    const ref = await dave.node.spawn("tick-logger", tickLogger(dave.node.mesh, topic, log))
    out.live(`dave (station 2) runs tick-logger under his node's application supervisor, subscribed to ${topic.split("/").slice(-2).join("/")}`)
    const ticks = ticker(alice, topic)
    try {
      await until("the first tick at tick-logger", () => log.received.length > 0, 20_000, signal)
      out.live(`tick #${log.received[0]!.n} from alice (station 1) reached tick-logger (incarnation 1)`)

      const lifecycleBefore = dave.application.length
      const poisonedAt = Date.now()
      ref.tell({ _tag: "Poison" })
      out.live("sent tick-logger a poison message")
      await until("tick-logger restarted", () => dave.application.slice(lifecycleBefore).some((e) => e.event._tag === "Restarted"), 10_000, signal)
      const events = dave.application.slice(lifecycleBefore)
      const exited = events.find((e) => e.event._tag === "Exited")
      const restarted = events.find((e) => e.event._tag === "Restarted")!
      if (exited !== undefined) out.live(`supervision: ${exited.line}`)
      out.live(`supervision: ${restarted.line} (${ms(restarted.at - poisonedAt)} after the poison)`)
      expect(log.generation === 2, `tick-logger started ${log.generation} times, not 2`)

      await until("a tick at the restarted tick-logger", () => log.received.some((r) => r.generation === 2), 15_000, signal)
      const next = log.received.find((r) => r.generation === 2)!
      out.live(`tick #${next.n} reached incarnation 2, ${ms(next.at - restarted.at)} after the restart: its subscription came back with it`)
      await sleep(400, signal)
      const ns = log.received.map((r) => r.n)
      expect(new Set(ns).size === ns.length, "a tick was delivered twice (the dead incarnation's subscription is still live)")
      const afterCrash = log.received.filter((r) => r.generation === 1 && r.at > restarted.at)
      expect(afterCrash.length === 0, "incarnation 1 received ticks after it crashed")
      const tree = await dave.node.supervisionNow()
      const child = tree.children.find((c) => c.id === "application")?.children?.find((c) => c.id === "tick-logger")
      if (child?.status !== "running") throw new ActFailed({ message: `tick-logger is ${child?.status ?? "missing"} in dave's supervision tree after the restart` })
      out.live(`dave's tree: node › application › tick-logger [${child.status}, pid ${child.pid}]`)
      return `tick-logger crashed, was restarted in ${ms(restarted.at - poisonedAt)} and got ticks again, each once`
    } finally {
      await ticks.stop()
    }
  }
})

/**
 * A client failing over when its station is SIGKILLed (PROTOCOL.md §1 "Client links", §3.6):
 * real `macula station` processes over real QUIC on loopback. The client is given one seed; the
 * stations it can move to are only those its home offered in `hello`. Events flow both ways
 * through the home when it dies (unacknowledged packets make the QUIC close towards a dead peer
 * drain for seconds, which the link must not wait for). The test prints how long the move took
 * and the link's events with their times (so a slow phase shows where it is), and asserts only
 * a generous bound: the machine may be loaded. Every child is killed in afterAll.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import { station, until, within } from "../support/stations.ts"
import { MaculaNode, type NodeEvent } from "../../src/node/index.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []
const nodes: Array<MaculaNode> = []

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)))
  killAll(children)
})

describe("client fail-over", () => {
  it("moves a client with one seed to a station its home offered in hello after a SIGKILL", async () => {
    const home = await station(bundle, children, ["--listen", "127.0.0.1:0"])
    const other = await station(bundle, children, ["--listen", "127.0.0.1:0", "--seed", home.seed])
    // The home offers only stations SWIM holds alive, so wait for the pair to see each other.
    await until(
      "stations linked",
      () =>
        home.stderr().includes(`membership: ${other.did} alive`) &&
        other.stderr().includes(`membership: ${home.did} alive`),
      30_000,
      other
    )
    let killedAt = 0
    const timeline: Array<string> = []
    const onEvent = (event: NodeEvent) => {
      if (event._tag !== "Link" || killedAt === 0) return
      const e = event.event
      const bare = (url: string) => url.replace(/#.*/, "")
      const what = "seed" in e
        ? `${e._tag} ${bare(e.seed)}`
        : e._tag === "FailingOver"
        ? `FailingOver → ${bare(e.to)}`
        : `${e._tag} ${e.delayMs} ms`
      timeline.push(`+${Date.now() - killedAt} ms ${what}`)
    }
    const client = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [home.seed] }, { onEvent })
    nodes.push(client)
    expect(client.home()?.did).toBe(home.did)
    expect(client.home()?.offeredPeers).toBeGreaterThanOrEqual(1)
    // Traffic through the home: the client publishes every 50 ms and gets its own events back.
    const topic = "io.example/acme/test/ticks/tick_v1"
    let received = 0
    const sub = await client.subscribe(topic, () => void received++)
    let publishing = true
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        void client.publish(topic, { n }).catch(() => undefined)
        await new Promise((r) => setTimeout(r, 50))
      }
    })()
    let movedMs: number
    try {
      await until("events flowing through the home", () => received >= 5, 15_000)
      home.child.kill("SIGKILL")
      killedAt = Date.now()
      movedMs = await within("fail-over", 30_000, (async () => {
        while (client.home()?.did !== other.did) await new Promise((r) => setTimeout(r, 25))
        return Date.now() - killedAt
      })())
    } finally {
      publishing = false
      await publisher
    }
    console.info(`client failed over to an offered station ${movedMs} ms after the SIGKILL\n  ${timeline.join("\n  ")}`)
    expect(client.home()).toMatchObject({ did: other.did, failovers: 1 })
    // §16 defaults: ≤ 4 s to notice, 1 s of redials, one loopback dial. Generous for a loaded machine.
    expect(movedMs).toBeLessThan(15_000)
    // The subscription was replayed on the new station: an event published now comes back.
    const before = received
    await client.publish(topic, { after: true })
    await until("an event through the new station", () => received > before, 15_000)
    await sub.unsubscribe()
    await client.stop()
  }, 120_000)
})

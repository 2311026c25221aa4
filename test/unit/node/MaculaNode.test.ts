/**
 * The node facade and the Effect API over real QUIC on loopback, in one process: a station and a
 * client attach, the tree has the §15 shape and stops in reverse order, user actors run under the
 * application supervisor, membership links two stations, and every failure is typed
 * (`ConfigError`, `ConnectionLost`, `NodeStopped`, `NotImplemented` for pub/sub on a station,
 * `McidError` for a malformed MCID).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as Actor from "../../../src/runtime/Actor.ts"
import type { LifecycleEvent } from "../../../src/runtime/Lifecycle.ts"
import { MaculaNode, Mesh } from "../../../src/node/index.ts"
import type { NodeEvent } from "../../../src/node/index.ts"
import * as Supervision from "../../../src/node/Supervision.ts"

const fast = { stationPowBits: 2 } as const
const nodes: Array<MaculaNode> = []
const track = (node: MaculaNode) => (nodes.push(node), node)
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

const ids = (children: ReadonlyArray<Supervision.SupervisionNode>) => children.map((c) => c.id)

type CounterMsg = { readonly _tag: "Add"; readonly n: number } | { readonly _tag: "Get"; readonly reply: Actor.Reply<number> }
const Counter = Actor.make<CounterMsg, number>({
  init: () => Effect.succeed(0),
  receive: (msg, total) => {
    if (msg._tag === "Add") return Effect.succeed(total + msg.n)
    msg.reply.succeed(total)
    return Effect.succeed(total)
  }
})

describe("MaculaNode", () => {
  it("starts a station and a client that attaches to it, each with the §15 tree", async () => {
    const station = track(await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", knobs: fast }))
    expect(station.address).toMatch(/^quic:\/\/127\.0\.0\.1:\d+$/)
    expect(station.address).not.toBe("quic://127.0.0.1:0")
    expect(station.did).toMatch(/^did:key:z6Mk/)
    const client = track(await MaculaNode.start({ role: "client", realm: "io.example", seeds: [`${station.address}#${station.did}`], knobs: fast }))
    expect(client.address).toBeUndefined()
    expect(client.home()).toMatchObject({ did: station.did, remoteAddress: station.address, impl: "macula-node/0.1.0", failovers: 0 })
    const stationTree = await station.supervisionNow()
    expect(ids(stationTree.children)).toEqual(["identity", "transport", "membership", "dht", "routing", "content", "application"])
    expect(ids(Supervision.find(stationTree.children, "transport")!.children!)).toEqual(["registry", "connections", "listener"])
    const clientTree = await client.supervisionNow()
    expect(ids(clientTree.children)).toEqual(["identity", "transport", "routing", "content", "application"])
    expect(Supervision.find(clientTree.children, "station-link")?.status).toBe("running")
    const peers = await station.connections()
    expect(peers).toEqual([expect.objectContaining({ did: client.did, role: "client", direction: "inbound", phase: "ready" })])
    expect(Supervision.render(clientTree, { pids: false })).toContain("└─ application [running] supervisor, permanent")
  }, 60_000)

  it("runs user actors under the application supervisor and stops the tree in reverse order", async () => {
    const events: Array<LifecycleEvent> = []
    const station = track(await MaculaNode.start(
      { role: "station", listen: "127.0.0.1:0", knobs: fast },
      { onEvent: (e: NodeEvent) => void (e._tag === "Lifecycle" && events.push(e.event)) }
    ))
    const counter = await station.spawn("counter", Counter)
    await Effect.runPromise(counter.cast({ _tag: "Add", n: 5 }))
    expect(await Effect.runPromise(counter.call<number>((reply) => ({ _tag: "Get", reply })))).toBe(5)
    const application = Supervision.find((await station.supervisionNow()).children, "application")!
    expect(ids(application.children!)).toEqual(["counter"])
    await expect(station.publish("io.example/_realm/_realm/d/n_v1", 1)).rejects.toMatchObject({ _tag: "NotImplemented", operation: "publish" })
    await expect(station.call("p", {})).rejects.toMatchObject({ _tag: "NotImplemented" })
    await station.stop()
    const order = events.flatMap((e) => (e._tag === "ShutDown" && e.supervisor === "node" ? [e.child] : []))
    expect(order).toEqual(["application", "content", "routing", "dht", "membership", "transport", "identity"])
    expect(counter.isAlive()).toBe(false)
    await expect(station.spawn("again", Counter)).rejects.toMatchObject({ _tag: "NodeStopped" })
    await expect(station.publish("t", 1)).rejects.toMatchObject({ _tag: "NodeStopped" })
    await station.stop() // idempotent
  }, 60_000)

  it("keeps a station's key in its data directory, owner-only, across restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "node-data-"))
    try {
      const first = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", dataDir: dir, knobs: fast })
      await first.stop()
      expect(statSync(join(dir, "identity.key")).mode & 0o777).toBe(0o600)
      const second = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", dataDir: dir, knobs: fast })
      await second.stop()
      expect(second.did).toBe(first.did)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("fails typed: ConfigError for a bad config or a busy port, ConnectionLost when no seed answers", async () => {
    await expect(MaculaNode.start({ role: "client" })).rejects.toMatchObject({ _tag: "ConfigError", problems: ["a client needs at least one seed"] })
    const station = track(await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", knobs: fast }))
    const port = station.address!.split(":").pop()
    const busy = await MaculaNode.start({ role: "station", listen: `127.0.0.1:${port}`, knobs: fast }).catch((e: unknown) => e)
    expect(busy).toMatchObject({ _tag: "ConfigError" })
    expect(String((busy as Error).message)).toContain("listen")
    const lost = await MaculaNode.start({ role: "client", seeds: ["quic://127.0.0.1:9"], knobs: { connectTimeoutMs: 1_500 } }).catch((e: unknown) => e)
    expect(lost).toMatchObject({ _tag: "ConnectionLost", code: "unreachable" })
  }, 60_000)

  it("links two stations through SWIM membership", async () => {
    const knobs = { ...fast, probeIntervalMs: 200, probeTimeoutMs: 80, pushPullIntervalMs: 1_000 }
    const a = track(await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", knobs }))
    const b = track(await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", seeds: [`${a.address}#${a.did}`], knobs }))
    const aliveIn = async (node: MaculaNode) =>
      ((await node.membership())?.members ?? []).filter((m) => m.status === "alive").map((m) => m.did)
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline && !((await aliveIn(a)).includes(b.did) && (await aliveIn(b)).includes(a.did))) {
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(await aliveIn(a)).toContain(b.did)
    expect(await aliveIn(b)).toContain(a.did)
    // The ready station connection also put each in the other's routing table.
    const contacts = async () => (await a.dht())?.contacts ?? 0
    for (let i = 0; i < 100 && (await contacts()) === 0; i++) await new Promise((r) => setTimeout(r, 100))
    expect(await contacts()).toBeGreaterThanOrEqual(1)
  }, 60_000)

  it("offers the same node as a Mesh layer for Effect programs", async () => {
    const program = Effect.gen(function*() {
      const mesh = yield* Mesh
      const tree = yield* mesh.supervision
      const failure = yield* Effect.flip(mesh.getContent("b"))
      return { did: mesh.did, role: mesh.role, children: ids(tree.children), failure: failure._tag }
    })
    const result = await Effect.runPromise(Effect.provide(program, MaculaNode.layer({ role: "station", listen: "127.0.0.1:0", knobs: fast })))
    expect(result).toMatchObject({ role: "station", children: ["identity", "transport", "membership", "dht", "routing", "content", "application"], failure: "McidError" })
    expect(result.did).toMatch(/^did:key:z6Mk/)
  }, 60_000)
})

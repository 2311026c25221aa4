/**
 * Pub/sub and RPC across two stations, as real processes over real QUIC on loopback (API.md
 * "CLI", PROTOCOL.md §8, §9): a `macula sub` with a wildcard pattern on station A receives what
 * publishers attached to station B publish, in per-publisher order and once each; an invalid
 * topic or pattern, and a publish into a realm pinned to an authority without a capability, are
 * refused with one line; a procedure advertised by a client of A is called
 * with `macula call` through B; a call nobody serves fails with "no provider".
 *
 * The CLI is bundled once from the sources, as in station.int.ts. The publisher of the ordered
 * run and the provider are in-process client nodes (the CLI publishes one event per process and
 * has no advertise command). Every step has a hard timeout; every child is killed in afterAll.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import * as Stations from "../support/stations.ts"
import type { Proc } from "../support/stations.ts"
import { Identity } from "../../src/identity/Identity.ts"
import { MaculaNode } from "../../src/node/index.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []
const nodes: Array<MaculaNode> = []

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  killAll(children)
})

const launch = (args: ReadonlyArray<string>): Proc => Stations.launch(bundle, children, args)
const macula = (args: ReadonlyArray<string>, ms?: number) => Stations.run(bundle, children, args, ms)
const station = (args: ReadonlyArray<string>) => Stations.station(bundle, children, args)
const { until, within } = Stations

interface Line {
  readonly topic: string
  readonly payload: Record<string, unknown>
  readonly publisher: string
  readonly seq: number
  readonly ts: number
}

const realm = "io.example"
const orders = `${realm}/acme/shop/orders/placed_v1`

describe("pub/sub and RPC across two stations", () => {
  it("routes events and calls between clients of different stations, and refuses what is wrong", async () => {
    const locked = Identity.generate().did
    const a = await station(["--listen", "127.0.0.1:0", "--authority", `io.locked=${locked}`])
    const b = await station(["--listen", "127.0.0.1:0", "--seed", a.seed])
    // B dialled A: the stations are linked once each sees the other alive.
    await until("stations linked", () => a.stderr().includes(`membership: ${b.did} alive`) && b.stderr().includes(`membership: ${a.did} alive`), 20_000, b)

    // A subscriber on A, with a wildcard pattern.
    const sub = launch(["sub", "--seed", a.seed, "--realm", realm, `${realm}/acme/*/orders/#`])
    await until("subscribed", () => sub.stderr().includes("subscribed to"), 20_000, sub)
    const lines = (): Array<Line> =>
      sub.stdout().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Line)

    // A publisher on B: warm-up events until A's interest has reached B, then 30 numbered ones.
    const publisher = await MaculaNode.start({ role: "client", realm, seeds: [b.seed], knobs: { stationPowBits: 8 } })
    nodes.push(publisher)
    await within("interest reaches B", 20_000, (async () => {
      while (lines().length === 0) {
        await publisher.publish(orders, { warmUp: true })
        await new Promise((r) => setTimeout(r, 200))
      }
    })())
    for (let n = 1; n <= 30; n++) await publisher.publish(orders, { n })
    await publisher.publish(`${realm}/acme/shop/stock/changed_v1`, { n: -1 }) // not matched by the pattern
    // And one from the CLI, attached to B.
    const pub = await macula(["pub", "--seed", b.seed, "--realm", realm, orders, '{"from":"cli"}'])
    expect(pub).toMatchObject({ code: 0, stdout: "" })

    await until("31 events", () => lines().filter((l) => l.payload["n"] !== undefined || l.payload["from"] === "cli").length >= 31, 15_000, sub)
    await new Promise((r) => setTimeout(r, 500))
    const got = lines()
    for (const line of got) {
      expect(Object.keys(line).sort()).toEqual(["payload", "publisher", "seq", "topic", "ts"])
      expect(line.topic.startsWith(`${realm}/acme/shop/orders/`)).toBe(true)
    }
    const fromPublisher = got.filter((l) => l.publisher === publisher.did)
    expect(fromPublisher.filter((l) => l.payload["n"] !== undefined).map((l) => l.payload["n"])).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1)
    )
    // Per-publisher order and no duplicates: seq strictly increasing.
    const seqs = fromPublisher.map((l) => l.seq)
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(got.filter((l) => l.payload["from"] === "cli")).toHaveLength(1)
    expect(sub.stdout().split("\n").every((l) => l === "" || l.startsWith("{"))).toBe(true)

    // Invalid topics and patterns: exit 1, one line saying so.
    const [badTopic, badPattern] = await Promise.all([
      macula(["pub", "--seed", b.seed, "--realm", realm, `${realm}/acme/shop/orders/placed`, "{}"]),
      macula(["sub", "--seed", a.seed, "--realm", realm, `${realm}/#/orders`])
    ])
    expect(badTopic.code).toBe(1)
    expect(badTopic.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^macula pub: invalid topic "io\.example\/acme\/shop\/orders\/placed": missing_version_suffix/)
    ])
    expect(badPattern.code).toBe(1)
    expect(badPattern.stderr.trim().split("\n").at(-1)).toMatch(/^macula sub: invalid pattern "io\.example\/#\/orders": invalid_pattern/)
    // A realm pinned to an authority at A refuses a client without a capability.
    const refused = await macula(["pub", "--seed", a.seed, "--realm", "io.locked", "io.locked/_realm/_realm/d/n_v1", "1"])
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim().split("\n")).toEqual([
      "macula pub: refused by the station: unauthorized (UnavailableProof); the realm needs a capability and none was presented"
    ])

    // RPC: provided by a client of A, called through B.
    const provider = await MaculaNode.start({ role: "client", realm, seeds: [a.seed], knobs: { stationPowBits: 8 } })
    nodes.push(provider)
    const add = `${realm}/acme/calc/math/add_v1`
    await provider.advertise(add, (args) => {
      const { a: x, b: y } = args as { a: number; b: number }
      return { sum: x + y, by: provider.did }
    })
    const call = await macula(["call", "--seed", b.seed, "--realm", realm, add, '{"a":2,"b":3}', "--timeout", "10000"])
    expect(call.stderr).toBe("")
    expect(call.code).toBe(0)
    expect(JSON.parse(call.stdout)).toEqual({ sum: 5, by: provider.did })

    const none = await macula(["call", "--seed", b.seed, "--realm", realm, `${realm}/acme/calc/math/missing_v1`, "{}"])
    expect(none.code).toBe(1)
    expect(none.stderr.trim().split("\n")).toEqual([`macula call: no provider: nobody advertises ${realm}/acme/calc/math/missing_v1`])

    sub.child.kill("SIGTERM")
    expect((await within("sub stops", 15_000, sub.exited)).code).toBe(0)
    a.child.kill("SIGTERM")
    b.child.kill("SIGTERM")
    await within("stations stop", 20_000, Promise.all([a.exited, b.exited]))
  }, 90_000)
})

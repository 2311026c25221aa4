/**
 * Realm capabilities end to end, as real processes over real QUIC on loopback (PROTOCOL.md
 * §13.4, docs/guides/realms.md): `macula realm keygen` makes an authority and the clients' keys
 * (a node key file in each client's `--data` directory), `macula realm issue` delegates to the
 * clients, two stations pin the realm with `--authority`, and then
 *
 * - `macula sub --cap` receives what `macula pub --cap` publishes;
 * - without `--cap` both are refused with the Unauthorized line; a capability for the topics
 *   `io.example/acme/#` does not allow publishing on `io.example/other/…`;
 * - `macula call --cap` through the second station reaches an in-process provider that
 *   advertised at the first with its own capabilities, and is refused without one;
 * - a `macula sub --cap` attached to the first station fails over to the second when the first is
 *   SIGKILLed, presents its capability there again with the replayed subscription, and receives
 *   what is published at the second;
 * - an unreadable or malformed `--cap` file is a wrong command line (exit 2, one line).
 *
 * The CLI is bundled once from the sources; every step has a generous timeout; every child is
 * killed and the temporary directory removed in afterAll.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Capabilities from "../../src/cli/Capabilities.ts"
import { Identity } from "../../src/identity/Identity.ts"
import { MaculaNode } from "../../src/node/index.ts"
import { bundled, killAll } from "../support/cli.ts"
import * as Stations from "../support/stations.ts"
import type { Proc } from "../support/stations.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []
const nodes: Array<MaculaNode> = []
const dir = mkdtempSync(join(tmpdir(), "macula-realm-caps-"))

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  killAll(children)
  rmSync(dir, { recursive: true, force: true })
})

const launch = (args: ReadonlyArray<string>): Proc => Stations.launch(bundle, children, args)
const macula = (args: ReadonlyArray<string>, ms?: number) => Stations.run(bundle, children, args, ms)
const station = (args: ReadonlyArray<string>) => Stations.station(bundle, children, args)
const { until, within } = Stations

/** A key made by `macula realm keygen -o PATH`; returns its DID (stdout). */
const keygen = async (path: string): Promise<string> => {
  const made = await macula(["realm", "keygen", "-o", path])
  expect(made.code).toBe(0)
  return made.stdout.trim()
}

/** A client's data directory with its node key, made by keygen (the key file format is shared). */
const client = async (name: string) => {
  const data = join(dir, name)
  return { data, did: await keygen(join(data, "identity.key")) }
}

/** `macula realm issue … -o FILE` for `to`; returns FILE. */
const issue = async (to: string, file: string, extra: ReadonlyArray<string>): Promise<string> => {
  const path = join(dir, file)
  const issued = await macula(["realm", "issue", "--authority-key", join(dir, "authority.key"), "--to", to, ...extra, "-o", path])
  expect(issued.code).toBe(0)
  return path
}

const realm = "io.example"
const orders = `${realm}/acme/shop/orders/placed_v1`
const elsewhere = `${realm}/other/shop/orders/placed_v1`
const add = `${realm}/acme/calc/math/add_v1`

const eventsOf = (p: Proc): Array<{ readonly topic: string; readonly payload: Record<string, unknown>; readonly publisher: string }> =>
  p.stdout().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l))

describe("realm capabilities presented by clients", () => {
  it("lets clients with --cap in, refuses those without, and re-presents after a fail-over", async () => {
    const authority = await keygen(join(dir, "authority.key"))
    const [alice, bob, carol] = await Promise.all([client("alice"), client("bob"), client("carol")])
    const [aliceCap, bobCap, carolCap] = await Promise.all([
      issue(alice.did, "alice.ucan", ["--topics", `${realm}/acme/#`]),
      issue(bob.did, "bob.ucan", ["--topics", `${realm}/acme/#`]),
      issue(carol.did, "carol.ucan", ["--realm", realm, "--commands", "call"])
    ])

    const a = await station(["--listen", "127.0.0.1:0", "--authority", `${realm}=${authority}`])
    const b = await station(["--listen", "127.0.0.1:0", "--authority", `${realm}=${authority}`, "--seed", a.seed])
    await until("stations linked", () => a.stderr().includes(`membership: ${b.did} alive`) && b.stderr().includes(`membership: ${a.did} alive`), 30_000, b)

    // Alice subscribes at A with her capability; A is her first seed, B her fail-over.
    const sub = launch(["sub", "--seed", a.seed, "--seed", b.seed, "--realm", realm, "--data", alice.data, "--cap", aliceCap, `${realm}/acme/#`])
    await until("subscribed", () => sub.stderr().includes("subscribed to"), 30_000, sub)
    expect(sub.stderr()).not.toContain("note:")

    // Bob publishes at A with his: Alice receives it.
    const pub = await macula(["pub", "--seed", a.seed, "--realm", realm, "--data", bob.data, "--cap", bobCap, orders, '{"n":1}'])
    expect(pub).toMatchObject({ code: 0, stdout: "", stderr: "" })
    await until("event at alice", () => eventsOf(sub).length >= 1, 15_000, sub)
    expect(eventsOf(sub)[0]).toMatchObject({ topic: orders, payload: { n: 1 }, publisher: bob.did })

    // Without a capability: refused, one line each. Bob's own key too: his grant died with the
    // connection that presented it (§13.4).
    const [pubBare, subBare] = await Promise.all([
      macula(["pub", "--seed", a.seed, "--realm", realm, "--data", bob.data, orders, '{"n":2}']),
      macula(["sub", "--seed", a.seed, "--realm", realm, `${realm}/acme/#`])
    ])
    for (const [refused, command] of [[pubBare, "pub"], [subBare, "sub"]] as const) {
      expect(refused.code).toBe(1)
      expect(refused.stderr.trim().split("\n").at(-1)).toBe(
        `macula ${command}: refused by the station: unauthorized (UnavailableProof); the realm needs a capability and none was presented`
      )
    }
    // A capability for io.example/acme/# does not cover io.example/other/…
    const outside = await macula(["pub", "--seed", a.seed, "--realm", realm, "--data", bob.data, "--cap", bobCap, elsewhere, '{"n":3}'])
    expect(outside.code).toBe(1)
    expect(outside.stderr.trim().split("\n")).toEqual([
      `macula pub: refused by the station: unauthorized (UnavailableProof); no --cap delegation of this client covers ${elsewhere}`
    ])
    // Someone else's capability file leads nowhere: the client says so, and is refused.
    const stolen = await macula(["pub", "--seed", a.seed, "--realm", realm, "--cap", bobCap, orders, '{"n":4}'])
    expect(stolen.code).toBe(1)
    expect(stolen.stderr).toMatch(/^note: no --cap delegation leads to this client \(did:key:z6Mk\w+\); it presents none/)

    // RPC: an in-process provider at A, advertised with its own capability; Carol calls through B.
    const providerKey = Identity.generate()
    const providerCap = await issue(providerKey.did, "provider.ucan", ["--realm", realm, "--commands", "advertise"])
    const provider = await MaculaNode.start({
      role: "client", realm, identity: providerKey, seeds: [a.seed],
      capabilities: Capabilities.decode(readFileSync(providerCap)), knobs: { stationPowBits: 8 }
    })
    nodes.push(provider)
    await provider.advertise(add, (args) => {
      const { a: x, b: y } = args as { a: number; b: number }
      return { sum: x + y, by: provider.did }
    })
    const call = await macula(["call", "--seed", b.seed, "--realm", realm, "--data", carol.data, "--cap", carolCap, add, '{"a":2,"b":3}', "--timeout", "15000"])
    expect(call.stderr).toBe("")
    expect(call.code).toBe(0)
    expect(JSON.parse(call.stdout)).toEqual({ sum: 5, by: provider.did })
    const callBare = await macula(["call", "--seed", b.seed, "--realm", realm, add, '{"a":2,"b":3}'])
    expect(callBare.code).toBe(1)
    expect(callBare.stderr.trim().split("\n").at(-1)).toMatch(/^macula call: refused by the station: unauthorized \(UnavailableProof\)/)
    // A provider without a capability cannot advertise.
    const stranger = await MaculaNode.start({ role: "client", realm, seeds: [a.seed], knobs: { stationPowBits: 8 } })
    nodes.push(stranger)
    await expect(stranger.advertise(`${realm}/acme/calc/math/sub_v1`, () => 0)).rejects.toMatchObject({
      _tag: "Unauthorized", reason: "UnavailableProof"
    })

    // Bad capability files: a wrong command line.
    const garbage = join(dir, "garbage.ucan")
    writeFileSync(garbage, "not a capability")
    const [missing, malformed] = await Promise.all([
      macula(["pub", "--seed", a.seed, "--realm", realm, "--cap", join(dir, "missing.ucan"), orders, "{}"]),
      macula(["pub", "--seed", a.seed, "--realm", realm, "--cap", garbage, orders, "{}"])
    ])
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^macula: pub: --cap \S+missing\.ucan: cannot read: ENOENT$/)])
    expect(malformed.code).toBe(2)
    expect(malformed.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^macula: pub: --cap \S+garbage\.ucan: not a capability file/)])

    // Fail-over: A dies; Alice's client moves to B and replays her subscription with a new
    // invocation addressed to B (B would refuse it without one), so Bob's publish at B reaches her.
    a.child.kill("SIGKILL")
    await until("alice failed over to B", () => sub.stderr().includes(`link: attached to ${b.did}`), 30_000, sub)
    const before = eventsOf(sub).length
    await within("publish at B reaches alice", 30_000, (async () => {
      // The replayed `sub` may still be on its way: publish until one arrives.
      for (let n = 10; eventsOf(sub).length === before; n++) {
        const again = await macula(["pub", "--seed", b.seed, "--realm", realm, "--data", bob.data, "--cap", bobCap, orders, JSON.stringify({ n })])
        expect(again.code).toBe(0)
        await new Promise((r) => setTimeout(r, 300))
      }
    })())
    expect(eventsOf(sub).at(-1)).toMatchObject({ topic: orders, publisher: bob.did })

    sub.child.kill("SIGTERM")
    expect((await within("sub stops", 15_000, sub.exited)).code).toBe(0)
    b.child.kill("SIGTERM")
    await within("station stops", 20_000, b.exited)
  }, 240_000)
})

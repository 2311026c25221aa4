/**
 * `servedRealms` end to end (PROTOCOL.md §1, §3.4, §9.4 code 5, §10.3), over real QUIC on
 * loopback with in-process nodes: station S serves only `io.served`, station T (linked to S)
 * serves every realm. Shown: a client of `io.served` at S advertises and is called as usual; a
 * client of `io.other` at S is refused `realm_refused` — a typed `RemoteError` — for subscribe,
 * publish, advertise and call alike; S's `hello` and its `station` record in the DHT (looked up
 * from T) list exactly the served realm; a bad realm name is a `ConfigError` before anything
 * starts.
 *
 * Every node is stopped in afterAll.
 */
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, it } from "vitest"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import * as Did from "../../src/identity/Did.ts"
import * as Realm from "../../src/identity/Realm.ts"
import { ConfigError, MaculaNode } from "../../src/node/index.ts"
import * as StationRecord from "../../src/protocols/dht/StationRecord.ts"

const nodes: Array<MaculaNode> = []
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)))
}, 60_000)

const start = async (config: Parameters<typeof MaculaNode.start>[0], hooks?: Parameters<typeof MaculaNode.start>[1]) => {
  const node = await MaculaNode.start(config, hooks)
  nodes.push(node)
  return node
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("servedRealms", () => {
  it("refuses a bad realm name with a ConfigError", async () => {
    await expect(MaculaNode.start({ role: "station", listen: "127.0.0.1:0", servedRealms: ["Not A Realm"] }))
      .rejects.toBeInstanceOf(ConfigError)
  })

  it("serves only the listed realm and refuses clients of any other with realm_refused", async () => {
    let tDht: DhtSupervisor.Dht | undefined
    const s = await start({ role: "station", listen: "127.0.0.1:0", servedRealms: ["io.served"] })
    const sSeed = `${s.address}#${s.did}`
    await start({ role: "station", listen: "127.0.0.1:0", seeds: [sSeed] }, { onDht: (d) => (tDht = d) })

    const member = await start({ role: "client", realm: "io.served", seeds: [sSeed] })
    expect(member.home()?.realms).toEqual([Realm.idHex("io.served")])
    const echo = "io.served/acme/calc/math/echo_v1"
    await member.advertise(echo, (args) => args)
    expect(await member.call(echo, { n: 1 }, { timeoutMs: 15_000 })).toEqual({ n: 1 })

    const stranger = await start({ role: "client", realm: "io.other", seeds: [sSeed] })
    const refused = { _tag: "RemoteError", code: "realm_refused" }
    await expect(stranger.subscribe("io.other/acme/app/d/news_v1", () => undefined)).rejects.toMatchObject(refused)
    await expect(stranger.publish("io.other/acme/app/d/news_v1", 1)).rejects.toMatchObject(refused)
    await expect(stranger.advertise("io.other/acme/calc/math/echo_v1", (a) => a)).rejects.toMatchObject(refused)
    await expect(stranger.call("io.other/acme/calc/math/echo_v1", 1, { timeoutMs: 15_000 })).rejects.toMatchObject(refused)
    // Refusals cost the client nothing: its link to S stands and the served member still works.
    expect(stranger.home()?.did).toBe(s.did)
    expect(await member.call(echo, 2, { timeoutMs: 15_000 })).toBe(2)

    // S's own station record, found from T, lists the served realm.
    const sKey = Did.toPublicKey(s.did)
    const config = { sha256: DhtRpc.sha256, clockSkewLeewayMs: 60_000 }
    const deadline = Date.now() + 60_000
    let realms: ReadonlyArray<string> | undefined
    while (realms === undefined) {
      const found = await Effect.runPromise(tDht!.findValue(StationRecord.key(config, sKey), "station"))
      const own = StationRecord.latestPerSigner(config, found.records.map((r) => r.body).filter((b) => b.ty === "station"), Date.now())[0]
      if (own?.ty === "station") realms = own.d.realms.map((r) => Realm.toHex(r))
      else if (Date.now() > deadline) throw new Error("S's station record was not found from T within 60 s")
      else await sleep(250)
    }
    expect(realms).toEqual([Realm.idHex("io.served")])
  }, 180_000)
})

/**
 * `servedRealms` end to end (PROTOCOL.md §1, §3.4, §9.4 code 5, §10.3), over real QUIC on
 * loopback with in-process nodes: station S serves only `io.served`, station T (linked to S)
 * serves every realm. Shown: a client of `io.served` at S advertises and is called as usual; a
 * client of `io.other` at S is refused `realm_refused` — a typed `RemoteError` — for subscribe,
 * publish, advertise and call alike (its only seed refuses its realm, so its link stays there and
 * says so: `NoStationServesRealm`); S's `hello` and its `station` record in the DHT (looked up
 * from T) list exactly the served realm; a client of `io.other` seeded with S first and T second
 * passes S over (`RealmRefused`) and subscribes, publishes, advertises and is called through T; a
 * bad realm name is a `ConfigError` before anything starts.
 *
 * Every node is stopped in afterAll.
 */
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, it } from "vitest"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import * as Did from "../../src/identity/Did.ts"
import * as Realm from "../../src/identity/Realm.ts"
import { ConfigError, MaculaNode, type NodeEvent } from "../../src/node/index.ts"
import type * as StationLink from "../../src/node/StationLink.ts"
import * as StationRecord from "../../src/protocols/dht/StationRecord.ts"
import { nodeSet } from "../support/nodes.ts"

const { start, stopAll } = nodeSet()
afterAll(async () => {
  await stopAll()
}, 60_000)

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
    const t = await start({ role: "station", listen: "127.0.0.1:0", seeds: [sSeed] }, { onDht: (d) => (tDht = d) })
    const tSeed = `${t.address}#${t.did}`
    const linkEvents = (into: Array<StationLink.LinkEvent>) => ({
      onEvent: (e: NodeEvent) => void (e._tag === "Link" && into.push(e.event))
    })

    const member = await start({ role: "client", realm: "io.served", seeds: [sSeed] })
    expect(member.home()?.realms).toEqual([Realm.idHex("io.served")])
    const echo = "io.served/acme/calc/math/echo_v1"
    await member.advertise(echo, (args) => args)
    expect(await member.call(echo, { n: 1 }, { timeoutMs: 15_000 })).toEqual({ n: 1 })

    const strangerLink: Array<StationLink.LinkEvent> = []
    const stranger = await start({ role: "client", realm: "io.other", seeds: [sSeed] }, linkEvents(strangerLink))
    expect(strangerLink).toContainEqual({ _tag: "NoStationServesRealm", realm: "io.other", seed: sSeed, did: s.did })
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

    // A client of io.other seeded with S first and T second passes S over and works through T.
    const moverLink: Array<StationLink.LinkEvent> = []
    const mover = await start({ role: "client", realm: "io.other", seeds: [sSeed, tSeed] }, linkEvents(moverLink))
    expect(mover.home()?.did).toBe(t.did)
    expect(moverLink).toContainEqual({ _tag: "RealmRefused", seed: sSeed, index: 0, did: s.did })
    expect(moverLink.some((e) => e._tag === "NoStationServesRealm")).toBe(false)
    const peer = await start({ role: "client", realm: "io.other", seeds: [tSeed] })
    const news = "io.other/acme/app/d/news_v1"
    const got: Array<unknown> = []
    await mover.subscribe(news, (e) => void got.push(e.payload))
    const deadline2 = Date.now() + 30_000
    for (let n = 1; got.length === 0; n++) {
      if (Date.now() > deadline2) throw new Error("the mover received nothing within 30 s")
      await peer.publish(news, { n })
      await sleep(200)
    }
    await mover.publish(news, { from: "mover" })
    const otherEcho = "io.other/acme/calc/math/echo_v1"
    await mover.advertise(otherEcho, (args) => args)
    expect(await peer.call(otherEcho, { m: 1 }, { timeoutMs: 15_000 })).toEqual({ m: 1 })
  }, 180_000)
})

/**
 * A station's own `station` record through the DHT subtree of six stations over the simulated
 * network, on `TestClock` (PROTOCOL.md §10.3, §10.4, §15.2): published at start and found from
 * another station with the station's address; re-signed (higher `seq`, later `exp`) before it
 * lapses; published again at once when the station's addresses change.
 */
import * as Effect from "effect/Effect"
import { describe, expect } from "vitest"
import type { Identity } from "../../../src/identity/Identity.ts"
import * as SignedRecord from "../../../src/node/SignedRecord.ts"
import * as StationRecord from "../../../src/protocols/dht/StationRecord.ts"
import type { StationRecordBody } from "../../../src/wire/SignedBody.ts"
import { effect } from "../../support/it.ts"
import { advance, drive, mesh, type Node, sha256 } from "./DhtMesh.ts"

const ttl = 20_000
const config = { sha256, clockSkewLeewayMs: 60_000 }

/** What each station says, by address: mutable, so a test can move a station. */
const said = new Map<string, ReadonlyArray<string>>()
const station = (address: string, who: Identity) => {
  said.set(address, [address])
  return {
    content: Effect.sync(() => ({ a: said.get(address) ?? [], realms: [], feat: ["test"] })),
    sign: SignedRecord.signer((m) => who.sign(m))
  }
}

/** The station record of `of` as another station finds it. */
const lookup = (from: Node, of: Node) =>
  Effect.gen(function*() {
    const found = yield* drive(from.dht.findValue(StationRecord.key(config, of.who.publicKey), "station"))
    if (found._tag !== "Success") throw new Error("findValue failed")
    const bodies = found.value.records.map((r) => r.body).filter((b): b is StationRecordBody => b.ty === "station")
    return StationRecord.latestPerSigner(config, bodies, yield* Effect.clockWith((c) => c.currentTimeMillis))[0]
  })

describe("DhtSupervisor: the station record", () => {
  effect("is published at start, renewed before it lapses, and published again when the addresses change", () =>
    Effect.gen(function*() {
      const { nodes } = yield* mesh(6, 7, { stationRecordTtlMs: ttl }, station)
      const owner = nodes[2]!
      const first = yield* lookup(nodes[5]!, owner)
      expect(first?.d).toEqual({ a: [owner.address], realms: [], feat: ["test"] })
      expect(first!.exp - first!.iat).toBe(ttl)
      expect(StationRecord.stationAddresses(config, [first!], owner.who.publicKey, first!.iat)).toEqual([`${owner.address}#${owner.who.did}`])

      // Renewal is due at iat + republishFraction × TTL; checks run every expireSweepIntervalMs.
      for (let t = 0; t < ttl; t += 100) yield* advance(100)
      const renewed = yield* lookup(nodes[4]!, owner)
      expect(renewed).toBeDefined()
      expect(renewed!.seq).toBeGreaterThan(first!.seq)
      expect(renewed!.exp).toBeGreaterThan(first!.exp) // still found after the first one's exp

      // The station moves: the next check publishes what it says now, long before renewal.
      said.set(owner.address, ["quic://10.9.9.9:4433"])
      for (let t = 0; t < 6_000; t += 100) yield* advance(100)
      const moved = yield* lookup(nodes[1]!, owner)
      expect(moved?.d.a).toEqual(["quic://10.9.9.9:4433"])
      expect(moved!.seq).toBeGreaterThan(renewed!.seq)
      expect(moved!.iat).toBeLessThan(renewed!.iat + ttl / 2) // not the renewal: the change
    }), 120_000)
})

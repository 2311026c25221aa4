import { describe, expect, it } from "vitest"
import { Command, Observation } from "../../../../src/protocols/dht/Command.ts"
import type { Config } from "../../../../src/protocols/dht/Config.ts"
import { Event } from "../../../../src/protocols/dht/Event.ts"
import { Request, Response } from "../../../../src/protocols/dht/Message.ts"
import * as Records from "../../../../src/protocols/dht/Records.ts"
import * as RoutingTable from "../../../../src/protocols/dht/RoutingTable.ts"
import * as State from "../../../../src/protocols/dht/State.ts"
import { makeStep } from "../../../../src/protocols/dht/Step.ts"
import { Timer } from "../../../../src/protocols/dht/Timer.ts"
import * as Xor from "../../../../src/protocols/dht/Xor.ts"
import * as Arb from "../../../../src/testkit/arbitraries/Dht.ts"
import { Net, wallBase } from "./Harness.ts"

const small = Arb.config({ dhtK: 3, dhtAlpha: 1, dhtDisjointPaths: 1, storeQuorum: 2, valueResponsesWanted: 1 })
const selfPk = Arb.keyOf(0)
const selfId = Arb.hash(selfPk)
const at = (now: number) => ({ now, wallNow: wallBase + now })
const fresh = (config: Config = small) => State.initial(config, { publicKey: selfPk, seed: 1 })
const ofTag = <T extends Command["_tag"]>(commands: ReadonlyArray<Command>, tag: T) =>
  commands.filter((c): c is Extract<Command, { _tag: T }> => c._tag === tag)
const observed = <T extends Observation["_tag"]>(commands: ReadonlyArray<Command>, tag: T) =>
  ofTag(commands, "Emit").map((c) => c.observation).filter((o): o is Extract<Observation, { _tag: T }> => o._tag === tag)

/** Keys whose ids land in bucket `b` of `selfId`. */
const keysInBucket = (b: number, count: number): ReadonlyArray<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let n = 1; out.length < count; n++) {
    const pk = Arb.keyOf(n)
    if (Xor.commonPrefixLength(selfId, Arb.hash(pk)) === b) out.push(pk)
  }
  return out
}

const connect = (config: Config, state: State.State, pk: Uint8Array, ip: string, now = 1) =>
  makeStep(config)(state, Event.PeerConnected({ ...at(now), contact: Arb.infoOf(pk), ip }))

/** A joined node (no bootstrap lookup in flight) whose table holds `pks`. */
const withPeers = (config: Config, pks: ReadonlyArray<Uint8Array>): State.State =>
  pks.reduce<State.State>((s, pk, i) => connect(config, s, pk, Arb.ipIn(i + 1, 1))[0], { ...fresh(config), joined: true })

describe("Started", () => {
  const step = makeStep(small)
  it("arms the five periodic timers once", () => {
    const [state, commands] = step(fresh(), Event.Started(at(0)))
    expect(ofTag(commands, "SetTimer").map((c) => c.timer._tag)).toEqual(["Refresh", "SelfLookup", "Replicate", "Sweep", "Snapshot"])
    expect(state.started).toBe(true)
    expect(step(state, Event.Started(at(5)))[1]).toEqual([])
  })

  it("starts a self-lookup when the table already holds contacts", () => {
    const state = withPeers(small, [Arb.keyOf(1)])
    const [, commands] = step({ ...state, started: false }, Event.Started(at(10)))
    const sent = ofTag(commands, "SendRequest")
    expect(sent.map((c) => c.message._tag)).toContain("FindNode")
  })
})

describe("TimerFired", () => {
  const step = makeStep(small)

  it("ignores a stale generation", () => {
    const [state] = step(fresh(), Event.Started(at(0)))
    const fired = Event.TimerFired({ ...at(900_000), timer: Timer.Sweep(), generation: 999 })
    const [after, commands] = step(state, fired)
    expect(after).toEqual(state)
    expect(commands).toEqual([])
  })

  it("sweeps expired records and re-arms the sweep", () => {
    const [started, armed] = step(fresh(), Event.Started(at(0)))
    const generation = ofTag(armed, "SetTimer").find((c) => c.timer._tag === "Sweep")!.generation
    const record = Arb.endpointRecord(Arb.keyOf(5), { seq: 1, iat: wallBase, exp: wallBase + 1_000 })
    const state = { ...started, store: Records.put(small, started.store, record, 0, wallBase)[0] }
    const [after, commands] = step(state, Event.TimerFired({ ...at(5_000), timer: Timer.Sweep(), generation }))
    expect(observed(commands, "RecordExpired")).toHaveLength(1)
    expect(after.store.size).toBe(0)
    expect(ofTag(commands, "SetTimer").map((c) => [c.timer._tag, c.at])).toEqual([["Sweep", 5_000 + small.expireSweepIntervalMs]])
  })

  it("emits a routing snapshot", () => {
    const [state, armed] = step(withPeers(small, [Arb.keyOf(1), Arb.keyOf(2)]), Event.Started(at(0)))
    const generation = ofTag(armed, "SetTimer").find((c) => c.timer._tag === "Snapshot")!.generation
    const [, commands] = step(state, Event.TimerFired({ ...at(10_000), timer: Timer.Snapshot(), generation }))
    expect(observed(commands, "RoutingSnapshot")[0]?.contacts).toHaveLength(2)
  })

  it("refreshes stale buckets with a lookup of a random id in their range", () => {
    const [state, armed] = step(withPeers(small, keysInBucket(1, 1)), Event.Started(at(0)))
    const generation = ofTag(armed, "SetTimer").find((c) => c.timer._tag === "Refresh")!.generation
    const [after, commands] = step(state, Event.TimerFired({ ...at(small.bucketRefreshIntervalMs + 1), timer: Timer.Refresh(), generation }))
    const refreshes = [...after.jobs.values()].filter((j) => j.origin._tag === "Refresh")
    expect(refreshes.map((j) => j.origin._tag === "Refresh" && j.origin.bucket).sort()).toEqual([0, 1])
    for (const job of refreshes) {
      if (job.origin._tag === "Refresh") expect(Xor.commonPrefixLength(selfId, job.target)).toBe(job.origin.bucket)
    }
    expect(ofTag(commands, "SetTimer").some((c) => c.timer._tag === "Refresh")).toBe(true)
  })

  it("times out a request: the member's failure count grows and the lookup moves on", () => {
    const [state, commands] = step(withPeers(small, [Arb.keyOf(1)]), Event.FindNode({ ...at(5), query: 1, target: Arb.keyOf(77) }))
    const timer = ofTag(commands, "SetTimer").find((c) => c.timer._tag === "Rpc")!
    const [after, out] = step(state, Event.TimerFired({ ...at(300), timer: timer.timer, generation: timer.generation }))
    expect(RoutingTable.member(after.table, Xor.toHex(Arb.hash(Arb.keyOf(1))))?.failures).toBe(1)
    expect(observed(out, "LookupFinished")[0]).toMatchObject({ closest: [], timedOut: false })
    expect(after.pending.size).toBe(0)
    expect(after.timers.has("rpc:1")).toBe(false)
  })

  it("ends a lookup at lookupTimeoutMs with what it has", () => {
    const [state, commands] = step(withPeers(small, [Arb.keyOf(1)]), Event.FindNode({ ...at(5), query: 1, target: Arb.keyOf(77) }))
    const timer = ofTag(commands, "SetTimer").find((c) => c.timer._tag === "Lookup")!
    const [after, out] = step(state, Event.TimerFired({ ...at(2_005), timer: timer.timer, generation: timer.generation }))
    expect(observed(out, "LookupFinished")[0]).toMatchObject({ timedOut: true, origin: { _tag: "Local", query: 1 } })
    expect(ofTag(out, "CancelTimer").map((c) => c.timer._tag)).toEqual(["Rpc"])
    expect(after.jobs.size).toBe(0)
    expect(after.pending.size).toBe(0)
  })
})

describe("PeerConnected", () => {
  const step = makeStep(small)

  it("adds the contact, reports it and bootstraps with a self-lookup through it", () => {
    const [state, commands] = connect(small, fresh(), Arb.keyOf(1), Arb.ipIn(1, 1))
    expect(state.table.size).toBe(1)
    expect(observed(commands, "ContactAdded")).toHaveLength(1)
    const sent = ofTag(commands, "SendRequest")
    expect(sent).toHaveLength(1)
    expect(sent[0]!.message).toEqual(Request.FindNode({ key: selfId }))
  })

  it("rejects a station id without proof of work", () => {
    const strict = { ...small, stationPowBits: 24 }
    const [state, commands] = connect(strict, fresh(strict), Arb.keyOf(1), Arb.ipIn(1, 1))
    expect(state.table.size).toBe(0)
    expect(observed(commands, "ContactRejected")[0]?.reason).toBe("pow")
    expect(state.counters.rejectedContacts).toBe(1)
  })

  it("ignores a key of the wrong length", () => {
    const [state] = step(fresh(), Event.PeerConnected({ ...at(1), contact: { pk: new Uint8Array(31), addrs: [] }, ip: "45.0.0.1" }))
    expect(state.counters.discardedContacts).toBe(1)
  })

  it("rejects a third contact of one network in a bucket (§14 row 21)", () => {
    const pks = keysInBucket(0, 3)
    const config = { ...small, acceptPrivateAddrs: false }
    let state = fresh(config)
    for (const pk of pks.slice(0, 2)) state = connect(config, state, pk, "45.9.0.1")[0]
    const [after, commands] = connect(config, state, pks[2]!, "45.9.7.7")
    expect(after.table.size).toBe(2)
    expect(observed(commands, "ContactRejected")[0]?.reason).toBe("bucket-prefix-cap")
  })

  it("pings the least recently seen member of a full bucket; a pong keeps it", () => {
    const pks = keysInBucket(0, 4)
    const full = withPeers(small, pks.slice(0, 3))
    const [state, commands] = connect(small, full, pks[3]!, Arb.ipIn(9, 1), 5)
    const ping = ofTag(commands, "Ping")
    expect(ping.map((c) => c.to.pk)).toEqual([pks[0]])
    const [after, out] = step(state, Event.PongReceived({ ...at(6), request: ping[0]!.request }))
    expect(after.table.buckets[0]!.members.map((e) => e.contact.pk)).toEqual([pks[1], pks[2], pks[0]])
    expect(ofTag(out, "CancelTimer")).toHaveLength(1)
  })

  it("evicts the silent member and promotes the newcomer when the ping fails", () => {
    const pks = keysInBucket(0, 4)
    const [state, commands] = connect(small, withPeers(small, pks.slice(0, 3)), pks[3]!, Arb.ipIn(9, 1), 5)
    const ping = ofTag(commands, "Ping")[0]!
    const [after, out] = step(state, Event.RequestFailed({ ...at(6), request: ping.request }))
    expect(observed(out, "ContactEvicted")[0]).toMatchObject({ reason: "unresponsive", bucket: 0 })
    expect(observed(out, "ContactAdded")[0]?.contact.pk).toEqual(pks[3])
    expect(RoutingTable.violations(small, after.table)).toEqual([])
  })

  it("hands a held record to a new contact closer to its key than we are", () => {
    const record = Arb.endpointRecord(Arb.keyOf(42), { seq: 1, iat: wallBase, exp: wallBase + 60_000 })
    const key = record.body.key
    // The closest of a few candidate keys to the record key, if closer than us.
    const closer = Array.from({ length: 2_000 }, (_, n) => Arb.keyOf(n + 1)).find((pk) => Xor.compareDistance(Arb.hash(pk), selfId, key) < 0)!
    const state = { ...fresh(), store: Records.put(small, fresh().store, record, 0, wallBase)[0], joined: true }
    const [, commands] = connect(small, state, closer, Arb.ipIn(1, 1))
    const stores = ofTag(commands, "SendRequest").filter((c) => c.message._tag === "Store")
    expect(stores).toHaveLength(1)
  })
})

describe("PeerDied", () => {
  it("removes a dead station at once", () => {
    const [state, commands] = makeStep(small)(withPeers(small, [Arb.keyOf(1)]), Event.PeerDied({ ...at(9), id: Arb.hash(Arb.keyOf(1)) }))
    expect(state.table.size).toBe(0)
    expect(observed(commands, "ContactEvicted")[0]?.reason).toBe("dead")
  })
})

describe("RequestReceived", () => {
  const step = makeStep(small)
  const peers = [1, 2, 3, 4, 5].map(Arb.keyOf)
  const state = withPeers(small, peers)
  const asker = { id: Arb.hash(peers[0]!), role: "station" as const }

  it("answers FIND_NODE with at most k closest contacts, never the asker", () => {
    const [, commands] = step(state, Event.RequestReceived({ ...at(2), from: asker, replyTo: 7, request: Request.FindNode({ key: Arb.keyOf(99) }) }))
    const reply = ofTag(commands, "SendResponse")[0]!
    expect(reply.replyTo).toBe(7)
    if (reply.message._tag !== "Nodes") throw new Error("expected Nodes")
    expect(reply.message.contacts.length).toBeLessThanOrEqual(3)
    expect(reply.message.contacts.some((c) => Xor.equals(c.pk, peers[0]!))).toBe(false)
  })

  it("refuses FIND_NODE, FIND_VALUE and STORE from a client (§10.5)", () => {
    const client = { id: Arb.keyOf(50), role: "client" as const }
    for (const request of [
      Request.FindNode({ key: Arb.keyOf(1) }),
      Request.FindValue({ key: Arb.keyOf(1) }),
      Request.Store({ record: Arb.endpointRecord(Arb.keyOf(1), { seq: 1, iat: wallBase, exp: wallBase + 1 }) })
    ]) {
      const [after, commands] = step(state, Event.RequestReceived({ ...at(2), from: client, replyTo: 1, request }))
      expect(ofTag(commands, "SendResponse")[0]?.message).toEqual(Response.Refused({ code: "stations_only" }))
      expect(after.counters.refusedRequests).toBe(1)
    }
  })

  it("stores a valid record and acknowledges it", () => {
    const record = Arb.endpointRecord(Arb.keyOf(8), { seq: 1, iat: wallBase, exp: wallBase + 60_000 })
    const [after, commands] = step(state, Event.RequestReceived({ ...at(2), from: asker, replyTo: 3, request: Request.Store({ record }) }))
    expect(ofTag(commands, "SendResponse")[0]?.message).toEqual(Response.StoreAck({ ok: true }))
    expect(observed(commands, "RecordStored")).toHaveLength(1)
    expect(after.store.size).toBe(1)
    // And serves it to FIND_VALUE.
    const [, served] = step(after, Event.RequestReceived({ ...at(3), from: asker, replyTo: 4, request: Request.FindValue({ key: record.body.key }) }))
    const value = ofTag(served, "SendResponse")[0]!.message
    expect(value._tag === "Value" && value.records).toEqual([record])
  })

  it("refuses an invalid record with the reason (§14 row 19)", () => {
    const record = Arb.endpointRecord(Arb.keyOf(8), { seq: 1, iat: wallBase - 10_000, exp: wallBase })
    const [after, commands] = step(state, Event.RequestReceived({ ...at(2), from: asker, replyTo: 3, request: Request.Store({ record }) }))
    expect(ofTag(commands, "SendResponse")[0]?.message).toEqual(Response.StoreAck({ ok: false, why: "expired" }))
    expect(after.store.size).toBe(0)
    expect(after.counters.refusedRecords).toBe(1)
  })

  it("answers a client's invalid PUT at once", () => {
    const record = Arb.endpointRecord(Arb.keyOf(8), { seq: 1, iat: wallBase, exp: wallBase + 10_000_000 })
    const client = { id: Arb.keyOf(50), role: "client" as const }
    const [, commands] = step(state, Event.RequestReceived({ ...at(2), from: client, replyTo: 3, request: Request.Put({ record }) }))
    expect(ofTag(commands, "SendResponse")[0]?.message).toEqual(Response.StoreAck({ ok: false, why: "ttl_too_long" }))
  })

  it("turns a client's GET into a value lookup", () => {
    const client = { id: Arb.keyOf(50), role: "client" as const }
    const [after, commands] = step(state, Event.RequestReceived({ ...at(2), from: client, replyTo: 3, request: Request.Get({ key: Arb.keyOf(9) }) }))
    expect(ofTag(commands, "SendRequest")[0]?.message._tag).toBe("FindValue")
    expect([...after.jobs.values()][0]?.origin).toEqual({ _tag: "Proxy", peer: client.id, replyTo: 3 })
  })
})

describe("ResponseReceived, PongReceived and RequestFailed", () => {
  const step = makeStep(small)
  const lookupOne = () => step(withPeers(small, [Arb.keyOf(1)]), Event.FindNode({ ...at(5), query: 1, target: Arb.keyOf(77) }))

  it("counts an answer to an unknown request and changes nothing else", () => {
    const state = fresh()
    for (const event of [
      Event.ResponseReceived({ ...at(1), request: 99, response: Response.Nodes({ contacts: [] }) }),
      Event.PongReceived({ ...at(1), request: 99 }),
      Event.RequestFailed({ ...at(1), request: 99 })
    ]) {
      const [after, commands] = step(state, event)
      expect(after.counters.unknownResponses).toBe(1)
      expect(commands).toEqual([])
    }
  })

  it("truncates a reply with more than k contacts and penalises the sender (§14 row 20)", () => {
    const [state, commands] = lookupOne()
    const request = ofTag(commands, "SendRequest")[0]!.request
    const contacts = [10, 11, 12, 13, 14].map((n) => Arb.infoOf(Arb.keyOf(n)))
    const [after, out] = step(state, Event.ResponseReceived({ ...at(6), request, response: Response.Nodes({ contacts }) }))
    expect(after.counters.truncatedReplies).toBe(1)
    expect(ofTag(out, "Penalise")[0]).toMatchObject({ severity: "minor" })
    const job = [...after.jobs.values()][0]!
    expect(job.lookup.peers.size).toBe(1 + 3)
  })

  it("drops contacts without proof of work and never adds them to the table", () => {
    const strict = { ...small, stationPowBits: 1 }
    // Our one seed must pass proof of work; find one that does.
    const seed = [1, 2, 3, 4, 5, 6, 7, 8].map(Arb.keyOf).find((pk) => Xor.leadingZeroBits(Arb.hash(Arb.hash(pk))) >= 1)!
    const bad = [11, 12, 13, 14, 15, 16].map(Arb.keyOf).filter((pk) => Xor.leadingZeroBits(Arb.hash(Arb.hash(pk))) < 1).slice(0, 2)
    const [state, commands] = makeStep(strict)(withPeers(strict, [seed]), Event.FindNode({ ...at(5), query: 1, target: Arb.keyOf(77) }))
    const request = ofTag(commands, "SendRequest")[0]!.request
    const [after] = makeStep(strict)(state, Event.ResponseReceived({ ...at(6), request, response: Response.Nodes({ contacts: bad.map(Arb.infoOf) }) }))
    expect(after.counters.discardedContacts).toBe(bad.length)
    expect(after.table.size).toBe(1)
  })

  it("finishes a value lookup when enough responders returned valid records", () => {
    const record = Arb.endpointRecord(Arb.keyOf(8), { seq: 1, iat: wallBase, exp: wallBase + 60_000 })
    const [state, commands] = step(withPeers(small, [Arb.keyOf(1)]), Event.FindValue({ ...at(5), query: 2, key: record.body.key }))
    const request = ofTag(commands, "SendRequest")[0]!.request
    const [after, out] = step(state, Event.ResponseReceived({ ...at(6), request, response: Response.Value({ records: [record], contacts: [] }) }))
    expect(observed(out, "LookupFinished")[0]).toMatchObject({ kind: "value", records: [record], hops: 1 })
    expect(after.jobs.size).toBe(0)
  })

  it("discards records that do not match the key, and penalises the sender", () => {
    const record = Arb.endpointRecord(Arb.keyOf(8), { seq: 1, iat: wallBase, exp: wallBase + 60_000 })
    const [state, commands] = step(withPeers(small, [Arb.keyOf(1)]), Event.FindValue({ ...at(5), query: 2, key: Arb.keyOf(3) }))
    const request = ofTag(commands, "SendRequest")[0]!.request
    const [after, out] = step(state, Event.ResponseReceived({ ...at(6), request, response: Response.Value({ records: [record], contacts: [] }) }))
    expect(after.counters.invalidReplyRecords).toBe(1)
    expect(ofTag(out, "Penalise")).toHaveLength(1)
    expect(observed(out, "LookupFinished")[0]?.records).toEqual([])
  })

  it("treats a refusal as a failed query", () => {
    const [state, commands] = lookupOne()
    const request = ofTag(commands, "SendRequest")[0]!.request
    const [, out] = step(state, Event.ResponseReceived({ ...at(6), request, response: Response.Refused({ code: "busy" }) }))
    expect(observed(out, "LookupFinished")[0]?.closest).toEqual([])
  })
})

describe("FindNode, FindValue, Store and Unpublish", () => {
  it("finishes at once with an empty table", () => {
    const [, commands] = makeStep(small)(fresh(), Event.FindNode({ ...at(1), query: 4, target: Arb.keyOf(2) }))
    expect(observed(commands, "LookupFinished")[0]).toMatchObject({ closest: [], busy: false, origin: { _tag: "Local", query: 4 } })
  })

  it("refuses a lookup past maxConcurrentLookups", () => {
    const config = { ...small, maxConcurrentLookups: 1 }
    const step = makeStep(config)
    const [state] = step(withPeers(config, [Arb.keyOf(1)]), Event.FindNode({ ...at(1), query: 1, target: Arb.keyOf(2) }))
    const [after, commands] = step(state, Event.FindNode({ ...at(1), query: 2, target: Arb.keyOf(3) }))
    expect(observed(commands, "LookupFinished")[0]).toMatchObject({ busy: true, origin: { query: 2 } })
    expect(after.counters.busy).toBeGreaterThan(0)
  })

  it("answers a value lookup from its own store at hop 0", () => {
    const record = Arb.endpointRecord(Arb.keyOf(8), { seq: 1, iat: wallBase, exp: wallBase + 60_000 })
    const state = { ...fresh(), store: Records.put(small, fresh().store, record, 0, wallBase)[0] }
    const [, commands] = makeStep(small)(state, Event.FindValue({ ...at(1), query: 1, key: record.body.key }))
    expect(observed(commands, "LookupFinished")[0]).toMatchObject({ records: [record], hops: 0 })
  })

  it("refuses to store an invalid record", () => {
    const record = Arb.endpointRecord(Arb.keyOf(8), { seq: 1, iat: wallBase - 10, exp: wallBase })
    const [, commands] = makeStep(small)(fresh(), Event.Store({ ...at(1), query: 5, record }))
    expect(observed(commands, "StoreFinished")[0]).toMatchObject({ ok: false, why: "expired", acks: 0 })
  })

  it("stores on the closest set with a quorum, and tracks its own record for republishing", () => {
    const net = new Net(small)
    const me = net.add(selfPk, "45.0.0.1")
    const others = [1, 2, 3, 4, 5].map((n) => net.add(Arb.keyOf(n), Arb.ipIn(n, 1)))
    for (const o of others) {
      net.connect(me, o)
      for (const p of others) if (p !== o) net.connect(o, p)
    }
    net.run()
    const record = Arb.endpointRecord(selfPk, { seq: 1, iat: wallBase, exp: wallBase + 600_000 })
    net.feed(me, Event.Store({ ...net.time(), query: 9, record }))
    net.run()
    const finished = me.observations.filter((o) => o._tag === "StoreFinished")
    expect(finished).toHaveLength(1)
    expect(finished[0]).toMatchObject({ ok: true, origin: { _tag: "Local", query: 9 } })
    const acks = finished[0]!._tag === "StoreFinished" ? finished[0]!.acks : 0
    expect(acks).toBeGreaterThanOrEqual(2)
    const holders = [me, ...others].filter((n) => n.state.store.size > 0)
    expect(holders.length).toBe(acks)
    expect(me.state.owned.size).toBe(1)
    expect(me.timers.get("Republish")?.at).toBe(300_000)
    // At the due time the core asks the actor to re-sign.
    net.advance(net.now + 300_000)
    expect(me.observations.some((o) => o._tag === "RepublishDue")).toBe(true)
    // Unpublish stops the reminders.
    net.feed(me, Event.Unpublish({ ...net.time(), key: record.body.key }))
    expect(me.state.owned.size).toBe(0)
  })

  it("proxies a client's PUT and GET through the closest set", () => {
    const net = new Net(small)
    const home = net.add(selfPk, "45.0.0.1")
    const others = [1, 2, 3, 4].map((n) => net.add(Arb.keyOf(n), Arb.ipIn(n, 1)))
    for (const o of others) {
      net.connect(home, o)
      for (const p of others) if (p !== o) net.connect(o, p)
    }
    net.run()
    const client = { id: Arb.keyOf(70), role: "client" as const }
    const record = Arb.endpointRecord(Arb.keyOf(70), { seq: 1, iat: wallBase, exp: wallBase + 60_000 })
    const put = net.feed(home, Event.RequestReceived({ ...net.time(), from: client, replyTo: 1, request: Request.Put({ record }) }))
    expect(put.length).toBeGreaterThan(0)
    net.run()
    const ack = home.commands.filter((c) => c._tag === "SendResponse" && c.replyTo === 1).at(-1)
    expect(ack?._tag === "SendResponse" && ack.message).toMatchObject({ _tag: "StoreAck", ok: true })
    net.feed(home, Event.RequestReceived({ ...net.time(), from: client, replyTo: 2, request: Request.Get({ key: record.body.key }) }))
    net.run()
    const value = home.commands.filter((c) => c._tag === "SendResponse" && c.replyTo === 2).at(-1)
    expect(value?._tag === "SendResponse" && value.message._tag === "Value" && value.message.records).toEqual([record])
  })
})

describe("replication", () => {
  it("re-stores a held record nobody re-stored for an interval to the closest contacts", () => {
    const step = makeStep(small)
    const record = Arb.endpointRecord(Arb.keyOf(8), { seq: 1, iat: wallBase, exp: wallBase + 900_000 })
    let [state, armed] = step(withPeers(small, [1, 2, 3, 4].map(Arb.keyOf)), Event.Started(at(0)))
    state = { ...state, store: Records.put(small, state.store, record, 0, wallBase)[0] }
    const timer = ofTag(armed, "SetTimer").find((c) => c.timer._tag === "Replicate")!
    const [, commands] = step(state, Event.TimerFired({ ...at(small.replicateIntervalMs), timer: timer.timer, generation: timer.generation }))
    const stores = ofTag(commands, "SendRequest").filter((c) => c.message._tag === "Store")
    expect(stores).toHaveLength(3)
  })
})

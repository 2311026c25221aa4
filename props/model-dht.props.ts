/**
 * A model-based test of the DHT routing table through the whole DHT step, with the testkit's
 * runner (`Model`): the worked example of docs/guides/property-testing.md.
 *
 * The model is deliberately dumb: per bucket, a plain list of member keys (least recently seen
 * first), a list of cached candidates (oldest first) and the member under probe, with bucket
 * indices and XOR distances computed bit by bit. It learns only what it cannot predict from the
 * core's commands: the numbers of the requests and pings the core sent (and their closing, from
 * `CancelTimer`). Everything else it predicts: who joins, who waits in the cache, whom the core
 * must ping before an eviction, who is evicted and why, and who is promoted.
 *
 * After every step the real table must equal the model's, bucket by bucket and in order, and:
 * no bucket holds more than k members or caches more than its cap; self is never in the table;
 * `closest()` agrees with a brute-force XOR sort; a newcomer never evicts anyone on sight (a full
 * bucket pings its least recently seen member first); and the `ContactAdded`/`ContactEvicted`
 * observations and `Ping` commands are exactly the ones the model predicts.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Command } from "../src/protocols/dht/Command.ts"
import * as Config from "../src/protocols/dht/Config.ts"
import { Event } from "../src/protocols/dht/Event.ts"
import { Response } from "../src/protocols/dht/Message.ts"
import * as RoutingTable from "../src/protocols/dht/RoutingTable.ts"
import * as State from "../src/protocols/dht/State.ts"
import { makeStep } from "../src/protocols/dht/Step.ts"
import * as Timer from "../src/protocols/dht/Timer.ts"
import * as Arb from "../src/testkit/arbitraries/Dht.ts"
import * as Model from "../src/testkit/model/index.ts"

// Small buckets, so they fill and evict; private addresses are exempt from the diversity caps,
// which this model leaves out (props/dht.props.ts covers them).
const config = Arb.config({ dhtK: 3, replacementCacheSize: 2, staleAfterFailures: 2, storeQuorum: 2, valueResponsesWanted: 2 })
const k = config.dhtK
const selfKey = Arb.keyOf(0)
// Peers are `Arb.keyOf(n)` for these n (so counterexamples print small numbers), chosen so that
// buckets 0 and 1 of self overflow (five and six keys for k = 3), plus a few deeper ones.
const peers = [1, 2, 3, 4, 5, 6, 7, 9, 10, 13, 14, 16, 17, 18]
const wall0 = 1_700_000_000_000

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const bit = (id: Uint8Array, i: number): number => (id[i >> 3]! >> (7 - (i & 7))) & 1
const self = Arb.hash(selfKey)
const selfHex = hex(self)

/** The bucket of an id: the index of the first bit where it differs from self (256: self). */
const bucketOf = (id: Uint8Array): number => {
  for (let i = 0; i < 256; i++) if (bit(id, i) !== bit(self, i)) return i
  return 256
}

/** Orders two ids by XOR distance to a target, byte by byte. */
const closer = (a: Uint8Array, b: Uint8Array, target: Uint8Array): number => {
  for (let i = 0; i < 32; i++) {
    const d = (a[i]! ^ target[i]!) - (b[i]! ^ target[i]!)
    if (d !== 0) return d
  }
  return 0
}

interface Bucket {
  members: Array<string>
  cache: Array<string>
  probe: string | undefined
}

interface Dht {
  readonly ids: Map<string, Uint8Array>
  readonly buckets: Map<number, Bucket>
  readonly failures: Map<string, number>
  /** Per member: requests numbered below this were in flight at its last counted failure. */
  readonly failedBefore: Map<string, number>
  /** The number the core gives its next request (requests are numbered in order, from 1). */
  nextRequest: number
  /** Outstanding requests the core sent, by number. */
  readonly requests: Map<number, { readonly kind: "ping" | "query"; readonly key: string }>
  /** What the last step must have reported. */
  added: Array<string>
  evicted: Array<string>
  ping: string | undefined
}

const clone = (m: Dht): Dht => ({
  ids: m.ids,
  buckets: new Map([...m.buckets].map(([i, b]) => [i, { members: [...b.members], cache: [...b.cache], probe: b.probe }])),
  failures: new Map(m.failures),
  failedBefore: new Map(m.failedBefore),
  nextRequest: m.nextRequest,
  requests: new Map(m.requests),
  added: [],
  evicted: [],
  ping: undefined
})

const bucket = (m: Dht, key: string): Bucket => {
  const i = bucketOf(m.ids.get(key)!)
  let b = m.buckets.get(i)
  if (b === undefined) m.buckets.set(i, b = { members: [], cache: [], probe: undefined })
  return b
}

const without = (list: Array<string>, key: string): Array<string> => list.filter((x) => x !== key)

const markAlive = (m: Dht, key: string): void => {
  const b = bucket(m, key)
  if (!b.members.includes(key)) return
  b.members = [...without(b.members, key), key]
  m.failures.delete(key)
}

/** A member leaves (or a candidate is forgotten); the freshest candidate takes its place. */
const remove = (m: Dht, key: string, reason: string): void => {
  const b = bucket(m, key)
  b.cache = without(b.cache, key)
  if (!b.members.includes(key)) return
  b.members = without(b.members, key)
  m.failures.delete(key)
  m.failedBefore.delete(key)
  if (b.probe === key) b.probe = undefined
  m.evicted.push(`${key}:${reason}`)
  const promoted = b.cache.pop()
  if (promoted !== undefined) {
    b.members.push(promoted)
    m.added.push(promoted)
  }
}

const connected = (m: Dht, id: Uint8Array): void => {
  const key = hex(id)
  if (bucketOf(id) === 256) return
  m.ids.set(key, id)
  const b = bucket(m, key)
  if (b.members.includes(key)) return markAlive(m, key)
  b.cache = without(b.cache, key)
  if (b.members.length < k) {
    b.members.push(key)
    m.added.push(key)
    return
  }
  // Full: the newcomer waits; the least recently seen member is pinged unless one already is.
  b.cache = [...b.cache, key].slice(-config.replacementCacheSize)
  if (b.probe === undefined) m.ping = b.probe = b.members[0]
}

const failed = (m: Dht, request: number): void => {
  const r = m.requests.get(request)
  if (r === undefined) return
  m.requests.delete(request)
  if (r.kind === "ping") {
    if (bucket(m, r.key).probe === r.key) remove(m, r.key, "unresponsive")
    return
  }
  if (!bucket(m, r.key).members.includes(r.key)) return
  // Requests in flight together (one lost connection) count once.
  if (request < (m.failedBefore.get(r.key) ?? 0)) return
  const failures = (m.failures.get(r.key) ?? 0) + 1
  if (failures >= config.staleAfterFailures) remove(m, r.key, "stale")
  else {
    m.failures.set(r.key, failures)
    m.failedBefore.set(r.key, m.nextRequest)
  }
}

const next = (before: Dht, event: Event, { commands }: { readonly commands: ReadonlyArray<Command> }): Dht => {
  const m = clone(before)
  switch (event._tag) {
    case "PeerConnected":
      connected(m, Arb.hash(event.contact.pk))
      break
    case "PongReceived": {
      const r = m.requests.get(event.request)
      if (r?.kind === "ping") {
        m.requests.delete(event.request)
        markAlive(m, r.key)
        const b = bucket(m, r.key)
        if (b.probe === r.key) b.probe = undefined
      }
      break
    }
    case "ResponseReceived": {
      const r = m.requests.get(event.request)
      if (r?.kind === "query") {
        m.requests.delete(event.request)
        markAlive(m, r.key)
      }
      break
    }
    case "RequestFailed":
      failed(m, event.request)
      break
    case "TimerFired":
      if (event.timer._tag === "Rpc") failed(m, event.timer.request)
      break
    case "PeerDied":
      if (m.ids.has(hex(event.id))) remove(m, hex(event.id), "dead")
      break
    default:
      break
  }
  // What the model cannot know: the numbers the core gave its requests, and which it closed.
  for (const c of commands) {
    if (c._tag === "SendRequest") m.requests.set(c.request, { kind: "query", key: hex(c.to.id) })
    if (c._tag === "Ping") m.requests.set(c.request, { kind: "ping", key: hex(c.to.id) })
    if (c._tag === "SendRequest" || c._tag === "Ping") m.nextRequest = Math.max(m.nextRequest, c.request + 1)
    if (c._tag === "CancelTimer" && c.timer._tag === "Rpc") m.requests.delete(c.timer.request)
  }
  return m
}

// ---------------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------------

const targets = [self, ...[1, 9, 22].map((n) => Arb.hash(Arb.keyOf(n)))]

const check = ({ state, model, event, commands }: Model.Checked<State.State, Event, Command, Dht>): void => {
  const table = state.table
  // The table equals the model, bucket by bucket, in order (one line per non-empty bucket).
  const show = (i: number, b: { readonly members: ReadonlyArray<string>; readonly cache: ReadonlyArray<string>; readonly probe: string | undefined }) =>
    `${i}: [${b.members.map((x) => x.slice(0, 6))}] cache [${b.cache.map((x) => x.slice(0, 6))}] probe ${b.probe?.slice(0, 6)}`
  const real: Array<string> = []
  table.buckets.forEach((b, i) => {
    if (b.members.length + b.cache.length > 0 || b.probe !== undefined) {
      real.push(show(i, { members: b.members.map((e) => e.key), cache: b.cache.map((e) => e.key), probe: b.probe }))
    }
    // Capacity and placement, stated directly too.
    if (b.members.length > k || b.cache.length > config.replacementCacheSize) real.push(`bucket ${i} over capacity`)
    for (const e of [...b.members, ...b.cache]) if (bucketOf(e.contact.id) !== i) real.push(`${e.key} misplaced in ${i}`)
    if (b.members.some((e) => e.key === selfHex)) real.push(`self in bucket ${i}`)
  })
  const predicted = [...model.buckets].filter(([, b]) => b.members.length + b.cache.length > 0 || b.probe !== undefined)
    .sort(([a], [b]) => a - b).map(([i, b]) => show(i, b))
  if (real.join("\n") !== predicted.join("\n")) expect(real).toEqual(predicted)
  // closest() is a brute-force XOR sort of the members.
  const members = [...model.buckets.values()].flatMap((b) => b.members).map((key) => model.ids.get(key)!)
  for (const target of targets) {
    const expected = [...members].sort((a, b) => closer(a, b, target)).slice(0, k).map(hex).join()
    const got = RoutingTable.closest(table, target, k).map((c) => hex(c.id)).join()
    if (got !== expected) expect(got, `closest to ${hex(target).slice(0, 6)}`).toBe(expected)
  }
  // Reported exactly as predicted; a newcomer never evicts on sight.
  const observations = commands.flatMap((c) => (c._tag === "Emit" ? [c.observation] : []))
  const added = observations.flatMap((o) => (o._tag === "ContactAdded" ? [hex(o.contact.id)] : []))
  const evicted = observations.flatMap((o) => (o._tag === "ContactEvicted" ? [`${hex(o.id)}:${o.reason}`] : []))
  const pings = commands.flatMap((c) => (c._tag === "Ping" ? [hex(c.to.id)] : []))
  const reported = { added, evicted, pings }
  const predictedReport = { added: model.added, evicted: model.evicted, pings: model.ping === undefined ? [] : [model.ping] }
  if (JSON.stringify(reported) !== JSON.stringify(predictedReport)) expect(reported).toEqual(predictedReport)
  if (event._tag === "PeerConnected" && evicted.length > 0) expect.fail(`a newcomer evicted ${evicted}`)
  seen.pings += pings.length
  seen.evictions += evicted.filter((e) => e.endsWith(":unresponsive")).length
  if (event._tag !== "PeerConnected") seen.promotions += added.length
  seen.stale += evicted.filter((e) => e.endsWith(":stale")).length
}

/** What the runs exercised, so a model that never reaches the interesting states cannot pass quietly. */
const seen = { pings: 0, evictions: 0, promotions: 0, stale: 0 }

// ---------------------------------------------------------------------------------------------
// The spec
// ---------------------------------------------------------------------------------------------

const at = (now: number) => ({ now, wallNow: wall0 + now })
type Ctx = Model.Context<State.State, Dht>

/** The outstanding requests of one kind, oldest first. */
const outstanding = (m: Dht, kind: "ping" | "query"): ReadonlyArray<number> =>
  [...m.requests].filter(([, r]) => r.kind === kind).map(([n]) => n).sort((a, b) => a - b)

const answer = (kind: "ping" | "query", make: (request: number, now: number) => Event) =>
  Model.action(fc.nat(), (n, { now, model }: Ctx) => {
    const request = Model.pick(outstanding(model, kind), n)
    return request === undefined ? undefined : make(request, now)
  })

const spec: Model.Spec<State.State, Event, Command, Dht> = {
  step: makeStep(config),
  initial: () => State.initial(config, { publicKey: selfKey, seed: 1 }),
  model: {
    initial: () => ({ ids: new Map(), buckets: new Map(), failures: new Map(), failedBefore: new Map(), nextRequest: 1, requests: new Map(), added: [], evicted: [], ping: undefined }),
    next
  },
  prelude: (now) => [Event.Started(at(now))],
  actions: {
    // `connect([n, host])`: peer n (0 is self) connects from 10.0.0.host.
    connect: Model.action(
      fc.tuple(fc.constantFrom(0, ...peers), fc.integer({ min: 1, max: 9 })),
      ([n, host], { now }) => Event.PeerConnected({ ...at(now), contact: Arb.infoOf(Arb.keyOf(n)), ip: `10.0.0.${host}` }),
      { weight: 5 }
    ),
    pong: answer("ping", (request, now) => Event.PongReceived({ ...at(now), request })),
    pingLost: answer("ping", (request, now) => Event.RequestFailed({ ...at(now), request })),
    reply: answer("query", (request, now) => Event.ResponseReceived({ ...at(now), request, response: Response.Nodes({ contacts: [] }) })),
    queryLost: answer("query", (request, now) => Event.RequestFailed({ ...at(now), request })),
    died: Model.action(fc.constantFrom(...peers), (n, { now }) => Event.PeerDied({ ...at(now), id: Arb.hash(Arb.keyOf(n)) })),
    wait: Model.advance({ max: 400 }, { weight: 2 }),
    longWait: Model.advance({ min: 1_000, max: 70_000 })
  },
  timers: Model.tagged({
    fire: (timer: Timer.Timer, generation, now) => Event.TimerFired({ ...at(now), timer, generation }),
    key: Timer.key
  }),
  check,
  invariant: (state) => RoutingTable.violations(config, state.table)
}

describe("DHT routing table against a brute-force model (Model runner)", () => {
  it("uses a valid config", () => {
    expect(Config.problems(config)).toEqual([])
  })

  it("admits, caches, pings before evicting, evicts and promotes exactly as the model says", () => {
    Model.assert(spec, { numRuns: 150, maxActions: 60 })
    expect(seen.pings).toBeGreaterThan(0)
    expect(seen.evictions).toBeGreaterThan(0)
    expect(seen.promotions).toBeGreaterThan(0)
    expect(seen.stale).toBeGreaterThan(0)
  })
})

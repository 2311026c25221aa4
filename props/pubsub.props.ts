/**
 * Properties of the pub/sub cores (PROTOCOL.md §8):
 * - client: under any interleaving, duplication and reordering of event frames, handler
 *   completions and timers, a handler sees each (`pk`, `sess`, `seq`) at most once and, per
 *   publisher session and topic, strictly increasing `tseq`;
 * - station, at-least-once: with an arbitrary client (slow, acking late, disconnecting and
 *   resuming) every event that reached the station while the subscription existed is
 *   delivered or covered by a `gap`;
 * - bounded memory: queues, windows, replay buffers, reorder buffers, mailboxes and dedup
 *   windows never exceed their knobs under arbitrary slow subscribers;
 * - wildcard routing equals a naive matcher (`Topic.matches` over every subscription);
 * - interest exchange forwards exactly to the peer stations whose announced interest matches.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { PubSub } from "../src/protocols/pubsub/index.ts"
import * as Topic from "../src/topic/Topic.ts"
import type * as Frame from "../src/wire/Frame.ts"
import type { EnvelopeBody } from "../src/wire/SignedBody.ts"
import * as B from "../test/unit/protocols/pubsub/Build.ts"

const WALL = 1_000_000
const { RouterEvent: RE, SessionEvent: SE } = PubSub

// ---------------------------------------------------------------------------------------------
// Client: order and no duplicates
// ---------------------------------------------------------------------------------------------

const topics = [B.topic("a"), B.topic("b")]

/** Published events: publisher p ∈ {2, 3}, session 1 or 2 (a restart), per-topic tseq. */
const publications = fc
  .array(fc.record({ pub: fc.constantFrom(2, 3), topic: fc.constantFrom(0, 1), restart: fc.boolean() }), { minLength: 1, maxLength: 40 })
  .map((list) => {
    const state = new Map<number, { sess: number; seq: number; tseq: Map<number, number> }>()
    return list.map((p): EnvelopeBody => {
      let s = state.get(p.pub) ?? { sess: 1, seq: 0, tseq: new Map() }
      if (p.restart && s.seq > 0 && s.sess === 1) s = { sess: 2, seq: 0, tseq: new Map() }
      s.seq++
      const tseq = (s.tseq.get(p.topic) ?? 0) + 1
      s.tseq.set(p.topic, tseq)
      state.set(p.pub, s)
      return B.envelope({ pub: p.pub, seq: s.seq, tseq, sess: s.sess, topic: topics[p.topic]! })
    })
  })

const clientActions = (n: number) =>
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ k: fc.constant("event" as const), i: fc.nat(n - 1), sids: fc.subarray([1, 2], { minLength: 1 }) }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant("handled" as const), sid: fc.constantFrom(1, 2) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("timers" as const), dt: fc.integer({ min: 1, max: 120 }) }) }
    ),
    { maxLength: 150 }
  )

describe("pubsub client: order and duplicates", () => {
  it("a handler never sees a duplicate, nor a lower tseq of the same publisher session and topic", () => {
    const property = fc.property(
        publications.chain((evs) => fc.tuple(fc.constant(evs), clientActions(evs.length))),
        fc.boolean(),
        ([evs, actions], slowMailbox) => {
          const config = { ...PubSub.local, subscriberMailboxSize: slowMailbox ? 2 : 16 }
          const step = PubSub.makeSessionStep(config)
          let s = PubSub.initialSession(config, { pk: B.bytes32(1), sess: B.sess(9) })
          let now = 0
          const seen = new Set<string>()
          const last = new Map<string, number>()
          const check = (commands: ReadonlyArray<PubSub.SessionCommand>) => {
            for (const c of commands) {
              if (c._tag !== "Deliver") continue
              const e = c.envelope
              const dedup = `${c.sid}|${e.pk[0]}|${e.sess[0]}|${e.seq}`
              expect(seen.has(dedup)).toBe(false)
              seen.add(dedup)
              const stream = `${c.sid}|${e.pk[0]}|${e.sess[0]}|${e.topic}`
              expect(e.tseq).toBeGreaterThan(last.get(stream) ?? 0)
              last.set(stream, e.tseq)
            }
          }
          const run = (event: PubSub.SessionEvent) => {
            const [after, commands] = step(s, event)
            s = after
            check(commands)
            const sizes = PubSub.sessionSizes(s)
            expect(sizes.maxMailbox).toBeLessThanOrEqual(config.subscriberMailboxSize)
            expect(sizes.maxOrderBuffer).toBeLessThanOrEqual(config.orderBufferMax)
            expect(sizes.streams).toBeLessThanOrEqual(config.maxOrderStreams)
            expect(sizes.dedup).toBeLessThanOrEqual(config.dedupMaxEntries)
          }
          run(SE.LinkUp({ now, station: B.id(0xee) }))
          run(SE.Subscribe({ now, sid: 1, realm: B.realm, pattern: B.allMpong, mode: "amo" }))
          run(SE.Subscribe({ now, sid: 2, realm: B.realm, pattern: B.everything, mode: "amo" }))
          // The station accepts both (events for a subscription not yet accepted are ignored).
          for (const id of Array.from(s.requests.keys())) run(SE.ReplyReceived({ now, frame: { t: "ok", id } }))
          expect(Array.from(s.subs.values()).every((sub) => sub.active)).toBe(true)
          for (const a of actions) {
            if (a.k === "event") {
              const env = evs[a.i]!
              run(SE.EventReceived({ now, envelope: env, frame: { t: "event", sid: a.sids, ...B.signedOf(env) } }))
            } else if (a.k === "handled") run(SE.Handled({ now, sid: a.sid }))
            else {
              now += a.dt
              for (const [timer, generation] of Array.from(s.timers.armed)) run(SE.TimerFired({ now, timer, generation }))
            }
          }
          // Not vacuous: the first event frame always reaches a handler.
          if (actions.some((a) => a.k === "event")) expect(s.counters.delivered).toBeGreaterThan(0)
        }
      )
    fc.assert(property, { numRuns: 300 })
    // Pinned: a late event of a publisher session already replaced by a newer one was delivered below a tseq already handed over
    fc.assert(property, { seed: 614649527, path: "41:23:3:8:14:13:13:14:13:14", endOnFailure: true })
  })
})

// ---------------------------------------------------------------------------------------------
// Station: at-least-once delivers or announces every event
// ---------------------------------------------------------------------------------------------

type AloAction =
  | { readonly k: "publish" }
  | { readonly k: "flush"; readonly n: number }
  | { readonly k: "ack" }
  | { readonly k: "reconnect" }
  | { readonly k: "wait"; readonly dt: number }

const aloActions = fc.array(
  fc.oneof(
    { weight: 8, arbitrary: fc.constant<AloAction>({ k: "publish" }) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 8 }).map((n): AloAction => ({ k: "flush", n })) },
    { weight: 3, arbitrary: fc.constant<AloAction>({ k: "ack" }) },
    { weight: 1, arbitrary: fc.constant<AloAction>({ k: "reconnect" }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3_000 }).map((dt): AloAction => ({ k: "wait", dt })) }
  ),
  { maxLength: 200 }
)

describe("pubsub station: at-least-once", () => {
  it("every published event is delivered or covered by a gap, whatever the client does", () => {
    fc.assert(
      fc.property(aloActions, fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 6 }), (actions, bufferMax, inFlight) => {
        const config: PubSub.Config = { ...PubSub.local, aloBufferMaxEvents: bufferMax, aloMaxInFlight: inFlight, clientSendWindow: 4 }
        const step = PubSub.makeRouterStep(config)
        let s = PubSub.initialRouter(config, { self: B.id(0xee) })
        const alice = B.id(1), bob = B.id(2)
        let now = 0, seq = 0, reqId = 1
        // The client model: cursors received (event or gap), the highest processed, frames unflushed.
        const covered = new Set<number>()
        let processed = 0
        let connected = true
        const run = (event: PubSub.RouterEvent) => {
          const [after, commands] = step(s, event)
          s = after
          for (const c of commands) {
            if (c._tag !== "Send" || c.to !== alice || !connected) continue
            if (c.frame.t === "event" && c.frame.cur !== undefined) covered.add(c.frame.cur)
            if (c.frame.t === "gap") for (let k = c.frame.from; k <= c.frame.to; k++) covered.add(k)
          }
          const sizes = PubSub.routerSizes(s)
          expect(sizes.maxAloBuffer).toBeLessThanOrEqual(config.aloBufferMaxEvents)
          expect(sizes.maxInFlight).toBeLessThanOrEqual(config.clientSendWindow)
        }
        const advance = () => {
          while (covered.has(processed + 1)) processed++
        }
        const sub = (cur?: number) =>
          run(RE.SubReceived({
            now,
            client: alice,
            verdict: PubSub.allowed,
            frame: { t: "sub", id: reqId++, sid: 1, realm: B.realm, pat: B.allMpong, mode: "alo", ...(cur === undefined ? {} : { cur }) }
          }))
        run(RE.ClientAttached({ now, client: alice }))
        run(RE.ClientAttached({ now, client: bob }))
        sub()
        for (const a of actions) {
          if (a.k === "publish") {
            seq++
            const env = B.envelope({ pub: 2, seq, ts: WALL })
            run(RE.PubReceived({ now, wall: WALL, client: bob, envelope: env, verdict: PubSub.allowed, frame: { t: "pub", ...B.signedOf(env) } }))
          } else if (a.k === "flush") {
            if (connected) run(RE.Flushed({ now, client: alice, count: a.n }))
          } else if (a.k === "ack") {
            advance()
            if (connected && processed > 0) run(RE.AckReceived({ now, client: alice, frame: { t: "ack", sid: 1, cur: processed } }))
          } else if (a.k === "reconnect") {
            // Frames in flight are lost with the connection; the client resumes from what it processed.
            run(RE.ClientDetached({ now, client: alice }))
            connected = false
            for (const k of Array.from(covered)) if (k > processed) covered.delete(k)
            run(RE.ClientAttached({ now, client: alice }))
            connected = true
            advance()
            sub(processed)
          } else {
            now += a.dt
          }
        }
        // Drain: an attentive client flushes and acknowledges until nothing moves.
        for (let i = 0; i < 10_000 && processed < seq; i++) {
          run(RE.Flushed({ now, client: alice, count: config.clientSendWindow }))
          advance()
          if (processed > 0) run(RE.AckReceived({ now, client: alice, frame: { t: "ack", sid: 1, cur: processed } }))
        }
        advance()
        expect(processed).toBeGreaterThanOrEqual(seq)
      }),
      { numRuns: 300 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Station: bounded memory with slow subscribers
// ---------------------------------------------------------------------------------------------

describe("pubsub station: bounded memory", () => {
  it("queues, windows, replay buffers and the dedup window stay within their knobs", () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant("pub" as const), client: fc.nat(3), dup: fc.boolean() }),
      fc.record({ k: fc.constant("flush" as const), client: fc.nat(3), n: fc.nat(5) }),
      fc.record({ k: fc.constant("ack" as const), client: fc.nat(3), cur: fc.nat(100) }),
      fc.record({ k: fc.constant("sub" as const), client: fc.nat(3), sid: fc.nat(3), alo: fc.boolean(), wild: fc.boolean() }),
      fc.record({ k: fc.constant("detach" as const), client: fc.nat(3) }),
      fc.record({ k: fc.constant("wait" as const), dt: fc.nat(2_000) })
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const config: PubSub.Config = {
          ...PubSub.local,
          stationDedupMaxEntries: 16,
          aloBufferMaxBytes: 400,
          maxSubscriptionsPerClient: 3
        }
        const step = PubSub.makeRouterStep(config)
        let s = PubSub.initialRouter(config, { self: B.id(0xee) })
        let now = 0, seq = 0, id = 1
        const ids = [1, 2, 3, 4].map(B.id)
        const run = (e: PubSub.RouterEvent) => {
          s = step(s, e)[0]
          const z = PubSub.routerSizes(s)
          expect(z.maxQueue).toBeLessThanOrEqual(config.subscriberMailboxSize)
          expect(z.maxInFlight).toBeLessThanOrEqual(config.clientSendWindow)
          expect(z.maxAloBuffer).toBeLessThanOrEqual(config.aloBufferMaxEvents)
          expect(z.maxAloBytes).toBeLessThanOrEqual(config.aloBufferMaxBytes)
          expect(z.dedup).toBeLessThanOrEqual(config.stationDedupMaxEntries)
          expect(z.clients).toBeLessThanOrEqual(config.maxClients)
          expect(z.subscriptions).toBeLessThanOrEqual(4 * config.maxSubscriptionsPerClient)
        }
        for (const c of ids) run(RE.ClientAttached({ now, client: c }))
        for (const o of ops) {
          if (o.k === "wait") now += o.dt
          else if (o.k === "pub") {
            if (!o.dup) seq++
            const env = B.envelope({ pub: o.client + 1, seq: Math.max(1, seq), ts: WALL })
            run(RE.PubReceived({ now, wall: WALL, client: ids[o.client]!, envelope: env, verdict: PubSub.allowed, frame: { t: "pub", ...B.signedOf(env) } }))
          } else if (o.k === "flush") run(RE.Flushed({ now, client: ids[o.client]!, count: o.n }))
          else if (o.k === "ack") run(RE.AckReceived({ now, client: ids[o.client]!, frame: { t: "ack", sid: 0, cur: o.cur } }))
          else if (o.k === "detach") {
            run(RE.ClientDetached({ now, client: ids[o.client]! }))
            run(RE.ClientAttached({ now, client: ids[o.client]! }))
          } else {
            run(RE.SubReceived({
              now,
              client: ids[o.client]!,
              verdict: PubSub.allowed,
              frame: { t: "sub", id: id++, sid: o.sid, realm: B.realm, pat: o.wild ? B.everything : B.topic(), mode: o.alo ? "alo" : "amo" }
            }))
          }
        }
      }),
      { numRuns: 300 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Wildcard routing and interest exchange
// ---------------------------------------------------------------------------------------------

const seg = fc.constantFrom("a", "b")
const topicArb = fc.tuple(seg, seg, seg, fc.constantFrom("x_v1", "y_v1")).map(([o, a, d, n]) => `io.macula/${o}/${a}/${d}/${n}`)
const patternArb = fc.oneof(
  topicArb,
  fc.tuple(fc.constantFrom("a", "*"), fc.constantFrom("a", "b", "*"), fc.constantFrom("a", "*"), fc.constantFrom("x_v1", "*"))
    .map(([o, a, d, n]) => `io.macula/${o}/${a}/${d}/${n}`),
  fc.integer({ min: 1, max: 4 }).chain((k) =>
    fc.array(fc.constantFrom("a", "b", "*"), { minLength: k - 1, maxLength: k - 1 }).map((lits) => ["io.macula", ...lits, "#"].join("/"))
  )
).filter((p) => (Topic.isPattern(p) ? Topic.isValidPattern(p) : Topic.isValid(p)))

describe("pubsub station: routing", () => {
  it("the sids in the event frames equal a naive Topic.matches over every subscription", () => {
    fc.assert(
      fc.property(fc.array(patternArb, { minLength: 1, maxLength: 12 }), fc.array(topicArb, { minLength: 1, maxLength: 10 }), (patterns, pubs) => {
        const config = { ...PubSub.local, clientSendWindow: 10_000, publishBurst: 10_000 }
        const step = PubSub.makeRouterStep(config)
        let s = PubSub.initialRouter(config, { self: B.id(0xee) })
        const alice = B.id(1)
        s = step(s, RE.ClientAttached({ now: 0, client: alice }))[0]
        patterns.forEach((pat, sid) => {
          s = step(s, RE.SubReceived({ now: 0, client: alice, verdict: PubSub.allowed, frame: { t: "sub", id: sid, sid, realm: B.realm, pat } }))[0]
        })
        pubs.forEach((topic, i) => {
          const env = B.envelope({ pub: 1, seq: i + 1, topic, ts: WALL })
          const [after, out] = step(s, RE.PubReceived({ now: 0, wall: WALL, client: alice, envelope: env, verdict: PubSub.allowed, frame: { t: "pub", ...B.signedOf(env) } }))
          s = after
          const got = out.flatMap((c) => (c._tag === "Send" && c.frame.t === "event" ? c.frame.sid : []))
          const want = patterns.flatMap((p, sid) => (Topic.matches(p, topic) ? [sid] : []))
          expect([...got].sort((a, b) => a - b)).toEqual(want)
        })
      }),
      { numRuns: 300 }
    )
  })

  it("a client's event is forwarded exactly to the peers whose current interest matches it", () => {
    const msg = fc.record({
      peer: fc.nat(2),
      kind: fc.constantFrom("add", "del", "sync", "down", "up"),
      entries: fc.array(patternArb, { maxLength: 4 })
    })
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 30 }), fc.array(topicArb, { minLength: 1, maxLength: 6 }), (msgs, pubs) => {
        const step = PubSub.makeRouterStep(PubSub.local)
        let s = PubSub.initialRouter(PubSub.local, { self: B.id(0xee) })
        const peers = [0x51, 0x52, 0x53].map(B.id)
        const model = new Map<string, Set<string>>()
        const run = (e: PubSub.RouterEvent) => (s = step(s, e)[0])
        for (const p of peers) {
          run(RE.PeerUp({ now: 0, peer: p }))
          model.set(p, new Set())
        }
        run(RE.ClientAttached({ now: 0, client: B.id(1) }))
        msgs.forEach((m, i) => {
          const peer = peers[m.peer]!
          const e: ReadonlyArray<Frame.InterestEntry> = m.entries.map((p) => [B.realm, p] as const)
          if (m.kind === "down") {
            run(RE.PeerDown({ now: 0, peer }))
            model.delete(peer)
          } else if (m.kind === "up") {
            run(RE.PeerUp({ now: 0, peer }))
            if (!model.has(peer)) model.set(peer, new Set())
          } else if (model.has(peer)) {
            const set = model.get(peer)!
            if (m.kind === "add") for (const p of m.entries) set.add(p)
            if (m.kind === "del") for (const p of m.entries) set.delete(p)
            if (m.kind === "sync") model.set(peer, new Set(m.entries))
            const frame: Frame.InterestSync | Frame.InterestAdd | Frame.InterestDel = m.kind === "sync"
              ? { t: "interest.sync", id: i, gen: i, e, more: false }
              : { t: m.kind === "add" ? "interest.add" : "interest.del", gen: i, e }
            run(RE.InterestReceived({ now: 0, peer, frame }))
          }
        })
        pubs.forEach((topic, i) => {
          const env = B.envelope({ pub: 1, seq: i + 1, topic, ts: WALL })
          const [after, out] = step(s, RE.PubReceived({ now: 0, wall: WALL, client: B.id(1), envelope: env, verdict: PubSub.allowed, frame: { t: "pub", ...B.signedOf(env) } }))
          s = after
          const got = out.flatMap((c) => (c._tag === "Send" && c.frame.t === "fwd" ? [c.to] : []))
          const want = Array.from(model).flatMap(([p, set]) => (Array.from(set).some((pat) => Topic.matches(pat, topic)) ? [p] : []))
          expect([...got].sort()).toEqual([...want].sort())
        })
      }),
      { numRuns: 300 }
    )
  })
})

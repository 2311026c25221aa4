/**
 * RPC across 3 stations on the deterministic simulator: the station `Dispatcher` and the
 * client `Endpoint` cores wired as their actors would wire them, with a shared in-memory
 * "DHT" that stores provider records and answers lookups after a delay. Two callers call one
 * procedure served by three providers on two other stations; one provider crashes mid-run
 * and its station notices 50 ms later. What a caller cares about:
 * - every call ends exactly once, never after its deadline;
 * - idempotent calls all succeed: a call caught by the crash is retried on another provider;
 * - non-idempotent calls are never retried: the few caught by the crash fail with
 *   `relay_failed` (the handler may have run) or a stale-routing code, never silently twice;
 * - a seed replays a run exactly.
 */
import { describe, expect, it } from "vitest"
import { Rpc } from "../../src/protocols/rpc/index.ts"
import * as Sim from "../../src/testkit/sim/index.ts"
import type * as Frame from "../../src/wire/Frame.ts"
import type { ProviderRecordBody } from "../../src/wire/SignedBody.ts"

const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
const unhex = (h: string) => Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)))
const key = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const realm = key(0xaa)
const proc = "io.macula/acme/billing/invoice/render_v1"
const stations = [0xa0, 0xa1, 0xa2].map((n) => hexOf(key(n)))
const callers = [0x10, 0x11].map((n) => hexOf(key(n)))
const providers = [0x20, 0x21, 0x22].map((n) => hexOf(key(n)))
const homeOf: Record<string, string> = {
  [callers[0]!]: stations[0]!,
  [callers[1]!]: stations[1]!,
  [providers[0]!]: stations[1]!,
  [providers[1]!]: stations[2]!,
  [providers[2]!]: stations[2]!
}
const CALLS = 60
const CALL_EVERY = 25
const TIMEOUT = 500
const HANDLER_MS = 15
const DHT_MS = 30

// Records travel as JSON bytes; signatures are the actors' business.
const encodeRecord = (r: ProviderRecordBody): Frame.Signed => ({
  b: new TextEncoder().encode(JSON.stringify({ ...r, key: hexOf(r.key), pk: hexOf(r.pk), d: { ...r.d, realm: hexOf(r.d.realm), st: hexOf(r.d.st) } })),
  s: new Uint8Array(64)
})
const decodeRecord = (s: Frame.Signed): ProviderRecordBody => {
  const o = JSON.parse(new TextDecoder().decode(s.b))
  return { ...o, key: unhex(o.key), pk: unhex(o.pk), d: { ...o.d, realm: unhex(o.d.realm), st: unhex(o.d.st) } }
}

type Msg = { readonly frame: Frame.Frame }
type Input =
  | { readonly _tag: "Started"; readonly now: number }
  | { readonly _tag: "Msg"; readonly now: number; readonly from: string; readonly msg: Msg }
  | { readonly _tag: "Timer"; readonly now: number; readonly key: string; readonly generation: number }
  | { readonly _tag: "Detached"; readonly now: number; readonly client: string }
type Rec =
  | { readonly k: "done"; readonly caller: string; readonly ref: number; readonly idem: boolean; readonly outcome: Rpc.Outcome; readonly at: number; readonly deadline: number }
  | { readonly k: "ran"; readonly provider: string; readonly caller: string; readonly ref: number }
type Out =
  | { readonly _tag: "Net"; readonly to: string; readonly msg: Msg }
  | { readonly _tag: "Timer"; readonly key: string; readonly at: number; readonly generation: number }
  | { readonly _tag: "Cancel"; readonly key: string }
  | { readonly _tag: "Rec"; readonly rec: Rec }
type Node =
  | { readonly kind: "station"; readonly id: string; readonly d: Rpc.DispatcherState }
  | { readonly kind: "client"; readonly id: string; readonly e: Rpc.EndpointState; made: number; readonly calls: Map<number, { idem: boolean; deadline: number }>; readonly running: Map<number, string> }

const config = Rpc.defaults
const dispatcherStep = Rpc.makeDispatcherStep(config)
const endpointStep = Rpc.makeEndpointStep(config)

const run = (seed: number) => {
  /** The "DHT": provider records by provider key, latest seq wins. */
  const dht = new Map<string, ProviderRecordBody>()

  const station = (n: Extract<Node, { kind: "station" }>, e: Input): ReadonlyArray<Out> => {
    const { DispatcherEvent: E } = Rpc
    const now = e.now
    const events: Array<Rpc.DispatcherEvent> = []
    const allowed: Rpc.Verdict = { _tag: "Allowed" }
    if (e._tag === "Detached") events.push(E.ClientDetached({ now, client: e.client }))
    if (e._tag === "Timer") {
      if (e.key.startsWith("stored/")) events.push(E.RecordStored({ now, ref: Number(e.key.slice(7)), acks: config.storeQuorum }))
      else if (e.key === "resolve") {
        events.push(E.ProvidersResolved({ now, realm, proc, records: Array.from(dht.values()).filter((r) => r.d.gone !== true) }))
      } else events.push(E.TimerFired({ now, timer: e.key, generation: e.generation }))
    }
    if (e._tag === "Msg") {
      const f = e.msg.frame
      const role = stations.includes(e.from) ? "station" : "client"
      if (role === "client" && !n.d.clients.has(e.from)) events.push(E.ClientAttached({ now, client: e.from }))
      if (f.t === "adv") events.push(E.AdvReceived({ now, client: e.from, frame: f, record: decodeRecord(f.rec), verdict: allowed }))
      else if (f.t === "unadv") events.push(E.UnadvReceived({ now, client: e.from, frame: f, record: decodeRecord(f.rec) }))
      else if (f.t === "call") events.push(E.CallReceived({ now, from: e.from, role, frame: f, verdict: allowed }))
      else if (f.t === "reply") events.push(E.ReplyReceived({ now, from: e.from, frame: f }))
      else if (f.t === "cancel") events.push(E.CancelReceived({ now, from: e.from, frame: f }))
    }
    const out: Array<Out> = []
    for (const ev of events) {
      for (const c of dispatcherStep(n.d, ev)[1]) {
        if (c._tag === "Send") out.push({ _tag: "Net", to: c.to, msg: { frame: c.frame } })
        else if (c._tag === "SetTimer") out.push({ _tag: "Timer", key: c.timer, at: c.at, generation: c.generation })
        else if (c._tag === "CancelTimer") out.push({ _tag: "Cancel", key: c.timer })
        else if (c._tag === "StoreRecord") {
          const r = decodeRecord(c.record)
          const held = dht.get(hexOf(r.pk))
          if (held === undefined || held.seq < r.seq) dht.set(hexOf(r.pk), r)
          out.push({ _tag: "Timer", key: `stored/${c.ref}`, at: now + DHT_MS, generation: 0 })
        } else if (c._tag === "ResolveProviders") out.push({ _tag: "Timer", key: "resolve", at: now + DHT_MS, generation: 0 })
      }
    }
    return out
  }

  const client = (n: Extract<Node, { kind: "client" }>, e: Input): ReadonlyArray<Out> => {
    const { EndpointEvent: E } = Rpc
    const home = homeOf[n.id]!
    const now = e.now
    const wall = 1_700_000_000_000 + now
    const events: Array<Rpc.EndpointEvent> = []
    const out: Array<Out> = []
    const isCaller = callers.includes(n.id)
    if (e._tag === "Started") {
      events.push(E.LinkUp({ now, wall, station: home }))
      if (isCaller) out.push({ _tag: "Timer", key: "call", at: 300 + callers.indexOf(n.id) * 7, generation: 0 })
      else events.push(E.Advertise({ now, wall, ref: 1, realm, proc, modes: ["unary"], req: false }))
    } else if (e._tag === "Timer") {
      if (e.key === "call") {
        if (n.made < CALLS) {
          const ref = ++n.made
          const idem = ref % 2 === 0
          n.calls.set(ref, { idem, deadline: now + TIMEOUT })
          events.push(E.Call({ now, ref, realm, proc, args: ref, idempotent: idem, timeoutMs: TIMEOUT }))
          out.push({ _tag: "Timer", key: "call", at: now + CALL_EVERY, generation: 0 })
        }
      } else if (e.key.startsWith("handler/")) {
        const id = Number(e.key.slice(8))
        if (n.running.delete(id)) events.push(E.HandlerReturned({ now, id, result: { by: n.id } }))
      } else events.push(E.TimerFired({ now, timer: e.key, generation: e.generation }))
    } else if (e._tag === "Msg") {
      const f = e.msg.frame
      if (f.t === "reply") events.push(E.ReplyReceived({ now, frame: f }))
      else if (f.t === "ok" || f.t === "err") events.push(E.AnswerReceived({ now, frame: f }))
      else if (f.t === "call") events.push(E.CallReceived({ now, frame: f }))
      else if (f.t === "cancel") events.push(E.CancelReceived({ now, id: f.id }))
    }
    for (const ev of events) {
      const cidOf = ev._tag === "CallReceived" ? hexOf(ev.frame.cid) : ""
      for (const c of endpointStep(n.e, ev)[1]) {
        if (c._tag === "Send") out.push({ _tag: "Net", to: home, msg: { frame: c.frame } })
        else if (c._tag === "SetTimer") out.push({ _tag: "Timer", key: c.timer, at: c.at, generation: c.generation })
        else if (c._tag === "CancelTimer") out.push({ _tag: "Cancel", key: c.timer })
        else if (c._tag === "SignAdvertisement") {
          const d = c.draft
          const record: ProviderRecordBody = {
            ty: "provider",
            key: key(0),
            pk: unhex(n.id),
            seq: d.seq,
            iat: d.iat,
            exp: d.exp,
            d: { realm: d.realm, proc: d.proc, st: d.st, modes: d.modes, req: d.req, ...(d.gone ? { gone: true } : {}) }
          }
          const frame: Frame.Frame = d.gone
            ? { t: "unadv", id: c.id, realm: d.realm, proc: d.proc, rec: encodeRecord(record) }
            : { t: "adv", id: c.id, realm: d.realm, proc: d.proc, modes: d.modes, rec: encodeRecord(record) }
          out.push({ _tag: "Net", to: home, msg: { frame } })
        } else if (c._tag === "RunHandler") {
          n.running.set(c.id, cidOf)
          out.push({ _tag: "Rec", rec: { k: "ran", provider: n.id, caller: c.from === undefined ? "" : hexOf(c.from), ref: c.args as number } })
          out.push({ _tag: "Timer", key: `handler/${c.id}`, at: now + HANDLER_MS, generation: 0 })
        } else if (c._tag === "AbortHandler") n.running.delete(c.id)
        else if (c._tag === "Complete") {
          const info = n.calls.get(c.ref)!
          out.push({ _tag: "Rec", rec: { k: "done", caller: n.id, ref: c.ref, idem: info.idem, outcome: c.outcome, at: now, deadline: info.deadline } })
        }
      }
    }
    return out
  }

  const sim = Sim.make<Node, Input, Out, Msg, string, Rec>({
    seed,
    nodes: [...stations, ...callers, ...providers],
    initial: (ctx): Node =>
      stations.includes(ctx.id)
        ? { kind: "station", id: ctx.id, d: Rpc.initialDispatcher({ self: ctx.id, seed: ctx.seed }) }
        : { kind: "client", id: ctx.id, e: Rpc.initialEndpoint({ seed: ctx.seed }), made: 0, calls: new Map(), running: new Map() },
    step: (node, e) => Sim.Step.next(node, node.kind === "station" ? station(node, e) : client(node, e)),
    interpret: (c) => {
      switch (c._tag) {
        case "Net":
          return Sim.send(c.to, c.msg)
        case "Timer":
          return Sim.setTimer(c.key, c.at, c.generation)
        case "Cancel":
          return Sim.cancelTimer(c.key)
        case "Rec":
          return Sim.emit(c.rec)
      }
    },
    events: {
      message: (msg, from, now): Input => ({ _tag: "Msg", msg, from, now }),
      timer: (k, generation, now): Input => ({ _tag: "Timer", key: k, generation, now }),
      started: ({ now }): Input => ({ _tag: "Started", now })
    },
    network: { latencyMs: 5 },
    link: (from, to) => ({ latencyMs: 2 + ((from.charCodeAt(1) + to.charCodeAt(1)) % 5) * 3 })
  })
  // Provider 2 dies at 900 ms; its station's liveness check notices 50 ms later.
  Sim.crash(sim, providers[2]!, { at: 900 })
  Sim.inject(sim, 950, stations[2]!, { _tag: "Detached", now: 950, client: providers[2]! })
  Sim.runUntilQuiet(sim, { maxMs: 60_000 })
  return Sim.records(sim).map((o) => o.record)
}

describe("rpc simulation: 3 stations, 2 callers, 3 providers, one crash", () => {
  it("every call ends once and in time; idempotent calls all succeed; others are never retried", () => {
    const recs = run(5)
    const done = recs.filter((r): r is Extract<Rec, { k: "done" }> => r.k === "done")
    const ran = recs.filter((r): r is Extract<Rec, { k: "ran" }> => r.k === "ran")
    // Exactly once per call.
    expect(done.length).toBe(callers.length * CALLS)
    expect(new Set(done.map((d) => `${d.caller}/${d.ref}`)).size).toBe(done.length)
    for (const d of done) if (d.at >= d.deadline) expect(d.outcome._tag).toBe("CallTimeout")
    // Idempotent calls survive the crash by retrying elsewhere.
    const idem = done.filter((d) => d.idem)
    expect(idem.filter((d) => d.outcome._tag !== "Ok")).toEqual([])
    // Non-idempotent calls: a handful caught by the crash fail; none ran twice anywhere.
    const failed = done.filter((d) => !d.idem && d.outcome._tag !== "Ok")
    expect(failed.length).toBeLessThanOrEqual(5)
    const runs = new Map<string, number>()
    for (const r of ran) runs.set(`${r.caller}/${r.ref}`, (runs.get(`${r.caller}/${r.ref}`) ?? 0) + 1)
    for (const d of done) if (!d.idem) expect(runs.get(`${d.caller}/${d.ref}`) ?? 0).toBeLessThanOrEqual(1)
    // Only the idempotent calls caught by the crash ran twice (once on the dead provider).
    expect(Array.from(runs.values()).filter((n) => n > 1).length).toBeLessThanOrEqual(3)
    expect(done.filter((d) => d.outcome._tag === "Ok").length).toBeGreaterThan(done.length - 6)
    // Load spreads over the providers that were alive.
    const byProvider = new Set(ran.map((r) => r.provider))
    expect(byProvider.size).toBeGreaterThanOrEqual(2)
  })

  it("a seed replays the run exactly", () => {
    expect(JSON.stringify(run(9))).toBe(JSON.stringify(run(9)))
  })
})

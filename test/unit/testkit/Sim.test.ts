/**
 * The deterministic simulator: agenda order, timers and stale generations, latency and
 * jitter, loss and duplication rates, partitions, crashes and restarts, runs and stats.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import * as Prng from "../../../src/core/Prng.ts"
import * as Sim from "../../../src/testkit/sim/index.ts"
import * as Ping from "./PingCore.ts"

const { Agenda, Network } = Sim

const arm = (sim: Sim.Sim<Ping.State, Ping.Ev, Ping.Rec>, at: number, node: string, timer: string, fireAt: number) =>
  Sim.inject(sim, at, node, { _tag: "Arm", timer, at: fireAt, now: at })

describe("Agenda", () => {
  it("pops by time, and entries with equal times in insertion order", () => {
    const agenda = Agenda.make<{ at: number; seq: number; label: string }>()
    for (const [at, label] of [[5, "a"], [1, "b"], [5, "c"], [0, "d"], [5, "e"], [1, "f"]] as const) {
      Agenda.push(agenda, { at, seq: 0, label })
    }
    const out: Array<string> = []
    for (let e = Agenda.pop(agenda); e !== undefined; e = Agenda.pop(agenda)) out.push(e.label)
    expect(out).toEqual(["d", "b", "f", "a", "c", "e"])
    expect(Agenda.size(agenda)).toBe(0)
    expect(Agenda.peek(agenda)).toBeUndefined()
  })

  it("pops 50,000 seeded entries in (at, seq) order with pushes interleaved", () => {
    const rng = Prng.cursor(Prng.fromSeed(7))
    const agenda = Agenda.make<{ at: number; seq: number }>()
    const popped: Array<{ at: number; seq: number }> = []
    for (let i = 0; i < 50_000; i++) {
      Agenda.push(agenda, { at: rng.int(0, 1_000), seq: 0 })
      if (rng.float() < 0.4) popped.push(Agenda.pop(agenda)!)
    }
    const rest: Array<{ at: number; seq: number }> = []
    for (let e = Agenda.pop(agenda); e !== undefined; e = Agenda.pop(agenda)) rest.push(e)
    const sorted = rest.every((b, i) => {
      const a = rest[i - 1]
      return a === undefined || a.at < b.at || (a.at === b.at && a.seq < b.seq)
    })
    expect(sorted).toBe(true)
    expect(popped.length + rest.length).toBe(50_000)
  })
})

describe("Rng", () => {
  it("yields exactly the numbers of the immutable Prng it continues, and its state", () => {
    let p = Prng.fromSeed(123)
    const rng = Sim.Rng.fromPrng(p)
    for (let i = 0; i < 1_000; i++) {
      const [u, p1] = Prng.nextU32(p)
      expect(rng.u32()).toBe(u)
      const [f, p2] = Prng.nextFloat(p1)
      expect(rng.float()).toBe(f)
      const [k, p3] = Prng.nextInt(p2, -5, 17)
      expect(rng.int(-5, 17)).toBe(k)
      p = p3
    }
    expect(rng.state()).toEqual(p)
  })
})

describe("Sim delivery and time", () => {
  it("delivers a message after the link latency, with that time as the event's now", () => {
    const sim = Ping.make()
    Ping.sendPings(sim, 5, "a", "b", 1)
    expect(Sim.runUntilQuiet(sim).reason).toBe("quiet")
    const log = Sim.trace(sim)
    expect(log.map((d) => [d.kind, d.node, d.at])).toEqual([
      ["inject", "a", 5],
      ["message", "b", 15],
      ["message", "a", 25]
    ])
    expect(log[1]!.from).toBe("a")
    expect(log[1]!.sentAt).toBe(5)
    for (const d of log) expect(d.event.now).toBe(d.at)
    expect(Sim.state(sim, "a").pongs).toBe(1)
    expect(Sim.now(sim)).toBe(25)
  })

  it("orders simultaneous deliveries by the order they were scheduled", () => {
    const sim = Ping.make()
    Ping.sendPings(sim, 0, "a", "c", 3)
    Ping.sendPings(sim, 0, "b", "c", 2)
    Sim.runUntilQuiet(sim)
    expect(Ping.pings(Sim.state(sim, "c")).map((p) => `${p.from}${p.n}`)).toEqual(["a0", "a1", "a2", "b0", "b1"])
  })

  it("runUntil advances time even when nothing is due, and leaves later entries waiting", () => {
    const sim = Ping.make()
    Ping.sendPings(sim, 100, "a", "b", 1)
    expect(Sim.runUntil(sim, 50)).toEqual({ reason: "time", now: 50, steps: 0 })
    expect(Sim.runUntil(sim, 110)).toEqual({ reason: "time", now: 110, steps: 2 })
    expect(Sim.runFor(sim, 5)).toEqual({ reason: "time", now: 115, steps: 0 })
    expect(Sim.runUntilQuiet(sim)).toEqual({ reason: "quiet", now: 120, steps: 1 })
  })

  it("stops on a predicate and on maxSteps", () => {
    const sim = Ping.make()
    Ping.sendPings(sim, 0, "a", "b", 10)
    const stopped = Sim.runUntilQuiet(sim, { stop: (s) => Sim.state(s, "b").receivedCount === 4 })
    expect(stopped.reason).toBe("stopped")
    expect(Ping.pings(Sim.state(sim, "b")).length).toBe(4)
    expect(Sim.runUntilQuiet(sim, { maxSteps: 3 })).toMatchObject({ reason: "limit", steps: 3 })
    expect(Sim.runUntilQuiet(sim, { maxMs: 12 })).toMatchObject({ reason: "time", now: 12 })
    expect(Sim.runUntilQuiet(sim)).toMatchObject({ reason: "quiet", now: 20 })
  })

  it("runUntilQuiet returns at maxMs when the agenda never empties", () => {
    const sim = Ping.make()
    arm(sim, 0, "a", "t", 1_000)
    expect(Sim.runUntilQuiet(sim, { maxMs: 500 })).toEqual({ reason: "time", now: 500, steps: 1 })
  })

  it("refuses to schedule in the past and unknown nodes", () => {
    const sim = Ping.make()
    Sim.runUntil(sim, 100)
    expect(() => Ping.sendPings(sim, 99, "a", "b", 1)).toThrow(RangeError)
    expect(() => Ping.sendPings(sim, 100, "zz", "b", 1)).toThrow(RangeError)
    expect(() => Sim.crash(sim, "a", { at: 10 })).toThrow(RangeError)
    expect(() => Sim.state(sim, "zz")).toThrow(RangeError)
    expect(() => Ping.make({ nodes: ["a", "a"] })).toThrow(RangeError)
    expect(() => Ping.make({ network: { loss: 2 } })).toThrow(/loss/)
  })

  it("counts messages to unknown ids as dropped", () => {
    const sim = Ping.make()
    Ping.sendPings(sim, 0, "a", "nobody", 2)
    Sim.runUntilQuiet(sim)
    expect(Sim.stats(sim)).toMatchObject({ sent: 2, delivered: 0, dropped: { unknown: 2 } })
  })

  it("wraps a throwing step in a SimDefect naming the node and the time", () => {
    const sim = Ping.make()
    Sim.inject(sim, 42, "b", { _tag: "Boom", now: 42 })
    let thrown: unknown
    try {
      Sim.runUntilQuiet(sim)
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(Sim.SimDefect)
    expect(thrown).toMatchObject({ node: "b", at: 42, phase: "step", message: expect.stringContaining("invariant broken") })
  })
})

describe("Sim timers", () => {
  it("fires a timer at its time with its generation and now", () => {
    const sim = Ping.make()
    arm(sim, 5, "a", "t", 50)
    Sim.runUntilQuiet(sim)
    expect(Sim.state(sim, "a").fired).toEqual([{ timer: "t", generation: 1, now: 50 }])
    expect(Sim.records(sim)).toEqual([{ at: 50, node: "a", record: { _tag: "Fired", timer: "t", generation: 1 } }])
    expect(Sim.stats(sim).timers).toMatchObject({ set: 1, fired: 1 })
  })

  it("clamps a timer set in the past to now", () => {
    const sim = Ping.make()
    arm(sim, 30, "a", "t", 10)
    Sim.runUntilQuiet(sim)
    expect(Sim.state(sim, "a").fired).toEqual([{ timer: "t", generation: 1, now: 30 }])
  })

  it("replaces a pending timer with the same key: only the newest generation fires", () => {
    const sim = Ping.make()
    arm(sim, 0, "a", "t", 50)
    arm(sim, 10, "a", "t", 80)
    arm(sim, 0, "a", "u", 60)
    Sim.runUntilQuiet(sim)
    expect(Sim.state(sim, "a").fired).toEqual([
      { timer: "u", generation: 1, now: 60 },
      { timer: "t", generation: 2, now: 80 }
    ])
    expect(Sim.state(sim, "a").stale).toBe(0)
    expect(Sim.stats(sim).timers).toMatchObject({ set: 3, fired: 2, superseded: 1 })
  })

  it("with staleTimers 'deliver', superseded and cancelled timers fire and the core ignores them", () => {
    const sim = Ping.make({ staleTimers: "deliver" })
    arm(sim, 0, "a", "t", 50)
    arm(sim, 10, "a", "t", 80)
    arm(sim, 0, "a", "u", 60)
    Sim.inject(sim, 20, "a", { _tag: "Disarm", timer: "u", now: 20 })
    Sim.runUntilQuiet(sim)
    expect(Sim.state(sim, "a").fired).toEqual([{ timer: "t", generation: 2, now: 80 }])
    expect(Sim.state(sim, "a").stale).toBe(2)
    expect(Sim.stats(sim).timers).toMatchObject({ set: 3, fired: 3, superseded: 1, cancelled: 1 })
  })

  it("cancels a pending timer", () => {
    const sim = Ping.make()
    arm(sim, 0, "a", "t", 50)
    Sim.inject(sim, 20, "a", { _tag: "Disarm", timer: "t", now: 20 })
    Sim.runUntilQuiet(sim)
    expect(Sim.state(sim, "a").fired).toEqual([])
    expect(Sim.stats(sim).timers).toMatchObject({ set: 1, fired: 0, cancelled: 1 })
  })

  it("keys object timers by their JSON unless timerKey says otherwise", () => {
    type K = { readonly peer: string }
    type E = { readonly peer: string; readonly at: number } | { readonly fired: K }
    const fired: Array<string> = []
    const sim = Sim.make({
      seed: 1,
      nodes: ["a"],
      initial: () => 0,
      step: (n: number, e: E) => {
        if ("fired" in e) fired.push(e.fired.peer)
        return [n, "at" in e ? [Sim.setTimer<K>({ peer: e.peer }, e.at, n)] : []] as const
      },
      interpret: (c: Sim.SetTimer<K>) => c,
      events: { message: (): E => ({ fired: { peer: "?" } }), timer: (k: K): E => ({ fired: k }) }
    })
    Sim.inject(sim, 0, "a", { peer: "x", at: 10 })
    Sim.inject(sim, 1, "a", { peer: "x", at: 20 })
    Sim.inject(sim, 1, "a", { peer: "y", at: 15 })
    Sim.runUntilQuiet(sim)
    expect(fired).toEqual(["y", "x"])
  })
})

describe("Sim network model", () => {
  it("keeps every delay within [latency, latency + jitter) and reorders with jitter", () => {
    const sim = Ping.make({ network: { latencyMs: 30, jitter: Network.uniform(20) } })
    Ping.sendPings(sim, 0, "a", "b", 2_000)
    Sim.runUntilQuiet(sim)
    const pings = Ping.pings(Sim.state(sim, "b"))
    expect(pings.length).toBe(2_000)
    expect(Math.min(...pings.map((p) => p.now))).toBeGreaterThanOrEqual(30)
    expect(Math.max(...pings.map((p) => p.now))).toBeLessThan(50)
    const inversions = pings.filter((p, i) => i > 0 && p.n < pings[i - 1]!.n).length
    expect(inversions).toBeGreaterThan(100)
  })

  it("keeps a link in order without jitter", () => {
    const sim = Ping.make({ network: { latencyMs: 30 } })
    Ping.sendPings(sim, 0, "a", "b", 100)
    Sim.runUntilQuiet(sim)
    expect(Ping.pings(Sim.state(sim, "b")).map((p) => p.n)).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it("applies per-link latency from config.link", () => {
    const sim = Ping.make({ link: (from, to) => (from === "a" && to === "c" ? { latencyMs: 100 } : undefined) })
    Ping.sendPings(sim, 0, "a", "b", 1)
    Ping.sendPings(sim, 0, "a", "c", 1)
    Sim.runUntilQuiet(sim)
    expect(Ping.pings(Sim.state(sim, "b"))[0]!.now).toBe(10)
    expect(Ping.pings(Sim.state(sim, "c"))[0]!.now).toBe(100)
    expect(Sim.link(sim, "c", "a").latencyMs).toBe(10)
  })

  it("draws each jitter distribution within its bounds", () => {
    const rng = Prng.cursor(Prng.fromSeed(3))
    const draw = (j: Sim.Network.Jitter) => Array.from({ length: 5_000 }, () => Network.sampleJitter(j, rng))
    const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
    const exp = draw(Network.exponential(10, 50))
    expect(Math.max(...exp)).toBeLessThanOrEqual(50)
    expect(mean(exp)).toBeGreaterThan(8.5)
    expect(mean(exp)).toBeLessThan(10.5)
    const norm = draw(Network.normal(20, 4))
    expect(Math.min(...norm)).toBeGreaterThanOrEqual(0)
    expect(Math.abs(mean(norm) - 20)).toBeLessThan(0.5)
    expect(draw(Network.none()).every((x) => x === 0)).toBe(true)
    expect(Network.problems({ ...Network.perfect, jitter: Network.uniform(-1) })).toHaveLength(1)
  })

  it("loses messages at the configured rate (20 % of 20,000, within 1 %)", () => {
    const sim = Ping.make({ seed: 11, network: { loss: 0.2 } })
    Ping.sendPings(sim, 0, "a", "b", 20_000)
    Sim.runUntilQuiet(sim)
    const received = Ping.pings(Sim.state(sim, "b")).length
    const stats = Sim.stats(sim)
    // Pings and the pongs for the pings that arrived.
    expect(stats.sent).toBe(20_000 + received)
    expect(Math.abs(received / 20_000 - 0.8)).toBeLessThan(0.01)
    expect(stats.delivered + stats.dropped.loss).toBe(stats.sent)
    expect(stats.byKind["Ping"]!.dropped.loss).toBe(20_000 - received)
    expect(Sim.nodeStats(sim, "b").dropped.loss).toBe(20_000 - received)
    expect(stats.inFlight).toBe(0)
  })

  it("duplicates messages at the configured rate, each copy with its own delay", () => {
    const sim = Ping.make({ seed: 5, network: { duplicate: 0.1, jitter: Network.uniform(5) } })
    Ping.sendPings(sim, 0, "a", "b", 10_000)
    Sim.runUntil(sim, 16)
    const pings = Ping.pings(Sim.state(sim, "b"))
    expect(Math.abs(pings.length / 10_000 - 1.1)).toBeLessThan(0.01)
    expect(new Set(pings.map((p) => p.n)).size).toBe(10_000)
    expect(Sim.stats(sim).byKind["Ping"]!.duplicated).toBe(pings.length - 10_000)
  })

  it("transmit: loss 1 loses, duplicate 1 doubles, and every delay is at least the latency", () => {
    const rng = Sim.Rng.fromSeed(1)
    expect(Network.transmit({ ...Network.perfect, loss: 1 }, rng)).toEqual([])
    expect(Network.transmit({ ...Network.perfect, duplicate: 1 }, rng)).toEqual([10, 10])
    const delays = Array.from({ length: 1_000 }, () => Network.transmit(Network.lossy, rng)).flat()
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(Network.lossy.latencyMs)
    expect(Math.max(...delays)).toBeLessThanOrEqual(Network.lossy.latencyMs + 200)
  })

  it("sets and clears a link override both ways", () => {
    const sim = Ping.make()
    Sim.setLink(sim, "a", "b", { latencyMs: 50 }, { bothWays: true })
    expect([Sim.link(sim, "a", "b").latencyMs, Sim.link(sim, "b", "a").latencyMs]).toEqual([50, 50])
    Ping.sendPings(sim, 0, "a", "b", 1)
    Sim.runUntilQuiet(sim)
    expect(Sim.now(sim)).toBe(100)
    Sim.setLink(sim, "a", "b", undefined)
    expect([Sim.link(sim, "a", "b").latencyMs, Sim.link(sim, "b", "a").latencyMs]).toEqual([10, 50])
  })

  it("changes the network during a run: setNetwork and an asymmetric setLink", () => {
    const sim = Ping.make()
    Sim.setNetwork(sim, { loss: 1 }, { at: 100 })
    Sim.setNetwork(sim, { loss: 0 }, { at: 200 })
    Sim.setLink(sim, "b", "a", { loss: 1 }, { at: 300 })
    Ping.sendPings(sim, 50, "a", "b", 1) // before: ping and pong arrive
    Ping.sendPings(sim, 150, "a", "b", 1) // during total loss
    Ping.sendPings(sim, 350, "a", "b", 1) // b -> a cut: the ping arrives, the pong does not
    Sim.runUntilQuiet(sim)
    expect(Ping.pings(Sim.state(sim, "b")).map((p) => p.n)).toEqual([0, 2])
    expect(Sim.state(sim, "a").pongs).toBe(1)
    expect(Sim.link(sim, "b", "a").loss).toBe(1)
    expect(Sim.link(sim, "a", "b").loss).toBe(0)
  })
})

describe("Sim partitions", () => {
  it("blocks links between groups, not within them, and heals", () => {
    const sim = Ping.make({ nodes: ["a", "b", "c", "d"] })
    const p = Sim.partition(sim, [["a", "b"]])
    expect(Sim.isCut(sim, "a", "c")).toBe(true)
    expect(Sim.isCut(sim, "c", "d")).toBe(false)
    expect(Sim.isCut(sim, "a", "b")).toBe(false)
    Ping.sendPings(sim, 0, "a", "b", 1)
    Ping.sendPings(sim, 0, "a", "c", 1)
    Ping.sendPings(sim, 0, "c", "d", 1)
    Sim.runUntilQuiet(sim)
    expect(Ping.pings(Sim.state(sim, "b")).length).toBe(1)
    expect(Ping.pings(Sim.state(sim, "c")).length).toBe(0)
    expect(Ping.pings(Sim.state(sim, "d")).length).toBe(1)
    expect(Sim.stats(sim).dropped.partition).toBe(1)
    Sim.heal(sim, p)
    Ping.sendPings(sim, Sim.now(sim), "a", "c", 1)
    Sim.runUntilQuiet(sim)
    expect(Ping.pings(Sim.state(sim, "c")).length).toBe(1)
    expect(Sim.state(sim, "a").pongs).toBe(2)
  })

  it("starts and heals on schedule, dropping messages in flight when it starts", () => {
    const sim = Ping.make({ network: { latencyMs: 100 } })
    Sim.partition(sim, [["a"], ["b"]], { at: 50, healAt: 500 })
    Ping.sendPings(sim, 0, "a", "b", 1) // in flight at 50: dropped on arrival at 100
    Ping.sendPings(sim, 200, "a", "b", 1) // dropped at send
    Ping.sendPings(sim, 200, "a", "c", 1) // c is in the implicit third group: cut off too
    Ping.sendPings(sim, 600, "a", "b", 1) // healed
    Sim.runUntilQuiet(sim)
    expect(Ping.pings(Sim.state(sim, "b")).map((p) => p.n)).toEqual([3])
    expect(Sim.nodeStats(sim, "b").dropped.partition).toBe(2)
    expect(Sim.stats(sim).dropped.partition).toBe(3)
  })

  it("cuts a link if any active partition separates its ends; heal() ends them all", () => {
    const sim = Ping.make({ nodes: ["a", "b", "c"] })
    Sim.partition(sim, [["a", "b"], ["c"]])
    Sim.partition(sim, [["a"], ["b", "c"]])
    expect(["a-b", "b-c", "a-c"].map((l) => Sim.isCut(sim, l[0]!, l[2]!))).toEqual([true, true, true])
    Sim.heal(sim)
    expect(Sim.isCut(sim, "a", "c")).toBe(false)
    expect(() => Sim.partition(sim, [["a"], ["a"]])).toThrow(RangeError)
  })
})

describe("Sim crashes and restarts", () => {
  it("loses every input that reaches a crashed node, and its timers", () => {
    const sim = Ping.make()
    arm(sim, 0, "b", "t", 100)
    Sim.crash(sim, "b", { at: 20 })
    Ping.sendPings(sim, 0, "a", "b", 1) // arrives at 10: delivered
    Ping.sendPings(sim, 30, "a", "b", 3) // arrives at 40: lost
    Sim.inject(sim, 50, "b", { _tag: "SendPings", to: "a", count: 1, now: 50 }) // lost
    Sim.runUntilQuiet(sim)
    expect(Sim.isUp(sim, "b")).toBe(false)
    expect(Ping.pings(Sim.state(sim, "b")).length).toBe(1)
    expect(Sim.state(sim, "b").fired).toEqual([])
    const stats = Sim.stats(sim)
    expect(stats.dropped.crash).toBe(3)
    expect(stats.injected).toEqual({ delivered: 2 + 1, lost: 1 })
    expect(stats.timers.lost).toBe(1)
    expect(Sim.nodeStats(sim, "b")).toMatchObject({ up: false, crashes: 1, received: 1, dropped: { crash: 3 } })
  })

  it("still delivers what a node sent before it crashed", () => {
    const sim = Ping.make()
    Ping.sendPings(sim, 0, "a", "b", 1)
    Sim.crash(sim, "a", { at: 1 })
    Sim.runUntilQuiet(sim)
    expect(Ping.pings(Sim.state(sim, "b")).length).toBe(1)
    expect(Sim.stats(sim).dropped.crash).toBe(1) // the pong
  })

  it("restarts with the state reset by initial, a new incarnation and a start event", () => {
    const sim = Ping.make({ started: true })
    Ping.sendPings(sim, 0, "a", "b", 2)
    arm(sim, 0, "b", "t", 200)
    Sim.crash(sim, "b", { at: 50 })
    Sim.restart(sim, "b", { at: 100 })
    Ping.sendPings(sim, 150, "a", "b", 1)
    Sim.runUntilQuiet(sim)
    const b = Sim.state(sim, "b")
    expect(b.incarnation).toBe(1)
    expect(b.starts).toBe(1)
    expect(Ping.pings(b).map((p) => p.n)).toEqual([2])
    expect(b.fired).toEqual([]) // the timer set before the crash never fires
    expect(b.seed).not.toBe(Sim.state(Ping.make(), "b").seed)
    expect(Sim.nodeStats(sim, "b")).toMatchObject({ up: true, incarnation: 1, crashes: 1, restarts: 1 })
    expect(Sim.trace(sim).filter((d) => d.kind === "start").map((d) => [d.node, d.at])).toEqual([
      ["a", 0],
      ["b", 0],
      ["c", 0],
      ["b", 100]
    ])
  })

  it("restarts with the state kept when asked, and restart() of a live node crashes it first", () => {
    const sim = Ping.make({ started: true })
    Ping.sendPings(sim, 0, "a", "b", 2)
    arm(sim, 0, "b", "t", 200)
    Sim.restart(sim, "b", { at: 50, state: "keep" })
    Sim.runUntilQuiet(sim)
    const b = Sim.state(sim, "b")
    expect(Ping.pings(b).length).toBe(2)
    expect(b.starts).toBe(2)
    expect(b.fired).toEqual([])
    expect(Sim.nodeStats(sim, "b")).toMatchObject({ crashes: 1, restarts: 1, incarnation: 1 })
  })

  it("adds a node during a run", () => {
    const sim = Ping.make({ started: true })
    Sim.addNode(sim, "d", { at: 40 })
    Ping.sendPings(sim, 0, "a", "d", 1) // d does not exist yet
    Ping.sendPings(sim, 45, "a", "d", 1)
    Sim.runUntilQuiet(sim)
    expect(Sim.nodes(sim)).toEqual(["a", "b", "c", "d"])
    expect(Ping.pings(Sim.state(sim, "d")).map((p) => p.n)).toEqual([1])
    expect(Sim.state(sim, "d").starts).toBe(1)
    expect(Sim.stats(sim).dropped.unknown).toBe(1)
  })
})

describe("Sim observations and determinism", () => {
  it("collects counters and records per node and globally", () => {
    const sim = Ping.make()
    Ping.sendPings(sim, 0, "a", "b", 3)
    Ping.sendPings(sim, 0, "a", "c", 2)
    arm(sim, 0, "c", "t", 5)
    Sim.runUntilQuiet(sim)
    expect(Sim.counter(sim, "pings")).toBe(5)
    expect(Sim.counter(sim, "pings", "b")).toBe(3)
    expect(Sim.counter(sim, "nothing", "b")).toBe(0)
    expect(Sim.nodeStats(sim, "c").counters).toEqual({ pings: 2 })
    expect(Sim.stats(sim).counters).toEqual({ pings: 5 })
    expect(Sim.records(sim, "c")).toHaveLength(1)
    expect(Sim.records(sim, "b")).toHaveLength(0)
    expect(Sim.stats(sim).byKind).toEqual({
      Ping: { sent: 5, delivered: 5, duplicated: 0, dropped: { loss: 0, partition: 0, crash: 0, unknown: 0 } },
      Pong: { sent: 5, delivered: 5, duplicated: 0, dropped: { loss: 0, partition: 0, crash: 0, unknown: 0 } }
    })
  })

  it("passes records to onEmit, and keeps none with keepRecords false", () => {
    const seen: Array<Sim.Observation<Ping.Rec>> = []
    const sim = Sim.make({
      seed: 1,
      nodes: ["a"],
      initial: Ping.initial,
      step: Ping.step,
      interpret: Ping.interpret,
      events: Ping.events,
      keepRecords: false,
      onEmit: (o) => seen.push(o)
    })
    arm(sim, 0, "a", "t", 5)
    Sim.runUntilQuiet(sim)
    expect(seen).toEqual([{ at: 5, node: "a", record: { _tag: "Fired", timer: "t", generation: 1 } }])
    expect(Sim.records(sim)).toEqual([])
  })

  it("runs scripted scenarios at their time: churn chosen by the scenario generator", () => {
    const sim = Ping.make({ nodes: Sim.ids(10), started: true })
    const churned: Array<string> = []
    for (let round = 1; round <= 3; round++) {
      Sim.schedule(sim, round * 100, (s) => {
        const victim = `n${Sim.random(s).int(0, 9)}`
        churned.push(victim)
        Sim.crash(s, victim)
        Sim.addNode(s, `joiner${round}`)
      })
    }
    Sim.runUntil(sim, 1_000)
    expect(churned).toHaveLength(3)
    expect(Sim.nodes(sim)).toHaveLength(13)
    expect(Sim.state(sim, "joiner2").starts).toBe(1)
    for (const id of churned) expect(Sim.isUp(sim, id)).toBe(false)
    const again = Ping.make({ nodes: Sim.ids(10), started: true })
    const first = Sim.random(again).int(0, 9)
    expect(churned[0]).toBe(`n${first}`)
  })

  it("gives each node a seed derived from the sim seed and its id", () => {
    const a = Ping.make({ seed: 1 })
    const b = Ping.make({ seed: 2 })
    expect(Sim.state(a, "a").seed).not.toBe(Sim.state(a, "b").seed)
    expect(Sim.state(a, "a").seed).not.toBe(Sim.state(b, "a").seed)
    expect(Sim.state(a, "a").seed).toBe(Sim.state(Ping.make({ seed: 1, nodes: ["z", "a"] }), "a").seed)
  })

  it("replays a run exactly from its seed; the scenario generator does not disturb the network", () => {
    const run = (seed: number, drawScenario: boolean) => {
      const sim = Ping.make({ seed, network: Network.lossy })
      if (drawScenario) Sim.random(sim).u32()
      Ping.sendPings(sim, 0, "a", "b", 500)
      Ping.sendPings(sim, 3, "c", "b", 500)
      Sim.runUntilQuiet(sim)
      return Sim.digest(sim)
    }
    expect(run(9, false)).toBe(run(9, false))
    expect(run(9, true)).toBe(run(9, false))
    expect(run(9, false)).not.toBe(run(10, false))
  })
})

describe("Sim sources", () => {
  it("never read a clock, draw Math.random, set a timer or do I/O", () => {
    const dir = resolve(import.meta.dirname, "../../../src/testkit/sim")
    const problems = readdirSync(dir).flatMap((name) => {
      const code = readFileSync(join(dir, name), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "")
      return [
        /\bDate\b/, /\bperformance\b/, /\bMath\.random\b/, /\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/,
        /\bprocess\./, /\bconsole\./, /from "node:/, /from "effect/
      ].filter((pattern) => pattern.test(code)).map((pattern) => `${name}: ${pattern}`)
    })
    expect(problems).toEqual([])
  })
})

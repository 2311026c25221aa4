/**
 * The example of docs/guides/simulation.md, run as written: the code between the `example`
 * markers below must equal the guide's code block (apart from the import line), and it must
 * do what the guide says it does.
 */
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"
import * as Sim from "../../../src/testkit/sim/index.ts"

// example:start
// A heartbeat failure detector as a pure core: every node sends a heartbeat to every peer
// once per interval and suspects a peer it has not heard from for timeoutMs.
interface Config {
  readonly peers: ReadonlyArray<string>
  readonly intervalMs: number
  readonly timeoutMs: number
}

type Event =
  | { readonly _tag: "Started"; readonly now: number }
  | { readonly _tag: "HeartbeatReceived"; readonly from: string; readonly now: number }
  | { readonly _tag: "TimerFired"; readonly generation: number; readonly now: number }

type Command =
  | { readonly _tag: "Send"; readonly to: string }
  | { readonly _tag: "SetTimer"; readonly at: number; readonly generation: number }
  | { readonly _tag: "Suspect"; readonly peer: string }

interface State {
  readonly self: string
  readonly prng: Sim.Prng.Prng // randomness lives in the state
  readonly generation: number // of the one "tick" timer
  readonly lastHeard: Readonly<Record<string, number>>
  readonly suspected: ReadonlySet<string>
}

const makeStep = (config: Config): Sim.Step.Step<State, Event, Command> => (state, event) => {
  const others = config.peers.filter((p) => p !== state.self)
  switch (event._tag) {
    case "Started": {
      // First tick at a random offset, so that nodes do not beat in lockstep.
      const [offset, prng] = Sim.Prng.nextInt(state.prng, 0, config.intervalMs - 1)
      const generation = state.generation + 1
      const lastHeard = Object.fromEntries(others.map((p) => [p, event.now]))
      return Sim.Step.next({ ...state, prng, generation, lastHeard }, [
        { _tag: "SetTimer", at: event.now + offset, generation }
      ])
    }
    case "HeartbeatReceived": {
      const suspected = new Set(state.suspected)
      suspected.delete(event.from)
      return Sim.Step.next({ ...state, lastHeard: { ...state.lastHeard, [event.from]: event.now }, suspected })
    }
    case "TimerFired": {
      if (event.generation !== state.generation) return Sim.Step.unchanged(state) // stale
      const silent = others.filter((p) =>
        !state.suspected.has(p) && event.now - (state.lastHeard[p] ?? event.now) > config.timeoutMs
      )
      const generation = state.generation + 1
      return Sim.Step.next({ ...state, generation, suspected: new Set([...state.suspected, ...silent]) }, [
        ...others.map((to): Command => ({ _tag: "Send", to })),
        ...silent.map((peer): Command => ({ _tag: "Suspect", peer })),
        { _tag: "SetTimer", at: event.now + config.intervalMs, generation }
      ])
    }
  }
}

// Simulate five nodes on a jittery, slightly lossy network; n4 crashes at 1 s.
const peers = Sim.ids(5) // ["n0", ..., "n4"]
const config: Config = { peers, intervalMs: 100, timeoutMs: 350 }
const sim = Sim.make({
  seed: 42,
  nodes: peers,
  initial: (ctx): State => ({ self: ctx.id, prng: ctx.prng, generation: 0, lastHeard: {}, suspected: new Set() }),
  step: makeStep(config),
  interpret: (command: Command) => {
    switch (command._tag) {
      case "Send":
        return Sim.send(command.to, "heartbeat" as const)
      case "SetTimer":
        return Sim.setTimer("tick" as const, command.at, command.generation)
      case "Suspect":
        return Sim.emit({ peer: command.peer })
    }
  },
  events: {
    message: (_heartbeat, from, now): Event => ({ _tag: "HeartbeatReceived", from, now }),
    timer: (_tick, generation, now): Event => ({ _tag: "TimerFired", generation, now }),
    started: ({ now }): Event => ({ _tag: "Started", now })
  },
  network: { latencyMs: 5, jitter: Sim.Network.uniform(10), loss: 0.01 }
})
Sim.crash(sim, "n4", { at: 1_000 })
Sim.runUntil(sim, 3_000)

// What a user of a failure detector cares about: how long until each live node noticed.
const detectionMs = Sim.records(sim)
  .filter((o) => o.record.peer === "n4")
  .map((o) => o.at - 1_000)
const falsePositives = Sim.records(sim).filter((o) => o.record.peer !== "n4").length
const { sent, delivered, dropped } = Sim.stats(sim)
// example:end

const guide = resolve(import.meta.dirname, "../../../docs/guides/simulation.md")
const exampleOf = (text: string, start: string, end: string): string => {
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`markers ${start} / ${end} not found`)
  return text.slice(from + start.length, to)
}
const normalise = (code: string): string =>
  code.split("\n").filter((line) => !line.startsWith("import ")).join("\n").trim()

describe("docs/guides/simulation.md", () => {
  it("shows exactly the example this file runs", () => {
    const doc = exampleOf(readFileSync(guide, "utf8"), "<!-- example:start -->\n```ts", "```\n<!-- example:end -->")
    const here = exampleOf(readFileSync(import.meta.filename, "utf8"), "// example:start", "// example:end")
    expect(normalise(doc)).toBe(normalise(here))
  })

  it("detects the crashed node at every live node within timeout + interval + latency", () => {
    expect(detectionMs).toHaveLength(4)
    for (const ms of detectionMs) {
      // Earlier than the timeout when n4's last heartbeats before the crash were lost.
      expect(ms).toBeGreaterThan(0)
      expect(ms).toBeLessThanOrEqual(config.timeoutMs + config.intervalMs + 15)
    }
    expect(falsePositives).toBe(0)
    expect(sent).toBeGreaterThan(delivered)
    // The figures the guide quotes for seed 42.
    expect(detectionMs).toEqual([210, 328, 333, 379])
    expect({ sent, delivered, loss: dropped.loss, crash: dropped.crash }).toEqual({
      sent: 520,
      delivered: 437,
      loss: 4,
      crash: 79
    })
    expect(dropped.crash).toBeGreaterThan(0)
    expect(dropped.loss).toBeGreaterThan(0)
  })
})

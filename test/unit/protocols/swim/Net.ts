/**
 * A small deterministic message loop for SWIM properties: a handful of pure cores, one
 * agenda ordered by (time, sequence), seeded latency and loss, crashes and restarts. Timers
 * are scheduled as `TimerFired` events and never removed; the cores' stale-timer guard does
 * the cancelling. Not the project simulator (that lives in the testkit); just enough to
 * drive cores against each other inside a test.
 */
import * as Prng from "../../../../src/core/Prng.ts"
import type { Step } from "../../../../src/core/Step.ts"
import type { Change, Command } from "../../../../src/protocols/swim/Command.ts"
import type { Config } from "../../../../src/protocols/swim/Config.ts"
import { Event } from "../../../../src/protocols/swim/Event.ts"
import * as State from "../../../../src/protocols/swim/State.ts"
import { makeStep } from "../../../../src/protocols/swim/Step.ts"

interface Item {
  readonly at: number
  readonly n: number
  readonly to: string
  readonly event: Event
  /** The incarnation of the node the item was meant for; a restart drops older items. */
  readonly life: number
}

export interface Node {
  state: State.State
  up: boolean
  life: number
  persisted: number
}

export interface Observed {
  readonly at: number
  readonly node: string
  readonly change: Change
}

export interface NetOptions {
  readonly config: Config
  readonly ids: ReadonlyArray<string>
  readonly seed: number
  /** Probability that a packet is lost. */
  readonly loss?: number
  /** Latency is uniform in [1, maxLatencyMs]. */
  readonly maxLatencyMs?: number
  /** Report `SendFailed` for packets to a crashed node (as a failed dial would). */
  readonly reportSendFailures?: boolean
}

export class Net {
  readonly config: Config
  readonly nodes = new Map<string, Node>()
  readonly observed: Array<Observed> = []
  now = 0
  delivered = 0
  private agenda: Array<Item> = []
  private n = 0
  private prng: Prng.Prng
  private readonly step: Step<State.State, Event, Command>
  private readonly loss: number
  private readonly maxLatency: number
  private readonly reportFailures: boolean

  constructor(opts: NetOptions) {
    this.config = opts.config
    this.step = makeStep(opts.config)
    this.prng = Prng.fromSeed(opts.seed)
    this.loss = opts.loss ?? 0
    this.maxLatency = opts.maxLatencyMs ?? 5
    this.reportFailures = opts.reportSendFailures ?? false
    opts.ids.forEach((id, i) => {
      this.nodes.set(id, { state: this.fresh(id, 0, opts.seed * 1_000 + i), up: true, life: 0, persisted: -1 })
    })
  }

  private fresh(id: string, incarnation: number, seed: number): State.State {
    return State.initial({ self: id, incarnation, addrs: [`quic://${id}`], seed })
  }

  private draw(): number {
    const [f, next] = Prng.nextFloat(this.prng)
    this.prng = next
    return f
  }

  private push(at: number, to: string, event: Event): void {
    const node = this.nodes.get(to)
    const item: Item = { at, n: this.n++, to, event, life: node?.life ?? 0 }
    // Binary insertion keeps the agenda sorted by (at, n).
    let lo = 0
    let hi = this.agenda.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const m = this.agenda[mid]!
      if (m.at < at || (m.at === at && m.n < item.n)) lo = mid + 1
      else hi = mid
    }
    this.agenda.splice(lo, 0, item)
  }

  /** Delivers `event` to `id` now (a local request such as Start, Join or Leave). */
  inject(id: string, make: (now: number) => Event): void {
    this.push(this.now, id, make(this.now))
  }

  start(id: string, seeds: ReadonlyArray<string> = []): void {
    this.inject(id, (now) => Event.Start({ now }))
    if (seeds.length > 0) this.inject(id, (now) => Event.Join({ now, peers: seeds }))
  }

  crash(id: string): void {
    const node = this.nodes.get(id)!
    node.up = false
  }

  /** Restarts a crashed node from its persisted incarnation + 1 and joins it via `seeds`. */
  restart(id: string, seeds: ReadonlyArray<string>): void {
    const node = this.nodes.get(id)!
    node.life++
    node.up = true
    node.state = this.fresh(id, node.persisted + 1, Math.floor(this.draw() * 1e9))
    this.start(id, seeds)
  }

  private interpret(from: string, command: Command): void {
    switch (command._tag) {
      case "Send": {
        const target = this.nodes.get(command.to)
        if (target === undefined || !target.up) {
          if (this.reportFailures) {
            this.push(this.now + 1, from, Event.SendFailed({ now: this.now + 1, to: command.to, packet: command.packet }))
          }
          return
        }
        if (this.loss > 0 && this.draw() < this.loss) return
        const at = this.now + 1 + Math.floor(this.draw() * this.maxLatency)
        this.push(at, command.to, Event.PacketReceived({ now: at, from, packet: command.packet }))
        return
      }
      case "SetTimer": {
        const at = Math.max(this.now, command.at)
        this.push(at, from, Event.TimerFired({ now: at, timer: command.timer, generation: command.generation }))
        return
      }
      case "CancelTimer":
      case "Penalise":
        return
      case "PersistIncarnation":
        this.nodes.get(from)!.persisted = command.incarnation
        return
      case "Emit":
        this.observed.push({ at: this.now, node: from, change: command.change })
        return
    }
  }

  /** Runs until virtual time `until` (inclusive). */
  runUntil(until: number): void {
    while (this.agenda.length > 0 && this.agenda[0]!.at <= until) {
      const item = this.agenda.shift()!
      this.now = item.at
      const node = this.nodes.get(item.to)
      if (node === undefined || !node.up || node.life !== item.life) continue
      const [state, commands] = this.step(node.state, item.event)
      node.state = state
      this.delivered++
      for (const c of commands) this.interpret(item.to, c)
    }
    this.now = until
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms)
  }

  live(): ReadonlyArray<string> {
    return [...this.nodes].filter(([, n]) => n.up).map(([id]) => id)
  }

  state(id: string): State.State {
    return this.nodes.get(id)!.state
  }
}

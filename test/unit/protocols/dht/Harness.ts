/**
 * A tiny in-test network of DHT cores for step-level tests: it interprets `SendRequest`,
 * `SendResponse`, `Ping`, `SetTimer` and `Emit` with zero latency, delivers in FIFO order, and
 * fires timers when told to advance time. Not the simulator (that lives in the testkit); just
 * enough to run lookups and stores end to end.
 */
import type { Command, Observation } from "../../../../src/protocols/dht/Command.ts"
import type { Config } from "../../../../src/protocols/dht/Config.ts"
import { Event } from "../../../../src/protocols/dht/Event.ts"
import type { Response } from "../../../../src/protocols/dht/Message.ts"
import * as State from "../../../../src/protocols/dht/State.ts"
import { makeStep } from "../../../../src/protocols/dht/Step.ts"
import * as Timer from "../../../../src/protocols/dht/Timer.ts"
import * as Xor from "../../../../src/protocols/dht/Xor.ts"
import * as Arb from "../../../../src/testkit/arbitraries/Dht.ts"

export const wallBase = 1_700_000_000_000

export interface Node {
  readonly pk: Uint8Array
  readonly id: Uint8Array
  readonly ip: string
  state: State.State
  alive: boolean
  readonly observations: Array<Observation>
  readonly commands: Array<Command>
  readonly timers: Map<string, { timer: Timer.Timer; at: number; generation: number }>
}

type Delivery = { readonly to: string; readonly event: Event }

export class Net {
  readonly nodes = new Map<string, Node>()
  readonly step
  now = 1
  private nextReply = 1
  private readonly replies = new Map<number, { readonly origin: string; readonly request: number; readonly responder: string }>()
  private readonly queue: Array<Delivery> = []
  messages = 0

  constructor(readonly config: Config) {
    this.step = makeStep(config)
  }

  time() {
    return { now: this.now, wallNow: wallBase + this.now }
  }

  add(pk: Uint8Array, ip: string, seed = 1): Node {
    const id = Arb.hash(pk)
    const node: Node = {
      pk, id, ip, alive: true,
      state: State.initial(this.config, { publicKey: pk, seed }),
      observations: [], commands: [], timers: new Map()
    }
    this.nodes.set(Xor.toHex(id), node)
    return node
  }

  /** Feeds an event to a node and interprets what it asks for (queued, not yet delivered). */
  feed(node: Node, event: Event): ReadonlyArray<Command> {
    if (!node.alive) return []
    const [state, commands] = this.step(node.state, event)
    node.state = state
    node.commands.push(...commands)
    const from = Xor.toHex(node.id)
    for (const c of commands) this.interpret(from, node, c)
    return commands
  }

  private interpret(from: string, node: Node, c: Command): void {
    switch (c._tag) {
      case "SendRequest": {
        this.messages++
        const to = Xor.toHex(c.to.id)
        const target = this.nodes.get(to)
        if (target === undefined || !target.alive) {
          this.queue.push({ to: from, event: Event.RequestFailed({ ...this.time(), request: c.request }) })
          return
        }
        const replyTo = this.nextReply++
        this.replies.set(replyTo, { origin: from, request: c.request, responder: to })
        this.queue.push({
          to,
          event: Event.RequestReceived({ ...this.time(), from: { id: node.id, role: "station" }, replyTo, request: c.message })
        })
        return
      }
      case "SendResponse": {
        const pending = this.replies.get(c.replyTo)
        if (pending === undefined) return
        this.replies.delete(c.replyTo)
        this.queue.push({ to: pending.origin, event: this.responseEvent(pending.request, c.message, node.ip) })
        return
      }
      case "Ping": {
        const target = this.nodes.get(Xor.toHex(c.to.id))
        this.queue.push({
          to: from,
          event: target?.alive === true
            ? Event.PongReceived({ ...this.time(), request: c.request })
            : Event.RequestFailed({ ...this.time(), request: c.request })
        })
        return
      }
      case "SetTimer":
        node.timers.set(Timer.key(c.timer), { timer: c.timer, at: c.at, generation: c.generation })
        return
      case "CancelTimer":
        node.timers.delete(Timer.key(c.timer))
        return
      case "Emit":
        node.observations.push(c.observation)
        return
      case "Penalise":
        return
    }
  }

  private responseEvent(request: number, response: Response, ip: string): Event {
    return Event.ResponseReceived({ ...this.time(), request, response, ip })
  }

  /** Delivers queued events until nothing moves. */
  run(limit = 1_000_000): void {
    let n = 0
    while (this.queue.length > 0 && n++ < limit) {
      const { to, event } = this.queue.shift()!
      const node = this.nodes.get(to)
      if (node !== undefined) this.feed(node, event)
    }
  }

  /** Moves time to `now`, firing due timers (earliest first) and delivering their fallout. */
  advance(now: number): void {
    for (;;) {
      let best: { node: Node; key: string; at: number } | undefined
      for (const node of this.nodes.values()) {
        if (!node.alive) continue
        for (const [key, t] of node.timers) if (t.at <= now && (best === undefined || t.at < best.at)) best = { node, key, at: t.at }
      }
      if (best === undefined) break
      const t = best.node.timers.get(best.key)!
      best.node.timers.delete(best.key)
      this.now = Math.max(this.now, t.at)
      this.feed(best.node, Event.TimerFired({ ...this.time(), timer: t.timer, generation: t.generation }))
      this.run()
    }
    this.now = now
  }

  /** Tells `a` that it completed a handshake with `b`. */
  connect(a: Node, b: Node): void {
    this.feed(a, Event.PeerConnected({ ...this.time(), contact: { pk: b.pk, addrs: [`quic://${b.ip}:4433`] }, ip: b.ip }))
  }
}

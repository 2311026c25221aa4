/**
 * A tiny pure core for the simulator's tests: it answers pings with pongs, sends pings when
 * told to, arms and cancels named timers, and records what it saw. Every state update is a
 * copy; the core never reads a clock or `Math.random`.
 */
import * as Step from "../../../src/core/Step.ts"
import * as Sim from "../../../src/testkit/sim/index.ts"

export type Msg =
  | { readonly _tag: "Ping"; readonly n: number }
  | { readonly _tag: "Pong"; readonly n: number }

export type Ev =
  | { readonly _tag: "Received"; readonly from: string; readonly msg: Msg; readonly now: number }
  | { readonly _tag: "TimerFired"; readonly timer: string; readonly generation: number; readonly now: number }
  | { readonly _tag: "Started"; readonly incarnation: number; readonly now: number }
  | { readonly _tag: "SendPings"; readonly to: string; readonly count: number; readonly now: number }
  | { readonly _tag: "Arm"; readonly timer: string; readonly at: number; readonly now: number }
  | { readonly _tag: "Disarm"; readonly timer: string; readonly now: number }
  | { readonly _tag: "Boom"; readonly now: number }

export type Rec = { readonly _tag: "Fired"; readonly timer: string; readonly generation: number }

export type Cmd =
  | { readonly _tag: "Send"; readonly to: string; readonly msg: Msg }
  | { readonly _tag: "SetTimer"; readonly timer: string; readonly at: number; readonly generation: number }
  | { readonly _tag: "CancelTimer"; readonly timer: string }
  | { readonly _tag: "Emit"; readonly record: Rec }
  | { readonly _tag: "Count"; readonly name: string }

/** A persistent list, newest first: O(1) to extend, so long runs stay linear. */
export type List<A> = { readonly head: A; readonly tail: List<A> } | undefined

export const toArray = <A>(list: List<A>): ReadonlyArray<A> => {
  const out: Array<A> = []
  for (let l = list; l !== undefined; l = l.tail) out.push(l.head)
  return out.reverse()
}

export interface Ping {
  readonly from: string
  readonly n: number
  readonly now: number
}

export interface State {
  readonly id: string
  readonly incarnation: number
  readonly seed: number
  /** Pings received, newest first (see `pings`). */
  readonly received: List<Ping>
  readonly receivedCount: number
  readonly pongs: number
  readonly nextPing: number
  /** The current generation of each named timer. */
  readonly generations: Readonly<Record<string, number>>
  readonly fired: ReadonlyArray<{ readonly timer: string; readonly generation: number; readonly now: number }>
  readonly stale: number
  readonly starts: number
  /** The `now` of the last event. */
  readonly lastNow: number
}

export const initial = (ctx: Sim.NodeContext): State => ({
  id: ctx.id,
  incarnation: ctx.incarnation,
  seed: ctx.seed,
  received: undefined,
  receivedCount: 0,
  pongs: 0,
  nextPing: 0,
  generations: {},
  fired: [],
  stale: 0,
  starts: 0,
  lastNow: -1
})

/** The pings a node received, in arrival order. */
export const pings = (state: State): ReadonlyArray<Ping> => toArray(state.received)

export const step: Step.Step<State, Ev, Cmd> = (s0, event) => {
  // Time never goes backwards within one node.
  if (event.now < s0.lastNow) throw new Error(`time went back from ${s0.lastNow} to ${event.now}`)
  const s = { ...s0, lastNow: event.now }
  switch (event._tag) {
    case "Received":
      if (event.msg._tag === "Ping") {
        const ping = { from: event.from, n: event.msg.n, now: event.now }
        return Step.next({ ...s, received: { head: ping, tail: s.received }, receivedCount: s.receivedCount + 1 }, [
          { _tag: "Send", to: event.from, msg: { _tag: "Pong", n: event.msg.n } },
          { _tag: "Count", name: "pings" }
        ])
      }
      return Step.next({ ...s, pongs: s.pongs + 1 })
    case "SendPings": {
      const commands: Array<Cmd> = []
      for (let i = 0; i < event.count; i++) {
        commands.push({ _tag: "Send", to: event.to, msg: { _tag: "Ping", n: s.nextPing + i } })
      }
      return Step.next({ ...s, nextPing: s.nextPing + event.count }, commands)
    }
    case "Arm": {
      const generation = (s.generations[event.timer] ?? 0) + 1
      return Step.next({ ...s, generations: { ...s.generations, [event.timer]: generation } }, [
        { _tag: "SetTimer", timer: event.timer, at: event.at, generation }
      ])
    }
    case "Disarm":
      return Step.next({ ...s, generations: { ...s.generations, [event.timer]: (s.generations[event.timer] ?? 0) + 1 } }, [
        { _tag: "CancelTimer", timer: event.timer }
      ])
    case "TimerFired":
      // The stale-generation guard of STYLE.md: a superseded timer changes nothing.
      if (s.generations[event.timer] !== event.generation) return Step.next({ ...s, stale: s.stale + 1 })
      return Step.next(
        { ...s, fired: [...s.fired, { timer: event.timer, generation: event.generation, now: event.now }] },
        [{ _tag: "Emit", record: { _tag: "Fired", timer: event.timer, generation: event.generation } }]
      )
    case "Started":
      return Step.next({ ...s, starts: s.starts + 1 })
    case "Boom":
      throw new Error("invariant broken")
  }
}

export const interpret = (command: Cmd): Sim.Actions<Msg, string, Rec> => {
  switch (command._tag) {
    case "Send":
      return Sim.send(command.to, command.msg)
    case "SetTimer":
      return Sim.setTimer(command.timer, command.at, command.generation)
    case "CancelTimer":
      return Sim.cancelTimer(command.timer)
    case "Emit":
      return Sim.emit(command.record)
    case "Count":
      return Sim.count(command.name)
  }
}

export const events: Sim.Events<Ev, Msg, string> = {
  message: (msg, from, now) => ({ _tag: "Received", from, msg, now }),
  timer: (timer, generation, now) => ({ _tag: "TimerFired", timer, generation, now })
}

export const withStarted: Sim.Events<Ev, Msg, string> = {
  ...events,
  started: ({ incarnation, now }) => ({ _tag: "Started", incarnation, now })
}

/** A ping-pong simulation over `nodes` with the given options. */
export const make = (
  options: {
    readonly seed?: number
    readonly nodes?: ReadonlyArray<string>
    readonly network?: Partial<Sim.Network.Link>
    readonly link?: (from: string, to: string) => Partial<Sim.Network.Link> | undefined
    readonly staleTimers?: "drop" | "deliver"
    readonly started?: boolean
    readonly trace?: boolean
  } = {}
) =>
  Sim.make({
    seed: options.seed ?? 1,
    nodes: options.nodes ?? ["a", "b", "c"],
    initial,
    step,
    interpret,
    events: options.started === true ? withStarted : events,
    kindOf: (m: Msg) => m._tag,
    trace: options.trace ?? true,
    ...(options.network === undefined ? {} : { network: options.network }),
    ...(options.link === undefined ? {} : { link: options.link }),
    ...(options.staleTimers === undefined ? {} : { staleTimers: options.staleTimers })
  })

export const sendPings = (sim: Sim.Sim<State, Ev, Rec>, at: number, from: string, to: string, count: number): void =>
  Sim.inject(sim, at, from, { _tag: "SendPings", to, count, now: at })

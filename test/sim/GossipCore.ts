/**
 * Push gossip as a pure core, for simulations: rounds start at multiples of `periodMs`
 * (synchronised clocks); in each round every node that knows the rumour pushes it to `fanout`
 * peers chosen at random, for `pushRounds` rounds after it learnt it, then falls silent.
 * Randomness is the seeded `Prng` in the state; time comes in events; the round is a timer
 * with a generation.
 *
 * Theory to compare with (Pittel 1987, fanout 1, synchronous rounds): everyone knows the
 * rumour after about log2(n) + ln(n) rounds, 17 for n = 1,000.
 */
import type { Millis } from "../../src/core/Millis.ts"
import * as Prng from "../../src/core/Prng.ts"
import * as Step from "../../src/core/Step.ts"
import * as Sim from "../../src/testkit/sim/index.ts"

export interface Config {
  /** Every node's id; a node pushes to the others. */
  readonly peers: ReadonlyArray<string>
  /** Peers pushed to per round. */
  readonly fanout: number
  /** Time between rounds. */
  readonly periodMs: Millis
  /** Rounds a node pushes after it learns the rumour. */
  readonly pushRounds: number
}

export interface Rumour {
  readonly hops: number
}

export type Event =
  | { readonly _tag: "RumourReceived"; readonly from: string; readonly rumour: Rumour; readonly now: Millis }
  | { readonly _tag: "Originate"; readonly now: Millis }
  | { readonly _tag: "RoundDue"; readonly generation: number; readonly now: Millis }

export type Command =
  | { readonly _tag: "Push"; readonly to: string; readonly rumour: Rumour }
  | { readonly _tag: "SetTimer"; readonly at: Millis; readonly generation: number }
  | { readonly _tag: "Learned"; readonly hops: number }
  | { readonly _tag: "Duplicate" }

export interface State {
  readonly self: string
  readonly prng: Prng.Prng
  /** Hops the rumour took to get here; undefined until it arrives. */
  readonly hops: number | undefined
  readonly learnedAt: Millis | undefined
  readonly roundsLeft: number
  readonly generation: number
}

export const initial = (ctx: Sim.NodeContext): State => ({
  self: ctx.id,
  prng: ctx.prng,
  hops: undefined,
  learnedAt: undefined,
  roundsLeft: 0,
  generation: 0
})

/** `fanout` distinct peers other than `self`, drawn from the state's generator. */
const choose = (config: Config, state: State): readonly [ReadonlyArray<string>, Prng.Prng] => {
  const chosen = new Set<string>()
  let prng = state.prng
  const want = Math.min(config.fanout, config.peers.length - 1)
  while (chosen.size < want) {
    const [i, next] = Prng.nextInt(prng, 0, config.peers.length - 1)
    prng = next
    const peer = config.peers[i]!
    if (peer !== state.self) chosen.add(peer)
  }
  return [[...chosen], prng]
}

/** The start of the first round after `now`. */
const nextRound = (config: Config, now: Millis): Millis => (Math.floor(now / config.periodMs) + 1) * config.periodMs

/** One round: push to fresh peers and, while rounds are left, ask for the next one. */
const round = (config: Config, state: State, now: Millis): readonly [State, ReadonlyArray<Command>] => {
  const [targets, prng] = choose(config, state)
  const rumour = { hops: (state.hops ?? 0) + 1 }
  const roundsLeft = state.roundsLeft - 1
  const generation = state.generation + 1
  const commands: Array<Command> = targets.map((to) => ({ _tag: "Push", to, rumour }))
  if (roundsLeft > 0) commands.push({ _tag: "SetTimer", at: nextRound(config, now), generation })
  return [{ ...state, prng, roundsLeft, generation }, commands]
}

/** The rumour arrives: remember it and push from the next round on. */
const learn = (config: Config, state: State, hops: number, now: Millis): readonly [State, ReadonlyArray<Command>] => {
  const generation = state.generation + 1
  return [{ ...state, hops, learnedAt: now, roundsLeft: config.pushRounds, generation }, [
    { _tag: "Learned", hops },
    { _tag: "SetTimer", at: nextRound(config, now), generation }
  ]]
}

export const makeStep = (config: Config): Step.Step<State, Event, Command> => (state, event) => {
  switch (event._tag) {
    case "Originate":
      return state.hops === undefined ? learn(config, state, 0, event.now) : Step.unchanged(state)
    case "RumourReceived":
      return state.hops === undefined
        ? learn(config, state, event.rumour.hops, event.now)
        : Step.next(state, [{ _tag: "Duplicate" }])
    case "RoundDue":
      return event.generation === state.generation && state.roundsLeft > 0
        ? round(config, state, event.now)
        : Step.unchanged(state)
  }
}

export interface Learned {
  readonly hops: number
}

export const interpret = (command: Command): Sim.Actions<Rumour, "round", Learned> => {
  switch (command._tag) {
    case "Push":
      return Sim.send(command.to, command.rumour)
    case "SetTimer":
      return Sim.setTimer("round", command.at, command.generation)
    case "Learned":
      return Sim.emit({ hops: command.hops })
    case "Duplicate":
      return Sim.count("duplicates")
  }
}

export const events: Sim.Events<Event, Rumour, "round"> = {
  message: (rumour, from, now) => ({ _tag: "RumourReceived", from, rumour, now }),
  timer: (_timer, generation, now) => ({ _tag: "RoundDue", generation, now })
}

/** A gossip simulation of `n` nodes named n0..n(n-1). */
export const make = (options: {
  readonly n: number
  readonly seed: number
  readonly fanout?: number
  readonly periodMs?: Millis
  readonly pushRounds?: number
  readonly network?: Partial<Sim.Network.Link>
}) => {
  const peers = Sim.ids(options.n)
  const config: Config = {
    peers,
    fanout: options.fanout ?? 1,
    periodMs: options.periodMs ?? 100,
    pushRounds: options.pushRounds ?? 40
  }
  const sim = Sim.make({
    seed: options.seed,
    nodes: peers,
    initial,
    step: makeStep(config),
    interpret,
    events,
    ...(options.network === undefined ? {} : { network: options.network })
  })
  return { sim, config, peers }
}

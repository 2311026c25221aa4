/**
 * The example of docs/guides/property-testing.md, run as written: the code between the
 * `example` markers below must equal the guide's code block (apart from the import lines), it
 * must pass, and the same spec must catch the broken core the guide shows.
 */
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Model from "../../../src/testkit/model/index.ts"

// example:start
// A lease: one holder at a time, until `ttlMs` after it was granted, unless it releases first.
type Event =
  | { readonly _tag: "Acquire"; readonly holder: string; readonly ttlMs: number; readonly now: number }
  | { readonly _tag: "Release"; readonly holder: string; readonly now: number }
  | { readonly _tag: "TimerFired"; readonly generation: number; readonly now: number }

type Command =
  | { readonly _tag: "Granted"; readonly holder: string; readonly until: number }
  | { readonly _tag: "Refused"; readonly holder: string }
  | { readonly _tag: "Expired"; readonly holder: string }
  | { readonly _tag: "SetTimer"; readonly timer: "expiry"; readonly at: number; readonly generation: number }
  | { readonly _tag: "CancelTimer"; readonly timer: "expiry" }

interface State {
  readonly holder: string | undefined
  readonly until: number
  readonly generation: number // of the one "expiry" timer
}

const step = (state: State, event: Event): readonly [State, ReadonlyArray<Command>] => {
  switch (event._tag) {
    case "Acquire": {
      if (state.holder !== undefined && state.holder !== event.holder) {
        return [state, [{ _tag: "Refused", holder: event.holder }]]
      }
      const until = event.now + event.ttlMs
      const generation = state.generation + 1
      return [{ holder: event.holder, until, generation }, [
        { _tag: "Granted", holder: event.holder, until },
        { _tag: "SetTimer", timer: "expiry", at: until, generation }
      ]]
    }
    case "Release":
      if (state.holder !== event.holder) return [state, []]
      return [{ ...state, holder: undefined }, [{ _tag: "CancelTimer", timer: "expiry" }]]
    case "TimerFired":
      if (event.generation !== state.generation || state.holder === undefined) return [state, []] // stale
      return [{ ...state, holder: undefined }, [{ _tag: "Expired", holder: state.holder }]]
  }
}

// The model: who holds the lease and until when. It lapses at `until` by the model's own
// reckoning, whether or not the core's timer fires.
interface Lease {
  readonly holder: string | undefined
  readonly until: number
}

const lapse = (lease: Lease, now: number): Lease =>
  lease.holder !== undefined && now >= lease.until ? { holder: undefined, until: 0 } : lease

const spec: Model.Spec<State, Event, Command, Lease> = {
  step,
  initial: () => ({ holder: undefined, until: 0, generation: 0 }),
  model: {
    initial: () => ({ holder: undefined, until: 0 }),
    next: (before, event) => {
      const lease = lapse(before, event.now)
      switch (event._tag) {
        case "Acquire":
          return lease.holder === undefined || lease.holder === event.holder
            ? { holder: event.holder, until: event.now + event.ttlMs }
            : lease
        case "Release":
          return lease.holder === event.holder ? { holder: undefined, until: 0 } : lease
        case "TimerFired":
          return lease
      }
    }
  },
  actions: {
    acquire: Model.action(
      fc.record({ holder: fc.constantFrom("a", "b"), ttlMs: fc.integer({ min: 1, max: 1_000 }) }),
      ({ holder, ttlMs }, { now }) => ({ _tag: "Acquire", holder, ttlMs, now })
    ),
    release: Model.action(fc.constantFrom("a", "b"), (holder, { now }) => ({ _tag: "Release", holder, now })),
    wait: Model.advance({ max: 1_500 }) // fires the expiry timer on the way, at its own time
  },
  timers: Model.tagged({ fire: (_expiry: "expiry", generation, now) => ({ _tag: "TimerFired", generation, now }) }),
  check: ({ state, model, event, commands, now }) => {
    const problems: Array<string> = []
    if (state.holder !== model.holder) problems.push(`holder is ${state.holder}, the model says ${model.holder}`)
    if (model.holder !== undefined && state.until !== model.until) problems.push(`lease ends at ${state.until}, not ${model.until}`)
    if (state.holder !== undefined && now >= state.until) problems.push(`${state.holder} holds an expired lease`)
    const granted = commands.some((c) => c._tag === "Granted")
    if (event._tag === "Acquire" && granted !== (model.holder === event.holder)) problems.push("Granted disagrees")
    return problems
  }
}

Model.assert(spec, { numRuns: 200 })
// example:end

const guide = resolve(import.meta.dirname, "../../../docs/guides/property-testing.md")
const exampleOf = (text: string, start: string, end: string): string => {
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`markers ${start} / ${end} not found`)
  return text.slice(from + start.length, to)
}
const normalise = (code: string): string =>
  code.split("\n").filter((line) => !line.startsWith("import ")).join("\n").trim()

/** The bug the guide shows: renewing a lease without re-arming its timer. */
const renewWithoutTimer = (state: State, event: Event): readonly [State, ReadonlyArray<Command>] => {
  if (event._tag === "Acquire" && state.holder === event.holder) {
    const until = event.now + event.ttlMs
    return [{ ...state, until }, [{ _tag: "Granted", holder: event.holder, until }]]
  }
  return step(state, event)
}

describe("docs/guides/property-testing.md", () => {
  it("shows exactly the example this file runs", () => {
    const doc = exampleOf(readFileSync(guide, "utf8"), "<!-- example:start -->\n```ts", "```\n<!-- example:end -->")
    const here = exampleOf(readFileSync(import.meta.filename, "utf8"), "// example:start", "// example:end")
    expect(normalise(doc)).toBe(normalise(here))
  })

  it("catches the renewal bug the guide shows, shrunk to acquire, acquire, wait", () => {
    const result = fc.check(Model.property({ ...spec, step: renewWithoutTimer }), { numRuns: 500, seed: 42 })
    expect(result.failed).toBe(true)
    const shrunk = [...result.counterexample![0]].map(String)
    expect(shrunk.map((s) => s.slice(0, s.indexOf("(")))).toEqual(["acquire", "acquire", "wait"])
  })

  it("replays the failure the guide shows from its seed, path and replay path", () => {
    const result = fc.check(Model.property({ ...spec, step: renewWithoutTimer }, { replayPath: "n:B" }), {
      seed: 1979851893,
      path: "1:2:4:6:5:5:5:5:5:5:5:5:6",
      endOnFailure: true
    })
    expect(result.failed).toBe(true)
    expect([...result.counterexample![0]].map(String)).toEqual([
      `acquire({"holder":"b","ttlMs":1})`,
      `acquire({"holder":"b","ttlMs":2})`,
      "wait(1)"
    ])
  })

  it("replays the counterexample the guide pins", () => {
    const actions = [
      ["acquire", { holder: "b", ttlMs: 1 }],
      ["acquire", { holder: "b", ttlMs: 2 }],
      ["wait", 1]
    ] as const
    expect(() => Model.replay(spec, actions)).not.toThrow()
    expect(() => Model.replay({ ...spec, step: renewWithoutTimer }, actions)).toThrow(/holder is undefined, the model says b/)
  })
})

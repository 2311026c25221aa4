/**
 * The model-based runner (`Model` in the testkit): a correct lease core passes, deliberately
 * broken ones are caught and shrunk to the shortest sequence of actions that shows the bug,
 * seeds replay, timers fire in virtual time order, and stale timers are dropped or delivered
 * as asked.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Model from "../../../src/testkit/model/index.ts"

// ---------------------------------------------------------------------------------------------
// A lease core with switchable bugs
// ---------------------------------------------------------------------------------------------

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
  readonly generation: number
}

type Bug = "none" | "release-by-anyone" | "no-stale-guard" | "renew-without-timer"

const makeStep = (bug: Bug) => (state: State, event: Event): readonly [State, ReadonlyArray<Command>] => {
  switch (event._tag) {
    case "Acquire": {
      if (state.holder !== undefined && state.holder !== event.holder) {
        return [state, [{ _tag: "Refused", holder: event.holder }]]
      }
      const until = event.now + event.ttlMs
      if (bug === "renew-without-timer" && state.holder === event.holder) {
        return [{ ...state, until }, [{ _tag: "Granted", holder: event.holder, until }]]
      }
      const generation = state.generation + 1
      return [{ holder: event.holder, until, generation }, [
        { _tag: "Granted", holder: event.holder, until },
        { _tag: "SetTimer", timer: "expiry", at: until, generation }
      ]]
    }
    case "Release": {
      if (bug !== "release-by-anyone" && state.holder !== event.holder) return [state, []]
      if (state.holder === undefined) return [state, []]
      return [{ ...state, holder: undefined }, bug === "no-stale-guard" ? [] : [{ _tag: "CancelTimer", timer: "expiry" }]]
    }
    case "TimerFired": {
      const stale = bug !== "no-stale-guard" && event.generation !== state.generation
      if (stale || state.holder === undefined) return [state, []]
      return [{ ...state, holder: undefined }, [{ _tag: "Expired", holder: state.holder }]]
    }
  }
}

interface Lease {
  readonly holder: string | undefined
  readonly until: number
}

/** A lease lapses at `until`, whether or not the core's timer says so. */
const lapse = (lease: Lease, now: number): Lease => (lease.holder !== undefined && now >= lease.until ? { holder: undefined, until: 0 } : lease)

const holders = fc.constantFrom("a", "b")

const leaseSpec = (bug: Bug, staleTimers: Model.Clock.StaleTimers = "drop") => ({
  step: makeStep(bug),
  initial: (): State => ({ holder: undefined, until: 0, generation: 0 }),
  model: {
    initial: (): Lease => ({ holder: undefined, until: 0 }),
    next: (before: Lease, event: Event): Lease => {
      const lease = lapse(before, event.now)
      switch (event._tag) {
        case "Acquire":
          return lease.holder === undefined || lease.holder === event.holder ? { holder: event.holder, until: event.now + event.ttlMs } : lease
        case "Release":
          return lease.holder === event.holder ? { holder: undefined, until: 0 } : lease
        case "TimerFired":
          return lease
      }
    }
  },
  actions: {
    acquire: Model.action(
      fc.record({ holder: holders, ttlMs: fc.integer({ min: 1, max: 1_000 }) }),
      ({ holder, ttlMs }, { now }): Event => ({ _tag: "Acquire", holder, ttlMs, now })
    ),
    release: Model.action(holders, (holder, { now }): Event => ({ _tag: "Release", holder, now })),
    wait: Model.advance({ max: 1_500 })
  },
  timers: Model.tagged({ fire: (_: "expiry", generation: number, now: number): Event => ({ _tag: "TimerFired", generation, now }), staleTimers }),
  check: ({ state, model, event, commands, now }: Model.Checked<State, Event, Command, Lease>): Model.Verdict => {
    const problems: Array<string> = []
    if (state.holder !== model.holder) problems.push(`holder is ${state.holder}, the model says ${model.holder}`)
    if (model.holder !== undefined && state.until !== model.until) problems.push(`lease ends at ${state.until}, not ${model.until}`)
    if (state.holder !== undefined && now >= state.until) problems.push(`${state.holder} still holds an expired lease`)
    const granted = commands.some((c) => c._tag === "Granted")
    if (event._tag === "Acquire" && granted !== (model.holder === event.holder)) problems.push("Granted disagrees with the model")
    return problems
  }
})

const names = (result: fc.RunDetails<[Iterable<fc.Command<any, any>>]>): ReadonlyArray<string> =>
  result.counterexample === null ? [] : [...result.counterexample[0]].map(String)

describe("Model runner", () => {
  it("passes a correct core", () => {
    expect(() => Model.assert(leaseSpec("none"), { numRuns: 300, seed: 1 })).not.toThrow()
  })

  it("catches a release by a non-holder and shrinks it to two actions", () => {
    const result = fc.check(Model.property(leaseSpec("release-by-anyone")), { numRuns: 500, seed: 7 })
    expect(result.failed).toBe(true)
    // Shrinking stops at either holder: the two are symmetric.
    const [acquire, release] = names(result)
    expect(names(result)).toHaveLength(2)
    const holder = /"holder":"(.)","ttlMs":1/.exec(acquire ?? "")?.[1]
    expect(holder).toBeDefined()
    expect(release).toBe(`release("${holder === "a" ? "b" : "a"}")`)
    expect(String(result.errorInstance)).toContain(`holder is undefined, the model says ${holder}`)
  })

  it("catches a renewal that does not re-arm its timer, through a timer firing in virtual time", () => {
    const result = fc.check(Model.property(leaseSpec("renew-without-timer")), { numRuns: 500, seed: 7 })
    expect(result.failed).toBe(true)
    const shrunk = names(result)
    expect(shrunk).toHaveLength(3)
    expect(shrunk[0]).toMatch(/^acquire/)
    expect(shrunk[1]).toMatch(/^acquire/)
    expect(shrunk[2]).toMatch(/^wait/)
    expect(String(result.errorInstance)).toContain("wait/expiry")
  })

  it("catches a missing stale-timer guard only when stale timers are delivered", () => {
    expect(() => Model.assert(leaseSpec("no-stale-guard", "drop"), { numRuns: 300, seed: 3 })).not.toThrow()
    const result = fc.check(Model.property(leaseSpec("no-stale-guard", "deliver")), { numRuns: 500, seed: 3 })
    expect(result.failed).toBe(true)
    expect(names(result).length).toBeLessThanOrEqual(4)
  })

  it("replays a failure from its seed and path, and from the printed actions", () => {
    const spec = leaseSpec("release-by-anyone")
    const first = fc.check(Model.property(spec), { numRuns: 500, seed: 11 })
    expect(first.failed).toBe(true)
    // fast-check prints the replay path of a command sequence beside the counterexample.
    const replayPath = /replayPath="([^"]*)"/.exec(String(first.counterexample![0]))![1]!
    const again = fc.check(Model.property(spec, { replayPath }), { seed: first.seed, path: first.counterexamplePath!, endOnFailure: true })
    expect(again.failed).toBe(true)
    expect(names(again)).toEqual(names(first))
    expect(() => Model.replay(spec, [["acquire", { holder: "a", ttlMs: 1 }], ["release", "b"]])).toThrow(Model.ModelMismatch)
    expect(() => Model.replay(leaseSpec("none"), [["acquire", { holder: "a", ttlMs: 1 }], ["release", "b"]])).not.toThrow()
  })

  it("reports where it failed: the step, the time, the event and the check's message", () => {
    try {
      Model.replay(leaseSpec("release-by-anyone"), [["wait", 40], ["acquire", { holder: "a", ttlMs: 100 }], ["release", "b"]])
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(Model.ModelMismatch)
      const m = e as Model.ModelMismatch
      expect(m.stepIndex).toBe(1)
      expect(m.now).toBe(40)
      expect(m.message).toContain("check failed")
      expect(m.message).toContain(`"Release"`)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------------------------

type AlarmEvent =
  | { readonly _tag: "Arm"; readonly name: string; readonly delayMs: number; readonly now: number }
  | { readonly _tag: "Disarm"; readonly name: string; readonly now: number }
  | { readonly _tag: "TimerFired"; readonly timer: string; readonly generation: number; readonly now: number }
type AlarmCommand =
  | { readonly _tag: "SetTimer"; readonly timer: string; readonly at: number; readonly generation: number }
  | { readonly _tag: "CancelTimer"; readonly timer: string }
  | { readonly _tag: "Rang"; readonly name: string }
interface Alarms {
  readonly generation: number
  readonly current: ReadonlyMap<string, number>
}

const alarmStep = (state: Alarms, event: AlarmEvent): readonly [Alarms, ReadonlyArray<AlarmCommand>] => {
  switch (event._tag) {
    case "Arm": {
      const generation = state.generation + 1
      return [{ generation, current: new Map([...state.current, [event.name, generation]]) }, [
        { _tag: "SetTimer", timer: event.name, at: event.now + event.delayMs, generation }
      ]]
    }
    case "Disarm": {
      const current = new Map(state.current)
      current.delete(event.name)
      return [{ ...state, current }, [{ _tag: "CancelTimer", timer: event.name }]]
    }
    case "TimerFired": {
      if (state.current.get(event.timer) !== event.generation) return [state, []]
      const current = new Map(state.current)
      current.delete(event.timer)
      return [{ ...state, current }, [{ _tag: "Rang", name: event.timer }]]
    }
  }
}

/** The model: armed alarms with their time and arming order. */
interface Armed {
  readonly alarms: ReadonlyArray<{ readonly name: string; readonly at: number; readonly order: number }>
  readonly order: number
}

const alarmSpec = {
  step: alarmStep,
  initial: (): Alarms => ({ generation: 0, current: new Map() }),
  model: {
    initial: (): Armed => ({ alarms: [], order: 0 }),
    next: (m: Armed, e: AlarmEvent): Armed => {
      const others = m.alarms.filter((a) => a.name !== (e._tag === "TimerFired" ? e.timer : e.name))
      return e._tag === "Arm" ? { alarms: [...others, { name: e.name, at: e.now + e.delayMs, order: m.order }], order: m.order + 1 } : { ...m, alarms: others }
    }
  },
  actions: {
    arm: Model.action(
      fc.record({ name: fc.constantFrom("x", "y", "z"), delayMs: fc.integer({ min: 0, max: 300 }) }),
      ({ name, delayMs }, { now }): AlarmEvent => ({ _tag: "Arm", name, delayMs, now })
    ),
    disarm: Model.action(fc.nat(), (n, { now, model }: Model.Context<unknown, Armed>): AlarmEvent | undefined => {
      const alarm = Model.pick(model.alarms, n)
      return alarm === undefined ? undefined : { _tag: "Disarm", name: alarm.name, now }
    }),
    wait: Model.advance({ min: 0, max: 400 }),
    next: Model.fireNext()
  },
  timers: Model.tagged({
    fire: (timer: string, generation: number, now: number): AlarmEvent => ({ _tag: "TimerFired", timer, generation, now })
  }),
  check: ({ event, before, commands }: Model.Checked<Alarms, AlarmEvent, AlarmCommand, Armed>): Model.Verdict => {
    if (event._tag !== "TimerFired") return true
    // The firing is the earliest armed alarm (ties: armed first), stamped with its own time.
    const first = [...before.alarms].sort((a, b) => a.at - b.at || a.order - b.order)[0]
    return first !== undefined && first.name === event.timer && first.at === event.now && commands.length === 1
  }
}

describe("Model runner timers", () => {
  it("fires every armed timer at its own time, earliest first, ties in arming order, never a superseded one", () => {
    Model.assert(alarmSpec, { numRuns: 300, seed: 5 })
  })

  it("stamps each firing with its time and leaves the clock at the end of the wait", () => {
    const out = Model.replay(alarmSpec, [
      ["arm", { name: "x", delayMs: 50 }],
      ["arm", { name: "y", delayMs: 20 }],
      ["arm", { name: "z", delayMs: 50 }],
      ["wait", 30],
      ["arm", { name: "y", delayMs: 5 }],
      ["wait", 100]
    ])
    const fired = out.steps.filter((s) => s.timer).map((s) => `${s.event._tag === "TimerFired" ? s.event.timer : "?"}@${s.now}`)
    expect(fired).toEqual(["y@20", "y@35", "x@50", "z@50"])
    expect(out.now).toBe(130)
    expect(out.timers).toEqual([])
  })

  it("fireNext jumps to the next timer; a cancelled timer never fires", () => {
    const out = Model.replay(alarmSpec, [
      ["arm", { name: "x", delayMs: 70 }],
      ["arm", { name: "y", delayMs: 90 }],
      ["disarm", 0],
      ["next"],
      ["next"]
    ])
    expect(out.steps.filter((s) => s.timer).map((s) => s.now)).toEqual([90])
    expect(out.now).toBe(90)
  })

  it("delivers superseded timers with their old generation when asked, and the core ignores them", () => {
    const { check: _, ...unchecked } = alarmSpec
    const deliver = { ...unchecked, timers: { ...alarmSpec.timers, staleTimers: "deliver" as const } }
    const out = Model.replay(deliver, [["arm", { name: "x", delayMs: 10 }], ["arm", { name: "x", delayMs: 20 }], ["wait", 50]])
    const firings = out.steps.filter((s) => s.timer)
    expect(firings.map((s) => [s.now, s.commands.length])).toEqual([[10, 0], [20, 1]])
  })
})

describe("Model runner defects", () => {
  it("reports a core that throws as a failure of the step that threw, shrunk", () => {
    const throwing = (state: State, event: Event): readonly [State, ReadonlyArray<Command>] => {
      if (event._tag === "Release" && state.holder === undefined) throw new Error("released twice")
      return makeStep("none")(state, event)
    }
    const result = fc.check(Model.property({ ...leaseSpec("none"), step: throwing }), { numRuns: 300, seed: 4 })
    expect(result.failed).toBe(true)
    expect(names(result)).toHaveLength(1)
    expect(names(result)[0]).toMatch(/^release/)
    expect(result.errorInstance).toBeInstanceOf(Model.ModelMismatch)
    expect(String(result.errorInstance)).toContain("the core threw: released twice")
    expect(String(result.errorInstance)).toContain("at step 0 (t=0, release)")
  })
})

describe("invariantRun", () => {
  it("checks invariants after every step, timers included, and shrinks a violation", () => {
    const spec = {
      step: alarmStep,
      initial: (): Alarms => ({ generation: 0, current: new Map() }),
      actions: { arm: alarmSpec.actions.arm, wait: alarmSpec.actions.wait },
      timers: alarmSpec.timers,
      invariant: (s: Alarms) => s.current.size <= 3
    }
    expect(() => Model.invariantRun(spec, { numRuns: 200, seed: 2 })).not.toThrow()
    const tight = { ...spec, invariant: (s: Alarms) => (s.current.size < 2 ? [] : [`${s.current.size} alarms armed`]) }
    expect(() => Model.invariantRun(tight, { numRuns: 200, seed: 2 })).toThrow(/2 alarms armed/)
  })
})

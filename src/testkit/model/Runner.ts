/**
 * A model-based test runner for protocol cores written in the step style
 * (`step(state, event) -> [state, commands]`), on `fc.commands` and `fc.modelRun`.
 *
 * You describe the core under test and a reference for it (`Spec`):
 * - `step` and `initial`: the real core and its first state;
 * - `model`: a simpler reference with its own state and a `next` that predicts what the core's
 *   state becomes after each event (it may read the commands the core emitted, to learn the
 *   request numbers or timer keys it chose);
 * - `actions`: named generators of inputs (`action`, `advance`, `fireNext`), each a fast-check
 *   arbitrary turned into an event at the current virtual time, possibly depending on the model;
 * - `check` and `invariant`: what must relate the real state and commands to the model after
 *   every step, and what must hold of the real state alone;
 * - `timers`: an adapter that reads `SetTimer`/`CancelTimer`-like commands, so the runner can
 *   fire the timers the core armed, in virtual time order (`tagged` fits our cores).
 *
 * The runner owns a virtual clock (`Clock`): events are stamped with its `now`, `advance`
 * actions move it forward and fire every timer that falls due on the way, each at its own time.
 * Everything is synchronous and deterministic, so fast-check shrinks a failure to a short
 * sequence of actions and reports the seed, path and replay path that reproduce it; `replay`
 * runs a printed counterexample again by hand.
 *
 * It does not simulate a network: for many cores exchanging messages use `Sim`.
 *
 * @see docs/guides/property-testing.md
 * @since 0.1.0
 */
import fc from "fast-check"
import type { Step } from "../../core/Step.ts"
import * as Clock from "./Clock.ts"

// ---------------------------------------------------------------------------------------------
// The specification
// ---------------------------------------------------------------------------------------------

/**
 * What a check may return: `undefined`, `true`, `""` or `[]` pass; `false`, a message or a
 * list of messages (such as a `violations(...)` result) fail. A check may also throw (an
 * `expect` that fails), which fails too.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = void | undefined | boolean | string | ReadonlyArray<string>

/**
 * What an action sees when it builds its event: the virtual time, the model and the real state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context<S, M> {
  readonly now: number
  readonly model: M
  readonly state: S
}

/**
 * What `check` sees after each step.
 *
 * @since 0.1.0
 * @category models
 */
export interface Checked<S, E, C, M> {
  /** The virtual time the event was stamped with. */
  readonly now: number
  /** The event just applied. */
  readonly event: E
  /** The commands the core emitted for it, in order. */
  readonly commands: ReadonlyArray<C>
  /** The real state before and after the step. */
  readonly previous: S
  readonly state: S
  /** The model before and after the step. */
  readonly before: M
  readonly model: M
}

/**
 * The reference model: its first state, and how an event changes it. `next` gets the commands
 * the core emitted for the event, to learn what it cannot predict (a request number, a timer
 * key); it must predict the rest from its own rules, never from the real state.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModelOf<E, C, M> {
  readonly initial: () => M
  readonly next: (model: M, event: E, observed: { readonly now: number; readonly commands: ReadonlyArray<C> }) => M
}

/**
 * How the runner finds the core's timers: `read` says what a command does to the timer table
 * (arm, cancel or nothing), `fire` builds the event of a firing, stamped with its time, and
 * `key` names a timer (a later arming of the same key supersedes the earlier one; default: the
 * timer itself when it is a string, else its `fc.stringify`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Timers<C, E, K = any> {
  readonly read: (command: C) => Clock.TimerOp<K> | undefined
  readonly fire: (timer: K, generation: number, now: number) => E
  readonly key?: (timer: K) => string
  /** Superseded and cancelled timers: `"drop"` (default, as an actor does) or `"deliver"` with their old generation. */
  readonly staleTimers?: Clock.StaleTimers
}

/**
 * One kind of input the runner generates. Build it with `action`, `advance` or `fireNext`.
 *
 * @since 0.1.0
 * @category models
 */
export type Action<S, E, M> =
  | {
    readonly _tag: "Event"
    readonly arbitrary: fc.Arbitrary<unknown>
    readonly toEvent: (value: unknown, context: Context<S, M>) => E | undefined
    readonly when: ((model: M) => boolean) | undefined
    readonly weight: number
  }
  | { readonly _tag: "Advance"; readonly arbitrary: fc.Arbitrary<number>; readonly weight: number }
  | { readonly _tag: "FireNext"; readonly weight: number }

/**
 * A model-based test of one core: the real `step` and `initial`, the reference `model`, the
 * `actions` to generate (by name), and what to `check` after every step.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spec<S, E, C, M> {
  /** The core under test. */
  readonly step: Step<S, E, C>
  /** Its first state, built afresh for every run. */
  readonly initial: () => S
  /** The reference. Leave it out for a plain invariant run (`invariantRun`). */
  readonly model?: ModelOf<E, C, M>
  /** Named input generators; each name is how the action prints in a counterexample. */
  readonly actions: Readonly<Record<string, Action<S, E, M>>>
  /** Relates the real state and commands to the model after every step. */
  readonly check?: (checked: Checked<S, E, C, M>) => Verdict
  /** Must hold of the real state after every step. */
  readonly invariant?: (state: S) => Verdict
  /** Where the core's timers come from; without it no timer ever fires. */
  readonly timers?: Timers<C, E>
  /** Events applied (and checked) at the start of every run, such as a `Start`. */
  readonly prelude?: (now: number) => ReadonlyArray<E>
  /** The virtual time a run starts at. @default 0 */
  readonly startAt?: number
  /** A cap on timer firings in one `advance`, so a core that re-arms a timer in the past cannot loop forever. @default 10_000 */
  readonly maxFiringsPerAdvance?: number
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

/**
 * An input: a value drawn from `arbitrary`, turned into an event at the current virtual time.
 * `toEvent` may read the model and the real state (to pick among known members, say: see
 * `pick`) and returns `undefined` to skip when nothing fits. `when` is a precondition on the
 * model, also checked while shrinking. `weight` repeats the action in the mix (default 1).
 *
 * @example
 * ```ts
 * Model.action(fc.constantFrom("a", "b"), (holder, { now }) => ({ _tag: "Acquire", holder, now }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const action = <A, S, E, M>(
  arbitrary: fc.Arbitrary<A>,
  toEvent: (value: A, context: Context<S, M>) => E | undefined,
  options: { readonly when?: (model: M) => boolean; readonly weight?: number } = {}
): Action<S, E, M> => ({
  _tag: "Event",
  arbitrary,
  toEvent: toEvent as (value: unknown, context: Context<S, M>) => E | undefined,
  when: options.when,
  weight: options.weight ?? 1
})

/**
 * Lets virtual time pass: a duration drawn from `ms` (a range or an arbitrary), firing every
 * timer that falls due on the way, in order, each stamped with its own time.
 *
 * @since 0.1.0
 * @category constructors
 */
export const advance = (
  ms: fc.Arbitrary<number> | { readonly min?: number; readonly max: number },
  options: { readonly weight?: number } = {}
): Action<unknown, never, unknown> => ({
  _tag: "Advance",
  arbitrary: ms instanceof fc.Arbitrary ? ms : fc.integer({ min: ms.min ?? 1, max: ms.max }),
  weight: options.weight ?? 1
})

/**
 * Jumps to the next armed timer and fires it (and only it); does nothing when none is armed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fireNext = (options: { readonly weight?: number } = {}): Action<unknown, never, unknown> => ({
  _tag: "FireNext",
  weight: options.weight ?? 1
})

/**
 * `items[n mod length]`, or `undefined` for an empty list: how an action turns a drawn number
 * into one of the things the model currently knows, so that a counterexample still shrinks.
 *
 * @since 0.1.0
 * @category combinators
 */
export const pick = <T>(items: ReadonlyArray<T>, n: number): T | undefined =>
  items.length === 0 ? undefined : items[Math.abs(Math.trunc(n)) % items.length]

/**
 * A timer adapter for cores whose commands are tagged `SetTimer { timer, at, generation }` and
 * `CancelTimer { timer }` (the house style: SWIM and DHT). `fire` builds the `TimerFired`
 * event; `key` names a timer when it is not a string (the DHT's `Timer.key`).
 *
 * @example
 * ```ts
 * Model.tagged({ fire: (timer, generation, now) => Swim.Event.TimerFired({ now, timer, generation }) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const tagged = <K, E>(options: {
  readonly fire: (timer: K, generation: number, now: number) => E
  readonly key?: (timer: K) => string
  readonly staleTimers?: Clock.StaleTimers
}): Timers<{ readonly _tag: string }, E, K> => ({
  read: (command) => {
    const c = command as { readonly _tag: string; readonly timer: K; readonly at: number; readonly generation?: number }
    if (c._tag === "SetTimer") return Clock.set(c.timer, c.at, c.generation ?? 0)
    if (c._tag === "CancelTimer") return Clock.cancel(c.timer)
    return undefined
  },
  fire: options.fire,
  ...(options.key === undefined ? {} : { key: options.key }),
  ...(options.staleTimers === undefined ? {} : { staleTimers: options.staleTimers })
})

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

/**
 * One step of a run, as recorded for `replay` and failure reports.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stepped<E, C> {
  /** The action that caused it (`"prelude"` for prelude events). */
  readonly action: string
  readonly now: number
  readonly event: E
  readonly commands: ReadonlyArray<C>
  /** Whether the event was a timer firing. */
  readonly timer: boolean
}

/**
 * Where a run ended: the real state, the model, the virtual time, every step in order and the
 * timers still armed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome<S, E, C, M> {
  readonly state: S
  readonly model: M
  readonly now: number
  readonly steps: ReadonlyArray<Stepped<E, C>>
  readonly timers: ReadonlyArray<Clock.Due<unknown>>
}

/**
 * A check or invariant failed, or the core or the model threw, at a step of a run. The message
 * names the step, its virtual time, the action and the event, and the few steps before it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModelMismatch extends Error {
  override readonly name = "ModelMismatch"
  constructor(message: string, readonly stepIndex: number, readonly now: number, options?: { readonly cause?: unknown }) {
    super(message, options)
  }
}

const defaultKey = (timer: unknown): string => (typeof timer === "string" ? timer : fc.stringify(timer))

const show = (value: unknown, max = 300): string => {
  const text = fc.stringify(value)
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/** The message of a thrown check, with the values of an assertion error (its message may elide them). */
const explain = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  const a = cause as Error & { readonly actual?: unknown; readonly expected?: unknown }
  if (!("actual" in a) || !("expected" in a)) return cause.message
  return `${cause.message}\n  actual:   ${show(a.actual, 2_000)}\n  expected: ${show(a.expected, 2_000)}`
}

const failures = (verdict: unknown): ReadonlyArray<string> => {
  if (verdict === false) return ["returned false"]
  if (typeof verdict === "string") return verdict === "" ? [] : [verdict]
  if (Array.isArray(verdict)) return verdict.map(String)
  return []
}

const none = (): undefined => undefined

/**
 * A run in progress, as fast-check's model and real system (one object for both). Opaque
 * beyond what it shows here.
 *
 * @since 0.1.0
 * @category models
 */
export interface Run<S, M> {
  readonly state: S
  readonly model: M
  readonly now: number
}

/** A run in progress: the real state, the model, the clock and the steps so far. */
class World<S, E, C, M> implements Run<S, M> {
  state: S
  model: M
  readonly clock: Clock.Clock<unknown>
  readonly steps: Array<Stepped<E, C>> = []
  constructor(readonly spec: Spec<S, E, C, M>) {
    this.state = spec.initial()
    this.model = (spec.model?.initial ?? none)() as M
    this.clock = Clock.make<unknown>({
      now: spec.startAt ?? 0,
      key: spec.timers?.key ?? defaultKey,
      staleTimers: spec.timers?.staleTimers ?? "drop"
    })
  }

  get now(): number {
    return Clock.now(this.clock)
  }

  context(): Context<S, M> {
    return { now: this.now, model: this.model, state: this.state }
  }

  /** Throws a `ModelMismatch` for the step numbered `index` (the steps before it are the context). */
  fail(message: string, event: E, index: number, cause?: unknown, source?: string): never {
    const recent = this.steps.slice(Math.max(0, index - 6), index).map((s) => `  t=${s.now} ${s.action}: ${show(s.event, 160)}`)
    const by = source ?? this.steps[index]?.action ?? "?"
    const text = [
      `${message}`,
      `at step ${index} (t=${this.now}, ${by}), event ${show(event)}`,
      ...(recent.length > 0 ? ["after:", ...recent] : [])
    ].join("\n")
    throw new ModelMismatch(text, index, this.now, cause === undefined ? undefined : { cause })
  }

  /** Applies one event to the core and the model, then checks. */
  apply(actionName: string, event: E, timer: boolean): void {
    const spec = this.spec
    const now = this.now
    const previous = this.state
    let next: readonly [S, ReadonlyArray<C>]
    try {
      next = spec.step(previous, event)
    } catch (cause) {
      this.fail(`the core threw: ${cause instanceof Error ? cause.message : String(cause)}`, event, this.steps.length, cause, actionName)
    }
    const [state, commands] = next
    this.state = state
    if (spec.timers !== undefined) {
      for (const command of commands) {
        const op = spec.timers.read(command)
        if (op !== undefined) Clock.apply(this.clock, op)
      }
    }
    const index = this.steps.length
    this.steps.push({ action: actionName, now, event, commands, timer })
    const before = this.model
    if (spec.model !== undefined) {
      try {
        this.model = spec.model.next(before, event, { now, commands })
      } catch (cause) {
        this.fail(`the model threw: ${cause instanceof Error ? cause.message : String(cause)}`, event, index, cause)
      }
    }
    this.verify("check", event, index, () => spec.check?.({ now, event, commands, previous, state, before, model: this.model }))
    this.verify("invariant", event, index, () => spec.invariant?.(state))
  }

  verify(what: string, event: E, index: number, run: () => Verdict): void {
    let verdict: Verdict
    try {
      verdict = run()
    } catch (cause) {
      this.fail(`${what} failed: ${explain(cause)}`, event, index, cause)
    }
    const problems = failures(verdict)
    if (problems.length > 0) this.fail(`${what} failed:\n  ${problems.join("\n  ")}`, event, index)
  }

  /** Fires every timer due up to `until`, in order. */
  fireUntil(actionName: string, until: number, limit: number): void {
    const timers = this.spec.timers
    if (timers === undefined) return
    for (let fired = 0;; fired++) {
      const due = Clock.popDue(this.clock, until)
      if (due === undefined) return
      if (fired >= limit) {
        throw new ModelMismatch(`more than ${limit} timer firings in one advance (a timer re-armed in the past?)`, this.steps.length, this.now)
      }
      this.apply(`${actionName}/${due.key}`, timers.fire(due.timer, due.generation, due.at), true)
    }
  }

  run(name: string, act: Action<S, E, M>, value: unknown): void {
    switch (act._tag) {
      case "Event": {
        const event = act.toEvent(value, this.context())
        if (event !== undefined) this.apply(name, event, false)
        return
      }
      case "Advance": {
        const target = this.now + Math.max(0, value as number)
        this.fireUntil(name, target, this.spec.maxFiringsPerAdvance ?? 10_000)
        Clock.advanceTo(this.clock, target)
        return
      }
      case "FireNext": {
        const at = Clock.nextAt(this.clock)
        if (at !== undefined) {
          const due = Clock.popDue(this.clock, at)!
          this.apply(`${name}/${due.key}`, this.spec.timers!.fire(due.timer, due.generation, due.at), true)
        }
        return
      }
    }
  }

  start(): this {
    for (const event of this.spec.prelude?.(this.now) ?? []) this.apply("prelude", event, false)
    return this
  }

  outcome(): Outcome<S, E, C, M> {
    return { state: this.state, model: this.model, now: this.now, steps: this.steps, timers: Clock.pending(this.clock) }
  }
}

/** One drawn action as a fast-check command; fast-check's model and real are the same world. */
class Drawn<S, E, C, M> implements fc.Command<World<S, E, C, M>, World<S, E, C, M>> {
  constructor(readonly name: string, readonly act: Action<S, E, M>, readonly value: unknown) {}
  check(world: Readonly<World<S, E, C, M>>): boolean {
    return this.act._tag !== "Event" || this.act.when === undefined || this.act.when(world.model)
  }
  run(_: World<S, E, C, M>, world: World<S, E, C, M>): void {
    world.run(this.name, this.act, this.value)
  }
  toString(): string {
    return this.act._tag === "FireNext" ? `${this.name}()` : `${this.name}(${fc.stringify(this.value)})`
  }
}

const arbitraries = <S, E, C, M>(spec: Spec<S, E, C, M>): Array<fc.Arbitrary<fc.Command<World<S, E, C, M>, World<S, E, C, M>>>> => {
  const out: Array<fc.Arbitrary<fc.Command<World<S, E, C, M>, World<S, E, C, M>>>> = []
  for (const [name, act] of Object.entries(spec.actions)) {
    const drawn = act._tag === "FireNext"
      ? fc.constant(new Drawn<S, E, C, M>(name, act, undefined))
      : (act.arbitrary as fc.Arbitrary<unknown>).map((value) => new Drawn<S, E, C, M>(name, act, value))
    for (let i = 0; i < Math.max(1, Math.trunc(act.weight)); i++) out.push(drawn)
  }
  if (out.length === 0) throw new Error("a model spec needs at least one action")
  return out
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/**
 * How a property draws its action sequences: at most `maxActions` per run (default 50), with
 * lengths spread over that whole range (`size`, default `"max"`; fast-check's own default,
 * `"small"`, keeps most sequences under ten actions), and a `replayPath` printed by fast-check
 * with a counterexample (pass it with the same `seed` and `path` to replay that exact sequence).
 *
 * @since 0.1.0
 * @category models
 */
export interface Generation {
  readonly maxActions?: number
  readonly size?: fc.SizeForArbitrary
  readonly replayPath?: string
}

/**
 * The fast-check property of a spec: every run starts from a fresh state, model and clock and
 * applies a generated sequence of actions, checking after every step. Use it with `fc.assert`
 * or `fc.check` yourself, or call `assert`.
 *
 * @since 0.1.0
 * @category running
 */
export const property = <S, E, C, M>(
  spec: Spec<S, E, C, M>,
  options: Generation = {}
): fc.IPropertyWithHooks<[Iterable<fc.Command<Run<S, M>, Run<S, M>>>]> =>
  fc.property(
    fc.commands(arbitraries(spec), {
      maxCommands: options.maxActions ?? 50,
      size: options.size ?? "max",
      ...(options.replayPath === undefined ? {} : { replayPath: options.replayPath })
    }),
    (actions) => {
      fc.modelRun(() => {
        const world = new World(spec).start()
        return { model: world, real: world }
      }, actions)
    }
  ) as unknown as fc.IPropertyWithHooks<[Iterable<fc.Command<Run<S, M>, Run<S, M>>>]>

/**
 * fast-check parameters plus `Generation`, for `assert`.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Generation & fc.Parameters<[Iterable<fc.Command<any, any>>]>

/**
 * Runs the property of a spec with `fc.assert`: throws on the first failure, shrunk to a short
 * sequence of actions, with the seed, path and replay path that reproduce it and the failed
 * check's message in the report (`includeErrorInReport` defaults to `true` here). Pin a
 * counterexample by passing them back (`{ seed, path, replayPath, endOnFailure: true }`), or
 * write it out with `replay`.
 *
 * @since 0.1.0
 * @category running
 */
export const assert = <S, E, C, M>(spec: Spec<S, E, C, M>, options: Options = {}): void => {
  const { maxActions, size, replayPath, ...parameters } = options
  fc.assert(
    property(spec, {
      ...(maxActions === undefined ? {} : { maxActions }),
      ...(size === undefined ? {} : { size }),
      ...(replayPath === undefined ? {} : { replayPath })
    }),
    { includeErrorInReport: true, ...parameters } as fc.Parameters<[Iterable<fc.Command<Run<S, M>, Run<S, M>>>]>
  )
}

/**
 * A spec without a model: random action sequences, `invariant` checked after every step.
 *
 * @since 0.1.0
 * @category models
 */
export type InvariantSpec<S, E, C> = Omit<Spec<S, E, C, undefined>, "model" | "check"> & {
  readonly invariant: (state: S) => Verdict
}

/**
 * The plain invariant run: `assert` for a spec with no model, where only `invariant` (and the
 * core not throwing) is checked after every step, timers and shrinking included.
 *
 * @since 0.1.0
 * @category running
 */
export const invariantRun = <S, E, C>(spec: InvariantSpec<S, E, C>, options: Options = {}): void => assert(spec, options)

/**
 * Runs a fixed sequence of actions, by name and drawn value, exactly as a counterexample
 * prints them (`acquire("a")` is `["acquire", "a"]`; `fireNext()` is `["fireNext"]`), and
 * returns where it ended. Throws `ModelMismatch` where a check fails, like a property run. An
 * action whose precondition does not hold is skipped, as fast-check skips it.
 *
 * @since 0.1.0
 * @category running
 */
export const replay = <S, E, C, M>(
  spec: Spec<S, E, C, M>,
  actions: ReadonlyArray<readonly [name: string, value?: unknown]>
): Outcome<S, E, C, M> => {
  const world = new World(spec).start()
  for (const [name, value] of actions) {
    const act = spec.actions[name]
    if (act === undefined) throw new Error(`no action named ${name}`)
    if (act._tag === "Event" && act.when !== undefined && !act.when(world.model)) continue
    world.run(name, act, value)
  }
  return world.outcome()
}

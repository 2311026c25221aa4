/**
 * The runtime suite: what an actor costs compared with a bare Effect fiber on a Queue
 * (`raw_effect`, the floor the runtime is built on) and with nact 7.6.2 (`nact`, a popular
 * actor library for Node.js), every baseline measured in the same run as the result.
 *
 * | result               | unit      | what is timed                                                                |
 * |----------------------|-----------|------------------------------------------------------------------------------|
 * | `cast_throughput`    | msgs/s    | one producer casts N messages to one counting actor, until it counted N      |
 * | `call_roundtrip`     | calls/s   | sequential `call`s with a 5 s timeout to an actor that replies at once       |
 * | `spawn_rate`         | actors/s  | N `Actor.spawn` under one Scope, each returning once its actor is idle      |
 * | `idle_actor_bytes`   | bytes     | heap after a full GC with N idle actors, minus before, over N               |
 * | `restart_latency_us` | us        | p50 from casting a crash to a `call` to the restarted child succeeding      |
 * | `shutdown_100k_ms`   | ms        | `stop()` of a `simple_one_for_one` supervisor holding N idle children       |
 * | `start_child_rate`   | actors/s  | `startChild` on that supervisor, sequentially (how its N children started)  |
 *
 * Rates, the heap and the shutdown are medians over rounds; the cases of one result run
 * interleaved (runtime, raw Effect, nact, then rotated) after warm-up rounds.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { dispatch, query, spawn as nactSpawn, start as nactStart, stop as nactStop } from "nact"
import type { Ref } from "nact"
import * as Actor from "../../src/runtime/Actor.ts"
import * as Registry from "../../src/runtime/Registry.ts"
import * as Supervisor from "../../src/runtime/Supervisor.ts"
import { canCollect, interleaved, median, medians, now, percentile, settledHeap, turn } from "./Measure.ts"
import type { Result, SuiteOptions, SuiteResult, Target } from "./Report.ts"

/** The runtime's default mailbox, used for the Effect queues of the baselines too. */
const MAILBOX = 1_024
const CALL_TIMEOUT_MS = 5_000

interface Sizes {
  readonly casts: number
  readonly calls: number
  readonly actors: number
  readonly crashes: number
  readonly rounds: number
  readonly warmup: number
  /** Rounds of the 100k-actor measurements (spawn, heap, shutdown), which are slow. */
  readonly bigRounds: number
}

const full: Sizes = { casts: 200_000, calls: 20_000, actors: 100_000, crashes: 2_000, rounds: 7, warmup: 2, bigRounds: 3 }
const quick: Sizes = { casts: 20_000, calls: 2_000, actors: 10_000, crashes: 100, rounds: 3, warmup: 1, bigRounds: 1 }

const perSecond = (count: number, startedAt: number): number => count / ((now() - startedAt) / 1_000)

// ---------------------------------------------------------------------------------------------
// cast_throughput
// ---------------------------------------------------------------------------------------------

interface Tick {
  readonly _tag: "Tick"
}
const TICK: Tick = { _tag: "Tick" }

const castRuntime = (n: number): Promise<number> =>
  Effect.gen(function*() {
    const counted = Deferred.makeUnsafe<void>()
    const ref = yield* Actor.spawn(Actor.make<Tick, number>({
      label: "counter",
      init: () => Effect.succeed(0),
      receive: (_tick, count) => {
        const next = count + 1
        if (next === n) Deferred.doneUnsafe(counted, Exit.void)
        return Effect.succeed(next)
      }
    }))
    const startedAt = now()
    for (let i = 0; i < n; i++) yield* ref.cast(TICK)
    yield* Deferred.await(counted)
    return perSecond(n, startedAt)
  }).pipe(Effect.scoped, Effect.runPromise)

const castRaw = (n: number): Promise<number> =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<Tick>(MAILBOX)
    const counted = yield* Deferred.make<void>()
    yield* Effect.forkScoped(Effect.gen(function*() {
      let count = 0
      while (true) {
        yield* Queue.take(queue)
        if (++count === n) yield* Deferred.succeed(counted, undefined)
      }
    }))
    const startedAt = now()
    for (let i = 0; i < n; i++) yield* Queue.offer(queue, TICK)
    yield* Deferred.await(counted)
    return perSecond(n, startedAt)
  }).pipe(Effect.scoped, Effect.runPromise)

const castNact = async (n: number): Promise<number> => {
  const system = nactStart()
  let counted!: () => void
  const done = new Promise<void>((resolve) => (counted = resolve))
  const counter = nactSpawn(system, (count: number, _tick: Tick) => {
    const next = count + 1
    if (next === n) counted()
    return next
  }, "counter", { initialState: 0 })
  const startedAt = now()
  for (let i = 0; i < n; i++) dispatch(counter, TICK)
  await done
  const rate = perSecond(n, startedAt)
  nactStop(system)
  return rate
}

// ---------------------------------------------------------------------------------------------
// call_roundtrip
// ---------------------------------------------------------------------------------------------

interface Get {
  readonly reply: Actor.Reply<number>
}
const get = (reply: Actor.Reply<number>): Get => ({ reply })

const callRuntime = (n: number): Promise<number> =>
  Effect.gen(function*() {
    const ref = yield* Actor.spawn(Actor.make<Get, number>({
      label: "server",
      init: () => Effect.succeed(0),
      receive: (message, count) => {
        message.reply.succeed(count)
        return Effect.succeed(count + 1)
      }
    }))
    const options = { timeoutMs: CALL_TIMEOUT_MS }
    const startedAt = now()
    for (let i = 0; i < n; i++) yield* ref.call(get, options)
    return perSecond(n, startedAt)
  }).pipe(Effect.scoped, Effect.runPromise)

const callRaw = (n: number, withTimeout: boolean): Promise<number> =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<Deferred.Deferred<number>>(MAILBOX)
    yield* Effect.forkScoped(Effect.gen(function*() {
      let count = 0
      while (true) {
        const reply = yield* Queue.take(queue)
        yield* Deferred.succeed(reply, count++)
      }
    }))
    const startedAt = now()
    for (let i = 0; i < n; i++) {
      const reply = yield* Deferred.make<number>()
      yield* Queue.offer(queue, reply)
      if (withTimeout) yield* Effect.timeout(Deferred.await(reply), CALL_TIMEOUT_MS)
      else yield* Deferred.await(reply)
    }
    return perSecond(n, startedAt)
  }).pipe(Effect.scoped, Effect.runPromise)

interface NactGet {
  readonly reply: Ref<number>
}

const callNact = async (n: number): Promise<number> => {
  const system = nactStart()
  const server = nactSpawn(system, (count: number, message: NactGet) => {
    dispatch(message.reply, count)
    return count + 1
  }, "server", { initialState: 0 })
  const ask = (reply: Ref<number>): NactGet => ({ reply })
  const startedAt = now()
  for (let i = 0; i < n; i++) await query(server, ask, CALL_TIMEOUT_MS)
  const rate = perSecond(n, startedAt)
  nactStop(system)
  return rate
}

// ---------------------------------------------------------------------------------------------
// spawn_rate, idle_actor_bytes and the shutdown of a plain scope (one population per round)
// ---------------------------------------------------------------------------------------------

/** What one round of "spawn N idle actors, weigh them, release them" measured. */
interface Population {
  /** Actors per second from the first spawn until the last one is idle. */
  readonly spawnRate: number
  /** Heap bytes per idle actor, after a full GC. */
  readonly bytes: number
  /** Milliseconds to release all of them. */
  readonly releaseMs: number
}

const idle = Actor.make<number, number>({
  label: "idle",
  init: () => Effect.succeed(0),
  receive: (n, total) => Effect.succeed(total + n)
})

const populationRuntime = (n: number): Promise<Population> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const refs: Array<Actor.ActorRef<number>> = new Array(n)
    const before = settledHeap()
    const startedAt = now()
    yield* Scope.provide(
      Effect.gen(function*() {
        for (let i = 0; i < n; i++) refs[i] = yield* Actor.spawn(idle)
      }),
      scope
    )
    const spawnRate = perSecond(n, startedAt)
    const bytes = (settledHeap() - before) / n
    const releasedAt = now()
    yield* Scope.close(scope, Exit.void)
    return { spawnRate, bytes, releaseMs: now() - releasedAt }
  }).pipe(Effect.runPromise)

/** The same population as bare fibers, each blocked on `Queue.take` of its own bounded queue. */
const populationRaw = (n: number): Promise<Population> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const queues: Array<Queue.Queue<number>> = new Array(n)
    const loop = (queue: Queue.Queue<number>) =>
      Effect.gen(function*() {
        let total = 0
        while (true) total += yield* Queue.take(queue)
      })
    const before = settledHeap()
    const startedAt = now()
    for (let i = 0; i < n; i++) {
      const queue = yield* Queue.bounded<number>(MAILBOX)
      queues[i] = queue
      yield* Effect.forkIn(loop(queue), scope, { startImmediately: true })
    }
    const spawnRate = perSecond(n, startedAt)
    const bytes = (settledHeap() - before) / n
    const releasedAt = now()
    yield* Scope.close(scope, Exit.void)
    return { spawnRate, bytes, releaseMs: now() - releasedAt }
  }).pipe(Effect.runPromise)

const populationNact = async (n: number): Promise<Population> => {
  const system = nactStart()
  const refs: Array<Ref<number>> = new Array(n)
  const receive = (total: number, m: number) => total + m
  const before = settledHeap()
  const startedAt = now()
  for (let i = 0; i < n; i++) refs[i] = nactSpawn(system, receive, `a${i}`, { initialState: 0 })
  const spawnRate = perSecond(n, startedAt)
  const bytes = (settledHeap() - before) / n
  // nact's system stop does not reach the actors (it passes them where refs are expected), so stop each one.
  const releasedAt = now()
  for (const ref of refs) nactStop(ref)
  await turn()
  const releaseMs = now() - releasedAt
  nactStop(system)
  return { spawnRate, bytes, releaseMs }
}

// ---------------------------------------------------------------------------------------------
// shutdown_100k_ms and start_child_rate: a simple_one_for_one supervisor with N idle children
// ---------------------------------------------------------------------------------------------

interface Supervised {
  readonly startRate: number
  readonly stopMs: number
}

const supervised = (n: number): Promise<Supervised> =>
  Effect.gen(function*() {
    const sup = yield* Supervisor.startDynamic({
      strategy: "simple_one_for_one",
      template: { label: "idle", start: (_: void) => Actor.spawn(idle) }
    })
    const startedAt = now()
    for (let i = 0; i < n; i++) yield* sup.startChild(undefined)
    const startRate = perSecond(n, startedAt)
    settledHeap()
    const stoppedAt = now()
    yield* sup.stop()
    return { startRate, stopMs: now() - stoppedAt }
  }).pipe(Effect.scoped, Effect.runPromise)

// ---------------------------------------------------------------------------------------------
// restart_latency_us
// ---------------------------------------------------------------------------------------------

type CrashMsg = { readonly _tag: "Crash" } | { readonly _tag: "Ping"; readonly reply: Actor.Reply<void> }
const CRASH: CrashMsg = { _tag: "Crash" }
const ping = (reply: Actor.Reply<void>): CrashMsg => ({ _tag: "Ping", reply })

const crashable = Actor.make<CrashMsg, undefined>({
  label: "crashable",
  init: () => Effect.succeed(undefined),
  receive: (message, state) => {
    if (message._tag === "Crash") return Effect.die(new Error("crash"))
    message.reply.succeed(undefined)
    return Effect.succeed(state)
  }
})

/**
 * Samples, in µs, of crash → serving again under `one_for_one`. The budget is effectively
 * unlimited and its window short (1 ms), so the restart history stays small.
 */
const restartRuntime = (warmup: number, count: number): Promise<Array<number>> => {
  const name = "bench/crashable"
  return Effect.gen(function*() {
    yield* Supervisor.start({
      strategy: "one_for_one",
      intensity: 1_000_000,
      periodMs: 1,
      children: [Supervisor.worker("crashable", crashable, { name })]
    })
    const find = Effect.map(Registry.whereis(name), (p) => p as Actor.ActorRef<CrashMsg> | undefined)
    let current = (yield* find)!
    const samples: Array<number> = []
    const options = { timeoutMs: 1_000 }
    for (let i = 0; i < warmup + count; i++) {
      const crashedAt = now()
      yield* current.cast(CRASH)
      while (true) {
        const next = yield* find
        if (next !== undefined && next.pid !== current.pid) {
          const answered = yield* Effect.exit(next.call(ping, options))
          if (Exit.isSuccess(answered)) {
            current = next
            break
          }
        }
        yield* Effect.yieldNow
      }
      if (i >= warmup) samples.push((now() - crashedAt) * 1_000)
    }
    return samples
  }).pipe(Effect.scoped, Effect.provideService(Registry.CurrentRegistry, Registry.make()), Effect.runPromise)
}

type NactCrashMsg = { readonly crash: true } | { readonly crash: false; readonly reply: Ref<undefined> }

/** nact's nearest equivalent: the actor's `onCrash` answers `reset` (fresh state, same actor). */
const restartNact = async (warmup: number, count: number): Promise<Array<number>> => {
  const system = nactStart()
  const actor = nactSpawn(system, (state: number, message: NactCrashMsg) => {
    if (message.crash) throw new Error("crash")
    dispatch(message.reply, undefined)
    return state
  }, "crashable", { initialState: 0, onCrash: (_message, _error, ctx) => ctx.reset })
  const crash: NactCrashMsg = { crash: true }
  const ask = (reply: Ref<undefined>): NactCrashMsg => ({ crash: false, reply })
  const samples: Array<number> = []
  for (let i = 0; i < warmup + count; i++) {
    const crashedAt = now()
    dispatch(actor, crash)
    await query(actor, ask, 1_000)
    if (i >= warmup) samples.push((now() - crashedAt) * 1_000)
  }
  nactStop(system)
  return samples
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

/** The goals of the runtime (see docs/benchmarks.md). */
export const targets: ReadonlyArray<Target> = [
  { result: "cast_throughput", baseline: "raw_effect", atLeast: 0.6 },
  { result: "cast_throughput", baseline: "nact", atLeast: 4 },
  { result: "call_roundtrip", baseline: "nact", atLeast: 0.8 },
  { result: "spawn_rate", atLeast: 100_000 },
  { result: "idle_actor_bytes", atMost: 3_072 }
]

/**
 * Runs the suite. Heap figures need `--expose-gc` (the runner re-executes itself with it);
 * without it `idle_actor_bytes` is reported as NaN.
 */
export const run = async (options: SuiteOptions): Promise<SuiteResult> => {
  const sizes = options.quick ? quick : full
  const log = options.log
  const results: Array<Result> = []
  const rounds = { rounds: sizes.rounds, warmup: sizes.warmup }
  const big = { rounds: sizes.bigRounds, warmup: 0 }

  log(`cast_throughput: ${sizes.casts} messages × ${sizes.rounds} rounds`)
  const cast = medians(await interleaved({
    runtime: () => castRuntime(sizes.casts),
    raw_effect: () => castRaw(sizes.casts),
    nact: () => castNact(sizes.casts)
  }, rounds))
  results.push({
    name: "cast_throughput",
    unit: "msgs/s",
    value: cast.runtime,
    baselines: { raw_effect: cast.raw_effect, nact: cast.nact },
    note: `one producer, ${sizes.casts} casts to one counting actor (mailbox ${MAILBOX}, suspend), median of ${sizes.rounds}`
  })

  log(`call_roundtrip: ${sizes.calls} calls × ${sizes.rounds} rounds`)
  const call = medians(await interleaved({
    runtime: () => callRuntime(sizes.calls),
    raw_effect: () => callRaw(sizes.calls, true),
    raw_effect_no_timeout: () => callRaw(sizes.calls, false),
    nact: () => callNact(sizes.calls)
  }, rounds))
  results.push({
    name: "call_roundtrip",
    unit: "calls/s",
    value: call.runtime,
    baselines: { raw_effect: call.raw_effect, raw_effect_no_timeout: call.raw_effect_no_timeout, nact: call.nact },
    note: `sequential calls with a ${CALL_TIMEOUT_MS} ms timeout; raw_effect = Deferred through a Queue + Effect.timeout`
  })

  log(`spawn_rate, idle_actor_bytes: ${sizes.actors} actors × ${sizes.bigRounds} rounds${canCollect() ? "" : " (no --expose-gc: heap figures are NaN)"}`)
  const populations = await interleaved({
    runtime: () => populationRuntime(sizes.actors),
    raw_effect: () => populationRaw(sizes.actors),
    nact: () => populationNact(sizes.actors)
  }, big)
  const pick = (field: keyof Population) => ({
    runtime: median(populations.runtime.map((p) => p[field])),
    raw_effect: median(populations.raw_effect.map((p) => p[field])),
    nact: median(populations.nact.map((p) => p[field]))
  })
  const spawn = pick("spawnRate")
  results.push({
    name: "spawn_rate",
    unit: "actors/s",
    value: spawn.runtime,
    baselines: { raw_effect: spawn.raw_effect, nact: spawn.nact },
    note: `${sizes.actors} sequential Actor.spawn under one Scope, each returning when idle; raw_effect = Queue.bounded + forked take loop`
  })
  const bytes = canCollect() ? pick("bytes") : { runtime: Number.NaN, raw_effect: Number.NaN, nact: Number.NaN }
  results.push({
    name: "idle_actor_bytes",
    unit: "bytes",
    value: bytes.runtime,
    baselines: { raw_effect: bytes.raw_effect, nact: bytes.nact },
    note: `heapUsed after a full GC with ${sizes.actors} idle actors (and an array of their refs), minus before, / ${sizes.actors}`
  })

  log(`restart_latency_us: ${sizes.crashes} crashes`)
  const restartWarmup = Math.max(20, Math.round(sizes.crashes / 10))
  const restartSamples = await restartRuntime(restartWarmup, sizes.crashes)
  await turn()
  const restartNactSamples = await restartNact(restartWarmup, sizes.crashes)
  results.push({
    name: "restart_latency_us",
    unit: "us",
    value: percentile(restartSamples, 50),
    baselines: { nact: percentile(restartNactSamples, 50) },
    note: `p50 of ${sizes.crashes} crashes under one_for_one (p99 ${percentile(restartSamples, 99).toFixed(0)} us), ` +
      `new child found via the Registry; nact = onCrash reset (p99 ${percentile(restartNactSamples, 99).toFixed(0)} us)`
  })

  log(`shutdown_100k_ms: a simple_one_for_one supervisor with ${sizes.actors} children × ${sizes.bigRounds} rounds`)
  const sups: Array<Supervised> = []
  for (let i = 0; i < sizes.bigRounds; i++) {
    settledHeap()
    await turn()
    sups.push(await supervised(sizes.actors))
  }
  const release = pick("releaseMs")
  results.push({
    name: "shutdown_100k_ms",
    unit: "ms",
    value: median(sups.map((s) => s.stopMs)),
    baselines: { actor_scope: release.runtime, raw_effect: release.raw_effect, nact: release.nact },
    note: `stop() of a simple_one_for_one supervisor with ${sizes.actors} idle children (default 5 s shutdown each); ` +
      `actor_scope = Scope.close over ${sizes.actors} Actor.spawn, raw_effect = Scope.close over as many forked fibers, nact = stop(ref) each`
  })
  results.push({
    name: "start_child_rate",
    unit: "actors/s",
    value: median(sups.map((s) => s.startRate)),
    baselines: { actor_spawn: spawn.runtime },
    note: `sequential startChild on that supervisor (a call to it, a fresh child Scope, a watch, an event); actor_spawn = spawn_rate`
  })

  return { suite: "runtime", results, targets }
}

/**
 * SWIM + Lifeguard on the deterministic simulator: the cluster harness shared with
 * `swim.sim.ts`, and the scale run behind `npm run sim -- swim ...`.
 *
 * The model:
 * - **Cores.** Every member runs the real core (`Swim.makeStep`) with the §16 defaults
 *   (`Swim.lan`: 1 s probe period, 400 ms timeout, k = 3 helpers), or plain SWIM with
 *   `lifeguard: false`. Timers and packets go through the simulator; a `PersistIncarnation`
 *   is kept so a restarted member resumes at stored + 1, as a station does.
 * - **Network.** One-way delay 1 ms plus exponential jitter (mean 2 ms, cut at 50 ms), far
 *   below the probe timeout, and an independent loss probability per packet (`--loss`). A
 *   packet to a crashed member is silently lost (no `SendFailed`): the prober finds out by
 *   timeout, the slow path.
 * - **Warm start** (the scale run): every member starts with the full table, as after a
 *   completed join, so the measurement starts in steady state; `swim.sim.ts` checks that a
 *   cold start through one seed converges too.
 * - **Stalls** (`--stalled F`): a fraction F of members, never the crashed ones, have an event
 *   loop that stops now and then, as under a long GC pause or CPU starvation. Each stalls for
 *   `stallPeriods` (uniform, default 2–6 probe periods), then runs for an exponential gap
 *   (mean `stallGapPeriods`, default 30 periods, at least one), and so on, from a random
 *   phase. During a stall the member takes no step and sends nothing; every packet and timer
 *   that reaches it is queued, not lost. When it resumes it drains the queue at once, stamped
 *   with the resume time and in the order Node.js would: the timers that came due first
 *   (so a probe deadline passes before the ack that sits unread behind it), then packets in
 *   arrival order. What it sends then leaves at the resume time.
 * - **Crashes.** After a warm-up, `crashes` members (chosen at random among those nobody
 *   suspects at that moment and that never stall) crash, `crashSpacingMs` apart.
 *
 * The figures, in probe periods (`probeIntervalMs`) from the crash:
 * - first detection: until the first live member suspects it (its first `MemberSuspect`
 *   after the crash), median over the crashed members;
 * - full dissemination: until every member alive at the end has marked it dead (`MemberDead`),
 *   median over the crashed members (the maximum is in `details`);
 * - false positives: distinct (member, incarnation) verdicts of `dead` that a member issued on
 *   its own authority while the subject was up (stalled members count as up); `details` adds
 *   how many members took such a verdict in, the false suspicions, and each false verdict's
 *   case (first declarer, when it suspected and declared, stalls around it) for replaying;
 * - messages per member per second: every packet sent, over up members and virtual seconds
 *   from the end of the warm-up.
 *
 * Same seed, same arguments: the same JSON, bit for bit (the wall-clock time goes to stderr
 * only).
 */
import type { Millis } from "../../src/core/Millis.ts"
import type { Step } from "../../src/core/Step.ts"
import { Swim } from "../../src/protocols/swim/index.ts"
import * as Sim from "../../src/testkit/sim/index.ts"

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

/** What the simulator delivers to a member: a core event, or the end of a stall. */
export type Input = Swim.Event | { readonly _tag: "Wake"; readonly now: Millis }

/** What a member asks of the simulator: a core command, or a wake-up at the end of a stall. */
export type Output = Swim.Command | { readonly _tag: "WakeAt"; readonly at: Millis }

/** A member: its core's state and the inputs queued during a stall (empty when running). */
export interface Member {
  readonly core: Swim.State
  readonly backlog: ReadonlyArray<Swim.Event>
}

/** Timer keys: the core's, plus the end of a stall. */
export type TimerKey = Swim.TimerKey | "stall/wake"

/** A run of the harness: the simulator handle plus what the harness keeps beside it. */
export interface Cluster {
  readonly sim: Sim.Sim<Member, Input, Swim.Change>
  readonly config: Swim.Config
  /** Every id created so far, in order (crashed ones included); `addMember` appends. */
  readonly ids: Array<string>
  /** Stall windows per stalled member: [start, end) pairs in virtual ms, flattened. */
  readonly stalls: Map<string, ReadonlyArray<number>>
  /** Members that ever crashed (or were crashed by the scenario). */
  readonly crashed: Set<string>
}

/** Options of `makeCluster`. */
export interface ClusterOptions {
  readonly nodes: number
  readonly seed: number
  /** The core's config. @default Swim.lan */
  readonly config?: Swim.Config
  /** Probability that a packet is lost. @default 0 */
  readonly loss?: number
  /** Every member starts knowing every other (true), or alone (false: join it yourself). @default true */
  readonly warm?: boolean
  /** Called for every membership change a member reports, in order. */
  readonly onChange?: (at: Millis, observer: string, change: Swim.Change) => void
  /** Keep every change in `Sim.records` too (small runs only). @default false */
  readonly keepRecords?: boolean
  /** Keep every delivery for `Sim.trace` (debugging small runs only). @default false */
  readonly trace?: boolean
}

/** The address a member announces; the simulator routes by id, so it is only carried. */
const addrOf = (id: string): string => `quic://${id}`

/** `[start, end)` containing `now` among flattened sorted windows, as its end; else undefined. */
const stallEndAt = (windows: ReadonlyArray<number> | undefined, now: Millis): Millis | undefined => {
  if (windows === undefined) return undefined
  // Binary search for the last window starting at or before `now`.
  let lo = 0
  let hi = windows.length / 2 - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (windows[2 * mid]! <= now) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  if (found < 0) return undefined
  const end = windows[2 * found + 1]!
  return now < end ? end : undefined
}

const empty: ReadonlyArray<Swim.Event> = []

/**
 * The member step: the core, except during a stall, when inputs are queued, and at the end of
 * one, when the queue is drained (timers first, then packets, all at the resume time).
 */
const memberStep = (
  core: Step<Swim.State, Swim.Event, Swim.Command>,
  stalls: ReadonlyMap<string, ReadonlyArray<number>>
): Step<Member, Input, Output> =>
(member, input) => {
  if (input._tag === "Wake") {
    const now = input.now
    const queued = member.backlog
    const ordered = [...queued.filter((e) => e._tag === "TimerFired"), ...queued.filter((e) => e._tag !== "TimerFired")]
    let state = member.core
    const out: Array<Output> = []
    for (const event of ordered) {
      const [next, commands] = core(state, { ...event, now })
      state = next
      for (const c of commands) out.push(c)
    }
    return [{ core: state, backlog: empty }, out]
  }
  // Inputs keep their order: once something is queued, everything queues until the wake.
  if (member.backlog.length > 0) return [{ core: member.core, backlog: [...member.backlog, input] }, []]
  const end = stallEndAt(stalls.get(member.core.self.id), input.now)
  if (end !== undefined) return [{ core: member.core, backlog: [input] }, [{ _tag: "WakeAt", at: end }]]
  const [state, commands] = core(member.core, input)
  return state === member.core ? [member, commands] : [{ core: state, backlog: empty }, commands]
}

/**
 * A cluster of `nodes` members `n0 … n(N-1)` on the simulator. Nothing runs until you call
 * `Sim.run*`; every member gets `Start` at time 0 (and at each restart).
 */
export const makeCluster = (options: ClusterOptions): Cluster => {
  const base = options.config ?? Swim.lan
  const found = Swim.problems(base)
  if (found.length > 0) throw new RangeError(`invalid SWIM config: ${found.join("; ")}`)
  const ids = Sim.ids(options.nodes)
  const warm = options.warm ?? true
  const persisted = new Map<string, number>()
  const stalls = new Map<string, ReadonlyArray<number>>()
  const crashed = new Set<string>()
  // Rows shared by every warm table: states are values, nobody mutates a row or a map in place.
  const rows = new Map<string, Swim.Member>()
  if (warm) {
    for (const id of ids) {
      const claim = Swim.Claims.alive(id, 0, [addrOf(id)])
      rows.set(id, {
        id,
        status: "alive",
        incarnation: 0,
        addrs: claim.addrs ?? [],
        claim,
        lastAlive: claim,
        suspicion: undefined,
        changedAt: 0
      })
    }
  }
  const initial = (ctx: Sim.NodeContext): Member => {
    const stored = persisted.get(ctx.id)
    const state = Swim.initial({
      self: ctx.id,
      incarnation: stored === undefined ? 0 : stored + 1,
      addrs: [addrOf(ctx.id)],
      seed: ctx.seed
    })
    if (!warm || ctx.incarnation > 0 || !rows.has(ctx.id)) return { core: state, backlog: empty }
    const members = new Map<string, Swim.Member>()
    for (const [id, row] of rows) if (id !== ctx.id) members.set(id, row)
    return { core: { ...state, members, live: members.size }, backlog: empty }
  }
  const step = memberStep(Swim.makeStep(base), stalls)
  const onChange = options.onChange
  const sim = Sim.make<Member, Input, Output, Swim.Packet, TimerKey, Swim.Change>({
    seed: options.seed,
    nodes: ids,
    initial,
    step,
    interpret: (command, ctx) => {
      switch (command._tag) {
        case "Send":
          return Sim.send(command.to, command.packet)
        case "SetTimer":
          return Sim.setTimer(command.timer, command.at, command.generation)
        case "CancelTimer":
          return Sim.cancelTimer(command.timer)
        case "PersistIncarnation":
          persisted.set(ctx.self, command.incarnation)
          return undefined
        case "Penalise":
          return Sim.count("penalised")
        case "Emit":
          return Sim.emit(command.change)
        case "WakeAt":
          return [Sim.setTimer("stall/wake", command.at, 0), Sim.count("stalls")]
      }
    },
    events: {
      message: (packet, from, now) => Swim.Event.PacketReceived({ now, from, packet }),
      timer: (timer, generation, now) =>
        timer === "stall/wake" ? { _tag: "Wake", now } : Swim.Event.TimerFired({ now, timer, generation }),
      started: ({ now }) => Swim.Event.Start({ now })
    },
    network: { latencyMs: 1, jitter: Sim.Network.exponential(2, 50), loss: options.loss ?? 0 },
    kindOf: (packet) => packet._tag,
    keepRecords: options.keepRecords ?? false,
    trace: options.trace ?? false,
    ...(onChange === undefined ? {} : { onEmit: (o: Sim.Observation<Swim.Change>) => onChange(o.at, o.node, o.record) })
  })
  return {
    sim,
    config: base,
    ids: [...ids],
    stalls,
    crashed
  }
}

/** Adds member `id` at `at` and has it join through `seeds` (a cold join, as a station does). */
export const addMember = (cluster: Cluster, id: string, seeds: ReadonlyArray<string>, at: Millis): void => {
  Sim.schedule(cluster.sim, at, (sim) => {
    Sim.addNode(sim, id)
    cluster.ids.push(id)
    Sim.inject(sim, at, id, Swim.Event.Join({ now: at, peers: seeds }))
  })
}

/** Has `id` join through `seeds` at `at` (it must exist then). */
export const join = (cluster: Cluster, id: string, seeds: ReadonlyArray<string>, at: Millis): void =>
  Sim.inject(cluster.sim, at, id, Swim.Event.Join({ now: at, peers: seeds }))

/** Crashes `id` at `at` (or now), and remembers it. */
export const crash = (cluster: Cluster, id: string, at?: Millis): void => {
  cluster.crashed.add(id)
  Sim.crash(cluster.sim, id, at === undefined ? undefined : { at })
}

/** `id` leaves gracefully at `at`, and is stopped `stopAfterMs` later (its leave has gone out). */
export const leave = (cluster: Cluster, id: string, at: Millis, stopAfterMs: Millis): void => {
  Sim.inject(cluster.sim, at, id, Swim.Event.Leave({ now: at }))
  cluster.crashed.add(id)
  Sim.crash(cluster.sim, id, { at: at + stopAfterMs })
}

/** Options of the stall plan (see the header). */
export interface StallOptions {
  /** Shortest and longest stall, in probe periods. @default [2, 6] */
  readonly periods?: readonly [number, number]
  /** Mean running time between two stalls, in probe periods. @default 30 */
  readonly gapPeriods?: number
}

/**
 * Gives each of `members` stall windows up to `untilMs`, drawn from the scenario generator:
 * a random phase, then stalls of uniform length separated by exponential gaps.
 */
export const planStalls = (
  cluster: Cluster,
  members: ReadonlyArray<string>,
  untilMs: Millis,
  options: StallOptions = {}
): void => {
  const period = cluster.config.probeIntervalMs
  const [shortest, longest] = options.periods ?? [2, 6]
  const gap = options.gapPeriods ?? 30
  const rng = Sim.random(cluster.sim)
  for (const id of members) {
    const windows: Array<number> = []
    let t = rng.float() * gap * period
    while (t < untilMs) {
      const length = (shortest + rng.float() * (longest - shortest)) * period
      windows.push(t, t + length)
      t += length + Math.max(period, -Math.log(1 - rng.float()) * gap * period)
    }
    cluster.stalls.set(id, windows)
  }
}

/** The start of the last stall of `id` that began at or before `now` (null: none). */
const stallStartBefore = (cluster: Cluster, id: string, now: Millis): number | null => {
  const w = cluster.stalls.get(id) ?? []
  let found: number | null = null
  for (let i = 0; i < w.length; i += 2) if (w[i]! <= now) found = w[i]!
  return found === null ? null : round(found)
}

/** Whether `id` is inside a stall at `now`. */
export const isStalled = (cluster: Cluster, id: string, now: Millis): boolean =>
  stallEndAt(cluster.stalls.get(id), now) !== undefined

/** The status `observer` holds for `subject` (undefined when it holds no row). */
export const statusOf = (cluster: Cluster, observer: string, subject: string): Swim.Status | undefined =>
  Sim.state(cluster.sim, observer).core.members.get(subject)?.status

/** Members that are up, in id order. */
export const upMembers = (cluster: Cluster): ReadonlyArray<string> =>
  cluster.ids.filter((id) => Sim.isUp(cluster.sim, id))

/**
 * Whether every up member holds exactly the other up members as alive (and nobody else as
 * alive or suspect): the converged view.
 */
export const converged = (cluster: Cluster): boolean => {
  const up = upMembers(cluster)
  const upSet = new Set(up)
  for (const observer of up) {
    const table = Sim.state(cluster.sim, observer).core.members
    for (const id of up) if (id !== observer && table.get(id)?.status !== "alive") return false
    for (const [id, row] of table) if (!upSet.has(id) && row.status !== "dead") return false
  }
  return true
}

/**
 * Runs until `converged` holds (checked every `everyMs` of virtual time, default one probe
 * period, since a check reads every table) or `untilMs`; `reason` is "stopped" if it converged.
 */
export const runUntilConverged = (cluster: Cluster, untilMs: Millis, everyMs?: Millis): Sim.RunResult => {
  const every = everyMs ?? cluster.config.probeIntervalMs
  let done = false
  for (let t = Sim.now(cluster.sim) + every; t <= untilMs; t += every) {
    Sim.schedule(cluster.sim, t, () => {
      if (!done) done = converged(cluster)
    })
  }
  return Sim.runUntil(cluster.sim, untilMs, { stop: () => done })
}

// ---------------------------------------------------------------------------------------------
// What the runs measure
// ---------------------------------------------------------------------------------------------

/** What the tracker knows about one crash. */
export interface CrashTrack {
  readonly member: string
  readonly at: Millis
  /** First `MemberSuspect` about it after the crash, by anyone. */
  firstSuspectAt: Millis | undefined
  /** First `MemberDead` about it (the first verdict to be taken in). */
  firstDeadAt: Millis | undefined
  /** When each observer marked it dead. */
  readonly deadAt: Map<string, Millis>
}

/** One false verdict, for reading what went wrong (times in virtual ms). */
export interface FalseVerdictCase {
  readonly member: string
  readonly incarnation: number
  readonly declarer: string
  readonly atMs: number
  /** When the declarer last took in a suspicion of the member before the verdict. */
  readonly suspectedAtMs: number | null
}

/** Membership changes turned into the figures of a run. */
export interface Tracker {
  readonly crashes: Map<string, CrashTrack>
  /** Distinct `subject@incarnation` dead verdicts issued while the subject was up. */
  readonly falseVerdicts: Set<string>
  /** `MemberDead` taken in about an up member, over all observers. */
  falseDeadObservations: number
  /** Distinct `subject@incarnation` suspicions of an up member. */
  readonly falseSuspicions: Set<string>
  /** Each false verdict: who declared whom dead, when, and when it had first suspected it. */
  readonly falseVerdictCases: Array<FalseVerdictCase>
  /** Observe one change (wire it to `ClusterOptions.onChange`). */
  readonly observe: (at: Millis, observer: string, change: Swim.Change) => void
  /** Start tracking a crash (call when it happens). */
  readonly crashed: (member: string, at: Millis) => void
}

/** A tracker; `isUp` tells whether a member is up at the time of the change. */
export const makeTracker = (isUp: (id: string) => boolean): Tracker => {
  // Per observer and up member, when it last took in a suspicion (false verdicts only read it).
  const suspectedAt = new Map<string, Millis>()
  const tracker: Tracker = {
    crashes: new Map(),
    falseVerdicts: new Set(),
    falseDeadObservations: 0,
    falseSuspicions: new Set(),
    falseVerdictCases: [],
    observe: (at, observer, change) => {
      switch (change._tag) {
        case "MemberSuspect": {
          const c = tracker.crashes.get(change.member)
          if (c !== undefined) {
            if (c.firstSuspectAt === undefined && at >= c.at) c.firstSuspectAt = at
          } else if (isUp(change.member)) {
            tracker.falseSuspicions.add(`${change.member}@${change.incarnation}`)
            suspectedAt.set(`${observer}>${change.member}`, at)
          }
          return
        }
        case "MemberDead": {
          const c = tracker.crashes.get(change.member)
          if (c !== undefined) {
            if (!c.deadAt.has(observer)) c.deadAt.set(observer, at)
            if (c.firstDeadAt === undefined) c.firstDeadAt = at
            // The tracker does not count a crash it has not been told of yet as a false positive.
          } else if (isUp(change.member)) {
            tracker.falseDeadObservations++
            if (change.by === observer) {
              tracker.falseVerdicts.add(`${change.member}@${change.incarnation}`)
              tracker.falseVerdictCases.push({
                member: change.member,
                incarnation: change.incarnation,
                declarer: observer,
                atMs: at,
                suspectedAtMs: suspectedAt.get(`${observer}>${change.member}`) ?? null
              })
            }
          }
          return
        }
        case "MemberAlive":
        case "MemberLeft":
          return
      }
    },
    crashed: (member, at) => {
      tracker.crashes.set(member, {
        member,
        at,
        firstSuspectAt: undefined,
        firstDeadAt: undefined,
        deadAt: new Map()
      })
    }
  }
  return tracker
}

/** The median of a non-empty list (the mean of the middle two for an even length); NaN if empty. */
export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** One crash's figures, in probe periods from the crash (null: did not happen by the end). */
export interface CrashResult {
  readonly member: string
  readonly crashAtMs: number
  readonly firstDetectionPeriods: number | null
  readonly firstVerdictPeriods: number | null
  readonly fullDisseminationPeriods: number | null
  /** Up members at the end that never marked it dead. */
  readonly missing: number
}

/**
 * Turns a crash's track into periods. `observers` are the members up at the end; each must
 * have marked it dead, except one that never held it (a newcomer that joined after the verdict
 * never hears of it, since a sync carries no addresses for the dead): `holds` tells.
 */
export const crashResult = (
  track: CrashTrack,
  observers: ReadonlyArray<string>,
  periodMs: Millis,
  holds: (observer: string, member: string) => boolean = () => true
): CrashResult => {
  const periods = (t: Millis | undefined) => t === undefined ? null : round((t - track.at) / periodMs)
  let last = track.at
  let missing = 0
  for (const id of observers) {
    if (id === track.member) continue
    const t = track.deadAt.get(id)
    if (t === undefined) {
      if (holds(id, track.member)) missing++
    } else if (t > last) last = t
  }
  return {
    member: track.member,
    crashAtMs: track.at,
    firstDetectionPeriods: periods(track.firstSuspectAt),
    firstVerdictPeriods: periods(track.firstDeadAt),
    fullDisseminationPeriods: missing > 0 ? null : periods(last),
    missing
  }
}

const round = (x: number, digits = 3): number => {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

// ---------------------------------------------------------------------------------------------
// The scale run
// ---------------------------------------------------------------------------------------------

/** The arguments of `npm run sim -- swim ...` (after `--json` is taken out by the runner). */
export interface ScaleArgs {
  readonly nodes: number
  readonly loss: number
  readonly stalled: number
  readonly lifeguard: boolean
  readonly seed: number
  readonly crashes: number
  readonly stallPeriods: readonly [number, number]
  readonly stallGapPeriods: number
}

/** The usage of this kind, for the runner. */
export const usage =
  `npm run sim -- swim --nodes N [--loss F] [--stalled F] [--no-lifeguard] [--seed S] [--crashes K]
                    [--stall-periods A-B] [--stall-gap-periods G] --json FILE
  --nodes N              cluster size (default 1000)
  --loss F               packet loss probability in [0, 1) (default 0)
  --stalled F            fraction of members whose event loop stalls now and then (default 0)
  --no-lifeguard         plain SWIM: no local health, nacks, confirmations or buddy system
  --seed S               seed of the run (default 1); same seed, same result
  --crashes K            members crashed after the warm-up, 10 s apart (default 5)
  --stall-periods A-B    stall length in probe periods, uniform in [A, B] (default 2-6)
  --stall-gap-periods G  mean running time between stalls, in probe periods (default 30)`

const usageError = (message: string): Error => Object.assign(new Error(message), { name: "UsageError" })

const number = (name: string, raw: string | undefined, ok: (x: number) => boolean): number => {
  const x = raw === undefined ? NaN : Number(raw)
  if (!Number.isFinite(x) || !ok(x)) throw usageError(`bad value for ${name}: ${raw ?? "(missing)"}`)
  return x
}

/** Parses the arguments; throws an error named `UsageError` on bad input. */
export const parseArgs = (argv: ReadonlyArray<string>): ScaleArgs => {
  let nodes = 1_000
  let loss = 0
  let stalled = 0
  let lifeguard = true
  let seed = 1
  let crashes = 5
  let stallPeriods: readonly [number, number] = [2, 6]
  let stallGapPeriods = 30
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => argv[++i]
    switch (arg) {
      case "--nodes":
        nodes = number(arg, value(), (x) => Number.isSafeInteger(x) && x >= 5)
        break
      case "--loss":
        loss = number(arg, value(), (x) => x >= 0 && x < 1)
        break
      case "--stalled":
        stalled = number(arg, value(), (x) => x >= 0 && x <= 0.5)
        break
      case "--no-lifeguard":
        lifeguard = false
        break
      case "--seed":
        seed = number(arg, value(), Number.isSafeInteger)
        break
      case "--crashes":
        crashes = number(arg, value(), (x) => Number.isSafeInteger(x) && x >= 1)
        break
      case "--stall-periods": {
        const raw = value()
        const parts = (raw ?? "").split("-").map(Number)
        const [a, b] = [parts[0], parts[1] ?? parts[0]]
        if (parts.length > 2 || a === undefined || b === undefined || !(a > 0 && b >= a)) {
          throw usageError(`bad value for --stall-periods: ${raw ?? "(missing)"} (want A-B with 0 < A <= B)`)
        }
        stallPeriods = [a, b]
        break
      }
      case "--stall-gap-periods":
        stallGapPeriods = number(arg, value(), (x) => x >= 1)
        break
      default:
        throw usageError(`unknown argument ${arg}`)
    }
  }
  if (crashes > nodes / 4) throw usageError(`--crashes ${crashes} is too many for ${nodes} nodes`)
  return { nodes, loss, stalled, lifeguard, seed, crashes, stallPeriods, stallGapPeriods }
}

/** Scenario timing of the scale run. */
const warmupMs = 20_000
const crashSpacingMs = 10_000
/** After the last crash: the longest Lifeguard window at n = 1,000 (90 s) plus gossip time. */
const tailMs = 150_000

/** The scale run: builds the cluster, stalls, crashes, runs, and returns the figures. */
export const scale = (args: ScaleArgs, log: (line: string) => void = () => {}) => {
  const config: Swim.Config = { ...Swim.lan, lifeguard: args.lifeguard }
  const period = config.probeIntervalMs
  const endMs = warmupMs + (args.crashes - 1) * crashSpacingMs + tailMs
  let cluster: Cluster | undefined
  const tracker = makeTracker((id) => Sim.isUp(cluster!.sim, id))
  cluster = makeCluster({ nodes: args.nodes, seed: args.seed, config, loss: args.loss, onChange: tracker.observe })
  const c = cluster
  const sim = c.sim
  const rng = Sim.random(sim)
  const ids = c.ids

  // Stalled members: a random subset, fixed for the run.
  const shuffled = [...ids]
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    const tmp = shuffled[i]!
    shuffled[i] = shuffled[j]!
    shuffled[j] = tmp
  }
  const stalledCount = Math.round(args.stalled * args.nodes)
  const stalledIds = shuffled.slice(0, stalledCount)
  planStalls(c, stalledIds, endMs, { periods: args.stallPeriods, gapPeriods: args.stallGapPeriods })
  const candidates = shuffled.slice(stalledCount)

  // Crashes: each picks, at its time, a member that no up member suspects or holds dead, so
  // that its first MemberSuspect after the crash is a true first detection.
  let next = 0
  for (let i = 0; i < args.crashes; i++) {
    const at = warmupMs + i * crashSpacingMs
    Sim.schedule(sim, at, () => {
      const up = upMembers(c)
      while (next < candidates.length) {
        const id = candidates[next++]!
        if (!Sim.isUp(sim, id)) continue
        if (up.some((o) => o !== id && statusOf(c, o, id) !== "alive")) continue
        crash(c, id)
        tracker.crashed(id, at)
        log(`crashed ${id} at ${at / 1000} s`)
        return
      }
    })
  }

  let sentAtWarmup = 0
  Sim.schedule(sim, warmupMs, (s) => {
    sentAtWarmup = Sim.stats(s).sent
  })
  for (let t = 10_000; t < endMs; t += 10_000) {
    Sim.schedule(sim, t, (s) => log(`t = ${t / 1000} s, ${Sim.stats(s).steps} steps`))
  }
  Sim.runUntil(sim, endMs)

  const up = upMembers(c)
  const results = [...tracker.crashes.values()].map((t) => crashResult(t, up, period))
  const stats = Sim.stats(sim)
  let memberMs = args.nodes * (endMs - warmupMs)
  for (const t of tracker.crashes.values()) memberMs -= endMs - t.at
  const detection = results.flatMap((r) => r.firstDetectionPeriods === null ? [] : [r.firstDetectionPeriods])
  const dissemination = results.flatMap((r) => r.fullDisseminationPeriods === null ? [] : [r.fullDisseminationPeriods])
  const verdict = results.flatMap((r) => r.firstVerdictPeriods === null ? [] : [r.firstVerdictPeriods])
  const byKind: Record<string, number> = {}
  for (const [kind, counts] of Object.entries(stats.byKind)) byKind[kind] = counts.sent
  let refutations = 0
  let maxHealth = 0
  for (const id of up) {
    const core = Sim.state(sim, id).core
    refutations += core.counters.refutations
    if (core.health > maxHealth) maxHealth = core.health
  }
  return {
    firstDetectionPeriodsMedian: round(median(detection)),
    fullDisseminationPeriods: dissemination.length === results.length ? round(median(dissemination)) : null,
    falsePositives: tracker.falseVerdicts.size,
    msgsPerMemberPerSecond: round((stats.sent - sentAtWarmup) / (memberMs / 1_000)),
    params: {
      nodes: args.nodes,
      loss: args.loss,
      stalled: args.stalled,
      lifeguard: args.lifeguard,
      seed: args.seed,
      crashes: args.crashes,
      stallPeriods: args.stallPeriods,
      stallGapPeriods: args.stallGapPeriods,
      probeIntervalMs: period,
      virtualSeconds: endMs / 1_000
    },
    details: {
      fullDisseminationPeriodsMax: dissemination.length === 0 ? null : round(Math.max(...dissemination)),
      firstVerdictPeriodsMedian: verdict.length === 0 ? null : round(median(verdict)),
      crashes: results,
      falseDeadObservations: tracker.falseDeadObservations,
      falseSuspicions: tracker.falseSuspicions.size,
      // The first declarer of each false verdict (plain SWIM has dozens per verdict).
      falseVerdictCases: tracker.falseVerdictCases.filter((f, i, all) =>
        all.findIndex((g) => g.member === f.member && g.incarnation === f.incarnation) === i
      ).map((f) => ({
        ...f,
        declarers: tracker.falseVerdictCases.filter((g) => g.member === f.member && g.incarnation === f.incarnation).length,
        // A verdict the instant a stall ended: the window ran out while the declarer was stalled.
        declarerResumingFromStall: isStalled(c, f.declarer, f.atMs - 1),
        memberStalledSinceMs: stallStartBefore(c, f.member, f.suspectedAtMs ?? f.atMs)
      })),
      refutations,
      maxHealthAtEnd: maxHealth,
      stalls: Sim.counter(sim, "stalls"),
      sentByKind: byKind,
      lossDropped: stats.dropped.loss,
      steps: stats.steps,
      digest: Sim.digest(sim)
    }
  }
}

/** The runner's entry: `run(args)` for `npm run sim -- swim ...`. */
export const run = async (argv: ReadonlyArray<string>): Promise<object> => {
  const args = parseArgs(argv)
  const started = performance.now()
  const cpuBefore = process.cpuUsage()
  const result = scale(args, (line) => void process.stderr.write(`  ${line}\n`))
  const seconds = (performance.now() - started) / 1_000
  const cpu = process.cpuUsage(cpuBefore)
  process.stderr.write(
    `swim: ${args.nodes} nodes, ${result.details.steps} steps in ${seconds.toFixed(1)} s wall clock, ` +
      `${(cpu.user / 1e6).toFixed(1)} s user CPU\n`
  )
  return result
}

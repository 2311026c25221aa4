/**
 * Stations for the SWIM actor tests: each one a transport subtree (real `ConnectionActor`s)
 * and a membership subtree over the simulated network, on `TestClock`. Every station records
 * the membership changes it saw and the verdicts it acted on, with their virtual time.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import * as SwimProberActor from "../../../actors/SwimProberActor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import { Transport } from "../../../src/platform/transport/Transport.ts"
import { Swim } from "../../../src/protocols/swim/index.ts"
import * as Supervisor from "../../../src/runtime/Supervisor.ts"
import * as SimNetwork from "../../../src/testkit/network/SimNetwork.ts"
import * as MembershipSupervisor from "../../../supervisors/MembershipSupervisor.ts"
import * as TransportSupervisor from "../../../supervisors/TransportSupervisor.ts"

/** Lets forked fibers run without moving the clock. */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 40; i++) yield* Effect.yieldNow
})

/** Moves the test clock by `ms` in steps of `stepMs`, letting woken fibers run after each. */
export const advance = (ms: number, stepMs = 10) =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += stepMs) {
      yield* TestClock.adjust(Math.min(stepMs, ms - t))
      yield* settle
    }
  })

/** Advances until `done()` holds or `limitMs` passed; returns the virtual ms it took. */
export const until = (done: () => boolean, limitMs: number, stepMs = 10) =>
  Effect.gen(function*() {
    let waited = 0
    while (!done() && waited < limitMs) {
      yield* advance(stepMs, stepMs)
      waited += stepMs
    }
    return waited
  })

/** A fixed identity (same DID every run). */
export const identity = (n: number): Identity => Identity.fromSeed(new Uint8Array(32).fill(n + 1))

/** The SWIM knobs of these tests: `Swim.local` (100 ms probes, 400 ms minimum window). */
export const swimConfig: Swim.Config = Swim.local

export const now = Clock.currentTimeMillis

export interface Seen {
  readonly at: number
  readonly change: SwimProberActor.MemberChange
}

export interface Station {
  readonly n: number
  readonly identity: Identity
  readonly address: string
  readonly transport: TransportSupervisor.TransportTree
  readonly membership: MembershipSupervisor.Membership
  readonly store: ReturnType<typeof SwimProberActor.memoryStore>
  readonly seen: Array<Seen>
  readonly verdicts: Array<Seen>
  readonly scope: Scope.Closeable
  /** Members this station holds with `status`, by station number (`others` maps DIDs). */
  readonly holding: (status: Swim.Status) => Effect.Effect<ReadonlyArray<string>>
  readonly stop: Effect.Effect<void>
}

export interface StationOptions {
  /** Station numbers to join through. */
  readonly seeds?: ReadonlyArray<number>
  readonly store?: ReturnType<typeof SwimProberActor.memoryStore>
  readonly config?: MembershipSupervisor.Config
}

export const addressOf = (n: number): string => `quic://s${n}:4433`

/** Starts station `n` on `net`, in a scope of its own (closed by `stop` or with the test's). */
export const station = (net: SimNetwork.SimNetwork, n: number, options: StationOptions = {}) =>
  Effect.gen(function*() {
    const id = identity(n)
    const address = addressOf(n)
    // A child of the test's scope: stopped on its own by `stop`, else when the test ends.
    const scope = yield* Scope.fork(yield* Effect.scope)
    const store = options.store ?? SwimProberActor.memoryStore()
    const seen: Array<Seen> = []
    const verdicts: Array<Seen> = []
    const wiring: { transport: TransportSupervisor.TransportTree | undefined } = { transport: undefined }
    const seeds = (options.seeds ?? []).map((s) => `${addressOf(s)}#${identity(s).did}`)
    const membership = MembershipSupervisor.make({
      identity: id,
      transport: () => wiring.transport,
      store,
      addresses: Effect.succeed([address]),
      onVerdict: (verdict) => Effect.map(now, (at) => void verdicts.push({ at, change: verdict })),
      config: { swim: swimConfig, stationPowBits: 0, seed: n + 1, seeds, ...options.config }
    })
    membership.subscribe((change) => {
      // Listeners run inside the prober; the clock read is synchronous here.
      seen.push({ at: clockNow(), change })
    })
    const transport = yield* Scope.provide(
      Effect.gen(function*() {
        const t = yield* SimNetwork.transport(net, id, { listen: address })
        return yield* Effect.provideService(
          TransportSupervisor.start({
            connection: ConnectionActor.config("station", { stationPowBits: 0 }),
            sinks: { swim: membership.swimSink }
          }),
          Transport,
          t
        )
      }),
      scope
    )
    wiring.transport = transport
    // As the node does: the membership child under a root supervisor.
    yield* Scope.provide(Supervisor.start({ label: `root-${n}`, strategy: "rest_for_one", intensity: 3, periodMs: 10_000, children: [membership.child] }), scope)
    const holding = (status: Swim.Status) =>
      Effect.map(membership.view, (v) => (v?.members ?? []).filter((m) => m.status === status).map((m) => m.did))
    return {
      n,
      identity: id,
      address,
      transport,
      membership,
      store,
      seen,
      verdicts,
      scope,
      holding,
      stop: Scope.close(scope, Exit.void)
    } satisfies Station
  })

let clockNowImpl: () => number = () => 0

/** Captures the test clock so synchronous listeners can read it. */
export const captureClock = Effect.flatMap(Clock.clockWith(Effect.succeed), (clock) =>
  Effect.sync(() => void (clockNowImpl = () => clock.currentTimeMillisUnsafe())))

const clockNow = (): number => clockNowImpl()

/** `n` stations: station 0 is the seed of all others. */
export const mesh = (count: number, options: { readonly seed?: number; readonly config?: MembershipSupervisor.Config } = {}) =>
  Effect.gen(function*() {
    yield* captureClock
    const net = yield* SimNetwork.make({ seed: options.seed ?? 7 })
    const stations: Array<Station> = []
    for (let n = 0; n < count; n++) {
      stations.push(yield* station(net, n, { seeds: n === 0 ? [] : [0], ...(options.config === undefined ? {} : { config: options.config }) }))
    }
    return { net, stations }
  })

/** Whether every station in `group` holds every other one alive. */
export const converged = (group: ReadonlyArray<Station>) =>
  Effect.gen(function*() {
    for (const s of group) {
      const alive = new Set(yield* s.holding("alive"))
      for (const other of group) if (other !== s && !alive.has(other.identity.did)) return false
    }
    return true
  })

/** Advances until `converged(group)` or `limitMs`; returns the virtual ms it took. */
export const untilConverged = (group: ReadonlyArray<Station>, limitMs: number) =>
  Effect.gen(function*() {
    let waited = 0
    while (!(yield* converged(group)) && waited < limitMs) {
      yield* advance(50)
      waited += 50
    }
    return waited
  })

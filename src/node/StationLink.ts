/**
 * A client's link to its home station (PROTOCOL.md §1 "Client links", §3.6): an actor that keeps
 * one connection to the first reachable seed and fails over to the next when it is lost.
 *
 * The rule, with the §16 knobs:
 * 1. Seeds are tried in the order given; a seed that cannot be dialled (unreachable, pinned DID
 *    not proven, refused) is skipped for the next. After a whole pass fails, the link waits a
 *    jittered backoff (`reconnectMinMs` doubling to `reconnectMaxMs`) and starts a new pass.
 * 2. Once attached, the link watches the connection. The liveness ping of §3.6 notices a dead
 *    or wedged station within `appPingIntervalMs + appPingMaxMisses × appPingTimeoutMs` (4 s).
 *    The link counts the station lost as soon as the connection starts to close (`isEnding`),
 *    not when the transport has finished closing it: a QUIC close towards a dead peer waits out
 *    a draining period that grows with the retransmission backoff (seconds after traffic).
 * 3. On loss it redials the same station with backoff, each dial bounded by what is left of
 *    `failoverAfterMs`; when that runs out it moves on to the next candidate (wrapping around).
 *    With the defaults a killed station is replaced within about 5 s.
 * 4. The candidates are the seeds, then the alternative stations the current home offered in
 *    its `hello` (`peers`, §3.4), pinned to the DIDs it named (`offeredSeeds`). So a client given
 *    one seed still fails over when that station dies. Private and loopback addresses are
 *    offered candidates only when a seed is private or loopback too (`acceptPrivateAddrs: auto`,
 *    §3.2).
 * 5. A station whose `hello` lists served realms without the client's realm (`servedRealms`,
 *    §3.4) would answer `realm_refused` to every frame: the link reports `RealmRefused` and
 *    treats it like a failed dial, moving on to the next candidate. When a whole pass reaches
 *    only stations that refuse the realm, it attaches to the first of them anyway (so the
 *    application gets typed `realm_refused` errors rather than no link) and reports
 *    `NoStationServesRealm`, the warning that the seeds are wrong for this realm. While there,
 *    it dials the other candidates every `reconnectMaxMs` and moves to the first that serves
 *    the realm (`FailingOver`).
 *
 * The seed rotation is the pure function `nextSeed`; the actor owns the dials, timers and the
 * loop fiber. The link publishes what it sees in a `LinkView` (read by the node facade and
 * `macula status`) and as `LinkEvent`s.
 *
 * This is the `StationLink` of PROTOCOL.md §15 with one link (`clientLinkCount` 1). It runs in
 * the routing slot of the node's tree beside the routing subtree, whose pub/sub session and RPC
 * endpoint read the link's current connection and replay subscriptions and advertisements on
 * every new one.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import type * as ConnectionActor from "../../actors/ConnectionActor.ts"
import type * as TransportSupervisor from "../../supervisors/TransportSupervisor.ts"
import * as Actor from "../runtime/Actor.ts"
import * as ExitReason from "../runtime/ExitReason.ts"
import * as Did from "../identity/Did.ts"
import * as Realm from "../identity/Realm.ts"
import type * as Frame from "../wire/Frame.ts"
import * as Config from "./Config.ts"
import type { Seed } from "./Config.ts"

/**
 * The station a client is attached to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Home {
  /** The seed URL it was reached through. */
  readonly seed: string
  /** Its position in the seed list. */
  readonly index: number
  /** Its DID, proven by its certificate. */
  readonly did: string
  /** The live connection. */
  readonly handle: ConnectionActor.Handle
  /** Unix ms when the link came up. */
  readonly since: number
}

/**
 * What a link reports (logs, tests, `macula status`).
 *
 * @since 0.1.0
 * @category models
 */
export type LinkEvent =
  | { readonly _tag: "Dialing"; readonly seed: string; readonly index: number }
  | { readonly _tag: "DialFailed"; readonly seed: string; readonly index: number; readonly reason: string }
  | { readonly _tag: "Up"; readonly seed: string; readonly index: number; readonly did: string }
  | { readonly _tag: "Down"; readonly seed: string; readonly did: string; readonly code: string; readonly by: string }
  | { readonly _tag: "FailingOver"; readonly from: string; readonly to: string }
  | { readonly _tag: "Waiting"; readonly delayMs: number }
  /** The station reached does not serve the client's realm (its `hello` says so): the link moves on. */
  | { readonly _tag: "RealmRefused"; readonly seed: string; readonly index: number; readonly did: string }
  /**
   * A whole pass found no station serving the client's realm (`realm`, its name): the link attaches
   * to `seed`, which refuses it, and every frame there will be answered `realm_refused`.
   */
  | { readonly _tag: "NoStationServesRealm"; readonly realm: string; readonly seed: string; readonly did: string }

/**
 * The link's current state, shared with the node facade (plain fields, updated by the loop).
 *
 * @since 0.1.0
 * @category models
 */
export interface LinkView {
  home: Home | undefined
  /** Times the home station changed to another seed. */
  failovers: number
}

/**
 * Knobs and wiring of a link.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seeds: ReadonlyArray<Seed>
  /** The transport subtree's dialer, as currently running (`undefined` while it restarts). */
  readonly dialer: () => TransportSupervisor.Dialer | undefined
  /** @default 250 */
  readonly reconnectMinMs: number
  /** @default 30_000 */
  readonly reconnectMaxMs: number
  /** @default 1_000 */
  readonly failoverAfterMs: number
  /** One dial's limit. @default 10_000 (handshakeTimeoutMs) */
  readonly dialTimeoutMs: number
  readonly view: LinkView
  readonly onEvent?: (event: LinkEvent) => void
  /** The client's realm (name): stations whose `hello` does not list it are passed over (rule 5). */
  readonly realm?: string
}

/**
 * Whether a station whose `hello` lists `served` (realm ids; empty = every realm) serves
 * `realm` (hex id; `undefined`: any station will do). Pure.
 *
 * @since 0.1.0
 * @category predicates
 */
export const servesRealm = (served: ReadonlyArray<Uint8Array> | undefined, realm: string | undefined): boolean =>
  realm === undefined || served === undefined || served.length === 0 || served.some((r) => Realm.toHex(r) === realm)

/**
 * The seed after `index` in a list of `count`, wrapping around. Pure.
 *
 * @since 0.1.0
 * @category combinators
 */
export const nextSeed = (index: number, count: number): number => (count <= 0 ? 0 : (index + 1) % count)

/**
 * The fail-over candidates a home station offered (`hello.peers`) as pinned seeds, after the
 * configured `seeds`: each contact's `quic://` addresses with `#` its DID, skipping stations
 * already among the seeds (same pinned DID or same address) and, unless a seed is private or
 * loopback itself, private addresses. `current` (a station reached as an offered candidate)
 * stays in the list, so the rotation can come back to it. Pure.
 *
 * @since 0.1.0
 * @category combinators
 */
export const offeredSeeds = (
  peers: ReadonlyArray<Frame.Contact>,
  seeds: ReadonlyArray<Seed>,
  current?: Seed
): ReadonlyArray<Seed> => {
  const privateOk = seeds.some((s) => Config.isPrivateHost(s.address.host))
  const known = new Set(seeds.flatMap((s) => [s.did, `${s.address.host}:${s.address.port}`].filter((k) => k !== undefined)))
  const out: Array<Seed> = []
  if (current !== undefined && !seeds.some((s) => s.url === current.url)) {
    out.push(current)
    if (current.did !== undefined) known.add(current.did)
    known.add(`${current.address.host}:${current.address.port}`)
  }
  for (const peer of peers) {
    let did: string
    try {
      did = Did.fromPublicKey(peer.pk)
    } catch {
      continue // not a valid key: nothing to pin, nothing to dial
    }
    if (known.has(did)) continue
    for (const a of peer.a) {
      if (!a.startsWith("quic://")) continue
      const seed = Config.parseSeed(`${a.split("#")[0]}#${did}`)
      if (typeof seed === "string") continue
      if (known.has(`${seed.address.host}:${seed.address.port}`)) continue
      if (!privateOk && Config.isPrivateHost(seed.address.host)) continue
      out.push(seed)
      known.add(did)
      break
    }
  }
  return out
}

/**
 * The delay before redial `attempt` (1-based): `min(max, min × 2^(attempt−1))`, spread by ±20 %;
 * `random` is uniform in [0, 1). Pure.
 *
 * @since 0.1.0
 * @category combinators
 */
export const backoffMs = (minMs: number, maxMs: number, attempt: number, random: number): number => {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1))
  return Math.max(0, Math.round(base * (1 + 0.2 * (2 * random - 1))))
}

/**
 * Whether a connection's status says it is going away: closing (liveness lost, a `goodbye`, a
 * local close) or closed. The link fails over from this moment on. Pure.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isEnding = (status: Pick<ConnectionActor.Status, "phase">): boolean =>
  status.phase === "closing" || status.phase === "closed"

/**
 * How long the link still redials a lost station: what is left of `failoverAfterMs` since
 * `lostAt`, never negative (0: move on to the next candidate). Pure; time is an input.
 *
 * @since 0.1.0
 * @category combinators
 */
export const redialWindowLeftMs = (lostAt: number, now: number, failoverAfterMs: number): number =>
  Math.max(0, lostAt + failoverAfterMs - now)

/**
 * The link's messages: only a query; the loop does the work.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg = { readonly _tag: "Home"; readonly reply: Actor.Reply<Home | undefined> }

const describeError = (error: unknown): string => {
  if (error !== null && typeof error === "object") {
    const e = error as { _tag?: unknown; code?: unknown; reason?: unknown; message?: unknown }
    const parts = [e._tag, e.code ?? e.reason].filter((p) => typeof p === "string")
    if (parts.length > 0) return parts.join(" ")
    if (typeof e.message === "string") return e.message
  }
  return String(error)
}

/**
 * The connection's status once it starts to close (or is gone), whichever is first: the moment
 * the link counts its station lost.
 */
const ending = (handle: ConnectionActor.Handle): Effect.Effect<ConnectionActor.Status> =>
  Effect.raceFirst(
    handle.closed,
    Effect.callback<ConnectionActor.Status>((resume) => {
      const now = handle.status()
      if (isEnding(now)) return resume(Effect.succeed(now))
      const stop = handle.watch((status) => {
        if (isEnding(status)) resume(Effect.succeed(status))
      })
      return Effect.sync(stop)
    })
  )

type Dialled = { readonly ok: true; readonly handle: ConnectionActor.Handle } | { readonly ok: false; readonly reason: string }

/** Runs the link until interrupted. */
const run = (options: Options): Effect.Effect<never> => {
  // The first station of the current pass that refused the realm, kept open in case none
  // serves it (rule 5); closed when a serving one is found and when the link stops.
  let fallback: { readonly seed: Seed; readonly index: number; readonly handle: ConnectionActor.Handle } | undefined
  const dropFallback = Effect.suspend(() => {
    const f = fallback
    fallback = undefined
    return f === undefined ? Effect.void : f.handle.close()
  })
  const realmId = options.realm === undefined ? undefined : Realm.idHex(options.realm)
  return Effect.ensuring(Effect.gen(function*() {
    const { seeds, view } = options
    const emit = (event: LinkEvent) => options.onEvent?.(event)
    const dial = (seed: Seed, timeoutMs: number): Effect.Effect<Dialled> =>
      Effect.suspend(() => {
        const dialer = options.dialer()
        if (dialer === undefined) return Effect.succeed<Dialled>({ ok: false, reason: "transport restarting" })
        return Effect.map(
          Effect.timeoutOption(Effect.result(dialer.dial(seed.url)), Math.max(1, timeoutMs)),
          (r): Dialled =>
            Option.isNone(r)
              ? { ok: false, reason: `no answer within ${timeoutMs} ms` }
              : Result.isSuccess(r.value)
              ? { ok: true, handle: r.value.success }
              : { ok: false, reason: describeError(r.value.failure) }
        )
      })
    const jittered = (attempt: number) =>
      Effect.map(Random.next, (r) => backoffMs(options.reconnectMinMs, options.reconnectMaxMs, attempt, r))
    /**
     * Every `reconnectMaxMs`, dials the other candidates until one serves the realm (rule 5);
     * the refusing ones it reaches are closed again. Runs until it finds one (or is interrupted).
     */
    const findServing = (current: ConnectionActor.Handle, at: Seed, list: ReadonlyArray<Seed>) =>
      Effect.gen(function*() {
        for (;;) {
          yield* Effect.sleep(options.reconnectMaxMs)
          for (const candidate of list) {
            if (candidate.url === at.url) continue
            const found = yield* dial(candidate, options.dialTimeoutMs)
            if (!found.ok || found.handle === current) continue
            if (servesRealm(found.handle.status().peerHello?.realms, realmId)) {
              return { _tag: "Found", seed: candidate, handle: found.handle } as const
            }
            yield* found.handle.close()
          }
        }
      })

    let index = 0
    let failedInPass = 0
    let failedPasses = 0
    // The seeds, then what the latest home offered (rule 4).
    let candidates: ReadonlyArray<Seed> = seeds
    for (;;) {
      let seed = candidates[index] ?? seeds[0]!
      emit({ _tag: "Dialing", seed: seed.url, index })
      const dialled = yield* dial(seed, options.dialTimeoutMs)
      const refused = dialled.ok && !servesRealm(dialled.handle.status().peerHello?.realms, realmId)
      let chosen: ConnectionActor.Handle | undefined = dialled.ok && !refused ? dialled.handle : undefined
      if (chosen === undefined) {
        if (!dialled.ok) emit({ _tag: "DialFailed", seed: seed.url, index, reason: dialled.reason })
        else {
          emit({ _tag: "RealmRefused", seed: seed.url, index, did: dialled.handle.peerDid })
          if (fallback === undefined) fallback = { seed, index, handle: dialled.handle }
          else if (fallback.handle !== dialled.handle) yield* dialled.handle.close()
        }
        index = nextSeed(index, candidates.length)
        if (++failedInPass < candidates.length) continue
        failedInPass = 0
        const f = fallback
        fallback = undefined
        if (f === undefined || isEnding(f.handle.status())) {
          if (f !== undefined) yield* f.handle.close()
          const delayMs = yield* jittered(++failedPasses)
          emit({ _tag: "Waiting", delayMs })
          yield* Effect.sleep(delayMs)
          continue
        }
        // No station of the pass serves the realm: attach to the first that refused it.
        emit({ _tag: "NoStationServesRealm", realm: options.realm ?? "", seed: f.seed.url, did: f.handle.peerDid })
        seed = f.seed
        index = f.index
        chosen = f.handle
      } else yield* dropFallback
      failedInPass = 0
      failedPasses = 0
      // Attached to a station that refuses the realm (rule 5): a serving one is looked for meanwhile.
      let refusing = !servesRealm(chosen.status().peerHello?.realms, realmId)
      let handle: ConnectionActor.Handle | undefined = chosen
      while (handle !== undefined) {
        const current: ConnectionActor.Handle = handle
        candidates = [...seeds, ...offeredSeeds(current.status().peerHello?.peers ?? [], seeds, seed)]
        index = Math.max(0, candidates.findIndex((c) => c.url === seed.url))
        view.home = { seed: seed.url, index, did: current.peerDid, handle: current, since: yield* Clock.currentTimeMillis }
        emit({ _tag: "Up", seed: seed.url, index, did: current.peerDid })
        const lost = Effect.map(ending(current), (status) => ({ _tag: "Lost", status }) as const)
        const outcome = refusing ? yield* Effect.raceFirst(lost, findServing(current, seed, candidates)) : yield* lost
        if (outcome._tag === "Found") {
          view.home = undefined
          emit({ _tag: "FailingOver", from: seed.url, to: outcome.seed.url })
          view.failovers++
          yield* current.close()
          seed = outcome.seed
          handle = outcome.handle
          refusing = false
          continue
        }
        const status = outcome.status
        view.home = undefined
        emit({
          _tag: "Down",
          seed: seed.url,
          did: status.peerDid,
          code: status.ending?.code ?? "closed",
          by: status.ending?.by ?? "unknown"
        })
        // Redial the same station until failoverAfterMs has passed since the loss.
        const lostAt = yield* Clock.currentTimeMillis
        handle = undefined
        for (let attempt = 1; handle === undefined; attempt++) {
          const left = redialWindowLeftMs(lostAt, yield* Clock.currentTimeMillis, options.failoverAfterMs)
          if (left <= 0) break
          yield* Effect.sleep(Math.min(left, yield* jittered(attempt)))
          const remaining = redialWindowLeftMs(lostAt, yield* Clock.currentTimeMillis, options.failoverAfterMs)
          if (remaining <= 0) break
          const again = yield* dial(seed, Math.min(remaining, options.dialTimeoutMs))
          if (again.ok) handle = again.handle
        }
      }
      const next = nextSeed(index, candidates.length)
      emit({ _tag: "FailingOver", from: seed.url, to: candidates[next]!.url })
      view.failovers++
      index = next
    }
  }), dropFallback)
}

/**
 * The link's behavior. Its loop runs in the actor's scope; a defect in it crashes the actor so
 * its supervisor restarts the link from the first seed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Options> =>
  Actor.make<Msg, Options>({
    label: "station-link",
    init: (self) =>
      Effect.gen(function*() {
        if (options.seeds.length === 0) return yield* Effect.die(new Error("a station link needs at least one seed"))
        yield* Effect.forkScoped(
          Effect.onExit(run(options), (exit) =>
            Exit.isFailure(exit) && !Exit.hasInterrupts(exit)
              ? self.self.exit(ExitReason.ExitReason.Failure({ cause: exit.cause }))
              : Effect.void)
        )
        return options
      }),
    receive: (message, state) =>
      Effect.sync(() => {
        message.reply.succeed(state.view.home)
        return state
      }),
    terminate: (_reason, state) =>
      Effect.sync(() => {
        state.view.home = undefined
      })
  })

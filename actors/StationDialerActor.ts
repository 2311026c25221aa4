/**
 * The station dialer: keeps this station linked to the others (PROTOCOL.md §11.5, §15.1).
 *
 * - **Seeds.** At start it dials every configured seed (all at once, one attempt each per
 *   round) and hands those that answered to the prober as a `Join` (a `swim.sync` with each).
 *   Rounds repeat, with jittered exponential backoff (`backoffMinMs` → `backoffMaxMs`, the §16
 *   `stationDialBackoff*` knobs), until some member has turned up alive.
 * - **Members.** Each `MemberAlive` with an address starts a link to that member, unless one
 *   runs or `maxLinks` are up: dial (which reuses a ready connection in either direction),
 *   wait while the connection lives, redial with backoff when it ends. `MemberDead` and
 *   `MemberLeft` stop the link (the prober closes the connection itself).
 * - **Collapse.** When the last member it knew alive (or suspect) is gone, it runs the seed
 *   rounds again: a station cut off from everyone rejoins through its seeds instead of waiting
 *   for someone to find it, which also heals partitions faster than push-pull to tombstones.
 *
 * It owns only fibers; connections belong to the transport and are temporary there, so this
 * actor is the owner that redials (§15.1). A restart forgets the links and rebuilds them from
 * `members` (the prober's table) and the seeds.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Actor from "../src/runtime/Actor.ts"
import * as Backoff from "../src/runtime/Backoff.ts"

/**
 * What the dialer needs of a connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Link {
  readonly peerDid: string
  /** Completes when the connection is gone. */
  readonly closed: Effect.Effect<unknown>
}

/**
 * A membership change, as far as the dialer reads it (the prober's `MemberChange` fits).
 *
 * @since 0.1.0
 * @category models
 */
export interface Change {
  readonly _tag: "MemberAlive" | "MemberSuspect" | "MemberDead" | "MemberLeft"
  readonly did: string
  readonly addrs?: ReadonlyArray<string>
}

/**
 * What the dialer is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** This station's DID (never dialled). */
  readonly selfDid: string
  /** Seed addresses (`quic://host:port`, optionally `#did:key:…`). */
  readonly seeds: ReadonlyArray<string>
  /** Our own addresses: a seed equal to one of them is skipped. @default [] */
  readonly selfAddresses?: ReadonlyArray<string>
  /** One dial: the ready connection to the peer, or a new one once both hellos are done. */
  readonly dial: (address: string, options: { readonly expectedDid?: string }) => Effect.Effect<Link, unknown>
  /** Membership changes; returns the unsubscribe. */
  readonly subscribe: (listener: (change: Change) => void) => () => void
  /** Hands stations to the prober for a `swim.sync` (`Join`). */
  readonly join: (dids: ReadonlyArray<string>) => Effect.Effect<void>
  /** The members known alive at start, with their addresses (after a restart). @default none */
  readonly members?: Effect.Effect<ReadonlyArray<{ readonly did: string; readonly addrs: ReadonlyArray<string> }>>
  /**
   * Most member links kept at once. §11.5 keeps a connection to every alive member; past this
   * bound the prober reaches the others only when they dial us, else through indirect probes.
   * @default 1_024
   */
  readonly maxLinks?: number
  /** First redial delay (stationDialBackoffMinMs). @default 1_000 */
  readonly backoffMinMs?: number
  /** Largest redial delay (stationDialBackoffMaxMs). @default 60_000 */
  readonly backoffMaxMs?: number
  /** A link that stayed up this long redials from `backoffMinMs` again. @default 10_000 */
  readonly healthyAfterMs?: number
}

/**
 * The dialer's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Change"; readonly change: Change }
  | { readonly _tag: "SeedsDone" }
  | { readonly _tag: "Linked"; readonly reply: Actor.Reply<ReadonlyArray<string>> }

interface State {
  readonly links: Map<string, { readonly address: string; readonly fiber: Fiber.Fiber<void, never> }>
  /** Members alive or suspect, by DID. */
  readonly alive: Set<string>
  seeding: Fiber.Fiber<void, never> | undefined
  readonly scope: Scope.Scope
}

const pinned = (address: string): string | undefined => /#(did:[^#\s]+)$/.exec(address)?.[1]
const bare = (address: string): string => address.replace(/#.*$/, "")

/**
 * The dialer's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, State> => {
  const backoff: Backoff.Backoff = {
    initialMs: options.backoffMinMs ?? 1_000,
    maxMs: options.backoffMaxMs ?? 60_000,
    factor: 2,
    jitter: 0.2,
    resetAfterMs: Number.MAX_SAFE_INTEGER
  }
  const delay = (attempt: number) =>
    Effect.map(Random.next, (r) => Backoff.next(backoff, { attempts: Math.max(0, attempt - 1), startedAt: 0 }, 0, r)[0])
  const selfAddresses = new Set((options.selfAddresses ?? []).map(bare))
  const seeds = options.seeds.filter((s) => pinned(s) !== options.selfDid && !selfAddresses.has(bare(s)))
  const healthyAfterMs = options.healthyAfterMs ?? 10_000

  /**
   * Seed rounds while no member is known alive: dial every seed, join those that answered,
   * wait a backoff, look again. A join can be lost (the connection was closing, the sync went
   * unanswered), so only a member turning up alive ends the rounds.
   */
  const seedRounds = (state: State, self: Actor.ActorRef<Msg>): Effect.Effect<void> =>
    Effect.gen(function*() {
      for (let attempt = 1;; attempt++) {
        const answered = yield* Effect.forEach(seeds, (seed) => {
          const did = pinned(seed)
          return Effect.map(
            Effect.result(options.dial(seed, did === undefined ? {} : { expectedDid: did })),
            (r) => Result.isSuccess(r) && r.success.peerDid !== options.selfDid ? [r.success.peerDid] : []
          )
        }, { concurrency: "unbounded" })
        const dids = answered.flat()
        if (dids.length > 0) yield* options.join(dids)
        yield* Effect.sleep(yield* delay(attempt))
        if (state.alive.size > 0) break
      }
      Actor.tellUrgent(self, { _tag: "SeedsDone" })
    })

  /** Keeps one member link up until interrupted. */
  const maintain = (did: string, address: string): Effect.Effect<void> =>
    Effect.gen(function*() {
      let failures = 0
      while (true) {
        const result = yield* Effect.result(options.dial(address, { expectedDid: did }))
        if (Result.isSuccess(result)) {
          const upAt = yield* Clock.currentTimeMillis
          yield* result.success.closed
          if ((yield* Clock.currentTimeMillis) - upAt >= healthyAfterMs) failures = 0
        }
        failures++
        yield* Effect.sleep(yield* delay(failures))
      }
    })

  const startSeeding = (state: State, self: Actor.ActorRef<Msg>): Effect.Effect<void> =>
    Effect.gen(function*() {
      if (state.seeding !== undefined || seeds.length === 0) return
      state.seeding = yield* Effect.forkIn(seedRounds(state, self), state.scope, { startImmediately: true })
    })

  const link = (state: State, did: string, addrs: ReadonlyArray<string>): Effect.Effect<void> =>
    Effect.gen(function*() {
      const address = addrs[0]
      if (did === options.selfDid || address === undefined) return
      const current = state.links.get(did)
      if (current !== undefined) {
        if (current.address === address) return
        state.links.delete(did)
        yield* Fiber.interrupt(current.fiber)
      }
      if (state.links.size >= (options.maxLinks ?? 1_024)) return
      const fiber = yield* Effect.forkIn(maintain(did, address), state.scope, { startImmediately: true })
      state.links.set(did, { address, fiber })
    })

  const unlink = (state: State, did: string): Effect.Effect<void> => {
    const current = state.links.get(did)
    if (current === undefined) return Effect.void
    state.links.delete(did)
    return Fiber.interrupt(current.fiber)
  }

  return Actor.make<Msg, State>({
    label: "station-dialer",
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const state: State = { links: new Map(), alive: new Set(), seeding: undefined, scope: yield* Effect.scope }
        // Changes are few and none may be lost (a missed MemberAlive is a missing link): the
        // priority lane, which no overflow policy touches.
        const unsubscribe = options.subscribe((change) => void Actor.tellUrgent(ctx.self, { _tag: "Change", change }))
        yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))
        for (const member of options.members === undefined ? [] : yield* options.members) {
          state.alive.add(member.did)
          yield* link(state, member.did, member.addrs)
        }
        yield* startSeeding(state, ctx.self)
        return state
      }),
    receive: (message, state, ctx) =>
      Effect.gen(function*() {
        switch (message._tag) {
          case "Change": {
            const { change } = message
            if (change.did === options.selfDid) break
            switch (change._tag) {
              case "MemberAlive":
                state.alive.add(change.did)
                yield* link(state, change.did, change.addrs ?? [])
                break
              case "MemberSuspect":
                state.alive.add(change.did)
                break
              case "MemberDead":
              case "MemberLeft": {
                const had = state.alive.size
                state.alive.delete(change.did)
                yield* unlink(state, change.did)
                // Collapse: the last member we knew is gone; rejoin through the seeds.
                if (had > 0 && state.alive.size === 0) yield* startSeeding(state, ctx.self)
                break
              }
            }
            break
          }
          case "SeedsDone":
            state.seeding = undefined
            // Collapsed again between the last look and this message.
            if (state.alive.size === 0) yield* startSeeding(state, ctx.self)
            break
          case "Linked":
            message.reply.succeed([...state.links.keys()])
            break
        }
        return state
      })
  })
}

/**
 * The DIDs a running dialer keeps links to (for tests and status).
 *
 * @since 0.1.0
 * @category getters
 */
export const linked = (ref: Actor.ActorRef<Msg>): Effect.Effect<ReadonlyArray<string>> =>
  Effect.orElseSucceed(ref.call<ReadonlyArray<string>>((reply) => ({ _tag: "Linked", reply })), () => [])

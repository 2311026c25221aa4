/**
 * The station's relay of content sessions (PROTOCOL.md §12.3, `to`): the driver of the pure
 * `Relay` core (`src/protocols/content/Relay.ts`).
 *
 * What it owns: the far sessions it opened (one per relayed session), one watcher fiber per
 * connection involved, and the idle sweep. What it does:
 * - `up(inbound)` takes a frame of a session a peer opened with us when that session is relayed
 *   (its first frame named another node in `to`) and answers `false` for every other frame, which
 *   the node then hands to the serving side as before;
 * - `down(inbound)` takes the far end's frames on the sessions it opened and sends them back up;
 * - the core's `Resolve` goes to the injected `resolve` port (attached clients, the target's
 *   endpoint record), `Open` opens a content session on the next hop's connection.
 *
 * Nothing is stored: each frame is sent on before the next one of its stream is read (the sinks
 * wait), so the far end's pace reaches the fetcher through QUIC flow control. Frames toward one
 * far session leave in the order they came (one chain per session).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Handle, Inbound, Session } from "../src/platform/transport/ConnectionHandle.ts"
import * as Relay from "../src/protocols/content/Relay.ts"
import type { Frame } from "../src/wire/Frame.ts"

/**
 * What the relay needs from the node.
 *
 * @since 0.1.0
 * @category ports
 */
export interface Deps {
  readonly config: Relay.Config
  /** A ready connection to `did`, if there is one. */
  readonly handle: (did: string) => Effect.Effect<Handle | undefined>
  /** Stations `did` is attached to by its endpoint record (empty when unknown). */
  readonly stationsOf: (did: string) => Effect.Effect<ReadonlyArray<string>>
  /** The DID a `to` field names. */
  readonly didOf: (to: Uint8Array) => string | undefined
}

/**
 * A running relay.
 *
 * @since 0.1.0
 * @category models
 */
export interface ContentRelay {
  /** Frames of sessions peers opened: `true` when relayed (taken), `false` for the serving side. */
  readonly up: (inbound: Inbound) => Effect.Effect<boolean>
  /** Frames on sessions this node opened: `true` when they belong to a relayed session. */
  readonly down: (inbound: Inbound) => Effect.Effect<boolean>
  /** What the relay counted and how many sessions it carries now. */
  readonly stats: () => Relay.Counters & { readonly sessions: number }
}

interface Far {
  readonly handle: Handle
  readonly session: Session
  /** Completes when the latest send toward the far end is done: the next one waits for it. */
  last: Deferred.Deferred<void>
}

/**
 * Starts a relay in `scope` (its watchers and idle sweep live there).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (deps: Deps, scope: Scope.Scope): Effect.Effect<ContentRelay> =>
  Effect.gen(function*() {
    const step = Relay.make(deps.config)
    const state = Relay.initial()
    const replies = new Map<string, (frame: Frame) => Effect.Effect<void, unknown>>()
    const fars = new Map<string, Far>()
    /** Far session (connection/stream) → upstream key. */
    const farIndex = new Map<string, string>()
    const watched = new Set<string>()
    const refused = new Set<string>()
    const fork = (effect: Effect.Effect<void>) => Effect.asVoid(Effect.forkIn(effect, scope, { startImmediately: true }))

    /**
     * Steps the core and carries out its commands. Sends toward a far end are put in that far
     * session's chain here, synchronously with the step, so a frame never overtakes an earlier
     * one of the same session even when several fibers feed the core.
     */
    const apply = (event: Relay.Event): Effect.Effect<void> => {
      const [, commands] = step(state, event)
      return run(commands.map((c) => (c._tag === "ToDown" ? chained(c) : c)))
    }
    const feed = (event: (now: number) => Relay.Event): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => apply(event(now)))

    const chained = (command: Relay.Command & { readonly _tag: "ToDown" }): Effect.Effect<void> => {
      const far = fars.get(command.key)
      if (far === undefined) return Effect.void
      const key = command.key
      const previous = far.last
      const mine = Deferred.makeUnsafe<void>()
      far.last = mine
      return Effect.andThen(Deferred.await(previous), Effect.result(far.session.send(command.frame))).pipe(
        Effect.ensuring(Deferred.succeed(mine, undefined)),
        Effect.flatMap((result) =>
          result._tag === "Failure"
            ? feed((now) => Relay.Event.DownFailed({ now, key, reason: `far session: ${result.failure.reason}` }))
            : Effect.void)
      )
    }

    /** Ends what the driver keeps for `key`; the session's later frames are dropped, not served. */
    const forget = (key: string): void => {
      refused.add(key)
      if (refused.size > 4_096) refused.delete(refused.values().next().value!)
      const far = fars.get(key)
      fars.delete(key)
      replies.delete(key)
      if (far !== undefined) farIndex.delete(`${far.handle.connectionId}/${far.session.stream}`)
    }

    /** Carries out one step's commands; sends toward one far end are chained in order. */
    const run = (commands: ReadonlyArray<Relay.Command | Effect.Effect<void>>): Effect.Effect<void> =>
      Effect.forEach(commands, (command) => {
        if (Effect.isEffect(command)) return command
        switch (command._tag) {
          case "Local":
            return Effect.void
          case "Resolve":
            return fork(Effect.gen(function*() {
              const target = yield* deps.handle(command.target)
              const attached = target !== undefined && target.status().peerRole === "client"
              const stations: Array<string> = []
              if (!attached && command.stationsAllowed) {
                for (const st of yield* deps.stationsOf(command.target)) {
                  if ((yield* deps.handle(st)) !== undefined) stations.push(st)
                }
              }
              yield* feed((now) => Relay.Event.Resolved({ now, key: command.key, reach: { attached, stations } }))
            }))
          case "Open":
            return fork(Effect.gen(function*() {
              const key = command.key
              const handle = yield* deps.handle(command.via)
              const opened = handle?.openSession === undefined ? undefined : yield* Effect.result(handle.openSession())
              if (handle === undefined || opened === undefined || opened._tag === "Failure") {
                return yield* feed((now) => Relay.Event.DownFailed({ now, key, reason: `cannot open a session to ${command.via}` }))
              }
              if (!state.sessions.has(key)) return yield* opened.success.end
              const ready = Deferred.makeUnsafe<void>()
              Deferred.doneUnsafe(ready, Effect.void)
              fars.set(key, { handle, session: opened.success, last: ready })
              farIndex.set(`${handle.connectionId}/${opened.success.stream}`, key)
              yield* watch(handle)
              yield* feed((now) => Relay.Event.DownOpened({ now, key }))
            }))
          case "ToDown":
            return chained(command)
          case "ToUp": {
            const reply = replies.get(command.key)
            return reply === undefined ? Effect.void : Effect.ignore(reply(command.frame))
          }
          case "EndDown": {
            const far = fars.get(command.key)
            forget(command.key)
            return far === undefined ? Effect.void : Effect.ignore(far.session.end)
          }
        }
      }, { discard: true })

    /** A connection's loss ends the relayed sessions on it, from either side. */
    const watch = (handle: Handle): Effect.Effect<void> => {
      if (watched.has(handle.connectionId)) return Effect.void
      watched.add(handle.connectionId)
      return fork(Effect.andThen(handle.closed, Effect.gen(function*() {
        watched.delete(handle.connectionId)
        yield* feed((now) => Relay.Event.UpLost({ now, keys: Relay.keysOf(state, handle.connectionId) }))
        for (const [key, far] of fars) {
          if (far.handle.connectionId === handle.connectionId) {
            yield* feed((now) => Relay.Event.DownFailed({ now, key, reason: "the far end's connection was lost" }))
          }
        }
      })))
    }

    // The idle sweep: a session has no closing frame, so silence ends it.
    yield* fork(Effect.forever(Effect.andThen(
      Effect.sleep(Math.max(1_000, Math.floor(deps.config.idleMs / 4))),
      feed((now) => Relay.Event.Tick({ now }))
    )))

    const up = (inbound: Inbound): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        const key = `${inbound.connectionId}/${inbound.stream}`
        // The rest of a refused or ended session is dropped, not served.
        if (refused.has(key)) return true
        const known = state.sessions.has(key)
        const to = (inbound.frame as { readonly to?: Uint8Array }).to
        if (!known && to === undefined) return false
        const target = to === undefined ? undefined : deps.didOf(to)
        if (!known && (target === undefined || target === deps.config.self)) return false
        let peerRole: "client" | "station" = "station"
        if (!known) {
          const upstream = yield* deps.handle(inbound.peerDid)
          peerRole = upstream?.status().peerRole === "client" ? "client" : "station"
          replies.set(key, inbound.reply)
          if (upstream !== undefined) yield* watch(upstream)
        }
        const now = yield* Clock.currentTimeMillis
        yield* apply(Relay.Event.UpFrame({ now, key, peer: inbound.peerDid, peerRole, frame: inbound.frame, to: known ? undefined : target }))
        // Refused (or failed at once): remembered, so its later frames are not served instead.
        if (!state.sessions.has(key)) forget(key)
        return true
      })

    const down = (inbound: Inbound): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        const key = farIndex.get(`${inbound.connectionId}/${inbound.stream}`)
        if (key === undefined) return Effect.succeed(false)
        return Effect.as(feed((now) => Relay.Event.DownFrame({ now, key, frame: inbound.frame })), true)
      })

    return {
      up,
      down,
      stats: () => ({ ...state.counters, sessions: state.sessions.size })
    }
  })

/**
 * Announces the content this node provides and renews each announcement before its DHT record
 * expires (PROTOCOL.md §12.5): one actor per node under the content subtree.
 *
 * Each provided MCID gets one fiber: announce through the DHT port, then sleep
 * `reannounceMs` (`republishFraction` × `contentProviderTtlMs`, half an hour by default) and
 * announce again, for as long as the content is provided. A failed announcement (no DHT peers
 * yet, a lost quorum) is retried after `retryMs`. `Provide` answers once the first
 * announcement succeeded (or failed), which is when `putContent` resolves.
 *
 * **Evicted content is not announced.** Before each announcement the fiber asks the store
 * whether it still holds the content whole (`renewal`, pure): a station's store evicts
 * unpinned content under its quota (an upload past `stationUploadPinMs`), and once any block
 * of it is gone the fiber stops, so the record is not renewed and expires within
 * `contentProviderTtlMs`. Asking the store before each renewal, rather than hearing of each
 * eviction, needs no channel from the store to this actor and cannot miss an eviction that
 * happened while the actor was restarting. A store that fails to answer is not proof of an
 * eviction: the announcement goes ahead.
 *
 * Restart: the actor starts from the store's pins in force, whose complete roots are the
 * content the node keeps, so nothing needs to be persisted here. Content held but no longer
 * pinned is not announced again after a restart; its record expires.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Mcid from "../src/content/Mcid.ts"
import type { ContentStoreShape } from "../src/platform/content/ContentStore.ts"
import * as Actor from "../src/runtime/Actor.ts"

/**
 * What the actor is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Announces (stores our `content-provider` record for) one MCID. */
  readonly announce: (mcid: Mcid.Mcid) => Effect.Effect<void, unknown>
  readonly store: ContentStoreShape
  /** Renewal period. Unit: ms. @default 1_800_000 (0.5 × contentProviderTtlMs) */
  readonly reannounceMs?: number
  /** Wait after a failed announcement. Unit: ms. @default 30_000 */
  readonly retryMs?: number
}

/**
 * An announcement that did not reach the DHT.
 *
 * @since 0.1.0
 * @category models
 */
export interface AnnounceFailed {
  readonly _tag: "AnnounceFailed"
  readonly mcid: string
  readonly cause: unknown
}

/**
 * Counters for tests and `stats`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly provided: number
  readonly announcements: number
  readonly failures: number
  /** Renewals stopped because the store no longer held the content whole. */
  readonly dropped: number
  readonly lastAnnouncedAt: number | undefined
}

/**
 * What the store says of provided content when its announcement is due: held whole, not
 * (evicted, in part or whole), or no answer (an I/O failure).
 *
 * @since 0.1.0
 * @category models
 */
export type Holding = "complete" | "incomplete" | "unknown"

/**
 * Whether an announcement that is due goes out (`announce`) or the content stops being
 * provided (`drop`): only content the store no longer holds whole is dropped; an unknown
 * answer keeps the announcement, as a failed read does not mean the blocks are gone. Pure.
 *
 * @since 0.1.0
 * @category getters
 */
export const renewal = (holding: Holding): "announce" | "drop" => (holding === "incomplete" ? "drop" : "announce")

/**
 * The actor's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Provide"; readonly mcid: Mcid.Mcid; readonly reply: Actor.Reply<void, AnnounceFailed> }
  | { readonly _tag: "Withdraw"; readonly mcid: Mcid.Mcid }
  | { readonly _tag: "Stats"; readonly reply: Actor.Reply<Stats> }

/** One provided MCID's renewal loop; the map entry is the loop's identity. */
interface Loop {
  fiber: Fiber.Fiber<void> | undefined
}

class Driver {
  readonly loops = new Map<string, Loop>()
  announcements = 0
  failures = 0
  dropped = 0
  lastAnnouncedAt: number | undefined
  scope!: Scope.Scope
  constructor(readonly options: Options) {}

  /** Starts the renewal loop of `mcid` (once); `first` settles with the first attempt. */
  provide(mcid: Mcid.Mcid, first: (outcome: unknown) => void): Effect.Effect<void> {
    const key = Mcid.key(mcid)
    if (this.loops.has(key)) return Effect.sync(() => first(undefined))
    const driver = this
    const every = this.options.reannounceMs ?? 1_800_000
    const retry = this.options.retryMs ?? 30_000
    const loop: Loop = { fiber: undefined }
    return Effect.gen(function*() {
      driver.loops.set(key, loop)
      loop.fiber = yield* Effect.forkIn(Effect.gen(function*() {
        let reported = false
        while (true) {
          const progress = yield* Effect.result(driver.options.store.progress(mcid))
          const holding: Holding = progress._tag === "Failure" ? "unknown" : progress.success.complete ? "complete" : "incomplete"
          if (renewal(holding) === "drop") {
            // Evicted: forget it (unless a later Provide already replaced this loop).
            if (driver.loops.get(key) === loop) driver.loops.delete(key)
            driver.dropped++
            if (!reported) first("not held")
            return
          }
          const outcome = yield* Effect.result(driver.options.announce(mcid))
          const ok = outcome._tag === "Success"
          if (ok) {
            driver.announcements++
            driver.lastAnnouncedAt = yield* Clock.currentTimeMillis
          } else driver.failures++
          if (!reported) {
            reported = true
            first(ok ? undefined : outcome.failure ?? "announce failed")
          }
          yield* Effect.sleep(ok ? every : retry)
        }
      }), driver.scope, { startImmediately: true })
    })
  }
}

/**
 * The actor's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> =>
  Actor.make<Msg, Driver>({
    label: "content-announcer",
    init: () =>
      Effect.gen(function*() {
        const driver = new Driver(options)
        driver.scope = yield* Effect.scope
        // What is pinned and complete is what we provide: renew it after a restart too.
        for (const mcid of yield* options.store.pins) {
          const progress = yield* Effect.orElseSucceed(options.store.progress(mcid), () => undefined)
          if (progress?.complete === true) yield* driver.provide(mcid, () => {})
        }
        return driver
      }),
    receive: (message, driver) =>
      Effect.gen(function*() {
        switch (message._tag) {
          case "Provide": {
            const reply = message.reply
            const key = Mcid.key(message.mcid)
            // The answer comes from the loop's fiber, so a slow DHT never blocks the mailbox.
            yield* driver.provide(message.mcid, (failure) => {
              if (failure === undefined) reply.succeed(undefined)
              else reply.fail({ _tag: "AnnounceFailed", mcid: key, cause: failure })
            })
            break
          }
          case "Withdraw": {
            const key = Mcid.key(message.mcid)
            const fiber = driver.loops.get(key)?.fiber
            driver.loops.delete(key)
            if (fiber !== undefined) yield* Fiber.interrupt(fiber)
            break
          }
          case "Stats":
            message.reply.succeed({
              provided: driver.loops.size,
              announcements: driver.announcements,
              failures: driver.failures,
              dropped: driver.dropped,
              lastAnnouncedAt: driver.lastAnnouncedAt
            })
            break
        }
        return driver
      })
  })

/**
 * Spawns the announcer in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<Actor.ActorRef<Msg>, never, Scope.Scope> =>
  Effect.orDie(Actor.spawn(behavior(options)))

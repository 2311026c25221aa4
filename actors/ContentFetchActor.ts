/**
 * One download of one MCID from several providers (PROTOCOL.md §12.4): the driver of the
 * pure `Fetch` core (`src/protocols/content/Fetch.ts`), one actor per transfer under the
 * content subtree's `fetches` supervisor (`simple_one_for_one`, `transient`).
 *
 * What it owns: one content session per provider (opened on the provider's connection, which
 * the injected transport port finds or dials), a sender fiber per session, the core's timers,
 * and the store writes in flight. What it does:
 * - `init` pins the root (so a collection cannot take the chunks while it runs: for good, or
 *   with `retainMs` until that long after the last stored chunk, renewed as chunks arrive and
 *   once more on completion, so a station's uploads become evictable later), asks the store
 *   where to start (`resumePoint`: nothing, the manifest and some chunks, or everything) and
 *   starts the core with the hints it was given. A fetch restarted after a crash therefore
 *   resumes from the chunks already verified on disk and asks nobody for them again.
 * - `NeedProviders` asks the DHT port (`findProviders`), leaving out blacklisted providers,
 *   and retries after `providerRetryMs`; after `providerQueries` empty answers in a row, with
 *   no provider in use and none waiting to be taken back, the fetch gives up with `NoProviders`.
 * - A provider's session that fails (its connection closes, a send fails, the relay answers
 *   `err`) is reported once as `ProviderLost` and forgotten: the core takes the provider back
 *   after a backoff, and its next frame opens a new session (a new dial if need be). Events of
 *   the old session are not taken for the new one's. A provider lost too often in a row gets
 *   one more try each time the DHT names it again, without counting as a new provider.
 * - Members-only providers (PROTOCOL.md §13.0, §13.3 `/content/get`): the first frame of each
 *   session carries the `au` of `Options.authority`, if any. A provider that answers `err
 *   unauthorized` is taken as one without the content (dropped from this fetch, not retried);
 *   a fetch that runs out of providers after such refusals fails `Unauthorized`, not
 *   `NoProviders`.
 * - Blocks are verified by the core before `StoreBlock` (BLAKE3 and length), and written
 *   with `verified: true` so the store does not hash them a second time; its write is
 *   atomic. Each write completes as `Stored`, `StoreRefused` when the store's quota refused
 *   it (the core then ends the fetch: the actor only carries out its `Failed`), or
 *   `StoreFailed` on any other failure or defect, so the core's store backlog always hears back.
 * - `Pause` / `Resume` / `Cancel` go to the core, which sends `content.cancel` for every want
 *   outstanding, so the providers see them. Cancel unpins the root and leaves the verified
 *   chunks to the next collection.
 *
 * Reports (`Options.report`): `Progress` (bytes, chunks, rate, providers in use), then exactly
 * one of `Completed`, `Cancelled`, `Failed`. The actor stops `Normal` after any of them, so the
 * transient child is not restarted; only a crash restarts it.
 *
 * Ordering: frames to one provider leave in the order the core emitted them (one sender fiber
 * per session). Shutdown: the sessions are ended; nothing else is needed, as the progress is on
 * disk.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Mcid from "../src/content/Mcid.ts"
import type { ContentStoreShape } from "../src/platform/content/ContentStore.ts"
import { type ContentStoreError, QuotaExceeded } from "../src/platform/content/Errors.ts"
import type { Config } from "../src/protocols/content/Config.ts"
import * as Fetch from "../src/protocols/content/Fetch.ts"
import type { Handle, Session } from "../src/platform/transport/ConnectionHandle.ts"
import * as Actor from "../src/runtime/Actor.ts"
import * as ExitReason from "../src/runtime/ExitReason.ts"
import type { Authority, ContentHave, Frame } from "../src/wire/Frame.ts"

/**
 * A provider as the DHT names it: its DID and, when known, an address to dial.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProviderRef {
  readonly did: string
  readonly address?: string
}

/**
 * What a fetch needs of the DHT.
 *
 * @since 0.1.0
 * @category ports
 */
export interface DhtPort {
  /** Valid `content-provider` records for `mcid` (§12.4 step 2), as providers. */
  readonly findProviders: (mcid: Mcid.Mcid) => Effect.Effect<ReadonlyArray<ProviderRef>, unknown>
  /** Stores (or renews) our own `content-provider` record for `mcid` (§12.5). */
  readonly announce: (mcid: Mcid.Mcid) => Effect.Effect<void, unknown>
}

/**
 * What a fetch needs of the transport: a ready connection to a provider.
 *
 * @since 0.1.0
 * @category ports
 */
export interface TransportPort {
  /** The ready connection to `provider`: an existing one, or a dial. */
  readonly connect: (provider: ProviderRef) => Effect.Effect<Handle, unknown>
}

/**
 * Where the peers' frames on a session this node opened are delivered: the content subtree
 * keeps one table for the node-wide `content` sink, keyed by connection and stream.
 *
 * @since 0.1.0
 * @category ports
 */
export interface SessionRoutes {
  /** Routes frames of (`connectionId`, `stream`) to `deliver` until the returned function is called. */
  readonly add: (connectionId: string, stream: number, deliver: (frame: Frame) => void) => () => void
}

/**
 * Progress of one transfer, for `onProgress`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly mcid: string
  readonly storedBytes: number
  /** Unknown until the manifest is in (or for a raw block before it arrives). */
  readonly totalBytes: number | undefined
  readonly storedChunks: number
  readonly totalChunks: number
  /** Bytes stored by this run of the fetch per second of its running time. */
  readonly bytesPerSecond: number
  /** Providers in use now. */
  readonly providers: number
  /** Chunks found on disk when this run started (a resume). */
  readonly resumedChunks: number
}

/**
 * What the actor reports to whoever waits on the transfer.
 *
 * @since 0.1.0
 * @category models
 */
export type Report =
  | { readonly _tag: "Progress"; readonly progress: Progress }
  | { readonly _tag: "Completed"; readonly mcid: string }
  | { readonly _tag: "Cancelled"; readonly mcid: string }
  | {
    readonly _tag: "Failed"
    readonly mcid: string
    /**
     * `Unauthorized`: no provider was found that did not refuse this node `err unauthorized`;
     * `detail` is then the UCAN error names they gave, comma-separated.
     */
    readonly reason: "NoProviders" | "StoreFailed" | "Unauthorized"
    readonly detail: string
  }

/**
 * Counters of one run, for tests and `stats`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counters {
  readonly sessionsOpened: number
  readonly sessionFailures: number
  readonly providerQueries: number
  readonly blocksStored: number
  readonly penalties: number
}

/**
 * What the actor is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly mcid: Mcid.Mcid
  readonly store: ContentStoreShape
  /** The core's knobs and hooks. */
  readonly config: Config
  readonly dht: DhtPort
  readonly transport: TransportPort
  readonly routes: SessionRoutes
  /** Providers blacklisted by any fetch (§12.4 step 6): DID → until (ms). Shared across fetches. */
  readonly blacklist: Map<string, number>
  /** Providers to try before asking the DHT (home station, a pusher). */
  readonly hints?: ReadonlyArray<ProviderRef>
  /** Start paused (a fetch paused before a restart stays paused). @default false */
  readonly paused?: boolean
  /** Empty DHT answers in a row before giving up. @default 5 */
  readonly providerQueries?: number
  /** Wait between DHT queries when more providers are needed. Unit: ms. @default 1_000 */
  readonly providerRetryMs?: number
  /** Seed of the core's PRNG. @default 1 */
  readonly seed?: number
  /**
   * How long the content stays pinned once fetched (a station's `stationUploadPinMs`), after
   * which it is evictable like any unpinned block; `Infinity` pins it for good. While the fetch
   * runs the pin is renewed, so a long fetch keeps its chunks, and one cut short by a crash
   * leaves a pin that still ends. Unit: ms. @default Infinity
   */
  readonly retainMs?: number
  /**
   * The `au` the first frame of each provider session carries (PROTOCOL.md §13.0: a
   * `/content/get` invocation for this MCID addressed to the provider), if this node has one.
   */
  readonly authority?: (provider: string, mcid: Mcid.Mcid) => Authority | undefined
  readonly report: (report: Report) => void
}

/**
 * Requests from the content subtree.
 *
 * @since 0.1.0
 * @category models
 */
export type Control =
  | { readonly _tag: "Pause" }
  | { readonly _tag: "Resume" }
  | { readonly _tag: "Cancel" }
  | { readonly _tag: "Inspect"; readonly reply: Actor.Reply<Inspection> }

/**
 * A snapshot of the fetch (tests, `stats`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Inspection {
  readonly phase: Fetch.State["phase"]
  readonly missing: number
  readonly providers: ReadonlyArray<string>
  readonly counters: Counters
  readonly core: Fetch.Counters
}

/**
 * The actor's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | Control
  | { readonly _tag: "Core"; readonly event: (now: number) => Fetch.Event }
  | { readonly _tag: "Found"; readonly providers: ReadonlyArray<ProviderRef> }

type Outgoing = { readonly frame: Frame } | { readonly end: true }

/** How long a stopping fetch waits for its senders to flush their last frames. Unit: ms. */
const FLUSH_MS = 1_000

interface Link {
  readonly ref: ProviderRef
  readonly outbox: Queue.Queue<Outgoing>
  /** The provider's connection, once connected. */
  handle: Handle | undefined
  /** Set once the session failed: later failures of the same session are not reported again. */
  failed: boolean
  /** The fiber that connects and then sends the outbox in order. */
  sender: Fiber.Fiber<void> | undefined
}

class Driver {
  core: Fetch.State
  readonly step: ReturnType<typeof Fetch.make>
  readonly links = new Map<string, Link>()
  readonly known = new Map<string, ProviderRef>()
  readonly timers = new Map<string, Fiber.Fiber<void>>()
  readonly cleanups: Array<() => void> = []
  counters: Counters = { sessionsOpened: 0, sessionFailures: 0, providerQueries: 0, blocksStored: 0, penalties: 0 }
  emptyQueries = 0
  /** Providers that refused this node `err unauthorized` (members only), with the UCAN reason. */
  readonly refusals = new Map<string, string>()
  querying = false
  startedAt = 0
  bytesAtStart = 0
  resumedChunks = 0
  lastProgress: Progress | undefined
  /** When the root's pin ends (unix ms); `Infinity` when pinned for good. */
  pinnedUntil = Infinity
  self!: Actor.ActorRef<Msg>
  scope!: Scope.Scope

  constructor(readonly options: Options) {
    this.core = Fetch.initial(Mcid.bytes(options.mcid), options.seed ?? 1)
    this.step = Fetch.make(options.config)
  }

  get key(): string {
    return Mcid.toString(this.options.mcid)
  }

  fork<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Fiber.Fiber<A, E>> {
    return Effect.forkIn(effect, this.scope, { startImmediately: true })
  }

  /** Feeds the core and carries out its commands in order; `true` when the actor should stop. */
  feed(event: Fetch.Event): Effect.Effect<boolean> {
    const driver = this
    return Effect.gen(function*() {
      const [next, commands] = driver.step(driver.core, event)
      driver.core = next
      let stop = false
      for (const command of commands) stop = (yield* driver.interpret(command)) || stop
      return stop
    })
  }

  interpret(command: Fetch.Command): Effect.Effect<boolean> {
    const driver = this
    const o = this.options
    switch (command._tag) {
      case "Send":
        return Effect.as(driver.sendTo(command.to, command.frame), false)
      case "SetTimer":
        return Effect.gen(function*() {
          const key = Fetch.timerKey(command.timer)
          const old = driver.timers.get(key)
          if (old !== undefined) yield* Fiber.interrupt(old)
          const fiber = yield* driver.fork(Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            yield* Effect.sleep(Math.max(0, command.at - now))
            driver.timers.delete(key)
            const timer = command.timer
            const generation = command.generation
            driver.self.tell({ _tag: "Core", event: (at) => Fetch.Event.TimerFired({ now: Math.max(at, command.at), timer, generation }) })
          }))
          driver.timers.set(key, fiber)
          return false
        })
      case "CancelTimer": {
        const key = Fetch.timerKey(command.timer)
        const fiber = driver.timers.get(key)
        driver.timers.delete(key)
        return fiber === undefined ? Effect.succeed(false) : Effect.as(Fiber.interrupt(fiber), false)
      }
      case "StoreManifest":
        // Written in the actor: the next step needs to know which chunks the store already had.
        return Effect.gen(function*() {
          const stored = yield* Effect.result(o.store.putManifest(o.mcid, command.bytes))
          if (stored._tag === "Failure") {
            // Without its manifest the fetch cannot go on: the core ends it.
            const now = yield* Clock.currentTimeMillis
            const reason = stored.failure instanceof QuotaExceeded ? "quota" : "manifest"
            return yield* driver.feed(Fetch.Event.StoreRefused({ now, reason, detail: `manifest: ${stored.failure._tag}` }))
          }
          const progress = yield* Effect.orDie(o.store.progress(o.mcid))
          const held = progress._tag === "chunked" ? progress.held.flatMap((yes, i) => (yes ? [i] : [])) : []
          driver.resumedChunks = held.length
          const now = yield* Clock.currentTimeMillis
          return yield* driver.feed(Fetch.Event.ManifestStored({ now, held }))
        })
      case "StoreBlock":
        return Effect.as(
          driver.fork(Effect.gen(function*() {
            const mcid = Mcid.fromBinary(command.mcid)
            // The core checked the bytes against this MCID before emitting StoreBlock, and
            // nothing else holds them (a view of its own received frame): handed over, not copied.
            // Any exit, a defect included, answers the write: the core waits for every answer.
            const exit = mcid === undefined
              ? undefined
              : yield* Effect.exit(o.store.putBlock(mcid, command.bytes, { verified: true, owned: true }))
            const written = exit !== undefined && Exit.isSuccess(exit)
            const index = command.index
            // A full store (quota, pinned content) will refuse the chunk however often it comes:
            // the core hears so and ends the fetch rather than ask for it again.
            const error = exit === undefined || Exit.isSuccess(exit) ? Option.none() : Cause.findErrorOption(exit.cause)
            const refused = Option.isSome(error) && error.value instanceof QuotaExceeded
            if (written) driver.counters = { ...driver.counters, blocksStored: driver.counters.blocksStored + 1 }
            driver.self.tell({
              _tag: "Core",
              event: (now) =>
                written
                  ? Fetch.Event.Stored({ now, index })
                  : refused
                  ? Fetch.Event.StoreRefused({ now, reason: "quota", index })
                  : Fetch.Event.StoreFailed({ now, index })
            })
          })),
          false
        )
      case "Score":
        // A bad block or manifest is also a minor violation on the connection (§14 rows 26, 27).
        return command.reason === "bad_block" || command.reason === "bad_manifest"
          ? Effect.as(driver.penalise(command.provider, command.reason), false)
          : Effect.succeed(false)
      case "Penalise":
        return Effect.as(driver.penalise(command.provider, command.reason), false)
      case "Blacklist":
        o.blacklist.set(command.provider, command.until)
        return Effect.succeed(false)
      case "NeedProviders":
        return Effect.as(driver.findProviders(), false)
      case "Progress":
        return Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const seconds = Math.max(0.001, (now - driver.startedAt) / 1_000)
          const progress: Progress = {
            mcid: driver.key,
            storedBytes: command.storedBytes,
            totalBytes: command.totalBytes,
            storedChunks: command.storedChunks,
            totalChunks: command.totalChunks,
            bytesPerSecond: Math.max(0, command.storedBytes - driver.bytesAtStart) / seconds,
            providers: driver.core.providers.size,
            resumedChunks: driver.resumedChunks
          }
          if (driver.lastProgress === undefined) driver.bytesAtStart = command.storedBytes
          driver.lastProgress = progress
          yield* Effect.ignore(driver.pinRoot(now, true))
          o.report({ _tag: "Progress", progress })
          return false
        })
      case "Completed":
        return Effect.gen(function*() {
          // The content is kept `retainMs` from now, not from when the fetch began. A failed
          // write leaves the running pin, which ends a little sooner.
          yield* Effect.ignore(driver.pinRoot(yield* Clock.currentTimeMillis, false))
          o.report({ _tag: "Completed", mcid: driver.key })
          return true
        })
      case "Cancelled":
        return Effect.gen(function*() {
          yield* Effect.ignore(o.store.unpin(o.mcid))
          o.report({ _tag: "Cancelled", mcid: driver.key })
          return true
        })
      case "Failed":
        // The core cancelled the wants in this same step: `feed` queues those Sends too, and
        // the senders flush them as the actor stops.
        return Effect.gen(function*() {
          yield* Effect.ignore(o.store.unpin(o.mcid))
          o.report({ _tag: "Failed", mcid: driver.key, reason: "StoreFailed", detail: command.detail })
          return true
        })
    }
  }

  /**
   * Pins the root until `now + retainMs` (for good without `retainMs`). With `renewal`, only
   * once half of the current pin has run, so a fetch writes its pin a few times, not per chunk;
   * a renewal that fails leaves the current pin, which still covers the next half.
   */
  pinRoot(now: number, renewal: boolean): Effect.Effect<void, ContentStoreError> {
    const retain = this.options.retainMs ?? Infinity
    if (retain === Infinity) return renewal ? Effect.void : this.options.store.pin(this.options.mcid)
    if (renewal && now + retain - this.pinnedUntil < retain / 2) return Effect.void
    const until = now + retain
    return Effect.andThen(this.options.store.pin(this.options.mcid, { until }), Effect.sync(() => void (this.pinnedUntil = until)))
  }

  penalise(did: string, reason: string): Effect.Effect<void> {
    this.counters = { ...this.counters, penalties: this.counters.penalties + 1 }
    const handle = this.links.get(did)?.handle
    return handle === undefined ? Effect.void : handle.penalize("minor", `content: ${reason}`)
  }

  /** The first frame of a session to `did` with the `au` this node presents, if any (§13.0). */
  withAuthority(did: string, frame: Frame): Frame {
    const authority = this.options.authority
    if (authority === undefined || (frame.t !== "content.want" && frame.t !== "content.manifest_req")) return frame
    const au = authority(did, this.options.mcid)
    return au === undefined ? frame : { ...frame, au }
  }

  /** Ends the fetch for want of providers: `Unauthorized` when the ones that answered refused us. */
  fail(why: string): Effect.Effect<boolean> {
    const driver = this
    // Providers were found, but the ones that answered refused us: the failure is authority.
    const reason = this.refusals.size > 0 ? "Unauthorized" as const : "NoProviders" as const
    const detail = this.refusals.size === 0
      ? why
      : [...new Set(this.refusals.values())].join(", ")
    return Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const [next, commands] = driver.step(driver.core, Fetch.Event.Cancel({ now }))
      driver.core = next
      // Send the cancels so the providers stop serving; the Cancelled report is replaced.
      for (const command of commands) if (command._tag === "Send") yield* driver.sendTo(command.to, command.frame)
      yield* Effect.ignore(driver.options.store.unpin(driver.options.mcid))
      driver.options.report({ _tag: "Failed", mcid: driver.key, reason, detail })
      return true
    })
  }

  /** Asks the DHT for providers unless a query is running; gives up after enough empty answers. */
  findProviders(): Effect.Effect<void> {
    if (this.querying) return Effect.void
    this.querying = true
    const driver = this
    const o = this.options
    const wait = driver.counters.providerQueries === 0 ? 0 : (o.providerRetryMs ?? 1_000)
    return Effect.asVoid(this.fork(Effect.gen(function*() {
      if (wait > 0) yield* Effect.sleep(wait)
      driver.counters = { ...driver.counters, providerQueries: driver.counters.providerQueries + 1 }
      const found = yield* Effect.orElseSucceed(o.dht.findProviders(o.mcid), () => [] as ReadonlyArray<ProviderRef>)
      driver.self.tell({ _tag: "Found", providers: found })
    })))
  }

  usable(providers: ReadonlyArray<ProviderRef>, now: number): ReadonlyArray<ProviderRef> {
    return providers.filter((p) => (this.options.blacklist.get(p.did) ?? 0) <= now)
  }

  /** Queues `frame` for `did`, opening the session first if this is the first frame. */
  sendTo(did: string, frame: Frame): Effect.Effect<void> {
    const driver = this
    return Effect.gen(function*() {
      const link = driver.links.get(did) ?? (yield* driver.open(did))
      if (link !== undefined) Queue.offerUnsafe(link.outbox, { frame })
    })
  }

  open(did: string): Effect.Effect<Link | undefined> {
    const ref = this.known.get(did)
    if (ref === undefined) return Effect.succeed(undefined)
    const driver = this
    return Effect.gen(function*() {
    const outbox = yield* Queue.unbounded<Outgoing>()
    const link: Link = { ref, outbox, handle: undefined, failed: false, sender: undefined }
    driver.links.set(did, link)
    let unroute: (() => void) | undefined
    // Reported once per session, and the link forgotten at once: the provider's next frame
    // (after the core takes it back) opens a new session rather than queueing on a dead one.
    const lost = Effect.sync(() => {
        if (link.failed) return
        link.failed = true
        if (driver.links.get(did) === link) driver.links.delete(did)
        unroute?.()
        Queue.offerUnsafe(outbox, { end: true })
        driver.counters = { ...driver.counters, sessionFailures: driver.counters.sessionFailures + 1 }
        driver.self.tell({ _tag: "Core", event: (now) => Fetch.Event.ProviderLost({ now, provider: did }) })
      })
    link.sender = yield* driver.fork(Effect.gen(function*() {
      const handle = yield* Effect.result(driver.options.transport.connect(ref))
      if (handle._tag === "Failure") return yield* lost
      const opened = handle.success.openSession === undefined
        ? undefined
        : yield* Effect.result(handle.success.openSession())
      if (opened === undefined || opened._tag === "Failure") return yield* lost
      const session: Session = opened.success
      link.handle = handle.success
      driver.counters = { ...driver.counters, sessionsOpened: driver.counters.sessionsOpened + 1 }
      if (link.failed) return yield* session.end
      unroute = driver.options.routes.add(handle.success.connectionId, session.stream, (frame) => {
        if (frame.t === "content.block" || frame.t === "content.have" || frame.t === "content.manifest_res") {
          driver.self.tell({ _tag: "Core", event: (now) => Fetch.Event.FrameReceived({ now, from: did, frame }) })
        } else if (frame.t === "err") {
          if (frame.c === "unauthorized") {
            // A members-only provider refused us: it cannot serve this fetch, as one without the
            // content (dropped, not retried), and the failure says why.
            if (driver.refusals.size < 64) driver.refusals.set(did, frame.r ?? "unauthorized")
            const target = Mcid.bytes(driver.options.mcid)
            const refusal: ContentHave = { t: "content.have", h: [{ m: target, y: false }] }
            driver.self.tell({ _tag: "Core", event: (now) => Fetch.Event.FrameReceived({ now, from: did, frame: refusal }) })
          }
          // A relay that lost (or refused) the far end: this session is over.
          Effect.runSync(lost)
        }
      })
      driver.cleanups.push(unroute)
      yield* driver.fork(Effect.andThen(handle.success.closed, lost))
      let first = true
      while (true) {
        const next = yield* Queue.take(outbox)
        if ("end" in next) return yield* session.end
        if (link.failed) return yield* Effect.ignore(session.end)
        const frame = first ? driver.withAuthority(did, next.frame) : next.frame
        first = false
        const sent = yield* Effect.result(session.send(frame))
        if (sent._tag === "Failure") return yield* lost
      }
    }))
    return link
    })
  }
}

/**
 * The actor's behavior for one transfer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, Driver> =>
  Actor.make<Msg, Driver>({
    label: `content-fetch(${Mcid.toString(options.mcid).slice(0, 12)})`,
    mailbox: { capacity: 4_096, overflow: "suspend" },
    init: (ctx) =>
      Effect.gen(function*() {
        const driver = new Driver(options)
        driver.self = ctx.self
        driver.scope = yield* Effect.scope
        // Pin first: a collection between two writes must not take the chunks of a running fetch.
        const now = yield* Clock.currentTimeMillis
        yield* Effect.orDie(driver.pinRoot(now, false))
        const stored = yield* Effect.orDie(options.store.resumePoint(options.mcid))
        driver.resumedChunks = stored._tag === "Manifest" ? stored.held.length : 0
        driver.startedAt = now
        const hints = driver.usable(options.hints ?? [], now)
        for (const h of hints) driver.known.set(h.did, h)
        const stop = yield* driver.feed(Fetch.Event.Start({ now, providers: hints.map((h) => h.did), stored }))
        if (stop) ctx.self.tell({ _tag: "Core", event: (at) => Fetch.Event.Cancel({ now: at }) })
        else if (options.paused === true) yield* driver.feed(Fetch.Event.Pause({ now }))
        return driver
      }),
    receive: (message, driver) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        let stop = false
        switch (message._tag) {
          case "Core":
            stop = yield* driver.feed(message.event(now))
            break
          case "Found": {
            driver.querying = false
            // Lost providers are not new: the core takes them back on its own after their backoff.
            const named = driver.usable(message.providers, now).filter((p) =>
              !driver.core.dropped.has(p.did) && !driver.core.providers.has(p.did) && !driver.core.lost.has(p.did)
            )
            for (const p of named) if (!driver.known.has(p.did)) driver.known.set(p.did, p)
            // Providers lost too often are named again, but are not news: each answer gives them
            // one more try, and they do not hold off the end of a fetch nobody else can serve.
            const fresh = named.filter((p) => !driver.core.gone.has(p.did))
            if (fresh.length === 0) {
              driver.emptyQueries++
              if (driver.emptyQueries >= (driver.options.providerQueries ?? 5)) {
                if (driver.core.providers.size === 0 && driver.core.lost.size === 0 && driver.core.phase !== "paused") {
                  stop = yield* driver.fail(`no provider found after ${driver.emptyQueries} queries`)
                }
              } else if (named.length > 0) {
                stop = yield* driver.feed(Fetch.Event.ProvidersFound({ now, providers: named.map((p) => p.did) }))
              } else if (driver.core.providers.size === 0) {
                yield* driver.findProviders()
              }
            } else {
              driver.emptyQueries = 0
              stop = yield* driver.feed(Fetch.Event.ProvidersFound({ now, providers: named.map((p) => p.did) }))
            }
            break
          }
          case "Pause":
            stop = yield* driver.feed(Fetch.Event.Pause({ now }))
            break
          case "Resume": {
            const progress = yield* Effect.orDie(driver.options.store.progress(driver.options.mcid))
            const held = progress._tag === "chunked" ? progress.held.flatMap((yes, i) => (yes ? [i] : [])) : undefined
            stop = yield* driver.feed(Fetch.Event.Resume({ now, ...(held === undefined ? {} : { held }) }))
            break
          }
          case "Cancel":
            stop = yield* driver.feed(Fetch.Event.Cancel({ now }))
            break
          case "Inspect":
            message.reply.succeed({
              phase: driver.core.phase,
              missing: Fetch.missing(driver.core).length,
              providers: [...driver.core.providers.keys()],
              counters: driver.counters,
              core: driver.core.counters
            })
            break
        }
        // A fetch that stopped (done, cancelled, failed) exits Normal: transient, so not restarted.
        if (stop || Fetch.isOver(driver.core)) return Actor.stop(ExitReason.normal)
        return driver
      }),
    terminate: (_reason, driver) =>
      Effect.gen(function*() {
        for (const cleanup of driver.cleanups) cleanup()
        // Let each sender flush what it has (the cancels, so the providers stop serving) and
        // finish its side of the session; a loaded machine may need more than one tick for
        // that, a dead connection never finishes, hence the bound.
        const senders: Array<Fiber.Fiber<void>> = []
        for (const link of driver.links.values()) {
          Queue.offerUnsafe(link.outbox, { end: true })
          if (link.sender !== undefined) senders.push(link.sender)
        }
        yield* Effect.timeoutOption(Effect.forEach(senders, (f) => Effect.ignore(Fiber.await(f)), { discard: true }), FLUSH_MS)
        yield* Effect.yieldNow
      })
  })

/**
 * Spawns a fetch in the current scope (the `fetches` supervisor does this for the node).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<Actor.ActorRef<Msg>, never, Scope.Scope> =>
  Effect.orDie(Actor.spawn(behavior(options)))

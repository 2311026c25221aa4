/**
 * The content subtree of a node (PROTOCOL.md §12, §15):
 *
 * ```
 * ContentSupervisor (one_for_one, contentIntensity / contentPeriodMs)
 * ├─ store       ContentStoreActor       permanent   puts, pins, collection, quota
 * ├─ serve       ContentServeActor       permanent   answers the wants of inbound content sessions
 * ├─ announcer   ContentAnnouncerActor   permanent   announces provided content, renews before expiry
 * └─ fetches     simple_one_for_one      (fetchIntensity / fetchPeriodMs, ≤ maxConcurrentFetches)
 *                ContentFetchActor × n, transient: restarted only after a crash
 * ```
 *
 * The `ContentStore` is opened once per life of the subtree (on disk under `store.dir`, or in
 * memory) and shared by the children. A crashed fetch is restarted from the same arguments and
 * resumes from the chunks already verified on disk; a `fetches` supervisor that escalated and
 * was restarted starts again every transfer still awaited, so a `get` outlives both.
 *
 * Frames: the node passes `api.sink` as the transport's node-wide `content` sink (or `attach`es
 * each connection). Sessions a peer opened go to the serving actor; answers on sessions a fetch
 * opened go back to that fetch, by connection and stream.
 *
 * `make(deps)` builds nothing until `spec.start` runs; `api` works across restarts of the
 * children, and while the subtree is down its calls fail `ContentUnavailable`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ContentAnnouncerActor from "../actors/ContentAnnouncerActor.ts"
import * as ContentFetchActor from "../actors/ContentFetchActor.ts"
import * as ContentServeActor from "../actors/ContentServeActor.ts"
import * as ContentStoreActor from "../actors/ContentStoreActor.ts"
import * as Hooks from "../src/content/Hooks.ts"
import * as Mcid from "../src/content/Mcid.ts"
import type { McidError } from "../src/content/McidError.ts"
import * as ContentStore from "../src/platform/content/ContentStore.ts"
import type { ContentStoreError, IntegrityError, QuotaExceeded } from "../src/platform/content/Errors.ts"
import type { Handle, Inbound, Sink } from "../src/platform/transport/ConnectionHandle.ts"
import * as ContentConfig from "../src/protocols/content/Config.ts"
import type * as Actor from "../src/runtime/Actor.ts"
import type { ChildSpec } from "../src/runtime/ChildSpec.ts"
import type { ConfigError, NameTaken, StartFailed } from "../src/runtime/Errors.ts"
import type { Process } from "../src/runtime/Process.ts"
import * as Supervisor from "../src/runtime/Supervisor.ts"
import type { Frame } from "../src/wire/Frame.ts"

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * A provider as the DHT names it (`did`, optional `address` to dial).
 *
 * @since 0.1.0
 * @category models
 */
export type ProviderRef = ContentFetchActor.ProviderRef

/**
 * The DHT as content needs it: `findProviders(mcid)` and `announce(mcid)`.
 *
 * @since 0.1.0
 * @category ports
 */
export type DhtPort = ContentFetchActor.DhtPort

/**
 * The transport as content needs it: `connect(provider)` gives a ready connection handle.
 *
 * @since 0.1.0
 * @category ports
 */
export type TransportPort = ContentFetchActor.TransportPort

/**
 * Progress of a transfer, given to `onProgress`.
 *
 * @since 0.1.0
 * @category models
 */
export type Progress = ContentFetchActor.Progress

/**
 * Knobs of the subtree beyond the exchange cores' (`ContentConfig.Knobs`).
 *
 * @since 0.1.0
 * @category models
 */
export interface SubtreeKnobs {
  /** Fetches running at once; more `get`s fail `ContentUnavailable` (`busy`). @default 8 */
  readonly maxConcurrentFetches: number
  /** Restarts of the subtree's children allowed per period. @default 5 (contentIntensity) */
  readonly intensity: number
  /** @default 10_000 (contentPeriodMs) */
  readonly periodMs: number
  /** Restarts of fetches allowed per period. @default 10 (fetchIntensity) */
  readonly fetchIntensity: number
  /** @default 60_000 (fetchPeriodMs) */
  readonly fetchPeriodMs: number
  /** Time a child gets to stop. Unit: ms. @default 5_000 (workerShutdownMs) */
  readonly workerShutdownMs: number
  /** Empty DHT answers in a row before a fetch fails `ContentNotFound`. @default 5 */
  readonly providerQueries: number
  /** Wait between DHT queries of one fetch. Unit: ms. @default 1_000 */
  readonly providerRetryMs: number
  /** Announcement renewal: `republishFraction` × `contentProviderTtlMs`. Unit: ms. @default 1_800_000 */
  readonly reannounceMs: number
  /** Wait after a failed announcement. Unit: ms. @default 30_000 */
  readonly announceRetryMs: number
  /** Announce content once fetched, so this node serves it too (§12.4 step 7). @default true */
  readonly announceFetched: boolean
  /** Periodic collection of unpinned blocks; 0 disables. Unit: ms. @default 0 */
  readonly gcIntervalMs: number
  /**
   * How long fetched content stays pinned after its fetch completes; then it is evictable,
   * least recently used first, when the store needs room. `Infinity` keeps it for good (a
   * client's downloads); a station sets `stationUploadPinMs`. Unit: ms. @default Infinity
   */
  readonly fetchedPinMs: number
}

/**
 * The §16 defaults of `SubtreeKnobs`.
 *
 * @since 0.1.0
 * @category constants
 */
export const subtreeDefaults: SubtreeKnobs = {
  maxConcurrentFetches: 8,
  intensity: 5,
  periodMs: 10_000,
  fetchIntensity: 10,
  fetchPeriodMs: 60_000,
  workerShutdownMs: 5_000,
  providerQueries: 5,
  providerRetryMs: 1_000,
  reannounceMs: 1_800_000,
  announceRetryMs: 30_000,
  announceFetched: true,
  gcIntervalMs: 0,
  fetchedPinMs: Infinity
}

/**
 * Where blocks are kept: a directory (the live store), a layer, or, when absent, memory.
 *
 * @since 0.1.0
 * @category models
 */
export type StoreDeps = ContentStore.LayerOptions | Layer.Layer<ContentStore.ContentStore, ContentStoreError>

/**
 * What the content subtree needs from the node. The ports are called only while the subtree
 * runs, so the node may pass closures over parts it starts later (the transport tree, the DHT).
 *
 * @since 0.1.0
 * @category models
 */
export interface Deps {
  /** This node's DID (logs, `stats`). */
  readonly identity: { readonly did: string }
  readonly transport: TransportPort
  readonly dht: DhtPort
  /** @default an in-memory store */
  readonly store?: StoreDeps
  /** Exchange-core and subtree knob overrides over `base`. */
  readonly config?: Partial<ContentConfig.Knobs & SubtreeKnobs>
  /** The core preset under `config`. @default ContentConfig.defaults (§16) */
  readonly base?: ContentConfig.Knobs
  /** Providers tried before the DHT by every fetch (the home station). */
  readonly hints?: () => ReadonlyArray<ProviderRef>
  /** Every frame the serving side receives and sends (tests, metrics). */
  readonly onServeFrame?: (direction: "in" | "out", peer: string, frame: Frame) => void
  /** A members-only serving policy (PROTOCOL.md §13.3 `/content/get`); absent: open. */
  readonly serveAdmission?: ContentServeActor.Admission
  /** The `au` each fetch's provider sessions open with (§13.0), if this node has one. */
  readonly fetchAuthority?: ContentFetchActor.Options["authority"]
}

/**
 * No provider of the content could be found or none delivered it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContentNotFound extends Data.TaggedError("ContentNotFound")<{ readonly mcid: string; readonly message: string }> {}

/**
 * The transfer was cancelled (by `cancel`, or its fetch stopped at shutdown).
 *
 * @since 0.1.0
 * @category errors
 */
export class FetchCancelled extends Data.TaggedError("FetchCancelled")<{ readonly mcid: string }> {}

/**
 * The content subtree is not running (stopped, restarting) or is at `maxConcurrentFetches`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContentUnavailable extends Data.TaggedError("ContentUnavailable")<{ readonly reason: string }> {}

/**
 * Every provider found refused this node `err unauthorized` (members-only providers, §13.3
 * `/content/get`); `reason` lists the UCAN error names they gave.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContentUnauthorized extends Data.TaggedError("ContentUnauthorized")<{ readonly mcid: string; readonly reason: string }> {}

/**
 * The content is stored but its first announcement failed; the announcer keeps retrying.
 *
 * @since 0.1.0
 * @category errors
 */
export class AnnounceFailed extends Data.TaggedError("AnnounceFailed")<{ readonly mcid: string; readonly cause: unknown }> {}

/**
 * Errors of `get`.
 *
 * @since 0.1.0
 * @category errors
 */
export type GetError = McidError | ContentNotFound | FetchCancelled | ContentUnavailable | ContentUnauthorized | ContentStoreError

/**
 * Errors of `put`.
 *
 * @since 0.1.0
 * @category errors
 */
export type PutError = IntegrityError | QuotaExceeded | ContentStoreError | ContentUnavailable | AnnounceFailed

/**
 * Options of `get` / `getToFile`.
 *
 * @since 0.1.0
 * @category models
 */
export interface GetOptions {
  /** Called on every stored chunk (and on join with the latest progress). */
  readonly onProgress?: (progress: Progress) => void
  /** Providers to try first. */
  readonly hints?: ReadonlyArray<ProviderRef>
}

/**
 * What `fetch` resolves with: the content is whole in the store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fetched {
  /** Its size in bytes. */
  readonly size: number
  /** Its chunks (1 for a raw block). */
  readonly chunks: number
}

/**
 * One transfer as `stats` shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransferInfo {
  readonly mcid: string
  readonly paused: boolean
  /** Runs of its fetch actor so far (1 + restarts). */
  readonly runs: number
  readonly progress: Progress | undefined
}

/**
 * Counts for `macula status`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly did: string
  readonly store: ContentStore.Usage | undefined
  readonly serve: ContentServeActor.Stats | undefined
  readonly announcer: ContentAnnouncerActor.Stats | undefined
  readonly transfers: ReadonlyArray<TransferInfo>
  /** Providers blacklisted now, by DID. */
  readonly blacklisted: ReadonlyArray<string>
}

/**
 * Content as the node exposes it (`putContent`, `getContent`, `macula put` / `get`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Api {
  /** Stores bytes (or the file at a path), pins them, and resolves once the first announcement succeeded. */
  readonly put: (input: Uint8Array | string, options?: ContentStore.PutOptions) => Effect.Effect<Mcid.Mcid, PutError>
  /** The content's bytes: from the store, else fetched (joins a transfer already running). */
  readonly get: (mcid: Mcid.Mcid | string, options?: GetOptions) => Effect.Effect<Uint8Array, GetError>
  /**
   * Fetches like `get` (joins a transfer already running) and resolves once the content is whole
   * in the store, reading none of it: memory stays at a chunk whatever the size (a push
   * recipient, a prefetch). Returns its size in bytes and its chunk count (1 for a raw block).
   */
  readonly fetch: (mcid: Mcid.Mcid | string, options?: GetOptions) => Effect.Effect<Fetched, GetError>
  /** Fetches like `get` and writes the content to `path` chunk by chunk; returns its size. */
  readonly getToFile: (mcid: Mcid.Mcid | string, path: string, options?: GetOptions) => Effect.Effect<number, GetError>
  /** Stops asking providers (they see `content.cancel`); verified chunks stay. `false` if no such transfer. */
  readonly pause: (mcid: Mcid.Mcid | string) => Effect.Effect<boolean, McidError>
  /** Continues a paused transfer from what the store holds. */
  readonly resume: (mcid: Mcid.Mcid | string) => Effect.Effect<boolean, McidError>
  /** Stops a transfer for good: waiters fail `FetchCancelled`, the root is unpinned. */
  readonly cancel: (mcid: Mcid.Mcid | string) => Effect.Effect<boolean, McidError>
  readonly stats: () => Effect.Effect<Stats>
  /** The transport's node-wide `content` sink (`sinks.content`). */
  readonly sink: Sink
  /** Subscribes the `content` channel of one connection (instead of the node-wide sink). */
  readonly attach: (handle: Handle) => void
  /** The store of the running subtree (tests, tools). */
  readonly store: () => ContentStore.ContentStoreShape | undefined
  /** The `fetches` supervisor, if running (tests). */
  readonly fetches: () => Supervisor.DynamicSupervisorRef<FetchArgs> | undefined
}

/**
 * The arguments of one fetch child: which transfer it drives.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchArgs {
  readonly key: string
}

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------

interface Transfer {
  readonly mcid: Mcid.Mcid
  readonly key: string
  readonly done: Deferred.Deferred<void, ContentNotFound | ContentUnauthorized | FetchCancelled | ContentStoreError>
  readonly listeners: Set<(progress: Progress) => void>
  readonly hints: Array<ProviderRef>
  process: Actor.ActorRef<ContentFetchActor.Msg> | undefined
  paused: boolean
  runs: number
  last: Progress | undefined
}

interface Wiring {
  store: ContentStore.ContentStoreShape | undefined
  storeActor: Actor.ActorRef<ContentStoreActor.Msg> | undefined
  serve: Actor.ActorRef<ContentServeActor.Msg> | undefined
  announcer: Actor.ActorRef<ContentAnnouncerActor.Msg> | undefined
  fetches: Supervisor.DynamicSupervisorRef<FetchArgs> | undefined
  scope: Scope.Scope | undefined
}

const parseMcid = (m: Mcid.Mcid | string): Effect.Effect<Mcid.Mcid, McidError> => {
  if (typeof m !== "string") return Effect.succeed(m)
  const decoded = Mcid.decode(m)
  return decoded._tag === "Mcid" ? Effect.succeed(decoded) : Effect.fail(decoded)
}

const isLayer = (s: StoreDeps): s is Layer.Layer<ContentStore.ContentStore, ContentStoreError> => Layer.isLayer(s)

/**
 * The content subtree as a child spec for the node's root, and its API. Nothing starts until
 * the spec does. Throws a `RangeError` listing the problems of an invalid config.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (deps: Deps): {
  readonly spec: ChildSpec<Scope.Scope>
  readonly api: Api
  /** The subtree's start effect (what `spec.start` runs). */
  readonly startTree: Effect.Effect<Supervisor.SupervisorRef, ConfigError | StartFailed | NameTaken | ContentStoreError, Scope.Scope>
} => {
  const knobs: ContentConfig.Knobs = { ...(deps.base ?? ContentConfig.defaults), ...pick(deps.config ?? {}, ContentConfig.defaults) }
  const sub: SubtreeKnobs = { ...subtreeDefaults, ...pick(deps.config ?? {}, subtreeDefaults) }
  const problems = [...ContentConfig.problems(knobs)]
  if (!(Number.isInteger(sub.maxConcurrentFetches) && sub.maxConcurrentFetches > 0)) problems.push("maxConcurrentFetches must be a positive integer")
  if (!(sub.fetchedPinMs > 0)) problems.push("fetchedPinMs must be positive (Infinity: pinned for good)")
  if (problems.length > 0) throw new RangeError(`ContentSupervisor config: ${problems.join("; ")}`)
  const config = ContentConfig.make(Hooks.hooks, knobs)

  const wiring: Wiring = { store: undefined, storeActor: undefined, serve: undefined, announcer: undefined, fetches: undefined, scope: undefined }
  const transfers = new Map<string, Transfer>()
  const blacklist = new Map<string, number>()
  const routes = new Map<string, (frame: Frame) => void>()
  const sessionRoutes: ContentFetchActor.SessionRoutes = {
    add: (connectionId, stream, deliver) => {
      const key = `${connectionId}/${stream}`
      routes.set(key, deliver)
      return () => {
        if (routes.get(key) === deliver) routes.delete(key)
      }
    }
  }

  const unavailable = (reason: string) => new ContentUnavailable({ reason })

  const sink: Sink = (inbound: Inbound) =>
    Effect.suspend(() => {
      if (inbound.opener === "local") {
        routes.get(`${inbound.connectionId}/${inbound.stream}`)?.(inbound.frame)
        return Effect.void
      }
      const serve = wiring.serve
      return serve === undefined ? Effect.void : Effect.ignore(serve.cast({ _tag: "Inbound", inbound }))
    })

  const report = (transfer: Transfer) => (r: ContentFetchActor.Report): void => {
    switch (r._tag) {
      case "Progress":
        transfer.last = r.progress
        for (const listener of transfer.listeners) listener(r.progress)
        return
      case "Completed":
        transfers.delete(transfer.key)
        Deferred.doneUnsafe(transfer.done, Effect.void)
        if (sub.announceFetched && wiring.announcer !== undefined) {
          wiring.announcer.tell({ _tag: "Provide", mcid: transfer.mcid, reply: { succeed: () => {}, fail: () => {}, isDone: () => true } })
        }
        return
      case "Cancelled":
        transfers.delete(transfer.key)
        Deferred.doneUnsafe(transfer.done, Effect.fail(new FetchCancelled({ mcid: transfer.key })))
        return
      case "Failed":
        transfers.delete(transfer.key)
        Deferred.doneUnsafe(
          transfer.done,
          Effect.fail(
            r.reason === "Unauthorized"
              ? new ContentUnauthorized({ mcid: transfer.key, reason: r.detail })
              : new ContentNotFound({ mcid: transfer.key, message: `${r.reason}: ${r.detail}` })
          )
        )
        return
    }
  }

  /** The fetch template: options rebuilt from the transfer on every (re)start. */
  const startFetch = (args: FetchArgs): Effect.Effect<Process, unknown, Scope.Scope> =>
    Effect.gen(function*() {
      const transfer = transfers.get(args.key)
      const store = wiring.store
      if (transfer === undefined || store === undefined) return yield* Effect.fail(unavailable("no such transfer"))
      transfer.runs++
      const ref = yield* ContentFetchActor.start({
        mcid: transfer.mcid,
        store,
        config,
        dht: deps.dht,
        transport: deps.transport,
        routes: sessionRoutes,
        blacklist,
        hints: [...transfer.hints, ...(deps.hints?.() ?? [])],
        paused: transfer.paused,
        providerQueries: sub.providerQueries,
        providerRetryMs: sub.providerRetryMs,
        seed: transfer.runs,
        retainMs: sub.fetchedPinMs,
        ...(deps.fetchAuthority === undefined ? {} : { authority: deps.fetchAuthority }),
        report: report(transfer)
      })
      transfer.process = ref
      return ref
    })

  const launch = (transfer: Transfer): Effect.Effect<void, ContentUnavailable> =>
    Effect.gen(function*() {
      const fetches = wiring.fetches
      if (fetches === undefined) return yield* Effect.fail(unavailable("content subtree not running"))
      const started = yield* Effect.result(fetches.startChild({ key: transfer.key }))
      if (started._tag === "Failure") {
        transfers.delete(transfer.key)
        return yield* Effect.fail(unavailable(`fetch not started: ${started.failure._tag}`))
      }
    })

  /** Ensures a transfer of `mcid` runs and waits for it to complete. */
  const fetch = (mcid: Mcid.Mcid, options: GetOptions): Effect.Effect<void, GetError> =>
    Effect.gen(function*() {
      const store = wiring.store
      if (store === undefined) return yield* Effect.fail(unavailable("content subtree not running"))
      const progress = yield* store.progress(mcid)
      if (progress.complete) return
      const key = Mcid.toString(mcid)
      let transfer = transfers.get(key)
      if (transfer === undefined) {
        transfer = {
          mcid,
          key,
          done: Deferred.makeUnsafe(),
          listeners: new Set(),
          hints: [...(options.hints ?? [])],
          process: undefined,
          paused: false,
          runs: 0,
          last: undefined
        }
        transfers.set(key, transfer)
        yield* launch(transfer)
      } else if (transfer.last !== undefined) options.onProgress?.(transfer.last)
      const listener = options.onProgress
      const t = transfer
      if (listener !== undefined) t.listeners.add(listener)
      yield* Effect.ensuring(Deferred.await(t.done), Effect.sync(() => listener !== undefined && t.listeners.delete(listener)))
    })

  const control = (tag: "Pause" | "Resume" | "Cancel") => (m: Mcid.Mcid | string): Effect.Effect<boolean, McidError> =>
    Effect.gen(function*() {
      const mcid = yield* parseMcid(m)
      const transfer = transfers.get(Mcid.toString(mcid))
      if (transfer === undefined) return false
      if (tag === "Pause") transfer.paused = true
      if (tag === "Resume") transfer.paused = false
      const ref = transfer.process
      if (ref !== undefined && ref.isAlive()) yield* Effect.ignore(ref.cast({ _tag: tag }))
      else if (tag === "Cancel") {
        transfers.delete(transfer.key)
        Deferred.doneUnsafe(transfer.done, Effect.fail(new FetchCancelled({ mcid: transfer.key })))
      }
      return true
    })

  const children: ReadonlyArray<ChildSpec<Scope.Scope>> = [
    {
      id: "store",
      shutdown: sub.workerShutdownMs,
      start: Effect.suspend(() =>
        Effect.tap(
          ContentStoreActor.start({ store: wiring.store!, gcIntervalMs: sub.gcIntervalMs }),
          (ref) => Effect.sync(() => void (wiring.storeActor = ref))
        )
      )
    },
    {
      id: "serve",
      shutdown: sub.workerShutdownMs,
      start: Effect.suspend(() =>
        Effect.tap(
          ContentServeActor.start({
            store: wiring.store!,
            knobs,
            ...(deps.onServeFrame === undefined ? {} : { onFrame: deps.onServeFrame }),
            ...(deps.serveAdmission === undefined ? {} : { admission: deps.serveAdmission })
          }),
          (ref) => Effect.sync(() => void (wiring.serve = ref))
        )
      )
    },
    {
      id: "announcer",
      shutdown: sub.workerShutdownMs,
      start: Effect.suspend(() =>
        Effect.tap(
          ContentAnnouncerActor.start({
            store: wiring.store!,
            announce: deps.dht.announce,
            reannounceMs: sub.reannounceMs,
            retryMs: sub.announceRetryMs
          }),
          (ref) => Effect.sync(() => void (wiring.announcer = ref))
        )
      )
    },
    {
      id: "fetches",
      kind: "supervisor",
      start: Effect.gen(function*() {
        const ref = yield* Supervisor.startDynamic<FetchArgs, Scope.Scope>({
          label: "content-fetches",
          strategy: "simple_one_for_one",
          intensity: sub.fetchIntensity,
          periodMs: sub.fetchPeriodMs,
          maxChildren: sub.maxConcurrentFetches,
          template: { label: "content-fetch", restart: "transient", shutdown: sub.workerShutdownMs, start: startFetch }
        })
        wiring.fetches = ref
        // A restarted `fetches` supervisor starts again every transfer still awaited.
        for (const transfer of transfers.values()) {
          if (transfer.process === undefined || !transfer.process.isAlive()) {
            yield* Effect.forkIn(Effect.ignore(launch(transfer)), wiring.scope!)
          }
        }
        return ref
      })
    }
  ]

  const startTree = Effect.gen(function*() {
    const scope = yield* Effect.scope
    wiring.scope = scope
    const storeDeps = deps.store
    const layer = storeDeps === undefined
      ? ContentStore.layerMemory()
      : isLayer(storeDeps)
      ? storeDeps
      : ContentStore.layer(storeDeps)
    const context = yield* Layer.buildWithScope(layer, scope)
    wiring.store = Context.get(context, ContentStore.ContentStore)
    return yield* Supervisor.start({
      label: "content",
      strategy: "one_for_one",
      intensity: sub.intensity,
      periodMs: sub.periodMs,
      children
    })
  })
  const spec: ChildSpec<Scope.Scope> = { id: "content", kind: "supervisor", start: startTree }

  /** `get`, `fetch` and `getToFile`: the content made whole in the store (fetched if need be), and that store. */
  const fetched = (m: Mcid.Mcid | string, options: GetOptions) =>
    Effect.gen(function*() {
      const mcid = yield* parseMcid(m)
      yield* fetch(mcid, options)
      const store = wiring.store
      if (store === undefined) return yield* Effect.fail(unavailable("content subtree not running"))
      return { mcid, store }
    })

  const api: Api = {
    put: (input, options = {}) =>
      Effect.gen(function*() {
        const storeActor = wiring.storeActor
        const announcer = wiring.announcer
        if (storeActor === undefined || announcer === undefined) return yield* Effect.fail(unavailable("content subtree not running"))
        const mcid = yield* Effect.catchTags(
          storeActor.call<Mcid.Mcid, ContentStore.WriteError>((reply) => ({ _tag: "Put", input, options, reply }), { timeoutMs: Infinity }),
          {
            CallTimeout: () => Effect.fail(unavailable("store did not answer")),
            ActorExited: () => Effect.fail(unavailable("store exited")),
            MailboxFull: () => Effect.fail(unavailable("store busy"))
          }
        )
        yield* Effect.catch(
          announcer.call<void, ContentAnnouncerActor.AnnounceFailed>((reply) => ({ _tag: "Provide", mcid, reply }), { timeoutMs: Infinity }),
          (e) => Effect.fail(new AnnounceFailed({ mcid: Mcid.toString(mcid), cause: e._tag === "AnnounceFailed" ? e.cause : e._tag }))
        )
        return mcid
      }),
    get: (m, options = {}) =>
      Effect.gen(function*() {
        const { mcid, store } = yield* fetched(m, options)
        const bytes = yield* store.read(mcid)
        if (bytes._tag === "None") return yield* Effect.fail(new ContentNotFound({ mcid: Mcid.toString(mcid), message: "collected before it was read" }))
        return bytes.value
      }),
    fetch: (m, options = {}) =>
      Effect.gen(function*() {
        const { mcid, store } = yield* fetched(m, options)
        const gone = () => new ContentNotFound({ mcid: Mcid.toString(mcid), message: "collected before it was checked" })
        if (mcid.codec === "manifest") {
          const progress = yield* store.progress(mcid)
          if (progress._tag !== "chunked" || !progress.complete) return yield* Effect.fail(gone())
          return { size: progress.manifest.size, chunks: progress.manifest.chunkCount }
        }
        // A raw block is at most one chunk: its size is read from the block itself.
        const block = yield* store.getBlock(mcid, { shared: true })
        if (block._tag === "None") return yield* Effect.fail(gone())
        return { size: block.value.length, chunks: 1 }
      }),
    getToFile: (m, path, options = {}) =>
      Effect.gen(function*() {
        const { mcid, store } = yield* fetched(m, options)
        return yield* ContentStoreActor.writeToFile(store, mcid, path)
      }),
    pause: control("Pause"),
    resume: control("Resume"),
    cancel: control("Cancel"),
    stats: () =>
      Effect.gen(function*() {
        const ask = <A>(ref: Actor.ActorRef<any> | undefined, make: (reply: Actor.Reply<A>) => unknown) =>
          ref === undefined ? Effect.succeed(undefined) : Effect.orElseSucceed(ref.call<A>(make as never, { timeoutMs: 1_000 }), () => undefined)
        const now = yield* Clock.currentTimeMillis
        return {
          did: deps.identity.did,
          store: wiring.store === undefined ? undefined : yield* wiring.store.usage,
          serve: yield* ask<ContentServeActor.Stats>(wiring.serve, (reply) => ({ _tag: "Stats", reply })),
          announcer: yield* ask<ContentAnnouncerActor.Stats>(wiring.announcer, (reply) => ({ _tag: "Stats", reply })),
          transfers: [...transfers.values()].map((t) => ({ mcid: t.key, paused: t.paused, runs: t.runs, progress: t.last })),
          blacklisted: [...blacklist].filter(([, until]) => until > now).map(([did]) => did)
        }
      }),
    sink,
    attach: (handle) => void handle.subscribe("content", sink),
    store: () => wiring.store,
    fetches: () => wiring.fetches
  }

  return { spec, api, startTree }
}

const pick = <T extends object>(from: object, like: T): Partial<T> =>
  Object.fromEntries(Object.entries(from).filter(([k]) => k in like)) as Partial<T>

/**
 * Starts the content subtree in the current scope (without a parent supervisor): tests and
 * tools. The node includes `make(deps).spec` in its root instead.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  deps: Deps
): Effect.Effect<{ readonly supervisor: Supervisor.SupervisorRef; readonly api: Api }, ConfigError | StartFailed | NameTaken | ContentStoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const { api, startTree } = make(deps)
    const supervisor = yield* startTree
    return { supervisor, api }
  })

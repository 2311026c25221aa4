/**
 * Content transfer wired into the node (PROTOCOL.md §10.3, §10.5, §12): the glue between
 * `ContentSupervisor` and the rest of the node. It wires in the subtree's two ports and builds
 * the node's `putContent` / `getContent` / `pushContent` on top of its API, and the `content`
 * slot that starts the subtree. The parts live beside it:
 * - `./ContentDirectory.ts`: the DHT records (provider and endpoint records, the station's proxy
 *   for clients) and the subtree's DHT port;
 * - `./ContentRoutes.ts`: where a content session goes (a provider's or a recipient's
 *   connection, and which part takes an inbound frame);
 * - `./ContentPush.ts`: offering content and accepting offers (push upload);
 * - `./ContentRelay.ts`: relayed sessions and the station's relay; `./ContentAuthority.ts`:
 *   UCAN authority on content.
 *
 * **DHT port.** Providers are `content-provider` records (§10.3), signed with the node key:
 * `d = {m, sz, n, st, a}`, key = SHA-256(`content-provider` 0x00 ‖ MCID), TTL
 * `contentProviderTtlMs`, `seq` = signing time in ms (strictly increasing per node).
 * - Stations run the Kademlia store and lookup themselves (`DhtSupervisor`: `putRecord`,
 *   `findValue(key, "content-provider")`); `st` is the station itself, `a` its listen address.
 * - Clients go through their home station's proxy (§10.5): `dht.put` to announce, `dht.get` to
 *   find providers, on the client's `dht` lane; the replies come back through `sinks.dht`.
 *   `st` is the home station, `a` is empty (clients never listen).
 *
 * **Transport port.** A provider is reached over the home station's connection when it is the
 * home station, over an existing ready connection, or by dialling a station's address. A
 * provider that is itself a client is reached through stations: a content session relayed by
 * the home station (a client fetching) or by the provider's station (a station fetching), whose
 * first frame names the provider in `to` (§12.3; `./ContentRelay.ts`). Stations relay such
 * sessions for their clients and for each other (`actors/ContentRelayActor.ts`), and a client
 * that provides content publishes its endpoint record so that other stations find its station.
 *
 * **Push upload (§12.6) and upload to the station (§12.5 `uploadToStation`).** One mechanism:
 * the sender offers content X to a recipient R with an unsolicited `content.have {y: true, sz}`
 * on a new content session to R, repeated every `pushRepeatMs` while it waits (so relays do
 * not close the quiet session). R decides with `acceptPushFrom` (the pure core
 * `src/protocols/content/Push.ts`); if admitted it pulls X with its ordinary fetch (every block
 * verified before it is stored; a sender that is the session's peer tried first), pins it and answers
 * `content.have {m: X, y: true}`, which resolves the sender's push; refused, busy or failed, it
 * answers `y: false` and the sender fails `PushFailed` at once. No answer within the timeout
 * fails `PushFailed` too (`reason: "timeout"`).
 * - `put` on a client with `uploadToStation` pushes to the home station (a station accepts its
 *   attached clients by default), so the content outlives the client: `macula put` can exit
 *   and another client's `get` finds the station through its record (or as its home station).
 *   A station also announces itself as a provider before it answers.
 * - `push(mcid, { to })` pushes held content to any node: the home station or a node this one has
 *   a connection to directly; any other station directly too, dialled at the addresses of its
 *   `station` record (a client stamps `from` with its own key there: it is a visitor, not one of
 *   that station's attached clients, so that station's default refuses it); another client
 *   through the home station's relay (a session with `to`, §12.3; the home station stamps `from`
 *   so R knows the sender); a station pushing to a client behind another station goes through
 *   that station (the client's endpoint record).
 * - A client whose `acceptPushFrom` admits anyone publishes its endpoint record (as a provider
 *   does), so that stations other than its own can relay offers to it; on arrival `onPushed` is
 *   called and `getContent` reads the content locally.
 *
 * **Quota.** A station's store keeps at most `stationContentMaxBytes`. An upload is pinned for
 * `stationUploadPinMs` after it completes, then evictable least recently used first; an offer
 * is answered `y: false` only when content still pinned fills the quota (its fetch ends at the
 * first refused chunk).
 *
 * @since 0.1.0
 */
import { join } from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as ConnectionActor from "../../actors/ConnectionActor.ts"
import type * as DhtRpc from "../../actors/DhtRpc.ts"
import * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import type * as TransportSupervisor from "../../supervisors/TransportSupervisor.ts"
import type * as Mcid from "../content/Mcid.ts"
import type { McidError } from "../content/McidError.ts"
import * as ContentStore from "../platform/content/ContentStore.ts"
import type { ContentStoreError } from "../platform/content/Errors.ts"
import type * as Push from "../protocols/content/Push.ts"
import type * as ContentAuthority from "./ContentAuthority.ts"
import * as ContentDirectory from "./ContentDirectory.ts"
import * as ContentPush from "./ContentPush.ts"
import type { PushContentError, PushContentOptions, PushedContent, UploadFailed } from "./ContentPush.ts"
import * as ContentRelay from "./ContentRelay.ts"
import * as ContentRoutes from "./ContentRoutes.ts"
import type { ConnectionLost, NodeStopped } from "./Errors.ts"
import { ContentNotFound, Unauthorized } from "./Errors.ts"

type Handle = ConnectionActor.Handle
type Sink = ConnectionActor.Sink

export {
  /**
   * The DHT key of the `content-provider` records of `mcid` (`./ContentDirectory.ts`).
   *
   * @since 0.1.0
   * @category keys
   */
  providerKey,
  /**
   * The signed `content-provider` record of `mcid` (§10.3), or an `Error` (`./ContentDirectory.ts`).
   *
   * @since 0.1.0
   * @category constructors
   */
  providerRecord,
  /**
   * Providers named by `content-provider` records, as a fetch can use them (`./ContentDirectory.ts`).
   *
   * @since 0.1.0
   * @category getters
   */
  providersOf
} from "./ContentDirectory.ts"
export {
  /**
   * A push (`pushContent`, §12.6) declined by its recipient or unanswered in time (`./ContentPush.ts`).
   *
   * @since 0.1.0
   * @category errors
   */
  PushFailed,
  /**
   * The home station did not take a client's upload (`./ContentPush.ts`).
   *
   * @since 0.1.0
   * @category errors
   */
  UploadFailed
} from "./ContentPush.ts"
export type {
  /**
   * Errors of `pushContent` (`./ContentPush.ts`).
   *
   * @since 0.1.0
   * @category errors
   */
  PushContentError,
  /**
   * Options of `pushContent` (`./ContentPush.ts`).
   *
   * @since 0.1.0
   * @category models
   */
  PushContentOptions,
  /**
   * Content that arrived by push, given to `onPushed` (`./ContentPush.ts`).
   *
   * @since 0.1.0
   * @category models
   */
  PushedContent
} from "./ContentPush.ts"

/**
 * Progress of a `getContent`, given to `onProgress` (bytes, chunks, rate, providers in use).
 *
 * @since 0.1.0
 * @category models
 */
export type ContentProgress = ContentSupervisor.Progress

/**
 * Options of `getContent`.
 *
 * @since 0.1.0
 * @category models
 */
export interface GetContentOptions {
  /** Called on every stored chunk. */
  readonly onProgress?: (progress: ContentProgress) => void
}

/**
 * Errors of `putContent`.
 *
 * @since 0.1.0
 * @category errors
 */
export type PutContentError = ContentSupervisor.PutError | UploadFailed | ConnectionLost | NodeStopped

/**
 * Errors of `getContent`.
 *
 * @since 0.1.0
 * @category errors
 */
export type GetContentError =
  | McidError
  | ContentNotFound
  | ContentSupervisor.FetchCancelled
  | ContentSupervisor.ContentUnavailable
  | Unauthorized
  | ContentStoreError
  | NodeStopped

/**
 * What the glue needs from the node. Functions are read at each use, so they see the current
 * transport and station link.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly role: "station" | "client"
  readonly identity: {
    readonly did: string
    readonly publicKey: Uint8Array
    readonly sign: (message: Uint8Array) => Uint8Array
  }
  /** The running transport subtree (registry and dialer). */
  readonly transport: () => TransportSupervisor.TransportTree | undefined
  /** Stations: the DHT. */
  readonly dht?: DhtSupervisor.Dht
  /** Clients: the home station now. */
  readonly home?: () => { readonly did: string; readonly handle: Handle } | undefined
  /** Stations: the addresses put in `a` of their records. */
  readonly addresses?: () => Effect.Effect<ReadonlyArray<string>>
  /** Blocks kept under `dataDir/content`; absent: in memory. */
  readonly dataDir?: string
  /** Subtree and core knob overrides. */
  readonly config?: ContentSupervisor.Deps["config"]
  /** `contentProviderTtlMs`. Unit: ms. @default 3_600_000 */
  readonly contentProviderTtlMs?: number
  /** Clients push new content to their home station (§12.5). @default true */
  readonly uploadToStation?: boolean
  /** How long a client waits for its station to take an upload. Unit: ms. @default 300_000 */
  readonly uploadTimeoutMs?: number
  /** Whom pushes are accepted from (§12.6, §16). @default a station its attached clients, a client nobody */
  readonly acceptPushFrom?: Push.Policy
  /** How long `push` waits for the recipient to hold the content. Unit: ms. @default 300_000 */
  readonly pushTimeoutMs?: number
  /**
   * A waiting sender repeats its offer this often: relays close a session silent for their
   * `idleMs` (60 s), and a repeat is a no-op at the recipient. Unit: ms. @default 15_000
   */
  readonly pushRepeatMs?: number
  /** Pushes pulled at once; more offers are answered `y: false`. @default 16 */
  readonly maxPushPulls?: number
  /** Called when content arrived by push; must not throw or block. */
  readonly onPushed?: (pushed: PushedContent) => void
  /** A `dht.get` / `dht.put` through the station, answered or not. Unit: ms. @default 15_000 */
  readonly proxyTimeoutMs?: number
  /** The store, instead of one under `dataDir` (tests: a store that misbehaves). */
  readonly store?: ContentSupervisor.StoreDeps
  /** Most bytes of blocks the store keeps (stations: `stationContentMaxBytes`). @default unbounded */
  readonly quotaBytes?: number
  /** Every frame the serving side receives and sends (tests, metrics). */
  readonly onServeFrame?: ContentSupervisor.Deps["onServeFrame"]
  /** Given the subtree's API once built (tests and tools: cancel, stats). */
  readonly onApi?: (api: ContentSupervisor.Api) => void
  /** Stations: limits of the relay of content sessions between clients (§12.3). */
  readonly relay?: ContentRelay.RelayOptions
  /** Clients: `endpointRecordTtlMs` of the endpoint record published with content. Unit: ms. @default 900_000 */
  readonly endpointRecordTtlMs?: number
  /**
   * UCAN authority on content (§13.3 `/content/get`, `/content/put`; `./ContentAuthority.ts`):
   * members-only serving, the `au` of fetches and offers, a station's check of offers.
   * @default none: open serving, nothing presented, offers judged by `acceptPushFrom` only
   */
  readonly authority?: ContentAuthority.NodeAuthority
}

/**
 * What a node's hooks may override in its content part.
 *
 * @since 0.1.0
 * @category models
 */
export type Overrides = Pick<
  Options,
  "config" | "uploadToStation" | "uploadTimeoutMs" | "store" | "onServeFrame" | "onApi" | "relay" | "endpointRecordTtlMs" | "pushRepeatMs" | "maxPushPulls"
>

/**
 * The content part of a node.
 *
 * @since 0.1.0
 * @category models
 */
export interface Content {
  /** The `content` child of the root. */
  readonly slot: NodeSupervisor.Slot
  /** `sinks.content` for the transport. */
  readonly sink: Sink
  /** Clients: `sinks.dht` for the transport (replies of the station's DHT proxy). */
  readonly dhtSink: Sink
  readonly put: (input: Uint8Array | string) => Effect.Effect<Mcid.Mcid, PutContentError>
  /** Offers held content to `options.to` and waits until it holds it (§12.6). */
  readonly push: (mcid: Mcid.Mcid | string, options: PushContentOptions) => Effect.Effect<void, PushContentError>
  readonly get: (mcid: Mcid.Mcid | string, options?: GetContentOptions) => Effect.Effect<Uint8Array, GetContentError>
  /** `get`, written to `path` chunk by chunk; returns the size. */
  readonly getToFile: (mcid: Mcid.Mcid | string, path: string, options?: GetContentOptions) => Effect.Effect<number, GetContentError>
  /** The subtree's API (stats, pause, resume, cancel). */
  readonly api: ContentSupervisor.Api
  /** The DHT port given to the subtree (tests). */
  readonly dhtPort: ContentSupervisor.DhtPort
  /**
   * The valid records under `key` (of type `ty`): a value lookup on a station, a `dht.get` through
   * the home station's proxy on a client (§10.5). Also used by direct-mode calls (`./DirectCall.ts`).
   */
  readonly findRecords: (key: Uint8Array, ty?: DhtRpc.RecordType) => Effect.Effect<ReadonlyArray<DhtRpc.SignedRecord>, unknown>
  /**
   * Stores a signed record: on a station through its own DHT, on a client by `dht.put` through
   * the home station's proxy (§10.5). Succeeds with the acks, fails when it was not stored.
   */
  readonly putRecord: (record: DhtRpc.SignedRecord) => Effect.Effect<number, unknown>
}

/** `ContentNotFound` and `ContentUnauthorized` of the subtree as the node's errors. */
const notFound = <A, E>(effect: Effect.Effect<A, E | ContentSupervisor.ContentNotFound | ContentSupervisor.ContentUnauthorized>) =>
  Effect.catchTags(
    effect as Effect.Effect<A, ContentSupervisor.ContentNotFound | ContentSupervisor.ContentUnauthorized>,
    {
      ContentNotFound: (e) => Effect.fail(new ContentNotFound({ mcid: e.mcid })),
      // Every provider found is members-only and refused this node (§13.3 `/content/get`).
      ContentUnauthorized: (e) => Effect.fail(new Unauthorized({ operation: "getContent", reason: e.reason, detail: e.mcid }))
    }
  ) as Effect.Effect<A, Exclude<E, ContentSupervisor.ContentNotFound | ContentSupervisor.ContentUnauthorized> | ContentNotFound | Unauthorized>

/**
 * Builds the content part of a node. Nothing runs until `slot.start` does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Content => {
  const self = options.identity.did
  // Set by `slot.start`: the scope of the running subtree, and (stations) the relay of content
  // sessions between clients (§12.3), while the subtree runs.
  let scope: Scope.Scope | undefined
  let relay: ContentRelay.Running | undefined

  const registryHandle = ContentRoutes.readyHandle(() => options.transport())
  const directory = ContentDirectory.make(options, { handle: registryHandle, store: () => subtree.api.store() })
  const routes = ContentRoutes.make(options, { handle: registryHandle, findRecords: directory.findRecords, stationOf: directory.stationOf })

  // --- The subtree -----------------------------------------------------------------------------

  const quota = options.quotaBytes === undefined ? {} : { quotaBytes: options.quotaBytes }
  const subtree = ContentSupervisor.make({
    identity: { did: self },
    transport: { connect: routes.connect },
    dht: directory.dhtPort,
    ...(options.store !== undefined
      ? { store: options.store }
      : options.dataDir !== undefined
      ? { store: { dir: join(options.dataDir, "content"), ...quota } }
      : options.quotaBytes === undefined ? {} : { store: ContentStore.layerMemory(quota) }),
    ...(options.config === undefined ? {} : { config: options.config }),
    ...(options.onServeFrame === undefined ? {} : { onServeFrame: options.onServeFrame }),
    ...(options.authority?.serve === undefined ? {} : { serveAdmission: { judge: options.authority.serve } }),
    ...(options.authority?.fetch === undefined ? {} : { fetchAuthority: options.authority.fetch }),
    hints: () => {
      const home = options.home?.()
      return home === undefined ? [] : [{ did: home.did }]
    }
  })

  options.onApi?.(subtree.api)

  const pushes = ContentPush.make(options, {
    api: subtree.api,
    announce: directory.dhtPort.announce,
    handle: registryHandle,
    routeTo: routes.routeTo,
    scope: () => scope
  })

  const sink = ContentRoutes.inboundSink({
    handle: registryHandle,
    relay: () => relay,
    offered: pushes.offered,
    offerReceived: pushes.offerReceived,
    serve: (inbound) => subtree.api.sink(inbound)
  })

  // --- Operations ----------------------------------------------------------------------------

  return {
    slot: {
      start: () =>
        Effect.andThen(
          Effect.tap(Effect.scope, (s) =>
            Effect.gen(function*() {
              scope = s
              if (options.role === "station") {
                relay = yield* ContentRelay.relay({ self, handle: registryHandle, dht: options.dht, ...(options.relay === undefined ? {} : { config: options.relay }) }, s)
              } else if (pushes.acceptsAnyone) {
                // A client that accepts pushes keeps its endpoint record (home station) published,
                // so that other stations can relay offers here.
                yield* Effect.forkIn(directory.endpointKeeper, s)
              }
            })),
          subtree.startTree
        ),
      kind: "supervisor"
    },
    sink,
    dhtSink: directory.dhtSink,
    put: (input) =>
      Effect.gen(function*() {
        const mcid = yield* subtree.api.put(input)
        if (options.role === "client" && options.uploadToStation !== false) yield* pushes.upload(mcid)
        return mcid
      }),
    push: pushes.push,
    get: (mcid, getOptions = {}) =>
      notFound(subtree.api.get(mcid, getOptions.onProgress === undefined ? {} : { onProgress: getOptions.onProgress })),
    getToFile: (mcid, path, getOptions = {}) =>
      notFound(subtree.api.getToFile(mcid, path, getOptions.onProgress === undefined ? {} : { onProgress: getOptions.onProgress })),
    api: subtree.api,
    dhtPort: directory.dhtPort,
    findRecords: directory.findRecords,
    putRecord: directory.putRecord
  }
}

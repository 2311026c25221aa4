/**
 * Content transfer wired into the node (PROTOCOL.md §10.3, §10.5, §12): the glue between
 * `ContentSupervisor` and the rest of the node. It builds the subtree's two ports and the node's
 * `putContent` / `getContent` on top of its API.
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
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as ConnectionActor from "../../actors/ConnectionActor.ts"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import type * as TransportSupervisor from "../../supervisors/TransportSupervisor.ts"
import * as Mcid from "../content/Mcid.ts"
import type { McidError } from "../content/McidError.ts"
import * as Did from "../identity/Did.ts"
import { DidError } from "../identity/DidError.ts"
import * as ContentStore from "../platform/content/ContentStore.ts"
import type { ContentStoreShape } from "../platform/content/ContentStore.ts"
import type { ContentStoreError } from "../platform/content/Errors.ts"
import * as Push from "../protocols/content/Push.ts"
import * as Relay from "../protocols/content/Relay.ts"
import * as StationRecord from "../protocols/dht/StationRecord.ts"
import type { ContentHave, Frame } from "../wire/Frame.ts"
import * as ContentAuthority from "./ContentAuthority.ts"
import * as ContentRelay from "./ContentRelay.ts"
import { ConfigError, ConnectionLost, ContentNotFound, NodeStopped, Unauthorized } from "./Errors.ts"
import { signedRecord } from "./SignedRecord.ts"

type Handle = ConnectionActor.Handle
type Sink = ConnectionActor.Sink

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
 * The home station did not take the upload (it refused the offer, or its fetch failed). The
 * content is stored locally and announced; only the copy on the station is missing.
 *
 * @since 0.1.0
 * @category errors
 */
export class UploadFailed extends Data.TaggedError("UploadFailed")<{ readonly mcid: string; readonly reason: string }> {
  override get message(): string {
    return `${this.mcid}: upload to the home station failed: ${this.reason}`
  }
}

/**
 * A push (`pushContent`, §12.6) did not complete: the recipient declined it (`acceptPushFrom`
 * does not admit this node, it is busy, or its pull failed: it answered `y: false`), or it did
 * not answer within the push timeout (`timeout`). The content stays stored here.
 *
 * @since 0.1.0
 * @category errors
 */
export class PushFailed extends Data.TaggedError("PushFailed")<{
  readonly mcid: string
  /** The recipient's DID. */
  readonly to: string
  readonly reason: "declined" | "timeout"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.mcid}: push to ${this.to} failed (${this.reason}): ${this.detail}`
  }
}

/**
 * Options of `pushContent`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PushContentOptions {
  /** The recipient's DID. */
  readonly to: string
  /** How long to wait for the recipient to hold the content. Unit: ms. @default the node's `pushTimeoutMs` */
  readonly timeoutMs?: number
}

/**
 * Errors of `pushContent`.
 *
 * @since 0.1.0
 * @category errors
 */
export type PushContentError = McidError | DidError | ConfigError | ContentNotFound | PushFailed | Unauthorized | ConnectionLost | NodeStopped

/**
 * Content that arrived by push (§12.6), given to `onPushed`: it is whole in the store, pinned,
 * and `getContent` reads it locally.
 *
 * @since 0.1.0
 * @category models
 */
export interface PushedContent {
  readonly mcid: string
  /** The sender's DID. */
  readonly from: string
  /** Its size as the sender offered it, in bytes. */
  readonly size: number | undefined
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

/**
 * The DHT key of the `content-provider` records of `mcid`: SHA-256(`content-provider` 0x00 ‖ MCID).
 *
 * @since 0.1.0
 * @category keys
 */
export const providerKey = (mcid: Mcid.Mcid): Uint8Array => {
  const tag = new TextEncoder().encode("content-provider")
  const material = new Uint8Array(tag.length + 1 + Mcid.byteLength)
  material.set(tag, 0)
  material.set(Mcid.bytes(mcid), tag.length + 1)
  return DhtRpc.sha256(material)
}

/**
 * The signed `content-provider` record of `mcid` (§10.3), or an `Error` if it does not encode.
 *
 * @since 0.1.0
 * @category constructors
 */
export const providerRecord = (input: {
  readonly mcid: Mcid.Mcid
  readonly size: number
  readonly chunks: number
  readonly station: Uint8Array
  readonly addresses: ReadonlyArray<string>
  readonly publicKey: Uint8Array
  readonly sign: (message: Uint8Array) => Uint8Array
  readonly seq: number
  readonly now: number
  readonly ttlMs: number
}): DhtRpc.SignedRecord | Error => {
  const body = {
    ty: "content-provider" as const,
    key: providerKey(input.mcid),
    pk: input.publicKey,
    seq: input.seq,
    iat: input.now,
    exp: input.now + input.ttlMs,
    d: { m: Mcid.bytes(input.mcid), sz: input.size, n: input.chunks, st: input.station, a: [...input.addresses] }
  }
  return signedRecord(body, input.sign)
}

/**
 * Providers named by `content-provider` records, as a fetch can use them: stations (with an
 * address to dial) and the clients `reachable` admits (a client node reaches every client through
 * its home station, a relayed session). Our own record is left out. Pure.
 *
 * @since 0.1.0
 * @category getters
 */
export const providersOf = (
  records: ReadonlyArray<DhtRpc.SignedRecord>,
  self: string,
  reachable: (did: string) => boolean
): ReadonlyArray<ContentSupervisor.ProviderRef> => {
  const out: Array<ContentSupervisor.ProviderRef> = []
  const seen = new Set<string>([self])
  for (const record of records) {
    if (record.body.ty !== "content-provider") continue
    const did = Did.fromPublicKeyUnsafe(record.body.pk)
    if (seen.has(did)) continue
    const address = record.body.d.a[0]
    if (address !== undefined) out.push({ did, address })
    else if (reachable(did)) out.push({ did })
    else continue
    seen.add(did)
  }
  return out
}

/** Where an offer goes (see `routeTo` in `make`). */
interface OfferRoute {
  readonly handle: Handle
  /** A session spliced by stations (its first frame carries `to`). */
  readonly relayed: boolean
  /** A client offering on a connection to a station other than its home one. */
  readonly visiting: boolean
  /** A connection this node dialled only to push: closed when its last push ends. */
  readonly dialled: boolean
}

/** What reading `station` records needs: the key hash and the §16 clock leeway. */
const stationRecordConfig = { sha256: DhtRpc.sha256, clockSkewLeewayMs: 60_000 }

/** Size and chunk count of content held whole in `store`. */
const sizeOf = (store: ContentStoreShape, mcid: Mcid.Mcid): Effect.Effect<{ readonly size: number; readonly chunks: number }, unknown> =>
  Effect.gen(function*() {
    if (mcid.codec === "manifest") {
      const manifest = yield* store.getManifest(mcid)
      if (Option.isNone(manifest)) return yield* Effect.fail(new Error("manifest not held"))
      return { size: manifest.value.size, chunks: manifest.value.chunkCount }
    }
    // A raw block is at most one chunk; the store's own bytes do for its length.
    const bytes = yield* store.getBlock(mcid, { shared: true })
    if (Option.isNone(bytes)) return yield* Effect.fail(new Error("block not held"))
    return { size: bytes.value.length, chunks: 1 }
  })

/**
 * Builds the content part of a node. Nothing runs until `slot.start` does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Content => {
  const ttlMs = options.contentProviderTtlMs ?? 3_600_000
  const proxyTimeoutMs = options.proxyTimeoutMs ?? 15_000
  const uploadTimeoutMs = options.uploadTimeoutMs ?? 300_000
  const self = options.identity.did
  let lastSeq = 0
  let scope: Scope.Scope | undefined
  // Stations: the relay of content sessions between clients (§12.3), while the subtree runs.
  let relay: ContentRelay.Running | undefined
  // Providers that are clients, by DID: their station's DID (`st` of their records).
  const stationOf = new Map<string, string>()
  // Clients: the endpoint record last published (home station, when), so relays find us.
  let endpoint: { readonly station: string; readonly at: number } | undefined

  const registryHandle = (did: string): Effect.Effect<Handle | undefined> =>
    Effect.suspend(() => {
      const tree = options.transport()
      if (tree === undefined) return Effect.succeed(undefined)
      return Effect.map(tree.registry.lookup(did), (h) => (h !== undefined && h.status().phase === "ready" ? h : undefined))
    })

  // --- DHT ----------------------------------------------------------------------------------

  const proxy = DhtRpc.make({
    timeoutMs: proxyTimeoutMs,
    maxPending: 1_024,
    connect: () =>
      Effect.suspend(() => {
        const home = options.home?.()
        return home === undefined
          ? Effect.fail(new ConnectionLost({ code: "unreachable", reason: "no home station" }))
          : Effect.succeed(home.handle)
      }),
    open: DhtRpc.openRecord()
  })
  const homeInfo = (): DhtRpc.Info | undefined => {
    const home = options.home?.()
    return home === undefined ? undefined : { pk: Did.toPublicKey(home.did), addrs: [] }
  }

  const findRecords = (key: Uint8Array, ty?: DhtRpc.RecordType): Effect.Effect<ReadonlyArray<DhtRpc.SignedRecord>, unknown> =>
    Effect.gen(function*() {
      const dht = options.dht
      if (dht !== undefined) return (yield* dht.findValue(key, ty)).records
      const to = homeInfo()
      if (to === undefined) return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: "no home station" }))
      const answer = yield* proxy.request(to, ty === undefined ? { _tag: "Get", key } : { _tag: "Get", key, ty })
      return answer.response._tag === "Value" ? answer.response.records : []
    })

  /** Clients: (re)publishes our endpoint record (`st` = home) unless a fresh one is out. */
  const publishEndpoint = (to: DhtRpc.Info) =>
    Effect.gen(function*() {
      const home = options.home?.()
      const ttl = options.endpointRecordTtlMs ?? 900_000
      const now = Date.now()
      if (home === undefined || (endpoint?.station === home.did && now - endpoint.at < ttl / 2)) return
      lastSeq = Math.max(lastSeq + 1, now)
      const record = ContentRelay.endpointRecord({
        publicKey: options.identity.publicKey, stations: [to.pk], sign: (m) => options.identity.sign(m), seq: lastSeq, now, ttlMs: ttl
      })
      if (record instanceof Error) return yield* Effect.fail(record)
      const answer = yield* proxy.request(to, { _tag: "Put", record })
      const r = answer.response
      if (r._tag !== "StoreAck" || !r.ok) return yield* Effect.fail(new Error(`the station refused the endpoint record: ${r._tag}`))
      endpoint = { station: home.did, at: now }
    })

  const signFor = (mcid: Mcid.Mcid) =>
    Effect.gen(function*() {
      const store = content.api.store()
      if (store === undefined) return yield* Effect.fail(new Error("content subtree not running"))
      const { size, chunks } = yield* sizeOf(store, mcid)
      const now = Date.now()
      lastSeq = Math.max(lastSeq + 1, now)
      const dht = options.dht
      const station = dht !== undefined ? options.identity.publicKey : homeInfo()?.pk
      if (station === undefined) return yield* Effect.fail(new Error("no home station"))
      const addresses = dht !== undefined && options.addresses !== undefined ? yield* options.addresses() : []
      const record = providerRecord({
        mcid, size, chunks, station, addresses, publicKey: options.identity.publicKey, sign: (message) => options.identity.sign(message),
        seq: lastSeq, now, ttlMs
      })
      if (record instanceof Error) return yield* Effect.fail(record)
      return record
    })

  const reachableClient = (did: string): boolean => {
    // A station can reach its own attached clients; a client only its home station.
    // Any other client provider is reached through the home station (a relayed session).
    if (options.role === "client") return options.home?.() !== undefined
    const tree = options.transport()
    return tree !== undefined
  }

  // A throw inside a port would end the caller's fiber without an answer (the announcer waits
  // on its first outcome): defects come back as failures.
  const guarded = <A>(effect: Effect.Effect<A, unknown>): Effect.Effect<A, unknown> =>
    Effect.catchDefect(effect, (defect) => Effect.fail(defect))

  const dhtPort: ContentSupervisor.DhtPort = {
    announce: (mcid) =>
      guarded(Effect.gen(function*() {
        const record = yield* signFor(mcid)
        const dht = options.dht
        if (dht !== undefined) {
          const stored = yield* dht.store(record)
          if (!stored.ok) return yield* Effect.fail(new Error(`store reached ${stored.acks} of ${stored.candidates} stations`))
          return
        }
        const to = homeInfo()
        if (to === undefined) return yield* Effect.fail(new Error("no home station"))
        const answer = yield* proxy.request(to, { _tag: "Put", record })
        const r = answer.response
        if (r._tag !== "StoreAck" || !r.ok) {
          return yield* Effect.fail(new Error(`the station refused the record: ${r._tag === "StoreAck" ? r.why ?? "not stored" : r._tag}`))
        }
        // Best effort: without it only stations other than ours cannot relay to us; the next
        // announcement (renewal) tries again.
        yield* Effect.ignore(publishEndpoint(to))
      })),
    findProviders: (mcid) =>
      guarded(Effect.gen(function*() {
        if (options.dht === undefined && homeInfo() === undefined) return []
        const records = yield* findRecords(providerKey(mcid), "content-provider")
        const found = providersOf(records, self, reachableClient)
        for (const record of records) {
          if (record.body.ty === "content-provider" && record.body.d.a.length === 0) {
            stationOf.set(Did.fromPublicKeyUnsafe(record.body.pk), Did.fromPublicKeyUnsafe(record.body.d.st))
          }
        }
        // A station reaches a client provider while it is attached here, or through its station.
        const usable: Array<ContentSupervisor.ProviderRef> = []
        for (const p of found) {
          const st = stationOf.get(p.did)
          if (
            p.address !== undefined || options.role === "client" || (yield* registryHandle(p.did)) !== undefined ||
            (st !== undefined && (yield* registryHandle(st)) !== undefined)
          ) usable.push(p)
        }
        return usable
      }))
  }

  // --- Transport ----------------------------------------------------------------------------

  const connect = (provider: ContentSupervisor.ProviderRef): Effect.Effect<Handle, unknown> =>
    Effect.gen(function*() {
      const home = options.home?.()
      if (home !== undefined && home.did === provider.did) return home.handle
      const existing = yield* registryHandle(provider.did)
      if (existing !== undefined) return existing
      const tree = options.transport()
      if (tree === undefined) return yield* Effect.fail(new ConnectionLost({ code: "transport_restarting", reason: "the transport is restarting" }))
      if (provider.address === undefined) {
        // A client behind a station: a session relayed by our home station or by its station (§12.3).
        const st = stationOf.get(provider.did)
        const via = home?.handle ?? (st === undefined ? undefined : yield* registryHandle(st))
        if (via !== undefined) return ContentRelay.relayedHandle(via, provider.did)
        return yield* Effect.fail(new ConnectionLost({
          code: "unreachable",
          reason: `${provider.did} is a client behind a station this node has no connection to`,
          peer: provider.did
        }))
      }
      return yield* tree.dialer.dial(provider.address, { expectedDid: provider.did })
    })

  // --- The subtree -----------------------------------------------------------------------------

  const quota = options.quotaBytes === undefined ? {} : { quotaBytes: options.quotaBytes }
  const subtree = ContentSupervisor.make({
    identity: { did: self },
    transport: { connect },
    dht: dhtPort,
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

  // --- Push upload (§12.6) ------------------------------------------------------------------

  const haveFrame = (m: Uint8Array, y: boolean): Frame => ({ t: "content.have", h: [{ m, y }] })
  const didOf = (key: Uint8Array): string | undefined => (key.length === 32 ? Did.fromPublicKeyUnsafe(key) : undefined)

  // Recipient: the pure core, and the reply of every offer session it still has to answer.
  const pushStep = Push.make({ policy: options.acceptPushFrom ?? Push.defaultPolicy(options.role), maxPulls: options.maxPushPulls ?? 16 })
  let pushState = Push.initial
  const offerReplies = new Map<string, (frame: Frame) => Effect.Effect<void, unknown>>()

  const feedPush = (event: Push.Event): Effect.Effect<void> =>
    Effect.suspend(() => {
      const [next, commands] = pushStep(pushState, event)
      pushState = next
      return Effect.forEach(commands, interpretPush, { discard: true })
    })

  /** A session the core still waits on keeps its reply; any other is answered and done. */
  const stillWaiting = (session: string): boolean => pushState.sessions.has(session)

  const interpretPush = (command: Push.Command): Effect.Effect<void> =>
    Effect.suspend(() => {
      switch (command._tag) {
        case "Pull": {
          const s = scope
          if (s === undefined) return feedPush(Push.Event.Pulled({ now: Date.now(), m: command.m, ok: false, fresh: false }))
          return Effect.asVoid(Effect.forkIn(Effect.gen(function*() {
            const mcid = Mcid.fromBinary(command.m)
            let ok = false
            let fresh = true
            if (mcid !== undefined) {
              // Content already whole here (a repeated offer arriving after the pull) is answered
              // again but not reported again.
              const store = subtree.api.store()
              if (store !== undefined) fresh = !(yield* Effect.orElseSucceed(Effect.map(store.progress(mcid), (p) => p.complete), () => false))
              // A sender behind stations (named by `from`) is found through its provider record,
              // which says how to reach it (a station's address, a client's station).
              // Fetch only: the content is checked whole in the store, never read into memory.
              const got = yield* Effect.result(subtree.api.fetch(mcid, command.direct ? { hints: [{ did: command.sender }] } : {}))
              // A station also serves what it took to others: it answers once it is announced.
              ok = got._tag === "Success" && (options.role !== "station" || (yield* Effect.result(dhtPort.announce(mcid)))._tag === "Success")
            }
            yield* feedPush(Push.Event.Pulled({ now: Date.now(), m: command.m, ok, fresh }))
          }), s))
        }
        case "Answer": {
          const reply = offerReplies.get(command.session)
          if (!stillWaiting(command.session)) offerReplies.delete(command.session)
          if (reply === undefined) return Effect.void
          const frame = haveFrame(command.m, command.y)
          return scope === undefined ? Effect.ignore(reply(frame)) : Effect.asVoid(Effect.forkIn(Effect.ignore(reply(frame)), scope))
        }
        case "Arrived": {
          const mcid = Mcid.fromBinary(command.m)
          if (mcid !== undefined) options.onPushed?.({ mcid: Mcid.toString(mcid), from: command.sender, size: command.size })
          return Effect.void
        }
      }
    })

  /** Recipient: an unsolicited `content.have {y: true}` on a session a peer opened is an offer. */
  const offerReceived = (inbound: ConnectionActor.Inbound): Effect.Effect<boolean> =>
    Effect.gen(function*() {
      if (inbound.opener !== "peer" || inbound.frame.t !== "content.have" || scope === undefined) return false
      const frame = inbound.frame as ContentHave
      const offered = frame.h.filter((e) => e.y)
      if (offered.length === 0) return false
      const handle = yield* registryHandle(inbound.peerDid)
      const role = handle?.status().peerRole === "client" ? "client" : "station"
      const sender = Push.senderOf(frame, { did: inbound.peerDid, role }, didOf)
      const session = `${inbound.connectionId}/${inbound.stream}`
      const now = Date.now()
      const admitOffer = options.authority?.admitOffer
      if (admitOffer !== undefined && !stillWaiting(session)) {
        // A station with pinned realm authorities takes uploads only with `/content/put` (§13.3),
        // judged on a session's first offer; refused, the session is answered `err unauthorized`.
        for (const entry of offered) {
          const mcid = Mcid.fromBinary(entry.m)
          const verdict = mcid === undefined
            ? { _tag: "Denied" as const, reason: "InvalidClaim" }
            : admitOffer({ peerDid: inbound.peerDid, from: frame.from, au: frame.au, mcid: Mcid.toString(mcid), size: entry.sz })
          if (verdict._tag === "Denied") {
            yield* Effect.ignore(inbound.reply({ t: "err", c: "unauthorized", r: verdict.reason, m: verdict.reason }))
            return true
          }
        }
      }
      for (const entry of offered) {
        // Set again for each entry: an answer to the one before may have dropped it.
        offerReplies.set(session, inbound.reply)
        yield* feedPush(Push.Event.Offered({ now, session, sender, m: entry.m, ...(entry.sz === undefined ? {} : { size: entry.sz }) }))
      }
      if (!stillWaiting(session)) offerReplies.delete(session)
      return true
    })

  /** Frames on the sessions this node opened to offer content, by connection and stream. */
  const offers = new Map<string, (frame: Frame) => void>()
  /** Connections dialled to push (a station other than the home one): pushes using each. */
  const pushDialled = new Map<string, number>()

  /**
   * Where an offer to `to` goes: a connection to it (the home station, one already open, or a
   * station dialled at the addresses of its `station` record), or a station's connection with
   * `to` set. `visiting`: a client offering to a station other than its home one.
   */
  const routeTo = (to: string): Effect.Effect<OfferRoute, ConnectionLost> =>
    Effect.gen(function*() {
      const home = options.home?.()
      const client = options.role === "client"
      const viaHome = { relayed: false, visiting: false, dialled: false }
      if (home !== undefined && home.did === to) return { handle: home.handle, ...viaHome }
      const direct = yield* registryHandle(to)
      if (direct !== undefined) {
        return { handle: direct, relayed: false, visiting: client, dialled: pushDialled.has(direct.connectionId) }
      }
      // A station listens: dial it (stations relay content sessions to clients only).
      const dialled = yield* dialStation(to)
      if (dialled !== undefined) return { handle: dialled, relayed: false, visiting: client, dialled: true }
      // A client: through the home station, which relays to the recipient's station (§12.3).
      const relayed = { relayed: true, visiting: false, dialled: false }
      if (home !== undefined) return { handle: ContentRelay.relayedHandle(home.handle, to), ...relayed }
      // A station: through a station the recipient's endpoint record names and we are linked to.
      const pk = Did.toPublicKey(to)
      const records = yield* Effect.orElseSucceed(findRecords(ContentRelay.endpointKey(pk), "endpoint"), () => [])
      for (const st of ContentRelay.stationsOfRecords(records, to)) {
        const via = yield* registryHandle(st)
        if (via !== undefined) return { handle: ContentRelay.relayedHandle(via, to), ...relayed }
      }
      return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: `no route to ${to}: not connected, no station of it linked here`, peer: to }))
    })

  /**
   * A connection to `to` if it is a station: dialled at the addresses of its `station` record
   * (§10.3; each pinned with its DID), in order. `undefined` when it has no such record (a
   * client); fails when it has one but no address answers.
   */
  const dialStation = (to: string): Effect.Effect<Handle | undefined, ConnectionLost> =>
    Effect.gen(function*() {
      const pk = Did.toPublicKey(to)
      const records = yield* Effect.orElseSucceed(findRecords(StationRecord.key(stationRecordConfig, pk), "station"), () => [])
      const addresses = StationRecord.stationAddresses(stationRecordConfig, records.map((r) => r.body), pk, Date.now())
      if (addresses.length === 0) return undefined
      const tree = options.transport()
      if (tree === undefined) return yield* Effect.fail(new ConnectionLost({ code: "transport_restarting", reason: "the transport is restarting", peer: to }))
      const failures: Array<string> = []
      for (const address of addresses) {
        const dialled = yield* Effect.result(tree.dialer.dial(address, { expectedDid: to }))
        if (dialled._tag === "Success") return dialled.success
        failures.push(`${address}: ${dialled.failure._tag}`)
      }
      return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: `station ${to} did not answer at ${failures.join(", ")}`, peer: to }))
    })

  /**
   * Sender: offers `mcid` to `to` and waits for its answer (§12.6), repeating the offer every
   * `pushRepeatMs`. `None` when nothing settled it within `timeoutMs`.
   */
  const offer = (mcid: Mcid.Mcid, to: string, timeoutMs: number): Effect.Effect<Option.Option<Push.Outcome>, ConnectionLost> =>
    Effect.gen(function*() {
      const route = yield* routeTo(to)
      if (route.dialled) pushDialled.set(route.handle.connectionId, (pushDialled.get(route.handle.connectionId) ?? 0) + 1)
      return yield* Effect.ensuring(offerOn(route, mcid, to, timeoutMs), route.dialled ? letGo(route.handle) : Effect.void)
    })

  /**
   * Ends this push's use of a connection dialled to push: the last one closes it, gracefully,
   * instead of keeping a link to a station this node has no other business with. An answered
   * push has nothing left on it; after a timeout the recipient's pull from this node stops too.
   */
  const letGo = (handle: Handle): Effect.Effect<void> =>
    Effect.suspend(() => {
      const left = (pushDialled.get(handle.connectionId) ?? 1) - 1
      if (left > 0) {
        pushDialled.set(handle.connectionId, left)
        return Effect.void
      }
      pushDialled.delete(handle.connectionId)
      return handle.close()
    })

  /** `offer` on a route found. */
  const offerOn = (route: OfferRoute, mcid: Mcid.Mcid, to: string, timeoutMs: number): Effect.Effect<Option.Option<Push.Outcome>, ConnectionLost> =>
    Effect.gen(function*() {
      const open = route.handle.openSession
      if (open === undefined) return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: "no content sessions on that connection", peer: to }))
      const store = subtree.api.store()
      const size = store === undefined ? undefined : yield* Effect.orElseSucceed(Effect.map(sizeOf(store, mcid), (s) => s.size), () => undefined)
      const lost = (e: { readonly reason: string }) => new ConnectionLost({ code: "unreachable", reason: `content session: ${e.reason}`, peer: to })
      const session = yield* Effect.mapError(open(), lost)
      const key = `${route.handle.connectionId}/${session.stream}`
      const done = Deferred.makeUnsafe<Push.Outcome>()
      const m = Mcid.bytes(mcid)
      offers.set(key, (frame) => {
        const outcome = Push.outcomeOf(frame, m)
        if (outcome !== undefined) Deferred.doneUnsafe(done, Effect.succeed(outcome))
      })
      // A station that starts a relayed offer names itself: the relays keep a station's `from`.
      // A client visiting a station other than its home one names itself too: it is not one of
      // that station's attached clients, whom its default admits (`Push.senderOf`).
      const frame: Frame = (route.relayed && options.role === "station") || route.visiting
        ? { ...Push.offerFrame(m, size), from: options.identity.publicKey }
        : Push.offerFrame(m, size)
      const repeatMs = Math.max(1, options.pushRepeatMs ?? 15_000)
      // The first offer carries the `/content/put` invocation (§13.3), if this node holds one;
      // repeats go without (the session is judged once, and a nonce is used once).
      const au = options.authority?.offer?.(to, mcid, size)
      return yield* Effect.gen(function*() {
        yield* Effect.mapError(session.send(au === undefined ? frame : { ...(frame as ContentHave), au }), lost)
        const repeat = Effect.forever(Effect.andThen(Effect.sleep(repeatMs), Effect.ignore(session.send(frame))))
        return yield* Effect.timeoutOption(Effect.raceFirst(Deferred.await(done), Effect.andThen(repeat, Effect.never)), timeoutMs)
      }).pipe(Effect.ensuring(Effect.andThen(Effect.sync(() => offers.delete(key)), Effect.ignore(session.end))))
    })

  /** Client side of `uploadToStation`: a push to the home station. */
  const upload = (mcid: Mcid.Mcid): Effect.Effect<void, UploadFailed | ConnectionLost> =>
    Effect.gen(function*() {
      const text = Mcid.toString(mcid)
      const home = options.home?.()
      if (home === undefined || home.handle.openSession === undefined) {
        return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: "no home station to upload to" }))
      }
      const answer = yield* offer(mcid, home.did, uploadTimeoutMs)
      if (Option.isNone(answer)) return yield* Effect.fail(new UploadFailed({ mcid: text, reason: `no answer within ${uploadTimeoutMs} ms` }))
      const outcome = answer.value
      if (outcome._tag === "Declined") return yield* Effect.fail(new UploadFailed({ mcid: text, reason: "the station did not take it" }))
      if (outcome._tag === "Unreachable") return yield* Effect.fail(new UploadFailed({ mcid: text, reason: `${outcome.code}: ${outcome.reason}` }))
    })

  /** `pushContent`: checks its input, then offers held content to the recipient. */
  const push = (input: Mcid.Mcid | string, pushOptions: PushContentOptions): Effect.Effect<void, PushContentError> =>
    Effect.gen(function*() {
      const mcid = typeof input === "string" ? Mcid.decode(input) : input
      if (mcid._tag === "McidError") return yield* Effect.fail(mcid)
      const to = (pushOptions as PushContentOptions | undefined)?.to as string
      const pk = typeof to === "string" ? Did.parsePublicKey(to) : new DidError({ code: "invalidDid", message: "pushContent needs { to: DID }" })
      if (!(pk instanceof Uint8Array)) return yield* Effect.fail(pk)
      const asked = pushOptions.timeoutMs
      if (asked !== undefined && !(typeof asked === "number" && asked > 0 && Number.isFinite(asked))) {
        return yield* Effect.fail(new ConfigError({ problems: [`pushContent: timeoutMs must be a positive number of ms (got ${String(asked)})`] }))
      }
      const text = Mcid.toString(mcid)
      const store = subtree.api.store()
      if (store === undefined) return yield* Effect.fail(new NodeStopped({ operation: "pushContent" }))
      // Only what is whole here can be pulled from here.
      if (!(yield* Effect.orElseSucceed(Effect.map(store.progress(mcid), (p) => p.complete), () => false))) {
        return yield* Effect.fail(new ContentNotFound({ mcid: text }))
      }
      if (to === self) return
      const timeoutMs = asked ?? options.pushTimeoutMs ?? 300_000
      const answer = yield* offer(mcid, to, timeoutMs)
      if (Option.isNone(answer)) {
        return yield* Effect.fail(new PushFailed({ mcid: text, to, reason: "timeout", detail: `no answer within ${timeoutMs} ms` }))
      }
      const outcome = answer.value
      if (outcome._tag === "Declined") {
        return yield* Effect.fail(new PushFailed({ mcid: text, to, reason: "declined", detail: "the recipient did not take it (not admitted by its acceptPushFrom, busy, or its pull failed)" }))
      }
      if (outcome._tag === "Unreachable" && outcome.code === "unauthorized") {
        return yield* Effect.fail(new Unauthorized({ operation: "pushContent", reason: outcome.reason, detail: `${to} requires a /content/put invocation for ${text}` }))
      }
      if (outcome._tag === "Unreachable") {
        return yield* Effect.fail(new ConnectionLost({ code: outcome.code, reason: outcome.reason, peer: to }))
      }
    })

  const sink: Sink = (inbound) =>
    Effect.suspend(() => {
      if (inbound.opener === "local") {
        const offered = offers.get(`${inbound.connectionId}/${inbound.stream}`)
        if (offered !== undefined) return Effect.sync(() => offered(inbound.frame))
        if (relay !== undefined) return Effect.flatMap(relay.down(inbound), (taken) => (taken ? Effect.void : subtree.api.sink(inbound)))
        return subtree.api.sink(inbound)
      }
      const local = (i: ConnectionActor.Inbound) => Effect.flatMap(offerReceived(i), (taken) => (taken ? Effect.void : subtree.api.sink(i)))
      const r = relay
      const f = inbound.frame
      const namesPeer = f.t === "content.have" || ((f.t === "content.want" || f.t === "content.manifest_req") && (f.to !== undefined || f.from !== undefined))
      if (!namesPeer) return r === undefined ? local(inbound) : Effect.flatMap(r.up(inbound), (taken) => (taken ? Effect.void : local(inbound)))
      return Effect.gen(function*() {
        // `from` on an offer or a request is the home station's word (§12.6, §13.0): a client's
        // own `from` is replaced by its key, here and on every frame it sends through the relay.
        const peer = yield* registryHandle(inbound.peerDid)
        const upstream = { role: peer?.status().peerRole === "client" ? "client" as const : "station" as const, key: Did.toPublicKey(inbound.peerDid) }
        if (r !== undefined && (yield* r.up({ ...inbound, frame: Relay.stampRelayed(f, upstream) }))) return
        yield* local({ ...inbound, frame: Relay.confineFrom(f, upstream) })
      })
    })

  /**
   * Clients that accept pushes: keep an endpoint record (home station) published, so that other
   * stations can relay offers here. Checked every few seconds; a no-op while a fresh one is out.
   */
  const acceptsAnyone = (() => {
    const p = options.acceptPushFrom ?? Push.defaultPolicy(options.role)
    return p.any || p.dids.length > 0
  })()
  const endpointKeeper: Effect.Effect<void> = Effect.forever(Effect.andThen(
    Effect.suspend(() => {
      const to = homeInfo()
      return to === undefined ? Effect.void : Effect.ignore(publishEndpoint(to))
    }),
    Effect.sleep(5_000)
  ))

  // --- Operations ----------------------------------------------------------------------------

  const notFound = <A, E>(effect: Effect.Effect<A, E | ContentSupervisor.ContentNotFound | ContentSupervisor.ContentUnauthorized>) =>
    Effect.catchTags(
      effect as Effect.Effect<A, ContentSupervisor.ContentNotFound | ContentSupervisor.ContentUnauthorized>,
      {
        ContentNotFound: (e) => Effect.fail(new ContentNotFound({ mcid: e.mcid })),
        // Every provider found is members-only and refused this node (§13.3 `/content/get`).
        ContentUnauthorized: (e) => Effect.fail(new Unauthorized({ operation: "getContent", reason: e.reason, detail: e.mcid }))
      }
    ) as Effect.Effect<A, Exclude<E, ContentSupervisor.ContentNotFound | ContentSupervisor.ContentUnauthorized> | ContentNotFound | Unauthorized>

  const content: Content = {
    slot: {
      start: () =>
        Effect.andThen(
          Effect.tap(Effect.scope, (s) =>
            Effect.gen(function*() {
              scope = s
              if (options.role === "station") {
                relay = yield* ContentRelay.relay({ self, handle: registryHandle, dht: options.dht, ...(options.relay === undefined ? {} : { config: options.relay }) }, s)
              } else if (acceptsAnyone) yield* Effect.forkIn(endpointKeeper, s)
            })),
          subtree.startTree
        ),
      kind: "supervisor"
    },
    sink,
    dhtSink: (inbound) => (inbound.opener === "local" ? proxy.settle(inbound) : Effect.void),
    put: (input) =>
      Effect.gen(function*() {
        const mcid = yield* subtree.api.put(input)
        if (options.role === "client" && options.uploadToStation !== false) yield* upload(mcid)
        return mcid
      }),
    push,
    get: (mcid, getOptions = {}) =>
      notFound(subtree.api.get(mcid, getOptions.onProgress === undefined ? {} : { onProgress: getOptions.onProgress })),
    getToFile: (mcid, path, getOptions = {}) =>
      notFound(subtree.api.getToFile(mcid, path, getOptions.onProgress === undefined ? {} : { onProgress: getOptions.onProgress })),
    api: subtree.api,
    dhtPort,
    findRecords,
    putRecord: (record) =>
      Effect.gen(function*() {
        if (options.dht !== undefined) {
          const stored = yield* options.dht.store(record)
          if (!stored.ok) return yield* Effect.fail(new Error(`store reached ${stored.acks} of ${stored.candidates} stations`))
          return stored.acks
        }
        const to = homeInfo()
        if (to === undefined) return yield* Effect.fail(new ConnectionLost({ code: "unreachable", reason: "no home station" }))
        const r = (yield* proxy.request(to, { _tag: "Put", record })).response
        if (r._tag !== "StoreAck" || !r.ok) {
          return yield* Effect.fail(new Error(`the station refused the record: ${r._tag === "StoreAck" ? r.why ?? "not stored" : r._tag}`))
        }
        return r.acks ?? 1
      })
  }
  return content
}

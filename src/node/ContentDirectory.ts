/**
 * The DHT records of a node's content part (PROTOCOL.md §10.3, §10.5): the `content-provider`
 * records it signs and reads, the endpoint record a client keeps published, and the lookups and
 * stores behind them. A station uses its own DHT; a client goes through its home station's proxy
 * (`dht.get` / `dht.put` on its `dht` lane, replies through `sinks.dht`). Kept apart from
 * `./Content.ts` so that the subtree's DHT port, and the record lookups other parts share
 * (`./ContentRoutes.ts`, `./DirectCall.ts`), read as one piece.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as ConnectionActor from "../../actors/ConnectionActor.ts"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import type * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import * as Mcid from "../content/Mcid.ts"
import * as Did from "../identity/Did.ts"
import type { ContentStoreShape } from "../platform/content/ContentStore.ts"
import type { Options } from "./Content.ts"
import * as ContentRelay from "./ContentRelay.ts"
import { ConnectionLost } from "./Errors.ts"
import { signedRecord } from "./SignedRecord.ts"

type Handle = ConnectionActor.Handle
type Sink = ConnectionActor.Sink

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

/**
 * Size and chunk count of content held whole in `store`: what a provider record and an offer
 * (`./ContentPush.ts`) say of it.
 *
 * @since 0.1.0
 * @category getters
 */
export const sizeOf = (store: ContentStoreShape, mcid: Mcid.Mcid): Effect.Effect<{ readonly size: number; readonly chunks: number }, unknown> =>
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
 * What the directory needs from the node's content options. Functions are read at each use.
 *
 * @since 0.1.0
 * @category models
 */
export type DirectoryOptions = Pick<
  Options,
  "role" | "identity" | "transport" | "dht" | "home" | "addresses" | "contentProviderTtlMs" | "proxyTimeoutMs" | "endpointRecordTtlMs"
>

/**
 * What the directory needs from the rest of the content part.
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectoryPorts {
  /** A ready connection to `did`, if there is one (`./ContentRoutes.ts`). */
  readonly handle: (did: string) => Effect.Effect<Handle | undefined>
  /** The subtree's store while it runs: what provider records describe. */
  readonly store: () => ContentStoreShape | undefined
}

/**
 * The DHT side of a node's content part.
 *
 * @since 0.1.0
 * @category models
 */
export interface Directory {
  /** The DHT port given to the subtree: announce held content, find its providers. */
  readonly dhtPort: ContentSupervisor.DhtPort
  /** Clients: `sinks.dht` for the transport (replies of the station's DHT proxy). */
  readonly dhtSink: Sink
  /** See `Content["findRecords"]` in `./Content.ts`. */
  readonly findRecords: (key: Uint8Array, ty?: DhtRpc.RecordType) => Effect.Effect<ReadonlyArray<DhtRpc.SignedRecord>, unknown>
  /** See `Content["putRecord"]` in `./Content.ts`. */
  readonly putRecord: (record: DhtRpc.SignedRecord) => Effect.Effect<number, unknown>
  /** The station of a provider that is a client (`st` of its last record seen), by DID. */
  readonly stationOf: (did: string) => string | undefined
  /**
   * Clients: keeps our endpoint record (home station) published, so that other stations can
   * relay sessions here. Checked every few seconds; a no-op while a fresh one is out. Runs forever.
   */
  readonly endpointKeeper: Effect.Effect<void>
}

/**
 * Builds the directory of a node's content part. Nothing runs until its effects do.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: DirectoryOptions, ports: DirectoryPorts): Directory => {
  const ttlMs = options.contentProviderTtlMs ?? 3_600_000
  const proxyTimeoutMs = options.proxyTimeoutMs ?? 15_000
  const self = options.identity.did
  let lastSeq = 0
  // Providers that are clients, by DID: their station's DID (`st` of their records).
  const stationOf = new Map<string, string>()
  // Clients: the endpoint record last published (home station, when), so relays find us.
  let endpoint: { readonly station: string; readonly at: number } | undefined

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
      const store = ports.store()
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
            p.address !== undefined || options.role === "client" || (yield* ports.handle(p.did)) !== undefined ||
            (st !== undefined && (yield* ports.handle(st)) !== undefined)
          ) usable.push(p)
        }
        return usable
      }))
  }

  const putRecord = (record: DhtRpc.SignedRecord): Effect.Effect<number, unknown> =>
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

  const endpointKeeper: Effect.Effect<void> = Effect.forever(Effect.andThen(
    Effect.suspend(() => {
      const to = homeInfo()
      return to === undefined ? Effect.void : Effect.ignore(publishEndpoint(to))
    }),
    Effect.sleep(5_000)
  ))

  return {
    dhtPort,
    dhtSink: (inbound) => (inbound.opener === "local" ? proxy.settle(inbound) : Effect.void),
    findRecords,
    putRecord,
    stationOf: (did) => stationOf.get(did),
    endpointKeeper
  }
}

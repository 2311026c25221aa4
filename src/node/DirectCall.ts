/**
 * Direct mode that finds the serving station by itself (PROTOCOL.md §9.2): `call(…, { direct:
 * true })` and `callStream(…, { direct: true })` on a client.
 *
 * Resolution, through the DHT (a client has none: both lookups are `dht.get` through its home
 * station's proxy, §10.5):
 * 1. the provider records of the procedure (key = SHA-256(`provider` 0x00 ‖ realm ‖ proc)): the
 *    latest valid record per provider that is not a withdrawal; a provider at the home station
 *    first, else a random pick weighted by inverse RTT (`StationRecord.servingStation`). Its `st`
 *    is the serving station S;
 * 2. S's `station` record (key = SHA-256(`station` 0x00 ‖ S)): its addresses, pinned with S's
 *    DID (`StationRecord.stationAddresses`);
 * 3. the call goes to the first address as an ordinary direct call: a connection of its own,
 *    S acting as home.
 *
 * Both answers are cached for `providerCacheMs` (a station's addresses no longer than its
 * record lives); a call that fails in a way that says the route is stale (`NoProvider`,
 * `CallTimeout`, `RemoteError` `provider_gone` / `withdrawn` / `wrong_station` /
 * `relay_failed` / `no_provider`) drops the procedure's entry, so the next call resolves
 * afresh. Resolution spends the call's budget: the call gets what is left (`CallTimeout` when
 * nothing is). No provider, or no station record with an address, is `NoProvider` (§9.4
 * `no_provider`: "no provider or next hop known") with a `detail` saying which.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import * as Did from "../identity/Did.ts"
import * as Realm from "../identity/Realm.ts"
import * as StationRecord from "../protocols/dht/StationRecord.ts"
import * as Topic from "../topic/Topic.ts"
import { TopicError } from "../topic/TopicError.ts"
import { CallTimeout, NoProvider } from "./Errors.ts"
import type { CallError, CallOptions } from "./Mesh.ts"
import { providerKey } from "./Messaging.ts"
import type { StreamCall, StreamCallOptions } from "./RpcStream.ts"

/**
 * What the resolver needs from the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Records under a key (the home station's proxy on a client: `Content.findRecords`). */
  readonly findRecords: (key: Uint8Array, ty: DhtRpc.RecordType) => Effect.Effect<ReadonlyArray<DhtRpc.SignedRecord>, unknown>
  /** The home station now: its DID and the RTT to it, if known. */
  readonly home: () => { readonly did: string; readonly rttMs: number | undefined } | undefined
  /** How long a resolution is reused, ms. @default 30_000 (providerCacheMs) */
  readonly cacheMs?: number
  /** Clock skew tolerated on record `iat`, ms. @default 60_000 (clockSkewLeewayMs) */
  readonly clockSkewLeewayMs?: number
  /** Uniform draws in [0, 1) for the weighted pick. @default Math.random */
  readonly random?: () => number
}

/**
 * A resolved route: the serving station and the address the call is sent to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Route {
  /** The serving station's DID. */
  readonly station: string
  /** Its address, pinned: `quic://host:port#did:key:…`. */
  readonly address: string
}

/**
 * The resolver of direct-mode routes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolver {
  /** The route for `procedure`, from the cache or the DHT. */
  readonly resolve: (procedure: string) => Effect.Effect<Route, NoProvider | TopicError>
  /** Drops the cached route of `procedure`. */
  readonly forget: (procedure: string) => void
}

/** Entries each cache keeps at most; past it the oldest goes. */
const maxCached = 1_024

const remember = <V>(cache: Map<string, V>, key: string, value: V): void => {
  cache.delete(key)
  if (cache.size >= maxCached) cache.delete(cache.keys().next().value!)
  cache.set(key, value)
}

const staleCodes = new Set(["provider_gone", "withdrawn", "wrong_station", "relay_failed", "no_provider"])

/**
 * Whether a call's failure means its route may be stale (it then resolves afresh).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isStaleRoute = (error: unknown): boolean => {
  const e = error as { readonly _tag?: unknown; readonly code?: unknown } | null
  if (e === null || typeof e !== "object") return false
  return e._tag === "NoProvider" || e._tag === "CallTimeout" || (e._tag === "RemoteError" && staleCodes.has(String(e.code)))
}

/**
 * A resolver over the node's DHT access.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Resolver => {
  const cacheMs = options.cacheMs ?? 30_000
  const config = { clockSkewLeewayMs: options.clockSkewLeewayMs ?? 60_000, sha256: DhtRpc.sha256 }
  const random = options.random ?? Math.random
  const routes = new Map<string, Route & { readonly until: number }>()
  const stations = new Map<string, { readonly addresses: ReadonlyArray<string>; readonly until: number }>()

  const lookupFailed = (procedure: string, what: string) => (error: unknown) =>
    new NoProvider({ procedure, detail: `${what} lookup through the home station failed: ${String((error as { _tag?: string })?._tag ?? error)}` })

  const addressesOf = (procedure: string, station: Uint8Array, now: number) =>
    Effect.gen(function*() {
      const did = Did.fromPublicKeyUnsafe(station)
      const cached = stations.get(did)
      if (cached !== undefined && cached.until > now) return cached.addresses
      const records = yield* Effect.mapError(options.findRecords(StationRecord.key(config, station), "station"), lookupFailed(procedure, "station record"))
      const bodies = records.map((r) => r.body)
      const addresses = StationRecord.stationAddresses(config, bodies, station, now)
      const own = bodies.filter((b) => b.ty === "station" && Buffer.from(b.pk).equals(Buffer.from(station)))
      const exp = StationRecord.latestPerSigner(config, own, now)[0]?.exp ?? now
      if (addresses.length > 0) remember(stations, did, { addresses, until: Math.min(now + cacheMs, exp) })
      return addresses
    })

  const resolve = (procedure: string): Effect.Effect<Route, NoProvider | TopicError> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const cached = routes.get(procedure)
      if (cached !== undefined && cached.until > now) return cached
      const parsed = yield* Effect.try({
        try: () => Topic.parse(procedure),
        catch: (e) => (e instanceof TopicError ? e : new TopicError({ reason: "invalid_structure", detail: String(e) }))
      })
      const realm = Realm.id(parsed.realm)
      const records = yield* Effect.mapError(options.findRecords(providerKey(realm, procedure), "provider"), lookupFailed(procedure, "provider"))
      const home = options.home()
      const homeKey = home === undefined ? undefined : Did.parsePublicKey(home.did)
      const homeHex = homeKey instanceof Uint8Array ? Buffer.from(homeKey).toString("hex") : undefined
      const chosen = StationRecord.servingStation(config, records.map((r) => r.body), realm, procedure, {
        wallNow: now,
        ...(homeKey instanceof Uint8Array ? { home: homeKey } : {}),
        rttMs: (st) => (Buffer.from(st).toString("hex") === homeHex ? home?.rttMs : undefined),
        random: random()
      })
      if (chosen === undefined) return yield* Effect.fail(new NoProvider({ procedure, detail: "no valid provider record in the DHT" }))
      const addresses = yield* addressesOf(procedure, chosen.station, now)
      const station = Did.fromPublicKeyUnsafe(chosen.station)
      if (addresses.length === 0) {
        return yield* Effect.fail(new NoProvider({ procedure, detail: `no station record with an address for its station ${station}` }))
      }
      const route = { station, address: addresses[0]!, until: now + cacheMs }
      remember(routes, procedure, route)
      return route
    })

  return { resolve, forget: (procedure) => void routes.delete(procedure) }
}

type Call = (procedure: string, args: unknown, options?: CallOptions) => Effect.Effect<unknown, CallError>
type CallStream = (procedure: string, args: unknown, options: StreamCallOptions) => Effect.Effect<StreamCall, CallError>

/** `options` without `direct`, and with `timeoutMs` set to what is left of the budget. */
const remaining = <O extends { readonly timeoutMs?: number; readonly direct?: string | true }>(
  options: O,
  address: string,
  left: number
): O & { readonly direct: string } => ({ ...options, timeoutMs: left, direct: address })

/**
 * `call` and `callStream` that take `direct: true`: the route is resolved first (spending the
 * call's budget, `callTimeoutMs` by default), then the call goes to it as `direct: address`.
 * Everything else passes through unchanged.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrap = (
  resolver: Resolver,
  operations: { readonly call: Call; readonly callStream: CallStream },
  defaultTimeoutMs = 5_000
): { readonly call: Call; readonly callStream: CallStream } => {
  const route = (procedure: string, timeoutMs: number) =>
    Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const found = yield* Effect.timeoutOption(resolver.resolve(procedure), timeoutMs)
      if (found._tag === "None") return yield* Effect.fail(new CallTimeout({ procedure, timeoutMs }))
      const left = timeoutMs - ((yield* Clock.currentTimeMillis) - started)
      if (left <= 0) return yield* Effect.fail(new CallTimeout({ procedure, timeoutMs }))
      return { address: found.value.address, left }
    })

  const call: Call = (procedure, args, options) => {
    if (options?.direct !== true) return operations.call(procedure, args, options)
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
    return Effect.flatMap(route(procedure, timeoutMs), ({ address, left }) =>
      Effect.tapError(
        operations.call(procedure, args, remaining(options, address, left)),
        (error) => Effect.sync(() => (isStaleRoute(error) ? resolver.forget(procedure) : undefined))
      ))
  }

  const callStream: CallStream = (procedure, args, options) => {
    if (options.direct !== true) return operations.callStream(procedure, args, options)
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
    return Effect.flatMap(route(procedure, timeoutMs), ({ address, left }) =>
      Effect.map(
        Effect.tapError(
          operations.callStream(procedure, args, remaining(options, address, left)),
          (error) => Effect.sync(() => (isStaleRoute(error) ? resolver.forget(procedure) : undefined))
        ),
        (stream) => {
          stream.result.catch((error: unknown) => (isStaleRoute(error) ? resolver.forget(procedure) : undefined))
          return stream
        }
      ))
  }

  return { call, callStream }
}

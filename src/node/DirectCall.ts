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
 *    S acting as home. For a provider whose record says `req: true` the call is pinned to it
 *    (`to`) and carries an invocation signed for it (`ucan`, audience = the provider; see
 *    `./ProviderInvocation.ts`), fresh for every call so the provider's replay check holds.
 *
 * Calls not in `direct: true` mode honour `req: true` as well (`wrap`): the provider is looked
 * up (step 1 only) after a first refusal for want of an invocation, and the call goes once more,
 * pinned and with one.
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
import type * as Frame from "../wire/Frame.ts"
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
 * A provider the call is pinned to (`to`, its key) and, when it requires one, the invocation
 * signed for it (`ucan`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Pin {
  readonly to: Uint8Array
  readonly ucan?: Frame.Authority
}

/**
 * Signs the invocation for a `req: true` provider: (provider DID, realm name, procedure) → `ucan`.
 *
 * @since 0.1.0
 * @category models
 */
export type Invoke = (provider: string, realm: string, procedure: string) => Frame.Authority

/**
 * The provider chosen for a procedure and what its latest record says.
 *
 * @since 0.1.0
 * @category models
 */
export interface Choice {
  /** The serving station's DID. */
  readonly station: string
  /** The provider's key. */
  readonly provider: Uint8Array
  /** Its record requires an invocation (`req: true`, §13.4). */
  readonly req: boolean
  /** The realm name of the procedure. */
  readonly realm: string
}

/**
 * A resolved route: the chosen provider, its serving station and the address the call is sent to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Route extends Choice {
  /** The serving station's address, pinned: `quic://host:port#did:key:…`. */
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
  /** The provider for `procedure` (no station address needed), from the cache or the DHT. */
  readonly choose: (procedure: string) => Effect.Effect<Choice, NoProvider | TopicError>
  /** The cached choice for `procedure` at `now`, if any (no lookup). */
  readonly known: (procedure: string, now: number) => Choice | undefined
  /** Drops the cached route and choice of `procedure`. */
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
  const choices = new Map<string, Choice & { readonly until: number }>()
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

  const known = (procedure: string, now: number): Choice | undefined => {
    const cached = choices.get(procedure)
    return cached !== undefined && cached.until > now ? cached : undefined
  }

  const choose = (procedure: string): Effect.Effect<Choice, NoProvider | TopicError> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const cached = known(procedure, now)
      if (cached !== undefined) return cached
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
      const choice = {
        station: Did.fromPublicKeyUnsafe(chosen.station),
        provider: chosen.provider,
        // As the chosen provider's latest record says.
        req: chosen.req,
        realm: parsed.realm,
        until: now + cacheMs
      }
      remember(choices, procedure, choice)
      return choice
    })

  const resolve = (procedure: string): Effect.Effect<Route, NoProvider | TopicError> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const cached = routes.get(procedure)
      if (cached !== undefined && cached.until > now) return cached
      const choice = yield* choose(procedure)
      const station = Did.parsePublicKey(choice.station)
      const addresses = station instanceof Uint8Array ? yield* addressesOf(procedure, station, now) : []
      if (addresses.length === 0) {
        return yield* Effect.fail(new NoProvider({ procedure, detail: `no station record with an address for its station ${choice.station}` }))
      }
      const route = { ...choice, address: addresses[0]!, until: now + cacheMs }
      remember(routes, procedure, route)
      return route
    })

  return {
    resolve,
    choose,
    known,
    forget: (procedure) => {
      routes.delete(procedure)
      choices.delete(procedure)
    }
  }
}

type Call = (procedure: string, args: unknown, options?: CallOptions & { readonly pin?: Pin }) => Effect.Effect<unknown, CallError>
type CallStream = (
  procedure: string,
  args: unknown,
  options: StreamCallOptions & { readonly pin?: Pin }
) => Effect.Effect<StreamCall, CallError>

/** The pin of a call to `choice`'s provider, with a fresh invocation signed for it. */
const pinOf = (choice: Choice, procedure: string, invoke: Invoke): Pin => ({
  to: choice.provider,
  ucan: invoke(Did.fromPublicKeyUnsafe(choice.provider), choice.realm, procedure)
})

/**
 * `options` with `direct` set to the route's address, `timeoutMs` to what is left of the
 * budget, and for a `req: true` provider the pin with a fresh invocation.
 */
const remaining = <O extends { readonly timeoutMs?: number; readonly direct?: string | true }>(
  options: O,
  route: Route,
  left: number,
  invoke: Invoke | undefined,
  procedure: string
): O & { readonly direct: string; readonly pin?: Pin } => ({
  ...options,
  timeoutMs: left,
  direct: route.address,
  ...(route.req && invoke !== undefined ? { pin: pinOf(route, procedure, invoke) } : {})
})

/**
 * Whether a call was refused for want of an invocation (`UnavailableProof`): from a `req: true`
 * provider the caller did not know about, an invocation for it may cure it.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isMissingInvocation = (error: unknown): boolean => {
  const e = error as { readonly _tag?: unknown; readonly reason?: unknown } | null
  return e !== null && typeof e === "object" && e._tag === "Unauthorized" && e.reason === "UnavailableProof"
}

/**
 * `call` and `callStream` that take `direct: true`: the route is resolved first (spending the
 * call's budget, `callTimeoutMs` by default), then the call goes to it as `direct: address`,
 * pinned to a `req: true` provider with an invocation from `invoke` (without `invoke` such a call
 * goes unpinned and the provider refuses it `unauthorized`).
 *
 * With `invoke`, other calls (routed through the home station, or to a named station) honour
 * `req: true` too (§9.2): a procedure whose provider is known (cached) to require an invocation
 * is pinned to it with one at once; a unary call refused `Unauthorized` `UnavailableProof` looks
 * the provider up (`choose`) and, if its record says `req: true`, is sent once more, pinned and
 * with an invocation, within what is left of its budget (the handler never ran, so this cannot
 * run it twice). A streaming call is only pinned up front (its refusal comes through the
 * `StreamCall`). Without `invoke` they pass through unchanged.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrap = (
  resolver: Resolver,
  operations: { readonly call: Call; readonly callStream: CallStream },
  defaultTimeoutMs = 5_000,
  invoke?: Invoke
): { readonly call: Call; readonly callStream: CallStream } => {
  const resolveRoute = (procedure: string, timeoutMs: number) =>
    Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const found = yield* Effect.timeoutOption(resolver.resolve(procedure), timeoutMs)
      if (found._tag === "None") return yield* Effect.fail(new CallTimeout({ procedure, timeoutMs }))
      const left = timeoutMs - ((yield* Clock.currentTimeMillis) - started)
      if (left <= 0) return yield* Effect.fail(new CallTimeout({ procedure, timeoutMs }))
      return { route: found.value, left }
    })

  /** The second attempt of a call refused for want of an invocation, if its provider requires one. */
  const retryPinned = (
    procedure: string,
    args: unknown,
    options: (CallOptions & { readonly pin?: Pin }) | undefined,
    started: number,
    refused: CallError,
    sign: Invoke
  ): Effect.Effect<unknown, CallError> =>
    Effect.gen(function*() {
      const timeoutMs = options?.timeoutMs ?? defaultTimeoutMs
      const left = () => Effect.map(Clock.currentTimeMillis, (now) => timeoutMs - (now - started))
      const budget = yield* left()
      if (budget <= 0) return yield* Effect.fail(refused)
      const found = yield* Effect.timeoutOption(Effect.option(resolver.choose(procedure)), budget)
      const choice = found._tag === "Some" && found.value._tag === "Some" ? found.value.value : undefined
      if (choice === undefined || !choice.req) return yield* Effect.fail(refused)
      const rest = yield* left()
      if (rest <= 0) return yield* Effect.fail(new CallTimeout({ procedure, timeoutMs }))
      return yield* pinned(procedure, operations.call(procedure, args, { ...options, timeoutMs: rest, pin: pinOf(choice, procedure, sign) }))
    })

  /** A pinned call whose failure says the choice is stale drops it: the next call chooses afresh. */
  const pinned = <A>(procedure: string, effect: Effect.Effect<A, CallError>): Effect.Effect<A, CallError> =>
    Effect.tapError(effect, (error) => Effect.sync(() => (isStaleRoute(error) ? resolver.forget(procedure) : undefined)))

  /** A call not in `direct: true` mode: pinned when its provider needs an invocation (see above). */
  const otherCall: Call = (procedure, args, options) => {
    if (invoke === undefined || options?.pin !== undefined) return operations.call(procedure, args, options)
    return Effect.flatMap(Clock.currentTimeMillis, (started) => {
      const known = resolver.known(procedure, started)
      if (known?.req === true) return pinned(procedure, operations.call(procedure, args, { ...options, pin: pinOf(known, procedure, invoke) }))
      return Effect.catchIf(
        operations.call(procedure, args, options),
        isMissingInvocation,
        (refused) => retryPinned(procedure, args, options, started, refused, invoke)
      )
    })
  }

  const call: Call = (procedure, args, options) => {
    if (options?.direct !== true) return otherCall(procedure, args, options)
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
    return Effect.flatMap(resolveRoute(procedure, timeoutMs), ({ route, left }) =>
      Effect.tapError(
        operations.call(procedure, args, remaining(options, route, left, invoke, procedure)),
        (error) => Effect.sync(() => (isStaleRoute(error) ? resolver.forget(procedure) : undefined))
      ))
  }

  const callStream: CallStream = (procedure, args, options) => {
    if (options.direct !== true) {
      if (invoke === undefined || options.pin !== undefined) return operations.callStream(procedure, args, options)
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const known = resolver.known(procedure, now)
        return operations.callStream(procedure, args, known?.req === true ? { ...options, pin: pinOf(known, procedure, invoke) } : options)
      })
    }
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
    return Effect.flatMap(resolveRoute(procedure, timeoutMs), ({ route, left }) =>
      Effect.map(
        Effect.tapError(
          operations.callStream(procedure, args, remaining(options, route, left, invoke, procedure)),
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

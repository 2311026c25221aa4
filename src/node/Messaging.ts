/**
 * The node's pub/sub and RPC operations (API.md "The node"), built over the routing subtree
 * (`supervisors/RoutingSupervisor.ts`), and the DHT port the station's RPC dispatcher stores
 * provider records through.
 *
 * What this layer adds to the subtree's API: the node's checks (a stopped node refuses with
 * `NodeStopped`; a station, which routes for its clients, answers these operations with
 * `NotImplemented`), a payload check before anything is signed (`EncodeError` for a value msgpack
 * cannot carry, PROTOCOL.md §4.3), the public shapes of `Mesh.ts`, and scoped variants that end a
 * subscription or an advertisement with the scope that made it.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type * as RoutingSupervisor from "../../supervisors/RoutingSupervisor.ts"
import * as CodecConfig from "../wire/CodecConfig.ts"
import * as EncodeError from "../wire/EncodeError.ts"
import * as Fields from "../wire/Fields.ts"
import * as Msgpack from "../wire/Msgpack.ts"
import type * as Frame from "../wire/Frame.ts"
import { NodeStopped, NotImplemented } from "./Errors.ts"
import type { StreamCall, StreamCallOptions, StreamHandler, StreamMode } from "./RpcStream.ts"
import type {
  Advertisement,
  AdvertiseOptions,
  CallError,
  CallOptions,
  Handler,
  PublishError,
  SubscribeError,
  SubscribeOptions,
  Subscription,
  SubscriptionEvent
} from "./Mesh.ts"

/**
 * The DHT key of the provider records of (`realm`, `proc`): SHA-256 of `provider` ‖ 0x00 ‖ realm
 * id ‖ UTF-8 procedure (PROTOCOL.md §10.3). Pure.
 *
 * @since 0.1.0
 * @category keys
 */
export const providerKey = (realm: Uint8Array, proc: string): Uint8Array => {
  const hash = createHash("sha256")
  hash.update("provider\u0000", "utf8")
  hash.update(realm)
  hash.update(proc, "utf8")
  return Uint8Array.from(hash.digest())
}

/**
 * The RPC dispatcher's directory backed by the station's DHT: records are stored on the closest
 * stations with a write quorum (and renewed by their signer's station), and found with a value
 * lookup that includes this station's own store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const directory = (dht: DhtSupervisor.Dht): RoutingSupervisor.Deps["directory"] & {} => ({
  putProvider: (record) => Effect.map(dht.putRecord(record), (stored) => stored.acks),
  findProviders: (realm, proc) =>
    Effect.map(dht.findValue(providerKey(realm, proc), "provider"), (found) => found.records.map((r) => r.signed))
})

/**
 * What is wrong with a payload or an argument value for the wire (§4.3), or `undefined` when
 * msgpack can carry it: nil, booleans, numbers, strings, `Uint8Array`, arrays and plain objects,
 * nested at most `maxDecodeDepth` levels. Pure.
 *
 * @since 0.1.0
 * @category validation
 */
export const payloadProblem = (value: unknown): string | undefined =>
  typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)
    ? "an integer beyond ±(2^53−1)"
    : Fields.unencodable(value, 2, CodecConfig.defaults.maxDecodeDepth, CodecConfig.defaults.maxCollectionEntries)

/**
 * The largest encoded value each operation sends: a publish's payload at most `maxEventBytes`
 * (the station refuses bigger events), call arguments and results within `maxFrameBytes` less
 * room for the frame around them. Past these, nothing is sent: a frame above the peer's limit
 * would never leave (§4.1), and the caller would only see a timeout.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxValueBytes = { publish: 262_144, call: CodecConfig.defaults.maxFrameBytes - 4_096 } as const

/**
 * An upper bound of the plain msgpack size of `value` (one `payloadProblem` accepts), counting
 * a string as 3 bytes per UTF-16 unit and every header at its widest; any bound above `budget`
 * once it is passed (the walk stops there). Pure.
 */
const packedBound = (value: unknown, budget: number): number => {
  switch (typeof value) {
    case "string":
      return 5 + 3 * value.length
    case "object": {
      if (value === null) return 1
      if (value instanceof Uint8Array) return 5 + value.byteLength
      let total = 5
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length && total <= budget; i++) total += packedBound(value[i], budget - total)
        return total
      }
      for (const key in value) {
        if (total > budget) break
        if (!Object.prototype.hasOwnProperty.call(value, key)) continue
        total += 5 + 3 * key.length
        total += packedBound((value as Record<string, unknown>)[key], budget - total)
      }
      return total
    }
    default:
      return 9
  }
}

/**
 * What is wrong with `value` as the payload of `operation`, including its encoded size, or
 * `undefined`. Pure.
 *
 * @since 0.1.0
 * @category validation
 */
export const valueProblem = (operation: "publish" | "call", value: unknown): EncodeError.EncodeError | undefined => {
  const problem = payloadProblem(value)
  if (problem !== undefined) return EncodeError.make("invalid_frame", `${operation}: the value cannot travel: ${problem}`)
  const limit = maxValueBytes[operation]
  // Every call and publish comes through here: encode only a value that might be too big.
  if (packedBound(value, limit) <= limit) return undefined
  const size = Msgpack.packr.pack(value).length
  return size > limit
    ? EncodeError.make("payload_too_large", `${operation}: the value is ${size} bytes encoded, above the limit of ${limit}`)
    : undefined
}

const checkPayload = (operation: "publish" | "call", value: unknown): Effect.Effect<Frame.Any, EncodeError.EncodeError> => {
  const problem = valueProblem(operation, value)
  return problem === undefined ? Effect.succeed(value as Frame.Any) : Effect.fail(problem)
}

/**
 * The operations, given the routing subtree, the node's role and whether it is stopped.
 *
 * @since 0.1.0
 * @category constructors
 */
export const operations = (
  routing: RoutingSupervisor.Routing,
  role: "station" | "client",
  stopped: () => boolean
) => {
  const guard = (operation: string): Effect.Effect<void, NodeStopped | NotImplemented> =>
    Effect.suspend((): Effect.Effect<void, NodeStopped | NotImplemented> =>
      stopped()
        ? Effect.fail(new NodeStopped({ operation }))
        : role === "station"
        ? Effect.fail(
          new NotImplemented({
            operation,
            missing: "pub/sub and RPC on a station node: stations route for their clients; start a client node to publish, subscribe, advertise or call"
          })
        )
        : Effect.void
    )

  const publish = (topic: string, payload: unknown): Effect.Effect<void, PublishError> =>
    Effect.gen(function*() {
      yield* guard("publish")
      const value = yield* checkPayload("publish", payload)
      yield* routing.publish(topic, value)
    })

  const subscribe = (
    topicOrPattern: string,
    onEvent: (event: SubscriptionEvent) => unknown,
    options?: SubscribeOptions
  ): Effect.Effect<Subscription, SubscribeError> =>
    Effect.gen(function*() {
      yield* guard("subscribe")
      const made = yield* routing.subscribe(topicOrPattern, onEvent, {
        ...(options?.delivery === undefined ? {} : { delivery: options.delivery }),
        ...(options?.onGap === undefined ? {} : { onGap: options.onGap }),
        ...(options?.onEnd === undefined ? {} : { onEnd: options.onEnd })
      })
      return { pattern: topicOrPattern, unsubscribe: made.unsubscribe }
    })

  /** The routing subtree's options of an advertisement. */
  const routingOptions = (options: AdvertiseOptions | undefined): RoutingSupervisor.AdvertiseOptions => ({
    ...(options?.requireInvocation === true ? { req: true } : {}),
    ...(options?.onEnd === undefined ? {} : { onEnd: options.onEnd })
  })

  const advertise = (procedure: string, handler: Handler, options?: AdvertiseOptions): Effect.Effect<Advertisement, SubscribeError> =>
    Effect.gen(function*() {
      yield* guard("advertise")
      const made = yield* routing.advertise(procedure, async (args, ctx) => {
        const result = await handler(args, ctx)
        const problem = valueProblem("call", result)
        if (problem !== undefined) throw new Error(`${procedure}: the result cannot be sent: ${problem.detail}`)
        return result
      }, routingOptions(options))
      return { procedure, unadvertise: made.unadvertise }
    })

  // A plain chain (no generator): every call runs through here.
  const call = (
    procedure: string,
    args: unknown,
    options?: CallOptions & { readonly pin?: RoutingSupervisor.Pin }
  ): Effect.Effect<unknown, CallError> =>
    Effect.flatMap(guard("call"), () =>
      Effect.flatMap(checkPayload("call", args), (value) =>
        routing.call(procedure, value, {
          ...(options?.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          ...(options?.idempotent === undefined ? {} : { idempotent: options.idempotent }),
          // `direct: true` is resolved to an address before this (`./DirectCall.ts`), with a `pin`
          // for a provider that requires an invocation.
          ...(typeof options?.direct !== "string" ? {} : { direct: options.direct }),
          ...(options?.pin === undefined ? {} : { pin: options.pin })
        })))

  /** Each stream message is checked as call arguments are: nothing unencodable or oversized is sent. */
  const checkMessage = (message: unknown): Error | undefined => valueProblem("call", message)

  const advertiseStream = (
    procedure: string,
    mode: StreamMode,
    handler: StreamHandler,
    options?: AdvertiseOptions
  ): Effect.Effect<Advertisement, SubscribeError> =>
    Effect.gen(function*() {
      yield* guard("advertise")
      const made = yield* routing.advertiseStream(procedure, mode, async (args, stream, ctx) => {
        const result = await handler(args, stream, ctx)
        const problem = valueProblem("call", result)
        if (problem !== undefined) throw new Error(`${procedure}: the result cannot be sent: ${problem.detail}`)
        return result
      }, checkMessage, routingOptions(options))
      return { procedure, unadvertise: made.unadvertise }
    })

  const callStream = (
    procedure: string,
    args: unknown,
    options: StreamCallOptions & { readonly pin?: RoutingSupervisor.Pin }
  ): Effect.Effect<StreamCall, CallError> =>
    Effect.gen(function*() {
      yield* guard("call")
      const value = yield* checkPayload("call", args)
      return yield* routing.callStream(procedure, value, {
        mode: options.mode,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(typeof options.direct !== "string" ? {} : { direct: options.direct }),
        ...(options.pin === undefined ? {} : { pin: options.pin })
      }, checkMessage)
    })

  const subscribeScoped = (
    topicOrPattern: string,
    onEvent: (event: SubscriptionEvent) => unknown,
    options?: SubscribeOptions
  ): Effect.Effect<Subscription, SubscribeError, Scope.Scope> =>
    Effect.acquireRelease(subscribe(topicOrPattern, onEvent, options), (s) => s.unsubscribe)

  const advertiseScoped = (
    procedure: string,
    handler: Handler,
    options?: AdvertiseOptions
  ): Effect.Effect<Advertisement, SubscribeError, Scope.Scope> =>
    Effect.acquireRelease(advertise(procedure, handler, options), (a) => a.unadvertise)

  return { publish, subscribe, subscribeScoped, advertise, advertiseScoped, call, advertiseStream, callStream }
}

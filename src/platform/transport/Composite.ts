/**
 * One `Transport` over several: a node that speaks QUIC and TLS over TCP at once (PROTOCOL.md
 * §3.2a: "a node may listen on both and a peer may advertise both addresses").
 *
 * - `dial` goes by the address scheme: `quic://…` to the QUIC transport, `tls://…` to the TLS one;
 *   a scheme this node has no transport for fails `DialFailed { reason: "invalid_address" }`.
 * - `listen` listens on every part (all in the caller's scope) and merges their connections into
 *   one `accept`; `Listener.address` is the first part's address (QUIC when present) and
 *   `Listener.addresses` holds them all, for HELLO's `addrs`.
 * - `localDid` is shared: every part must run on the same key, which the constructor checks.
 * - `localAddress` is the first part's.
 *
 * Every connection, whichever transport carries it, is the same `Connection` with `FrameStream`s,
 * so nothing above this layer knows or cares which one it got.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Scope } from "effect/Scope"
import { DialFailed, type IdentityMismatch, ListenerClosed, ListenFailed, TransportStartFailed } from "./Errors.ts"
import { Inbox } from "./Inbox.ts"
import * as Quic from "./Quic.ts"
import type * as QuicConfig from "./QuicConfig.ts"
import * as Tls from "./Tls.ts"
import type * as TlsConfig from "./TlsConfig.ts"
import { type Connection, type DialOptions, type Listener, Transport } from "./Transport.ts"

/**
 * The transports to combine, by scheme; at least one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parts {
  readonly quic?: Transport["Service"]
  readonly tls?: Transport["Service"]
}

const schemeOf = (address: string): string | undefined => /^([a-z][a-z0-9+.-]*):\/\//i.exec(address)?.[1]?.toLowerCase()

/**
 * Combines transports into one `Transport` that dispatches `dial` by scheme and listens on all.
 * Fails `TransportStartFailed` without parts or when the parts run on different keys.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (parts: Parts): Effect.Effect<Transport["Service"], TransportStartFailed> =>
  Effect.suspend(() => {
    const all = [parts.quic, parts.tls].filter((t): t is Transport["Service"] => t !== undefined)
    const first = all[0]
    if (first === undefined) return Effect.fail(new TransportStartFailed({ message: "no transport to combine" }))
    if (all.some((t) => t.localDid !== first.localDid)) {
      return Effect.fail(new TransportStartFailed({ message: "the transports run on different keys" }))
    }
    let listening = false

    const listen: Effect.Effect<Listener, ListenFailed, Scope> = Effect.gen(function*() {
      if (listening) return yield* Effect.fail(new ListenFailed({ address: first.localAddress, message: "already listening" }))
      const listeners: Array<Listener> = []
      for (const transport of all) listeners.push(yield* transport.listen)
      const primary = listeners[0]!
      const merged = new Inbox<Connection, ListenerClosed>()
      let open = listeners.length
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          listening = false
          merged.fail(new ListenerClosed({ address: primary.address }))
        })
      )
      for (const listener of listeners) {
        // One pump per part; when the last one stops, so does the merged listener.
        const pump = Effect.forever(Effect.flatMap(listener.accept, (connection) =>
          merged.offer(connection) ? Effect.void : connection.close("going_away", "not listening")))
        yield* Effect.forkScoped(Effect.ensuring(
          pump,
          Effect.sync(() => {
            if (--open === 0) merged.fail(new ListenerClosed({ address: primary.address }))
          })
        ))
      }
      listening = true
      return {
        address: primary.address,
        addresses: listeners.flatMap((l) => l.addresses ?? [l.address]),
        accept: merged.take
      }
    })

    const dial = (address: string, options?: DialOptions): Effect.Effect<Connection, DialFailed | IdentityMismatch> => {
      const scheme = schemeOf(address)
      const target = scheme === "quic" ? parts.quic : scheme === "tls" ? parts.tls : undefined
      if (target === undefined) {
        const message = scheme === "quic" || scheme === "tls" ? `this node has no ${scheme} transport` : "not a quic:// or tls:// address"
        return Effect.fail(new DialFailed({ address, reason: "invalid_address", message }))
      }
      return target.dial(address, options)
    }

    const service: Transport["Service"] = {
      localDid: first.localDid,
      get localAddress() {
        return first.localAddress
      },
      listen,
      dial
    }
    return Effect.succeed(service)
  })

/**
 * Configs of the transports a node runs; at least one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Configs {
  readonly quic?: QuicConfig.QuicConfig
  readonly tls?: TlsConfig.TlsConfig
}

/**
 * Starts the configured transports in the current scope and combines them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfigs = (configs: Configs): Effect.Effect<Transport["Service"], TransportStartFailed, Scope> =>
  Effect.gen(function*() {
    const quic = configs.quic === undefined ? undefined : yield* Quic.make(configs.quic)
    const tls = configs.tls === undefined ? undefined : yield* Tls.make(configs.tls)
    return yield* make({ ...(quic === undefined ? {} : { quic }), ...(tls === undefined ? {} : { tls }) })
  })

/**
 * The combined `Transport` layer: QUIC and/or TLS over TCP, living as long as the layer.
 *
 * @example
 * ```ts
 * const quic = QuicConfig.make(seed, { host: "0.0.0.0", port: 4433 })
 * const live = Composite.layer({ quic, tls: TlsConfig.fromQuic(quic) }) // UDP and TCP 4433
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (configs: Configs): Layer.Layer<Transport, TransportStartFailed> =>
  Layer.effect(Transport, fromConfigs(configs))

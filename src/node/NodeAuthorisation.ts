/**
 * The authorisation of a node (PROTOCOL.md §13): the one seen-nonce memory every invocation
 * checker shares (§13.4), and, on stations, the realm authorisation port of `./Authorisation.ts`
 * with revocations (§13.6) looked up in the DHT. Routing and content both take these, so they
 * are made once here, before either.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type { Identity } from "../identity/Identity.ts"
import * as Ucan from "../identity/ucan/index.ts"
import * as Authorisation from "./Authorisation.ts"
import type { Resolved } from "./Config.ts"
import type { NodeEvent } from "./MaculaNode.ts"
import * as NonceLog from "./NonceLog.ts"
import * as SeenNonces from "./SeenNonces.ts"

/**
 * What the authorisation is made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly resolved: Resolved
  readonly identity: Identity
  /** Stations: the DHT, where `revocation` records are looked up. */
  readonly dht: DhtSupervisor.Dht | undefined
  readonly emit: (event: NodeEvent) => void
}

/**
 * The node's seen nonces and, on stations, its authorisation port.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeAuthorisation {
  readonly seenNonces: SeenNonces.SeenNonces
  readonly authorisation: Authorisation.Port | undefined
}

/**
 * Makes the node's authorisation; a station's re-check of held grants runs in the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (context: Context): Effect.Effect<NodeAuthorisation, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { resolved, identity, dht, emit } = context
    const knobs = resolved.knobs
    // One seen-nonce memory for every invocation checker (§13.4), room for 100_000 nonces of
    // each of the three; with a data directory it survives a restart (`DIR/nonces.log`).
    const seenNonceOptions = { leewaySec: 60, cap: 300_000 }
    const seenNonces = resolved.dataDir === undefined
      ? SeenNonces.make(seenNonceOptions)
      : NonceLog.open({
        ...seenNonceOptions,
        dataDir: resolved.dataDir,
        now: () => Date.now(),
        warn: (message) => emit({ _tag: "Warning", message })
      })
    // Stations: the authorisation port; revocations (§13.6) come from DHT `revocation` records,
    // looked up while granting and after the realms' `revoked_v1` facts the router watches.
    const authorisation = resolved.role === "station"
      ? Authorisation.port({
        authorities: resolved.realmAuthorities,
        station: identity.did,
        now: () => Date.now(),
        seenNonces,
        revocationCacheMs: knobs.revocationCacheMs,
        maxRevocationTtlMs: knobs.maxRevocationTtlMs,
        ...(dht === undefined ? {} : {
          findRevocations: (cid: string) => {
            const key = Ucan.Revocation.recordKey(cid)
            if (key === undefined) return Effect.succeed([])
            return Effect.map(dht.findValue(key, "revocation"), (found) =>
              found.records.flatMap((r) => (r.body.ty === "revocation" ? [r.body.d] : [])))
          }
        })
      })
      : undefined
    // Held grants are re-checked against the DHT as their negative answers run out (§13.6): a
    // revocation whose fact this station missed still ends what it admitted.
    if (authorisation !== undefined && dht !== undefined) yield* Effect.forkScoped(authorisation.run)
    return { seenNonces, authorisation }
  })

/**
 * The content part of a node (PROTOCOL.md §12): `./Content.ts` given this node's ports (its
 * transport, DHT, home station and addresses), its data directory, its UCAN authority on content
 * (`./ContentAuthority.ts`) and the knobs that concern content, with a caller's overrides last.
 * Kept apart from `./MaculaNode.ts` so that the node's assembly reads as a list of parts.
 *
 * @since 0.1.0
 */
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type * as NodeSupervisor from "../../supervisors/NodeSupervisor.ts"
import type { Identity } from "../identity/Identity.ts"
import type * as Authorisation from "./Authorisation.ts"
import type { Resolved } from "./Config.ts"
import * as Content from "./Content.ts"
import * as ContentAuthority from "./ContentAuthority.ts"
import type { NodeEvent } from "./MaculaNode.ts"
import { listenAddresses } from "./NodeTransport.ts"
import type * as SeenNonces from "./SeenNonces.ts"
import type * as StationLink from "./StationLink.ts"

/**
 * What the content part is made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly resolved: Resolved
  readonly identity: Identity
  /** The live pieces of the node's tree (the transport subtree of the moment). */
  readonly live: NodeSupervisor.Live
  /** Clients: the station link's view (its current home). */
  readonly view: StationLink.LinkView
  readonly unspecified: boolean
  /** Stations: the DHT. */
  readonly dht: DhtSupervisor.Dht | undefined
  /** Stations: the authorisation port (whether a delegation was revoked). */
  readonly authorisation: Authorisation.Port | undefined
  readonly seenNonces: SeenNonces.SeenNonces
  readonly emit: (event: NodeEvent) => void
  /** A caller's overrides (`Hooks.content`). */
  readonly overrides: Content.Overrides | undefined
}

/**
 * Makes a node's content part.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (context: Context): Content.Content => {
  const { resolved, identity, live, view, unspecified, dht, authorisation, seenNonces, emit, overrides } = context
  const knobs = resolved.knobs
  const role = resolved.role
  // Content (PROTOCOL.md §12): the ContentSupervisor with its DHT and transport ports (./Content.ts).
  return Content.make({
    role,
    identity,
    ...(role === "station" ? { quotaBytes: knobs.stationContentMaxBytes } : {}),
    transport: () => live.transportTree,
    ...(dht === undefined ? {} : { dht }),
    home: () => (view.home === undefined ? undefined : { did: view.home.did, handle: view.home.handle }),
    addresses: () => listenAddresses(live, unspecified),
    ...(resolved.dataDir === undefined ? {} : { dataDir: resolved.dataDir }),
    acceptPushFrom: resolved.acceptPushFrom,
    // UCAN authority on content (§13.3 `/content/get`, `/content/put`): members-only serving,
    // a station's check of uploads in pinned realms, and what this node presents for both.
    authority: ContentAuthority.forNode({
      role,
      identity,
      delegations: resolved.capabilities,
      servePolicy: resolved.contentServePolicy,
      realmAuthorities: resolved.realmAuthorities,
      servedRealms: resolved.servedRealms,
      ...(authorisation === undefined ? {} : { isRevoked: authorisation.isRevoked }),
      seenNonces
    }),
    pushTimeoutMs: knobs.pushTimeoutMs,
    onPushed: (pushed) => emit({ _tag: "ContentPushed", ...pushed }),
    ...overrides,
    config: {
      workerShutdownMs: knobs.workerShutdownMs,
      ...(role === "station" ? { fetchedPinMs: knobs.stationUploadPinMs } : {}),
      ...overrides?.config
    }
  })
}

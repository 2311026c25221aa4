/**
 * What a station's authorisation tells its routing cores about revocations (PROTOCOL.md §13.6),
 * in one shape for both the pub/sub router and the RPC dispatcher: a connection's grants for a
 * command dropped (what they admitted and no `keep` scope covers ends with `err unauthorized`),
 * or a realm that got its first grant (whose `revoked_v1` fact the station then watches).
 *
 * @since 0.1.0
 */

/**
 * One notice.
 *
 * @since 0.1.0
 * @category models
 */
export type RevocationNotice =
  | {
    readonly _tag: "Dropped"
    readonly peerDid: string
    /** The command whose grants were dropped: `/mesh/subscribe` ends subscriptions, `/mesh/advertise` advertisements. */
    readonly command: string
    readonly realm: Uint8Array
    /** Scopes (topics or procedures) the connection still holds grants for. */
    readonly keep: ReadonlyArray<string>
    /** The error name to report. */
    readonly reason: string
  }
  | { readonly _tag: "Granted"; readonly realm: string }

/**
 * Where the notices come from.
 *
 * @since 0.1.0
 * @category models
 */
export interface RevocationFeed {
  /** Listens to the notices; returns the unsubscribe. */
  readonly subscribe: (listener: (notice: RevocationNotice) => void) => () => void
}

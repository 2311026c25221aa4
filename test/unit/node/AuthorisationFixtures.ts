/**
 * What the tests of the station's authorisation port and its revocations build from: a realm's
 * authority and station, a member's `/mesh/subscribe` invocation for that station, and the `d` of
 * a DHT `revocation` record revoking one delegation.
 */
import type { Identity } from "../../../src/identity/Identity.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import type * as Frame from "../../../src/wire/Frame.ts"

/** A pinned realm: its name, its authority and the station that checks for it. */
export interface RealmSetup {
  readonly realm: string
  readonly authority: Identity
  readonly station: Identity
}

/** `member`'s `/mesh/subscribe` invocation of `topic` (default `{realm}/acme/#`) under `cap`, 10 min ahead of `nowMs`. */
export const subscribeAu = (
  setup: RealmSetup,
  member: Identity,
  cap: Uint8Array,
  nowMs: number,
  topic = `${setup.realm}/acme/#`
): Frame.Authority => ({
  inv: RealmCapabilities.invokeMember({
    issuer: member,
    authority: setup.authority.did,
    station: setup.station.did,
    realm: setup.realm,
    command: "/mesh/subscribe",
    args: { topic },
    proofs: [cap],
    expiration: Math.floor(nowMs / 1_000) + 600
  }),
  prf: [cap]
})

/** The `d` of the `revocation` record of `cap`, revoked by `issuer` (default the authority). */
export const revocationOf = (setup: RealmSetup, cap: Uint8Array, issuer: Identity = setup.authority): Ucan.Revocation.RecordData => {
  const d = Ucan.Revocation.recordData(
    Ucan.revoke({ issuer, subject: setup.authority.did, delegation: Ucan.cid(cap), path: [Ucan.cid(cap)] }),
    [cap]
  )
  if (d instanceof Error) throw d
  return d
}

/**
 * A client presenter after a station ended what a revoked grant admitted (PROTOCOL.md §13.6): an
 * `err` naming an accepted frame forgets what that frame presented, so the next frame of its
 * scope presents the chain again (and the station can say `Revoked`); other scopes are kept.
 */
import { expect, it } from "vitest"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import { RealmCapabilities } from "../../../src/identity/ucan/index.ts"
import * as ClientCapabilities from "../../../src/node/ClientCapabilities.ts"

const authority = Identity.fromSeed(new Uint8Array(32).fill(31))
const station = Identity.fromSeed(new Uint8Array(32).fill(32))
const member = Identity.fromSeed(new Uint8Array(32).fill(33))
const realm = "io.example"
const nowMs = 1_800_000_000_000
const caps = RealmCapabilities.issueMember({
  issuer: authority, member: member.did, realm, commands: ["/mesh/subscribe"], topics: [`${realm}/acme/#`, `${realm}/shop/#`],
  expiration: nowMs / 1_000 + 86_400
})

it("re-presents a scope whose accepted frame the station later refused, and only that one", () => {
  const presenter = ClientCapabilities.make({ identity: member, delegations: caps })!(station.did)
  const au = (id: number, scope: string) => presenter.authorityFor("/mesh/subscribe", Realm.id(realm), scope, nowMs, id)
  expect(au(1, `${realm}/acme/#`)).toBeDefined()
  expect(au(2, `${realm}/shop/#`)).toBeDefined()
  presenter.answered(1, false)
  presenter.answered(2, false)
  // Both scopes stand: nothing is presented again.
  expect(au(3, `${realm}/acme/#`)).toBeUndefined()
  expect(au(4, `${realm}/shop/#`)).toBeUndefined()
  // The station ends what frame 1 admitted: that scope is presented again, the other is not.
  presenter.answered(1, true)
  expect(au(5, `${realm}/acme/#`)).toBeDefined()
  expect(au(6, `${realm}/shop/#`)).toBeUndefined()
  // An unknown id changes nothing.
  presenter.answered(999, true)
  expect(au(7, `${realm}/shop/#`)).toBeUndefined()
})

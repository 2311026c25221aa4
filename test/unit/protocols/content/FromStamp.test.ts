/**
 * Who `from` may name (PROTOCOL.md §12.6 push offers, §13.0 `/content/get`, §13.3 `/content/put`):
 * a client can never be named as anyone else. A station stamps its client's key on every offer
 * and request it relays (`Relay.stampRelayed`), not only on the first frame of a session, and
 * replaces a `from` a client put on what the station serves itself (`Relay.confineFrom`). The
 * attacks here run the real pure pieces in the order the nodes run them: the home station's
 * stamp, the recipient's `Push.senderOf` and push core, and the provider's UCAN checks with real
 * tokens.
 */
import { describe, expect, it } from "vitest"
import * as Mcid from "../../../../src/content/Mcid.ts"
import { Identity } from "../../../../src/identity/Identity.ts"
import * as Realm from "../../../../src/identity/Realm.ts"
import * as Did from "../../../../src/identity/Did.ts"
import * as Ucan from "../../../../src/identity/ucan/index.ts"
import * as ContentAuthority from "../../../../src/node/ContentAuthority.ts"
import * as Push from "../../../../src/protocols/content/Push.ts"
import * as Relay from "../../../../src/protocols/content/Relay.ts"
import type { ContentHave, ContentWant, Frame } from "../../../../src/wire/Frame.ts"

const realm = "io.example"
const authority = Identity.generate()
const member = Identity.generate()
const attacker = Identity.generate()
const homeOfAttacker = Identity.generate()
const recipientStation = Identity.generate()
const provider = Identity.generate()
const NOW = 1_800_000_000_000

const content = Mcid.ofBlock(new TextEncoder().encode("pushed content"))
const m = Mcid.bytes(content)
const text = Mcid.toString(content)

const client = { role: "client" as const, key: attacker.publicKey }
const station = { role: "station" as const, key: homeOfAttacker.publicKey }
const didOf = (key: Uint8Array): string | undefined => (key.length === 32 ? Did.fromPublicKeyUnsafe(key) : undefined)

const firstOffer: ContentHave = { t: "content.have", h: [{ m, y: true, sz: 14 }], to: recipientStation.publicKey }
const repeat: ContentHave = { t: "content.have", h: [{ m, y: true, sz: 14 }] }

describe("the stamp a station puts on what its client relays", () => {
  it("names the client on every offer of the session, whatever it claimed or left out", () => {
    for (const frame of [firstOffer, { ...firstOffer, from: member.publicKey }, repeat, { ...repeat, from: member.publicKey }]) {
      expect(Relay.stampRelayed(frame, client)).toEqual({ ...frame, from: attacker.publicKey })
    }
  })

  it("names the client on a request that carries to or from, and leaves a plain want alone", () => {
    const want: ContentWant = { t: "content.want", w: [{ m, k: "block" }] }
    expect(Relay.stampRelayed(want, client)).toBe(want)
    expect(Relay.stampRelayed({ ...want, from: member.publicKey }, client)).toEqual({ ...want, from: attacker.publicKey })
    expect(Relay.stampRelayed({ ...want, to: provider.publicKey }, client)).toEqual({ ...want, to: provider.publicKey, from: attacker.publicKey })
    const req: Frame = { t: "content.manifest_req", id: 1, m, to: provider.publicKey, from: member.publicKey }
    expect(Relay.stampRelayed(req, client)).toEqual({ ...req, from: attacker.publicKey })
  })

  it("keeps what a station stamped, and other frames as they are", () => {
    const stamped: ContentHave = { ...repeat, from: member.publicKey }
    expect(Relay.stampRelayed(stamped, station)).toBe(stamped)
    const block: Frame = { t: "content.block", m, d: new Uint8Array(3) }
    expect(Relay.stampRelayed(block, client)).toBe(block)
  })

  it("on what the station serves itself, replaces only a from the client put there", () => {
    expect(Relay.confineFrom(repeat, client)).toBe(repeat) // an attached client's offer stays attached
    expect(Relay.confineFrom({ ...repeat, from: member.publicKey }, client)).toEqual({ ...repeat, from: attacker.publicKey })
    const want: Frame = { t: "content.want", w: [{ m, k: "block" }], from: member.publicKey }
    expect(Relay.confineFrom(want, client)).toEqual({ ...want, from: attacker.publicKey })
    expect(Relay.confineFrom(want, station)).toBe(want)
  })
})

describe("a client posing as an admitted sender through the relay", () => {
  // The recipient takes pushes from the member only; its offers arrive from a station peer.
  const policy: Push.Policy = { any: false, attached: false, dids: [member.did] }
  const peer = { did: homeOfAttacker.did, role: "station" as const }
  const step = Push.make({ policy, maxPulls: 4 })

  it.each<[string, ContentHave]>([
    ["a forged from on the first offer", { ...firstOffer, from: member.publicKey }],
    ["a forged from on a later offer", { ...repeat, from: member.publicKey }],
    ["no from on a later offer", repeat]
  ])("is refused with %s", (_, frame) => {
    const sender = Push.senderOf(Relay.stampRelayed(frame, client) as ContentHave, peer, didOf)
    expect(sender).toEqual({ did: attacker.did, attached: false, direct: false })
    const [state, out] = step(Push.initial, Push.Event.Offered({ now: 0, session: "c/1", sender, m }))
    expect(out).toEqual([Push.Command.Answer({ session: "c/1", m, y: false })])
    expect(state.pulls.size).toBe(0)
  })

  it("on a direct connection, is the peer whatever from names", () => {
    const forged = Relay.confineFrom({ ...repeat, from: member.publicKey }, client) as ContentHave
    expect(Push.senderOf(forged, { did: attacker.did, role: "client" }, didOf)).toEqual({ did: attacker.did, attached: false, direct: true })
  })
})

describe("a client posing as a member before a members-only provider", () => {
  const caps = Ucan.RealmCapabilities.issueMember({
    issuer: authority, member: member.did, realm, commands: ["/content/get", "/content/put"], expiration: NOW / 1_000 + 86_400
  })
  const present = ContentAuthority.invoker({ identity: member, delegations: caps })!
  const node = () =>
    ContentAuthority.forNode({
      role: "station", identity: provider, delegations: [], servePolicy: { _tag: "Members", realm, authority: authority.did },
      realmAuthorities: { [realm]: authority.did }, servedRealms: [Realm.idHex(realm)], now: () => NOW
    })

  it("cannot use a member's captured invocation by naming the member in from", () => {
    const serve = node().serve!
    const captured = present(provider.did, "/content/get", { mcid: text }, NOW)!
    const want: ContentWant = { t: "content.want", w: [{ m, k: "have" }], from: member.publicKey, au: captured }
    // Taken as sent, the claim would make the captured, unused invocation the attacker's.
    expect(node().serve!({ peerDid: attacker.did, from: want.from, au: captured })).toMatchObject({ _tag: "Allowed" })
    // The station confines it first: the requester is the peer, who did not issue the invocation.
    const served = Relay.confineFrom(want, client) as ContentWant
    expect(serve({ peerDid: attacker.did, from: served.from, au: served.au })).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
    // And the member's own use is then still allowed; once used, a replay is refused by its nonce.
    expect(serve({ peerDid: member.did, from: undefined, au: captured })).toMatchObject({ _tag: "Allowed", mcid: text })
    expect(serve({ peerDid: homeOfAttacker.did, from: member.publicKey, au: captured })).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
  })

  it("cannot upload under a member's /content/put by naming the member in from", () => {
    const admit = node().admitOffer!
    const au = present(provider.did, "/content/put", { mcid: text, size: 14 }, NOW)!
    const offer = Relay.confineFrom({ ...repeat, from: member.publicKey, au }, client) as ContentHave
    expect(admit({ peerDid: attacker.did, from: offer.from, au: offer.au, mcid: text, size: 14 })).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
  })

  it.each<[string, string, number]>([
    ["other content", Mcid.toString(Mcid.ofBlock(new TextEncoder().encode("other"))), 14],
    ["another size", text, 15]
  ])("refuses a member's valid /content/put for %s than offered", (_, mcid, size) => {
    const admit = node().admitOffer!
    const au = present(provider.did, "/content/put", { mcid: text, size: 14 }, NOW)!
    expect(admit({ peerDid: member.did, from: undefined, au, mcid, size })).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
    // The same invocation is still good for what it names: the refusal did not consume it.
    expect(admit({ peerDid: member.did, from: undefined, au, mcid: text, size: 14 })).toMatchObject({ _tag: "Allowed" })
  })
})

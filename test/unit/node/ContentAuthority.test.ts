/**
 * UCAN authority on content (PROTOCOL.md §13.0, §13.3 `/content/get`, `/content/put`), with real
 * UCAN 1.0 tokens: the policy shape, the checks a members-only provider and a station storing
 * uploads make (valid, expired, wrong audience, wrong issuer, wrong content, replayed nonce,
 * missing `au`, another authority, a policy on `.mcid`), what a member presents, and the pure
 * pieces of the serving side (a session's scope, the requester stamp of a relayed request).
 */
import { describe, expect, it } from "vitest"
import * as Mcid from "../../../src/content/Mcid.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Realm from "../../../src/identity/Realm.ts"
import * as Ucan from "../../../src/identity/ucan/index.ts"
import * as ContentAuthority from "../../../src/node/ContentAuthority.ts"
import * as Config from "../../../src/node/Config.ts"
import { isRealmName } from "../../../src/node/Config.ts"
import * as Ids from "../../../src/protocols/content/Ids.ts"
import * as Serve from "../../../src/protocols/content/Serve.ts"
import type * as Frame from "../../../src/wire/Frame.ts"

const realm = "io.example"
const authority = Identity.generate()
const stranger = Identity.generate()
const member = Identity.generate()
const outsider = Identity.generate()
const provider = Identity.generate()
const NOW = 1_800_000_000_000
const expiration = NOW / 1_000 + 86_400

const content = Mcid.ofBlock(new TextEncoder().encode("members only"))
const text = Mcid.toString(content)
const otherText = Mcid.toString(Mcid.ofBlock(new TextEncoder().encode("something else")))

const caps = (who: Identity, by: Identity = authority, commands = ["/content/get", "/content/put"]) =>
  Ucan.RealmCapabilities.issueMember({ issuer: by, member: who.did, realm, commands, expiration })

const invoke = (who: Identity, delegations: ReadonlyArray<Uint8Array>) => ContentAuthority.invoker({ identity: who, delegations })!

const getRequest = (au: Frame.Authority | undefined, requester = member.did): ContentAuthority.Request => ({
  command: "/content/get", realm, authority: authority.did, requester, au
})

describe("contentServePolicy", () => {
  const pins = { [realm]: authority.did }

  it("is open by default and with \"open\"", () => {
    expect(ContentAuthority.parseServePolicy(undefined, {}, isRealmName)).toEqual({ _tag: "Open" })
    expect(ContentAuthority.parseServePolicy("open", {}, isRealmName)).toEqual({ _tag: "Open" })
  })

  it("takes the members' authority from the value or from realmAuthorities", () => {
    expect(ContentAuthority.parseServePolicy({ members: realm }, pins, isRealmName)).toEqual({ _tag: "Members", realm, authority: authority.did })
    expect(ContentAuthority.parseServePolicy({ members: realm, authority: authority.did }, {}, isRealmName)).toEqual({
      _tag: "Members", realm, authority: authority.did
    })
  })

  it.each<[string, unknown, Record<string, string>, string]>([
    ["no authority anywhere", { members: realm }, {}, "no authority"],
    ["an authority other than the pinned one", { members: realm, authority: stranger.did }, { [realm]: authority.did }, "differs"],
    ["a bad realm name", { members: "not a realm/x" }, {}, "not a valid realm name"],
    ["a bad DID", { members: realm, authority: "did:web:x" }, {}, "not a valid did:key"],
    ["an unknown field", { members: realm, authority: authority.did, extra: 1 }, {}, "unknown field"],
    ["another word", "members", {}, "must be \"open\""],
    ["a list", [realm], {}, "must be \"open\""]
  ])("refuses %s", (_, input, authorities, problem) => {
    const out = ContentAuthority.parseServePolicy(input, authorities, isRealmName)
    expect("problems" in out && out.problems.join(" ")).toContain(problem)
  })

  it("is resolved with the node configuration, a bad one a ConfigError", () => {
    const station = { role: "station", listen: "127.0.0.1:0" } as const
    expect(Config.resolve({ ...station, realmAuthorities: pins, contentServePolicy: { members: realm } })).toMatchObject({
      contentServePolicy: { _tag: "Members", realm, authority: authority.did }
    })
    expect(Config.resolve(station)).toMatchObject({ contentServePolicy: { _tag: "Open" } })
    const bad = Config.resolve({ ...station, contentServePolicy: { members: realm } })
    expect(bad).toMatchObject({ _tag: "ConfigError" })
  })
})

describe("/content/get, checked by a members-only provider", () => {
  const check = () => ContentAuthority.verifier({ self: provider.did, now: () => NOW })
  const present = invoke(member, caps(member))

  it("allows a member's invocation for this provider once, until its delegations expire", () => {
    const verify = check()
    const au = present(provider.did, "/content/get", { mcid: text }, NOW)!
    expect(Ucan.decode(au.inv)).toMatchObject({ iss: member.did, aud: provider.did, sub: authority.did, cmd: "/content/get", args: { mcid: text } })
    expect(verify(getRequest(au))).toEqual({ _tag: "Allowed", mcid: text, until: expiration })
    expect(verify(getRequest(au))).toEqual({ _tag: "Denied", reason: "InvalidClaim" }) // replayed nonce
    expect(verify(getRequest(present(provider.did, "/content/get", { mcid: text }, NOW)))).toMatchObject({ _tag: "Allowed" })
  })

  it.each<[string, () => ContentAuthority.Request, string]>([
    ["no au", () => getRequest(undefined), "UnavailableProof"],
    ["an expired invocation", () => getRequest(present(provider.did, "/content/get", { mcid: text }, NOW - 2 * 3_600_000)), "Expired"],
    ["an invocation for another provider", () => getRequest(present(outsider.did, "/content/get", { mcid: text }, NOW)), "InvalidAudience"],
    ["a requester other than the issuer", () => getRequest(present(provider.did, "/content/get", { mcid: text }, NOW), outsider.did), "InvalidClaim"],
    ["a chain rooted at another authority", () => getRequest(invoke(member, caps(member, stranger))(provider.did, "/content/get", { mcid: text }, NOW)), "InvalidSubject"],
    ["an invocation of /content/put", () => getRequest(present(provider.did, "/content/put", { mcid: text, size: 12 }, NOW)), "InvalidClaim"],
    ["args.mcid that is not an MCID", () => getRequest(present(provider.did, "/content/get", { mcid: "bnot-an-mcid" }, NOW)), "InvalidClaim"],
    [
      "a self-rooted invocation (no membership)",
      () => getRequest({
        inv: Ucan.invoke({
          issuer: outsider, subject: outsider.did, audience: provider.did, command: "/content/get", args: { mcid: text }, proofs: [],
          expiration: NOW / 1_000 + 600
        }),
        prf: []
      }, outsider.did),
      "InvalidSubject"
    ]
  ])("denies %s", (_, request, reason) => {
    expect(check()(request())).toEqual({ _tag: "Denied", reason })
  })

  it("holds a delegation's policy on .mcid", () => {
    const only = Ucan.delegate({
      issuer: authority, audience: member.did, subject: authority.did, command: "/content/get",
      policy: [["==", ".mcid", text]], expiration
    })
    const scoped = invoke(member, [only])
    expect(check()(getRequest(scoped(provider.did, "/content/get", { mcid: text }, NOW)))).toMatchObject({ _tag: "Allowed", mcid: text })
    // The member presents nothing for other content: no chain covers it.
    expect(scoped(provider.did, "/content/get", { mcid: otherText }, NOW)).toBeUndefined()
    // Forged past the local check, the provider refuses it on the policy.
    const forged = Ucan.RealmCapabilities.invokeMember({
      issuer: member, authority: authority.did, station: provider.did, realm: "", command: "/content/get",
      args: { mcid: otherText }, proofs: [only], expiration: NOW / 1_000 + 600
    })
    expect(check()(getRequest({ inv: forged, prf: [only] }))).toEqual({ _tag: "Denied", reason: "MatchError" })
  })

  it("refuses a chain with a revoked delegation", () => {
    const delegations = caps(member)
    const revoked = new Set(delegations.map((d) => Ucan.cid(d)))
    const verify = ContentAuthority.verifier({ self: provider.did, now: () => NOW, isRevoked: (cid) => revoked.has(cid) })
    const au = invoke(member, delegations)(provider.did, "/content/get", { mcid: text }, NOW)
    expect(verify(getRequest(au))).toEqual({ _tag: "Denied", reason: "Revoked" })
    // The same chain, nothing revoked: allowed (so the refusal above is the revocation's).
    expect(check()(getRequest(au))).toMatchObject({ _tag: "Allowed" })
  })

  it("presents nothing without a chain that covers the command", () => {
    expect(ContentAuthority.invoker({ identity: member, delegations: [] })).toBeUndefined()
    const meshOnly = Ucan.RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm, expiration })
    expect(invoke(member, meshOnly)(provider.did, "/content/get", { mcid: text }, NOW)).toBeUndefined()
  })
})

describe("/content/put, checked by a station whose every served realm is pinned", () => {
  const station = provider
  const node = (role: "station" | "client", realmAuthorities: Record<string, string>, servedRealms = [Realm.idHex(realm)]) =>
    ContentAuthority.forNode({
      role, identity: station, delegations: [], servePolicy: ContentAuthority.openPolicy, realmAuthorities, servedRealms, now: () => NOW
    })
  const present = invoke(member, caps(member))
  const offer = (au: Frame.Authority | undefined, extra: Partial<ContentAuthority.Offer> = {}): ContentAuthority.Offer => ({
    peerDid: member.did, from: undefined, au, mcid: text, size: 12, ...extra
  })

  it("applies only to a station where no realm runs open", () => {
    expect(node("station", {}).admitOffer).toBeUndefined()
    expect(node("client", { [realm]: authority.did }).admitOffer).toBeUndefined()
    // Every realm served (no servedRealms), or a served realm without a pin: uploads stay open.
    expect(node("station", { [realm]: authority.did }, []).admitOffer).toBeUndefined()
    expect(node("station", { [realm]: authority.did }, [Realm.idHex(realm), Realm.idHex("io.open")]).admitOffer).toBeUndefined()
    expect(ContentAuthority.checksUploads("station", { [realm]: authority.did, "io.other": stranger.did }, [Realm.idHex(realm)])).toBe(true)
    expect(node("station", { [realm]: authority.did }).serve).toBeUndefined() // open serving
  })

  it("admits a member's offer of exactly that content and size, once", () => {
    const admit = node("station", { [realm]: authority.did }).admitOffer!
    const au = present(station.did, "/content/put", { mcid: text, size: 12 }, NOW)!
    expect(Ucan.decode(au.inv)).toMatchObject({ cmd: "/content/put", args: { mcid: text, size: 12 } })
    expect(admit(offer(au))).toMatchObject({ _tag: "Allowed", mcid: text })
    expect(admit(offer(au))).toEqual({ _tag: "Denied", reason: "InvalidClaim" })
  })

  it.each<[string, () => ContentAuthority.Offer, string]>([
    ["no au", () => offer(undefined), "UnavailableProof"],
    ["other content", () => offer(present(provider.did, "/content/put", { mcid: otherText, size: 12 }, NOW)), "InvalidClaim"],
    ["another size", () => offer(present(provider.did, "/content/put", { mcid: text, size: 13 }, NOW)), "InvalidClaim"],
    ["no size", () => offer(present(provider.did, "/content/put", { mcid: text }, NOW)), "InvalidClaim"],
    ["an unpinned authority", () => offer(invoke(member, caps(member, stranger))(provider.did, "/content/put", { mcid: text, size: 12 }, NOW)), "InvalidSubject"],
    ["another station's invocation", () => offer(present(outsider.did, "/content/put", { mcid: text, size: 12 }, NOW)), "InvalidAudience"],
    ["a /content/get invocation", () => offer(present(provider.did, "/content/get", { mcid: text }, NOW)), "InvalidClaim"],
    ["an expired invocation", () => offer(present(provider.did, "/content/put", { mcid: text, size: 12 }, NOW - 2 * 3_600_000)), "Expired"]
  ])("denies %s", (_, input, reason) => {
    expect(node("station", { [realm]: authority.did }).admitOffer!(input())).toEqual({ _tag: "Denied", reason })
  })

  it("takes the uploader a station stamped in from", () => {
    const admit = node("station", { [realm]: authority.did }).admitOffer!
    const au = present(station.did, "/content/put", { mcid: text, size: 12 }, NOW)!
    expect(admit(offer(au, { peerDid: outsider.did, from: member.publicKey }))).toMatchObject({ _tag: "Allowed" })
  })
})

describe("the serving side's pure pieces", () => {
  const chunk = (n: number) => new Uint8Array(32).fill(n)
  const root = Mcid.bytes(Mcid.manifest(new Uint8Array(32).fill(9)))

  it("scopes a session admitted for a manifest to it and its chunks", () => {
    const scope = Serve.scopeOf(root, [chunk(1), chunk(2)])
    expect(scope.has(Ids.key(root))).toBe(true)
    expect(scope.has(Ids.key(Ids.rawMcid(chunk(1))))).toBe(true)
    expect(scope.has(Ids.key(Ids.rawMcid(chunk(3))))).toBe(false)
  })

  it("answers wants and manifest requests outside the scope as not held", () => {
    const scope = Serve.scopeOf(root, [chunk(1)])
    const inScope = (m: Uint8Array) => scope.has(Ids.key(m))
    const inside = Ids.rawMcid(chunk(1))
    const outside = Ids.rawMcid(chunk(3))
    const want: Frame.ContentWant = { t: "content.want", w: [{ m: inside, k: "block" }, { m: outside, k: "block" }] }
    expect(Serve.confine(want, inScope)).toEqual({
      frame: { t: "content.want", w: [{ m: inside, k: "block" }] },
      answers: [{ t: "content.have", h: [{ m: outside, y: false }] }]
    })
    expect(Serve.confine({ t: "content.want", w: [{ m: outside, k: "have" }] }, inScope).frame).toBeUndefined()
    expect(Serve.confine({ t: "content.want", w: [{ m: outside, k: "block" }], full: true }, inScope).frame).toEqual({ t: "content.want", w: [], full: true })
    const req: Frame.ContentManifestReq = { t: "content.manifest_req", id: 4, m: outside }
    expect(Serve.confine(req, inScope)).toEqual({ frame: undefined, answers: [{ t: "content.manifest_res", id: 4, m: outside, nf: true }] })
    expect(Serve.confine({ ...req, m: root }, inScope)).toEqual({ frame: { ...req, m: root }, answers: [] })
    expect(Serve.opensSession(want)).toBe(true)
    expect(Serve.opensSession({ t: "content.cancel", c: [outside] })).toBe(false)
  })

  it("names the requester: the stamped from, else the peer", () => {
    expect(ContentAuthority.requesterOf(provider.did, member.publicKey)).toBe(member.did)
    expect(ContentAuthority.requesterOf(provider.did, undefined)).toBe(provider.did)
  })
})

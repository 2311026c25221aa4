/**
 * UCAN authority on content (PROTOCOL.md §13.0, §13.3 `/content/get`, `/content/put`;
 * docs/guides/content.md) through the node's API over real QUIC on loopback, in one process.
 * A realm authority key issues delegations as `macula realm issue` does; a station S serves that
 * realm only, pins it (`servedRealms`, `realmAuthorities`) and serves content to members only
 * (`contentServePolicy`).
 *
 * Shown:
 * - `/content/get` at a members-only station: a client without a capability, and one whose
 *   capability comes from another authority, fail `Unauthorized` with the UCAN error name; a
 *   member fetches a three-chunk file byte-identical (its invocation names the manifest, which
 *   covers the chunks);
 * - `/content/get` at a members-only client provider behind S, so every session to it is relayed
 *   and S stamps the requester: the member gets the content, the outsider is refused;
 * - `/content/put` at S: a member's upload is taken (S holds it), an outsider's is declined
 *   (`UploadFailed`, `unauthorized`), and the outsider's explicit push fails `Unauthorized`.
 *
 * Every step has a generous timeout; every node is stopped in afterAll.
 */
import { randomBytes } from "node:crypto"
import { afterAll, describe, expect, it } from "vitest"
import type * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as Ucan from "../../src/identity/ucan/index.ts"
import { nodeSet, holds } from "../support/nodes.ts"

const { start, stopAll } = nodeSet()
const realm = "io.example"

afterAll(async () => {
  await stopAll()
}, 60_000)

const authority = Identity.generate()
const stranger = Identity.generate()
const expiration = Math.floor(Date.now() / 1_000) + 86_400

/** A member's content delegations, as `macula realm issue --commands content-get,content-put` makes them. */
const contentCaps = (who: Identity, by: Identity = authority) =>
  Ucan.RealmCapabilities.issueMember({ issuer: by, member: who.did, realm, commands: ["/content/get", "/content/put"], expiration })

describe("UCAN authority on content", () => {
  it("a members-only station serves members and refuses others; a fully pinned station takes members' uploads only", async () => {
    let sContent: ContentSupervisor.Api | undefined
    const s = await start(
      {
        role: "station",
        listen: "127.0.0.1:0",
        realmAuthorities: { [realm]: authority.did },
        servedRealms: [realm],
        contentServePolicy: { members: realm }
      },
      { content: { onApi: (api) => (sContent = api) } }
    )
    const seed = `${s.address}#${s.did}`
    const memberId = Identity.generate()
    const foreignId = Identity.generate()
    // The outsider and the foreign member keep what they fetch to themselves: no upload.
    const member = await start({ role: "client", realm, identity: memberId, seeds: [seed], capabilities: contentCaps(memberId) })
    const outsider = await start({ role: "client", realm, seeds: [seed] }, { content: { uploadToStation: false } })
    const foreign = await start(
      { role: "client", realm, identity: foreignId, seeds: [seed], capabilities: contentCaps(foreignId, stranger) },
      { content: { uploadToStation: false } }
    )

    // --- /content/get at the station ------------------------------------------------------
    const bytes = new Uint8Array(randomBytes(2 * 262_144 + 1_234))
    const mcid = await s.putContent(bytes)
    // The refused first, so the member's copy (it announces what it fetched) is not yet around.
    await expect(outsider.getContent(mcid)).rejects.toMatchObject({ _tag: "Unauthorized", operation: "getContent", reason: "UnavailableProof" })
    await expect(foreign.getContent(mcid)).rejects.toMatchObject({ _tag: "Unauthorized", operation: "getContent", reason: "InvalidSubject" })
    const got = await member.getContent(mcid)
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true)

    // --- /content/get at a members-only client provider, relayed by S ---------------------
    const providerId = Identity.generate()
    const provider = await start(
      { role: "client", realm, identity: providerId, seeds: [seed], contentServePolicy: { members: realm, authority: authority.did } },
      { content: { uploadToStation: false } }
    )
    const private_ = new Uint8Array(randomBytes(300_000))
    const privateMcid = await provider.putContent(private_)
    await expect(outsider.getContent(privateMcid)).rejects.toMatchObject({ _tag: "Unauthorized", reason: "UnavailableProof" })
    const relayed = await member.getContent(privateMcid)
    expect(Buffer.from(relayed).equals(Buffer.from(private_))).toBe(true)

    // --- /content/put at S ----------------------------------------------------------------
    const upload = new Uint8Array(randomBytes(400_000))
    const uploaded = await member.putContent(upload)
    expect(await holds(sContent, uploaded)).toBe(true)

    const refusedUpload = await start({ role: "client", realm, seeds: [seed] })
    const theirs = new Uint8Array(randomBytes(100_000))
    const failure = await refusedUpload.putContent(theirs).then(() => undefined, (e: unknown) => e)
    expect(failure).toMatchObject({ _tag: "UploadFailed" })
    expect(String((failure as { reason: string }).reason)).toContain("unauthorized")
    const theirsMcid = await outsider.putContent(theirs)
    expect(await holds(sContent, theirsMcid)).toBe(false)
    await expect(outsider.pushContent(theirsMcid, { to: s.did, timeoutMs: 60_000 })).rejects.toMatchObject({
      _tag: "Unauthorized", operation: "pushContent", reason: "UnavailableProof"
    })
    expect(await holds(sContent, theirsMcid)).toBe(false)
  }, 300_000)
})

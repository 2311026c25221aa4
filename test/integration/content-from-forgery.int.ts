/**
 * A client cannot be named by `from` as anyone else (PROTOCOL.md §12.6, §13.0; docs/guides/
 * content.md "Who from names"), over real QUIC on loopback in one process: in-process nodes and
 * a raw client that writes its own frames.
 *
 * - Push: station S; member client M (its content uploaded to S); client R whose
 *   `acceptPushFrom` names M only. The raw client C attached to S offers M's content to R: its
 *   first offer (S stamps C) is declined; a later offer on the same relayed session that claims
 *   `from` = M is declined too (S stamps C again), and R neither stores the content nor reports
 *   a `ContentPushed`.
 * - `/content/get`: a members-only station P holding a file. A raw client presents a member's
 *   captured, unused invocation with `from` = the member on a direct connection: refused
 *   `err unauthorized` (P takes its peer as the requester). The member, connected as itself,
 *   is then served with that same invocation, and a replay of it is refused (its nonce is spent).
 *
 * Every step has a generous timeout; every node and raw connection is stopped in afterAll.
 */
import { randomBytes } from "node:crypto"
import { afterAll, describe, expect, it } from "vitest"
import type * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import * as Mcid from "../../src/content/Mcid.ts"
import * as Did from "../../src/identity/Did.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as Realm from "../../src/identity/Realm.ts"
import * as Ucan from "../../src/identity/ucan/index.ts"
import type { NodeEvent } from "../../src/node/index.ts"
import * as ContentAuthority from "../../src/node/ContentAuthority.ts"
import type { Frame } from "../../src/wire/Frame.ts"
import { nodeSet, holds } from "../support/nodes.ts"
import { attach, clientHello, type RawPeer, type RawStream } from "../support/rawPeer.ts"

const { start, stopAll } = nodeSet()
const raws: Array<RawPeer> = []
const realm = "io.example"

afterAll(async () => {
  await Promise.all(raws.map((r) => r.destroy().catch(() => undefined)))
  await stopAll()
}, 60_000)

const portOf = (address: string): number => Number(/:(\d+)$/.exec(address)![1])

/** The next frame on `stream` of type `t` (others skipped), within `ms`. */
const nextOf = async (stream: RawStream, t: string, ms = 60_000): Promise<Record<string, unknown>> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const next = await stream.next(Math.max(1, deadline - Date.now()))
    if (next.kind === "frame" && next.frame["t"] === t) return next.frame
    if (next.kind !== "frame" && next.kind !== "timeout") throw new Error(`no ${t}: ${JSON.stringify(next)}`)
  }
  throw new Error(`no ${t} within ${ms} ms`)
}

describe("who from names", () => {
  it("a client's offer through its station is its own, whatever from it claims on later frames", async () => {
    const s = await start({ role: "station", listen: "127.0.0.1:0" })
    const seed = `${s.address}#${s.did}`
    const m = await start({ role: "client", realm, seeds: [seed] })
    const pushed: Array<NodeEvent> = []
    let rContent: ContentSupervisor.Api | undefined
    const r = await start(
      { role: "client", realm, seeds: [seed], acceptPushFrom: [m.did] },
      { onEvent: (e) => e._tag === "ContentPushed" && void pushed.push(e), content: { onApi: (api) => (rContent = api) } }
    )
    const bytes = new Uint8Array(randomBytes(100_000))
    const mcid = await m.putContent(bytes)
    const x = Mcid.bytes(mcid)

    const c = await attach(portOf(s.address!))
    raws.push(c)
    const session = c.open()
    // The first offer names R in `to`; S stamps C as its sender, whom R does not take pushes from.
    await session.send({ t: "content.have", h: [{ m: x, y: true, sz: bytes.length }], to: Did.toPublicKey(r.did) } as Frame)
    expect(await nextOf(session, "content.have")).toMatchObject({ h: [expect.objectContaining({ y: false })] })
    // A later offer on the same session claims to come from M: without `to`, it used to travel on
    // unstamped, and R would have pulled the content as pushed by M (and answered y: true).
    await session.send({ t: "content.have", h: [{ m: x, y: true, sz: bytes.length }], from: Did.toPublicKey(m.did) } as Frame)
    expect(await nextOf(session, "content.have")).toMatchObject({ h: [expect.objectContaining({ y: false })] })
    expect(await holds(rContent, mcid)).toBe(false)
    expect(pushed).toEqual([])

    // M itself is admitted on the same path: the refusals above were about who offered.
    await m.pushContent(mcid, { to: r.did, timeoutMs: 120_000 })
    expect(await holds(rContent, mcid)).toBe(true)
    expect(pushed).toEqual([{ _tag: "ContentPushed", mcid: Mcid.toString(mcid), from: m.did, size: bytes.length }])
  }, 300_000)

  it("a members-only station takes its peer as the requester, not the from it claims", async () => {
    const authority = Identity.generate()
    const p = await start({
      role: "station",
      listen: "127.0.0.1:0",
      realmAuthorities: { [realm]: authority.did },
      servedRealms: [realm],
      contentServePolicy: { members: realm }
    })
    const bytes = new Uint8Array(randomBytes(50_000))
    const mcid = await p.putContent(bytes)
    const x = Mcid.bytes(mcid)

    const memberSeed = new Uint8Array(randomBytes(32))
    const member = Identity.fromSeed(memberSeed)
    const caps = Ucan.RealmCapabilities.issueMember({
      issuer: authority, member: member.did, realm, commands: ["/content/get"], expiration: Math.floor(Date.now() / 1_000) + 86_400
    })
    // The member's invocation for P, as if captured before the member used it.
    const au = ContentAuthority.invoker({ identity: member, delegations: caps })!(p.did, "/content/get", { mcid: Mcid.toString(mcid) }, Date.now())!
    const want = { t: "content.want", w: [{ m: x, k: "have" }], au }
    const hello = clientHello([Realm.id(realm)])

    const c = await attach(portOf(p.address!), undefined, hello)
    raws.push(c)
    const forged = c.open()
    await forged.send({ ...want, from: member.publicKey } as Frame)
    expect(await nextOf(forged, "err")).toMatchObject({ c: "unauthorized", r: "InvalidClaim" })

    const asMember = await attach(portOf(p.address!), memberSeed, hello)
    raws.push(asMember)
    const honest = asMember.open()
    await honest.send(want as Frame)
    expect(await nextOf(honest, "content.have")).toMatchObject({ h: [expect.objectContaining({ y: true })] })

    const replay = asMember.open()
    await replay.send(want as Frame)
    expect(await nextOf(replay, "err")).toMatchObject({ c: "unauthorized", r: "InvalidClaim" })
  }, 300_000)
})

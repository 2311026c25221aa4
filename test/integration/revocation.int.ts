/**
 * UCAN revocation end to end (PROTOCOL.md §13.6) over real QUIC on loopback, with in-process
 * nodes: two stations pin the realm `io.example`; Alice and Bob subscribe at station A with their
 * member delegations and receive what Carol publishes at station B. The realm service (`macula realm revoke
 * --seed`, run in process) revokes Alice's subscribe delegation through station B: it stores the
 * `revocation` DHT record and publishes the realm's `revoked_v1` fact. Station A, which watches
 * that fact since it granted in the realm, looks the record up, verifies it and ends Alice's
 * subscription with `err unauthorized` (`Revoked`): her `onEnd` sees `Unauthorized`, events stop
 * reaching her, and presenting the same chain again is refused `Revoked`. Revoking her advertise
 * delegation likewise ends her advertisement: its `onEnd` sees `Unauthorized` (`Revoked`) and
 * Carol's calls stop reaching her. Bob is unaffected throughout.
 *
 * A second case shows a station that never hears the fact (the realm service stores only the DHT
 * record): its re-check of held grants finds the record once the negative answer runs out
 * (`revocationCacheMs`, 2 s here) and ends the member's subscription all the same.
 *
 * Every step has a generous timeout; every node is stopped and the directory removed in afterAll.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, it } from "vitest"
import * as Capabilities from "../../src/cli/Capabilities.ts"
import * as Io from "../../src/cli/Io.ts"
import * as RealmCommand from "../../src/cli/RealmCommand.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as Ucan from "../../src/identity/ucan/index.ts"
import { RealmCapabilities } from "../../src/identity/ucan/index.ts"
import * as KeyFile from "../../src/node/KeyFile.ts"
import * as SignedRecord from "../../src/node/SignedRecord.ts"
import type { RevocationRecordBody } from "../../src/wire/SignedBody.ts"
import { MaculaNode } from "../../src/node/index.ts"
import { nodeSet } from "../support/nodes.ts"

const { start, stopAll } = nodeSet()
const dir = mkdtempSync(join(tmpdir(), "macula-revocation-"))
const realm = "io.example"
const orders = `${realm}/acme/shop/orders/placed_v1`
const add = `${realm}/acme/calc/math/add_v1`

afterAll(async () => {
  await stopAll()
  rmSync(dir, { recursive: true, force: true })
}, 60_000)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const within = <A>(label: string, ms: number, promise: Promise<A>): Promise<A> =>
  Promise.race([promise, new Promise<A>((_, reject) => setTimeout(() => reject(new Error(`${label}: not within ${ms} ms`)), ms))])

const until = async (label: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${label}: not within ${ms} ms`)
    await sleep(50)
  }
}

describe("revocation distribution", () => {
  it("ends a revoked member's subscription at its station and refuses the chain, leaving other members alone", async () => {
    const authority = Identity.generate()
    const [alice, bob, carol] = [Identity.generate(), Identity.generate(), Identity.generate()]
    const expiration = Math.floor(Date.now() / 1_000) + 3_600
    // One delegation per mesh command: publish and subscribe limited to io.example/acme/#.
    const capsOf = (member: Identity) =>
      RealmCapabilities.issueMember({ issuer: authority, member: member.did, realm, topics: [`${realm}/acme/#`], expiration })
    const [aliceCaps, bobCaps, carolCaps] = [capsOf(alice), capsOf(bob), capsOf(carol)]
    const aliceSubscribe = aliceCaps.find((c) => Ucan.decode(c).cmd === "/mesh/subscribe")!
    const aliceAdvertise = aliceCaps.find((c) => Ucan.decode(c).cmd === "/mesh/advertise")!

    const pins = { [realm]: authority.did }
    const a = await start({ role: "station", listen: "127.0.0.1:0", realmAuthorities: pins })
    const b = await start({ role: "station", listen: "127.0.0.1:0", realmAuthorities: pins, seeds: [`${a.address}#${a.did}`] })
    const alive = async (node: MaculaNode, peer: string) =>
      (await node.membership())?.members.some((m) => m.did === peer && m.status === "alive") === true
    await until("stations linked", async () => (await alive(a, b.did)) && (await alive(b, a.did)), 30_000)

    const seedA = `${a.address}#${a.did}`
    const aliceNode = await start({ role: "client", realm, identity: alice, seeds: [seedA], capabilities: aliceCaps })
    const bobNode = await start({ role: "client", realm, identity: bob, seeds: [seedA], capabilities: bobCaps })
    // Carol publishes at B: her events reaching A prove the stations' interest link is up, so the
    // revoked_v1 fact published at B will reach A too.
    const carolNode = await start({ role: "client", realm, identity: carol, seeds: [`${b.address}#${b.did}`], capabilities: carolCaps })

    const aliceGot: Array<unknown> = []
    const bobGot: Array<unknown> = []
    const ended: Array<{ readonly _tag: string; readonly reason?: string }> = []
    await aliceNode.subscribe(`${realm}/acme/#`, (e) => void aliceGot.push(e.payload), {
      onEnd: (error) => void ended.push(error as { _tag: string; reason?: string })
    })
    await bobNode.subscribe(`${realm}/acme/#`, (e) => void bobGot.push(e.payload))
    // Alice also provides a procedure at A; Carol calls it through B.
    const adEnded: Array<{ readonly _tag: string; readonly reason?: string }> = []
    await aliceNode.advertise(add, (args) => (args as { a: number; b: number }).a + (args as { a: number; b: number }).b, {
      onEnd: (error) => void adEnded.push(error as { _tag: string; reason?: string })
    })

    await within("both members receive", 30_000, (async () => {
      // Until A's interest reached B, B forwards nothing: publish until the first event arrives.
      for (let n = 1; aliceGot.length === 0 || bobGot.length === 0; n++) {
        await carolNode.publish(orders, { n })
        await sleep(300)
      }
    })())

    // The realm service revokes Alice's subscribe delegation through station B.
    const keyPath = join(dir, "authority.key")
    KeyFile.create(keyPath, authority)
    const capPath = join(dir, "alice.ucan")
    writeFileSync(capPath, Capabilities.encode(aliceCaps))
    const io = Io.capture()
    const code = await within(
      "realm revoke",
      60_000,
      RealmCommand.revoke(["--authority-key", keyPath, "--cid", Ucan.cid(aliceSubscribe), "--cap", capPath, "--seed", `${b.address}#${b.did}`], io)
    )
    expect(code).toBe(0)
    expect(io.stderr.join("\n")).toContain(`published ${realm}/_realm/_realm/membership/revoked_v1`)

    // Station A learned it from the fact and the DHT record, and ended Alice's subscription.
    await until("alice's subscription ended", () => ended.length > 0, 30_000)
    expect(ended[0]).toMatchObject({ _tag: "Unauthorized", reason: "Revoked" })

    // Events keep reaching Bob, no longer Alice.
    const aliceBefore = aliceGot.length
    const bobBefore = bobGot.length
    await carolNode.publish(orders, { n: 2 })
    await until("bob still receives", () => bobGot.length > bobBefore, 15_000)
    await sleep(500)
    expect(aliceGot.length).toBe(aliceBefore)

    // Subscribing again on the same connection presents the chain again and is refused `Revoked`.
    await expect(aliceNode.subscribe(`${realm}/acme/#`, () => undefined)).rejects.toMatchObject({ _tag: "Unauthorized", reason: "Revoked" })
    // Revoking her advertise delegation ends her advertisement: calls stop reaching her.
    await within("routable call", 60_000, (async () => {
      // The provider record reaches B through the DHT; until then B answers no_provider.
      while (await carolNode.call(add, { a: 2, b: 3 }, { timeoutMs: 5_000 }).then((r) => r !== 5, () => true)) await sleep(200)
    })())
    const second = await within(
      "realm revoke (advertise)",
      60_000,
      RealmCommand.revoke(["--authority-key", keyPath, "--cid", Ucan.cid(aliceAdvertise), "--cap", capPath, "--seed", `${b.address}#${b.did}`], Io.capture())
    )
    expect(second).toBe(0)
    // The station ended the advertisement: Alice's `onEnd` hears why, once.
    await until("alice's advertisement ended", () => adEnded.length > 0, 30_000)
    expect(adEnded).toEqual([expect.objectContaining({ _tag: "Unauthorized", reason: "Revoked" })])
    await within("calls no longer reach alice", 30_000, (async () => {
      while (await carolNode.call(add, { a: 2, b: 3 }, { timeoutMs: 5_000 }).then(() => true, () => false)) await sleep(200)
    })())
    await expect(carolNode.call(add, { a: 2, b: 3 }, { timeoutMs: 5_000 })).rejects.toMatchObject({
      _tag: expect.stringMatching(/^(NoProvider|RemoteError)$/)
    })
    await expect(aliceNode.advertise(`${realm}/acme/calc/math/sub_v1`, () => 0)).rejects.toMatchObject({ _tag: "Unauthorized", reason: "Revoked" })

    // A fresh node presenting Alice's revoked chain is refused `Revoked`; Bob can still subscribe.
    const again = await start({ role: "client", realm, identity: alice, seeds: [seedA], capabilities: aliceCaps })
    await expect(again.subscribe(`${realm}/acme/#`, () => undefined)).rejects.toMatchObject({ _tag: "Unauthorized", reason: "Revoked" })
    const bobAgain = await bobNode.subscribe(`${realm}/acme/shop/#`, () => undefined)
    await bobAgain.unsubscribe()
  }, 180_000)

  it("ends a held grant whose revocation fact the station missed, at its re-check (revocationCacheMs)", async () => {
    const authority = Identity.generate()
    const dave = Identity.generate()
    const expiration = Math.floor(Date.now() / 1_000) + 3_600
    const caps = RealmCapabilities.issueMember({ issuer: authority, member: dave.did, realm, topics: [`${realm}/acme/#`], expiration })
    const subscribeCap = caps.find((c) => Ucan.decode(c).cmd === "/mesh/subscribe")!
    const c = await start({
      role: "station",
      listen: "127.0.0.1:0",
      realmAuthorities: { [realm]: authority.did },
      knobs: { revocationCacheMs: 2_000 }
    })
    const seedC = `${c.address}#${c.did}`
    const daveNode = await start({ role: "client", realm, identity: dave, seeds: [seedC], capabilities: caps })
    const ended: Array<{ readonly _tag: string; readonly reason?: string }> = []
    await daveNode.subscribe(`${realm}/acme/#`, () => undefined, { onEnd: (error) => void ended.push(error as { _tag: string; reason?: string }) })

    // The realm service stores the revocation record only: no `revoked_v1` fact is published.
    let put: Parameters<NonNullable<NonNullable<Parameters<typeof MaculaNode.start>[1]>["onRecords"]>>[1] | undefined
    await start({ role: "client", realm, identity: authority, seeds: [seedC] }, { onRecords: (_find, p) => void (put = p) })
    const revocation = Ucan.revoke({ issuer: authority, subject: authority.did, delegation: Ucan.cid(subscribeCap), path: [Ucan.cid(subscribeCap)] })
    const d = Ucan.Revocation.recordData(revocation, [subscribeCap])
    if (d instanceof Error) throw d
    const now = Date.now()
    const body: RevocationRecordBody = {
      ty: "revocation",
      key: Ucan.Revocation.recordKey(d.cid)!,
      pk: authority.publicKey,
      seq: now,
      iat: now,
      exp: now + 3_600_000,
      d
    }
    const record = SignedRecord.signedRecord(body, (m) => authority.sign(m))
    if (record instanceof Error) throw record
    const storedAt = Date.now()
    await within("record stored", 30_000, Effect.runPromise(put!(record)))

    // No fact: the station learns it at a re-check sweep, within about revocationCacheMs.
    await until("dave's subscription ended by the re-check", () => ended.length > 0, 30_000)
    expect(ended[0]).toMatchObject({ _tag: "Unauthorized", reason: "Revoked" })
    // 2 s of negative answer plus a 0.5 s sweep period and a lookup; a loaded machine adds lag.
    expect(Date.now() - storedAt).toBeLessThan(20_000)
  }, 120_000)
})

/**
 * Push upload (PROTOCOL.md §12.6) through the node's API over real QUIC on loopback, in one
 * process: two linked stations S1 and S2; client A on S1 (which does not upload to its station,
 * so A is the only provider), client B on S2 whose `acceptPushFrom` names A, client C on S1 with
 * the client default (`none`).
 *
 * Shown: A's push to B travels A → S1 → S2 → B (S1 stamps A as the sender), B pulls the content
 * from A through both stations, and the push resolves once B holds it: byte-identical in B's
 * store, announced to B's application as `ContentPushed` from A. A push to C fails `PushFailed`
 * (`declined`) well within its timeout, and C stores nothing; a push unanswered in time fails
 * `PushFailed` (`timeout`) while B's pull goes on. A malformed `acceptPushFrom` is a
 * `ConfigError` at start. A station pushes to B as well (through S2, naming itself). A client
 * pushes to a station other than its home one, dialled at the address of its `station` record:
 * one that lists it holds the content (and the connection dialled for it closes once it is
 * answered), one with a station's default declines (the client is not attached there). The bundled `macula put --data DIR --to DID` pushes a file to a node
 * that lists the sender's DID (exit 0, the MCID on stdout once it holds it) and fails in words,
 * exit 1, against a node with the default.
 *
 * Every step has a generous timeout; every node is stopped in afterAll.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, it } from "vitest"
import * as DhtRpc from "../../actors/DhtRpc.ts"
import type * as DhtSupervisor from "../../supervisors/DhtSupervisor.ts"
import type * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import * as Mcid from "../../src/content/Mcid.ts"
import * as Did from "../../src/identity/Did.ts"
import { MaculaNode, type NodeEvent } from "../../src/node/index.ts"
import * as ContentRelay from "../../src/node/ContentRelay.ts"
import * as StationRecord from "../../src/protocols/dht/StationRecord.ts"
import { bundled, killAll } from "../support/cli.ts"
import { nodeSet, eventually, holds } from "../support/nodes.ts"
import { run } from "../support/stations.ts"

const { start, stopAll } = nodeSet()
const children: Array<ChildProcessWithoutNullStreams> = []
const realm = "io.example"
const dir = mkdtempSync(join(tmpdir(), "content-push-"))

afterAll(async () => {
  killAll(children)
  await stopAll()
  rmSync(dir, { recursive: true, force: true })
}, 60_000)

/** Runs the bundled `macula ARGS…` to completion (SIGKILLed after `ms`). */
const macula = (args: ReadonlyArray<string>, ms = 90_000) => run(bundled("main"), children, args, ms)

/** Waits until `dht` finds the endpoint record of `did` (the relays route by it). */
const endpointFound = (dht: DhtSupervisor.Dht, did: string) =>
  eventually(`endpoint record of ${did.slice(0, 16)}…`, 60_000, async () => {
    const found = await Effect.runPromise(dht.findValue(ContentRelay.endpointKey(Did.toPublicKey(did)), "endpoint"))
    if (ContentRelay.stationsOfRecords(found.records, did).length === 0) throw new Error("not yet")
  })

/** Waits until `dht` finds the `station` record of `did` with an address to dial. */
const stationFound = (dht: DhtSupervisor.Dht, did: string) =>
  eventually(`station record of ${did.slice(0, 16)}…`, 60_000, async () => {
    const pk = Did.toPublicKey(did)
    const found = await Effect.runPromise(dht.findValue(StationRecord.key({ sha256: DhtRpc.sha256 }, pk), "station"))
    if (StationRecord.stationAddresses({ clockSkewLeewayMs: 60_000 }, found.records.map((r) => r.body), pk, Date.now()).length === 0) {
      throw new Error("not yet")
    }
  })

/** Whether `store` holds `mcid` whole (read without fetching anything). */

describe("push upload", () => {
  it("A pushes a file to B behind another station; B admits A and holds it; C (default) declines", async () => {
    let s1Dht: DhtSupervisor.Dht | undefined
    let s2Dht: DhtSupervisor.Dht | undefined
    const s1 = await start({ role: "station", listen: "127.0.0.1:0" }, { onDht: (d) => (s1Dht = d) })
    const s1Seed = `${s1.address}#${s1.did}`
    const s2 = await start({ role: "station", listen: "127.0.0.1:0", seeds: [s1Seed] }, { onDht: (d) => (s2Dht = d) })
    const s2Seed = `${s2.address}#${s2.did}`

    // A keeps its content to itself (no upload to S1): B can only pull it from A. A repeats its
    // offers every 50 ms (15 s by default), so repeats reach B while it pulls.
    const a = await start({ role: "client", realm, seeds: [s1Seed] }, { content: { uploadToStation: false, pushRepeatMs: 50 } })
    const pushed: Array<NodeEvent> = []
    let bContent: ContentSupervisor.Api | undefined
    const b = await start(
      { role: "client", realm, seeds: [s2Seed], acceptPushFrom: [a.did, s1.did] },
      { onEvent: (e) => e._tag === "ContentPushed" && void pushed.push(e), content: { onApi: (api) => (bContent = api) } }
    )
    let cContent: ContentSupervisor.Api | undefined
    const c = await start({ role: "client", realm, seeds: [s1Seed] }, { content: { onApi: (api) => (cContent = api) } })

    // Three chunks and a manifest: the pull is a real multi-block fetch.
    const bytes = new Uint8Array(randomBytes(2 * 262_144 + 4_321))
    const mcid = await a.putContent(bytes)
    expect(await holds(bContent, mcid)).toBe(false)

    // B published its endpoint record (it accepts pushes), A with its provider record: S1 finds
    // B's station, S2 finds A's.
    await endpointFound(s1Dht!, b.did)
    await endpointFound(s2Dht!, a.did)

    const began = Date.now()
    await a.pushContent(mcid, { to: b.did, timeoutMs: 120_000 })
    const tookMs = Date.now() - began
    expect(await holds(bContent, mcid)).toBe(true)
    const back = await b.getContent(mcid)
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true)
    expect(pushed).toEqual([{ _tag: "ContentPushed", mcid: Mcid.toString(mcid), from: a.did, size: bytes.length }])
    console.log(`push of ${bytes.length} bytes A → S1 → S2 → B: ${tookMs} ms`)

    // C takes pushes from nobody: an explicit refusal, long before the timeout; C stores nothing.
    const refusedAt = Date.now()
    await expect(a.pushContent(mcid, { to: c.did, timeoutMs: 60_000 })).rejects.toMatchObject({ _tag: "PushFailed", reason: "declined", to: c.did })
    expect(Date.now() - refusedAt).toBeLessThan(60_000)
    expect(await holds(cContent, mcid)).toBe(false)
    expect((await Effect.runPromise(cContent!.store()!.usage)).bytes).toBe(0)

    // An answer that does not come in time: `PushFailed` (`timeout`). The recipient's pull goes
    // on regardless, so the content still arrives.
    const late = new Uint8Array(randomBytes(300_000))
    const lateMcid = await a.putContent(late)
    await expect(a.pushContent(lateMcid, { to: b.did, timeoutMs: 1 })).rejects.toMatchObject({ _tag: "PushFailed", reason: "timeout" })
    await eventually("the timed-out push still arrives", 60_000, async () => {
      if (!(await holds(bContent, lateMcid))) throw new Error("not yet")
    })

    // A station pushes too: S1 reaches B through S2 (B's endpoint record), naming itself in `from`.
    const fromStation = new Uint8Array(randomBytes(100_000))
    const stationMcid = await s1.putContent(fromStation)
    await s1.pushContent(stationMcid, { to: b.did, timeoutMs: 120_000 })
    expect(await holds(bContent, stationMcid)).toBe(true)
    expect(pushed.at(-1)).toEqual({ _tag: "ContentPushed", mcid: Mcid.toString(stationMcid), from: s1.did, size: fromStation.length })

    // Content not held here cannot be pushed; a bad DID is a typed error.
    const unknown = Mcid.ofBytes(new Uint8Array(randomBytes(64)))
    await expect(a.pushContent(unknown, { to: b.did })).rejects.toMatchObject({ _tag: "ContentNotFound" })
    await expect(a.pushContent(mcid, { to: "did:key:nope" })).rejects.toMatchObject({ _tag: "DidError" })
    await expect(a.pushContent(mcid, { to: b.did, timeoutMs: -1 })).rejects.toMatchObject({ _tag: "ConfigError" })
  }, 300_000)

  it("A pushes to a station other than its home one, dialled directly; a station with the default declines", async () => {
    let s1Dht: DhtSupervisor.Dht | undefined
    const s1 = await start({ role: "station", listen: "127.0.0.1:0" }, { onDht: (d) => (s1Dht = d) })
    const s1Seed = `${s1.address}#${s1.did}`
    const a = await start({ role: "client", realm, seeds: [s1Seed] }, { content: { uploadToStation: false } })
    // S2 lists A; S3 keeps a station's default (its attached clients), which A is not.
    let s2Content: ContentSupervisor.Api | undefined
    const s2 = await start({ role: "station", listen: "127.0.0.1:0", seeds: [s1Seed], acceptPushFrom: [a.did] }, {
      content: { onApi: (api) => (s2Content = api) }
    })
    let s3Content: ContentSupervisor.Api | undefined
    const s3 = await start({ role: "station", listen: "127.0.0.1:0", seeds: [s1Seed] }, { content: { onApi: (api) => (s3Content = api) } })

    // A finds a station through its `station` record, looked up through S1's proxy.
    for (const s of [s2, s3]) await stationFound(s1Dht!, s.did)

    const bytes = new Uint8Array(randomBytes(2 * 262_144 + 777))
    const mcid = await a.putContent(bytes)
    await a.pushContent(mcid, { to: s2.did, timeoutMs: 120_000 })
    expect(await holds(s2Content, mcid)).toBe(true)
    expect(Buffer.from(await s2.getContent(mcid)).equals(Buffer.from(bytes))).toBe(true)
    // The connection A dialled for the push closes once it is answered; its home link stays.
    await eventually("A's connection to S2 closed", 20_000, async () => {
      const open = (await a.connections()).filter((c) => c.phase !== "closed").map((c) => c.did)
      if (open.includes(s2.did) || !open.includes(s1.did)) throw new Error(`open: ${open.join(", ")}`)
    })

    // S3 admits only its attached clients: A, a client of S1 visiting it, is declined at once.
    const refusedAt = Date.now()
    await expect(a.pushContent(mcid, { to: s3.did, timeoutMs: 60_000 })).rejects.toMatchObject({ _tag: "PushFailed", reason: "declined", to: s3.did })
    expect(Date.now() - refusedAt).toBeLessThan(60_000)
    expect(await holds(s3Content, mcid)).toBe(false)
  }, 300_000)

  it("macula put --to pushes a file to a node that admits the sender's DID, and fails in words otherwise", async () => {
    const station = await start({ role: "station", listen: "127.0.0.1:0" })
    const seed = `${station.address}#${station.did}`
    // The sender's identity lives in its data directory: create it once to learn its DID.
    const data = join(dir, "sender")
    const first = await MaculaNode.start({ role: "client", realm, seeds: [seed], dataDir: data })
    const sender = first.did
    await first.stop()

    let bContent: ContentSupervisor.Api | undefined
    const b = await start({ role: "client", realm, seeds: [seed], acceptPushFrom: [sender] }, { content: { onApi: (api) => (bContent = api) } })
    const c = await start({ role: "client", realm, seeds: [seed] })
    const file = join(dir, "payload.bin")
    const bytes = new Uint8Array(randomBytes(700_000))
    writeFileSync(file, bytes)

    const ok = await macula(["put", "--seed", seed, "--realm", realm, "--data", data, "--to", b.did, file])
    expect(ok.stderr).toBe("")
    expect(ok.code).toBe(0)
    const mcid = Mcid.parse(ok.stdout.trim())
    expect(Mcid.toString(mcid)).toBe(Mcid.toString(Mcid.ofBytes(bytes)))
    expect(await holds(bContent, mcid)).toBe(true)
    expect(Buffer.from(await b.getContent(mcid)).equals(Buffer.from(bytes))).toBe(true)

    const refused = await macula(["put", "--seed", seed, "--realm", realm, "--data", data, "--to", c.did, "--timeout", "60000", file])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe("")
    expect(refused.stderr.trim()).toBe(`macula put: push refused by ${c.did} (its acceptPushFrom does not admit this node, or it could not take the content)`)
  }, 300_000)

  it("a malformed acceptPushFrom is a ConfigError", async () => {
    await expect(MaculaNode.start({ role: "client", realm, seeds: ["quic://127.0.0.1:9"], acceptPushFrom: ["did:key:nope"] }))
      .rejects.toMatchObject({ _tag: "ConfigError" })
  })
})

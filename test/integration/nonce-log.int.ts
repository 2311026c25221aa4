/**
 * Seen nonces kept in the data directory (PROTOCOL.md §13.4, §15.2) through the node's API over
 * real QUIC on loopback, in one process: a members-only station with a data directory records
 * the nonce of the `/content/get` invocation a member presents in `DIR/nonces.log` before it
 * serves; restarted from the same directory it loads them back (the same identity, the same
 * nonces, nothing lost). That a loaded nonce refuses a replay is shown checker by checker in
 * test/unit/node/NonceLog.test.ts.
 */
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/Identity.ts"
import * as Ucan from "../../src/identity/ucan/index.ts"
import * as NonceLog from "../../src/node/NonceLog.ts"
import { nodeSet } from "../support/nodes.ts"

const { start, stopAll } = nodeSet()
const dir = mkdtempSync(join(tmpdir(), "macula-nonce-log-"))
const realm = "io.example"

afterAll(async () => {
  await stopAll()
  rmSync(dir, { recursive: true, force: true })
}, 60_000)

const authority = Identity.generate()
const expiration = Math.floor(Date.now() / 1_000) + 86_400
const live = () => NonceLog.decode(readFileSync(join(dir, NonceLog.fileName), "utf8"), Math.floor(Date.now() / 1_000), 60).live

describe("seen nonces in the data directory", () => {
  it("a station records a member's invocation before serving it and keeps it across a restart", async () => {
    const config = {
      role: "station",
      listen: "127.0.0.1:0",
      dataDir: dir,
      realmAuthorities: { [realm]: authority.did },
      servedRealms: [realm],
      contentServePolicy: { members: realm }
    } as const
    const s = await start(config)
    expect(existsSync(join(dir, NonceLog.fileName))).toBe(false) // nothing accepted yet
    const memberId = Identity.generate()
    const member = await start({
      role: "client",
      realm,
      identity: memberId,
      seeds: [`${s.address}#${s.did}`],
      capabilities: Ucan.RealmCapabilities.issueMember({ issuer: authority, member: memberId.did, realm, commands: ["/content/get"], expiration })
    })
    const bytes = new Uint8Array(randomBytes(100_000))
    const mcid = await s.putContent(bytes)
    expect(Buffer.from(await member.getContent(mcid)).equals(Buffer.from(bytes))).toBe(true)
    const recorded = live()
    expect(recorded.length).toBeGreaterThan(0)
    await member.stop()
    await s.stop()

    const again = await start(config)
    expect(again.did).toBe(s.did)
    await again.stop()
    expect(live()).toEqual(recorded)
  }, 120_000)
})

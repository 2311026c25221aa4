/**
 * Bans outlive a restart (PROTOCOL.md §3.7, §15.2), with real `macula station` processes, a
 * real data directory and a raw QUIC peer on loopback: a peer that earns a ban (twenty malformed
 * frames, §14) is closed `banned` and its DID lands in `DIR/bans.json`; the station stopped and
 * started again with the same `--data` still refuses that DID (`banned`) while another peer is
 * admitted; a damaged ban file is reported on stderr and the station starts with no bans.
 *
 * Every child is killed in afterAll; every wait has a generous bound.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import { attach, clientHello, connect } from "../support/rawPeer.ts"
import { station, type StationProc, until, within } from "../support/stations.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []
const dir = mkdtempSync(join(tmpdir(), "macula-bans-"))

afterAll(() => {
  killAll(children)
  rmSync(dir, { recursive: true, force: true })
})

const portOf = (st: StationProc): number => Number(/:(\d+)$/.exec(st.address)![1])

const start = () => station(bundle, children, ["--listen", "127.0.0.1:0", "--data", dir])

const stop = async (st: StationProc) => {
  st.child.kill("SIGTERM")
  const exit = await within("station stop", 30_000, st.exited)
  expect(exit.code).toBe(0)
}

/** How the station ends a connection from the key of `seed` that says `hello`. */
const closedAs = async (port: number, seed: Uint8Array): Promise<string> => {
  const peer = await connect(port, seed)
  try {
    await peer.open().send(clientHello()).catch(() => undefined)
    return (await within("the station closes the connection", 15_000, peer.closed)).code
  } finally {
    await peer.destroy()
  }
}

describe("persisted bans", () => {
  it("a banned peer stays banned across a restart; a damaged ban file is a warning, not a failure", async () => {
    const seed = Uint8Array.from(randomBytes(32))
    const first = await start()
    const peer = await attach(portOf(first), seed)
    for (let i = 0; i < 21; i++) {
      const s = peer.open()
      await s.sendBody(Uint8Array.of(0xc1)).catch(() => undefined)
      // The 21st reset closes the connection, so the stream may end with the close instead.
      expect(["reset", "closed"]).toContain((await s.next(8_000)).kind)
    }
    expect((await within("banned", 15_000, peer.closed)).code).toBe("banned")
    await peer.destroy()

    const file = join(dir, "bans.json")
    await until("the ban is written", () => {
      try {
        return readFileSync(file, "utf8").includes(peer.did)
      } catch {
        return false
      }
    }, 15_000, first)
    const saved = JSON.parse(readFileSync(file, "utf8")) as { type: string; bans: Array<{ did: string; until: number }> }
    expect(saved.type).toBe("macula-node/bans")
    expect(saved.bans.map((b) => b.did)).toEqual([peer.did])
    expect(saved.bans[0]!.until).toBeGreaterThan(Date.now() + 500_000) // banDurationMs: 600 000
    expect(statSync(file).mode & 0o777).toBe(0o600)
    await stop(first)

    // Same data directory: same DID, and the peer is still refused.
    const second = await start()
    expect(second.did).toBe(first.did)
    expect(await closedAs(portOf(second), seed)).toBe("banned")
    await until("the refusal is logged", () => second.stderr().includes(`refused ${peer.did}`), 15_000, second)
    const other = await attach(portOf(second), Uint8Array.from(randomBytes(32)))
    expect(other.isClosed()).toBe(false)
    await other.destroy()
    await stop(second)

    // A damaged file: a warning on stderr, no bans, the station runs.
    writeFileSync(file, "{ this is not json")
    const third = await start()
    await until("the warning", () => third.stderr().includes("bans.json: not JSON; starting with no bans"), 15_000, third)
    const back = await attach(portOf(third), seed)
    expect(back.isClosed()).toBe(false)
    await back.destroy()
    expect(third.child.exitCode).toBe(null)
    await stop(third)
  }, 240_000)
})

/**
 * `macula status` against real station processes over real QUIC on loopback: two linked
 * stations, status asked of one. It must print the other as an alive member offered in `hello`
 * (peers and membership), both stations' `station` records found through `dht.get` (DHT), the
 * list of what a client cannot learn, and its own supervision tree; `--json` carries the same.
 * The CLI is bundled once from the sources; every step has a generous timeout and every child
 * is killed in afterAll.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import { linkedPair, run, sleep } from "../support/stations.ts"
import type { Report } from "../../src/cli/Status.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []

afterAll(() => {
  killAll(children)
})

describe("macula status", () => {
  it("prints peers, DHT and membership as a client learns them, and the supervision tree", async () => {
    const { a, b } = await linkedPair(bundle, children)
    // Station records are stored once the stations know each other; look until both are found
    // (bounded: a loaded machine may take a while to replicate them).
    let report: Report | undefined
    for (let attempt = 0; attempt < 20; attempt++) {
      const json = await run(bundle, children, ["status", "--seed", a.seed, "--json", "--timeout", "20000"], 60_000)
      expect(json.code, json.stderr).toBe(0)
      report = JSON.parse(json.stdout) as Report
      const found = new Set(report.dht.stations.filter((e) => e.found).map((e) => e.did))
      if (report.membership.some((m) => m.did === b.did) && found.has(a.did) && found.has(b.did)) break
      await sleep(1_000)
    }
    expect(report!.station.did).toBe(a.did)
    expect(report!.membership).toContainEqual({ did: b.did, addresses: [b.address] })
    expect(report!.dht.error).toBeUndefined()
    expect(report!.dht.stations.find((e) => e.did === a.did)).toMatchObject({ found: true, addresses: [a.address] })
    expect(report!.dht.stations.find((e) => e.did === b.did)).toMatchObject({ found: true, addresses: [b.address] })
    expect(report!.dht.stations.every((e) => e.expiresAt === undefined || e.expiresAt > Date.now())).toBe(true)

    const text = await run(bundle, children, ["status", "--seed", a.seed, "--timeout", "20000"], 60_000)
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`station     ${a.address} ${a.did}`)
    expect(text.stdout).toMatch(/peers and membership: \d+ alive stations? offered in hello/)
    expect(text.stdout).toContain(`  ${b.did} ${b.address}`)
    expect(text.stdout).toContain(`  ${a.did} (this station) found: ${a.address}, expires in`)
    expect(text.stdout).toContain(`  ${b.did} found: ${b.address}, expires in`)
    expect(text.stdout).toContain("not available from a client:")
    expect(text.stdout).toContain("station-link [running]")
  }, 300_000)
})

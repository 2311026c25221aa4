/**
 * A `macula get --data DIR` process SIGKILLed part way resumes when run again (PROTOCOL.md
 * §12.4 step 4): the second run starts from the chunks the first one verified and stored, asks
 * the provider only for the others (counted at the provider), and writes a byte-identical file.
 * The store under DIR never holds a block that does not hash to its name, and after the rerun
 * nothing is left in its `tmp/`. The provider is a client in its own process (so the sessions
 * are relayed by the station), and reads one chunk at a time, slowly enough (about 4 s for the
 * whole) that progress lines, one a second, see the transfer part way however fast the machine.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Mcid from "../../src/content/Mcid.ts"
import { auditStore, processes } from "./fixtures/content-procs.ts"

const procs = processes()
const dir = mkdtempSync(join(tmpdir(), "content-resume-"))
const realm = "io.example"
const chunk = 262_144

afterAll(() => {
  procs.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

/** Stored bytes of each `progress A UNIT / B UNIT` line. */
const progressBytes = (stderr: string): ReadonlyArray<number> =>
  [...stderr.matchAll(/^progress ([\d.]+) (B|KiB|MiB|GiB) \//gm)].map((m) =>
    Number(m[1]) * ({ B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as Record<string, number>)[m[2]!]!)

describe("macula get after SIGKILL", () => {
  it("a killed get resumes from its store, fetches only the missing chunks, and the file is byte-identical", async () => {
    const { seed } = await procs.station()
    const chunks = 40
    const source = randomBytes(chunks * chunk - 1_000)
    const file = join(dir, "source.bin")
    writeFileSync(file, source)
    const provider = procs.node({ mode: "provide", seed, realm, data: join(dir, "provider"), file, serialDelayMs: 100 })
    const mcid = (await provider.until((e) => e.ev === "ready", 60_000))["mcid"] as string
    expect(mcid).toBe(Mcid.toString(Mcid.ofBytes(new Uint8Array(source))))

    const data = join(dir, "getter")
    const out = join(dir, "out.bin")
    const args = ["get", "--seed", seed, "--realm", realm, "--data", data, mcid, "-o", out]

    // First run: killed once at least a quarter is stored.
    let killedAt = 0
    const first = procs.macula(args, (stderr) => {
      const stored = progressBytes(stderr).at(-1) ?? 0
      if (killedAt === 0 && stored >= source.length / 4) {
        killedAt = stored
        first.child.kill("SIGKILL")
      }
    })
    const killed = await first.result
    expect(killed.signal, killed.stderr).toBe("SIGKILL")
    expect(killedAt).toBeLessThan(source.length)

    // Whatever the store holds after the kill is whole: every block hashes to its name.
    const afterKill = auditStore(join(data, "content"))
    expect(afterKill.problems.filter((p) => !p.startsWith("left in tmp"))).toEqual([])
    const held = afterKill.blocks - 1 // the manifest
    expect(held).toBeGreaterThanOrEqual(Math.floor(killedAt / chunk))
    expect(held).toBeLessThan(chunks)

    // Second run: starts from what is held and asks only for the rest. First let the provider
    // finish the sends it had in flight for the killed run, so they are not counted again.
    const served = () => provider.events.filter((e) => e.ev === "served").length
    for (let last = -1; last !== served();) {
      last = served()
      await new Promise((done) => setTimeout(done, 1_500))
    }
    const servedBefore = served()
    const second = await procs.macula(args).result
    expect(second.code, second.stderr).toBe(0)
    const stored = progressBytes(second.stderr)
    // Lines show two decimals: compare to the held bytes less a rounding margin.
    expect(stored[0]).toBeGreaterThanOrEqual(held * chunk - 0.01 * 1024 ** 2)
    expect(second.stderr).toMatch(/^progress 10\.00 MiB \/ 10\.00 MiB \(100%\)/m)
    const servedAgain = served() - servedBefore
    expect(servedAgain).toBe(chunks - held)

    expect(Buffer.compare(readFileSync(out), source)).toBe(0)
    // No partial output file is left beside it by either run.
    expect(readdirSync(dir).filter((name) => name.startsWith("out.bin"))).toEqual(["out.bin"])
    const audit = auditStore(join(data, "content"))
    expect(audit.problems).toEqual([])
    expect(audit.blocks).toBe(chunks + 1)
  }, 150_000)
})

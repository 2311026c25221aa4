/**
 * `macula demo` as a process (API.md "CLI"): it starts three station processes and five clients
 * on loopback over real QUIC, runs its five acts and exits 0, printing a result line per act;
 * afterwards none of its station processes is running and its temporary directory is gone.
 * Interrupted with SIGINT it stops everything and exits 130; killed with SIGKILL, its stations
 * notice their closed stdin and stop on their own. `demo supervision` still runs the runtime-only
 * act. The CLI is bundled once from the sources; every run has a hard timeout and every process
 * is killed in afterAll.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process"
import { readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []
const stationPids = new Set<number>()

afterAll(() => {
  killAll(children)
  for (const pid of stationPids) if (alive(pid)) process.kill(pid, "SIGKILL")
})

/** Whether `pid` is a running process (a zombie waiting to be reaped has exited: not running). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const ps = spawnSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" })
  return ps.status !== 0 || ps.error !== undefined ? true : !ps.stdout.trim().startsWith("Z")
}

const demoDirs = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("macula-demo-")))

interface Run {
  readonly child: ChildProcessWithoutNullStreams
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const launch = (args: ReadonlyArray<string>, ms: number): Run => {
  const child = spawn(process.execPath, [bundle, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
  children.push(child)
  let out = ""
  let err = ""
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString("utf8")
    for (const m of out.matchAll(/station \d up: \S+ \S+ \(pid (\d+)\)/g)) stationPids.add(Number(m[1]))
  })
  child.stderr.on("data", (c: Buffer) => void (err += c.toString("utf8")))
  const timer = setTimeout(() => child.kill("SIGKILL"), ms)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      done({ code, signal })
    })
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}

const pidsIn = (text: string): ReadonlyArray<number> =>
  [...text.matchAll(/station \d up: \S+ \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]))

const until = async (what: string, ok: () => boolean, ms: number, run?: Run): Promise<void> => {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${run === undefined ? "" : `; stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("macula demo", () => {
  it("runs the mesh acts, prints a result per act and a summary, exits 0 and leaves nothing behind", async () => {
    const before = demoDirs()
    const run = launch(["demo"], 150_000)
    const exit = await run.exited
    const out = run.stdout()
    expect(exit, `stdout:\n${out}\nstderr:\n${run.stderr()}`).toEqual({ code: 0, signal: null })

    const pids = pidsIn(out)
    expect(pids).toHaveLength(3)
    expect(out).toMatch(/SWIM: each station sees the other two alive/)
    expect(out).toMatch(/clients attached: alice → station 1, bob → station 2, carol → station 3, dave → station 2, erin → station 1/)
    // One result line per act, in order.
    const results = out.split("\n").filter((line) => line.startsWith("ok ") || line.startsWith("FAIL "))
    expect(results.slice(0, 5)).toEqual([
      expect.stringMatching(/^ok +20 events from stations 2 and 3 reached a wildcard subscriber on station 1, once each, in order$/),
      expect.stringMatching(/^ok +21 calls answered across stations .*an unserved procedure fails NoProvider$/),
      expect.stringMatching(/^ok +tick-logger crashed, was restarted in .* and got ticks again, each once$/),
      expect.stringMatching(/^ok +3\.0 MiB put by two clients, fetched by a third from \d+ providers in parallel .*MCID verified$/),
      expect.stringMatching(/^ok +station 2 SIGKILLed; bob and dave failed over in .*; pub\/sub, the actor's subscription and RPC all work again$/)
    ])
    console.info(`${results.join("\n")}\n${out.trim().split("\n").at(-1)}`)
    expect(out).toMatch(/supervision: application: tick-logger exited \(failure: .*poison message\)/)
    expect(out).toMatch(/bob failed over to station [13] /)
    expect(out).toMatch(/demo finished in .*: all 5 acts passed/)
    expect(out).not.toMatch(/\n\s+at /) // no stack trace
    // Nothing left: the stations are gone and so is the temporary directory.
    for (const pid of pids) expect(alive(pid), `station pid ${pid} still running`).toBe(false)
    expect([...demoDirs()].filter((d) => !before.has(d))).toEqual([])
  }, 180_000)

  it("stops everything and exits 130 on SIGINT; its stations stop by themselves when it is SIGKILLed", async () => {
    const before = demoDirs()
    const interrupted = launch(["demo"], 150_000)
    await until("act 1", () => interrupted.stdout().includes("== Act 1/5"), 120_000, interrupted)
    interrupted.child.kill("SIGINT")
    const exit = await interrupted.exited
    expect(exit.code, interrupted.stdout()).toBe(130)
    expect(interrupted.stdout()).toMatch(/SIGINT: stopping the demo/)
    expect(interrupted.stdout()).toMatch(/demo interrupted by SIGINT/)
    for (const pid of pidsIn(interrupted.stdout())) expect(alive(pid)).toBe(false)
    expect([...demoDirs()].filter((d) => !before.has(d))).toEqual([])

    // SIGKILL leaves no chance to clean up: the stations must notice their parent is gone.
    const beforeKill = demoDirs()
    const killed = launch(["demo"], 150_000)
    try {
      await until("three stations", () => pidsIn(killed.stdout()).length === 3, 120_000, killed)
      const orphans = pidsIn(killed.stdout())
      killed.child.kill("SIGKILL")
      await killed.exited
      await until("the orphaned stations stopping", () => orphans.every((pid) => !alive(pid)), 30_000).catch((error: unknown) => {
        const states = orphans.map((pid) => `${pid}: ${spawnSync("ps", ["-o", "stat=,args=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim()}`)
        throw new Error(`${String(error)}; still there: ${states.join("; ")}`)
      })
    } finally {
      // The killed demo could not remove its directory; this test does.
      killAll([killed.child])
      for (const dir of [...demoDirs()].filter((d) => !beforeKill.has(d))) rmSync(join(tmpdir(), dir), { recursive: true, force: true })
    }

    // The runtime-only act is still there.
    const supervision = launch(["demo", "supervision", "--faults", "6", "--seed", "3"], 60_000)
    expect((await supervision.exited).code, supervision.stdout()).toBe(0)
    expect(supervision.stdout()).toMatch(/demo finished: every check held/)

    const usage = launch(["demo", "bogus"], 30_000)
    expect((await usage.exited).code).toBe(2)
    expect(usage.stderr().trim().split("\n")).toEqual(['macula: demo: unexpected argument "bogus"; use demo, or demo supervision'])
  }, 420_000)
})

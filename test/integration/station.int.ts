/**
 * `macula station` as real processes over real QUIC on loopback (API.md "CLI", PROTOCOL.md §1
 * "Client links", §3.6): the first stdout line, a client attaching, `macula status`, a data
 * directory keeping the station's key, a graceful stop on SIGTERM, and a client failing over to
 * its second seed when the first station is SIGKILLed. The CLI is bundled once from the sources
 * (the same code `npm run build` compiles); every step has a hard timeout and every child process
 * is killed in afterAll.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import { processState, run } from "../support/stations.ts"
import { MaculaNode } from "../../src/node/index.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []
const nodes: Array<MaculaNode> = []
const temp: Array<string> = []

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  killAll(children)
  for (const dir of temp) rmSync(dir, { recursive: true, force: true })
})

interface Running {
  readonly child: ChildProcessWithoutNullStreams
  readonly address: string
  readonly did: string
  readonly stderr: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/**
 * Starts `macula station ARGS…` and waits (at most `ms`) for its first stdout line. A station
 * that prints nothing in time is killed and started once more, saying so: on a loaded machine
 * one start in many has been seen to stall (an open problem, not what these tests are about).
 */
const station = (args: ReadonlyArray<string>, ms = 30_000): Promise<Running> =>
  startStation(args, ms).catch((error: unknown) => {
    if (!(error instanceof Error) || !error.message.startsWith("no first line")) throw error
    console.warn(`station start stalled, starting another: ${error.message}`)
    return startStation(args, ms)
  })

const startStation = (args: ReadonlyArray<string>, ms: number): Promise<Running> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bundle, "station", ...args], { stdio: ["pipe", "pipe", "pipe"] })
    children.push(child)
    let out = ""
    let err = ""
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.on("exit", (code, signal) => done({ code, signal }))
    )
    const started = Date.now()
    let settled = false
    const timer = setTimeout(() => {
      // A line already in the pipe is read in the I/O phase, after timers: give it that turn.
      setImmediate(() => {
        if (settled) return
        const state = processState(child.pid)
        child.kill("SIGKILL")
        reject(new Error(`no first line within ${ms} ms (timer fired after ${Date.now() - started} ms; the station: ${state}); stderr:\n${err}`))
      })
    }, ms)
    child.stderr.on("data", (chunk: Buffer) => void (err += chunk.toString("utf8")))
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const newline = out.indexOf("\n")
      if (newline < 0) return
      clearTimeout(timer)
      settled = true
      const line = out.slice(0, newline)
      const m = /^(quic:\/\/[^ ]+) (did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+)$/.exec(line)
      if (m === null) return reject(new Error(`unexpected first line: ${JSON.stringify(line)}`))
      resolvePromise({ child, address: m[1]!, did: m[2]!, stderr: () => err, exited })
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      settled = true
      reject(new Error(`station exited with ${code} before its first line; stderr:\n${err}`))
    })
  })

/** Runs `macula ARGS…` to completion (killed after `ms`). */
const macula = (args: ReadonlyArray<string>, ms = 45_000) => run(bundle, children, args, ms)

const within = <A>(label: string, ms: number, promise: Promise<A>): Promise<A> =>
  Promise.race([promise, new Promise<A>((_, reject) => setTimeout(() => reject(new Error(`${label}: not within ${ms} ms`)), ms))])

describe("macula station", () => {
  it("prints quic://HOST:PORT did:key:… first, accepts a client, answers status and stops on SIGTERM", async () => {
    const s = await station(["--listen", "127.0.0.1:0"])
    expect(s.address).toMatch(/^quic:\/\/127\.0\.0\.1:\d+$/)
    expect(s.address).not.toBe("quic://127.0.0.1:0")
    expect(s.stderr()).toContain("every realm runs open")

    const client = await MaculaNode.start({ role: "client", realm: "io.example", seeds: [`${s.address}#${s.did}`] })
    nodes.push(client)
    expect(client.home()).toMatchObject({ did: s.did, remoteAddress: s.address })

    const status = await macula(["status", "--seed", `${s.address}#${s.did}`])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain(`station     ${s.address} ${s.did}`)
    expect(status.stdout).toContain("not available from a client")
    expect(status.stdout).toContain("station-link [running]")
    const json = await macula(["status", "--seed", s.address, "--json"])
    expect(JSON.parse(json.stdout)).toMatchObject({ station: { did: s.did, impl: "macula-node/0.1.0" } })

    await client.stop()
    s.child.kill("SIGTERM")
    const exit = await within("graceful stop", 20_000, s.exited)
    expect(exit.code).toBe(0)
    expect(s.stderr()).toMatch(/SIGTERM: stopping[\s\S]*node: shut down transport[\s\S]*stopped/)
    expect(s.stderr()).toContain(`connection ready: client ${client.did}`)
  }, 120_000)

  it("keeps its key in --data (mode 0600) and comes back with the same DID", async () => {
    const dir = mkdtempSync(join(tmpdir(), "station-data-"))
    temp.push(dir)
    const first = await station(["--listen", "127.0.0.1:0", "--data", dir])
    first.child.kill("SIGINT")
    expect((await within("stop", 20_000, first.exited)).code).toBe(0)
    expect(statSync(join(dir, "identity.key")).mode & 0o777).toBe(0o600)
    const second = await station(["--listen", "127.0.0.1:0", "--data", dir])
    expect(second.did).toBe(first.did)
    second.child.kill("SIGTERM")
    await within("stop", 20_000, second.exited)
  }, 120_000)

  it("exits non-zero with one line on stderr for a bad command line or an address in use", async () => {
    const bad = await macula(["station", "--listen", "nowhere"])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split("\n")).toEqual(['macula: station: --listen must be HOST:PORT (got "nowhere")'])
    expect(bad.stdout).toBe("")
    const holder = await station(["--listen", "127.0.0.1:0"])
    const busy = await macula(["station", "--listen", holder.address.replace("quic://", "")])
    expect(busy.code).toBe(1)
    expect(busy.stderr.trim().split("\n").at(-1)).toMatch(/^macula: listen: cannot bind/)
    holder.child.kill("SIGTERM")
    await within("stop", 20_000, holder.exited)
  }, 120_000)

  it("fails a client over to its second seed within about 5 s of the first station being SIGKILLed", async () => {
    const first = await station(["--listen", "127.0.0.1:0"])
    const second = await station(["--listen", "127.0.0.1:0"])
    const client = await MaculaNode.start({
      role: "client",
      realm: "io.example",
      seeds: [`${first.address}#${first.did}`, `${second.address}#${second.did}`]
    })
    nodes.push(client)
    expect(client.home()?.did).toBe(first.did)
    first.child.kill("SIGKILL")
    const killedAt = Date.now()
    const movedMs = await within("fail-over", 20_000, (async () => {
      while (client.home()?.did !== second.did) await new Promise((r) => setTimeout(r, 50))
      return Date.now() - killedAt
    })())
    console.info(`client failed over ${movedMs} ms after the SIGKILL`)
    expect(client.home()).toMatchObject({ did: second.did, failovers: 1 })
    // §16 defaults: ~4 s to notice (ping interval + 2 misses), ≤ 1 s of redials, then the next seed.
    expect(movedMs).toBeLessThan(8_000)
    await client.stop()
    second.child.kill("SIGTERM")
    await within("stop", 20_000, second.exited)
  }, 120_000)
})

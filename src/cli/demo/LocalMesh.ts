/**
 * The demo's local mesh on loopback: stations are real `macula station` processes (children of
 * this command, so one can be SIGKILLed for real), clients are `MaculaNode`s in this process.
 * Every station gets its own data directory under one temporary directory. `close` stops all of
 * it; `closeNow` is the synchronous last resort for an exiting process.
 *
 * Stations run as `macula demo station ARGS…`, which is `macula station ARGS…` that also stops
 * when its stdin closes: if the demo itself is killed, its stations do not outlive it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { NodeConfig } from "../../node/Config.ts"
import { MaculaNode } from "../../node/MaculaNode.ts"
import type { NodeEvent } from "../../node/MaculaNode.ts"
import { ActFailed } from "./Act.ts"

/** A station process of the local mesh. */
export interface StationProcess {
  /** `station 1`, `station 2`, … */
  readonly name: string
  /** `quic://127.0.0.1:PORT`, the real bound port. */
  readonly address: string
  readonly did: string
  /** `address#did`: a seed pinned to the station's DID. */
  readonly seed: string
  readonly pid: number
  readonly child: ChildProcessWithoutNullStreams
  /** Calls `listener` with every stderr line from now on; returns the unsubscribe. */
  readonly onLine: (listener: (line: string) => void) => () => void
  /** Its stderr lines so far (the latest 5 000). */
  readonly lines: () => ReadonlyArray<string>
  /** Settles when the process has exited. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly running: () => boolean
}

/** A mesh of station processes and in-process clients, cleaned up as a whole. */
export interface LocalMesh {
  /** The temporary directory holding the stations' data directories and the demo's files. */
  readonly dir: string
  readonly stations: ReadonlyArray<StationProcess>
  readonly clients: ReadonlyArray<MaculaNode>
  /** Starts `station N` listening on a free loopback port, seeded from `seeds`. */
  readonly startStation: (seeds: ReadonlyArray<string>, timeoutMs: number) => Promise<StationProcess>
  /** Starts a client of `realm` attached to the first of `seeds` that answers. */
  readonly startClient: (config: Omit<NodeConfig, "role">, onEvent?: (event: NodeEvent) => void) => Promise<MaculaNode>
  /** Stops every client, then every station (SIGTERM, SIGKILL after `graceMs`), and removes `dir`. */
  readonly close: (graceMs: number) => Promise<void>
  /** Synchronous: SIGKILLs every station still running and removes `dir`. */
  readonly closeNow: () => void
}

const running = (child: ChildProcessWithoutNullStreams) => child.exitCode === null && child.signalCode === null

/** The command line that runs this same CLI: node, its flags, the entry script. */
const self = (): ReadonlyArray<string> => {
  const entry = process.argv[1]
  if (entry === undefined) throw new ActFailed({ message: "cannot find this command's entry script to start stations" })
  return [...process.execArgv, entry]
}

/** Makes an empty local mesh under a new temporary directory. */
export const make = (): LocalMesh => {
  const dir = mkdtempSync(join(tmpdir(), "macula-demo-"))
  const stations: Array<StationProcess> = []
  const clients: Array<MaculaNode> = []
  // Every child ever spawned, including one still starting, so no exit path leaves one behind.
  const spawned: Array<ChildProcessWithoutNullStreams> = []
  let removed = false
  const remove = () => {
    if (removed) return
    // Retried: a file a station wrote while it stopped can make one pass fail (ENOTEMPTY); only
    // a removal that succeeded counts, so the exit hook tries again after a failure here.
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
    removed = true
  }

  const startStation = (seeds: ReadonlyArray<string>, timeoutMs: number): Promise<StationProcess> => {
    const number = spawned.length + 1
    const name = `station ${number}`
    const data = join(dir, `station-${number}`)
    mkdirSync(data)
    const args = ["demo", "station", "--listen", "127.0.0.1:0", "--data", data, ...seeds.flatMap((s) => ["--seed", s])]
    const child = spawn(process.execPath, [...self(), ...args], { stdio: ["pipe", "pipe", "pipe"] })
    spawned.push(child)
    const listeners = new Set<(line: string) => void>()
    const tail: Array<string> = []
    let partial = ""
    child.stderr.on("data", (chunk: Buffer) => {
      partial += chunk.toString("utf8")
      let newline: number
      while ((newline = partial.indexOf("\n")) >= 0) {
        const line = partial.slice(0, newline)
        partial = partial.slice(newline + 1)
        tail.push(line)
        if (tail.length > 5_000) tail.shift()
        for (const listener of listeners) listener(line)
      }
    })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.on("exit", (code, signal) => done({ code, signal }))
    )
    const started = new Promise<StationProcess>((resolve, reject) => {
      let out = ""
      const fail = (why: string) => {
        clearTimeout(timer)
        if (running(child)) child.kill("SIGKILL")
        const last = tail.at(-1)
        reject(new ActFailed({ message: `${name} ${why}${last === undefined ? "" : ` (its last line: ${last})`}` }))
      }
      // The address may already wait in the pipe: timers run before the I/O phase that reads
      // it (a loaded machine can deschedule this process for seconds), so look one turn later.
      const timer = setTimeout(() => setImmediate(() => {
        if (out.includes("\n")) return
        fail(`printed no address within ${timeoutMs / 1_000} s`)
      }), timeoutMs)
      child.on("exit", (code, signal) => fail(`exited (${signal ?? code}) before printing its address`))
      child.on("error", (error) => fail(`could not be started: ${error.message}`))
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8")
        const newline = out.indexOf("\n")
        if (newline < 0) return
        clearTimeout(timer)
        const m = /^(quic:\/\/\S+) (did:key:z6Mk\w+)$/.exec(out.slice(0, newline))
        if (m === null) return fail(`printed an unexpected first line: ${JSON.stringify(out.slice(0, newline))}`)
        const station: StationProcess = {
          name,
          address: m[1]!,
          did: m[2]!,
          seed: `${m[1]!}#${m[2]!}`,
          pid: child.pid!,
          child,
          onLine: (listener) => {
            listeners.add(listener)
            return () => void listeners.delete(listener)
          },
          lines: () => tail,
          exited,
          running: () => running(child)
        }
        stations.push(station)
        resolve(station)
      })
    })
    // A start that fails while the caller waits on another one (Promise.all) is not unhandled.
    started.catch(() => undefined)
    return started
  }

  const startClient: LocalMesh["startClient"] = async (config, onEvent) => {
    const node = await MaculaNode.start({ role: "client", ...config }, onEvent === undefined ? {} : { onEvent })
    clients.push(node)
    return node
  }

  const close = async (graceMs: number): Promise<void> => {
    // Clients first (each says goodbye to its station), bounded: a stuck stop must not hang the exit.
    await Promise.race([
      Promise.allSettled(clients.map((c) => c.stop())),
      new Promise((r) => setTimeout(r, graceMs).unref())
    ])
    const live = spawned.filter(running)
    const exits = live.map((child) => new Promise((done) => (running(child) ? child.once("exit", done) : done(undefined))))
    for (const child of live) child.kill("SIGTERM")
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, graceMs).unref())])
    for (const child of live) if (running(child)) child.kill("SIGKILL")
    await Promise.all(exits)
    remove()
  }

  const closeNow = () => {
    for (const child of spawned) if (running(child)) child.kill("SIGKILL")
    remove()
  }

  return { dir, stations, clients, startStation, startClient, close, closeNow }
}

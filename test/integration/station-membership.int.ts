/**
 * Five `macula station` processes form one SWIM membership over real QUIC on loopback
 * (PROTOCOL.md §10, §11): four bootstrap from the first as their seed and enter each other's DHT
 * routing tables; one is SIGKILLed; the other four declare it dead within the configured
 * detection and suspicion bound and drop it from their routing tables (§11.6).
 *
 * What is observed is what each station prints on stderr: `membership: DID alive|suspect|dead
 * (incarnation N)` for every change its SWIM prober emits, and `dht: added DID` / `dht: removed
 * DID (reason)` for every change of its routing table. The CLI is bundled once from the sources;
 * every wait has a hard timeout and every child process is killed in afterAll.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import { processState } from "../support/stations.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []

/**
 * SWIM knobs: the §16 probe interval, a generous probe timeout (five processes share two busy
 * cores), and a short suspicion window: 3 × log10(10) × 1 000 = 3 s, at most 6 s unconfirmed.
 */
const swim = { probeIntervalMs: 1_000, probeTimeoutMs: 600, suspicionMult: 3, suspicionMaxTimeoutMult: 2, pushPullIntervalMs: 3_000 }
const knobArgs = Object.entries(swim).flatMap(([k, v]) => ["--knob", `${k}=${v}`])
/** suspicion window for n alive: suspicionMult × log10(max(n, 10)) × probeIntervalMs, at most × suspicionMaxTimeoutMult. */
const maxSuspicionMs = swim.suspicionMult * 1 * swim.probeIntervalMs * swim.suspicionMaxTimeoutMult
/** A full probe round over the 4 others (the dead one is probed within two rounds), plus its timeout. */
const detectionMs = 2 * 4 * swim.probeIntervalMs + swim.probeTimeoutMs

afterAll(() => {
  killAll(children)
})

interface Station {
  readonly child: ChildProcessWithoutNullStreams
  readonly address: string
  readonly did: string
  /** stderr lines with the ms (since the test began) they arrived at. */
  readonly lines: Array<{ readonly at: number; readonly text: string }>
}

const startedAt = Date.now()

const station = (args: ReadonlyArray<string>): Promise<Station> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bundle, "station", "--listen", "127.0.0.1:0", ...knobArgs, ...args], { stdio: ["pipe", "pipe", "pipe"] })
    children.push(child)
    const lines: Array<{ at: number; text: string }> = []
    let err = ""
    let out = ""
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8")
      const parts = err.split("\n")
      err = parts.pop()!
      for (const text of parts) lines.push({ at: Date.now() - startedAt, text })
    })
    // The line may wait in the pipe: timers run before the I/O phase that reads it.
    const timer = setTimeout(() => setImmediate(() => {
      if (!/\n/.test(out)) reject(new Error(`no first line within 90 s (the station: ${processState(child.pid)}); stderr:\n${lines.map((l) => l.text).join("\n")}`))
    }), 90_000)
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const m = /^(quic:\/\/\S+) (did:key:\S+)\n/.exec(out)
      if (m === null) return
      clearTimeout(timer)
      resolvePromise({ child, address: m[1]!, did: m[2]!, lines })
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`station exited with ${code}: ${lines.map((l) => l.text).join("\n")}`))
    })
  })

/** Whether `did` is in the station's routing table, by the last `dht:` line about it. */
const inTable = (s: Station, did: string): boolean => {
  let present = false
  for (const { text } of s.lines) {
    if (text === `dht: added ${did}`) present = true
    else if (text.startsWith(`dht: removed ${did}`)) present = false
  }
  return present
}

/** The latest membership status each station printed for `did`. */
const statusOf = (s: Station, did: string): string | undefined => {
  let status: string | undefined
  for (const { text } of s.lines) {
    const m = /^membership: (\S+) (alive|suspect|dead|left) /.exec(text)
    if (m !== null && m[1] === did) status = m[2]
  }
  return status
}

const until = async (label: string, ms: number, ok: () => boolean): Promise<number> => {
  const from = Date.now()
  while (!ok()) {
    if (Date.now() - from > ms) throw new Error(`${label}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return Date.now() - from
}

describe("station membership", () => {
  it("five stations bootstrap from one seed, declare a SIGKILLed one dead within the bound and drop it from their routing tables", async () => {
    const seed = await station([])
    const others = await Promise.all([1, 2, 3, 4].map(() => station(["--seed", `${seed.address}#${seed.did}`])))
    const all = [seed, ...others]
    const joinedMs = await until("everyone alive everywhere", 60_000, () =>
      all.every((s) => all.every((t) => t === s || statusOf(s, t.did) === "alive")))
    console.info(`five stations saw each other alive ${joinedMs} ms after the last one started`)
    await until("everyone in every routing table", 30_000, () => all.every((s) => all.every((t) => t === s || inTable(s, t.did))))

    const victim = others[2]!
    const survivors = all.filter((s) => s !== victim)
    victim.child.kill("SIGKILL")
    const killedAt = Date.now() - startedAt
    const bound = detectionMs + maxSuspicionMs
    await until("dead everywhere", bound + 10_000, () => survivors.every((s) => statusOf(s, victim.did) === "dead"))
    const deadAt = survivors.map((s) => s.lines.find((l) => l.text.startsWith(`membership: ${victim.did} dead`))!.at - killedAt)
    console.info(`declared dead after ${deadAt.join(", ")} ms (bound ${bound} ms: detection ${detectionMs} + suspicion ≤ ${maxSuspicionMs})`)
    for (const ms of deadAt) expect(ms).toBeLessThanOrEqual(bound + 2_000) // a scheduling margin on a shared machine
    await until("dropped from every routing table", 10_000, () => survivors.every((s) => !inTable(s, victim.did)))
    // Each survivor removed it: on the SWIM verdict (§11.6), or before it, when requests to
    // the dead station failed `staleAfterFailures` times in a row (§10; the station records
    // stored at start make that likely). A survivor that still held it at the verdict must
    // have removed it on the verdict.
    for (const s of survivors) {
      const texts = s.lines.map((l) => l.text)
      const verdict = texts.findIndex((t) => t.startsWith(`membership: ${victim.did} dead`))
      const stale = texts.findIndex((t) => t === `dht: removed ${victim.did} (stale)`)
      if (stale < 0 || stale > verdict) expect(texts.slice(verdict)).toContain(`dht: removed ${victim.did} (dead)`)
    }
    // The survivors still see each other alive and keep each other in their tables.
    for (const s of survivors) {
      for (const t of survivors) {
        if (s === t) continue
        expect(statusOf(s, t.did)).toBe("alive")
        const about = s.lines.filter((l) => l.text.includes(t.did)).map((l) => `${l.at} ${l.text}`)
        expect(inTable(s, t.did), `a survivor's table lost a live survivor:\n${about.join("\n")}`).toBe(true)
      }
    }
  }, 150_000)
})

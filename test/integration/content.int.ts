/**
 * `macula put` / `macula get` as real processes over real QUIC on loopback (API.md "CLI",
 * PROTOCOL.md §12): a station, client A putting a file of random bytes (it exits once the
 * content is stored, announced and uploaded to the station), client B getting it by MCID into
 * a file, byte-identical, with plain progress lines on a non-terminal stderr; an unknown MCID
 * exits non-zero with one line. The CLI is bundled once from the sources, as in
 * station.int.ts; every step has a hard timeout and every child is killed in afterAll.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundled, killAll } from "../support/cli.ts"
import * as Mcid from "../../src/content/Mcid.ts"

const bundle = bundled("main")
const children: Array<ChildProcessWithoutNullStreams> = []
const dir = mkdtempSync(join(tmpdir(), "content-int-"))

afterAll(() => {
  killAll(children)
  rmSync(dir, { recursive: true, force: true })
})

/** Starts `macula station` and waits (at most `ms`) for its first stdout line. */
const station = (ms = 30_000): Promise<{ readonly seed: string }> =>
  new Promise((done, reject) => {
    const child = spawn(process.execPath, [bundle, "station", "--listen", "127.0.0.1:0"], { stdio: ["pipe", "pipe", "pipe"] })
    children.push(child)
    let out = ""
    let err = ""
    const timer = setTimeout(() => reject(new Error(`no first line within ${ms} ms; stderr:\n${err}`)), ms)
    child.stderr.on("data", (c: Buffer) => void (err += c.toString("utf8")))
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8")
      const m = /^(quic:\/\/\S+) (did:key:\S+)\n/.exec(out)
      if (m === null) return
      clearTimeout(timer)
      done({ seed: `${m[1]}#${m[2]}` })
    })
    child.on("exit", (code) => reject(new Error(`station exited with ${code}; stderr:\n${err}`)))
  })

/** Runs `macula ARGS…` to completion (SIGKILLed after `ms`). */
const macula = (args: ReadonlyArray<string>, ms = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((done) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ["pipe", "pipe", "pipe"] })
    children.push(child)
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => void (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => void (stderr += c.toString("utf8")))
    const timer = setTimeout(() => child.kill("SIGKILL"), ms)
    child.on("exit", (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr })
    })
  })

describe("macula put / macula get", () => {
  it("a file put by one client comes back byte-identical to another, after the first exited", async () => {
    const { seed } = await station()
    const file = join(dir, "in.bin")
    const bytes = randomBytes(3 * 1024 * 1024 + 4_321)
    writeFileSync(file, bytes)

    const put = await macula(["put", "--seed", seed, "--realm", "io.example", file])
    expect(put.stderr).toBe("")
    expect(put.code).toBe(0)
    const mcid = put.stdout.trim()
    expect(mcid).toBe(Mcid.toString(Mcid.ofBytes(new Uint8Array(bytes))))

    const out = join(dir, "out.bin")
    const get = await macula(["get", "--seed", seed, "--realm", "io.example", mcid, "-o", out])
    expect(get.code, get.stderr).toBe(0)
    expect(get.stdout).toBe("")
    expect(Buffer.compare(readFileSync(out), bytes)).toBe(0)
    // Not a terminal: plain lines, no carriage returns or escapes; the last one is complete.
    const lines = get.stderr.trim().split("\n")
    expect(get.stderr).not.toMatch(/[\r\x1b]/)
    const progress = lines.filter((l) => l.startsWith("progress "))
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.at(-1)).toMatch(/^progress 3\.00 MiB \/ 3\.00 MiB \(100%\) \S+ \S+\/s providers \d+$/)
    expect(lines.at(-1)).toBe(`wrote 3.00 MiB to ${out}`)

    const unknown = Mcid.toString(Mcid.ofBytes(new Uint8Array(randomBytes(32))))
    const missing = await macula(["get", "--seed", seed, "--realm", "io.example", unknown, "-o", join(dir, "none.bin")])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim().split("\n")).toEqual([`macula get: content not found: ${unknown} (no provider has it)`])

    const invalid = await macula(["get", "--seed", seed, "--realm", "io.example", "bnotanmcid", "-o", join(dir, "x.bin")])
    expect(invalid.code).toBe(1)
    expect(invalid.stderr.trim()).toBe('macula get: invalid MCID "bnotanmcid": expected "b" and 55 base32 characters')
  }, 90_000)
})

/**
 * The content commands of `macula` (API.md "CLI", PROTOCOL.md §12):
 *
 * ```
 * macula put --seed URL... --realm R [--cap FILE]... [--data DIR] [--to DID [--timeout MS]] FILE
 * macula get --seed URL... --realm R [--cap FILE]... [--data DIR] MCID -o FILE
 * ```
 *
 * Each starts a client node (ephemeral unless `--data` is given), attached to the first seed
 * that answers. `put` stores the file, announces it, uploads it to the station (so it outlives
 * this process) and prints the MCID on stdout; with `--to DID` it then pushes the content to that
 * node (PROTOCOL.md §12.6) and prints the MCID only once that node holds it (a node whose
 * `acceptPushFrom` does not admit this one fails the command; `--timeout` bounds the wait, by
 * default the `pushTimeoutMs` knob). `get` fetches the content, verifying every block,
 * and writes it to FILE (through a temporary file renamed into place, so FILE is either absent
 * or whole); its progress goes to stderr: a bar redrawn in place on a terminal, plain
 * `progress …` lines otherwise. Failures end with exit code 1 and one line on stderr (`content
 * not found`, an invalid MCID, an unreadable file, an unreachable station); a wrong command line
 * exits 2.
 *
 * Memory stays bounded whatever the file's size: `put` streams the file into the store one chunk
 * at a time, and `get` writes each chunk to FILE from the store. Without `--data` the blocks go
 * to a temporary directory (removed at exit) rather than to memory.
 *
 * @since 0.1.0
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Mcid from "../content/Mcid.ts"
import * as Did from "../identity/Did.ts"
import type { NodeConfig } from "../node/Config.ts"
import { MaculaNode } from "../node/MaculaNode.ts"
import * as Args from "./Args.ts"
import { UsageError } from "./Args.ts"
import * as Capabilities from "./Capabilities.ts"
import { describeFailure as describeClientFailure } from "./Client.ts"
import type { Io } from "./Io.ts"
import * as Progress from "./Progress.ts"

/**
 * The content commands.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = "put" | "get"

const common: ReadonlyArray<Args.OptionSpec> = [
  { name: "seed", repeatable: true, required: true },
  { name: "realm", required: true },
  { name: "cap", repeatable: true },
  { name: "data" }
]

/**
 * The options and positional arguments of each content command.
 *
 * @since 0.1.0
 * @category constants
 */
export const specs: Readonly<Record<Command, Args.CommandSpec>> = {
  put: { command: "put", options: [...common, { name: "to" }, { name: "timeout" }], positional: ["FILE"] },
  get: { command: "get", options: [...common, { name: "output", short: "o", required: true }], positional: ["MCID"] }
}

/**
 * A parsed content command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Invocation {
  readonly command: Command
  readonly config: NodeConfig
  /** `put`: the file to store; `get`: the MCID text. */
  readonly target: string
  /** `get`: where to write the content. */
  readonly output?: string
  /** `put --to`: the node to push the content to. */
  readonly to?: string
  /** `put --to --timeout`: how long to wait for it. Unit: ms. */
  readonly timeoutMs?: number
  readonly capFiles: ReadonlyArray<string>
}

/**
 * Parses a content command line, or says what is wrong with it. Pure.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (command: Command, args: ReadonlyArray<string>): Invocation | UsageError => {
  const parsed = Args.parse(specs[command], args)
  if (parsed instanceof UsageError) return parsed
  const realm = Args.one(parsed, "realm")!
  const target = parsed.positional[0]!
  const data = Args.one(parsed, "data")
  const output = Args.one(parsed, "output")
  const to = Args.one(parsed, "to")
  const timeout = Args.one(parsed, "timeout")
  if (to !== undefined && !Did.isValid(to)) return new UsageError({ message: `put: --to ${JSON.stringify(to)} is not a valid did:key` })
  if (timeout !== undefined && to === undefined) return new UsageError({ message: "put: --timeout needs --to" })
  const timeoutMs = timeout === undefined ? undefined : Number(timeout)
  if (timeoutMs !== undefined && (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)) {
    return new UsageError({ message: `put: --timeout ${JSON.stringify(timeout)} is not a positive number of milliseconds` })
  }
  return {
    command,
    target,
    capFiles: Args.all(parsed, "cap"),
    ...(output === undefined ? {} : { output }),
    ...(to === undefined ? {} : { to }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    config: { role: "client", realm, seeds: Args.all(parsed, "seed"), ...(data === undefined ? {} : { dataDir: data }) }
  }
}

/**
 * A failure as one line, in words, for stderr (without the `macula CMD:` prefix). Pure.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeFailure = (command: Command, target: string, error: unknown): string => {
  const e = (error ?? {}) as Record<string, unknown>
  switch (e["_tag"]) {
    case "ContentNotFound":
      return `content not found: ${target} (no provider has it)`
    case "McidError":
      return `invalid MCID "${target}": expected "b" and 55 base32 characters`
    case "PushFailed":
      return e["reason"] === "timeout"
        ? `push to ${String(e["to"])} timed out (no answer within the timeout)`
        : `push refused by ${String(e["to"])} (its acceptPushFrom does not admit this node, or it could not take the content)`
    case "UploadFailed":
    case "AnnounceFailed":
    case "ContentUnavailable":
    case "FetchCancelled":
      return error instanceof Error && error.message !== "" ? error.message.split("\n")[0]! : String(e["_tag"])
    case "ContentStoreError":
      return `content store: ${String(e["op"] ?? "")} failed${command === "get" ? " (is the output directory writable?)" : ""}`
    default:
      return describeClientFailure(target, error)
  }
}

/**
 * How `run` shows progress (tests replace it).
 *
 * @since 0.1.0
 * @category models
 */
export interface Display {
  /** Draw a bar (a terminal) or print plain lines. */
  readonly tty: boolean
  /** Raw progress text. */
  readonly write: (text: string) => void
}

const stderrDisplay = (): Display => ({ tty: process.stderr.isTTY === true, write: (text) => void process.stderr.write(text) })

/**
 * Runs `macula put|get`; resolves with the exit code. Throws `UsageError` for a wrong command
 * line.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = async (command: Command, args: ReadonlyArray<string>, io: Io, display: Display = stderrDisplay()): Promise<number> => {
  const invocation = parse(command, args)
  if (invocation instanceof UsageError) throw invocation
  const fail = (error: unknown) => {
    io.err(`macula ${command}: ${describeFailure(command, invocation.target, error)}`)
    return 1
  }
  // Checked before any connection: a bad argument fails in words, at once.
  if (command === "get" && Mcid.decode(invocation.target)._tag !== "Mcid") return fail({ _tag: "McidError" })
  if (command === "put") {
    try {
      if (!statSync(invocation.target).isFile()) return fail(new Error(`${invocation.target} is not a file`))
    } catch (error) {
      return fail(new Error(`cannot read ${invocation.target}: ${(error as { code?: string }).code ?? String(error)}`))
    }
  }
  let node: MaculaNode | undefined
  // Without --data, an ephemeral data directory keeps the blocks on disk, not in memory.
  const scratch = invocation.config.dataDir === undefined ? mkdtempSync(join(tmpdir(), "macula-content-")) : undefined
  try {
    const capabilities: Array<Uint8Array> = []
    for (const file of invocation.capFiles) capabilities.push(...Capabilities.decode(readFileSync(file)))
    node = await MaculaNode.start({
      ...invocation.config,
      ...(scratch === undefined ? {} : { dataDir: scratch }),
      ...(capabilities.length === 0 ? {} : { capabilities })
    })
    if (command === "put") {
      const mcid = await node.putContent(invocation.target)
      if (invocation.to !== undefined) {
        await node.pushContent(mcid, { to: invocation.to, ...(invocation.timeoutMs === undefined ? {} : { timeoutMs: invocation.timeoutMs }) })
      }
      io.out(Mcid.toString(mcid))
      return 0
    }
    const output = invocation.output!
    const shown = Progress.reporter({ tty: display.tty, write: display.write, now: () => Date.now() })
    const temp = `${output}.part-${process.pid}`
    let size: number
    try {
      // Written chunk by chunk from the store, then renamed: FILE is absent or whole.
      size = await node.getContentToFile(invocation.target, temp, { onProgress: (p) => shown.update(p) })
      shown.done()
      renameSync(temp, output)
    } catch (error) {
      rmSync(temp, { force: true })
      // Typed failures (not found, the store's `export` / `write`) are described by `fail`.
      if ((error as { _tag?: string } | undefined)?._tag !== undefined) throw error
      throw new Error(`cannot write ${output}: ${(error as { code?: string }).code ?? String(error)}`)
    }
    io.err(`wrote ${Progress.bytes(size)} to ${output}`)
    return 0
  } catch (error) {
    return fail(error)
  } finally {
    await node?.stop()
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
  }
}

/**
 * Persisted seen nonces (PROTOCOL.md §13.4, §15.2): with a data directory, the nonces of the
 * invocations a node accepted survive a restart, so an invocation captured on the way (a relaying
 * station sees the ones it relays) cannot be replayed by waiting for the node to restart.
 *
 * The file is `nonces.log` in the data directory, owner-only (mode 0600), append-only, created
 * with the first nonce: a header line, then one line per accepted invocation, its expiry (unix s, wall clock) and its nonce (the
 * invocation's CID):
 *
 * ```text
 * # macula-node/nonces v1
 * 1764576600 bafyreib…
 * ```
 *
 * A nonce is appended (one synchronous write) before {@link SeenNonces.SeenNonces.record} returns,
 * so before the invocation it belongs to is accepted; a process killed afterwards keeps it. The
 * write is not fsynced (one per invocation would cost more than the check): a power cut may lose
 * the last nonces the operating system had not flushed. A write that fails keeps the nonce in
 * memory only and warns (once, until a write succeeds again): replays are still refused until the
 * node restarts, and a full disk does not stop every gated frame. This is the choice the ban file
 * makes too.
 *
 * On open the log is read: expired entries (`exp` plus the leeway before now), malformed lines
 * and a torn last line (no newline: the process died mid-write) are dropped — never a crash, at
 * most a warning. The file is rewritten atomically (`KeyFile.replaceAtomically`) with only the live
 * entries when it was damaged or holds more than twice its live entries (and at least
 * `compactMinLines`), on open and as it grows.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { join } from "node:path"
import * as Ucan from "../identity/ucan/index.ts"
import * as KeyFile from "./KeyFile.ts"
import * as SeenNonces from "./SeenNonces.ts"

/**
 * The log's name inside a data directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const fileName = "nonces.log"

/**
 * The log's first line.
 *
 * @since 0.1.0
 * @category constants
 */
export const header = "# macula-node/nonces v1"

/**
 * What a log's text holds at some time: the live entries, oldest first (a nonce written twice
 * keeps its latest expiry), and what was dropped.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoded {
  readonly live: ReadonlyArray<readonly [string, number]>
  /** Complete lines that are neither the header nor a well-formed entry. */
  readonly malformed: number
  /** Well-formed entries past their expiry. */
  readonly expired: number
  /** The text does not end with a newline: its last line was dropped. */
  readonly torn: boolean
  /** Entry lines (well-formed or not), the header aside. */
  readonly lines: number
}

const expPattern = /^(0|[1-9][0-9]{0,15})$/

/**
 * Whether `text` is a nonce as checkers record it: the canonical text of a CIDv1 with a sha2-256
 * digest (`Ucan.cid`). Pure.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isNonce = (text: string): boolean => Ucan.parseCid(text)?.toString() === text

/**
 * One log line (with its newline) for a nonce and its expiry.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeEntry = (nonce: string, expSec: number): string => `${expSec} ${nonce}\n`

/**
 * A whole log: the header and the entries.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (entries: Iterable<readonly [string, number]>): string => {
  let text = `${header}\n`
  for (const [nonce, exp] of entries) text += encodeEntry(nonce, exp)
  return text
}

/**
 * The entries of a log's text live at `nowSec` with `leewaySec`. Never throws: whatever is not a
 * complete, well-formed line is counted and dropped. Pure.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (text: string, nowSec: number, leewaySec: number): Decoded => {
  const parts = text.split("\n")
  // The part after the last newline is a torn line (or empty when the text ends with one).
  const tail = parts.pop() ?? ""
  const live = new Map<string, number>()
  let malformed = 0
  let expired = 0
  let lines = 0
  for (const line of parts) {
    if (line === header) continue
    lines++
    const space = line.indexOf(" ")
    const expText = space < 0 ? "" : line.slice(0, space)
    const nonce = space < 0 ? "" : line.slice(space + 1)
    const exp = Number(expText)
    if (!expPattern.test(expText) || !Number.isSafeInteger(exp) || !isNonce(nonce)) {
      malformed++
      continue
    }
    if (exp + leewaySec < nowSec) {
      expired++
      continue
    }
    const before = live.get(nonce)
    live.delete(nonce)
    live.set(nonce, Math.max(exp, before ?? exp))
  }
  return { live: Array.from(live), malformed, expired, torn: tail.length > 0, lines: lines + (tail.length > 0 ? 1 : 0) }
}

/**
 * What a log-backed memory is built from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends SeenNonces.Options {
  /** The data directory. */
  readonly dataDir: string
  /** Wall clock, unix ms (for the entries that expired while the node was down). */
  readonly now: () => number
  /** Where problems go (a damaged log, a failed write). */
  readonly warn: (message: string) => void
  /** The log is rewritten only once it holds at least this many lines. @default 1_024 */
  readonly compactMinLines?: number
  /** How the log is rewritten whole (tests make it fail). @default `KeyFile.replaceAtomically` */
  readonly rewrite?: (path: string, text: string) => void
}

const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error)

/**
 * A seen-nonce memory backed by `DIR/nonces.log`: loaded from it, appending to it (see the module
 * documentation). Never throws: an unreadable log is an empty memory and a warning.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (options: Options): SeenNonces.SeenNonces => {
  const path = join(options.dataDir, fileName)
  const minLines = options.compactMinLines ?? 1_024
  const rewrite = options.rewrite ?? ((file: string, content: string) => KeyFile.replaceAtomically(file, content))
  let text = ""
  try {
    text = fs.readFileSync(path, "utf8")
  } catch (error) {
    if (codeOf(error) !== "ENOENT") options.warn(`${path}: cannot read (${codeOf(error)}); starting with no seen nonces`)
  }
  const decoded = decode(text, Math.floor(options.now() / 1_000), options.leewaySec)
  const damaged = decoded.malformed + (decoded.torn ? 1 : 0)
  if (damaged > 0) options.warn(`${path}: ${damaged} malformed line${damaged === 1 ? "" : "s"} ignored`)
  // Beyond the cap, the newest are kept (the oldest would be evicted first anyway).
  const memory = SeenNonces.make(options, decoded.live.slice(-Math.max(1, options.cap)))
  /** Lines in the file (header aside), live or not: what compaction compares with. */
  let lines = decoded.lines
  /** The next rewrite is tried once the file holds this many lines (pushed back by a failure). */
  let compactAt = minLines
  /** What the next append writes first: the header into an empty file, a newline after a torn line. */
  let prefix = text.length === 0 ? `${header}\n` : decoded.torn ? "\n" : ""
  let failing = false

  const compact = (): void => {
    try {
      rewrite(path, encode(memory.entries()))
      lines = memory.size()
      prefix = ""
      compactAt = Math.max(minLines, 2 * lines)
    } catch (error) {
      options.warn(`${path}: cannot rewrite the seen nonces (${codeOf(error)})`)
      compactAt = 2 * Math.max(compactAt, lines)
    }
  }
  if (damaged > 0 || (decoded.lines >= minLines && decoded.lines > 2 * memory.size())) compact()

  return {
    has: memory.has,
    size: memory.size,
    entries: memory.entries,
    record: (nonce, expSec, nowSec) => {
      if (memory.has(nonce)) return false
      // Durable before the invocation is accepted: the write comes before the caller's `true`.
      try {
        fs.appendFileSync(path, prefix + encodeEntry(nonce, expSec), { mode: 0o600 })
        lines++
        prefix = ""
        failing = false
      } catch (error) {
        if (!failing) options.warn(`${path}: cannot record a seen nonce (${codeOf(error)}); keeping seen nonces in memory only until a write succeeds`)
        failing = true
      }
      memory.record(nonce, expSec, nowSec)
      if (!failing && lines >= compactAt && lines > 2 * memory.size()) compact()
      return true
    }
  }
}

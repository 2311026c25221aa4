/**
 * Persisted bans (PROTOCOL.md §3.7, §15.2: "identity key, bans, own SWIM incarnation —
 * persisted; reloaded"): with a data directory, the DIDs a node banned and until when survive a
 * restart of the transport and of the process, so a peer banned for misbehaving cannot come back
 * by waiting for the node to restart.
 *
 * The file is `bans.json` in the data directory, one line of JSON, owner-only (mode 0600):
 *
 * ```json
 * {"type":"macula-node/bans","bans":[{"did":"did:key:z6Mk…","until":1764576600000}]}
 * ```
 *
 * `until` is unix ms (wall clock: a ban must outlast a reboot, which a monotonic clock does not).
 * It is rewritten atomically (a temporary file renamed over it, `KeyFile.replaceAtomically`)
 * whenever the bans change, listing only the bans still in force. On load, expired bans and
 * malformed entries are dropped; a file that is not JSON or not of this type yields no bans and
 * a warning — never a failure: a damaged ban list must not keep a node from starting.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Did from "../identity/Did.ts"
import * as KeyFile from "./KeyFile.ts"

/**
 * The `type` field of a ban file.
 *
 * @since 0.1.0
 * @category constants
 */
export const fileType = "macula-node/bans"

/**
 * The ban file's name inside a data directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const fileName = "bans.json"

/**
 * One ban: the peer's DID and the end of the ban, unix ms.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ban {
  readonly did: string
  readonly until: number
}

/**
 * What loading found: the bans in force, and a warning when the file was damaged.
 *
 * @since 0.1.0
 * @category models
 */
export interface Loaded {
  readonly bans: ReadonlyArray<Ban>
  readonly warning?: string
}

/**
 * The text of a ban file listing `bans`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (bans: ReadonlyArray<Ban>): string =>
  `${JSON.stringify({ type: fileType, bans: bans.map((b) => ({ did: b.did, until: b.until })) })}\n`

/**
 * The bans in force at `wallNow` in a ban file's text (expired and malformed entries dropped, the
 * latest `until` kept per DID), or a description of what is wrong with the whole file.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (text: string, wallNow: number): { readonly bans: ReadonlyArray<Ban>; readonly dropped: number } | string => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return "not JSON"
  }
  if (parsed === null || typeof parsed !== "object") return "not a ban file"
  const { type, bans } = parsed as Record<string, unknown>
  if (type !== fileType) return `not a ban file (type ${JSON.stringify(type)}, expected "${fileType}")`
  if (!Array.isArray(bans)) return "no list of bans"
  const latest = new Map<string, number>()
  let dropped = 0
  for (const entry of bans as ReadonlyArray<unknown>) {
    const { did, until } = (entry ?? {}) as Record<string, unknown>
    if (typeof did !== "string" || !Did.isValid(did) || typeof until !== "number" || !Number.isSafeInteger(until)) {
      dropped++
      continue
    }
    if (until <= wallNow) continue
    latest.set(did, Math.max(until, latest.get(did) ?? 0))
  }
  return { bans: Array.from(latest, ([did, until]) => ({ did, until })), dropped }
}

/**
 * Loads the bans of `dataDir` in force at `wallNow`. A missing file is no bans; an unreadable or
 * damaged one is no bans with a `warning` (never a throw).
 *
 * @since 0.1.0
 * @category io
 */
export const load = (dataDir: string, wallNow: number): Loaded => {
  const path = join(dataDir, fileName)
  let text: string
  try {
    text = fs.readFileSync(path, "utf8")
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === "ENOENT" ? { bans: [] } : { bans: [], warning: `${path}: cannot read (${code ?? String(error)}); starting with no bans` }
  }
  const decoded = decode(text, wallNow)
  if (typeof decoded === "string") return { bans: [], warning: `${path}: ${decoded}; starting with no bans` }
  return decoded.dropped === 0
    ? { bans: decoded.bans }
    : { bans: decoded.bans, warning: `${path}: ${decoded.dropped} malformed entr${decoded.dropped === 1 ? "y" : "ies"} ignored` }
}

/**
 * Writes `bans` as the ban file of `dataDir`, atomically. Throws the file system's error.
 *
 * @since 0.1.0
 * @category io
 */
export const save = (dataDir: string, bans: ReadonlyArray<Ban>): void =>
  KeyFile.replaceAtomically(join(dataDir, fileName), encode(bans))

/**
 * The connection registry's ban store over `dataDir` (`ConnectionRegistryActor.BanStore`):
 * `load` reads the file at each registry start, `save` rewrites it after each new ban. Problems
 * (a damaged file, a failed write) go to `warn` and never fail the registry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const store = (
  dataDir: string,
  warn: (message: string) => void
): {
  readonly load: Effect.Effect<ReadonlyArray<Ban>>
  readonly save: (bans: ReadonlyArray<Ban>) => Effect.Effect<void>
} => ({
  load: Effect.sync(() => {
    const loaded = load(dataDir, Date.now())
    if (loaded.warning !== undefined) warn(loaded.warning)
    return loaded.bans
  }),
  save: (bans) =>
    Effect.sync(() => {
      try {
        save(dataDir, bans)
      } catch (error) {
        warn(`${join(dataDir, fileName)}: cannot save the bans (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
      }
    })
})

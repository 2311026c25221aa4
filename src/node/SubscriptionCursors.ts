/**
 * Durable at-least-once subscriptions of a client with a data directory (PROTOCOL.md §8.5):
 * per subscription (realm, pattern), the `sid` it runs under and the last cursor whose handler
 * finished, in one small JSON file under the data directory.
 *
 * Why: the station keeps an `alo` subscription's state for `aloRetentionMs` after its client
 * goes away, keyed by the client's DID and the `sid`. A process that dies takes its cursor with
 * it; one started again with the same data directory (so the same identity) reads it back here
 * and its `sub` carries the same `sid` and `cur`, so the station replays what came after.
 *
 * The file is replaced atomically (a temporary file, synced, renamed over it) and only at
 * acknowledgement time, before the `ack` leaves: the recorded cursor is never ahead of what the
 * handler finished (a crash may redeliver, never skip) and never behind what the station holds
 * (a resume never reports a false gap). A file that cannot be read or parsed is reported through
 * `warn` and the table starts empty: losing it costs a fresh subscription, never a crash.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { mkdir, open, rename } from "node:fs/promises"
import { join } from "node:path"
import * as Effect from "effect/Effect"

/**
 * One durable subscription.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  /** The realm, as 64 lowercase hex digits. */
  readonly realm: string
  readonly pattern: string
  readonly sid: number
  /** The last cursor handled and about to be acknowledged; none before the first ack. */
  readonly cur: number | undefined
}

/**
 * The table of durable subscriptions (the routing subtree's port).
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscriptionCursors {
  /** The file it lives in. */
  readonly path: string
  /** The recorded subscription of (realm, pattern), if any. */
  readonly lookup: (realm: string, pattern: string) => Entry | undefined
  /** Whether a recorded subscription uses `sid` (a new subscription must not take it). */
  readonly reserved: (sid: number) => boolean
  /**
   * Records `entry` (a lower cursor than the recorded one for the same sid is ignored) and
   * completes once the file is replaced; a failed write is reported through `warn`, never raised.
   */
  readonly record: (entry: Entry) => Effect.Effect<void>
  /** Forgets (realm, pattern) (an explicit unsubscribe: the station forgot it too). */
  readonly remove: (realm: string, pattern: string) => Effect.Effect<void>
  /** The recorded entries, oldest first. */
  readonly entries: () => ReadonlyArray<Entry>
}

/**
 * Options of `load`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Where problems with the file are reported. @default `process.emitWarning` */
  readonly warn?: (message: string) => void
  /** At most this many entries are kept (the least recently recorded go). @default 1_024 */
  readonly maxEntries?: number
  /** @default "subscriptions.json" */
  readonly fileName?: string
}

const FORMAT = 1

const keyOf = (realm: string, pattern: string): string => `${realm}\n${pattern}`

const isCursor = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/** The entries of a parsed file, or a reason it is not one of ours. */
const parse = (text: string): Array<Entry> | string => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return "not JSON"
  }
  if (typeof json !== "object" || json === null || (json as { v?: unknown }).v !== FORMAT) return "unknown format"
  const subs = (json as { subs?: unknown }).subs
  if (!Array.isArray(subs)) return "no subscription list"
  const out: Array<Entry> = []
  for (const e of subs as Array<unknown>) {
    if (typeof e !== "object" || e === null) return "a malformed entry"
    const { realm, pattern, sid, cur } = e as Record<string, unknown>
    if (typeof realm !== "string" || !/^[0-9a-f]{64}$/.test(realm)) return "a malformed realm"
    if (typeof pattern !== "string" || pattern === "") return "a malformed pattern"
    if (!isCursor(sid) || sid === 0) return "a malformed sid"
    if (cur !== undefined && !isCursor(cur)) return "a malformed cursor"
    out.push({ realm, pattern, sid, cur })
  }
  return out
}

/**
 * Reads the table from `dataDir` (synchronously, once, at node start). A missing file is an
 * empty table; an unreadable or corrupt one too, with a warning (the next write replaces it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (dataDir: string, options: Options = {}): SubscriptionCursors => {
  const path = join(dataDir, options.fileName ?? "subscriptions.json")
  const warn = options.warn ?? ((message: string) => process.emitWarning(message, { code: "MACULA_SUBSCRIPTION_CURSORS" }))
  const maxEntries = options.maxEntries ?? 1_024
  // Insertion order is recency: a recorded entry moves to the end.
  const table = new Map<string, Entry>()
  let text: string | undefined
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ENOENT") {
      warn(`subscription cursors: cannot read ${path} (${error instanceof Error ? error.message : String(error)}); starting fresh`)
    }
  }
  if (text !== undefined) {
    const parsed = parse(text)
    if (typeof parsed === "string") warn(`subscription cursors: ${path} holds ${parsed}; starting fresh`)
    else {
      const sids = new Set<number>()
      for (const e of parsed) {
        if (sids.has(e.sid)) continue // a sid names one subscription; keep the first
        sids.add(e.sid)
        table.set(keyOf(e.realm, e.pattern), e)
      }
    }
  }

  // Writes run one after another, each replacing the file with the whole table at its start.
  let chain: Promise<void> = Promise.resolve()
  const write = (): Promise<void> => {
    const body = `${JSON.stringify({ v: FORMAT, subs: Array.from(table.values()) })}\n`
    const next = chain.then(async () => {
      await mkdir(dataDir, { recursive: true })
      const temp = `${path}.tmp`
      const file = await open(temp, "w", 0o600)
      try {
        await file.writeFile(body, "utf8")
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(temp, path)
    }).catch((error: unknown) => {
      warn(`subscription cursors: cannot write ${path} (${error instanceof Error ? error.message : String(error)})`)
    })
    chain = next
    return next
  }
  const persist = Effect.promise(write)

  return {
    path,
    lookup: (realm, pattern) => table.get(keyOf(realm, pattern)),
    reserved: (sid) => {
      for (const e of table.values()) if (e.sid === sid) return true
      return false
    },
    record: (entry) =>
      Effect.suspend(() => {
        const key = keyOf(entry.realm, entry.pattern)
        const known = table.get(key)
        const cur = known !== undefined && known.sid === entry.sid && known.cur !== undefined &&
            (entry.cur === undefined || entry.cur < known.cur)
          ? known.cur
          : entry.cur
        table.delete(key)
        table.set(key, { realm: entry.realm, pattern: entry.pattern, sid: entry.sid, cur })
        while (table.size > maxEntries) table.delete(table.keys().next().value!)
        return persist
      }),
    remove: (realm, pattern) => Effect.suspend(() => (table.delete(keyOf(realm, pattern)) ? persist : Effect.void)),
    entries: () => Array.from(table.values())
  }
}

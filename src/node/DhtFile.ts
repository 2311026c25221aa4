/**
 * A station's DHT state on disk (PROTOCOL.md §15.2): the records it holds and its routing
 * snapshot survive a restart of the DHT subtree and of the process.
 *
 * Two files in the data directory, owner-only (mode 0600), in the formats of
 * `src/protocols/dht/Persisted.ts`:
 *
 * - `dht-records.json`: the live records held, as signed objects (rewritten a few seconds after
 *   the store changes, and when it stops);
 * - `dht-routing.json`: the routing-table members (snapshot every `routingSnapshotIntervalMs`,
 *   written only when it differs from the file).
 *
 * Each is replaced atomically (a temporary file renamed over it, `KeyFile.replaceAtomically`),
 * so a crash leaves the previous version or the new one, never a mix. On load, a missing file
 * is nothing saved; a file that is unreadable, too large or not of its type yields nothing and a
 * warning — never a failure: damaged DHT state must not keep a station from starting. Records
 * are checked again by the store as if a peer had sent them.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as DhtConfig from "../protocols/dht/Config.ts"
import * as Persisted from "../protocols/dht/Persisted.ts"
import type { Persistence } from "../../supervisors/DhtSupervisor.ts"
import * as KeyFile from "./KeyFile.ts"

/**
 * The records file's name inside a data directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const recordsFileName = "dht-records.json"

/**
 * The routing snapshot's name inside a data directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const routingFileName = "dht-routing.json"

const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error)

/** The text of `path`: nothing when it is missing, nothing and a warning when it is unreadable or larger than `maxBytes`. */
const read = (path: string, maxBytes: number, warn: (message: string) => void): string | undefined => {
  try {
    const size = fs.statSync(path).size
    if (size <= maxBytes) return fs.readFileSync(path, "utf8")
    warn(`${path}: larger than ${maxBytes} bytes; ignored`)
  } catch (error) {
    const code = codeOf(error)
    if (code !== "ENOENT") warn(`${path}: cannot read (${code}); ignored`)
  }
  return undefined
}

/**
 * The DHT's persistence over `dataDir` (`DhtSupervisor.Persistence`), bounded by `limits`
 * (`Persisted.limitsOf` of the DHT config, the §16 defaults unless given). Problems (a damaged file, a failed write, records
 * left out for size) go to `warn` and never fail the DHT.
 *
 * @since 0.1.0
 * @category constructors
 */
export const store = (
  dataDir: string,
  warn: (message: string) => void,
  limits: Persisted.Limits = Persisted.limitsOf(DhtConfig.defaults)
): Persistence => {
  const recordsPath = join(dataDir, recordsFileName)
  const routingPath = join(dataDir, routingFileName)
  /** Whether `text` is now the file at `path` (a failure is a warning). */
  const write = (path: string, text: string): boolean => {
    try {
      KeyFile.replaceAtomically(path, text)
      return true
    } catch (error) {
      warn(`${path}: cannot save (${codeOf(error)})`)
      return false
    }
  }
  // The snapshot is taken every `routingSnapshotIntervalMs` whether the table moved or not: a
  // snapshot equal to the file is not written again.
  let routingOnDisk: string | undefined
  return {
    loadRecords: Effect.sync(() => {
      const text = read(recordsPath, limits.maxRecordsFileBytes, warn)
      const decoded = text === undefined ? undefined : Persisted.decodeRecords(text, limits)
      if (decoded === undefined) return []
      if (Persisted.isCorrupt(decoded)) {
        warn(`${recordsPath}: ${decoded.reason}; starting with no records`)
        return []
      }
      if (decoded.dropped > 0) warn(`${recordsPath}: ${decoded.dropped} malformed records ignored`)
      return decoded.records
    }),
    saveRecords: (records) =>
      Effect.sync(() => {
        const { text, written } = Persisted.encodeRecords(records, limits.maxRecordsFileBytes)
        if (written < records.length) warn(`${recordsPath}: ${records.length - written} records left out (file size bound)`)
        write(recordsPath, text)
      }),
    loadContacts: Effect.sync(() => {
      const text = read(routingPath, limits.maxRoutingFileBytes, warn)
      const decoded = text === undefined ? undefined : Persisted.decodeContacts(text, limits)
      if (decoded === undefined) return []
      if (Persisted.isCorrupt(decoded)) {
        warn(`${routingPath}: ${decoded.reason}; starting with no saved contacts`)
        return []
      }
      routingOnDisk = text
      return decoded.contacts
    }),
    saveContacts: (contacts) =>
      Effect.sync(() => {
        const text = Persisted.encodeContacts(contacts, limits)
        if (text === routingOnDisk) return
        routingOnDisk = write(routingPath, text) ? text : undefined
      })
  }
}

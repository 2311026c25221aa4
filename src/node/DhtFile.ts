/**
 * A station's DHT state on disk (PROTOCOL.md §15.2): the records it holds and its routing
 * snapshot survive a restart of the DHT subtree and of the process.
 *
 * Two files in the data directory, owner-only (mode 0600), in the formats of
 * `src/protocols/dht/Persisted.ts`:
 *
 * - `dht-records.json`: the live records held, as signed objects (rewritten a few seconds after
 *   the store changes, and when it stops);
 * - `dht-routing.json`: the routing-table members (rewritten every `routingSnapshotIntervalMs`).
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

/** The text of `path` if it exists and is at most `maxBytes`; a warning otherwise. */
const read = (path: string, maxBytes: number): { readonly text?: string; readonly warning?: string } => {
  try {
    const size = fs.statSync(path).size
    if (size > maxBytes) return { warning: `${path}: larger than ${maxBytes} bytes; ignored` }
    return { text: fs.readFileSync(path, "utf8") }
  } catch (error) {
    const code = codeOf(error)
    return code === "ENOENT" ? {} : { warning: `${path}: cannot read (${code}); ignored` }
  }
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
  const write = (path: string, text: string) => {
    try {
      KeyFile.replaceAtomically(path, text)
    } catch (error) {
      warn(`${path}: cannot save (${codeOf(error)})`)
    }
  }
  return {
    loadRecords: Effect.sync(() => {
      const { text, warning } = read(recordsPath, limits.maxRecordsFileBytes)
      if (warning !== undefined) warn(warning)
      if (text === undefined) return []
      const decoded = Persisted.decodeRecords(text, limits)
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
      const { text, warning } = read(routingPath, limits.maxRoutingFileBytes)
      if (warning !== undefined) warn(warning)
      if (text === undefined) return []
      const decoded = Persisted.decodeContacts(text, limits)
      if (Persisted.isCorrupt(decoded)) {
        warn(`${routingPath}: ${decoded.reason}; starting with no saved contacts`)
        return []
      }
      return decoded.contacts
    }),
    saveContacts: (contacts) => Effect.sync(() => write(routingPath, Persisted.encodeContacts(contacts, limits)))
  }
}

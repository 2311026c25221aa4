/**
 * Where a content store keeps its files: the small interface the store's logic runs on, and
 * an in-memory implementation for tests. `FileBackend.ts` is the one on disk.
 *
 * Two kinds of entries, each named by an MCID's text form: `block` (raw blocks and manifests,
 * their bytes) and `pin` (this root is pinned: empty for good, else the pin's end as decimal
 * unix ms). `write` is atomic: an entry
 * is either absent or complete, whatever happens to the process during the write.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ContentStoreError } from "./Errors.ts"

/**
 * The two kinds of entries.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "block" | "pin"

/**
 * One stored entry as listed at open.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly name: string
  readonly size: number
  /** Last modification, unix ms; seeds the LRU order after a restart. */
  readonly mtimeMs: number
}

/**
 * How a caller uses the bytes of one read or write; both only spare a copy in memory.
 *
 * @since 0.1.0
 * @category models
 */
export interface AccessOptions {
  /** Read: the caller will not modify the bytes returned. */
  readonly shared?: boolean
  /** Write: the caller will not use or modify the bytes given. */
  readonly owned?: boolean
}

/**
 * Storage under a content store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  /** Prepares the storage and removes the leftovers of writes a crash interrupted. */
  readonly open: Effect.Effect<void, ContentStoreError>
  /** Every complete entry of a kind. */
  readonly list: (kind: Kind) => Effect.Effect<ReadonlyArray<Entry>, ContentStoreError>
  /**
   * An entry's bytes, or `undefined` if absent. With `shared` a backend may return bytes it
   * keeps (no copy): the caller only reads them and never modifies them.
   */
  readonly read: (kind: Kind, name: string, options?: AccessOptions) => Effect.Effect<Uint8Array | undefined, ContentStoreError>
  /**
   * Writes an entry atomically (replacing any entry of that name). With `owned` the caller hands
   * the bytes over and never touches them again, so a backend may keep them without a copy.
   */
  readonly write: (kind: Kind, name: string, bytes: Uint8Array, options?: AccessOptions) => Effect.Effect<void, ContentStoreError>
  /** Removes an entry; absent is fine. */
  readonly remove: (kind: Kind, name: string) => Effect.Effect<void, ContentStoreError>
  /**
   * `true` when an entry cannot change after its write: the backend keeps a private copy in
   * process memory, so a block verified when written reads back the same bytes, and the
   * store's `verifyOnRead` skips hashing it again (there is no medium that could rot).
   */
  readonly stable?: boolean
}

/**
 * A backend in memory, for tests and for nodes without a data directory. `now` stamps entries
 * (tests pass a counter; default 0). Writes are trivially atomic.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memory = (now: () => number = () => 0): Backend & {
  /** The raw maps, so tests can corrupt an entry behind the store's back. */
  readonly entries: Record<Kind, Map<string, { bytes: Uint8Array; mtimeMs: number }>>
} => {
  const entries: Record<Kind, Map<string, { bytes: Uint8Array; mtimeMs: number }>> = { block: new Map(), pin: new Map() }
  return {
    entries,
    // Private copies in, copies out, except where the caller promises not to modify (`shared`)
    // or hands the bytes over (`owned`): nothing but the test hook above can change an entry.
    stable: true,
    open: Effect.void,
    list: (kind) =>
      Effect.sync(() => [...entries[kind]].map(([name, e]) => ({ name, size: e.bytes.length, mtimeMs: e.mtimeMs }))),
    read: (kind, name, options) =>
      Effect.sync(() => {
        const bytes = entries[kind].get(name)?.bytes
        return options?.shared === true ? bytes : bytes?.slice()
      }),
    write: (kind, name, bytes, options) =>
      Effect.sync(() => void entries[kind].set(name, { bytes: options?.owned === true ? bytes : bytes.slice(), mtimeMs: now() })),
    remove: (kind, name) => Effect.sync(() => void entries[kind].delete(name))
  }
}

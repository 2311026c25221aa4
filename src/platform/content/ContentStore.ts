/**
 * `ContentStore`: the node's blocks on disk (PROTOCOL.md §12.2–§12.5, §15.2).
 *
 * Blocks are raw chunks and manifests, each kept under its MCID. A block is **verified before
 * it is stored**: a raw block must hash to its MCID, manifest bytes must open under theirs
 * (`Manifest.open`), else `IntegrityError` and nothing is written. Writes are atomic (temp
 * file, fsync, rename: `FileBackend.ts`), so a crash leaves every entry either absent or
 * complete. With `verifyOnRead` a block on disk is hashed again when read, and a block that
 * rotted is deleted and reported absent rather than served (a block held in memory cannot rot
 * and is trusted from its write).
 *
 * **Partial downloads** need no journal: the per-chunk state *is* the set of chunk files.
 * A fetch stores the manifest first, then each chunk as it verifies; `progress(mcid)` lists the
 * chunks still missing, which is exactly where a restarted fetch resumes (§12.4 step 4).
 *
 * **Pins and garbage collection.** `pin(root)` keeps a root and, for a manifest, every chunk
 * it lists: for good, or with `until` only until that time (unix ms), after which the root is
 * unpinned and its blocks become evictable like any other (a station's uploads, §12.5). A pin
 * only ever grows: pinning again keeps the later of the two ends, and a pin for good stays one.
 * The end is kept in the pin's file, so a restart neither loses a pin nor makes it permanent;
 * expired pins are deleted by the next collection. `gc` deletes every block no pin reaches,
 * least recently used first. `quotaBytes` bounds the total: a write that would pass it first
 * evicts unpinned blocks (LRU, as a station does under `stationContentMaxBytes`) and fails
 * `QuotaExceeded` if that is not enough. A fetch in progress pins its root so its chunks
 * survive a collection; `cancel` unpins it and leaves the verified chunks to the next `gc`
 * (§12.4). Time is the effect `Clock` (wall-clock ms; a `TestClock` in tests).
 *
 * Driving it from an actor: every operation is an `Effect` with typed errors; the bookkeeping
 * of mutations (quota, pins, collection) is serialised inside the store, while block writes
 * and reads run concurrently. It does not fetch, announce or talk to peers.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import * as Deferred from "effect/Deferred"
import * as Semaphore from "effect/Semaphore"
import { open as openFile } from "node:fs/promises"
import * as Blake3 from "../../content/Blake3.ts"
import * as Chunker from "../../content/Chunker.ts"
import * as Content from "../../content/Content.ts"
import * as Manifest from "../../content/Manifest.ts"
import * as Mcid from "../../content/Mcid.ts"
import * as Backend from "./Backend.ts"
import { ContentStoreError, IntegrityError, QuotaExceeded } from "./Errors.ts"
import * as FileBackend from "./FileBackend.ts"

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * Knobs of a content store.
 *
 * @since 0.1.0
 * @category models
 */
export interface ContentStoreConfig {
  /**
   * Most bytes of blocks the store keeps. Past it, unpinned blocks are evicted least recently
   * used first; pinned content is never evicted (writes fail `QuotaExceeded` instead). A
   * station sets it to `stationContentMaxBytes` (10 GiB). @default Infinity
   */
  readonly quotaBytes: number
  /**
   * Hash every block again when it is read, deleting any that no longer matches (bit rot, a
   * file edited behind the store's back). Costs about 0.3 ms per 256 KiB chunk. Moot for a
   * `stable` backend (the in-memory one), whose blocks are not hashed again. @default true
   */
  readonly verifyOnRead: boolean
  /** Largest manifest accepted, in chunks (`maxManifestChunks`). @default 30_000 */
  readonly maxManifestChunks: number
}

/**
 * The defaults.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: ContentStoreConfig = { quotaBytes: Infinity, verifyOnRead: true, maxManifestChunks: 30_000 }

/**
 * How much of some content the store holds.
 *
 * - `single`: a raw block, held or not.
 * - `unknown`: a manifest MCID whose manifest is not stored yet (nothing to resume from).
 * - `chunked`: the manifest is stored; `held[i]` says whether chunk i is, `missing` lists the
 *   others in order.
 *
 * @since 0.1.0
 * @category models
 */
export type Progress =
  | { readonly _tag: "single"; readonly complete: boolean }
  | { readonly _tag: "unknown"; readonly complete: false }
  | {
    readonly _tag: "chunked"
    readonly complete: boolean
    readonly manifest: Manifest.Manifest
    readonly held: ReadonlyArray<boolean>
    readonly missing: ReadonlyArray<number>
    readonly heldBytes: number
  }

/**
 * Where a fetch of some MCID starts from, in the shape the fetch core's `Start` event takes
 * (`src/protocols/content/Fetch.ts`, `Stored`): everything held, the manifest and the chunks
 * held, or nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type ResumePoint =
  | { readonly _tag: "Nothing" }
  | {
    readonly _tag: "Manifest"
    readonly manifest: { readonly size: number; readonly hashes: ReadonlyArray<Uint8Array> }
    readonly held: ReadonlyArray<number>
  }
  | { readonly _tag: "Complete" }

/**
 * What a collection removed.
 *
 * @since 0.1.0
 * @category models
 */
export interface GcReport {
  readonly removedBlocks: number
  readonly freedBytes: number
}

/**
 * Space in use.
 *
 * @since 0.1.0
 * @category models
 */
export interface Usage {
  readonly bytes: number
  readonly blocks: number
  readonly pins: number
  /** Blocks found corrupt on read and deleted since the store opened. */
  readonly corruptDropped: number
}

/**
 * Options of `put`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutOptions extends Manifest.Metadata {
  /** Pin the content so `gc` keeps it. @default true */
  readonly pin?: boolean
}

/**
 * Options of `pin`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PinOptions {
  /**
   * Keep the root only until this time (unix ms, the `Clock`'s time); absent: for good. A root
   * already pinned keeps the later end (a pin for good stays one).
   */
  readonly until?: number
}

/**
 * A pinned root and when its pin ends (`Infinity`: never).
 *
 * @since 0.1.0
 * @category models
 */
export interface PinInfo {
  readonly mcid: Mcid.Mcid
  readonly until: number
}

/**
 * Errors of a write.
 *
 * @since 0.1.0
 * @category models
 */
export type WriteError = IntegrityError | QuotaExceeded | ContentStoreError

/**
 * The store's operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface ContentStoreShape {
  readonly config: ContentStoreConfig
  /** Whether the block (raw block or manifest bytes) is stored. */
  readonly has: (mcid: Mcid.Mcid) => Effect.Effect<boolean>
  /**
   * A block's bytes (verified again with `verifyOnRead`, unless the backend is `stable`). With
   * `shared: true` they may be the store's own bytes, not a copy: for a caller that only reads
   * them (sends them, copies them out) and never modifies them.
   */
  readonly getBlock: (mcid: Mcid.Mcid, options?: { readonly shared?: boolean }) => Effect.Effect<Option.Option<Uint8Array>, ContentStoreError>
  /**
   * Verifies then stores one block: a raw block must hash to `mcid`; for a manifest MCID the
   * bytes must open as its manifest. Storing a block already held only refreshes its LRU age.
   * `verified: true` skips hashing a raw block again: for a caller that has just checked the
   * bytes against `mcid` itself (the fetch core verifies every block before `StoreBlock`), so
   * each block of a download is hashed once, not twice. `owned: true` hands the bytes over: the
   * caller never uses or modifies them again, so the in-memory store keeps them without a copy.
   */
  readonly putBlock: (
    mcid: Mcid.Mcid,
    bytes: Uint8Array,
    options?: { readonly verified?: boolean; readonly owned?: boolean }
  ) => Effect.Effect<void, WriteError>
  /** `putBlock` for a manifest, returning it decoded. */
  readonly putManifest: (mcid: Mcid.Mcid, bytes: Uint8Array) => Effect.Effect<Manifest.Manifest, WriteError>
  /** The stored manifest of a manifest MCID. */
  readonly getManifest: (mcid: Mcid.Mcid) => Effect.Effect<Option.Option<Manifest.Manifest>, ContentStoreError>
  /** What is held of some content: where a fetch resumes. */
  readonly progress: (mcid: Mcid.Mcid) => Effect.Effect<Progress, ContentStoreError>
  /** What a (re)started fetch of `mcid` needs to know: hand it to the fetch core's `Start`. */
  readonly resumePoint: (mcid: Mcid.Mcid) => Effect.Effect<ResumePoint, ContentStoreError>
  /** Stores whole content (pinned unless `pin: false`) and returns its MCID. */
  readonly put: (content: Uint8Array, options?: PutOptions) => Effect.Effect<Mcid.Mcid, WriteError>
  /**
   * Stores the content of a file like `put`, reading, hashing and writing it one chunk at a
   * time, so memory stays at one chunk whatever the file's size. A file that cannot be read,
   * or shrinks while it is read, fails `ContentStoreError` (`op: "read"`); one above
   * `maxManifestChunks` chunks fails `IntegrityError` before anything is written.
   */
  readonly putFile: (path: string, options?: PutOptions) => Effect.Effect<Mcid.Mcid, WriteError>
  /** Whole content, if every block of it is held. */
  readonly read: (mcid: Mcid.Mcid) => Effect.Effect<Option.Option<Uint8Array>, ContentStoreError>
  /**
   * Keeps a root (and for a manifest, its chunks) through `gc`: for good, or until
   * `options.until`. Only extends a pin; idempotent.
   */
  readonly pin: (mcid: Mcid.Mcid, options?: PinOptions) => Effect.Effect<void, ContentStoreError>
  /** Lets `gc` take a root back. Idempotent. */
  readonly unpin: (mcid: Mcid.Mcid) => Effect.Effect<void, ContentStoreError>
  /** The roots pinned now (pins past their end left out). */
  readonly pins: Effect.Effect<ReadonlyArray<Mcid.Mcid>>
  /** The pins in force now, with their ends. */
  readonly pinInfo: Effect.Effect<ReadonlyArray<PinInfo>>
  /**
   * Deletes blocks no pin reaches, least recently used first: all of them, or with
   * `targetBytes` only until the store uses at most that much.
   */
  readonly gc: (options?: { readonly targetBytes?: number }) => Effect.Effect<GcReport, ContentStoreError>
  /** Space in use. */
  readonly usage: Effect.Effect<Usage>
}

/**
 * The content store service.
 *
 * @since 0.1.0
 * @category services
 */
export class ContentStore extends Context.Service<ContentStore, ContentStoreShape>()("macula/ContentStore") {}

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------

interface Indexed {
  size: number
  used: number
}

interface Pin {
  readonly mcid: Mcid.Mcid
  /** Unix ms; `Infinity` for a pin for good. */
  readonly until: number
}

/**
 * A pin file's bytes: empty for a pin for good (as every pin was before pins could end),
 * else the end in unix ms as decimal ASCII.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodePinEnd = (until: number): Uint8Array =>
  until === Infinity ? new Uint8Array(0) : new TextEncoder().encode(String(Math.ceil(until)))

/**
 * The end a pin file holds. Bytes this store did not write (not a decimal integer) read as
 * a pin for good: a pin is never dropped on a guess.
 *
 * @since 0.1.0
 * @category encoding
 */
export const decodePinEnd = (bytes: Uint8Array): number => {
  if (bytes.length === 0) return Infinity
  const text = new TextDecoder().decode(bytes)
  return /^[0-9]{1,16}$/.test(text) ? Number(text) : Infinity
}

/** Decoded manifests kept in memory (each up to ~1 MB at 30 000 chunks). */
const MANIFEST_CACHE = 64

/**
 * A store over any backend: opens it (cleaning interrupted writes) and indexes what is there.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  backend: Backend.Backend,
  overrides: Partial<ContentStoreConfig> = {}
): Effect.Effect<ContentStoreShape, ContentStoreError> =>
  Effect.gen(function*() {
    const config: ContentStoreConfig = { ...defaults, ...overrides }
    // Every block is verified before it is written; hashing it again on read only finds rot
    // in a medium that can rot, so a stable backend (private copies in memory) is trusted.
    const rehash = config.verifyOnRead && backend.stable !== true
    yield* backend.open
    const blocks = new Map<string, Indexed>()
    const pinned = new Map<string, Pin>()
    const manifests = new Map<string, Manifest.Manifest>()
    let usedBytes = 0
    let tick = 0
    let corruptDropped = 0
    const mutex = Semaphore.makeUnsafe(1)
    // Chunks a running `putFile` wrote before it could pin their root (the root is known only
    // once the last chunk is hashed): a collection must not take them meanwhile. Counted,
    // since two puts may share chunks.
    const guarded = new Map<string, number>()
    // Blocks being written (outside the lock, see `storeChecked`), so a second write waits.
    const writing = new Map<string, Deferred.Deferred<void>>()

    // Index: names that are not MCIDs are not ours and are left alone.
    const listed = [...(yield* backend.list("block"))].sort((a, b) => a.mtimeMs - b.mtimeMs)
    for (const entry of listed) {
      if (!Mcid.isValid(entry.name)) continue
      blocks.set(entry.name, { size: entry.size, used: ++tick })
      usedBytes += entry.size
    }
    for (const entry of yield* backend.list("pin")) {
      const m = Mcid.decode(entry.name)
      if (m._tag !== "Mcid") continue
      const bytes = entry.size === 0 ? new Uint8Array(0) : yield* backend.read("pin", entry.name)
      // Removed since listed: not pinned.
      if (bytes !== undefined) pinned.set(entry.name, { mcid: m, until: decodePinEnd(bytes) })
    }

    const touch = (key: string): void => {
      const b = blocks.get(key)
      if (b !== undefined) b.used = ++tick
    }

    const forget = (key: string): void => {
      const b = blocks.get(key)
      if (b === undefined) return
      blocks.delete(key)
      manifests.delete(key)
      usedBytes -= b.size
    }

    const dropCorrupt = (key: string) =>
      Effect.andThen(backend.remove("block", key), Effect.sync(() => {
        forget(key)
        corruptDropped++
      }))

    const cacheManifest = (key: string, manifest: Manifest.Manifest): void => {
      if (manifests.size >= MANIFEST_CACHE) manifests.delete(manifests.keys().next().value!)
      manifests.set(key, manifest)
    }

    const getBlock = (mcid: Mcid.Mcid, options?: { readonly shared?: boolean }): Effect.Effect<Option.Option<Uint8Array>, ContentStoreError> =>
      Effect.gen(function*() {
        const key = Mcid.key(mcid)
        if (!blocks.has(key)) return Option.none()
        const bytes = yield* backend.read("block", key, options)
        if (bytes === undefined) {
          forget(key)
          return Option.none()
        }
        if (rehash && !Mcid.verifies(mcid, bytes)) {
          yield* dropCorrupt(key)
          return Option.none()
        }
        touch(key)
        return Option.some(bytes)
      })

    const getManifest = (mcid: Mcid.Mcid): Effect.Effect<Option.Option<Manifest.Manifest>, ContentStoreError> =>
      Effect.gen(function*() {
        if (mcid.codec !== "manifest") return Option.none()
        const key = Mcid.key(mcid)
        const cached = manifests.get(key)
        if (cached !== undefined && blocks.has(key)) return Option.some(cached)
        const bytes = yield* getBlock(mcid)
        if (Option.isNone(bytes)) return Option.none()
        const manifest = Manifest.open(mcid, bytes.value, { maxChunks: config.maxManifestChunks })
        if (Manifest.isError(manifest)) {
          yield* dropCorrupt(key)
          return Option.none()
        }
        cacheManifest(key, manifest)
        return Option.some(manifest)
      })

    /** Deletes the pins whose end has come (under the lock), so the next restart has fewer. */
    const dropExpired = (now: number) =>
      Effect.gen(function*() {
        for (const [key, p] of [...pinned]) {
          if (p.until > now) continue
          yield* backend.remove("pin", key)
          pinned.delete(key)
        }
      })

    /** Every key some pin keeps: the pinned roots and the chunks of pinned manifests held. */
    const reachable = Effect.gen(function*() {
      const keep = new Set<string>(guarded.keys())
      for (const [key, p] of pinned) {
        keep.add(key)
        const manifest = yield* getManifest(p.mcid)
        if (Option.isSome(manifest)) for (const h of manifest.value.hashes) keep.add(Mcid.key(Mcid.raw(h)))
      }
      return keep
    })

    const collect = (targetBytes: number): Effect.Effect<GcReport, ContentStoreError> =>
      Effect.gen(function*() {
        yield* dropExpired(yield* Clock.currentTimeMillis)
        if (usedBytes <= targetBytes) return { removedBlocks: 0, freedBytes: 0 }
        const keep = yield* reachable
        const victims = [...blocks].filter(([key]) => !keep.has(key)).sort((a, b) => a[1].used - b[1].used)
        let removedBlocks = 0
        let freedBytes = 0
        for (const [key, entry] of victims) {
          if (usedBytes <= targetBytes) break
          yield* backend.remove("block", key)
          forget(key)
          removedBlocks++
          freedBytes += entry.size
        }
        return { removedBlocks, freedBytes }
      })

    const ensureRoom = (needed: number): Effect.Effect<void, QuotaExceeded | ContentStoreError> =>
      Effect.gen(function*() {
        if (usedBytes + needed <= config.quotaBytes) return
        yield* collect(Math.max(0, config.quotaBytes - needed))
        if (usedBytes + needed > config.quotaBytes) {
          return yield* Effect.fail(new QuotaExceeded({ needed, pinnedBytes: usedBytes, quotaBytes: config.quotaBytes }))
        }
      })

    /** Checks `bytes` against `mcid`: the manifest when it is one, `undefined` for a good raw block. */
    const check = (mcid: Mcid.Mcid, bytes: Uint8Array): Manifest.Manifest | undefined | IntegrityError => {
      if (mcid.codec === "raw") {
        return Mcid.verifies(mcid, bytes) ? undefined : new IntegrityError({ mcid: Mcid.key(mcid), message: "block does not hash to its MCID" })
      }
      const manifest = Manifest.open(mcid, bytes, { maxChunks: config.maxManifestChunks })
      return Manifest.isError(manifest) ? new IntegrityError({ mcid: Mcid.key(mcid), message: manifest.message }) : manifest
    }

    const store = (mcid: Mcid.Mcid, bytes: Uint8Array, owned = false): Effect.Effect<Manifest.Manifest | undefined, WriteError> =>
      Effect.gen(function*() {
        const checked = check(mcid, bytes)
        if (checked instanceof IntegrityError) return yield* Effect.fail(checked)
        const key = Mcid.key(mcid)
        if (checked !== undefined) cacheManifest(key, checked)
        yield* storeChecked(key, bytes, owned)
        return checked
      })

    /**
     * Writes a block whose bytes are known to match `key` (or only refreshes its age). Only the
     * quota check and the reservation of its bytes hold the lock; the write itself (a file,
     * its flush and its rename on disk) runs outside it, so the blocks of a fetch reach the
     * disk side by side and their flushes overlap instead of queueing one behind the other. The
     * block joins the index once written. A second write of a block being written waits for
     * the first, and tries again only if that one failed.
     */
    const storeChecked = (key: string, bytes: Uint8Array, owned = false): Effect.Effect<void, WriteError> =>
      Effect.suspend(() => {
        if (blocks.has(key)) return Effect.sync(() => touch(key))
        const pending = writing.get(key)
        if (pending !== undefined) {
          return Effect.flatMap(Effect.exit(Deferred.await(pending)), () => storeChecked(key, bytes, owned))
        }
        const size = bytes.length
        const done = Deferred.makeUnsafe<void>()
        writing.set(key, done)
        const reserve = mutex.withPermit(Effect.gen(function*() {
          yield* ensureRoom(size)
          usedBytes += size
        }))
        const write = Effect.andThen(
          reserve,
          Effect.onExit(backend.write("block", key, bytes, { owned }), (exit) =>
            Effect.sync(() => {
              if (exit._tag === "Success") blocks.set(key, { size, used: ++tick })
              else usedBytes -= size
            }))
        )
        return Effect.ensuring(write, Effect.sync(() => {
          writing.delete(key)
          Deferred.doneUnsafe(done, Effect.void)
        }))
      })

    const progress = (mcid: Mcid.Mcid): Effect.Effect<Progress, ContentStoreError> =>
      Effect.gen(function*() {
        if (mcid.codec === "raw") return { _tag: "single", complete: blocks.has(Mcid.key(mcid)) } as const
        const manifest = yield* getManifest(mcid)
        if (Option.isNone(manifest)) return { _tag: "unknown", complete: false } as const
        const m = manifest.value
        const held = m.hashes.map((h) => blocks.has(Mcid.key(Mcid.raw(h))))
        const missing: Array<number> = []
        let heldBytes = 0
        held.forEach((yes, i) => {
          if (yes) heldBytes += Chunker.lengthOf(m.size, i)
          else missing.push(i)
        })
        return { _tag: "chunked", complete: missing.length === 0, manifest: m, held, missing, heldBytes } as const
      })

    const resumePoint = (mcid: Mcid.Mcid): Effect.Effect<ResumePoint, ContentStoreError> =>
      Effect.map(progress(mcid), (p): ResumePoint => {
        if (p.complete) return { _tag: "Complete" }
        if (p._tag !== "chunked") return { _tag: "Nothing" }
        return { _tag: "Manifest", manifest: p.manifest, held: p.held.flatMap((yes, i) => (yes ? [i] : [])) }
      })

    const pin = (mcid: Mcid.Mcid, options: PinOptions = {}) =>
      mutex.withPermit(Effect.gen(function*() {
        const key = Mcid.key(mcid)
        const now = yield* Clock.currentTimeMillis
        const old = pinned.get(key)
        // An expired pin no longer counts: the new end replaces it rather than extends it.
        const current = old === undefined || old.until <= now ? -Infinity : old.until
        const until = Math.max(current, options.until ?? Infinity)
        if (old !== undefined && until === old.until) return
        yield* backend.write("pin", key, encodePinEnd(until))
        pinned.set(key, { mcid, until })
      }))

    const pinsAt = (now: number): Array<Pin> => [...pinned.values()].filter((p) => p.until > now)

    const unpin = (mcid: Mcid.Mcid) =>
      mutex.withPermit(Effect.gen(function*() {
        const key = Mcid.key(mcid)
        if (!pinned.has(key)) return
        yield* backend.remove("pin", key)
        pinned.delete(key)
      }))

    const read = (mcid: Mcid.Mcid): Effect.Effect<Option.Option<Uint8Array>, ContentStoreError> =>
      Effect.gen(function*() {
        if (mcid.codec === "raw") return yield* getBlock(mcid)
        const manifest = yield* getManifest(mcid)
        if (Option.isNone(manifest)) return Option.none()
        const m = manifest.value
        // Not zero-filled: every byte is overwritten by a chunk, or `out` is dropped unreturned.
        const unfilled = Buffer.allocUnsafe(m.size)
        const out = new Uint8Array(unfilled.buffer, unfilled.byteOffset, m.size)
        for (let i = 0; i < m.chunkCount; i++) {
          // Copied into `out` at once, so the store's own bytes do.
          const chunk = yield* getBlock(Content.chunkMcid(m, i), { shared: true })
          if (Option.isNone(chunk)) return Option.none()
          out.set(chunk.value, Chunker.range(m.size, i)[0])
        }
        return Option.some(out)
      })

    const put = (content: Uint8Array, options: PutOptions = {}): Effect.Effect<Mcid.Mcid, WriteError> =>
      Effect.gen(function*() {
        const layout = Content.describe(content, options)
        // Pin first, so a collection running between the writes cannot take the chunks.
        if (options.pin ?? true) yield* pin(layout.mcid)
        if (layout._tag === "single") {
          yield* store(layout.mcid, layout.block.bytes)
        } else {
          for (const chunk of layout.chunks) yield* store(chunk.mcid, chunk.bytes)
          yield* store(layout.mcid, layout.manifestBytes)
        }
        return layout.mcid
      })

    const putFile = (path: string, options: PutOptions = {}): Effect.Effect<Mcid.Mcid, WriteError> =>
      Effect.gen(function*() {
        const io = <A>(run: () => Promise<A>) =>
          Effect.tryPromise({ try: run, catch: (cause) => new ContentStoreError({ op: "read", target: path, cause }) })
        const handle = yield* io(() => openFile(path, "r"))
        /** Fills `into` from `position`; a file that ends early changed under the put. */
        const readAt = (into: Uint8Array, position: number) =>
          io(async () => {
            let at = 0
            while (at < into.length) {
              const { bytesRead } = await handle.read(into, at, into.length - at, position + at)
              if (bytesRead === 0) throw new Error(`file shrank while read (at byte ${position + at})`)
              at += bytesRead
            }
          })
        const body = Effect.gen(function*() {
          const size = (yield* io(() => handle.stat())).size
          if (Chunker.isSingleBlock(size)) {
            const bytes = new Uint8Array(size)
            yield* readAt(bytes, 0)
            return yield* put(bytes, options)
          }
          const count = Chunker.count(size)
          if (count > config.maxManifestChunks) {
            return yield* Effect.fail(new IntegrityError({ mcid: path, message: `${count} chunks, above maxManifestChunks (${config.maxManifestChunks})` }))
          }
          // One buffer for every chunk: each write completes (the memory backend copies) before
          // the next read, so the file is never held whole and chunks make no garbage.
          const buffer = new Uint8Array(Chunker.chunkSizeBytes)
          const hashes: Array<Uint8Array> = []
          const keys: Array<string> = []
          const release = Effect.sync(() => {
            for (const key of keys) {
              const n = (guarded.get(key) ?? 1) - 1
              if (n <= 0) guarded.delete(key)
              else guarded.set(key, n)
            }
          })
          return yield* Effect.ensuring(
            Effect.gen(function*() {
              for (let i = 0; i < count; i++) {
                const [start, end] = Chunker.range(size, i)
                const chunk = buffer.subarray(0, end - start)
                yield* readAt(chunk, start)
                const hash = Blake3.hash(chunk)
                const key = Mcid.key(Mcid.raw(hash))
                guarded.set(key, (guarded.get(key) ?? 0) + 1)
                keys.push(key)
                hashes.push(hash)
                yield* storeChecked(key, chunk)
              }
              const described = Content.describeHashes(size, hashes, options)
              if (options.pin ?? true) yield* pin(described.mcid)
              yield* store(described.mcid, described.manifestBytes)
              return described.mcid
            }),
            release
          )
        })
        return yield* Effect.ensuring(body, Effect.promise(() => handle.close()))
      })

    return {
      config,
      has: (mcid) => Effect.sync(() => blocks.has(Mcid.key(mcid))),
      getBlock,
      putBlock: (mcid, bytes, options) =>
        options?.verified === true && mcid.codec === "raw"
          ? storeChecked(Mcid.key(mcid), bytes, options.owned === true)
          : Effect.asVoid(store(mcid, bytes, options?.owned === true)),
      putManifest: (mcid, bytes) =>
        Effect.flatMap(store(mcid, bytes), (m) =>
          m === undefined
            ? Effect.fail(new IntegrityError({ mcid: Mcid.key(mcid), message: "not a manifest MCID" }))
            : Effect.succeed(m)),
      getManifest,
      progress,
      resumePoint,
      put,
      putFile,
      read,
      pin,
      unpin,
      pins: Effect.map(Clock.currentTimeMillis, (now) => pinsAt(now).map((p) => p.mcid)),
      pinInfo: Effect.map(Clock.currentTimeMillis, (now) => pinsAt(now).map((p) => ({ mcid: p.mcid, until: p.until }))),
      gc: (options = {}) => mutex.withPermit(collect(options.targetBytes ?? 0)),
      usage: Effect.map(Clock.currentTimeMillis, (now) => ({ bytes: usedBytes, blocks: blocks.size, pins: pinsAt(now).length, corruptDropped }))
    } satisfies ContentStoreShape
  })

/**
 * Options of the live layer: the directory and the store's knobs.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions extends Partial<ContentStoreConfig> {
  /** Directory of the store (created if missing), e.g. `<dataDir>/content`. */
  readonly dir: string
  /** Flush files and directories around each rename. @default true */
  readonly fsync?: boolean
}

/**
 * The store on disk under `options.dir`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: LayerOptions): Layer.Layer<ContentStore, ContentStoreError> =>
  Layer.effect(
    ContentStore,
    make(FileBackend.make({ dir: options.dir, ...(options.fsync === undefined ? {} : { fsync: options.fsync }) }), options)
  )

/**
 * A store in memory: same checks, pins, quota and collection, nothing on disk. For tests and
 * for nodes started without a data directory.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (config: Partial<ContentStoreConfig> = {}): Layer.Layer<ContentStore> =>
  Layer.effect(ContentStore, Effect.orDie(make(Backend.memory(), config)))

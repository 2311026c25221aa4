/**
 * The content store's files on disk.
 *
 * Layout under `dir`: `blocks/<xy>/<mcid>` (one file per raw block or manifest, `xy` two
 * characters of the MCID text to keep directories small), `pins/<mcid>` (empty for a pin for
 * good, else its end in unix ms) and
 * `tmp/` (writes in progress).
 *
 * Key invariant, crash safety: a write goes to a fresh file in `tmp/`, is flushed with `fsync`,
 * then renamed over its final name, and the directory is flushed; so a final name always holds a
 * complete entry, whatever instant the process is killed at. `open` deletes whatever is left in
 * `tmp/`. With `fsync: false` a killed *process* still cannot leave a partial entry (the rename
 * is atomic and the page cache survives it), but a power loss could.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises"
import { join } from "node:path"
import type { Backend, Entry, Kind } from "./Backend.ts"
import { ContentStoreError } from "./Errors.ts"

/**
 * Options of the file backend.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileBackendOptions {
  /** Root directory of the store (created if missing). */
  readonly dir: string
  /** Flush files and directories before and after renames. @default true */
  readonly fsync?: boolean
}

const folder: Record<Kind, string> = { block: "blocks", pin: "pins" }

/** Blocks are spread over subdirectories by two characters of the digest part of the name. */
const shard = (name: string): string => name.slice(50, 52) || "__"

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException | undefined)?.code === "ENOENT"

/**
 * A backend over the file system.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: FileBackendOptions): Backend => {
  const sync = options.fsync ?? true
  const tmpDir = join(options.dir, "tmp")
  let counter = 0
  const dirOf = (kind: Kind, name: string): string =>
    kind === "block" ? join(options.dir, folder.block, shard(name)) : join(options.dir, folder.pin)
  const pathOf = (kind: Kind, name: string): string => join(dirOf(kind, name), name)

  const io = <A>(op: string, target: string, run: () => Promise<A>): Effect.Effect<A, ContentStoreError> =>
    Effect.tryPromise({ try: run, catch: (cause) => new ContentStoreError({ op, target, cause }) })

  const syncDir = async (dir: string): Promise<void> => {
    if (!sync) return
    const handle = await open(dir, "r")
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }

  const createdDirs = new Set<string>()
  const ensureDir = async (dir: string): Promise<void> => {
    if (createdDirs.has(dir)) return
    await mkdir(dir, { recursive: true })
    createdDirs.add(dir)
  }

  return {
    open: io("open", options.dir, async () => {
      await mkdir(join(options.dir, folder.block), { recursive: true })
      await mkdir(join(options.dir, folder.pin), { recursive: true })
      // Whatever is in tmp/ is a write that never reached its rename.
      await rm(tmpDir, { recursive: true, force: true })
      await mkdir(tmpDir, { recursive: true })
    }),

    list: (kind) =>
      io("list", kind, async () => {
        const dirs = kind === "block"
          ? (await readdir(join(options.dir, folder.block))).map((d) => join(options.dir, folder.block, d))
          : [join(options.dir, folder.pin)]
        const out: Array<Entry> = []
        for (const dir of dirs) {
          let names: ReadonlyArray<string>
          try {
            names = await readdir(dir)
          } catch (e) {
            // A vanished shard, or a stray file where a shard would be: not ours.
            if (isMissing(e) || (e as NodeJS.ErrnoException).code === "ENOTDIR") continue
            throw e
          }
          for (const name of names) {
            try {
              const s = await stat(join(dir, name))
              if (s.isFile()) out.push({ name, size: s.size, mtimeMs: s.mtimeMs })
            } catch (e) {
              if (!isMissing(e)) throw e
            }
          }
        }
        return out
      }),

    read: (kind, name) =>
      io("read", name, async () => {
        try {
          // A view of the buffer read, not `new Uint8Array(buffer)`, which would copy it.
          const bytes = await readFile(pathOf(kind, name))
          return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        } catch (e) {
          if (isMissing(e)) return undefined
          throw e
        }
      }),

    write: (kind, name, bytes) =>
      io("write", name, async () => {
        const dir = dirOf(kind, name)
        await ensureDir(dir)
        await ensureDir(tmpDir)
        const tmp = join(tmpDir, `${name}.${process.pid}.${++counter}.part`)
        const handle = await open(tmp, "wx", 0o600)
        try {
          await handle.writeFile(bytes)
          if (sync) await handle.sync()
        } finally {
          await handle.close()
        }
        await rename(tmp, pathOf(kind, name))
        await syncDir(dir)
      }),

    remove: (kind, name) =>
      io("remove", name, async () => {
        await rm(pathOf(kind, name), { force: true })
      })
  }
}

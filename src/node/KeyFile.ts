/**
 * Key files (PROTOCOL.md §2.1): a node's Ed25519 seed on disk, created once and never replaced.
 * The same format holds a realm authority key (`macula realm keygen`).
 *
 * A key file is one line of JSON, readable by its owner only (mode 0600):
 *
 * ```json
 * {"type":"macula-node/ed25519-seed","did":"did:key:z6Mk…","seed":"<32 bytes, base64url>"}
 * ```
 *
 * `did` is informational and checked on load: a file whose seed does not give that DID is
 * refused, so a hand-edited or truncated file never silently becomes another identity.
 *
 * Writes are atomic: a temporary file in the same directory (created with mode 0600, fsynced),
 * then a hard link under the target name (which, unlike a rename, fails if the name exists), the
 * temporary name removed and the directory fsynced. A crash leaves either no file or the whole
 * file, never half a key, and `create` never overwrites an existing key.
 *
 * The seed is secret: this module never logs it and its errors never contain it.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { dirname, join } from "node:path"
import { Identity } from "../identity/Identity.ts"

/**
 * The `type` field of a key file.
 *
 * @since 0.1.0
 * @category constants
 */
export const fileType = "macula-node/ed25519-seed"

/**
 * The node key's file name inside a data directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const nodeKeyName = "identity.key"

/**
 * A key file could not be read or written; `message` says why (never the seed).
 *
 * @since 0.1.0
 * @category errors
 */
export class KeyFileError extends Error {
  readonly _tag = "KeyFileError"
  constructor(readonly path: string, detail: string) {
    super(`${path}: ${detail}`)
    this.name = "KeyFileError"
  }
}

/**
 * The text of a key file for `identity`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (identity: Identity): string =>
  `${JSON.stringify({ type: fileType, did: identity.did, seed: Buffer.from(identity.exportSeed()).toString("base64url") })}\n`

/**
 * The identity in a key file's text, or a description of what is wrong with it.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (text: string): Identity | string => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return "not a key file (not JSON)"
  }
  if (parsed === null || typeof parsed !== "object") return "not a key file"
  const { type, did, seed } = parsed as Record<string, unknown>
  if (type !== fileType) return `not a key file (type ${JSON.stringify(type)}, expected "${fileType}")`
  if (typeof seed !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(seed)) return "the seed is not 32 bytes of base64url"
  const bytes = Buffer.from(seed, "base64url")
  if (bytes.length !== 32) return "the seed is not 32 bytes"
  const identity = Identity.fromSeed(new Uint8Array(bytes))
  if (did !== undefined && did !== identity.did) return "the seed does not give the DID the file names"
  return identity
}

/**
 * Reads a key file. Throws `KeyFileError` if it is missing, unreadable or malformed.
 *
 * @since 0.1.0
 * @category io
 */
export const read = (path: string): Identity => {
  let text: string
  try {
    text = fs.readFileSync(path, "utf8")
  } catch (error) {
    throw new KeyFileError(path, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
  }
  const identity = decode(text)
  if (typeof identity === "string") throw new KeyFileError(path, identity)
  return identity
}

/**
 * Writes `identity` to a new key file at `path`, atomically, mode 0600; creates the directory
 * (mode 0700) if needed. Throws `KeyFileError` if the file exists or cannot be written.
 *
 * @since 0.1.0
 * @category io
 */
export const create = (path: string, identity: Identity): void => {
  const dir = dirname(path)
  const temp = join(dir, `.${randomBytes(6).toString("hex")}.key.tmp`)
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    if (fs.existsSync(path)) throw new KeyFileError(path, "already exists; a key is never replaced")
    writeNew(temp, encode(identity), 0o600)
    // linkSync fails if `path` appeared meanwhile, so a concurrent creator never loses its key.
    fs.linkSync(temp, path)
    fs.unlinkSync(temp)
    syncDirectory(dir)
  } catch (error) {
    try {
      fs.unlinkSync(temp)
    } catch {
      // nothing to clean up
    }
    if (error instanceof KeyFileError) throw error
    const code = (error as NodeJS.ErrnoException).code
    throw new KeyFileError(path, code === "EEXIST" ? "already exists; a key is never replaced" : `cannot write: ${code ?? String(error)}`)
  }
}

/**
 * Replaces the file at `path` with `text`, atomically: a temporary file in the same directory
 * (mode `mode`, fsynced), renamed over the target, the directory fsynced. A crash leaves the old
 * file or the new one, never a mix. Creates the directory (mode 0700) if needed. Throws the
 * underlying error; the temporary file is removed on failure.
 *
 * @since 0.1.0
 * @category io
 */
export const replaceAtomically = (path: string, text: string, mode = 0o600): void => {
  const dir = dirname(path)
  const temp = join(dir, `.${randomBytes(6).toString("hex")}.tmp`)
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    writeNew(temp, text, mode)
    fs.renameSync(temp, path)
    syncDirectory(dir)
  } catch (error) {
    try {
      fs.unlinkSync(temp)
    } catch {
      // nothing to clean up
    }
    throw error
  }
}

/** Writes `text` to a new file at `path` (never an existing one), mode `mode`, synced to disk. */
const writeNew = (path: string, text: string, mode: number): void => {
  const fd = fs.openSync(path, "wx", mode)
  try {
    // Unlike one `writeSync`, this writes again after a short write (a records file is large).
    fs.writeFileSync(fd, text)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

const syncDirectory = (dir: string): void => {
  try {
    const fd = fs.openSync(dir, "r")
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  }
}

/**
 * The node key of a data directory: read if present, else made by `generate` and written.
 * Throws `KeyFileError` for an unreadable or malformed file (it is never replaced).
 *
 * @since 0.1.0
 * @category io
 */
export const loadOrCreate = (
  dataDir: string,
  generate: () => Identity
): { readonly identity: Identity; readonly created: boolean; readonly path: string } => {
  const path = join(dataDir, nodeKeyName)
  if (fs.existsSync(path)) return { identity: read(path), created: false, path }
  const identity = generate()
  try {
    create(path, identity)
  } catch (error) {
    // Another process created it first: use theirs.
    if (error instanceof KeyFileError && fs.existsSync(path)) return { identity: read(path), created: false, path }
    throw error
  }
  return { identity, created: true, path }
}

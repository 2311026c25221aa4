/**
 * The pure functions the content exchange cores are handed in their config
 * (`src/protocols/content/Config.ts`, `Hooks`): they may not import this library, so the actor
 * passes these.
 *
 * @since 0.1.0
 */
import * as Blake3 from "./Blake3.ts"
import * as Manifest from "./Manifest.ts"
import * as Mcid from "./Mcid.ts"

/**
 * BLAKE3-256.
 *
 * @since 0.1.0
 * @category hooks
 */
export const blake3 = (bytes: Uint8Array): Uint8Array => Blake3.hash(bytes)

/**
 * The checked manifest `bytes` encode under the 34-byte `mcid`, or `undefined`.
 *
 * @since 0.1.0
 * @category hooks
 */
export const openManifest = (
  mcid: Uint8Array,
  bytes: Uint8Array,
  maxChunks: number
): { readonly size: number; readonly hashes: ReadonlyArray<Uint8Array> } | undefined => {
  const m = Mcid.fromBinary(mcid)
  if (m === undefined) return undefined
  const opened = Manifest.open(m, bytes, { maxChunks })
  return Manifest.isError(opened) ? undefined : opened
}

/**
 * Both, as one object to spread into a core's config.
 *
 * @since 0.1.0
 * @category hooks
 */
export const hooks = { blake3, openManifest } as const

/**
 * The content store port: `ContentStore` (verified, atomic, pinned, collected, quota-bound
 * block storage) with a live layer on the file system and an in-memory layer.
 *
 * @since 0.1.0
 */

/**
 * The storage interface under the store, and its in-memory implementation.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Backend from "./Backend.ts"

/**
 * The store service, its knobs and its layers.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ContentStore from "./ContentStore.ts"

/**
 * The store's errors.
 *
 * @since 0.1.0
 * @category errors
 */
export { ContentStoreError, IntegrityError, QuotaExceeded } from "./Errors.ts"

/**
 * The on-disk storage: temp file, fsync, rename.
 *
 * @since 0.1.0
 * @category modules
 */
export * as FileBackend from "./FileBackend.ts"

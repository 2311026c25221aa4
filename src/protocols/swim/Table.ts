/**
 * Moved to `src/core/PersistentMap.ts`; this alias keeps the old path working.
 *
 * @since 0.1.0
 */
export * from "../../core/PersistentMap.ts"

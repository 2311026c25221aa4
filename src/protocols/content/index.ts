/**
 * The content exchange (PROTOCOL.md §12.3–§12.4) as two sans-IO cores:
 *
 * - `Fetch`: one download of one MCID from several providers: manifest first, chunks in
 *   parallel within per-provider windows, verification before storage, provider scoring,
 *   timeouts, blacklisting, end game, resume from held chunks, pause/resume/cancel.
 * - `Serve`: the serving side for every peer: want lists with per-peer credit, priorities,
 *   round-robin, TTLs, manifest requests.
 * - `Push`: push upload (§12.6): whom `acceptPushFrom` admits, and the recipient's pulls.
 *
 * Both speak the six `content.*` frames of `src/wire` and leave every I/O (sessions, the
 * store, timers) to their actors as commands. `Config` holds the knobs and the two pure
 * functions (BLAKE3, manifest opening) the cores are handed.
 *
 * @since 0.1.0
 */

/**
 * Knobs, presets and the hooks a core is handed.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Config from "./Config.ts"

/**
 * The fetch core.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Fetch from "./Fetch.ts"

/**
 * MCIDs as 34 raw bytes.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Ids from "./Ids.ts"

/**
 * Push upload: `acceptPushFrom` and the recipient's core (§12.6).
 *
 * @since 0.1.0
 * @category modules
 */
export * as Push from "./Push.ts"

/**
 * The station's relay of content sessions between clients (`to`).
 *
 * @since 0.1.0
 * @category modules
 */
export * as Relay from "./Relay.ts"

/**
 * The serving core.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Serve from "./Serve.ts"

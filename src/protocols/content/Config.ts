/**
 * Knobs of the content exchange cores (PROTOCOL.md §12.3–§12.4, §16 "content" rows), with units,
 * defaults and trade-offs, presets and `problems()`.
 *
 * Key invariant: every table the cores keep is bounded by a knob here (providers per fetch,
 * wants per provider, wants and blocks in flight per peer, peers served), so no peer can grow a
 * core's state past what this object allows.
 *
 * The config also carries the two pure functions the cores need and may not import: `blake3`
 * (verifying blocks) and `openManifest` (checking manifest bytes against their MCID, §12.2). The
 * actor passes `ContentHooks.hooks` from `src/content`; tests may pass the same.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"

/**
 * A checked manifest as the fetch core needs it: the content size and every chunk hash.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenedManifest {
  readonly size: number
  readonly hashes: ReadonlyArray<Uint8Array>
}

/**
 * The pure functions a core is handed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hooks {
  /** BLAKE3-256 of some bytes. */
  readonly blake3: (bytes: Uint8Array) => Uint8Array
  /**
   * The manifest `bytes` encode if they are the manifest named by the 34-byte `mcid` and pass
   * every §12.2 check (with `maxManifestChunks`), else `undefined`.
   */
  readonly openManifest: (mcid: Uint8Array, bytes: Uint8Array, maxChunks: number) => OpenedManifest | undefined
}

/**
 * Every knob, as plain data.
 *
 * @since 0.1.0
 * @category models
 */
export interface Knobs {
  // --- Fetch (§12.4) ------------------------------------------------------------------------
  /** Block wants outstanding per provider. Higher = more throughput on long fat links, more waste when a provider dies. Unit: wants. @default 8 */
  readonly fetchWindowPerProvider: number
  /** Providers one fetch uses at once; more are ignored until one is dropped. Unit: providers. @default 5 */
  readonly maxProvidersPerFetch: number
  /** Providers asked for the manifest in parallel. Unit: providers. @default 2 */
  readonly manifestParallelism: number
  /** A block want (or manifest request) unanswered this long is a timeout: −`timeoutPenalty`, chunk re-assigned. Unit: ms. @default 15_000 */
  readonly blockRequestTimeoutMs: Millis
  /** In the end game each outstanding chunk is also asked of up to this many other providers; the losers get `content.cancel`. Unit: providers. @default 2 */
  readonly endgameDuplicates: number
  /** Score added per verified block. @default 1 */
  readonly goodBlockReward: number
  /** Score taken per block that fails verification or per bad manifest (§14 rows 26, 27). @default 50 */
  readonly badBlockPenalty: number
  /** Score taken per want that timed out. @default 5 */
  readonly timeoutPenalty: number
  /** A provider at or below this score is dropped and blacklisted. @default -100 */
  readonly providerBlacklistScore: number
  /** How long a blacklisted provider stays out of every fetch (the actor keeps the list). Unit: ms. @default 600_000 */
  readonly providerBlacklistMs: Millis
  /** Largest manifest accepted, in chunks (§12.2). @default 30_000 */
  readonly maxManifestChunks: number
  /** Weight of the newest sample in a provider's throughput average, in (0, 1]. Higher = reacts faster, noisier. @default 0.3 */
  readonly throughputSmoothing: number
  /** A provider whose session was lost is taken back after this, doubled on each further loss. Unit: ms. @default 1_000 */
  readonly lostProviderRetryMs: Millis
  /** Losses in a row (no verified block in between) retried on their own; after that only a DHT answer naming the provider brings it back. Unit: losses. @default 4 */
  readonly lostProviderRetries: number
  // --- Serve (§12.3) ------------------------------------------------------------------------
  /** Open wants kept per peer; the excess is answered `y: false` and penalised (§14 row 28). Unit: wants. @default 1_024 */
  readonly maxWantsPerPeer: number
  /** Blocks being read or sent per peer at once. Unit: blocks. @default 16 */
  readonly maxInFlightBlocksPerPeer: number
  /** A want older than this is forgotten. Unit: ms. @default 60_000 */
  readonly wantTtlMs: Millis
  /** Peers with want lists kept at once; wants from more are answered `y: false`. Unit: peers. @default 4_096 */
  readonly maxServedPeers: number
  /** Priority of a want without `p`. @default 128 */
  readonly defaultWantPriority: number
}

/**
 * Knobs plus the pure functions: what a core runs with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config extends Knobs, Hooks {}

/**
 * The defaults of PROTOCOL.md §16.
 *
 * @since 0.1.0
 * @category presets
 */
export const defaults: Knobs = {
  fetchWindowPerProvider: 8,
  maxProvidersPerFetch: 5,
  manifestParallelism: 2,
  blockRequestTimeoutMs: 15_000,
  endgameDuplicates: 2,
  goodBlockReward: 1,
  badBlockPenalty: 50,
  timeoutPenalty: 5,
  providerBlacklistScore: -100,
  providerBlacklistMs: 600_000,
  maxManifestChunks: 30_000,
  throughputSmoothing: 0.3,
  lostProviderRetryMs: 1_000,
  lostProviderRetries: 4,
  maxWantsPerPeer: 1_024,
  maxInFlightBlocksPerPeer: 16,
  wantTtlMs: 60_000,
  maxServedPeers: 4_096,
  defaultWantPriority: 128
}

/**
 * Short timeouts for tests and simulations on virtual time.
 *
 * @since 0.1.0
 * @category presets
 */
export const local: Knobs = { ...defaults, blockRequestTimeoutMs: 1_000, wantTtlMs: 5_000, providerBlacklistMs: 30_000 }

/**
 * A config from knobs and hooks.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (hooks: Hooks, knobs: Partial<Knobs> = {}): Config => ({ ...defaults, ...knobs, ...hooks })

/**
 * What is wrong with a config, in words; empty means valid. Checked once, at actor start.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (c: Knobs): ReadonlyArray<string> => {
  const out: Array<string> = []
  const positive: ReadonlyArray<keyof Knobs> = [
    "fetchWindowPerProvider", "maxProvidersPerFetch", "manifestParallelism", "blockRequestTimeoutMs", "maxManifestChunks", "lostProviderRetryMs",
    "maxWantsPerPeer", "maxInFlightBlocksPerPeer", "wantTtlMs", "maxServedPeers"
  ]
  for (const k of positive) if (!(Number.isInteger(c[k]) && (c[k] as number) > 0)) out.push(`${k} must be a positive integer`)
  if (!(Number.isInteger(c.endgameDuplicates) && c.endgameDuplicates >= 0)) out.push("endgameDuplicates must be an integer ≥ 0")
  if (!(Number.isInteger(c.lostProviderRetries) && c.lostProviderRetries >= 0)) out.push("lostProviderRetries must be an integer ≥ 0")
  if (!(c.providerBlacklistScore < 0)) out.push("providerBlacklistScore must be negative")
  if (!(c.badBlockPenalty >= 0 && c.timeoutPenalty >= 0 && c.goodBlockReward >= 0)) out.push("rewards and penalties must be ≥ 0")
  if (!(c.throughputSmoothing > 0 && c.throughputSmoothing <= 1)) out.push("throughputSmoothing must lie in (0, 1]")
  if (!(c.defaultWantPriority >= 0 && c.defaultWantPriority <= 255)) out.push("defaultWantPriority must lie in 0..255")
  return out
}

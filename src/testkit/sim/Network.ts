/**
 * The simulator's network fault model for one directed link: a base latency plus a seeded
 * jitter distribution, a loss probability and a duplication probability. Reordering is not
 * a knob: it falls out of jitter, since two messages on one link draw independent delays.
 * Partitions and crashes are not link properties; `Sim` applies them on top of this model.
 *
 * Key invariant: a delay is never below `latencyMs`, and every random draw comes from the
 * `Source` passed in, in a fixed order (loss, delay, duplicate, the duplicate's delay), so the
 * same generator state gives the same fate.
 *
 * It does not keep state, schedule anything or read a clock; `Sim` (or any other driver, such
 * as an in-memory transport) asks it what happens to one message.
 *
 * @since 0.1.0
 */
import type { Millis } from "../../core/Millis.ts"

/**
 * The extra delay above `latencyMs`, drawn per message.
 *
 * - `None`: every message takes exactly `latencyMs` (no reordering on a link).
 * - `Uniform`: uniform in `[0, maxMs)`.
 * - `Exponential`: exponential with mean `meanMs`, cut at `capMs` (a long tail, like queues).
 * - `Normal`: `max(0, N(meanMs, stdDevMs))`.
 *
 * @since 0.1.0
 * @category models
 */
export type Jitter =
  | { readonly _tag: "None" }
  | { readonly _tag: "Uniform"; readonly maxMs: Millis }
  | { readonly _tag: "Exponential"; readonly meanMs: Millis; readonly capMs: Millis }
  | { readonly _tag: "Normal"; readonly meanMs: Millis; readonly stdDevMs: Millis }

/**
 * The fault model of one directed link.
 *
 * @since 0.1.0
 * @category models
 */
export interface Link {
  /** Minimum one-way delay in virtual ms; every delivery takes at least this. @default 10 */
  readonly latencyMs: Millis
  /** Extra delay per message; the source of reordering. @default none() */
  readonly jitter: Jitter
  /** Probability in [0, 1] that a message is lost. @default 0 */
  readonly loss: number
  /** Probability in [0, 1] that a delivered message arrives twice (second copy, own delay). @default 0 */
  readonly duplicate: number
}

/**
 * A source of floats in [0, 1); `Rng.fromSeed(...)` and `Prng.cursor(...)` are two.
 *
 * @since 0.1.0
 * @category models
 */
export interface Source {
  readonly float: () => number
}

/**
 * No jitter: every message on the link takes exactly `latencyMs`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none = (): Jitter => ({ _tag: "None" })

/**
 * Jitter uniform in `[0, maxMs)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const uniform = (maxMs: Millis): Jitter => ({ _tag: "Uniform", maxMs })

/**
 * Exponential jitter with mean `meanMs`, cut at `capMs` (default `20 × meanMs`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponential = (meanMs: Millis, capMs: Millis = 20 * meanMs): Jitter => ({
  _tag: "Exponential",
  meanMs,
  capMs
})

/**
 * Normal jitter `max(0, N(meanMs, stdDevMs))`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const normal = (meanMs: Millis, stdDevMs: Millis): Jitter => ({ _tag: "Normal", meanMs, stdDevMs })

/**
 * The default link: a perfect network with a fixed 10 ms delay (no jitter, loss or duplicates).
 *
 * @since 0.1.0
 * @category presets
 */
export const perfect: Link = { latencyMs: 10, jitter: none(), loss: 0, duplicate: 0 }

/**
 * A data-centre LAN: 0.2 ms plus up to 0.3 ms of uniform jitter, no loss.
 *
 * @since 0.1.0
 * @category presets
 */
export const lan: Link = { latencyMs: 0.2, jitter: uniform(0.3), loss: 0, duplicate: 0 }

/**
 * A wide-area link: 40 ms plus exponential jitter (mean 10 ms, cut at 200 ms), 0.5 % loss.
 *
 * @since 0.1.0
 * @category presets
 */
export const wan: Link = { latencyMs: 40, jitter: exponential(10, 200), loss: 0.005, duplicate: 0 }

/**
 * A bad network for stress tests: `wan` with 5 % loss and 1 % duplicates.
 *
 * @since 0.1.0
 * @category presets
 */
export const lossy: Link = { ...wan, loss: 0.05, duplicate: 0.01 }

/**
 * `base` with the fields of `patch` that are present.
 *
 * @since 0.1.0
 * @category combinators
 */
export const merge = (base: Link, patch: Partial<Link> | undefined): Link =>
  patch === undefined ? base : { ...base, ...patch }

const isProbability = (p: number): boolean => Number.isFinite(p) && p >= 0 && p <= 1
const isDelay = (ms: number): boolean => Number.isFinite(ms) && ms >= 0

/**
 * What is wrong with a link, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (link: Link): ReadonlyArray<string> => {
  const found: Array<string> = []
  if (!isDelay(link.latencyMs)) found.push(`latencyMs must be a finite number >= 0, got ${link.latencyMs}`)
  if (!isProbability(link.loss)) found.push(`loss must be a probability in [0, 1], got ${link.loss}`)
  if (!isProbability(link.duplicate)) found.push(`duplicate must be a probability in [0, 1], got ${link.duplicate}`)
  const j = link.jitter
  switch (j._tag) {
    case "None":
      break
    case "Uniform":
      if (!isDelay(j.maxMs)) found.push(`uniform jitter maxMs must be a finite number >= 0, got ${j.maxMs}`)
      break
    case "Exponential":
      if (!isDelay(j.meanMs)) found.push(`exponential jitter meanMs must be a finite number >= 0, got ${j.meanMs}`)
      if (!isDelay(j.capMs)) found.push(`exponential jitter capMs must be a finite number >= 0, got ${j.capMs}`)
      break
    case "Normal":
      if (!Number.isFinite(j.meanMs)) found.push(`normal jitter meanMs must be finite, got ${j.meanMs}`)
      if (!isDelay(j.stdDevMs)) found.push(`normal jitter stdDevMs must be a finite number >= 0, got ${j.stdDevMs}`)
      break
  }
  return found
}

/**
 * One draw of a jitter distribution (0 for `None`, which draws nothing).
 *
 * @since 0.1.0
 * @category sampling
 */
export const sampleJitter = (jitter: Jitter, rng: Source): Millis => {
  switch (jitter._tag) {
    case "None":
      return 0
    case "Uniform":
      return rng.float() * jitter.maxMs
    case "Exponential": {
      // Inverse CDF; 1 - u is in (0, 1], so the logarithm is finite.
      const x = -jitter.meanMs * Math.log(1 - rng.float())
      return x < jitter.capMs ? x : jitter.capMs
    }
    case "Normal": {
      // Box-Muller with two draws, always two, so the draw count never depends on values.
      const u1 = 1 - rng.float()
      const u2 = rng.float()
      const x = jitter.meanMs + jitter.stdDevMs * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
      return x > 0 ? x : 0
    }
  }
}

/**
 * The one-way delay of one message: `latencyMs` plus a jitter draw.
 *
 * @since 0.1.0
 * @category sampling
 */
export const sampleDelay = (link: Link, rng: Source): Millis => link.latencyMs + sampleJitter(link.jitter, rng)

/**
 * Whether a message is lost (draws nothing when `loss` is 0 or 1).
 *
 * @since 0.1.0
 * @category sampling
 */
export const sampleLost = (link: Link, rng: Source): boolean =>
  link.loss <= 0 ? false : link.loss >= 1 ? true : rng.float() < link.loss

/**
 * Whether a delivered message is duplicated (draws nothing when `duplicate` is 0 or 1).
 *
 * @since 0.1.0
 * @category sampling
 */
export const sampleDuplicated = (link: Link, rng: Source): boolean =>
  link.duplicate <= 0 ? false : link.duplicate >= 1 ? true : rng.float() < link.duplicate

/**
 * The fate of one message on the link: the delays of its copies, in draw order (empty when
 * lost, two entries when duplicated). `Sim` makes exactly these draws in exactly this order.
 *
 * @since 0.1.0
 * @category sampling
 */
export const transmit = (link: Link, rng: Source): ReadonlyArray<Millis> => {
  if (sampleLost(link, rng)) return []
  const first = sampleDelay(link, rng)
  return sampleDuplicated(link, rng) ? [first, sampleDelay(link, rng)] : [first]
}

/**
 * A mutable, allocation-free view of a `Prng` (sfc32) for drivers that draw millions of
 * numbers, such as the simulator's network. It continues the immutable generator exactly:
 * `fromPrng(p)` yields the numbers that `Prng.nextU32`, `Prng.nextFloat` and `Prng.nextInt`
 * would yield from `p`, in the same order, and `state()` gives the immutable value back.
 *
 * Key invariant: same starting `Prng`, same calls, same numbers, on any platform (32-bit
 * integer arithmetic only).
 *
 * It is not for cryptography, and not for cores: a core keeps a `Prng` value in its state.
 *
 * @since 0.1.0
 */
import * as Prng from "../../core/Prng.ts"

/**
 * A mutable generator.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rng {
  /** An unsigned 32-bit integer. */
  readonly u32: () => number
  /** A float in [0, 1). */
  readonly float: () => number
  /** An integer in [min, max] (inclusive). */
  readonly int: (min: number, max: number) => number
  /** The immutable generator that would continue from here. */
  readonly state: () => Prng.Prng
}

class Sfc32 implements Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(p: Prng.Prng) {
    this.a = p.a
    this.b = p.b
    this.c = p.c
    this.d = p.d
  }

  // The same arithmetic as `Prng.nextU32`, on fields instead of a fresh object per draw.
  readonly u32 = (): number => {
    const { a, b, c, d } = this
    const t = (((a + b) | 0) + d) | 0
    this.d = (d + 1) | 0
    this.a = b ^ (b >>> 9)
    this.b = (c + (c << 3)) | 0
    this.c = (((c << 21) | (c >>> 11)) + t) | 0
    return t >>> 0
  }

  readonly float = (): number => this.u32() / 0x100000000

  readonly int = (min: number, max: number): number => min + Math.floor(this.float() * (max - min + 1))

  readonly state = (): Prng.Prng => ({ a: this.a, b: this.b, c: this.c, d: this.d })
}

/**
 * A mutable generator that continues `prng`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPrng = (prng: Prng.Prng): Rng => new Sfc32(prng)

/**
 * `fromPrng(Prng.fromSeed(seed))`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSeed = (seed: number): Rng => fromPrng(Prng.fromSeed(seed))

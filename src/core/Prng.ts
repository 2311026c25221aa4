/**
 * A small seeded pseudo-random generator (sfc32) as an immutable value, so that randomness
 * can live inside a protocol core's state: one seed replays a simulation exactly.
 *
 * Not for cryptography: nonces and keys come from `node:crypto` outside the cores.
 *
 * @since 0.1.0
 */

/**
 * The generator's 128-bit state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Prng {
  readonly a: number
  readonly b: number
  readonly c: number
  readonly d: number
}

const advance = (p: Prng): readonly [number, Prng] => {
  let { a, b, c, d } = p
  const t = (((a + b) | 0) + d) | 0
  d = (d + 1) | 0
  a = b ^ (b >>> 9)
  b = (c + (c << 3)) | 0
  c = (c << 21) | (c >>> 11)
  c = (c + t) | 0
  return [t >>> 0, { a, b, c, d }]
}

/**
 * A generator from any integer seed; the first outputs are discarded so nearby seeds diverge.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSeed = (seed: number): Prng => {
  let p: Prng = { a: 0x9e3779b9, b: 0x243f6a88, c: 0xb7e15162, d: seed | 0 }
  const hi = Math.floor(seed / 0x100000000) | 0
  p = { ...p, a: (p.a ^ hi) | 0 }
  for (let i = 0; i < 15; i++) p = advance(p)[1]
  return p
}

/**
 * An unsigned 32-bit integer and the next generator.
 *
 * @since 0.1.0
 * @category combinators
 */
export const nextU32 = (p: Prng): readonly [number, Prng] => advance(p)

/**
 * A float in [0, 1) and the next generator.
 *
 * @since 0.1.0
 * @category combinators
 */
export const nextFloat = (p: Prng): readonly [number, Prng] => {
  const [u, after] = advance(p)
  return [u / 0x100000000, after]
}

/**
 * An integer in [min, max] (inclusive) and the next generator.
 *
 * @since 0.1.0
 * @category combinators
 */
export const nextInt = (p: Prng, min: number, max: number): readonly [number, Prng] => {
  const [f, after] = nextFloat(p)
  return [min + Math.floor(f * (max - min + 1)), after]
}

/**
 * A mutable view for code that draws many numbers in a row (the simulator, chaos schedules);
 * `state()` gives the immutable value back.
 *
 * @since 0.1.0
 * @category constructors
 */
export const cursor = (initial: Prng) => {
  let p = initial
  return {
    u32: (): number => {
      const [u, after] = advance(p)
      p = after
      return u
    },
    float: (): number => {
      const [f, after] = nextFloat(p)
      p = after
      return f
    },
    int: (min: number, max: number): number => {
      const [i, after] = nextInt(p, min, max)
      p = after
      return i
    },
    state: (): Prng => p
  }
}

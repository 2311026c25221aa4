/**
 * Measuring helpers shared by the suites: clocks, medians and percentiles, forced garbage
 * collection, and interleaved rounds (each case runs once per round, in a rotating order, so
 * the machine's noise spreads over all cases instead of landing on one).
 */
import { performance } from "node:perf_hooks"

/** A monotonic clock in milliseconds, with sub-millisecond resolution. */
export const now = (): number => performance.now()

/** The median of `samples` (the mean of the two middle values for an even count). */
export const median = (samples: ReadonlyArray<number>): number => percentile(samples, 50)

/** The `p`-th percentile (0–100) of `samples`, interpolating between neighbours. */
export const percentile = (samples: ReadonlyArray<number>, p: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p / 100) * (sorted.length - 1)
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low)
}

const gc = (globalThis as { gc?: () => void }).gc

/** Whether the process runs with `--expose-gc` (needed for heap measurements). */
export const canCollect = (): boolean => typeof gc === "function"

/** Runs a full collection, several times so that weak and finalised objects go too; a no-op without `--expose-gc`. */
export const collectGarbage = (): void => {
  if (gc === undefined) return
  for (let i = 0; i < 3; i++) gc()
}

/** Heap in use after a full collection, in bytes. */
export const settledHeap = (): number => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

/** Waits for one turn of the event loop (lets timers and immediates queued so far run). */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Runs every case `warmup` times, then `rounds` times, interleaved and in a rotating order,
 * collecting garbage before each run. Returns every sample per case, in the order measured.
 */
export const interleaved = async <K extends string, T = number>(
  cases: Readonly<Record<K, () => Promise<T>>>,
  options: { readonly rounds: number; readonly warmup: number }
): Promise<Record<K, Array<T>>> => {
  const names = Object.keys(cases) as Array<K>
  const samples = Object.fromEntries(names.map((name) => [name, [] as Array<T>])) as Record<K, Array<T>>
  for (let round = 0; round < options.warmup + options.rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!
      collectGarbage()
      await turn()
      const sample = await cases[name]()
      if (round >= options.warmup) samples[name].push(sample)
    }
  }
  return samples
}

/** The median of each case's samples. */
export const medians = <K extends string>(samples: Readonly<Record<K, ReadonlyArray<number>>>): Record<K, number> =>
  Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v as ReadonlyArray<number>)])) as Record<K, number>

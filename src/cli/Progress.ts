/**
 * Progress of a transfer as `macula get` shows it: a bar redrawn in place on a terminal, plain
 * lines otherwise (API.md "CLI"). The formatting is pure; `reporter` only decides when to write,
 * and takes the clock as an argument so tests need no timers.
 *
 * Plain line: `progress 1.50 MiB / 3.00 MiB (50%) 12.3 MiB/s providers 1`.
 * Bar: `[##########··········]  50% 1.50 MiB / 3.00 MiB 12.3 MiB/s providers 1`.
 *
 * @since 0.1.0
 */

/**
 * What the display needs of one progress report (a subset of the node's `ContentProgress`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly storedBytes: number
  /** Unknown until the manifest is in. */
  readonly totalBytes: number | undefined
  readonly bytesPerSecond: number
  readonly providers: number
}

const units = ["B", "KiB", "MiB", "GiB", "TiB"] as const

/**
 * Bytes in binary units: `512 B`, `1.50 MiB`. Pure.
 *
 * @since 0.1.0
 * @category formatting
 */
export const bytes = (n: number): string => {
  let value = Math.max(0, n)
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(2)} ${units[unit]}`
}

/**
 * A rate in binary units per second: `12.3 MiB/s`. Pure.
 *
 * @since 0.1.0
 * @category formatting
 */
export const rate = (bytesPerSecond: number): string => {
  const text = bytes(bytesPerSecond)
  return `${text.replace(/\.(\d)\d /, ".$1 ")}/s`
}

/** Whole percent, or `undefined` while the size is unknown. */
const percent = (s: Snapshot): number | undefined =>
  s.totalBytes === undefined ? undefined : s.totalBytes === 0 ? 100 : Math.min(100, Math.floor((s.storedBytes / s.totalBytes) * 100))

const amounts = (s: Snapshot): string =>
  `${bytes(s.storedBytes)} / ${s.totalBytes === undefined ? "?" : bytes(s.totalBytes)}`

/**
 * One plain progress line (no terminal control). Pure.
 *
 * @since 0.1.0
 * @category formatting
 */
export const line = (s: Snapshot): string => {
  const p = percent(s)
  return `progress ${amounts(s)}${p === undefined ? "" : ` (${p}%)`} ${rate(s.bytesPerSecond)} providers ${s.providers}`
}

/**
 * A bar `width` cells wide with the same figures as `line`. Pure.
 *
 * @since 0.1.0
 * @category formatting
 */
export const bar = (s: Snapshot, width = 24): string => {
  const p = percent(s)
  const filled = p === undefined ? 0 : Math.round((p / 100) * width)
  const cells = `${"#".repeat(filled)}${"·".repeat(width - filled)}`
  return `[${cells}] ${p === undefined ? "  ?" : String(p).padStart(3)}% ${amounts(s)} ${rate(s.bytesPerSecond)} providers ${s.providers}`
}

/**
 * Options of `reporter`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReporterOptions {
  /** Redraw a bar in place (a terminal) or print plain lines. */
  readonly tty: boolean
  /** Writes raw text (no newline added), e.g. to stderr. */
  readonly write: (text: string) => void
  /** The clock, in ms. */
  readonly now: () => number
  /** Least time between two plain lines. Unit: ms. @default 1_000 */
  readonly lineIntervalMs?: number
  /** Least time between two redraws of the bar. Unit: ms. @default 100 */
  readonly barIntervalMs?: number
}

/**
 * The progress display of one transfer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reporter {
  /** Takes a report; writes when the last write is old enough (always for the first). */
  readonly update: (s: Snapshot) => void
  /** Writes the final state (when it was not written yet) and ends the bar's line. */
  readonly done: () => void
}

/**
 * A progress display: throttled plain lines, or a bar redrawn with a carriage return.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reporter = (options: ReporterOptions): Reporter => {
  const interval = options.tty ? options.barIntervalMs ?? 100 : options.lineIntervalMs ?? 1_000
  let lastAt: number | undefined
  let last: Snapshot | undefined
  let shown: Snapshot | undefined
  let drawn = false
  const show = (s: Snapshot) => {
    shown = s
    if (options.tty) {
      options.write(`\r${bar(s)}\x1b[K`)
      drawn = true
    } else options.write(`${line(s)}\n`)
  }
  return {
    update: (s) => {
      last = s
      const now = options.now()
      if (lastAt !== undefined && now - lastAt < interval) return
      lastAt = now
      show(s)
    },
    done: () => {
      if (last !== undefined && last !== shown) show(last)
      if (drawn) options.write("\n")
    }
  }
}

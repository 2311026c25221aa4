/**
 * What every benchmark suite returns, and how the runner prints and saves it.
 *
 * A suite is a module under `test/bench/` that exports `run(options): Promise<SuiteResult>`.
 * Each result carries the baselines measured in the same run, so a reader compares ratios
 * (result / baseline) rather than absolute numbers from a noisy machine.
 *
 * The JSON file holds exactly `{ suite, results: [{ name, unit, value, baselines }] }` per
 * suite; the optional fields below (`better`, `note`, `targets`) only shape the printed table.
 */

/** One measured number and its baselines, all in the same unit. */
export interface Result {
  readonly name: string
  /** `…/s` units are rates (higher is better); everything else is a cost (lower is better). */
  readonly unit: string
  readonly value: number
  /** Baseline name → value in `unit`, measured in the same run. */
  readonly baselines: Readonly<Record<string, number>>
  /** Overrides the direction read from the unit. Not written to JSON. */
  readonly better?: Better
  /** One line shown under the table (what exactly was measured). Not written to JSON. */
  readonly note?: string
}

/** A goal checked after the table: `value / baseline` (or `value` itself) against a bound. */
export interface Target {
  readonly result: string
  /** Compare `value / baselines[baseline]`; without it, compare `value`. */
  readonly baseline?: string
  readonly atLeast?: number
  readonly atMost?: number
}

/** What `run` returns. */
export interface SuiteResult {
  readonly suite: string
  readonly results: ReadonlyArray<Result>
  /** Checked and printed after the table; never fails the run. Not written to JSON. */
  readonly targets?: ReadonlyArray<Target>
}

/** What the runner passes to `run`. */
export interface SuiteOptions {
  /** Small sizes and few rounds: a smoke run, not a measurement. */
  readonly quick: boolean
  /** Progress lines go here (stderr), so stdout stays the table. */
  readonly log: (line: string) => void
}

/** The shape of a suite module. */
export interface SuiteModule {
  readonly run: (options: SuiteOptions) => Promise<SuiteResult>
}

/** Which way is better for a result. */
export type Better = "higher" | "lower"

/** The direction of a result: explicit, else rates (`…/s`) are higher-is-better and costs lower-is-better. */
export const betterOf = (result: Pick<Result, "unit" | "better">): Better =>
  result.better ?? (result.unit.endsWith("/s") ? "higher" : "lower")

/** Whether an unknown value (a suite's answer) has the shape of a `SuiteResult`. */
export const isSuiteResult = (value: unknown): value is SuiteResult => {
  if (typeof value !== "object" || value === null) return false
  const suite = value as { suite?: unknown; results?: unknown }
  if (typeof suite.suite !== "string" || !Array.isArray(suite.results)) return false
  return suite.results.every((r: unknown) => {
    if (typeof r !== "object" || r === null) return false
    const result = r as { name?: unknown; unit?: unknown; value?: unknown; baselines?: unknown }
    return typeof result.name === "string" && typeof result.unit === "string" &&
      typeof result.value === "number" && typeof result.baselines === "object" && result.baselines !== null
  })
}

/** The JSON form of one suite: only `suite` and `results[].{name, unit, value, baselines}`. */
export const toJson = (suite: SuiteResult) => ({
  suite: suite.suite,
  results: suite.results.map((r) => ({
    name: r.name,
    unit: r.unit,
    value: r.value,
    baselines: { ...r.baselines }
  }))
})

/** A number for humans: integers with thousands separators, small values with 3 significant digits. */
export const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 1_000) return Math.round(value).toLocaleString("en-US")
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  return value.toPrecision(3)
}

/** `value / baseline` as `0.62×`. */
export const formatRatio = (value: number, baseline: number): string =>
  baseline === 0 || !Number.isFinite(baseline) ? "n/a" : `${(value / baseline).toFixed(2)}×`

const pad = (text: string, width: number, right: boolean): string =>
  right ? text.padStart(width) : text.padEnd(width)

/** The printed table: one row per baseline, then notes and targets. */
export const formatTable = (suite: SuiteResult): string => {
  const header = ["result", "value", "unit", "better", "baseline", "baseline value", "ratio"]
  const numeric = [false, true, false, false, false, true, true]
  const rows: Array<Array<string>> = []
  for (const result of suite.results) {
    const first = [result.name, formatNumber(result.value), result.unit, `${betterOf(result)} is better`]
    const baselines = Object.entries(result.baselines)
    if (baselines.length === 0) rows.push([...first, "—", "", ""])
    baselines.forEach(([name, value], i) => {
      const lead = i === 0 ? first : ["", "", "", ""]
      rows.push([...lead, name, formatNumber(value), formatRatio(result.value, value)])
    })
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => pad(c, widths[i]!, numeric[i]!)).join("  ").trimEnd()
  const out = [
    `suite: ${suite.suite}`,
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line)
  ]
  const notes = suite.results.filter((r) => r.note !== undefined)
  if (notes.length > 0) {
    out.push("", "notes:")
    for (const r of notes) out.push(`  ${r.name}: ${r.note}`)
  }
  if (suite.targets !== undefined && suite.targets.length > 0) {
    out.push("", "targets (ratio = value / baseline):")
    for (const target of suite.targets) out.push(`  ${formatTarget(suite, target)}`)
  }
  return out.join("\n")
}

/** One target as `met`/`MISSED`/`n/a` with the measured figure. */
export const formatTarget = (suite: SuiteResult, target: Target): string => {
  const show = (x: number) => (target.baseline === undefined ? formatNumber(x) : `${x.toFixed(2)}×`)
  const bound = [
    target.atLeast === undefined ? undefined : `≥ ${show(target.atLeast)}`,
    target.atMost === undefined ? undefined : `≤ ${show(target.atMost)}`
  ].filter((b) => b !== undefined).join(" and ")
  const what = target.baseline === undefined ? target.result : `${target.result} / ${target.baseline}`
  const result = suite.results.find((r) => r.name === target.result)
  const base = target.baseline === undefined ? 1 : result?.baselines[target.baseline]
  if (result === undefined || base === undefined || base === 0) return `n/a     ${what} ${bound} (not measured)`
  const measured = result.value / base
  const met = (target.atLeast === undefined || measured >= target.atLeast) &&
    (target.atMost === undefined || measured <= target.atMost)
  const shown = target.baseline === undefined ? `${formatNumber(measured)} ${result.unit}` : `${measured.toFixed(2)}×`
  return `${met ? "met   " : "MISSED"}  ${what} ${bound}: ${shown}`
}

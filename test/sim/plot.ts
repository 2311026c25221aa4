/**
 * The SWIM detection plot as SVG text, from the JSON results of `npm run sim -- swim`, with no
 * plotting dependency: two panels against packet loss, first detection (median) and full
 * dissemination (median), in probe periods; one series per cluster size, stall fraction and
 * Lifeguard on or off. Several runs of the same parameters (seeds) are averaged.
 *
 *   node dist/test/sim/plot.js [--out FILE] RESULT.json...
 *
 * Writes to FILE, or to stdout. Deterministic: the same files give the same bytes.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { pathToFileURL } from "node:url"

/** What the plot reads from one result file. */
export interface Point {
  readonly nodes: number
  readonly loss: number
  readonly stalled: number
  readonly lifeguard: boolean
  readonly firstDetection: number
  readonly fullDissemination: number | null
}

/** Reads a result object of the swim kind; undefined when it is not one. */
export const pointOf = (json: unknown): Point | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  const r = json as {
    readonly firstDetectionPeriodsMedian?: unknown
    readonly fullDisseminationPeriods?: unknown
    readonly params?: { readonly nodes?: unknown; readonly loss?: unknown; readonly stalled?: unknown; readonly lifeguard?: unknown }
  }
  const p = r.params
  if (
    p === undefined || typeof p.nodes !== "number" || typeof p.loss !== "number" || typeof p.stalled !== "number" ||
    typeof p.lifeguard !== "boolean" || typeof r.firstDetectionPeriodsMedian !== "number"
  ) return undefined
  return {
    nodes: p.nodes,
    loss: p.loss,
    stalled: p.stalled,
    lifeguard: p.lifeguard,
    firstDetection: r.firstDetectionPeriodsMedian,
    fullDissemination: typeof r.fullDisseminationPeriods === "number" ? r.fullDisseminationPeriods : null
  }
}

const W = 960
const H = 440
const panelW = 380
const panelH = 300
const top = 50
const lefts = [70, 540] as const

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString()
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A "nice" axis maximum and tick step for values up to `max`. */
const niceAxis = (max: number): { readonly max: number; readonly step: number } => {
  const raw = max / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  return { max: Math.ceil(max / step) * step, step }
}

const palette: Readonly<Record<number, string>> = { 100: "#1f77b4", 1000: "#d62728" }
const colourOf = (nodes: number): string => palette[nodes] ?? "#555555"

/**
 * Merges runs of the same parameters (several seeds) into one point: the mean of their
 * medians (`null` if any run did not disseminate).
 */
export const aggregate = (points: ReadonlyArray<Point>): ReadonlyArray<Point> => {
  const groups = new Map<string, Array<Point>>()
  for (const p of points) {
    const key = `${p.nodes}|${p.loss}|${p.stalled}|${p.lifeguard}`
    const list = groups.get(key) ?? []
    list.push(p)
    groups.set(key, list)
  }
  return [...groups.values()].map((list) => {
    const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
    const full = list.map((p) => p.fullDissemination)
    return {
      ...list[0]!,
      firstDetection: mean(list.map((p) => p.firstDetection)),
      fullDissemination: full.some((x) => x === null) ? null : mean(full as ReadonlyArray<number>)
    }
  })
}

/** The SVG document for `points` (runs of equal parameters are merged by `aggregate`). */
export const detectionSvg = (all: ReadonlyArray<Point>): string => {
  const points = aggregate(all)
  const keyOf = (p: Point) => `${p.nodes}|${p.stalled}|${p.lifeguard}`
  const series = new Map<string, Array<Point>>()
  for (const p of [...points].sort((a, b) => a.nodes - b.nodes || a.stalled - b.stalled || Number(b.lifeguard) - Number(a.lifeguard) || a.loss - b.loss)) {
    const list = series.get(keyOf(p)) ?? []
    list.push(p)
    series.set(keyOf(p), list)
  }
  const maxLoss = Math.max(0.1, ...points.map((p) => p.loss))
  const out: Array<string> = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">SWIM + Lifeguard on the simulator: detection vs packet loss (§16 defaults, 1 s probe period)</text>`)
  const panels = [
    { title: "first detection, median (probe periods)", value: (p: Point) => p.firstDetection, refs: true },
    { title: "dissemination to all live members, median (probe periods)", value: (p: Point) => p.fullDissemination, refs: false }
  ] as const
  panels.forEach((panel, i) => {
    const x0 = lefts[i]!
    const values = points.flatMap((p) => {
      const v = panel.value(p)
      return v === null ? [] : [v]
    })
    const axis = niceAxis(Math.max(panel.refs ? 3 : 1, ...values) * 1.05)
    const sx = (loss: number) => x0 + (loss / maxLoss) * panelW
    const sy = (v: number) => top + panelH - (v / axis.max) * panelH
    out.push(`<text x="${x0 + panelW / 2}" y="${top - 10}" text-anchor="middle" font-size="13">${esc(panel.title)}</text>`)
    out.push(`<rect x="${x0}" y="${top}" width="${panelW}" height="${panelH}" fill="none" stroke="#333"/>`)
    for (let v = 0; v <= axis.max + 1e-9; v += axis.step) {
      out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${sy(v)}" y2="${sy(v)}" stroke="#e5e5e5"/>`)
      out.push(`<text x="${x0 - 6}" y="${sy(v) + 4}" text-anchor="end">${fmt(v)}</text>`)
    }
    for (let l = 0; l <= maxLoss + 1e-9; l += 0.025) {
      out.push(`<line x1="${sx(l)}" x2="${sx(l)}" y1="${top + panelH}" y2="${top + panelH + 4}" stroke="#333"/>`)
      out.push(`<text x="${sx(l)}" y="${top + panelH + 17}" text-anchor="middle">${fmt(l * 100)} %</text>`)
    }
    out.push(`<text x="${x0 + panelW / 2}" y="${top + panelH + 34}" text-anchor="middle">packet loss</text>`)
    if (panel.refs) {
      // The SWIM paper's expected first detection, e/(e−1) periods, and the target of 2.
      const swim = Math.E / (Math.E - 1)
      out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${sy(swim)}" y2="${sy(swim)}" stroke="#2ca02c" stroke-dasharray="2,3"/>`)
      out.push(`<text x="${x0 + 4}" y="${sy(swim) + 14}" fill="#2ca02c">SWIM paper: e/(e−1) ≈ 1.58</text>`)
      out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${sy(2)}" y2="${sy(2)}" stroke="#999" stroke-dasharray="8,4"/>`)
      out.push(`<text x="${x0 + panelW - 4}" y="${sy(2) - 4}" text-anchor="end" fill="#777">target ≤ 2</text>`)
    }
    for (const list of series.values()) {
      const first = list[0]!
      const colour = colourOf(first.nodes)
      const dash = first.lifeguard ? "" : ` stroke-dasharray="6,4"`
      const pts = list.flatMap((p) => {
        const v = panel.value(p)
        return v === null ? [] : [[sx(p.loss), sy(v)] as const]
      })
      if (pts.length > 1) {
        out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.8"${dash} points="${pts.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(" ")}"/>`)
      }
      for (const [x, y] of pts) {
        out.push(
          first.stalled > 0
            ? `<rect x="${fmt(x - 3.5)}" y="${fmt(y - 3.5)}" width="7" height="7" fill="${first.lifeguard ? colour : "white"}" stroke="${colour}"/>`
            : `<circle cx="${fmt(x)}" cy="${fmt(y)}" r="3.5" fill="${first.lifeguard ? colour : "white"}" stroke="${colour}"/>`
        )
      }
    }
  })
  // Legend.
  const ly = top + panelH + 52
  const entries = [...series.values()].map((list) => list[0]!)
  entries.forEach((p, i) => {
    const x = 70 + (i % 4) * 220
    const y = ly + Math.floor(i / 4) * 18
    const colour = colourOf(p.nodes)
    out.push(`<line x1="${x}" x2="${x + 26}" y1="${y}" y2="${y}" stroke="${colour}" stroke-width="1.8"${p.lifeguard ? "" : ` stroke-dasharray="6,4"`}/>`)
    out.push(
      p.stalled > 0
        ? `<rect x="${x + 9.5}" y="${y - 3.5}" width="7" height="7" fill="${p.lifeguard ? colour : "white"}" stroke="${colour}"/>`
        : `<circle cx="${x + 13}" cy="${y}" r="3.5" fill="${p.lifeguard ? colour : "white"}" stroke="${colour}"/>`
    )
    out.push(`<text x="${x + 32}" y="${y + 4}">${esc(`N = ${p.nodes.toLocaleString("en")}, ${fmt(p.stalled * 100)} % stalled, ${p.lifeguard ? "Lifeguard" : "plain SWIM"}`)}</text>`)
  })
  out.push(`</svg>`)
  return `${out.join("\n")}\n`
}

const main = (argv: ReadonlyArray<string>): number => {
  let outFile: string | undefined
  const files: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--out") outFile = argv[++i]
    else files.push(arg)
  }
  if (files.length === 0) {
    process.stderr.write("usage: node dist/test/sim/plot.js [--out FILE] RESULT.json...\n")
    return 2
  }
  const points = files.flatMap((file) => {
    const p = pointOf(JSON.parse(readFileSync(file, "utf8")))
    if (p === undefined) process.stderr.write(`plot: ${file} is not a swim result, skipped\n`)
    return p === undefined ? [] : [p]
  })
  const svg = detectionSvg(points)
  if (outFile === undefined) process.stdout.write(svg)
  else writeFileSync(outFile, svg)
  return 0
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2))
}

/**
 * The knob tables of the docs give the defaults the code uses, so the docs cannot drift: the
 * station guide lists every node knob (`Config.defaultKnobs`), and each protocol document gives
 * its core's knobs the defaults of that core's `Config`.
 */
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import * as NodeConfig from "../../../src/node/Config.ts"
import * as ConnectionConfig from "../../../src/protocols/connection/Config.ts"
import * as DhtConfig from "../../../src/protocols/dht/Config.ts"
import * as PubSubConfig from "../../../src/protocols/pubsub/Config.ts"
import * as RpcConfig from "../../../src/protocols/rpc/Config.ts"
import * as SwimConfig from "../../../src/protocols/swim/Config.ts"

const read = (path: string): string => fs.readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8")

/**
 * Rows of the markdown tables whose header starts with `knob`, as name → the text of the
 * `default` column. A row names one knob or several (`` `a` / `b` `` with `x / y`); rows whose
 * first cell is not such a list (headers, separators, notes) are skipped.
 */
const knobRows = (markdown: string): Array<{ readonly name: string; readonly value: string }> => {
  const out: Array<{ name: string; value: string }> = []
  let column = -1
  for (const line of markdown.split("\n")) {
    if (!line.startsWith("|")) {
      column = -1
      continue
    }
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim())
    if (cells[0] === "knob") {
      column = cells.findIndex((cell) => cell.startsWith("default"))
      continue
    }
    const first = cells[0] ?? ""
    if (column < 0 || !/^`\w+`( \/ `\w+`)*$/.test(first)) continue
    const names = first.split(" / ").map((name) => name.slice(1, -1))
    const values = (cells[column] ?? "").split(" / ")
    expect(values, `defaults of ${first}`).toHaveLength(names.length)
    names.forEach((name, i) => out.push({ name, value: values[i]!.trim() }))
  }
  return out
}

const units: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }

/**
 * The value a default cell means: a number written with spaces between thousands (a unit
 * `KiB`/`MiB`/`GiB` allowed, `−` as minus), `true`/`false`, or `[]`; anything after it is a note.
 * `undefined` when the cell is none of these (then the row is not checked).
 */
const parseDefault = (cell: string): unknown => {
  const text = cell.replace(/`/g, "")
  const number = /^(−|-)?(\d{1,3}(?: \d{3})*|\d+)(?:\.(\d+))?(?: (KiB|MiB|GiB))?(?:\s|$)/.exec(text)
  if (number !== null) {
    const magnitude = Number(`${number[2]!.replace(/ /g, "")}${number[3] === undefined ? "" : `.${number[3]}`}`)
    return (number[1] === undefined ? 1 : -1) * magnitude * (number[4] === undefined ? 1 : units[number[4]]!)
  }
  if (/^true\b/.test(text)) return true
  if (/^false\b/.test(text)) return false
  if (/^\[\]/.test(text)) return []
  return undefined
}

describe("the station guide's knob table", () => {
  const documented = new Map(
    knobRows(read("docs/guides/operating-a-station.md")).map(({ name, value }) => [name, parseDefault(value)])
  )

  it("lists every knob of the node, and no other", () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(NodeConfig.defaultKnobs).sort())
  })

  it("gives each knob the default the node uses", () => {
    const defaults: Record<string, unknown> = { ...NodeConfig.defaultKnobs }
    for (const [name, value] of documented) expect(value, name).toEqual(defaults[name])
  })
})

describe("the protocol documents' knob tables", () => {
  const cores: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
    ["docs/protocols/dht.md", { ...DhtConfig.defaults }],
    ["docs/protocols/pubsub.md", { ...PubSubConfig.defaults }],
    ["docs/protocols/rpc.md", { ...RpcConfig.defaults }],
    ["docs/protocols/swim.md", { ...SwimConfig.lan }],
    ["docs/protocols/wire.md", { ...ConnectionConfig.defaults }],
    ["docs/connections.md", { ...ConnectionConfig.defaults }]
  ]

  it.each(cores)("%s gives each of its core's knobs the core's default", (path, defaults) => {
    // Rows naming something other than a knob of this core (an actor's option, say) are not
    // checked here; every row that names one must agree with it.
    const checked = knobRows(read(path)).filter(({ name }) => name in defaults)
    expect(checked.length, "knob rows of this core").toBeGreaterThan(0)
    for (const { name, value } of checked) expect(parseDefault(value), `${name} (${value})`).toEqual(defaults[name])
  })
})

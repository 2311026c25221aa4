/**
 * `macula status --seed URL... [--json] [--timeout MS]`: attaches as an ephemeral client (fresh
 * key, nothing on disk) to the first seed that answers and prints what it can see.
 *
 * Protocol v1 has no status request (PROTOCOL.md §6 has no such frame), so a client cannot ask a
 * station for its peers, routing table or membership. This command therefore prints what the
 * client learns itself: the station it reached, what that station announced in its `hello`
 * (addresses, realms served, alternative stations, implementation), the measured clock skew
 * and round trip, and the client's own supervision tree, and it says in its output that the
 * station's peers, DHT and membership are not available over the wire.
 *
 * @since 0.1.0
 */
import type { HomeStation } from "../node/Mesh.ts"
import { MaculaNode } from "../node/MaculaNode.ts"
import * as Supervision from "../node/Supervision.ts"
import type { SupervisionTree } from "../node/Supervision.ts"
import * as Args from "./Args.ts"
import { UsageError } from "./Args.ts"
import type { Io } from "./Io.ts"

/**
 * The options of `macula status`.
 *
 * @since 0.1.0
 * @category constants
 */
export const spec: Args.CommandSpec = {
  command: "status",
  options: [
    { name: "seed", repeatable: true, required: true },
    { name: "json", flag: true },
    { name: "timeout" }
  ]
}

/**
 * What `status` reports (the `--json` form).
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly station: HomeStation
  /** Where the rest would come from, and why it is missing. */
  readonly unavailable: ReadonlyArray<string>
  /** The ephemeral client's own tree. */
  readonly client: { readonly did: string; readonly supervision: SupervisionTree }
}

/**
 * What a client cannot learn from a station in protocol v1.
 *
 * @since 0.1.0
 * @category constants
 */
export const unavailable: ReadonlyArray<string> = [
  "peers: protocol v1 has no status request; a client sees only its own connection",
  "dht: routing table and records are station state; no frame exposes them to clients",
  "membership: SWIM runs between stations only; no frame exposes it to clients",
  "station supervision tree: not exposed over the wire; run the station with a terminal to see its log"
]

/**
 * The report as text.
 *
 * @since 0.1.0
 * @category formatting
 */
export const render = (report: Report): string => {
  const s = report.station
  const lines = [
    `station     ${s.remoteAddress} ${s.did}`,
    `reached via ${s.seed}`,
    `software    ${s.impl ?? "not announced"}`,
    `announces   ${s.addresses.length === 0 ? "no addresses" : s.addresses.join(" ")}`,
    `serves      ${s.realms.length === 0 ? "all realms" : s.realms.join(" ")}`,
    `failover    ${s.offeredPeers} alternative station${s.offeredPeers === 1 ? "" : "s"} offered`,
    `clock skew  ${s.skewMs === undefined ? "unknown" : `${s.skewMs} ms`}`,
    `round trip  ${s.rttMs === undefined ? "not measured yet (the first ping goes out after 2 s of silence)" : `${s.rttMs} ms`}`,
    "",
    "not available from a client:",
    ...report.unavailable.map((line) => `  ${line}`),
    "",
    `this client (${report.client.did}):`,
    Supervision.render(report.client.supervision, { pids: false })
  ]
  return lines.join("\n")
}

/**
 * Runs `macula status`. Throws `UsageError` for a bad command line, `ConfigError` for a bad seed
 * and `ConnectionLost` when no seed answers within `--timeout` (default 10 000 ms).
 *
 * @since 0.1.0
 * @category commands
 */
export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const parsed = Args.parse(spec, args)
  if (parsed instanceof UsageError) throw parsed
  const timeout = Args.integer(parsed, "status", "timeout", 10_000, 1)
  if (timeout instanceof UsageError) throw timeout
  const node = await MaculaNode.start({
    role: "client",
    seeds: Args.all(parsed, "seed"),
    knobs: { connectTimeoutMs: timeout }
  })
  try {
    const station = node.home()
    if (station === undefined) throw new Error("the station link dropped before the status was read")
    const report: Report = {
      station,
      unavailable,
      client: { did: node.did, supervision: await node.supervisionNow() }
    }
    io.out(parsed.flags.has("json") ? JSON.stringify(report) : render(report))
    return 0
  } finally {
    await node.stop()
  }
}

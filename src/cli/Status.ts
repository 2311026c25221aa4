/**
 * `macula status --seed URL... [--json] [--timeout MS]`: attaches as an ephemeral client (fresh
 * key, nothing on disk) to the first seed that answers and prints peers, DHT and membership as a
 * client can learn them, and the supervision tree.
 *
 * Protocol v1 has no status request (PROTOCOL.md §6 has no such frame), and this command invents
 * none. It prints what the protocol does give a client:
 * - **the station**: what it announced in its `hello` (addresses, realms served, implementation),
 *   the clock skew measured at the handshake and the round trip of the application ping;
 * - **peers and membership**: the alternative stations the station offers in `hello.peers`
 *   (§3.4), which are alive SWIM members it chose (at most `helloPeersMax`);
 * - **DHT**: each of those stations' `station` record (§10.3), looked up with `dht.get` through the
 *   station's client proxy (§10.5): found or not, its addresses and expiry;
 * - **supervision tree**: the client's own.
 * What stays out of reach (the station's full member list with suspects and incarnations, its
 * routing table and counters, its connections, its tree) is listed in the output as unavailable.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Did from "../identity/Did.ts"
import type { HomeStation } from "../node/Mesh.ts"
import { MaculaNode } from "../node/MaculaNode.ts"
import * as Supervision from "../node/Supervision.ts"
import type { SupervisionTree } from "../node/Supervision.ts"
import * as StationRecord from "../protocols/dht/StationRecord.ts"
import type { RecordBody, StationRecordBody } from "../wire/SignedBody.ts"
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
 * One station as the DHT holds it: its latest valid `station` record, if any.
 *
 * @since 0.1.0
 * @category models
 */
export interface StationEntry {
  readonly did: string
  /** Whether a valid `station` record signed by it was found. */
  readonly found: boolean
  /** The addresses its record gives. */
  readonly addresses: ReadonlyArray<string>
  /** Unix ms when its record expires. */
  readonly expiresAt: number | undefined
}

/**
 * What `status` reports (the `--json` form).
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly station: HomeStation
  /** The station's offered alive SWIM members (`hello.peers`, at most 8). */
  readonly membership: ReadonlyArray<{ readonly did: string; readonly addresses: ReadonlyArray<string> }>
  /**
   * `station` records of the station and of each offered member, through `dht.get`; `error` if
   * the lookups failed (the station's proxy did not answer).
   */
  readonly dht: { readonly stations: ReadonlyArray<StationEntry>; readonly error?: string }
  /** What a client cannot learn, and why. */
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
  "peers: only the stations offered in hello; no frame lists a station's connections",
  "dht: records can be looked up (dht.get), the routing table and counters cannot",
  "membership: only alive members offered in hello; suspects, dead members and incarnations stay between stations",
  "station supervision tree: not exposed over the wire; run the station with a terminal to see its log"
]

/** The record lookup a client node offers (`dht.get` through its home station). */
type Find = (key: Uint8Array, ty: "station") => Effect.Effect<ReadonlyArray<{ readonly body: RecordBody }>, unknown>

const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(bytes).digest())

/**
 * Looks up the `station` record of each DID in `dids` with `find` (one `dht.get` each, in turn).
 *
 * @since 0.1.0
 * @category lookups
 */
export const stationRecords = (
  find: Find,
  dids: ReadonlyArray<string>,
  wallNow: number
): Effect.Effect<ReadonlyArray<StationEntry>, unknown> =>
  Effect.forEach(dids, (did) =>
    Effect.map(
      Effect.suspend(() => find(StationRecord.key({ sha256 }, Did.toPublicKey(did)), "station")),
      (records): StationEntry => {
        const pk = Did.toPublicKey(did)
        const own = records
          .map((r) => r.body)
          .filter((b): b is StationRecordBody => b.ty === "station" && Buffer.from(b.pk).equals(Buffer.from(pk)))
        const latest = StationRecord.latestPerSigner({ clockSkewLeewayMs: 60_000 }, own, wallNow)[0]
        return latest === undefined
          ? { did, found: false, addresses: [], expiresAt: undefined }
          : { did, found: true, addresses: latest.d.a, expiresAt: latest.exp }
      }
    ))

const minutes = (ms: number): string => (ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.max(0, Math.round(ms / 1_000))} s`)

/**
 * The report as text. `now`: unix ms, for the records' remaining lifetimes.
 *
 * @since 0.1.0
 * @category formatting
 */
export const render = (report: Report, now = Date.now()): string => {
  const s = report.station
  const members = report.membership
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
    `peers and membership: ${members.length} alive station${members.length === 1 ? "" : "s"} offered in hello (at most 8)`,
    ...members.map((m) => `  ${m.did} ${m.addresses.length === 0 ? "(no address)" : m.addresses.join(" ")}`),
    "",
    "dht: station records through the station's proxy (dht.get)",
    ...(report.dht.error !== undefined
      ? [`  lookup failed: ${report.dht.error}`]
      : report.dht.stations.map((e) => {
        const who = e.did === s.did ? `${e.did} (this station)` : e.did
        if (!e.found) return `  ${who} not found`
        const expiry = e.expiresAt === undefined ? "" : `, expires in ${minutes(e.expiresAt - now)}`
        return `  ${who} found: ${e.addresses.length === 0 ? "no address" : e.addresses.join(" ")}${expiry}`
      })),
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
 * and `ConnectionLost` when no seed answers within `--timeout` (default 10 000 ms); a DHT lookup
 * that fails is reported in the output, not thrown.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const parsed = Args.parse(spec, args)
  if (parsed instanceof UsageError) throw parsed
  const timeout = Args.integer(parsed, "status", "timeout", 10_000, 1)
  if (timeout instanceof UsageError) throw timeout
  let find: Find | undefined
  const node = await MaculaNode.start(
    { role: "client", seeds: Args.all(parsed, "seed"), knobs: { connectTimeoutMs: timeout } },
    { onRecords: (f) => void (find = f) }
  )
  try {
    const station = node.home()
    if (station === undefined) throw new Error("the station link dropped before the status was read")
    const membership = station.peers
    const dids = [station.did, ...membership.map((m) => m.did).filter((d) => d !== station.did)]
    const looked = find === undefined
      ? { error: "no record lookup on this node" }
      : await Effect.runPromise(Effect.match(Effect.timeout(stationRecords(find, dids, Date.now()), timeout), {
        onSuccess: (stations) => ({ stations }),
        onFailure: (error) => ({ error: describe(error) })
      }))
    const report: Report = {
      station,
      membership,
      dht: "error" in looked ? { stations: [], error: looked.error } : looked,
      unavailable,
      client: { did: node.did, supervision: await node.supervisionNow() }
    }
    io.out(parsed.flags.has("json") ? JSON.stringify(report) : render(report))
    return 0
  } finally {
    await node.stop()
  }
}

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message === "" ? error.name : error.message
  if (typeof error === "object" && error !== null && "_tag" in error) {
    const e = error as { readonly _tag: string; readonly reason?: unknown; readonly message?: unknown }
    const detail = typeof e.reason === "string" ? e.reason : typeof e.message === "string" ? e.message : ""
    return detail === "" ? e._tag : `${e._tag}: ${detail}`
  }
  return String(error)
}

/**
 * The cast of `macula demo`: three stations (processes) linked by SWIM, and five clients in this
 * process, each attached to one station by a single seed, so a client of a killed station can
 * only fail over to the stations its home offered in its `hello`.
 *
 * ```
 * station 1  ◄── alice (subscriber, caller, ticker)   erin (content)
 * station 2  ◄── bob (publisher, fetcher)              dave (hosts the application actor)
 * station 3  ◄── carol (publisher, RPC provider, content)
 * ```
 */
import type { LifecycleEvent } from "../../runtime/Lifecycle.ts"
import type { MaculaNode, NodeEvent } from "../../node/MaculaNode.ts"
import type { LinkEvent } from "../../node/StationLink.ts"
import { ActFailed, ms, until } from "./Act.ts"
import * as LocalMesh from "./LocalMesh.ts"
import type { StationProcess } from "./LocalMesh.ts"
import type { Output } from "./Output.ts"

/** A client of the cast. */
export interface Member {
  readonly name: string
  readonly node: MaculaNode
  /** Its link events, with the time each was seen. */
  readonly link: Array<{ readonly at: number; readonly event: LinkEvent }>
  /** Its application supervisor's lifecycle events, with the time each was seen. */
  readonly application: Array<{ readonly at: number; readonly event: LifecycleEvent; readonly line: string }>
}

/** Everything the acts run against. */
export interface Cast {
  readonly realm: string
  readonly mesh: LocalMesh.LocalMesh
  readonly stations: readonly [StationProcess, StationProcess, StationProcess]
  readonly alice: Member
  readonly bob: Member
  readonly carol: Member
  readonly dave: Member
  readonly erin: Member
  /** `station N` for a station's DID, else the DID shortened. */
  readonly stationOf: (did: string | undefined) => string
}

/** The realm every client of the demo acts in (stations run it open). */
export const realm = "io.macula.demo"

/** A DID shortened for a line: `did:key:z6Mk…last6`. */
export const short = (did: string): string => (did.length > 20 ? `${did.slice(0, 12)}…${did.slice(-6)}` : did)

/** Whether `station`'s log says it sees `peer` alive now (its latest verdict about it). */
const seesAlive = (station: StationProcess, peer: StationProcess): boolean => {
  const lines = station.lines()
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^membership: (\S+) (alive|suspect|dead|left)/.exec(lines[i]!)
    if (m !== null && m[1] === peer.did) return m[2] === "alive"
  }
  return false
}

const stationStartMs = 30_000

/**
 * Starts a station; one that printed no address in time is killed and replaced once (a station
 * is up in about a second, and on a busy machine one in many has been seen to stall at start).
 */
const startStation = async (mesh: LocalMesh.LocalMesh, seeds: ReadonlyArray<string>, out: Output): Promise<StationProcess> => {
  try {
    return await mesh.startStation(seeds, stationStartMs)
  } catch (error) {
    if (!(error instanceof ActFailed) || !error.message.includes("printed no address")) throw error
    out.live(`${error.message.split(" (its last line")[0]}; starting another`)
    return mesh.startStation(seeds, stationStartMs)
  }
}

/**
 * Starts the stations, waits until each sees the other two alive, then starts the clients. On
 * failure the caller still owns `mesh` and must close it.
 */
export const start = async (mesh: LocalMesh.LocalMesh, out: Output, signal: AbortSignal): Promise<Cast> => {
  const first = await startStation(mesh, [], out)
  const announce = (s: StationProcess) => out.live(`${s.name} up: ${s.address} ${short(s.did)} (pid ${s.pid})`)
  announce(first)
  const [second, third] = await Promise.all([startStation(mesh, [first.seed], out), startStation(mesh, [first.seed], out)])
  announce(second)
  announce(third)
  const stations = [first, second, third] as const
  const joined = await until(
    "the stations seeing each other alive (SWIM)",
    () => stations.every((s) => stations.every((peer) => peer === s || seesAlive(s, peer))),
    30_000,
    signal,
    50
  )
  out.live(`SWIM: each station sees the other two alive (${ms(joined)} after the last one started)`)

  const stationOf = (did: string | undefined): string =>
    stations.find((s) => s.did === did)?.name ?? (did === undefined ? "no station" : short(did))
  const member = async (name: string, station: StationProcess): Promise<Member> => {
    const link: Member["link"] = []
    const application: Member["application"] = []
    const onEvent = (event: NodeEvent) => {
      if (event._tag === "Link") link.push({ at: Date.now(), event: event.event })
      else if (event._tag === "Lifecycle" && /(^|\/)application$/.test(event.event.supervisor)) {
        application.push({ at: Date.now(), event: event.event, line: event.line })
      }
    }
    const node = await mesh.startClient({ realm, seeds: [station.seed] }, onEvent)
    if (node.home()?.did !== station.did) throw new ActFailed({ message: `${name} attached to ${stationOf(node.home()?.did)}, not ${station.name}` })
    return { name, node, link, application }
  }
  const [alice, bob, carol, dave, erin] = await Promise.all([
    member("alice", first),
    member("bob", second),
    member("carol", third),
    member("dave", second),
    member("erin", first)
  ])
  const clients = [alice, bob, carol, dave, erin]
  out.live(`clients attached: ${clients.map((c) => `${c.name} → ${stationOf(c.node.home()?.did)}`).join(", ")}`)
  return { realm, mesh, stations, alice, bob, carol, dave, erin, stationOf }
}

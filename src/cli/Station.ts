/**
 * `macula station --listen HOST:PORT [--data DIR] [--seed URL]... [--authority REALM=DID]...
 * [--realm NAME]... [--accept-push-from WHO]... [--content-policy POLICY] [--knob NAME=VALUE]...`:
 * runs a station until SIGINT or SIGTERM, then stops it gracefully. `--realm` (repeatable)
 * restricts the realms served (`servedRealms`); without it the station serves every realm.
 * `--accept-push-from` (`none`, `attached`, `any`, or DIDs, repeatable) sets `acceptPushFrom`;
 * `--content-policy` (`open` or `members:REALM`) sets `contentServePolicy`.
 *
 * Output contract (API.md "CLI"): the first stdout line is exactly `quic://HOST:PORT did:key:…`
 * with the real bound port, and nothing else goes to stdout; logs and warnings go to stderr.
 * Without `--authority` for a realm the station runs it open, and says so on stderr.
 *
 * @since 0.1.0
 */
import * as Config from "../node/Config.ts"
import type { Knobs, NodeConfig } from "../node/Config.ts"
import { MaculaNode } from "../node/MaculaNode.ts"
import type { NodeEvent } from "../node/MaculaNode.ts"
import * as Args from "./Args.ts"
import { UsageError } from "./Args.ts"
import type { Io } from "./Io.ts"

/**
 * The options of `macula station`.
 *
 * @since 0.1.0
 * @category constants
 */
export const spec: Args.CommandSpec = {
  command: "station",
  options: [
    { name: "listen", required: true },
    { name: "data" },
    { name: "seed", repeatable: true },
    { name: "authority", repeatable: true },
    { name: "realm", repeatable: true },
    { name: "accept-push-from", repeatable: true },
    { name: "content-policy" },
    { name: "knob", repeatable: true }
  ]
}

/**
 * `NAME=VALUE` pairs of `--knob` as knob overrides, or a `UsageError`. Pure.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseKnobs = (command: string, pairs: ReadonlyArray<string>): Partial<Knobs> | UsageError => {
  const knobs: Record<string, number> = {}
  for (const pair of pairs) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(pair)
    if (m === null) return new UsageError({ message: `${command}: --knob must be NAME=INTEGER (got "${pair}")` })
    if (!(m[1]! in Config.defaultKnobs)) return new UsageError({ message: `${command}: unknown knob ${m[1]}` })
    knobs[m[1]!] = Number(m[2])
  }
  return knobs as Partial<Knobs>
}

/** `--accept-push-from` values as `acceptPushFrom`: one keyword alone, else a list (checked at start). */
const pushSenders = (values: ReadonlyArray<string>): NodeConfig["acceptPushFrom"] => {
  if (values.length === 0) return undefined
  const only = values[0]!
  return values.length === 1 && (only === "none" || only === "attached" || only === "any") ? only : values
}

/** `--content-policy open | members:REALM` as `contentServePolicy`, or a `UsageError`. */
const parseContentPolicy = (value: string | undefined): NodeConfig["contentServePolicy"] | UsageError => {
  if (value === undefined) return undefined
  if (value === "open") return "open"
  const members = /^members:(.+)$/.exec(value)
  if (members !== null && Config.isRealmName(members[1]!)) return { members: members[1]! }
  return new UsageError({ message: `station: --content-policy must be open or members:REALM (got "${value}")` })
}

/**
 * The node config of a `macula station` command line, or a `UsageError`. Pure: the config is
 * checked again (and completely) by `MaculaNode.start`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const toConfig = (args: ReadonlyArray<string>): NodeConfig | UsageError => {
  const parsed = Args.parse(spec, args)
  if (parsed instanceof UsageError) return parsed
  const listen = Args.one(parsed, "listen")!
  if (Config.parseHostPort(listen) === undefined) {
    return new UsageError({ message: `station: --listen must be HOST:PORT (got "${listen}")` })
  }
  const realmAuthorities: Record<string, string> = {}
  for (const pair of Args.all(parsed, "authority")) {
    const eq = pair.indexOf("=")
    if (eq <= 0) return new UsageError({ message: `station: --authority must be REALM=DID (got "${pair}")` })
    const realm = pair.slice(0, eq)
    if (realm in realmAuthorities) return new UsageError({ message: `station: --authority given twice for ${realm}` })
    realmAuthorities[realm] = pair.slice(eq + 1)
  }
  const knobs = parseKnobs("station", Args.all(parsed, "knob"))
  if (knobs instanceof UsageError) return knobs
  const served = Args.all(parsed, "realm")
  const badRealm = served.find((name) => !Config.isRealmName(name))
  if (badRealm !== undefined) return new UsageError({ message: `station: --realm "${badRealm}" is not a valid realm name` })
  const data = Args.one(parsed, "data")
  const policy = parseContentPolicy(Args.one(parsed, "content-policy"))
  if (policy instanceof UsageError) return policy
  const acceptPushFrom = pushSenders(Args.all(parsed, "accept-push-from"))
  return {
    role: "station",
    listen,
    seeds: Args.all(parsed, "seed"),
    realmAuthorities,
    ...(served.length === 0 ? {} : { servedRealms: served }),
    ...(acceptPushFrom === undefined ? {} : { acceptPushFrom }),
    ...(policy === undefined ? {} : { contentServePolicy: policy }),
    ...(data === undefined ? {} : { dataDir: data }),
    ...(Object.keys(knobs).length === 0 ? {} : { knobs })
  }
}

/**
 * One stderr line for a node event, or `undefined` for events not worth a line (a connection
 * child starting or stopping is reported once, as the connection becoming ready or closing).
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeEvent = (event: NodeEvent): string | undefined => {
  switch (event._tag) {
    case "Lifecycle": {
      const e = event.event
      if (e.supervisor.endsWith("connections") && (e._tag === "Started" || e._tag === "ShutDown" || e._tag === "Exited")) {
        return undefined
      }
      return `supervision: ${event.line}`
    }
    case "Connection":
      return event.change === "ready"
        ? `connection ready: ${event.role ?? "peer"} ${event.did} (${event.direction}, ${event.remoteAddress})`
        : `connection closed: ${event.did} (${event.code ?? "closed"})`
    case "Dht":
      return `dht: ${event.change} ${event.peer}${event.reason === undefined ? "" : ` (${event.reason})`}`
    case "Membership":
      return `membership: ${event.did} ${event.change} (incarnation ${event.incarnation})`
    case "Refused":
      return `refused ${event.did} from ${event.remoteAddress}: ${event.code} (${event.reason})`
    case "Warning":
      return `warning: ${event.message}`
    case "Link": {
      const e = event.event
      switch (e._tag) {
        case "Dialing":
          return `link: dialing ${e.seed}`
        case "DialFailed":
          return `link: ${e.seed} failed: ${e.reason}`
        case "Up":
          return `link: attached to ${e.did} via ${e.seed}`
        case "Down":
          return `link: lost ${e.did} (${e.code}, by ${e.by})`
        case "FailingOver":
          return `link: failing over from ${e.from} to ${e.to}`
        case "Waiting":
          return `link: no seed answered; retrying in ${e.delayMs} ms`
        case "RealmRefused":
          return `link: ${e.did} via ${e.seed} does not serve this realm; trying the next seed`
        case "NoStationServesRealm":
          return `warning: no seed serves realm ${e.realm}; attached to ${e.did} via ${e.seed}, which answers realm_refused`
      }
    }
  }
}

/**
 * The stderr warnings of a station's config: open realms, and what the pinned ones enforce.
 *
 * @since 0.1.0
 * @category formatting
 */
export const warnings = (config: NodeConfig): ReadonlyArray<string> => {
  const pinned = Object.keys(config.realmAuthorities ?? {})
  const out: Array<string> = []
  const served = config.servedRealms ?? []
  if (served.length > 0) out.push(`note: serving only ${served.join(", ")}; clients of other realms are refused (realm_refused)`)
  if (pinned.length === 0) {
    out.push("warning: no --authority given: every realm runs open (any authenticated client is accepted)")
  } else {
    out.push(`warning: realms other than ${pinned.join(", ")} run open (any authenticated client is accepted)`)
    out.push(`note: in ${pinned.join(", ")} only UCAN chains rooted at the pinned authority may publish, subscribe, advertise or call`)
  }
  return out
}

/**
 * Waits for SIGINT or SIGTERM; a second signal exits at once.
 *
 * @since 0.1.0
 * @category io
 */
export const untilSignal = (): Promise<NodeJS.Signals> =>
  new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off("SIGINT", on)
      process.off("SIGTERM", on)
      process.once("SIGINT", () => process.exit(130))
      process.once("SIGTERM", () => process.exit(143))
      resolve(signal)
    }
    process.on("SIGINT", on)
    process.on("SIGTERM", on)
  })

/**
 * Runs `macula station`; resolves with the exit code after a signal and a graceful stop.
 * Throws `UsageError` / `ConfigError` for a bad command line or config.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = async (args: ReadonlyArray<string>, io: Io, stopWhen: () => Promise<unknown> = untilSignal): Promise<number> => {
  const config = toConfig(args)
  if (config instanceof UsageError) throw config
  const stopping = stopWhen()
  for (const line of warnings(config)) io.err(line)
  const node = await MaculaNode.start(config, {
    onEvent: (event) => {
      const line = describeEvent(event)
      if (line !== undefined) io.err(line)
    }
  })
  io.out(`${node.address} ${node.did}`)
  if (node.address?.startsWith("quic://0.0.0.0:") === true || node.address?.startsWith("quic://[::]:") === true) {
    io.err("note: listening on every interface; peers need a routable address in their --seed")
  }
  const signal = await stopping
  io.err(`${typeof signal === "string" ? signal : "stop"}: stopping`)
  await node.stop()
  io.err("stopped")
  return 0
}

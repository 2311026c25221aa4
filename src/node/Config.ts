/**
 * The node's configuration (API.md "The node"): what `MaculaNode.start` takes, the knobs it
 * adds (PROTOCOL.md §16 names and defaults), and `resolve`, which checks a configuration once
 * and turns it into the `Resolved` form the supervision tree runs on.
 *
 * `resolve` is pure and total: any input gives either a `Resolved` or a `ConfigError` listing
 * every problem found (not just the first), and it never touches the disk, the network or the
 * clock. Loading the identity from `dataDir` happens afterwards (`KeyFile`).
 *
 * @since 0.1.0
 */
import * as Did from "../identity/Did.ts"
import { Identity, maxStationPowBits } from "../identity/Identity.ts"
import * as Realm from "../identity/Realm.ts"
import * as Address from "../platform/transport/Address.ts"
import * as Push from "../protocols/content/Push.ts"
import * as Topic from "../topic/index.ts"
import * as Ucan from "../identity/ucan/index.ts"
import * as ContentAuthority from "./ContentAuthority.ts"
import { ConfigError } from "./Errors.ts"

/**
 * Knobs of the node (PROTOCOL.md §16); every one has a default. Durations in ms.
 *
 * @since 0.1.0
 * @category models
 */
export interface Knobs {
  /** Both hellos within this long of TLS completion; also the limit of one dial. @default 10_000 */
  readonly handshakeTimeoutMs: number
  /** Silence on a connection before an application `ping`. @default 2_000 */
  readonly appPingIntervalMs: number
  /** A `ping` without `pong` this long is a miss. @default 1_000 */
  readonly appPingTimeoutMs: number
  /** Misses that close a connection `liveness_lost` (a dead peer is noticed after interval + misses × timeout = 4 s). @default 2 */
  readonly appPingMaxMisses: number
  /** Proof-of-work bits a station key carries and a station demands of station peers (0 disables). @default 8 */
  readonly stationPowBits: number
  /** Client links: first redial delay after a loss. @default 250 */
  readonly reconnectMinMs: number
  /** Client links: largest redial delay. @default 30_000 */
  readonly reconnectMaxMs: number
  /** Client links: how long a lost home station is redialled before the next seed is tried. @default 1_000 */
  readonly failoverAfterMs: number
  /**
   * Clients: how long `start` waits for the first home station before failing `ConnectionLost`.
   * Not a §16 knob (the protocol has no start-up deadline). @default 15_000
   */
  readonly connectTimeoutMs: number
  /** Root restart budget: restarts allowed per `rootPeriodMs`. @default 3 */
  readonly rootIntensity: number
  /** @default 10_000 */
  readonly rootPeriodMs: number
  /** Transport subtree restart budget. @default 10 */
  readonly transportIntensity: number
  /** @default 10_000 */
  readonly transportPeriodMs: number
  /** Application supervisor restart budget (user actors). @default 3 */
  readonly appIntensity: number
  /** @default 5_000 */
  readonly appPeriodMs: number
  /** Time a worker gets to stop at shutdown. @default 5_000 */
  readonly workerShutdownMs: number
  /** Time a connection gets to say goodbye at shutdown. @default 2_000 */
  readonly connectionShutdownMs: number
  /** Stations, SWIM: one probe round per interval (§11.3). @default 1_000 */
  readonly probeIntervalMs: number
  /** Stations, SWIM: wait for a direct ack before asking helpers. @default 400 */
  readonly probeTimeoutMs: number
  /** Stations, SWIM: helpers asked for an indirect probe. @default 3 */
  readonly indirectProbes: number
  /** Stations, SWIM: suspicion window = suspicionMult × log10(max(n, 10)) × probeIntervalMs (§11.4). @default 5 */
  readonly suspicionMult: number
  /** Stations, SWIM: an unconfirmed suspicion lasts this many times the minimum window. @default 6 */
  readonly suspicionMaxTimeoutMult: number
  /** Stations, SWIM: full-state exchange with a random member this often (0 disables). @default 30_000 */
  readonly pushPullIntervalMs: number
  /** Stations, SWIM: dead members stay tombstoned this long. @default 30_000 */
  readonly deadRetentionMs: number
  /** Stations: first redial delay towards another station. @default 1_000 */
  readonly stationDialBackoffMinMs: number
  /** Stations: largest redial delay towards another station. @default 60_000 */
  readonly stationDialBackoffMaxMs: number
  /**
   * Stations: most bytes of content blocks kept (§12.5). A block that would pass it first
   * evicts unpinned blocks, least recently used first; uploads still within
   * `stationUploadPinMs` are pinned, so when they alone fill the quota further uploads are
   * refused (the client's `put` fails `UploadFailed`).
   * @default 10_737_418_240 (10 GiB)
   */
  readonly stationContentMaxBytes: number
  /**
   * Stations: how long content the station fetched (the uploads it takes) stays pinned once
   * complete (§12.5). Afterwards it stays while there is room and is evicted least recently
   * used first when `stationContentMaxBytes` needs it, and the station stops announcing it.
   * Longer guarantees uploads a longer stay; shorter frees the quota for new uploads sooner.
   * Not a §16 knob. @default 86_400_000 (24 h)
   */
  readonly stationUploadPinMs: number
  /**
   * How long `pushContent` waits for the recipient to hold the content before it fails
   * `PushFailed` (`timeout`); a refusal answered `y: false` fails at once. Not a §16 knob.
   * @default 300_000
   */
  readonly pushTimeoutMs: number
  /**
   * Stations: how long a DHT answer "no revocation" is believed per delegation (§13.6); held
   * grants have their chains asked again once it runs out (the sweep runs every quarter of it),
   * so a revocation whose fact this station missed ends what it admitted within about 1.25 ×
   * this, plus one DHT lookup. @default 60_000
   */
  readonly revocationCacheMs: number
  /**
   * Longest time a revocation is kept (by a station's authorisation port) and the longest
   * lifetime of a DHT `revocation` record accepted. @default 7_776_000_000 (90 days)
   */
  readonly maxRevocationTtlMs: number
}

/**
 * The §16 defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultKnobs: Knobs = {
  handshakeTimeoutMs: 10_000,
  appPingIntervalMs: 2_000,
  appPingTimeoutMs: 1_000,
  appPingMaxMisses: 2,
  stationPowBits: 8,
  reconnectMinMs: 250,
  reconnectMaxMs: 30_000,
  failoverAfterMs: 1_000,
  connectTimeoutMs: 15_000,
  rootIntensity: 3,
  rootPeriodMs: 10_000,
  transportIntensity: 10,
  transportPeriodMs: 10_000,
  appIntensity: 3,
  appPeriodMs: 5_000,
  workerShutdownMs: 5_000,
  connectionShutdownMs: 2_000,
  probeIntervalMs: 1_000,
  probeTimeoutMs: 400,
  indirectProbes: 3,
  suspicionMult: 5,
  suspicionMaxTimeoutMult: 6,
  pushPullIntervalMs: 30_000,
  deadRetentionMs: 30_000,
  stationDialBackoffMinMs: 1_000,
  stationDialBackoffMaxMs: 60_000,
  stationContentMaxBytes: 10 * 1024 ** 3,
  stationUploadPinMs: 86_400_000,
  pushTimeoutMs: 300_000,
  revocationCacheMs: 60_000,
  maxRevocationTtlMs: 7_776_000_000
}

/**
 * What `MaculaNode.start` takes (API.md).
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeConfig {
  /** `station` (listens, serves realms) or `client` (outbound only). */
  readonly role: "station" | "client"
  /** Clients: the realm they act in (a valid topic segment, e.g. `io.example`). */
  readonly realm?: string
  /** The node's key. @default loaded from / created in `dataDir`; with neither, a fresh in-memory identity */
  readonly identity?: Identity
  /** Stations: `host:port` to listen on (`0` picks a free port). @default "0.0.0.0:4433" */
  readonly listen?: string
  /** `quic://host:port`, optionally `#did:key:…` to pin the peer. Clients: required, tried in order. */
  readonly seeds?: ReadonlyArray<string>
  /** Keys and persisted state. @default none: in memory, gone at stop */
  readonly dataDir?: string
  /** UCAN delegations proving membership (each must decode). @default [] */
  readonly capabilities?: ReadonlyArray<Uint8Array>
  /**
   * Stations: realm name → authority DID (`realmAuthorities` of §13.5). A realm without one runs
   * open. @default {}
   */
  readonly realmAuthorities?: Readonly<Record<string, string>>
  /**
   * Stations: the realms served (`servedRealms` of §1, §16), by name. Clients acting in any other
   * realm are refused `realm_refused` (subscribe, publish, advertise, call); the station's `hello`
   * and `station` record list them. @default [] (every realm)
   */
  readonly servedRealms?: ReadonlyArray<string>
  /**
   * Whom this node takes pushed content from (`acceptPushFrom` of §12.6, §16): `"none"`,
   * `"attached"` (a station's attached clients), `"any"`, or a list of DIDs (which may also hold
   * `"attached"`). @default a station `"attached"`, a client `"none"`
   */
  readonly acceptPushFrom?: Push.AcceptPushFromInput
  /**
   * Who may fetch the content this node holds (§13.3 `/content/get`): `"open"`, or members of one
   * realm, `{ members: REALM, authority?: DID }` (the authority given or pinned in
   * `realmAuthorities`). Members present a `/content/get` invocation on each content session.
   * @default "open"
   */
  readonly contentServePolicy?: ContentAuthority.ServePolicyInput
  /** Overrides of the §16 knobs. */
  readonly knobs?: Partial<Knobs>
}

/**
 * A seed after parsing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Seed {
  /** As given, e.g. `quic://127.0.0.1:4433#did:key:z6Mk…`. */
  readonly url: string
  readonly address: Address.Address
  /** The pinned DID, when the URL carries one. */
  readonly did?: string
}

/**
 * A checked configuration.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly role: "station" | "client"
  readonly realm: string | undefined
  readonly identity: Identity | undefined
  /** Stations: where to bind. */
  readonly listen: { readonly host: string; readonly port: number } | undefined
  readonly seeds: ReadonlyArray<Seed>
  readonly dataDir: string | undefined
  readonly capabilities: ReadonlyArray<Uint8Array>
  readonly realmAuthorities: Readonly<Record<string, string>>
  /** Whom pushed content is taken from (the role's default filled in). */
  readonly acceptPushFrom: Push.Policy
  /** Who may fetch what this node holds (`open` when not given). */
  readonly contentServePolicy: ContentAuthority.ServePolicy
  /** Stations: ids (64 lower-case hex digits) of the realms served, in the order given; empty = all. */
  readonly servedRealms: ReadonlyArray<string>
  readonly knobs: Knobs
}

/**
 * The default listen address of a station: every interface, the default station port.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultListen = `0.0.0.0:${Address.defaultPort}`

/**
 * Whether `name` is a valid realm name (the topic segment rule of PROTOCOL.md §7.1).
 *
 * @since 0.1.0
 * @category validation
 */
export const isRealmName = (name: string): boolean => {
  try {
    Topic.realmFact(name, "node", "check", 1)
    return true
  } catch {
    return false
  }
}

/**
 * Whether `host` is a loopback, private or link-local address (or `localhost`): the test behind
 * `acceptPrivateAddrs: auto` (PROTOCOL.md §3.2), which admits private addresses learned from
 * peers only when our own address is one too. The unspecified addresses (`0.0.0.0`, `::`) are
 * not private.
 *
 * @since 0.1.0
 * @category validation
 */
export const isPrivateHost = (host: string): boolean => {
  const h = host.toLowerCase()
  if (h === "localhost" || h === "::1") return true
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(h)
  if (v4 !== null) {
    const a = Number(v4[1])
    const b = Number(v4[2])
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254)
  }
  return /^f[cd][0-9a-f]{2}:/.test(h) || /^fe[89ab][0-9a-f]:/.test(h)
}

/**
 * Parses `host:port` (IPv6 in brackets). `undefined` if malformed; port 0 is allowed (any free
 * port).
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseHostPort = (text: string): { readonly host: string; readonly port: number } | undefined => {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s/:#[\]]+):(\d{1,5})$/.exec(text)
  if (m === null) return undefined
  const port = Number(m[2])
  if (!Number.isInteger(port) || port > 65_535) return undefined
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!
  return { host, port }
}

/**
 * Parses a seed URL (`quic://host:port` with an optional `#did:key:…` pin), or says what is
 * wrong with it.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseSeed = (url: string): Seed | string => {
  if (typeof url !== "string") return `seed ${JSON.stringify(url)} is not a string`
  const address = Address.parse(url)
  if (address === undefined) return `seed "${url}" is not quic://host:port (optionally #did:key:…)`
  if (address.scheme !== "quic") return `seed "${url}": only quic:// seeds are supported`
  if (address.did !== undefined && !Did.isValid(address.did)) return `seed "${url}" pins an invalid DID`
  return address.did === undefined ? { url, address } : { url, address, did: address.did }
}

const knobProblems = (knobs: Knobs): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const [name, value] of Object.entries(knobs)) {
    if (!(name in defaultKnobs)) {
      out.push(`unknown knob ${name}`)
      continue
    }
    const min = name === "stationPowBits" || name === "indirectProbes" || name === "pushPullIntervalMs" ? 0 : 1
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
      out.push(`knob ${name} must be an integer ≥ ${min} (got ${JSON.stringify(value)})`)
    }
  }
  if (knobs.stationPowBits > maxStationPowBits) {
    out.push(`knob stationPowBits must be at most ${maxStationPowBits}`)
  }
  if (knobs.reconnectMinMs > knobs.reconnectMaxMs) out.push("knob reconnectMinMs must not exceed reconnectMaxMs")
  if (knobs.stationDialBackoffMinMs > knobs.stationDialBackoffMaxMs) {
    out.push("knob stationDialBackoffMinMs must not exceed stationDialBackoffMaxMs")
  }
  if (knobs.probeTimeoutMs >= knobs.probeIntervalMs) out.push("knob probeTimeoutMs must be below probeIntervalMs")
  return out
}

/**
 * Checks a configuration and fills in the defaults: a `Resolved`, or a `ConfigError` listing
 * every problem. Pure.
 *
 * Rules: `role` is `station` or `client`; a client needs at least one seed and never listens; a
 * `realm` is a valid segment; `listen` is `host:port`; seeds are `quic://` URLs whose pins are
 * valid DIDs; capabilities are UCAN envelopes that decode; authorities map valid realm names to
 * valid DIDs; served realms are valid realm names, on stations only; `acceptPushFrom` is
 * `none` / `attached` / `any` or a list of valid DIDs (and `attached`); `contentServePolicy` is
 * `open` or `{ members }` of a valid realm whose authority is given or pinned; knobs are
 * integers in range.
 *
 * @since 0.1.0
 * @category validation
 */
export const resolve = (config: NodeConfig): Resolved | ConfigError => {
  const problems: Array<string> = []
  if (config === null || typeof config !== "object") return new ConfigError({ problems: ["config must be an object"] })
  const role = config.role
  if (role !== "station" && role !== "client") problems.push(`role must be "station" or "client" (got ${JSON.stringify(role)})`)

  if (config.realm !== undefined && (typeof config.realm !== "string" || !isRealmName(config.realm))) {
    problems.push(`realm ${JSON.stringify(config.realm)} is not a valid realm name`)
  }
  if (config.identity !== undefined && !(config.identity instanceof Identity)) problems.push("identity must be an Identity")
  if (config.dataDir !== undefined && (typeof config.dataDir !== "string" || config.dataDir === "")) {
    problems.push("dataDir must be a non-empty path")
  }

  let listen: Resolved["listen"] = undefined
  if (role === "client" && config.listen !== undefined) problems.push("a client never listens: remove listen")
  if (role === "station") {
    const text = config.listen ?? defaultListen
    listen = typeof text === "string" ? parseHostPort(text) : undefined
    if (listen === undefined) problems.push(`listen ${JSON.stringify(text)} is not host:port`)
  }

  const seeds: Array<Seed> = []
  if (config.seeds !== undefined && !Array.isArray(config.seeds)) problems.push("seeds must be an array of URLs")
  else {
    for (const url of config.seeds ?? []) {
      const seed = parseSeed(url)
      if (typeof seed === "string") problems.push(seed)
      else seeds.push(seed)
    }
  }
  if (role === "client" && (config.seeds === undefined || config.seeds.length === 0)) {
    problems.push("a client needs at least one seed")
  }

  const capabilities: Array<Uint8Array> = []
  if (config.capabilities !== undefined && !Array.isArray(config.capabilities)) problems.push("capabilities must be an array")
  else {
    ;(config.capabilities ?? []).forEach((cap, i) => {
      if (!(cap instanceof Uint8Array)) return void problems.push(`capability ${i} is not bytes`)
      try {
        Ucan.decode(cap)
        capabilities.push(cap)
      } catch (error) {
        problems.push(`capability ${i} is not a UCAN: ${error instanceof Error ? error.message : String(error)}`)
      }
    })
  }

  const realmAuthorities: Record<string, string> = {}
  for (const [realm, did] of Object.entries(config.realmAuthorities ?? {})) {
    if (!isRealmName(realm)) problems.push(`authority for ${JSON.stringify(realm)}: not a valid realm name`)
    else if (typeof did !== "string" || !Did.isValid(did)) problems.push(`authority for ${realm}: ${JSON.stringify(did)} is not a valid did:key`)
    else realmAuthorities[realm] = did
  }

  const servedRealms = servedRealmIds(role, config.servedRealms, problems)

  const acceptPushFrom = Push.parsePolicy(config.acceptPushFrom, role === "station" ? "station" : "client", Did.isValid)
  if ("problems" in acceptPushFrom) problems.push(...acceptPushFrom.problems)

  const contentServePolicy = ContentAuthority.parseServePolicy(config.contentServePolicy, realmAuthorities, isRealmName)
  if ("problems" in contentServePolicy) problems.push(...contentServePolicy.problems)

  const knobs: Knobs = { ...defaultKnobs, ...config.knobs }
  problems.push(...knobProblems(knobs))

  if (problems.length > 0) return new ConfigError({ problems })
  return {
    role: role as "station" | "client",
    realm: config.realm,
    identity: config.identity,
    listen,
    seeds,
    dataDir: config.dataDir,
    capabilities,
    realmAuthorities,
    acceptPushFrom: "problems" in acceptPushFrom ? Push.nobody : acceptPushFrom,
    contentServePolicy: "problems" in contentServePolicy ? ContentAuthority.openPolicy : contentServePolicy,
    servedRealms,
    knobs
  }
}

/** The ids of the served realm names (duplicates once), adding a problem for each bad entry. */
const servedRealmIds = (role: unknown, names: unknown, problems: Array<string>): ReadonlyArray<string> => {
  if (names === undefined) return []
  if (!Array.isArray(names)) {
    problems.push("servedRealms must be an array of realm names")
    return []
  }
  if (role === "client" && names.length > 0) problems.push("servedRealms is a station setting: a client acts in its realm")
  const ids: Array<string> = []
  for (const name of names as ReadonlyArray<unknown>) {
    if (typeof name !== "string" || !isRealmName(name)) {
      problems.push(`servedRealms entry ${JSON.stringify(name)} is not a valid realm name`)
      continue
    }
    const id = Realm.idHex(name)
    if (!ids.includes(id)) ids.push(id)
  }
  return ids
}

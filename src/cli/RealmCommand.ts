/**
 * `macula realm keygen | issue | revoke`: the realm authority's tools (PROTOCOL.md §1, §13.3,
 * §13.6), built on `Ucan` and `Ucan.RealmCapabilities`.
 *
 * - `keygen -o FILE`: a new authority key in a key file (mode 0600, never overwritten); prints
 *   its DID.
 * - `issue --authority-key FILE --to DID [--realm R] [--commands C,...] [--topics PATTERN]...
 *   [--ttl S] -o FILE`: member delegations, one per command, written as a capability file (a
 *   CBOR sequence; one delegation = exactly that envelope); prints each delegation's CID.
 * - `revoke --authority-key FILE --cid CID [--cap FILE]... [--realm R] [-o FILE] [--seed URL]...`:
 *   the `/ucan/revoke` invocation of §13.6 for a delegation on a path the authority issued; its
 *   proofs are the path from the root delegation to the revoked one, found in the `--cap` files.
 *   Prints its CID and writes it to `-o`. With `--seed` it is distributed, as the realm service
 *   does: the command attaches to a station as a client under the authority key, stores the
 *   `revocation` DHT record (signed by the authority; it lives until the revoked delegation
 *   expires, plus leeway, at most `maxRevocationTtlMs`) and publishes the realm's
 *   `{realm}/_realm/_realm/membership/revoked_v1` fact `{cid}`, presenting a short self-issued
 *   publish delegation. Stations verify the record before acting on it.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { dirname, join } from "node:path"
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Did from "../identity/Did.ts"
import { Identity } from "../identity/Identity.ts"
import * as Ucan from "../identity/ucan/index.ts"
import { commands as meshCommands, memberPolicy } from "../identity/ucan/RealmCapabilities.ts"
import * as Config from "../node/Config.ts"
import * as KeyFile from "../node/KeyFile.ts"
import { MaculaNode } from "../node/MaculaNode.ts"
import * as SignedRecord from "../node/SignedRecord.ts"
import * as Topic from "../topic/index.ts"
import type { RevocationRecordBody } from "../wire/SignedBody.ts"
import * as Args from "./Args.ts"
import { UsageError } from "./Args.ts"
import * as Capabilities from "./Capabilities.ts"
import type { Io } from "./Io.ts"

/**
 * A realm command could not do its work (after a valid command line); one line.
 *
 * @since 0.1.0
 * @category errors
 */
export class RealmCommandError extends Error {
  readonly _tag = "RealmCommandError"
  override readonly name = "RealmCommandError"
}

/**
 * Option specs of the three subcommands.
 *
 * @since 0.1.0
 * @category constants
 */
export const specs = {
  keygen: { command: "realm keygen", options: [{ name: "out", short: "o", required: true }] },
  issue: {
    command: "realm issue",
    options: [
      { name: "authority-key", required: true },
      { name: "to", required: true },
      { name: "realm" },
      { name: "commands" },
      { name: "topics", repeatable: true },
      { name: "ttl" },
      { name: "out", short: "o", required: true }
    ]
  },
  revoke: {
    command: "realm revoke",
    options: [
      { name: "authority-key", required: true },
      { name: "cid", required: true },
      { name: "cap", repeatable: true },
      { name: "realm" },
      { name: "out", short: "o" },
      { name: "seed", repeatable: true }
    ]
  }
} satisfies Record<string, Args.CommandSpec>

/**
 * The default lifetime of an issued delegation: 30 days.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTtlSec = 30 * 86_400

/**
 * Short command names `--commands` accepts besides full commands (`/mesh/publish`).
 *
 * @since 0.1.0
 * @category constants
 */
export const shortCommands: Readonly<Record<string, string>> = {
  mesh: "/mesh",
  publish: meshCommands.publish,
  subscribe: meshCommands.subscribe,
  advertise: meshCommands.advertise,
  call: meshCommands.call,
  "content-put": meshCommands.contentPut,
  "content-get": meshCommands.contentGet,
  "realm-admin": meshCommands.realmAdmin
}

/**
 * What `issue` will sign: one `{command, policy}` per delegation.
 *
 * @since 0.1.0
 * @category models
 */
export interface IssuePlan {
  readonly realm: string | undefined
  readonly grants: ReadonlyArray<{ readonly command: string; readonly policy: Ucan.Policy }>
  readonly ttlSec: number
}

/**
 * Works out the delegations of an `issue` command line, or a `UsageError`. Pure.
 *
 * - Commands: `--commands` (comma-separated, full or short names). Without it: `/mesh` (publish,
 *   subscribe, advertise and call in one delegation) when no `--topics` is given, else publish
 *   and subscribe, restricted to the topics.
 * - Realm: `--realm`, else the realm of the `--topics` (they must agree). A delegation without a
 *   realm covers every realm rooted at this authority.
 * - `/mesh` cannot carry a topic restriction (its policy would also apply to calls, whose
 *   arguments name no topic), so `--topics` with `/mesh` is refused.
 *
 * @since 0.1.0
 * @category parsing
 */
export const planIssue = (parsed: Args.Parsed): IssuePlan | UsageError => {
  const fail = (message: string) => new UsageError({ message: `realm issue: ${message}` })
  const topics = Args.all(parsed, "topics")
  let realm = Args.one(parsed, "realm")
  if (realm !== undefined && !Config.isRealmName(realm)) return fail(`--realm "${realm}" is not a valid realm name`)
  for (const topic of topics) {
    const first = topic.split("/")[0]!
    if (realm === undefined) realm = first
    else if (first !== realm) return fail(`--topics "${topic}" is not in realm ${realm}`)
  }
  const listed = Args.one(parsed, "commands")
  const commands = listed === undefined
    ? topics.length === 0 ? ["/mesh"] : [meshCommands.publish, meshCommands.subscribe]
    : listed.split(",").map((c) => c.trim()).filter((c) => c !== "").map((c) => shortCommands[c] ?? c)
  if (commands.length === 0) return fail("--commands names no command")
  for (const command of commands) {
    if (!/^(\/[a-z0-9_.-]+)+$/.test(command) && command !== "/") return fail(`"${command}" is not a command (e.g. /mesh/publish or publish)`)
  }
  const ttlSec = Args.integer(parsed, "realm issue", "ttl", defaultTtlSec, 1)
  if (ttlSec instanceof UsageError) return ttlSec
  const grants: Array<{ command: string; policy: Ucan.Policy }> = []
  for (const command of [...new Set(commands)]) {
    if (realm === undefined) {
      grants.push({ command, policy: [] })
      continue
    }
    if (command === "/mesh" || command === "/") {
      if (topics.length > 0) return fail(`--topics cannot restrict ${command}; name /mesh/publish and /mesh/subscribe in --commands`)
      grants.push({ command, policy: command === "/" ? [] : [["==", ".realm", realm]] })
      continue
    }
    try {
      grants.push({ command, policy: memberPolicy(command, { realm, ...(topics.length > 0 ? { topics } : {}) }) })
    } catch (error) {
      return fail(error instanceof Error ? error.message : String(error))
    }
  }
  return { realm, grants, ttlSec }
}

const readKey = (path: string): Identity => {
  try {
    return KeyFile.read(path)
  } catch (error) {
    throw new RealmCommandError(error instanceof Error ? error.message : String(error))
  }
}

/** Writes `bytes` to `path` through a temporary file and a rename. */
const writeAtomic = (path: string, bytes: Uint8Array): void => {
  const temp = join(dirname(path), `.${randomBytes(6).toString("hex")}.tmp`)
  try {
    fs.writeFileSync(temp, bytes, { mode: 0o644, flag: "wx" })
    fs.renameSync(temp, path)
  } catch (error) {
    try {
      fs.unlinkSync(temp)
    } catch {
      // nothing to clean up
    }
    throw new RealmCommandError(`${path}: cannot write: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
  }
}

const parseOrThrow = (spec: Args.CommandSpec, args: ReadonlyArray<string>): Args.Parsed => {
  const parsed = Args.parse(spec, args)
  if (parsed instanceof UsageError) throw parsed
  return parsed
}

/**
 * `macula realm keygen -o FILE`.
 *
 * @since 0.1.0
 * @category commands
 */
export const keygen = (args: ReadonlyArray<string>, io: Io): number => {
  const parsed = parseOrThrow(specs.keygen, args)
  const path = Args.one(parsed, "out")!
  const identity = Identity.generate()
  try {
    KeyFile.create(path, identity)
  } catch (error) {
    throw new RealmCommandError(error instanceof Error ? error.message : String(error))
  }
  io.out(identity.did)
  io.err(`wrote the authority key to ${path} (mode 0600); keep it secret and backed up`)
  return 0
}

/**
 * `macula realm issue …`.
 *
 * @since 0.1.0
 * @category commands
 */
export const issue = (args: ReadonlyArray<string>, io: Io, nowSec: number = Math.floor(Date.now() / 1_000)): number => {
  const parsed = parseOrThrow(specs.issue, args)
  const plan = planIssue(parsed)
  if (plan instanceof UsageError) throw plan
  const member = Args.one(parsed, "to")!
  if (!Did.isValid(member)) throw new UsageError({ message: `realm issue: --to "${member}" is not a valid did:key` })
  const authority = readKey(Args.one(parsed, "authority-key")!)
  const expiration = nowSec + plan.ttlSec
  const delegations = plan.grants.map((grant) =>
    Ucan.delegate({ issuer: authority, audience: member, subject: authority.did, command: grant.command, policy: grant.policy, expiration })
  )
  const out = Args.one(parsed, "out")!
  writeAtomic(out, Capabilities.encode(delegations))
  for (const d of delegations) io.out(Ucan.cid(d))
  const scope = plan.realm === undefined ? "every realm rooted at this authority" : `realm ${plan.realm}`
  io.err(
    `issued ${plan.grants.map((g) => g.command).join(", ")} to ${member} for ${scope}, expiring ${
      new Date(expiration * 1_000).toISOString()
    }; wrote ${out}`
  )
  return 0
}

/**
 * The proof path of a delegation among `delegations`: from a root (issued by its own subject)
 * down to the one whose CID is `cid`, root first; a `UsageError` when `cid` is not there or its
 * chain does not reach a root. Pure.
 *
 * @since 0.1.0
 * @category parsing
 */
export const revocationPath = (delegations: ReadonlyArray<Uint8Array>, cid: string): ReadonlyArray<Uint8Array> | UsageError => {
  const tokens = delegations.map((bytes) => ({ bytes, token: Ucan.decode(bytes) }))
  const target = tokens.find((t) => t.token.cid === cid)
  if (target === undefined) return new UsageError({ message: `realm revoke: no --cap file holds the delegation ${cid}` })
  const path = [target]
  for (let current = target; current.token.sub === null || current.token.iss !== current.token.sub;) {
    const child = current.token
    const parent = tokens.find((t) =>
      t.token.kind === "delegation" && t.token.aud === child.iss && !path.includes(t) &&
      (child.sub === null || t.token.sub === null || t.token.sub === child.sub)
    )
    if (parent === undefined || path.length >= 8) {
      return new UsageError({ message: `realm revoke: the --cap files do not hold the path from a root delegation to ${cid}` })
    }
    path.unshift(parent)
    current = parent
  }
  return path.map((t) => t.bytes)
}

/** The realm a path is limited to: the first `["==", ".realm", R]` of its policies. */
const realmOfPath = (path: ReadonlyArray<Uint8Array>): string | undefined => {
  for (const bytes of path) {
    const token = Ucan.decode(bytes)
    if (token.kind !== "delegation") continue
    for (const statement of token.pol) {
      if (Array.isArray(statement) && statement[0] === "==" && statement[1] === ".realm" && typeof statement[2] === "string") {
        return statement[2]
      }
    }
  }
  return undefined
}

/** The topic of a realm's revocation fact (§13.6), the one stations watch. */
const revokedTopic = (realm: string): string => Topic.realmFact(realm, "membership", "revoked", 1)

/**
 * `macula realm revoke …`.
 *
 * @since 0.1.0
 * @category commands
 */
export const revoke = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const parsed = parseOrThrow(specs.revoke, args)
  const out = Args.one(parsed, "out")
  const seeds = Args.all(parsed, "seed")
  if (out === undefined && seeds.length === 0) throw new UsageError({ message: "realm revoke: give -o FILE to keep the revocation" })
  const cid = Args.one(parsed, "cid")!
  if (Ucan.Revocation.recordKey(cid) === undefined) throw new UsageError({ message: `realm revoke: --cid "${cid}" is not a CID` })
  const capFiles = Args.all(parsed, "cap")
  if (seeds.length > 0 && capFiles.length === 0) {
    throw new UsageError({ message: "realm revoke: --seed needs --cap FILE (the capability file holding the delegation): stations verify the path" })
  }
  let realm = Args.one(parsed, "realm")
  if (realm !== undefined && !Config.isRealmName(realm)) throw new UsageError({ message: `realm revoke: --realm "${realm}" is not a valid realm name` })
  const authority = readKey(Args.one(parsed, "authority-key")!)
  // Expired delegations are refused here: revoking one changes nothing.
  const path = capFiles.length === 0 ? undefined : revocationPath(Capabilities.readFiles("realm revoke", capFiles), cid)
  if (path instanceof UsageError) throw path
  const revocation = Ucan.revoke({
    issuer: authority,
    delegation: cid,
    path: path === undefined ? [cid] : path.map((p) => Ucan.cid(p)),
    subject: authority.did
  })
  if (path !== undefined) {
    const checked = Ucan.Revocation.verify(revocation, path, { now: Math.floor(Date.now() / 1_000), authority: authority.did })
    if (!checked.ok) throw new RealmCommandError(`the revocation would not verify: ${checked.error.name}: ${checked.error.message}`)
  }
  if (out !== undefined) writeAtomic(out, revocation)
  io.out(Ucan.cid(revocation))
  if (seeds.length === 0 || path === undefined) {
    io.err(`wrote the revocation of ${cid} to ${out}; distribute it with --seed URL (stations learn it from the DHT record)`)
    return 0
  }
  realm ??= realmOfPath(path)
  if (realm === undefined) throw new UsageError({ message: "realm revoke: the delegation names no realm; give --realm R for the revoked_v1 fact" })
  if (!Config.isRealmName(realm)) throw new UsageError({ message: `realm revoke: the delegation's realm "${realm}" is not a valid realm name; give --realm R` })
  await distribute({ authority, seeds, realm, cid, revocation, path })
  io.err(`stored the revocation record of ${cid} and published ${revokedTopic(realm)}`)
  return 0
}

/** Stores the `revocation` record through a station and publishes the realm's fact. */
const distribute = async (opts: {
  readonly authority: Identity
  readonly seeds: ReadonlyArray<string>
  readonly realm: string
  readonly cid: string
  readonly revocation: Uint8Array
  readonly path: ReadonlyArray<Uint8Array>
}): Promise<void> => {
  const d = Ucan.Revocation.recordData(opts.revocation, opts.path)
  if (d instanceof Error) throw new RealmCommandError(d.message)
  const now = Date.now()
  const revoked = Ucan.decode(opts.path[opts.path.length - 1]!)
  const body: RevocationRecordBody = {
    ty: "revocation",
    key: Ucan.Revocation.recordKey(d.cid)!,
    pk: opts.authority.publicKey,
    seq: now,
    iat: now,
    exp: Ucan.Revocation.keepUntil(revoked.exp, now, { leewayMs: 60_000, maxTtlMs: Config.defaultKnobs.maxRevocationTtlMs }),
    d
  }
  const record = SignedRecord.signedRecord(body, (m) => opts.authority.sign(m))
  if (record instanceof Error) throw new RealmCommandError(`the revocation record does not encode: ${record.message}`)
  const topic = revokedTopic(opts.realm)
  // The realm service publishes the fact as the authority, under a short self-issued delegation.
  const publish = Ucan.delegate({
    issuer: opts.authority,
    audience: opts.authority.did,
    subject: opts.authority.did,
    command: meshCommands.publish,
    policy: memberPolicy(meshCommands.publish, { realm: opts.realm, topics: [topic] }),
    expiration: Math.floor(now / 1_000) + 900
  })
  let put: ((r: Exclude<typeof record, Error>) => Effect.Effect<number, unknown>) | undefined
  let node: MaculaNode | undefined
  try {
    node = await MaculaNode.start(
      { role: "client", realm: opts.realm, identity: opts.authority, seeds: opts.seeds, capabilities: [publish] },
      { onRecords: (_find, p) => void (put = p) }
    )
    if (put === undefined) throw new RealmCommandError("this node cannot store DHT records")
    const store = put
    await Effect.runPromise(Effect.mapError(store(record), (e) => new RealmCommandError(`the station did not store the revocation record: ${describe(e)}`)))
    await node.publish(topic, { cid: opts.cid })
  } finally {
    await node?.stop()
  }
}

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)

/**
 * `macula realm keygen | issue | revoke`: the realm authority's tools (PROTOCOL.md §1, §13.3,
 * §13.6), built on `Ucan` and `Ucan.RealmCapabilities`.
 *
 * - `keygen -o FILE`: a new authority key in a key file (mode 0600, never overwritten); prints
 *   its DID.
 * - `issue --authority-key FILE --to DID [--realm R] [--commands C,...] [--topics PATTERN]...
 *   [--ttl S] -o FILE`: member delegations, one per command, written as a capability file (a
 *   CBOR sequence; one delegation = exactly that envelope); prints each delegation's CID.
 * - `revoke --authority-key FILE --cid CID [-o FILE] [--seed URL]...`: the `/ucan/revoke`
 *   invocation of §13.6 for a delegation the authority issued; prints its CID and writes it to
 *   `-o`. Distributing it to stations (a DHT `revocation` record plus the `revoked_v1` fact) needs
 *   the DHT client proxy and pub/sub, which this build does not carry: with `--seed` the command
 *   writes the file, then fails saying so.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { dirname, join } from "node:path"
import { randomBytes } from "node:crypto"
import * as Did from "../identity/Did.ts"
import { Identity } from "../identity/Identity.ts"
import * as Ucan from "../identity/ucan/index.ts"
import { commands as meshCommands, memberPolicy } from "../identity/ucan/RealmCapabilities.ts"
import * as Config from "../node/Config.ts"
import * as KeyFile from "../node/KeyFile.ts"
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
 * `macula realm revoke …`.
 *
 * @since 0.1.0
 * @category commands
 */
export const revoke = (args: ReadonlyArray<string>, io: Io): number => {
  const parsed = parseOrThrow(specs.revoke, args)
  const out = Args.one(parsed, "out")
  const seeds = Args.all(parsed, "seed")
  if (out === undefined && seeds.length === 0) throw new UsageError({ message: "realm revoke: give -o FILE to keep the revocation" })
  const authority = readKey(Args.one(parsed, "authority-key")!)
  const cid = Args.one(parsed, "cid")!
  let revocation: Uint8Array
  try {
    revocation = Ucan.revoke({ issuer: authority, delegation: cid, path: [cid], subject: authority.did })
  } catch (error) {
    throw new UsageError({ message: `realm revoke: --cid: ${error instanceof Error ? error.message : String(error)}` })
  }
  if (out !== undefined) writeAtomic(out, revocation)
  io.out(Ucan.cid(revocation))
  if (seeds.length > 0) {
    throw new RealmCommandError(
      `cannot distribute the revocation to ${seeds.join(", ")}: stations learn revocations from DHT revocation records and the membership revoked_v1 fact, which this build does not carry yet${
        out === undefined ? " (nothing was written; add -o FILE to keep it)" : ` (the revocation is in ${out})`
      }`
    )
  }
  io.err(`wrote the revocation of ${cid} to ${out}; stations do not receive it yet (no distribution in this build)`)
  return 0
}

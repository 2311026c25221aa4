#!/usr/bin/env node
/**
 * The `macula` command (API.md "CLI"). Each subcommand parses its own arguments; results go to
 * stdout, logs and warnings to stderr, and a failure ends with one line on stderr and a non-zero
 * exit code: 2 for a wrong command line, 1 for anything else.
 */
import { processIo } from "./Io.ts"

// Subcommands are loaded on use, so `realm` never loads the transport and `--help` loads nothing.

const usage = `usage: macula <command> [options]

commands:
  demo
      a local mesh on loopback (3 station processes, 5 clients, real QUIC): wildcard pub/sub, RPC,
      an application actor crashing and recovering, a file from two providers, a station killed
  demo supervision [--seed N] [--faults N] [--interval-ms N]
      the runtime alone: a supervision tree healing under seeded chaos, with the live tree and a summary
  station --listen HOST:PORT [--data DIR] [--seed URL]... [--authority REALM=DID]... [--realm NAME]...
          [--accept-push-from WHO]... [--content-policy open|members:REALM] [--knob NAME=VALUE]...
      runs a station until SIGINT/SIGTERM; first stdout line: quic://HOST:PORT did:key:...
      --realm (repeatable): serve only these realms (default: every realm)
      --accept-push-from (repeatable): none, attached (default), any, or DIDs
      --content-policy: serve content to anyone (open, default) or to members of REALM only
  status --seed URL... [--json] [--timeout MS]
      attaches as an ephemeral client and prints what it sees of the station
  realm keygen -o FILE
      creates a realm authority key; prints its DID
  realm issue --authority-key FILE --to DID [--realm R] [--commands C,...] [--topics PATTERN]... [--ttl S] -o FILE
      issues member delegations; prints their CIDs
  realm revoke --authority-key FILE --cid CID [--cap FILE]... [--realm R] [-o FILE] [--seed URL]...
      builds the revocation of a delegation (its path from the --cap files); prints its CID.
      --seed: stores it in the DHT through that station and publishes the realm's revoked_v1 fact
  sub --seed URL... --realm R [--cap FILE]... [--data DIR] TOPIC_OR_PATTERN
      prints each event as one line of JSON until SIGINT/SIGTERM
  pub --seed URL... --realm R [--cap FILE]... [--data DIR] TOPIC JSON
      publishes one event; exits once the station accepted it
  call --seed URL... --realm R [--cap FILE]... [--data DIR] PROCEDURE JSON [--timeout MS]
       [--direct | --direct-to quic://HOST:PORT#did:key:...]
      calls a procedure; prints the JSON result. --direct: straight to the provider's
      station, found through the DHT; --direct-to: straight to that station
  put --seed URL... --realm R [--cap FILE]... [--data DIR] [--to DID [--timeout MS]] FILE
      stores, announces and uploads a file to the station; prints its MCID.
      --to: also pushes it to that node (which must accept pushes from this one)
  get --seed URL... --realm R [--cap FILE]... [--data DIR] MCID -o FILE
      fetches content, verified, into FILE; progress on stderr
`

const realm = async (args: ReadonlyArray<string>): Promise<number> => {
  const [sub, ...rest] = args
  const RealmCommand = await import("./RealmCommand.ts")
  switch (sub) {
    case "keygen":
      return RealmCommand.keygen(rest, processIo)
    case "issue":
      return RealmCommand.issue(rest, processIo)
    case "revoke":
      return RealmCommand.revoke(rest, processIo)
    default:
      throw new (await import("./Args.ts")).UsageError({ message: `realm: unknown subcommand ${sub === undefined ? "(none)" : `"${sub}"`}; use keygen, issue or revoke` })
  }
}

/** Reads `--name value` options into a map; anything else is positional. */
const parseOptions = (args: ReadonlyArray<string>): { options: Map<string, string>; positional: Array<string> } => {
  const options = new Map<string, string>()
  const positional: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg.startsWith("--")) {
      const value = args[i + 1]
      if (value === undefined || value.startsWith("--")) throw new Error(`option ${arg} needs a value`)
      options.set(arg.slice(2), value)
      i++
    } else positional.push(arg)
  }
  return { options, positional }
}

const integer = (options: Map<string, string>, name: string, fallback: number, min = 0): number => {
  const text = options.get(name)
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min} (got "${text}")`)
  return value
}

/** `demo supervision`: the actor runtime alone, a node-shaped tree healing under seeded chaos. */
const supervisionDemo = async (args: ReadonlyArray<string>): Promise<number> => {
  const { options, positional } = parseOptions(args)
  if (positional.length > 0) throw new (await import("./Args.ts")).UsageError({ message: `demo: unexpected argument "${positional[0]}"` })
  const seed = integer(options, "seed", 7)
  const faults = integer(options, "faults", 60, 1)
  const meanIntervalMs = integer(options, "interval-ms", 60, 0)
  const [Effect, Output, { supervisionAct }] = await Promise.all([
    import("effect/Effect"),
    import("./demo/Output.ts"),
    import("./demo/SupervisionAct.ts")
  ])
  const out = Output.make()
  out.line("macula demo supervision: the runtime under chaos")
  const ok = await Effect.runPromise(Effect.scoped(supervisionAct(out, { seed, faults, meanIntervalMs })))
  out.line(ok ? "\ndemo finished: every check held" : "\ndemo finished: a check FAILED")
  return ok ? 0 : 1
}

/** `demo`: the local mesh and its acts; `demo station` is how the demo starts its station processes. */
const demo = async (args: ReadonlyArray<string>): Promise<number> => {
  const [sub, ...rest] = args
  if (sub === "supervision") return supervisionDemo(rest)
  if (sub === "station") return (await import("./demo/StationChild.ts")).run(rest, processIo)
  if (sub !== undefined) {
    throw new (await import("./Args.ts")).UsageError({ message: `demo: unexpected argument "${sub}"; use demo, or demo supervision` })
  }
  const [Output, Demo] = await Promise.all([import("./demo/Output.ts"), import("./demo/Demo.ts")])
  return Demo.run(Output.make())
}

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [command, ...rest] = argv
  switch (command) {
    case "demo":
      return demo(rest)
    case "station":
      return (await import("./Station.ts")).run(rest, processIo)
    case "status":
      return (await import("./Status.ts")).run(rest, processIo)
    case "realm":
      return realm(rest)
    case "sub":
    case "pub":
    case "call":
      return (await import("./Client.ts")).run(command, rest, processIo)
    case "put":
    case "get":
      return (await import("./Content.ts")).run(command, rest, processIo)
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage)
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`macula: unknown command "${command}"\n${usage}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // A finished command exits even if a closed socket's handle lingers for a moment.
    setTimeout(() => process.exit(code), 500).unref()
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`macula: ${message.split("\n")[0]}\n`)
    process.exitCode = (error as { _tag?: unknown } | null)?._tag === "UsageError" ? 2 : 1
    setTimeout(() => process.exit(), 500).unref()
  }
)

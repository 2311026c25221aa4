/**
 * The client commands of `macula` (API.md "CLI"):
 *
 * ```
 * macula sub  --seed URL... --realm R [--cap FILE]... [--data DIR] TOPIC_OR_PATTERN
 * macula pub  --seed URL... --realm R [--cap FILE]... [--data DIR] TOPIC JSON
 * macula call --seed URL... --realm R [--cap FILE]... [--data DIR] PROCEDURE JSON [--timeout MS]
 *             [--direct | --direct-to quic://HOST:PORT#did:key:...]
 * ```
 *
 * Each starts a client node (ephemeral unless `--data` is given), attached to the first seed
 * that answers, does its one thing and stops the node.
 *
 * Output contract: `sub` prints one `SubscriptionEvent` as JSON per line on stdout and nothing
 * else, and runs until SIGINT or SIGTERM; `pub` prints nothing and exits 0 once the station
 * accepted the event; `call` prints the JSON result. Byte strings (msgpack `bin`) have no JSON
 * form: they print as `{"$bytes": "<base64>"}`. Anything that goes wrong ends with exit code 1
 * and one line on stderr saying what, in words (an invalid topic, a timeout, a refused
 * capability, no provider, an unreachable station); a wrong command line exits 2, and so does a
 * `--cap` file that cannot be read, holds no delegation or holds an expired one.
 *
 * `call --direct` is direct mode (PROTOCOL.md §9.2, `CallOptions.direct`): the call goes to the
 * station serving the provider on a connection of its own, found through the DHT;
 * `--direct-to ADDRESS` names that station instead. (A separate option, because an option's
 * value here is never optional: `--direct` followed by the procedure must stay unambiguous.)
 *
 * The delegations of `--cap` become the node's `capabilities`: the client presents them to its
 * station with each gated frame that needs them (`ClientCapabilities`).
 *
 * @since 0.1.0
 */
import * as ClientCapabilities from "../node/ClientCapabilities.ts"
import { MaculaNode } from "../node/MaculaNode.ts"
import type { NodeConfig } from "../node/Config.ts"
import type { SubscriptionEvent } from "../node/Mesh.ts"
import * as Topic from "../topic/index.ts"
import * as Args from "./Args.ts"
import { UsageError } from "./Args.ts"
import * as Capabilities from "./Capabilities.ts"
import type { Io } from "./Io.ts"
import { describeEvent, untilSignal } from "./Station.ts"

/**
 * The client commands.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = "sub" | "pub" | "call"

const common: ReadonlyArray<Args.OptionSpec> = [
  { name: "seed", repeatable: true, required: true },
  { name: "realm", required: true },
  { name: "cap", repeatable: true },
  { name: "data" }
]

/**
 * The options and positional arguments of each client command.
 *
 * @since 0.1.0
 * @category constants
 */
export const specs: Readonly<Record<Command, Args.CommandSpec>> = {
  sub: { command: "sub", options: common, positional: ["TOPIC_OR_PATTERN"] },
  pub: { command: "pub", options: common, positional: ["TOPIC", "JSON"] },
  call: {
    command: "call",
    options: [...common, { name: "timeout" }, { name: "direct", flag: true }, { name: "direct-to" }],
    positional: ["PROCEDURE", "JSON"]
  }
}

/**
 * A parsed client command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Invocation {
  readonly command: Command
  readonly config: NodeConfig
  /** The topic, pattern or procedure. */
  readonly target: string
  /** `pub` / `call`: the parsed JSON value. */
  readonly value?: unknown
  /** `call`: the caller's budget, ms. */
  readonly timeoutMs?: number
  /** `call`: direct mode, `true` (`--direct`) or the serving station's address (`--direct-to`). */
  readonly direct?: string | true
  /** `--cap` files to read (read by `run`, so parsing stays pure). */
  readonly capFiles: ReadonlyArray<string>
}

/** A station address as `CallOptions.direct` takes it: `quic://` or `tls://`, host, port, and optionally its DID. */
const stationAddress = /^(quic|tls):\/\/(\[[0-9a-fA-F:.]+\]|[^\s#/:\[\]]+):\d{1,5}(#did:key:z[1-9A-HJ-NP-Za-km-z]+)?$/

/** `--direct` / `--direct-to` of `call`: `true`, the address, nothing, or what is wrong. */
const directOf = (parsed: Args.Parsed): string | true | undefined | UsageError => {
  const to = Args.one(parsed, "direct-to")
  if (to === undefined) return parsed.flags.has("direct") ? true : undefined
  if (parsed.flags.has("direct")) {
    return new UsageError({ message: "call: --direct (find the station) and --direct-to ADDRESS (name it) exclude each other" })
  }
  if (!stationAddress.test(to)) {
    return new UsageError({ message: `call: --direct-to "${to}" is not a station address (quic://HOST:PORT#did:key:...)` })
  }
  return to
}

/**
 * Parses a client command line, or says what is wrong with it. Pure.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (command: Command, args: ReadonlyArray<string>): Invocation | UsageError => {
  const parsed = Args.parse(specs[command], args)
  if (parsed instanceof UsageError) return parsed
  const realm = Args.one(parsed, "realm")!
  const target = parsed.positional[0]!
  // A topic names its realm in its first segment; acting in another realm is a mistake.
  const first = target.split("/")[0]
  if (!Topic.isSystem(target) && target.includes("/") && first !== realm) {
    return new UsageError({ message: `${command}: "${target}" is in realm "${first}", not --realm "${realm}"` })
  }
  let value: unknown
  if (command !== "sub") {
    const text = parsed.positional[1]!
    try {
      value = JSON.parse(text)
    } catch (error) {
      return new UsageError({
        message: `${command}: JSON argument is not valid JSON (${error instanceof Error ? error.message : String(error)})`
      })
    }
  }
  let timeoutMs: number | undefined
  if (command === "call" && Args.one(parsed, "timeout") !== undefined) {
    const t = Args.integer(parsed, "call", "timeout", 5_000, 1, 300_000)
    if (t instanceof UsageError) return t
    timeoutMs = t
  }
  const direct = command === "call" ? directOf(parsed) : undefined
  if (direct instanceof UsageError) return direct
  const data = Args.one(parsed, "data")
  return {
    command,
    target,
    capFiles: Args.all(parsed, "cap"),
    ...(command === "sub" ? {} : { value }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(direct === undefined ? {} : { direct }),
    config: {
      role: "client",
      realm,
      seeds: Args.all(parsed, "seed"),
      ...(data === undefined ? {} : { dataDir: data })
    }
  }
}

/**
 * A value as JSON text, with byte strings as `{"$bytes": base64}`. Pure.
 *
 * @since 0.1.0
 * @category formatting
 */
export const toJson = (value: unknown): string =>
  JSON.stringify(value === undefined ? null : value, (_key, v: unknown) =>
    v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString("base64") } : v) ?? "null"

/**
 * One event as the line `sub` prints.
 *
 * @since 0.1.0
 * @category formatting
 */
export const eventLine = (event: SubscriptionEvent): string =>
  toJson({ topic: event.topic, payload: event.payload, publisher: event.publisher, seq: event.seq, ts: event.ts })

/**
 * A failure as one line, in words, for stderr (without the `macula CMD:` prefix); `withCaps`
 * says whether `--cap` delegations were given (a missing proof then means none covers it). Pure.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeFailure = (target: string, error: unknown, withCaps = false): string => {
  const e = (error ?? {}) as Record<string, unknown>
  const text = (k: string) => (typeof e[k] === "string" ? (e[k] as string) : undefined)
  switch (e["_tag"]) {
    case "TopicError": {
      const what = text("reason") === "invalid_pattern" ? "pattern" : "topic"
      return `invalid ${what} "${target}": ${text("reason")}${text("detail") === undefined ? "" : ` (${text("detail")})`}`
    }
    case "Unauthorized":
      return `refused by the station: unauthorized${text("reason") === undefined ? "" : ` (${text("reason")})`}; ${
        text("reason") !== "UnavailableProof"
          ? "the capability does not allow it"
          : withCaps
          ? `no --cap delegation of this client covers ${target}`
          : "the realm needs a capability and none was presented"
      }`
    case "CallTimeout":
      return `timeout: no reply from ${target} within ${String(e["timeoutMs"])} ms`
    case "NoProvider":
      // Direct mode says which lookup found nothing (no provider record, or no station address).
      return text("detail") === undefined ? `no provider: nobody advertises ${target}` : `no provider for ${target}: ${text("detail")}`
    case "RemoteError":
      return `${text("code") === "handler_error" ? "the provider's handler failed" : `refused (${text("code")})`}: ${text("message")}`
    case "ConnectionLost":
      return `station unreachable or lost (${text("code")}): ${text("reason")}`
    case "EncodeError":
      return `the value cannot be sent: ${text("detail")}`
    case "UcanError":
      return `capability file: ${text("message") ?? String(error)}`
    default:
      return error instanceof Error ? error.message.split("\n")[0]! : String(error)
  }
}

/**
 * Runs `macula sub|pub|call`; resolves with the exit code. Throws `UsageError` for a wrong
 * command line. `stopWhen` ends `sub` (default: SIGINT or SIGTERM).
 *
 * @since 0.1.0
 * @category commands
 */
export const run = async (
  command: Command,
  args: ReadonlyArray<string>,
  io: Io,
  stopWhen: () => Promise<unknown> = untilSignal
): Promise<number> => {
  const invocation = parse(command, args)
  if (invocation instanceof UsageError) throw invocation
  // A bad capability file is a wrong command line (exit 2), found before anything starts.
  const capabilities = Capabilities.readFiles(command, invocation.capFiles)
  const fail = (error: unknown) => {
    io.err(`macula ${command}: ${describeFailure(invocation.target, error, capabilities.length > 0)}`)
    return 1
  }
  let node: MaculaNode | undefined
  try {
    const stopping = command === "sub" ? stopWhen() : undefined
    node = await MaculaNode.start(
      { ...invocation.config, ...(capabilities.length === 0 ? {} : { capabilities }) },
      command === "sub"
        ? {
          onEvent: (event) => {
            if (event._tag !== "Link" || event.event._tag === "Dialing") return
            const line = describeEvent(event)
            if (line !== undefined) io.err(line)
          }
        }
        : {}
    )
    if (capabilities.length > 0 && ClientCapabilities.chainsOf(capabilities, node.did).length === 0) {
      io.err(`note: no --cap delegation leads to this client (${node.did}); it presents none, so a pinned realm refuses it`)
    }
    switch (command) {
      case "sub": {
        const sub = await node.subscribe(invocation.target, (event) => io.out(eventLine(event)))
        io.err(`subscribed to ${invocation.target}`)
        await stopping
        await sub.unsubscribe()
        break
      }
      case "pub":
        await node.publish(invocation.target, invocation.value)
        break
      case "call": {
        const result = await node.call(invocation.target, invocation.value, {
          ...(invocation.timeoutMs === undefined ? {} : { timeoutMs: invocation.timeoutMs }),
          ...(invocation.direct === undefined ? {} : { direct: invocation.direct })
        })
        io.out(toJson(result))
        break
      }
    }
    return 0
  } catch (error) {
    return fail(error)
  } finally {
    await node?.stop()
  }
}

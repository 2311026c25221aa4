/**
 * `IdentityConfig`, the first child of a node's root (PROTOCOL.md §15): it holds the node's key
 * and its checked configuration, and is the one place the rest of the tree reads them from.
 *
 * On every (re)start it reloads the key: from the key file when the node has a data directory
 * (refusing a file whose DID changed under it, which would silently make the node someone
 * else), else the in-memory identity it was given. As the root is `rest_for_one`, a restart of
 * this child restarts everything after it, all of which then see the reloaded key.
 *
 * The other persisted state of §15.2 lives next to the subsystem that uses it, in the same data
 * directory: bans in the transport registry, saved to and reloaded from `bans.json`
 * (`./BanFile.ts`, so they survive a registry restart and a process restart); the SWIM
 * incarnation in membership (`swim-incarnation`). Peer scores are not persisted.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { Identity } from "../identity/Identity.ts"
import * as Actor from "../runtime/Actor.ts"
import type { Resolved } from "./Config.ts"
import { ConfigError } from "./Errors.ts"
import * as KeyFile from "./KeyFile.ts"

/**
 * What the child holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly identity: Identity
  readonly config: Resolved
}

/**
 * Its messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg = { readonly _tag: "Get"; readonly reply: Actor.Reply<State> }

/**
 * The behavior: `identity` is the key resolved at node start; with a `keyPath`, init re-reads
 * the file and fails (a defect for the root) if it no longer gives that DID.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (
  config: Resolved,
  identity: Identity,
  keyPath: string | undefined,
  onLoaded?: (state: State) => void
): Actor.Behavior<Msg, State> =>
  Actor.make<Msg, State>({
    label: "identity-config",
    init: () =>
      Effect.sync(() => {
        let current = identity
        if (keyPath !== undefined) {
          const loaded = KeyFile.read(keyPath)
          if (loaded.did !== identity.did) throw new Error(`${keyPath} now holds another key; refusing to change identity`)
          current = loaded
        }
        const state = { identity: current, config }
        onLoaded?.(state)
        return state
      }),
    receive: (message, state) =>
      Effect.sync(() => {
        message.reply.succeed(state)
        return state
      })
  })

/**
 * The identity a node runs with: given, loaded from / created in dataDir, or fresh (stations get
 * one with `stationPowBits` of proof of work). `keyPath` is the key file, when there is one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (config: Resolved): { readonly identity: Identity; readonly keyPath: string | undefined } | ConfigError => {
  const generate = () =>
    config.role === "station" ? Identity.generateStation(config.knobs.stationPowBits) : Identity.generate()
  if (config.identity !== undefined) return { identity: config.identity, keyPath: undefined }
  if (config.dataDir === undefined) return { identity: generate(), keyPath: undefined }
  try {
    const loaded = KeyFile.loadOrCreate(config.dataDir, generate)
    return { identity: loaded.identity, keyPath: loaded.path }
  } catch (error) {
    return new ConfigError({ problems: [`dataDir: ${error instanceof Error ? error.message : String(error)}`] })
  }
}

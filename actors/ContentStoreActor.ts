/**
 * The node's content store as an actor (PROTOCOL.md §12.2, §12.5, §15): puts of whole content
 * (bytes or a file), pins, collection and the quota go through its mailbox, one at a time, so
 * a `gc` never runs between the writes of a `put` and its pin.
 *
 * The `ContentStore` itself (`src/platform/content`) is opened by the content subtree and
 * shared: fetches write verified blocks and the serving actor reads blocks directly, since the
 * store serialises its own mutations and reads concurrently. This actor adds what needs an
 * owner: streaming a file into the store, a periodic collection that keeps the store under
 * `gcTargetBytes`, and counters.
 *
 * Restart: nothing is lost; the store and its pins live on disk (or in the subtree's memory
 * backend) and outlive the actor.
 *
 * @since 0.1.0
 */
import { open, readFile, rename, rm } from "node:fs/promises"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Content from "../src/content/Content.ts"
import * as Mcid from "../src/content/Mcid.ts"
import type { ContentStoreShape, GcReport, PinOptions, PutOptions, Usage, WriteError } from "../src/platform/content/ContentStore.ts"
import { ContentStoreError } from "../src/platform/content/Errors.ts"
import * as Actor from "../src/runtime/Actor.ts"

/**
 * What the actor is started with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly store: ContentStoreShape
  /** Collect unpinned blocks every this long (ms); 0 disables. @default 0 */
  readonly gcIntervalMs?: number
  /** What the periodic collection collects down to. @default 0 (every unpinned block) */
  readonly gcTargetBytes?: number
}

/**
 * Content to put: bytes, or the path of a file to read.
 *
 * @since 0.1.0
 * @category models
 */
export type Input = Uint8Array | string

/**
 * The actor's messages.
 *
 * @since 0.1.0
 * @category models
 */
export type Msg =
  | { readonly _tag: "Put"; readonly input: Input; readonly options: PutOptions; readonly reply: Actor.Reply<Mcid.Mcid, WriteError> }
  | { readonly _tag: "Pin"; readonly mcid: Mcid.Mcid; readonly options?: PinOptions; readonly reply: Actor.Reply<void, ContentStoreError> }
  | { readonly _tag: "Unpin"; readonly mcid: Mcid.Mcid; readonly reply: Actor.Reply<void, ContentStoreError> }
  | { readonly _tag: "Gc"; readonly targetBytes?: number; readonly reply: Actor.Reply<GcReport, ContentStoreError> }
  | { readonly _tag: "Usage"; readonly reply: Actor.Reply<Usage> }

interface State {
  readonly store: ContentStoreShape
}

/**
 * Reads a whole file; a missing or unreadable file is a `ContentStoreError` (`op: "read"`).
 * `Put` does not use it (it streams the file through `putFile`); kept for small inputs.
 *
 * @since 0.1.0
 * @category io
 */
export const readInput = (input: Input): Effect.Effect<Uint8Array, ContentStoreError> =>
  typeof input === "string"
    ? Effect.tryPromise({
      try: () => readFile(input).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
      catch: (cause) => new ContentStoreError({ op: "read", target: input, cause })
    })
    : Effect.succeed(input)

/**
 * Writes complete content from the store to `path`, one chunk at a time (never the whole
 * content in memory): a temp file beside `path`, then a rename. Fails `ContentStoreError`
 * (`op: "export"`) if a block is missing or the file cannot be written. Returns the size.
 *
 * @since 0.1.0
 * @category io
 */
export const writeToFile = (store: ContentStoreShape, mcid: Mcid.Mcid, path: string): Effect.Effect<number, ContentStoreError> =>
  Effect.gen(function*() {
    const missing = (what: string) => new ContentStoreError({ op: "export", target: Mcid.toString(mcid), cause: `${what} not held` })
    const blocks: Array<Mcid.Mcid> = []
    let size = 0
    if (mcid.codec === "raw") blocks.push(mcid)
    else {
      const manifest = yield* store.getManifest(mcid)
      if (manifest._tag === "None") return yield* Effect.fail(missing("manifest"))
      for (let i = 0; i < manifest.value.chunkCount; i++) blocks.push(Content.chunkMcid(manifest.value, i))
      size = manifest.value.size
    }
    const temp = `${path}.part`
    const io = <A>(op: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (cause) => new ContentStoreError({ op, target: path, cause }) })
    const file = yield* io("open", () => open(temp, "w"))
    const written = yield* Effect.ensuring(
      Effect.gen(function*() {
        let total = 0
        for (const block of blocks) {
          const bytes = yield* store.getBlock(block)
          if (bytes._tag === "None") return yield* Effect.fail(missing(`block ${Mcid.toString(block)}`))
          yield* io("write", () => file.write(bytes.value))
          total += bytes.value.length
        }
        yield* io("fsync", () => file.sync())
        return total
      }),
      Effect.promise(() => file.close())
    ).pipe(Effect.tapError(() => Effect.promise(() => rm(temp, { force: true }))))
    yield* io("rename", () => rename(temp, path))
    return mcid.codec === "raw" ? written : size
  })

const settle = <A, E>(effect: Effect.Effect<A, E>, reply: Actor.Reply<A, E>): Effect.Effect<void> =>
  Effect.matchEffect(effect, {
    onFailure: (e) => Effect.sync(() => reply.fail(e)),
    onSuccess: (a) => Effect.sync(() => reply.succeed(a))
  })

/**
 * The actor's behavior.
 *
 * @since 0.1.0
 * @category constructors
 */
export const behavior = (options: Options): Actor.Behavior<Msg, State> =>
  Actor.make<Msg, State>({
    label: "content-store",
    init: (ctx) =>
      Effect.gen(function*() {
        const every = options.gcIntervalMs ?? 0
        if (every > 0) {
          yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => {
            ctx.self.tell({ _tag: "Gc", ...(options.gcTargetBytes === undefined ? {} : { targetBytes: options.gcTargetBytes }), reply: ignoreReply })
          }))))
        }
        return { store: options.store }
      }),
    receive: (message, state) =>
      Effect.gen(function*() {
        const store = state.store
        switch (message._tag) {
          case "Put":
            // A file is streamed into the store chunk by chunk, never read whole.
            yield* settle(
              typeof message.input === "string" ? store.putFile(message.input, message.options) : store.put(message.input, message.options),
              message.reply
            )
            break
          case "Pin":
            yield* settle(store.pin(message.mcid, message.options), message.reply)
            break
          case "Unpin":
            yield* settle(store.unpin(message.mcid), message.reply)
            break
          case "Gc":
            yield* settle(store.gc(message.targetBytes === undefined ? {} : { targetBytes: message.targetBytes }), message.reply)
            break
          case "Usage":
            message.reply.succeed(yield* store.usage)
            break
        }
        return state
      })
  })

const ignoreReply: Actor.Reply<any, any> = { succeed: () => {}, fail: () => {}, isDone: () => true }

/**
 * Spawns the store actor in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<Actor.ActorRef<Msg>, never, Scope.Scope> =>
  Effect.orDie(Actor.spawn(behavior(options)))

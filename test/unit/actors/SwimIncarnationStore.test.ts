/**
 * The prober's incarnation stores (PROTOCOL.md §15.2): the file store round-trips, writes
 * atomically (no temporary file left behind), and loads a missing or garbled file as "nothing
 * stored"; the memory store keeps what it was given.
 */
import * as Effect from "effect/Effect"
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect } from "vitest"
import * as SwimProberActor from "../../../actors/SwimProberActor.ts"
import { live } from "../../support/it.ts"

const withDir = <A, E>(use: (dir: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "swim-store-"))),
    use,
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

describe("SwimProberActor incarnation stores", () => {
  live("file store: missing loads as nothing, a store survives a new store object, no temp file remains", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const data = join(dir, "data")
        expect(yield* SwimProberActor.fileStore(data).load()).toBeUndefined()
        yield* SwimProberActor.fileStore(data).store(7)
        yield* SwimProberActor.fileStore(data).store(8)
        expect(yield* SwimProberActor.fileStore(data).load()).toBe(8)
        expect(yield* Effect.promise(() => readFile(join(data, "swim-incarnation"), "utf8"))).toBe("8\n")
        expect(yield* Effect.promise(() => readdir(data))).toEqual(["swim-incarnation"])
      })))

  live("file store: garbled contents load as nothing (the station then refutes its predecessor)", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        yield* Effect.promise(() => writeFile(join(dir, "swim-incarnation"), "not a number"))
        expect(yield* SwimProberActor.fileStore(dir).load()).toBeUndefined()
        yield* Effect.promise(() => writeFile(join(dir, "swim-incarnation"), "-3"))
        expect(yield* SwimProberActor.fileStore(dir).load()).toBeUndefined()
      })))

  live("memory store keeps its value", () =>
    Effect.gen(function*() {
      const store = SwimProberActor.memoryStore(41)
      expect(yield* store.load()).toBe(41)
      yield* store.store(42)
      expect(store.current()).toBe(42)
      expect(yield* SwimProberActor.memoryStore().load()).toBeUndefined()
    }))
})

/**
 * `verifyOnRead` and stable backends: blocks are verified before they are written; a backend
 * whose entries cannot change afterwards (the in-memory one) is not hashed again on read,
 * while any other backend still is, so a block that changed behind the store's back is dropped.
 */
import { Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import * as Mcid from "../../../../src/content/Mcid.ts"
import * as Backend from "../../../../src/platform/content/Backend.ts"
import * as ContentStore from "../../../../src/platform/content/ContentStore.ts"

const run = <A, E>(e: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(e)
const block = Uint8Array.from({ length: 5_000 }, (_, i) => (i * 31) & 255)

/** A store over a memory backend, with `stable` as given, and the block put and then flipped. */
const tampered = async (stable: boolean) => {
  const memory = Backend.memory()
  const store = await run(ContentStore.make({ ...memory, stable }))
  const mcid = await run(store.put(block))
  const entry = memory.entries.block.get(Mcid.key(mcid))!
  entry.bytes[0] = entry.bytes[0]! ^ 0xff
  return { store, mcid }
}

describe("ContentStore over a stable backend", () => {
  it("declares the memory backend stable", () => {
    expect(Backend.memory().stable).toBe(true)
  })

  it("hashes again on read when the backend is not stable, and drops a changed block", async () => {
    const { store, mcid } = await tampered(false)
    expect(Option.isNone(await run(store.getBlock(mcid)))).toBe(true)
    expect((await run(store.usage)).corruptDropped).toBe(1)
  })

  it("trusts a stable backend's blocks from their write: no hash on read", async () => {
    // Only the test hook can change a memory entry; that the change goes unnoticed shows the
    // read did not hash the block again.
    const { store, mcid } = await tampered(true)
    const got = await run(store.getBlock(mcid))
    expect(Option.isSome(got)).toBe(true)
    expect((await run(store.usage)).corruptDropped).toBe(0)
  })

  it("copies in and out, except for a shared read or an owned write", async () => {
    const memory = Backend.memory()
    const store = await run(ContentStore.make(memory))
    const mcid = Mcid.ofBytes(block)
    const mine = block.slice()
    await run(store.putBlock(mcid, mine, { verified: true }))
    const stored = memory.entries.block.get(Mcid.key(mcid))!.bytes
    expect(stored).not.toBe(mine)
    const copy = Option.getOrThrow(await run(store.getBlock(mcid)))
    expect(copy).not.toBe(stored)
    expect(Option.getOrThrow(await run(store.getBlock(mcid, { shared: true })))).toBe(stored)

    const other = Uint8Array.from({ length: 3_000 }, (_, i) => i & 255)
    const handed = other.slice()
    await run(store.putBlock(Mcid.ofBytes(other), handed, { verified: true, owned: true }))
    expect(memory.entries.block.get(Mcid.key(Mcid.ofBytes(other)))!.bytes).toBe(handed)
  })

  it("still verifies every block before it is written", async () => {
    const store = await run(ContentStore.make(Backend.memory()))
    const wrong = block.slice()
    wrong[9] = wrong[9]! ^ 1
    const result = await run(Effect.result(store.putBlock(Mcid.ofBytes(block), wrong)))
    expect(result._tag).toBe("Failure")
  })
})

/**
 * The snapshots a node keeps of its own supervision tree (`./Supervision.ts` describes them):
 * the latest one for the synchronous `supervision()` of the Promise facade, refreshed after every
 * lifecycle event, and a fresh one asked of the live root for `supervision` (the Effect). Kept
 * apart from `./MaculaNode.ts` so that the refresh's coalescing state lives with the code that
 * uses it, and apart from `./Supervision.ts` because that module is public data only.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { SupervisorRef } from "../runtime/Supervisor.ts"
import { NodeStopped } from "./Errors.ts"
import { fromChildren } from "./Supervision.ts"
import type { SupervisionTree } from "./Supervision.ts"

/**
 * A node's snapshots of its own tree: `take` asks the live root (failing `NodeStopped` before it
 * started or once it stops), `refresh` takes one in the background (coalescing calls that come
 * while one is taken), `latest` is the newest taken.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tracker {
  readonly take: Effect.Effect<SupervisionTree, NodeStopped>
  readonly refresh: () => void
  readonly latest: () => SupervisionTree
}

/**
 * The snapshots of the tree below `root`, as of the node's latest lifecycle event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (node: {
  /** The node's root supervisor, once started. */
  readonly root: () => SupervisorRef | undefined
  /** Whether the node began to stop. */
  readonly stopped: () => boolean
}): Tracker => {
  let snapshot: SupervisionTree = { id: "node", strategy: "rest_for_one", takenAt: 0, children: [] }
  let refreshing = false
  let again = false
  const take: Effect.Effect<SupervisionTree, NodeStopped> = Effect.gen(function*() {
    const root = node.root()
    if (root === undefined || node.stopped()) return yield* Effect.fail(new NodeStopped({ operation: "supervision" }))
    const children = yield* Effect.mapError(root.whichChildren, () => new NodeStopped({ operation: "supervision" }))
    const tree: SupervisionTree = {
      id: "node",
      strategy: "rest_for_one",
      takenAt: yield* Clock.currentTimeMillis,
      children: fromChildren(children)
    }
    snapshot = tree
    return tree
  })
  const refresh = (): void => {
    if (refreshing) return void (again = true)
    refreshing = true
    Effect.runFork(Effect.ensuring(
      Effect.ignore(Effect.repeat(Effect.suspend(() => (again = false, take)), { while: () => again })),
      Effect.sync(() => void (refreshing = false))
    ))
  }
  return { take, refresh, latest: () => snapshot }
}

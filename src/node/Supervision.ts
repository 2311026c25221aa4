/**
 * Snapshots of a node's live supervision tree (API.md `node.supervision()`): plain data, safe to
 * print, serialise or compare, with no handles into the running processes.
 *
 * @since 0.1.0
 */
import type { RestartType } from "../runtime/ChildSpec.ts"
import type { ChildInfo } from "../runtime/Supervisor.ts"
import * as Tree from "../runtime/Tree.ts"

/**
 * One child of the tree.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisionNode {
  /** Its id under its supervisor (`transport`, `connections`, `connection#3`, …). */
  readonly id: string
  readonly kind: "worker" | "supervisor"
  readonly restart: RestartType
  /** `running`; `restarting` while a restart is pending; `stopped`. */
  readonly status: "running" | "restarting" | "stopped"
  readonly pid: number | undefined
  /** Consecutive restarts in the current streak. */
  readonly restarts: number
  /** For supervisors: their children. */
  readonly children?: ReadonlyArray<SupervisionNode>
}

/**
 * The whole tree below the node's root.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisionTree {
  readonly id: "node"
  readonly strategy: "rest_for_one"
  /** Unix ms when the snapshot was taken. */
  readonly takenAt: number
  readonly children: ReadonlyArray<SupervisionNode>
}

/**
 * A snapshot of a `whichChildren` result.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromChildren = (children: ReadonlyArray<ChildInfo>): ReadonlyArray<SupervisionNode> =>
  children.map((child) => ({
    id: child.id,
    kind: child.kind,
    restart: child.restart,
    status: child.status,
    pid: child.pid,
    restarts: child.restarts,
    ...(child.children === undefined ? {} : { children: fromChildren(child.children) })
  }))

/**
 * The node `id` anywhere in the tree (depth first), e.g. `find(tree, "listener")`.
 *
 * @since 0.1.0
 * @category getters
 */
export const find = (
  nodes: ReadonlyArray<SupervisionNode>,
  id: string
): SupervisionNode | undefined => {
  for (const node of nodes) {
    if (node.id === id) return node
    const below = node.children === undefined ? undefined : find(node.children, id)
    if (below !== undefined) return below
  }
  return undefined
}

/**
 * The tree as indented text, one child per line (`├─ transport [running] supervisor, permanent`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const render = (tree: SupervisionTree, options: Tree.RenderOptions = {}): string => {
  const toInfo = (nodes: ReadonlyArray<SupervisionNode>): ReadonlyArray<ChildInfo> =>
    nodes.map((n) => ({
      id: n.id,
      kind: n.kind,
      restart: n.restart,
      status: n.status,
      pid: n.pid,
      label: undefined,
      restarts: n.restarts,
      process: undefined,
      ...(n.children === undefined ? {} : { children: toInfo(n.children) })
    }))
  return Tree.render("node (rest_for_one)", toInfo(tree.children), options)
}

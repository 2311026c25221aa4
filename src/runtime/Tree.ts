/**
 * Renders a supervision tree (`Supervisor.whichChildren`) as indented text, for `status`,
 * logs and the demo.
 *
 * @since 0.1.0
 */
import type { ChildInfo } from "./Supervisor.ts"

/**
 * Options of `render`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RenderOptions {
  /** Show pids. @default true */
  readonly pids?: boolean
  /** Wrap a status word, e.g. to colour it on a terminal. @default identity */
  readonly paint?: (status: ChildInfo["status"], text: string) => string
}

/**
 * The tree below `root` as lines like `├─ transport (supervisor, one_for_one) pid 12`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const render = (root: string, children: ReadonlyArray<ChildInfo>, options: RenderOptions = {}): string => {
  const paint = options.paint ?? ((_status, text) => text)
  const lines = [root]
  const walk = (nodes: ReadonlyArray<ChildInfo>, prefix: string) => {
    nodes.forEach((child, i) => {
      const last = i === nodes.length - 1
      const pid = options.pids === false || child.pid === undefined ? "" : ` pid ${child.pid}`
      const restarts = child.restarts > 0 ? `, ${child.restarts} restart${child.restarts === 1 ? "" : "s"}` : ""
      const status = paint(child.status, child.status)
      lines.push(`${prefix}${last ? "└─" : "├─"} ${child.id} [${status}] ${child.kind}, ${child.restart}${restarts}${pid}`)
      if (child.children !== undefined) walk(child.children, `${prefix}${last ? "   " : "│  "}`)
    })
  }
  walk(children, "")
  return lines.join("\n")
}

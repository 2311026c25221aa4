/**
 * Invariants of a supervision tree, for chaos tests and property tests. Each check returns
 * the violations it found as sentences (empty = holds), so a failing test says what broke.
 *
 * @since 0.1.0
 */
import * as ChildSpec from "../runtime/ChildSpec.ts"
import type { LifecycleEvent } from "../runtime/Lifecycle.ts"
import type * as Registry from "../runtime/Registry.ts"
import * as RestartBudget from "../runtime/RestartBudget.ts"
import type * as Supervisor from "../runtime/Supervisor.ts"

/**
 * Every permanent child in the tree has a live process. A child waiting out a restart
 * backoff (`restarting`) passes when `allowRestarting` is set.
 *
 * @since 0.1.0
 * @category invariants
 */
export const permanentChildrenAlive = (
  tree: ReadonlyArray<Supervisor.ChildInfo>,
  options: { readonly allowRestarting?: boolean } = {}
): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (children: ReadonlyArray<Supervisor.ChildInfo>, path: string) => {
    for (const child of children) {
      const at = `${path}/${child.id}`
      if (child.restart === "permanent") {
        const alive = child.process?.isAlive() === true
        if (!alive && !(options.allowRestarting === true && child.status === "restarting")) {
          out.push(`permanent child ${at} is ${child.status}${child.process === undefined ? "" : " with a dead process"}`)
        }
      }
      if (child.children !== undefined) walk(child.children, at)
    }
  }
  walk(tree, "")
  return out
}

/**
 * Every registered name points at a live process, and each expected name is registered.
 *
 * @since 0.1.0
 * @category invariants
 */
export const registryConsistent = (
  registry: Registry.Registry,
  expected: ReadonlyArray<string> = []
): ReadonlyArray<string> => {
  const out: Array<string> = []
  const entries = registry.entriesUnsafe()
  for (const [name, process] of entries) {
    if (!process.isAlive()) out.push(`name "${name}" points at exited ${process.label}`)
  }
  const names = new Set(entries.map(([name]) => name))
  for (const name of expected) if (!names.has(name)) out.push(`name "${name}" is not registered`)
  return out
}

/**
 * Each supervisor escalated exactly when its restart budget was exceeded: replays the
 * lifecycle events through the pure budget and compares with the `Escalated` events.
 * `budgetOf` gives each supervisor's budget by path (undefined: skip that supervisor).
 *
 * @since 0.1.0
 * @category invariants
 */
export const escalatedExactlyWhenOverBudget = (
  events: ReadonlyArray<LifecycleEvent>,
  budgetOf: (supervisor: string) => RestartBudget.RestartBudget | undefined
): ReadonlyArray<string> => {
  const out: Array<string> = []
  const history = new Map<string, ReadonlyArray<number>>()
  /** Supervisors that must escalate next (their budget was exceeded by the last spend). */
  const due = new Set<string>()
  const escalated = new Set<string>()
  for (const event of events) {
    const supervisor = event.supervisor
    const budget = budgetOf(supervisor)
    if (budget === undefined) continue
    const spends = (event._tag === "Exited" && ChildSpec.shouldRestart(event.restart, event.reason)) ||
      (event._tag === "StartFailed" && event.phase === "restart")
    if (event._tag === "Escalated") {
      if (!due.has(supervisor)) out.push(`${supervisor} escalated at ${event.at} within its budget`)
      due.delete(supervisor)
      escalated.add(supervisor)
      history.delete(supervisor)
      continue
    }
    if (due.has(supervisor) && event._tag !== "ShutDown" && event._tag !== "Abandoned") {
      out.push(`${supervisor} went on (${event._tag} at ${event.at}) after exceeding its budget`)
      due.delete(supervisor)
    }
    if (event._tag === "Started" && event.kind === "supervisor") {
      // A (re)started supervisor is a new process with an empty restart history.
      const child = `${supervisor}/${event.child}`
      history.delete(child)
      due.delete(child)
      escalated.delete(child)
    }
    if (!spends) continue
    const [next, verdict] = RestartBudget.record(history.get(supervisor) ?? [], event.at, budget)
    history.set(supervisor, next)
    if (verdict === "escalate") due.add(supervisor)
  }
  for (const supervisor of due) out.push(`${supervisor} exceeded its budget but never escalated`)
  return out
}

/**
 * A supervisor stopped its children in reverse order: among the `ShutDown` / `Abandoned`
 * events of one shutdown (a run of them with nothing else from that supervisor in between),
 * children appear in the reverse of the child list, which is the order of their first start
 * (restarts keep a child's place, as in OTP).
 *
 * @since 0.1.0
 * @category invariants
 */
export const shutdownInReverseOrder = (
  events: ReadonlyArray<LifecycleEvent>,
  supervisor: string
): ReadonlyArray<string> => {
  const out: Array<string> = []
  const startOrder = new Map<string, number>()
  let counter = 0
  let run: Array<string> = []
  const closeRun = () => {
    for (let i = 1; i < run.length; i++) {
      const before = startOrder.get(run[i - 1]!) ?? 0
      const after = startOrder.get(run[i]!) ?? 0
      if (after > before) out.push(`${supervisor} stopped ${run[i - 1]} before ${run[i]}, which started later`)
    }
    run = []
  }
  for (const event of events) {
    if (event.supervisor !== supervisor) continue
    if (event._tag === "ShutDown" || event._tag === "Abandoned") {
      run.push(event.child)
      continue
    }
    closeRun()
    if (event._tag === "Started" && !startOrder.has(event.child)) startOrder.set(event.child, ++counter)
  }
  closeRun()
  return out
}

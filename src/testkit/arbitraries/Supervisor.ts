/**
 * fast-check arbitraries for supervision trees: random shapes (strategies, budgets, restart
 * types, shutdowns, nesting) and a builder that turns a shape into a runnable spec of
 * instrumented workers, so property tests can throw chaos at trees they did not write.
 *
 * @since 0.1.0
 */
import fc from "fast-check"
import type * as Scope from "effect/Scope"
import type * as Actor from "../../runtime/Actor.ts"
import type { RestartType } from "../../runtime/ChildSpec.ts"
import type * as RestartBudget from "../../runtime/RestartBudget.ts"
import * as Supervisor from "../../runtime/Supervisor.ts"
import * as Chaos from "../Chaos.ts"

/**
 * A worker leaf.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerShape {
  readonly kind: "worker"
  readonly id: string
  readonly restart: RestartType
  readonly shutdownMs: number
}

/**
 * A supervisor node.
 *
 * @since 0.1.0
 * @category models
 */
export interface TreeShape {
  readonly kind: "supervisor"
  readonly id: string
  readonly restart: RestartType
  readonly strategy: "one_for_one" | "one_for_all" | "rest_for_one"
  readonly intensity: number
  readonly periodMs: number
  readonly children: ReadonlyArray<WorkerShape | TreeShape>
}

/**
 * Any restart strategy of a static supervisor.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const strategy: fc.Arbitrary<TreeShape["strategy"]> = fc.constantFrom("one_for_one", "one_for_all", "rest_for_one")

/**
 * Any restart type.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const restartType: fc.Arbitrary<RestartType> = fc.constantFrom("permanent", "transient", "temporary")

/**
 * A restart budget (intensity 0–5 within 100 ms–10 s).
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const budget: fc.Arbitrary<RestartBudget.RestartBudget> = fc.record({
  intensity: fc.integer({ min: 0, max: 5 }),
  periodMs: fc.integer({ min: 100, max: 10_000 })
})

/**
 * A tree of depth ≤ `maxDepth` with ≤ `maxChildren` children per supervisor; ids are unique
 * per supervisor.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const tree = (options: { readonly maxDepth?: number; readonly maxChildren?: number } = {}): fc.Arbitrary<TreeShape> => {
  const maxChildren = options.maxChildren ?? 4
  const node = (depth: number, id: string): fc.Arbitrary<TreeShape> =>
    fc.record({ strategy, budget, restart: restartType, count: fc.integer({ min: 1, max: maxChildren }) }).chain((top) =>
      fc.tuple(
        ...Array.from({ length: top.count }, (_, i): fc.Arbitrary<WorkerShape | TreeShape> => {
          const childId = `${String.fromCharCode(97 + i)}`
          const leaf = fc.record({
            kind: fc.constant("worker" as const),
            id: fc.constant(childId),
            restart: restartType,
            shutdownMs: fc.constantFrom(0, 50, 1_000)
          })
          return depth <= 1 ? leaf : fc.oneof({ weight: 3, arbitrary: leaf }, { weight: 1, arbitrary: node(depth - 1, childId) })
        })
      ).map((children): TreeShape => ({
        kind: "supervisor",
        id,
        restart: top.restart,
        strategy: top.strategy,
        intensity: top.budget.intensity,
        periodMs: top.budget.periodMs,
        children
      }))
    )
  return node(options.maxDepth ?? 3, "root")
}

/**
 * The budget of every supervisor in a shape, by path (for `Invariants.escalatedExactlyWhenOverBudget`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const budgets = (shape: TreeShape, path = shape.id): ReadonlyMap<string, RestartBudget.RestartBudget> => {
  const out = new Map<string, RestartBudget.RestartBudget>([[path, { intensity: shape.intensity, periodMs: shape.periodMs }]])
  for (const child of shape.children) {
    if (child.kind === "supervisor") for (const [p, b] of budgets(child, `${path}/${child.id}`)) out.set(p, b)
  }
  return out
}

/**
 * A runnable spec for a shape: each worker is `behavior(path)`, instrumented with `chaos`
 * under its path as key.
 *
 * @since 0.1.0
 * @category combinators
 */
export const build = (
  shape: TreeShape,
  behavior: (path: string) => Actor.Behavior<any, any, any, never>,
  chaos: Chaos.Controller,
  path = shape.id
): Supervisor.StaticSpec<Scope.Scope> => ({
  strategy: shape.strategy,
  label: path,
  intensity: shape.intensity,
  periodMs: shape.periodMs,
  children: shape.children.map((child) =>
    child.kind === "worker"
      ? Supervisor.worker(child.id, Chaos.instrument(behavior(`${path}/${child.id}`), chaos, `${path}/${child.id}`), {
        restart: child.restart,
        shutdown: child.shutdownMs
      })
      : Supervisor.child(child.id, build(child, behavior, chaos, `${path}/${child.id}`), { restart: child.restart })
  )
})

/**
 * The lifecycle event stream: every supervisor reports what happens to its children
 * (started, exited with a reason, restarted, shut down, abandoned) and to itself (escalated).
 * Logs, metrics and `status` are built on it; the testkit's invariants read it.
 *
 * Supervisors publish to the `CurrentLifecycle` sink found in their context when they start;
 * nested supervisors inherit it. The default sink discards events.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import type { RestartType } from "./ChildSpec.ts"
import type { ExitReason } from "./ExitReason.ts"
import type { Pid } from "./Process.ts"

/**
 * One lifecycle event. `supervisor` is the reporting supervisor's path (`node/transport`),
 * `child` the child id (a pid label for dynamic children), `at` the clock in ms.
 *
 * @since 0.1.0
 * @category models
 */
export type LifecycleEvent = Data.TaggedEnum<{
  /** A child started (first start, `startChild`, or as part of a restart). */
  Started: { readonly supervisor: string; readonly child: string; readonly pid: Pid; readonly kind: "worker" | "supervisor"; readonly at: number }
  /** A child exited on its own (crash, normal stop, link); not emitted for requested shutdowns. */
  Exited: { readonly supervisor: string; readonly child: string; readonly pid: Pid; readonly restart: RestartType; readonly reason: ExitReason; readonly at: number }
  /** A child was started again after an exit; `attempt` counts consecutive restarts, `delayMs` the backoff waited. */
  Restarted: { readonly supervisor: string; readonly child: string; readonly pid: Pid; readonly attempt: number; readonly delayMs: number; readonly at: number }
  /** A child failed to start (in `init` or its start effect); `phase` says whether it was a (re)start the budget counts. */
  StartFailed: { readonly supervisor: string; readonly child: string; readonly phase: "start" | "restart"; readonly reason: ExitReason; readonly at: number }
  /** A child was stopped on request (terminateChild, a group restart, the supervisor's own shutdown). */
  ShutDown: { readonly supervisor: string; readonly child: string; readonly pid: Pid; readonly at: number }
  /** A child did not stop within its shutdown timeout and was abandoned (its resources are released when it finally exits). */
  Abandoned: { readonly supervisor: string; readonly child: string; readonly pid: Pid; readonly shutdownMs: number; readonly at: number }
  /** The supervisor exceeded its restart budget, stopped its children and exits abnormally to its parent. */
  Escalated: { readonly supervisor: string; readonly intensity: number; readonly periodMs: number; readonly at: number }
}>

/**
 * Constructors and matchers for `LifecycleEvent`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const LifecycleEvent = Data.taggedEnum<LifecycleEvent>()

/**
 * Where supervisors publish. `publish` must not block or throw.
 *
 * @since 0.1.0
 * @category models
 */
export interface LifecycleSink {
  readonly publish: (event: LifecycleEvent) => void
}

/**
 * A sink that discards everything (the default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const discard: LifecycleSink = { publish: () => {} }

/**
 * The sink supervisors publish to.
 *
 * @since 0.1.0
 * @category services
 */
export const CurrentLifecycle: Context.Reference<LifecycleSink> = Context.Reference<LifecycleSink>(
  "macula/runtime/Lifecycle",
  { defaultValue: () => discard }
)

/**
 * A sink that keeps every event in an array (tests, the demo's summary).
 *
 * @since 0.1.0
 * @category constructors
 */
export const recorder = (): LifecycleSink & { readonly events: Array<LifecycleEvent> } => {
  const events: Array<LifecycleEvent> = []
  return { events, publish: (event) => void events.push(event) }
}

/**
 * A sink that fans out to several sinks.
 *
 * @since 0.1.0
 * @category combinators
 */
export const fanOut = (...sinks: ReadonlyArray<LifecycleSink>): LifecycleSink => ({
  publish: (event) => {
    for (const sink of sinks) sink.publish(event)
  }
})

/**
 * A hub: a sink backed by a sliding `PubSub` (slow subscribers lose the oldest events, the
 * supervisors never wait) plus `subscribe` for live consumers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hub = (
  capacity = 4_096
): Effect.Effect<
  LifecycleSink & { readonly subscribe: Effect.Effect<PubSub.Subscription<LifecycleEvent>, never, Scope.Scope> },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const pubsub = yield* Effect.acquireRelease(PubSub.sliding<LifecycleEvent>(capacity), PubSub.shutdown)
    return {
      publish: (event: LifecycleEvent) => void PubSub.publishUnsafe(pubsub, event),
      subscribe: PubSub.subscribe(pubsub)
    }
  })

/**
 * One line per event, for logs and the demo.
 *
 * @since 0.1.0
 * @category getters
 */
export const format = (event: LifecycleEvent, describeReason: (reason: ExitReason) => string): string =>
  LifecycleEvent.$match(event, {
    Started: (e) => `${e.supervisor}: started ${e.child} (pid ${e.pid})`,
    Exited: (e) => `${e.supervisor}: ${e.child} exited (${describeReason(e.reason)})`,
    Restarted: (e) =>
      `${e.supervisor}: restarted ${e.child} (pid ${e.pid}, attempt ${e.attempt}${e.delayMs > 0 ? `, after ${e.delayMs} ms` : ""})`,
    StartFailed: (e) => `${e.supervisor}: ${e.child} failed to start (${describeReason(e.reason)})`,
    ShutDown: (e) => `${e.supervisor}: shut down ${e.child}`,
    Abandoned: (e) => `${e.supervisor}: abandoned ${e.child} after ${e.shutdownMs} ms`,
    Escalated: (e) => `${e.supervisor}: escalated (more than ${e.intensity} restarts in ${e.periodMs} ms)`
  })

/**
 * The demo's supervision act: a node-shaped supervision tree (stand-in workers in the places
 * of the node's subsystems) heals while a seeded chaos schedule crashes, interrupts and
 * stalls its actors. Prints the live tree, the lifecycle events and a summary with the
 * invariant checks; resolves to whether every invariant held.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ExitReason from "../../runtime/ExitReason.ts"
import * as Lifecycle from "../../runtime/Lifecycle.ts"
import * as Registry from "../../runtime/Registry.ts"
import * as Supervisor from "../../runtime/Supervisor.ts"
import * as Tree from "../../runtime/Tree.ts"
import * as Chaos from "../../testkit/Chaos.ts"
import * as Invariants from "../../testkit/Invariants.ts"
import * as Workers from "../../testkit/Workers.ts"
import type { Output } from "./Output.ts"

/** Options of the act. */
export interface SupervisionActOptions {
  readonly seed: number
  readonly faults: number
  readonly meanIntervalMs: number
}

const budgets: Record<string, { intensity: number; periodMs: number }> = {
  node: { intensity: 30, periodMs: 10_000 },
  "node/transport": { intensity: 10, periodMs: 10_000 },
  "node/membership": { intensity: 5, periodMs: 10_000 },
  "node/dht": { intensity: 3, periodMs: 1_000 },
  "node/routing": { intensity: 5, periodMs: 10_000 },
  "node/content": { intensity: 5, periodMs: 10_000 },
  "node/application": { intensity: 3, periodMs: 5_000 }
}

/** The tree: the node's layout (PROTOCOL.md §15) with stand-in workers. */
const nodeTree = (chaos: Chaos.Controller, resource: { acquired: number; released: number }) => {
  const leaf = (path: string, id: string, restart: "permanent" | "transient" | "temporary" = "permanent") =>
    Supervisor.worker(id, Chaos.instrument(Workers.pingable(id, resource), chaos, `${path}/${id}`), {
      restart,
      shutdown: 300
    })
  const area = (id: string, children: ReadonlyArray<string>, extra: Partial<Supervisor.StaticSpec<Scope.Scope>> = {}) =>
    Supervisor.child(id, {
      strategy: "one_for_one",
      ...budgets[`node/${id}`]!,
      ...extra,
      children: children.map((child) => leaf(`node/${id}`, child))
    })
  return {
    strategy: "rest_for_one",
    label: "node",
    ...budgets["node"]!,
    children: [
      leaf("node", "identity-config"),
      area("transport", ["listener", "connection-registry"]),
      area("membership", ["swim-prober", "station-dialer"]),
      area("dht", ["bucket-0", "bucket-1", "record-store", "republisher"], {
        backoff: { initialMs: 20, maxMs: 400, jitter: 0.2 }
      }),
      area("routing", ["session-registry", "pubsub-router", "rpc-dispatcher"]),
      area("content", ["content-store", "announcer"]),
      Supervisor.child("application", {
        strategy: "one_for_one",
        ...budgets["node/application"]!,
        children: [leaf("node/application", "chat-room", "transient"), leaf("node/application", "price-feed")]
      })
    ]
  } satisfies Supervisor.StaticSpec<Scope.Scope>
}

const interesting = (event: Lifecycle.LifecycleEvent): boolean =>
  event._tag !== "Started" || event.supervisor === "node"

/** Runs the act; succeeds with `true` when every invariant held. */
export const supervisionAct = (out: Output, options: SupervisionActOptions): Effect.Effect<boolean, never, Scope.Scope> =>
  Effect.gen(function*() {
    const began = Date.now()
    const stamp = () => `${((Date.now() - began) / 1_000).toFixed(2).padStart(6)}s`
    const chaos = Chaos.controller()
    const resource = { acquired: 0, released: 0 }
    const recorder = Lifecycle.recorder()
    const printer: Lifecycle.LifecycleSink = {
      publish: (event) => {
        if (interesting(event)) out.event(`${stamp()}  ${Lifecycle.format(event, ExitReason.describe)}`, event._tag)
      }
    }
    const registry = Registry.make()
    out.heading(`Supervision: a node-shaped tree heals under ${options.faults} seeded faults (seed ${options.seed})`)
    const root = yield* Supervisor.start(nodeTree(chaos, resource)).pipe(
      Effect.provideService(Lifecycle.CurrentLifecycle, Lifecycle.fanOut(recorder, printer)),
      Effect.provideService(Registry.CurrentRegistry, registry),
      Effect.orDie
    )
    const show = Effect.gen(function*() {
      const tree = yield* Effect.orElseSucceed(root.whichChildren, () => [])
      out.tree(Tree.render("node [rest_for_one]", tree, { paint: out.paintStatus }))
    })
    yield* show
    const steps = Chaos.schedule({ seed: options.seed, faults: options.faults, meanIntervalMs: options.meanIntervalMs })
    const violations: Array<string> = []
    const report = yield* Chaos.run(root, steps, {
      chaos,
      afterStep: (index, step) =>
        Effect.gen(function*() {
          out.chaos(`${stamp()}  chaos #${index + 1}: ${describeFault(step.fault)}`)
          if (!root.isAlive()) return
          const tree = yield* Effect.orElseSucceed(root.whichChildren, () => [])
          for (const v of Invariants.permanentChildrenAlive(tree, { allowRestarting: true })) violations.push(v)
          if (index + 1 === Math.floor(options.faults / 2)) yield* show
        })
    })
    yield* Chaos.quiesce(root)
    yield* show
    yield* root.stop()
    yield* Effect.sleep(1_000) // abandoned children finish their slow shutdown
    const escalations = Invariants.escalatedExactlyWhenOverBudget(recorder.events, (path) => budgets[path])
    const order = Object.keys(budgets).flatMap((path) => Invariants.shutdownInReverseOrder(recorder.events, path))
    const registryProblems = Invariants.registryConsistent(registry)
    const count = (tag: Lifecycle.LifecycleEvent["_tag"]) => recorder.events.filter((e) => e._tag === tag).length
    const applied = Object.entries(report.applied).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ")
    out.heading("Summary")
    out.line(`faults applied: ${applied}`)
    out.line(
      `supervision: ${count("Exited")} exits, ${count("Restarted")} restarts, ${count("StartFailed")} failed starts, ` +
        `${count("Escalated")} escalations, ${count("Abandoned")} abandoned shutdowns`
    )
    const checks: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
      ["every permanent child alive after each fault", violations],
      ["escalation exactly when a restart budget was exceeded", escalations],
      ["children stopped in reverse start order", order],
      ["registry consistent", registryProblems],
      [
        "every resource released after shutdown",
        resource.acquired === resource.released ? [] : [`${resource.acquired - resource.released} still held`]
      ],
      ["root survived", report.rootAlive ? [] : ["the root escalated"]]
    ]
    for (const [name, problems] of checks) out.check(name, problems)
    return checks.every(([, problems]) => problems.length === 0)
  })

const describeFault = (fault: Chaos.Fault): string =>
  Chaos.Fault.$match(fault, {
    CrashByMessage: () => "crash a random worker with a poison message",
    Interrupt: () => "interrupt a random worker",
    CrashInInit: ({ times }) => `make a worker's next ${times} init${times === 1 ? "" : "s"} fail, then crash it`,
    SlowShutdown: ({ ms }) => `make a worker's next shutdown take ${ms} ms`,
    RestartStorm: ({ crashes }) => `crash one worker ${crashes} times in a row`
  })

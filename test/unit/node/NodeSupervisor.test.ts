/**
 * The root of a node's tree (PROTOCOL.md §15.1), over a real QUIC socket on loopback: children
 * in §15 order, empty slots absent, rest_for_one on a transport crash (everything after it
 * restarts, `identity` before it does not, the new transport is published in `Live`), and an
 * application crash touching nothing above it.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as ConnectionActor from "../../../actors/ConnectionActor.ts"
import * as NodeSupervisor from "../../../supervisors/NodeSupervisor.ts"
import { Identity } from "../../../src/identity/Identity.ts"
import * as Quic from "../../../src/platform/transport/Quic.ts"
import * as QuicConfig from "../../../src/platform/transport/QuicConfig.ts"
import * as Actor from "../../../src/runtime/Actor.ts"
import * as ExitReason from "../../../src/runtime/ExitReason.ts"
import * as Supervisor from "../../../src/runtime/Supervisor.ts"

const idle = Actor.make<never, null>({ init: () => Effect.succeed(null), receive: (_m, s) => Effect.succeed(s) })

const pidsOf = (children: ReadonlyArray<Supervisor.ChildInfo>) => Object.fromEntries(children.map((c) => [c.id, c.pid]))

const eventually = <A, E>(probe: Effect.Effect<A | undefined, E>): Effect.Effect<A, E> =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const found = yield* probe
      if (found !== undefined) return found
      yield* Effect.sleep(20)
    }
    return yield* Effect.die(new Error("condition not reached within 4 s"))
  })

const startRoot = (live: NodeSupervisor.Live, routing?: NodeSupervisor.Slot) => {
  const seed = Identity.generate().exportSeed()
  return NodeSupervisor.start({
    identity: Supervisor.worker("identity", idle),
    transport: () => Quic.make(QuicConfig.make(seed, { host: "127.0.0.1" })),
    transportOptions: () => ({ connection: ConnectionActor.config("client", { stationPowBits: 0 }) }),
    ...(routing === undefined ? {} : { routing }),
    intensity: 5
  }, live)
}

describe("NodeSupervisor", () => {
  it("restarts the transport and everything after it, not what comes before, when the transport crashes", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const live: NodeSupervisor.Live = { transport: undefined, transportTree: undefined, application: undefined }
      const root = yield* startRoot(live, { kind: "worker", start: () => Actor.spawn(idle) })
      const before = yield* root.whichChildren
      expect(before.map((c) => c.id)).toEqual(["identity", "transport", "routing", "application"])
      const firstTransport = live.transport
      const firstApplication = live.application
      yield* before.find((c) => c.id === "transport")!.process!.exit(ExitReason.killed)
      const after = yield* eventually(Effect.map(root.whichChildren, (children) =>
        children.every((c) => c.status === "running") && children.find((c) => c.id === "transport")!.pid !== pidsOf(before)["transport"]
          ? children
          : undefined))
      const [b, a] = [pidsOf(before), pidsOf(after)]
      expect(a["identity"]).toBe(b["identity"])
      for (const id of ["transport", "routing", "application"]) expect(a[id]).not.toBe(b[id])
      expect(live.transport).not.toBe(firstTransport)
      expect(live.application).not.toBe(firstApplication)
      expect(live.transportTree?.supervisor.isAlive()).toBe(true)
    }))), 30_000)

  it("restarts only the application supervisor when it crashes", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const live: NodeSupervisor.Live = { transport: undefined, transportTree: undefined, application: undefined }
      const root = yield* startRoot(live)
      const before = yield* root.whichChildren
      expect(before.map((c) => c.id)).toEqual(["identity", "transport", "application"])
      yield* before.find((c) => c.id === "application")!.process!.exit(ExitReason.killed)
      const after = yield* eventually(Effect.map(root.whichChildren, (children) =>
        children.find((c) => c.id === "application")!.pid !== pidsOf(before)["application"] &&
          children.every((c) => c.status === "running") ? children : undefined))
      expect(pidsOf(after)["transport"]).toBe(pidsOf(before)["transport"])
      expect(pidsOf(after)["identity"]).toBe(pidsOf(before)["identity"])
    }))), 30_000)
})

/**
 * `macula demo`: a local mesh on loopback over real QUIC (three station processes, five clients)
 * and five acts run in order on it: wildcard pub/sub, RPC across stations, an application actor
 * crashing and recovering, a file fetched from two providers, and a station killed. Each act
 * has a time limit; the first act that fails ends the demo with exit code 1. On every way out
 * (success, failure, Ctrl-C, an exception, the process exiting) the clients are stopped, the
 * station processes killed and the temporary directory removed.
 */
import { type Act, type ActContext, ActFailed, describeError, ms } from "./Act.ts"
import { applicationActorAct, tickLog } from "./ApplicationActorAct.ts"
import * as Cast from "./Cast.ts"
import { contentAct } from "./ContentAct.ts"
import * as LocalMesh from "./LocalMesh.ts"
import type { Output } from "./Output.ts"
import { pubSubAct } from "./PubSubAct.ts"
import { rpcAct } from "./RpcAct.ts"
import { stationKillAct } from "./StationKillAct.ts"

/** The acts, in the order they run. */
export const acts = (): ReadonlyArray<Act> => {
  const log = tickLog()
  return [pubSubAct, rpcAct, applicationActorAct(log), contentAct, stationKillAct(log)]
}

/** Runs `run` with `signal` aborted after `timeoutMs` or when `outer` aborts; rejects as soon as either happens. */
const bounded = <A>(what: string, timeoutMs: number, outer: AbortSignal, run: (signal: AbortSignal) => Promise<A>): Promise<A> => {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  let onAbort: (() => void) | undefined
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(new ActFailed({ message: `${what} did not finish within ${timeoutMs / 1_000} s` }))
    }, timeoutMs)
    onAbort = () => {
      controller.abort()
      reject(new ActFailed({ message: "interrupted" }))
    }
    if (outer.aborted) onAbort()
    else outer.addEventListener("abort", onAbort, { once: true })
  })
  return Promise.race([run(controller.signal), stop]).finally(() => {
    clearTimeout(timer)
    if (onAbort !== undefined) outer.removeEventListener("abort", onAbort)
    controller.abort()
  })
}

/** Runs the demo; resolves with the exit code (0: every act passed; 1: one failed; 130: interrupted). */
export const run = async (out: Output): Promise<number> => {
  const began = Date.now()
  out.line("macula demo: a local mesh on loopback over real QUIC: 3 station processes, 5 clients in this process")
  const mesh = LocalMesh.make()
  // The last resort: whatever ends the process, no station outlives it and no file stays behind.
  const onExit = () => mesh.closeNow()
  process.on("exit", onExit)
  const interrupt = new AbortController()
  let interruptedBy: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    if (interruptedBy !== undefined) return process.exit(130) // a second Ctrl-C: leave now (the exit hook still cleans up)
    interruptedBy = signal
    out.warn(`${signal}: stopping the demo`)
    interrupt.abort()
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)

  const list = acts()
  const results: Array<{ readonly title: string; readonly ok: boolean; readonly line: string; readonly ms: number }> = []
  try {
    out.heading("Setting up the mesh")
    const cast = await bounded("setting up the mesh", 90_000, interrupt.signal, (signal) => Cast.start(mesh, out, signal)).catch(
      (error: unknown) => {
        results.push({ title: "setting up the mesh", ok: false, line: describeError(error), ms: Date.now() - began })
        return undefined
      }
    )
    if (cast !== undefined) {
      for (const [i, act] of list.entries()) {
        out.heading(`Act ${i + 1}/${list.length}: ${act.title}`)
        const actBegan = Date.now()
        try {
          const line = await bounded(`act ${i + 1}`, act.timeoutMs, interrupt.signal, (signal) => {
            const context: ActContext = { cast, out, signal }
            return act.run(context)
          })
          out.check(line, [])
          results.push({ title: act.title, ok: true, line, ms: Date.now() - actBegan })
        } catch (error) {
          const line = describeError(error)
          out.check(`act ${i + 1}`, [line])
          results.push({ title: act.title, ok: false, line, ms: Date.now() - actBegan })
          break
        }
      }
    }
  } finally {
    out.live("stopping the clients and the stations, removing the temporary files")
    await mesh.close(5_000).catch(() => mesh.closeNow())
    process.off("exit", onExit)
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }

  out.heading("Summary")
  for (const r of results) out.check(`${r.title} (${ms(r.ms)})`, r.ok ? [] : [r.line])
  const passed = results.filter((r) => r.ok).length
  const total = list.length
  const ok = passed === total && results.length === total
  if (interruptedBy !== undefined) {
    out.line(`demo interrupted by ${interruptedBy} after ${ms(Date.now() - began)}; everything it started is stopped`)
    return 130
  }
  out.line(ok
    ? `demo finished in ${ms(Date.now() - began)}: all ${total} acts passed`
    : `demo FAILED after ${ms(Date.now() - began)}: ${passed} of ${total} acts passed`)
  return ok ? 0 : 1
}

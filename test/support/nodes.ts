/**
 * In-process nodes for integration tests: the nodes a file starts, stopped together by
 * `stopAll` (call it in `afterAll`, before removing what they write to), and the waits those
 * tests share.
 */
import * as Effect from "effect/Effect"
import type * as ContentSupervisor from "../../supervisors/ContentSupervisor.ts"
import type * as Mcid from "../../src/content/Mcid.ts"
import { MaculaNode } from "../../src/node/index.ts"
import { sleep } from "./stations.ts"

/** A file's nodes: `start` records each, `stopAll` stops them all (a failed stop is ignored). */
export const nodeSet = () => {
  const nodes: Array<MaculaNode> = []
  return {
    start: async (config: Parameters<typeof MaculaNode.start>[0], hooks?: Parameters<typeof MaculaNode.start>[1]): Promise<MaculaNode> => {
      const node = await MaculaNode.start(config, hooks)
      nodes.push(node)
      return node
    },
    stopAll: async (): Promise<void> => {
      await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)))
    }
  }
}

/** Retries `attempt` every 250 ms until it resolves, for at most `ms`; then fails with the last failure. */
export const eventually = async <A>(label: string, ms: number, attempt: () => Promise<A>): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await attempt()
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${label}: not within ${ms} ms: ${String((error as { message?: string }).message ?? error)}`)
      await sleep(250)
    }
  }
}

/** Whether `api`'s store holds `mcid` whole (read without fetching anything). */
export const holds = async (api: ContentSupervisor.Api | undefined, mcid: Mcid.Mcid): Promise<boolean> => {
  const store = api?.store()
  if (store === undefined) throw new Error("no content store")
  return (await Effect.runPromise(store.progress(mcid))).complete
}

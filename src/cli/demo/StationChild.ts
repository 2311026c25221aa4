/**
 * `macula demo station ARGS…`: `macula station ARGS…` as the demo runs it, one difference: the
 * station also stops (gracefully) when its stdin closes. The demo holds the other end of that
 * pipe, so when the demo ends in any way, SIGKILL included, its stations end with it.
 */
import type { Io } from "../Io.ts"
import * as Station from "../Station.ts"

/** Resolves when stdin reaches its end or closes (the parent went away). */
const stdinClosed = (): Promise<string> =>
  new Promise((resolve) => {
    process.stdin.once("end", () => resolve("stdin closed"))
    process.stdin.once("close", () => resolve("stdin closed"))
    process.stdin.resume()
  })

/** Runs the station until SIGINT, SIGTERM or the end of stdin; resolves with the exit code. */
export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const code = await Station.run(args, io, () => Promise.race([Station.untilSignal(), stdinClosed()]))
  process.stdin.destroy()
  return code
}

/**
 * What every act of `macula demo` is: a title, a time limit and a run that prints live lines and
 * resolves with a one-line result, or fails with `ActFailed` saying what did not happen. The
 * helpers here wait for conditions with a bound, so no act can hang the demo.
 */
import * as Data from "effect/Data"
import type { Cast } from "./Cast.ts"
import type { Output } from "./Output.ts"

/**
 * An act did not show what it set out to show.
 */
export class ActFailed extends Data.TaggedError("ActFailed")<{ readonly message: string }> {}

/** What an act runs against: the mesh, the printer, and a signal that fires when it must stop. */
export interface ActContext {
  readonly cast: Cast
  readonly out: Output
  /** Aborted when the act ran out of time or the demo is interrupted. */
  readonly signal: AbortSignal
}

/** One act of the demo. */
export interface Act {
  /** Shown as the act's heading and in the summary. */
  readonly title: string
  /** The act fails when it has not finished within this many ms. */
  readonly timeoutMs: number
  /** Runs the act; resolves with its result line, rejects with `ActFailed` (or any error). */
  readonly run: (context: ActContext) => Promise<string>
}

/** Resolves after `ms`, or rejects as soon as `signal` is aborted. */
export const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ActFailed({ message: "stopped" }))
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort)
      resolve()
    }, ms)
    const abort = () => {
      clearTimeout(timer)
      reject(new ActFailed({ message: "stopped" }))
    }
    signal.addEventListener("abort", abort, { once: true })
  })

/**
 * Polls `ok` every `everyMs` until it holds; fails `ActFailed` with `what` after `ms`. Resolves
 * with the milliseconds it waited.
 */
export const until = async (
  what: string,
  ok: () => boolean,
  ms: number,
  signal: AbortSignal,
  everyMs = 25
): Promise<number> => {
  const began = Date.now()
  while (!ok()) {
    if (Date.now() - began > ms) throw new ActFailed({ message: `${what}: not within ${(ms / 1_000).toFixed(0)} s` })
    await sleep(everyMs, signal)
  }
  return Date.now() - began
}

/**
 * Repeats `attempt` every `everyMs` until `ok` holds (for what must wait on the mesh: interest
 * spreading between stations, a link coming back); fails `ActFailed` with `what` after `ms`.
 * Resolves with the milliseconds it took and the number of attempts.
 */
export const retryUntil = async (
  what: string,
  attempt: (n: number) => Promise<unknown>,
  ok: () => boolean,
  ms: number,
  signal: AbortSignal,
  everyMs = 250
): Promise<{ readonly ms: number; readonly attempts: number }> => {
  const began = Date.now()
  let attempts = 0
  while (!ok()) {
    if (Date.now() - began > ms) throw new ActFailed({ message: `${what}: not within ${(ms / 1_000).toFixed(0)} s` })
    attempts++
    await attempt(attempts)
    // Give the attempt time to arrive before the next one.
    const settle = Date.now() + everyMs
    while (!ok() && Date.now() < settle) await sleep(20, signal)
  }
  return { ms: Date.now() - began, attempts }
}

/** A check inside an act: fails `ActFailed` with `message` unless `condition` holds. */
export const expect = (condition: boolean, message: string): void => {
  if (!condition) throw new ActFailed({ message })
}

/** An error as one short line: its tag and message, never a stack. */
export const describeError = (error: unknown): string => {
  if (error instanceof ActFailed) return error.message
  const tagged = error as { _tag?: unknown; message?: unknown } | null
  const tag = typeof tagged?._tag === "string" ? tagged._tag : undefined
  const message = typeof tagged?.message === "string" && tagged.message.length > 0 ? tagged.message.split("\n")[0] : undefined
  if (tag !== undefined && message !== undefined) return message.includes(tag) ? message : `${tag}: ${message}`
  return tag ?? message ?? String(error)
}

/** Milliseconds as a short human string: `850 ms`, `4.2 s`. */
export const ms = (value: number): string => (value < 1_000 ? `${Math.round(value)} ms` : `${(value / 1_000).toFixed(1)} s`)

/**
 * The demo's printer: concise lines on stdout, colours only on a terminal. Live lines carry the
 * time elapsed since the output was made, so a reader sees how long each step took.
 */
import type { ChildInfo } from "../../runtime/Supervisor.ts"

/** Where the demo writes. */
export interface Output {
  readonly heading: (text: string) => void
  readonly line: (text: string) => void
  readonly tree: (text: string) => void
  readonly event: (text: string, tag: string) => void
  readonly chaos: (text: string) => void
  readonly check: (name: string, problems: ReadonlyArray<string>) => void
  readonly paintStatus: (status: ChildInfo["status"], text: string) => string
  /** One live line, prefixed with the seconds since `make`. */
  readonly live: (text: string) => void
  /** A live line for something that went wrong (red on a terminal). */
  readonly warn: (text: string) => void
  /** Seconds since `make`, as printed by `live`. */
  readonly elapsed: () => string
}

/** An output for `stream`, coloured when it is a terminal and `NO_COLOR` is unset. */
export const make = (stream: NodeJS.WriteStream = process.stdout, began: number = Date.now()): Output => {
  const colour = stream.isTTY === true && process.env["NO_COLOR"] === undefined
  const paint = (code: number, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text)
  const write = (text: string) => void stream.write(`${text}\n`)
  const elapsed = () => `${((Date.now() - began) / 1_000).toFixed(2).padStart(6)}s`
  const eventColour: Record<string, number> = { Exited: 33, Restarted: 32, Escalated: 35, Abandoned: 31, StartFailed: 31 }
  return {
    heading: (text) => write(`\n${paint(1, `== ${text}`)}`),
    line: write,
    tree: (text) => write(paint(2, "") + text),
    event: (text, tag) => write(paint(eventColour[tag] ?? 0, text)),
    chaos: (text) => write(paint(36, text)),
    check: (name, problems) =>
      write(problems.length === 0 ? `${paint(32, "ok")}    ${name}` : `${paint(31, "FAIL")}  ${name}: ${problems.join("; ")}`),
    paintStatus: (status, text) => paint(status === "running" ? 32 : status === "restarting" ? 33 : 31, text),
    live: (text) => write(`${paint(2, elapsed())}  ${text}`),
    warn: (text) => write(`${paint(2, elapsed())}  ${paint(31, text)}`),
    elapsed
  }
}

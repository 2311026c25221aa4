/**
 * The demo's printer: concise lines on stdout, colours only on a terminal.
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
}

/** An output for `stream`, coloured when it is a terminal and `NO_COLOR` is unset. */
export const make = (stream: NodeJS.WriteStream = process.stdout): Output => {
  const colour = stream.isTTY === true && process.env["NO_COLOR"] === undefined
  const paint = (code: number, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text)
  const write = (text: string) => void stream.write(`${text}\n`)
  const eventColour: Record<string, number> = { Exited: 33, Restarted: 32, Escalated: 35, Abandoned: 31, StartFailed: 31 }
  return {
    heading: (text) => write(`\n${paint(1, `== ${text}`)}`),
    line: write,
    tree: (text) => write(paint(2, "") + text),
    event: (text, tag) => write(paint(eventColour[tag] ?? 0, text)),
    chaos: (text) => write(paint(36, text)),
    check: (name, problems) =>
      write(problems.length === 0 ? `${paint(32, "ok")}    ${name}` : `${paint(31, "FAIL")}  ${name}: ${problems.join("; ")}`),
    paintStatus: (status, text) => paint(status === "running" ? 32 : status === "restarting" ? 33 : 31, text)
  }
}

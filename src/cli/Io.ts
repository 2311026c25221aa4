/**
 * Where a command writes: results on `out` (stdout), logs, warnings and errors on `err`
 * (stderr). Commands take an `Io` so tests can capture both.
 *
 * @since 0.1.0
 */

/**
 * The two output streams of a command, line by line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Io {
  /** One line of result (stdout). */
  readonly out: (line: string) => void
  /** One line of log or warning (stderr). */
  readonly err: (line: string) => void
}

/**
 * The process's stdout and stderr.
 *
 * @since 0.1.0
 * @category constructors
 */
export const processIo: Io = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`)
}

/**
 * An `Io` that keeps every line, for tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const capture = (): Io & { readonly stdout: Array<string>; readonly stderr: Array<string> } => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  return { stdout, stderr, out: (line) => void stdout.push(line), err: (line) => void stderr.push(line) }
}

/**
 * The command line parser: every accepted form, and every mistake a typed `UsageError` with a
 * one-line message naming the command.
 */
import { describe, expect, it } from "vitest"
import * as Args from "../../../src/cli/Args.ts"
import { UsageError } from "../../../src/cli/Args.ts"

const spec: Args.CommandSpec = {
  command: "demo",
  options: [
    { name: "seed", repeatable: true },
    { name: "listen", required: true },
    { name: "json", flag: true },
    { name: "out", short: "o" }
  ],
  positional: ["TOPIC"]
}

const ok = (args: ReadonlyArray<string>) => {
  const parsed = Args.parse(spec, args)
  if (parsed instanceof UsageError) throw parsed
  return parsed
}
const error = (args: ReadonlyArray<string>) => {
  const parsed = Args.parse(spec, args)
  if (!(parsed instanceof UsageError)) throw new Error("expected a UsageError")
  return parsed.message
}

describe("Args.parse", () => {
  it("reads values, inline values, repeatable options in order, flags, short names and positionals", () => {
    const parsed = ok(["--listen", "h:1", "--seed=a", "t", "--seed", "b", "--json", "-o", "file"])
    expect(Args.all(parsed, "seed")).toEqual(["a", "b"])
    expect(Args.one(parsed, "listen")).toBe("h:1")
    expect(Args.one(parsed, "out")).toBe("file")
    expect(parsed.flags.has("json")).toBe(true)
    expect(parsed.positional).toEqual(["t"])
  })

  it("keeps everything after -- positional and takes a dash-leading value only inline", () => {
    expect(ok(["--listen", "x", "--", "--json"]).positional).toEqual(["--json"])
    expect(Args.one(ok(["--listen=-weird", "t"]), "listen")).toBe("-weird")
  })

  it("reports each mistake in one line naming the command", () => {
    expect(error(["--listen", "x", "t", "--bogus", "1"])).toBe("demo: unknown option --bogus")
    expect(error(["--listen", "x", "t", "-x"])).toBe("demo: unknown option -x")
    expect(error(["--listen", "--json", "t"])).toBe("demo: --listen needs a value")
    expect(error(["--listen", "x", "--listen", "y", "t"])).toBe("demo: --listen may be given only once")
    expect(error(["--listen", "x", "--json=yes", "t"])).toBe("demo: --json takes no value")
    expect(error(["t"])).toBe("demo: --listen is required")
    expect(error(["--listen", "x"])).toBe("demo: missing TOPIC")
    expect(error(["--listen", "x", "t", "u"])).toBe('demo: unexpected argument "u"')
  })

  it("reads integers within bounds", () => {
    const parsed = ok(["--listen", "5", "t", "--seed", "x"])
    expect(Args.integer(parsed, "demo", "listen", 0, 1, 10)).toBe(5)
    expect(Args.integer(parsed, "demo", "out", 7)).toBe(7)
    expect(Args.integer(parsed, "demo", "listen", 0, 6)).toBeInstanceOf(UsageError)
    expect(Args.integer(parsed, "demo", "seed", 0)).toBeInstanceOf(UsageError)
  })
})

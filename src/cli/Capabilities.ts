/**
 * Capability files: the UCAN delegations `macula realm issue` writes and client commands read
 * with `--cap FILE`.
 *
 * A capability file is a CBOR sequence (RFC 8742): the delegation envelopes, each exactly as
 * signed, one after the other with nothing between them. A file holding one delegation is
 * therefore just that delegation, which `Ucan.decode` reads directly; a file with several (one
 * per command) splits back into them here.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { decodeFirst, Tagged } from "cborg"
import * as Ucan from "../identity/ucan/index.ts"
import { UsageError } from "./Args.ts"

/**
 * The bytes of a capability file holding `delegations`, in order.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (delegations: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(delegations.reduce((n, d) => n + d.length, 0))
  let at = 0
  for (const d of delegations) {
    out.set(d, at)
    at += d.length
  }
  return out
}

// Links (tag 42) may appear in token payloads; only item boundaries matter here.
const tags = { 42: Tagged.decoder(42) }

/**
 * The delegations of a capability file, each checked with `Ucan.decode`. Throws a `UcanError`
 * (`MalformedToken`) or an `Error` naming the item that does not parse.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array): ReadonlyArray<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let rest = bytes
  while (rest.length > 0) {
    let remainder: Uint8Array
    try {
      remainder = decodeFirst(rest, { tags })[1]
    } catch (error) {
      throw new Error(`item ${out.length + 1} is not CBOR: ${error instanceof Error ? error.message : String(error)}`)
    }
    const item = rest.subarray(0, rest.length - remainder.length)
    Ucan.decode(item)
    out.push(item.slice())
    rest = remainder
  }
  if (out.length === 0) throw new Error("the file holds no delegation")
  return out
}

/**
 * The delegations of `--cap` files, in order, for a client command. Each file must hold at least
 * one delegation (an invocation is not one), none of them expired at `nowSec`. Throws a
 * `UsageError` (exit 2) naming the file and what is wrong with it, in one line.
 *
 * @since 0.1.0
 * @category io
 */
export const readFiles = (
  command: string,
  files: ReadonlyArray<string>,
  nowSec: number = Math.floor(Date.now() / 1_000)
): ReadonlyArray<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (const file of files) {
    const fail = (why: string) => new UsageError({ message: `${command}: --cap ${file}: ${why}` })
    let bytes: Uint8Array
    try {
      // A plain Uint8Array, not the Buffer subclass: the envelopes travel on as frame fields.
      bytes = new Uint8Array(readFileSync(file))
    } catch (error) {
      throw fail(`cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
    }
    let items: ReadonlyArray<Uint8Array>
    try {
      items = decode(bytes)
    } catch (error) {
      throw fail(`not a capability file (${(error instanceof Error ? error.message : String(error)).split("\n")[0]})`)
    }
    items.forEach((item, i) => {
      const token = Ucan.decode(item)
      const which = items.length === 1 ? "the token" : `item ${i + 1}`
      if (token.kind !== "delegation") throw fail(`${which} is an invocation, not a delegation`)
      if (token.exp !== null && token.exp < nowSec) {
        throw fail(`${which} (${token.cmd}) expired at ${new Date(token.exp * 1_000).toISOString()}; ask for a new one`)
      }
    })
    out.push(...items)
  }
  return out
}

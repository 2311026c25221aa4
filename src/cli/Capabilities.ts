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
import { decodeFirst } from "cborg"
import * as Ucan from "../identity/ucan/index.ts"

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
const tags: Array<(inner: unknown) => unknown> = []
tags[42] = (inner) => inner

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

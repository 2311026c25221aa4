/**
 * Builders for UCAN tests: deterministic identities, chains of delegations, and raw envelopes with
 * hand-made (possibly non-canonical) signed payloads.
 */
import { encode as cborEncode } from "cborg"
import { concat as concatBytes } from "../../../../src/core/Bytes.ts"
import { Identity } from "../../../../src/identity/Identity.ts"
import * as Ucan from "../../../../src/identity/ucan/index.ts"
import type { Policy } from "../../../../src/identity/ucan/index.ts"

/** An identity from a one-byte seed pattern: same `n`, same key, every run. */
export const identity = (n: number): Identity => Identity.fromSeed(new Uint8Array(32).fill(n))

/** A fixed nonce, so tokens are reproducible. */
export const nonce = (n: number): Uint8Array => new Uint8Array(12).fill(n)

export const NOW = 1_750_000_000

export interface Link {
  readonly command?: string
  readonly policy?: Policy
  readonly expiration?: number | null
  readonly notBefore?: number
  /** `null` for a powerline; default: the root's issuer. */
  readonly subject?: string | null
}

/**
 * A chain of delegations `principals[0] → principals[1] → … → principals[n]` about `principals[0]`
 * (unless a link says otherwise), and an invocation by the last principal.
 */
export const chain = (
  principals: ReadonlyArray<Identity>,
  links: ReadonlyArray<Link>,
  invocation: {
    readonly command: string
    readonly args?: object
    readonly subject?: string
    readonly expiration?: number | null
    readonly audience?: string
  }
): { readonly proofs: ReadonlyArray<Uint8Array>; readonly invocation: Uint8Array } => {
  const root = principals[0]!
  const proofs = links.map((link, i) =>
    Ucan.delegate({
      issuer: principals[i]!,
      audience: principals[i + 1]!.did,
      subject: link.subject === undefined ? root.did : link.subject,
      command: link.command ?? "/",
      policy: link.policy ?? [],
      expiration: link.expiration === undefined ? NOW + 3_600 : link.expiration,
      ...(link.notBefore !== undefined ? { notBefore: link.notBefore } : {}),
      nonce: nonce(i + 1)
    })
  )
  const invoker = principals[links.length]!
  const inv = Ucan.invoke({
    issuer: invoker,
    subject: invocation.subject ?? root.did,
    command: invocation.command,
    args: invocation.args ?? {},
    proofs: proofs.map((p) => Ucan.cid(p)),
    expiration: invocation.expiration === undefined ? NOW + 300 : invocation.expiration,
    ...(invocation.audience !== undefined ? { audience: invocation.audience } : {}),
    nonce: nonce(99)
  })
  return { proofs, invocation: inv }
}

/**
 * An envelope around a hand-encoded signed payload. `payload` is given as a JS `Map` (insertion
 * order kept: cborg's sorter is disabled), so tests can write non-canonical key orders.
 */
export const rawEnvelope = (signer: Identity, signedPayload: Uint8Array): Uint8Array => {
  const signature = signer.sign(signedPayload)
  return concatBytes(Uint8Array.of(0x82), cborEncode(signature), signedPayload)
}

/** CBOR of a value with maps in insertion order (no canonical sorting). */
export const unsortedCbor = (value: unknown): Uint8Array => cborEncode(value, { mapSorter: () => 0, float64: true })

export const header = Uint8Array.of(0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71)

/** DAG-CBOR key order: shorter first, then byte-wise (ASCII keys here). */
const canonicalOrder = (a: string, b: string): number => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)

/** A minimal delegation payload as a `Map` in canonical key order, with `extra` fields merged in. */
export const delegationPayload = (issuer: Identity, audience: string, extra: Record<string, unknown> = {}): Map<string, unknown> => {
  const fields: Record<string, unknown> = { aud: audience, cmd: "/", exp: null, iss: issuer.did, pol: [], sub: issuer.did, nonce: nonce(7), ...extra }
  return new Map(Object.keys(fields).sort(canonicalOrder).map((k) => [k, fields[k]]))
}

/** Replaces the first occurrence of `find` in `bytes` by `replace`. */
export const patch = (bytes: Uint8Array, find: ReadonlyArray<number>, replace: ReadonlyArray<number>): Uint8Array => {
  outer: for (let i = 0; i + find.length <= bytes.length; i++) {
    for (let j = 0; j < find.length; j++) if (bytes[i + j] !== find[j]) continue outer
    return concatBytes(bytes.subarray(0, i), Uint8Array.from(replace), bytes.subarray(i + find.length))
  }
  throw new Error("patch: pattern not found")
}

export const ascii = (text: string): ReadonlyArray<number> => [...text].map((c) => c.charCodeAt(0))

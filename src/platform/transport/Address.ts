/**
 * Node addresses (PROTOCOL.md §3.2, §3.2a): `quic://host:port` or `tls://host:port`, IPv6
 * literals in brackets, port 4433 when omitted, and an optional `#did:key:…` fragment pinning
 * the peer's DID. Parsing is total: a malformed address is `undefined`, never an exception.
 *
 * @since 0.1.0
 */

/**
 * The default station port (§0.3), on UDP for QUIC and TCP for TLS.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPort = 4433

/**
 * A parsed address.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly scheme: "quic" | "tls"
  /** Host name or IP literal, without brackets. */
  readonly host: string
  readonly port: number
  /** The pinned peer DID, when the address carries one. */
  readonly did?: string
}

const pattern = /^(quic|tls):\/\/(\[[0-9A-Fa-f:.]+\]|[^\s/:#[\]]+)(?::(\d{1,5}))?\/?(?:#(did:key:z[1-9A-HJ-NP-Za-km-z]+))?$/

/**
 * Parses `quic://host:port#did`; `undefined` if malformed (unknown scheme, port out of range,
 * junk after the host, a fragment that is not a `did:key`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (text: string): Address | undefined => {
  const m = pattern.exec(text)
  if (m === null) return undefined
  const port = m[3] === undefined ? defaultPort : Number(m[3])
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return undefined
  const rawHost = m[2]!
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost
  const base = { scheme: m[1] as "quic" | "tls", host, port }
  return m[4] === undefined ? base : { ...base, did: m[4] }
}

/**
 * Formats an address; IPv6 literals get brackets.
 *
 * @since 0.1.0
 * @category encoding
 */
export const format = (address: Address): string => {
  const host = address.host.includes(":") ? `[${address.host}]` : address.host
  const base = `${address.scheme}://${host}:${address.port}`
  return address.did === undefined ? base : `${base}#${address.did}`
}

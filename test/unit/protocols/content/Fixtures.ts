/**
 * Content, configs and small drivers shared by the content core tests.
 */
import * as Content from "../../../../src/content/Content.ts"
import * as Hooks from "../../../../src/content/Hooks.ts"
import * as Mcid from "../../../../src/content/Mcid.ts"
import * as Config from "../../../../src/protocols/content/Config.ts"
import type * as Fetch from "../../../../src/protocols/content/Fetch.ts"

export const CS = 262_144

export const config = (knobs: Partial<Config.Knobs> = {}): Config.Config => Config.make(Hooks.hooks, { ...Config.local, ...knobs })

export const contentOf = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = (Math.imul(seed, 0x9e3779b1) ^ 0x5bd1e995) | 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 255
  }
  return out
}

/** Content laid out as blocks, with a lookup by MCID key (hex of the 34 bytes). */
export const layout = (data: Uint8Array) => {
  const l = Content.describe(data)
  const byHex = new Map<string, Uint8Array>()
  for (const b of Content.blocks(l)) byHex.set(Buffer.from(Mcid.bytes(b.mcid)).toString("hex"), b.bytes)
  return { layout: l, target: Mcid.bytes(l.mcid), byHex, manifestBytes: l._tag === "chunked" ? l.manifestBytes : undefined }
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

/** A raw-block MCID's 34 bytes (version 1, codec raw) numbered `n` (0..65 535): distinct, never hashed. */
export const mcidN = (n: number): Uint8Array => {
  const m = new Uint8Array(34)
  m[0] = 1
  m[1] = 0x55
  m[2] = n & 255
  m[3] = n >> 8
  return m
}

export const sends = (commands: ReadonlyArray<Fetch.Command>, to?: string) =>
  commands.flatMap((c) => c._tag === "Send" && (to === undefined || c.to === to) ? [c] : [])

export const wantedBy = (commands: ReadonlyArray<Fetch.Command>, to: string): ReadonlyArray<string> =>
  sends(commands, to).flatMap((c) => c.frame.t === "content.want" ? c.frame.w.map((e) => hex(e.m)) : [])

export const cancelledAt = (commands: ReadonlyArray<Fetch.Command>, to: string): ReadonlyArray<string> =>
  sends(commands, to).flatMap((c) => c.frame.t === "content.cancel" ? c.frame.c.map(hex) : [])

export const tags = (commands: ReadonlyArray<{ readonly _tag: string }>): ReadonlyArray<string> => commands.map((c) => c._tag)

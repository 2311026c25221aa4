/**
 * The foundations suite: the wire codec, Ed25519 verification and UCAN chains, each against
 * a baseline measured in the same run.
 *
 * - `frame_decode` / `frame_encode`: one ~100-byte `sub` frame through the codec (pre-scan,
 *   msgpack, field validation) against `JSON.parse` / `JSON.stringify` of the same data, with
 *   bytes as arrays of numbers (`json`) and as base64 strings (`json_base64`);
 * - `ed25519_verify`: the strict hot path (byte checks + platform verify, cached key objects)
 *   against `@noble/ed25519` strict verify;
 * - `ucan_chain_verify`: a member invocation with a 3-link delegation chain, fully validated.
 */
import * as ed from "@noble/ed25519"
import { sha512 } from "@noble/hashes/sha2.js"
import * as Ed25519 from "../../src/identity/Ed25519.ts"
import { Identity } from "../../src/identity/Identity.ts"
import * as Ucan from "../../src/identity/ucan/Ucan.ts"
import * as Codec from "../../src/wire/Codec.ts"
import type { Frame } from "../../src/wire/Frame.ts"
import { collectGarbage, interleaved, medians, now } from "./Measure.ts"
import type { Result, SuiteOptions, SuiteResult } from "./Report.ts"

ed.hashes.sha512 ??= sha512

/** Runs `body` `n` times and returns operations per second. */
const rate = (n: number, body: (i: number) => unknown): Promise<number> => {
  let sink: unknown
  const start = now()
  for (let i = 0; i < n; i++) sink = body(i)
  const elapsed = now() - start
  if (sink === Symbol.for("never")) throw new Error("unreachable")
  return Promise.resolve((n / elapsed) * 1_000)
}

const sampleFrame: Frame = {
  t: "sub",
  id: 4_211,
  sid: 17,
  realm: new Uint8Array(32).map((_, i) => (i * 37) & 0xff),
  pat: "io.macula/acme/billing/invoices/issued_v1",
  mode: "alo",
  cur: 1_024
} as Frame

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64")
const jsonWithArrays = (frame: Frame) =>
  JSON.stringify(frame, (_key, value: unknown) => (value instanceof Uint8Array ? Array.from(value) : value))
const jsonWithBase64 = (frame: Frame) =>
  JSON.stringify(frame, (_key, value: unknown) => (value instanceof Uint8Array ? base64(value) : value))

const codecResults = async (options: SuiteOptions): Promise<ReadonlyArray<Result>> => {
  const n = options.quick ? 20_000 : 300_000
  const encoded = Codec.encode(sampleFrame)
  if (!(encoded instanceof Uint8Array)) throw new Error(`cannot encode the sample: ${encoded.message}`)
  const bytes = encoded.slice()
  const jsonArrays = jsonWithArrays(sampleFrame)
  const jsonBase64 = jsonWithBase64(sampleFrame)
  const rounds = { rounds: options.quick ? 3 : 7, warmup: 2 }
  options.log(`frame codec: ${bytes.length}-byte frame (${bytes.length - 4}-byte body), ${n} ops × ${rounds.rounds}`)
  const decode = medians(await interleaved({
    codec: () => rate(n, () => Codec.decode(bytes)),
    json: () => rate(n, () => JSON.parse(jsonArrays)),
    json_base64: () => rate(n, () => JSON.parse(jsonBase64))
  }, rounds))
  const encode = medians(await interleaved({
    codec: () => rate(n, () => Codec.encode(sampleFrame)),
    json: () => rate(n, () => jsonWithArrays(sampleFrame)),
    json_base64: () => rate(n, () => jsonWithBase64(sampleFrame))
  }, rounds))
  return [
    {
      name: "frame_decode",
      unit: "frames/s",
      value: decode.codec,
      baselines: { json: decode.json, json_base64: decode.json_base64 },
      note: `a ${bytes.length - 4}-byte sub frame: prefix check, pre-scan, msgpack, field validation; ` +
        `json = JSON.parse of the same data (${jsonArrays.length} chars, bytes as number arrays), json_base64 (${jsonBase64.length} chars)`
    },
    {
      name: "frame_encode",
      unit: "frames/s",
      value: encode.codec,
      baselines: { json: encode.json, json_base64: encode.json_base64 },
      note: "validation, msgpack, the outgoing pre-scan and the length prefix; json = JSON.stringify"
    }
  ]
}

const verifyResults = async (options: SuiteOptions): Promise<ReadonlyArray<Result>> => {
  const keys = 64
  const signers = Array.from({ length: keys }, () => Identity.generate())
  const message = new Uint8Array(220).map((_, i) => i & 0xff)
  const signatures = signers.map((s) => s.sign(message))
  const fast = options.quick ? 2_000 : 20_000
  const slow = options.quick ? 200 : 1_500
  const rounds = { rounds: options.quick ? 3 : 5, warmup: 1 }
  options.log(`ed25519_verify: ${keys} keys, ${fast} / ${slow} verifies × ${rounds.rounds}`)
  const verify = medians(await interleaved({
    platform: () => rate(fast, (i) => Ed25519.verify(signers[i % keys]!.publicKey, message, signatures[i % keys]!)),
    noble: () =>
      rate(slow, (i) => ed.verify(signatures[i % keys]!, message, signers[i % keys]!.publicKey, { zip215: false }))
  }, rounds))
  return [{
    name: "ed25519_verify",
    unit: "verifies/s",
    value: verify.platform,
    baselines: { noble: verify.noble },
    note: "strict RFC 8032: byte checks then node:crypto with cached key objects; noble = @noble/ed25519 verify({ zip215: false })"
  }]
}

const chainResults = async (options: SuiteOptions): Promise<ReadonlyArray<Result>> => {
  const [authority, service, member] = [Identity.generate(), Identity.generate(), Identity.generate()]
  const invoker = Identity.generate()
  const subject = authority.did
  const root = Ucan.delegate({ issuer: authority, audience: service.did, subject, command: "/macula", expiration: null })
  const middle = Ucan.delegate({ issuer: service, audience: member.did, subject, command: "/macula/pubsub", expiration: null })
  const leaf = Ucan.delegate({
    issuer: member,
    audience: invoker.did,
    subject,
    command: "/macula/pubsub/publish",
    policy: [["like", ".topic", "io.example/acme/*"]],
    expiration: null
  })
  const proofs = [root, middle, leaf]
  const invocation = Ucan.invoke({
    issuer: invoker,
    subject,
    command: "/macula/pubsub/publish",
    args: { topic: "io.example/acme/app/orders/placed_v1" },
    proofs: proofs.map((p) => Ucan.cid(p)),
    expiration: null
  })
  const nowSec = 1_800_000_000
  const check = Ucan.verifyInvocation(invocation, proofs, { now: nowSec })
  if (!check.ok) throw new Error(`the sample chain does not verify: ${check.error.name} ${check.error.message}`)
  const n = options.quick ? 200 : 2_000
  options.log(`ucan_chain_verify: ${n} chains`)
  collectGarbage()
  const samples = (await interleaved({ chain: () => rate(n, () => Ucan.verifyInvocation(invocation, proofs, { now: nowSec })) }, {
    rounds: options.quick ? 3 : 5,
    warmup: 1
  }))
  return [{
    name: "ucan_chain_verify",
    unit: "chains/s",
    value: medians(samples).chain,
    baselines: {},
    note: "an invocation with 3 delegations (a like-policy on the leaf): 4 signatures, CIDs, principal and subject alignment, time, policy"
  }]
}

/** The suite entry point used by `npm run bench -- foundations`. */
export const run = async (options: SuiteOptions): Promise<SuiteResult> => ({
  suite: "foundations",
  results: [...(await codecResults(options)), ...(await verifyResults(options)), ...(await chainResults(options))],
  targets: [
    { result: "frame_decode", baseline: "json", atLeast: 1.5 },
    { result: "ed25519_verify", baseline: "noble", atLeast: 8 }
  ]
})

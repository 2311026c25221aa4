/**
 * The mesh suite (`npm run bench -- mesh --json FILE`): pub/sub and RPC through in-process
 * `MaculaNode`s (stations and clients, each on its own QUIC socket, real QUIC on loopback),
 * each against raw framed QUIC streams of the same transport measured in the same run.
 *
 * - `pubsub_latency_p50_us` / `pubsub_latency_p99_us`: publisher and subscriber are clients of
 *   one station; every event carries its send time, the subscriber's handler takes the
 *   difference. One event at a time (the next leaves `gapMs` after the previous arrived), so
 *   this is the path's latency, never a backlog, however loaded the machine.
 *   `pubsub_latency_two_stations_*`: the subscriber on station A, the publisher on B.
 * - `pubsub_throughput`: events per second published (with a window of unconfirmed publishes)
 *   and delivered to each of 10 subscribers of one station.
 * - `rpc_throughput`: calls per second with a fixed window of calls in flight (caller and
 *   provider are clients of one station; the handler echoes its arguments).
 * - `rpc_calls_per_cpu_s`: the `rpc_throughput` rounds as calls per CPU-second of this process
 *   (every end lives here), which a loaded machine distorts less than calls per second.
 * - `rpc_latency_p50_us` / `rpc_latency_p99_us`: one call at a time.
 *
 * Baselines, all over the same `Transport` (QUIC with the node's defaults, the node's framing):
 * - `raw_quic_oneway`: a 100-byte frame with its send time on one long-lived stream, paced alike;
 * - `raw_quic_relay_oneway`: the same through a relay that forwards frames from one stream to
 *   another (the topology of one station, none of the protocol);
 * - `raw_quic_relay_signed_oneway`: the same relay, the sender signing each frame (Ed25519) and
 *   the relay and the receiver verifying it: the topology and the cryptography one pub/sub hop
 *   asks for (§8.1, §14 row 17), none of the rest;
 * - `raw_quic_fanout`: frames through such a relay to 10 streams, as fast as backpressure allows;
 * - `raw_quic_roundtrip`: request and echoed response on one stream, the same window of requests
 *   in flight (for the latency rows: one at a time); `raw_quic_relay_roundtrip`: through a relay.
 *
 * Each headline ratio is also a row of its own, `NAME_ratio` (unit `×`), so the JSON carries it.
 *
 * Every process-local timestamp is `performance.now()`: all ends live in this one process, so
 * one core does every side's work and a figure is what the whole mesh costs per message.
 */
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Quic from "../../src/platform/transport/Quic.ts"
import * as QuicConfig from "../../src/platform/transport/QuicConfig.ts"
import type { FrameStream } from "../../src/platform/transport/Transport.ts"
import * as Ed25519 from "../../src/identity/Ed25519.ts"
import { MaculaNode } from "../../src/node/index.ts"
import type { SubscriptionEvent } from "../../src/node/Mesh.ts"
import { interleaved, medians, now, percentile } from "./Measure.ts"
import type { Result, SuiteOptions, SuiteResult } from "./Report.ts"

const realm = "io.bench"
/** No proof of work on station keys: start-up cost is not what is measured. */
const knobs = { stationPowBits: 0 } as const
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const round1 = (n: number) => Math.round(n * 10) / 10

/** Sizes of one run; `quick` shrinks them for a smoke run. */
interface Sizes {
  readonly latencyEvents: number
  readonly gapMs: number
  readonly fanoutEvents: number
  readonly publishWindow: number
  readonly rpcCalls: number
  readonly rpcWindow: number
  readonly rpcSequential: number
  readonly rounds: { readonly rounds: number; readonly warmup: number }
}

const sizesOf = (quick: boolean): Sizes => quick
  ? { latencyEvents: 50, gapMs: 1, fanoutEvents: 200, publishWindow: 16, rpcCalls: 200, rpcWindow: 32, rpcSequential: 50, rounds: { rounds: 1, warmup: 1 } }
  : { latencyEvents: 200, gapMs: 1, fanoutEvents: 500, publishWindow: 16, rpcCalls: 1_000, rpcWindow: 32, rpcSequential: 150, rounds: { rounds: 3, warmup: 1 } }

// ---------------------------------------------------------------------------------------------
// Scoped resources driven from promises
// ---------------------------------------------------------------------------------------------

/** Runs `body` in a long-lived scope (closed by the returned `close`), for set-ups used across rounds. */
const open = async <A>(body: Effect.Effect<A, unknown, Scope.Scope>): Promise<{ readonly value: A; readonly close: () => Promise<void> }> => {
  const scope = Scope.makeUnsafe("sequential")
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  try {
    return { value: await Effect.runPromise(Scope.provide(body, scope)), close }
  } catch (error) {
    await close()
    throw error
  }
}

/** Completes after `count` calls to `hit`, or after `idleMs` without one (then with what arrived). */
const countdown = (count: number, idleMs = 3_000) => {
  let got = 0
  let last = now()
  let finish: () => void = () => undefined
  const done = new Promise<void>((resolve) => (finish = resolve))
  const watchdog = setInterval(() => now() - last > idleMs && finish(), 100)
  void done.then(() => clearInterval(watchdog))
  return {
    hit: () => {
      last = now()
      if (++got >= count) finish()
    },
    done,
    got: () => got,
    /** When the last hit happened. */
    last: () => last
  }
}

// ---------------------------------------------------------------------------------------------
// Raw QUIC baselines: streams of the same transport, no protocol
// ---------------------------------------------------------------------------------------------

/** A QUIC transport end with the node's defaults, on loopback. */
const quicEnd = () => Quic.make(QuicConfig.make(randomBytes(32), { host: "127.0.0.1", quicIdleTimeoutMs: 60_000 }))

/** A stream end driven from promise code: `send` queues a frame, `onFrame` sees every frame that arrives. */
interface RawEnd {
  readonly send: (body: Uint8Array) => void
  /** Sends `count` copies of `body` from one fiber, waiting on backpressure. */
  readonly burst: (body: Uint8Array, count: number) => Promise<void>
  onFrame: (body: Uint8Array) => void
}

/** Wraps `stream`: a fiber in the current scope hands every received frame to `onFrame`. */
const rawEnd = (stream: FrameStream) =>
  Effect.gen(function*() {
    const end: RawEnd = {
      send: (body) => void Effect.runFork(stream.send(body)),
      burst: (body, count) => Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < count; i++) yield* stream.send(body)
      })),
      onFrame: () => undefined
    }
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(stream.receiveMany, (frames) =>
      Effect.sync(() => {
        for (const frame of frames) end.onFrame(frame)
      }))))
    return end
  })

/** Echoes every frame back on the same stream, from a fiber in the current scope. */
const echo = (stream: FrameStream) =>
  Effect.forkScoped(Effect.forever(Effect.flatMap(stream.receiveMany, (frames) => stream.sendAll(frames))))

/** Two transports, one connection, one stream: returns both ends of the stream. */
const rawPair = Effect.gen(function*() {
  const a = yield* quicEnd()
  const b = yield* quicEnd()
  const listener = yield* a.listen
  const near = yield* (yield* b.dial(listener.address)).openStream
  yield* near.send(Uint8Array.of(0))
  const far = yield* (yield* listener.accept).acceptStream
  yield* far.receive
  return { near, far }
})

/**
 * A relay: `ends` transports each dial a hub and open one stream; the hub forwards every frame
 * from end `i` that passes `admit` to the ends `routes(i)`. Returns the ends' sides of the
 * streams, by index.
 */
const rawRelay = (ends: number, routes: (from: number) => ReadonlyArray<number>, admit?: (frame: Uint8Array) => boolean) =>
  Effect.gen(function*() {
    const hub = yield* quicEnd()
    const listener = yield* hub.listen
    const outer: Array<FrameStream> = []
    const inner: Array<FrameStream> = []
    for (let i = 0; i < ends; i++) {
      const end = yield* quicEnd()
      const stream = yield* (yield* end.dial(listener.address)).openStream
      yield* stream.send(Uint8Array.of(i))
      const accepted = yield* (yield* listener.accept).acceptStream
      const hello = yield* accepted.receive
      outer[i] = stream
      inner[hello[0]!] = accepted
    }
    for (let i = 0; i < ends; i++) {
      const targets = routes(i).map((j) => inner[j]!)
      if (targets.length === 0) continue
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(inner[i]!.receiveMany, (received) => {
        const frames = admit === undefined ? received : received.filter(admit)
        return Effect.forEach(targets, (target) => target.sendAll(frames), { discard: true })
      })))
    }
    return outer
  })

const RAW_BYTES = 100

/** A 100-byte frame whose first 8 bytes are `performance.now()`. */
const stamped = (): Uint8Array => {
  const body = new Uint8Array(RAW_BYTES)
  new DataView(body.buffer).setFloat64(0, now())
  return body
}
const stampOf = (body: Uint8Array): number => new DataView(body.buffer, body.byteOffset, 8).getFloat64(0)

/**
 * The cryptography one pub/sub hop asks for (§8.1, §14 row 17): the publisher signs its event,
 * the station verifies it before forwarding, the subscriber verifies it end to end. A signed
 * frame is the 64-byte Ed25519 signature, then a stamped body; the node's own primitives.
 */
const signer = (() => {
  const key = Ed25519.signingKey(new Uint8Array(randomBytes(32)))
  const publicKey = key.publicKey
  return {
    sign: (): Uint8Array => {
      const body = stamped()
      const frame = new Uint8Array(64 + body.length)
      frame.set(Ed25519.signWith(key, body))
      frame.set(body, 64)
      return frame
    },
    verified: (frame: Uint8Array): boolean => Ed25519.verify(publicKey, frame.subarray(64), frame.subarray(0, 64))
  }
})()

// ---------------------------------------------------------------------------------------------
// Drivers shared by the node and the raw cases
// ---------------------------------------------------------------------------------------------

/** An arrival lost on the way is given up after this long. */
const LOST_AFTER_MS = 2_000

/**
 * One latency round of `count` messages. Closed loop: the next message leaves `gapMs` after the
 * previous one arrived (or was given up), so no message ever queues behind another and the
 * figure is the path's latency whatever the machine's load, never a backlog. `bind` installs the
 * receiver, which reports each arrival's latency in µs. Resolves with the samples.
 */
const latencyRound = async (
  count: number,
  gapMs: number,
  bind: (arrived: (us: number) => void) => void,
  emit: () => Promise<void> | void
): Promise<Array<number>> => {
  const samples: Array<number> = []
  let arrived: () => void = () => undefined
  bind((us) => {
    samples.push(us)
    arrived()
  })
  const sent: Array<Promise<void> | void> = []
  for (let i = 0; i < count; i++) {
    let timer: ReturnType<typeof setTimeout> | undefined
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve
      timer = setTimeout(resolve, LOST_AFTER_MS)
    })
    sent.push(emit())
    await arrival
    clearTimeout(timer)
    await sleep(gapMs)
  }
  await Promise.all(sent)
  bind(() => undefined)
  return samples
}

/**
 * `total` operations with at most `window` in flight: `start()` begins one. Resolves with
 * operations per second and each operation's latency in µs; rejects with the first failure.
 */
const windowed = (
  total: number,
  window: number,
  start: () => Promise<unknown>
): Promise<{ readonly rate: number; readonly latencies: Array<number> }> =>
  new Promise((resolve, reject) => {
    const latencies: Array<number> = []
    let issued = 0
    let completed = 0
    const begin = now()
    const next = (): void => {
      issued++
      const t = now()
      start().then(() => {
        latencies.push((now() - t) * 1_000)
        if (++completed === total) resolve({ rate: total / ((now() - begin) / 1_000), latencies })
        else if (issued < total) next()
      }, reject)
    }
    for (let i = 0; i < Math.min(window, total); i++) next()
  })

// ---------------------------------------------------------------------------------------------
// The mesh
// ---------------------------------------------------------------------------------------------

const seedOf = (station: MaculaNode) => `${station.address}#${station.did}`

const client = (station: MaculaNode) => MaculaNode.start({ role: "client", realm, seeds: [seedOf(station)], knobs })

/** Two linked stations: B dialled A and each sees the other alive. */
const stations = async (): Promise<{ readonly a: MaculaNode; readonly b: MaculaNode }> => {
  const a = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", knobs })
  const b = await MaculaNode.start({ role: "station", listen: "127.0.0.1:0", seeds: [seedOf(a)], knobs })
  const alive = async (node: MaculaNode, did: string) =>
    ((await node.membership())?.members ?? []).some((m) => m.did === did && m.status === "alive")
  const deadline = now() + 30_000
  while (!((await alive(a, b.did)) && (await alive(b, a.did)))) {
    if (now() > deadline) throw new Error("the two stations did not see each other alive within 30 s")
    await sleep(50)
  }
  return { a, b }
}

/** Publishes on `topic` until `got()` turns true: the subscriber's interest has reached the publisher's station. */
const untilRouted = async (publisher: MaculaNode, topic: string, got: () => boolean): Promise<void> => {
  const deadline = now() + 30_000
  while (!got()) {
    if (now() > deadline) throw new Error(`no event on ${topic} reached its subscriber within 30 s`)
    await publisher.publish(topic, { warm: true })
    await sleep(50)
  }
}

/**
 * Counts failed operations instead of failing the round: on a loaded machine a publish or call
 * may time out, which the notes report (the node's answer, not a defect of the benchmark).
 */
const failures = { publish: 0, call: 0 }
const counted = (kind: keyof typeof failures, p: Promise<unknown>): Promise<void> =>
  p.then(() => undefined, () => void failures[kind]++)

const timeOf = (event: SubscriptionEvent): number | undefined => {
  const payload = event.payload as { t?: unknown } | null
  return typeof payload?.t === "number" ? payload.t : undefined
}

const latencyResults = async (a: MaculaNode, b: MaculaNode, sizes: Sizes, log: SuiteOptions["log"]): Promise<ReadonlyArray<Result>> => {
  const oneHop = `${realm}/bench/mesh/latency/one_v1`
  const twoHop = `${realm}/bench/mesh/latency/two_v1`
  const sub = await client(a)
  const pubA = await client(a)
  const pubB = await client(b)
  const raw = await open(Effect.gen(function*() {
    const pair = yield* rawPair
    const relay = yield* rawRelay(2, (i) => (i === 0 ? [1] : []))
    const signedRelay = yield* rawRelay(2, (i) => (i === 0 ? [1] : []), signer.verified)
    return {
      direct: { from: yield* rawEnd(pair.near), to: yield* rawEnd(pair.far) },
      relayed: { from: yield* rawEnd(relay[0]!), to: yield* rawEnd(relay[1]!) },
      signed: { from: yield* rawEnd(signedRelay[0]!), to: yield* rawEnd(signedRelay[1]!) }
    }
  }))
  try {
    let onOne: (us: number) => void = () => undefined
    let onTwo: (us: number) => void = () => undefined
    let warm = 0
    const handler = (deliver: () => (us: number) => void) => (event: SubscriptionEvent) => {
      const t = timeOf(event)
      if (t === undefined) warm++
      else deliver()((now() - t) * 1_000)
    }
    await sub.subscribe(oneHop, handler(() => onOne))
    await sub.subscribe(twoHop, handler(() => onTwo))
    await untilRouted(pubA, oneHop, () => warm > 0)
    const before = warm
    await untilRouted(pubB, twoHop, () => warm > before)
    const { direct, relayed, signed } = raw.value
    for (const path of [direct, relayed, signed]) path.to.onFrame = () => undefined
    const rawCase = (path: { readonly from: RawEnd; readonly to: RawEnd }) => () =>
      latencyRound(sizes.latencyEvents, sizes.gapMs, (arrived) => {
        path.to.onFrame = (body) => arrived((now() - stampOf(body)) * 1_000)
      }, () => path.from.send(stamped()))
    const signedCase = () =>
      latencyRound(sizes.latencyEvents, sizes.gapMs, (arrived) => {
        signed.to.onFrame = (frame) => {
          if (signer.verified(frame)) arrived((now() - stampOf(frame.subarray(64))) * 1_000)
        }
      }, () => signed.from.send(signer.sign()))
    const nodeCase = (publisher: MaculaNode, topic: string, bind: (f: (us: number) => void) => void) => () =>
      latencyRound(sizes.latencyEvents, sizes.gapMs, bind, () => counted("publish", publisher.publish(topic, { t: now() })))
    log(`latency: ${sizes.latencyEvents} events per round, one at a time, ${sizes.gapMs} ms apart, ${sizes.rounds.rounds} rounds`)
    const failedBefore = failures.publish
    const samples = await interleaved({
      one: nodeCase(pubA, oneHop, (f) => (onOne = f)),
      two: nodeCase(pubB, twoHop, (f) => (onTwo = f)),
      raw: rawCase(direct),
      relay: rawCase(relayed),
      signed: signedCase
    }, sizes.rounds)
    const all = (k: keyof typeof samples) => samples[k].flat()
    const at = (k: keyof typeof samples, p: number) => round1(percentile(all(k), p))
    const lost = (k: keyof typeof samples) => sizes.latencyEvents * sizes.rounds.rounds - all(k).length
    const base = (p: number) => ({
      raw_quic_oneway: at("raw", p),
      raw_quic_relay_oneway: at("relay", p),
      raw_quic_relay_signed_oneway: at("signed", p)
    })
    const pace = `one event at a time, the next ${sizes.gapMs} ms after the previous arrived, ${all("one").length} events; ${failures.publish - failedBefore} publishes failed in all`
    return [
      { name: "pubsub_latency_p50_us", unit: "µs", value: at("one", 50), baselines: base(50), note: `publisher and subscriber on one station; ${pace}; ${lost("one")} lost` },
      { name: "pubsub_latency_p99_us", unit: "µs", value: at("one", 99), baselines: base(99) },
      { name: "pubsub_latency_two_stations_p50_us", unit: "µs", value: at("two", 50), baselines: base(50), note: `subscriber on A, publisher on B; ${lost("two")} lost` },
      { name: "pubsub_latency_two_stations_p99_us", unit: "µs", value: at("two", 99), baselines: base(99) }
    ]
  } finally {
    await raw.close()
    await Promise.all([sub.stop(), pubA.stop(), pubB.stop()])
  }
}

const SUBSCRIBERS = 10

const throughputResults = async (a: MaculaNode, sizes: Sizes, log: SuiteOptions["log"]): Promise<ReadonlyArray<Result>> => {
  const topic = `${realm}/bench/mesh/fanout/event_v1`
  const subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => client(a)))
  const publisher = await client(a)
  const raw = await open(Effect.gen(function*() {
    const ends = yield* rawRelay(SUBSCRIBERS + 1, (i) => (i === 0 ? Array.from({ length: SUBSCRIBERS }, (_, j) => j + 1) : []))
    return yield* Effect.forEach(ends, rawEnd)
  }))
  try {
    // Each round publishes events tagged with its number; a late event of an earlier round is ignored.
    let current = -1
    let onEvent: () => void = () => undefined
    let warm = 0
    for (const sub of subs) {
      await sub.subscribe(topic, (event) => {
        const payload = event.payload as { r?: unknown }
        if (payload.r === current) onEvent()
        else if (payload.r === undefined) warm++
      })
    }
    await untilRouted(publisher, topic, () => warm >= SUBSCRIBERS)
    let roundNo = 0
    const delivered: Array<number> = []
    const nodeCase = async () => {
      const n = sizes.fanoutEvents
      current = roundNo++
      const wait = countdown(n * SUBSCRIBERS)
      onEvent = wait.hit
      const start = now()
      const payload = { r: current, body: "x".repeat(64) }
      await windowed(n, sizes.publishWindow, () => counted("publish", publisher.publish(topic, payload)))
      await wait.done
      delivered.push(wait.got() / (n * SUBSCRIBERS))
      return wait.got() / SUBSCRIBERS / ((wait.last() - start) / 1_000)
    }
    const [head, ...tail] = raw.value
    const rawCase = async () => {
      const n = sizes.fanoutEvents * 4
      const wait = countdown(n * SUBSCRIBERS)
      for (const end of tail) end.onFrame = wait.hit
      const start = now()
      await head!.burst(new Uint8Array(RAW_BYTES), n)
      await wait.done
      return wait.got() / SUBSCRIBERS / ((wait.last() - start) / 1_000)
    }
    const failedBefore = failures.publish
    log(`throughput: ${sizes.fanoutEvents} events per round to ${SUBSCRIBERS} subscribers, ${sizes.publishWindow} publishes in flight`)
    const m = medians(await interleaved({ node: nodeCase, raw: rawCase }, sizes.rounds))
    const share = Math.min(...delivered.slice(sizes.rounds.warmup))
    return [{
      name: "pubsub_throughput",
      unit: "events/s",
      value: Math.round(m.node),
      baselines: { raw_quic_fanout: Math.round(m.raw) },
      note: `events/s each of ${SUBSCRIBERS} subscribers of one station received (${sizes.publishWindow} publishes unconfirmed at most; lowest share delivered ${(share * 100).toFixed(1)}%, ${failures.publish - failedBefore} publishes failed); raw = a relay writing each frame to ${SUBSCRIBERS} streams`
    }]
  } finally {
    await raw.close()
    await Promise.all([...subs, publisher].map((n) => n.stop()))
  }
}

const rpcResults = async (a: MaculaNode, sizes: Sizes, log: SuiteOptions["log"]): Promise<ReadonlyArray<Result>> => {
  const procedure = `${realm}/bench/mesh/rpc/echo_v1`
  const provider = await client(a)
  const caller = await client(a)
  const raw = await open(Effect.gen(function*() {
    const pair = yield* rawPair
    yield* echo(pair.far)
    const relay = yield* rawRelay(2, (i) => [1 - i])
    yield* echo(relay[1]!)
    return { direct: yield* rawEnd(pair.near), relayed: yield* rawEnd(relay[0]!) }
  }))
  try {
    await provider.advertise(procedure, (args) => args)
    const deadline = now() + 30_000
    for (;;) {
      try {
        await caller.call(procedure, 0, { timeoutMs: 5_000 })
        break
      } catch (error) {
        if (now() > deadline) throw error
        await sleep(100)
      }
    }
    const args = { body: "x".repeat(64) }
    const nodeStart = () => counted("call", caller.call(procedure, args, { timeoutMs: 30_000 }))
    const rawStart = (end: RawEnd) => {
      // Responses come back in order on one stream: complete the oldest request.
      const pending: Array<() => void> = []
      end.onFrame = () => pending.shift()?.()
      return () => new Promise<void>((done) => {
        pending.push(done)
        end.send(stamped())
      })
    }
    const direct = rawStart(raw.value.direct)
    const relayed = rawStart(raw.value.relayed)
    log(`rpc: ${sizes.rpcCalls} calls per round, ${sizes.rpcWindow} in flight; ${sizes.rpcSequential} one at a time`)
    // Each round also reports its calls per CPU-second of this process (every end lives here):
    // waiting for a core someone else holds costs no CPU, so this moves less with the load.
    const rate = (start: () => Promise<unknown>, scale = 1) => async () => {
      const before = process.cpuUsage()
      const { rate } = await windowed(sizes.rpcCalls * scale, sizes.rpcWindow, start)
      const cpu = process.cpuUsage(before)
      return { rate, perCpu: (sizes.rpcCalls * scale) / ((cpu.user + cpu.system) / 1e6) }
    }
    const rounds = await interleaved({
      node: rate(nodeStart),
      raw: rate(direct, 4),
      relay: rate(relayed, 4)
    }, sizes.rounds)
    const loaded = medians({ node: rounds.node.map((r) => r.rate), raw: rounds.raw.map((r) => r.rate), relay: rounds.relay.map((r) => r.rate) })
    const perCpu = medians({ node: rounds.node.map((r) => r.perCpu), raw: rounds.raw.map((r) => r.perCpu), relay: rounds.relay.map((r) => r.perCpu) })
    const one = (start: () => Promise<unknown>) => async () => (await windowed(sizes.rpcSequential, 1, start)).latencies
    const seq = await interleaved({ node: one(nodeStart), raw: one(direct), relay: one(relayed) }, sizes.rounds)
    const at = (k: keyof typeof seq, p: number) => round1(percentile(seq[k].flat(), p))
    const base = (p: number) => ({ raw_quic_roundtrip: at("raw", p), raw_quic_relay_roundtrip: at("relay", p) })
    return [
      {
        name: "rpc_throughput",
        unit: "calls/s",
        value: Math.round(loaded.node),
        baselines: { raw_quic_roundtrip: Math.round(loaded.raw), raw_quic_relay_roundtrip: Math.round(loaded.relay) },
        note: `caller and provider on one station, ${sizes.rpcWindow} calls in flight, ${failures.call} calls failed; raw = ${RAW_BYTES}-byte request echoed on one stream (direct, or through a relay), same window`
      },
      {
        name: "rpc_calls_per_cpu_s",
        unit: "calls/s",
        value: Math.round(perCpu.node),
        baselines: { raw_quic_roundtrip: Math.round(perCpu.raw), raw_quic_relay_roundtrip: Math.round(perCpu.relay) },
        note: `the rpc_throughput rounds: calls per second of this process's CPU (user + system), every end in this process`
      },
      { name: "rpc_latency_p50_us", unit: "µs", value: at("node", 50), baselines: base(50), note: `one call at a time, ${seq.node.flat().length} calls` },
      { name: "rpc_latency_p99_us", unit: "µs", value: at("node", 99), baselines: base(99) }
    ]
  } finally {
    await raw.close()
    await Promise.all([provider.stop(), caller.stop()])
  }
}

/** The ratios written as rows of their own (the JSON holds no ratios otherwise): result, its baseline. */
const RATIOS: ReadonlyArray<readonly [string, string]> = [
  ["pubsub_latency_p50_us", "raw_quic_oneway"],
  ["pubsub_latency_p99_us", "raw_quic_oneway"],
  ["pubsub_latency_two_stations_p50_us", "raw_quic_oneway"],
  ["pubsub_throughput", "raw_quic_fanout"],
  ["rpc_throughput", "raw_quic_roundtrip"],
  ["rpc_calls_per_cpu_s", "raw_quic_roundtrip"],
  ["rpc_latency_p99_us", "raw_quic_roundtrip"]
]

/** `NAME_ratio` rows: `NAME / baseline`, better in the same direction as `NAME`. */
const ratioRows = (results: ReadonlyArray<Result>): Array<Result> =>
  RATIOS.flatMap(([name, baseline]) => {
    const result = results.find((r) => r.name === name)
    const base = result?.baselines[baseline]
    if (result === undefined || base === undefined || base === 0) return []
    const stem = name.replace(/_us$/, "")
    return [{
      name: `${stem}_ratio`,
      unit: "×",
      value: Number((result.value / base).toPrecision(3)),
      baselines: {},
      better: result.unit.endsWith("/s") ? "higher" as const : "lower" as const,
      note: `${name} / ${baseline}`
    }]
  })

/** The suite entry point used by `npm run bench -- mesh`. */
export const run = async (options: SuiteOptions): Promise<SuiteResult> => {
  const sizes = sizesOf(options.quick)
  const began = now()
  const log = (line: string) => options.log(`[${((now() - began) / 1_000).toFixed(0)} s] ${line}`)
  log("starting two linked stations")
  failures.publish = 0
  failures.call = 0
  const { a, b } = await stations()
  try {
    // `BENCH_MESH_ONLY=pubsub` skips the RPC rows: a quicker before/after for pub/sub work.
    const only = process.env["BENCH_MESH_ONLY"]
    const results = [
      ...(only === "rpc" ? [] : await latencyResults(a, b, sizes, log)),
      ...(only === "rpc" ? [] : await throughputResults(a, sizes, log)),
      ...(only === "pubsub" ? [] : await rpcResults(a, sizes, log))
    ]
    log(`done; ${failures.publish} publishes and ${failures.call} calls failed`)
    return {
      suite: "mesh",
      results: [...results, ...ratioRows(results)],
      targets: [
        { result: "pubsub_latency_p50_us", baseline: "raw_quic_oneway", atMost: 2 },
        { result: "rpc_throughput", baseline: "raw_quic_roundtrip", atLeast: 0.5 }
      ]
    }
  } finally {
    await Promise.all([b.stop(), a.stop()])
  }
}

/**
 * A keyed table of one-shot timers for an actor that drives a pure step-core.
 *
 * A core asks for time as data (`SetTimer { timer, at, generation }`, `CancelTimer { timer }`);
 * the actor hands those to this table. The table keeps its deadlines in a min-heap and has at
 * most one sleeping fiber, forked in the actor's scope, waiting for the earliest of them; it
 * reads `Clock` (so `TestClock` drives it) and, once a deadline is due, calls `fire` with the
 * key, the generation it was armed with and the firing time. The actor's `fire` usually turns
 * that into an urgent `TimerFired` message to itself.
 *
 * - Arming a key that is already armed disarms the previous timer first: one live timer per key.
 * - `cancel` disarms the key's timer, if any (it will not fire); an unknown key does nothing.
 * - The sleeping fiber lives in the scope given to `make`, so the actor's terminate (its scope
 *   closing) interrupts every timer still armed.
 * - The reported time is never earlier than `at`: a clock at a fractional millisecond can wake
 *   a hair early, and a core told "not yet" would re-arm for ~0 ms and spin until the clock moves.
 *
 * Generations are passed through untouched: the core, not this table, decides whether a fired
 * timer is stale. The table is generic in its key and knows nothing of the mesh.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Fiber } from "effect"
import type { Scope } from "effect"

/**
 * What a timer reports when it fires.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fired<K> {
  readonly timer: K
  readonly generation: number
  /** `Clock` time at wake-up, raised to the deadline if the clock reads a hair early. */
  readonly now: number
}

/**
 * A keyed timer table bound to one actor's scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface CoreTimers<K> {
  /** Arms `timer` to fire at `at` (epoch ms, `Clock` time), replacing any timer armed for it. */
  readonly set: (timer: K, at: number, generation: number) => Effect.Effect<void>
  /** Disarms `timer`; nothing if it is not armed. */
  readonly cancel: (timer: K) => Effect.Effect<void>
  /** `cancel`, synchronously, for callbacks outside Effect. */
  readonly cancelUnsafe: (timer: K) => void
  /** How many timers are armed. */
  readonly size: () => number
}

/** One armed timer; a heap slot fires only while this entry is still its key's. */
interface Armed {
  readonly at: number
  readonly generation: number
}

/** A heap slot: deadline, arming order (ties fire in the order they were armed), key, entry. */
interface Slot<K> {
  readonly at: number
  readonly seq: number
  readonly timer: K
  readonly entry: Armed
}

const before = <K>(a: Slot<K>, b: Slot<K>): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

const push = <K>(heap: Array<Slot<K>>, slot: Slot<K>): void => {
  let i = heap.length
  heap.push(slot)
  while (i > 0) {
    const parent = (i - 1) >>> 1
    if (!before(slot, heap[parent]!)) break
    heap[i] = heap[parent]!
    i = parent
  }
  heap[i] = slot
}

const pop = <K>(heap: Array<Slot<K>>): void => {
  const last = heap.pop()!
  if (heap.length === 0) return
  let i = 0
  for (;;) {
    const l = 2 * i + 1
    if (l >= heap.length) break
    const r = l + 1
    const child = r < heap.length && before(heap[r]!, heap[l]!) ? r : l
    if (!before(heap[child]!, last)) break
    heap[i] = heap[child]!
    i = child
  }
  heap[i] = last
}

/**
 * A table whose one sleeping fiber is forked in `scope` and which reports each firing to
 * `fire`. `fire` runs synchronously in that fiber after the key has left the table, so a `set`
 * made from it (or from the message it sends) arms afresh.
 *
 * A request/reply protocol arms and cancels a deadline per request, so both are plain map and
 * heap operations: disarming (by `cancel` or a new `set`) only takes the key out of the table
 * (its heap slot, now stale, is skipped when it comes up, and the heap is rebuilt once stale
 * slots outnumber live ones); arming starts a fiber only when the new deadline is earlier than
 * the one the sleeping fiber waits for (or none sleeps). Per request that is no fiber, no
 * `setTimeout` and no interruption, where a fiber per timer cost all three.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <K>(
  scope: Scope.Scope,
  fire: (fired: Fired<K>) => void,
  options?: {
    /**
     * Interrupt the sleeping fiber as soon as no timer is armed, rather than letting it wake at
     * its (now stale) deadline and end. For a table whose scope never closes: a pending
     * `setTimeout` keeps the process alive. @default false
     */
    readonly stopWhenIdle?: boolean
  }
): CoreTimers<K> => {
  const stopWhenIdle = options?.stopWhenIdle === true
  const armed = new Map<K, Armed>()
  let heap: Array<Slot<K>> = []
  let seq = 0
  /** The sleeping fiber and the deadline it waits for (`Infinity`: none). */
  let sleeper: Fiber.Fiber<void, never> | undefined
  let sleepingUntil = Infinity
  /** Counts sleepers, so an interrupted one that still wakes does nothing. */
  let runs = 0
  /** While due timers fire: a `set` from `fire` must not start a second sleeper. */
  let sweeping = false

  const compact = (): void => {
    if (heap.length <= 2 * armed.size + 64) return
    const live: Array<Slot<K>> = []
    for (const slot of heap) if (armed.get(slot.timer) === slot.entry) live.push(slot)
    heap = []
    for (const slot of live) push(heap, slot)
  }

  /** Drops stale slots from the top; the earliest live deadline, or `Infinity`. */
  const earliest = (): number => {
    while (heap.length > 0 && armed.get(heap[0]!.timer) !== heap[0]!.entry) pop(heap)
    return heap.length > 0 ? heap[0]!.at : Infinity
  }

  /** Fires every due timer, in deadline order; answers the next deadline. */
  const sweep = (now: number): number => {
    sweeping = true
    try {
      for (;;) {
        const at = earliest()
        if (at > now) return at
        const slot = heap[0]!
        pop(heap)
        armed.delete(slot.timer)
        fire({ timer: slot.timer, generation: slot.entry.generation, now: Math.max(now, slot.at) })
      }
    } finally {
      sweeping = false
    }
  }

  /** Sleeps until `at`, fires what is due, and goes on while deadlines remain. */
  const wait = (run: number, at: number): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (start) =>
      Effect.flatMap(Effect.sleep(Math.max(0, at - start)), () =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (run !== runs) return Effect.void
          const next = sweep(now)
          if (run !== runs) return Effect.void
          if (next === Infinity) {
            sleeper = undefined
            sleepingUntil = Infinity
            return Effect.void
          }
          sleepingUntil = next
          return wait(run, next)
        })))

  /** Makes sure a fiber sleeps until `at` at the latest. */
  const schedule = (at: number): Effect.Effect<void> => {
    if (sweeping || at >= sleepingUntil) return Effect.void
    const previous = sleeper
    const run = ++runs
    sleepingUntil = at
    sleeper = undefined
    previous?.interruptUnsafe()
    return Effect.map(
      Effect.forkIn(wait(run, at), scope, { startImmediately: true }),
      (fiber) => {
        if (run === runs && fiber.pollUnsafe() === undefined) sleeper = fiber
      }
    )
  }

  const cancelUnsafe = (timer: K): void => {
    if (!armed.delete(timer) || armed.size > 0 || sweeping || !stopWhenIdle) return
    // Nothing left to wait for: the sleeper stops, so an idle table holds no fiber and no
    // pending `setTimeout` (which would keep the process alive for a deadline that is gone).
    runs++
    heap = []
    sleepingUntil = Infinity
    const previous = sleeper
    sleeper = undefined
    previous?.interruptUnsafe()
  }
  const cancel = (timer: K): Effect.Effect<void> => Effect.sync(() => cancelUnsafe(timer))
  const set = (timer: K, at: number, generation: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      // In the table before any fiber starts, so a deadline already due finds its entry.
      const entry: Armed = { at, generation }
      armed.set(timer, entry)
      compact()
      push(heap, { at, seq: seq++, timer, entry })
      return schedule(at)
    })
  return { set, cancel, cancelUnsafe, size: () => armed.size }
}

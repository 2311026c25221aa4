/**
 * A bounded mailbox with an explicit overflow policy and a priority lane for system
 * messages (exit signals, monitor notifications, child exits), which are never dropped and
 * never wait behind user traffic.
 *
 * It has exactly one consumer, its owner (the actor), which drains it while messages are
 * waiting and sleeps when it is empty; the mailbox wakes the owner when something arrives.
 * It is a plain class rather than an Effect `Queue`: the owner polls synchronously, and an
 * idle mailbox holds almost nothing (no waiting fiber, no closures).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * What happens when a message arrives at a full mailbox:
 * - `fail`: `cast` fails with `MailboxFull` (the sender decides);
 * - `dropNewest`: the new message is dropped and counted;
 * - `dropOldest`: the oldest waiting message is dropped and counted, the new one kept;
 * - `suspend`: the sender waits until there is room (backpressure).
 *
 * @since 0.1.0
 * @category models
 */
export type OverflowPolicy = "fail" | "dropNewest" | "dropOldest" | "suspend"

/**
 * Mailbox size and overflow policy.
 *
 * @since 0.1.0
 * @category models
 */
export interface MailboxOptions {
  /** Most user messages waiting at once. @default 1_024 */
  readonly capacity?: number
  /** What a full mailbox does with the next message. @default "suspend" */
  readonly overflow?: OverflowPolicy
}

/**
 * The defaults: 1 024 messages, `suspend`. Suspending never loses a message, but two actors
 * that `call` each other through full mailboxes can wait on each other; use `fail` or a drop
 * policy where a sender must never wait.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Required<MailboxOptions> = { capacity: 1_024, overflow: "suspend" }

/**
 * `poll` returns this when nothing is waiting.
 *
 * @since 0.1.0
 * @category constants
 */
export const EMPTY: unique symbol = Symbol.for("macula/runtime/Mailbox/EMPTY")

/**
 * The outcome of a non-blocking offer.
 *
 * @since 0.1.0
 * @category models
 */
export type Offered = "accepted" | "dropped" | "full" | "closed" | "wait"

interface Blocked<A> {
  readonly message: A
  readonly resume: (accepted: boolean) => void
}

/**
 * The consumer of a mailbox: woken when a message arrives while it sleeps.
 *
 * @since 0.1.0
 * @category models
 */
export interface Owner {
  readonly wake: () => void
}

/** Mailboxes whose sleeping owner must be woken, drained once per microtask. */
let toWake: Array<Mailbox<any>> = []

const wakeAll = (): void => {
  const batch = toWake
  toWake = []
  for (const mailbox of batch) mailbox.wakeNow()
}

/**
 * The mailbox. Internal to the runtime; actors expose it only through `cast`, `call` and `stats`.
 *
 * A message to an idle actor is queued and the actor is woken on the next microtask, so a
 * burst of casts costs one wake-up, not one per message; the priority lane wakes it at once.
 * The loop polls after every wake-up, so a wake-up carries no message and a stale one (from an
 * interrupted wait) loses nothing.
 *
 * @since 0.1.0
 * @category models
 */
export class Mailbox<A> {
  private items: Array<A> = []
  private head = 0
  private system: Array<A> | undefined = undefined
  /** The owner, set once; asleep until `wake`. */
  private owner: Owner | undefined = undefined
  private sleeping = false
  private wakeQueued = false
  private blocked: Array<Blocked<A>> | undefined = undefined
  /** No more messages are accepted once closed. */
  closed = false
  /** Messages dropped by the overflow policy or sent after close. */
  dropped = 0

  constructor(readonly capacity: number, readonly overflow: OverflowPolicy) {}

  /** User messages waiting (system messages not counted). */
  get size(): number {
    return this.items.length - this.head
  }

  /**
   * Offers without waiting; under `suspend` a full mailbox answers `wait`. With `urgent` an idle
   * loop is resumed at once instead of on the next microtask: a caller waiting for the reply
   * gains nothing from batching.
   */
  offer(message: A, urgent = false): Offered {
    if (this.closed) {
      this.dropped++
      return "closed"
    }
    if (this.size < this.capacity) {
      this.items.push(message)
      if (urgent) this.wakeNow()
      else this.wakeSoon()
      return "accepted"
    }
    switch (this.overflow) {
      case "dropNewest":
        this.dropped++
        return "dropped"
      case "dropOldest":
        this.shift()
        this.items.push(message)
        this.dropped++
        return "accepted"
      case "fail":
        return "full"
      case "suspend":
        return "wait"
    }
  }

  /** Offers under `suspend`, waiting for room; resolves `false` if the mailbox closes first. */
  offerWaiting(message: A): Effect.Effect<boolean> {
    return Effect.callback<boolean>((resume) => {
      const outcome = this.offer(message)
      if (outcome !== "wait") return resume(Effect.succeed(outcome === "accepted"))
      const entry: Blocked<A> = { message, resume: (accepted) => resume(Effect.succeed(accepted)) }
      ;(this.blocked ??= []).push(entry)
      return Effect.sync(() => {
        const at = this.blocked?.indexOf(entry) ?? -1
        if (at >= 0) this.blocked!.splice(at, 1)
      })
    })
  }

  /** System messages skip the capacity, go before user messages and wake the loop at once. */
  offerSystem(message: A): boolean {
    if (this.closed) return false
    ;(this.system ??= []).push(message)
    this.wakeNow()
    return true
  }

  /** The next message without waiting, or `EMPTY`. */
  poll(): A | typeof EMPTY {
    const system = this.system
    if (system !== undefined && system.length > 0) return system.shift()!
    if (this.head === this.items.length) return EMPTY
    const message = this.shift()
    // Blocked senders come back in batches once half the room is free, not one per message.
    const blocked = this.blocked
    if (blocked !== undefined && blocked.length > 0 && this.size <= this.capacity >>> 1) {
      while (blocked.length > 0 && this.size < this.capacity) {
        const next = blocked.shift()!
        this.items.push(next.message)
        next.resume(true)
      }
    }
    return message
  }

  /** Whether a message (user or system) is waiting. */
  get isEmpty(): boolean {
    return this.head === this.items.length && (this.system === undefined || this.system.length === 0)
  }

  /** The owner goes to sleep; the next message wakes it. */
  sleep(owner: Owner): void {
    this.owner = owner
    this.sleeping = true
  }

  /** Wakes the sleeping owner, if any, right now. */
  wakeNow(): void {
    this.wakeQueued = false
    if (!this.sleeping || this.closed) return
    this.sleeping = false
    this.owner!.wake()
  }

  private wakeSoon(): void {
    if (!this.sleeping || this.wakeQueued) return
    this.wakeQueued = true
    if (toWake.push(this) === 1) queueMicrotask(wakeAll)
  }

  /** Stops accepting messages; waiting senders are released with `false`; returns what was left. */
  close(): number {
    this.closed = true
    const left = this.size + (this.system?.length ?? 0)
    this.items = []
    this.head = 0
    this.system = undefined
    this.sleeping = false
    const blocked = this.blocked
    this.blocked = undefined
    if (blocked !== undefined) for (const entry of blocked) entry.resume(false)
    return left
  }

  private shift(): A {
    const message = this.items[this.head]!
    this.items[this.head] = undefined as A
    this.head++
    if (this.head === this.items.length) {
      this.items.length = 0
      this.head = 0
    } else if (this.head >= 1_024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return message
  }
}

/**
 * A bounded mailbox with an explicit overflow policy and a priority lane for system
 * messages (exit signals, monitor notifications, child exits), which are never dropped and
 * never wait behind user traffic.
 *
 * It has exactly one taker (the actor's loop), so a waiting taker is a single slot. It is a
 * plain class rather than an Effect `Queue`: the loop polls synchronously while messages are
 * waiting and only suspends when it is empty, and an idle mailbox holds almost nothing.
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
 * The mailbox. Internal to the runtime; actors expose it only through `cast`, `call` and `stats`.
 *
 * @since 0.1.0
 * @category models
 */
export class Mailbox<A> {
  private items: Array<A> = []
  private head = 0
  private system: Array<A> | undefined = undefined
  private taker: ((message: A) => void) | undefined = undefined
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

  /** Offers without waiting; under `suspend` a full mailbox answers `wait`. */
  offer(message: A): Offered {
    if (this.closed) {
      this.dropped++
      return "closed"
    }
    const taker = this.taker
    if (taker !== undefined) {
      this.taker = undefined
      taker(message)
      return "accepted"
    }
    if (this.size < this.capacity) {
      this.items.push(message)
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

  /** System messages skip the capacity and go before user messages. Dropped only after close. */
  offerSystem(message: A): boolean {
    if (this.closed) return false
    const taker = this.taker
    if (taker !== undefined) {
      this.taker = undefined
      taker(message)
      return true
    }
    ;(this.system ??= []).push(message)
    return true
  }

  /** The next message without waiting, or `EMPTY`. */
  poll(): A | typeof EMPTY {
    const system = this.system
    if (system !== undefined && system.length > 0) return system.shift()!
    if (this.head === this.items.length) return EMPTY
    const message = this.shift()
    if (this.blocked !== undefined && this.blocked.length > 0) {
      const next = this.blocked.shift()!
      this.items.push(next.message)
      next.resume(true)
    }
    return message
  }

  /** Waits for the next message. Only the owning loop calls this, and only after `poll` came back empty. */
  readonly take: Effect.Effect<A> = Effect.callback<A>((resume) => {
    const ready = this.poll()
    if (ready !== EMPTY) return resume(Effect.succeed(ready))
    this.taker = (message) => resume(Effect.succeed(message))
    return Effect.sync(() => {
      this.taker = undefined
    })
  })

  /** Stops accepting messages; waiting senders are released with `false`; returns what was left. */
  close(): number {
    this.closed = true
    const left = this.size + (this.system?.length ?? 0)
    this.items = []
    this.head = 0
    this.system = undefined
    this.taker = undefined
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

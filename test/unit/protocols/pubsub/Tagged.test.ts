import { describe, expect, it } from "vitest"
import { PubSub } from "../../../../src/protocols/pubsub/index.ts"

const { Notice, RouterCommand, RouterEvent, SessionCommand, SessionEvent } = PubSub

describe("pub/sub tagged constructors", () => {
  it("build plain values: the tag and exactly the given fields", () => {
    const frame = { t: "ok", id: 1 } as const
    expect(RouterCommand.Send({ to: "ab", frame })).toStrictEqual({ _tag: "Send", to: "ab", frame })
    expect(RouterEvent.Flushed({ now: 5, client: "ab", count: 2 })).toStrictEqual({
      _tag: "Flushed", now: 5, client: "ab", count: 2
    })
    expect(SessionEvent.ReplyReceived({ now: 1, frame })).toStrictEqual({ _tag: "ReplyReceived", now: 1, frame })
  })

  it("leave an absent optional field absent", () => {
    const envelope = {} as never
    expect(Object.keys(SessionCommand.Deliver({ sid: 1, envelope }))).not.toContain("cur")
    expect(SessionCommand.Deliver({ sid: 1, envelope, cur: 7 })).toStrictEqual({ _tag: "Deliver", sid: 1, envelope, cur: 7 })
    expect(Object.keys(Notice.SubscribeFailed({ sid: 1, code: "x" }))).not.toContain("reason")
    expect(Notice.PublishFailed({ ref: 2, code: "x", reason: "y" })).toStrictEqual({ _tag: "PublishFailed", ref: 2, code: "x", reason: "y" })
  })
})

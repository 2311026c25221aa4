/**
 * The end of a call as the caller sees it (API.md errors), and the §9.4 table that decides,
 * per error code, whether the handler may have run and whether the mesh may retry.
 *
 * Key invariant: every call ends with exactly one `Outcome`; `retryable` is true only for
 * codes whose §9.4 retry column allows another provider, and the mesh retries only
 * idempotent calls.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type * as Frame from "../../wire/Frame.ts"

/**
 * How a call ended.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = Data.TaggedEnum<{
  /** The provider answered. */
  Ok: { readonly result: Frame.Any }
  /** The caller's own budget ran out, or a hop reported `deadline_exceeded`. */
  CallTimeout: { readonly afterMs: number }
  /** Nobody serves the procedure (after resolution and retries). */
  NoProvider: { readonly code: Frame.RpcErrorCode }
  /** A station grant or a provider invocation was refused; `reason` = UCAN error name. */
  Unauthorized: { readonly reason?: string }
  /** Anything else, including `handler_error` (the handler's message and data). */
  RemoteError: { readonly code: Frame.RpcErrorCode; readonly message?: string; readonly data?: Frame.Any }
  /** The application cancelled the call. */
  Cancelled: {}
}>

/**
 * Constructors and matchers for `Outcome`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Outcome = Data.taggedEnum<Outcome>()

/**
 * Whether the handler may have run for this code (§9.4 "handler ran": yes or maybe).
 *
 * @since 0.1.0
 * @category getters
 */
export const handlerMayHaveRun = (code: Frame.RpcErrorCode): boolean =>
  code === "handler_error" || code === "relay_failed" || code === "deadline_exceeded"

/**
 * Whether another provider may be tried for an idempotent call after this code (§9.4 retry
 * column: re-resolve, other station, other provider, or idempotent-only with backoff).
 *
 * @since 0.1.0
 * @category getters
 */
export const retryable = (code: Frame.RpcErrorCode): boolean => {
  switch (code) {
    case "no_provider":
    case "relay_failed":
    case "relay_refused":
    case "provider_gone":
    case "loop_detected":
    case "overloaded":
    case "wrong_station":
    case "withdrawn":
      return true
    default:
      return false
  }
}

/**
 * Codes after which resolution should start afresh (cached records are stale).
 *
 * @since 0.1.0
 * @category getters
 */
export const staleRouting = (code: Frame.RpcErrorCode): boolean =>
  code === "no_provider" || code === "provider_gone" || code === "wrong_station" || code === "withdrawn" ||
  code === "loop_detected"

/**
 * The caller's outcome for an error reply.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromError = (e: Frame.CallError, elapsedMs: number): Outcome => {
  switch (e.c) {
    case "no_provider":
    case "provider_gone":
    case "withdrawn":
      return Outcome.NoProvider({ code: e.c })
    case "unauthorized":
      return e.m === undefined ? Outcome.Unauthorized({}) : Outcome.Unauthorized({ reason: e.m })
    case "deadline_exceeded":
      return Outcome.CallTimeout({ afterMs: elapsedMs })
    default: {
      const base = { code: e.c }
      return Outcome.RemoteError({
        ...base,
        ...(e.m === undefined ? {} : { message: e.m }),
        ...(e.d === undefined ? {} : { data: e.d })
      })
    }
  }
}

/**
 * Whether a string is one of the §9.4 error names.
 *
 * @since 0.1.0
 * @category guards
 */
export const isErrorCode = (c: string): c is Frame.RpcErrorCode =>
  [
    "no_provider",
    "relay_failed",
    "relay_refused",
    "provider_gone",
    "realm_refused",
    "loop_detected",
    "deadline_exceeded",
    "overloaded",
    "bad_request",
    "identity_rejected",
    "wrong_station",
    "withdrawn",
    "payload_too_large",
    "bad_signature",
    "handler_error",
    "unauthorized"
  ].includes(c)

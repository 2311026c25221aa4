/**
 * Knobs of UCAN validation (PROTOCOL.md §16). Sizes in bytes, times in seconds because UCAN
 * timestamps are unix seconds. Every knob has a default; `verifyInvocation` takes any subset.
 *
 * @since 0.1.0
 */

/**
 * Limits and tolerances applied by `Ucan.verifyInvocation`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /**
   * Largest accepted encoded token (invocation or proof). Larger is `MalformedToken`, refused
   * before decoding, so a peer cannot make a station parse megabytes. @default 16_384
   */
  readonly maxUcanBytes: number
  /**
   * Most proofs an invocation may list. Longer is `MalformedToken`; each link costs a signature
   * check, so this bounds the work per invocation. @default 8
   */
  readonly maxProofChainLength: number
  /**
   * Clock-skew tolerance on `exp` and `nbf`, in seconds: a token counts as expired only when
   * `now > exp + leeway`, and as early only when `now < nbf - leeway`. The specification
   * recommends ±60 s; PROTOCOL.md's `clockSkewLeewayMs` is the same knob in ms. @default 60
   */
  readonly leewaySec: number
}

/**
 * The defaults of PROTOCOL.md §16: `maxUcanBytes` 16 384, `maxProofChainLength` 8, leeway 60 s.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Config = {
  maxUcanBytes: 16_384,
  maxProofChainLength: 8,
  leewaySec: 60
}

/**
 * What is wrong with a config, in words; empty means valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (config: Config): ReadonlyArray<string> => {
  const out: Array<string> = []
  if (!Number.isSafeInteger(config.maxUcanBytes) || config.maxUcanBytes < 1) out.push("maxUcanBytes must be a positive integer")
  if (!Number.isSafeInteger(config.maxProofChainLength) || config.maxProofChainLength < 0) {
    out.push("maxProofChainLength must be a non-negative integer")
  }
  if (!Number.isFinite(config.leewaySec) || config.leewaySec < 0) out.push("leewaySec must be a non-negative number")
  return out
}

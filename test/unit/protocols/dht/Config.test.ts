import { describe, expect, it } from "vitest"
import * as Config from "../../../../src/protocols/dht/Config.ts"

describe("Dht.Config", () => {
  it("has the defaults of PROTOCOL.md §16", () => {
    expect(Config.defaults).toMatchObject({
      dhtK: 20, dhtAlpha: 3, dhtDisjointPaths: 3, dhtRpcTimeoutMs: 2_000, lookupTimeoutMs: 10_000,
      valueResponsesWanted: 3, replacementCacheSize: 10, staleAfterFailures: 3, storeQuorum: 6,
      bucketRefreshIntervalMs: 900_000, selfLookupIntervalMs: 900_000, routingSnapshotIntervalMs: 60_000,
      replicateIntervalMs: 600_000, expireSweepIntervalMs: 60_000, republishFraction: 0.5, maxRecordBytes: 4_096,
      maxRecordsPerKey: 64, maxRecordsPerSigner: 4_096, maxStoredRecords: 200_000, diversityPrefixV4Bits: 16,
      diversityPrefixV6Bits: 32, maxPerPrefixPerBucket: 2, maxPerPrefixPerTable: 10, maxPerPrefixPerStoreSet: 3,
      providerRecordTtlMs: 3_600_000, contentProviderTtlMs: 3_600_000, endpointRecordTtlMs: 900_000,
      stationRecordTtlMs: 900_000, realmRecordTtlMs: 604_800_000, maxRevocationTtlMs: 7_776_000_000,
      clockSkewLeewayMs: 60_000, stationPowBits: 8
    })
  })

  it("finds no problems in the presets", () => {
    expect(Config.problems(Config.defaults)).toEqual([])
    expect(Config.problems(Config.local)).toEqual([])
  })

  it.each<[Partial<Config.Knobs>, string]>([
    [{ dhtK: 0 }, "dhtK must be a positive integer"],
    [{ dhtAlpha: 1.5 }, "dhtAlpha must be a positive integer"],
    [{ republishFraction: 1 }, "republishFraction must lie in (0, 1)"],
    [{ dhtRpcTimeoutMs: 20_000 }, "dhtRpcTimeoutMs must be below lookupTimeoutMs"],
    [{ storeQuorum: 21 }, "storeQuorum must not exceed dhtK"],
    [{ diversityPrefixV4Bits: 33 }, "diversityPrefixV4Bits must lie in 1..32"],
    [{ maxPerPrefixPerTable: 1 }, "maxPerPrefixPerTable must be at least maxPerPrefixPerBucket"],
    [{ maxLookupPeers: 10 }, "maxLookupPeers must be at least dhtK × dhtDisjointPaths"],
    [{ replacementCacheSize: -1 }, "replacementCacheSize must be a non-negative integer"]
  ])("reports %j", (override, problem) => {
    expect(Config.problems({ ...Config.defaults, ...override })).toContain(problem)
  })
})

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DIGEST_INTERVAL_MS } from '../../src/mesh/constants.js'
import { LiveCluster, type LiveClusterInit } from '../../sim/live-cluster.js'

function cluster (nodes: number, init: Partial<LiveClusterInit> = {}): LiveCluster {
  // Not started: nothing is spawned or written.
  return new LiveCluster({ workDir: '/nonexistent/herd-sim', nodes, modelSizes: [], chunkBytes: 1024, mesh: true, cacheQuotaBytes: 1, shaping: { latencyMs: 0, bandwidthBytesPerSec: 1, failureRate: 0 }, seed: 1, ...init })
}

describe('LiveCluster gossip timing', () => {
  it('gives the nodes their deployed digest interval, and a replay a settle time that grows with the nodes but not to the interval', () => {
    const medium = cluster(16)
    assert.equal(medium.digestIntervalMs, DIGEST_INTERVAL_MS)
    assert.equal(medium.gossipSettleMs, 1_600 + 200)
    assert.equal(cluster(4).gossipSettleMs, 1_000 + 200)
    const short = cluster(16, { digestIntervalMs: 500 })
    assert.equal(short.digestIntervalMs, 500)
    assert.equal(short.gossipSettleMs, 500 + 200)
  })
})

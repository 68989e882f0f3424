import assert from 'node:assert/strict'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { loadScenario, parseScenario, type Scenario, type ScenarioInput } from '../../sim/scenario.js'
import { generateTrace } from '../../sim/trace.js'
import { runScale, scaleWork, simulateScale, sweepScale } from '../../sim/scale.js'
import { optimalMetrics } from '../../sim/optimal.js'
import type { StrategyMetrics, Trace } from '../../sim/types.js'

const SCENARIOS = fileURLToPath(new URL('../../../sim/scenarios/', import.meta.url))
const MiB = 1024 * 1024
const GiB = 1024 * MiB

function scale (patch: (s: any) => void = () => {}): Scenario {
  const input: ScenarioInput = {
    name: 'scale-test',
    seed: 42,
    mode: 'scale',
    nodes: 200,
    models: { count: 100, minBytes: 100 * MiB, maxBytes: 4 * GiB },
    cache: { quotaFraction: 0.05 },
    workload: { requests: 20_000, ratePerSec: 20, zipf: 0.9, nodeSkew: 0.3 },
    network: { peerBandwidthBytesPerSec: 100 * MiB, peerRttMs: 30, walrusBandwidthBytesPerSec: 20 * MiB, walrusLatencyMs: 300 }
  }
  patch(input)
  return parseScenario(input)
}

function uniqueBytes (trace: Trace): number {
  const seen = new Set(trace.requests.map(r => r.model))
  return [...seen].reduce((a, m) => a + (trace.models[m] as Trace['models'][number]).sizeBytes, 0)
}

function checkSums (m: StrategyMetrics, label: string): void {
  assert.equal(m.localHits + m.peerHits + m.walrusHits, m.requests, `${label}: hits add up to requests`)
  assert.ok(m.timeToModelMs.p50 <= m.timeToModelMs.p95 && m.timeToModelMs.p95 <= m.timeToModelMs.p99, label)
  assert.ok(m.perNodeHitRate.min <= m.perNodeHitRate.mean && m.perNodeHitRate.mean <= m.perNodeHitRate.max, label)
  assert.ok((m.timeToModelSamples?.length ?? 0) <= 10_000, label)
}

const hitRate = (m: StrategyMetrics): number => (m.localHits + m.peerHits) / m.requests

describe('scale mode', () => {
  it('mesh pulls less from Walrus than no mesh, the optimum least; hits add up', () => {
    const s = scale()
    const trace = generateTrace(s)
    const { mesh, noMesh, optimal } = runScale(s, trace)
    for (const [label, m] of Object.entries({ mesh, noMesh, optimal })) {
      checkSums(m, label)
      assert.equal(m.requests, 20_000)
    }
    assert.ok(mesh.walrusBytes <= noMesh.walrusBytes, `mesh ${mesh.walrusBytes} vs noMesh ${noMesh.walrusBytes}`)
    assert.ok(mesh.walrusBytes < noMesh.walrusBytes / 10)
    assert.ok(optimal.walrusBytes <= mesh.walrusBytes)
    assert.ok(optimal.walrusHits <= mesh.walrusHits && optimal.walrusHits <= noMesh.walrusHits)
    assert.ok(hitRate(optimal) >= hitRate(mesh) && hitRate(mesh) > hitRate(noMesh))
    assert.equal(optimal.walrusBytes, uniqueBytes(trace))
    assert.equal(noMesh.peerHits, 0)
    assert.equal(noMesh.peerBytes, 0)
    assert.ok(mesh.peerBytes > 0)
    assert.ok(mesh.timeToModelMs.p50 < noMesh.timeToModelMs.p50)
    // Deterministic.
    assert.deepEqual(simulateScale(s, trace, 'mesh'), mesh)
    assert.deepEqual(optimalMetrics(s, trace), optimal)
  })

  it('a cold model asked for by 50 nodes at once is read from Walrus once with the mesh, 50 times without', () => {
    const s = scale(x => {
      x.nodes = 50
      x.models = { count: 1, minBytes: GiB, maxBytes: GiB }
      x.workload = { requests: 50, ratePerSec: 1000, zipf: 1 }
      x.cache = { quotaFraction: 1 }
    })
    const trace = generateTrace(s)
    const nodes = new Set(trace.requests.map(r => r.node))
    const mesh = simulateScale(s, trace, 'mesh')
    const noMesh = simulateScale(s, trace, 'noMesh')
    // Each download first reads the chunk hashes (32 bytes per 1 MiB chunk): from Walrus when no peer has them yet.
    const hashes = 32 * 1024
    assert.ok(mesh.walrusBytes >= GiB + hashes && mesh.walrusBytes <= GiB + nodes.size * hashes, `${mesh.walrusBytes}`)
    assert.equal(noMesh.walrusBytes, nodes.size * (GiB + hashes))
    assert.equal(noMesh.walrusFetches, 2 * nodes.size)
    // The reads were split: every node that came within the coordination window read a share.
    assert.ok(mesh.walrusFetches > 1)
    assert.ok(mesh.timeToModelMs.p99 < noMesh.timeToModelMs.p50, `${mesh.timeToModelMs.p99} vs ${noMesh.timeToModelMs.p50}`)
  })

  it('splits a cold read by the fetcher\'s rule: whole chunks, so a one-chunk model is read by one node and the rest are peer hits', () => {
    const coldTogether = (chunks: number): StrategyMetrics => {
      const s = scale(x => {
        x.nodes = 3
        x.models = { count: 1, minBytes: chunks * MiB, maxBytes: chunks * MiB, chunkBytes: MiB }
        x.workload = { requests: 3, ratePerSec: 1000, zipf: 1 }
        x.cache = { quotaFraction: 1 }
      })
      const trace = { ...generateTrace(s), requests: [0, 1, 2].map(node => ({ atMs: node, node, model: 0 })) }
      return simulateScale(s, trace, 'mesh')
    }
    // All three ask before anyone has the chunk hashes: three hash reads (32 bytes a chunk), then the data split.
    const one = coldTogether(1)
    assert.deepEqual([one.walrusFetches, one.walrusHits, one.peerHits, one.walrusBytes], [3 + 1, 1, 2, MiB + 3 * 32])
    const two = coldTogether(2)
    assert.deepEqual([two.walrusFetches, two.walrusHits, two.peerHits, two.walrusBytes], [3 + 2, 2, 1, 2 * MiB + 3 * 64])
    const six = coldTogether(6)
    assert.deepEqual([six.walrusFetches, six.walrusHits, six.peerHits, six.walrusBytes], [3 + 3, 3, 0, 6 * MiB + 3 * 192])
    assert.equal(six.peerBytes, 3 * 4 * MiB, 'each of the three gets the other two segments from peers')
  })

  it('a download waits for room that another download holds, and fails after the cache\'s room wait', () => {
    // One node, a cache with room for one of two equal models, both asked for 1 ms apart.
    const oneRoom = (size: number): Scenario => scale(x => {
      x.nodes = 1
      x.models = { count: 2, minBytes: size, maxBytes: size }
      x.cache = { quotaBytes: size }
    })
    const at = (s: Scenario, requests: Array<{ atMs: number, model: number }>): Trace => ({ ...generateTrace(s), churn: [], requests: requests.map(r => ({ ...r, node: 0 })) })
    const s = oneRoom(64 * MiB)
    for (const strategy of ['noMesh', 'mesh'] as const) {
      const alone = simulateScale(s, at(s, [{ atMs: 0, model: 0 }]), strategy).timeToModelMs.p50
      const both = simulateScale(s, at(s, [{ atMs: 0, model: 0 }, { atMs: 1, model: 1 }]), strategy)
      checkSums(both, strategy)
      // The second began when the first ended and freed its reservation; its chunk hashes were read meanwhile.
      const second = both.timeToModelMs.p99
      assert.ok(second > 1.8 * alone && second < 2 * alone, `${strategy}: ${second} ms against ${alone} alone`)
      assert.equal(both.timeToModelSamples?.length, 2)
    }
    // A model that takes longer than the room wait (1 GiB at 20 MiB/s, about 51 s) holds the room past it: the second fetch fails.
    const big = oneRoom(GiB)
    const stuck = simulateScale(big, at(big, [{ atMs: 0, model: 0 }, { atMs: 1, model: 1 }]), 'noMesh')
    checkSums(stuck, 'room wait timed out')
    assert.equal(stuck.timeToModelSamples?.length, 1)
    assert.ok(stuck.timeToModelMs.p50 > 30_000)
  })

  it('uses the cache module\'s policy: GDSF and LRU give different numbers', () => {
    const gdsf = scale()
    const lru = scale(x => { x.cache.policy = 'lru' })
    const trace = generateTrace(gdsf)
    assert.deepEqual(generateTrace(lru), trace)
    const a = simulateScale(gdsf, trace, 'noMesh')
    const b = simulateScale(lru, trace, 'noMesh')
    assert.notEqual(a.localHits, b.localHits)
    // On this Zipf workload GDSF keeps more of what is asked for again.
    assert.ok(a.localHits > b.localHits, `gdsf ${a.localHits} vs lru ${b.localHits}`)
    assert.notDeepEqual(simulateScale(gdsf, trace, 'mesh'), simulateScale(lru, trace, 'mesh'))
  })

  it('a bigger cache gives more local hits; a cache too small for any model gives none', () => {
    const trace = generateTrace(scale())
    const small = simulateScale(scale(x => { x.cache = { quotaFraction: 0.01 } }), trace, 'noMesh')
    const big = simulateScale(scale(x => { x.cache = { quotaFraction: 0.3 } }), trace, 'noMesh')
    assert.ok(big.localHits > small.localHits)
    const none = simulateScale(scale(x => { x.cache = { quotaBytes: MiB } }), trace, 'mesh')
    assert.equal(none.localHits, 0)
    checkSums(none, 'no cache')
  })

  it('runs with churn: hits still add up, the mesh still saves Walrus', () => {
    for (const keepCache of [true, false]) {
      const s = scale(x => { x.churn = { leavesPerMinute: 20, meanDowntimeMs: 120_000, keepCache } })
      const trace = generateTrace(s)
      assert.ok(trace.churn.length > 100)
      const { mesh, noMesh, optimal } = runScale(s, trace)
      for (const [label, m] of Object.entries({ mesh, noMesh, optimal })) checkSums(m, `${label}, keepCache ${keepCache}`)
      assert.ok(mesh.walrusBytes <= noMesh.walrusBytes)
      assert.ok(optimal.walrusBytes <= mesh.walrusBytes)
    }
  })

  it('sweeps cache sizes and node counts', () => {
    const s = scale(x => {
      x.workload.requests = 5000
      x.sweep = { cacheFractions: [0.02, 0.1, 0.3], nodeCounts: [10, 50, 200] }
    })
    let replayed = 0
    const { hitRateByCacheSize, localHitRateByCacheSize, walrusBytesByNodes } = sweepScale(s, generateTrace(s), { onRequests: n => { replayed += n } })
    // Progress covers every replay: 3 cache sizes and 3 node counts, mesh and no mesh, 5,000 requests each.
    assert.equal(replayed, 6 * 2 * 5000)
    assert.equal(scaleWork(s, generateTrace(s), true), 7 * 2 * 5000, 'with the scenario\'s own run')
    assert.equal(hitRateByCacheSize.length, 9)
    assert.equal(localHitRateByCacheSize.length, 9)
    assert.equal(walrusBytesByNodes.length, 9)
    const at = (points: typeof hitRateByCacheSize, x: number, strategy: string): number =>
      (points.find(p => p.x === x && p.strategy === strategy) as { value: number }).value
    for (const x of [0.02, 0.1, 0.3]) {
      for (const strategy of ['mesh', 'noMesh', 'optimal']) {
        const v = at(hitRateByCacheSize, x, strategy)
        assert.ok(v >= 0 && v <= 1)
      }
      assert.ok(at(hitRateByCacheSize, x, 'optimal') >= at(hitRateByCacheSize, x, 'mesh'))
      assert.ok(at(hitRateByCacheSize, x, 'mesh') >= at(hitRateByCacheSize, x, 'noMesh'))
    }
    assert.ok(at(hitRateByCacheSize, 0.3, 'noMesh') > at(hitRateByCacheSize, 0.02, 'noMesh'))
    // Local hits are what the cache size buys, with or without the mesh; they never exceed all hits.
    for (const strategy of ['mesh', 'noMesh', 'optimal']) {
      assert.ok(at(localHitRateByCacheSize, 0.3, strategy) > at(localHitRateByCacheSize, 0.02, strategy), strategy)
      for (const x of [0.02, 0.1, 0.3]) assert.ok(at(localHitRateByCacheSize, x, strategy) <= at(hitRateByCacheSize, x, strategy))
    }
    assert.equal(at(localHitRateByCacheSize, 0.1, 'noMesh'), at(hitRateByCacheSize, 0.1, 'noMesh'), 'alone, every hit is local')
    for (const x of [10, 50, 200]) {
      assert.ok(at(walrusBytesByNodes, x, 'mesh') <= at(walrusBytesByNodes, x, 'noMesh'))
      assert.ok(at(walrusBytesByNodes, x, 'optimal') <= at(walrusBytesByNodes, x, 'mesh'))
    }
    // More nodes, the same demand: without the mesh each node pulls its own copies. (1.8x here since a download's Walrus reads run
    // four at once, as the fetcher's do: on 10 nodes fewer requests find their node's download of the model still running.)
    assert.ok(at(walrusBytesByNodes, 200, 'noMesh') > 1.5 * at(walrusBytesByNodes, 10, 'noMesh'))
    assert.ok(at(walrusBytesByNodes, 200, 'mesh') < 1.5 * at(walrusBytesByNodes, 10, 'mesh'))
  })

  it('runs 10,000 nodes and 200,000 requests in bounded time', async () => {
    const s = await loadScenario(join(SCENARIOS, 'scale-10k.json'))
    assert.equal(s.nodes, 10_000)
    assert.equal(s.workload.requests, 200_000)
    const started = performance.now()
    const trace = generateTrace(s)
    const mesh = simulateScale(s, trace, 'mesh')
    const meshMs = performance.now() - started
    const noMesh = simulateScale(s, trace, 'noMesh')
    const optimal = optimalMetrics(s, trace)
    const totalMs = performance.now() - started
    checkSums(mesh, 'mesh')
    checkSums(noMesh, 'noMesh')
    checkSums(optimal, 'optimal')
    assert.ok(mesh.walrusBytes <= noMesh.walrusBytes && optimal.walrusBytes <= mesh.walrusBytes)
    assert.equal(mesh.timeToModelSamples?.length, 10_000)
    // A guard against a blow-up (quadratic work per request), not a speed target: about 10 s on a quiet machine, so loose enough for a loaded one.
    assert.ok(meshMs < 120_000, `trace + mesh took ${Math.round(meshMs)} ms`)
    assert.ok(totalMs < 240_000, `all three took ${Math.round(totalMs)} ms`)
  })
})

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AgedLfuPolicy } from '../../src/blob/cache/policy-aged-lfu.js'
import { createPolicy, GdsfPolicy } from '../../src/blob/cache/policy.js'
import { replay, zipfTrace, type TraceInit } from '../../sim/policy-sim.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

describe('aged LFU', () => {
  it('a favourite nobody asks for any more sinks below a blob asked for lately, as the sketch halves', () => {
    // 16 counters a row, halved every 80 increments.
    const init = { minSketchWidth: 16, sketchPerEntry: 1, samplesPerCounter: 5 }
    const aged = new AgedLfuPolicy(init)
    const gdsf = new GdsfPolicy({ width: 16, sampleSize: 80, beta: 1 })
    for (const policy of [aged, gdsf]) {
      policy.add('old', 1)
      for (let i = 0; i < 14; i++) policy.hit('old')
      policy.add('fresh', 1)
      policy.hit('fresh')
      policy.hit('fresh')
      assert.deepEqual(policy.victims(1), ['fresh'], `${policy.name}: old is the favourite so far`)
      for (let i = 0; i < 200; i++) policy.hit('elsewhere')
      policy.hit('fresh')
    }
    assert.deepEqual(aged.victims(1), ['old'], 'four halvings later, old (15 then) is worth less than fresh (1 now)')
    assert.deepEqual(gdsf.victims(1), ['fresh'], 'GDSF keeps the frozen priority')
  })

  it('admits a blob just fetched only if it is asked for more often than the least valued entry', () => {
    const policy = new AgedLfuPolicy()
    policy.add('a', 1)
    policy.hit('a') // 2
    policy.add('once', 1) // 1
    assert.deepEqual(policy.victims(1), ['once'])
    policy.add('x', 1)
    policy.evict('x')
    policy.add('x', 1) // 2, as frequent as a: the newcomer loses the tie
    assert.deepEqual(policy.victims(2), ['once', 'x'])
    policy.evict('x')
    policy.add('x', 1) // 3: more often than a
    assert.deepEqual(policy.victims(2), ['once', 'a'])
    assert.deepEqual(policy.victims(2, id => id !== 'once'), ['a', 'x'])
    policy.evict('x')
    policy.add('restored', 1, 2) // a history restored after a restart: no newcomer's handicap, so a tie with a goes to the older, a
    assert.deepEqual(policy.victims(2), ['once', 'a'])
  })

  it('keeps the counts of cached entries when the sketch widens as entries are added (a restart restoring many blobs)', () => {
    // One counter per entry from 16: the 17th entry widens the sketch to 32. No halving meanwhile.
    const policy = new AgedLfuPolicy({ minSketchWidth: 16, sketchPerEntry: 1, samplesPerCounter: 1000 })
    const hot = Array.from({ length: 8 }, (_, i) => `hot${i}`)
    const warm = Array.from({ length: 24 }, (_, i) => `warm${i}`)
    for (const id of hot) policy.add(id, 1, 8)
    for (const id of warm) policy.add(id, 1, 2)
    // Each hot blob's rank is taken again from the sketch: 9 requests, not 1.
    for (const id of hot) policy.hit(id)
    assert.deepEqual(policy.victims(8), warm.slice(0, 8))
  })

  const kinds: Array<[string, Partial<TraceInit>, number]> = [
    ['stationary', {}, 0],
    ['reshuffled', { reshuffleAt: 20_000 }, 20_000],
    ['new versions', { versionEvery: 5_000 }, 0],
    ['one-time blobs', { oneTimeShare: 0.2 }, 0]
  ]
  for (const [kind, init, measureFrom] of kinds) {
    it(`byte hit ratio at least W-TinyLFU's and ARC's: ${kind}`, () => {
      const trace = zipfTrace({ objects: 300, requests: 40_000, zipf: 1.0, minSize: MiB, maxSize: GiB, seed: 3, ...init })
      for (const share of [0.05, 0.25]) {
        const capacity = Math.floor(trace.catalogBytes * share)
        const run = (name: 'aged-lfu' | 'wtinylfu' | 'arc'): number => replay(createPolicy(name, { capacityBytes: capacity }), trace, capacity, measureFrom).byteHitRatio
        const aged = run('aged-lfu')
        assert.ok(aged >= run('wtinylfu'), `${share}: aged ${aged} vs W-TinyLFU ${run('wtinylfu')}`)
        assert.ok(aged >= run('arc'), `${share}: aged ${aged} vs ARC ${run('arc')}`)
      }
    })
  }

  it('object hit ratio at least ARC\'s on unit sizes', () => {
    const trace = zipfTrace({ objects: 10_000, requests: 100_000, zipf: 0.8, minSize: 1, maxSize: 1, seed: 3 })
    for (const share of [0.01, 0.1]) {
      const capacity = Math.floor(trace.catalogBytes * share)
      const aged = replay(createPolicy('aged-lfu', { capacityBytes: capacity }), trace, capacity).objectHitRatio
      const arc = replay(createPolicy('arc', { capacityBytes: capacity }), trace, capacity).objectHitRatio
      assert.ok(aged >= arc, `${share}: aged ${aged} vs ARC ${arc}`)
    }
  })
})

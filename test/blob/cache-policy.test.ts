import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createPolicy, GdsfPolicy, LruPolicy, POLICY_NAMES, type EvictionPolicy } from '../../src/blob/cache/index.js'
import { FrequencySketch } from '../../src/blob/cache/frequency-sketch.js'
import { IndexedMinHeap } from '../../src/blob/cache/indexed-heap.js'
import { replay, zipfTrace } from '../../sim/policy-sim.js'
import { seededRandom } from '../../src/seeded-random.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

describe('eviction policy', () => {
  it('GDSF beats LRU on byte hit ratio for Zipf(0.9) popularity and log-uniform sizes, deterministically', () => {
    const trace = zipfTrace({ objects: 300, requests: 30_000, zipf: 0.9, minSize: MiB, maxSize: GiB, seed: 7 })
    const capacity = Math.floor(trace.catalogBytes * 0.1)
    const lru = replay(new LruPolicy(), trace, capacity)
    const gdsf = replay(new GdsfPolicy(), trace, capacity)
    assert.ok(gdsf.byteHitRatio > lru.byteHitRatio, `gdsf ${gdsf.byteHitRatio} vs lru ${lru.byteHitRatio}`)
    assert.ok(gdsf.objectHitRatio > lru.objectHitRatio, `gdsf ${gdsf.objectHitRatio} vs lru ${lru.objectHitRatio}`)
    assert.deepEqual(replay(new GdsfPolicy(), trace, capacity), gdsf, 'same trace, same answers')
    assert.deepEqual(zipfTrace({ objects: 300, requests: 30_000, zipf: 0.9, minSize: MiB, maxSize: GiB, seed: 7 }), trace)
  })

  it('adapts when popularity is reshuffled', () => {
    const trace = zipfTrace({ objects: 300, requests: 40_000, zipf: 0.9, minSize: MiB, maxSize: GiB, seed: 11, reshuffleAt: 20_000 })
    const capacity = Math.floor(trace.catalogBytes * 0.1)
    const second = { ...trace, requests: trace.requests.subarray(20_000) }
    // Against a cache that saw only the second half: the first half's favourites must not linger.
    const fresh = replay(new GdsfPolicy(), second, capacity)
    const policy = new GdsfPolicy()
    replay(policy, { ...trace, requests: trace.requests.subarray(0, 20_000) }, capacity)
    const warm = replay(policy, second, capacity)
    assert.ok(warm.byteHitRatio > 0.9 * fresh.byteHitRatio, `warm ${warm.byteHitRatio} vs fresh ${fresh.byteHitRatio}`)
    assert.ok(warm.byteHitRatio > replay(new LruPolicy(), trace, capacity).byteHitRatio)
  })

  for (const make of POLICY_NAMES.map(name => () => createPolicy(name)) satisfies Array<() => EvictionPolicy>) {
    it(`${make().name}: plans victims without changing anything, and skips what is not evictable`, () => {
      const policy = make()
      for (let i = 0; i < 10; i++) policy.add(`b${i}`, 100)
      policy.hit('b0')
      const pinned = new Set(['b1', 'b2'])
      const plan = policy.victims(250, id => !pinned.has(id))
      assert.equal(plan.length, 3)
      assert.ok(plan.every(id => !pinned.has(id) && id !== 'b0'), plan.join())
      assert.deepEqual(policy.victims(250, id => !pinned.has(id)), plan, 'a plan changes nothing')
      assert.equal(policy.count, 10)
      for (const id of plan) policy.evict(id)
      assert.equal(policy.count, 7)
      assert.equal(policy.victims(10_000, () => false).length, 0)
      assert.equal(policy.victims(10_000).length, 7, 'all there is, when not enough')
      policy.remove('b0')
      assert.equal(policy.has('b0'), false)
      assert.deepEqual(policy.victims(0), [])
    })
  }

  it('GDSF keeps a small popular blob over a large cold one, and remembers a blob after eviction', () => {
    const policy = new GdsfPolicy()
    policy.add('small-hot', MiB)
    for (let i = 0; i < 20; i++) policy.hit('small-hot')
    policy.add('large-cold', 500 * MiB)
    assert.deepEqual(policy.victims(1), ['large-cold'])
    policy.evict('small-hot')
    assert.ok(policy.aging > 0, 'L rises to the victim priority')
    policy.add('small-hot', MiB)
    policy.add('new', MiB)
    assert.deepEqual(policy.victims(1, id => id !== 'large-cold'), ['new'], 'history survives eviction')
  })

  // Its speed at scale is the cache-policy benchmark's to show; this keeps the books honest at that scale.
  it('keeps its books across 20,000 entries and 200,000 operations: count, victims and a rising L', () => {
    const policy = new GdsfPolicy({ width: 32_768 })
    const random = seededRandom(3)
    const cached = new Set<string>()
    for (let i = 0; i < 20_000; i++) {
      policy.add(`b${i}`, 1 + Math.floor(random() * GiB))
      cached.add(`b${i}`)
    }
    let aging = policy.aging
    for (let i = 0; i < 200_000; i++) {
      const id = `b${Math.floor(random() * 20_000)}`
      if (policy.has(id)) policy.hit(id)
      else if (i % 7 === 0) {
        policy.add(id, 1 + Math.floor(random() * GiB))
        cached.add(id)
      }
      if (i % 100 === 0) {
        for (const victim of policy.victims(GiB)) {
          assert.ok(cached.delete(victim), `victim ${victim} is cached`)
          policy.evict(victim)
          assert.ok(policy.aging >= aging, 'L never falls')
          aging = policy.aging
        }
      }
    }
    assert.equal(policy.count, cached.size)
    const all = policy.victims(Number.POSITIVE_INFINITY)
    assert.equal(new Set(all).size, all.length, 'no victim twice')
    assert.deepEqual(new Set(all), cached)
  })
})

describe('policy parts', () => {
  it('heap pops in priority order, ties by sequence, with updates and deletes', () => {
    const heap = new IndexedMinHeap()
    const random = seededRandom(5)
    const expected = new Map<string, [number, number]>()
    for (let i = 0; i < 500; i++) {
      const key = `k${Math.floor(random() * 200)}`
      const priority = Math.floor(random() * 50)
      heap.set(key, priority, i)
      expected.set(key, [priority, i])
      if (random() < 0.2) {
        const gone = `k${Math.floor(random() * 200)}`
        assert.equal(heap.delete(gone), expected.delete(gone))
      }
    }
    const order = [...expected].sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1]).map(([key]) => key)
    const popped: string[] = []
    for (let top = heap.pop(); top != null; top = heap.pop()) popped.push(top.key)
    assert.deepEqual(popped, order)
  })

  it('sketch counts, saturates, halves, and rarely overestimates', () => {
    const sketch = new FrequencySketch({ width: 1024, sampleSize: 1_000_000 })
    for (let i = 0; i < 300; i++) sketch.increment('hot')
    assert.equal(sketch.frequency('hot'), 255)
    for (let i = 0; i < 200; i++) for (let j = 0; j <= i % 5; j++) sketch.increment(`k${i}`)
    let exact = 0
    for (let i = 0; i < 200; i++) if (sketch.frequency(`k${i}`) === (i % 5) + 1) exact++
    assert.ok(exact > 190, `${exact} of 200 exact`)
    const halving = new FrequencySketch({ width: 64, sampleSize: 100 })
    for (let i = 0; i < 99; i++) halving.increment('a')
    assert.equal(halving.frequency('a'), 99)
    halving.increment('a')
    assert.equal(halving.frequency('a'), 50)
    assert.equal(halving.resets, 1)
  })

  it('sketch: 4-bit counters saturate at 15, and widening to the entries drops the counts and follows the width with the sample size', () => {
    const sketch = new FrequencySketch({ width: 16, maxCount: 15, samplesPerCounter: 5 })
    assert.equal(sketch.sampleSize, 80)
    for (let i = 0; i < 20; i++) sketch.increment('hot')
    assert.equal(sketch.frequency('hot'), 15)
    sketch.ensureCapacity(10)
    assert.equal(sketch.width, 16, 'wide enough already: nothing changes')
    assert.equal(sketch.frequency('hot'), 15)
    sketch.ensureCapacity(100)
    assert.equal(sketch.width, 128)
    assert.equal(sketch.sampleSize, 640)
    assert.equal(sketch.frequency('hot'), 0)
    for (let i = 0; i < 9; i++) sketch.increment('warm')
    sketch.ensureCapacity(1000, ['warm'])
    assert.equal(sketch.width, 1024)
    assert.equal(sketch.frequency('warm'), 9, 'a key to keep keeps its count')
    assert.equal(sketch.frequency('hot'), 0)
    for (let i = 0; i < 5 * 1024 - 1; i++) sketch.increment(`k${i % 512}`)
    assert.equal(sketch.resets, 0, 'the kept count is not counted again toward a halving')
  })
})

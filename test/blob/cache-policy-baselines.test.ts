import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ArcPolicy } from '../../src/blob/cache/policy-arc.js'
import { WTinyLfuPolicy } from '../../src/blob/cache/policy-wtinylfu.js'
import { createPolicy, POLICY_NAMES } from '../../src/blob/cache/policy.js'
import { replay, zipfTrace } from '../../sim/policy-sim.js'
import { offlineBound } from '../../sim/offline-bound.js'

describe('baseline policies on hand-checked traces', () => {
  it('ARC: a ghost hit in B1 grows T1\'s target by the blob\'s size, and REPLACE then spares T1', () => {
    const arc = new ArcPolicy({ capacityBytes: 300 })
    for (const id of ['a', 'b', 'c']) arc.add(id, 100)
    arc.hit('a') // T1 = [b, c], T2 = [a]
    assert.deepEqual(arc.victims(100), ['b'], 'T1 is over its target of 0')
    arc.evict('b') // B1 = [b]
    arc.add('d', 100) // T1 = [c, d]
    arc.hit('b') // a request for a ghost of B1: p = 0 + 100 × max(1, |B2|/|B1|)
    assert.equal(arc.target, 100)
    assert.deepEqual(arc.victims(100), ['c'])
    arc.evict('c')
    arc.add('b', 100) // from B1 straight to T2 = [a, b]; T1 = [d]
    assert.equal(arc.target, 100, 'the miss seen by hit() and add() moves p once')
    assert.deepEqual(arc.victims(100), ['a'], 'T1 is at its target: T2 gives its least recent')
    arc.evict('a') // B2 = [a]
    arc.add('e', 100) // T1 = [d, e], T2 = [b]
    arc.hit('a') // a ghost of B2: p shrinks by 100 × max(1, |B1|/|B2|) = 100 × 1
    assert.equal(arc.target, 0)
    assert.deepEqual(arc.victims(150), ['d', 'e'])
  })

  it('W-TinyLFU: a window candidate is kept only if asked for more often than the main region\'s victim', () => {
    // 10,000 bytes: a 100-byte window holds one blob; main is 9,900 bytes.
    const policy = new WTinyLfuPolicy({ capacityBytes: 10_000 })
    policy.add('old', 100)
    policy.hit('old') // frequency 2, in the window
    policy.add('cold', 100) // old overflows into probation as a candidate
    policy.hit('old') // frequency 3: probation → protected
    for (let i = 0; i < 4; i++) if (i === 0) policy.add('hot', 100); else policy.hit('hot') // cold → candidate; hot: frequency 4
    policy.hit('hot') // 5
    policy.add('new', 100) // hot → candidate; candidates: cold (1), hot (5); protected: old (3); window: new
    assert.deepEqual(policy.victims(100), ['cold'], 'cold (1) loses to old (3)')
    assert.deepEqual(policy.victims(200, id => id !== 'old'), ['cold', 'new'], 'a victim that may not go is passed over: hot (5) beats new (1)')
    assert.deepEqual(policy.victims(200), ['cold', 'old'], 'hot (5) beats old (3) and stays')
    policy.evict('cold')
    policy.evict('old')
    assert.deepEqual(policy.victims(100), ['hot'], 'hot was admitted: an ordinary probation entry now, first in line')
    assert.equal(policy.count, 2)
  })

  it('offline bound: Belady by next use, with bypass, on a trace worked by hand', () => {
    // Unit sizes, room for 2: 0 1 2 0 1 2. Request 3 (object 2) is needed later than both cached: bypassed; 0 and 1 then hit; the last 2 is never needed again.
    const trace = { ids: ['a', 'b', 'c'], sizes: [1, 1, 1], requests: Uint32Array.from([0, 1, 2, 0, 1, 2]), catalogBytes: 3 }
    const result = offlineBound(trace, 2)
    assert.equal(result.objectHitRatio, 2 / 6)
    assert.equal(result.evictions, 0)
    assert.equal(replay(createPolicy('lru'), trace, 2).objectHitRatio, 0)
  })

  it('offline bound is above every online policy on unit sizes (where Belady is the optimum)', () => {
    const trace = zipfTrace({ objects: 2000, requests: 40_000, zipf: 0.9, minSize: 1, maxSize: 1, seed: 5 })
    for (const share of [0.01, 0.1]) {
      const capacity = Math.floor(trace.catalogBytes * share)
      const bound = offlineBound(trace, capacity).objectHitRatio
      for (const name of POLICY_NAMES) {
        const online = replay(createPolicy(name, { capacityBytes: capacity }), trace, capacity).objectHitRatio
        assert.ok(online <= bound, `${name} ${online} above the bound ${bound}`)
      }
    }
  })
})

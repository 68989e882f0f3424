import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LoopLag } from '../../src/mesh/loop-lag.js'

describe('LoopLag: time a loop waking every 100 ms did not run', () => {
  it('counts a gap past the interval and its tolerance, not one within', () => {
    const lag = new LoopLag(100, 400)
    assert.deepEqual(lag.pass(0), { frozenMs: 0, readFirst: false })
    assert.deepEqual(lag.pass(500), { frozenMs: 0, readFirst: false }, 'late by the tolerance: on time')
    assert.deepEqual(lag.pass(1_501), { frozenMs: 901, readFirst: true })
  })

  it('has the loop wait for pending I/O once in a row: on a machine where every pass is late it still acts every other pass', () => {
    const lag = new LoopLag(100, 400)
    lag.pass(0)
    const passes = [1_000, 2_000, 3_000, 4_000].map(now => lag.pass(now))
    assert.deepEqual(passes.map(p => p.readFirst), [true, false, true, false])
    assert.ok(passes.every(p => p.frozenMs === 900), 'every late pass still credits its frozen time')
  })
})

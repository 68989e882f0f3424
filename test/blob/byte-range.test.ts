import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseRange } from '../../src/blob/byte-range.js'
import { aggregatorRange } from '../../src/walrus/local/replies.js'

describe('one Range parser for the API and the local Walrus', () => {
  it('reads the three forms against the blob size, and refuses what selects nothing', () => {
    assert.equal(parseRange(undefined, 100), undefined)
    assert.deepEqual(parseRange('bytes=10-19', 100), { start: 10, end: 19, form: 'closed' })
    assert.deepEqual(parseRange('bytes=90-500', 100), { start: 90, end: 99, form: 'closed' })
    assert.deepEqual(parseRange('bytes=95-', 100), { start: 95, end: 99, form: 'open' })
    assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99, form: 'suffix' })
    for (const header of ['bytes=0-1,5-6', 'bytes=-', 'bytes=-0', 'bytes=100-', 'bytes=20-10', 'items=0-1', `bytes=${'9'.repeat(30)}-`]) {
      assert.throws(() => parseRange(header, 100), (err: Error) => err.name === 'RangeNotSatisfiableError', header)
    }
  })

  it('the local Walrus takes one closed range only, as the aggregator does', () => {
    assert.deepEqual(aggregatorRange(undefined, 100), { kind: 'whole' })
    assert.deepEqual(aggregatorRange('bytes=10-500', 100), { kind: 'range', start: 10, end: 99 })
    for (const header of ['bytes=95-', 'bytes=-10', 'bytes=0-1,5-6', 'bytes=100-200', 'bytes=20-10']) {
      assert.equal(aggregatorRange(header, 100).kind, 'invalid', header)
    }
  })
})

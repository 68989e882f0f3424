import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fastMessageId } from '../../src/mesh/fast-message-id.js'

describe('gossip fast message IDs', () => {
  it('differ when any field differs, including where one field ends and the next begins', () => {
    const bytes = (...values: number[]): Uint8Array => new Uint8Array(values)
    const base = { from: bytes(1, 2), seqno: bytes(3), data: bytes(4, 5), signature: bytes(6), topic: 'herd/cache/1' }
    const ids = [
      base,
      { ...base, from: bytes(1), seqno: bytes(2, 3) },
      { ...base, data: bytes(4, 5, 0) },
      { ...base, signature: bytes(7) },
      { ...base, signature: undefined },
      { ...base, signature: bytes() },
      { ...base, topic: 'herd/cache/2' }
    ].map(fastMessageId)
    assert.equal(new Set(ids).size, ids.length)
    assert.equal(fastMessageId({ ...base }), ids[0], 'the same message, the same ID')
  })
})

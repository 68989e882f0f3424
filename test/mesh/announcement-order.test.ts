import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AnnouncementOrder } from '../../src/mesh/announcement-order.js'

describe('announcement order', () => {
  it('applies a late announcement\'s changes to other blobs, never one a newer announcement made to the same blob', () => {
    const order = new AnnouncementOrder({ windowMs: 60_000 })
    // Seq 2 (blob b dropped) arrives before seq 1 (blob a added, blob b added).
    assert.equal(order.blob('p', 'b', 2n), true)
    assert.equal(order.blob('p', 'a', 1n), true, 'a: nothing newer was applied')
    assert.equal(order.blob('p', 'b', 1n), false, 'b: the newer drop stands')
    // Within one announcement: fetching then added, both apply.
    assert.equal(order.blob('p', 'c', 5n), true)
    assert.equal(order.blob('p', 'c', 5n), true)
    // Peers are apart.
    assert.equal(order.blob('q', 'b', 1n), true)
  })

  it('orders load and digest apart, strictly', () => {
    const order = new AnnouncementOrder({ windowMs: 60_000 })
    assert.equal(order.load('p', 3n), true)
    assert.equal(order.load('p', 3n), false)
    assert.equal(order.load('p', 2n), false)
    assert.equal(order.digest('p', 2n), true, 'a digest is ordered on its own')
    order.forget('p')
    assert.equal(order.load('p', 1n), true, 'a peer that left and came back starts again')
  })

  it('forgets per-blob order past its window', () => {
    let now = 0
    const order = new AnnouncementOrder({ windowMs: 1_000, now: () => now })
    order.blob('p', 'a', 10n)
    now = 500
    order.blob('p', 'b', 11n)
    now = 1_200
    order.prune()
    assert.equal(order.blob('p', 'a', 1n), true, 'a was pruned')
    assert.equal(order.blob('p', 'b', 1n), false, 'b is still inside the window')
  })
})

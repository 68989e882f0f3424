import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_PEER_ROUND_TRIP_MS, PeerRoundTrip } from '../../src/mesh/peer-round-trip.js'

describe('PeerRoundTrip: the floor of the hedge\'s margin', () => {
  it('is the fastest recent first byte: a holder that stalls its first bytes does not lengthen every download\'s hedge', () => {
    const rtt = new PeerRoundTrip()
    assert.equal(rtt.ms(), undefined)
    rtt.observe(12)
    // A liar answering after 30 s, ten times: a running average of these put the floor at seconds.
    for (let i = 0; i < 10; i++) rtt.observe(30_000)
    assert.equal(rtt.ms(), 12)
  })

  it('never exceeds its cap, and forgets a fast figure once 32 later requests were slower', () => {
    const rtt = new PeerRoundTrip()
    rtt.observe(5)
    for (let i = 0; i < 31; i++) rtt.observe(400)
    assert.equal(rtt.ms(), 5)
    rtt.observe(400)
    assert.equal(rtt.ms(), MAX_PEER_ROUND_TRIP_MS)
  })

  it('ignores figures that are not durations', () => {
    const rtt = new PeerRoundTrip()
    rtt.observe(Number.NaN)
    rtt.observe(-1)
    rtt.observe(Number.POSITIVE_INFINITY)
    assert.equal(rtt.ms(), undefined)
  })
})

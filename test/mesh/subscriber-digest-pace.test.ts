import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SubscriberDigestPace } from '../../src/mesh/subscriber-digest-pace.js'

describe('SubscriberDigestPace', () => {
  it('answers the first subscriber at once and puts later ones off to the end of the spacing', () => {
    const pace = new SubscriberDigestPace(2_000)
    assert.equal(pace.delayFor(10_000, true), 0)
    pace.sent(10_000)
    assert.equal(pace.delayFor(10_500, true), 1_500)
    assert.equal(pace.delayFor(11_999, true), 1)
    assert.equal(pace.delayFor(12_000, true), 0)
  })

  it('counts a periodic digest as sent: a subscriber right after it waits for the spacing', () => {
    const pace = new SubscriberDigestPace(2_000)
    pace.sent(5_000)
    assert.equal(pace.delayFor(5_100, true), 1_900)
  })

  it('sends nothing for a subscriber while the node holds nothing', () => {
    const pace = new SubscriberDigestPace(2_000)
    assert.equal(pace.delayFor(10_000, false), 'skip')
  })
})

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { GossipDelay, MAX_DELAY_SIGNERS, MAX_MEASURED_DELAY_MS } from '../../src/mesh/gossip-delay.js'

describe('the measured gossip delay', () => {
  it('is not moved by one signer claiming old send times', () => {
    const delay = new GossipDelay()
    for (let round = 0; round < 20; round++) {
      for (const honest of ['a', 'b', 'c', 'd']) delay.observe(honest, 40 + round % 3)
      delay.observe('liar', MAX_MEASURED_DELAY_MS - 1)
    }
    assert.ok((delay.current() ?? Infinity) <= 50, `${delay.current()} ms`)
  })

  it('follows the slow announcements when most signers are late, and forgets a spike', () => {
    const delay = new GossipDelay()
    for (const signer of ['a', 'b', 'c']) delay.observe(signer, 2_000)
    assert.equal(delay.current(), 2_000)
    for (let i = 0; i < 50; i++) for (const signer of ['a', 'b', 'c']) delay.observe(signer, 100)
    assert.equal(delay.current(), 100)
  })

  it('counts no send time in the future or from a clock set far apart, remembers a bounded number of signers, and forgets one gone', () => {
    const delay = new GossipDelay()
    delay.observe('a', -5)
    delay.observe('a', MAX_MEASURED_DELAY_MS + 1)
    assert.equal(delay.current(), undefined)
    for (let i = 0; i < MAX_DELAY_SIGNERS; i++) delay.observe(`slow${i}`, 5_000)
    for (let i = 0; i < MAX_DELAY_SIGNERS; i++) delay.observe(`fast${i}`, 10)
    assert.equal(delay.current(), 10, 'the signers heard least recently were forgotten')
    delay.forget('fast0')
    assert.equal(delay.current(), 10)
  })
})

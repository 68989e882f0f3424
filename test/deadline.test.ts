import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Deadline } from '../src/deadline.js'

describe('Deadline', () => {
  it('aborts when its time runs out, saying so', async () => {
    const deadline = new Deadline(20)
    assert.equal(deadline.signal.aborted, false)
    await sleep(200)
    assert.equal(deadline.signal.aborted, true)
    assert.equal(deadline.expired, true)
    assert.equal((deadline.signal.reason as Error).name, 'DeadlineReachedError')
  })

  it('aborts with the parent\'s reason, at once for a parent already aborted, and is not expired', () => {
    const parent = new AbortController()
    const deadline = new Deadline(60_000, parent.signal)
    parent.abort(new Error('caller gone'))
    assert.equal(deadline.signal.aborted, true)
    assert.equal((deadline.signal.reason as Error).message, 'caller gone')
    assert.equal(deadline.expired, false)
    deadline.clear()
    const late = new Deadline(60_000, parent.signal)
    assert.equal((late.signal.reason as Error).message, 'caller gone')
    late.clear()
  })

  it('once cleared, neither its time nor its parent aborts it', async () => {
    const parent = new AbortController()
    const deadline = new Deadline(20, parent.signal)
    deadline.clear()
    await sleep(100)
    parent.abort(new Error('after clear'))
    assert.equal(deadline.signal.aborted, false)
  })
})

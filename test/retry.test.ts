import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RetryableLedgerError } from '../src/chain/errors.js'
import { backoffDelayMs, isRetryable, RetryableError, withRetries } from '../src/retry.js'
import { RetryableWalrusError, WalrusRequestError } from '../src/walrus/errors.js'

describe('the shared retry helper', () => {
  it('retries Walrus\'s and the ledger\'s retryable errors alike, and nothing else', async () => {
    assert.ok(new RetryableWalrusError('x') instanceof RetryableError)
    assert.ok(new RetryableLedgerError('x') instanceof RetryableError)
    assert.equal(isRetryable(new WalrusRequestError('bad', 400)), false)
    for (const make of [() => new RetryableWalrusError('w'), () => new RetryableLedgerError('l')]) {
      let calls = 0
      const result = await withRetries(async () => { if (calls++ < 2) throw make(); return 'ok' }, { retries: 3, baseDelayMs: 1, maxDelayMs: 2 })
      assert.equal(result, 'ok')
      assert.equal(calls, 3)
    }
    let calls = 0
    await assert.rejects(withRetries(async () => { calls++; throw new WalrusRequestError('bad', 400) }, { retries: 3, baseDelayMs: 1, maxDelayMs: 2 }), { name: 'WalrusRequestError' })
    assert.equal(calls, 1)
  })

  it('sleeps on the signal: an abort ends the wait with its reason', async () => {
    const controller = new AbortController()
    const run = withRetries(async () => { throw new RetryableWalrusError('down') }, { retries: 5, baseDelayMs: 3_600_000, maxDelayMs: 3_600_000, signal: controller.signal })
    controller.abort(new Error('stop'))
    await assert.rejects(run, { message: 'stop' })
  })

  it('keeps each delay between half and all of its capped ceiling', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(1000, 10 * 2 ** attempt)
      const delay = backoffDelayMs(attempt, { baseDelayMs: 10, maxDelayMs: 1000 })
      assert.ok(delay >= ceiling / 2 - 1 && delay <= ceiling, `${delay} for attempt ${attempt}`)
    }
  })
})

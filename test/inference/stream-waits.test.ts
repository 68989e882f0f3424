import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { StreamWaits } from '../../src/inference/stream-waits.js'

/** The waits here are short; what is asserted is which waits end, never how soon. */
const MS = 20

async function aborted (signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return signal.reason
  return new Promise(resolve => { signal.addEventListener('abort', () => { resolve(signal.reason) }, { once: true }) })
}

describe('StreamWaits', () => {
  it('ends a wait for a request that runs past its time, as AbortSignal.timeout would (TimeoutError)', async () => {
    const stopping = new AbortController()
    const waits = new StreamWaits(MS, stopping.signal)
    try {
      const reason = await aborted(waits.forRequest(MS))
      assert.equal((reason as Error).name, 'TimeoutError')
    } finally {
      waits.clear()
    }
  })

  it('does not bound the time between waits (a run), and re-arms for each wait', async () => {
    const stopping = new AbortController()
    const waits = new StreamWaits(MS, stopping.signal)
    try {
      for (let i = 0; i < 3; i++) {
        waits.forRequest(MS)
        waits.done()
        await sleep(MS * 3)
        assert.equal(waits.signal.aborted, false, `the signal aborted between waits (round ${i})`)
      }
      assert.equal(((await aborted(waits.forReply())) as Error).name, 'TimeoutError')
    } finally {
      waits.clear()
    }
  })

  it('ends a wait for a request when the server stops, but not a reply being written', async () => {
    const stopping = new AbortController()
    const waits = new StreamWaits(60_000, stopping.signal)
    try {
      waits.forReply()
      stopping.abort(new Error('stopping'))
      assert.equal(waits.signal.aborted, false)
      waits.done()
      const reason = await aborted(waits.forRequest(60_000))
      assert.equal((reason as Error).message, 'stopping')
    } finally {
      waits.clear()
    }
    const stopped = new AbortController()
    stopped.abort(new Error('stopped before'))
    const late = new StreamWaits(60_000, stopped.signal)
    try {
      assert.equal(late.forRequest(60_000).aborted, true)
    } finally {
      late.clear()
    }
  })
})

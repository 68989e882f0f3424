import assert from 'node:assert/strict'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { IdleSignal } from '../../src/mesh/idle-signal.js'

describe('idle signals', () => {
  it('abort with a TimeoutError once left alone, at once with the parent, and never once cleared', async () => {
    const idle = new IdleSignal(20)
    const signal = idle.touch()
    await once(signal, 'abort')
    assert.equal((signal.reason as Error).name, 'TimeoutError')
    idle.clear()

    const parent = new AbortController()
    const child = new IdleSignal(60_000, parent.signal)
    parent.abort(new Error('caller gave up'))
    assert.equal(child.touch().aborted, true)
    assert.equal((child.touch().reason as Error).message, 'caller gave up')
    child.clear()

    // Touched more often than its idle time, it holds; left alone after, it aborts.
    const kept = new IdleSignal(60)
    for (let i = 0; i < 8; i++) {
      await sleep(20)
      assert.equal(kept.touch().aborted, false, `aborted after ${i + 1} touches 20 ms apart`)
    }
    await once(kept.signal, 'abort')
    assert.equal((kept.signal.reason as Error).name, 'TimeoutError')
    kept.clear()

    const cleared = new IdleSignal(10)
    cleared.clear()
    await sleep(100)
    assert.equal(cleared.touch().aborted, false)
  })
})

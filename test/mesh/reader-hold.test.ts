import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { holdForReaders } from '../../src/mesh/reader-hold.js'

/** A blob's open for peers, counted, with when its handle was released. */
function opener (): { open: () => Promise<{ release: () => void }>, opened: number, releasedAt?: number } {
  const state: { open: () => Promise<{ release: () => void }>, opened: number, releasedAt?: number } = {
    opened: 0,
    open: async () => {
      state.opened++
      return { release: () => { state.releasedAt ??= Date.now() } }
    }
  }
  return state
}

describe('holding a blob just downloaded for the peers still fetching it', () => {
  it('does not open the blob when no peer is fetching it', async () => {
    const blob = opener()
    await holdForReaders({ open: blob.open, fetching: () => false, maxMs: 10_000, signal: AbortSignal.timeout(10_000) })
    assert.equal(blob.opened, 0)
  })

  it('holds it until no peer is listed as fetching it any more', async () => {
    const blob = opener()
    let fetching = true
    const started = Date.now()
    const held = holdForReaders({ open: blob.open, fetching: () => fetching, maxMs: 10_000, signal: AbortSignal.timeout(10_000), pollMs: 20 })
    await sleep(200)
    assert.equal(blob.opened, 1)
    assert.equal(blob.releasedAt, undefined, 'held while a peer fetches it')
    fetching = false
    await held
    const heldMs = (blob.releasedAt ?? Infinity) - started
    assert.ok(heldMs >= 200 && heldMs < 2_000, `released within a poll of the last peer's download ending (held ${heldMs} ms)`)
  })

  it('holds it no longer than its bound however long peers say they fetch it, and lets go at once when stopped', async () => {
    const blob = opener()
    const started = Date.now()
    await holdForReaders({ open: blob.open, fetching: () => true, maxMs: 300, signal: AbortSignal.timeout(10_000), pollMs: 50 })
    const heldMs = (blob.releasedAt ?? Infinity) - started
    assert.ok(heldMs >= 290 && heldMs < 2_000, `held for its bound of 300 ms (${heldMs} ms)`)
    const stopped = opener()
    const controller = new AbortController()
    const held = holdForReaders({ open: stopped.open, fetching: () => true, maxMs: 60_000, signal: controller.signal, pollMs: 60_000 })
    await sleep(50)
    const abortedAt = Date.now()
    controller.abort(new Error('stopping'))
    await held
    assert.ok((stopped.releasedAt ?? Infinity) - abortedAt < 1_000, 'released when the fetcher stops, not at the next poll')
  })

  it('does nothing when the blob is gone already', async () => {
    await holdForReaders({ open: async () => undefined, fetching: () => true, maxMs: 10_000, signal: AbortSignal.timeout(10_000) })
  })
})

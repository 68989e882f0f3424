import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BusyError } from '../../src/inference/infer-errors.js'
import { chooseRoute, type RouteInput } from '../../src/inference/routing.js'
import { RunQueue } from '../../src/inference/run-queue.js'

const MiB = 1024 * 1024
const base: RouteInput = { modelBytes: 100 * MiB, localQueue: 0, holders: [], hops: 0, maxHops: 1, fetchBytesPerSec: 100 * MiB, loadBytesPerSec: 200 * MiB, runMs: 50 }

describe('routing policy', () => {
  it('forwards a large model to a nearby idle holder rather than fetching it', () => {
    const route = chooseRoute({ ...base, holders: [{ peerId: 'a', queue: 0, rttMs: 2, warm: true }] })
    assert.deepEqual(route.kind === 'forward' ? route.peerId : route.kind, 'a')
  })

  it('fetches when the holders are busy enough that fetching is quicker', () => {
    const route = chooseRoute({ ...base, modelBytes: MiB, holders: [{ peerId: 'a', queue: 40, rttMs: 2, warm: true }] })
    assert.equal(route.kind, 'fetch')
  })

  it('picks the holder with the lowest expected time: load and round trip', () => {
    const route = chooseRoute({
      ...base,
      holders: [
        { peerId: 'far', queue: 0, rttMs: 400, warm: true },
        { peerId: 'busy', queue: 30, rttMs: 1, warm: true },
        { peerId: 'cold', queue: 0, rttMs: 5, warm: false }
      ]
    })
    assert.equal(route.kind === 'forward' && route.peerId, 'cold')
  })

  it('never forwards past the hop limit', () => {
    assert.equal(chooseRoute({ ...base, hops: 1, holders: [{ peerId: 'a', queue: 0, rttMs: 1, warm: true }] }).kind, 'fetch')
  })
})

describe('run queue', () => {
  it('answers busy at once when the queue is full, and runs the waiting in order', async () => {
    const queue = new RunQueue({ concurrency: 1, depth: 1 })
    const order: number[] = []
    let release!: () => void
    const first = queue.run(async () => { await new Promise<void>(resolve => { release = resolve }); order.push(1) })
    const second = queue.run(async () => { order.push(2) })
    assert.equal(queue.load, 2)
    await assert.rejects(queue.run(async () => { order.push(3) }), (err: Error) => err instanceof BusyError && (err as BusyError).code === 'BUSY')
    release()
    await Promise.all([first, second])
    assert.deepEqual(order, [1, 2])
    assert.equal(queue.load, 0)
  })

  it('drops a waiting run whose caller went away', async () => {
    const queue = new RunQueue({ concurrency: 1, depth: 4 })
    let release!: () => void
    const first = queue.run(async () => { await new Promise<void>(resolve => { release = resolve }) })
    const controller = new AbortController()
    let ran = false
    const waiting = queue.run(async () => { ran = true }, controller.signal)
    controller.abort(new Error('gone'))
    await assert.rejects(waiting, /gone/)
    release()
    await first
    assert.equal(ran, false)
    assert.equal(queue.load, 0)
  })
})

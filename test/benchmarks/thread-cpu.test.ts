import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'
import { threadCpuMsSince, threadTicks } from '../../benchmarks/inference/thread-cpu.js'

const BUSY_CPU_MS = 300
/** A loaded machine may give a busy thread little CPU: the spin ends at this wall time whatever it got. */
const SPIN_LIMIT_MS = 10_000

/** Spins this thread until it has used BUSY_CPU_MS of CPU, or SPIN_LIMIT_MS pass. */
function spin (): number {
  const before = process.threadCpuUsage()
  const deadline = performance.now() + SPIN_LIMIT_MS
  let used = 0
  while (used < BUSY_CPU_MS * 1000 && performance.now() < deadline) {
    const now = process.threadCpuUsage(before)
    used = now.user + now.system
  }
  return used / 1000
}

describe('CPU by thread kind, from /proc', { skip: process.platform !== 'linux' ? 'reads /proc/self/task: Linux only' : false }, () => {
  it('counts the event loop\'s CPU and a worker thread\'s apart', async () => {
    const before = threadTicks()
    assert.ok(before != null && [...before.values()].some(t => t.kind === 'eventLoop'), 'the main thread is listed')
    const loopMs = spin()
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads')
      const before = process.threadCpuUsage()
      const deadline = performance.now() + ${SPIN_LIMIT_MS}
      let used = 0
      while (used < ${BUSY_CPU_MS * 1000} && performance.now() < deadline) { const now = process.threadCpuUsage(before); used = now.user + now.system }
      // Alive until terminated: an ended thread leaves /proc before its CPU is read.
      parentPort.once('message', () => {})
      parentPort.postMessage(used / 1000)
    `, { eval: true })
    const workerMs = await new Promise<number>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
    const ms = threadCpuMsSince(before)
    await worker.terminate()
    assert.ok(ms != null)
    // /proc counts in 10 ms ticks; each thread spun for BUSY_CPU_MS unless the machine starved it.
    assert.ok(ms.eventLoop >= loopMs - 30, `event loop ${ms.eventLoop} ms against ${loopMs} spun`)
    assert.ok(ms.workers >= workerMs - 30 && ms.workers <= workerMs + 200, `worker threads ${ms.workers} ms against ${workerMs} spun`)
    assert.ok(ms.eventLoop < loopMs + workerMs + 200, 'the worker\'s spin is not counted as the event loop\'s')
  })
})

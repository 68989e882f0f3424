import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'
import { threadCpuMsSince, threadTicks } from '../../benchmarks/inference/thread-cpu.js'

const BUSY_CPU_MS = 300
/** A loaded machine may give a busy thread little CPU: the spin ends at this wall time whatever it got. */
const SPIN_LIMIT_MS = 10_000

/** Spins the calling thread until it has used `cpuMs` of CPU, or `limitMs` pass; the CPU ms it used. Self-contained: a worker runs its source too. */
function spin (cpuMs: number, limitMs: number): number {
  const before = process.threadCpuUsage()
  const deadline = performance.now() + limitMs
  let used = 0
  while (used < cpuMs * 1000 && performance.now() < deadline) {
    const now = process.threadCpuUsage(before)
    used = now.user + now.system
  }
  return used / 1000
}

describe('CPU by thread kind, from /proc', { skip: process.platform !== 'linux' ? 'reads /proc/self/task: Linux only' : false }, () => {
  it('counts the event loop\'s CPU and a worker thread\'s apart', async () => {
    const before = threadTicks()
    assert.ok(before != null && [...before.values()].some(t => t.kind === 'eventLoop'), 'the main thread is listed')
    const loopMs = spin(BUSY_CPU_MS, SPIN_LIMIT_MS)
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads')
      const used = (${spin.toString()})(${BUSY_CPU_MS}, ${SPIN_LIMIT_MS})
      // Alive until terminated: an ended thread leaves /proc before its CPU is read.
      parentPort.once('message', () => {})
      parentPort.postMessage(used)
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

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { NodeCpuSampler } from '../../sim/live-cpu.js'

describe('NodeCpuSampler: the node processes\' share of the machine over a replay', { skip: process.platform !== 'linux' ? 'reads /proc, which only Linux has' : false }, () => {
  it('counts the CPU of the processes it is given, from the start or from their own start, and not others', async () => {
    // A busy process for 2 s, one that starts a second later and idles, and one busy that it is not given.
    const busy = spawn(process.execPath, ['-e', 'const end = Date.now() + 2_000; while (Date.now() < end);'])
    const other = spawn(process.execPath, ['-e', 'const end = Date.now() + 2_000; while (Date.now() < end);'])
    let late: ReturnType<typeof spawn> | undefined
    try {
      const pids = (): number[] => [busy.pid as number, ...(late?.pid != null ? [late.pid] : [])]
      const sampler = new NodeCpuSampler(pids)
      await sampler.start()
      await sleep(1_000)
      late = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1_500)'])
      await sleep(1_500)
      const load = await sampler.stop()
      assert.ok(load != null)
      assert.equal(load.machineCores, availableParallelism())
      // The busy process ran on one core for most of it; the idle one added its start (well under a second); the other is not counted.
      assert.ok(load.nodeCpuSeconds > 0.5 && load.nodeCpuSeconds < 3.2, `${load.nodeCpuSeconds} CPU-seconds`)
      assert.ok(load.nodeCores > 0.2 && load.nodeCores <= load.machineCores, `${load.nodeCores} cores`)
      // One busy process is half of two cores at most: never 90% of them.
      if (load.machineCores >= 2) assert.equal(load.saturatedShare, 0)
      assert.equal(await sampler.stop(), undefined, 'stopped once')
    } finally {
      for (const child of [busy, other, late]) child?.kill()
    }
  })
})

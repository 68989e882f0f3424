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
      assert.ok(load.saturatedShare >= 0 && load.saturatedShare <= 1)
      assert.equal(await sampler.stop(), undefined, 'stopped once')
    } finally {
      for (const child of [busy, other, late]) child?.kill()
    }
  })

  it('counts the seconds in which every core was busy, whoever kept it busy', { skip: availableParallelism() > 8 ? 'a busy process per core would be too many here' : false }, async () => {
    const busy = Array.from({ length: availableParallelism() }, () => spawn(process.execPath, ['-e', 'const end = Date.now() + 3_000; while (Date.now() < end);']))
    try {
      const sampler = new NodeCpuSampler(() => [])
      await sampler.start()
      await sleep(2_500)
      const load = await sampler.stop()
      assert.ok(load != null)
      assert.equal(load.nodeCpuSeconds, 0, 'none of them is a node')
      assert.ok(load.saturatedShare >= 0.5, `saturated ${load.saturatedShare} of the time`)
    } finally {
      for (const child of busy) child.kill()
    }
  })
})

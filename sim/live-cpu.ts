/**
 * How much of the machine the node processes took over a live replay, read
 * from /proc every second: a live run's times measure the mesh only while
 * the nodes leave the machine some room (docs/simulation.md, "Limits on a
 * small machine"). Linux only; elsewhere there is nothing to read.
 */

import { availableParallelism } from 'node:os'
import { cpuSecondsOf, machineTicks } from '../harness/link-counters.js'

/** A share of the machine's cores busy (with anything: nodes, devnet, this process), at or past which a second counts as saturated. */
export const SATURATED_SHARE = 0.9
const SAMPLE_MS = 1_000

export interface MachineLoad {
  /** CPU the node processes used over the replay (user + system), seconds. */
  nodeCpuSeconds: number
  /** That over the replay's length: cores busy with the nodes, on average. */
  nodeCores: number
  machineCores: number
  /** Seconds of the replay in which the machine's cores were SATURATED_SHARE busy or more, over all its seconds. */
  saturatedShare: number
}

export class NodeCpuSampler {
  private readonly pids: () => number[]
  private readonly machineCores = availableParallelism()
  /** CPU seconds of each process at its last reading. */
  private readonly last = new Map<number, number>()
  private timer?: NodeJS.Timeout
  private startedAt = 0
  private lastAt = 0
  private total = 0
  private seconds = 0
  private saturated = 0
  private machine?: { busy: number, total: number }
  private reading: Promise<void> = Promise.resolve()

  /** `pids`: the node processes running now, asked at every reading. */
  constructor (pids: () => number[]) {
    this.pids = pids
  }

  async start (): Promise<void> {
    if (process.platform !== 'linux') return
    this.startedAt = this.lastAt = performance.now()
    this.machine = await machineTicks().catch(() => undefined)
    // Processes running at the start count from here; one that starts later counts from its own start.
    for (const pid of this.pids()) this.last.set(pid, await cpuSecondsOf(pid))
    this.timer = setInterval(() => { this.reading = this.reading.then(async () => { await this.read() }) }, SAMPLE_MS)
    this.timer.unref()
  }

  /** Stops reading; undefined where nothing could be read. */
  async stop (): Promise<MachineLoad | undefined> {
    clearInterval(this.timer)
    if (this.timer == null) return undefined
    this.timer = undefined
    await this.reading
    await this.read()
    const elapsed = (this.lastAt - this.startedAt) / 1000
    if (!(elapsed > 0)) return undefined
    return {
      nodeCpuSeconds: Math.round(this.total * 100) / 100,
      nodeCores: Math.round(this.total / elapsed * 100) / 100,
      machineCores: this.machineCores,
      saturatedShare: this.seconds > 0 ? Math.round(this.saturated / this.seconds * 1000) / 1000 : 0
    }
  }

  private async read (): Promise<void> {
    const now = performance.now()
    let used = 0
    const running = new Set(this.pids())
    for (const pid of running) {
      const seconds = await cpuSecondsOf(pid)
      used += Math.max(0, seconds - (this.last.get(pid) ?? 0))
      this.last.set(pid, seconds)
    }
    for (const pid of this.last.keys()) if (!running.has(pid)) this.last.delete(pid)
    const machine = await machineTicks().catch(() => undefined)
    const elapsed = (now - this.lastAt) / 1000
    this.lastAt = now
    this.total += used
    const busy = machine != null && this.machine != null && machine.total > this.machine.total ? (machine.busy - this.machine.busy) / (machine.total - this.machine.total) : undefined
    this.machine = machine
    if (elapsed <= 0 || busy == null) return
    this.seconds += elapsed
    if (busy >= SATURATED_SHARE) this.saturated += elapsed
  }
}

/**
 * How long a loop that wakes at least every `intervalMs` was kept from
 * running: by a process starved of CPU (16 node processes on 2 shared cores
 * waited on the run queue 23-48 times as long as they ran) or by a long
 * synchronous task. Time a node did not run is no evidence about its peers:
 * bytes they sent meanwhile wait in the socket buffers, and Node runs the
 * overdue timers before it reads them.
 */
export class LoopLag {
  private readonly intervalMs: number
  private readonly toleranceMs: number
  private last?: number
  private waited = false

  /** Gaps up to `intervalMs + toleranceMs` between passes are on time: timers on a busy machine run late by tens of ms. */
  constructor (intervalMs: number, toleranceMs: number) {
    this.intervalMs = intervalMs
    this.toleranceMs = toleranceMs
  }

  /**
   * A pass of the loop at `now`: the time since the last one past the
   * interval (0 if on time), and whether to read pending I/O before judging
   * anything. That wait is taken once in a row: on a machine so starved that
   * every pass is late, a loop that always waited would never act.
   */
  pass (now: number): { frozenMs: number, readFirst: boolean } {
    const gap = this.last == null ? 0 : now - this.last
    this.last = now
    const frozenMs = gap > this.intervalMs + this.toleranceMs ? gap - this.intervalMs : 0
    const readFirst = frozenMs > 0 && !this.waited
    this.waited = readFirst
    return { frozenMs, readFirst }
  }
}

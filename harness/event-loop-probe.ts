// How long this thread's event loop stalled over a stretch of time, for the abuse tests and benchmark.
import { monitorEventLoopDelay } from 'node:perf_hooks'

export interface LoopDelay {
  maxMs: number
  p99Ms: number
}

/**
 * Samples the event loop's delay every 10 ms until `stop()`: the longest a
 * timer waited past its due is how long nothing else (HTTP, gossip, libp2p)
 * could run on this thread.
 */
export function probeEventLoop (): { stop: () => LoopDelay } {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  return {
    stop () {
      histogram.disable()
      // Before its first sample the histogram holds nothing, and max is 0.
      return { maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6 }
    }
  }
}

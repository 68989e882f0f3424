/** Percentiles and CDF samples of a set of measurements. */
import type { Percentiles, StrategyMetrics } from './types.js'

/** Raw time-to-model samples kept for the CDF. */
export const MAX_CDF_SAMPLES = 10_000

/** The samples sorted ascending, as a new Float64Array (the input is left alone). */
export function sortedSamples (values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort()
}

/** Nearest rank: the smallest value with at least `p`% of the samples at or below it; 0 for no samples. */
export function percentileOfSorted (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number
}

export function percentiles (values: ArrayLike<number>): Percentiles {
  const sorted = sortedSamples(values)
  return { p50: percentileOfSorted(sorted, 50), p95: percentileOfSorted(sorted, 95), p99: percentileOfSorted(sorted, 99) }
}

/**
 * At most `max` samples spread evenly over the sorted values (always keeping
 * the smallest and the largest): enough to draw the CDF, deterministic.
 */
export function cdfSamples (sorted: ArrayLike<number>, max = MAX_CDF_SAMPLES): number[] {
  const n = sorted.length
  if (n <= max) return Array.from(sorted)
  const out = new Array<number>(max)
  for (let i = 0; i < max; i++) out[i] = sorted[Math.round(i * (n - 1) / (max - 1))] as number
  return out
}

/** Min, max and mean of (local + peer) / requests over the nodes that had requests. */
export function nodeHitRateSpread (requests: ArrayLike<number>, hits: ArrayLike<number>): StrategyMetrics['perNodeHitRate'] {
  let min = Infinity
  let max = -Infinity
  let sum = 0
  let counted = 0
  for (let v = 0; v < requests.length; v++) {
    const n = requests[v] as number
    if (n === 0) continue
    const rate = (hits[v] as number) / n
    min = Math.min(min, rate)
    max = Math.max(max, rate)
    sum += rate
    counted++
  }
  return counted === 0 ? { min: 0, max: 0, mean: 0 } : { min, max, mean: sum / counted }
}

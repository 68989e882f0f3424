/** What the benchmarks share: progress notes and nearest-rank percentiles. */

/** A progress line on stderr, so stdout holds only the results. */
export function note (message: string): void {
  process.stderr.write(`# ${message}\n`)
}

/** Nearest rank over ascending samples; NaN for none. */
export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] as number
}

export interface Stats { n: number, p50: number, p95: number, first?: number }

/** p50 and p95 of `samples`, and the first call's time when it was measured apart. */
export function stats (samples: readonly number[], first?: number): Stats {
  const sorted = [...samples].sort((a, b) => a - b)
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), ...(first != null ? { first } : {}) }
}

import type { ChunkSourceKind } from './fetch-types.js'

/**
 * Durations the fetcher measures, for whoever keeps metrics (the API's
 * histograms): one whole download, one request for a run of chunks, and a
 * download's wait for room in the cache (only when it had to wait).
 */
export type FetchTiming =
  | { kind: 'fetch', outcome: 'ok' | 'failed' | 'aborted', source?: ChunkSourceKind, seconds: number }
  | { kind: 'chunk-request', source: ChunkSourceKind, outcome: 'ok' | 'failed', seconds: number }
  | { kind: 'cache-room-wait', seconds: number }

/** Seconds since a `performance.now()` reading. */
export function secondsSince (startedAt: number): number {
  return (performance.now() - startedAt) / 1000
}

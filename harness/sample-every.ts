import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Takes a sample every `periodMs` until the signal aborts, then resolves with
 * those taken: what the swarm's link and socket samplers share. A sample the
 * machine was too busy to take (`take` gave undefined) is skipped, not
 * waited for; a slow one delays the next by what it overran, no more.
 */
export async function sampleEvery<T> (periodMs: number, signal: AbortSignal, take: () => Promise<T | undefined>): Promise<T[]> {
  const samples: T[] = []
  while (!signal.aborted) {
    const started = performance.now()
    const sample = await take()
    if (sample != null) samples.push(sample)
    await sleep(Math.max(0, periodMs - (performance.now() - started)), undefined, { signal }).catch(() => {})
  }
  return samples
}

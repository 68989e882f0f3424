import type ort from 'onnxruntime-node'
import { checkRun, observedRunBytes } from './run-limits.js'
import type { SessionPool } from './session-pool.js'
import { checkInputs } from './tensor-codec.js'

/** Runs estimated below this are not watched for growth the estimate missed. */
const RSS_CHECK_BYTES = 1024 * 1024

export interface PoolRunLimits {
  /** A run expected to take more memory than this is refused (RunTooLargeError) before it starts. */
  maxRunBytes: number
  /** A session is closed after a run seen to take this much, so its arena goes back to the system... */
  releaseAfterRunBytes: number
  /** ...once this many ms pass without another such run. */
  releaseIdleMs: number
}

export interface PoolRunResult {
  outputs: Record<string, ort.Tensor>
  runMs: number
  /** Set when this run loaded the model's session: how long that took. */
  loadMs?: number
}

/** Runs `work`; `loadMs` is its duration when the pool loaded a session meanwhile. */
export async function timedLoad<T> (pool: SessionPool, work: () => Promise<T>): Promise<{ result: T, loadMs?: number }> {
  const loadsBefore = pool.stats().loads
  const started = performance.now()
  const result = await work()
  return pool.stats().loads > loadsBefore ? { result, loadMs: performance.now() - started } : { result }
}

/**
 * One run on a session of `pool`, whichever thread the pool lives on (an
 * inference thread, or the event loop for runs shorter than a thread hop):
 * the inputs checked against the session, the run's memory estimated and
 * refused past the limit, and the session closed once runs that grow it stop.
 */
export async function runOnPool (pool: SessionPool, blobId: string, path: string, inputs: Record<string, ort.Tensor>, limits: PoolRunLimits): Promise<PoolRunResult> {
  const { result: lease, loadMs } = await timedLoad(pool, async () => pool.acquire(blobId, path))
  let grown = false
  try {
    checkInputs(inputs, lease.inputs)
    const estimate = checkRun(inputs, lease, limits.maxRunBytes)
    // RSS is the whole process's (other threads run too): it only catches what the estimate missed.
    // Reading it costs ~13 µs, a tenth of a small MLP's trip through a thread, so small runs skip it.
    const rssBefore = estimate.bytes >= RSS_CHECK_BYTES ? process.memoryUsage.rss() : undefined
    const started = performance.now()
    const outputs = await lease.session.run(inputs) as Record<string, ort.Tensor>
    const runMs = performance.now() - started
    // Judged on what the run produced, not on the estimate that admitted it: an output dimension no input binds is guessed high.
    grown = observedRunBytes(estimate, outputs) >= limits.releaseAfterRunBytes || (rssBefore != null && process.memoryUsage.rss() - rssBefore >= limits.releaseAfterRunBytes)
    return { outputs, runMs, ...(loadMs != null ? { loadMs } : {}) }
  } finally {
    lease.release()
    if (grown) pool.dropLater(blobId, limits.releaseIdleMs)
  }
}

import { parentPort, workerData } from 'node:worker_threads'
import type ort from 'onnxruntime-node'
import type { Tensor as ProtoTensor } from './pb/infer.js'
import { DEFAULT_MAX_RUN_BYTES, DEFAULT_RELEASE_AFTER_RUN_BYTES, DEFAULT_RELEASE_IDLE_MS } from './constants.js'
import { runOnPool, timedLoad } from './pool-run.js'
import { SessionPool, type SessionPoolInit } from './session-pool.js'
import { ownBuffers, tensorFromProto, tensorToProto } from './tensor-codec.js'

/**
 * One inference thread. onnxruntime-node's `run` blocks the thread that calls
 * it (it only defers the native call with setImmediate), so runs happen here,
 * off the event loop that serves libp2p and the HTTP API. Tensors cross in
 * their protobuf form, which the codec already checks.
 */
export type RunWorkerRequest =
  | { id: number, kind: 'run', blobId: string, path: string, inputs: ProtoTensor[] }
  | { id: number, kind: 'warm', blobId: string, path: string }
  | { id: number, kind: 'drop', blobId: string }
  | { id: number, kind: 'stop' }

export type RunWorkerReply =
  | { id: number, ok: true, outputs?: ProtoTensor[], runMs?: number, /** Set when this request loaded the model's session: how long that took. */ loadMs?: number, stats: ReturnType<SessionPool['stats']>, warm: string[] }
  | { id: number, ok: false, error: { name: string, message: string }, stats: ReturnType<SessionPool['stats']>, warm: string[] }

export interface RunWorkerData extends Omit<SessionPoolInit, 'onClose'> {
  /** A run expected to take more memory than this is refused (RunTooLargeError) before it starts. */
  maxRunBytes?: number
  /** A session is closed after a run seen to take this much, so its arena goes back to the system... */
  releaseAfterRunBytes?: number
  /** ...once this many ms pass without another such run (0: at once). */
  releaseIdleMs?: number
}

const data = workerData as RunWorkerData
/** The ID of a message no request asked for: the pool's state after a session closed on its own (dropLater). */
const STATUS_REPLY_ID = -1

const pool: SessionPool = new SessionPool({ ...data, onClose: () => { parentPort?.postMessage({ id: STATUS_REPLY_ID, ok: true, ...poolState() } satisfies RunWorkerReply) } })
const limits = { maxRunBytes: data.maxRunBytes ?? DEFAULT_MAX_RUN_BYTES, releaseAfterRunBytes: data.releaseAfterRunBytes ?? DEFAULT_RELEASE_AFTER_RUN_BYTES, releaseIdleMs: data.releaseIdleMs ?? DEFAULT_RELEASE_IDLE_MS }

/** What every message to the runner carries: this thread's sessions. */
function poolState (): Pick<RunWorkerReply, 'stats' | 'warm'> {
  return { stats: pool.stats(), warm: pool.warmBlobIds() }
}

async function handle (request: RunWorkerRequest): Promise<Omit<RunWorkerReply & { ok: true }, 'id' | 'ok' | 'stats' | 'warm'>> {
  switch (request.kind) {
    case 'run': {
      const inputs: Record<string, ort.Tensor> = {}
      for (const tensor of request.inputs) inputs[tensor.name] = tensorFromProto(tensor)
      const { outputs, runMs, loadMs } = await runOnPool(pool, request.blobId, request.path, inputs, limits)
      return { outputs: Object.entries(outputs).map(([name, tensor]) => tensorToProto(name, tensor)), runMs, ...(loadMs != null ? { loadMs } : {}) }
    }
    case 'warm': {
      const { loadMs } = await timedLoad(pool, async () => pool.warm(request.blobId, request.path))
      return loadMs != null ? { loadMs } : {}
    }
    case 'drop':
      await pool.drop(request.blobId)
      return {}
    case 'stop':
      await pool.stop()
      return {}
  }
}

// The outputs' buffers are handed over, not copied: onnxruntime made them for this run and nothing here reads them again.
// Copying PaddleOCR recognition's 1 MB output cost the event loop's thread 1.0-1.4 ms a run against 0.3-0.4.
parentPort?.on('message', (request: RunWorkerRequest) => {
  handle(request).then(
    result => { parentPort?.postMessage({ id: request.id, ok: true, ...result, ...poolState() } satisfies RunWorkerReply, ownBuffers(result.outputs ?? [])) },
    (err: Error) => { parentPort?.postMessage({ id: request.id, ok: false, error: { name: err.name, message: err.message }, ...poolState() } satisfies RunWorkerReply) }
  )
})

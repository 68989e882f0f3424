import { parentPort, workerData } from 'node:worker_threads'
import type { InferenceSession } from 'onnxruntime-node'
import type { Tensor as ProtoTensor } from './pb/infer.js'
import { DEFAULT_MAX_RUN_BYTES, DEFAULT_RELEASE_AFTER_RUN_BYTES } from './constants.js'
import { checkRun } from './run-limits.js'
import { SessionPool, type SessionPoolInit } from './session-pool.js'
import { checkInputs, tensorFromProto, tensorToProto } from './tensor-codec.js'

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

export interface RunWorkerData extends SessionPoolInit {
  /** A run expected to take more memory than this is refused (RunTooLargeError) before it starts. */
  maxRunBytes?: number
  /** A session is closed after a run expected, or seen, to take this much, so its arena goes back to the system. */
  releaseAfterRunBytes?: number
}

const data = workerData as RunWorkerData
const pool = new SessionPool(data)
const maxRunBytes = data.maxRunBytes ?? DEFAULT_MAX_RUN_BYTES
const releaseAfterRunBytes = data.releaseAfterRunBytes ?? DEFAULT_RELEASE_AFTER_RUN_BYTES
/** Runs estimated below this are not watched for growth the estimate missed. */
const RSS_CHECK_BYTES = 1024 * 1024

/** Runs `work`; `loadMs` is its duration when the pool loaded a session meanwhile. */
async function timedLoad<T> (work: () => Promise<T>): Promise<{ result: T, loadMs?: number }> {
  const loadsBefore = pool.stats().loads
  const started = performance.now()
  const result = await work()
  return pool.stats().loads > loadsBefore ? { result, loadMs: performance.now() - started } : { result }
}

async function handle (request: RunWorkerRequest): Promise<Omit<RunWorkerReply, 'id' | 'ok' | 'stats' | 'warm'>> {
  switch (request.kind) {
    case 'run': {
      const inputs: Record<string, InferenceSession.OnnxValueMapType[string]> = {}
      for (const tensor of request.inputs) inputs[tensor.name] = tensorFromProto(tensor)
      const { result: lease, loadMs } = await timedLoad(async () => pool.acquire(request.blobId, request.path))
      let grown = false
      try {
        checkInputs(inputs as Parameters<typeof checkInputs>[0], lease.inputs)
        const estimate = checkRun(inputs as Parameters<typeof checkRun>[0], lease, maxRunBytes)
        // RSS is the whole process's (other threads run too): it only catches what the estimate missed.
        // Reading it costs ~13 µs, a tenth of a small MLP's trip through this thread, so small runs skip it.
        const rssBefore = estimate.bytes >= RSS_CHECK_BYTES ? process.memoryUsage.rss() : undefined
        const started = performance.now()
        const outputs = await lease.session.run(inputs)
        const runMs = performance.now() - started
        grown = estimate.bytes >= releaseAfterRunBytes || (rssBefore != null && process.memoryUsage.rss() - rssBefore >= releaseAfterRunBytes)
        return { outputs: Object.entries(outputs).map(([name, tensor]) => tensorToProto(name, tensor as Parameters<typeof tensorToProto>[1])), runMs, ...(loadMs != null ? { loadMs } : {}) }
      } finally {
        lease.release()
        if (grown) await pool.drop(request.blobId)
      }
    }
    case 'warm': {
      const { loadMs } = await timedLoad(async () => pool.warm(request.blobId, request.path))
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

parentPort?.on('message', (request: RunWorkerRequest) => {
  handle(request).then(
    result => { parentPort?.postMessage({ id: request.id, ok: true, ...result, stats: pool.stats(), warm: pool.warmBlobIds() } satisfies RunWorkerReply) },
    (err: Error) => { parentPort?.postMessage({ id: request.id, ok: false, error: { name: err.name, message: err.message }, stats: pool.stats(), warm: pool.warmBlobIds() } satisfies RunWorkerReply) }
  )
})

// Worker thread entry: computes Walrus blob metadata with the real RS2 encoder, off the main thread.
import { readFile } from 'node:fs/promises'
import { parentPort } from 'node:worker_threads'
import { BlobEncoder } from '@mysten/walrus-wasm'

export interface EncodeJob {
  id: number
  nShards: number
  path?: string
  bytes?: Uint8Array
}

export type EncodeReply =
  | { id: number, ok: true, blobId: Uint8Array, rootHash: Uint8Array, size: number, encodingType: string }
  | { id: number, ok: false, message: string }

const encoders = new Map<number, BlobEncoder>()

function encoderFor (nShards: number): BlobEncoder {
  let encoder = encoders.get(nShards)
  if (encoder == null) {
    encoder = new BlobEncoder(nShards)
    encoders.set(nShards, encoder)
  }
  return encoder
}

async function run (job: EncodeJob): Promise<EncodeReply> {
  try {
    const data = job.bytes ?? await readFile(job.path ?? '')
    const [blobId, root, size, encodingType] = encoderFor(job.nShards).compute_metadata(data) as [number[], { Digest: number[] }, number | bigint, string]
    return {
      id: job.id,
      ok: true,
      blobId: Uint8Array.from(blobId),
      rootHash: Uint8Array.from(root.Digest),
      size: Number(size),
      encodingType
    }
  } catch (err: any) {
    return { id: job.id, ok: false, message: err?.message ?? String(err) }
  }
}

parentPort?.on('message', (job: EncodeJob) => {
  void run(job).then(reply => parentPort?.postMessage(reply))
})

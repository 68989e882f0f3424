// Worker thread entry: the real RS2 encoder, off the main thread: a blob's metadata, or its slivers too.
import { readFile } from 'node:fs/promises'
import { parentPort } from 'node:worker_threads'
import { BlobEncoder } from '@mysten/walrus-wasm'
import { sliverBufferBytes } from './sliver-sizes.js'

export interface EncodeJob {
  id: number
  nShards: number
  path?: string
  bytes?: Uint8Array
  /** Encode every sliver pair too (a write straight to the storage nodes), not only the metadata. */
  slivers?: boolean
}

/** A blob's slivers by pair index, each a BCS `SliverData` in a buffer of its own, and the metadata the storage nodes are sent. */
export interface EncodedSlivers {
  primary: Uint8Array[]
  secondary: Uint8Array[]
  /** The encoder's `BlobMetadata`, as the Walrus SDK sends it to each storage node. */
  metadata: unknown
}

export type EncodeReply =
  | { id: number, ok: true, blobId: Uint8Array, rootHash: Uint8Array, size: number, encodingType: string, slivers?: EncodedSlivers }
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

function encodeSlivers (job: EncodeJob, data: Uint8Array): { reply: EncodeReply, transfer: ArrayBuffer[] } {
  const sizes = sliverBufferBytes(data.byteLength, job.nShards)
  const primary = Array.from({ length: job.nShards }, () => new Uint8Array(sizes.primary))
  const secondary = Array.from({ length: job.nShards }, () => new Uint8Array(sizes.secondary))
  const [encoded, root] = encoderFor(job.nShards).encode(data, primary, secondary) as [{ blob_id: number[], metadata: unknown }, { Digest: number[] }]
  return {
    reply: {
      id: job.id,
      ok: true,
      blobId: Uint8Array.from(encoded.blob_id),
      rootHash: Uint8Array.from(root.Digest),
      size: data.byteLength,
      // The only encoding the SDK writes.
      encodingType: 'RS2',
      slivers: { primary, secondary, metadata: encoded.metadata }
    },
    transfer: [...primary, ...secondary].map(s => s.buffer)
  }
}

async function run (job: EncodeJob): Promise<{ reply: EncodeReply, transfer: ArrayBuffer[] }> {
  try {
    const data = job.bytes ?? await readFile(job.path ?? '')
    if (job.slivers === true) return encodeSlivers(job, data)
    const [blobId, root, size, encodingType] = encoderFor(job.nShards).compute_metadata(data) as [number[], { Digest: number[] }, number | bigint, string]
    return {
      reply: {
        id: job.id,
        ok: true,
        blobId: Uint8Array.from(blobId),
        rootHash: Uint8Array.from(root.Digest),
        size: Number(size),
        encodingType
      },
      transfer: []
    }
  } catch (err: any) {
    return { reply: { id: job.id, ok: false, message: err?.message ?? String(err) }, transfer: [] }
  }
}

parentPort?.on('message', (job: EncodeJob) => {
  void run(job).then(({ reply, transfer }) => parentPort?.postMessage(reply, transfer))
})

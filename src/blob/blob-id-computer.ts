import { stat } from 'node:fs/promises'
import { Worker } from 'node:worker_threads'
import { logger } from '@libp2p/logger'
import { blobIdFromBytes, type BlobId } from './blob-id.js'
import { EncoderError, InvalidArgumentError } from './errors.js'
import { sourceSymbols } from './sliver-sizes.js'
import type { EncodedSlivers, EncodeJob, EncodeReply } from './encoder-worker.js'

/** Shards on Walrus mainnet and testnet: IDs computed with this count are the IDs Walrus gives. */
export const DEFAULT_N_SHARDS = 1000
/** The wasm32 encoder needs about 3x the blob in memory and cannot pass 4 GiB. */
export const MAX_ENCODE_BYTES = 768 * 1024 * 1024
/** A worker that encoded more than this is ended afterwards, so its wasm memory goes back to the OS. */
const RECYCLE_ABOVE_BYTES = 16 * 1024 * 1024
const IDLE_WORKER_MS = 30_000

const log = logger('herd:blob:blob-id-computer')

/** RS2 symbols are at most this many bytes. */
const MAX_SYMBOL_BYTES = 65_534

/**
 * The largest blob RS2 can encode for a shard count: source symbols per blob
 * times the largest symbol (14,599,533,452 bytes at 1000 shards, as Walrus states).
 */
export function maxBlobSizeForShards (nShards: number): number {
  const { primarySymbols, secondarySymbols } = sourceSymbols(nShards)
  return primarySymbols * secondarySymbols * MAX_SYMBOL_BYTES
}

export interface BlobMetadata {
  blobId: BlobId
  /** Root of the RS2 sliver-pair Merkle tree, hex. */
  rootHash: string
  size: number
  encodingType: string
  nShards: number
}

/** A blob encoded for a write straight to the storage nodes: its ID, root hash and metadata, and every sliver pair. */
export interface EncodedBlob extends EncodedSlivers {
  blobId: BlobId
  /** The root of the RS2 sliver-pair Merkle tree. */
  rootHash: Uint8Array
}

type EncodedReply = Extract<EncodeReply, { ok: true }>

export interface BlobIdComputerInit {
  nShards?: number
  /** Encoder workers that may run at once; each may use about 3x the largest blob in memory. */
  concurrency?: number
}

interface QueuedJob {
  job: Omit<EncodeJob, 'id'>
  size: number
  signal?: AbortSignal
  resolve: (reply: EncodedReply) => void
  reject: (err: Error) => void
}

interface Slot {
  worker: Worker
  busy?: { id: number, queued: QueuedJob, onAbort: () => void }
  idleTimer?: NodeJS.Timeout
}

/**
 * Computes Walrus blob IDs with `@mysten/walrus-wasm` in worker threads, so the
 * encoder's seconds of CPU never block the event loop.
 */
export class BlobIdComputer {
  readonly nShards: number
  private readonly concurrency: number
  private readonly queue: QueuedJob[] = []
  private readonly slots = new Set<Slot>()
  private nextId = 1
  private stopped = false

  constructor (init: BlobIdComputerInit = {}) {
    this.nShards = init.nShards ?? DEFAULT_N_SHARDS
    if (!Number.isInteger(this.nShards) || this.nShards < 1 || this.nShards > 65535) {
      throw new InvalidArgumentError(`shard count must be an integer in 1..65535, got ${this.nShards}`)
    }
    this.concurrency = Math.max(1, init.concurrency ?? 1)
  }

  /** The largest blob this computer can take: the encoding's limit for its shard count, or the wasm encoder's memory. */
  get maxBlobBytes (): number {
    return Math.min(MAX_ENCODE_BYTES, maxBlobSizeForShards(this.nShards))
  }

  /** The metadata of a file, read by the worker itself: the main thread never holds the bytes. */
  async computeFile (path: string, options: { signal?: AbortSignal } = {}): Promise<BlobMetadata> {
    const { size } = await stat(path)
    return this.metadataOf(await this.enqueue({ path, nShards: this.nShards }, size, options.signal))
  }

  async computeBytes (bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<BlobMetadata> {
    return this.metadataOf(await this.enqueue({ bytes, nShards: this.nShards }, bytes.byteLength, options.signal))
  }

  /** Every sliver pair of a blob as well as its metadata, for a write straight to the storage nodes (about 4.5 × the blob in memory). */
  async encodeBytes (bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<EncodedBlob> {
    const reply = await this.enqueue({ bytes, nShards: this.nShards, slivers: true }, bytes.byteLength, options.signal)
    if (reply.slivers == null) throw new EncoderError('the encoder answered without slivers')
    return { blobId: blobIdFromBytes(reply.blobId), rootHash: reply.rootHash, ...reply.slivers }
  }

  private metadataOf (reply: EncodedReply): BlobMetadata {
    return { blobId: blobIdFromBytes(reply.blobId), rootHash: Buffer.from(reply.rootHash).toString('hex'), size: reply.size, encodingType: reply.encodingType, nShards: this.nShards }
  }

  /** Ends every worker and fails queued and running jobs. */
  async stop (): Promise<void> {
    this.stopped = true
    for (const queued of this.queue.splice(0)) queued.reject(new EncoderError('blob ID computer stopped'))
    await Promise.all([...this.slots].map(async slot => { await this.endSlot(slot, new EncoderError('blob ID computer stopped')) }))
  }

  private async enqueue (job: Omit<EncodeJob, 'id'>, size: number, signal?: AbortSignal): Promise<EncodedReply> {
    if (this.stopped) throw new EncoderError('blob ID computer stopped')
    if (size > this.maxBlobBytes) {
      throw new InvalidArgumentError(`blob of ${size} bytes is over the limit of ${this.maxBlobBytes} bytes for the encoder at ${this.nShards} shards`)
    }
    signal?.throwIfAborted()
    return new Promise<EncodedReply>((resolve, reject) => {
      const queued: QueuedJob = { job, size, resolve, reject }
      if (signal != null) queued.signal = signal
      this.queue.push(queued)
      signal?.addEventListener('abort', () => {
        const index = this.queue.indexOf(queued)
        if (index >= 0) {
          this.queue.splice(index, 1)
          reject(signal.reason)
        }
      }, { once: true })
      this.pump()
    })
  }

  private pump (): void {
    while (this.queue.length > 0) {
      let slot = [...this.slots].find(s => s.busy == null)
      if (slot == null) {
        if (this.slots.size >= this.concurrency) return
        slot = this.newSlot()
      }
      const queued = this.queue.shift()
      if (queued == null) return
      this.dispatch(slot, queued)
    }
  }

  private newSlot (): Slot {
    const worker = new Worker(new URL('./encoder-worker.js', import.meta.url))
    const slot: Slot = { worker }
    worker.on('message', (reply: EncodeReply) => { this.onReply(slot, reply) })
    worker.on('error', err => { void this.endSlot(slot, new EncoderError(`encoder worker failed: ${err.message}`)) })
    worker.on('exit', code => {
      if (this.slots.has(slot)) void this.endSlot(slot, new EncoderError(`encoder worker exited with code ${code}`))
    })
    this.slots.add(slot)
    return slot
  }

  private dispatch (slot: Slot, queued: QueuedJob): void {
    clearTimeout(slot.idleTimer)
    // Held open while it works (a CLI awaiting it has nothing else open), not while it waits for the next job.
    slot.worker.ref()
    const id = this.nextId++
    const onAbort = (): void => { void this.endSlot(slot, queued.signal?.reason ?? new EncoderError('aborted')) }
    slot.busy = { id, queued, onAbort }
    queued.signal?.addEventListener('abort', onAbort, { once: true })
    slot.worker.postMessage({ ...queued.job, id } satisfies EncodeJob)
  }

  private onReply (slot: Slot, reply: EncodeReply): void {
    const busy = slot.busy
    if (busy == null || busy.id !== reply.id) return
    busy.queued.signal?.removeEventListener('abort', busy.onAbort)
    slot.busy = undefined
    if (reply.ok) {
      busy.queued.resolve(reply)
    } else {
      busy.queued.reject(new EncoderError(`encoder failed: ${reply.message}`))
    }
    if (busy.queued.size > RECYCLE_ABOVE_BYTES) {
      log('recycling encoder worker after a %d byte blob', busy.queued.size)
      void this.endSlot(slot)
    } else {
      slot.worker.unref()
      slot.idleTimer = setTimeout(() => { void this.endSlot(slot) }, IDLE_WORKER_MS).unref()
    }
    this.pump()
  }

  private async endSlot (slot: Slot, reason?: Error): Promise<void> {
    if (!this.slots.delete(slot)) return
    clearTimeout(slot.idleTimer)
    const busy = slot.busy
    slot.busy = undefined
    if (busy != null) {
      busy.queued.signal?.removeEventListener('abort', busy.onAbort)
      busy.queued.reject(reason ?? new EncoderError('encoder worker ended'))
    }
    await slot.worker.terminate()
    if (!this.stopped) this.pump()
  }
}

import { logger } from '@libp2p/logger'
import type ort from 'onnxruntime-node'
import type { BlobId } from '../blob/blob-id.js'
import { Deadline } from '../deadline.js'
import {
  DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MS, DEFAULT_LOAD_BYTES_PER_SEC, DEFAULT_MAX_DEADLINE_MS, DEFAULT_MAX_HOPS,
  DEFAULT_PEER_FETCH_BYTES_PER_SEC, DEFAULT_QUEUE_DEPTH, DEFAULT_WALRUS_FETCH_BYTES_PER_SEC
} from './constants.js'
import type { TensorSpec } from './model-signature.js'
import { asInferError, BusyError, DeadlineExceededError, InferError, UnknownModelError } from './infer-errors.js'
import { chooseRoute, type HolderView } from './routing.js'
import { RunQueue } from './run-queue.js'
import { checkInputs } from './tensor-codec.js'
import type { WorkerRunner } from './worker-runner.js'

const log = logger('herd:inference:service')

export type Tensors = Record<string, ort.Tensor>

export interface InferInput {
  /** A blob ID, a registered name, or name@version. */
  model: string
  inputs: Tensors
  /** Milliseconds the caller will wait; the service default when absent or 0. */
  deadlineMs?: number
  /** Times the request was already forwarded. */
  hops?: number
}

export interface InferResult {
  outputs: Tensors
  /** The peer ID of the node that ran it. */
  node: string
  modelBlobId: string
  runMs: number
  /** How the request reached the node that ran it. */
  route: 'local' | 'fetched' | 'forwarded'
  /** The signed receipt of the run (a SignedReceipt encoding), when the node that ran it issues receipts. */
  receipt?: Uint8Array
}

/** A model's registry entry, as far as inference reads it. */
export interface RegisteredModel {
  blobId: BlobId
  size: number
  /** The registered chunk root, 64 hex digits: a receipt names it. */
  chunkRoot: string
  /** Only `onnx` runs here. */
  format: string
  inputs: TensorSpec[]
}

/** A model file in the cache, held from eviction until `release`. */
export interface HeldBlob {
  path: string
  /** Rejects with CorruptBlobError, dropping the blob, when its file is gone from disk. */
  confirmOnDisk: () => Promise<void>
  release: () => void
}

/** A holder of a model, as the mesh reports it. */
export interface ModelHolder {
  peerId: string
  /** Requests queued or running there, from its gossiped load. */
  queue: number
  /** It gossiped a loaded session of the model. */
  warm: boolean
}

/** Durations the service measures, for whoever keeps metrics: the wait for a run's slot, and the run itself. */
export interface InferenceTiming {
  kind: 'inference-queue' | 'inference-run'
  seconds: number
}

export interface InferenceComponents {
  selfId: string
  /** Runs a model file on an inference thread. */
  runner: Pick<WorkerRunner, 'run'>
  /** The model registry (the chain's ModelRegistry): by blob ID, name or name@version; NotFoundError when there is none. */
  registry: { model: (ref: string, options: { signal: AbortSignal }) => Promise<RegisteredModel> }
  /** Model files (the mesh's Fetcher): `openHeld` only if cached now, `open` fetching from peers or Walrus first. */
  blobs: {
    openHeld: (blobId: BlobId) => Promise<HeldBlob | undefined>
    open: (blobId: BlobId, options: { signal: AbortSignal }) => Promise<HeldBlob>
  }
  /** Who holds a model and how far away they are (the mesh's MeshHolders). */
  mesh: {
    holders: (blobId: BlobId) => ModelHolder[]
    rttMs: (peerId: string, options: { signal: AbortSignal }) => Promise<number>
  }
  /**
   * Signs and durably queues the receipt of a run; the result leaves only
   * after it resolves. Absent: no receipts.
   */
  issueReceipt?: (run: { modelBlobId: BlobId, chunkRoot: string, inputs: Tensors, outputs: Tensors, preparedInputs?: unknown }) => Promise<{ bytes: Uint8Array }>
  /** The receipt's work on a run's inputs, done while the run is on its thread; handed to issueReceipt as preparedInputs. */
  prepareReceipt?: (inputs: Tensors) => unknown
  /** Sends the request to a peer over /herd/infer/1.0.0. */
  forward: (peerId: string, input: InferInput, options: { signal: AbortSignal }) => Promise<InferResult>
  onTiming?: (timing: InferenceTiming) => void
}

export interface InferenceServiceInit {
  /** Runs at once: one per inference thread. */
  concurrency?: number
  /** Runs waiting; past it a request is answered BUSY at once. */
  queueDepth?: number
  defaultDeadlineMs?: number
  maxDeadlineMs?: number
  /** A request is forwarded at most this many times. */
  maxHops?: number
  /** Expected throughputs for the routing decision. */
  peerFetchBytesPerSec?: number
  walrusFetchBytesPerSec?: number
  loadBytesPerSec?: number
}

export interface InferenceStats {
  runs: number
  forwarded: number
  fetched: number
  failed: number
  busy: number
}

/** Runs models for local callers and for peers: here when the model is held, else by the routing policy. */
export class InferenceService {
  private readonly components: InferenceComponents
  private readonly queue: RunQueue
  private readonly defaultDeadlineMs: number
  private readonly maxDeadlineMs: number
  private readonly maxHops: number
  private readonly peerFetchBytesPerSec: number
  private readonly walrusFetchBytesPerSec: number
  private readonly loadBytesPerSec: number
  /** Moving average of run times, for the routing decision. */
  private averageRunMs = 50
  readonly stats: InferenceStats = { runs: 0, forwarded: 0, fetched: 0, failed: 0, busy: 0 }

  constructor (components: InferenceComponents, init: InferenceServiceInit = {}) {
    this.components = components
    this.queue = new RunQueue({ concurrency: init.concurrency ?? DEFAULT_CONCURRENCY, depth: init.queueDepth ?? DEFAULT_QUEUE_DEPTH })
    this.defaultDeadlineMs = init.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS
    this.maxDeadlineMs = init.maxDeadlineMs ?? DEFAULT_MAX_DEADLINE_MS
    this.maxHops = init.maxHops ?? DEFAULT_MAX_HOPS
    this.peerFetchBytesPerSec = init.peerFetchBytesPerSec ?? DEFAULT_PEER_FETCH_BYTES_PER_SEC
    this.walrusFetchBytesPerSec = init.walrusFetchBytesPerSec ?? DEFAULT_WALRUS_FETCH_BYTES_PER_SEC
    this.loadBytesPerSec = init.loadBytesPerSec ?? DEFAULT_LOAD_BYTES_PER_SEC
  }

  /** Requests queued or running here: gossiped as load. */
  get load (): number {
    return this.queue.load
  }

  async infer (input: InferInput, options: { signal?: AbortSignal } = {}): Promise<InferResult> {
    const deadlineMs = Math.min(input.deadlineMs != null && input.deadlineMs > 0 ? input.deadlineMs : this.defaultDeadlineMs, this.maxDeadlineMs)
    const deadline = new Deadline(deadlineMs, options.signal)
    const { signal } = deadline
    try {
      // A request that may not be forwarded again ends in this queue whatever the route (run here, or fetched
      // and run here): when it is full, BUSY before the ledger lookup and the cache, so refusing costs less than a run.
      if ((input.hops ?? 0) >= this.maxHops && this.queue.full) throw new BusyError(`${this.queue.load} runs in progress or queued`)
      return await this.route(input, signal)
    } catch (err) {
      this.stats.failed++
      if (deadline.expired) throw new DeadlineExceededError(`no result within the deadline of ${deadlineMs} ms`)
      const known = asInferError(err)
      if (known != null) {
        if (known.code === 'BUSY') this.stats.busy++
        throw known
      }
      if (signal.aborted) throw signal.reason
      log.error('inference failed - %e', err)
      throw new InferError('INTERNAL', (err as Error).message)
    } finally {
      deadline.clear()
    }
  }

  private async route (input: InferInput, signal: AbortSignal): Promise<InferResult> {
    const { components } = this
    const model = await this.resolve(input.model, signal)
    // Inputs are checked against the registered signature before anything is fetched or forwarded.
    if (model.inputs.length > 0) checkInputs(input.inputs, model.inputs)
    const held = await components.blobs.openHeld(model.blobId)
    if (held != null) return this.runHere(model, held, input, 'local', signal)
    const hops = input.hops ?? 0
    const holders = components.mesh.holders(model.blobId)
    const views: HolderView[] = []
    if (hops < this.maxHops) {
      // Pinged together: one after another, eight slow holders would each spend the caller's deadline.
      const candidates = holders.slice(0, 8)
      const rtts = await Promise.allSettled(candidates.map(async holder => components.mesh.rttMs(holder.peerId, { signal })))
      rtts.forEach((rtt, i) => {
        const holder = candidates[i] as typeof candidates[number]
        if (rtt.status === 'fulfilled') views.push({ ...holder, rttMs: rtt.value })
        else log('no RTT to holder %s - %e', holder.peerId, rtt.reason)
      })
    }
    const route = chooseRoute({
      modelBytes: model.size,
      localQueue: this.queue.load,
      holders: views,
      hops,
      maxHops: this.maxHops,
      fetchBytesPerSec: holders.length > 0 ? this.peerFetchBytesPerSec : this.walrusFetchBytesPerSec,
      loadBytesPerSec: this.loadBytesPerSec,
      runMs: this.averageRunMs
    })
    if (route.kind === 'forward') {
      // The chosen holder first, then the others; a busy holder is passed over, not waited on.
      const order = [route.peerId, ...views.map(v => v.peerId).filter(id => id !== route.peerId)]
      let allBusy = true
      for (const peerId of order) {
        log('forwarding %s to %s', model.blobId, peerId)
        try {
          // The blob ID, not the name: the holder runs exactly the version resolved here.
          const result = await components.forward(peerId, { ...input, model: model.blobId, hops: hops + 1 }, { signal })
          this.stats.forwarded++
          return { ...result, route: 'forwarded' }
        } catch (err) {
          const known = asInferError(err)
          if (signal.aborted || known?.code === 'BAD_REQUEST') throw err
          if (known?.code !== 'BUSY') allBusy = false
          log('forwarding to %s failed - %e', peerId, err)
        }
      }
      // Every holder busy: fetching the model would only add another queue; the caller may retry.
      if (allBusy) throw new BusyError(`every holder of ${model.blobId} is busy`)
    }
    const fetched = await components.blobs.open(model.blobId, { signal })
    this.stats.fetched++
    return this.runHere(model, fetched, input, 'fetched', signal)
  }

  /** The registry's entry for a reference, as the caller's error when there is none or it is no ONNX model. */
  private async resolve (ref: string, signal: AbortSignal): Promise<RegisteredModel> {
    let model: RegisteredModel
    try {
      model = await this.components.registry.model(ref, { signal })
    } catch (err) {
      const name = (err as Error).name
      if (name === 'NotFoundError' || name === 'InvalidTransactionError') throw new UnknownModelError(`no registered model ${ref}`)
      throw err
    }
    if (model.format !== 'onnx') throw new InferError('BAD_REQUEST', `model ${ref} is registered as ${model.format}, not onnx`)
    return model
  }

  /** Called once the run has been handed to its thread, so this work overlaps it; a failure here is left for issueReceipt to meet. */
  private prepareReceipt (inputs: Tensors): unknown {
    try {
      return this.components.prepareReceipt?.(inputs)
    } catch (err) {
      // Only a head start: issueReceipt does the work itself when there is none, and reports what fails.
      log('preparing a receipt\'s inputs failed - %e', err)
      return undefined
    }
  }

  private async runHere (model: RegisteredModel, blob: HeldBlob, input: InferInput, route: 'local' | 'fetched', signal: AbortSignal): Promise<InferResult> {
    let outcome
    let preparedInputs: unknown
    const queuedAt = performance.now()
    try {
      outcome = await this.queue.run(async () => {
        this.components.onTiming?.({ kind: 'inference-queue', seconds: (performance.now() - queuedAt) / 1000 })
        signal.throwIfAborted()
        const running = this.components.runner.run(model.blobId, blob.path, input.inputs)
        preparedInputs = this.prepareReceipt(input.inputs)
        return await running
      }, signal)
    } catch (err) {
      // The cache opens a model's file only when read, so a file deleted under a running node shows first as a failed load.
      if (!(route === 'local' && (err as Error).name === 'ModelLoadError' && await isGoneFromDisk(blob))) throw err
    } finally {
      // Held (never evicted) until its session has been loaded and run, and given back when the queue turns the run away.
      blob.release()
    }
    if (outcome === undefined) {
      log('%s was gone from disk: fetching it again', model.blobId)
      const fetched = await this.components.blobs.open(model.blobId, { signal })
      this.stats.fetched++
      return this.runHere(model, fetched, input, 'fetched', signal)
    }
    this.averageRunMs = 0.8 * this.averageRunMs + 0.2 * outcome.runMs
    this.components.onTiming?.({ kind: 'inference-run', seconds: outcome.runMs / 1000 })
    this.stats.runs++
    // Issued after the run's slot is freed: the next run need not wait on the receipt's signature and sync.
    const receipt = await this.components.issueReceipt?.({ modelBlobId: model.blobId, chunkRoot: model.chunkRoot, inputs: input.inputs, outputs: outcome.outputs, preparedInputs })
    return { outputs: outcome.outputs, node: this.components.selfId, modelBlobId: model.blobId, runMs: outcome.runMs, route, ...(receipt != null ? { receipt: receipt.bytes } : {}) }
  }
}

async function isGoneFromDisk (blob: HeldBlob): Promise<boolean> {
  try {
    await blob.confirmOnDisk()
    return false
  } catch (err) {
    return (err as Error).name === 'CorruptBlobError'
  }
}

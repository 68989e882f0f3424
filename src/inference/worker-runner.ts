import { Worker } from 'node:worker_threads'
import { logger } from '@libp2p/logger'
import type ort from 'onnxruntime-node'
import { runOnPool, type PoolRunLimits } from './pool-run.js'
import { DEFAULT_INLINE_MAX_RUN_MS, DEFAULT_MAX_RUN_BYTES, DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_RELEASE_AFTER_RUN_BYTES, DEFAULT_RELEASE_IDLE_MS } from './constants.js'
import type { RunWorkerData, RunWorkerReply, RunWorkerRequest } from './run-worker.js'
import { SessionPool, type SessionPoolStats } from './session-pool.js'
import { tensorFromProto, tensorsToProto } from './tensor-codec.js'

const log = logger('herd:inference:worker-runner')

const DEFAULT_SPREAD_MAX_LOAD_MS = 1_000
/** The event loop's sessions, at most: only models that run within inlineMaxRunMs are loaded there. */
const INLINE_BUDGET_BYTES = 64 * 1024 * 1024

export interface WorkerRunnerInit extends Omit<RunWorkerData, 'memoryBudgetBytes' | 'estimateBytes' | 'now'> {
  /** Inference threads: runs at once. */
  workers?: number
  /** Shared by the workers: each keeps its sessions within its part. */
  memoryBudgetBytes?: number
  /**
   * A model whose session loads within this many ms is also loaded on an idle
   * worker when its warm one is busy (a second copy soon pays for itself under
   * load); a slower one waits for its warm worker. Default 1,000.
   */
  spreadMaxLoadMs?: number
  /**
   * A model whose run on an inference thread took at most this many ms runs
   * on the event loop from then on, for inputs no larger than that run's
   * (0: never). Default DEFAULT_INLINE_MAX_RUN_MS.
   */
  inlineMaxRunMs?: number
}

/** A worker thread's own error, rebuilt with its name so callers can map it (InputMismatchError, ModelLoadError, ...). */
class WorkerError extends Error {
  override readonly name: string
  constructor (name: string, message: string) {
    super(message)
    this.name = name
  }
}

/** Omit over each member of a union, not over the union as a whole. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

export class RunnerStoppedError extends Error {
  override readonly name = 'RunnerStoppedError'
}

interface Slot {
  worker: Worker
  busy: number
  warm: Set<string>
  stats?: SessionPoolStats
  pending: Map<number, { resolve: (reply: RunWorkerReply) => void, reject: (err: Error) => void }>
}

export interface RunOutcome {
  outputs: Record<string, ort.Tensor>
  runMs: number
}

/**
 * Runs models on a few worker threads, each with its own session pool. A
 * model's runs go to a worker that has its session warm when one is free;
 * when all its warm workers are busy, a model that loads quickly is loaded on
 * an idle worker too, so one hot model can use every thread. A model whose
 * runs are shorter than the trip to a thread (inlineMaxRunMs) runs on the
 * event loop, on a pool of its own, with the same checks and limits.
 */
export class WorkerRunner {
  private readonly slots: Slot[] = []
  private nextId = 1
  private stopped = false

  private readonly count: number
  private readonly workerData: RunWorkerData
  private readonly spreadMaxLoadMs: number
  /** Session load time per model (ms), as the inference thread that loaded it measured. */
  private readonly loadMs = new Map<string, number>()
  private readonly inlineMaxRunMs: number
  /**
   * Per model, the input bytes of the largest run measured within
   * inlineMaxRunMs (runs up to that size go inline), and the moving average
   * of its inline runs, which sends it back to the threads past twice the bound.
   */
  private readonly inline = new Map<string, { upTo: number, averageMs: number }>()
  private readonly inlinePool?: SessionPool
  private readonly limits: PoolRunLimits
  private inlineRuns = 0

  constructor (init: WorkerRunnerInit = {}) {
    this.count = Math.max(1, init.workers ?? 2)
    const { workers: _workers, memoryBudgetBytes, spreadMaxLoadMs, ...poolInit } = init
    for (const [name, value] of [['maxRunBytes', init.maxRunBytes], ['releaseAfterRunBytes', init.releaseAfterRunBytes]] as const) {
      if (value != null && (!Number.isSafeInteger(value) || value < 1)) throw new RangeError(`${name} must be a positive integer, not ${value}`)
    }
    if (init.releaseIdleMs != null && !(Number.isSafeInteger(init.releaseIdleMs) && init.releaseIdleMs >= 0)) throw new RangeError(`releaseIdleMs must be an integer number of ms from 0, not ${init.releaseIdleMs}`)
    this.spreadMaxLoadMs = spreadMaxLoadMs ?? DEFAULT_SPREAD_MAX_LOAD_MS
    this.inlineMaxRunMs = init.inlineMaxRunMs ?? DEFAULT_INLINE_MAX_RUN_MS
    if (!(Number.isFinite(this.inlineMaxRunMs) && this.inlineMaxRunMs >= 0)) throw new RangeError(`inlineMaxRunMs must be a number of ms from 0, not ${this.inlineMaxRunMs}`)
    const { inlineMaxRunMs: _inline, ...workerInit } = poolInit
    // The event loop's pool takes a small part of the budget, out of the threads' shares.
    const inlineBudget = this.inlineMaxRunMs > 0 ? Math.min(INLINE_BUDGET_BYTES, Math.floor((memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES) / (this.count + 1))) : 0
    this.workerData = { ...workerInit, ...(memoryBudgetBytes != null ? { memoryBudgetBytes: Math.floor((memoryBudgetBytes - inlineBudget) / this.count) } : {}) }
    this.limits = { maxRunBytes: init.maxRunBytes ?? DEFAULT_MAX_RUN_BYTES, releaseAfterRunBytes: init.releaseAfterRunBytes ?? DEFAULT_RELEASE_AFTER_RUN_BYTES, releaseIdleMs: init.releaseIdleMs ?? DEFAULT_RELEASE_IDLE_MS }
    if (inlineBudget > 0) {
      const { maxRunBytes: _max, releaseAfterRunBytes: _release, releaseIdleMs: _idle, ...sessionInit } = workerInit
      this.inlinePool = new SessionPool({ ...sessionInit, memoryBudgetBytes: inlineBudget })
    }
  }

  /**
   * Starts every inference thread now rather than on the first run, which
   * would otherwise wait for a thread to start and load onnxruntime (about
   * 0.2 s on an idle machine, seconds on a busy one). Returns at once: the
   * threads start on their own.
   */
  startThreads (): void {
    if (this.stopped) return
    while (this.slots.length < this.count) this.spawn()
  }

  /** One inference thread, started by startThreads or the first run; a dead one is replaced by the next run. */
  private spawn (): void {
    const worker = new Worker(new URL('./run-worker.js', import.meta.url), { workerData: this.workerData })
    const slot: Slot = { worker, busy: 0, warm: new Set(), pending: new Map() }
    // Every message carries the thread's sessions; one that no request waits for tells of a session that closed on its own.
    worker.on('message', (reply: RunWorkerReply) => {
      slot.stats = reply.stats
      slot.warm = new Set(reply.warm)
      const waiter = slot.pending.get(reply.id)
      slot.pending.delete(reply.id)
      waiter?.resolve(reply)
    })
    const fail = (err: Error): void => {
      if (!this.slots.includes(slot)) return
      log.error('inference worker failed - %e', err)
      this.slots.splice(this.slots.indexOf(slot), 1)
      for (const waiter of slot.pending.values()) waiter.reject(new WorkerError('InferenceWorkerError', `inference worker failed: ${err.message}`))
      slot.pending.clear()
    }
    worker.on('error', fail)
    worker.on('exit', code => { if (!this.stopped) fail(new Error(`exited with code ${code}`)) })
    this.slots.push(slot)
  }

  private pick (blobId: string): Slot {
    // Checked before any thread starts: one started after stop() would never be terminated.
    if (this.stopped) throw new RunnerStoppedError('the inference runner stopped')
    this.startThreads()
    const byLoad = [...this.slots].sort((a, b) => a.busy - b.busy)
    const least = byLoad[0] as Slot
    const warm = byLoad.find(s => s.warm.has(blobId))
    if (warm == null || warm.busy === 0) return warm ?? least
    if (least.busy === 0 && (this.loadMs.get(blobId) ?? Infinity) <= this.spreadMaxLoadMs) return least
    // A warm worker with one more run queued still beats a slow load elsewhere.
    return warm.busy <= least.busy + 1 ? warm : least
  }

  private noteLoad (blobId: string, ms: number): void {
    const previous = this.loadMs.get(blobId)
    this.loadMs.set(blobId, previous == null ? ms : 0.5 * previous + 0.5 * ms)
  }

  private async send (slot: Slot, request: WithoutId<RunWorkerRequest>): Promise<RunWorkerReply & { ok: true }> {
    if (this.stopped) throw new RunnerStoppedError('the inference runner stopped')
    const id = this.nextId++
    slot.busy++
    try {
      const reply = await new Promise<RunWorkerReply>((resolve, reject) => {
        slot.pending.set(id, { resolve, reject })
        slot.worker.postMessage({ ...request, id } as RunWorkerRequest)
      })
      if (!reply.ok) throw new WorkerError(reply.error.name, reply.error.message)
      return reply
    } finally {
      slot.busy--
    }
  }

  async run (blobId: string, path: string, inputs: Record<string, ort.Tensor>): Promise<RunOutcome> {
    const bytes = inputBytes(inputs)
    const inline = this.inline.get(blobId)
    if (this.inlinePool != null && inline != null && bytes <= inline.upTo) {
      if (this.stopped) throw new RunnerStoppedError('the inference runner stopped')
      const result = await runOnPool(this.inlinePool, blobId, path, inputs, this.limits)
      this.inlineRuns++
      // An average, not each run: one run slowed by the machine's other work must not send the model away and back.
      inline.averageMs = 0.9 * inline.averageMs + 0.1 * result.runMs
      if (inline.averageMs > 2 * this.inlineMaxRunMs) this.inline.delete(blobId)
      return { outputs: result.outputs, runMs: result.runMs }
    }
    const reply = await this.send(this.pick(blobId), { kind: 'run', blobId, path, inputs: tensorsToProto(inputs) })
    if (reply.loadMs != null) this.noteLoad(blobId, reply.loadMs)
    const outputs: Record<string, ort.Tensor> = {}
    for (const tensor of reply.outputs ?? []) outputs[tensor.name] = tensorFromProto(tensor, { maxElements: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER })
    // A run on a thread within the bound lets runs as large go inline (its session there stays for the pool to evict).
    const runMs = reply.runMs ?? Infinity
    if (this.inlinePool != null && runMs <= this.inlineMaxRunMs) {
      this.inline.set(blobId, { upTo: Math.max(bytes, inline?.upTo ?? -1), averageMs: inline?.averageMs ?? runMs })
    }
    return { outputs, runMs: reply.runMs ?? 0 }
  }

  async warm (blobId: string, path: string): Promise<void> {
    const reply = await this.send(this.pick(blobId), { kind: 'warm', blobId, path })
    if (reply.loadMs != null) this.noteLoad(blobId, reply.loadMs)
  }

  async drop (blobId: string): Promise<void> {
    this.loadMs.delete(blobId)
    this.inline.delete(blobId)
    await this.inlinePool?.drop(blobId)
    await Promise.all(this.slots.filter(s => s.warm.has(blobId)).map(async slot => this.send(slot, { kind: 'drop', blobId })))
  }

  warmBlobIds (): string[] {
    return [...new Set([...this.slots.flatMap(s => [...s.warm]), ...(this.inlinePool?.warmBlobIds() ?? [])])]
  }

  /** Sessions and loads count the event loop's pool with the threads'; `inlineRuns` are the runs it took. */
  stats (): { workers: number, sessions: number, estimatedBytes: number, loads: number, inlineRuns: number } {
    const inline = this.inlinePool?.stats()
    return {
      workers: this.slots.length,
      sessions: this.slots.reduce((n, s) => n + (s.stats?.sessions ?? 0), inline?.sessions ?? 0),
      estimatedBytes: this.slots.reduce((n, s) => n + (s.stats?.estimatedBytes ?? 0), inline?.estimatedBytes ?? 0),
      loads: this.slots.reduce((n, s) => n + (s.stats?.loads ?? 0), inline?.loads ?? 0),
      inlineRuns: this.inlineRuns
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    await this.inlinePool?.stop()
    if (this.slots.length === 0) {
      this.stopped = true
      return
    }
    await Promise.allSettled(this.slots.map(async slot => this.send(slot, { kind: 'stop' })))
    this.stopped = true
    await Promise.all(this.slots.map(async slot => slot.worker.terminate()))
  }
}

/** The bytes of a run's inputs; a string tensor counts its characters. */
function inputBytes (inputs: Record<string, ort.Tensor>): number {
  let bytes = 0
  for (const tensor of Object.values(inputs)) {
    const data = tensor.data as unknown
    bytes += ArrayBuffer.isView(data) ? data.byteLength : (data as string[]).reduce((n, v) => n + v.length, 0)
  }
  return bytes
}

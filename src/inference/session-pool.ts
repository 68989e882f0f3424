import { stat } from 'node:fs/promises'
import { logger } from '@libp2p/logger'
import ort from 'onnxruntime-node'
import { raceSignal } from 'race-signal'
import { DEFAULT_GRAPH_OPTIMIZATION_LEVEL, DEFAULT_INTER_OP_THREADS, DEFAULT_INTRA_OP_THREADS, DEFAULT_MEMORY_BUDGET_BYTES } from './constants.js'
import { readDenseLayers, type DenseLayer } from './dense-layers.js'
import { toSpecs, type TensorSpec } from './model-signature.js'
import { ModelLoadError, SessionPoolStoppedError } from './session-errors.js'

const log = logger('herd:inference:session-pool')

const MIB = 1024 * 1024
/** How fast a session's use count fades: a use counts half after 10 minutes, a quarter after 20. */
export const USES_HALF_LIFE_MS = 10 * 60_000

/**
 * Resident bytes of a session for a model file of `fileBytes`: 2 × the file + 8 MiB. Measured with
 * onnxruntime-node 1.30 (graph optimisation 'all', one thread), RSS grows ~8.5 MiB per PaddleOCR
 * detection session (4.7 MB file, 1.8×) and ~14 MiB per recognition session (10.8 MB, 1.3×), after
 * ~40 MiB once for the runtime itself; the margin covers small arenas of the first runs, not the
 * activations of large inputs (a 640×640 detection run adds ~60 MiB while it runs).
 */
export function defaultEstimateBytes (fileBytes: number): number {
  return 2 * fileBytes + 8 * MIB
}

export interface SessionPoolInit {
  memoryBudgetBytes?: number
  /** Threads inside one operator; default 1 (2-core machines; the pool runs several sessions). */
  intraOpNumThreads?: number
  interOpNumThreads?: number
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  /** Estimated resident bytes of a session for a model file of `fileBytes` (default: 2 × file size + 8 MiB). */
  estimateBytes?: (fileBytes: number) => number
  now?: () => number
  /** Called once a session has closed, whatever closed it: on an inference thread, the runner hears of closes no request made. */
  onClose?: (blobId: string) => void
}

export interface SessionLease {
  readonly blobId: string
  readonly session: ort.InferenceSession
  readonly inputs: TensorSpec[]
  readonly outputs: TensorSpec[]
  /** The model's dense layers, for the estimate of a run's memory (empty when the file could not be walked). */
  readonly dense: DenseLayer[]
  /** Ends this lease; a second call does nothing. */
  release(): void
}

export interface SessionPoolStats {
  /** Open sessions, including dropped ones still leased. */
  sessions: number
  /** Estimated bytes of the open and loading sessions. */
  estimatedBytes: number
  budgetBytes: number
  /** Sessions created. */
  loads: number
  closes: number
  /** Acquires answered by a session already open. */
  hits: number
  /** Sessions with at least one lease (or an acquire waiting for their load). */
  leased: number
  /** Loads of a model whose estimate alone exceeds the budget (allowed: every idle session is closed for it). */
  oversizedLoads: number
  /** Loads that went over the budget because leased sessions left no room (a request must not wait on another). */
  overBudgetLoads: number
}

interface Entry {
  readonly blobId: string
  state: 'loading' | 'open' | 'closing'
  /** Leases not yet released plus acquires waiting for the load: while above 0 the session is never closed. */
  leases: number
  estimatedBytes: number
  /** Use count, decayed, as of `usesAt`. */
  uses: number
  usesAt: number
  lastUse: number
  /** Dropped (or the pool stopped): no longer handed out, closed as soon as idle. */
  retired: boolean
  session?: ort.InferenceSession
  inputs: TensorSpec[]
  outputs: TensorSpec[]
  dense: DenseLayer[]
  ready: Promise<void>
  closed?: Promise<void>
  /** Set by dropLater: the drop waiting for a quiet moment. */
  dropTimer?: NodeJS.Timeout
}

/**
 * onnxruntime sessions kept per model blob ID within a memory budget.
 *
 * Which idle session to close first: the one with the fewest expected uses per byte, that is the
 * lowest (use count with exponential decay) / estimated bytes. The budget is in bytes, so what
 * matters is how many requests each held byte will serve warm; the decay (half-life
 * `USES_HALF_LIFE_MS`) keeps a model's history across a quiet minute yet lets a model nobody asks
 * for any more leave, which plain counts would not. LRU weighted by size was the alternative, but
 * LRU forgets frequency: one burst of calls to a rarely used model would push out the model that
 * serves a steady stream. It is the blob cache's reasoning (GDSF: frequency / size) applied to
 * sessions; the decay replaces GDSF's inflation term. Ties go to the least recently used.
 */
export class SessionPool {
  private readonly budgetBytes: number
  private readonly sessionOptions: ort.InferenceSession.SessionOptions
  private readonly estimateBytes: (fileBytes: number) => number
  private readonly now: () => number
  private readonly onClose: ((blobId: string) => void) | undefined
  /** The current session, loading or open, of each blob ID; dropped and closing ones are not here. */
  private readonly entries = new Map<string, Entry>()
  /** Every session that holds memory: loading, open or closing, current or dropped. */
  private readonly live = new Set<Entry>()
  private readonly closing = new Set<Promise<void>>()
  private readonly counters = { loads: 0, closes: 0, hits: 0, oversizedLoads: 0, overBudgetLoads: 0 }
  private stopped = false

  constructor (init: SessionPoolInit = {}) {
    this.budgetBytes = init.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES
    if (!Number.isFinite(this.budgetBytes) || this.budgetBytes <= 0) throw new RangeError(`memoryBudgetBytes must be a positive number, not ${this.budgetBytes}`)
    const intraOpNumThreads = init.intraOpNumThreads ?? DEFAULT_INTRA_OP_THREADS
    const interOpNumThreads = init.interOpNumThreads ?? DEFAULT_INTER_OP_THREADS
    for (const [name, value] of [['intraOpNumThreads', intraOpNumThreads], ['interOpNumThreads', interOpNumThreads]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 256) throw new RangeError(`${name} must be an integer from 1 to 256, not ${value}`)
    }
    this.sessionOptions = {
      graphOptimizationLevel: init.graphOptimizationLevel ?? DEFAULT_GRAPH_OPTIMIZATION_LEVEL,
      intraOpNumThreads,
      interOpNumThreads,
      executionMode: 'sequential'
    }
    this.estimateBytes = init.estimateBytes ?? defaultEstimateBytes
    this.now = init.now ?? Date.now
    this.onClose = init.onClose
  }

  /**
   * A session for the model at `path` (a cached blob file), created once per blob ID; concurrent
   * acquires of one blob share one creation. While leased it is never closed. The file is read only
   * while the session is created: the caller may release its blob handle once this resolves.
   * An abort stops this caller's wait, not the load, which others may share.
   */
  async acquire (blobId: string, path: string, options: { signal?: AbortSignal } = {}): Promise<SessionLease> {
    return this.lease(blobId, path, options.signal, true)
  }

  /** Creates the session ahead of use (the operator's "warm" option); resolves when loaded. */
  async warm (blobId: string, path: string): Promise<void> {
    const lease = await this.lease(blobId, path, undefined, false)
    lease.release()
  }

  /** Whether a session for the blob is open or loading (an acquire would start no load). */
  has (blobId: string): boolean {
    return this.entries.has(blobId)
  }

  /**
   * Closes a blob's session (e.g. the blob was evicted). An idle session is closed before this
   * resolves; a leased one (or one still loading) is closed when its last lease is released, and
   * this resolves at once. Either way the next acquire of the blob loads a new session.
   */
  async drop (blobId: string): Promise<void> {
    const entry = this.entries.get(blobId)
    if (entry == null) return
    this.entries.delete(blobId)
    entry.retired = true
    if (entry.state === 'open' && entry.leases === 0) await this.close(entry, 'dropped')
  }

  /**
   * Drops a blob's session `delayMs` from now (0: now), unless called again meanwhile, which starts
   * the wait over. Runs that keep coming in the meantime use the session as it is.
   */
  dropLater (blobId: string, delayMs: number): void {
    const entry = this.entries.get(blobId)
    if (entry == null) return
    clearTimeout(entry.dropTimer)
    entry.dropTimer = undefined
    if (delayMs <= 0) {
      void this.drop(blobId)
      return
    }
    entry.dropTimer = setTimeout(() => {
      entry.dropTimer = undefined
      if (this.entries.get(blobId) === entry) void this.drop(blobId)
    }, delayMs)
    // A session waiting to be dropped holds no process open.
    entry.dropTimer.unref()
  }

  stats (): SessionPoolStats {
    let sessions = 0
    let leased = 0
    for (const entry of this.live) {
      if (entry.state === 'open') sessions++
      if (entry.state !== 'closing' && entry.leases > 0) leased++
    }
    return { sessions, estimatedBytes: this.residentBytes(), budgetBytes: this.budgetBytes, leased, ...this.counters }
  }

  /** Blob IDs with an open session, most useful first. */
  warmBlobIds (): string[] {
    const now = this.now()
    return [...this.entries.values()]
      .filter(e => e.state === 'open')
      .sort((a, b) => this.usefulness(b, now) - this.usefulness(a, now))
      .map(e => e.blobId)
  }

  /**
   * New acquires throw `SessionPoolStoppedError`. Idle sessions are closed at once, loads in
   * progress are awaited and closed if nobody waits for them, leased sessions close when released
   * (this does not wait for them: a lease holder may be the one stopping the pool).
   */
  async stop (): Promise<void> {
    this.stopped = true
    this.entries.clear()
    const loads: Array<Promise<void>> = []
    for (const entry of this.live) {
      entry.retired = true
      if (entry.state === 'loading') loads.push(entry.ready.catch(() => {}))
      else this.settle(entry)
    }
    await Promise.all(loads)
    await Promise.all([...this.closing])
  }

  private async lease (blobId: string, path: string, signal: AbortSignal | undefined, fromAcquire: boolean): Promise<SessionLease> {
    if (this.stopped) throw new SessionPoolStoppedError('the session pool is stopped')
    signal?.throwIfAborted()
    let entry = this.entries.get(blobId)
    const open = entry?.state === 'open'
    const created = entry == null
    if (entry == null) entry = this.startLoad(blobId, path)
    entry.leases++
    if (fromAcquire || created) this.recordUse(entry)
    if (open) {
      if (fromAcquire) this.counters.hits++
      return this.toLease(entry)
    }
    try {
      await raceSignal(entry.ready, signal)
    } catch (err) {
      entry.leases--
      this.settle(entry)
      throw err
    }
    return this.toLease(entry)
  }

  private startLoad (blobId: string, path: string): Entry {
    const now = this.now()
    const entry: Entry = { blobId, state: 'loading', leases: 0, estimatedBytes: 0, uses: 0, usesAt: now, lastUse: now, retired: false, inputs: [], outputs: [], dense: [], ready: Promise.resolve() }
    this.entries.set(blobId, entry)
    this.live.add(entry)
    entry.ready = this.load(entry, path)
    // Waiters see the error; a load whose waiters all gave up must not become an unhandled rejection.
    entry.ready.catch(() => {})
    return entry
  }

  private async load (entry: Entry, path: string): Promise<void> {
    const { blobId } = entry
    try {
      let fileBytes: number
      try {
        fileBytes = (await stat(path)).size
      } catch (err) {
        throw new ModelLoadError(blobId, `the model file of ${blobId} cannot be read: ${firstLine(err)}`, { cause: err })
      }
      entry.estimatedBytes = Math.max(0, this.estimateBytes(fileBytes))
      await this.makeRoom(entry)
      const started = performance.now()
      let session: ort.InferenceSession
      try {
        session = await ort.InferenceSession.create(path, this.sessionOptions)
      } catch (err) {
        throw new ModelLoadError(blobId, `onnxruntime cannot load the model ${blobId}: ${firstLine(err)}`, { cause: err })
      }
      entry.session = session
      entry.inputs = toSpecs(session.inputMetadata)
      entry.outputs = toSpecs(session.outputMetadata)
      try {
        entry.dense = readDenseLayers(path)
      } catch (err) {
        // The run limit then rests on the inputs and outputs alone; the model itself loaded fine.
        log.error('cannot read the dense layers of %s - %e', blobId, err)
      }
      entry.state = 'open'
      this.counters.loads++
      log('loaded %s (%d bytes on disk, ~%d resident) in %d ms', blobId, fileBytes, entry.estimatedBytes, Math.round(performance.now() - started))
    } catch (err) {
      // A failed load is not kept: the next acquire tries again.
      this.live.delete(entry)
      if (this.entries.get(blobId) === entry) this.entries.delete(blobId)
      log.error('loading %s failed - %e', blobId, err)
      throw err
    }
    this.settle(entry)
  }

  /** Closes the least useful idle sessions until `incoming` fits, then waits for them to be closed. */
  private async makeRoom (incoming: Entry): Promise<void> {
    const oversized = incoming.estimatedBytes > this.budgetBytes
    if (oversized) {
      this.counters.oversizedLoads++
      log('%s alone (~%d bytes) exceeds the budget of %d bytes: closing every idle session for it', incoming.blobId, incoming.estimatedBytes, this.budgetBytes)
    }
    const closed: Array<Promise<void>> = []
    while (this.residentBytes() > this.budgetBytes) {
      const victim = this.leastUseful()
      if (victim == null) break
      closed.push(this.close(victim, `to make room for ${incoming.blobId}`))
    }
    if (!oversized && this.residentBytes() > this.budgetBytes) {
      this.counters.overBudgetLoads++
      log('over budget: loading %s (~%d bytes) while leased sessions hold ~%d of %d bytes; extras close when released',
        incoming.blobId, incoming.estimatedBytes, this.residentBytes() - incoming.estimatedBytes, this.budgetBytes)
    }
    await Promise.all(closed)
  }

  /** After a release or a load: close what is no longer wanted, and idle extras while over budget. */
  private settle (entry: Entry): void {
    if (entry.state !== 'open' || entry.leases > 0) return
    if (entry.retired || this.stopped) {
      void this.close(entry, this.stopped ? 'pool stopped' : 'dropped')
      return
    }
    // A lone session over the budget stays (an oversized model is allowed, one at a time).
    while (this.residentBytes() > this.budgetBytes && this.residentCount() > 1) {
      const victim = this.leastUseful()
      if (victim == null) break
      void this.close(victim, 'over budget')
    }
  }

  /** Never rejects; tracked in `closing` until done. */
  private close (entry: Entry, why: string): Promise<void> {
    if (entry.closed != null) return entry.closed
    clearTimeout(entry.dropTimer)
    entry.state = 'closing'
    if (this.entries.get(entry.blobId) === entry) this.entries.delete(entry.blobId)
    log('closing %s (%s)', entry.blobId, why)
    const closed = this.releaseSession(entry).finally(() => { this.closing.delete(closed) })
    entry.closed = closed
    this.closing.add(closed)
    return closed
  }

  private async releaseSession (entry: Entry): Promise<void> {
    try {
      await entry.session?.release()
    } catch (err) {
      log.error('closing the session of %s failed - %e', entry.blobId, err)
    } finally {
      this.live.delete(entry)
      this.counters.closes++
      this.onClose?.(entry.blobId)
    }
  }

  private leastUseful (): Entry | undefined {
    const now = this.now()
    let best: Entry | undefined
    let bestScore = Infinity
    for (const entry of this.live) {
      if (entry.state !== 'open' || entry.leases > 0) continue
      const score = this.usefulness(entry, now)
      if (best == null || score < bestScore || (score === bestScore && entry.lastUse < best.lastUse)) {
        best = entry
        bestScore = score
      }
    }
    return best
  }

  private usefulness (entry: Entry, now: number): number {
    return decayedUses(entry, now) / Math.max(1, entry.estimatedBytes)
  }

  private recordUse (entry: Entry): void {
    const now = this.now()
    entry.uses = decayedUses(entry, now) + 1
    entry.usesAt = now
    entry.lastUse = now
  }

  private residentBytes (): number {
    let bytes = 0
    for (const entry of this.live) if (entry.state !== 'closing') bytes += entry.estimatedBytes
    return bytes
  }

  private residentCount (): number {
    let count = 0
    for (const entry of this.live) if (entry.state !== 'closing') count++
    return count
  }

  private toLease (entry: Entry): SessionLease {
    const { blobId, session, inputs, outputs, dense } = entry
    if (entry.state !== 'open' || session == null) throw new Error(`internal: leasing ${blobId} in state ${entry.state}`)
    let released = false
    return Object.freeze({
      blobId,
      session,
      inputs,
      outputs,
      dense,
      release: (): void => {
        if (released) return
        released = true
        entry.leases--
        entry.lastUse = this.now()
        this.settle(entry)
      }
    })
  }
}

function decayedUses (entry: Entry, now: number): number {
  return entry.uses * 0.5 ** (Math.max(0, now - entry.usesAt) / USES_HALF_LIFE_MS)
}

function firstLine (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.split('\n')[0] ?? ''
}

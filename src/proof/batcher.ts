import { createHash, webcrypto } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { parseBlobId, type BlobId } from '../blob/blob-id.js'
import { KeyedQueue } from '../blob/cache/tasks.js'
import { toHex } from '../blob/chunk-tree.js'
import type { AnchorReceipt, Ledger } from '../chain/types.js'
import { isBlobRefusal, type WalrusRequestError } from '../walrus/errors.js'
import { backoffDelayMs, isRetryable as isPassing, sleepOn } from '../retry.js'
import { isWantOfFunds } from '../funds-errors.js'
import type { WalrusStore } from '../walrus/types.js'
import { encodeBundle, MAX_BUNDLE_RECEIPTS, MIN_BUNDLE_BUDGET, receiptRoot } from './bundle.js'
import { BundleSizing, hasTensors } from './bundle-sizing.js'
import {
  DEFAULT_BATCH_INTERVAL_MS, DEFAULT_BATCH_SIZE, DEFAULT_MAX_BUNDLE_BYTES, DEFAULT_PRUNE_INTERVAL_MS, DEFAULT_RETRY_BASE_MS, DEFAULT_RETRY_MAX_MS, MAX_CONCURRENT_WRITES, MAX_REASON_CHARS
} from './constants.js'
import { BatcherStoppedError, ReceiptStoreError } from './errors.js'
import type { ProofTiming } from './proof-timing.js'
import type { PendingBatch, QueuedReceipt, QueueStats, ReceiptStore } from './receipt-store.js'

const log = logger('herd:proof:batcher')

/**
 * The steps of a seal, each reached once its effect is durable: begun
 * (batch recorded), stored (on Walrus), blob-recorded (blob ID in the batch
 * record), anchored (on the ledger), finished (receipts sealed in the store);
 * or, when Walrus refuses the bundle for good, refused (the batch abandoned
 * or its receipt set aside).
 */
export type BatcherStep = 'begun' | 'stored' | 'blob-recorded' | 'anchored' | 'finished' | 'refused'

export interface BatcherInit {
  /** Seal once this many receipts are queued. */
  batchSize?: number
  /** Seal what is queued this long after the first of it was seen. */
  intervalMs?: number
  /** Put each receipt's inputs and outputs in the bundle (empty entries when off). */
  includeTensors?: boolean
  retryBaseMs?: number
  retryMaxMs?: number
  /**
   * A bundle is at most this many bytes, under the publisher's upload limit:
   * it stops growing there, and a receipt whose tensors would not fit alone
   * goes without them. Halved (for this run) each time the publisher answers 413.
   */
  maxBundleBytes?: number
  /** Sealed bundles are forgotten locally this long after sealing (their proofs no longer served here); 0 keeps them. */
  retainSealedMs?: number
  /** How often to look for bundles past `retainSealedMs`. Default 1 h. */
  pruneIntervalMs?: number
  /**
   * Bundles on their way to Walrus at once. Anchors still go one at a time
   * (they are the node key's transactions, as is a write through the SDK:
   * those take their turn with the key's others). A write takes seconds on
   * testnet and mainnet, and one at a time bounds what a node can seal to a
   * bundle per write.
   */
  concurrentWrites?: number
  /** Test hook, called as each step is reached (a crash test kills its process here). */
  onStep?: (step: BatcherStep, batchId: string) => void
}

export interface BatcherComponents {
  store: ReceiptStore
  walrus: Pick<WalrusStore, 'putBytes'>
  ledger: Pick<Ledger, 'anchor' | 'getAnchor'>
  onTiming?: (timing: ProofTiming) => void
}

/** The detail of a 'sealed' event. */
export interface SealedBundle {
  bundleBlobId: BlobId
  root: string
  count: number
  anchor: AnchorReceipt
}

export interface BatcherStats {
  /** Receipts sealed since start. */
  sealed: number
  bundles: number
  lastSealAt?: number
  /** When what is queued is sealed at the latest (the interval's end), unless a full batch comes first; absent with nothing queued. */
  nextSealAt?: number
  /** Walrus or the ledger (or the store) failed, and the batcher is backing off before trying again. */
  retrying: boolean
  lastError?: string
  nextRetryAt?: number
  /** A write the node cannot pay for (no SUI for gas, no WAL for storage): retried until funds arrive. */
  blocked?: BlockedWrite
  /** The byte budget bundles are built to now: maxBundleBytes, or less after a 413. */
  bundleBudget: number
  /** Bundles being sealed now (stored, then anchored), and how many may be at once (`concurrentWrites`). */
  writing: number
  writesAtOnce: number
  /** Bundles Walrus refused for good (400, 413, 451: see isBlobRefusal) since start. */
  refused: number
  lastRefusal?: string
}

export interface BlockedWrite {
  kind: 'bundle' | 'anchor'
  /** When the first try of this write failed for want of funds. */
  since: number
  error: string
}

/** The detail of a 'refused' event: Walrus refused a bundle for good. */
export interface RefusedBundle {
  count: number
  bytes: number
  status: number
  reason: string
  /** Its one receipt, already without tensors, was set aside; otherwise the batch was abandoned and its receipts go again in smaller bundles. */
  setAside: boolean
}

interface Batch {
  id: string
  root: string
  receipts: QueuedReceipt[]
  bundle: Uint8Array
  includeTensors: boolean
  /** Seqs of receipts whose tensors the bundle leaves out. */
  leftOut: ReadonlySet<bigint>
  /** A batch found begun after a restart: it may be stored or anchored already. */
  resumed: boolean
  bundleBlobId?: string
}

interface Waiter {
  target: bigint
  resolve: () => void
  reject: (err: Error) => void
}

const EMPTY = new Uint8Array(0)
const MAX_TIMER_MS = 2 ** 31 - 1
/** The reason a wait is ended with once it is over. */
const WAIT_OVER = new Error('the wait is over')

const isNamed = (err: unknown, name: string): boolean => (err as Error | undefined)?.name === name


/** Funds may arrive any time: a write waiting for them backs off as a passing failure does, up to retryMaxMs. */
function isRetryable (err: unknown): boolean {
  return isPassing(err) || isWantOfFunds(err)
}

function errorText (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/**
 * The bundle of a batch: the same receipts, setting and left-out set always
 * give the same bytes, so a resumed seal finds the same blob ID.
 */
export function bundleOf (receipts: QueuedReceipt[], includeTensors: boolean, leftOut: ReadonlySet<bigint> = new Set(), into?: Uint8Array): Uint8Array {
  const keep = (r: QueuedReceipt): boolean => includeTensors && !leftOut.has(r.seq)
  return encodeBundle({
    receipts: receipts.map(r => r.bytes),
    inputs: receipts.map(r => keep(r) ? r.inputs ?? EMPTY : EMPTY),
    outputs: receipts.map(r => keep(r) ? r.outputs ?? EMPTY : EMPTY)
  }, into)
}

function holdsTensors (batch: Batch): boolean {
  return batch.includeTensors && batch.receipts.some(r => !batch.leftOut.has(r.seq) && hasTensors(r))
}

/**
 * Seals queued receipts into bundles: once batchSize receipts or a whole
 * bundle's bytes are queued, or intervalMs after the first, a bundle of every
 * receipt queued (to the byte budget) goes to Walrus and its root to the
 * ledger. Each batch is recorded
 * in the store before anything leaves the node, so after a crash the next
 * start finishes that batch (same bytes, same blob ID, the anchor found if it
 * was made) instead of sealing its receipts again. Walrus and ledger failures
 * are retried with full-jitter backoff while the queue keeps growing.
 *
 * A bundle Walrus refuses for good (413, 400, 451) is never sent again:
 * its batch is abandoned and its receipts go again in smaller bundles
 * (`BundleSizing`), so a bad receipt is isolated in a few tries while the
 * others seal; a receipt refused alone and without tensors is set aside in
 * the store with the reason. A 4xx that refuses every write (401, 403,
 * 404...: a wrong URL or credentials) is waited out like an outage, at the
 * longest backoff, as no smaller bundle would pass either.
 *
 * Events: 'sealed' (CustomEvent<SealedBundle>), 'refused' (CustomEvent<RefusedBundle>),
 * 'error' (CustomEvent<Error>, each failure).
 */
export class Batcher extends EventTarget {
  private readonly components: BatcherComponents
  private readonly batchSize: number
  private readonly intervalMs: number
  private readonly includeTensors: boolean
  private readonly retryBaseMs: number
  private readonly retryMaxMs: number
  private readonly maxBundleBytes: number
  /** Learns from Walrus's refusals during a run; new at each start. */
  private sizing: BundleSizing
  private readonly retainSealedMs: number
  private readonly pruneIntervalMs: number
  private prunedAt = 0
  /** A prune runs beside sealing, not in its way; stop() waits for it. */
  private pruning?: Promise<void>
  private readonly onStep?: (step: BatcherStep, batchId: string) => void
  private controller?: AbortController
  private running?: Promise<void>
  private wake = Promise.withResolvers<void>()
  /** The loop waits on an empty queue: the next append starts the interval. Otherwise an append matters only once a bundle's worth is queued. */
  private waitingOnEmpty = false
  private waiters: Waiter[] = []
  private readonly concurrentWrites: number
  /** The seals under way, by batch ID. */
  private readonly inFlight = new Map<string, Promise<void>>()
  /** Anchors run one after another: each seal's waits on the last. */
  private readonly anchors = new KeyedQueue()
  /** Seals that failed on the store (not on Walrus or the ledger, which retry inside) since the last that did not. */
  private storeFailures = 0
  private readonly state: Omit<BatcherStats, 'bundleBudget' | 'nextSealAt' | 'writing' | 'writesAtOnce'> = { sealed: 0, bundles: 0, retrying: false, refused: 0 }
  /** When the queue is sealed at the latest: one interval after its first receipt was seen, or after the last seal began. */
  private deadline?: number
  /** Buffers the bundles are encoded into, each the largest so far within the budget (bundleOf), free for the next seals. */
  private bundleBuffers: Uint8Array[] = []

  constructor (components: BatcherComponents, init: BatcherInit) {
    super()
    this.components = components
    this.batchSize = init.batchSize ?? DEFAULT_BATCH_SIZE
    this.intervalMs = init.intervalMs ?? DEFAULT_BATCH_INTERVAL_MS
    this.includeTensors = init.includeTensors ?? true
    this.retryBaseMs = init.retryBaseMs ?? DEFAULT_RETRY_BASE_MS
    this.retryMaxMs = init.retryMaxMs ?? DEFAULT_RETRY_MAX_MS
    this.maxBundleBytes = init.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES
    this.retainSealedMs = init.retainSealedMs ?? 0
    this.pruneIntervalMs = init.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS
    if (!Number.isSafeInteger(this.retainSealedMs) || this.retainSealedMs < 0) throw new RangeError(`retainSealedMs must be a non-negative integer, not ${this.retainSealedMs}`)
    if (!Number.isSafeInteger(this.pruneIntervalMs) || this.pruneIntervalMs < 1) throw new RangeError(`pruneIntervalMs must be a positive integer, not ${this.pruneIntervalMs}`)
    if (init.onStep != null) this.onStep = init.onStep
    for (const [name, value, min] of [['batchSize', this.batchSize, 1], ['intervalMs', this.intervalMs, 1], ['retryBaseMs', this.retryBaseMs, 1], ['retryMaxMs', this.retryMaxMs, 1], ['maxBundleBytes', this.maxBundleBytes, MIN_BUNDLE_BUDGET]] as const) {
      if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer of at least ${min}, not ${value}`)
    }
    if (this.batchSize > 65_536) throw new RangeError(`batchSize must be at most 65536, not ${this.batchSize}`)
    this.concurrentWrites = init.concurrentWrites ?? 1
    if (!Number.isSafeInteger(this.concurrentWrites) || this.concurrentWrites < 1 || this.concurrentWrites > MAX_CONCURRENT_WRITES) throw new RangeError(`concurrentWrites must be an integer from 1 to ${MAX_CONCURRENT_WRITES}, not ${this.concurrentWrites}`)
    this.sizing = this.newSizing()
  }

  /** Starts sealing: a batch left begun by a crash is finished first. The store must be started. */
  start (): void {
    if (this.controller != null) return
    const controller = new AbortController()
    this.controller = controller
    this.storeFailures = 0
    this.deadline = undefined
    this.sizing = this.newSizing()
    this.running = this.run(controller.signal)
  }

  /**
   * Stops sealing. The seals in progress stop at their next step (an upload or a
   * backoff is aborted); their batch records let the next start finish them.
   */
  async stop (): Promise<void> {
    const controller = this.controller
    if (controller == null) return
    controller.abort(new BatcherStoppedError('the batcher was stopped'))
    await this.running
    await this.pruning
    this.controller = undefined
    this.running = undefined
    // An upload cut short by the abort may still hold its bundle: the next start encodes into buffers of its own.
    this.bundleBuffers = []
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter.reject(new BatcherStoppedError('the batcher was stopped before the receipts were sealed'))
  }

  /** Called after each append: the batcher looks at the queue again when that can change what it does (not on every receipt of a busy node). */
  notify (): void {
    if (this.waitingOnEmpty || (this.inFlight.size < this.concurrentWrites && this.full(unbatched(this.components.store.queued())))) this.wake.resolve()
  }

  /** A bundle is due without waiting for the interval: batchSize receipts queued outside the batches under way, or a whole bundle's bytes. */
  private full (queued: { count: number, bytes: number }): boolean {
    return queued.count >= this.batchSize || queued.bytes >= this.sizing.bundleBudget
  }

  /** Seals everything queued when called (in as many bundles as it takes); resolves once it is anchored or set aside. */
  async sealNow (): Promise<void> {
    if (this.controller == null || this.controller.signal.aborted) throw new BatcherStoppedError('the batcher is not running')
    const target = this.components.store.lastSeq()
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    this.waiters.push({ target, resolve, reject })
    this.wake.resolve()
    return promise
  }

  stats (): BatcherStats {
    const nextSealAt = this.deadline != null && unbatched(this.components.store.queued()).count > 0 ? this.deadline : undefined
    return { ...this.state, bundleBudget: this.sizing.bundleBudget, writing: this.inFlight.size, writesAtOnce: this.concurrentWrites, ...(nextSealAt != null ? { nextSealAt } : {}), ...(this.state.blocked != null ? { blocked: { ...this.state.blocked } } : {}) }
  }

  /** Starts forgetting bundles sealed more than `retainSealedMs` ago, at most once per `pruneIntervalMs` and one prune at a time. */
  private pruneIfDue (signal: AbortSignal): void {
    const now = Date.now()
    if (this.retainSealedMs === 0 || this.pruning != null || now - this.prunedAt < this.pruneIntervalMs) return
    this.prunedAt = now
    this.pruning = this.components.store.pruneSealed(now - this.retainSealedMs, signal)
      .then(() => {}, err => { if (!signal.aborted) log.error('pruning sealed bundles failed - %e', err) })
      .finally(() => { this.pruning = undefined })
  }

  private async run (signal: AbortSignal): Promise<void> {
    let resume: PendingBatch[] | undefined
    while (!signal.aborted) {
      // Armed before the queue is read: a notify or a seal's end from now on ends the wait below at once.
      this.wake = Promise.withResolvers<void>()
      try {
        // Batches begun before a restart go before new ones.
        resume ??= await this.components.store.pendingBatches()
        while (resume.length > 0 && this.inFlight.size < this.concurrentWrites) {
          const batch = resume[0] as PendingBatch
          log('finishing batch %s of %d receipts, begun before a restart', batch.id, batch.receipts.length)
          this.launch(await this.resumed(batch), signal)
          resume.shift()
        }
        if (resume.length > 0) {
          await this.waitForWake(MAX_TIMER_MS, signal)
          continue
        }
        await this.settleWaiters()
        this.pruneIfDue(signal)
        const queued = unbatched(this.components.store.queued())
        const now = Date.now()
        if (queued.count === 0) {
          this.deadline = undefined
          this.waitingOnEmpty = true
          try {
            await this.waitForWake(this.inFlight.size > 0 ? MAX_TIMER_MS : this.intervalMs, signal)
          } finally {
            this.waitingOnEmpty = false
          }
          continue
        }
        this.deadline ??= now + this.intervalMs
        const due = this.full(queued) || now >= this.deadline || this.waiters.length > 0
        if (due && this.inFlight.size < this.concurrentWrites) {
          // The next bundle is due one interval after this one began (after a long outage, at once); after a refusal, now (refuse()).
          this.deadline = now + this.intervalMs
          this.launch(await this.begin(), signal)
          continue
        }
        await this.waitForWake(due ? MAX_TIMER_MS : this.deadline - now, signal)
      } catch (err) {
        if (signal.aborted) break
        // Walrus and ledger failures are retried inside a seal; this is the store, or a damaged batch.
        log.error('sealing failed: %e', err)
        await this.backoff(err, this.storeFailures++, 'store', signal).catch(() => {})
      }
    }
    await Promise.all(this.inFlight.values())
  }

  /** A batch found begun in the store, its bundle built again and checked against the hash it began with. */
  private async resumed (pending: PendingBatch): Promise<Batch> {
    const leftOut = new Set(pending.leftOut)
    const bundle = this.bundleOf(pending.receipts, pending.includeTensors, leftOut)
    if (await sha256Hex(bundle) !== pending.bundleBytesHash) {
      this.releaseBundle(bundle)
      throw new ReceiptStoreError(`batch ${pending.id} no longer gives the bundle it began with: the receipt store is damaged`)
    }
    return {
      id: pending.id,
      root: pending.root,
      receipts: pending.receipts,
      bundle,
      includeTensors: pending.includeTensors,
      leftOut,
      resumed: true,
      ...(pending.bundleBlobId != null ? { bundleBlobId: pending.bundleBlobId } : {})
    }
  }

  /**
   * Seals the batch beside the others under way. A failure other than
   * Walrus's or the ledger's (those retry inside) is the store's: the seal
   * backs off and finishes the batch as a restart would, from its record.
   */
  private launch (batch: Batch, signal: AbortSignal): void {
    const sealing = (async () => {
      for (let current = batch; ; current = { ...current, resumed: true }) {
        try {
          await this.complete(current, signal)
          this.storeFailures = 0
          return
        } catch (err) {
          if (signal.aborted) return
          log.error('sealing batch %s failed: %e', batch.id, err)
          await this.backoff(err, this.storeFailures++, 'store', signal)
          // Finished or abandoned after all (a failure past the store's last write): nothing is left to do for it.
          if (!this.components.store.isBeingSealed(batch.id)) return
        }
      }
    })()
      .catch(() => {})
      .finally(() => {
        this.inFlight.delete(batch.id)
        this.releaseBundle(batch.bundle)
        this.wake.resolve()
      })
    this.inFlight.set(batch.id, sealing)
  }

  private newSizing (): BundleSizing {
    return new BundleSizing({ maxBundleBytes: this.maxBundleBytes, includeTensors: this.includeTensors })
  }

  /**
   * A batch's bundle, in a free buffer when one has room (it is the seal's
   * until releaseBundle): nothing keeps a bundle past its seal.
   */
  private bundleOf (receipts: QueuedReceipt[], includeTensors: boolean, leftOut: ReadonlySet<bigint>): Uint8Array {
    const buffer = this.bundleBuffers.pop()
    const bundle = bundleOf(receipts, includeTensors, leftOut, buffer)
    if (buffer != null && bundle.buffer !== buffer.buffer) this.bundleBuffers.push(buffer)
    return bundle
  }

  /** A seal's bundle is done with: its buffer is kept for the next, within the budget and MAX_KEPT_BUNDLE_BUFFER, one per write in flight. */
  private releaseBundle (bundle: Uint8Array): void {
    const buffer = new Uint8Array(bundle.buffer)
    if (buffer.byteLength > Math.min(this.maxBundleBytes, MAX_KEPT_BUNDLE_BUFFER) || this.bundleBuffers.length >= this.concurrentWrites) return
    this.bundleBuffers.push(buffer)
    // The largest last, where pop() finds it.
    this.bundleBuffers.sort((a, b) => a.byteLength - b.byteLength)
  }

  /** Begins a batch of the oldest receipts queued outside the batches under way. */
  private async begin (): Promise<Batch> {
    const { store } = this.components
    // Everything queued, to the byte budget: a node whose seals take longer than batchSize receipts take to come seals larger bundles instead of falling behind.
    const taken = await store.take(MAX_BUNDLE_RECEIPTS, this.sizing.takeOptions())
    // The queue counts receipts it cannot list: looping here would spin.
    if (taken.length === 0) throw new ReceiptStoreError(`the queue counts ${store.queued().count} receipts but holds none to seal: the receipt store is damaged`)
    const { receipts, leftOut } = this.sizing.plan(taken)
    const bundle = this.bundleOf(receipts, this.includeTensors, leftOut)
    const root = toHex(receiptRoot(receipts.map(r => r.bytes)))
    let id: string
    try {
      id = await store.beginBatch({ receipts, root, bundleBytesHash: await sha256Hex(bundle), includeTensors: this.includeTensors, leftOut: [...leftOut] })
    } catch (err) {
      this.releaseBundle(bundle)
      throw err
    }
    this.step('begun', id)
    return { id, root, receipts, bundle, includeTensors: this.includeTensors, leftOut, resumed: false }
  }

  /**
   * Walrus refused the batch's bundle for good, so it was neither stored nor
   * anchored. One receipt already without tensors is set aside; otherwise the
   * batch is abandoned and its receipts go again in smaller bundles.
   */
  private async refuse (batch: Batch, err: WalrusRequestError): Promise<void> {
    const { store } = this.components
    const count = batch.receipts.length
    const bytes = batch.bundle.byteLength
    const withTensors = holdsTensors(batch)
    const reason = `Walrus refused a bundle of ${count} receipts (${bytes} bytes${withTensors ? ', with tensors' : ''}): ${errorText(err)}`.slice(0, MAX_REASON_CHARS)
    const setAside = this.sizing.refused({ receipts: batch.receipts, bytes, withTensors, status: err.status })
    log.error('%s; %s', reason, setAside ? 'setting its receipt aside' : 'trying its receipts again in smaller bundles')
    if (setAside) await store.setAside(batch.id, reason)
    else await store.abandonBatch(batch.id)
    this.state.refused++
    this.state.lastRefusal = reason
    this.state.lastError = `walrus: ${errorText(err)}`
    this.state.retrying = false
    delete this.state.nextRetryAt
    this.step('refused', batch.id)
    // Its receipts (or the rest of the queue) go again at once, in smaller bundles.
    this.deadline = Date.now()
    this.dispatchEvent(new CustomEvent<RefusedBundle>('refused', { detail: { count, bytes, status: err.status, reason, setAside } }))
  }

  /**
   * Stores the bundle (unless the batch record names its blob), anchors the
   * root (unless the ledger has it), and marks the receipts sealed. False
   * when Walrus refused the bundle for good.
   */
  private async complete (batch: Batch, signal: AbortSignal): Promise<boolean> {
    const { store, walrus, ledger } = this.components
    const startedAt = performance.now()
    const count = batch.receipts.length
    let bundleBlobId = batch.bundleBlobId
    // The Blob object the anchor is written on, on Sui; a resumed batch's is looked up by the ledger.
    let bundleObjectId: string | undefined
    if (bundleBlobId == null) {
      let outcome: { blobId: string, objectId?: string } | { refusal: WalrusRequestError }
      try {
        // From memory: through a file, the bundle was copied to the page cache, synced and read back, its every byte three more times.
        outcome = await this.retrying('walrus', async s => walrus.putBytes(batch.bundle, { signal: s }), signal, isBlobRefusal)
      } catch (err) {
        if (!isBlobRefusal(err)) throw err
        outcome = { refusal: err }
      }
      if ('refusal' in outcome) {
        await this.refuse(batch, outcome.refusal)
        return false
      }
      bundleBlobId = outcome.blobId
      bundleObjectId = outcome.objectId
      this.step('stored', batch.id)
      await store.setBundleBlobId(batch.id, bundleBlobId)
      // A retry after a later failure finds the bundle stored, as a restart finds it in the record: it is not paid for again.
      batch.bundleBlobId = bundleBlobId
      this.step('blob-recorded', batch.id)
    }
    const blobId = parseBlobId(bundleBlobId)
    const anchor = await this.anchors.run('anchor', async () => this.retrying('ledger', async (s, attempt) => {
      // After a restart or a failed try the root may be anchored already (the reply was lost): look before anchoring.
      if (batch.resumed || attempt > 0) {
        const existing = await this.findAnchor(batch.root, count, blobId, s)
        if (existing != null) return existing
      }
      try {
        return await ledger.anchor({ root: batch.root, count, bundleBlobId: blobId, ...(bundleObjectId != null ? { bundleObjectId } : {}) }, { signal: s })
      } catch (err) {
        if (!isNamed(err, 'DuplicateAnchorError')) throw err
        const existing = await this.findAnchor(batch.root, count, blobId, s)
        if (existing == null) throw err
        return existing
      }
    }, signal))
    this.step('anchored', batch.id)
    // Past the anchor the rest is local and short: it runs to the end even when stopping.
    await store.finishBatch(batch.id, anchor)
    this.step('finished', batch.id)
    this.sizing.stored(batch.receipts)
    this.state.sealed += count
    this.state.bundles++
    this.state.lastSealAt = Date.now()
    this.components.onTiming?.({ kind: 'seal', seconds: (performance.now() - startedAt) / 1000 })
    log('sealed %d receipts in bundle %s, root %s, %s tx %s', count, blobId, batch.root, anchor.ledger, anchor.txId)
    this.dispatchEvent(new CustomEvent<SealedBundle>('sealed', { detail: { bundleBlobId: blobId, root: batch.root, count, anchor } }))
    return true
  }

  /** The ledger's entry for a root, or undefined when it has none. */
  private async findAnchor (root: string, count: number, bundleBlobId: string, signal: AbortSignal): Promise<AnchorReceipt | undefined> {
    let entry
    try {
      entry = await this.components.ledger.getAnchor(root, { signal })
    } catch (err) {
      if (isNamed(err, 'NotFoundError')) return undefined
      throw err
    }
    if (entry.count !== count || entry.bundleBlobId !== bundleBlobId) {
      // Only the same receipts give this root; an entry naming another count or blob was not written by this batcher.
      log.error('root %s is anchored by %s with count %d and bundle %s, not %d and %s: using that entry', root, entry.address, entry.count, entry.bundleBlobId, count, bundleBlobId)
    }
    return { ledger: entry.ledger, txId: entry.txId, height: entry.height, time: entry.time, address: entry.address }
  }

  /** Runs a call to Walrus or the ledger until it succeeds, fails for good (`permanent`) or the batcher stops, backing off between tries. */
  private async retrying<T> (what: string, call: (signal: AbortSignal, attempt: number) => Promise<T>, signal: AbortSignal, permanent?: (err: unknown) => boolean): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted()
      try {
        const result = await call(signal, attempt)
        if (this.state.retrying) log('%s answered after %d failed tries', what, attempt)
        this.state.retrying = false
        delete this.state.nextRetryAt
        delete this.state.blocked
        return result
      } catch (err) {
        if (signal.aborted) throw signal.reason
        if (permanent?.(err) === true) throw err
        await this.backoff(err, attempt, what, signal)
      }
    }
  }

  /** Reports a failure and sleeps on the signal: the shared backoff (src/retry.ts); a failure not marked retryable waits as long as the last. */
  private async backoff (err: unknown, attempt: number, what: string, signal: AbortSignal): Promise<void> {
    const delayMs = backoffDelayMs(isRetryable(err) ? attempt : Infinity, { baseDelayMs: this.retryBaseMs, maxDelayMs: this.retryMaxMs })
    this.state.retrying = true
    this.state.lastError = `${what}: ${errorText(err)}`
    this.state.nextRetryAt = Date.now() + delayMs
    if (isWantOfFunds(err) && (what === 'walrus' || what === 'ledger')) {
      const kind = what === 'walrus' ? 'bundle' : 'anchor'
      this.state.blocked = { kind, since: this.state.blocked?.kind === kind ? this.state.blocked.since : Date.now(), error: errorText(err) }
    }
    log('%s failed (try %d), retrying in %d ms: %e', what, attempt + 1, delayMs, err)
    this.dispatchEvent(new CustomEvent<Error>('error', { detail: err instanceof Error ? err : new Error(String(err)) }))
    await sleepOn(delayMs, signal)
  }

  private async waitForWake (ms: number, signal: AbortSignal): Promise<void> {
    const done = new AbortController()
    try {
      await Promise.race([
        this.wake.promise,
        sleep(Math.max(0, Math.min(ms, MAX_TIMER_MS)), undefined, { signal: AbortSignal.any([signal, done.signal]) }).catch(() => {})
      ])
    } finally {
      // A reason of our own: abort() without one builds a DOMException, with its stack, for nobody to read.
      done.abort(WAIT_OVER)
    }
  }

  /** sealNow() callers whose receipts are all sealed or set aside (none at or below their target is queued) are answered. */
  private async settleWaiters (): Promise<void> {
    if (this.waiters.length === 0) return
    // Only those waiting before the queue was read: one that came during the read may be waiting on a receipt appended after it.
    const asked = new Set(this.waiters)
    const oldest = await this.components.store.oldestQueuedSeq()
    this.waiters = this.waiters.filter(waiter => {
      if (!asked.has(waiter) || (oldest != null && oldest <= waiter.target)) return true
      waiter.resolve()
      return false
    })
  }

  private step (step: BatcherStep, batchId: string): void {
    this.onStep?.(step, batchId)
  }
}

/** The queue's receipts outside the batches being sealed: what the next batch can take. */
function unbatched (queued: QueueStats): { count: number, bytes: number } {
  return { count: queued.count - queued.sealing, bytes: queued.bytes - queued.sealingBytes }
}

/** The largest bundle buffer a batcher keeps between seals (twice the default budget): a node given a larger budget allocates such bundles as it makes them rather than holding one for good. */
const MAX_KEPT_BUNDLE_BUFFER = 16 * 1024 * 1024

/** Bundles past this are hashed on the thread pool: hashing several MiB in place held up the replies for milliseconds. */
const HASH_OFF_LOOP_BYTES = 256 * 1024

async function sha256Hex (bytes: Uint8Array): Promise<string> {
  if (bytes.byteLength < HASH_OFF_LOOP_BYTES) return createHash('sha256').update(bytes).digest('hex')
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)).toString('hex')
}

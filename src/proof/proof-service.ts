import { logger } from '@libp2p/logger'
import type { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type ort from 'onnxruntime-node'
import type { BlobId } from '../blob/blob-id.js'
import type { Batcher } from './batcher.js'
import { tensorsFit } from './bundle.js'
import { DEFAULT_MAX_BUNDLE_BYTES } from './constants.js'
import { buildProof, type ReceiptProof } from './proof.js'
import { ReceiptQueueFullError } from './errors.js'
import { MAX_SIGNED_RECEIPT_BYTES, signReceipt, type SignedReceiptInfo } from './receipt.js'
import type { ReceiptStore } from './receipt-store.js'
import { HashedTensors } from './tensor-hash.js'

const log = logger('herd:proof:service')

export interface ProofServiceComponents {
  signer: Ed25519Keypair
  store: ReceiptStore
  batcher: Batcher
}

export interface ProofServiceInit {
  /** Keep the inputs and outputs in the bundles, so anyone can re-execute; off, bundles hold receipts only. */
  includeTensors?: boolean
  /** The batcher's bundle budget: tensors that could never fit a bundle with their receipt are not queued at all. */
  maxBundleBytes?: number
}

interface PendingRun {
  modelBlobId: BlobId
  chunkRoot: string
  inputs: HashedTensors
  outputs: HashedTensors
  time: number
}

/**
 * Resolves after the current turn of the event loop: a write queued behind
 * replies starts once they have reached their callers (the microtasks that
 * carry a reply through its awaits run first), not interleaved with them.
 */
const afterReplies = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/** Receipts written by one fsync at most. */
const MAX_GROUP = 256
/**
 * Answered receipts that start their write behind at once. Fewer wait up to
 * the store's sync interval for more to join them: a write running beside an
 * inference run slowed that run by about as much as the write cost (det, 1 in
 * flight), so one write per several runs leaves most runs alone.
 */
const JOIN_RECEIPTS = 16
/** Writes stop() starts at most, each taking the receipts answered during the one before. */
const MAX_STOP_WRITES = 16
/** A queued record's framing in the store: version, flags, the ID, and three u32 lengths. */
const RECORD_OVERHEAD = 2 + 32 + 3 * 4
const recordBytes = (e: { bytes: Uint8Array, inputs?: Uint8Array, outputs?: Uint8Array }): number => RECORD_OVERHEAD + e.bytes.byteLength + (e.inputs?.byteLength ?? 0) + (e.outputs?.byteLength ?? 0)

export type ProofLookup =
  | { state: 'sealed', proof: ReceiptProof }
  | { state: 'queued' | 'sealing', receiptId: string }
  | { state: 'aside', receiptId: string, reason: string }

/**
 * Issues a signed receipt for every inference this node serves and keeps it
 * durably queued until the batcher has sealed it into an anchored bundle.
 */
export class ProofService {
  private readonly components: ProofServiceComponents
  private readonly includeTensors: boolean
  private readonly maxBundleBytes: number
  private nextSeq = 0n
  private readonly publicKey: Uint8Array

  constructor (components: ProofServiceComponents, init: ProofServiceInit = {}) {
    this.components = components
    this.includeTensors = init.includeTensors ?? true
    this.maxBundleBytes = init.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES
    this.publicKey = components.signer.getPublicKey().toRawBytes()
  }

  start (): void {
    const { store } = this.components
    // After a crash, receipts answered with logged durability may be missing from the store: their seqs must not be given again.
    this.nextSeq = store.lastSeq() + 1n + (!store.stoppedCleanly() ? BigInt(store.maxUnsynced) : 0n)
  }

  private pending: Array<{ run: PendingRun, resolve: (receipt: SignedReceiptInfo) => void, reject: (err: Error) => void }> = []
  private flushing = false
  /** Logged durability: the writes of receipts already answered, in seq order, one after another. */
  private writes: Promise<void> = Promise.resolve()
  /** Receipts answered whose write has not finished, and their bytes as the store will count them. */
  private unwritten = 0
  private unwrittenBytes = 0
  /** Their IDs: a lookup in the moments before the store has them finds them queued, as they will be. */
  private readonly unwrittenIds = new Set<string>()
  /** Receipts answered whose write has not started: the next write takes them all. */
  private waiting: Parameters<ReceiptStore['appendMany']>[0] = []
  /** Set while a write to take the waiting receipts is queued and has not taken them yet. */
  private writeQueued = false
  /** Starts the write of waiting receipts once the join window ends. */
  private joinTimer: NodeJS.Timeout | undefined
  /** Set when a write behind the replies failed: from then on replies wait for their write, so callers hear of it. */
  private writeFailed = false

  /** Receipts answered whose write behind the replies has not finished, and their bytes: queued, as far as anyone asking knows. */
  unwrittenStats (): { count: number, bytes: number } {
    return { count: this.unwritten, bytes: this.unwrittenBytes }
  }

  /** Waits for the writes of receipts already answered: before the store closes. */
  async stop (): Promise<void> {
    // Receipts answered while a write ran wait for the next one: written again until none waits (bounded, should answers go on).
    for (let pass = 0; pass < MAX_STOP_WRITES; pass++) {
      await this.written()
      if (this.waiting.length === 0) break
    }
    clearTimeout(this.joinTimer)
    this.joinTimer = undefined
  }

  /** Starts the write of the receipts answered so far at once and waits for it: then the store holds every one of them. */
  async written (): Promise<void> {
    this.startWrite()
    await this.writes
  }

  /**
   * Signs the receipt of one run and queues it; the reply may leave only
   * after this resolves. With the store's `strict` durability it resolves
   * once the receipt is synced; with `logged`, once it is signed, the write
   * following behind it (level's log, synced within the store's interval),
   * and receipts answered but not yet synced never pass the store's
   * maxUnsynced: past it a reply waits for the writes and a sync. Runs that
   * finish while a write is in progress are written together by the next
   * one: one write for all of them.
   */
  async issue (run: { modelBlobId: BlobId, chunkRoot: string, inputs: Record<string, ort.Tensor>, outputs: Record<string, ort.Tensor>, preparedInputs?: unknown }): Promise<SignedReceiptInfo> {
    // Inputs hashed while their run was on its thread are taken as they are; from any other record they are hashed now.
    const prepared = run.preparedInputs
    const inputs = prepared instanceof HashedTensors && prepared.of === run.inputs ? prepared : new HashedTensors(run.inputs)
    const outputs = new HashedTensors(run.outputs)
    return new Promise((resolve, reject) => {
      this.pending.push({ run: { modelBlobId: run.modelBlobId, chunkRoot: run.chunkRoot, inputs, outputs, time: Date.now() }, resolve, reject })
      if (!this.flushing) void this.flush()
    })
  }

  /**
   * A run's inputs in canonical form and hashed, for issue(): made while the
   * run is on its inference thread, it keeps that work off the reply's path.
   */
  prepareInputs (inputs: Record<string, ort.Tensor>): HashedTensors {
    return new HashedTensors(inputs)
  }

  private async flush (): Promise<void> {
    this.flushing = true
    const { store } = this.components
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, MAX_GROUP)
        try {
          const behind = store.durability === 'logged' && !this.writeFailed
          // Answered receipts must fit the queue: the store refuses past its limits, and refused after its reply a receipt would be lost.
          if (behind) this.checkRoom(group.map(g => g.run))
          const signed: SignedReceiptInfo[] = []
          let seq = this.nextSeq
          for (const { run } of group) {
            signed.push(await signReceipt({
              modelBlobId: run.modelBlobId,
              chunkRoot: run.chunkRoot,
              inputsHash: run.inputs.hash,
              outputsHash: run.outputs.hash,
              nodePublicKey: this.publicKey,
              time: run.time,
              seq
            }, this.components.signer))
            seq++
          }
          const entries = signed.map((receipt, i) => {
            const { run } = group[i] as (typeof group)[number]
            // Tensors no bundle could hold would only fill the queue: the receipt's hashes stand for them.
            const keep = this.includeTensors && tensorsFit({ receipt: receipt.bytes.byteLength, inputs: run.inputs.bytes.byteLength, outputs: run.outputs.bytes.byteLength }, this.maxBundleBytes)
            return { id: receipt.id, seq: receipt.receipt.seq, bytes: receipt.bytes, ...(keep ? { inputs: run.inputs.bytes, outputs: run.outputs.bytes } : {}) }
          })
          if (!behind) {
            await store.appendMany(entries)
            this.nextSeq = seq
            this.components.batcher.notify()
          } else {
            // The window a power loss could take: answered receipts not yet written, and written ones not yet synced.
            if (this.unwritten + store.unsynced() + group.length > store.maxUnsynced) {
              this.startWrite()
              await this.writes
              await store.sync()
            }
            this.nextSeq = seq
            this.writeBehind(entries)
          }
          group.forEach((entry, i) => { entry.resolve(signed[i] as SignedReceiptInfo) })
        } catch (err) {
          // Nothing of the group was written nor answered: its runs answer with the error, and their seqs are used by the next group.
          for (const entry of group) entry.reject(err as Error)
        }
      }
    } finally {
      this.flushing = false
    }
  }

  /**
   * Queues the write of receipts already answered, after the writes before
   * them (so seqs reach the store in order). Receipts answered while a write
   * waits to start join it: one write for all that came since, rather than
   * one each, which a run of quick replies outpaces (each write costs more
   * than a reply). The write starts once JOIN_RECEIPTS are waiting or the
   * store's sync interval has passed since the first of them.
   */
  private writeBehind (entries: Parameters<ReceiptStore['appendMany']>[0]): void {
    this.unwritten += entries.length
    this.unwrittenBytes += entries.reduce((n, e) => n + recordBytes(e), 0)
    for (const entry of entries) this.unwrittenIds.add(entry.id)
    this.waiting.push(...entries)
    this.writeWhenJoined()
  }

  /** Starts the write of the waiting receipts once JOIN_RECEIPTS wait, or when the sync interval ends. */
  private writeWhenJoined (): void {
    if (this.waiting.length >= JOIN_RECEIPTS) this.startWrite()
    else if (this.waiting.length > 0) this.joinTimer ??= setTimeout(() => { this.startWrite() }, this.components.store.syncIntervalMs)
  }

  /** Queues a write of every waiting receipt, unless one is queued that has not taken them yet. */
  private startWrite (): void {
    clearTimeout(this.joinTimer)
    this.joinTimer = undefined
    if (this.writeQueued || this.waiting.length === 0) return
    this.writeQueued = true
    this.writes = this.writes.then(afterReplies).then(async () => {
      this.writeQueued = false
      // The receipts waiting now, in groups of MAX_GROUP; those answered meanwhile join the next write: taken at once, a steady run of replies would be written one or two per write.
      for (let left = this.waiting.length; left > 0;) {
        const group = this.waiting.splice(0, Math.min(left, MAX_GROUP))
        left -= group.length
        await this.writeWaiting(group)
      }
      if (!this.writeQueued) this.writeWhenJoined()
    })
  }

  private async writeWaiting (entries: Parameters<ReceiptStore['appendMany']>[0]): Promise<void> {
    try {
      await this.components.store.appendMany(entries)
      this.components.batcher.notify()
    } catch (err) {
      this.writeFailed = true
      log.error('%d receipts answered could not be queued (seqs %s to %s) - %e', entries.length, entries[0]?.seq, entries.at(-1)?.seq, err)
    } finally {
      this.unwritten -= entries.length
      this.unwrittenBytes -= entries.reduce((n, e) => n + recordBytes(e), 0)
      for (const entry of entries) this.unwrittenIds.delete(entry.id)
    }
  }

  /** Throws ReceiptQueueFullError when the receipts waiting to be written and these would pass the store's limits. */
  private checkRoom (runs: PendingRun[]): void {
    const queue = this.components.store.queued()
    // A record's size as the store counts it, at most: its framing, a SignedReceipt and the tensors.
    const bytes = runs.reduce((n, run) => n + RECORD_OVERHEAD + MAX_SIGNED_RECEIPT_BYTES + run.inputs.bytes.byteLength + run.outputs.bytes.byteLength, 0)
    // The segments' framing per record is within RECORD_OVERHEAD, so both counts grow by at most these bytes.
    const stored = Math.max(queue.bytes, queue.segmentBytes)
    if (queue.count + this.unwritten + runs.length > queue.limit || stored + this.unwrittenBytes + bytes > queue.limitBytes) {
      throw new ReceiptQueueFullError(`the receipt queue is full: ${queue.count} + ${this.unwritten} being written of ${queue.limit} receipts, ${stored} of ${queue.limitBytes} bytes`)
    }
  }

  /** When the receipts queued are sealed at the latest (a full batch may come first); undefined with none queued. */
  nextSealAt (): number | undefined {
    return this.components.batcher.stats().nextSealAt
  }

  /**
   * Seals every receipt answered so far, whatever the batch size and the
   * interval: the writes behind the replies first, then the batcher's
   * bundles. Resolves once they are anchored (or set aside).
   */
  async sealNow (): Promise<void> {
    await this.written()
    await this.components.batcher.sealNow()
  }

  /** Puts receipts set aside back in the queue (ReceiptStore.requeueSetAside) and wakes the batcher to seal them. */
  async requeueSetAside (): Promise<{ requeued: number, left: number }> {
    const result = await this.components.store.requeueSetAside()
    if (result.requeued > 0) {
      log('%d receipts set aside are queued again, %d left aside', result.requeued, result.left)
      this.components.batcher.notify()
    }
    return result
  }

  async lookup (receiptId: string): Promise<ProofLookup | undefined> {
    // Checked first: an ID leaves the set only once the store has it.
    if (this.unwrittenIds.has(receiptId)) return { state: 'queued', receiptId }
    const found = await this.components.store.get(receiptId)
    if (found == null) return undefined
    if (found.state === 'aside') return { state: 'aside', receiptId, reason: found.aside.reason }
    if (found.state !== 'sealed' || found.sealed == null) return { state: found.state, receiptId }
    const sealed = found.sealed
    // The store read the bundle's receipts with the receipt: no second read, which a prune could find gone.
    const proof = buildProof({ signedReceipts: found.signedReceiptsOfBundle, index: sealed.index, bundleBlobId: sealed.bundleBlobId, anchor: sealed.anchor })
    if (proof.receiptId !== receiptId) log.error('the proof of %s names receipt %s', receiptId, proof.receiptId)
    return { state: 'sealed', proof }
  }
}

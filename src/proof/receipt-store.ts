import { logger } from '@libp2p/logger'
import { Level } from 'level'
import { join } from 'node:path'
import { z } from 'zod'
import { isBlobId } from '../blob/blob-id.js'
import { toHex } from '../blob/chunk-tree.js'
import { openLevelStore } from '../blob/level-store.js'
import type { AnchorReceipt } from '../chain/types.js'
import { decodeBundle, encodeBundle, MAX_BUNDLE_RECEIPTS, receiptRoot } from './bundle.js'
import {
  DEFAULT_MAX_QUEUED, DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_UNSYNCED, DEFAULT_SYNC_INTERVAL_MS, MAX_REASON_CHARS, MAX_SYNC_INTERVAL_MS, MAX_UNSYNCED,
  RECEIPT_DURABILITIES, RECEIPT_STORE_VERSION, type ReceiptDurability
} from './constants.js'
import {
  DuplicateReceiptError, ProofFormatError, ReceiptBatchError, ReceiptQueueFullError, ReceiptSeqError,
  ReceiptStoreClosedError, ReceiptStoreError
} from './errors.js'
import type { ProofTiming } from './proof-timing.js'
import { RECEIPT_ID, signedReceiptKey } from './receipt.js'
import { TensorSegments, type TensorRef } from './tensor-segments.js'

const log = logger('herd:proof:receipt-store')

/**
 * The receipt queue and the sealed-receipt index, in level. Keys:
 *   version                   the layout version (RECEIPT_STORE_VERSION)
 *   meta                      JSON { lastSeq, count, bytes }: the highest seq ever appended, and the queue's size
 *   q/SEQ                     a queued receipt, SEQ as 20 digits so keys sort by seq (binary record, below), pointing at its tensors
 *   seg/ID                    how many queued receipts have their tensors in segment ID (tensor-segments.ts, in DIR/tensors)
 *   id/RECEIPT_ID             the SEQ of a queued receipt
 *   batch/ROOT                JSON BatchRecord: a batch being sealed (one per bundle in flight; `batch`, one alone, before version 3)
 *   sealed/RECEIPT_ID         JSON { bundleBlobId, index }
 *   bundle/BLOB_ID            JSON { root, leafCount, anchor, sealedAt }
 *   bundle-receipts/BLOB_ID   the bundle's SignedReceipt encodings in order (a Bundle with empty tensors)
 *   bundle-ids/BLOB_ID        the bundle's receipt IDs, 32 bytes each, in order (to forget them when it is pruned)
 *   aside/RECEIPT_ID          JSON { seq, reason, at, receipt }: a receipt Walrus refused even alone and without tensors, kept out of the queue
 *   running                   present while the store is open: found at start, the last process did not stop cleanly
 * Every change is one batch, so a crash leaves the old state or the new one. Every change but an append is
 * written with sync: true; an append too in `strict` durability. Tensors go to segment files first, synced
 * before a synced append or batch record, so those never name tensors the disk may not have (the timed sync
 * syncs both at once); a record whose tensors a crash cut (logged, unsynced) is queued without them, as a
 * receipt whose tensors no bundle could hold. In `logged` durability an append is written
 * to level's log without a sync (the OS holds it: a crash of the process loses nothing), and a sync follows
 * within `syncIntervalMs`, or at once when `maxUnsynced` receipts would wait: a power loss can take at most
 * those. Level replays its log on open, so what was logged is queued again after any crash.
 */

export interface ReceiptStoreInit {
  /** The level directory. */
  dir: string
  /** Receipts queued (not yet sealed) at most. */
  maxQueued?: number
  /** Bytes queued at most: receipts and tensors as stored. */
  maxQueuedBytes?: number
  onTiming?: (timing: ProofTiming) => void
  /** `strict` (every append synced before it resolves) or `logged` (synced within syncIntervalMs); `strict` unless given. */
  durability?: ReceiptDurability
  /** Logged appends are synced at most this long after they resolve. */
  syncIntervalMs?: number
  /** Logged appends not yet synced, at most: the append that would pass it is synced, with those before it. */
  maxUnsynced?: number
  /** Bytes of a tensor segment file before the next one starts. */
  maxSegmentBytes?: number
}

export interface QueuedReceipt {
  /** 64 hex digits. */
  id: string
  seq: bigint
  /** The SignedReceipt encoding. */
  bytes: Uint8Array
  /** Canonical TensorSet encodings, when the operator keeps tensors. */
  inputs?: Uint8Array
  outputs?: Uint8Array
}

export interface SealedRecord {
  receiptId: string
  bundleBlobId: string
  /** The receipt's leaf index in its bundle. */
  index: number
  leafCount: number
  /** Hex Merkle root of the bundle, as anchored. */
  root: string
  anchor: AnchorReceipt
}

/** A batch begun and not finished: the receipts are still queued, in the order of the bundle. */
export interface PendingBatch {
  id: string
  root: string
  /** Hex SHA-256 of the bundle bytes: a resumed seal must rebuild exactly these. */
  bundleBytesHash: string
  /** Whether the bundle holds the tensors (so a resumed seal builds the same bytes whatever the current setting). */
  includeTensors: boolean
  receipts: QueuedReceipt[]
  /** Seqs of receipts whose tensors the bundle leaves out (too large for it), whatever includeTensors says. */
  leftOut: bigint[]
  /** Set once the bundle is stored on Walrus. */
  bundleBlobId?: string
  startedAt: number
}

/** A receipt set aside: Walrus refused every bundle it could go in, so it is out of the queue, kept with the reason. */
export interface SetAsideRecord {
  seq: bigint
  reason: string
  /** When it was set aside, ms since the epoch. */
  at: number
}

/** A receipt in the store: queued, in the batch being sealed, or sealed with its bundle's receipts (the leaves of its Merkle tree). */
export type StoredReceipt =
  | { state: 'queued' | 'sealing', receipt: Uint8Array, sealed?: undefined, signedReceiptsOfBundle?: undefined }
  | { state: 'aside', receipt: Uint8Array, aside: SetAsideRecord, sealed?: undefined, signedReceiptsOfBundle?: undefined }
  | { state: 'sealed', receipt: Uint8Array, sealed: SealedRecord, signedReceiptsOfBundle: Uint8Array[] }

export interface QueueStats {
  count: number
  /** Queued receipts with their tensors, as counted (the framing of the level record that held them before segments). */
  bytes: number
  /**
   * The tensor segment files on disk: more than the queued tensors when a
   * segment holds sealed ones beside one still queued. The byte limit bounds
   * both this and `bytes`.
   */
  segmentBytes: number
  limit: number
  limitBytes: number
  /** Appends refused since start because the queue was at a limit. */
  rejected: number
  /** Receipts set aside (not in count): Walrus refused them even alone. */
  setAside: number
  /** Of `count` and `bytes`, those in batches being sealed: the rest is what a new batch can take. */
  sealing: number
  sealingBytes: number
}

const VERSION_KEY = 'version'
const READABLE_VERSIONS = ['1', '2', String(RECEIPT_STORE_VERSION)]
const META_KEY = 'meta'
/** Version 2's one batch record; version 3 keeps each batch under BATCH_PREFIX and its root. */
const LEGACY_BATCH_KEY = 'batch'
const BATCH_PREFIX = 'batch/'
const batchKey = (root: string): string => `${BATCH_PREFIX}${root}`
/** Scans of the queue one take() makes at most while batches end under it; past them beginBatch refuses what ended, and the batcher tries again. */
const MAX_TAKE_SCANS = 3
/** Present while a process has the store open: found at start, the last one stopped without stop(). */
const RUNNING_KEY = 'running'
const SEGMENT_PREFIX = 'seg/'
const MAX_SEQ = 2n ** 64n - 1n
/** Version 1 records hold their tensors; version 2 records name them in a segment. */
const INLINE_RECORD_VERSION = 1
const RECORD_VERSION = 2
const FLAG_INPUTS = 1
const FLAG_OUTPUTS = 2
const FLAG_SEGMENT = 4
/** A TensorRef in a record: segment (u32), offset (u48), inputs and outputs lengths (u32 each). */
const REF_BYTES = 18
/** An append's records are encoded in a reused buffer up to this size (a bundle's worth of detection receipts), in one of their own past it. */
const MAX_SCRATCH_BYTES = 8 * 1024 * 1024

const EMPTY = new Uint8Array(0)
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
const seqKey = (seq: bigint): string => `q/${seq.toString().padStart(20, '0')}`
const segmentKey = (id: number): string => `${SEGMENT_PREFIX}${id.toString().padStart(10, '0')}`

type Op = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

const decimal = z.string().regex(/^(0|[1-9][0-9]{0,19})$/)
const hashHex = z.string().regex(/^[0-9a-f]{64}$/)
const blobId = z.string().refine(isBlobId)

const metaSchema = z.strictObject({
  lastSeq: decimal,
  count: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative()
})

const batchSchema = z.strictObject({
  root: hashHex,
  bundleBytesHash: hashHex,
  includeTensors: z.boolean(),
  seqs: z.array(decimal).min(1).max(MAX_BUNDLE_RECEIPTS),
  leftOut: z.array(decimal).max(MAX_BUNDLE_RECEIPTS).optional(),
  bundleBlobId: blobId.optional(),
  startedAt: z.number().nonnegative()
})

const anchorSchema = z.strictObject({
  ledger: z.string(),
  txId: z.string(),
  height: z.number().int().nonnegative(),
  time: z.number().nonnegative(),
  address: z.string()
})

const sealedSchema = z.strictObject({ bundleBlobId: blobId, index: z.number().int().nonnegative() })

const asideSchema = z.strictObject({
  seq: decimal,
  reason: z.string().max(MAX_REASON_CHARS),
  at: z.number().nonnegative(),
  /** The SignedReceipt, base64: its tensors are not kept. */
  receipt: z.string().max(1_024)
})

const bundleSchema = z.strictObject({
  root: hashHex,
  leafCount: z.number().int().min(1).max(MAX_BUNDLE_RECEIPTS),
  anchor: anchorSchema,
  sealedAt: z.number().nonnegative()
})

type Meta = z.infer<typeof metaSchema>
type BatchRecord = z.infer<typeof batchSchema>

const BUNDLE_PREFIX = 'bundle/'
const BUNDLE_IDS_PREFIX = 'bundle-ids/'
const SEALED_PREFIX = 'sealed/'
const ASIDE_PREFIX = 'aside/'

/** Receipt IDs stored back to back, 32 bytes each, as hex. */
function splitIds (bytes: Uint8Array): string[] {
  const ids: string[] = []
  for (let at = 0; at + 32 <= bytes.byteLength; at += 32) ids.push(Buffer.from(bytes.subarray(at, at + 32)).toString('hex'))
  return ids
}

/** The first key after every key that starts with `prefix`. */
function prefixEnd (prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
}

function parse<T> (schema: z.ZodType<T>, bytes: Uint8Array, what: string): T {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new ReceiptStoreError(`${what} is not JSON: the receipt store is damaged`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new ReceiptStoreError(`${what} is malformed (${z.prettifyError(parsed.error)}): the receipt store is damaged`)
  return parsed.data
}

/**
 * A queued receipt on disk: version (1 byte: 2), flags (4: tensors in a
 * segment), the 32-byte ID, the receipt as a u32 LE length and its bytes,
 * then with flag 4 a TensorRef (segment u32, offset u48, inputs and outputs
 * lengths u32). Version 1 (written before segments) holds the tensors
 * themselves, each present part (flags 1: inputs, 2: outputs) as a u32
 * length and its bytes. The seq is the key.
 */
interface StoredRecord {
  receipt: QueuedReceipt
  ref?: TensorRef
}

/** A receipt's size as the queue counts it (its limits, stats and bundle sizing): the receipt and its tensors with their framing, wherever they are. */
function countedSize (receiptBytes: number, inputs?: number, outputs?: number): number {
  return 2 + 32 + 4 + receiptBytes + (inputs != null ? 4 + inputs : 0) + (outputs != null ? 4 + outputs : 0)
}

const queuedSize = (receipt: QueuedReceipt): number => countedSize(receipt.bytes.byteLength, receipt.inputs?.byteLength, receipt.outputs?.byteLength)

/** What a bundle entry's size depends on: the receipt's bytes and its tensors', read or not. */
export interface ReceiptSizes {
  seq: bigint
  receipt: number
  inputs: number
  outputs: number
}

/** A receipt's sizes: of the tensors it holds, or of those `ref` names in a segment (not yet read). */
export function receiptSizes (receipt: QueuedReceipt, ref?: TensorRef): ReceiptSizes {
  return { seq: receipt.seq, receipt: receipt.bytes.byteLength, inputs: ref?.inputs ?? receipt.inputs?.byteLength ?? 0, outputs: ref?.outputs ?? receipt.outputs?.byteLength ?? 0 }
}

function recordCounted (record: StoredRecord): number {
  const { receipt, ref } = record
  return ref != null ? countedSize(receipt.bytes.byteLength, ref.inputs, ref.outputs) : queuedSize(receipt)
}

/** Whether the receipt's tensors go to a segment: both go there, an absent one empty. */
const hasTensors = (receipt: QueuedReceipt): boolean => receipt.inputs != null || receipt.outputs != null

const recordSize = (receipt: QueuedReceipt, ref?: TensorRef): number => 2 + 32 + 4 + receipt.bytes.byteLength + (ref != null ? REF_BYTES : 0)

/** Writes the record into `out`, which is recordSize(receipt, ref) bytes. */
function encodeQueued (receipt: QueuedReceipt, ref: TensorRef | undefined, out: Buffer): Uint8Array {
  out[0] = RECORD_VERSION
  out[1] = ref != null ? FLAG_SEGMENT : 0
  out.write(receipt.id, 2, 'hex')
  out.writeUInt32LE(receipt.bytes.byteLength, 34)
  out.set(receipt.bytes, 38)
  if (ref != null) {
    const at = 38 + receipt.bytes.byteLength
    out.writeUInt32LE(ref.segment, at)
    out.writeUIntLE(ref.offset, at + 4, 6)
    out.writeUInt32LE(ref.inputs, at + 10)
    out.writeUInt32LE(ref.outputs, at + 14)
  }
  return out
}

function decodeQueued (seq: bigint, value: Uint8Array): StoredRecord {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const damaged = (): ReceiptStoreError => new ReceiptStoreError(`queued receipt ${seq} is malformed: the receipt store is damaged`)
  const version = buf[0]
  const flags = buf[1] ?? 0
  const known = version === RECORD_VERSION ? FLAG_SEGMENT : FLAG_INPUTS | FLAG_OUTPUTS
  if (buf.length < 38 || (version !== RECORD_VERSION && version !== INLINE_RECORD_VERSION) || (flags & ~known) !== 0) throw damaged()
  let offset = 34
  const next = (): Uint8Array => {
    if (offset + 4 > buf.length) throw damaged()
    const length = buf.readUInt32LE(offset)
    if (offset + 4 + length > buf.length) throw damaged()
    const part = value.subarray(offset + 4, offset + 4 + length)
    offset += 4 + length
    return part
  }
  const receipt: QueuedReceipt = { id: buf.toString('hex', 2, 34), seq, bytes: next() }
  const record: StoredRecord = { receipt }
  if ((flags & FLAG_INPUTS) !== 0) receipt.inputs = next()
  if ((flags & FLAG_OUTPUTS) !== 0) receipt.outputs = next()
  if ((flags & FLAG_SEGMENT) !== 0) {
    if (offset + REF_BYTES > buf.length) throw damaged()
    record.ref = { segment: buf.readUInt32LE(offset), offset: buf.readUIntLE(offset + 4, 6), inputs: buf.readUInt32LE(offset + 10), outputs: buf.readUInt32LE(offset + 14) }
    offset += REF_BYTES
  }
  if (offset !== buf.length) throw damaged()
  return record
}

/**
 * True when the bytes are a SignedReceipt naming the receipt's seq and
 * hashing to its ID; false for bytes that are no SignedReceipt (which get
 * looked up instead). A SignedReceipt naming another seq or ID is refused,
 * so every signed receipt stored is under its own seq.
 */
function signedUnderOwnSeq (receipt: QueuedReceipt): boolean {
  const key = signedReceiptKey(receipt.bytes)
  if (key == null) return false
  if (key.seq !== receipt.seq) throw new ReceiptSeqError(`receipt ${receipt.id} signs seq ${key.seq}, not ${receipt.seq}`)
  if (key.id !== receipt.id) throw new ProofFormatError(`the receipt given as ${receipt.id} hashes to ${key.id}`)
  return true
}

function encodeBundleReceipts (receipts: Uint8Array[]): Uint8Array {
  const empty = receipts.map(() => new Uint8Array(0))
  return encodeBundle({ receipts, inputs: empty, outputs: empty })
}

/**
 * Receipts wait here, durably, from before the reply that carries them leaves
 * the node until their bundle is anchored; sealed receipts keep an index to
 * their bundle so their proofs can be built.
 */
export class ReceiptStore {
  readonly dir: string
  private readonly maxQueued: number
  private readonly maxQueuedBytes: number
  private db?: Level<string, Uint8Array>
  private meta: Meta = { lastSeq: '0', count: 0, bytes: 0 }
  /** The batches being sealed, by root, with the bytes their receipts count in the queue. */
  private batches = new Map<string, { record: BatchRecord, receiptIds: string[], bytes: number, range?: readonly [bigint, bigint] }>()
  /** Receipt IDs in the batches being sealed, and the root of each one's batch. */
  private sealing = new Map<string, string>()
  /** Batches finished, abandoned or set aside since start: take() reads the queue again when one ends during its scan. */
  private batchesEnded = 0
  private rejected = 0
  private setAsideCount = 0
  private readonly onTiming?: (timing: ProofTiming) => void
  /** Writes run one at a time: each reads the state the last one left. */
  private tail: Promise<unknown> = Promise.resolve()
  readonly durability: ReceiptDurability
  readonly syncIntervalMs: number
  readonly maxUnsynced: number
  /** Receipts appended since the last synced write: what a power loss could take. */
  private unsyncedCount = 0
  private syncTimer?: NodeJS.Timeout
  /** Set when a timed sync failed: the next append syncs, so its caller hears of the failure. */
  private syncFailed = false
  /** Synced writes since start, for whoever checks the window. */
  private syncs = 0
  private stoppedCleanlyBefore = true
  /** Where appends encode their records (encodeRecords). */
  private scratch = Buffer.alloc(0)
  /** The queued receipts' tensors. */
  private readonly segments: TensorSegments
  /** Queued receipts with tensors in each segment, as `seg/ID` holds it. */
  private segmentCounts = new Map<number, number>()

  constructor (init: ReceiptStoreInit) {
    this.dir = init.dir
    this.maxQueued = init.maxQueued ?? DEFAULT_MAX_QUEUED
    this.maxQueuedBytes = init.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES
    if (init.onTiming != null) this.onTiming = init.onTiming
    if (!(Number.isSafeInteger(this.maxQueued) && this.maxQueued >= 1)) throw new RangeError(`maxQueued must be a positive integer, not ${this.maxQueued}`)
    if (!(Number.isSafeInteger(this.maxQueuedBytes) && this.maxQueuedBytes >= 1)) throw new RangeError(`maxQueuedBytes must be a positive integer, not ${this.maxQueuedBytes}`)
    this.durability = init.durability ?? 'strict'
    this.syncIntervalMs = init.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS
    this.maxUnsynced = init.maxUnsynced ?? DEFAULT_MAX_UNSYNCED
    if (!RECEIPT_DURABILITIES.includes(this.durability)) throw new RangeError(`durability must be one of ${RECEIPT_DURABILITIES.join(', ')}, not ${String(this.durability)}`)
    if (!(Number.isSafeInteger(this.syncIntervalMs) && this.syncIntervalMs >= 1 && this.syncIntervalMs <= MAX_SYNC_INTERVAL_MS)) throw new RangeError(`syncIntervalMs must be an integer from 1 to ${MAX_SYNC_INTERVAL_MS}, not ${this.syncIntervalMs}`)
    if (!(Number.isSafeInteger(this.maxUnsynced) && this.maxUnsynced >= 1 && this.maxUnsynced <= MAX_UNSYNCED)) throw new RangeError(`maxUnsynced must be an integer from 1 to ${MAX_UNSYNCED}, not ${this.maxUnsynced}`)
    this.segments = new TensorSegments({ dir: join(this.dir, 'tensors'), ...(init.maxSegmentBytes != null ? { maxSegmentBytes: init.maxSegmentBytes } : {}) })
  }

  /** Opens the store, checks its version (an empty store gets the current one) and loads the queue's state. */
  async start (): Promise<void> {
    if (this.db != null) return
    // The queue is mostly tensors, which Snappy cannot shrink: it would only spend CPU on every flush and compaction (about 7% of the store's).
    const db = new Level<string, Uint8Array>(this.dir, { keyEncoding: 'utf8', valueEncoding: 'view', compression: false })
    await openLevelStore(db, 'receipt store', this.dir, message => new ReceiptStoreError(message))
    try {
      const version = await db.get(VERSION_KEY)
      if (version == null) {
        for await (const key of db.keys({ limit: 1 })) {
          throw new ReceiptStoreError(`${this.dir} holds data (first key ${key.slice(0, 80)}) but no version: not a herd receipt store`)
        }
        this.meta = { lastSeq: '0', count: 0, bytes: 0 }
        await db.batch([
          { type: 'put', key: VERSION_KEY, value: encoder.encode(String(RECEIPT_STORE_VERSION)) },
          { type: 'put', key: META_KEY, value: json(this.meta) }
        ], { sync: true })
      } else if (!READABLE_VERSIONS.includes(decoder.decode(version))) {
        throw new ReceiptStoreError(`${this.dir} is receipt store version ${decoder.decode(version).slice(0, 20)}, this herd reads version ${RECEIPT_STORE_VERSION}`)
      } else {
        // Version 1 records (tensors inline) stay readable; new ones name segments.
        if (decoder.decode(version) !== String(RECEIPT_STORE_VERSION)) await db.put(VERSION_KEY, encoder.encode(String(RECEIPT_STORE_VERSION)), { sync: true })
        const meta = await db.get(META_KEY)
        if (meta == null) throw new ReceiptStoreError(`${this.dir} has no meta record: the receipt store is damaged`)
        this.meta = parse(metaSchema, meta, 'the meta record')
        for await (const _ of db.keys({ gte: ASIDE_PREFIX, lt: prefixEnd(ASIDE_PREFIX) })) this.setAsideCount++
        await this.loadBatches(db)
      }
      this.segmentCounts = new Map()
      for await (const [key, value] of db.iterator({ gte: SEGMENT_PREFIX, lt: prefixEnd(SEGMENT_PREFIX) })) {
        const count = Number(decoder.decode(value))
        if (!/^\d{10}$/.test(key.slice(SEGMENT_PREFIX.length)) || !(Number.isSafeInteger(count) && count >= 1)) throw new ReceiptStoreError(`segment record ${key.slice(0, 40)} is malformed: the receipt store is damaged`)
        this.segmentCounts.set(Number(key.slice(SEGMENT_PREFIX.length)), count)
      }
      const opened = await this.segments.open(new Set(this.segmentCounts.keys()))
      if (opened.removed > 0 || opened.truncatedBytes > 0) log('%s: removed %d tensor segments no receipt names, cut %d bytes of torn records', this.dir, opened.removed, opened.truncatedBytes)
    } catch (err) {
      await db.close()
      await this.segments.close()
      this.forgetBatches()
      this.setAsideCount = 0
      throw err
    }
    this.stoppedCleanlyBefore = (await db.get(RUNNING_KEY)) == null
    await db.put(RUNNING_KEY, encoder.encode(String(Date.now())), { sync: true })
    this.db = db
    this.rejected = 0
    log('opened %s: %d receipts queued (%d bytes), last seq %s%s', this.dir, this.meta.count, this.meta.bytes, this.meta.lastSeq, this.batches.size > 0 ? `, ${this.batches.size} batches being sealed` : '')
  }

  /** Syncs logged appends, waits for the write in progress, then closes the store. */
  async stop (): Promise<void> {
    const db = this.db
    if (db == null) return
    await this.sync().catch(err => { log.error('the last sync of %s failed - %e', this.dir, err) })
    this.db = undefined
    await this.tail
    await this.segments.close().catch(err => { log.error('closing the tensor segments of %s failed - %e', this.dir, err) })
    await db.del(RUNNING_KEY, { sync: true }).catch(err => { log.error('marking %s stopped failed - %e', this.dir, err) })
    await db.close()
    this.forgetBatches()
    this.setAsideCount = 0
  }

  /** The highest seq ever appended (0 for a new store): a restarted node continues from the next one. */
  lastSeq (): bigint {
    this.open()
    return BigInt(this.meta.lastSeq)
  }

  queued (): QueueStats {
    return { count: this.meta.count, bytes: this.meta.bytes, segmentBytes: this.db != null ? this.segments.diskBytes() : 0, limit: this.maxQueued, limitBytes: this.maxQueuedBytes, rejected: this.rejected, setAside: this.setAsideCount, sealing: this.sealing.size, sealingBytes: [...this.batches.values()].reduce((sum, batch) => sum + batch.bytes, 0) }
  }

  /**
   * Queues a receipt; it is on disk (synced) when this resolves. Throws
   * ReceiptQueueFullError past a limit, ReceiptSeqError when seq is not above
   * lastSeq() or the SignedReceipt bytes sign another seq, ProofFormatError
   * when they hash to another ID, DuplicateReceiptError for an ID the store
   * holds.
   */
  async append (receipt: QueuedReceipt): Promise<void> {
    await this.appendMany([receipt])
  }

  /**
   * Queues receipts in ascending seq order with one synced write: the
   * receipts of runs that finish together share one fsync (group commit).
   * All or none are queued.
   */
  async appendMany (receipts: QueuedReceipt[]): Promise<void> {
    if (receipts.length === 0) return
    const sizes = receipts.map(receipt => {
      if (!RECEIPT_ID.test(receipt.id)) throw new ProofFormatError('a receipt ID is 64 lowercase hex digits')
      if (typeof receipt.seq !== 'bigint' || receipt.seq < 1n || receipt.seq > MAX_SEQ) throw new ReceiptSeqError(`seq must be from 1 to 2^64-1, not ${String(receipt.seq)}`)
      if (!(receipt.bytes instanceof Uint8Array) || receipt.bytes.byteLength === 0) throw new ProofFormatError('a receipt needs its SignedReceipt bytes')
      // A receipt with either tensor keeps both in its segment record (an absent one empty), and is counted so when it leaves.
      return hasTensors(receipt) ? countedSize(receipt.bytes.byteLength, receipt.inputs?.byteLength ?? 0, receipt.outputs?.byteLength ?? 0) : queuedSize(receipt)
    })
    const signed = receipts.map(signedUnderOwnSeq)
    const addedBytes = sizes.reduce((n, v) => n + v, 0)
    const startedAt = performance.now()
    await this.exclusive(async db => {
      let last = BigInt(this.meta.lastSeq)
      for (const receipt of receipts) {
        if (receipt.seq <= last) throw new ReceiptSeqError(`seq ${receipt.seq} is not above the last seq ${last}: sequence numbers are never reused`)
        last = receipt.seq
      }
      const withTensors = receipts.filter(hasTensors)
      const segmentBytes = withTensors.reduce((n, r) => n + TensorSegments.recordBytes(r.inputs?.byteLength ?? 0, r.outputs?.byteLength ?? 0), 0)
      const onDisk = this.segments.diskBytes()
      if (this.meta.count + receipts.length > this.maxQueued || this.meta.bytes + addedBytes > this.maxQueuedBytes || onDisk + segmentBytes > this.maxQueuedBytes) {
        this.rejected += receipts.length
        throw new ReceiptQueueFullError(`the receipt queue is full: ${this.meta.count} of ${this.maxQueued} receipts, ${Math.max(this.meta.bytes, onDisk)} + ${addedBytes} of ${this.maxQueuedBytes} bytes`)
      }
      const ids = receipts.map(r => r.id)
      if (new Set(ids).size !== ids.length) throw new DuplicateReceiptError('the same receipt is given twice')
      // A signed receipt's ID hashes its seq, which is past every seq stored: only other bytes need looking up.
      const unsigned = ids.filter((_, i) => !signed[i])
      if (unsigned.length > 0) {
        const found = await db.getMany(unsigned.flatMap(id => [`id/${id}`, `sealed/${id}`, `${ASIDE_PREFIX}${id}`]))
        const taken = found.findIndex(v => v != null)
        if (taken >= 0) throw new DuplicateReceiptError(`receipt ${unsigned[Math.floor(taken / 3)] as string} is already ${['queued', 'sealed', 'set aside'][taken % 3] as string}`)
      }
      const meta: Meta = { lastSeq: last.toString(), count: this.meta.count + receipts.length, bytes: this.meta.bytes + addedBytes }
      const sync = this.durability === 'strict' || this.syncFailed || this.unsyncedCount + receipts.length > this.maxUnsynced
      // The tensors reach the OS before the records that name them, and the disk before a synced write of those records.
      const written = withTensors.length > 0 ? await this.segments.write(withTensors.map(r => ({ seq: r.seq, inputs: r.inputs ?? EMPTY, outputs: r.outputs ?? EMPTY }))) : []
      const refs = new Map(withTensors.map((r, i) => [r, written[i] as TensorRef]))
      const counts = new Map<number, number>()
      for (const ref of written) counts.set(ref.segment, (counts.get(ref.segment) ?? this.segmentCounts.get(ref.segment) ?? 0) + 1)
      if (sync) await this.segments.sync()
      const values = this.encodeRecords(receipts, refs)
      await db.batch([
        ...receipts.flatMap((receipt, i) => [
          { type: 'put' as const, key: seqKey(receipt.seq), value: values[i] as Uint8Array },
          { type: 'put' as const, key: `id/${receipt.id}`, value: encoder.encode(receipt.seq.toString()) }
        ]),
        ...[...counts].map(([id, count]) => ({ type: 'put' as const, key: segmentKey(id), value: encoder.encode(String(count)) })),
        { type: 'put', key: META_KEY, value: json(meta) }
      ], { sync })
      this.meta = meta
      for (const [id, count] of counts) this.segmentCounts.set(id, count)
      if (sync) this.synced()
      else this.noteUnsynced(receipts.length)
    })
    this.onTiming?.({ kind: 'receipt-append', seconds: (performance.now() - startedAt) / 1000 })
  }

  /**
   * The records of an append, in the store's scratch buffer when they fit
   * it: level copies a batch's values when it is given them, and appends run
   * one at a time, so one buffer serves them all and a receipt's record is
   * no new allocation for the collector to reclaim.
   */
  private encodeRecords (receipts: QueuedReceipt[], refs: Map<QueuedReceipt, TensorRef>): Uint8Array[] {
    const sizes = receipts.map(r => recordSize(r, refs.get(r)))
    const total = sizes.reduce((n, v) => n + v, 0)
    let out: Buffer
    if (total > MAX_SCRATCH_BYTES) {
      out = Buffer.allocUnsafe(total)
    } else {
      if (this.scratch.byteLength < total) this.scratch = Buffer.allocUnsafe(Math.min(MAX_SCRATCH_BYTES, Math.max(total, 2 * this.scratch.byteLength)))
      out = this.scratch
    }
    let offset = 0
    return receipts.map((receipt, i) => {
      const size = sizes[i] as number
      const value = encodeQueued(receipt, refs.get(receipt), out.subarray(offset, offset + size))
      offset += size
      return value
    })
  }

  /**
   * The oldest receipts not yet sealed nor in a batch being sealed, in seq
   * order, up to `max` and while their `cost` (the record's size unless
   * given) adds up to at most `maxBytes`, though always one. Nothing is removed.
   */
  async take (max: number, options: { maxBytes?: number, cost?: (sizes: ReceiptSizes, recordBytes: number) => number } = {}): Promise<QueuedReceipt[]> {
    const db = this.open()
    const limit = Math.min(Math.max(0, Math.floor(max)), MAX_BUNDLE_RECEIPTS)
    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY
    const cost = options.cost ?? ((_, recordBytes) => recordBytes)
    if (limit === 0) return []
    // A batch that ends during the scan leaves its receipts in the scan's snapshot but no longer among those being sealed: read again.
    for (let attempt = 1; ; attempt++) {
      const ended = this.batchesEnded
      const records = await this.scan(db, limit, maxBytes, cost)
      if (ended === this.batchesEnded || attempt >= MAX_TAKE_SCANS) return this.withTensors(records)
    }
  }

  private async scan (db: Level<string, Uint8Array>, limit: number, maxBytes: number, cost: (sizes: ReceiptSizes, recordBytes: number) => number): Promise<StoredRecord[]> {
    const records: StoredRecord[] = []
    let bytes = 0
    // A batch of consecutive seqs (as batches are begun) is stepped over at once: the batches under way may hold tens of thousands of receipts.
    const ranges = [...this.batches.values()].flatMap(b => b.range != null ? [b.range] : [])
    const iterator = db.iterator({ gte: 'q/', lt: 'q0' })
    try {
      for (let entry = await iterator.next(); entry != null; entry = await iterator.next()) {
        const [key, value] = entry
        const seq = BigInt(key.slice(2))
        const range = ranges.find(([first, last]) => seq >= first && seq <= last)
        if (range != null) {
          iterator.seek(seqKey(range[1] + 1n))
          continue
        }
        const record = decodeQueued(seq, value)
        if (this.sealing.has(record.receipt.id)) continue
        const size = cost(receiptSizes(record.receipt, record.ref), recordCounted(record))
        if (records.length > 0 && bytes + size > maxBytes) break
        records.push(record)
        bytes += size
        if (records.length >= limit) break
      }
    } finally {
      await iterator.close()
    }
    return records
  }

  /**
   * Records a batch before anything is sealed: until finishBatch, its receipts
   * stay queued (state 'sealing') and pendingBatches() returns it, so a restart
   * finishes this batch rather than sealing its receipts again. Batches may be
   * sealed side by side; a receipt is in one at most. Returns the batch ID (its root).
   */
  async beginBatch (batch: { receipts: QueuedReceipt[], root: string, bundleBytesHash: string, includeTensors?: boolean, leftOut?: bigint[] }): Promise<string> {
    const n = batch.receipts.length
    if (n === 0 || n > MAX_BUNDLE_RECEIPTS) throw new ReceiptBatchError(`a batch holds 1 to ${MAX_BUNDLE_RECEIPTS} receipts, not ${n}`)
    if (!RECEIPT_ID.test(batch.root) || !RECEIPT_ID.test(batch.bundleBytesHash)) throw new ReceiptBatchError('root and bundleBytesHash are 64 lowercase hex digits')
    if (toHex(receiptRoot(batch.receipts.map(r => r.bytes))) !== batch.root) throw new ReceiptBatchError(`root ${batch.root} is not the Merkle root of the batch's receipts`)
    return this.exclusive(async db => {
      if (this.batches.has(batch.root)) throw new ReceiptBatchError(`batch ${batch.root} is being sealed already`)
      const values = await db.getMany(batch.receipts.map(r => seqKey(r.seq)))
      const ids = new Set<string>()
      let bytes = 0
      values.forEach((value, i) => {
        const receipt = batch.receipts[i] as QueuedReceipt
        const record = value != null ? decodeQueued(receipt.seq, value) : undefined
        if (record == null || record.receipt.id !== receipt.id) throw new ReceiptBatchError(`receipt ${receipt.id} (seq ${receipt.seq}) is not queued`)
        const other = this.sealing.get(receipt.id)
        if (other != null) throw new ReceiptBatchError(`receipt ${receipt.id} (seq ${receipt.seq}) is in batch ${other} already`)
        ids.add(receipt.id)
        bytes += recordCounted(record)
      })
      if (ids.size !== n) throw new ReceiptBatchError('a batch holds each receipt once')
      const seqs = new Set(batch.receipts.map(r => r.seq))
      const leftOut = batch.leftOut ?? []
      if (leftOut.some(seq => !seqs.has(seq))) throw new ReceiptBatchError('leftOut names a receipt the batch does not hold')
      const record: BatchRecord = {
        root: batch.root,
        bundleBytesHash: batch.bundleBytesHash,
        includeTensors: batch.includeTensors ?? true,
        seqs: batch.receipts.map(r => r.seq.toString()),
        ...(leftOut.length > 0 ? { leftOut: leftOut.map(seq => seq.toString()) } : {}),
        startedAt: Date.now()
      }
      // This write syncs the appends before it: their tensors must be on disk too, or a resumed seal would not find the bytes it began.
      await this.segments.sync()
      await db.batch([{ type: 'put', key: batchKey(record.root), value: json(record) }], { sync: true })
      this.addBatch(record, [...ids], bytes)
      return record.root
    })
  }

  /** The lowest seq still queued, in a batch or not; undefined when the queue is empty. */
  async oldestQueuedSeq (): Promise<bigint | undefined> {
    const db = this.open()
    for await (const key of db.keys({ gte: 'q/', lt: 'q0', limit: 1 })) return BigInt(key.slice(2))
    return undefined
  }

  /** The batches begun and not finished, with their receipts, oldest first. */
  async pendingBatches (): Promise<PendingBatch[]> {
    const db = this.open()
    // Begun in the same millisecond, the batch of the lower seqs began first: a batch takes the oldest receipts no other holds.
    const firstSeq = (record: { seqs: string[] }): bigint => BigInt(record.seqs[0] ?? 0)
    const records = [...this.batches.values()].map(b => b.record).sort((a, b) => a.startedAt - b.startedAt || (firstSeq(a) < firstSeq(b) ? -1 : firstSeq(a) > firstSeq(b) ? 1 : 0))
    return Promise.all(records.map(async batch => {
      const seqs = batch.seqs.map(s => BigInt(s))
      const values = await db.getMany(seqs.map(seqKey))
      const receipts = await this.withTensors(values.map((value, i) => {
        if (value == null) throw new ReceiptStoreError(`receipt ${seqs[i]} of batch ${batch.root} is not queued: the receipt store is damaged`)
        return decodeQueued(seqs[i] as bigint, value)
      }))
      return {
        id: batch.root,
        root: batch.root,
        bundleBytesHash: batch.bundleBytesHash,
        includeTensors: batch.includeTensors,
        receipts,
        leftOut: (batch.leftOut ?? []).map(seq => BigInt(seq)),
        ...(batch.bundleBlobId != null ? { bundleBlobId: batch.bundleBlobId } : {}),
        startedAt: batch.startedAt
      }
    }))
  }

  /** Records where the batch's bundle is stored; the same batch always gives the same blob ID, so a second, different one is refused. */
  async setBundleBlobId (batchId: string, bundleBlobId: string): Promise<void> {
    if (!isBlobId(bundleBlobId)) throw new ReceiptBatchError(`not a Walrus blob ID: ${String(bundleBlobId).slice(0, 64)}`)
    await this.exclusive(async db => {
      const batch = this.currentBatch(batchId)
      if (batch.bundleBlobId === bundleBlobId) return
      if (batch.bundleBlobId != null) throw new ReceiptBatchError(`batch ${batchId} is stored as ${batch.bundleBlobId}, not ${bundleBlobId}`)
      const record: BatchRecord = { ...batch, bundleBlobId }
      await db.batch([{ type: 'put', key: batchKey(batchId), value: json(record) }], { sync: true })
      const held = this.batches.get(batchId)
      if (held != null) held.record = record
    })
  }

  /**
   * Forgets a batch being sealed, whose bundle Walrus refused for good (so
   * it was never stored nor anchored): its receipts stay queued, free to go
   * in other batches.
   */
  async abandonBatch (batchId: string): Promise<void> {
    await this.exclusive(async db => {
      const batch = this.currentBatch(batchId)
      if (batch.bundleBlobId != null) throw new ReceiptBatchError(`batch ${batchId} is stored as ${batch.bundleBlobId}: it can only be finished`)
      await db.batch([{ type: 'del', key: batchKey(batchId) }], { sync: true })
      this.dropBatch(batchId)
    })
  }

  /**
   * Takes the receipts of a batch being sealed out of the queue, in one
   * write with the batch record, and keeps each under `aside/` with the
   * reason (tensors dropped): Walrus refused them for good, and they must
   * neither block the queue nor be lost.
   */
  async setAside (batchId: string, reason: string): Promise<void> {
    await this.exclusive(async db => {
      const batch = this.currentBatch(batchId)
      if (batch.bundleBlobId != null) throw new ReceiptBatchError(`batch ${batchId} is stored as ${batch.bundleBlobId}: it can only be finished`)
      const seqs = batch.seqs.map(s => BigInt(s))
      const values = await db.getMany(seqs.map(seqKey))
      const ops: Op[] = [{ type: 'del', key: batchKey(batchId) }]
      const released: number[] = []
      const at = Date.now()
      let bytes = 0
      values.forEach((value, index) => {
        const seq = seqs[index] as bigint
        if (value == null) throw new ReceiptStoreError(`receipt ${seq} of batch ${batchId} is not queued: the receipt store is damaged`)
        const record = decodeQueued(seq, value)
        const receipt = record.receipt
        bytes += recordCounted(record)
        if (record.ref != null) released.push(record.ref.segment)
        ops.push({ type: 'del', key: seqKey(seq) })
        ops.push({ type: 'del', key: `id/${receipt.id}` })
        ops.push({ type: 'put', key: `${ASIDE_PREFIX}${receipt.id}`, value: json({ seq: seq.toString(), reason: reason.slice(0, MAX_REASON_CHARS), at, receipt: Buffer.from(receipt.bytes).toString('base64') }) })
      })
      const meta: Meta = { ...this.meta, count: this.meta.count - seqs.length, bytes: this.meta.bytes - bytes }
      ops.push({ type: 'put', key: META_KEY, value: json(meta) })
      const counts = this.releaseOps(released, ops)
      await db.batch(ops, { sync: true })
      this.meta = meta
      this.dropBatch(batchId)
      this.setAsideCount += seqs.length
      await this.released(counts)
    })
  }

  /**
   * Puts receipts set aside back in the queue, as many as its limits allow,
   * in one synced write: for an operator who has fixed what made Walrus refuse
   * them (a publisher's size limit, say). Their tensors were dropped when they
   * were set aside; their hashes stand for them. One refused again is set
   * aside again, with the new reason.
   */
  async requeueSetAside (): Promise<{ requeued: number, left: number }> {
    return this.exclusive(async db => {
      const ops: Op[] = []
      let { count, bytes } = this.meta
      for await (const [key, value] of db.iterator({ gte: ASIDE_PREFIX, lt: prefixEnd(ASIDE_PREFIX) })) {
        const id = key.slice(ASIDE_PREFIX.length)
        const record = parse(asideSchema, value, `the set-aside record of ${id}`)
        const receipt: QueuedReceipt = { id, seq: BigInt(record.seq), bytes: new Uint8Array(Buffer.from(record.receipt, 'base64')) }
        // A signed receipt goes back under the seq it signs, as an append would put it.
        signedUnderOwnSeq(receipt)
        const size = queuedSize(receipt)
        if (count + 1 > this.maxQueued || bytes + size > this.maxQueuedBytes) break
        ops.push(
          { type: 'del', key },
          { type: 'put', key: seqKey(receipt.seq), value: encodeQueued(receipt, undefined, Buffer.allocUnsafe(recordSize(receipt))) },
          { type: 'put', key: `id/${id}`, value: encoder.encode(receipt.seq.toString()) }
        )
        count++
        bytes += size
      }
      const requeued = ops.length / 3
      if (requeued === 0) return { requeued, left: this.setAsideCount }
      const meta: Meta = { ...this.meta, count, bytes }
      ops.push({ type: 'put', key: META_KEY, value: json(meta) })
      await db.batch(ops, { sync: true })
      this.meta = meta
      this.setAsideCount -= requeued
      return { requeued, left: this.setAsideCount }
    })
  }

  /**
   * The batch is anchored: in one write its receipts leave the queue, each
   * gets a sealed record, the bundle's receipts are kept for proofs, and the
   * batch record goes.
   */
  async finishBatch (batchId: string, anchor: AnchorReceipt): Promise<void> {
    const checked = anchorSchema.safeParse({ ledger: anchor.ledger, txId: anchor.txId, height: anchor.height, time: anchor.time, address: anchor.address })
    if (!checked.success) throw new ReceiptBatchError(`not an anchor receipt: ${z.prettifyError(checked.error)}`)
    await this.exclusive(async db => {
      const batch = this.currentBatch(batchId)
      const bundleBlobId = batch.bundleBlobId
      if (bundleBlobId == null) throw new ReceiptBatchError(`batch ${batchId} has no bundle blob ID yet`)
      const seqs = batch.seqs.map(s => BigInt(s))
      const values = await db.getMany(seqs.map(seqKey))
      const ops: Op[] = []
      const receipts: Uint8Array[] = []
      const ids: string[] = []
      const released: number[] = []
      let bytes = 0
      values.forEach((value, index) => {
        const seq = seqs[index] as bigint
        if (value == null) throw new ReceiptStoreError(`receipt ${seq} of batch ${batchId} is not queued: the receipt store is damaged`)
        const record = decodeQueued(seq, value)
        const receipt = record.receipt
        receipts.push(receipt.bytes)
        ids.push(receipt.id)
        bytes += recordCounted(record)
        if (record.ref != null) released.push(record.ref.segment)
        ops.push({ type: 'del', key: seqKey(seq) })
        ops.push({ type: 'del', key: `id/${receipt.id}` })
        ops.push({ type: 'put', key: `sealed/${receipt.id}`, value: json({ bundleBlobId, index }) })
      })
      const meta: Meta = { ...this.meta, count: this.meta.count - seqs.length, bytes: this.meta.bytes - bytes }
      ops.push({ type: 'put', key: `bundle/${bundleBlobId}`, value: json({ root: batch.root, leafCount: seqs.length, anchor: checked.data, sealedAt: Date.now() }) })
      ops.push({ type: 'put', key: `bundle-receipts/${bundleBlobId}`, value: encodeBundleReceipts(receipts) })
      ops.push({ type: 'put', key: `${BUNDLE_IDS_PREFIX}${bundleBlobId}`, value: Buffer.concat(ids.map(id => Buffer.from(id, 'hex'))) })
      ops.push({ type: 'del', key: batchKey(batchId) })
      ops.push({ type: 'put', key: META_KEY, value: json(meta) })
      const counts = this.releaseOps(released, ops)
      await db.batch(ops, { sync: true })
      this.meta = meta
      this.dropBatch(batchId)
      await this.released(counts)
    })
  }

  /** Where a receipt is: queued, in a batch being sealed, or sealed (with its bundle's receipts). Undefined when unknown. */
  async get (receiptId: string): Promise<StoredReceipt | undefined> {
    return this.lookup(receiptId, true)
  }

  private async lookup (receiptId: string, again: boolean): Promise<StoredReceipt | undefined> {
    const db = this.open()
    if (!RECEIPT_ID.test(receiptId)) return undefined
    const [queued, sealed, aside] = await db.getMany([`id/${receiptId}`, `sealed/${receiptId}`, `${ASIDE_PREFIX}${receiptId}`])
    if (aside != null) {
      const record = parse(asideSchema, aside, `the set-aside record of ${receiptId}`)
      return { state: 'aside', receipt: new Uint8Array(Buffer.from(record.receipt, 'base64')), aside: { seq: BigInt(record.seq), reason: record.reason, at: record.at } }
    }
    if (sealed != null) {
      const { bundleBlobId, index } = parse(sealedSchema, sealed, `the sealed record of ${receiptId}`)
      const [bundle, receiptsValue] = await db.getMany([`bundle/${bundleBlobId}`, `bundle-receipts/${bundleBlobId}`])
      // Pruned between the two reads: the receipt is no longer known here.
      if ((bundle == null || receiptsValue == null) && await db.get(`${SEALED_PREFIX}${receiptId}`) == null) return undefined
      if (bundle == null || receiptsValue == null) throw new ReceiptStoreError(`bundle ${bundleBlobId} of receipt ${receiptId} is missing: the receipt store is damaged`)
      const info = parse(bundleSchema, bundle, `the record of bundle ${bundleBlobId}`)
      const receipts = this.decodeReceipts(receiptsValue, bundleBlobId)
      const receipt = receipts[index]
      if (receipt == null || receipts.length !== info.leafCount) throw new ReceiptStoreError(`bundle ${bundleBlobId} does not hold receipt ${index} of ${info.leafCount}: the receipt store is damaged`)
      return {
        state: 'sealed',
        receipt,
        sealed: { receiptId, bundleBlobId, index, leafCount: info.leafCount, root: info.root, anchor: info.anchor },
        signedReceiptsOfBundle: receipts
      }
    }
    if (queued == null) return undefined
    const seq = BigInt(decoder.decode(queued))
    const value = await db.get(seqKey(seq))
    // Sealed or set aside between the two reads: its record is there now.
    if (value == null) return again ? this.lookup(receiptId, false) : undefined
    return { state: this.sealing.has(receiptId) ? 'sealing' : 'queued', receipt: decodeQueued(seq, value).receipt.bytes }
  }

  /**
   * Forgets bundles sealed before `cutoffMs` (ms since the epoch), with their
   * receipts' sealed records: their proofs are no longer served here (the
   * bundle stays on Walrus and its anchor on the ledger). Each bundle goes in
   * its own synced write, so appends wait for one bundle at a time and a
   * lookup never finds a sealed record without its bundle.
   */
  async pruneSealed (cutoffMs: number, signal?: AbortSignal): Promise<{ bundles: number, receipts: number }> {
    const db = this.open()
    const old: string[] = []
    for await (const [key, value] of db.iterator({ gte: BUNDLE_PREFIX, lt: prefixEnd(BUNDLE_PREFIX) })) {
      if (parse(bundleSchema, value, `the record of ${key}`).sealedAt < cutoffMs) old.push(key.slice(BUNDLE_PREFIX.length))
    }
    let receipts = 0
    let unlisted: Map<string, string[]> | undefined
    for (const bundleBlobId of old) {
      signal?.throwIfAborted()
      const listed = await db.get(`${BUNDLE_IDS_PREFIX}${bundleBlobId}`)
      // Bundles sealed before their receipt IDs were kept with them: one scan of the sealed records finds them all.
      unlisted ??= listed == null ? await this.sealedIdsByBundle(db, new Set(old)) : undefined
      const ids = listed != null ? splitIds(listed) : unlisted?.get(bundleBlobId) ?? []
      const ops: Op[] = ids.map(id => ({ type: 'del', key: `${SEALED_PREFIX}${id}` }))
      for (const key of [BUNDLE_PREFIX, 'bundle-receipts/', BUNDLE_IDS_PREFIX]) ops.push({ type: 'del', key: `${key}${bundleBlobId}` })
      await this.exclusive(async db => { await db.batch(ops, { sync: true }) })
      receipts += ids.length
    }
    if (old.length > 0) log('pruned %d bundles sealed before %s (%d receipts)', old.length, new Date(cutoffMs).toISOString(), receipts)
    return { bundles: old.length, receipts }
  }

  private async sealedIdsByBundle (db: Level<string, Uint8Array>, bundles: Set<string>): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>()
    for await (const [key, value] of db.iterator({ gte: SEALED_PREFIX, lt: prefixEnd(SEALED_PREFIX) })) {
      const { bundleBlobId } = parse(sealedSchema, value, `the sealed record ${key}`)
      if (!bundles.has(bundleBlobId)) continue
      const ids = found.get(bundleBlobId) ?? []
      ids.push(key.slice(SEALED_PREFIX.length))
      found.set(bundleBlobId, ids)
    }
    return found
  }

  /** The SignedReceipt encodings of a sealed bundle, in leaf order; empty for a bundle this store did not seal. */
  async bundleReceipts (bundleBlobId: string): Promise<Uint8Array[]> {
    const db = this.open()
    if (!isBlobId(bundleBlobId)) return []
    const value = await db.get(`bundle-receipts/${bundleBlobId}`)
    return value == null ? [] : this.decodeReceipts(value, bundleBlobId)
  }

  private decodeReceipts (value: Uint8Array, bundleBlobId: string): Uint8Array[] {
    try {
      return decodeBundle(value).receipts
    } catch (err) {
      throw new ReceiptStoreError(`the receipts of bundle ${bundleBlobId} are malformed (${(err as Error).message}): the receipt store is damaged`)
    }
  }

  /**
   * Queued receipts with their tensors read back from their segments.
   * Tensors a crash cut (an unsynced logged append) are gone: the receipt
   * goes without them, its signed hashes standing for them, as for tensors
   * no bundle could hold; a torn record is never served.
   */
  private async withTensors (records: StoredRecord[]): Promise<QueuedReceipt[]> {
    const referenced = records.filter((r): r is StoredRecord & { ref: TensorRef } => r.ref != null)
    const read = await this.segments.readMany(referenced.map(r => ({ seq: r.receipt.seq, ref: r.ref })))
    let next = 0
    return records.map(({ receipt, ref }) => {
      if (ref == null) return receipt
      const found = read[next++]
      if (found == null) {
        log.error('the tensors of receipt %s (seq %s) were lost in a crash: it is sealed without them', receipt.id, receipt.seq)
        return receipt
      }
      return { ...receipt, ...found }
    })
  }

  /** Adds to `ops` the segment counts after receipts with tensors in `segments` (one entry a receipt) leave the queue. */
  private releaseOps (segments: number[], ops: Op[]): Map<number, number> {
    const counts = new Map<number, number>()
    for (const id of segments) counts.set(id, (counts.get(id) ?? this.segmentCounts.get(id) ?? 0) - 1)
    for (const [id, count] of counts) {
      if (count < 0) throw new ReceiptStoreError(`segment ${id} counts fewer receipts than leave it: the receipt store is damaged`)
      ops.push(count === 0 ? { type: 'del', key: segmentKey(id) } : { type: 'put', key: segmentKey(id), value: encoder.encode(String(count)) })
    }
    return counts
  }

  /** After the write of releaseOps: segments no queued receipt names are deleted (after a crash before this, start() deletes them). */
  private async released (counts: Map<number, number>): Promise<void> {
    const empty: number[] = []
    for (const [id, count] of counts) {
      if (count > 0) {
        this.segmentCounts.set(id, count)
      } else {
        this.segmentCounts.delete(id)
        empty.push(id)
      }
    }
    try {
      await this.segments.remove(empty)
    } catch (err) {
      log.error('deleting tensor segments %s of %s failed - %e', empty.join(', '), this.dir, err)
    }
  }

  private currentBatch (batchId: string): BatchRecord {
    const batch = this.batches.get(batchId)
    if (batch == null) throw new ReceiptBatchError(`batch ${String(batchId).slice(0, 64)} is not being sealed`)
    return batch.record
  }

  private addBatch (record: BatchRecord, receiptIds: string[], bytes: number): void {
    let first = BigInt(record.seqs[0] as string)
    let last = first
    for (const text of record.seqs) {
      const seq = BigInt(text)
      if (seq < first) first = seq
      if (seq > last) last = seq
    }
    // Consecutive seqs (distinct, as a batch's are), as a batch begun from the queue's front holds: take() steps over them at once.
    const consecutive = last - first + 1n === BigInt(record.seqs.length)
    this.batches.set(record.root, { record, receiptIds, bytes, ...(consecutive ? { range: [first, last] as const } : {}) })
    for (const id of receiptIds) this.sealing.set(id, record.root)
  }

  /** Whether the batch is begun and not yet finished, abandoned or set aside. */
  isBeingSealed (batchId: string): boolean {
    return this.batches.has(batchId)
  }

  private dropBatch (root: string): void {
    const batch = this.batches.get(root)
    if (batch == null) return
    this.batchesEnded++
    this.batches.delete(root)
    for (const id of batch.receiptIds) this.sealing.delete(id)
  }

  private forgetBatches (): void {
    this.batches.clear()
    this.sealing.clear()
  }

  /**
   * The batches being sealed, from `batch/ROOT`; a version 2 store's one
   * `batch` record moves there first, in one synced write with the version.
   * Each batch's receipts must be queued, and in no other batch.
   */
  private async loadBatches (db: Level<string, Uint8Array>): Promise<void> {
    const legacy = await db.get(LEGACY_BATCH_KEY)
    if (legacy != null) {
      const record = parse(batchSchema, legacy, 'the batch record')
      await db.batch([
        { type: 'put', key: batchKey(record.root), value: json(record) },
        { type: 'del', key: LEGACY_BATCH_KEY },
        { type: 'put', key: VERSION_KEY, value: encoder.encode(String(RECEIPT_STORE_VERSION)) }
      ], { sync: true })
    }
    for await (const [key, value] of db.iterator({ gte: BATCH_PREFIX, lt: prefixEnd(BATCH_PREFIX) })) {
      const record = parse(batchSchema, value, `the batch record ${key.slice(0, 80)}`)
      if (key !== batchKey(record.root)) throw new ReceiptStoreError(`batch record ${key.slice(0, 80)} holds batch ${record.root}: the receipt store is damaged`)
      const seqs = record.seqs.map(s => BigInt(s))
      const values = await db.getMany(seqs.map(seqKey))
      const ids = new Set<string>()
      let bytes = 0
      values.forEach((v, i) => {
        if (v == null) throw new ReceiptStoreError(`receipt ${seqs[i]} of batch ${record.root} is not queued: the receipt store is damaged`)
        const queued = decodeQueued(seqs[i] as bigint, v)
        const other = this.sealing.get(queued.receipt.id) ?? (ids.has(queued.receipt.id) ? record.root : undefined)
        if (other != null) throw new ReceiptStoreError(`receipt ${seqs[i]} is in batch ${record.root} and in batch ${other}: the receipt store is damaged`)
        ids.add(queued.receipt.id)
        bytes += recordCounted(queued)
      })
      this.addBatch(record, [...ids], bytes)
    }
  }

  private open (): Level<string, Uint8Array> {
    if (this.db == null) throw new ReceiptStoreClosedError('the receipt store is not started')
    return this.db
  }

  /** Whether the process that had the store open before this one stopped it (false after a crash or kill). */
  stoppedCleanly (): boolean {
    return this.stoppedCleanlyBefore
  }

  /** Receipts appended and not yet synced: at most `maxUnsynced`. */
  unsynced (): number {
    return this.unsyncedCount
  }

  /** Synced appends and syncs since start. */
  syncCount (): number {
    return this.syncs
  }

  /**
   * Makes every logged append durable: a synced write of the meta record
   * syncs level's log, and with it every write before it.
   */
  async sync (): Promise<void> {
    clearTimeout(this.syncTimer)
    this.syncTimer = undefined
    if (this.unsyncedCount === 0 || this.db == null) return
    await this.exclusive(async db => {
      if (this.unsyncedCount === 0) return
      // Both at once, as appends wait behind this: a crash between them can leave a record synced without its tensors, which reads as tensors lost, the window's own loss.
      const [segments, level] = await Promise.allSettled([
        this.segments.sync(),
        db.batch([{ type: 'put', key: META_KEY, value: json(this.meta) }], { sync: true })
      ])
      if (segments.status === 'rejected') throw segments.reason
      if (level.status === 'rejected') throw level.reason
      this.synced()
    })
  }

  private noteUnsynced (count: number): void {
    this.unsyncedCount += count
    if (this.syncTimer != null) return
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined
      this.sync().then(() => { this.syncFailed = false }, err => {
        // The next append syncs instead, so its caller hears of the failure rather than replying on an unsynced log.
        this.syncFailed = true
        log.error('syncing %s failed - %e', this.dir, err)
      })
    }, this.syncIntervalMs)
    this.syncTimer.unref()
  }

  private synced (): void {
    this.unsyncedCount = 0
    this.syncFailed = false
    this.syncs++
  }

  private async exclusive<T> (fn: (db: Level<string, Uint8Array>) => Promise<T>): Promise<T> {
    const db = this.open()
    const run = this.tail.then(async () => {
      if (this.db !== db) throw new ReceiptStoreClosedError('the receipt store was stopped')
      return fn(db)
    })
    this.tail = run.catch(() => {})
    return run
  }
}

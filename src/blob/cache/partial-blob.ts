import { open, type FileHandle } from 'node:fs/promises'
import { isUint8ArrayList, type Uint8ArrayList } from 'uint8arraylist'
import { logger } from '@libp2p/logger'
import type { BlobId } from '../blob-id.js'
import { chunkRange, hashLeaf } from '../chunk-tree.js'
import { ChunkVerificationError, InvalidArgumentError } from '../errors.js'
import { Bitfield } from './bitfield.js'
import { SYNC_EVERY_CHUNKS, SYNC_INTERVAL_MS } from './constants.js'
import { CacheObjectClosedError, ChunkNotHeldError, CorruptBlobError, IncompleteBlobError } from './errors.js'
import { isNotFound, readAt, sameBytes, unlinkIfPresent, writeAt } from './file-io.js'
import type { CacheEntry, PartialBlob } from './index.js'

const log = logger('herd:blob:cache:partial-blob')

/** What a download needs from the cache that owns it. */
export interface PartialOwner {
  persistBits: (blobId: BlobId, bits: Uint8Array) => Promise<void>
  /** Called with the file synced and closed: rename, index, accounting. */
  commit: (partial: PartialBlobFile) => Promise<CacheEntry>
  abandon: (partial: PartialBlobFile) => Promise<void>
  /** The download was let go: the cache may now discard it to make room. */
  closed: (partial: PartialBlobFile) => void
}

export interface PartialBlobInit {
  blobId: BlobId
  path: string
  size: number
  chunkSize: number
  chunkRoot: string
  leaves: Uint8Array[]
  startedAt: number
  bits?: Bitfield
}

/**
 * One download's file in dir/partial. Chunks are written at their offsets as
 * they arrive, in any order; the bitfield in memory says what can be read, the
 * one in the index says what is synced, so after a crash a held bit never
 * points at data that did not reach the disk.
 */
export class PartialBlobFile implements PartialBlob {
  readonly blobId: BlobId
  readonly path: string
  readonly size: number
  readonly chunkSize: number
  readonly chunkCount: number
  readonly chunkRoot: string
  readonly leaves: Uint8Array[]
  readonly startedAt: number
  /** Set by partial(), cleared by close(): a download nobody is running may be discarded to make room. */
  inUse = false
  /** Resolves when the file and index record exist. */
  ready: Promise<void> = Promise.resolve()
  private state: 'active' | 'committing' | 'gone' = 'active'
  private readonly bits: Bitfield
  private readonly owner: PartialOwner
  private file?: Promise<FileHandle>
  private readonly inflight = new Set<Promise<unknown>>()
  private unsynced = 0
  private timer?: NodeJS.Timeout
  private syncTail: Promise<void> = Promise.resolve()
  private committing?: Promise<CacheEntry>
  private discarded = false

  constructor (init: PartialBlobInit, owner: PartialOwner) {
    this.blobId = init.blobId
    this.path = init.path
    this.size = init.size
    this.chunkSize = init.chunkSize
    this.chunkCount = init.leaves.length
    this.chunkRoot = init.chunkRoot
    this.leaves = init.leaves
    this.startedAt = init.startedAt
    this.bits = init.bits ?? new Bitfield(this.chunkCount)
    this.owner = owner
  }

  /** Whether nothing is running on it: only then can the cache discard it. */
  get idle (): boolean {
    return this.state === 'active' && !this.inUse && this.inflight.size === 0
  }

  get active (): boolean {
    return this.state !== 'gone'
  }

  matches (d: { size: number, chunkSize: number, chunkRoot: string }): boolean {
    return d.size === this.size && d.chunkSize === this.chunkSize && d.chunkRoot === this.chunkRoot
  }

  has (index: number): boolean {
    return this.bits.has(index)
  }

  heldCount (): number {
    return this.bits.count()
  }

  bitfield (): Uint8Array {
    return this.bits.toBytes()
  }

  complete (): boolean {
    return this.bits.full()
  }

  async writeChunk (index: number, bytes: Uint8Array | Uint8ArrayList): Promise<void> {
    this.assertActive()
    const { start, end } = chunkRange(index, this.size, this.chunkSize)
    if (!(bytes instanceof Uint8Array) && !isUint8ArrayList(bytes)) throw new InvalidArgumentError('a chunk must be a Uint8Array or a Uint8ArrayList')
    if (bytes.length !== end - start) throw new ChunkVerificationError(`chunk ${index} of ${this.blobId} must be ${end - start} bytes, got ${bytes.length}`)
    if (!sameBytes(hashLeaf(bytes), this.leaves[index] as Uint8Array)) throw new ChunkVerificationError(`chunk ${index} of ${this.blobId} does not match its hash`)
    if (this.bits.has(index)) return
    await this.track(async () => { await writeAt(await this.handle(), bytes, start) })
    // Abandoned while writing: the file is gone, nothing to mark.
    if (this.state === 'gone') throw new CacheObjectClosedError(`download of ${this.blobId} was discarded`)
    if (this.bits.has(index)) return
    this.bits.set(index)
    this.unsynced++
    if (this.unsynced >= SYNC_EVERY_CHUNKS) await this.flush()
    else this.scheduleFlush()
  }

  async readChunk (index: number, into?: Uint8Array): Promise<Uint8Array> {
    this.assertActive()
    // The file is being moved into blobs/: the complete blob serves it in a moment.
    if (this.state === 'committing') throw new CacheObjectClosedError(`download of ${this.blobId} is being committed`)
    const { start, end } = chunkRange(index, this.size, this.chunkSize)
    if (!this.bits.has(index)) throw new ChunkNotHeldError(`chunk ${index} of ${this.blobId} is not held`)
    const bytes = await this.track(async () => readAt(await this.handle(), start, end - start, into))
    // Not re-hashed: a held chunk was hashed when written, or at start if written before a restart, and the peer reading it checks it too.
    if (bytes.length !== end - start) {
      // Fetched again rather than served.
      this.bits.clear(index)
      this.unsynced++
      this.scheduleFlush()
      log.error('chunk %d of %s is cut short on disk; dropped', index, this.blobId)
      throw new CorruptBlobError(`chunk ${index} of ${this.blobId} is cut short on disk`)
    }
    return bytes
  }

  async commit (): Promise<CacheEntry> {
    this.committing ??= this.commitNow().finally(() => { this.committing = undefined })
    return this.committing
  }

  /** Resolves once a commit in progress has ended, however it ended (at once when none is): a reader turned away by it may then open the complete blob. */
  async commitSettled (): Promise<void> {
    await this.committing?.catch(() => {})
  }

  async abandon (): Promise<void> {
    if (this.state === 'gone') return
    await this.owner.abandon(this)
  }

  async close (): Promise<void> {
    this.inUse = false
    if (this.state !== 'active') return
    try {
      await this.settle()
      await this.flush()
      await this.closeFile()
    } finally {
      this.owner.closed(this)
    }
  }

  /** Creates the file at its full size (sparse), or opens the one being resumed. Only here is a file created. */
  async prepare (): Promise<void> {
    this.file ??= openOrCreate(this.path)
    const file = await this.handle()
    if ((await file.stat()).size !== this.size) await file.truncate(this.size)
  }

  get phase (): 'active' | 'committing' | 'gone' {
    return this.state
  }

  /** No more writes, at once: the cache has let the download go and will discard() it in its turn. */
  detach (): void {
    this.state = 'gone'
    this.discarded = true
    this.inUse = false
    this.cancelTimer()
  }

  /** Deletes the file of a detached download. The cache removes the index records. */
  async discard (): Promise<void> {
    this.detach()
    await this.settle()
    await this.syncTail
    await this.closeFile()
    await unlinkIfPresent(this.path)
  }

  /** The cache is stopping: sync what is held and close, keeping the download resumable. */
  async shutdown (): Promise<void> {
    await this.committing?.catch(() => {})
    if (this.state !== 'active') return
    this.state = 'gone'
    await this.settle()
    await this.flush()
    await this.closeFile()
  }

  private async commitNow (): Promise<CacheEntry> {
    this.assertActive()
    if (!this.bits.full()) throw new IncompleteBlobError(`${this.blobId} holds ${this.bits.count()} of ${this.chunkCount} chunks`)
    this.state = 'committing'
    try {
      await this.settle()
      await this.flush()
      await (await this.handle()).sync()
      await this.closeFile()
      const entry = await this.owner.commit(this)
      this.state = 'gone'
      return entry
    } catch (err) {
      if (this.state === 'committing') this.state = 'active'
      throw err
    }
  }

  private assertActive (): void {
    if (this.state === 'gone') throw new CacheObjectClosedError(`download of ${this.blobId} was committed, discarded or stopped`)
  }

  private async handle (): Promise<FileHandle> {
    this.file ??= open(this.path, 'r+')
    try {
      return await this.file
    } catch (err) {
      this.file = undefined
      throw err
    }
  }

  private async closeFile (): Promise<void> {
    const file = this.file
    this.file = undefined
    if (file != null) await (await file.catch(() => undefined))?.close()
  }

  private async track<T> (work: () => Promise<T>): Promise<T> {
    const promise = work()
    this.inflight.add(promise)
    try {
      return await promise
    } finally {
      this.inflight.delete(promise)
    }
  }

  private async settle (): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled(this.inflight)
  }

  private scheduleFlush (): void {
    if (this.timer != null) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flush().catch(err => { log.error('syncing %s failed - %e', this.blobId, err) })
    }, SYNC_INTERVAL_MS)
    this.timer.unref()
  }

  private cancelTimer (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Syncs the data, then records the bits that were set before the sync began: one at a time, in order. */
  private async flush (): Promise<void> {
    const run = this.syncTail.then(async () => {
      this.cancelTimer()
      // A discarded download's records are deleted; writing its bits would bring one back.
      if (this.unsynced === 0 || this.discarded) return
      this.unsynced = 0
      const snapshot = this.bits.toBytes()
      try {
        if (this.file != null) await (await this.handle()).datasync()
        await this.owner.persistBits(this.blobId, snapshot)
      } catch (err) {
        this.unsynced++
        throw err
      }
    })
    this.syncTail = run.catch(() => {})
    return run
  }
}

async function openOrCreate (path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r+')
  } catch (err) {
    if (!isNotFound(err)) throw err
    return open(path, 'w+', 0o644)
  }
}

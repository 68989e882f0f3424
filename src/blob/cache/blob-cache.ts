import { mkdir, open, rename, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { parseBlobId, type BlobId } from '../blob-id.js'
import { assertChunkSize, chunkCount, HASH_BYTES, hashFromHex, rootOfLeaves, toHex } from '../chunk-tree.js'
import { ChunkVerificationError, InvalidArgumentError } from '../errors.js'
import { Bitfield } from './bitfield.js'
import { FileBlobHandle, type BlobState, type HandleOwner } from './blob-handle.js'
import {
  BLOBS_DIR, DEFAULT_NEW_BLOB_GRACE_MS, DEFAULT_POLICY, DEFAULT_ROOM_WAIT_MS, DEFAULT_SCRUB_BYTES_PER_SEC, DEFAULT_SCRUB_INTERVAL_MS,
  DEFAULT_VERIFIED_FOR_MS, INDEX_DIR, PARTIAL_DIR
} from './constants.js'
import {
  BlobAlreadyCachedError, BlobBusyError, CacheFullError, CacheNotStartedError, CacheObjectClosedError, CorruptBlobError
} from './errors.js'
import { isNotFound, syncDir, unlinkIfPresent } from './file-io.js'
import type {
  BlobCacheEvents, BlobCacheInit, BlobDescriptor, BlobHandle, CacheEntry, CacheStats, PartialBlob, RemovedReason
} from './index.js'
import { IndexStore, type BlobRecord } from './index-store.js'
import { PartialBlobFile, type PartialOwner } from './partial-blob.js'
import { createPolicy, isPolicyName, type EvictionPolicy, type PolicyName } from './policy.js'
import { repairCache, splitLeaves } from './repair.js'
import { scrubFile } from './scrub.js'
import { KeyedQueue, TaskSet } from './tasks.js'

const log = logger('herd:blob:cache')

type Listener<E> = ((evt: E) => void) | { handleEvent: (evt: E) => void } | null
type AddOptions = Parameters<EventTarget['addEventListener']>[2]
type RemoveOptions = Parameters<EventTarget['removeEventListener']>[2]

// Typed listeners on a plain EventTarget: 'added' and 'removed' carry their detail types.
export interface BlobCache {
  addEventListener: (<K extends keyof BlobCacheEvents>(type: K, listener: Listener<BlobCacheEvents[K]>, options?: AddOptions) => void) & EventTarget['addEventListener']
  removeEventListener: (<K extends keyof BlobCacheEvents>(type: K, listener: Listener<BlobCacheEvents[K]>, options?: RemoveOptions) => void) & EventTarget['removeEventListener']
}

interface Descriptor { size: number, chunkSize: number, chunkRoot: string, leaves: Uint8Array[] }

/** Room to make for a new download: complete blobs by policy first, then downloads nobody is running, oldest first. */
interface EvictionPlan { blobs: BlobState[], downloads: PartialBlobFile[] }

/**
 * Blobs on disk under a byte quota. Every change to the accounting happens
 * synchronously, before the I/O it implies, so concurrent calls never both
 * count on the same free bytes; the I/O for one blob runs in order on its key.
 */
export class BlobCache extends EventTarget {
  readonly dir: string
  readonly quotaBytes: number
  readonly policyName: PolicyName
  private readonly now: () => number
  private readonly blobsDir: string
  private readonly partialDir: string
  private readonly store: IndexStore
  private policy: EvictionPolicy
  private readonly blobs = new Map<BlobId, BlobState>()
  private readonly downloads = new Map<BlobId, PartialBlobFile>()
  private readonly handles = new Set<FileBlobHandle>()
  private readonly queue = new KeyedQueue()
  private readonly tasks = new TaskSet()
  /** Deletions whose accounting is already done: a new download waits for them, so the disk never holds more than the quota. */
  private readonly removals = new TaskSet()
  /** Calls to partial() waiting for pinned, open or running blobs to make room. */
  private readonly roomWaiters = new Set<() => void>()
  private readonly roomWaitMs: number
  private readonly newBlobGraceMs: number
  private readonly verifiedForMs: number
  private readonly scrubBytesPerSec: number
  private readonly scrubIntervalMs: number
  /** Ends the scrub on stop(); `scrubbing` is the loop, awaited before the index closes. */
  private scrubber?: AbortController
  private scrubbing?: Promise<void>
  private bytes = 0
  private reserved = 0
  private evictions = 0
  private repaired = 0
  private status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  private starting?: Promise<void>
  private readonly partialOwner: PartialOwner
  private readonly handleOwner: HandleOwner

  constructor (init: BlobCacheInit) {
    super()
    if (typeof init.dir !== 'string' || init.dir === '') throw new InvalidArgumentError('cache dir must be a non-empty path')
    if (!Number.isSafeInteger(init.quotaBytes) || init.quotaBytes < 0) throw new InvalidArgumentError(`quota must be a non-negative integer of bytes, got ${init.quotaBytes}`)
    const policy = init.policy ?? DEFAULT_POLICY
    if (!isPolicyName(policy)) throw new InvalidArgumentError(`unknown eviction policy ${String(policy)}`)
    this.dir = init.dir
    this.quotaBytes = init.quotaBytes
    this.policyName = policy
    this.now = init.now ?? Date.now
    const roomWaitMs = init.roomWaitMs ?? DEFAULT_ROOM_WAIT_MS
    if (!Number.isSafeInteger(roomWaitMs) || roomWaitMs < 0) throw new InvalidArgumentError(`roomWaitMs must be a non-negative integer of milliseconds, got ${roomWaitMs}`)
    this.roomWaitMs = roomWaitMs
    const newBlobGraceMs = init.newBlobGraceMs ?? DEFAULT_NEW_BLOB_GRACE_MS
    if (!Number.isSafeInteger(newBlobGraceMs) || newBlobGraceMs < 0) throw new InvalidArgumentError(`newBlobGraceMs must be a non-negative integer of milliseconds, got ${newBlobGraceMs}`)
    this.newBlobGraceMs = newBlobGraceMs
    this.verifiedForMs = positiveInteger('verifiedForMs', init.verifiedForMs ?? DEFAULT_VERIFIED_FOR_MS)
    this.scrubBytesPerSec = positiveInteger('scrubBytesPerSec', init.scrubBytesPerSec ?? DEFAULT_SCRUB_BYTES_PER_SEC)
    this.scrubIntervalMs = positiveInteger('scrubIntervalMs', init.scrubIntervalMs ?? DEFAULT_SCRUB_INTERVAL_MS)
    this.blobsDir = join(init.dir, BLOBS_DIR)
    this.partialDir = join(init.dir, PARTIAL_DIR)
    this.store = new IndexStore(join(init.dir, INDEX_DIR))
    this.policy = createPolicy(policy, { capacityBytes: init.quotaBytes })
    this.partialOwner = {
      persistBits: async (blobId, bits) => { await this.store.putBits(blobId, bits) },
      commit: async partial => this.commitDownload(partial),
      abandon: async partial => this.abandonDownload(partial),
      closed: () => { this.roomChanged() }
    }
    this.handleOwner = {
      corrupt: (state, reason) => {
        log.error('%s is corrupt on disk (%s): dropped', state.blobId, reason)
        this.background(this.drop(state, 'corrupt'), `dropping ${state.blobId}`)
      },
      verifiedRecently: state => this.now() - (state.record.verifiedAt ?? Number.NEGATIVE_INFINITY) < this.verifiedForMs,
      openFile: async state => this.openFile(state),
      release: (handle, file) => { this.release(handle, file) }
    }
  }

  async start (): Promise<void> {
    if (this.status === 'started') return
    if (this.status === 'stopping') throw new CacheNotStartedError('the cache is stopping')
    this.starting ??= this.startNow().finally(() => { this.starting = undefined })
    await this.starting
  }

  async stop (): Promise<void> {
    await this.starting?.catch(() => {})
    if (this.status !== 'started') return
    this.status = 'stopping'
    this.roomChanged()
    this.scrubber?.abort()
    await this.scrubbing
    await Promise.all([...this.downloads.values()].map(async partial => partial.shutdown().catch(err => {
      log.error('closing the download of %s failed - %e', partial.blobId, err)
    })))
    await Promise.all([this.queue.idle(), this.tasks.idle(), this.removals.idle()])
    for (const handle of this.handles) await handle.detachFile()?.then(async file => { await file.close() }).catch(() => {})
    this.handles.clear()
    try {
      await this.flushStats()
    } finally {
      await this.store.close()
      this.blobs.clear()
      this.downloads.clear()
      this.bytes = 0
      this.reserved = 0
      this.status = 'stopped'
    }
  }

  has (blobId: string): boolean {
    return this.visible(blobId) != null
  }

  entry (blobId: string): CacheEntry | undefined {
    const state = this.visible(blobId)
    return state == null ? undefined : toEntry(state)
  }

  entries (): CacheEntry[] {
    return [...this.blobs.values()].filter(state => state.gone == null).map(toEntry)
  }

  leaves (blobId: string): Uint8Array[] | undefined {
    const state = this.visible(blobId)
    return state == null ? undefined : splitLeaves(state.leaves).map(leaf => leaf.slice())
  }

  stats (): CacheStats {
    let blobs = 0
    let pinned = 0
    for (const state of this.blobs.values()) {
      if (state.gone != null) continue
      blobs++
      if (state.record.pinned) pinned++
    }
    return {
      blobs,
      bytes: this.bytes,
      quotaBytes: this.quotaBytes,
      pinned,
      partials: this.downloads.size,
      reservedBytes: this.reserved,
      openHandles: this.handles.size,
      evictions: this.evictions,
      repaired: this.repaired
    }
  }

  /**
   * Opens a complete blob. `forPeer`: a read to serve a peer, which leaves a
   * new blob's grace running (peers that shared its download read it at once,
   * before this node's own first use). `hold`: no read at all, only kept from
   * eviction while the handle is open (for peers about to read it): not a
   * hit for the policy, and the grace runs on.
   */
  async open (blobId: string, options: { forPeer?: boolean, hold?: boolean } = {}): Promise<BlobHandle | undefined> {
    this.assertStarted()
    const state = this.visible(parseBlobId(blobId))
    if (state == null) return undefined
    // Counted before the await, so an eviction planned meanwhile skips this blob.
    state.handles++
    const forPeer = options.forPeer === true || options.hold === true
    if (options.hold !== true) {
      const firstOpenOfDownload = !forPeer && state.unopened === true
      if (!forPeer) {
        state.freshUntil = undefined
        state.unopened = undefined
      }
      state.record.hits++
      state.record.lastAccessAt = this.now()
      state.dirty = true
      // The policy counted the download's request when the blob was added: the open that serves that request is not another.
      if (!firstOpenOfDownload) this.policy.hit(state.blobId)
    }
    const handle = new FileBlobHandle(state, this.handleOwner, forPeer)
    this.handles.add(handle)
    return handle
  }

  async pin (blobId: string): Promise<boolean> {
    return this.setPinned(blobId, true)
  }

  async unpin (blobId: string): Promise<boolean> {
    return this.setPinned(blobId, false)
  }

  /** Removes a complete blob (pinned or not); with handles open, its file goes when the last is released. */
  async delete (blobId: string): Promise<boolean> {
    this.assertStarted()
    const state = this.visible(parseBlobId(blobId))
    if (state == null) return false
    await this.drop(state, 'deleted')
    return true
  }

  /**
   * Reserves room for a download (or resumes the one in progress). When
   * pinned, open and running blobs leave no room, it waits up to `roomWaitMs`
   * for one of them to be let go, then fails with CacheFullError.
   * `onWait` hears, once, that it has to wait.
   */
  async partial (blobId: BlobId, descriptor: BlobDescriptor, options: { signal?: AbortSignal, onWait?: () => void } = {}): Promise<PartialBlob> {
    const id = parseBlobId(blobId)
    const d = checkDescriptor(descriptor)
    const deadline = performance.now() + this.roomWaitMs
    let waited = false
    for (;;) {
      this.assertStarted()
      options.signal?.throwIfAborted()
      const held = this.blobs.get(id)
      if (held?.gone == null && held != null) throw new BlobAlreadyCachedError(`${id} is already cached`)
      if (held != null) throw new BlobBusyError(`${id} was removed but handles on it are still open; fetch it again once they are released`)
      const existing = this.downloads.get(id)
      if (existing != null) {
        if (existing.matches(d)) {
          existing.inUse = true
          await existing.ready
          return existing
        }
        if (existing.phase === 'committing') throw new BlobBusyError(`a download of ${id} with another descriptor is being committed`)
        log('download of %s restarts: its descriptor changed', id)
        this.background(this.dropDownload(existing), `discarding the download of ${id}`)
      }
      if (d.size > this.quotaBytes) throw new CacheFullError(`${id} is ${d.size} bytes, more than the whole quota of ${this.quotaBytes}`)
      const plan = this.planRoom(d.size)
      if (plan != null) return this.startDownload(id, d, plan)
      const left = deadline - performance.now()
      if (left <= 0) {
        throw new CacheFullError(`no room for ${d.size} bytes of ${id}: ${this.quotaBytes - this.bytes - this.reserved} free of ${this.quotaBytes}, the rest pinned, open, downloading, or downloaded and not yet used${this.roomWaitMs > 0 ? ` for ${this.roomWaitMs} ms` : ''}`)
      }
      log('%s waits for room: %d bytes needed', id, d.size)
      if (!waited) options.onWait?.()
      waited = true
      // A new blob's grace ends without an event: look again by then.
      const graceEnds = this.earliestGraceEnd()
      await this.nextRoomChange(graceEnds == null ? left : Math.min(left, Math.max(1, graceEnds - this.now())), options.signal)
    }
  }

  /** Resolves when a blob may have become evictable or bytes were freed, or after `ms`; rejects on abort. */
  private async nextRoomChange (ms: number, signal?: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const settle = (err?: unknown): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.roomWaiters.delete(wake)
        if (err != null) reject(err)
        else resolve()
      }
      const wake = (): void => { settle() }
      const onAbort = (): void => { settle(signal?.reason ?? new Error('aborted')) }
      const timer = setTimeout(wake, ms)
      this.roomWaiters.add(wake)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private roomChanged (): void {
    for (const wake of [...this.roomWaiters]) wake()
  }

  private async startDownload (id: BlobId, d: Descriptor, plan: EvictionPlan): Promise<PartialBlob> {
    this.evict(plan)
    const partial = new PartialBlobFile({
      blobId: id, path: join(this.partialDir, id), ...d, startedAt: this.now()
    }, this.partialOwner)
    partial.inUse = true
    this.downloads.set(id, partial)
    this.reserved += d.size
    const record = { size: d.size, chunkSize: d.chunkSize, chunkRoot: d.chunkRoot, startedAt: partial.startedAt }
    // The file is created only once the evicted files are gone, so the disk never holds more than the quota.
    partial.ready = this.removals.idle().then(async () => this.queue.run(id, async () => {
      await this.store.putPartial(id, record, concat(d.leaves), new Bitfield(d.leaves.length).toBytes())
      await partial.prepare()
    }))
    void this.tasks.track(partial.ready)
    try {
      await partial.ready
    } catch (err) {
      if (this.downloads.get(id) === partial) await this.dropDownload(partial).catch(() => {})
      throw err
    }
    return partial
  }

  /** Whether partial() would reserve room for `size` bytes of the blob now, without waiting for any (or resume its download). */
  hasRoomFor (blobId: string, size: number): boolean {
    if (this.downloads.has(blobId as BlobId)) return true
    return size <= this.quotaBytes && this.planRoom(size) != null
  }

  partialOf (blobId: string): PartialBlob | undefined {
    const partial = this.downloads.get(blobId as BlobId)
    return partial?.active === true ? partial : undefined
  }

  partials (): Array<{ blobId: BlobId, size: number, held: number, chunks: number }> {
    return [...this.downloads.values()].map(p => ({ blobId: p.blobId, size: p.size, held: p.heldCount(), chunks: p.chunkCount }))
  }

  private async startNow (): Promise<void> {
    this.status = 'starting'
    try {
      await mkdir(this.blobsDir, { recursive: true })
      await mkdir(this.partialDir, { recursive: true })
      await this.store.open()
    } catch (err) {
      this.status = 'stopped'
      throw err
    }
    try {
      const repaired = await repairCache(this.store, await this.store.load(), this.blobsDir, this.partialDir)
      this.policy = createPolicy(this.policyName, { capacityBytes: this.quotaBytes })
      this.evictions = 0
      this.repaired = repaired.repaired
      // Least recently used first, so the policy's recency order survives a restart.
      for (const { blobId, record, leaves } of repaired.blobs.sort((a, b) => a.record.lastAccessAt - b.record.lastAccessAt)) {
        this.blobs.set(blobId, { blobId, path: join(this.blobsDir, blobId), record, leaves, handles: 0, dirty: false })
        this.bytes += record.size
        // Capped: a long history would only trip the sketch's halving for every other blob.
        this.policy.add(blobId, record.size, Math.min(record.hits + 1, 16))
      }
      for (const { blobId, record, leaves, bits } of repaired.partials) {
        this.downloads.set(blobId, new PartialBlobFile({ blobId, path: join(this.partialDir, blobId), ...record, leaves: splitLeaves(leaves), bits }, this.partialOwner))
        this.reserved += record.size
      }
      this.status = 'started'
      this.scrubber = new AbortController()
      this.scrubbing = this.scrubLoop(this.scrubber.signal)
      if (this.bytes + this.reserved > this.quotaBytes) {
        const plan = this.planRoom(0)
        if (plan != null) this.evict(plan)
        else log.error('%d bytes held for a quota of %d: pinned blobs alone exceed it', this.bytes + this.reserved, this.quotaBytes)
        await this.removals.idle()
      }
      log('started %s: %d blobs (%d bytes), %d downloads, %d repairs', this.dir, this.blobs.size, this.bytes, this.downloads.size, this.repaired)
    } catch (err) {
      this.status = 'stopped'
      this.blobs.clear()
      this.downloads.clear()
      this.bytes = 0
      this.reserved = 0
      await this.store.close()
      throw err
    }
  }

  private assertStarted (): void {
    if (this.status !== 'started') throw new CacheNotStartedError(`the blob cache in ${this.dir} is not started`)
  }

  private visible (blobId: string): BlobState | undefined {
    const state = this.blobs.get(blobId as BlobId)
    return state?.gone == null ? state : undefined
  }

  private evictable (state: BlobState | undefined): boolean {
    return state != null && state.gone == null && !state.record.pinned && state.handles === 0 && !this.awaitingFirstUse(state)
  }

  /** When the first grace for a new blob's first use ends (the cache's clock), if any is running. */
  private earliestGraceEnd (): number | undefined {
    const now = this.now()
    let earliest: number | undefined
    for (const state of this.blobs.values()) {
      const until = state.freshUntil
      if (until != null && until > now && state.gone == null && (earliest == null || until < earliest)) earliest = until
    }
    return earliest
  }

  /** Just downloaded and not opened yet: whoever fetched it is about to use it, so another download may not take its room. */
  private awaitingFirstUse (state: BlobState): boolean {
    return state.freshUntil != null && this.now() < state.freshUntil
  }

  /** What to drop so `need` more bytes fit, or undefined if pinned, open and running downloads leave no room. */
  private planRoom (need: number): EvictionPlan | undefined {
    const short = need - (this.quotaBytes - this.bytes - this.reserved)
    const plan: EvictionPlan = { blobs: [], downloads: [] }
    if (short <= 0) return plan
    let freed = 0
    for (const id of this.policy.victims(short, id => this.evictable(this.blobs.get(id as BlobId)))) {
      const state = this.blobs.get(id as BlobId) as BlobState
      plan.blobs.push(state)
      freed += state.record.size
    }
    if (freed >= short) return plan
    const idle = [...this.downloads.values()].filter(p => p.idle).sort((a, b) => a.startedAt - b.startedAt)
    for (const partial of idle) {
      if (freed >= short) break
      plan.downloads.push(partial)
      freed += partial.size
    }
    return freed >= short ? plan : undefined
  }

  private evict (plan: EvictionPlan): void {
    for (const state of plan.blobs) this.background(this.drop(state, 'evicted'), `evicting ${state.blobId}`)
    for (const partial of plan.downloads) {
      log('discarding the idle download of %s (%d of %d chunks) to make room', partial.blobId, partial.heldCount(), partial.chunkCount)
      this.background(this.dropDownload(partial), `discarding the download of ${partial.blobId}`)
    }
  }

  /** Hides the blob at once; deletes its records, and its file unless handles are open (then on the last release). */
  private async drop (state: BlobState, reason: RemovedReason): Promise<void> {
    if (state.gone != null) return
    state.gone = reason
    if (reason === 'evicted') {
      this.policy.evict(state.blobId)
      this.evictions++
    } else {
      this.policy.remove(state.blobId)
    }
    const work = [this.removals.track(this.queue.run(state.blobId, async () => { await this.store.deleteBlobs([state.blobId]) }))]
    if (state.handles === 0) work.push(this.unlinkBlob(state))
    this.dispatchEvent(new CustomEvent('removed', { detail: { blobId: state.blobId, reason } }))
    await Promise.all(work)
  }

  /** The bytes stop counting now; the unlink is awaited by the next download before it writes. */
  private async unlinkBlob (state: BlobState): Promise<void> {
    if (this.blobs.get(state.blobId) === state) this.blobs.delete(state.blobId)
    this.bytes -= state.record.size
    this.roomChanged()
    await this.removals.track(this.queue.run(state.blobId, async () => { await unlinkIfPresent(state.path) }))
  }

  private release (handle: FileBlobHandle, file: Promise<FileHandle> | undefined): void {
    this.handles.delete(handle)
    // A file that failed to open has nothing to close; its read already reported why.
    if (file != null) this.background(file.then(async opened => { await opened.close() }, () => {}), `closing ${handle.blobId}`)
    this.unref(handle.state)
  }

  private async openFile (state: BlobState): Promise<FileHandle> {
    try {
      return await open(state.path, 'r')
    } catch (err) {
      if (!isNotFound(err)) throw err
      this.handleOwner.corrupt(state, 'its file is gone')
      throw new CorruptBlobError(`${state.blobId}: its file is gone`)
    }
  }

  private unref (state: BlobState): void {
    state.handles--
    if (state.handles === 0) this.roomChanged()
    if (state.handles === 0 && state.gone != null) this.background(this.unlinkBlob(state), `deleting ${state.blobId}`)
  }

  /** Work started from a sync call or not awaited by its caller: logged if it fails, awaited by stop(). */
  private background (work: Promise<unknown>, what: string): void {
    void this.tasks.track(work.catch(err => { log.error('%s failed - %e', what, err) }))
  }

  private async dropDownload (partial: PartialBlobFile): Promise<void> {
    if (this.downloads.get(partial.blobId) !== partial) return
    partial.detach()
    this.downloads.delete(partial.blobId)
    this.reserved -= partial.size
    this.roomChanged()
    await this.removals.track(this.queue.run(partial.blobId, async () => {
      await partial.discard()
      await this.store.deletePartials([partial.blobId])
    }))
  }

  private async abandonDownload (partial: PartialBlobFile): Promise<void> {
    if (partial.phase === 'committing') throw new BlobBusyError(`the download of ${partial.blobId} is being committed`)
    await this.dropDownload(partial)
  }

  private async commitDownload (partial: PartialBlobFile): Promise<CacheEntry> {
    const id = partial.blobId
    return this.queue.run(id, async () => {
      if (this.downloads.get(id) !== partial || this.status !== 'started') throw new CacheObjectClosedError(`the download of ${id} was discarded or the cache stopped`)
      const path = join(this.blobsDir, id)
      await rename(partial.path, path)
      const now = this.now()
      const record: BlobRecord = {
        size: partial.size, chunkSize: partial.chunkSize, chunkRoot: partial.chunkRoot, pinned: false, addedAt: now, lastAccessAt: now, hits: 0,
        // Every chunk was hashed as it was written (or at start, for chunks written before a restart).
        verifiedAt: now
      }
      try {
        await syncDir(this.blobsDir)
        await this.store.commitPartial(id, record)
      } catch (err) {
        await rename(path, partial.path).catch(() => {})
        throw err
      }
      this.downloads.delete(id)
      this.reserved -= partial.size
      const state: BlobState = { blobId: id, path, record, leaves: concat(partial.leaves), handles: 0, dirty: false, unopened: true, ...(this.newBlobGraceMs > 0 ? { freshUntil: now + this.newBlobGraceMs } : {}) }
      this.blobs.set(id, state)
      this.bytes += partial.size
      this.policy.add(id, partial.size)
      log('added %s (%d bytes)', id, partial.size)
      this.dispatchEvent(new CustomEvent('added', { detail: toEntry(state) }))
      this.roomChanged()
      return toEntry(state)
    })
  }

  /** Re-checks, one at a time, the blobs whose last whole check is older than verifiedForMs; ends with the signal. */
  private async scrubLoop (signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await sleep(this.scrubIntervalMs, undefined, { signal })
        for (let state = this.dueForScrub(); state != null && !signal.aborted; state = this.dueForScrub()) await this.scrub(state, signal)
      } catch (err) {
        if (!signal.aborted) log.error('the scrub failed - %e', err)
      }
    }
  }

  /** The blob checked longest ago, if that is more than verifiedForMs ago. */
  private dueForScrub (): BlobState | undefined {
    const due = this.now() - this.verifiedForMs
    let oldest: BlobState | undefined
    for (const state of this.blobs.values()) {
      const at = state.record.verifiedAt ?? Number.NEGATIVE_INFINITY
      if (state.gone == null && at <= due && (oldest == null || at < (oldest.record.verifiedAt ?? Number.NEGATIVE_INFINITY))) oldest = state
    }
    return oldest
  }

  private async scrub (state: BlobState, signal: AbortSignal): Promise<void> {
    // Held like an open handle, so the file is not deleted under the scrub; not an access for the policy.
    state.handles++
    try {
      const wrong = await scrubFile({ path: state.path, size: state.record.size, chunkSize: state.record.chunkSize, leaves: state.leaves }, { bytesPerSec: this.scrubBytesPerSec, signal })
      if (state.gone != null) return
      if (wrong != null) {
        this.handleOwner.corrupt(state, wrong)
        return
      }
      state.record.verifiedAt = this.now()
      await this.queue.run(state.blobId, async () => {
        if (state.gone == null) await this.store.putBlobs([[state.blobId, { ...state.record }]])
      })
      log('scrubbed %s: every chunk matches', state.blobId)
    } catch (err) {
      if (signal.aborted) return
      if (!isNotFound(err)) throw err
      this.handleOwner.corrupt(state, 'its file is gone')
    } finally {
      this.unref(state)
    }
  }

  private async setPinned (blobId: string, pinned: boolean): Promise<boolean> {
    this.assertStarted()
    const state = this.visible(parseBlobId(blobId))
    if (state == null) return false
    if (state.record.pinned === pinned) return true
    state.record.pinned = pinned
    state.dirty = false
    if (!pinned) this.roomChanged()
    await this.queue.run(state.blobId, async () => {
      if (state.gone == null) await this.store.putBlobs([[state.blobId, { ...state.record }]])
    })
    return true
  }

  private async flushStats (): Promise<void> {
    const dirty = [...this.blobs.values()].filter(state => state.dirty && state.gone == null)
    if (dirty.length === 0) return
    await this.store.putBlobs(dirty.map(state => [state.blobId, { ...state.record }]))
    for (const state of dirty) state.dirty = false
  }
}

function toEntry (state: BlobState): CacheEntry {
  const { size, chunkSize, chunkRoot, pinned, addedAt, lastAccessAt, hits } = state.record
  return { blobId: state.blobId, size, chunkSize, chunkRoot, pinned, addedAt, lastAccessAt, hits }
}

function concat (leaves: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(leaves.length * HASH_BYTES)
  leaves.forEach((leaf, i) => { out.set(leaf, i * HASH_BYTES) })
  return out
}

function positiveInteger (name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`)
  return value
}

/** Checks a descriptor from the network before anything is reserved or written. */
function checkDescriptor (descriptor: BlobDescriptor): Descriptor {
  if (descriptor == null || typeof descriptor !== 'object') throw new InvalidArgumentError('a blob descriptor is required')
  const { size, chunkSize, chunkRoot, leaves } = descriptor
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(`blob size must be a non-negative integer, got ${size}`)
  assertChunkSize(chunkSize)
  const root = hashFromHex(chunkRoot)
  const count = chunkCount(size, chunkSize)
  if (!Array.isArray(leaves) || leaves.length !== count) {
    throw new ChunkVerificationError(`a blob of ${size} bytes in ${chunkSize}-byte chunks has ${count} leaves, got ${Array.isArray(leaves) ? leaves.length : 'none'}`)
  }
  for (const leaf of leaves) {
    if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_BYTES) throw new ChunkVerificationError(`leaf hashes must be ${HASH_BYTES} bytes`)
  }
  if (toHex(rootOfLeaves(leaves)) !== toHex(root)) throw new ChunkVerificationError('the leaf hashes do not match the chunk root')
  return { size, chunkSize, chunkRoot: toHex(root), leaves: leaves.map(leaf => leaf.slice()) }
}

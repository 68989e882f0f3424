import type { FileHandle } from 'node:fs/promises'
import type { BlobId } from '../blob-id.js'
import { chunkCount, chunkRange, hashLeaf, HASH_BYTES } from '../chunk-tree.js'
import { InvalidArgumentError } from '../errors.js'
import { MAX_READ_BYTES } from './constants.js'
import { CacheObjectClosedError, CorruptBlobError } from './errors.js'
import { readAt, sameBytes } from './file-io.js'
import type { BlobHandle, RemovedReason } from './index.js'
import type { BlobRecord } from './index-store.js'

/** A complete blob as the cache keeps it in memory. */
export interface BlobState {
  readonly blobId: BlobId
  readonly path: string
  record: BlobRecord
  /** Leaf hashes back to back, 32 bytes each. */
  readonly leaves: Uint8Array
  /** Open handles; while above zero the file stays on disk. */
  handles: number
  /** Set once the blob is no longer visible; the file goes when the last handle is released. */
  gone?: RemovedReason
  /** Access stats changed since they were last written. */
  dirty: boolean
  /** Downloaded in this run and not opened since: not evicted before then (ms, the cache's clock). */
  freshUntil?: number
  /** Downloaded in this run and not yet opened here: the request that downloaded it was its access, so its first open is no second one for the policy. */
  unopened?: boolean
}

export interface HandleOwner {
  corrupt: (state: BlobState, reason: string) => void
  /** Every chunk of the blob was checked recently enough that a peer's read need not re-hash it. */
  verifiedRecently: (state: BlobState) => boolean
  /** Opens the blob's file for a handle's first read; a file gone from disk is the blob's corruption (CorruptBlobError). */
  openFile: (state: BlobState) => Promise<FileHandle>
  /** The handle is let go, with its file if a read opened one, for the owner to close. */
  release: (handle: FileBlobHandle, file: Promise<FileHandle> | undefined) => void
}

export function leafOf (state: BlobState, index: number): Uint8Array {
  return state.leaves.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES)
}

export class FileBlobHandle implements BlobHandle {
  readonly blobId: BlobId
  readonly path: string
  readonly size: number
  readonly chunkSize: number
  readonly state: BlobState
  /** Opened to serve a peer, who checks every chunk itself. */
  readonly forPeer: boolean
  /**
   * Opened by the first read, not by the cache's open: most handles only keep
   * the blob on disk while its model runs from a session already loaded, and
   * an open and close cost a third of a millisecond on every inference.
   */
  private file?: Promise<FileHandle>
  private isReleased = false
  private readonly owner: HandleOwner

  constructor (state: BlobState, owner: HandleOwner, forPeer = false) {
    this.forPeer = forPeer
    this.state = state
    this.blobId = state.blobId
    this.path = state.path
    this.size = state.record.size
    this.chunkSize = state.record.chunkSize
    this.owner = owner
  }

  get released (): boolean {
    return this.isReleased
  }

  async readChunk (index: number, into?: Uint8Array): Promise<Uint8Array> {
    const { start, end } = chunkRange(index, this.size, this.chunkSize)
    const bytes = await readAt(await this.open(), start, end - start, into)
    if (this.forPeer && bytes.length === end - start && this.owner.verifiedRecently(this.state)) return bytes
    return this.verified(index, bytes)
  }

  async read (start: number, end: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > this.size) {
      throw new InvalidArgumentError(`range [${start}, ${end}) is outside a blob of ${this.size} bytes`)
    }
    if (end - start > MAX_READ_BYTES) throw new InvalidArgumentError(`a read is at most ${MAX_READ_BYTES} bytes, asked for ${end - start}`)
    if (start === end) {
      this.assertUsable()
      return new Uint8Array(0)
    }
    // Whole chunks are read and verified, then cut: a corrupt byte is never served, whatever the range.
    const first = Math.floor(start / this.chunkSize)
    const last = Math.min(chunkCount(this.size, this.chunkSize) - 1, Math.floor((end - 1) / this.chunkSize))
    const spanStart = first * this.chunkSize
    const spanEnd = chunkRange(last, this.size, this.chunkSize).end
    const span = await readAt(await this.open(), spanStart, spanEnd - spanStart)
    for (let index = first; index <= last; index++) {
      const { start: s, end: e } = chunkRange(index, this.size, this.chunkSize)
      this.verified(index, span.subarray(Math.min(s - spanStart, span.length), Math.min(e - spanStart, span.length)))
    }
    return span.subarray(start - spanStart, end - spanStart)
  }

  async confirmOnDisk (): Promise<void> {
    await this.open()
  }

  release (): void {
    if (this.isReleased) return
    this.isReleased = true
    const file = this.file
    this.file = undefined
    this.owner.release(this, file)
  }

  /** Takes the file, if a read opened one, away from the handle so the owner can close it. */
  detachFile (): Promise<FileHandle> | undefined {
    const file = this.file
    this.file = undefined
    return file
  }

  private assertUsable (): void {
    if (this.isReleased) throw new CacheObjectClosedError(`handle on ${this.blobId} was released`)
    if (this.state.gone === 'corrupt') throw new CorruptBlobError(`${this.blobId} was found corrupt and dropped`)
  }

  private async open (): Promise<FileHandle> {
    this.assertUsable()
    this.file ??= this.owner.openFile(this.state)
    return this.file
  }

  private verified (index: number, bytes: Uint8Array): Uint8Array {
    const { start, end } = chunkRange(index, this.size, this.chunkSize)
    if (bytes.length !== end - start || !sameBytes(hashLeaf(bytes), leafOf(this.state, index))) {
      const reason = bytes.length !== end - start ? `chunk ${index} is cut short on disk` : `chunk ${index} does not match its hash on disk`
      this.owner.corrupt(this.state, reason)
      throw new CorruptBlobError(`${this.blobId}: ${reason}`)
    }
    return bytes
  }
}

/**
 * The on-disk blob cache: complete blobs a node can serve and run, downloads
 * in progress that survive restarts, and an eviction policy that keeps both
 * under a byte quota.
 */
import type { Uint8ArrayList } from 'uint8arraylist'
import type { BlobId } from '../blob-id.js'
import type { PolicyName } from './policy.js'

export interface BlobCacheInit {
  /** dir/index (level), dir/blobs/<blobId>, dir/partial/<blobId>. */
  dir: string
  /** Complete blobs plus reserved downloads never exceed this. */
  quotaBytes: number
  /** Default 'aged-lfu' (DEFAULT_POLICY). */
  policy?: PolicyName
  /** Clock in ms, for tests. */
  now?: () => number
  /** How long partial() waits for pinned, open or running blobs to make room before CacheFullError; 0 fails at once. Default 30 s. */
  roomWaitMs?: number
  /** A downloaded blob is not evicted before its first open for this long; 0 turns the grace off. Default 5 s. */
  newBlobGraceMs?: number
  /** A blob checked whole this recently is served to peers without re-hashing its chunks. Default 7 days (DEFAULT_VERIFIED_FOR_MS). */
  verifiedForMs?: number
  /** The scrub's pace when it re-checks a blob past verifiedForMs. Default 32 MiB/s. */
  scrubBytesPerSec?: number
  /** How often the scrub looks for a blob due. Default 60 s. */
  scrubIntervalMs?: number
}

/** What the caller learned about a blob before downloading it; `leaves` must hash to `chunkRoot`. */
export interface BlobDescriptor {
  size: number
  chunkSize: number
  /** 64 hex digits. */
  chunkRoot: string
  /** 32-byte leaf hashes, one per chunk. */
  leaves: Uint8Array[]
}

export interface CacheEntry {
  blobId: BlobId
  size: number
  chunkSize: number
  chunkRoot: string
  pinned: boolean
  addedAt: number
  lastAccessAt: number
  hits: number
}

export interface CacheStats {
  blobs: number
  /** Bytes of complete blobs on disk, including deleted ones that open handles still hold. */
  bytes: number
  quotaBytes: number
  pinned: number
  partials: number
  reservedBytes: number
  /** Handles open on blobs: each keeps its blob from eviction. */
  openHandles: number
  evictions: number
  /** Files removed, records dropped and chunk bits cleared by the repair at the last start. */
  repaired: number
}

export type RemovedReason = 'evicted' | 'deleted' | 'corrupt'

export interface BlobCacheEvents {
  added: CustomEvent<CacheEntry>
  removed: CustomEvent<{ blobId: BlobId, reason: RemovedReason }>
}

/** A complete blob held open: never evicted or deleted from disk until released. */
export interface BlobHandle {
  readonly blobId: BlobId
  readonly path: string
  readonly size: number
  readonly chunkSize: number
  /**
   * Re-hashed against its stored leaf; a mismatch throws CorruptBlobError and
   * drops the blob. Not re-hashed on a handle opened `forPeer` while the blob's
   * last whole check is within `verifiedForMs` (the peer checks it).
   * Read into `into` when given (at least a chunk's bytes): the blob server's reused buffers.
   */
  readChunk: (index: number, into?: Uint8Array) => Promise<Uint8Array>
  /** Bytes [start, end), at most MAX_READ_BYTES; every chunk it touches is verified first. */
  read: (start: number, end: number) => Promise<Uint8Array>
  /**
   * Opens the file if no read has yet: a reader by path (an inference session
   * loading the model) learns only here that the file is gone, which drops the
   * blob and throws CorruptBlobError, so that the caller can fetch it again.
   */
  confirmOnDisk: () => Promise<void>
  release: () => void
}

/** A download in progress. */
export interface PartialBlob {
  readonly blobId: BlobId
  readonly size: number
  readonly chunkSize: number
  readonly chunkCount: number
  readonly leaves: Uint8Array[]
  has: (index: number) => boolean
  heldCount: () => number
  /** Bit i (most significant bit first within each byte) is set when chunk i is held. */
  bitfield: () => Uint8Array
  /** Checked against its leaf (ChunkVerificationError); its held bit is durable once the data is synced. */
  writeChunk: (index: number, bytes: Uint8Array | Uint8ArrayList) => Promise<void>
  /** A held chunk, for a peer (who checks it): its bytes were checked when written, or re-hashed at start if written before. Read into `into` when given. */
  readChunk: (index: number, into?: Uint8Array) => Promise<Uint8Array>
  complete: () => boolean
  /** Moves the finished blob into the cache; it becomes visible only now. */
  commit: () => Promise<CacheEntry>
  /** Resolves once a commit in progress has ended, however it ended (at once when none is). */
  commitSettled: () => Promise<void>
  /** Deletes the download and releases its reservation. */
  abandon: () => Promise<void>
  /** Syncs and closes the file; the download stays resumable. */
  close: () => Promise<void>
}

export { BlobCache } from './blob-cache.js'
export { MAX_READ_BYTES } from './constants.js'
export * from './errors.js'
export { createPolicy, DEFAULT_GDSF_BETA, GdsfPolicy, isPolicyName, LruPolicy, POLICY_NAMES } from './policy.js'
export type { CapacityInit, EvictionPolicy, GdsfInit, PolicyInit, PolicyName } from './policy.js'
export { AgedLfuPolicy } from './policy-aged-lfu.js'
export { ArcPolicy } from './policy-arc.js'
export { WTinyLfuPolicy } from './policy-wtinylfu.js'

import type { BlobId } from '../blob/blob-id.js'

export interface PutOptions {
  /** Storage epochs ahead, at least 1 (Walrus allows at most 53). */
  epochs?: number
  /** A permanent blob cannot be deleted before it expires. */
  permanent?: boolean
  /** Deprecated by Walrus (blobs are deletable by default); sent only when set. */
  deletable?: boolean
  /** Sui address that receives the Blob object. */
  sendObjectTo?: string
  signal?: AbortSignal
}

export interface StoredBlob {
  blobId: BlobId
  /** Whether this upload created the blob, or Walrus already held it certified. */
  status: 'newlyCreated' | 'alreadyCertified'
  /** The Sui object ID of the Blob, when the reply names one. */
  objectId?: string
  endEpoch?: number
  size?: number
  /** Cost in FROST, for newly created blobs. */
  cost?: number
}

/** An inclusive byte range, as the aggregator's `Range: bytes=START-END` takes it. */
export interface ByteRange {
  start: number
  end: number
}

export interface GetOptions {
  range?: ByteRange
  signal?: AbortSignal
  onProgress?: (event: { bytes: number, total: number }) => void
}

/** Where blobs are written and read: a publisher and aggregator over HTTP, or the SDK with a Sui key. */
export interface WalrusStore {
  putFile(path: string, options?: PutOptions): Promise<StoredBlob>
  /** Writes the blob (or the range) to `path` atomically and returns the bytes written. */
  getToFile(blobId: string, path: string, options?: GetOptions): Promise<{ bytes: number }>
  /** One range, small enough to hold in memory (a chunk). */
  readRange(blobId: string, range: ByteRange, options?: { signal?: AbortSignal }): Promise<Uint8Array>
}

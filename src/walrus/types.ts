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
  /** Store it as a shared blob, which anyone may fund and extend (not with sendObjectTo). */
  share?: boolean
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

/** A read from Walrus as it goes: bytes written so far of the total the aggregator announced. */
export interface WalrusReadProgress {
  type: 'walrus:read'
  blobId: string
  bytes: number
  total: number
}

/** Options of a range read. */
export interface ReadRangeOptions {
  signal?: AbortSignal
  /**
   * Hears the range's bytes as they arrive, in order, each piece with its
   * offset in the blob, before the whole range is returned: a caller can use
   * the start of a slow read at once. A store that cannot stream calls it
   * never; one that fails over to another reader may hand bytes it handed
   * before again. The piece is the caller's to keep; it must not throw.
   */
  onData?: (bytes: Uint8Array, offset: number) => void
}

export interface GetOptions {
  range?: ByteRange
  signal?: AbortSignal
  onProgress?: (event: WalrusReadProgress) => void
}

/** Where Walrus is in time: a blob is served while `epoch` is below its end epoch. */
export interface EpochInfo {
  epoch: number
  /** Length of an epoch, when the network says. */
  epochMs?: number
}

/** What Walrus knows of a blob's lifetime. */
export interface BlobLifetime {
  blobId: BlobId
  objectId?: string
  size: number
  /** Exclusive: the blob is served while the current epoch is below it. */
  endEpoch: number
  /** The address that owns the Blob object and alone may extend it; absent when unknown or kept by the publisher. */
  owner?: string
  /** A shared blob: anyone may extend it. */
  shared: boolean
  expired: boolean
}

/** A blob's Blob object, when known, lets a store that reads Sui find the blob without searching. */
export interface LifetimeOptions {
  signal?: AbortSignal
  objectId?: string
}

/** Extends one blob's storage to `endEpoch`, from the end epoch it is known to have now. */
export interface ExtendRequest {
  blobId: BlobId
  /** The Blob (or SharedBlob) object; the SDK extends by object, the local Walrus by blob ID. */
  objectId?: string
  currentEndEpoch: number
  endEpoch: number
  shared?: boolean
  /** The blob's size, which prices the extension. */
  size?: number
}

export interface ExtendResult {
  blobId: BlobId
  endEpoch: number
  /** FROST paid for the extension, when known. */
  cost?: number
}

/** Where blobs are written and read: a publisher and aggregator over HTTP, or the SDK with a Sui key. */
export interface WalrusStore {
  putFile(path: string, options?: PutOptions): Promise<StoredBlob>
  /** A blob already in memory (a proof bundle), written as putFile writes a file. */
  putBytes(bytes: Uint8Array, options?: PutOptions): Promise<StoredBlob>
  /** Writes the blob (or the range) to `path` atomically and returns the bytes written. */
  getToFile(blobId: string, path: string, options?: GetOptions): Promise<{ bytes: number }>
  /** One range, small enough to hold in memory (a chunk). */
  readRange(blobId: string, range: ByteRange, options?: ReadRangeOptions): Promise<Uint8Array>
  /** The current Walrus epoch. */
  epoch?(options?: { signal?: AbortSignal }): Promise<EpochInfo>
  /** A blob's end epoch and owner; undefined when Walrus never held it. */
  lifetime?(blobId: string, options?: LifetimeOptions): Promise<BlobLifetime | undefined>
  /** Buys more epochs for a blob the node owns, or a shared one; paid from the node key. */
  extend?(request: ExtendRequest, options?: { signal?: AbortSignal }): Promise<ExtendResult>
}

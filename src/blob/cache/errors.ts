/** Room for a download cannot be made: pinned and in-use blobs fill the quota, or the blob is larger than it. */
export class CacheFullError extends Error {
  override readonly name = 'CacheFullError'
}

/** Bytes on disk no longer match their chunk hash: the blob is dropped, never served. */
export class CorruptBlobError extends Error {
  override readonly name = 'CorruptBlobError'
}

/** The index was written by another layout version (or is not a herd cache index). */
export class CacheVersionError extends Error {
  override readonly name = 'CacheVersionError'
}

/** The index cannot be opened, e.g. another process holds it. */
export class CacheStoreError extends Error {
  override readonly name = 'CacheStoreError'
}

/** The cache is not started, or was stopped. */
export class CacheNotStartedError extends Error {
  override readonly name = 'CacheNotStartedError'
}

/** A download was asked for a blob the cache already holds complete. */
export class BlobAlreadyCachedError extends Error {
  override readonly name = 'BlobAlreadyCachedError'
}

/** The blob was deleted while handles are still open on it; it can be fetched again once they are released. */
export class BlobBusyError extends Error {
  override readonly name = 'BlobBusyError'
}

/** A chunk that a partial download does not hold was asked for. */
export class ChunkNotHeldError extends Error {
  override readonly name = 'ChunkNotHeldError'
}

/** commit() on a download that still lacks chunks. */
export class IncompleteBlobError extends Error {
  override readonly name = 'IncompleteBlobError'
}

/** The partial download was committed, abandoned or evicted, or the handle released: it can no longer be used. */
export class CacheObjectClosedError extends Error {
  override readonly name = 'CacheObjectClosedError'
}

/** A line of a request log is not a valid record; the message names the line and the field. */
export class RequestLogFormatError extends Error {
  override readonly name = 'RequestLogFormatError'
}

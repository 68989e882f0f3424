/** The layout of the cache index; a store written with another is refused, not guessed at. */
export const INDEX_VERSION = 1

export const DEFAULT_POLICY = 'aged-lfu'
/** The cache's quota when the node config names none (`cache.quotaBytes`): 20 GiB. */
export const DEFAULT_QUOTA_BYTES = 20 * 1024 ** 3

/** The quota a capacity-aware policy assumes when given none (a policy made on its own, as in a unit test): 1 GiB. */
export const DEFAULT_POLICY_CAPACITY = 1024 * 1024 * 1024

/** A download waits this long for blobs in use to make room: long enough for a load or an upload to finish. */
export const DEFAULT_ROOM_WAIT_MS = 30_000

/** A blob not yet opened since its download is kept this long: room for the caller that fetched it to use it. */
export const DEFAULT_NEW_BLOB_GRACE_MS = 5_000

/** Held bits become durable in batches: an fdatasync per chunk would cap a download at the disk's sync rate. */
export const SYNC_EVERY_CHUNKS = 8
export const SYNC_INTERVAL_MS = 200

/**
 * A complete blob whose every chunk was checked against its leaf this
 * recently (on write, or by the scrub) is served to peers without being
 * re-hashed: each peer checks every chunk it receives anyway, and bans a
 * holder that sends a bad one. Reads for this node itself are always checked.
 */
export const DEFAULT_VERIFIED_FOR_MS = 7 * 24 * 60 * 60 * 1000

/** The scrub re-reads a blob whose check is older than that, at most this fast, so it never crowds out serving. */
export const DEFAULT_SCRUB_BYTES_PER_SEC = 32 * 1024 * 1024

/** How often the scrub looks for a blob due for a check. */
export const DEFAULT_SCRUB_INTERVAL_MS = 60_000

/** The largest byte range `BlobHandle.read` returns in one call. */
export const MAX_READ_BYTES = 64 * 1024 * 1024

export const INDEX_DIR = 'index'
export const BLOBS_DIR = 'blobs'
export const PARTIAL_DIR = 'partial'

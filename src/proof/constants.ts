/** The layout of the receipt store; a store written with another is refused, not guessed at. Versions 1 (tensors inside level's records) and 2 (one batch being sealed, under `batch`) are read and upgraded in place. */
export const RECEIPT_STORE_VERSION = 3
/** Queued receipts' tensors go to segment files of about this size (one more starts past it); a segment is deleted once none of its receipts is queued. */
export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024

/** Receipts waiting to be sealed, at most: past this the node stops serving rather than promise receipts it cannot keep. */
export const DEFAULT_MAX_QUEUED = 1_000_000
/** Bytes of receipts and tensors waiting to be sealed, at most. */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024 * 1024

/** A bundle is sealed once this many receipts are queued (it then takes every receipt queued, to the byte budget)... */
export const DEFAULT_BATCH_SIZE = 256
/** ...or this long after the first of them was seen, whichever comes first. */
export const DEFAULT_BATCH_INTERVAL_MS = 10_000
/** Sealed bundles are forgotten locally this long after sealing (`proofs.retainSealedMs`); their proofs stay verifiable from Walrus and the ledger. */
export const DEFAULT_RETAIN_SEALED_MS = 30 * 86_400_000
/** How often the batcher looks for sealed bundles past their retention. */
export const DEFAULT_PRUNE_INTERVAL_MS = 3_600_000
/**
 * A bundle stops growing at this many bytes (receipts and tensors as queued) even below the batch size; a single
 * larger receipt goes alone. Under a real publisher's 10 MiB default upload limit; writes through the SDK take node-config's SDK_MAX_BUNDLE_BYTES.
 */
export const DEFAULT_MAX_BUNDLE_BYTES = 8 * 1024 * 1024

/** A refusal's reason, as kept with a receipt set aside and shown in /status, is cut to this many characters (it quotes the publisher). */
export const MAX_REASON_CHARS = 1_000

/** Backoff between tries when Walrus or the ledger fails: full jitter under base × 2^attempt, capped. */
export const DEFAULT_RETRY_BASE_MS = 500
export const DEFAULT_RETRY_MAX_MS = 30_000

/**
 * How a receipt reaches the disk: `strict` syncs it (group commit) before its reply leaves; `logged` answers once
 * it is signed and writes it behind the reply, synced within DEFAULT_SYNC_INTERVAL_MS, with at most
 * DEFAULT_MAX_UNSYNCED answered and not yet synced: what a crash or a power loss could take (docs/proofs.md).
 */
export const RECEIPT_DURABILITIES = ['strict', 'logged'] as const
export type ReceiptDurability = typeof RECEIPT_DURABILITIES[number]
export const DEFAULT_RECEIPT_DURABILITY: ReceiptDurability = 'logged'
export const DEFAULT_SYNC_INTERVAL_MS = 5
export const MAX_SYNC_INTERVAL_MS = 1_000
export const DEFAULT_MAX_UNSYNCED = 256
export const MAX_UNSYNCED = 65_536
/** `proofs.concurrentWrites` at most: each bundle on its way to Walrus is held in memory (8 MiB by default through a publisher, 32 MiB through the SDK, and its slivers too). */
export const MAX_CONCURRENT_WRITES = 16

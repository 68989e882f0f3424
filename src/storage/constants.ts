/** Extend a blob once it has this many epochs left or fewer (two weeks each on mainnet). */
export const DEFAULT_RENEW_WITHIN_EPOCHS = 2
/** An extension moves a blob's end to this many epochs past the current one (Walrus allows 53). */
export const DEFAULT_EXTEND_EPOCHS = 6
/** Proof bundles are kept alive this long after they are sealed: receipts stay auditable for about a year. */
export const DEFAULT_BUNDLE_RETENTION_MS = 365 * 24 * 60 * 60 * 1000
/** FROST the node may spend on extensions in one epoch: 10 WAL. */
export const DEFAULT_MAX_SPEND_PER_EPOCH_FROST = 10_000_000_000
/** How often the keeper looks at what it tracks; an epoch is a day or two weeks, so a minute is prompt. */
export const DEFAULT_CHECK_INTERVAL_MS = 60_000
/** How often the registry is read for models the node's own address registered (pushed from another process). */
export const DEFAULT_REGISTRY_SYNC_MS = 5 * 60_000
/** Walrus sells storage at most this many epochs ahead. */
export const MAX_EPOCHS_AHEAD = 53
/** Extensions tried in one check, soonest-ending first; the rest wait for the next check. */
export const MAX_RENEWALS_PER_CHECK = 32
/** A failing blob is tried again after a delay doubling from the base up to the cap. */
export const RETRY_BASE_MS = 5_000
export const RETRY_MAX_MS = 30 * 60_000
/** Tracked blobs listed by `herd storage status` (and the API) at most. */
export const MAX_LISTED = 10_000

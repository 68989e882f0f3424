/** A day, as on Walrus testnet. */
export const DEFAULT_EPOCH_MS = 24 * 60 * 60 * 1000
/** Short enough for tests to watch blobs expire, long enough that a sweep tick is not busy work. */
export const MIN_EPOCH_MS = 100
/** Thirty days, past mainnet's two weeks. */
export const MAX_EPOCH_MS = 30 * 24 * 60 * 60 * 1000

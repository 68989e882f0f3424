import { RetryableError } from '../retry.js'

/** Base of every error from a Walrus publisher, aggregator or the SDK store. */
export class WalrusError extends Error {
  override name = 'WalrusError'
}

/** A Walrus call that may pass if tried again: 5xx, 429, a dropped connection or a timeout. */
export class RetryableWalrusError extends RetryableError {
  override name = 'RetryableWalrusError'
  readonly status?: number

  constructor (message: string, options: { status?: number, cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    if (options.status != null) this.status = options.status
  }
}

/** A 4xx answer: the request itself was wrong, so it is not retried. */
export class WalrusRequestError extends WalrusError {
  override name = 'WalrusRequestError'
  readonly status: number
  readonly reason?: string

  constructor (message: string, status: number, reason?: string) {
    super(message)
    this.status = status
    if (reason != null) this.reason = reason
  }
}

/**
 * Statuses by which a publisher refuses one blob: its size (413), its
 * content (451 FORBIDDEN_BLOB) or the request made for it (400). Sending the
 * same bytes again gets the same answer, while other blobs may pass. Other
 * 4xx (401, 403, 404, 405...) refuse every write: a wrong URL or credentials.
 */
const BLOB_REFUSALS = new Set([400, 413, 451])

export function isBlobRefusal (err: unknown): err is WalrusRequestError {
  return err instanceof WalrusRequestError && BLOB_REFUSALS.has(err.status)
}

export class BlobNotFoundError extends WalrusRequestError {
  override name = 'BlobNotFoundError'
}

/** The blob's end epoch has passed: Walrus no longer serves it and it cannot be extended. */
export class BlobExpiredError extends WalrusRequestError {
  override name = 'BlobExpiredError'
}

/** The blob is owned by another address (or kept by its publisher): only its owner may extend it. */
export class NotBlobOwnerError extends WalrusRequestError {
  override name = 'NotBlobOwnerError'
}

/**
 * The blob no longer ends at the epoch the extension was signed for: a
 * replay, or a retry of an extension that went through. Read its lifetime.
 */
export class StaleEndEpochError extends WalrusRequestError {
  override name = 'StaleEndEpochError'
}

/** The answer did not have the shape the Walrus API promises. */
export class WalrusProtocolError extends WalrusError {
  override name = 'WalrusProtocolError'
}

export { InsufficientGasError, InsufficientWalError } from '../funds-errors.js'

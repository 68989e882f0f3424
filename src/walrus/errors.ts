/** Base of every error from a Walrus publisher, aggregator or the SDK store. */
export class WalrusError extends Error {
  override name = 'WalrusError'
}

/** A failure that may pass if tried again: 5xx, 429, a dropped connection or a timeout. */
export class RetryableWalrusError extends WalrusError {
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

export class BlobNotFoundError extends WalrusRequestError {
  override name = 'BlobNotFoundError'
}

/** The answer did not have the shape the Walrus API promises. */
export class WalrusProtocolError extends WalrusError {
  override name = 'WalrusProtocolError'
}

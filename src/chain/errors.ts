import { RetryableError } from '../retry.js'

/** Base of the settlement layer's errors. */
export class LedgerError extends Error {
  override name = 'LedgerError'
}

/** A transaction or request that is malformed, badly signed or over a limit: nothing was written. */
export class InvalidTransactionError extends LedgerError {
  override name = 'InvalidTransactionError'
}

/** A model reference that is neither a blob ID nor `name[@version]`: refused before any lookup. */
export class InvalidModelRefError extends InvalidTransactionError {
  override name = 'InvalidModelRefError'
}

export class DuplicateModelError extends LedgerError {
  override name = 'DuplicateModelError'
}

export class DuplicateAnchorError extends LedgerError {
  override name = 'DuplicateAnchorError'
}

export class NotFoundError extends LedgerError {
  override name = 'NotFoundError'
}

/** A ledger store that is not what herd wrote: another version, or damaged. */
export class LedgerStoreError extends LedgerError {
  override name = 'LedgerStoreError'
}

/**
 * What a ledger holds or serves does not agree with its signed blocks: an index
 * entry that points at the wrong block, a block that no longer verifies, or a
 * server's answer that is not the signed transaction it claims. Not retried.
 */
export class LedgerCorruptError extends LedgerError {
  override name = 'LedgerCorruptError'
}

/** A call to a remote ledger that may pass if tried again. */
export class RetryableLedgerError extends RetryableError {
  override name = 'RetryableLedgerError'
}

/**
 * The node owns no Blob object of a blob it is to register or anchor on Sui:
 * the index may not show a Blob sent a moment ago (retried), or the blob was
 * stored by another address (store it again from this node).
 */
export class BlobObjectNotFoundError extends RetryableLedgerError {
  override name = 'BlobObjectNotFoundError'
  readonly blobId: string
  readonly address: string

  constructor (blobId: string, address: string, network: string) {
    super(`${address} owns no Walrus Blob object of blob ${blobId} on Sui ${network} (yet): only the owner of a blob's Blob object can write its attributes`)
    this.blobId = blobId
    this.address = address
  }
}

export class NodeKeyError extends Error {
  override name = 'NodeKeyError'
}

export { InsufficientGasError } from '../funds-errors.js'

/** An object the transaction uses kept changing under it (another writer, or a stale read) after several tries. */
export class ObjectVersionConflictError extends LedgerError {
  override name = 'ObjectVersionConflictError'
  readonly attempts: number

  constructor (message: string, attempts: number, options?: { cause?: unknown }) {
    super(message, options)
    this.attempts = attempts
  }
}

/** Sui refused the transaction or its execution failed: nothing was written. `reason` is what Sui said. */
export class TransactionRejectedError extends LedgerError {
  override name = 'TransactionRejectedError'
  readonly reason: string
  readonly digest?: string

  constructor (reason: string, options: { digest?: string, cause?: unknown } = {}) {
    super(`Sui rejected the transaction${options.digest != null ? ` ${options.digest}` : ''}: ${reason}`, { cause: options.cause })
    this.reason = reason
    if (options.digest != null) this.digest = options.digest
  }
}

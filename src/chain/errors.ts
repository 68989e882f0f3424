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

export class NodeKeyError extends Error {
  override name = 'NodeKeyError'
}

/** The signer has no SUI to pay gas on this network: fund the address and the write can be tried again. */
export class InsufficientGasError extends LedgerError {
  override name = 'InsufficientGasError'
  readonly address: string
  readonly network: string

  constructor (address: string, network: string, detail?: string, options?: { cause?: unknown }) {
    super(`no SUI to pay gas for ${address} on Sui ${network}: send SUI to this address, then try again${detail != null ? ` (${detail})` : ''}`, options)
    this.address = address
    this.network = network
  }
}

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

/** The codes of /herd/infer/1.0.0 replies and of the HTTP API's inference errors. */
export type InferErrorCode = 'BAD_REQUEST' | 'UNKNOWN_MODEL' | 'BUSY' | 'DEADLINE_EXCEEDED' | 'UNAVAILABLE' | 'INTERNAL' | 'TOO_LARGE' | 'BAD_GATEWAY'

/** An inference that did not run, with the code a peer or client sees. */
export class InferError extends Error {
  override readonly name: string = 'InferError'
  readonly code: InferErrorCode

  constructor (code: InferErrorCode, message: string) {
    super(message)
    this.code = code
  }
}

export class BusyError extends InferError {
  override readonly name = 'BusyError'
  constructor (message: string) { super('BUSY', message) }
}

export class UnknownModelError extends InferError {
  override readonly name = 'UnknownModelError'
  constructor (message: string) { super('UNKNOWN_MODEL', message) }
}

export class DeadlineExceededError extends InferError {
  override readonly name = 'DeadlineExceededError'
  constructor (message: string) { super('DEADLINE_EXCEEDED', message) }
}

/**
 * Errors of other layers, by name, as the code a caller sees (the API gives
 * each code its HTTP status: src/api/errors.ts). The ledger unreachable, a
 * full cache or a model evicted before it could be opened is UNAVAILABLE (try
 * later); Walrus failing where a model's bytes had to come from is
 * BAD_GATEWAY (the origin behind this node failed).
 */
const CODE_BY_ERROR_NAME: Record<string, InferErrorCode> = {
  InputMismatchError: 'BAD_REQUEST',
  RunTooLargeError: 'BAD_REQUEST',
  TensorFormatError: 'BAD_REQUEST',
  TensorTooLargeError: 'TOO_LARGE',
  InvalidBlobIdError: 'BAD_REQUEST',
  InvalidModelRefError: 'BAD_REQUEST',
  UnregisteredBlobError: 'UNKNOWN_MODEL',
  NotFoundError: 'UNKNOWN_MODEL',
  ModelLoadError: 'UNAVAILABLE',
  CacheFullError: 'UNAVAILABLE',
  BlobEvictedError: 'UNAVAILABLE',
  ReceiptQueueFullError: 'UNAVAILABLE',
  RetryableLedgerError: 'UNAVAILABLE',
  BlobUnavailableError: 'BAD_GATEWAY',
  RetryableWalrusError: 'BAD_GATEWAY',
  WalrusProtocolError: 'BAD_GATEWAY',
  BlobNotFoundError: 'BAD_GATEWAY'
}

/** The InferError a caller should see for `err`; undefined when it is unexpected (an INTERNAL error). */
export function asInferError (err: unknown): InferError | undefined {
  if (err instanceof InferError) return err
  if (!(err instanceof Error)) return undefined
  const code = CODE_BY_ERROR_NAME[err.name]
  return code != null ? new InferError(code, err.message) : undefined
}

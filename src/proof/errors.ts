/** Bytes that claim to be a receipt, a bundle or a proof and are not. */
export class ProofFormatError extends Error {
  override readonly name = 'ProofFormatError'
}

/** The receipt queue is at its limit: the node cannot promise a receipt, so it does not serve. */
export class ReceiptQueueFullError extends Error {
  override readonly name = 'ReceiptQueueFullError'
}

/** The receipt store on disk is of another version or damaged. */
export class ReceiptStoreError extends Error {
  override readonly name = 'ReceiptStoreError'
}

/** Fields that cannot make a receipt (sizes, sequence, time), or a receipt whose key is not the signer's. */
export class InvalidReceiptError extends Error {
  override readonly name = 'InvalidReceiptError'
}

/** A receipt's sequence number is not above the highest one the store has seen: sequence numbers are never reused. */
export class ReceiptSeqError extends Error {
  override readonly name = 'ReceiptSeqError'
}

/** The receipt store is not started, or was stopped. */
export class ReceiptStoreClosedError extends Error {
  override readonly name = 'ReceiptStoreClosedError'
}

/** A sealing step that does not fit the store's state: a second batch while one is in progress, an unknown batch, receipts not queued. */
export class ReceiptBatchError extends Error {
  override readonly name = 'ReceiptBatchError'
}

/** The batcher is not running: sealNow() before start(), or stop() while a caller waited. */
export class BatcherStoppedError extends Error {
  override readonly name = 'BatcherStoppedError'
}

/** A receipt whose ID the store already holds, queued or sealed. */
export class DuplicateReceiptError extends Error {
  override readonly name = 'DuplicateReceiptError'
}

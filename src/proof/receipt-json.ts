import { decodeSignedReceipt, receiptSigner } from './receipt.js'

/** A receipt as the API shows it: its ID, what it says, and its bytes for anyone to check. */
export function receiptJson (bytes: Uint8Array): Record<string, unknown> {
  const info = decodeSignedReceipt(bytes)
  return {
    id: info.id,
    modelBlobId: info.receipt.modelBlobId,
    chunkRoot: info.receipt.chunkRoot,
    inputsHash: Buffer.from(info.receipt.inputsHash).toString('hex'),
    outputsHash: Buffer.from(info.receipt.outputsHash).toString('hex'),
    signer: receiptSigner(info),
    seq: info.receipt.seq.toString(),
    time: info.receipt.time,
    signedReceipt: Buffer.from(bytes).toString('base64')
  }
}

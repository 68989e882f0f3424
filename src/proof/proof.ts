import { z } from 'zod'
import { isBlobId } from '../blob/blob-id.js'
import { toHex } from '../blob/chunk-tree.js'
import type { AnchorReceipt } from '../chain/types.js'
import { MAX_BUNDLE_RECEIPTS, receiptPath } from './bundle.js'
import { ProofFormatError } from './errors.js'
import { decodeSignedReceipt, MAX_SIGNED_RECEIPT_BYTES } from './receipt.js'

export const PROOF_VERSION = 1
/** The tree over MAX_BUNDLE_RECEIPTS leaves is this many levels deep: no path is longer. */
export const MAX_PROOF_SIBLINGS = Math.ceil(Math.log2(MAX_BUNDLE_RECEIPTS))

/**
 * The proof of one receipt, as JSON: the signed receipt, its Merkle path to
 * the root of its batch, the bundle that holds the batch on Walrus and where
 * the root was anchored. `GET /v1/proofs/{id}` returns it; `herd proof verify` reads it.
 */
export interface ReceiptProof {
  version: 1
  /** Hex SHA-256 of the canonical Receipt bytes. */
  receiptId: string
  /** Standard base64 of the SignedReceipt bytes (the Merkle leaf). */
  signedReceipt: string
  bundleBlobId: string
  /** The receipt's position in the bundle. */
  index: number
  leafCount: number
  /** Hex, from the bottom up; an odd last node carried up has no sibling at that level. */
  siblings: string[]
  /** Hex Merkle root, as anchored. */
  root: string
  /** Where and by whom the root was anchored, as the ledger reported it when anchoring. */
  anchor: { ledger: string, txId: string, height: number, time: number, address: string }
}

/** The proof of receipt `index` of a sealed batch. Throws ProofFormatError if a receipt is malformed or the index out of range. */
export function buildProof (args: { signedReceipts: Uint8Array[], index: number, bundleBlobId: string, anchor: AnchorReceipt }): ReceiptProof {
  const { signedReceipts, index, bundleBlobId, anchor } = args
  if (!Number.isInteger(index) || index < 0 || index >= signedReceipts.length) {
    throw new ProofFormatError(`receipt index ${index} is out of range for a batch of ${signedReceipts.length}`)
  }
  const signed = signedReceipts[index] as Uint8Array
  const info = decodeSignedReceipt(signed)
  const { path, root } = receiptPath(signedReceipts, index)
  return {
    version: PROOF_VERSION,
    receiptId: info.id,
    signedReceipt: Buffer.from(signed.buffer, signed.byteOffset, signed.byteLength).toString('base64'),
    bundleBlobId,
    index,
    leafCount: path.leafCount,
    siblings: path.siblings.map(toHex),
    root: toHex(root),
    anchor: { ledger: anchor.ledger, txId: anchor.txId, height: anchor.height, time: anchor.time, address: anchor.address }
  }
}

const hashHex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits')
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const proofSchema = z.strictObject({
  version: z.literal(PROOF_VERSION, { error: `must be ${PROOF_VERSION}` }),
  receiptId: hashHex,
  signedReceipt: z.string()
    .min(1, 'must not be empty')
    .max(Math.ceil(MAX_SIGNED_RECEIPT_BYTES / 3) * 4, `must encode at most ${MAX_SIGNED_RECEIPT_BYTES} bytes`)
    .regex(BASE64, 'must be standard padded base64'),
  bundleBlobId: z.string().refine(isBlobId, 'not a Walrus blob ID (43 characters of url-safe base64)'),
  index: z.number().int().min(0).max(MAX_BUNDLE_RECEIPTS - 1),
  leafCount: z.number().int().min(1).max(MAX_BUNDLE_RECEIPTS),
  siblings: z.array(hashHex).max(MAX_PROOF_SIBLINGS),
  root: hashHex,
  anchor: z.strictObject({
    ledger: z.string().min(1).max(64),
    txId: z.string().min(1).max(128),
    height: z.number().int().min(0),
    time: z.number().int().min(0),
    address: z.string().regex(/^0x[0-9a-f]{64}$/, 'must be a Sui address (0x and 64 lowercase hex digits)')
  })
}).refine(p => p.index < p.leafCount, { message: 'index must be below leafCount', path: ['index'] })

/** Checks the shape of a proof read from JSON (unknown keys refused); throws ProofFormatError listing what is wrong. */
export function parseProof (json: unknown): ReceiptProof {
  const parsed = proofSchema.safeParse(json)
  if (!parsed.success) throw new ProofFormatError(`not a receipt proof: ${z.prettifyError(parsed.error)}`)
  const proof = parsed.data
  return { ...proof, version: PROOF_VERSION, siblings: [...proof.siblings], anchor: { ...proof.anchor } }
}

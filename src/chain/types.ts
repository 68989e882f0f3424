import type { BlobId } from '../blob/blob-id.js'

/** One dimension of a tensor shape: a fixed size, or a symbolic name (dynamic). */
export type Dimension = number | string

export interface TensorSpec {
  name: string
  /** onnxruntime's type name: float32, int64, string, ... */
  type: string
  shape: Dimension[]
}

export interface ModelInput {
  name: string
  version: string
  blobId: BlobId
  size: number
  chunkSize: number
  /** SHA-256 chunk root, 64 hex digits. */
  chunkRoot: string
  /** The Walrus blob of the chunk hashes (the 32-byte leaves concatenated), checked against `chunkRoot`. */
  chunkHashesBlobId: BlobId
  format: string
  inputs: TensorSpec[]
  outputs: TensorSpec[]
  /** The Walrus Blob object that holds the model: required on Sui, where the entry is written onto it. */
  blobObjectId?: string
}

export interface ModelEntry extends Omit<ModelInput, 'blobObjectId'> {
  /** Sui address of the key that registered it. */
  registeredBy: string
  txId: string
  height: number
  time: number
  blobObjectId?: string
}

export interface AnchorInput {
  /** Merkle root of a batch of receipts, 64 hex digits. */
  root: string
  count: number
  bundleBlobId: BlobId
  /** The Walrus Blob object of the bundle: required on Sui. */
  bundleObjectId?: string
}

export interface AnchorReceipt {
  ledger: string
  txId: string
  /** Block height on the local ledger; checkpoint on Sui. */
  height: number
  time: number
  address: string
}

export interface AnchorEntry extends AnchorInput, AnchorReceipt {}

/** The settlement layer: the rest of herd cannot tell the local ledger and Sui apart. */
export interface Ledger {
  readonly kind: string
  /** Sui address of the signing key, or undefined for a read-only ledger. */
  readonly address?: string
  registerModel(model: ModelInput, options?: { signal?: AbortSignal }): Promise<ModelEntry>
  /** `name` (latest version), `name@version`, or a blob ID. */
  getModel(ref: string, options?: { signal?: AbortSignal }): Promise<ModelEntry>
  listModels(options?: { signal?: AbortSignal }): Promise<ModelEntry[]>
  anchor(anchor: AnchorInput, options?: { signal?: AbortSignal }): Promise<AnchorReceipt>
  /** By Merkle root (hex) or transaction ID. */
  getAnchor(rootOrTxId: string, options?: { signal?: AbortSignal }): Promise<AnchorEntry>
  listAnchors(address: string, options?: { signal?: AbortSignal }): Promise<AnchorEntry[]>
  close(): Promise<void>
}

import { logger } from '@libp2p/logger'
import type { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type ort from 'onnxruntime-node'
import type { BlobId } from '../blob/blob-id.js'
import type { Batcher } from './batcher.js'
import { tensorsFit } from './bundle.js'
import { DEFAULT_MAX_BUNDLE_BYTES } from './constants.js'
import { buildProof, type ReceiptProof } from './proof.js'
import { signReceipt, type SignedReceiptInfo } from './receipt.js'
import type { ReceiptStore } from './receipt-store.js'
import { canonicalTensors, hashTensorSet } from './tensor-hash.js'

const log = logger('herd:proof:service')

export interface ProofServiceComponents {
  signer: Ed25519Keypair
  store: ReceiptStore
  batcher: Batcher
}

export interface ProofServiceInit {
  /** Keep the inputs and outputs in the bundles, so anyone can re-execute; off, bundles hold receipts only. */
  includeTensors?: boolean
  /** The batcher's bundle budget: tensors that could never fit a bundle with their receipt are not queued at all. */
  maxBundleBytes?: number
}

interface PendingRun {
  modelBlobId: BlobId
  chunkRoot: string
  inputs: Uint8Array
  outputs: Uint8Array
  time: number
}

/** Receipts written by one fsync at most. */
const MAX_GROUP = 256

export type ProofLookup =
  | { state: 'sealed', proof: ReceiptProof }
  | { state: 'queued' | 'sealing', receiptId: string }
  | { state: 'aside', receiptId: string, reason: string }

/**
 * Issues a signed receipt for every inference this node serves and keeps it
 * durably queued until the batcher has sealed it into an anchored bundle.
 */
export class ProofService {
  private readonly components: ProofServiceComponents
  private readonly includeTensors: boolean
  private readonly maxBundleBytes: number
  private nextSeq = 0n
  private readonly publicKey: Uint8Array

  constructor (components: ProofServiceComponents, init: ProofServiceInit = {}) {
    this.components = components
    this.includeTensors = init.includeTensors ?? true
    this.maxBundleBytes = init.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES
    this.publicKey = components.signer.getPublicKey().toRawBytes()
  }

  start (): void {
    this.nextSeq = this.components.store.lastSeq() + 1n
  }

  private pending: Array<{ run: PendingRun, resolve: (receipt: SignedReceiptInfo) => void, reject: (err: Error) => void }> = []
  private flushing = false

  /**
   * Signs the receipt of one run and makes it durable; the reply may leave
   * only after this resolves. Runs that finish while a write is in progress
   * are written together by the next one: one fsync for all of them.
   */
  async issue (run: { modelBlobId: BlobId, chunkRoot: string, inputs: Record<string, ort.Tensor>, outputs: Record<string, ort.Tensor> }): Promise<SignedReceiptInfo> {
    const inputs = canonicalTensors(run.inputs)
    const outputs = canonicalTensors(run.outputs)
    return new Promise((resolve, reject) => {
      this.pending.push({ run: { modelBlobId: run.modelBlobId, chunkRoot: run.chunkRoot, inputs, outputs, time: Date.now() }, resolve, reject })
      if (!this.flushing) void this.flush()
    })
  }

  private async flush (): Promise<void> {
    this.flushing = true
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, MAX_GROUP)
        try {
          const signed: SignedReceiptInfo[] = []
          let seq = this.nextSeq
          for (const { run } of group) {
            signed.push(await signReceipt({
              modelBlobId: run.modelBlobId,
              chunkRoot: run.chunkRoot,
              inputsHash: hashTensorSet(run.inputs),
              outputsHash: hashTensorSet(run.outputs),
              nodePublicKey: this.publicKey,
              time: run.time,
              seq
            }, this.components.signer))
            seq++
          }
          await this.components.store.appendMany(signed.map((receipt, i) => {
            const { run } = group[i] as (typeof group)[number]
            // Tensors no bundle could hold would only fill the queue: the receipt's hashes stand for them.
            const keep = this.includeTensors && tensorsFit({ receipt: receipt.bytes.byteLength, inputs: run.inputs.byteLength, outputs: run.outputs.byteLength }, this.maxBundleBytes)
            return { id: receipt.id, seq: receipt.receipt.seq, bytes: receipt.bytes, ...(keep ? { inputs: run.inputs, outputs: run.outputs } : {}) }
          }))
          this.nextSeq = seq
          this.components.batcher.notify()
          group.forEach((entry, i) => { entry.resolve(signed[i] as SignedReceiptInfo) })
        } catch (err) {
          // Nothing of the group was written: its runs answer with the error, and their seqs are used by the next group.
          for (const entry of group) entry.reject(err as Error)
        }
      }
    } finally {
      this.flushing = false
    }
  }

  async lookup (receiptId: string): Promise<ProofLookup | undefined> {
    const found = await this.components.store.get(receiptId)
    if (found == null) return undefined
    if (found.state === 'aside') return { state: 'aside', receiptId, reason: found.aside.reason }
    if (found.state !== 'sealed' || found.sealed == null) return { state: found.state, receiptId }
    const sealed = found.sealed
    // The store read the bundle's receipts with the receipt: no second read, which a prune could find gone.
    const proof = buildProof({ signedReceipts: found.signedReceiptsOfBundle, index: sealed.index, bundleBlobId: sealed.bundleBlobId, anchor: sealed.anchor })
    if (proof.receiptId !== receiptId) log.error('the proof of %s names receipt %s', receiptId, proof.receiptId)
    return { state: 'sealed', proof }
  }
}

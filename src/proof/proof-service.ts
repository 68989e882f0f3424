import { logger } from '@libp2p/logger'
import type { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type ort from 'onnxruntime-node'
import type { BlobId } from '../blob/blob-id.js'
import type { Batcher } from './batcher.js'
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
}

export type ProofLookup =
  | { state: 'sealed', proof: ReceiptProof }
  | { state: 'queued' | 'sealing', receiptId: string }

/**
 * Issues a signed receipt for every inference this node serves and keeps it
 * durably queued until the batcher has sealed it into an anchored bundle.
 */
export class ProofService {
  private readonly components: ProofServiceComponents
  private readonly includeTensors: boolean
  private nextSeq = 0n
  /** Receipts are issued one at a time: sequence numbers reach the store in order. */
  private issuing: Promise<unknown> = Promise.resolve()
  private readonly publicKey: Uint8Array

  constructor (components: ProofServiceComponents, init: ProofServiceInit = {}) {
    this.components = components
    this.includeTensors = init.includeTensors ?? true
    this.publicKey = components.signer.getPublicKey().toRawBytes()
  }

  start (): void {
    this.nextSeq = this.components.store.lastSeq() + 1n
  }

  /** Signs the receipt of one run and makes it durable; the reply may leave only after this resolves. */
  async issue (run: { modelBlobId: BlobId, chunkRoot: string, inputs: Record<string, ort.Tensor>, outputs: Record<string, ort.Tensor> }): Promise<SignedReceiptInfo> {
    const inputs = canonicalTensors(run.inputs)
    const outputs = canonicalTensors(run.outputs)
    const work = this.issuing.then(async () => {
      const seq = this.nextSeq
      const receipt = await signReceipt({
        modelBlobId: run.modelBlobId,
        chunkRoot: run.chunkRoot,
        inputsHash: hashTensorSet(inputs),
        outputsHash: hashTensorSet(outputs),
        nodePublicKey: this.publicKey,
        time: Date.now(),
        seq
      }, this.components.signer)
      await this.components.store.append({ id: receipt.id, seq, bytes: receipt.bytes, ...(this.includeTensors ? { inputs, outputs } : {}) })
      this.nextSeq = seq + 1n
      this.components.batcher.notify()
      return receipt
    })
    this.issuing = work.catch(() => {})
    return work
  }

  async lookup (receiptId: string): Promise<ProofLookup | undefined> {
    const found = await this.components.store.get(receiptId)
    if (found == null) return undefined
    if (found.state !== 'sealed' || found.sealed == null) return { state: found.state, receiptId }
    const sealed = found.sealed
    const receipts = await this.components.store.bundleReceipts(sealed.bundleBlobId)
    const proof = buildProof({ signedReceipts: receipts, index: sealed.index, bundleBlobId: sealed.bundleBlobId, anchor: sealed.anchor })
    if (proof.receiptId !== receiptId) log.error('the proof of %s names receipt %s', receiptId, proof.receiptId)
    return { state: 'sealed', proof }
  }
}

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { LocalLedger } from '../../src/chain/local-ledger.js'
import { encodeBundle, receiptRoot } from '../../src/proof/bundle.js'
import { buildProof } from '../../src/proof/proof.js'
import { signReceipt } from '../../src/proof/receipt.js'
import { hashTensorSet } from '../../src/proof/tensor-hash.js'
import { verifyProof } from '../../src/proof/verify.js'
import { BlobMove } from '../../src/walrus/blob-object.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { NetworkWalrusStore } from '../../src/walrus/network-store.js'
import { WalrusSdkStore } from '../../src/walrus/sdk-store.js'
import { startLocalWalrus, tempDir } from '../helpers/devnet.js'
import { CALL_PACKAGE, suiStandIn, SYSTEM_OBJECT, TYPE_PACKAGE } from '../helpers/sui-standin.js'
import { addWalrusSystemState } from '../helpers/sui-standin-walrus.js'

describe('verifying a receipt whose bundle expired', () => {
  it('says the bundle expired and at which epoch, not that it could not be fetched', async () => {
    await using dir = await tempDir('herd-proof-')
    const walrus = await startLocalWalrus(join(dir.path, 'walrus'), { epochMs: 300 })
    const client = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url, retries: 1, retryBaseDelayMs: 5, retryMaxDelayMs: 20 })
    const node = Ed25519Keypair.generate()
    const ledger = await LocalLedger.open(join(dir.path, 'ledger'), node)
    try {
      const empty = hashTensorSet(new Uint8Array(0))
      const info = await signReceipt({ modelBlobId: blobIdFromBytes(randomBytes(32)), chunkRoot: randomBytes(32).toString('hex'), inputsHash: empty, outputsHash: empty, nodePublicKey: node.getPublicKey().toRawBytes(), time: Date.now(), seq: 1n }, node)
      const receipts = [info.bytes]
      // Five short epochs: time to verify once while it is stored, even on a loaded machine.
      const stored = await client.putBytes(encodeBundle({ receipts, inputs: [new Uint8Array(0)], outputs: [new Uint8Array(0)] }), { epochs: 5 })
      const anchor = await ledger.anchor({ root: Buffer.from(receiptRoot(receipts)).toString('hex'), count: 1, bundleBlobId: stored.blobId })
      const proof = buildProof({ signedReceipts: receipts, index: 0, bundleBlobId: stored.blobId, anchor })
      const before = await verifyProof(proof, { ledger, walrus: client })
      assert.equal(before.valid, true, JSON.stringify(before.checks))
      for (let i = 0; i < 600 && walrus.stats.expired < 1; i++) await sleep(50)
      const result = await verifyProof(proof, { ledger, walrus: client })
      assert.equal(result.valid, false)
      assert.deepEqual(result.checks.bundleHoldsReceipt, { ok: false, reason: `bundle expired at epoch ${stored.endEpoch}` })
      assert.equal(result.checks.anchored.ok, true)
    } finally {
      await ledger.close()
      await client.close()
      await walrus.stop()
    }
  })

  it('on Sui, reads the end epoch from the bundle\'s Blob object that the anchor names, where no aggregator says it', async () => {
    await using dir = await tempDir('herd-proof-')
    // An aggregator that never held the bundle answers as a public one does for an expired blob: 404.
    const walrus = await startLocalWalrus(join(dir.path, 'walrus'))
    const sui = suiStandIn()
    addWalrusSystemState(sui.chain, SYSTEM_OBJECT, TYPE_PACKAGE, CALL_PACKAGE, { nShards: 1000, epoch: 710, storagePricePerUnit: 100_000n, writePricePerUnit: 20_000n })
    // The verifier has no key: it owns no Blob object, and finds the bundle's only through the anchor.
    const store = new NetworkWalrusStore({
      readers: [new WalrusHttpClient({ aggregator: walrus.url, retries: 1, retryBaseDelayMs: 5, retryMaxDelayMs: 20 })],
      writer: new WalrusHttpClient({ publisher: walrus.url }),
      writeMode: 'publisher',
      epochs: 1,
      onChain: new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', suiClient: sui.client })
    })
    const node = Ed25519Keypair.generate()
    try {
      const empty = hashTensorSet(new Uint8Array(0))
      const info = await signReceipt({ modelBlobId: blobIdFromBytes(randomBytes(32)), chunkRoot: randomBytes(32).toString('hex'), inputsHash: empty, outputsHash: empty, nodePublicKey: node.getPublicKey().toRawBytes(), time: Date.now(), seq: 1n }, node)
      const receipts = [info.bytes]
      const bundleBlobId = blobIdFromBytes(randomBytes(32))
      const bundle = sui.addBlob(sui.address, bundleBlobId)
      bundle.json = { ...bundle.json, storage: { ...(bundle.json.storage as object), end_epoch: 705 } }
      bundle.bcs = BlobMove.serialize(bundle.json as unknown as Parameters<typeof BlobMove.serialize>[0]).toBytes()
      const root = Buffer.from(receiptRoot(receipts)).toString('hex')
      const anchor = await sui.ledger().anchor({ root, count: 1, bundleBlobId, bundleObjectId: bundle.objectId })
      const proof = buildProof({ signedReceipts: receipts, index: 0, bundleBlobId, anchor })
      const result = await verifyProof(proof, { ledger: sui.ledger(), walrus: store })
      assert.equal(result.checks.anchored.ok, true, JSON.stringify(result.checks.anchored))
      assert.deepEqual(result.checks.bundleHoldsReceipt, { ok: false, reason: 'bundle expired at epoch 705' })
    } finally {
      await store.close()
      await walrus.stop()
    }
  })
})

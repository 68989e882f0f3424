import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { normalizeSuiAddress } from '@mysten/sui/utils'
import { blobIdFromBytes, type BlobId } from '../../src/blob/blob-id.js'
import { StorageKeeper } from '../../src/storage/keeper.js'
import { StorageTracker } from '../../src/storage/tracker.js'
import { BlobMove } from '../../src/walrus/blob-object.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { NetworkWalrusStore } from '../../src/walrus/network-store.js'
import { WalrusSdkStore } from '../../src/walrus/sdk-store.js'
import { closedPort } from '../helpers/closed-port.js'
import { tempDir } from '../helpers/devnet.js'
import { SUI_TYPE } from '../helpers/sui-standin-chain.js'
import { CALL_PACKAGE, suiStandIn, SYSTEM_OBJECT, TYPE_PACKAGE, type SuiStandIn } from '../helpers/sui-standin.js'
import { addWalrusSystemState, stakeWithPool } from '../helpers/sui-standin-walrus.js'

const WAL = `${normalizeSuiAddress('0x3a1')}::wal::WAL`
const EPOCH = 700

/** A certified Blob object on the stand-in, with the BCS content Sui serves and the SDK store parses. */
function blobObject (sui: SuiStandIn, owner: string, size: number, endEpoch: number): { blobId: BlobId, objectId: string } {
  const blobId = blobIdFromBytes(randomBytes(32))
  const object = sui.addBlob(owner, blobId)
  const json = { ...object.json, size: String(size), storage: { ...(object.json.storage as object), end_epoch: endEpoch } }
  object.json = json
  object.bcs = BlobMove.serialize(json as unknown as Parameters<typeof BlobMove.serialize>[0]).toBytes()
  return { blobId, objectId: object.objectId }
}

describe('the storage keeper on testnet and mainnet (Sui stand-in)', () => {
  it('learns the epoch and lifetimes from Sui, not the aggregator, and extends its own model there though it writes through a publisher; a pin of another\'s model is read by the registry\'s Blob object', async () => {
    await using dir = await tempDir()
    const sui = suiStandIn()
    addWalrusSystemState(sui.chain, SYSTEM_OBJECT, TYPE_PACKAGE, CALL_PACKAGE, { nShards: 1000, epoch: EPOCH, storagePricePerUnit: 100_000n, writePricePerUnit: 20_000n })
    sui.grpc.functions.set(`${TYPE_PACKAGE}::staking::stake_with_pool`, stakeWithPool(TYPE_PACKAGE, WAL))
    const node = Ed25519Keypair.generate()
    const stranger = Ed25519Keypair.generate().toSuiAddress()
    // Due for renewal (two epochs left); the node pays from its own SUI and WAL.
    const own = blobObject(sui, node.toSuiAddress(), 5000, EPOCH + 2)
    sui.chain.fund(node.toSuiAddress(), SUI_TYPE, 1_000_000_000n)
    sui.chain.fund(node.toSuiAddress(), WAL, 10_000_000_000n)
    sui.chain.add({ objectId: normalizeSuiAddress(`0x${randomBytes(32).toString('hex')}`), type: `0x2::coin::Coin<${WAL}>`, owner: node.toSuiAddress(), json: { balance: '10000000000' } })
    const hashes = blobObject(sui, node.toSuiAddress(), 64, EPOCH + 10)
    const foreign = blobObject(sui, stranger, 7000, EPOCH + 2)
    const nowhere = `http://127.0.0.1:${await closedPort()}`
    // A node writing through a publisher: its aggregator and publisher know nothing of epochs; Sui does.
    const walrus = new NetworkWalrusStore({
      readers: [new WalrusHttpClient({ aggregator: nowhere, retries: 0 })],
      writer: new WalrusHttpClient({ publisher: nowhere, retries: 0 }),
      writeMode: 'publisher',
      epochs: 1,
      owner: node.toSuiAddress(),
      onChain: new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: node, suiClient: sui.client })
    })
    const tracker = new StorageTracker(join(dir.path, 'tracker'))
    await tracker.open()
    try {
      const keeper = new StorageKeeper({
        tracker,
        walrus,
        address: node.toSuiAddress(),
        ownModels: async () => [{ blobId: own.blobId, size: 5000, chunkHashesBlobId: hashes.blobId, name: 'mine', version: '1' }],
        pinned: () => [{ blobId: foreign.blobId, size: 7000 }],
        registryEntry: async blobId => blobId === foreign.blobId ? { blobObjectId: foreign.objectId } : undefined
      }, { renewWithinEpochs: 2, extendEpochs: 6 })
      await keeper.check({ signal: AbortSignal.timeout(30_000) })

      const status = keeper.status()
      assert.equal(status.epoch, EPOCH, 'the epoch is Sui\'s')
      const listed = new Map(keeper.list().map(b => [b.blobId, b]))
      const mine = listed.get(own.blobId)
      assert.deepEqual([mine?.endEpoch, mine?.owner, mine?.canExtend, mine?.nextRenewal, mine?.lastError], [EPOCH + 6, node.toSuiAddress(), true, EPOCH + 4, undefined], 'found among the node\'s own Blob objects, and extended')
      assert.equal(BlobMove.parse(sui.chain.objects.get(own.objectId)!.bcs!).storage.end_epoch, EPOCH + 6, 'extend_blob ran on Sui')
      assert.equal(status.renewed, 1)
      assert.ok(status.spentThisEpoch > 0, 'the extension was priced')
      const pin = listed.get(foreign.blobId)
      assert.deepEqual([pin?.kind, pin?.endEpoch, pin?.owner, pin?.canExtend, pin?.nextRenewal, pin?.lastError], ['pin', EPOCH + 2, stranger, false, undefined, undefined], 'read by the Blob object the registry names')
      assert.equal(listed.get(hashes.blobId)?.endEpoch, EPOCH + 10)
      assert.equal(status.cannotExtend, 1, 'the pin another address owns is warned about')
      assert.equal(status.failing, 0, 'every lifetime was read')
    } finally {
      await tracker.close()
      await walrus.close()
    }
  })
})

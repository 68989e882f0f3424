import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { bcs } from '@mysten/sui/bcs'
import { SuiGrpcClient } from '@mysten/sui/grpc'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { TransactionDataBuilder } from '@mysten/sui/transactions'
import { WalrusClient } from '@mysten/walrus'
import { normalizeSuiAddress } from '@mysten/sui/utils'
import { BlobIdComputer } from '../../src/blob/blob-id-computer.js'
import { blobIdFromBytes, blobIdToU256 } from '../../src/blob/blob-id.js'
import { encodedBlobLength, storageUnits } from '../../src/walrus/encoded-size.js'
import { WalrusSdkStore } from '../../src/walrus/sdk-store.js'
import { closedPort } from '../helpers/closed-port.js'
import { tempDir } from '../helpers/devnet.js'
import { CALL_PACKAGE, suiStandIn, SYSTEM_OBJECT, TYPE_PACKAGE } from '../helpers/sui-standin.js'
import { addWalrusSystemState, stakeWithPool, type WalrusPrices } from '../helpers/sui-standin-walrus.js'
import { RelayStandIn } from '../helpers/walrus-relay-standin.js'
import { GAS_USED, SIMULATED_GAS } from '../helpers/sui-standin-grpc.js'
import type { Payment } from '../../src/payments.js'
import { SUI_TYPE } from '../helpers/sui-standin-chain.js'

const WAL = `${normalizeSuiAddress('0x3a1')}::wal::WAL`
const PRICES: WalrusPrices = { nShards: 1000, epoch: 700, storagePricePerUnit: 100_000n, writePricePerUnit: 20_000n }

/** Sui stand-in with the Walrus system state and the WAL type the SDK reads before a write. */
function walrusOnStandIn (prices = PRICES, fundSui?: bigint): ReturnType<typeof suiStandIn> {
  const sui = suiStandIn(fundSui != null ? { fundSui } : {})
  addWalrusSystemState(sui.chain, SYSTEM_OBJECT, TYPE_PACKAGE, CALL_PACKAGE, prices)
  sui.grpc.functions.set(`${TYPE_PACKAGE}::staking::stake_with_pool`, stakeWithPool(TYPE_PACKAGE, WAL))
  return sui
}

/** A relay write's parts: a 5,000-byte file, an upload relay stand-in, and a Sui stand-in at `nShards` whose key holds WAL and SUI. */
async function relayWriteParts (nShards: number, tipAddress = Ed25519Keypair.generate().toSuiAddress()): Promise<AsyncDisposable & { file: string, bytes: Buffer, computer: BlobIdComputer, relay: RelayStandIn, host: string, sui: ReturnType<typeof suiStandIn> }> {
  const dir = await tempDir()
  const file = join(dir.path, 'blob')
  const bytes = randomBytes(5000)
  await writeFile(file, bytes)
  const computer = new BlobIdComputer({ nShards })
  const relay = new RelayStandIn({ tip: { address: tipAddress, base: 1000, perEncodedKib: 2 }, blobIdOf: async body => (await computer.computeBytes(body)).blobId })
  const host = await relay.start()
  // The stand-in takes WAL at the system's prices, as the Walrus package does, and reports balance changes.
  const sui = walrusOnStandIn({ ...PRICES, nShards, walType: WAL })
  sui.chain.fund(sui.address, WAL, 10_000_000_000n)
  sui.chain.add({ objectId: normalizeSuiAddress(`0x${randomBytes(32).toString('hex')}`), type: `0x2::coin::Coin<${WAL}>`, owner: sui.address, json: { balance: '10000000000' } })
  return {
    file,
    bytes,
    computer,
    relay,
    host,
    sui,
    [Symbol.asyncDispose]: async () => {
      await relay.stop()
      await computer.stop()
      await dir[Symbol.asyncDispose]()
    }
  }
}

describe('Walrus SDK store', () => {
  it('computes the same blob IDs as herd and as the SDK on its own thread', async () => {
    const store = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://127.0.0.1:1' })
    const sdk = new WalrusClient({ network: 'testnet', suiClient: new SuiGrpcClient({ network: 'testnet', baseUrl: 'http://127.0.0.1:1' }) })
    const computer = new BlobIdComputer({ nShards: 10 })
    try {
      for (const bytes of [new Uint8Array(0), randomBytes(33), randomBytes(100_000)]) {
        const ours = await store.client.computeBlobMetadata({ bytes, numShards: 10 })
        const theirs = await sdk.computeBlobMetadata({ bytes, numShards: 10 })
        assert.deepEqual([ours.blobId, ours.rootHash, ours.metadata], [theirs.blobId, theirs.rootHash, theirs.metadata])
        assert.deepEqual(await ours.blobDigest(), await theirs.blobDigest())
        assert.equal(await store.blobIdOf(bytes, 10), (await computer.computeBytes(bytes)).blobId)
      }
    } finally {
      await computer.stop()
      await store.close()
    }
  })

  it('refuses a write without a signer, and fails with a named error when the network is out of reach', async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'blob')
    await writeFile(file, randomBytes(1000))
    const suiUrl = `http://127.0.0.1:${await closedPort()}`
    await assert.rejects(new WalrusSdkStore({ network: 'testnet', suiUrl }).putFile(file), { name: 'WalrusError' })
    const store = new WalrusSdkStore({ network: 'testnet', suiUrl, signer: Ed25519Keypair.generate() })
    const signal = AbortSignal.timeout(20_000)
    await assert.rejects(store.putFile(file, { epochs: 1, signal }), (err: Error) => /WalrusError$/.test(err.name))
    await assert.rejects(store.readRange(blobIdFromBytes(randomBytes(32)), { start: 0, end: 9 }, { signal }), (err: Error) => /WalrusError$/.test(err.name))
    assert.equal(signal.aborted, false, 'failed fast rather than hanging')
    await assert.rejects(store.putFile(file, { epochs: 54 }), { name: 'WalrusError' })
    assert.throws(() => new WalrusSdkStore({ network: 'testnet', suiUrl, uploadRelay: { host: 'relay.example' } }), { name: 'WalrusError' })
  })

  it('prices a write from the Walrus system state read over gRPC: encoded size, storage and write cost in WAL', async () => {
    const sui = walrusOnStandIn()
    const store = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', suiClient: sui.client })
    for (const [size, epochs] of [[0, 1], [1_000_000, 5], [200 * 1024 * 1024, 53]] as const) {
      const cost = await store.storageCostOf(size, epochs)
      assert.equal(cost.encodedSize, encodedBlobLength(size, PRICES.nShards))
      // The SDK prices from its own encoded size: equal figures mean herd's matches it to the storage unit.
      const units = BigInt(storageUnits(cost.encodedSize))
      assert.equal(cost.storageCostWal, units * PRICES.storagePricePerUnit * BigInt(epochs), `${size} bytes`)
      assert.equal(cost.writeCostWal, units * PRICES.writePricePerUnit)
    }
    assert.deepEqual(new Set(sui.grpc.methods()), new Set(['BatchGetObjects']), 'prices come from the system object and its inner state')
    assert.equal((await store.storageCostOf(1000, 1)).registerGasMist, undefined, 'no key, no gas estimate')

    // With the node key and WAL to draw on, the registration is simulated (not signed) for its gas.
    sui.chain.fund(sui.address, WAL, 10_000_000_000n)
    sui.chain.add({ objectId: normalizeSuiAddress(`0x${randomBytes(32).toString('hex')}`), type: `0x2::coin::Coin<${WAL}>`, owner: sui.address, json: { balance: '10000000000' } })
    const keyed = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: sui.signer, suiClient: sui.client })
    const priced = await keyed.storageCostOf(1_000_000, 5)
    assert.equal(priced.registerGasMist, SIMULATED_GAS.computation + SIMULATED_GAS.storage - SIMULATED_GAS.rebate)
    const simulated = sui.grpc.calls.filter(c => c.method.endsWith('/SimulateTransaction'))
    assert.equal(simulated.length, 1)
    assert.ok(JSON.stringify(simulated[0]!.request).includes('register_blob'))
    assert.ok(!sui.grpc.methods().includes('ExecuteTransaction'), 'nothing was paid')
    await assert.rejects(store.storageCostOf(-1, 1), { name: 'WalrusError' })
    await assert.rejects(store.storageCostOf(10, 0), { name: 'WalrusError' })
  })

  it('names the address and the WAL it needs when a write cannot pay for storage, and owns what it writes', async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'blob')
    await writeFile(file, randomBytes(5000))
    const sui = walrusOnStandIn({ ...PRICES, nShards: 10 })
    // Through a relay the SDK needs no storage-node committee to encode, and the relay is not reached before the registration is paid for.
    const store = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: sui.signer, suiClient: sui.client, uploadRelay: { host: `http://127.0.0.1:${await closedPort()}` } })
    const err = await store.putFile(file, { epochs: 5 }).then(() => undefined, (e: unknown) => e) as { name: string, address: string, network: string, needed: bigint }
    assert.equal(err?.name, 'InsufficientWalError')
    assert.deepEqual([err.address, err.network], [sui.address, 'testnet'])
    const cost = await store.storageCostOf(5000, 5)
    assert.equal(err.needed, cost.storageCostWal + cost.writeCostWal, 'storage for the epochs and the write, in FROST')
    const walAsked = sui.grpc.calls.filter(c => c.method.endsWith('/GetBalance') && c.request.coinType === WAL)
    assert.ok(walAsked.length > 0 && walAsked.every(c => c.request.owner === sui.address), 'the node pays from its own address')
    assert.ok(!sui.grpc.methods().includes('ExecuteTransaction'), 'nothing was paid')

    // WAL but no SUI: the node's gas selection refuses the registration.
    const broke = walrusOnStandIn({ ...PRICES, nShards: 10 }, 0n)
    broke.chain.fund(broke.address, WAL, 10_000_000_000n)
    broke.chain.add({ objectId: normalizeSuiAddress(`0x${randomBytes(32).toString('hex')}`), type: `0x2::coin::Coin<${WAL}>`, owner: broke.address, json: { balance: '10000000000' } })
    const noGas = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: broke.signer, suiClient: broke.client, uploadRelay: { host: `http://127.0.0.1:${await closedPort()}` } })
    await assert.rejects(noGas.putFile(file, { epochs: 5 }), (e: Error & { address: string, network: string }) => e.name === 'InsufficientGasError' && e.address === broke.address && e.network === 'testnet')
    assert.ok(!broke.grpc.methods().includes('ExecuteTransaction'))
  })

  it('sends the blob and the tip terms to the configured upload relay, within the tip cap', async () => {
    const tipAddress = Ed25519Keypair.generate().toSuiAddress()
    const computer = new BlobIdComputer({ nShards: 10 })
    const relay = new RelayStandIn({ tip: { address: tipAddress, base: 1000, perEncodedKib: 2 }, blobIdOf: async bytes => (await computer.computeBytes(bytes)).blobId })
    const host = await relay.start()
    try {
      const sui = walrusOnStandIn({ ...PRICES, nShards: 10 })
      const store = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: sui.signer, suiClient: sui.client, uploadRelay: { host: `${host}/`, sendTip: { max: 1_000_000 } } })
      const blob = randomBytes(3000)
      const tip = await store.client.calculateUploadRelayTip({ size: blob.length })
      assert.equal(tip, 1000n + 2n * BigInt(Math.ceil(encodedBlobLength(blob.length, 10) / 1024)), 'the relay\'s linear tip on the encoded size')
      const blobId = (await computer.computeBytes(blob)).blobId
      const blobObjectId = normalizeSuiAddress('0xb10b')
      const { certificate } = await store.client.writeBlobToUploadRelay({ blobId, blob, nonce: randomBytes(32), txDigest: 'HcVPWyTE9yeWg1qpEAvPuZk1pcPqxbmC6n4Wsy1LV4U5', blobObjectId, deletable: true })
      assert.deepEqual(certificate.signers, [0, 1, 2])
      const upload = relay.requests.find(r => r.path === '/v1/blob-upload-relay')!
      assert.deepEqual([upload.method, upload.query.blob_id, upload.query.tx_id, upload.query.deletable_blob_object], ['POST', blobId, 'HcVPWyTE9yeWg1qpEAvPuZk1pcPqxbmC6n4Wsy1LV4U5', blobObjectId])
      assert.ok(upload.query.nonce != null && upload.body.equals(blob))
      assert.deepEqual(relay.requests.map(r => `${r.method} ${r.path}`), ['GET /v1/tip-config', 'POST /v1/blob-upload-relay'])

      // The SDK caches the relay's tip terms on the Sui client, so this store gets a client of its own.
      const stingy = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: sui.signer, suiClient: new SuiGrpcClient({ network: 'testnet', transport: sui.grpc }), uploadRelay: { host, sendTip: { max: 10 } } })
      await assert.rejects(stingy.client.calculateUploadRelayTip({ size: blob.length }), /exceeds the maximum/)
    } finally {
      await relay.stop()
      await computer.stop()
    }
  })

  it('computes a blob\'s metadata for a write through the upload relay on another thread: the event loop keeps turning', async () => {
    // At mainnet's and testnet's 1,000 shards the encoding takes seconds of CPU, whatever the blob's size.
    await using parts = await relayWriteParts(1000)
    const { file, bytes, host, sui } = parts
    const store = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: sui.signer, suiClient: sui.client, uploadRelay: { host, sendTip: { max: 1_000_000 } } })
    try {
      // The baseline, measured here: how long the SDK's own computation holds this thread.
      const sdk = new WalrusClient({ network: 'testnet', suiClient: sui.client })
      const started = performance.now()
      const expected = await sdk.computeBlobMetadata({ bytes, numShards: 1000 })
      const onThreadMs = performance.now() - started
      let last = performance.now()
      let longestGapMs = 0
      const ticks = setInterval(() => {
        const now = performance.now()
        longestGapMs = Math.max(longestGapMs, now - last)
        last = now
      }, 10)
      let stored
      try {
        stored = await store.putFile(file, { epochs: 1 })
      } finally {
        clearInterval(ticks)
      }
      assert.equal(stored.blobId, expected.blobId)
      assert.ok(longestGapMs < onThreadMs / 2, `the event loop stood still for ${longestGapMs.toFixed(0)} ms during the write; the SDK's own computation holds it ${onThreadMs.toFixed(0)} ms`)
    } finally {
      await store.close()
    }
  })

  it('writes a blob end to end through the upload relay: register, upload, certify, with the Blob object owned by the node, which alone extends it', async () => {
    const tipAddress = Ed25519Keypair.generate().toSuiAddress()
    await using parts = await relayWriteParts(10, tipAddress)
    const { file, bytes, computer, relay, host, sui } = parts
    const paid: Payment[] = []
    const store = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: sui.signer, suiClient: sui.client, uploadRelay: { host, sendTip: { max: 1_000_000 } }, onPaid: payment => paid.push(payment) })
    const suiBefore = sui.chain.balance(sui.address, SUI_TYPE)
    const stored = await store.putFile(file, { epochs: 3 })
    const price = await store.client.storageCost(bytes.length, 3)
    const tip = BigInt(await store.client.calculateUploadRelayTip({ size: bytes.length }))
    assert.deepEqual(paid.map(p => [p.kind, p.suiMist, p.walFrost]), [
      ['blob-write', GAS_USED + tip, price.totalCost],
      ['blob-write', GAS_USED, 0n]
    ], 'the registration paid gas, the relay\'s tip and storage for 3 epochs; the certification gas')
    assert.equal(suiBefore - sui.chain.balance(sui.address, SUI_TYPE), GAS_USED * 2n + tip, 'what was told is what left the address')
    assert.equal(10_000_000_000n - sui.chain.balance(sui.address, WAL), price.totalCost)

    assert.equal(stored.blobId, (await computer.computeBytes(bytes)).blobId)
    const blob = sui.chain.objects.get(stored.objectId!)!
    assert.equal(blob.owner, sui.address, 'the Blob object stays with the node, which alone can extend it or write its attributes')
    assert.deepEqual([blob.json.certified_epoch, blob.json.deletable, (blob.json.storage as { end_epoch: number }).end_epoch, stored.endEpoch], [700, true, 703, 703])
    assert.equal(BigInt(String(blob.json.blob_id)), blobIdToU256(stored.blobId))

    const [register, certify] = sui.grpc.calls.filter(c => c.method.endsWith('/ExecuteTransaction')).map(c => sui.chain.transactions.get(TransactionDataBuilder.getDigestFromBytes(Uint8Array.from(Buffer.from(c.request.transaction.bcs.value, 'base64'))))!)
    const calls = (tx: typeof register): string[] => ((tx?.transaction as any).kind.programmableTransaction.commands as any[]).flatMap(c => c.moveCall != null ? [`${c.moveCall.module}::${c.moveCall.function}`] : c.transferObjects != null ? ['transfer'] : [])
    assert.ok(calls(register).includes('system::register_blob') && calls(register).includes('system::reserve_space'), calls(register).join())
    assert.deepEqual(calls(certify), ['system::certify_blob'])
    const registerInputs = (register!.transaction as any).kind.programmableTransaction.inputs as Array<{ pure?: string }>
    assert.ok(registerInputs.some(i => i.pure === bcs.Address.serialize(tipAddress).toBase64()), 'the registration pays the relay its tip')
    assert.equal(sui.grpc.methods().filter(m => m === 'SimulateTransaction').length, 2, 'each transaction is simulated before it is signed')

    const upload = relay.requests.find(r => r.path === '/v1/blob-upload-relay')!
    assert.ok(upload.body.equals(bytes), 'the relay received the blob itself')
    assert.deepEqual([upload.query.blob_id, upload.query.deletable_blob_object, upload.query.tx_id], [stored.blobId, stored.objectId, register!.digest], 'the tip is proven by the registration transaction')
    assert.deepEqual(relay.requests.map(r => r.path), ['/v1/tip-config', '/v1/blob-upload-relay'])

    // Extending it: extend_blob on the Blob object, priced by the SDK, paid from the node key.
    assert.deepEqual(await store.epoch(), { epoch: 700 })
    const extended = await store.extend({ blobId: stored.blobId, objectId: stored.objectId!, currentEndEpoch: 703, endEpoch: 709, size: bytes.length })
    assert.equal(extended.endEpoch, 709)
    assert.ok((extended.cost ?? 0) > 0, 'the extension is priced')
    assert.equal((sui.chain.objects.get(stored.objectId!)!.json.storage as { end_epoch: number }).end_epoch, 709)
    assert.deepEqual(paid.slice(2).map(p => [p.kind, p.suiMist, p.walFrost]), [['blob-extend', GAS_USED, BigInt(extended.cost!)]], 'the extension paid gas and storage for 6 epochs')
    const executed = sui.grpc.calls.filter(c => c.method.endsWith('/ExecuteTransaction'))
    const extendTx = sui.chain.transactions.get(TransactionDataBuilder.getDigestFromBytes(Uint8Array.from(Buffer.from(executed[executed.length - 1]!.request.transaction.bcs.value, 'base64'))))
    assert.ok(calls(extendTx).includes('system::extend_blob'), calls(extendTx).join())
    // Another key cannot pass the node's Blob object to extend_blob.
    const stranger = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://unused.invalid', signer: Ed25519Keypair.generate(), suiClient: sui.client })
    sui.chain.fund(stranger.address!, SUI_TYPE, 1_000_000_000n)
    sui.chain.fund(stranger.address!, WAL, 10_000_000_000n)
    sui.chain.add({ objectId: normalizeSuiAddress(`0x${randomBytes(32).toString('hex')}`), type: `0x2::coin::Coin<${WAL}>`, owner: stranger.address!, json: { balance: '10000000000' } })
    await assert.rejects(stranger.extend({ blobId: stored.blobId, objectId: stored.objectId!, currentEndEpoch: 709, endEpoch: 712, size: bytes.length }), { name: 'WalrusError' })
    assert.equal((sui.chain.objects.get(stored.objectId!)!.json.storage as { end_epoch: number }).end_epoch, 709, 'unchanged')

    // Its lifetime, read back from the Blob object on Sui: among the node's own objects, or by object ID from any node.
    const life = await store.lifetime(stored.blobId)
    assert.deepEqual(life, { blobId: stored.blobId, objectId: stored.objectId, size: bytes.length, endEpoch: 709, owner: sui.address, shared: false, expired: false })
    assert.deepEqual(await stranger.lifetime(stored.blobId, { objectId: stored.objectId! }), life)
    await assert.rejects(stranger.lifetime(stored.blobId), { name: 'WalrusError' }, 'a blob the stranger owns no object of, and names no object for, is not known to it')
    await assert.rejects(store.lifetime(blobIdFromBytes(randomBytes(32)), { objectId: stored.objectId! }), { name: 'WalrusProtocolError' }, 'an object that holds another blob is refused')
  })
})

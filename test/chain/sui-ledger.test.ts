import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { bcs } from '@mysten/sui/bcs'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { Transaction } from '@mysten/sui/transactions'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { MAX_ANCHOR_COUNT } from '../../src/chain/validation.js'
import { anchorAttributes, ATTR, attributeBytes, buildAttributesTransaction, MAX_ANCHOR_ATTRIBUTE_BYTES, modelAttributes } from '../../src/chain/sui-ledger.js'
import type { Payment } from '../../src/payments.js'
import { sampleModel } from '../helpers/models.js'
import { CALL_PACKAGE, suiStandIn } from '../helpers/sui-standin.js'

const objectId = (): string => `0x${randomBytes(32).toString('hex')}`
const root = (): string => randomBytes(32).toString('hex')

describe('Sui ledger', () => {
  it('writes references as Blob metadata with insert_or_update_metadata_pair in one transaction, an anchor within 256 bytes', async () => {
    const model = sampleModel()
    const ref = { objectId: objectId(), version: 7, digest: '4XQHFa9SRVmK8zBw8fZrUJnNQbC8f3Kb8vDqWmZ7Tg1K' }
    const tx = buildAttributesTransaction(CALL_PACKAGE, ref, modelAttributes(model))
    const decoded = Transaction.fromKind(await tx.build({ onlyTransactionKind: true })).getData()
    const attributes = modelAttributes(model)
    assert.equal(decoded.commands.length, Object.keys(attributes).length)
    const written: Record<string, string> = {}
    for (const command of decoded.commands) {
      const call = command.MoveCall!
      assert.deepEqual([call.package, call.module, call.function], [CALL_PACKAGE, 'blob', 'insert_or_update_metadata_pair'])
      const [self, key, value] = call.arguments.map(a => decoded.inputs[(a as { Input: number }).Input]!)
      assert.equal(self?.Object?.ImmOrOwnedObject?.objectId, ref.objectId)
      written[bcs.string().parse(Uint8Array.from(Buffer.from(key!.Pure!.bytes, 'base64')))] = bcs.string().parse(Uint8Array.from(Buffer.from(value!.Pure!.bytes, 'base64')))
    }
    assert.deepEqual(written, attributes)
    assert.equal(written[ATTR.chunkHashes], model.chunkHashesBlobId)

    // The largest anchor there can be: the most a proof batch costs on chain.
    const largest = anchorAttributes({ root: 'f'.repeat(64), count: MAX_ANCHOR_COUNT, bundleBlobId: blobIdFromBytes(randomBytes(32)) })
    assert.ok(attributeBytes(largest) <= MAX_ANCHOR_ATTRIBUTE_BYTES, `${attributeBytes(largest)} bytes`)
    assert.equal(MAX_ANCHOR_ATTRIBUTE_BYTES, 256)
  })

  it('registers a model and anchors a bundle over gRPC (simulate, execute, wait), and reads both back through GraphQL', async () => {
    const sui = suiStandIn()
    const ledger = sui.ledger()
    const model = sampleModel({ name: 'ppocr-det', version: '4.0' })
    const modelBlob = sui.addBlob(sui.address, model.blobId)
    const entry = await ledger.registerModel({ ...model, blobObjectId: modelBlob.objectId })

    assert.deepEqual(sui.grpc.methods(), ['BatchGetObjects', 'SimulateTransaction', 'ExecuteTransaction', 'GetTransaction'])
    const simulate = sui.grpc.calls[1]!.request
    assert.equal(simulate.doGasSelection, true, 'the node selects the gas coins')
    assert.equal(simulate.checks, 'ENABLED', 'the simulation runs the checks execution will')
    assert.deepEqual(sui.gql.calls.map(c => c.operationName), ['herdRegistry'], 'the duplicate check is one indexed read')
    assert.equal(sui.gql.calls[0]!.variables.type, `${sui.chain.objects.get(modelBlob.objectId)!.type}`)
    assert.deepEqual(Object.fromEntries(modelBlob.attributes!), modelAttributes(model), 'the Blob carries the entry')
    assert.equal(entry.txId, modelBlob.previousTransaction)
    assert.equal(entry.height, Number(sui.chain.transactions.get(entry.txId)!.checkpoint), 'the receipt names the checkpoint')
    assert.equal(entry.registeredBy, sui.address)

    const found = await ledger.getModel('ppocr-det@4.0')
    assert.deepEqual({ ...found, time: 0 }, { ...entry, time: 0 })
    assert.equal((await ledger.getModel(model.blobId)).name, 'ppocr-det')
    assert.equal((await ledger.getModel('ppocr-det')).version, '4.0')
    await assert.rejects(ledger.getModel('ppocr-det@5'), { name: 'NotFoundError' })
    await assert.rejects(ledger.registerModel({ ...model, blobObjectId: modelBlob.objectId }), { name: 'InvalidTransactionError' }, 'a second registration of name@version is refused')

    const bundleBlobId = blobIdFromBytes(randomBytes(32))
    const bundle = sui.addBlob(sui.address, bundleBlobId)
    const anchorRoot = root()
    const receipt = await ledger.anchor({ root: anchorRoot, count: 256, bundleBlobId, bundleObjectId: bundle.objectId })
    assert.ok(attributeBytes(Object.fromEntries(bundle.attributes!)) <= MAX_ANCHOR_ATTRIBUTE_BYTES)
    const anchor = await ledger.getAnchor(anchorRoot)
    assert.deepEqual([anchor.count, anchor.bundleBlobId, anchor.bundleObjectId, anchor.address, anchor.txId, anchor.height], [256, bundleBlobId, bundle.objectId, sui.address, receipt.txId, receipt.height])
    assert.equal((await ledger.getAnchor(receipt.txId)).root, anchorRoot)
    assert.deepEqual((await ledger.listAnchors(sui.address)).map(a => a.root), [anchorRoot])
    assert.ok(!sui.grpc.methods().includes('ListOwnedObjects'), 'no read scans objects one RPC at a time')
  })

  it('finds entries of trusted publishers across pages, and skips Blob metadata that is not a valid entry', async () => {
    const sui = suiStandIn()
    const publisher = Ed25519Keypair.generate().toSuiAddress()
    for (let i = 0; i < 60; i++) sui.addBlob(publisher, blobIdFromBytes(randomBytes(32))).attributes = new Map([['content-type', 'image/png']])
    const model = sampleModel({ name: 'whisper', version: '3' })
    const blob = sui.addBlob(publisher, model.blobId)
    blob.attributes = new Map(Object.entries(modelAttributes(model)))
    sui.addBlob(publisher, blobIdFromBytes(randomBytes(32))).attributes = new Map(Object.entries({ ...modelAttributes(sampleModel({ name: 'bad' })), [ATTR.chunkRoot]: 'not hex' }))
    const reader = sui.ledger({ signer: undefined, registryOwners: [publisher] })
    const found = await reader.getModel('whisper@3')
    assert.deepEqual([found.blobId, found.registeredBy, found.blobObjectId], [model.blobId, publisher, blob.objectId])
    assert.equal((await reader.getModel(model.blobId)).name, 'whisper')
    assert.deepEqual((await reader.listModels()).map(m => m.name), ['whisper'], 'the malformed entry is not listed')
    assert.ok(sui.gql.calls.some(c => c.variables.after != null), 'the second page was read')
    assert.ok(sui.gql.calls.every(c => c.variables.first === 50))
    await assert.rejects(reader.anchor({ root: root(), count: 1, bundleBlobId: model.blobId, bundleObjectId: blob.objectId }), { name: 'LedgerError' }, 'without a key it is read-only')
    assert.throws(() => sui.ledger({ client: undefined, grpcUrl: 'fullnode.testnet.sui.io:443' }), { name: 'LedgerError' })
    assert.throws(() => sui.ledger({ registryOwners: ['0xnot-an-address'] }), { name: 'InvalidTransactionError' })
  })

  it('refuses a write with no SUI for gas, naming the address and the network, before anything is signed', async () => {
    const sui = suiStandIn({ fundSui: 0n })
    const model = sampleModel()
    const blob = sui.addBlob(sui.address, model.blobId)
    const err = await sui.ledger().registerModel({ ...model, blobObjectId: blob.objectId }).then(() => undefined, (e: unknown) => e) as { name: string, address: string, network: string, message: string }
    assert.equal(err?.name, 'InsufficientGasError')
    assert.equal(err.address, sui.address)
    assert.equal(err.network, 'testnet')
    assert.ok(err.message.includes(sui.address))
    assert.ok(!sui.grpc.methods().includes('ExecuteTransaction'))
    assert.equal(blob.attributes, undefined)
  })

  it('retries when the Blob object changed under the transaction, then gives up with ObjectVersionConflictError', async () => {
    const sui = suiStandIn()
    const model = sampleModel()
    const blob = sui.addBlob(sui.address, model.blobId)
    let moved = 0
    sui.grpc.beforeExecute = () => { if (moved++ === 0) sui.chain.bump(blob.objectId) }
    const entry = await sui.ledger().registerModel({ ...model, blobObjectId: blob.objectId })
    assert.equal(sui.grpc.methods().filter(m => m === 'ExecuteTransaction').length, 2)
    assert.equal(sui.grpc.methods().filter(m => m === 'SimulateTransaction').length, 2, 'rebuilt from the object as it is now')
    assert.equal(entry.txId, blob.previousTransaction)

    const other = sui.addBlob(sui.address, blobIdFromBytes(randomBytes(32)))
    sui.grpc.beforeExecute = () => sui.chain.bump(other.objectId)
    const executions = sui.grpc.methods().filter(m => m === 'ExecuteTransaction').length
    await assert.rejects(sui.ledger({ conflictRetries: 2 }).anchor({ root: root(), count: 1, bundleBlobId: blobIdFromBytes(randomBytes(32)), bundleObjectId: other.objectId }), (err: Error & { attempts: number }) => err.name === 'ObjectVersionConflictError' && err.attempts === 3)
    assert.equal(sui.grpc.methods().filter(m => m === 'ExecuteTransaction').length - executions, 3)
    assert.equal(other.attributes, undefined)

    // The backoff sleeps on the caller's signal: a minute's wait ends when the caller gives up.
    const controller = new AbortController()
    sui.grpc.beforeExecute = () => { sui.chain.bump(other.objectId); setImmediate(() => controller.abort()) }
    await assert.rejects(sui.ledger({ conflictBackoffMs: 60_000 }).anchor({ root: root(), count: 1, bundleBlobId: blobIdFromBytes(randomBytes(32)), bundleObjectId: other.objectId }, { signal: controller.signal }), { name: 'AbortError' })
  })

  it('reports a rejected or failed transaction with the reason Sui gave', async () => {
    const sui = suiStandIn()
    const ledger = sui.ledger()
    const blob = sui.addBlob(sui.address, blobIdFromBytes(randomBytes(32)))
    const anchor = { root: root(), count: 4, bundleBlobId: blobIdFromBytes(randomBytes(32)), bundleObjectId: blob.objectId }

    sui.grpc.failNextExecution = 'MoveAbort in 1st command, abort code: 3, in \'0xca11::metadata::insert_or_update\''
    await assert.rejects(ledger.anchor(anchor), (err: Error & { reason: string, digest: string }) =>
      err.name === 'TransactionRejectedError' && err.reason.includes('abort code: 3') && sui.chain.transactions.get(err.digest)?.success === false)
    assert.equal(blob.attributes, undefined)

    sui.grpc.refuseNextExecution = { code: 'INVALID_ARGUMENT', message: 'Transaction Expired' }
    await assert.rejects(ledger.anchor(anchor), (err: Error & { reason: string }) => err.name === 'TransactionRejectedError' && err.reason.includes('Transaction Expired'))

    sui.grpc.refuseNextExecution = { code: 'UNAVAILABLE', message: 'connection reset' }
    await assert.rejects(ledger.anchor(anchor), { name: 'RetryableLedgerError' }, 'a dropped connection may pass later')

    await ledger.anchor(anchor)
    assert.equal((blob.attributes as Map<string, string> | undefined)?.get(ATTR.root), anchor.root)
  })

  it('writes on the node\'s own Blob object when the caller knows only the blob ID, and tells the gas of every transaction, a failed one too', async () => {
    const sui = suiStandIn()
    const paid: Payment[] = []
    const ledger = sui.ledger({ onPaid: payment => paid.push(payment) })
    const bundleBlobId = blobIdFromBytes(randomBytes(32))
    // Another address's Blob object of the same blob: only its owner can write its attributes.
    sui.addBlob(Ed25519Keypair.generate().toSuiAddress(), bundleBlobId)
    const anchorRoot = root()
    await assert.rejects(ledger.anchor({ root: anchorRoot, count: 3, bundleBlobId }), { name: 'BlobObjectNotFoundError' })
    assert.ok(!sui.grpc.methods().includes('ExecuteTransaction'), 'nothing was signed')

    const own = sui.addBlob(sui.address, bundleBlobId)
    const receipt = await ledger.anchor({ root: anchorRoot, count: 3, bundleBlobId })
    assert.equal(own.attributes?.get(ATTR.root), anchorRoot)
    assert.equal((await ledger.getAnchor(anchorRoot)).bundleObjectId, own.objectId)

    const model = sampleModel({ name: 'pushed-by-publisher' })
    const modelBlob = sui.addBlob(sui.address, model.blobId)
    const entry = await ledger.registerModel(model)
    assert.equal(entry.blobObjectId, modelBlob.objectId)

    sui.grpc.failNextExecution = 'MoveAbort in 1st command, abort code: 3'
    const failed = await ledger.anchor({ root: root(), count: 1, bundleBlobId }).then(() => undefined, (err: unknown) => err) as { name: string, digest: string }
    assert.equal(failed?.name, 'TransactionRejectedError')
    assert.deepEqual(paid.map(p => [p.kind, p.digest, p.suiMist, p.walFrost]), [
      ['anchor', receipt.txId, 1_000_000n, 0n],
      ['registry', entry.txId, 1_000_000n, 0n],
      ['anchor', failed.digest, 1_000_000n, 0n]
    ], 'the gas in each transaction\'s effects, failed ones included')
  })
})

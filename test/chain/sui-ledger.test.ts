import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { bcs } from '@mysten/sui/bcs'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { Transaction } from '@mysten/sui/transactions'
import { normalizeSuiAddress } from '@mysten/sui/utils'
import { MAINNET_WALRUS_PACKAGE_CONFIG, TESTNET_WALRUS_PACKAGE_CONFIG } from '@mysten/walrus'
import Fastify from 'fastify'
import { blobIdFromBytes, blobIdToU256 } from '../../src/blob/blob-id.js'
import { anchorAttributes, ATTR, buildAttributesTransaction, modelAttributes, SuiLedger } from '../../src/chain/sui-ledger.js'
import { sampleModel } from '../helpers/models.js'

const CALL_PACKAGE = normalizeSuiAddress('0xca11')
const TYPE_PACKAGE = normalizeSuiAddress('0x7e9e')
const SYSTEM = TESTNET_WALRUS_PACKAGE_CONFIG.systemObjectId
const objectId = (): string => `0x${randomBytes(32).toString('hex')}`

describe('Sui ledger (offline)', () => {
  it('writes references as Blob metadata with insert_or_update_metadata_pair in one transaction', async () => {
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
    assert.deepEqual(JSON.parse(written[ATTR.inputs]!), model.inputs)
    assert.equal(written['herd:chunk-hashes'], model.chunkHashesBlobId)

    const anchorTx = buildAttributesTransaction(CALL_PACKAGE, ref, anchorAttributes({ root: 'ab'.repeat(32), count: 256, bundleBlobId: blobIdFromBytes(randomBytes(32)) }))
    const anchorData = Transaction.fromKind(await anchorTx.build({ onlyTransactionKind: true })).getData()
    assert.equal(anchorData.commands.length, 3)
  })

  it('reads entries through the JSON-RPC calls it uses, against a local fake', async () => {
    const owner = Ed25519Keypair.generate().toSuiAddress()
    const model = sampleModel({ name: 'ppocr-det', version: '4.0' })
    const root = 'cd'.repeat(32)
    const bundleBlobId = blobIdFromBytes(randomBytes(32))
    const blobs = [
      { id: objectId(), blobId: model.blobId, attributes: modelAttributes(model), tx: 'modelTxDigest' },
      { id: objectId(), blobId: bundleBlobId, attributes: anchorAttributes({ root, count: 16, bundleBlobId }), tx: 'anchorTxDigest' },
      { id: objectId(), blobId: blobIdFromBytes(randomBytes(32)), attributes: { 'content-type': 'image/png' }, tx: 'other' }
    ]
    const calls: string[] = []
    const app = Fastify()
    app.post('/', async request => {
      const { id, method, params } = request.body as { id: number, method: string, params: any[] }
      calls.push(method)
      const result = (() => {
        switch (method) {
          case 'sui_getObject':
            assert.equal(params[0], SYSTEM)
            return { data: { objectId: SYSTEM, version: '1', digest: 'd', content: { dataType: 'moveObject', type: `${TYPE_PACKAGE}::system::System`, fields: { package_id: CALL_PACKAGE } } } }
          case 'suix_getOwnedObjects':
            assert.equal(params[0], owner)
            assert.deepEqual(params[1].filter, { StructType: `${TYPE_PACKAGE}::blob::Blob` })
            return {
              data: blobs.map(b => ({ data: { objectId: b.id, version: '12', digest: 'd', previousTransaction: b.tx, content: { dataType: 'moveObject', type: `${TYPE_PACKAGE}::blob::Blob`, fields: { blob_id: blobIdToU256(b.blobId).toString(), size: '10' } } } })),
              nextCursor: null,
              hasNextPage: false
            }
          case 'suix_getDynamicFieldObject': {
            assert.deepEqual(params[1], { type: 'vector<u8>', value: [...Buffer.from('metadata')] })
            const blob = blobs.find(b => b.id === params[0])!
            const contents = Object.entries(blob.attributes).map(([key, value]) => ({ type: '0x2::vec_map::Entry<0x1::string::String, 0x1::string::String>', fields: { key, value } }))
            return { data: { objectId: objectId(), version: '3', digest: 'd', content: { dataType: 'moveObject', type: 'field', fields: { name: params[1].value, value: { type: `${TYPE_PACKAGE}::metadata::Metadata`, fields: { metadata: { type: '0x2::vec_map::VecMap', fields: { contents } } } } } } } }
          }
          default:
            throw new Error(`unexpected call ${method}`)
        }
      })()
      return { jsonrpc: '2.0', id, result }
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    const ledger = new SuiLedger({ url, network: 'testnet', systemObjectId: SYSTEM, registryOwners: [owner] })
    try {
      const models = await ledger.listModels()
      assert.equal(models.length, 1)
      assert.equal(models[0]!.blobId, model.blobId, 'the on-chain u256 maps back to the blob ID')
      assert.deepEqual(models[0]!.inputs, model.inputs)
      assert.equal(models[0]!.chunkHashesBlobId, model.chunkHashesBlobId, 'the chunk hashes blob ID is read back')
      assert.equal(models[0]!.registeredBy, owner)
      assert.equal((await ledger.getModel('ppocr-det@4.0')).chunkRoot, model.chunkRoot)
      assert.equal((await ledger.getModel(model.blobId)).name, 'ppocr-det')
      await assert.rejects(ledger.getModel('ppocr-det@5'), { name: 'NotFoundError' })
      const anchor = await ledger.getAnchor(root)
      assert.deepEqual([anchor.count, anchor.bundleBlobId, anchor.address, anchor.txId], [16, bundleBlobId, owner, 'anchorTxDigest'])
      assert.equal((await ledger.getAnchor('anchorTxDigest')).root, root)
      assert.equal((await ledger.listAnchors(owner)).length, 1)
      assert.deepEqual(new Set(calls), new Set(['sui_getObject', 'suix_getOwnedObjects', 'suix_getDynamicFieldObject']))

      await assert.rejects(ledger.registerModel({ ...model, version: '5', blobObjectId: blobs[0]!.id }), { name: 'LedgerError' })
      const writer = new SuiLedger({ url, network: 'testnet', systemObjectId: SYSTEM, signer: Ed25519Keypair.generate() })
      await assert.rejects(writer.registerModel({ ...model, version: '5' }), { name: 'InvalidTransactionError' })
      await assert.rejects(writer.anchor({ root, count: 1, bundleBlobId }), { name: 'InvalidTransactionError' })
    } finally {
      await app.close()
    }
  })

  it('ships the real Walrus package configuration in the testnet and mainnet profiles', async () => {
    for (const [name, expected] of [['testnet', TESTNET_WALRUS_PACKAGE_CONFIG], ['mainnet', MAINNET_WALRUS_PACKAGE_CONFIG]] as const) {
      const profile = JSON.parse(await readFile(new URL(`../../../config/${name}.json`, import.meta.url), 'utf8'))
      assert.deepEqual(profile.sui.walrusPackage, expected, name)
      assert.match(profile.sui.rpc, /^https:\/\//)
    }
  })
})

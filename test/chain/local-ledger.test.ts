import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { Level } from 'level'
import { blobIdFromBytes, blobIdToBytes } from '../../src/blob/blob-id.js'
import { encodeSignedTx, decodeSignedTx } from '../../src/chain/codec.js'
import { HttpLedger } from '../../src/chain/http-ledger.js'
import { ChainStore, STORE_VERSION } from '../../src/chain/local/chain-store.js'
import { LedgerServer } from '../../src/chain/local/server.js'
import { verifyChain } from '../../src/chain/local/verify.js'
import { LocalLedger } from '../../src/chain/local-ledger.js'
import { loadOrCreateNodeKey } from '../../src/chain/node-key.js'
import { signTx } from '../../src/chain/signing.js'
import type { Ledger, ModelInput } from '../../src/chain/types.js'
import { tempDir } from '../helpers/devnet.js'
import { sampleModel } from '../helpers/models.js'

const hex32 = (): string => randomBytes(32).toString('hex')

async function exercise (ledger: Ledger, reader: Ledger): Promise<void> {
  const v1 = sampleModel()
  const v2 = sampleModel({ version: '2' })
  const entry = await ledger.registerModel(v1)
  assert.equal(entry.registeredBy, ledger.address)
  assert.equal(entry.height, 0)
  await ledger.registerModel(v2)
  assert.equal((await reader.getModel('tiny-mlp')).version, '2', 'a bare name is the latest version')
  assert.equal((await reader.getModel('tiny-mlp@1')).blobId, v1.blobId)
  assert.deepEqual((await reader.getModel(v1.blobId)).inputs, v1.inputs)
  assert.equal((await reader.listModels()).length, 2)
  await assert.rejects(ledger.registerModel({ ...v1, blobId: blobIdFromBytes(randomBytes(32)) }), { name: 'DuplicateModelError' })
  await assert.rejects(reader.getModel('tiny-mlp@9'), { name: 'NotFoundError' })
  await assert.rejects(reader.getModel('Bad Name'), { name: 'InvalidModelRefError' })
  await assert.rejects(reader.getModel('..'), { name: 'InvalidModelRefError' })

  const bundle = blobIdFromBytes(randomBytes(32))
  const root = hex32()
  const receipt = await ledger.anchor({ root, count: 256, bundleBlobId: bundle })
  assert.equal(receipt.address, ledger.address)
  assert.equal(receipt.height, 2)
  assert.match(receipt.txId, /^[1-9A-HJ-NP-Za-km-z]{43,44}$/)
  assert.deepEqual((await reader.getAnchor(root)).bundleBlobId, bundle)
  assert.equal((await reader.getAnchor(receipt.txId)).root, root)
  assert.deepEqual((await reader.listAnchors(ledger.address!)).map(a => a.root), [root])
  assert.deepEqual(await reader.listAnchors(Ed25519Keypair.generate().toSuiAddress()), [])
  await assert.rejects(ledger.anchor({ root, count: 1, bundleBlobId: bundle }), { name: 'DuplicateAnchorError' })

  for (const bad of [
    { root: 'xyz', count: 1, bundleBlobId: bundle },
    { root: hex32(), count: 0, bundleBlobId: bundle },
    { root: hex32(), count: 1, bundleBlobId: 'not-a-blob' as any }
  ]) await assert.rejects(ledger.anchor(bad), { name: 'InvalidTransactionError' })
  await assert.rejects(ledger.registerModel(sampleModel({ name: 'UPPER' })), { name: 'InvalidTransactionError' })
  await assert.rejects(ledger.registerModel(sampleModel({ version: '3', inputs: Array.from({ length: 65 }, (_, i) => ({ name: `i${i}`, type: 'float32', shape: [] })) })), { name: 'InvalidTransactionError' })
  const { chunkHashesBlobId: _, ...withoutHashes } = sampleModel({ version: '3' })
  const refused = async (model: ModelInput, message: RegExp): Promise<void> => {
    await assert.rejects(ledger.registerModel(model), (err: Error) => err.name === 'InvalidTransactionError' && /chunkHashesBlobId/.test(err.message) && message.test(err.message))
  }
  await refused(withoutHashes as ModelInput, /expected string, received undefined/)
  await refused(sampleModel({ version: '3', chunkHashesBlobId: 'not-a-blob' as any }), /not a Walrus blob ID/)
  await refused(sampleModel({ version: '3', chunkHashesBlobId: blobIdFromBytes(randomBytes(32)).slice(0, 42) as any }), /not a Walrus blob ID/)
  await refused(sampleModel({ version: '3', chunkHashesBlobId: v1.blobId, blobId: v1.blobId }), /not the model blob/)
  assert.equal((await reader.getModel('tiny-mlp@1')).chunkHashesBlobId, v1.chunkHashesBlobId)
  assert.equal((await reader.listModels()).length, 2, 'refused writes wrote nothing')
}

describe('local ledger', () => {
  it('registers models and anchors roots in process', async () => {
    await using dir = await tempDir()
    const ledger = await LocalLedger.open(join(dir.path, 'ledger'), Ed25519Keypair.generate())
    try {
      await exercise(ledger, ledger)
      const report = await verifyChain(ledger.store)
      assert.deepEqual({ valid: report.valid, blocks: report.blocks, models: report.models, anchors: report.anchors }, { valid: true, blocks: 3, models: 2, anchors: 1 })
    } finally {
      await ledger.close()
    }
  })

  it('serves the same ledger over HTTP, checking every signature', async () => {
    await using dir = await tempDir()
    const store = new ChainStore(join(dir.path, 'ledger'))
    await store.open()
    const server = new LedgerServer({ store })
    await server.start()
    const key = Ed25519Keypair.generate()
    const writer = new HttpLedger({ url: server.url, signer: key })
    const reader = new HttpLedger({ url: server.url })
    try {
      await exercise(writer, reader)
      await assert.rejects(reader.anchor({ root: hex32(), count: 1, bundleBlobId: blobIdFromBytes(randomBytes(32)) }), { name: 'LedgerError' })
      const head = store.head()

      const post = async (body: Uint8Array): Promise<Response> => fetch(`${server.url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body })
      const signed = await signTx(key, { kind: 'anchor', anchor: { root: hex32(), count: 3, bundleBlobId: blobIdFromBytes(randomBytes(32)) } })
      const { body, signature } = decodeSignedTx(signed)
      const forged = Uint8Array.from(signature)
      forged[10] = (forged[10] ?? 0) ^ 0xff
      const badSignature = await post(encodeSignedTx(body, forged))
      assert.equal(badSignature.status, 400)
      assert.match((await badSignature.json() as any).error.message, /signature does not verify/)
      const otherKey = Ed25519Keypair.generate().getPublicKey().toRawBytes()
      const swappedKey = Uint8Array.from(signature)
      swappedKey.set(otherKey, 65)
      assert.equal((await post(encodeSignedTx(body, swappedKey))).status, 400)
      assert.equal((await post(Buffer.concat([signed, Buffer.from([0])]))).status, 400, 'trailing bytes')
      assert.equal((await post(randomBytes(200))).status, 400, 'garbage')
      assert.equal((await post(randomBytes(20_000))).status, 413, 'oversized')
      assert.equal((await fetch(`${server.url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 415)
      assert.deepEqual(store.head(), head, 'nothing was written')
      assert.equal((await post(signed)).status, 200, 'the untouched transaction is accepted')

      // The server checks registrations itself, whatever the client did: one signed in the format
      // before chunk hashes (the same fields without chunkHashesBlobId), and one whose two blob IDs are one.
      const model = sampleModel({ version: '7' })
      const { chunkHashesBlobId, blobObjectId: _, ...fields } = model
      const current = decodeSignedTx(await signTx(key, { kind: 'registerModel', model: { ...fields, chunkHashesBlobId } })).body
      const at = Buffer.from(current).indexOf(blobIdToBytes(chunkHashesBlobId))
      const oldBody = Buffer.concat([current.subarray(0, at), current.subarray(at + 32)])
      const oldSigned = encodeSignedTx(oldBody, Buffer.from((await key.signPersonalMessage(oldBody)).signature, 'base64'))
      const oldFormat = await post(oldSigned)
      assert.equal(oldFormat.status, 400)
      assert.equal((await oldFormat.json() as any).error.name, 'InvalidTransactionError')
      const sameBlob = await post(await signTx(key, { kind: 'registerModel', model: { ...fields, chunkHashesBlobId: fields.blobId } }))
      assert.equal(sameBlob.status, 400)
      assert.match((await sameBlob.json() as any).error.message, /chunkHashesBlobId must name the chunk hashes blob/)
      assert.equal((await post(await signTx(key, { kind: 'registerModel', model: { ...fields, chunkHashesBlobId } }))).status, 200)
      assert.equal((await reader.getModel('tiny-mlp@7')).chunkHashesBlobId, chunkHashesBlobId)
      assert.equal((await fetch(`${server.url}/v1/blocks?limit=5000`)).status, 400)
      const report = await verifyChain(reader)
      assert.equal(report.valid, true)
      assert.equal(report.blocks, 5)
    } finally {
      await Promise.all([writer.close(), reader.close()])
      await server.stop()
      await store.close()
    }
  })

  it('refuses a store of another version and one in use', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'ledger')
    const store = new ChainStore(path)
    await store.open()
    await assert.rejects(new ChainStore(path).open(), (err: Error) => err.name === 'LedgerStoreError' && /in use/.test(err.message))
    await store.close()
    assert.equal(STORE_VERSION, '3', 'registrations carry chunkHashesBlobId since version 2, indexes are block heights since 3')
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    await db.put('meta/version', new TextEncoder().encode('1'))
    await db.close()
    await assert.rejects(new ChainStore(path).open(), (err: Error) => err.name === 'LedgerStoreError' && /version 1, this herd reads version 3/.test(err.message))
  })
})

describe('local ledger store version 2', () => {
  it('is moved to version 3 by rebuilding its indexes from the blocks, whatever its old indexes said', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'ledger')
    const key = Ed25519Keypair.generate()
    const ledger = await LocalLedger.open(path, key)
    const model = await ledger.registerModel(sampleModel())
    await ledger.registerModel(sampleModel({ version: '2', blobId: model.blobId }))
    const root = hex32()
    const anchor = await ledger.anchor({ root, count: 7, bundleBlobId: blobIdFromBytes(randomBytes(32)) })
    const truth = { models: await ledger.listModels(), anchors: await ledger.listAnchors(key.toSuiAddress()), latest: await ledger.getModel('tiny-mlp') }
    await ledger.close()

    // Version 2's layout: copies of entries as JSON, name@version and roots in the secondary indexes, one of them forged.
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    const text = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value))
    const old = [...await db.keys().all()].filter(k => !k.startsWith('block/') && !k.startsWith('meta/'))
    await db.batch([
      ...old.map(k => ({ type: 'del' as const, key: k })),
      { type: 'put', key: 'meta/version', value: text('2') },
      { type: 'put', key: 'model/tiny-mlp/1', value: text({ ...model, chunkRoot: 'f'.repeat(64), size: 12345 }) },
      { type: 'put', key: 'model/tiny-mlp/2', value: text(truth.models[1]) },
      { type: 'put', key: 'model-latest/tiny-mlp', value: text('1') },
      { type: 'put', key: `model-blob/${model.blobId}`, value: text('tiny-mlp@1') },
      { type: 'put', key: `anchor/${root}`, value: text(truth.anchors[0]) },
      { type: 'put', key: `anchor-tx/${anchor.txId}`, value: text(root) },
      { type: 'put', key: `addr-anchor/${key.toSuiAddress()}/000000000002`, value: text(root) }
    ])
    await db.close()

    const moved = await LocalLedger.open(path)
    try {
      assert.deepEqual({ models: await moved.listModels(), anchors: await moved.listAnchors(key.toSuiAddress()), latest: await moved.getModel('tiny-mlp') }, truth)
      assert.equal((await moved.getModel(model.blobId)).version, '1', 'a blob ID names its first registration')
      const report = await verifyChain(moved.store)
      assert.deepEqual([report.valid, report.indexEntries], [true, 6])
    } finally {
      await moved.close()
    }
  })
})

describe('node key', () => {
  it('is created once with mode 0600 and read back as the same address', async () => {
    await using dir = await tempDir()
    const first = await loadOrCreateNodeKey(join(dir.path, 'node'))
    const path = join(dir.path, 'node', 'node.key')
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.match(await readFile(path, 'utf8'), /^suiprivkey1/)
    const again = await loadOrCreateNodeKey(join(dir.path, 'node'))
    assert.equal(again.toSuiAddress(), first.toSuiAddress())
    await chmod(path, 0o644)
    await assert.rejects(loadOrCreateNodeKey(join(dir.path, 'node')), { name: 'NodeKeyError' })
    await writeFile(path, 'not a key', { mode: 0o600 })
    await chmod(path, 0o600)
    await assert.rejects(loadOrCreateNodeKey(join(dir.path, 'node')), { name: 'NodeKeyError' })
  })
})

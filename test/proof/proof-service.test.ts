import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import ort from 'onnxruntime-node'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import type { Batcher } from '../../src/proof/batcher.js'
import { ProofService } from '../../src/proof/proof-service.js'
import { ReceiptStore } from '../../src/proof/receipt-store.js'
import { hashTensors } from '../../src/proof/tensor-hash.js'
import { tempDir } from '../helpers/devnet.js'

type Entries = Parameters<ReceiptStore['appendMany']>[0]

/** A started store whose every write first goes through `beforeWrite`, and a started proof service on it. */
async function serviceOver (store: ReceiptStore, beforeWrite: (entries: Entries) => void | Promise<void>): Promise<ProofService> {
  await store.start()
  const appendMany = store.appendMany.bind(store)
  store.appendMany = async entries => { await beforeWrite(entries); await appendMany(entries) }
  const proofs = new ProofService({ signer: Ed25519Keypair.generate(), store, batcher: { notify: () => {} } as unknown as Batcher })
  proofs.start()
  return proofs
}

/** A run of no tensors on a random model: all a receipt needs here. */
const emptyRun = (): Parameters<ProofService['issue']>[0] => ({ modelBlobId: blobIdFromBytes(randomBytes(32)), chunkRoot: '00'.repeat(32), inputs: {}, outputs: {} })

describe('proof service', () => {
  it('with logged durability, a receipt answered and not yet written is looked up as queued, not unknown', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: join(dir.path, 'proofs'), durability: 'logged' })
    // The write behind the reply waits here, as a slow disk would make it.
    const gate = Promise.withResolvers<void>()
    const proofs = await serviceOver(store, async () => { await gate.promise })
    try {
      const receipt = await proofs.issue(emptyRun())
      assert.equal(await store.get(receipt.id), undefined, 'not written yet')
      assert.deepEqual(await proofs.lookup(receipt.id), { state: 'queued', receiptId: receipt.id })
      assert.equal(await proofs.lookup('ab'.repeat(32)), undefined, 'a receipt never issued is still unknown')
      // What /status adds to the store's queue: read here, the store alone said nothing was queued.
      assert.equal(store.queued().count, 0)
      assert.equal(proofs.unwrittenStats().count, 1)
      assert.ok(proofs.unwrittenStats().bytes > 0)
      gate.resolve()
      await proofs.stop()
      assert.deepEqual(proofs.unwrittenStats(), { count: 0, bytes: 0 })
      assert.deepEqual(await proofs.lookup(receipt.id), { state: 'queued', receiptId: receipt.id })
    } finally {
      gate.resolve()
      await store.stop()
    }
  })
  it('with logged durability, the write behind a reply starts only once the reply has reached its caller', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: join(dir.path, 'proofs'), durability: 'logged' })
    // Records when the store is first asked to write, against when the caller has its receipt.
    const order: string[] = []
    const proofs = await serviceOver(store, () => { order.push('write') })
    try {
      // Several awaits between the service and the caller, as the inference service and a stream handler add.
      const reply = async (): Promise<string> => {
        const receipt = await proofs.issue(emptyRun())
        return receipt.id
      }
      const id = await (async () => await (async () => await reply())())()
      order.push('reply')
      await proofs.stop()
      assert.deepEqual(order, ['reply', 'write'])
      assert.equal((await store.get(id))?.state, 'queued', 'written once the reply has gone')
    } finally {
      await store.stop()
    }
  })
  it('with logged durability, receipts answered a turn of the event loop apart are written together, not one write each', async () => {
    await using dir = await tempDir()
    // A long sync interval is the join window: every receipt below is answered within it.
    const store = new ReceiptStore({ dir: join(dir.path, 'proofs'), durability: 'logged', syncIntervalMs: 1_000 })
    const writes: number[] = []
    const proofs = await serviceOver(store, entries => { writes.push(entries.length) })
    try {
      const ids: string[] = []
      for (let i = 0; i < 4; i++) {
        ids.push((await proofs.issue(emptyRun())).id)
        // The next request arrives after the loop has turned, as one from a peer does.
        await new Promise(resolve => setImmediate(resolve))
      }
      assert.deepEqual(writes, [], 'fewer than the join count wait for the window')
      // stop() writes what is waiting without waiting out the window.
      await proofs.stop()
      assert.deepEqual(writes, [4])
      for (const id of ids) assert.equal((await store.get(id))?.state, 'queued')
    } finally {
      await store.stop()
    }
  })
  it('with logged durability, receipts answered while a write runs join the next write rather than following it one by one', async () => {
    await using dir = await tempDir()
    // A long sync interval: only the join count starts a write below.
    const store = new ReceiptStore({ dir: join(dir.path, 'proofs'), durability: 'logged', syncIntervalMs: 1_000 })
    const writes: number[] = []
    // Each write takes longer than the gap between replies, as a level write does beside quick runs.
    const proofs = await serviceOver(store, async entries => { writes.push(entries.length); await new Promise(resolve => setTimeout(resolve, 4)) })
    try {
      const ids: string[] = []
      for (let i = 0; i < 64; i++) {
        ids.push((await proofs.issue(emptyRun())).id)
        await new Promise(resolve => setTimeout(resolve, 2))
      }
      await proofs.stop()
      assert.equal(writes.reduce((n, w) => n + w, 0), 64, 'every receipt answered is written once')
      // 16 a write, and the rest at stop(): taken as they came, the writes after the first would hold one or two each.
      assert.ok(writes.length <= 6, `${writes.length} writes of ${writes.join(', ')} receipts`)
      for (const id of ids) assert.equal((await store.get(id))?.state, 'queued')
    } finally {
      await store.stop()
    }
  })
  it('with logged durability, stop() also writes the receipts answered while its write ran', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: join(dir.path, 'proofs'), durability: 'logged', syncIntervalMs: 1_000 })
    const gate = Promise.withResolvers<void>()
    const started = Promise.withResolvers<void>()
    const writes: number[] = []
    const proofs = await serviceOver(store, async entries => { writes.push(entries.length); started.resolve(); await gate.promise })
    const issue = async (): Promise<string> => (await proofs.issue(emptyRun())).id
    try {
      const first = await issue()
      const stopping = proofs.stop()
      await started.promise
      const second = await issue()
      gate.resolve()
      await stopping
      assert.deepEqual(writes, [1, 1])
      for (const id of [first, second]) assert.equal((await store.get(id))?.state, 'queued')
    } finally {
      gate.resolve()
      await store.stop()
    }
  })
  it('takes inputs prepared from the same record as they are, and hashes any other record itself', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: join(dir.path, 'proofs') })
    await store.start()
    const proofs = new ProofService({ signer: Ed25519Keypair.generate(), store, batcher: { notify: () => {} } as unknown as Batcher })
    proofs.start()
    try {
      const x = { x: new ort.Tensor('float32', new Float32Array([1, 2, 3]), [3]) }
      const y = { x: new ort.Tensor('float32', new Float32Array([4, 5, 6]), [3]) }
      const run = { modelBlobId: blobIdFromBytes(randomBytes(32)), chunkRoot: '00'.repeat(32), outputs: y }
      const plain = await proofs.issue({ ...run, inputs: x })
      const prepared = await proofs.issue({ ...run, inputs: x, preparedInputs: proofs.prepareInputs(x) })
      assert.deepEqual(prepared.receipt.inputsHash, hashTensors(x))
      assert.deepEqual(prepared.receipt.inputsHash, plain.receipt.inputsHash)
      // Prepared from another record (or anything else), it is not trusted to stand for these inputs.
      for (const other of [proofs.prepareInputs(y), { hash: new Uint8Array(32) }]) {
        assert.deepEqual((await proofs.issue({ ...run, inputs: x, preparedInputs: other })).receipt.inputsHash, hashTensors(x))
      }
    } finally {
      await proofs.stop()
      await store.stop()
    }
  })
})

import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Level } from 'level'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { toHex } from '../../src/blob/chunk-tree.js'
import type { AnchorReceipt } from '../../src/chain/types.js'
import { receiptRoot } from '../../src/proof/bundle.js'
import { RECEIPT_STORE_VERSION } from '../../src/proof/constants.js'
import { signReceipt } from '../../src/proof/receipt.js'
import { ReceiptStore, type QueuedReceipt } from '../../src/proof/receipt-store.js'
import { waitFor } from '../../harness/in-process-mesh.js'
import { tempDir } from '../helpers/devnet.js'

/** Stand-in SignedReceipt bytes: the store never decodes them. */
function fakeReceipt (seq: bigint, tensors = true): QueuedReceipt {
  const bytes = Buffer.concat([Buffer.from(`fake-receipt-${seq}-`), randomBytes(40)])
  const receipt: QueuedReceipt = { id: createHash('sha256').update(bytes).digest('hex'), seq, bytes }
  if (tensors) {
    receipt.inputs = randomBytes(24)
    receipt.outputs = randomBytes(8)
  }
  return receipt
}

const fakeAnchor = (): AnchorReceipt => ({ ledger: 'local', txId: 'tx' + randomBytes(8).toString('hex'), height: 7, time: Date.now(), address: '0x' + randomBytes(32).toString('hex') })
const rootOf = (receipts: QueuedReceipt[]): string => toHex(receiptRoot(receipts.map(r => r.bytes)))

function sameReceipt (actual: QueuedReceipt | undefined, expected: QueuedReceipt): void {
  assert.ok(actual != null)
  assert.equal(actual.id, expected.id)
  assert.equal(actual.seq, expected.seq)
  assert.deepEqual(Buffer.from(actual.bytes), Buffer.from(expected.bytes))
  assert.deepEqual(actual.inputs != null ? Buffer.from(actual.inputs) : undefined, expected.inputs != null ? Buffer.from(expected.inputs) : undefined)
  assert.deepEqual(actual.outputs != null ? Buffer.from(actual.outputs) : undefined, expected.outputs != null ? Buffer.from(expected.outputs) : undefined)
}

describe('receipt store', () => {
  it('queues receipts in seq order and continues the seq after a restart, never reusing one', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    let store = new ReceiptStore({ dir: path })
    await store.start()
    assert.equal(store.lastSeq(), 0n)
    const receipts = [1n, 2n, 3n, 4n, 5n].map(seq => fakeReceipt(seq, seq % 2n === 1n))
    for (const receipt of receipts) await store.append(receipt)
    assert.equal(store.lastSeq(), 5n)
    const stats = store.queued()
    assert.equal(stats.count, 5)
    assert.ok(stats.bytes > receipts.reduce((sum, r) => sum + r.bytes.length, 0))
    const taken = await store.take(3)
    assert.equal(taken.length, 3)
    taken.forEach((r, i) => { sameReceipt(r, receipts[i] as QueuedReceipt) })
    assert.equal(store.queued().count, 5, 'take removes nothing')
    const found = await store.get(receipts[1]!.id)
    assert.equal(found?.state, 'queued')
    assert.deepEqual(Buffer.from(found.receipt), Buffer.from(receipts[1]!.bytes))
    assert.equal(await store.get(createHash('sha256').update('unknown').digest('hex')), undefined)

    await assert.rejects(store.append(fakeReceipt(5n)), { name: 'ReceiptSeqError' })
    await assert.rejects(store.append(fakeReceipt(2n)), { name: 'ReceiptSeqError' })
    await assert.rejects(store.append({ ...receipts[0]!, seq: 6n }), { name: 'DuplicateReceiptError' })
    await assert.rejects(store.append({ ...fakeReceipt(6n), id: 'not-hex' }), { name: 'ProofFormatError' })
    await assert.rejects(store.append(fakeReceipt(2n ** 64n)), { name: 'ReceiptSeqError' })
    await store.stop()
    await assert.rejects(store.take(1), { name: 'ReceiptStoreClosedError' })

    store = new ReceiptStore({ dir: path })
    await store.start()
    assert.equal(store.lastSeq(), 5n, 'the last seq survives a restart')
    assert.deepEqual(store.queued(), stats)
    const again = await store.take(10)
    assert.equal(again.length, 5)
    again.forEach((r, i) => { sameReceipt(r, receipts[i] as QueuedReceipt) })
    await assert.rejects(store.append(fakeReceipt(5n)), { name: 'ReceiptSeqError' })
    await store.append(fakeReceipt(9n))
    assert.equal(store.lastSeq(), 9n, 'gaps are allowed, going back is not')
    await store.stop()
  })

  it('refuses a store of another version, data that is not a receipt store, and a store in use', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    const store = new ReceiptStore({ dir: path })
    await store.start()
    await assert.rejects(new ReceiptStore({ dir: path }).start(), { name: 'ReceiptStoreError' }, 'a second process is refused')
    await store.stop()

    const db = new Level<string, string>(path)
    assert.equal(await db.get('version'), String(RECEIPT_STORE_VERSION))
    await db.put('version', String(RECEIPT_STORE_VERSION + 1))
    await db.close()
    await assert.rejects(new ReceiptStore({ dir: path }).start(), (err: Error) => err.name === 'ReceiptStoreError' && /version/.test(err.message))

    const other = new Level<string, string>(join(dir.path, 'other'))
    await other.put('something', 'else')
    await other.close()
    await assert.rejects(new ReceiptStore({ dir: join(dir.path, 'other') }).start(), { name: 'ReceiptStoreError' })
  })

  it('refuses appends past its receipt and byte limits, and reports them', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: join(dir.path, 'a'), maxQueued: 3 })
    await store.start()
    for (const seq of [1n, 2n, 3n]) await store.append(fakeReceipt(seq))
    await assert.rejects(store.append(fakeReceipt(4n)), { name: 'ReceiptQueueFullError' })
    assert.equal(store.lastSeq(), 3n, 'a refused receipt takes no seq')
    // Each receipt's 32 bytes of tensors are one 56-byte record in a segment.
    assert.deepEqual({ ...store.queued(), bytes: 0 }, { count: 3, bytes: 0, segmentBytes: 3 * 56, limit: 3, limitBytes: 4 * 1024 ** 3, rejected: 1, setAside: 0, sealing: 0, sealingBytes: 0 })
    await store.stop()

    const small = new ReceiptStore({ dir: join(dir.path, 'b'), maxQueuedBytes: 400 })
    await small.start()
    await small.append(fakeReceipt(1n))
    await small.append(fakeReceipt(2n))
    await assert.rejects(small.append({ ...fakeReceipt(3n), inputs: randomBytes(200) }), { name: 'ReceiptQueueFullError' })
    await small.append(fakeReceipt(3n, false))
    assert.equal(small.queued().rejected, 1)
    assert.ok(small.queued().bytes <= 400)
    await small.stop()
  })

  it('requeues receipts set aside only as far as the queue limit allows, keeping the rest aside', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: join(dir.path, 'receipts'), maxQueued: 3 })
    await store.start()
    try {
      for (const seq of [1n, 2n, 3n]) await store.append(fakeReceipt(seq))
      const batch = await store.take(3)
      await store.setAside(await store.beginBatch({ receipts: batch, root: rootOf(batch), bundleBytesHash: createHash('sha256').update('bundle').digest('hex') }), 'refused')
      assert.deepEqual([store.queued().count, store.queued().setAside], [0, 3])
      await store.append(fakeReceipt(4n))
      assert.deepEqual(await store.requeueSetAside(), { requeued: 2, left: 1 })
      assert.deepEqual([store.queued().count, store.queued().setAside], [3, 1])
      const states = await Promise.all(batch.map(async r => (await store.get(r.id))?.state))
      assert.deepEqual([...states].sort(), ['aside', 'queued', 'queued'])
      // Back in the queue without their tensors, under their own seqs.
      const queued = await store.take(3)
      assert.deepEqual(queued.map(r => r.seq).sort(), [...batch.filter((_, i) => states[i] === 'queued').map(r => r.seq), 4n].sort())
      assert.ok(queued.filter(r => r.seq !== 4n).every(r => r.inputs == null && r.outputs == null))
    } finally {
      await store.stop()
    }
  })

  it('keeps batches sealed side by side apart, across restarts, and reads a version 2 store\'s one batch', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    let store = new ReceiptStore({ dir: path })
    await store.start()
    const receipts = [1n, 2n, 3n, 4n, 5n, 6n, 7n].map(seq => fakeReceipt(seq))
    for (const receipt of receipts) await store.append(receipt)
    const bundleBytesHash = createHash('sha256').update('bundle').digest('hex')
    const first = await store.take(3)
    const firstId = await store.beginBatch({ receipts: first, root: rootOf(first), bundleBytesHash })
    const second = await store.take(3)
    assert.deepEqual(second.map(r => r.seq), [4n, 5n, 6n], 'a second batch takes what the first did not')
    const secondId = await store.beginBatch({ receipts: second, root: rootOf(second), bundleBytesHash })
    assert.deepEqual((await store.take(10)).map(r => r.seq), [7n])
    const perRecord = store.queued().bytes / 7
    assert.deepEqual([store.queued().count, store.queued().sealing, store.queued().sealingBytes], [7, 6, perRecord * 6])
    await store.stop()

    store = new ReceiptStore({ dir: path })
    await store.start()
    assert.deepEqual((await store.pendingBatches()).map(b => b.id), [firstId, secondId], 'both batches, oldest first')
    assert.deepEqual([store.queued().sealing, store.queued().sealingBytes], [6, perRecord * 6])
    await store.setBundleBlobId(secondId, blobIdFromBytes(randomBytes(32)))
    await store.finishBatch(secondId, fakeAnchor())
    assert.equal(await store.oldestQueuedSeq(), 1n, 'the first batch is still queued')
    assert.deepEqual((await store.pendingBatches()).map(b => b.id), [firstId])
    assert.equal((await store.get(receipts[4]!.id))?.state, 'sealed')
    assert.equal((await store.get(receipts[0]!.id))?.state, 'sealing')
    await store.stop()

    // Version 2 kept its one batch under `batch`: a store left so by an older herd is read, and moved to the new key.
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const record = await db.get(`batch/${firstId}`)
    assert.ok(record != null)
    await db.batch([{ type: 'del', key: `batch/${firstId}` }, { type: 'put', key: 'batch', value: record }, { type: 'put', key: 'version', value: Buffer.from('2') }])
    await db.close()
    store = new ReceiptStore({ dir: path })
    await store.start()
    const pending = await store.pendingBatches()
    assert.deepEqual(pending.map(b => b.id), [firstId])
    pending[0]!.receipts.forEach((r, i) => { sameReceipt(r, receipts[i] as QueuedReceipt) })
    await store.abandonBatch(firstId)
    assert.deepEqual([store.queued().count, store.queued().sealing, store.queued().sealingBytes], [4, 0, 0])
    assert.deepEqual((await store.take(10)).map(r => r.seq), [1n, 2n, 3n, 7n])
    await store.stop()
    const after = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    assert.equal(await after.get('batch'), undefined, 'the old key is gone')
    assert.equal(Buffer.from((await after.get('version'))!).toString(), String(RECEIPT_STORE_VERSION))
    await after.close()
  })

  it('records a batch before sealing it, and keeps it across restarts until it is finished', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    let store = new ReceiptStore({ dir: path })
    await store.start()
    const receipts = [1n, 2n, 3n, 4n, 5n, 6n].map(seq => fakeReceipt(seq))
    for (const receipt of receipts) await store.append(receipt)
    const batch = await store.take(4)
    const root = rootOf(batch)
    const bundleBytesHash = createHash('sha256').update('bundle').digest('hex')
    await assert.rejects(store.beginBatch({ receipts: batch, root: rootOf(batch.slice(1)), bundleBytesHash }), { name: 'ReceiptBatchError' }, 'the root must be the batch\'s')
    await assert.rejects(store.beginBatch({ receipts: [fakeReceipt(99n)], root: rootOf([fakeReceipt(99n)]), bundleBytesHash }), { name: 'ReceiptBatchError' })
    const batchId = await store.beginBatch({ receipts: batch, root, bundleBytesHash, includeTensors: false })
    assert.equal((await store.get(receipts[0]!.id))?.state, 'sealing')
    assert.equal((await store.get(receipts[5]!.id))?.state, 'queued')
    assert.deepEqual((await store.take(10)).map(r => r.seq), [5n, 6n], 'receipts being sealed are not taken again')
    const rest = await store.take(10)
    const overlapping = [batch[3]!, ...rest]
    await assert.rejects(store.beginBatch({ receipts: overlapping, root: rootOf(overlapping), bundleBytesHash }), { name: 'ReceiptBatchError' }, 'a receipt is in one batch at most')
    await store.stop()

    store = new ReceiptStore({ dir: path })
    await store.start()
    let pending = (await store.pendingBatches())[0]
    assert.ok(pending != null)
    assert.equal(pending.id, batchId)
    assert.equal(pending.root, root)
    assert.equal(pending.bundleBytesHash, bundleBytesHash)
    assert.equal(pending.includeTensors, false)
    assert.equal(pending.bundleBlobId, undefined)
    pending.receipts.forEach((r, i) => { sameReceipt(r, receipts[i] as QueuedReceipt) })
    assert.equal((await store.get(receipts[3]!.id))?.state, 'sealing')

    const blobId = blobIdFromBytes(randomBytes(32))
    await assert.rejects(store.finishBatch(batchId, fakeAnchor()), { name: 'ReceiptBatchError' }, 'not before the bundle is stored')
    await assert.rejects(store.setBundleBlobId(batchId, 'nope'), { name: 'ReceiptBatchError' })
    await assert.rejects(store.setBundleBlobId(rootOf(rest), blobId), { name: 'ReceiptBatchError' })
    await store.setBundleBlobId(batchId, blobId)
    await store.setBundleBlobId(batchId, blobId)
    await assert.rejects(store.setBundleBlobId(batchId, blobIdFromBytes(randomBytes(32))), { name: 'ReceiptBatchError' })
    await store.stop()

    store = new ReceiptStore({ dir: path })
    await store.start()
    pending = (await store.pendingBatches())[0]
    assert.equal(pending?.bundleBlobId, blobId)
    const before = store.queued()
    const anchor = fakeAnchor()
    await store.finishBatch(batchId, anchor)
    assert.equal((await store.pendingBatches())[0], undefined)
    assert.equal(store.queued().count, 2)
    assert.equal(store.queued().bytes, before.bytes / 6 * 2, 'the six records are the same size; two are left')
    for (const [index, receipt] of receipts.slice(0, 4).entries()) {
      const found = await store.get(receipt.id)
      assert.equal(found?.state, 'sealed')
      assert.deepEqual(found.sealed, { receiptId: receipt.id, bundleBlobId: blobId, index, leafCount: 4, root, anchor })
      assert.deepEqual(Buffer.from(found.receipt), Buffer.from(receipt.bytes))
      assert.deepEqual(found.signedReceiptsOfBundle.map(b => Buffer.from(b)), batch.map(r => Buffer.from(r.bytes)))
    }
    assert.deepEqual((await store.bundleReceipts(blobId)).map(b => Buffer.from(b)), batch.map(r => Buffer.from(r.bytes)))
    assert.deepEqual(await store.bundleReceipts(blobIdFromBytes(randomBytes(32))), [])
    await assert.rejects(store.finishBatch(batchId, anchor), { name: 'ReceiptBatchError' }, 'a batch is finished once')
    await assert.rejects(store.append({ ...receipts[0]!, seq: 7n }), { name: 'DuplicateReceiptError' }, 'a sealed receipt is not queued again')
    await store.stop()

    store = new ReceiptStore({ dir: path })
    await store.start()
    assert.equal((await store.get(receipts[2]!.id))?.sealed?.index, 2)
    assert.deepEqual((await store.take(10)).map(r => r.seq), [5n, 6n])
    assert.equal(store.lastSeq(), 6n)
    await store.stop()
  })
})

describe('receipt store: pruning sealed bundles', () => {
  async function sealTwo (store: ReceiptStore): Promise<{ receipts: QueuedReceipt[], blobId: string }> {
    const receipts = [fakeReceipt(store.lastSeq() + 1n), fakeReceipt(store.lastSeq() + 2n)]
    for (const receipt of receipts) await store.append(receipt)
    const batch = await store.take(2)
    const batchId = await store.beginBatch({ receipts: batch, root: rootOf(batch), bundleBytesHash: createHash('sha256').update('b').digest('hex') })
    const blobId = blobIdFromBytes(randomBytes(32))
    await store.setBundleBlobId(batchId, blobId)
    await store.finishBatch(batchId, fakeAnchor())
    return { receipts, blobId }
  }

  it('forgets a bundle and its receipts, also one sealed before receipt IDs were kept with their bundle', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    let store = new ReceiptStore({ dir: path })
    await store.start()
    const old = await sealTwo(store)
    const kept = await sealTwo(store)
    await store.stop()
    // As a store written before bundle-ids existed would hold it.
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.del(`bundle-ids/${old.blobId}`)
    await db.close()

    store = new ReceiptStore({ dir: path })
    await store.start()
    assert.deepEqual(await store.pruneSealed(Date.now() + 1), { bundles: 2, receipts: 4 })
    for (const receipt of [...old.receipts, ...kept.receipts]) assert.equal(await store.get(receipt.id), undefined)
    assert.deepEqual(await store.bundleReceipts(old.blobId), [])
    assert.deepEqual(await store.pruneSealed(Date.now() + 1), { bundles: 0, receipts: 0 })
    // Queued receipts are untouched, and the seq goes on.
    const next = fakeReceipt(store.lastSeq() + 1n)
    await store.append(next)
    assert.equal((await store.get(next.id))?.state, 'queued')
    await store.stop()
  })
})

describe('receipt store: group commit', () => {
  it('queues several receipts in one write, all or none', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: dir.path, maxQueued: 5 })
    await store.start()
    try {
      const receipt = (seq: bigint) => ({ id: createHash('sha256').update(`r${seq}`).digest('hex'), seq, bytes: new Uint8Array([1, 2, Number(seq)]) })
      await store.appendMany([receipt(1n), receipt(2n), receipt(3n)])
      assert.equal(store.lastSeq(), 3n)
      assert.equal(store.queued().count, 3)
      // Out of order, a reused seq, or past the limit: nothing of the group is written.
      await assert.rejects(store.appendMany([receipt(5n), receipt(4n)]), { name: 'ReceiptSeqError' })
      await assert.rejects(store.appendMany([receipt(4n), receipt(3n)]), { name: 'ReceiptSeqError' })
      await assert.rejects(store.appendMany([receipt(4n), receipt(5n), receipt(6n)]), { name: 'ReceiptQueueFullError' })
      assert.equal(store.queued().count, 3)
      assert.equal(store.lastSeq(), 3n)
      await store.appendMany([receipt(4n), receipt(5n)])
      assert.deepEqual((await store.take(10)).map(r => r.seq), [1n, 2n, 3n, 4n, 5n])
    } finally {
      await store.stop()
    }
  })
})

describe('receipt store: durability', () => {
  it('logged: appends wait for no sync, at most maxUnsynced wait, and a sync follows within the interval', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: dir.path, durability: 'logged', syncIntervalMs: 20, maxUnsynced: 4 })
    await store.start()
    try {
      const syncsAtStart = store.syncCount()
      const seen: number[] = []
      // Appended back to back, well within one interval: the fifth would pass the window, so it is synced with the four before it.
      for (let seq = 1n; seq <= 6n; seq++) {
        await store.append(fakeReceipt(seq))
        seen.push(store.unsynced())
      }
      assert.deepEqual(seen, [1, 2, 3, 4, 0, 1])
      assert.equal(store.syncCount(), syncsAtStart + 1)
      // The timer's sync: counted by events, not timed.
      await waitFor('the timed sync', () => store.unsynced() === 0, 10_000, 5)
      assert.equal(store.syncCount(), syncsAtStart + 2)
      assert.equal(store.queued().count, 6)
    } finally {
      await store.stop()
    }
  })

  it('strict: every append is synced before it resolves', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: dir.path, durability: 'strict' })
    await store.start()
    try {
      const syncsAtStart = store.syncCount()
      for (let seq = 1n; seq <= 3n; seq++) {
        await store.append(fakeReceipt(seq))
        assert.equal(store.unsynced(), 0)
      }
      assert.equal(store.syncCount(), syncsAtStart + 3)
    } finally {
      await store.stop()
    }
  })

  it('syncs logged appends when it stops, and keeps them across a restart', async () => {
    await using dir = await tempDir()
    let store = new ReceiptStore({ dir: dir.path, durability: 'logged', syncIntervalMs: 1_000 })
    await store.start()
    const receipts = [1n, 2n, 3n].map(seq => fakeReceipt(seq))
    await store.appendMany(receipts)
    assert.equal(store.unsynced(), 3)
    await store.stop()
    assert.equal(store.unsynced(), 0)
    store = new ReceiptStore({ dir: dir.path, durability: 'logged' })
    await store.start()
    try {
      for (const receipt of receipts) assert.equal((await store.get(receipt.id))?.state, 'queued')
      assert.equal(store.lastSeq(), 3n)
    } finally {
      await store.stop()
    }
  })

  it('refuses an unknown durability, a sync interval and a window out of range', () => {
    for (const init of [{ durability: 'eventually' }, { syncIntervalMs: 0 }, { syncIntervalMs: 1_001 }, { maxUnsynced: 0 }, { maxUnsynced: 1.5 }]) {
      assert.throws(() => new ReceiptStore({ dir: '/nonexistent', ...init } as ConstructorParameters<typeof ReceiptStore>[0]), { name: 'RangeError' }, JSON.stringify(init))
    }
  })
})

describe('receipt store: signed receipts', () => {
  it('queues a signed receipt only under the seq it signs and the ID it hashes to', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: dir.path })
    await store.start()
    try {
      const signer = Ed25519Keypair.generate()
      const sign = async (seq: bigint) => signReceipt({
        modelBlobId: blobIdFromBytes(randomBytes(32)), chunkRoot: '00'.repeat(32), inputsHash: new Uint8Array(32), outputsHash: new Uint8Array(32),
        nodePublicKey: signer.getPublicKey().toRawBytes(), time: Date.now(), seq
      }, signer)
      const first = await sign(1n)
      await store.append({ id: first.id, seq: 1n, bytes: first.bytes })
      // Under another seq its ID would not be bound to its place in the queue.
      const second = await sign(2n)
      await assert.rejects(store.append({ id: second.id, seq: 3n, bytes: second.bytes }), { name: 'ReceiptSeqError' })
      await assert.rejects(store.append({ id: 'ab'.repeat(32), seq: 2n, bytes: second.bytes }), { name: 'ProofFormatError' })
      assert.equal(store.queued().count, 1)
      await store.appendMany([{ id: second.id, seq: 2n, bytes: second.bytes }])
      assert.deepEqual((await store.take(10)).map(r => r.id), [first.id, second.id])
    } finally {
      await store.stop()
    }
  })
})

import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs, { closeSync, fstatSync, openSync, readlinkSync, realpathSync } from 'node:fs'
import { open, readdir, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { syncBuiltinESMExports } from 'node:module'
import { describe, it, mock } from 'node:test'
import { Level } from 'level'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { toHex } from '../../src/blob/chunk-tree.js'
import { receiptRoot } from '../../src/proof/bundle.js'
import { ReceiptStore, type QueuedReceipt } from '../../src/proof/receipt-store.js'
import { TensorSegments } from '../../src/proof/tensor-segments.js'
import { tempDir } from '../helpers/devnet.js'

/** Stand-in SignedReceipt bytes (the store looks up, rather than decodes, bytes that are no SignedReceipt). */
function fakeReceipt (seq: bigint, tensorBytes = 32): QueuedReceipt {
  const bytes = Buffer.concat([Buffer.from(`fake-receipt-${seq}-`), randomBytes(40)])
  return { id: createHash('sha256').update(bytes).digest('hex'), seq, bytes, inputs: randomBytes(tensorBytes - 8), outputs: randomBytes(8) }
}

const EMPTY_BYTES = new Uint8Array(0)

const segmentFiles = async (storeDir: string): Promise<string[]> => (await readdir(join(storeDir, 'tensors'))).sort()

async function seal (store: ReceiptStore, count: number): Promise<void> {
  const batch = await store.take(count)
  const id = await store.beginBatch({ receipts: batch, root: toHex(receiptRoot(batch.map(r => r.bytes))), bundleBytesHash: createHash('sha256').update('b').digest('hex') })
  await store.setBundleBlobId(id, blobIdFromBytes(randomBytes(32)))
  await store.finishBatch(id, { ledger: 'local', txId: 'tx', height: 1, time: Date.now(), address: '0x' + '00'.repeat(32) })
}

describe('receipt store: tensor segments', () => {
  it('keeps tensors out of level: a queued record is the receipt and a pointer, the tensors come back from their segment', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    let store = new ReceiptStore({ dir: path, durability: 'logged' })
    await store.start()
    const receipt = fakeReceipt(1n, 66_000)
    await store.append(receipt)
    await store.stop()
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const records = await db.values({ gte: 'q/', lt: 'q0' }).all()
    await db.close()
    assert.equal(records.length, 1)
    assert.ok(records[0]!.byteLength < 200, `a queued record of ${records[0]!.byteLength} bytes`)
    store = new ReceiptStore({ dir: path })
    await store.start()
    try {
      const [taken] = await store.take(1)
      assert.deepEqual(Buffer.from(taken!.inputs!), Buffer.from(receipt.inputs!))
      assert.deepEqual(Buffer.from(taken!.outputs!), Buffer.from(receipt.outputs!))
      assert.equal(store.queued().bytes, 2 + 32 + 4 + receipt.bytes.byteLength + 4 + 65_992 + 4 + 8, 'counted as before, tensors and framing')
    } finally {
      await store.stop()
    }
  })

  it('cuts a torn segment tail when it opens: the torn receipt stays queued without tensors, never with part of them', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    let store = new ReceiptStore({ dir: path, durability: 'logged' })
    await store.start()
    const receipts = [1n, 2n, 3n].map(seq => fakeReceipt(seq, 1_000))
    await store.appendMany(receipts)
    await store.stop()
    // A write the OS had taken only in part when the power went: the last record is short.
    const [file] = await segmentFiles(path)
    const torn = join(path, 'tensors', file!)
    const whole = (await stat(torn)).size
    await truncate(torn, whole - 100)

    store = new ReceiptStore({ dir: path, durability: 'logged' })
    await store.start()
    try {
      assert.equal((await stat(torn)).size, whole / 3 * 2, 'cut back to the two whole records')
      const taken = await store.take(10)
      assert.deepEqual(taken.map(r => r.seq), [1n, 2n, 3n], 'every receipt stays queued')
      for (const i of [0, 1]) assert.deepEqual(Buffer.from(taken[i]!.inputs!), Buffer.from(receipts[i]!.inputs!))
      assert.equal(taken[2]!.inputs, undefined)
      assert.equal(taken[2]!.outputs, undefined)
      // A new process writes a segment of its own: nothing new lands where the torn record was named.
      const next = fakeReceipt(4n, 1_000)
      await store.append(next)
      assert.equal((await segmentFiles(path)).length, 2)
      const again = await store.take(10)
      assert.equal(again[2]!.inputs, undefined)
      assert.deepEqual(Buffer.from(again[3]!.inputs!), Buffer.from(next.inputs!))
    } finally {
      await store.stop()
    }
  })

  it('deletes a segment once none of its receipts is queued, and bounds the segment files by the byte limit', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    // Every record in a segment of its own.
    let store = new ReceiptStore({ dir: path, maxSegmentBytes: 1 })
    await store.start()
    for (const seq of [1n, 2n, 3n]) await store.append(fakeReceipt(seq))
    assert.deepEqual(await segmentFiles(path), ['0000000001.seg', '0000000002.seg', '0000000003.seg'])
    await seal(store, 2)
    assert.deepEqual(await segmentFiles(path), ['0000000003.seg'])
    assert.equal(store.queued().segmentBytes, 56)
    await seal(store, 1)
    // The segment being written goes once the next one starts.
    await store.append(fakeReceipt(4n))
    assert.deepEqual(await segmentFiles(path), ['0000000004.seg'])
    await store.stop()
    store = new ReceiptStore({ dir: path })
    await store.start()
    assert.deepEqual(await segmentFiles(path), ['0000000004.seg', '0000000005.seg'])
    await store.stop()

    // One receipt still queued keeps its whole segment: the limit counts the files.
    const bounded = join(dir.path, 'bounded')
    store = new ReceiptStore({ dir: bounded, maxQueuedBytes: 6_000 })
    await store.start()
    try {
      await store.appendMany([1n, 2n, 3n, 4n, 5n].map(seq => fakeReceipt(seq, 1_000)))
      await seal(store, 4)
      assert.ok(store.queued().bytes < 1_200)
      assert.equal(store.queued().segmentBytes, 5 * 1_024)
      await store.append(fakeReceipt(6n, 800))
      await assert.rejects(store.append(fakeReceipt(7n, 1_000)), { name: 'ReceiptQueueFullError' })
      assert.equal(store.queued().rejected, 1)
    } finally {
      await store.stop()
    }
  })

  it('frees the segment being written once its receipts are all sealed: a byte limit below a segment\'s size is not reached for good', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    const store = new ReceiptStore({ dir: path, maxQueuedBytes: 6_000 })
    await store.start()
    try {
      await store.appendMany([1n, 2n, 3n, 4n, 5n].map(seq => fakeReceipt(seq, 1_000)))
      await seal(store, 5)
      assert.equal(store.queued().count, 0)
      assert.equal(store.queued().segmentBytes, 0, 'no segment bytes kept for a queue that is empty')
      await store.append(fakeReceipt(6n, 1_000))
      const [taken] = await store.take(1)
      assert.equal(taken!.inputs?.byteLength, 992)
    } finally {
      await store.stop()
    }
  })

  it('counts a receipt with inputs and no outputs the same when it is queued and when it is sealed', async () => {
    await using dir = await tempDir()
    const store = new ReceiptStore({ dir: join(dir.path, 'receipts') })
    await store.start()
    try {
      const { outputs: _, ...inputsOnly } = fakeReceipt(1n, 100)
      await store.append(inputsOnly)
      await store.append(fakeReceipt(2n))
      await seal(store, 2)
      assert.equal(store.queued().bytes, 0)
    } finally {
      await store.stop()
    }
  })

  it('reads a store written before segments, with tensors in its level records, and seals from it', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'receipts')
    const old = fakeReceipt(1n, 100)
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const parts = [old.bytes, old.inputs!, old.outputs!]
    const record = Buffer.alloc(34 + parts.reduce((n, p) => n + 4 + p.byteLength, 0))
    record[0] = 1
    record[1] = 3
    record.write(old.id, 2, 'hex')
    let at = 34
    for (const part of parts) {
      record.writeUInt32LE(part.byteLength, at)
      record.set(part, at + 4)
      at += 4 + part.byteLength
    }
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
    await db.batch([
      { type: 'put', key: 'version', value: enc('1') },
      { type: 'put', key: 'meta', value: enc(JSON.stringify({ lastSeq: '1', count: 1, bytes: record.byteLength })) },
      { type: 'put', key: `q/${'1'.padStart(20, '0')}`, value: record },
      { type: 'put', key: `id/${old.id}`, value: enc('1') }
    ])
    await db.close()
    const store = new ReceiptStore({ dir: path })
    await store.start()
    try {
      await store.append(fakeReceipt(2n))
      const taken = await store.take(10)
      assert.deepEqual(taken.map(r => r.seq), [1n, 2n])
      assert.deepEqual(Buffer.from(taken[0]!.inputs!), Buffer.from(old.inputs!))
      await seal(store, 2)
      assert.equal(store.queued().count, 0)
      assert.equal(store.queued().bytes, 0)
    } finally {
      await store.stop()
    }
  })
})

describe('tensor segments: a segment that cannot start', () => {
  it('reads records lying together in one read, gives each back in the order asked, and loses only a torn one', async () => {
    await using dir = await tempDir()
    const segmentsDir = join(dir.path, 'tensors')
    // Two appends fill the first segment; the third starts the second.
    const segments = new TensorSegments({ dir: segmentsDir, maxSegmentBytes: 800 })
    await segments.open(new Set())
    const records = Array.from({ length: 12 }, (_, i) => ({ seq: BigInt(i + 1), inputs: randomBytes(40 + i), outputs: randomBytes(8) }))
    const refs = [
      ...await segments.write(records.slice(0, 5)),
      ...await segments.write(records.slice(5, 10)),
      ...await segments.write(records.slice(10))
    ]
    assert.deepEqual([...new Set(refs.map(r => r.segment))], [1, 2])
    // Record 4 (seq 4) torn: a byte of its outputs flipped on disk.
    const torn = refs[3]!
    const fd = openSync(join(segmentsDir, '0000000001.seg'), 'r+')
    try {
      const at = torn.offset + 24 + torn.inputs
      const byte = Buffer.alloc(1)
      fs.readSync(fd, byte, 0, 1, at)
      fs.writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, at)
    } finally {
      closeSync(fd)
    }
    const handle = await open(join(segmentsDir, '0000000001.seg'), 'r')
    const reads = mock.method(Object.getPrototypeOf(handle) as { read: (...args: unknown[]) => unknown }, 'read')
    await handle.close()
    try {
      // Asked out of order, with a pointer naming the wrong seq and one past the end of its segment.
      const asked = [...refs.map((ref, i) => ({ seq: BigInt(i + 1), ref })).reverse(), { seq: 99n, ref: refs[0]! }, { seq: 13n, ref: { ...refs[11]!, offset: refs[11]!.offset + 10_000 } }]
      const got = await segments.readMany(asked)
      assert.equal(reads.mock.callCount(), 2, 'one read a segment')
      assert.equal(got.length, asked.length)
      asked.slice(0, 12).forEach(({ seq }, i) => {
        const record = records[Number(seq) - 1]!
        if (seq === 4n) assert.equal(got[i], undefined, 'the torn record')
        else assert.deepEqual({ inputs: Buffer.from(got[i]!.inputs), outputs: Buffer.from(got[i]!.outputs) }, { inputs: record.inputs, outputs: record.outputs }, `seq ${seq}`)
      })
      assert.equal(got[12], undefined, 'a pointer to another receipt\'s record')
      assert.equal(got[13], undefined, 'a pointer past the segment')
    } finally {
      reads.mock.restore()
      await segments.close()
    }
  })

  it('keeps writing the one it has when the next cannot be created, never through a closed descriptor', async () => {
    await using dir = await tempDir()
    const segments = new TensorSegments({ dir: join(dir.path, 'tensors'), maxSegmentBytes: 100 })
    await segments.open(new Set())
    const record = { seq: 1n, inputs: randomBytes(40), outputs: randomBytes(8) }
    await segments.write([record])
    // The next segment's name is taken: its exclusive create fails.
    await writeFile(join(dir.path, 'tensors', '0000000002.seg'), '')
    await assert.rejects(segments.write([{ ...record, seq: 2n }]), { code: 'EEXIST' })
    // A file opened now may be given the descriptor a failed rotation closed; no record may land in it.
    const other = join(dir.path, 'other')
    const fd = openSync(other, 'w+')
    try {
      await segments.write([{ ...record, seq: 3n, inputs: randomBytes(4) }]).catch(() => {})
      assert.equal(fstatSync(fd).size, 0, 'a record written into another file')
      const ref = (await segments.write([{ ...record, seq: 4n, inputs: EMPTY_BYTES, outputs: EMPTY_BYTES }]))[0]!
      assert.equal(ref.segment, 1, 'the segment it has stays the one written')
      assert.ok(await segments.read(4n, ref) != null)
    } finally {
      closeSync(fd)
      await segments.close()
    }
  })
})

describe('tensor segments: opening after a crash', () => {
  it('syncs the segments it keeps before it starts its own: what a killed process left in the page cache is made durable', async () => {
    await using dir = await tempDir()
    const tensors = join(dir.path, 'tensors')
    // A process killed with records written and not synced: the OS holds them, the disk may not.
    const killed = new TensorSegments({ dir: tensors })
    await killed.open(new Set())
    await killed.write([{ seq: 1n, inputs: randomBytes(40), outputs: randomBytes(8) }])
    // The next process's level replays its log and makes the records naming them durable; a power loss must not then take the tensors.
    const synced: string[] = []
    const original = fs.fdatasync
    mock.method(fs, 'fdatasync', (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
      synced.push(readlinkSync(`/proc/self/fd/${fd}`))
      original(fd, callback)
    })
    syncBuiltinESMExports()
    try {
      // A fresh instance of the module, so that it binds the fdatasync watched here.
      const fresh = await import(new URL(`../../src/proof/tensor-segments.js?sync=${Date.now()}`, import.meta.url).href) as typeof import('../../src/proof/tensor-segments.js')
      const next = new fresh.TensorSegments({ dir: tensors })
      await next.open(new Set([1]))
      await next.close()
    } finally {
      mock.restoreAll()
      syncBuiltinESMExports()
      await killed.close()
    }
    assert.ok(synced.includes(realpathSync(join(tensors, '0000000001.seg'))), `synced at open: ${synced.join(', ')}`)
  })
})

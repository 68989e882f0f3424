import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { toHex } from '../../src/blob/chunk-tree.js'
import { RetryableLedgerError } from '../../src/chain/errors.js'
import { LocalLedger } from '../../src/chain/local-ledger.js'
import type { AnchorEntry, AnchorInput, AnchorReceipt, Ledger } from '../../src/chain/types.js'
import { Batcher, type BatcherInit, type BatcherStep, type SealedBundle } from '../../src/proof/batcher.js'
import { receiptRoot, type BundleContents } from '../../src/proof/bundle.js'
import { ReceiptStoreError } from '../../src/proof/errors.js'
import { ReceiptStore, type QueuedReceipt, type ReceiptStoreInit } from '../../src/proof/receipt-store.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import type { LocalWalrus } from '../../src/walrus/local/server.js'
import { anchoredReceipts, downloadBundle } from '../helpers/anchored-receipts.js'
import { startLocalWalrus, tempDir } from '../helpers/devnet.js'

const CHILD = fileURLToPath(new URL('./seal-child.js', import.meta.url))

/** Stand-in SignedReceipt bytes: a tag, the seq (8 bytes, big-endian) and noise; the batcher never decodes them. */
function fakeReceipt (seq: bigint): QueuedReceipt {
  const seqBytes = Buffer.alloc(8)
  seqBytes.writeBigUInt64BE(seq)
  const bytes = Buffer.concat([Buffer.from('fake-receipt'), seqBytes, randomBytes(40)])
  return { id: createHash('sha256').update(bytes).digest('hex'), seq, bytes, inputs: randomBytes(32), outputs: randomBytes(12) }
}

const seqOf = (bytes: Uint8Array): bigint => Buffer.from(bytes).readBigUInt64BE(12)

async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

interface Rig {
  dir: string
  walrus: LocalWalrus
  http: WalrusHttpClient
  ledger: LocalLedger
  address: string
  store: ReceiptStore
  batcher: Batcher
  sealed: SealedBundle[]
  errors: Error[]
  append: (n: number) => Promise<QueuedReceipt[]>
  /** Downloads a bundle from Walrus and decodes it. */
  bundle: (blobId: string) => Promise<BundleContents>
  close: () => Promise<void>
}

async function rig (dir: string, options: { batcher?: Partial<BatcherInit>, store?: Partial<ReceiptStoreInit>, ledger?: (ledger: LocalLedger) => Pick<Ledger, 'anchor' | 'getAnchor'>, walrus?: (http: WalrusHttpClient) => Pick<WalrusHttpClient, 'putBytes'> } = {}): Promise<Rig> {
  const walrus = await startLocalWalrus(join(dir, 'walrus'))
  const http = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url, retries: 0 })
  const keypair = Ed25519Keypair.generate()
  const ledger = await LocalLedger.open(join(dir, 'ledger'), keypair)
  const store = new ReceiptStore({ dir: join(dir, 'receipts'), ...options.store })
  await store.start()
  const batcher = new Batcher({ store, walrus: options.walrus?.(http) ?? http, ledger: options.ledger?.(ledger) ?? ledger }, { retryBaseMs: 10, retryMaxMs: 50, ...options.batcher })
  const sealed: SealedBundle[] = []
  const errors: Error[] = []
  batcher.addEventListener('sealed', event => { sealed.push((event as CustomEvent<SealedBundle>).detail) })
  batcher.addEventListener('error', event => { errors.push((event as CustomEvent<Error>).detail) })
  batcher.start()
  const r: Rig = {
    dir,
    walrus,
    http,
    ledger,
    address: keypair.toSuiAddress(),
    store,
    batcher,
    sealed,
    errors,
    append: async n => {
      const out: QueuedReceipt[] = []
      for (let i = 0; i < n; i++) {
        const receipt = fakeReceipt(store.lastSeq() + 1n)
        await store.append(receipt)
        batcher.notify()
        out.push(receipt)
      }
      return out
    },
    bundle: async blobId => downloadBundle(r.http, dir, blobId),
    close: async () => {
      await batcher.stop()
      await store.stop()
      await ledger.close()
      await r.http.close()
      await r.walrus.stop()
    }
  }
  return r
}

/** Every anchor of the rig's node, checked (anchoredReceipts); returns receipt ID → root. */
async function checkAnchors (r: Rig): Promise<Map<string, string>> {
  const where = await anchoredReceipts(r.ledger, r.bundle, r.address)
  return new Map([...where].map(([id, { anchor }]) => [id, anchor.root]))
}

/**
 * A node's proof pipeline killed at each step of a seal, again and again
 * (seal-child.ts), then run to the end: no receipt it acknowledged is lost,
 * none is sealed twice, and a bundle stored again is the same blob.
 */
async function sealThroughKills (concurrentWrites: number): Promise<void> {
  await using dir = await tempDir()
  const walrus = await startLocalWalrus(join(dir.path, 'walrus'))
  const keypair = Ed25519Keypair.generate()
  const base = {
    storeDir: join(dir.path, 'receipts'),
    ledgerDir: join(dir.path, 'ledger'),
    walrusUrl: walrus.url,
    secretKey: keypair.getSecretKey(),
    count: 10,
    batchSize: 3,
    concurrentWrites
  }
  const steps: BatcherStep[] = ['begun', 'stored', 'blob-recorded', 'anchored', 'finished']
  const randomStep = (): { step: BatcherStep, at: number } => ({ step: steps[Math.floor(Math.random() * steps.length)] as BatcherStep, at: 1 + Math.floor(Math.random() * 3) })
  const plans: Array<{ kill?: { step: BatcherStep, at: number }, killAfterFirstAckMs?: number }> = [
    { kill: { step: 'stored', at: 1 } }, // stored on Walrus, blob ID not yet recorded
    { kill: { step: 'blob-recorded', at: 2 } }, // between the Walrus put and the anchor
    { kill: { step: 'anchored', at: 1 } }, // between the anchor and finishBatch
    { kill: { step: 'begun', at: 2 } },
    { kill: randomStep() },
    { kill: randomStep() },
    // Wherever it is: appending, uploading, anchoring.
    { killAfterFirstAckMs: Math.floor(Math.random() * 60) },
    { killAfterFirstAckMs: Math.floor(Math.random() * 60) },
    {} // runs to the end
  ]
  const acked = new Set<string>()
  let killed = 0
  try {
    for (const plan of plans) {
      const config = { ...base, ...(plan.kill != null ? { kill: plan.kill } : {}) }
      const child = spawn(process.execPath, [CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      let done = false
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      let timer: NodeJS.Timeout | undefined
      createInterface({ input: child.stdout }).on('line', line => {
        const event = JSON.parse(line)
        if (event.acked != null) acked.add(event.acked)
        if (event.done === true) done = true
        if (plan.killAfterFirstAckMs != null && timer == null) timer = setTimeout(() => child.kill('SIGKILL'), plan.killAfterFirstAckMs)
      })
      const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('close', (c, s) => { resolve([c, s]) }))
      clearTimeout(timer)
      clearTimeout(guard)
      if (signal === 'SIGKILL') killed++
      if (plan.kill != null) assert.equal(signal, 'SIGKILL', `the child reaches ${plan.kill.step} #${plan.kill.at}: ${stderr}`)
      if (plan.kill == null && plan.killAfterFirstAckMs == null) assert.ok(code === 0 && done, `the last run ends cleanly: ${stderr}`)
    }
    assert.ok(killed >= 7, `${killed} kills`)

    const store = new ReceiptStore({ dir: base.storeDir })
    await store.start()
    const ledger = await LocalLedger.open(base.ledgerDir)
    const http = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url, retries: 0 })
    try {
      assert.equal(store.queued().count, 0)
      assert.equal((await store.pendingBatches())[0], undefined)
      const sealedIn = await anchoredReceipts(ledger, async blobId => downloadBundle(http, dir.path, blobId), keypair.toSuiAddress())
      const anchors = new Set([...sealedIn.values()].map(({ anchor }) => anchor.root))
      const seqs = new Set<bigint>()
      for (const { bundle, index } of sealedIn.values()) {
        const seq = seqOf(bundle.receipts[index] as Uint8Array)
        assert.ok(!seqs.has(seq), `seq ${seq} used twice`)
        seqs.add(seq)
      }
      const lastSeq = store.lastSeq()
      assert.ok(lastSeq >= BigInt(acked.size))
      assert.equal(seqs.size, Number(lastSeq), 'every seq from 1 to the last is sealed once: none lost, none reused')
      for (let seq = 1n; seq <= lastSeq; seq++) assert.ok(seqs.has(seq), `seq ${seq} is sealed`)
      for (const id of acked) {
        const anchor = sealedIn.get(id)?.anchor
        assert.ok(anchor != null, `acknowledged receipt ${id} is in an anchored bundle`)
        const found = await store.get(id)
        assert.equal(found?.state, 'sealed')
        assert.equal(found.sealed.root, anchor.root)
        assert.equal(found.sealed.bundleBlobId, anchor.bundleBlobId)
      }
      assert.equal(walrus.stats.stored.blobs, anchors.size, 'a bundle stored again after a crash is the same blob')
      assert.ok(walrus.stats.alreadyCertified >= 1, 'the bundle stored before the kill at "stored" was stored again, as the same blob')
    } finally {
      await store.stop()
      await ledger.close()
      await http.close()
    }
  } finally {
    await walrus.stop()
  }
}

describe('batcher', () => {
  it('seals by count: the anchored root is the root of the bundle on Walrus, which holds exactly the receipts', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 4, intervalMs: 3_600_000 } })
    try {
      const receipts: QueuedReceipt[] = []
      // A batch at a time: a seal takes every receipt queued when it begins, so these bundles hold exactly 4.
      for (let b = 0; b < 2; b++) {
        receipts.push(...await r.append(4))
        await until(`bundle ${b + 1}`, () => r.sealed.length === b + 1)
      }
      receipts.push(...await r.append(2))
      await sleep(50)
      assert.equal(r.sealed.length, 2, 'the last two wait for a full batch or the interval')
      assert.equal(r.store.queued().count, 2)
      for (const [b, event] of r.sealed.entries()) {
        const expected = receipts.slice(b * 4, b * 4 + 4)
        assert.equal(event.count, 4)
        assert.equal(event.root, toHex(receiptRoot(expected.map(x => x.bytes))))
        const entry = await r.ledger.getAnchor(event.root)
        assert.equal(entry.bundleBlobId, event.bundleBlobId)
        assert.equal(entry.count, 4)
        assert.equal(entry.txId, event.anchor.txId)
        const bundle = await r.bundle(event.bundleBlobId)
        assert.deepEqual(bundle.receipts.map(x => Buffer.from(x)), expected.map(x => Buffer.from(x.bytes)))
        assert.deepEqual(bundle.inputs.map(x => Buffer.from(x)), expected.map(x => Buffer.from(x.inputs!)))
        assert.deepEqual(bundle.outputs.map(x => Buffer.from(x)), expected.map(x => Buffer.from(x.outputs!)))
        for (const [index, receipt] of expected.entries()) {
          const found = await r.store.get(receipt.id)
          assert.equal(found?.state, 'sealed')
          assert.deepEqual(found.sealed, { receiptId: receipt.id, bundleBlobId: event.bundleBlobId, index, leafCount: 4, root: event.root, anchor: event.anchor })
        }
      }
      assert.equal((await r.store.get(receipts[9]!.id))?.state, 'queued')
      await r.batcher.sealNow()
      assert.equal(r.store.queued().count, 0)
      const where = await checkAnchors(r)
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort())
      const stats = r.batcher.stats()
      assert.equal(stats.sealed, 10)
      assert.equal(stats.bundles, 3)
      assert.equal(stats.retrying, false)
      assert.ok(stats.lastSealAt != null)
      assert.deepEqual(r.errors, [])
    } finally {
      await r.close()
    }
  })

  it('keeps up when a seal takes longer than a batch takes to come: the next bundle holds everything queued, to the byte budget', async () => {
    await using dir = await tempDir()
    const budget = 2048
    // The first write waits until the test lets it go, as a bundle's write on testnet or mainnet takes seconds (its encoding alone).
    const firstWrite = Promise.withResolvers<void>()
    let writes = 0
    const r = await rig(dir.path, {
      batcher: { batchSize: 4, intervalMs: 3_600_000, maxBundleBytes: budget },
      walrus: http => ({ putBytes: async (bytes, options) => { if (writes++ === 0) await firstWrite.promise; return http.putBytes(bytes, options) } })
    })
    try {
      const receipts = await r.append(4)
      await until('the first seal to begin', async () => ((await r.store.pendingBatches())[0]) != null)
      receipts.push(...await r.append(36))
      assert.equal(r.sealed.length, 0, 'the first bundle is still on its way')
      firstWrite.resolve()
      // The queue empties inside the last seal's store write, before its 'sealed' event: wait for the seal itself to end.
      await until('every receipt sealed', () => r.store.queued().count === 0 && r.batcher.stats().writing === 0, 30_000)
      const counts = r.sealed.map(s => s.count)
      assert.equal(counts[0], 4, 'the first bundle holds the batch that began it')
      // The budget ends each bundle of the backlog but its last, which takes what is left.
      assert.ok(counts.length >= 3 && counts.slice(1, -1).every(n => n > 4), `the backlog went in bundles larger than the batch size: ${counts.join(', ')}`)
      assert.ok(counts.length <= 5, `${counts.length} bundles for 40 receipts, not one per batch of 4 (10)`)
      const where = await checkAnchors(r)
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort(), 'every receipt in exactly one bundle')
      for (const event of r.sealed) {
        const path = join(dir.path, `size-${event.root}`)
        await r.http.getToFile(event.bundleBlobId, path)
        const { byteLength } = await readFile(path)
        assert.ok(byteLength <= budget, `a bundle of ${byteLength} bytes is within the ${budget}-byte budget`)
      }
      assert.deepEqual(r.errors, [])
    } finally {
      await r.close()
    }
  })

  it('writes up to concurrentWrites bundles at once, and finishes every one begun after a restart that allows fewer', async () => {
    await using dir = await tempDir()
    // Writes wait until the test lets them go, as writes through a publisher take seconds.
    const release = Promise.withResolvers<void>()
    let writing = 0
    let mostWriting = 0
    const r = await rig(dir.path, {
      batcher: { batchSize: 4, intervalMs: 3_600_000, concurrentWrites: 3 },
      walrus: http => ({
        putBytes: async (bytes, options) => {
          mostWriting = Math.max(mostWriting, ++writing)
          try {
            await new Promise<void>((resolve, reject) => {
              void release.promise.then(resolve)
              options?.signal?.addEventListener('abort', () => { reject(options.signal?.reason as Error) }, { once: true })
            })
            return await http.putBytes(bytes, options)
          } finally {
            writing--
          }
        }
      })
    })
    try {
      const receipts: QueuedReceipt[] = []
      for (let i = 0; i < 4; i++) {
        receipts.push(...await r.append(4))
        if (i < 3) await until(`write ${i + 1} to begin`, () => writing === i + 1)
      }
      await sleep(100)
      assert.equal(writing, 3, 'a fourth bundle waits for a write to end')
      assert.equal(r.batcher.stats().writing, 3)
      assert.equal((await r.store.pendingBatches()).length, 3)
      assert.deepEqual({ ...r.store.queued(), bytes: 0, segmentBytes: 0 }, { ...r.store.queued(), bytes: 0, segmentBytes: 0, count: 16, sealing: 12 })

      // Stopped with three bundles in flight: the next start, allowed one write at a time, finishes all three (same bytes, same blob IDs), one after another, before the fourth.
      await r.batcher.stop()
      release.resolve()
      r.batcher = new Batcher({ store: r.store, walrus: r.http, ledger: r.ledger }, { batchSize: 4, intervalMs: 3_600_000, concurrentWrites: 1, retryBaseMs: 10, retryMaxMs: 50 })
      const sealed: SealedBundle[] = []
      r.batcher.addEventListener('sealed', event => { sealed.push((event as CustomEvent<SealedBundle>).detail) })
      r.batcher.start()
      await until('every receipt sealed', () => r.store.queued().count === 0 && r.batcher.stats().writing === 0)
      assert.equal(sealed.length, 4)
      assert.deepEqual(sealed.map(s => s.count), [4, 4, 4, 4])
      const where = await checkAnchors(r)
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort(), 'every receipt in exactly one bundle')
      // Three bundles were made while others were on their way, and three made again after the restart: each holds its own receipts' tensors.
      const anchored = await anchoredReceipts(r.ledger, r.bundle, r.address)
      for (const receipt of receipts) {
        const at = anchored.get(receipt.id)
        assert.ok(at != null, `receipt ${receipt.id} anchored`)
        assert.deepEqual([Buffer.from(at.bundle.inputs[at.index]!), Buffer.from(at.bundle.outputs[at.index]!)], [Buffer.from(receipt.inputs!), Buffer.from(receipt.outputs!)], `receipt ${receipt.seq}'s tensors`)
      }
      assert.equal(mostWriting, 3)
      assert.equal(r.batcher.stats().writing, 0)
    } finally {
      await r.batcher.stop()
      await r.close()
    }
  })

  it('finishes a batch whose store write failed after its upload without paying for the upload again', async () => {
    await using dir = await tempDir()
    let writes = 0
    const r = await rig(dir.path, {
      batcher: { batchSize: 3, intervalMs: 3_600_000, concurrentWrites: 2 },
      walrus: http => ({ putBytes: async (bytes, options) => { writes++; return http.putBytes(bytes, options) } })
    })
    try {
      const finishBatch = r.store.finishBatch.bind(r.store)
      let failures = 0
      r.store.finishBatch = async (batchId, anchor) => {
        if (failures++ === 0) throw new ReceiptStoreError('the disk is full')
        return finishBatch(batchId, anchor)
      }
      const receipts = await r.append(3)
      await until('the batch sealed after the failure', () => r.sealed.length === 1)
      assert.equal(failures, 2)
      assert.equal(writes, 1, 'the retry found the bundle stored')
      assert.ok(r.errors.some(e => e.message.includes('the disk is full')))
      const where = await checkAnchors(r)
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort())
    } finally {
      await r.close()
    }
  })

  it('answers sealNow() only once what was queued when it was called is sealed, however the calls interleave with the batcher reading the queue', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 100, intervalMs: 3_600_000 } })
    try {
      const oldest = r.store.oldestQueuedSeq.bind(r.store)
      const reading = Promise.withResolvers<void>()
      const gate = Promise.withResolvers<void>()
      let gated = false
      r.store.oldestQueuedSeq = async () => {
        const seq = await oldest()
        if (!gated) {
          gated = true
          reading.resolve()
          await gate.promise
        }
        return seq
      }
      const first = r.batcher.sealNow()
      await reading.promise
      // The batcher read an empty queue and is still reading: a receipt comes, and a second caller asks.
      const [receipt] = await r.append(1)
      const second = r.batcher.sealNow()
      gate.resolve()
      await first
      await second
      assert.equal((await r.store.get(receipt!.id))?.state, 'sealed', 'the second caller\'s receipt is sealed when it is answered')
    } finally {
      await r.close()
    }
  })

  it('anchors one bundle at a time while several are written', async () => {
    await using dir = await tempDir()
    let anchoring = 0
    let mostAnchoring = 0
    let writes = 0
    const r = await rig(dir.path, {
      batcher: { batchSize: 2, intervalMs: 3_600_000, concurrentWrites: 4 },
      walrus: http => ({ putBytes: async (bytes, options) => { writes++; await sleep(50); return http.putBytes(bytes, options) } }),
      ledger: ledger => ({
        getAnchor: async root => ledger.getAnchor(root),
        anchor: async input => {
          mostAnchoring = Math.max(mostAnchoring, ++anchoring)
          try {
            await sleep(30)
            return await ledger.anchor(input)
          } finally {
            anchoring--
          }
        }
      })
    })
    try {
      const receipts: QueuedReceipt[] = []
      for (let i = 0; i < 4; i++) receipts.push(...await r.append(2))
      await r.batcher.sealNow()
      assert.equal(r.store.queued().count, 0, 'sealNow answers once every receipt before it is sealed')
      assert.equal(mostAnchoring, 1, 'never two anchors at once')
      assert.ok(writes >= 2, `${writes} writes`)
      const where = await checkAnchors(r)
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort())
    } finally {
      await r.close()
    }
  })

  it('seals once a whole bundle of bytes is queued, below batchSize and before the interval', async () => {
    await using dir = await tempDir()
    const budget = 2048
    const r = await rig(dir.path, { batcher: { batchSize: 65_536, intervalMs: 3_600_000, maxBundleBytes: budget } })
    try {
      // Each fake receipt queues about 150 bytes (the record and 44 of tensors): 2 KiB is about 14 of them.
      const before = Date.now()
      await r.append(5)
      await sleep(100)
      assert.equal(r.sealed.length, 0, 'a third of a bundle waits for the interval')
      const nextSealAt = r.batcher.stats().nextSealAt ?? 0
      assert.ok(nextSealAt >= before + 3_600_000 && nextSealAt <= Date.now() + 3_600_000, `sealed an interval after the first receipt at the latest: ${nextSealAt - before} ms`)
      for (let i = 0; i < 40 && r.store.queued().bytes < budget; i++) await r.append(1)
      await until('a bundle sealed by its bytes', () => r.sealed.length >= 1)
      assert.ok((r.sealed[0]?.count ?? 0) >= 5, `the bundle holds what was queued: ${r.sealed[0]?.count}`)
      await r.batcher.sealNow()
      assert.equal(r.batcher.stats().nextSealAt, undefined, 'nothing queued, nothing due')
      assert.deepEqual(r.errors, [])
    } finally {
      await r.close()
    }
  })

  it('looks at the queue on an append only when it can change what it does: the first receipt, or a full batch', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 40, intervalMs: 3_600_000 } })
    try {
      await sleep(100)
      let looks = 0
      const pendingBatches = r.store.pendingBatches.bind(r.store)
      r.store.pendingBatches = async () => { looks++; return pendingBatches() }
      await r.append(39)
      await sleep(50)
      // One look for the first receipt (it starts the interval; one more if the loop's first look came late); none for the 38 after it, each of which once cost a pass.
      assert.ok(looks <= 2, `${looks} looks at the queue for 39 appends`)
      assert.equal(r.sealed.length, 0)
      await r.append(1)
      await until('the full batch sealed', () => r.sealed.length === 1)
      assert.equal(r.sealed[0]?.count, 40)
    } finally {
      await r.close()
    }
  })

  it('seals by interval, and leaves tensors out when told to', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 100, intervalMs: 200, includeTensors: false } })
    try {
      const started = Date.now()
      const receipts = await r.append(3)
      await until('a bundle', () => r.sealed.length === 1, 5_000)
      assert.ok(Date.now() - started >= 150, 'not before the interval')
      assert.equal(r.sealed[0]?.count, 3)
      const bundle = await r.bundle(r.sealed[0]!.bundleBlobId)
      assert.deepEqual(bundle.receipts.map(x => Buffer.from(x)), receipts.map(x => Buffer.from(x.bytes)))
      assert.ok(bundle.inputs.every(x => x.length === 0) && bundle.outputs.every(x => x.length === 0))
      await r.append(2)
      await until('a second bundle', () => r.sealed.length === 2, 5_000)
      assert.equal(r.sealed[1]?.count, 2)
    } finally {
      await r.close()
    }
  })

  it('forgets sealed bundles past their retention, beside sealing; they stay on Walrus and the ledger', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 2, intervalMs: 100, retainSealedMs: 1, pruneIntervalMs: 50 } })
    try {
      const receipts = await r.append(2)
      await until('a bundle', () => r.sealed.length === 1, 5_000)
      const bundleBlobId = r.sealed[0]!.bundleBlobId
      await until('the bundle forgotten', async () => (await r.store.get(receipts[0]!.id)) == null, 5_000)
      assert.equal(await r.store.get(receipts[1]!.id), undefined)
      assert.deepEqual(await r.store.bundleReceipts(bundleBlobId), [])
      assert.equal((await r.bundle(bundleBlobId)).receipts.length, 2)
      assert.equal((await r.ledger.listAnchors(r.address)).length, 1)
      // Sealing goes on.
      await r.append(2)
      await until('a second bundle', () => r.sealed.length === 2, 5_000)
    } finally {
      await r.close()
    }
  })

  it('keeps sealed bundles when retention is 0, and prunes only those sealed before the cutoff', async () => {
    await using dir = await tempDir()
    // Sealed by count only: a timer could seal the first receipt alone when the machine is slow between the two appends.
    const r = await rig(dir.path, { batcher: { batchSize: 2, intervalMs: 3_600_000, pruneIntervalMs: 50 } })
    try {
      const first = await r.append(2)
      await until('a bundle', () => r.sealed.length === 1, 5_000)
      await new Promise(resolve => setTimeout(resolve, 20))
      const between = Date.now()
      await new Promise(resolve => setTimeout(resolve, 20))
      const second = await r.append(2)
      await until('a second bundle', () => r.sealed.length === 2, 5_000)
      assert.equal((await r.store.get(first[0]!.id))?.state, 'sealed', 'retention 0 keeps everything')
      assert.deepEqual(await r.store.pruneSealed(between - 60_000), { bundles: 0, receipts: 0 })
      assert.deepEqual(await r.store.pruneSealed(between), { bundles: 1, receipts: 2 })
      assert.equal(await r.store.get(first[1]!.id), undefined)
      assert.equal((await r.store.get(second[0]!.id))?.state, 'sealed')
      assert.equal((await r.store.bundleReceipts(r.sealed[1]!.bundleBlobId)).length, 2)
    } finally {
      await r.close()
    }
  })

  it('retries while Walrus fails, keeps queueing, and seals everything once when it recovers', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 3, intervalMs: 3_600_000 } })
    try {
      r.walrus.setShaping({ failureRate: 1 })
      const receipts = await r.append(6)
      await until('failed tries', () => r.errors.length >= 4)
      const stats = r.batcher.stats()
      assert.equal(stats.retrying, true)
      assert.match(stats.lastError ?? '', /^walrus: RetryableWalrusError/)
      assert.ok(stats.nextRetryAt != null)
      assert.ok(r.errors.every(e => e.name === 'RetryableWalrusError'))
      receipts.push(...await r.append(6))
      assert.equal(r.store.queued().count, 12, 'the queue grows while Walrus is down')
      assert.equal(r.sealed.length, 0)
      r.walrus.setShaping({ failureRate: 0 })
      await r.batcher.sealNow()
      assert.equal(r.store.queued().count, 0)
      assert.equal(r.batcher.stats().retrying, false)
      assert.equal(r.batcher.stats().nextRetryAt, undefined)
      assert.ok(r.walrus.stats.failuresInjected >= 4)
      const where = await checkAnchors(r)
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort(), 'every receipt in exactly one bundle')
      assert.equal(r.sealed.reduce((sum, s) => sum + s.count, 0), 12)
    } finally {
      await r.close()
    }
  })

  it('survives Walrus going away entirely, and a stop in the middle of backing off', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 2, intervalMs: 3_600_000, retryBaseMs: 20, retryMaxMs: 60_000 } })
    try {
      const port = Number(new URL(r.walrus.url).port)
      await r.walrus.stop()
      const receipts = await r.append(2)
      await until('failed tries', () => r.errors.length >= 3)
      assert.ok(r.errors.every(e => e.name === 'RetryableWalrusError'), 'a refused connection is retryable')
      // Backoff ceilings are now far apart: stop must not wait one out.
      const stopping = Date.now()
      await r.batcher.stop()
      assert.ok(Date.now() - stopping < 1_000, `stop took ${Date.now() - stopping} ms`)
      const pending = (await r.store.pendingBatches())[0]
      assert.ok(pending != null, 'the batch stays recorded for the next start')
      assert.deepEqual(pending.receipts.map(x => x.id), receipts.map(x => x.id))

      r.walrus = await startLocalWalrus(join(dir.path, 'walrus'), { port })
      r.batcher.start()
      await until('the recorded batch sealed', () => r.sealed.length === 1)
      assert.equal(r.sealed[0]?.root, pending.root, 'the batch begun before the stop is the one sealed')
      assert.equal((await r.store.pendingBatches())[0], undefined)
      receipts.push(...await r.append(3))
      await r.batcher.sealNow()
      const where = await checkAnchors(r)
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort())
    } finally {
      await r.close()
    }
  })

  it('retries while the ledger fails, and takes an anchor whose reply was lost rather than anchoring twice', async () => {
    await using dir = await tempDir()
    let failuresLeft = 3
    let loseReply = false
    const calls: AnchorInput[] = []
    const r = await rig(dir.path, {
      batcher: { batchSize: 3, intervalMs: 3_600_000 },
      ledger: ledger => ({
        anchor: async (anchor: AnchorInput): Promise<AnchorReceipt> => {
          calls.push(anchor)
          if (failuresLeft > 0) { failuresLeft--; throw new RetryableLedgerError('ledger unreachable') }
          const receipt = await ledger.anchor(anchor)
          if (loseReply) { loseReply = false; throw new RetryableLedgerError('timed out waiting for the transaction') }
          return receipt
        },
        getAnchor: async (root: string): Promise<AnchorEntry> => ledger.getAnchor(root)
      })
    })
    try {
      const receipts = await r.append(3)
      await until('a bundle', () => r.sealed.length === 1)
      assert.equal(calls.length, 4, 'three failed tries, then the anchor')
      assert.equal(r.errors.length, 3)
      assert.ok(r.errors.every(e => e.name === 'RetryableLedgerError'))
      assert.match(r.batcher.stats().lastError ?? '', /^ledger: RetryableLedgerError/)
      assert.equal(r.batcher.stats().retrying, false)

      loseReply = true
      receipts.push(...await r.append(3))
      await until('a second bundle', () => r.sealed.length === 2)
      assert.equal(calls.length, 5, 'the retry found the anchor and did not send it again')
      const entry = await r.ledger.getAnchor(r.sealed[1]!.root)
      assert.equal(r.sealed[1]?.anchor.txId, entry.txId)
      const where = await checkAnchors(r)
      assert.equal(where.size, 6)
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort())
    } finally {
      await r.close()
    }
  })

  it('refuses receipts past the queue limit and accepts them again once sealed', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 100, intervalMs: 3_600_000 }, store: { maxQueued: 4 } })
    try {
      await r.append(4)
      await assert.rejects(r.append(1), { name: 'ReceiptQueueFullError' })
      assert.equal(r.store.queued().rejected, 1)
      assert.equal(r.store.queued().count, 4)
      await r.batcher.sealNow()
      assert.equal(r.store.queued().count, 0)
      await r.append(4)
      assert.equal(r.store.lastSeq(), 8n)
    } finally {
      await r.close()
    }
  })

  it('loses no receipt and seals none twice when killed at any step', { timeout: 180_000 }, async () => {
    await sealThroughKills(1)
  })

  it('loses no receipt and seals none twice when killed at any step with three bundles written at once', { timeout: 180_000 }, async () => {
    await sealThroughKills(3)
  })
})

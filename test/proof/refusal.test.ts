import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import ort from 'onnxruntime-node'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { toHex } from '../../src/blob/chunk-tree.js'
import { LocalLedger } from '../../src/chain/local-ledger.js'
import { bundleByteBudget, parseNodeConfig } from '../../src/node-config.js'
import { Batcher, bundleOf, type BatcherInit, type BatcherStep, type RefusedBundle, type SealedBundle } from '../../src/proof/batcher.js'
import { MAX_BUNDLE_BYTES, receiptRoot, type BundleContents } from '../../src/proof/bundle.js'
import { ProofService } from '../../src/proof/proof-service.js'
import { ReceiptStore, type QueuedReceipt } from '../../src/proof/receipt-store.js'
import { canonicalTensors, tensorsFromSet } from '../../src/proof/tensor-hash.js'
import { verifyProof, type VerifyProofDeps } from '../../src/proof/verify.js'
import { WalrusRequestError } from '../../src/walrus/errors.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import type { LocalWalrus } from '../../src/walrus/local/server.js'
import type { WalrusStore } from '../../src/walrus/types.js'
import { anchoredReceipts, downloadBundle } from '../helpers/anchored-receipts.js'
import { startLocalWalrus, tempDir } from '../helpers/devnet.js'
import { waitFor } from '../helpers/mesh.js'

/** The publisher's upload limit in these tests: far below the batcher's budget, as when an operator does not know it. */
const PUBLISHER_LIMIT = 16 * 1024
/** Bounds on how long sealing may take here; generous for a loaded machine, and what the old code never reached. */
const SEAL_WAIT_MS = 30_000
const CHILD = fileURLToPath(new URL('./seal-child.js', import.meta.url))

/** Stand-in SignedReceipt bytes (the batcher never decodes them), with tensors of the given sizes. */
function fakeReceipt (seq: bigint, tensorBytes = 44): QueuedReceipt {
  const seqBytes = Buffer.alloc(8)
  seqBytes.writeBigUInt64BE(seq)
  const bytes = Buffer.concat([Buffer.from('fake-receipt'), seqBytes, randomBytes(40)])
  const inputs = Math.ceil(tensorBytes * 0.6)
  return { id: createHash('sha256').update(bytes).digest('hex'), seq, bytes, inputs: randomBytes(inputs), outputs: randomBytes(tensorBytes - inputs) }
}

interface Rig {
  walrus: LocalWalrus
  http: WalrusHttpClient
  keypair: Ed25519Keypair
  ledger: LocalLedger
  store: ReceiptStore
  batcher: Batcher
  sealed: SealedBundle[]
  refused: RefusedBundle[]
  /** Publisher requests: stored and refused uploads. */
  puts: () => number
  bundle: (blobId: string) => Promise<BundleContents>
  /** Every anchor of the node: each bundle on Walrus gives its root; returns the SHA-256 of each SignedReceipt (a fake receipt's ID) → its bundle's contents and index. */
  anchored: () => Promise<Map<string, { bundle: BundleContents, index: number }>>
  newBatcher: () => Batcher
  close: () => Promise<void>
}

async function rig (dir: string, options: { batcher?: Partial<BatcherInit>, walrus?: (http: WalrusHttpClient) => Pick<WalrusStore, 'putBytes'>, startBatcher?: boolean } = {}): Promise<Rig> {
  const walrus = await startLocalWalrus(join(dir, 'walrus'), { maxBlobBytes: PUBLISHER_LIMIT })
  const http = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url, retries: 0 })
  const keypair = Ed25519Keypair.generate()
  const ledger = await LocalLedger.open(join(dir, 'ledger'), keypair)
  const store = new ReceiptStore({ dir: join(dir, 'receipts') })
  await store.start()
  const sealed: SealedBundle[] = []
  const refused: RefusedBundle[] = []
  const newBatcher = (): Batcher => {
    const batcher = new Batcher({ store, walrus: options.walrus?.(http) ?? http, ledger }, { intervalMs: 50, retryBaseMs: 10, retryMaxMs: 50, ...options.batcher })
    batcher.addEventListener('sealed', event => { sealed.push((event as CustomEvent<SealedBundle>).detail) })
    batcher.addEventListener('refused', event => { refused.push((event as CustomEvent<RefusedBundle>).detail) })
    return batcher
  }
  const r: Rig = {
    walrus,
    http,
    keypair,
    ledger,
    store,
    batcher: newBatcher(),
    sealed,
    refused,
    puts: () => walrus.stats.uploads + walrus.stats.rejected,
    bundle: async blobId => downloadBundle(http, dir, blobId),
    anchored: async () => anchoredReceipts(ledger, r.bundle, keypair.toSuiAddress()),
    newBatcher,
    close: async () => {
      await r.batcher.stop()
      await store.stop()
      await ledger.close()
      await http.close()
      await walrus.stop()
    }
  }
  if (options.startBatcher !== false) r.batcher.start()
  return r
}

async function append (r: Rig, tensorBytes: number[]): Promise<QueuedReceipt[]> {
  const out: QueuedReceipt[] = []
  for (const size of tensorBytes) {
    const receipt = fakeReceipt(r.store.lastSeq() + 1n, size)
    await r.store.append(receipt)
    r.batcher.notify()
    out.push(receipt)
  }
  return out
}

/** The queue empties inside the last seal's store write, before its 'sealed' event: this waits for the seal itself to end too. */
const queueEmpty = async (r: Rig): Promise<void> => { await waitFor('the queue to empty', () => r.store.queued().count === 0 && r.batcher.stats().writing === 0, SEAL_WAIT_MS, 20) }

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => a != null && b != null && Buffer.from(a).equals(b)

describe('bundles Walrus refuses', () => {
  it('takes the bundle budget from proofs.maxBundleBytes, under a publisher\'s 10 MiB by default, and refuses one no bundle could use', () => {
    assert.equal(bundleByteBudget(parseNodeConfig({ dataDir: '/tmp/herd' })), 8 * 1024 * 1024)
    assert.equal(parseNodeConfig({ dataDir: '/tmp/herd', proofs: { maxBundleBytes: 2048 } }).proofs.maxBundleBytes, 2048)
    for (const maxBundleBytes of [0, 512, 1536.5, MAX_BUNDLE_BYTES + 1, '1MiB']) {
      assert.throws(() => parseNodeConfig({ dataDir: '/tmp/herd', proofs: { maxBundleBytes } }), { name: 'NodeConfigError' }, String(maxBundleBytes))
    }
    assert.throws(() => new Batcher({} as any, { maxBundleBytes: 100 }), { name: 'RangeError' })
  })

  it('seals and anchors a receipt whose tensors are over the publisher\'s limit; its proof verifies, and re-executes from the inputs given', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 4 } })
    try {
      // The queue keeps the tensors (the batcher's budget is 8 MiB): only the publisher knows its limit is lower.
      const proofs = new ProofService({ signer: r.keypair, store: r.store, batcher: r.batcher })
      proofs.start()
      const model = blobIdFromBytes(randomBytes(32))
      const chunkRoot = randomBytes(32).toString('hex')
      const run = (n: number): { inputs: Record<string, ort.Tensor>, outputs: Record<string, ort.Tensor> } => {
        const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i))
        return { inputs: { x: new ort.Tensor('float32', x, [n]) }, outputs: { y: new ort.Tensor('float32', x.map(v => 2 * v + 1), [n]) } }
      }
      const big = run(8 * 1024) // 32 KiB in, 32 KiB out: 4× the publisher's limit
      const small = run(4)
      const bigReceipt = await proofs.issue({ modelBlobId: model, chunkRoot, ...big })
      const smallReceipt = await proofs.issue({ modelBlobId: model, chunkRoot, ...small })
      await queueEmpty(r)

      assert.ok(r.refused.length >= 1 && r.refused.every(x => x.status === 413 && !x.setAside), 'the publisher refused the bundle with the tensors')
      assert.ok(r.refused[0]!.bytes > 4 * PUBLISHER_LIMIT, 'the tensors were queued: the batcher left them out')
      assert.ok(r.batcher.stats().bundleBudget < r.refused[0]!.bytes, 'the budget came down')
      const where = await r.anchored()
      const leafId = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
      const bigAt = where.get(leafId(bigReceipt.bytes))
      const smallAt = where.get(leafId(smallReceipt.bytes))
      assert.ok(bigAt != null && smallAt != null, 'both receipts are anchored')
      assert.equal(bigAt.bundle.inputs[bigAt.index]?.byteLength, 0, 'the oversized tensors are left out of the bundle')
      assert.ok(sameBytes(smallAt.bundle.inputs[smallAt.index], canonicalTensors(small.inputs)), 'the small receipt keeps its tensors')

      const found = await proofs.lookup(bigReceipt.id)
      assert.equal(found?.state, 'sealed')
      const reexecute: NonNullable<VerifyProofDeps['reexecute']> = async ({ inputs }) => {
        const x = tensorsFromSet(inputs).x!.data as Float32Array
        return canonicalTensors({ y: new ort.Tensor('float32', x.map(v => 2 * v + 1), [x.length]) })
      }
      const plain = await verifyProof(found.proof, { ledger: r.ledger, walrus: r.http })
      assert.equal(plain.valid, true, JSON.stringify(plain.checks))
      const without = await verifyProof(found.proof, { ledger: r.ledger, walrus: r.http, reexecute })
      assert.equal(without.checks.bundleHoldsReceipt.ok, true)
      assert.equal(without.checks.reexecution?.ok, false, 'no inputs to re-execute with')
      assert.match(without.checks.reexecution?.reason ?? '', /--inputs/)
      const given = await verifyProof(found.proof, { ledger: r.ledger, walrus: r.http, reexecute, inputs: canonicalTensors(big.inputs) })
      assert.equal(given.valid, true, JSON.stringify(given.checks))
      const wrong = await verifyProof(found.proof, { ledger: r.ledger, walrus: r.http, reexecute, inputs: canonicalTensors(small.inputs) })
      assert.equal(wrong.checks.reexecution?.ok, false, 'inputs that are not the run\'s are refused')
    } finally {
      await r.close()
    }
  })

  it('does not queue tensors that no bundle within the budget could hold', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { startBatcher: false })
    try {
      const proofs = new ProofService({ signer: r.keypair, store: r.store, batcher: r.batcher }, { maxBundleBytes: 2048 })
      proofs.start()
      const run = (n: number): { inputs: Record<string, ort.Tensor>, outputs: Record<string, ort.Tensor> } =>
        ({ inputs: { x: new ort.Tensor('float32', new Float32Array(n), [n]) }, outputs: { y: new ort.Tensor('float32', new Float32Array(n), [n]) } })
      const model = blobIdFromBytes(randomBytes(32))
      const chunkRoot = randomBytes(32).toString('hex')
      await proofs.issue({ modelBlobId: model, chunkRoot, ...run(1024) })
      await proofs.issue({ modelBlobId: model, chunkRoot, ...run(16) })
      const [big, small] = await r.store.take(2)
      assert.equal(big?.inputs, undefined, 'the receipt is queued alone')
      assert.ok(sameBytes(small?.inputs, canonicalTensors(run(16).inputs)), 'tensors that fit are queued')
    } finally {
      await r.close()
    }
  })

  it('a bundle refused with 413 does not stop later receipts sealing, and is not sent again', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 4, maxBundleBytes: 1024 * 1024 } })
    try {
      const receipts = await append(r, [100 * 1024, 44, 44, 44, 44, 44, 44, 44, 44])
      await queueEmpty(r)
      const where = await r.anchored()
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort(), 'every receipt in exactly one anchored bundle')
      const first = where.get(receipts[0]!.id)!
      assert.equal(first.bundle.inputs[first.index]?.byteLength, 0, 'the oversized tensors are left out')
      for (const receipt of receipts.slice(1)) {
        const at = where.get(receipt.id)!
        assert.ok(sameBytes(at.bundle.inputs[at.index], receipt.inputs), 'later receipts keep their tensors')
      }
      const refusals = r.walrus.stats.rejected
      assert.ok(refusals >= 1 && refusals <= 2, `${refusals} refused uploads: each refused bundle was sent once`)
      assert.equal(r.puts(), r.sealed.length + refusals, 'the publisher saw one request per bundle stored or refused, nothing retried')
      assert.deepEqual(r.refused.map(x => x.status), Array(refusals).fill(413))
      assert.equal(r.store.queued().setAside, 0)

      // What the budget learned holds: more of the same is not refused again.
      await append(r, [100 * 1024, 44])
      await queueEmpty(r)
      assert.equal(r.walrus.stats.rejected, refusals)
    } finally {
      await r.close()
    }
  })

  it('a bundle refused for its content (451) is bisected until the bad receipt is set aside; the rest seal, and both survive a restart', async () => {
    await using dir = await tempDir()
    let bad: Uint8Array | undefined
    let calls = 0
    const r = await rig(dir.path, {
      batcher: { batchSize: 8 },
      // The local Walrus has no blocklist: this stands in for a publisher that blocks one blob's content.
      walrus: http => ({
        putBytes: async (bytes, options) => {
          calls++
          if (bad != null && Buffer.from(bytes).includes(Buffer.from(bad))) throw new WalrusRequestError('PUT /v1/blobs: 451 FORBIDDEN_BLOB - blob is blocked', 451, 'FORBIDDEN_BLOB')
          return http.putBytes(bytes, options)
        }
      }),
      startBatcher: false
    })
    try {
      const receipts = await append(r, Array(8).fill(44))
      bad = receipts[2]!.bytes
      r.batcher.start()
      await queueEmpty(r)
      const aside = await r.store.get(receipts[2]!.id)
      assert.equal(aside?.state, 'aside')
      assert.match(aside.aside.reason, /451/)
      assert.ok(sameBytes(aside.receipt, bad), 'the receipt itself is kept')
      assert.equal(r.store.queued().setAside, 1)
      const where = await r.anchored()
      assert.deepEqual([...where.keys()].sort(), receipts.filter((_, i) => i !== 2).map(x => x.id).sort(), 'every other receipt is anchored once')
      // Bisecting 8 receipts: at most 2 log2(8) refusals, then the receipt alone with and without tensors.
      assert.ok(r.refused.length <= 8, `${r.refused.length} refusals`)
      assert.equal(r.refused.filter(x => x.setAside).length, 1)
      assert.equal(calls, r.refused.length + r.sealed.length, 'no refused bundle was sent twice')
      const stats = r.batcher.stats()
      assert.equal(stats.refused, r.refused.length)
      assert.match(stats.lastRefusal ?? '', /FORBIDDEN_BLOB/)

      await r.batcher.stop()
      await r.store.stop()
      await r.store.start()
      assert.equal(r.store.queued().setAside, 1, 'set aside durably')
      assert.equal(r.store.queued().count, 0)
      assert.equal((await r.store.get(receipts[2]!.id))?.state, 'aside')
      assert.equal((await r.store.pendingBatches())[0], undefined)
      r.batcher = r.newBatcher()
      r.batcher.start()
      const later = await append(r, [44, 44])
      await queueEmpty(r)
      for (const receipt of later) assert.equal((await r.store.get(receipt.id))?.state, 'sealed')

      // The operator had the publisher unblock it: requeued, the receipt seals with its hashes alone.
      bad = undefined
      assert.deepEqual(await r.store.requeueSetAside(), { requeued: 1, left: 0 })
      assert.equal((await r.store.get(receipts[2]!.id))?.state, 'queued')
      assert.deepEqual(await r.store.requeueSetAside(), { requeued: 0, left: 0 }, 'nothing left to requeue')
      r.batcher.notify()
      await queueEmpty(r)
      assert.equal((await r.store.get(receipts[2]!.id))?.state, 'sealed')
      assert.equal(r.store.queued().setAside, 0)
    } finally {
      await r.close()
    }
  })

  it('finishes after a restart a batch begun with a bundle over the publisher\'s limit', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, { batcher: { batchSize: 4 }, startBatcher: false })
    try {
      // What a node left on disk before: a batch begun whose bundle holds every tensor, whatever its size.
      const receipts = await append(r, [100 * 1024, 44, 44])
      const bundle = bundleOf(receipts, true)
      assert.ok(bundle.byteLength > PUBLISHER_LIMIT)
      await r.store.beginBatch({ receipts, root: toHex(receiptRoot(receipts.map(x => x.bytes))), bundleBytesHash: createHash('sha256').update(bundle).digest('hex'), includeTensors: true })
      await r.store.stop()
      await r.store.start()
      assert.equal(((await r.store.pendingBatches())[0])?.receipts.length, 3)

      r.batcher.start()
      await queueEmpty(r)
      assert.equal((await r.store.pendingBatches())[0], undefined)
      const where = await r.anchored()
      assert.deepEqual([...where.keys()].sort(), receipts.map(x => x.id).sort())
      assert.equal(r.walrus.stats.rejected, 1, 'the old bundle was refused once, then never sent again')
    } finally {
      await r.close()
    }
  })

  it('loses no receipt and seals none twice when killed around a refusal', { timeout: 240_000 }, async () => {
    await using dir = await tempDir()
    const walrus = await startLocalWalrus(join(dir.path, 'walrus'), { maxBlobBytes: PUBLISHER_LIMIT })
    const keypair = Ed25519Keypair.generate()
    const base = {
      storeDir: join(dir.path, 'receipts'),
      ledgerDir: join(dir.path, 'ledger'),
      walrusUrl: walrus.url,
      secretKey: keypair.getSecretKey(),
      count: 6,
      batchSize: 3,
      // Each run's first receipt carries tensors 4× the publisher's limit, so each run starts with a refusal.
      big: { every: 6, tensorBytes: 4 * PUBLISHER_LIMIT }
    }
    const plans: Array<{ kill?: { step: BatcherStep, at: number } }> = [
      { kill: { step: 'refused', at: 1 } }, // the batch abandoned, nothing sealed yet
      { kill: { step: 'begun', at: 2 } }, // the smaller batch recorded after a refusal
      { kill: { step: 'stored', at: 1 } }, // the smaller bundle stored, its blob ID not yet recorded
      {} // runs to the end
    ]
    const acked = new Set<string>()
    try {
      for (const plan of plans) {
        const child = spawn(process.execPath, [CHILD, JSON.stringify({ ...base, ...plan })], { stdio: ['ignore', 'pipe', 'pipe'] })
        let stderr = ''
        let done = false
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
        createInterface({ input: child.stdout }).on('line', line => {
          const event = JSON.parse(line)
          if (event.acked != null) acked.add(event.acked)
          if (event.done === true) done = true
        })
        // A run takes about a second; the old code never got past the refusal.
        const guard = setTimeout(() => child.kill('SIGTERM'), 45_000)
        const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('close', (c, s) => { resolve([c, s]) }))
        clearTimeout(guard)
        if (plan.kill != null) assert.equal(signal, 'SIGKILL', `the child reaches ${plan.kill.step} #${plan.kill.at}: ${stderr}`)
        else assert.ok(code === 0 && done, `the last run ends cleanly: ${stderr}`)
      }

      const store = new ReceiptStore({ dir: base.storeDir })
      await store.start()
      const ledger = await LocalLedger.open(base.ledgerDir)
      const http = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url, retries: 0 })
      try {
        assert.equal(store.queued().count, 0)
        assert.equal(store.queued().setAside, 0, 'a refusal of size sets nothing aside')
        assert.equal((await store.pendingBatches())[0], undefined)
        const sealedIds = await anchoredReceipts(ledger, async blobId => downloadBundle(http, dir.path, blobId), keypair.toSuiAddress())
        const anchors = new Set([...sealedIds.values()].map(({ anchor }) => anchor.root))
        const seqs = new Set<bigint>()
        for (const { bundle, index } of sealedIds.values()) {
          const seq = Buffer.from(bundle.receipts[index] as Uint8Array).readBigUInt64BE(12)
          assert.ok(!seqs.has(seq), `seq ${seq} sealed twice`)
          seqs.add(seq)
          if (seq % 6n === 1n) assert.equal(bundle.inputs[index]?.byteLength, 0, 'an oversized receipt is sealed without its tensors')
        }
        const lastSeq = store.lastSeq()
        assert.equal(seqs.size, Number(lastSeq), 'every seq from 1 to the last is sealed once: none lost, none reused')
        for (const id of acked) {
          assert.ok(sealedIds.has(id), `acknowledged receipt ${id} is in an anchored bundle`)
          assert.equal((await store.get(id))?.state, 'sealed')
        }
        // A run learns its budget from its first refusal; the next run, killed or not, learns it again.
        const { rejected } = walrus.stats
        assert.ok(rejected >= 1 && rejected <= 2 * plans.length, `${rejected} refused uploads in ${plans.length} runs`)
        assert.equal(walrus.stats.stored.blobs, anchors.size, 'a bundle stored again after a crash is the same blob')
      } finally {
        await store.stop()
        await ledger.close()
        await http.close()
      }
    } finally {
      await walrus.stop()
    }
  })
})

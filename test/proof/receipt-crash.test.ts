import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startDevnet } from '../../harness/in-process-mesh.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import type { ReceiptDurability } from '../../src/proof/constants.js'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type { Batcher } from '../../src/proof/batcher.js'
import { ProofService } from '../../src/proof/proof-service.js'
import { ReceiptStore } from '../../src/proof/receipt-store.js'
import { tempDir } from '../helpers/devnet.js'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { toHex } from '../../src/blob/chunk-tree.js'
import { receiptRoot } from '../../src/proof/bundle.js'
import { decodeSignedReceipt } from '../../src/proof/receipt.js'
import type { QueuedReceipt } from '../../src/proof/receipt-store.js'

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

/** Takes receipts out of the queue as a sealed bundle would, so the next take() lists the ones after them. */
async function sealAway (store: ReceiptStore, receipts: QueuedReceipt[]): Promise<void> {
  const id = await store.beginBatch({ receipts, root: toHex(receiptRoot(receipts.map(r => r.bytes))), bundleBytesHash: toHex(sha256(new Uint8Array(0))) })
  await store.setBundleBlobId(id, blobIdFromBytes(randomBytes(32)))
  await store.finishBatch(id, { ledger: 'local', txId: 'tx', height: 1, time: Date.now(), address: '0x' + '00'.repeat(32) })
}

const CHILD = fileURLToPath(new URL('./infer-child.js', import.meta.url))
/** Replies before the kill: enough that receipts are being logged and synced when it lands. */
const REPLIES_BEFORE_KILL = 300
const MAX_UNSYNCED = 32

describe('receipts through a crash', () => {
  it('keeps every receipt a killed node replied with, logged or strict, and finds them queued when the store opens again', { timeout: 240_000 }, async (t) => {
    await using dir = await tempDir()
    const devnet = await startDevnet(join(dir.path, 'devnet'))
    try {
      const model = await devnet.publish(syntheticMlp({ inputSize: 16, hiddenSize: 32, outputSize: 4, layers: 2, seed: 5 }), { name: 'crash-mlp', onnx: true })
      for (const durability of ['logged', 'strict'] as ReceiptDurability[]) {
        const dataDir = join(dir.path, `node-${durability}`)
        const child = spawn(process.execPath, [CHILD, JSON.stringify({
          dataDir,
          walrusUrl: devnet.walrus.url,
          ledgerUrl: devnet.ledgerUrl,
          model: 'crash-mlp',
          blobId: model.blobId,
          inflight: 8,
          // Nothing is sealed while the child runs: every reply's receipt must be found queued.
          proofs: { durability, syncIntervalMs: 5, maxUnsynced: MAX_UNSYNCED, batchSize: 65_536, intervalMs: 86_400_000 }
        })], { stdio: ['ignore', 'pipe', 'pipe'] })
        let stderr = ''
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString().slice(-4000) })
        const replied: string[] = []
        let highestSeq = 0n
        createInterface({ input: child.stdout }).on('line', line => {
          const event = JSON.parse(line) as { receipt?: string, seq?: string }
          if (event.receipt != null) replied.push(event.receipt)
          if (event.seq != null && BigInt(event.seq) > highestSeq) highestSeq = BigInt(event.seq)
          if (replied.length === REPLIES_BEFORE_KILL) child.kill('SIGKILL')
        })
        const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
        const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('close', (c, s) => { resolve([c, s]) }))
        clearTimeout(guard)
        assert.equal(signal, 'SIGKILL', `the child is killed under load (exit ${code}): ${stderr}`)
        assert.ok(replied.length >= REPLIES_BEFORE_KILL, `${replied.length} replies before the kill: ${stderr}`)

        // Reopening the store replays level's log: what was logged is queued, for the batcher to seal.
        const store = new ReceiptStore({ dir: join(dataDir, 'proofs'), durability, maxUnsynced: MAX_UNSYNCED })
        await store.start()
        try {
          const lost = []
          for (const id of replied) if ((await store.get(id))?.state !== 'queued') lost.push(id)
          t.diagnostic(`${durability}: ${replied.length} replies before the kill, ${lost.length} of them not kept`)
          if (durability === 'strict') assert.equal(lost.length, 0, 'strict: every receipt replied with is kept')
          else assert.ok(lost.length <= MAX_UNSYNCED, `logged: ${lost.length} receipts replied with and not kept, more than the window of ${MAX_UNSYNCED}`)
          assert.ok(store.queued().count >= replied.length - lost.length)
          assert.ok(store.lastSeq() >= BigInt(replied.length - lost.length), 'every kept reply is in the store')
          // Each kept receipt has its tensors whole (they hash to what it signed) or none: a kill loses no tensor the OS was handed.
          let checked = 0
          let withoutTensors = 0
          for (let taken = await store.take(256); taken.length > 0; taken = await store.take(256)) {
            for (const receipt of taken) {
              const signed = decodeSignedReceipt(receipt.bytes).receipt
              if (receipt.inputs == null || receipt.outputs == null) withoutTensors++
              else assert.deepEqual([sha256(receipt.inputs), sha256(receipt.outputs)], [Buffer.from(signed.inputsHash), Buffer.from(signed.outputsHash)], `the tensors of seq ${receipt.seq}`)
              checked++
            }
            await sealAway(store, taken)
          }
          t.diagnostic(`${durability}: ${checked} receipts kept, ${withoutTensors} without tensors`)
          assert.equal(withoutTensors, 0)
          assert.equal(store.queued().count, 0)
          // A node restarted on this store starts past any seq it may have answered with and lost.
          const proofs = new ProofService({ signer: Ed25519Keypair.generate(), store, batcher: { notify: () => {} } as unknown as Batcher })
          proofs.start()
          const next = (await proofs.issue({ modelBlobId: model.blobId, chunkRoot: '00'.repeat(32), inputs: {}, outputs: {} })).receipt.seq
          assert.ok(next > highestSeq, `the next seq ${next} is past every seq answered (${highestSeq})`)
          await proofs.stop()
        } finally {
          await store.stop()
        }
      }
    } finally {
      await devnet.stop()
    }
  })
})

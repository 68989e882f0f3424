/**
 * A node's proof pipeline in a process of its own, for the crash test in
 * batcher.test.ts: it appends receipts (printing each once it is durable),
 * seals them with a local ledger and a Walrus over HTTP, and kills itself
 * with SIGKILL when the batcher reaches a named step for the nth time.
 *
 * argv[2]: JSON { storeDir, ledgerDir, walrusUrl, secretKey, count, batchSize, concurrentWrites?, kill?: { step, at }, big?: { every, tensorBytes } }
 * (with `big`, every `every`th receipt from seq 1 carries `tensorBytes` of tensors instead of 32).
 * stdout: one JSON line per durable receipt { acked, seq }, then { done: true, queued }.
 */
import { createHash, randomBytes } from 'node:crypto'
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { LocalLedger } from '../../src/chain/local-ledger.js'
import { Batcher, type BatcherStep } from '../../src/proof/batcher.js'
import { ReceiptStore } from '../../src/proof/receipt-store.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'

interface ChildConfig {
  storeDir: string
  ledgerDir: string
  walrusUrl: string
  secretKey: string
  count: number
  batchSize: number
  concurrentWrites?: number
  kill?: { step: BatcherStep, at: number }
  big?: { every: number, tensorBytes: number }
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig

/** Stand-in SignedReceipt bytes: a tag, the seq (8 bytes, big-endian) and noise. */
function fakeReceipt (seq: bigint): { id: string, bytes: Uint8Array } {
  const seqBytes = Buffer.alloc(8)
  seqBytes.writeBigUInt64BE(seq)
  const bytes = Buffer.concat([Buffer.from('fake-receipt'), seqBytes, randomBytes(40)])
  return { id: createHash('sha256').update(bytes).digest('hex'), bytes }
}

const store = new ReceiptStore({ dir: config.storeDir })
await store.start()
const ledger = await LocalLedger.open(config.ledgerDir, Ed25519Keypair.fromSecretKey(config.secretKey))
const walrus = new WalrusHttpClient({ publisher: config.walrusUrl, aggregator: config.walrusUrl, retries: 0 })
let hits = 0
let begun = 0
const batcher = new Batcher({ store, walrus, ledger }, {
  batchSize: config.batchSize,
  concurrentWrites: config.concurrentWrites ?? 1,
  intervalMs: 60_000,
  retryBaseMs: 10,
  retryMaxMs: 100,
  onStep: step => {
    if (step === 'begun') begun++
    if (config.kill != null && step === config.kill.step && ++hits === config.kill.at) process.kill(process.pid, 'SIGKILL')
  }
})
batcher.addEventListener('error', event => { process.stderr.write(`batcher error: ${String((event as CustomEvent<Error>).detail)}\n`) })
batcher.start()

for (let i = 0; i < config.count; i++) {
  const seq = store.lastSeq() + 1n
  const { id, bytes } = fakeReceipt(seq)
  const half = config.big != null && seq % BigInt(config.big.every) === 1n ? config.big.tensorBytes / 2 : 16
  await store.append({ id, seq, bytes, inputs: randomBytes(half), outputs: randomBytes(half) })
  // Pipes are written synchronously on Linux: a printed receipt is one the parent may count on.
  process.stdout.write(`${JSON.stringify({ acked: id, seq: seq.toString() })}\n`)
  batcher.notify()
  await yieldToLoop()
  // A seal takes every receipt queued when it begins: each full batch waits for its seal to begin, so the
  // receipts go in several bundles (the steps the parent kills at recur) while appends go on beside uploads.
  if ((i + 1) % config.batchSize === 0) {
    const deadline = Date.now() + 30_000
    while (begun < (i + 1) / config.batchSize) {
      if (Date.now() > deadline) throw new Error(`no seal began for receipts ${i + 2 - config.batchSize}..${i + 1} of this run in 30 s`)
      await sleep(1)
    }
  }
}
await batcher.sealNow()
process.stdout.write(`${JSON.stringify({ done: true, queued: store.queued().count })}\n`)
await batcher.stop()
await store.stop()
await ledger.close()
await walrus.close()

// Whether a node's sealing keeps up with its receipts when every Walrus write takes seconds, as on testnet and mainnet.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { blobIdFromBytes } from '../src/blob/blob-id.js'
import { LocalLedger } from '../src/chain/local-ledger.js'
import { Batcher, type SealedBundle } from '../src/proof/batcher.js'
import { MAX_BUNDLE_BYTES, MIN_BUNDLE_BUDGET } from '../src/proof/bundle.js'
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BUNDLE_BYTES, MAX_CONCURRENT_WRITES } from '../src/proof/constants.js'
import { signReceipt } from '../src/proof/receipt.js'
import { ReceiptStore } from '../src/proof/receipt-store.js'
import { WalrusHttpClient } from '../src/walrus/http-client.js'
import { LocalWalrus } from '../src/walrus/local/server.js'
import { parseScriptArgs } from '../harness/script-args.js'

const USAGE = `usage: seal-capacity [--quick] [--rate 1..5000] [--seconds 2..600] [--write-ms 0..60000] [--tensor-kib 0..1024] [--concurrent-writes 1..${MAX_CONCURRENT_WRITES}] [--shards 1..1000] [--max-bundle-mib 1..1024] [--help]`
const { values, refuse } = parseScriptArgs('seal-capacity', USAGE, {
  quick: { type: 'boolean', default: false },
  rate: { type: 'string', default: '400' },
  seconds: { type: 'string' },
  // What one bundle write takes: 1.5 s is the RS2 encoding alone at 1,000 shards (benchmarks/README.md, session 27), before any Sui transaction.
  'write-ms': { type: 'string', default: '1500' },
  // Inputs and outputs kept per receipt; 0: bundles without tensors (proofs.includeTensors off).
  'tensor-kib': { type: 'string', default: '0' },
  // proofs.concurrentWrites: bundles on their way to Walrus at once (a testnet publisher's default is PUBLISHER_WRITES_AT_ONCE).
  'concurrent-writes': { type: 'string', default: '1' },
  // The local Walrus's encoder: 1,000 shards encode as testnet and mainnet do, so with --write-ms 0 a write takes the real encoding's time and CPU.
  shards: { type: 'string', default: '100' },
  // proofs.maxBundleBytes, in MiB.
  'max-bundle-mib': { type: 'string', default: String(DEFAULT_MAX_BUNDLE_BYTES / 1024 / 1024) }
})
const rate = Number(values.rate)
const seconds = Number(values.seconds ?? (values.quick ? 20 : 60))
const writeMs = Number(values['write-ms'])
const tensorKiB = Number(values['tensor-kib'])
const concurrentWrites = Number(values['concurrent-writes'])
const nShards = Number(values.shards)
const maxBundleMiB = Number(values['max-bundle-mib'])
if (!Number.isInteger(rate) || rate < 1 || rate > 5000) refuse(`--rate takes an integer from 1 to 5000, not ${JSON.stringify(values.rate)}`)
if (!Number.isInteger(seconds) || seconds < 2 || seconds > 600) refuse(`--seconds takes an integer from 2 to 600, not ${JSON.stringify(values.seconds)}`)
if (!Number.isInteger(writeMs) || writeMs < 0 || writeMs > 60_000) refuse(`--write-ms takes an integer from 0 to 60000, not ${JSON.stringify(values['write-ms'])}`)
if (!Number.isInteger(tensorKiB) || tensorKiB < 0 || tensorKiB > 1024) refuse(`--tensor-kib takes an integer from 0 to 1024, not ${JSON.stringify(values['tensor-kib'])}`)
if (!Number.isInteger(concurrentWrites) || concurrentWrites < 1 || concurrentWrites > MAX_CONCURRENT_WRITES) refuse(`--concurrent-writes takes an integer from 1 to ${MAX_CONCURRENT_WRITES}, not ${JSON.stringify(values['concurrent-writes'])}`)
if (!Number.isInteger(nShards) || nShards < 1 || nShards > 1000) refuse(`--shards takes an integer from 1 to 1000, not ${JSON.stringify(values.shards)}`)
if (!Number.isInteger(maxBundleMiB) || maxBundleMiB < 1 || maxBundleMiB * 1024 * 1024 > MAX_BUNDLE_BYTES) refuse(`--max-bundle-mib takes an integer from 1 to ${MAX_BUNDLE_BYTES / 1024 / 1024}, not ${JSON.stringify(values['max-bundle-mib'])}`)
const maxBundleBytes = Math.max(MIN_BUNDLE_BUDGET, maxBundleMiB * 1024 * 1024)
/** Sealed over offered in the run's second half: below this the queue grows by more than a tenth of what comes, and proofs.maxQueued stops the node serving in the end. */
const KEEP_UP_GOAL = 0.9

const dir = await mkdtemp(join(tmpdir(), 'herd-bench-seal-'))
// 100 shards by default, as the other benchmarks' devnet: the encoding's CPU here stays small beside the write time the shaping holds.
const walrus = new LocalWalrus({ dir: join(dir, 'walrus'), nShards })
await walrus.start()
walrus.setShaping({ latencyMs: writeMs })
const http = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url, retries: 0 })
const keypair = Ed25519Keypair.generate()
const ledger = await LocalLedger.open(join(dir, 'ledger'), keypair)
const store = new ReceiptStore({ dir: join(dir, 'receipts') })
await store.start()
const batcher = new Batcher({ store, walrus: http, ledger }, { includeTensors: tensorKiB > 0, concurrentWrites, maxBundleBytes })
/** Each bundle anchored, with when (ms from the start). */
const sealed: Array<SealedBundle & { at: number }> = []
let started = 0
batcher.addEventListener('sealed', event => { sealed.push({ ...(event as CustomEvent<SealedBundle>).detail, at: performance.now() - started }) })
try {
  batcher.start()
  const publicKey = keypair.getPublicKey().toRawBytes()
  const modelBlobId = blobIdFromBytes(randomBytes(32))
  const chunkRoot = randomBytes(32).toString('hex')
  const half = tensorKiB * 512
  let offered = 0
  let offeredAtHalf: number | undefined
  let receiptBytes = 0
  started = performance.now()
  // Receipts at `rate` a second, as a node serving that many inferences signs them, for `seconds`.
  while (performance.now() - started < seconds * 1000) {
    if (offeredAtHalf == null && performance.now() - started >= seconds * 500) offeredAtHalf = offered
    const due = Math.floor((performance.now() - started) / 1000 * rate)
    while (offered < due) {
      const seq = store.lastSeq() + 1n
      const signed = await signReceipt({ modelBlobId, chunkRoot, inputsHash: randomBytes(32), outputsHash: randomBytes(32), nodePublicKey: publicKey, time: Date.now(), seq }, keypair)
      receiptBytes = signed.bytes.byteLength
      await store.append({ id: signed.id, seq, bytes: signed.bytes, ...(half > 0 ? { inputs: randomBytes(half), outputs: randomBytes(half) } : {}) })
      batcher.notify()
      offered++
    }
    await sleep(5)
  }
  const elapsed = (performance.now() - started) / 1000
  const sealedCount = sealed.reduce((n, s) => n + s.count, 0)
  const queued = store.queued().count
  // The second half: the first bundles, sealed before any backlog, say nothing of a steady state.
  const sealedSecondHalf = sealed.filter(s => s.at >= seconds * 500).reduce((n, s) => n + s.count, 0)
  const keepUp = sealedSecondHalf / Math.max(1, offered - (offeredAtHalf ?? 0))
  const largest = Math.max(0, ...sealed.map(s => s.count))
  // What is left, sealed now: how far behind the node was.
  const drainStarted = performance.now()
  const draining = batcher.sealNow()
  // Past the bound the batcher is stopped below, which rejects the wait: nobody is left to tell.
  draining.catch(() => {})
  const bound = new AbortController()
  await Promise.race([draining, sleep(10 * writeMs + 30_000, undefined, { signal: bound.signal })]).catch(() => {})
  // The bound's timer would hold the process open for up to its length after the drain.
  bound.abort()
  const drainSeconds = (performance.now() - drainStarted) / 1000
  const cpu = process.cpuUsage()
  const peakRssMiB = process.resourceUsage().maxRSS / 1024
  console.log(`sealing against receipts at ${rate} a second for ${seconds} s, every Walrus write held ${writeMs} ms and encoded for ${nShards} shards, ${concurrentWrites} at once, bundles of at most ${maxBundleMiB} MiB; receipts of ${receiptBytes} bytes${half > 0 ? ` with ${tensorKiB} KiB of tensors` : ', bundles without tensors'}`)
  console.log('| figure | value |')
  console.log('|---|---:|')
  console.log(`| receipts offered | ${offered} |`)
  console.log(`| receipts sealed (anchored) | ${sealedCount} |`)
  console.log(`| queued at the end | ${queued} |`)
  console.log(`| seconds to seal what was queued at the end | ${drainSeconds.toFixed(1)} |`)
  console.log(`| bundles; the largest | ${sealed.length}; ${largest} receipts |`)
  console.log(`| sealed ÷ offered in the second half (goal ≥ ${KEEP_UP_GOAL}: ${keepUp >= KEEP_UP_GOAL ? 'met' : 'NOT met'}) | ${keepUp.toFixed(3)} |`)
  console.log(`| this process's CPU (the batcher, and the local Walrus's encoder on its worker thread), s; its peak RSS, MiB | ${((cpu.user + cpu.system) / 1e6).toFixed(1)}; ${peakRssMiB.toFixed(0)} |`)
  console.log(`| what bundles of ${DEFAULT_BATCH_SIZE} receipts (the devnet's batch size), one write at a time, would seal ÷ offered | ${Math.min(1, DEFAULT_BATCH_SIZE / (writeMs / 1000) / rate).toFixed(3)} |`)
  console.log(JSON.stringify({ bench: 'seal-capacity', rate, seconds, writeMs, tensorKiB, concurrentWrites, nShards, maxBundleMiB, receiptBytes, cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1), peakRssMiB: Math.round(peakRssMiB), elapsedSeconds: +elapsed.toFixed(1), offered, sealed: sealedCount, queued, drainSeconds: +drainSeconds.toFixed(1), bundles: sealed.length, largestBundle: largest, sealedOverOffered: +keepUp.toFixed(3), keepUpGoal: KEEP_UP_GOAL }))
} finally {
  await batcher.stop()
  await store.stop()
  await ledger.close()
  await http.close()
  await walrus.stop()
  await rm(dir, { recursive: true, force: true })
}

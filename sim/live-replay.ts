/**
 * Live mode's replay: sends a trace's requests (fetch, then infer) and churn
 * to a started cluster in real time, and records what each request got. Bounded
 * by the trace's duration plus a margin; requests still unanswered then count
 * as failed.
 */

import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { syntheticShapeOfSize } from './synthetic-model.js'
import { fetchModel, inferOnce } from './live-client.js'
import type { LiveCluster } from './live-cluster.js'
import type { LiveCounters } from './live-collect.js'
import type { LiveModels, LiveSettings, LiveStarted } from './live-setup.js'
import type { Trace, TraceRequest } from './types.js'

export type Source = 'local' | 'peer' | 'walrus'

/** Requests in flight at once unless told: as many connections as one node's API takes (API_CONNECTION_LIMITS). */
export const DEFAULT_MAX_IN_FLIGHT = 256

export interface LiveReplayInit {
  trace: Trace
  cluster: LiveCluster
  started: LiveStarted
  models: LiveModels
  settings: LiveSettings
  /** Where a node that rejoins as a new machine gets its fresh data dir. */
  workDir: string
  /** Reads each node's wire bytes around churn. */
  counters: LiveCounters
  /** The run's signal: the caller's, or the deadline. */
  signal: AbortSignal
  /** Aborts the run's signal: the replay calls it when its deadline passes. */
  abort: (reason: Error) => void
  /**
   * Requests in flight at once (fetch + infer); later ones wait their turn, and a request's time to model is counted from
   * when it is sent. Default 256: at 32, the requests of a starved mesh phase waited seconds for a turn that their times did
   * not count (medium: sends 1.4-3.6 s late at p95).
   */
  maxInFlight?: number
  /** Run inference after each fetch (default true). */
  infer?: boolean
  onProgress?: (done: number, total: number) => void
  noteError: (message: string) => void
}

/** One request that got its model, for finding what makes the tail. */
export interface RequestTiming {
  request: number
  node: number
  bytes: number
  source: Source
  /** Time to model. */
  ms: number
  /** Of it, the wait before this request's download began (FetchOutcome.startMs): the blob described, its chunk hashes read, room made in the cache. */
  startMs?: number
  /** Joined a download started for an earlier request of the same node. */
  joined: boolean
  peerBytes: number
  walrusBytes: number
}

/** What each request got, and the replay's own counts. */
export interface LiveReplayResult {
  /** By request index. */
  sourceOf: Array<Source | 'failed'>
  timeToModel: number[]
  /** Every request that got its model, by arrival of its answer. */
  timings: RequestTiming[]
  inferenceMs: number[]
  /** How late each sent request went out against its trace time (ms; negative when early). */
  sendLag: number[]
  peerBytes: number
  fetchFailures: number
  notSent: number
  inferenceFailures: number
  replayMs: number
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

type ChurnKind = 'leave' | 'join'

export class LiveReplay {
  private readonly init: LiveReplayInit
  private readonly total: number
  private readonly fetchTimeoutMs: number
  private readonly inferTimeoutMs: number
  private readonly deadlineMs: number
  private readonly result: LiveReplayResult
  private done = 0
  /** A request for a model its node is already downloading (for an earlier request) shares that download: its source. */
  private readonly inflight = new Map<string, Promise<Source | undefined>>()
  private readonly slots: Semaphore
  /** Churn is applied per node, in order. */
  private readonly nodeChain: Array<Promise<void>>
  private dataGeneration = 0
  private t0 = 0

  constructor (init: LiveReplayInit) {
    this.init = init
    const { trace, settings, models } = init
    this.total = trace.requests.length
    // Bounds: a fetch of the largest model from the shaped origin, with room for retries and a loaded machine.
    const bandwidth = settings.shaping.bandwidthBytesPerSec
    const walrusSecs = bandwidth > 0 ? models.largest / bandwidth : models.largest / (50 * 1024 * 1024)
    this.fetchTimeoutMs = Math.round(30_000 + 4 * walrusSecs * 1000 + 20 * settings.shaping.latencyMs)
    this.inferTimeoutMs = Math.round(30_000 + (models.largest / (20 * 1024 * 1024)) * 1000)
    let lastAtMs = 0
    for (const r of trace.requests) lastAtMs = Math.max(lastAtMs, r.atMs)
    for (const c of trace.churn) lastAtMs = Math.max(lastAtMs, c.atMs)
    this.deadlineMs = lastAtMs + this.fetchTimeoutMs + this.inferTimeoutMs + 15_000
    this.result = {
      sourceOf: new Array(this.total).fill('failed'),
      timeToModel: [],
      timings: [],
      inferenceMs: [],
      sendLag: [],
      peerBytes: 0,
      fetchFailures: 0,
      notSent: 0,
      inferenceFailures: 0,
      replayMs: 0
    }
    this.slots = new Semaphore(Math.max(1, init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT))
    this.nodeChain = Array.from({ length: trace.nodes }, () => Promise.resolve())
  }

  /** Replays requests and churn merged by time (churn first at equal times), and waits for all of them. */
  async run (): Promise<LiveReplayResult> {
    const { trace, signal } = this.init
    this.t0 = performance.now()
    const deadline = setTimeout(() => { this.init.abort(new Error('the live run reached its deadline')) }, this.deadlineMs)
    type Item = { atMs: number, churn?: { node: number, kind: ChurnKind }, request?: number }
    const items: Item[] = [
      ...trace.churn.map((c): Item => ({ atMs: c.atMs, churn: { node: c.node, kind: c.kind } })),
      ...trace.requests.map((r, i): Item => ({ atMs: r.atMs, request: i }))
    ].sort((a, b) => a.atMs - b.atMs || (a.churn != null ? -1 : 0) - (b.churn != null ? -1 : 0))
    const tasks: Array<Promise<void>> = []
    let sent = 0
    for (const item of items) {
      if (!await sleepUntil(this.t0 + item.atMs, signal)) break
      if (item.churn != null) this.churn(item.churn.node, item.churn.kind)
      else if (item.request != null) {
        tasks.push(this.request(trace.requests[item.request]!, item.request))
        sent++
      }
    }
    // Requests never sent (abort or deadline) are counted as failed.
    for (let i = sent; i < this.total; i++) { this.result.notSent++; this.finished() }
    await Promise.allSettled(tasks)
    await Promise.allSettled(this.nodeChain)
    clearTimeout(deadline)
    this.result.replayMs = performance.now() - this.t0
    return this.result
  }

  private finished (): void {
    this.done++
    this.init.onProgress?.(this.done, this.total)
  }

  private async request (request: TraceRequest, index: number): Promise<void> {
    const { cluster, signal, noteError } = this.init
    const result = this.result
    await this.slots.acquire()
    try {
      if (signal.aborted) { result.notSent++; return }
      const blobId = this.init.started.blobIdOf.get(request.model)!
      // The node may be (re)starting after a join: wait for it, bounded.
      await this.nodeChain[request.node]
      const node = cluster.nodes[request.node]!
      if (!cluster.isUp(request.node) || node.api == null) {
        result.notSent++
        noteError(`request ${index}: node ${request.node} is not up`)
        return
      }
      result.sendLag.push(performance.now() - (this.t0 + request.atMs))
      const key = `${request.node}:${request.model}`
      const prior = this.inflight.get(key)
      let settle: ((source: Source | undefined) => void) | undefined
      if (prior == null) this.inflight.set(key, new Promise(resolve => { settle = resolve }))
      const outcome = await fetchModel(node.api, blobId, this.fetchTimeoutMs, signal)
      let source: Source | undefined
      let joined = false
      if (outcome.ok) {
        const own: Source = outcome.cachedAtNode || (outcome.walrusBytes === 0 && outcome.peerBytes === 0)
          ? 'local'
          : outcome.walrusBytes > 0 ? 'walrus' : 'peer'
        if (!outcome.cachedAtNode && prior != null && !outcome.sawStart) {
          // Joined a download started for an earlier request: that download's source, and its bytes are counted there.
          const shared = await prior
          joined = true
          source = shared ?? own
          if (shared == null) result.peerBytes += outcome.peerBytes
        } else {
          source = own
          result.peerBytes += outcome.peerBytes
        }
        result.timeToModel.push(outcome.ms)
      } else {
        result.fetchFailures++
        noteError(`request ${index} (node ${request.node}, model ${request.model}): ${outcome.error ?? 'failed'}`)
      }
      if (settle != null) {
        settle(source)
        this.inflight.delete(key)
      }
      if (source == null) return
      result.sourceOf[index] = source
      result.timings.push({ request: index, node: request.node, bytes: this.init.models.sizeOf(request.model), source, ms: outcome.ms, ...(outcome.startMs != null ? { startMs: outcome.startMs } : {}), joined, peerBytes: outcome.peerBytes, walrusBytes: outcome.walrusBytes })
      if (this.init.infer !== false && !signal.aborted) {
        const inputSize = syntheticShapeOfSize(this.init.models.sizeOf(request.model)).inputSize
        const run = await inferOnce(node.api, blobId, inputSize, this.inferTimeoutMs, signal)
        if ('ms' in run) result.inferenceMs.push(run.ms)
        else {
          result.inferenceFailures++
          noteError(`request ${index} (node ${request.node}, model ${request.model}): ${run.error}`)
        }
      }
    } finally {
      this.slots.release()
      this.finished()
    }
  }

  private churn (node: number, kind: ChurnKind): void {
    const { cluster, signal, counters, noteError } = this.init
    this.nodeChain[node] = this.nodeChain[node]!.then(async () => {
      if (signal.aborted) return
      if (kind === 'leave') {
        await counters.nodeLeaving(node)
        await cluster.stopNode(node)
      } else {
        if (!this.init.settings.keepCache) {
          // A new machine in its place: a fresh data dir (new key, empty cache).
          cluster.nodes[node]!.dataDir = join(this.init.workDir, `node-${node}-${++this.dataGeneration}`)
        }
        const up = await cluster.startNode(node)
        if (!up) noteError(`node ${node} did not come back after a join`)
        else await counters.nodeJoined(node)
      }
    }).catch(err => { noteError(`churn ${kind} of node ${node}: ${(err as Error).message}`) })
  }
}

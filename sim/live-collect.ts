/**
 * Live mode's figures: the devnet's Walrus counters and every node's wire
 * bytes read around the replay, and the replay's per-request results turned
 * into the metrics a report shows.
 */

import { getJson, type LiveCluster, type WalrusStats } from './live-cluster.js'
import { NodeCpuSampler } from './live-cpu.js'
import type { LiveReplayResult, RequestTiming, Source } from './live-replay.js'
import { cdfSamples, nodeHitRateSpread, percentiles, sortedSamples } from './percentiles.js'
import { readWireCounters, WireTally, type WireCounters } from './wire-bytes.js'
import type { Percentiles, StrategyMetrics, Trace } from './types.js'

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
    /** The slowest requests to get their model, slowest first: what the time-to-model tail is made of. */
    slowest: RequestTiming[]
  }
}

/** What the run knew before the replay, for the metrics. */
export interface LiveRunFacts {
  trace: Trace
  setupMs: number
  nodesWithoutPeers: number
  errors: string[]
  log: (message: string) => void
}

const MAX_SAMPLES = 5_000
/** Slowest requests listed: the p95 and beyond of a few hundred requests. */
const SLOWEST = 16

function round1 (value: number): number {
  return Math.round(value * 10) / 10
}

/**
 * Counters read at the start of the replay and at its end. Counters start at
 * zero with each node process, so churn reads a node before it leaves and
 * after it joins.
 */
export class LiveCounters {
  private readonly cluster: LiveCluster
  private readonly signal: AbortSignal
  private readonly noteError: (message: string) => void
  private readonly wire = new WireTally()
  private readonly before: WalrusStats
  private readonly cpu: NodeCpuSampler

  private constructor (cluster: LiveCluster, signal: AbortSignal, noteError: (message: string) => void, before: WalrusStats) {
    this.cluster = cluster
    this.signal = signal
    this.noteError = noteError
    this.before = before
    this.cpu = new NodeCpuSampler(() => cluster.nodes.flatMap(n => cluster.isUp(n.index) && n.process != null ? [n.process.pid] : []))
  }

  /** The baseline: Walrus counters and every node's wire bytes before the replay. */
  static async begin (cluster: LiveCluster, signal: AbortSignal, noteError: (message: string) => void): Promise<LiveCounters> {
    const counters = new LiveCounters(cluster, signal, noteError, await cluster.walrusStats())
    await Promise.all(cluster.nodes.map(async n => { counters.wire.begin(n.index, await counters.readWire(n.index)) }))
    await counters.cpu.start()
    return counters
  }

  /** Stops reading the node processes' CPU, if collect() did not: a replay that failed. */
  async stop (): Promise<void> {
    await this.cpu.stop()
  }

  async nodeLeaving (node: number): Promise<void> {
    const counters = await this.readWire(node)
    if (counters == null && this.cluster.isUp(node)) this.noteError(`node ${node}'s bytes on the wire before it left are not counted: its /metrics did not answer`)
    this.wire.end(node, counters)
  }

  async nodeJoined (node: number): Promise<void> {
    this.wire.begin(node, await this.readWire(node))
  }

  /** Reads the counters again and turns them and the replay's results into the run's metrics. */
  async collect (replay: LiveReplayResult, facts: LiveRunFacts): Promise<LiveMetrics> {
    const { cluster, before } = this
    const machine = await this.cpu.stop()
    const after: WalrusStats = await cluster.walrusStats()
    await Promise.all(cluster.nodes.map(async n => { this.wire.end(n.index, await this.readWire(n.index)) }))
    const wireBytes = this.wire.result()
    const peerCounts = await this.peersAtEnd(facts.log)

    const { trace } = facts
    const total = trace.requests.length
    const { sourceOf } = replay
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
      timeToModelMs: percentiles(replay.timeToModel),
      inferenceMs: percentiles(replay.inferenceMs),
      peerBytes: replay.peerBytes,
      wireBytes: wireBytes.total,
      perNodeHitRate: nodeHitRateSpread(nodeRequests, nodeHits),
      timeToModelSamples: cdfSamples(sortedSamples(replay.timeToModel), MAX_SAMPLES).map(round1),
      ...(machine != null ? { machine } : {}),
      live: {
        fetchFailures: replay.fetchFailures,
        notSent: replay.notSent,
        inferenceRuns: replay.inferenceMs.length,
        inferenceFailures: replay.inferenceFailures,
        walrusRangeRequests: after.rangeRequests - before.rangeRequests,
        wireBytesByProtocol: wireBytes.byProtocol,
        walrusFailuresInjected: after.failuresInjected - before.failuresInjected,
        nodeStarts: cluster.nodes.reduce((sum, n) => sum + n.starts, 0),
        nodesWithoutPeers: facts.nodesWithoutPeers,
        peersAtEnd: peerCounts.length === 0 ? { min: 0, max: 0, mean: 0 } : { min: Math.min(...peerCounts), max: Math.max(...peerCounts), mean: peerCounts.reduce((a, b) => a + b, 0) / peerCounts.length },
        sendLagMs: percentiles(replay.sendLag.map(x => Math.max(0, x))),
        setupMs: Math.round(facts.setupMs),
        replayMs: Math.round(replay.replayMs),
        errors: facts.errors,
        slowest: [...replay.timings].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST).map(t => ({ ...t, ms: round1(t.ms), ...(t.startMs != null ? { startMs: round1(t.startMs) } : {}) }))
      }
    }
  }

  /** Connected peers of each running node, logging its state for diagnosis. */
  private async peersAtEnd (log: (message: string) => void): Promise<number[]> {
    const { cluster } = this
    return (await Promise.all(cluster.nodes.filter(n => cluster.isUp(n.index)).map(async n => {
      try {
        const status = await getJson(`${n.api}/status`, 3_000)
        log(`node ${n.index} at the end: ${JSON.stringify({ peers: status.peers, cache: { blobs: status.cache?.blobs, bytes: status.cache?.bytes, evictions: status.cache?.evictions }, fetch: { ...status.fetch, active: undefined }, serve: status.serve, gossip: status.gossip, penalized: status.penalizedPeers?.length })}`)
        return Number(status.peers)
      } catch { return undefined }
    }))).filter((x): x is number => x != null)
  }

  private async readWire (node: number): Promise<WireCounters | undefined> {
    const api = this.cluster.nodes[node]?.api
    return api != null && this.cluster.isUp(node) ? readWireCounters(api, this.signal) : undefined
  }
}

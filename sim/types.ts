/**
 * The shapes every part of the simulation harness agrees on: a generated
 * trace, the metrics of one strategy, and the report.
 */

import type { MachineLoad } from './live-cpu.js'

export type StrategyName = 'mesh' | 'noMesh' | 'optimal'

export interface TraceModel {
  /** Index into the scenario's models; a synthetic ONNX model of `sizeBytes`. */
  index: number
  sizeBytes: number
}

export interface TraceRequest {
  /** Milliseconds from the start of the run. */
  atMs: number
  node: number
  model: number
}

export interface ChurnEvent {
  atMs: number
  node: number
  kind: 'leave' | 'join'
}

export interface Trace {
  seed: number
  nodes: number
  models: TraceModel[]
  requests: TraceRequest[]
  churn: ChurnEvent[]
}

export interface Percentiles {
  p50: number
  p95: number
  p99: number
}

export interface StrategyMetrics {
  requests: number
  localHits: number
  peerHits: number
  walrusHits: number
  /** Walrus fetches and the bytes Walrus served. */
  walrusFetches: number
  walrusBytes: number
  timeToModelMs: Percentiles
  /** Only where inference ran (live mode). */
  inferenceMs?: Percentiles
  /** Bytes moved between nodes. */
  peerBytes: number
  /** Live mode: every byte the nodes' libp2p connections sent over the replay (models, gossip, DHT, encryption and framing). */
  wireBytes?: number
  /** Per node: hit rate (local + peer) / requests, to show the spread. */
  perNodeHitRate: { min: number, max: number, mean: number }
  /** Raw time-to-model samples (ms), for the CDF chart; capped in size. */
  timeToModelSamples?: number[]
  /** Live mode, on Linux: how much of the machine the node processes took over the replay. */
  machine?: MachineLoad
}

export interface SweepPoint {
  x: number
  strategy: StrategyName
  value: number
}

/** One policy at one cache size with or without the mesh, in scale mode, on the run's trace. */
export interface PolicyPoint {
  /** An eviction policy of src/blob/cache/policy.ts. */
  policy: string
  strategy: 'mesh' | 'noMesh'
  /** Cache quota per node as a fraction of the catalog's bytes. */
  x: number
  /** Bytes the nodes' own caches served / bytes asked for. */
  byteHitRatio: number
  /** Requests served without Walrus (local + peer) / requests. */
  hitRate: number
  walrusBytes: number
}

export interface SimReport {
  mode: 'live' | 'scale'
  scenario: unknown
  seed: number
  startedAt: string
  durationMs: number
  strategies: Record<StrategyName, StrategyMetrics>
  /** Scale mode's prediction for the same trace, beside live mode's measurements. */
  scaleCheck?: Record<StrategyName, StrategyMetrics>
  sweeps?: {
    /** Hit rate (local + peer) against cache size as a fraction of the catalog. */
    hitRateByCacheSize?: SweepPoint[]
    /** Local hit rate (the node's own cache only) against cache size: what the cache size itself buys. */
    localHitRateByCacheSize?: SweepPoint[]
    /** Walrus egress (bytes) against node count. */
    walrusBytesByNodes?: SweepPoint[]
  }
  /** Eviction policies side by side at each cache size (scale mode, both modes' reports); absent unless asked for. */
  policySweep?: PolicyPoint[]
}

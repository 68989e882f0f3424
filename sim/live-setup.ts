/**
 * Live mode's setup: what a run needs from the scenario, the checks that
 * refuse a run the machine cannot hold, and the cluster of real processes
 * (devnet, published models, nodes) started and settled before the replay.
 */

import { mkdir, readdir, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { LiveCluster, type LiveNamespaces, type LiveProcessLogs, type OriginShapingInit } from './live-cluster.js'
import { MAX_LIVE_NODES, quotaBytesOf, type Scenario } from './scenario.js'
import type { Trace } from './types.js'
import type { PolicyName } from '../src/blob/cache/policy.js'
import { DEFAULT_POLICY } from '../src/blob/cache/constants.js'

export type LiveStrategy = 'mesh' | 'noMesh'

export interface LiveSettings {
  cacheQuotaBytes: number
  shaping: OriginShapingInit
  keepCache: boolean
  policy: PolicyName
}

/** The settings live mode reads from the scenario. */
export function liveSettings (scenario: Scenario, trace: Trace): LiveSettings {
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

/** Creates the work dir and refuses a run its disk cannot hold. */
export async function checkWorkDir (scenario: Scenario, trace: Trace, workDir: string): Promise<void> {
  await mkdir(workDir, { recursive: true })
  const disk = await statfs(workDir)
  checkLiveScenario(scenario, trace, disk.bavail * disk.bsize)
}

/** The models a run publishes: only those the trace asks for, since the others would never be fetched. */
export interface LiveModels {
  /** Model indexes, ascending: the cluster's blob IDs are in this order. */
  requested: number[]
  sizeOf: (model: number) => number
  /** Bytes of the largest requested model (at least 1). */
  largest: number
}

export function liveModels (trace: Trace): LiveModels {
  const requested = [...new Set(trace.requests.map(r => r.model))].sort((a, b) => a - b)
  const sizeOf = (model: number): number => trace.models[model]?.sizeBytes ?? 0
  const largest = requested.reduce((max, model) => Math.max(max, sizeOf(model)), 1)
  return { requested, sizeOf, largest }
}

export interface LiveClusterOptions {
  trace: Trace
  scenario: Scenario
  strategy: LiveStrategy
  workDir: string
  settings: LiveSettings
  models: LiveModels
  signal: AbortSignal
  log: (message: string) => void
  /** Each process in its own namespace (sim/live-links.ts). */
  namespaces?: LiveNamespaces
  processLogs?: LiveProcessLogs
}

/**
 * The cluster for one run, not started yet (the caller stops it, whatever
 * happens, from here on). A fresh start: a cache left in the work dir by an
 * earlier run would skew every figure.
 */
export async function newLiveCluster (options: LiveClusterOptions): Promise<LiveCluster> {
  for (const entry of await readdir(options.workDir)) {
    if (/^(devnet|models|publisher|node-\d+(-\d+)?|node-config\.json)$/.test(entry)) await rm(join(options.workDir, entry), { recursive: true, force: true })
  }
  return new LiveCluster({
    workDir: options.workDir,
    nodes: options.trace.nodes,
    modelSizes: options.models.requested.map(options.models.sizeOf),
    chunkBytes: options.scenario.models.chunkBytes,
    mesh: options.strategy === 'mesh',
    cacheQuotaBytes: options.settings.cacheQuotaBytes,
    cachePolicy: options.settings.policy,
    shaping: options.settings.shaping,
    seed: options.trace.seed,
    signal: options.signal,
    log: options.log,
    ...(options.namespaces != null ? { namespaces: options.namespaces } : {}),
    ...(options.processLogs != null ? { processLogs: options.processLogs } : {}),
    ...(options.scenario.links?.uploadBytesPerSec != null ? { uploadBytesPerSec: options.scenario.links.uploadBytesPerSec } : {})
  })
}

/** A started cluster, as the replay sees it. */
export interface LiveStarted {
  /** Blob ID of each requested model. */
  blobIdOf: Map<number, string>
  /** Mesh: nodes that saw no peer within the bound before the replay. */
  nodesWithoutPeers: number
}

/** Starts the devnet, publishes the models and starts the nodes; in a mesh, lets gossip settle. */
export async function startLiveCluster (cluster: LiveCluster, strategy: LiveStrategy, models: LiveModels, signal: AbortSignal): Promise<LiveStarted> {
  await cluster.start()
  const blobIdOf = new Map<number, string>(models.requested.map((model, i) => [model, cluster.blobIds[i]!]))
  const nodesWithoutPeers = strategy === 'mesh' ? cluster.nodesWithoutPeers : 0
  // Let gossip settle (subscriptions, a first digest) before the clock starts.
  if (strategy === 'mesh') await sleep(cluster.gossipSettleMs, undefined, { signal })
  return { blobIdOf, nodesWithoutPeers }
}

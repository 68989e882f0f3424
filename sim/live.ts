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

import { rm } from 'node:fs/promises'
import { LiveCounters, type LiveMetrics } from './live-collect.js'
import type { LiveProcessLogs } from './live-cluster.js'
import { createLiveLinks } from './live-links.js'
import { LiveReplay } from './live-replay.js'
import { checkWorkDir, liveModels, liveSettings, newLiveCluster, startLiveCluster, type LiveStrategy } from './live-setup.js'
import type { Scenario } from './scenario.js'
import type { Trace } from './types.js'

export { runningHerdPids } from './live-cluster.js'
export type { LiveMetrics } from './live-collect.js'
export { checkLiveScenario, liveDiskBytes, LiveScenarioError, liveSettings, type LiveStrategy } from './live-setup.js'

export interface LiveOptions {
  scenario: Scenario
  trace: Trace
  strategy: LiveStrategy
  /** Scratch space: the devnet, node data dirs, model files. Created if needed; removed afterwards unless `keepWorkDir`. */
  workDir: string
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** Requests in flight at once (fetch + infer); later ones wait their turn. Default DEFAULT_MAX_IN_FLIGHT (live-replay.ts). */
  maxInFlight?: number
  /** Run inference after each fetch (default true). */
  infer?: boolean
  keepWorkDir?: boolean
  /** Diagnostics (process starts, nodes without peers, …). */
  log?: (message: string) => void
  /** Each process's log to a file (`herd sim run --node-logs`). */
  processLogs?: LiveProcessLogs
}

const MAX_ERRORS = 10

/** Throws the caller's abort reason, as an Error, once it has aborted. */
function throwIfAborted (signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw signal.reason instanceof Error ? signal.reason : new Error('aborted')
}

/**
 * Runs one strategy live on the trace: starts the devnet, publishes the models,
 * starts the nodes (live-setup), replays requests and churn in real time
 * (live-replay), reads the counters (live-collect), and stops every process it
 * started, whatever happens. Bounded by the trace's duration plus a margin;
 * requests still unanswered then count as failed. Rejects only on setup
 * failure or when `signal` aborts.
 */
export async function runLive (options: LiveOptions): Promise<LiveMetrics> {
  const { scenario, trace, strategy, workDir } = options
  const log = options.log ?? (() => {})
  const settings = liveSettings(scenario, trace)
  const setupStarted = performance.now()
  await checkWorkDir(scenario, trace, workDir)

  // The run's own abort: the caller's signal, or the deadline once the replay has started.
  const controller = new AbortController()
  const onCallerAbort = (): void => { controller.abort(options.signal?.reason ?? new Error('aborted')) }
  throwIfAborted(options.signal)
  options.signal?.addEventListener('abort', onCallerAbort, { once: true })
  const signal = controller.signal

  const models = liveModels(trace)
  const links = await createLiveLinks(scenario, trace.nodes, signal)
  const cluster = await newLiveCluster({ trace, scenario, strategy, workDir, settings, models, signal, log, ...(links != null ? { namespaces: links.namespaces } : {}), ...(options.processLogs != null ? { processLogs: options.processLogs } : {}) }).catch(async err => {
    await links?.remove()
    throw err
  })
  const errors: string[] = []
  const noteError = (message: string): void => { if (errors.length < MAX_ERRORS) errors.push(message) }

  let counters: LiveCounters | undefined
  try {
    const started = await startLiveCluster(cluster, strategy, models, signal)
    const setupMs = performance.now() - setupStarted
    counters = await LiveCounters.begin(cluster, signal, noteError)
    const replay = await new LiveReplay({
      trace,
      cluster,
      started,
      models,
      settings,
      workDir,
      counters,
      signal,
      abort: reason => { controller.abort(reason) },
      maxInFlight: options.maxInFlight,
      infer: options.infer,
      onProgress: options.onProgress,
      noteError
    }).run()
    throwIfAborted(options.signal)
    return await counters.collect(replay, { trace, setupMs, nodesWithoutPeers: started.nodesWithoutPeers, errors, log })
  } catch (err) {
    // An abort surfaces as the caller's reason, whichever wait it interrupted.
    throwIfAborted(options.signal)
    throw err
  } finally {
    options.signal?.removeEventListener('abort', onCallerAbort)
    await counters?.stop()
    await cluster.stop()
    await links?.remove()
    if (options.keepWorkDir !== true) await rm(workDir, { recursive: true, force: true }).catch(() => {})
  }
}

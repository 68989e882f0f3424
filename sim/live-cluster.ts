/**
 * Process management for live mode: a `herd devnet` and N `herd start`
 * processes on one machine, each a child process of this one. Every wait is
 * bounded, and every process started here is stopped (SIGTERM, then SIGKILL
 * after a bound) on stop, on errors, on abort, and as a last resort when this
 * process exits.
 */

import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { maxBlobSizeForShards } from '../src/blob/blob-id-computer.js'
import { syntheticModelOfSize } from './synthetic-model.js'
import { seededRandom } from '../src/seeded-random.js'
import type { PolicyName } from '../src/blob/cache/policy.js'
import { DEFAULT_POLICY } from '../src/blob/cache/constants.js'
import { DIGEST_INTERVAL_MS } from '../src/mesh/constants.js'
import { netnsCommand } from '../harness/netns.js'
import { withMallocEnv } from '../src/cli/malloc-env.js'
import { HERD_V8_FLAGS } from '../src/cli/v8-flags.js'
import { forwardInto, type Forward } from '../harness/netns-forward.js'

/** The herd CLI, compiled: dist/sim/live-cluster.js → dist/src/cli/index.js. */
export const HERD_CLI = fileURLToPath(new URL('../src/cli/index.js', import.meta.url))

const STOP_GRACE_MS = 5_000
const KILL_WAIT_MS = 5_000
const DEFAULT_READY_MS = 60_000

// ---------------------------------------------------------------------------
// Every child started here, so that none outlives this process.

const children = new Set<ChildProcess>()
let exitHookInstalled = false

function track (child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => { children.delete(child) })
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // Last resort: synchronous, so only kill() works here.
    process.once('exit', () => {
      for (const c of children) {
        try { c.kill('SIGKILL') } catch {}
      }
    })
  }
}

/** PIDs of herd processes started by this module and still running. */
export function runningHerdPids (): number[] {
  return [...children].filter(c => c.exitCode == null && c.signalCode == null && c.pid != null).map(c => c.pid as number)
}

/**
 * A herd child's environment: this process's, with herd's malloc settings
 * (src/cli/malloc-env.ts), and debug loggers only those in `debug`, given
 * when its stderr goes to a file: into a pipe nobody reads they would flood it.
 */
export function childEnv (debug?: string): NodeJS.ProcessEnv {
  const env = withMallocEnv(process.env)
  delete env.DEBUG
  if (debug != null) env.DEBUG = debug
  return env
}

/** Every live process's stderr to DIR/devnet.log and DIR/node-N.log (a node's restarts appended), with these DEBUG namespaces. */
export interface LiveProcessLogs {
  dir: string
  debug?: string
}

function abortError (signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted')
}

// ---------------------------------------------------------------------------
// One long-running herd process.

export interface HerdProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** The ready line, parsed. */
  readonly ready: Record<string, any>
  /** Resolves with the exit code (or null on a signal) once the process has exited. */
  readonly exited: Promise<number | null>
  /** The last few KiB of stderr, for error messages. */
  stderrTail: () => string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop: (graceMs?: number) => Promise<number | null>
}

const STDERR_TAIL = 8 * 1024

/** `herd ARGS…` in this process's network namespace, or in `netns` (harness/netns.ts). */
function herdCommand (args: string[], netns?: string): { command: string, args: string[] } {
  const argv = [...HERD_V8_FLAGS, HERD_CLI, ...args]
  return netns != null ? netnsCommand(netns, process.execPath, argv) : { command: process.execPath, args: argv }
}

/**
 * Starts `herd ARGS…` and waits (bounded) for its ready line: one JSON object
 * with `"event":"ready"` on stdout. The process is killed if it is not ready
 * in time, exits first, or the signal aborts. `logFile`: where its stderr
 * (its logs) goes too, besides the tail kept for errors; `debug`: the DEBUG
 * namespaces it turns on (`herd:mesh:download`), only with a log file.
 */
export async function spawnHerd (args: string[], options: { readyTimeoutMs?: number, signal?: AbortSignal, label?: string, netns?: string, logFile?: string, debug?: string } = {}): Promise<HerdProcess> {
  const label = options.label ?? `herd ${args[0] ?? ''}`
  options.signal?.throwIfAborted()
  const { command, args: argv } = herdCommand(args, options.netns)
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(options.logFile != null ? options.debug : undefined) })
  track(child)
  const logFile = options.logFile != null ? createWriteStream(options.logFile, { flags: 'a' }) : undefined
  // A log that cannot be written costs the run its log, not the run.
  logFile?.on('error', err => { console.error(`${label}: writing ${options.logFile} failed: ${err.message}`) })
  child.stderr?.once('close', () => { logFile?.end() })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    logFile?.write(d)
    stderr += d.toString()
    if (stderr.length > 2 * STDERR_TAIL) stderr = stderr.slice(-STDERR_TAIL)
  })
  const exited = new Promise<number | null>(resolve => {
    if (child.exitCode != null || child.signalCode != null) resolve(child.exitCode)
    else child.once('exit', code => { resolve(code) })
  })
  const stop = async (graceMs = STOP_GRACE_MS): Promise<number | null> => {
    if (child.exitCode == null && child.signalCode == null) {
      try { child.kill('SIGTERM') } catch {}
    }
    const timer = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, graceMs)
    const giveUp = new AbortController()
    try {
      return await Promise.race([exited, sleep(graceMs + KILL_WAIT_MS, null, { signal: giveUp.signal }).catch(() => null)])
    } finally {
      clearTimeout(timer)
      giveUp.abort()
    }
  }
  const stderrTail = (): string => stderr.slice(-STDERR_TAIL).trim()
  const lines = createInterface({ input: child.stdout! })
  try {
    const ready = await new Promise<Record<string, any>>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${label} was not ready within ${options.readyTimeoutMs ?? DEFAULT_READY_MS} ms: ${stderrTail()}`)) }, options.readyTimeoutMs ?? DEFAULT_READY_MS)
      const onAbort = (): void => { reject(abortError(options.signal!)) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
      }
      lines.on('line', line => {
        if (!line.startsWith('{')) return
        try {
          const event = JSON.parse(line)
          if (event?.event === 'ready') { done(); resolve(event) }
        } catch {}
      })
      child.once('error', err => { done(); reject(err) })
      void exited.then(code => { done(); reject(new Error(`${label} exited with ${String(code)} before it was ready: ${stderrTail()}`)) })
    })
    // Keep draining stdout: a full pipe would block the child.
    lines.on('line', () => {})
    return { child, pid: child.pid ?? -1, ready, exited, stderrTail, stop }
  } catch (err) {
    lines.close()
    await stop(1_000)
    throw err
  }
}

/** Runs a herd command to completion, bounded; resolves with its stdout or throws with its stderr. */
export async function runHerd (args: string[], options: { timeoutMs?: number, signal?: AbortSignal, netns?: string } = {}): Promise<string> {
  options.signal?.throwIfAborted()
  const { command, args: argv } = herdCommand(args, options.netns)
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() })
  track(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.length > 2 * STDERR_TAIL) stderr = stderr.slice(-STDERR_TAIL) })
  return new Promise((resolve, reject) => {
    // Killed (timeout, abort): the error is given once the process is gone, so nothing outlives the call.
    let killedFor: Error | undefined
    const kill = (reason: Error): void => {
      killedFor ??= reason
      try { child.kill('SIGKILL') } catch {}
    }
    const timer = setTimeout(() => { kill(new Error(`herd ${args.slice(0, 3).join(' ')} timed out after ${options.timeoutMs ?? 120_000} ms`)) }, options.timeoutMs ?? 120_000)
    const onAbort = (): void => { kill(abortError(options.signal!)) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    child.once('error', err => { kill(err) })
    child.once('close', code => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      if (killedFor != null) reject(killedFor)
      else if (code === 0) resolve(stdout)
      else reject(new Error(`herd ${args.slice(0, 3).join(' ')} exited with ${String(code)}: ${stderr.trim().slice(-2000)}`))
    })
  })
}

// ---------------------------------------------------------------------------
// HTTP helpers (global fetch; every call bounded).

export async function getJson (url: string, timeoutMs = 5_000, signal?: AbortSignal): Promise<any> {
  const response = await fetch(url, { signal: signal != null ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs) })
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text().catch(() => '')}`)
  return response.json()
}

// ---------------------------------------------------------------------------
// The cluster.

export interface OriginShapingInit {
  latencyMs: number
  bandwidthBytesPerSec: number
  failureRate: number
}

export interface WalrusStats {
  blobsServed: number
  bytesServed: number
  rangeRequests: number
  failuresInjected: number
}

/** Where each process runs when every one has its own network namespace (harness/netns.ts: createSwarm). */
export interface LiveNamespaces {
  /** The devnet's Walrus and ledger, and the publisher's pushes. */
  origin: { netns: string, address: string }
  /** Node i runs in nodes[i]. */
  nodes: Array<{ netns: string, address: string }>
}

export interface LiveClusterInit {
  workDir: string
  nodes: number
  /** Sizes of the models to publish (trace order). */
  modelSizes: number[]
  /** Chunk size the models are pushed with. */
  chunkBytes: number
  /** Whether nodes join a mesh (bootstrap) or stay alone. */
  mesh: boolean
  cacheQuotaBytes: number
  cachePolicy?: PolicyName
  shaping: OriginShapingInit
  seed: number
  signal?: AbortSignal
  /** Herd processes started at once. */
  startConcurrency?: number
  readyTimeoutMs?: number
  /**
   * The nodes' digest interval. Default the node's own (DIGEST_INTERVAL_MS), as deployed: every digest is a
   * signed gossipsub message every node checks and forwards, and at the old default, max(1 s, 100 ms × nodes),
   * gossip was a third of a mesh node's CPU in the first 10 s of a medium replay (docs/simulation.md).
   */
  digestIntervalMs?: number
  /** Each node's mesh.uploadBytesPerSec; absent: none. */
  uploadBytesPerSec?: number
  /** Mesh: random other nodes each node bootstraps to besides node 0 (default 2). */
  extraBootstrap?: number
  /** Bound on waiting for every mesh node to see a peer. */
  peerWaitMs?: number
  log?: (message: string) => void
  /**
   * Each process in its own namespace, so links capped with tc limit what it
   * sends and receives; their HTTP APIs are reached through forwarders.
   * Absent: every process on this host's loopback.
   */
  namespaces?: LiveNamespaces
  processLogs?: LiveProcessLogs
}

export interface LiveNode {
  index: number
  dataDir: string
  process?: HerdProcess
  /** While starting, the start; resolves true when up. */
  starting?: Promise<boolean>
  peerId?: string
  api?: string
  /** With namespaces: what makes `api` reachable from here. */
  apiForward?: Forward
  multiaddrs: string[]
  starts: number
}

/** Shards for the devnet: the fewest whose encoder takes the largest model. */
function shardsFor (largest: number): number {
  for (const n of [100, 200, 500, 1000, 2000, 4000]) {
    if (maxBlobSizeForShards(n) >= largest + 1024 * 1024) return n
  }
  throw new Error(`a model of ${largest} bytes is over what the local Walrus takes`)
}

export class LiveCluster {
  readonly init: LiveClusterInit
  readonly nodes: LiveNode[]
  devnet?: HerdProcess
  /** As the nodes reach them. */
  walrusUrl = ''
  ledgerUrl = ''
  /** The Walrus as this process reaches it (the same but with namespaces). */
  walrusControlUrl = ''
  private walrusForward?: Forward
  blobIds: string[] = []
  /** Mesh: nodes that saw no peer within the bound after the start. */
  nodesWithoutPeers = 0
  private readonly configPath: string
  private stopped = false

  constructor (init: LiveClusterInit) {
    this.init = init
    this.configPath = join(init.workDir, 'node-config.json')
    this.nodes = Array.from({ length: init.nodes }, (_, index) => ({ index, dataDir: join(init.workDir, `node-${index}`), multiaddrs: [], starts: 0 }))
    if (init.namespaces != null && init.namespaces.nodes.length < init.nodes) throw new Error(`${init.nodes} nodes but ${init.namespaces.nodes.length} namespaces for them`)
  }

  /** The digest interval the nodes are configured with. */
  get digestIntervalMs (): number {
    return this.init.digestIntervalMs ?? DIGEST_INTERVAL_MS
  }

  /**
   * How long gossip is given to settle (subscriptions, each node's first digest, sent when a peer subscribes)
   * before a replay's clock starts: longer with more nodes to hear from, never the whole digest interval.
   */
  get gossipSettleMs (): number {
    return Math.min(this.digestIntervalMs, Math.max(1000, 100 * this.nodes.length)) + 200
  }

  private log (message: string): void {
    this.init.log?.(message)
  }

  /** Devnet, models, nodes; on any failure everything started is stopped before the error is thrown. */
  async start (): Promise<void> {
    try {
      await mkdir(this.init.workDir, { recursive: true })
      if (this.init.processLogs != null) await mkdir(this.init.processLogs.dir, { recursive: true })
      let t = performance.now()
      const phase = (name: string): void => {
        const now = performance.now()
        this.log(`${name} in ${Math.round(now - t)} ms`)
        t = now
      }
      await this.startDevnet()
      phase('devnet started')
      await this.publishModels()
      phase(`${this.blobIds.length} models published`)
      await this.startNodes()
      phase(`${this.nodes.length} nodes started`)
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  private logsFor (name: string): { logFile?: string, debug?: string } {
    const logs = this.init.processLogs
    if (logs == null) return {}
    return { logFile: join(logs.dir, `${name}.log`), ...(logs.debug != null ? { debug: logs.debug } : {}) }
  }

  async startDevnet (): Promise<void> {
    const largest = Math.max(0, ...this.init.modelSizes)
    const shards = shardsFor(largest)
    const maxBlobBytes = Math.min(maxBlobSizeForShards(shards), Math.max(512 * 1024 * 1024, largest + 1024 * 1024))
    const { shaping } = this.init
    const origin = this.init.namespaces?.origin
    this.devnet = await spawnHerd([
      'devnet', '--dir', join(this.init.workDir, 'devnet'), '--walrus-port', '0', '--ledger-port', '0', ...(origin != null ? ['--host', origin.address] : []),
      '--shards', String(shards), '--max-blob-bytes', String(maxBlobBytes),
      '--latency-ms', String(Math.round(shaping.latencyMs)), '--bandwidth', String(Math.round(shaping.bandwidthBytesPerSec)),
      '--failure-rate', String(shaping.failureRate), '--seed', String((this.init.seed >>> 0) % 2 ** 32)
    ], { label: 'herd devnet', ...(this.init.signal != null ? { signal: this.init.signal } : {}), readyTimeoutMs: this.init.readyTimeoutMs ?? DEFAULT_READY_MS, ...(origin != null ? { netns: origin.netns } : {}), ...this.logsFor('devnet') })
    this.walrusUrl = String(this.devnet.ready.walrus).replace(/\/+$/, '')
    this.ledgerUrl = String(this.devnet.ready.ledger).replace(/\/+$/, '')
    this.walrusControlUrl = this.walrusUrl
    if (origin != null) {
      this.walrusForward = await forwardInto(origin.netns, this.walrusUrl, this.init.signal != null ? { signal: this.init.signal } : {})
      this.walrusControlUrl = this.walrusForward.url
    }
    this.log(`devnet: walrus ${this.walrusUrl}, ledger ${this.ledgerUrl}, ${shards} shards`)
  }

  async setShaping (shaping: Partial<OriginShapingInit>): Promise<void> {
    const response = await fetch(`${this.walrusControlUrl}/herd/v1/shaping`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(shaping),
      signal: AbortSignal.timeout(5_000)
    })
    if (!response.ok) throw new Error(`PUT /herd/v1/shaping: ${response.status} ${await response.text()}`)
    await response.body?.cancel()
  }

  async walrusStats (): Promise<WalrusStats> {
    const stats = await getJson(`${this.walrusControlUrl}/herd/v1/stats`)
    return { blobsServed: stats.blobsServed ?? 0, bytesServed: stats.bytesServed ?? 0, rangeRequests: stats.rangeRequests ?? 0, failuresInjected: stats.failuresInjected ?? 0 }
  }

  /** Writes each synthetic model to a file and pushes it with `herd model push`, with the origin unshaped meanwhile. */
  async publishModels (): Promise<void> {
    const dir = join(this.init.workDir, 'models')
    await mkdir(dir, { recursive: true })
    await this.setShaping({ latencyMs: 0, bandwidthBytesPerSec: 0, failureRate: 0 })
    const sizes = this.init.modelSizes
    const blobIds: string[] = new Array(sizes.length)
    // Two pushes at once; a large model is built in memory one at a time.
    const push = async (i: number): Promise<void> => {
      const size = sizes[i]!
      const path = join(dir, `sim-model-${i}.onnx`)
      await writeFile(path, syntheticModelOfSize(size, (this.init.seed * 1000 + i) >>> 0))
      const out = await runHerd(['model', 'push', path, '--name', `sim-model-${i}`, '--chunk-size', String(this.init.chunkBytes), '--walrus', this.walrusUrl, '--ledger', this.ledgerUrl, '--data-dir', join(this.init.workDir, 'publisher')], {
        timeoutMs: 120_000 + Math.ceil(size / (5 * 1024 * 1024)) * 1000,
        ...(this.init.signal != null ? { signal: this.init.signal } : {}),
        ...(this.init.namespaces != null ? { netns: this.init.namespaces.origin.netns } : {})
      })
      const entry = JSON.parse(out.trim().split('\n').pop() ?? '{}')
      if (typeof entry.blobId !== 'string') throw new Error(`herd model push printed no blob ID: ${out.slice(0, 500)}`)
      blobIds[i] = entry.blobId
      await rm(path, { force: true })
    }
    const big = sizes.some(s => s > 256 * 1024 * 1024)
    // The first push creates the publisher's key; concurrent first pushes would race to write it.
    if (sizes.length > 0) await push(0)
    let next = 1
    await Promise.all(Array.from({ length: Math.min(big ? 1 : 2, sizes.length) }, async () => {
      while (next < sizes.length) await push(next++)
    }))
    this.blobIds = blobIds
    const { shaping } = this.init
    await this.setShaping({ latencyMs: Math.round(shaping.latencyMs), bandwidthBytesPerSec: Math.round(shaping.bandwidthBytesPerSec), failureRate: shaping.failureRate })
    this.log(`published ${sizes.length} models`)
  }

  private async writeConfig (): Promise<void> {
    const namespaces = this.init.namespaces
    await writeFile(this.configPath, JSON.stringify({
      cache: { quotaBytes: Math.max(1, Math.floor(this.init.cacheQuotaBytes)), policy: this.init.cachePolicy ?? DEFAULT_POLICY },
      mesh: {
        digestIntervalMs: this.digestIntervalMs,
        dhtProvide: false,
        privateNetwork: true,
        allow: namespaces != null ? namespaces.nodes.map(n => `/ip4/${n.address}`) : ['/ip4/127.0.0.1'],
        ...(this.init.uploadBytesPerSec != null ? { uploadBytesPerSec: this.init.uploadBytesPerSec } : {})
      },
      // Through a forwarder the API is asked for on another port of 127.0.0.1 than its own.
      ...(namespaces != null ? { api: { allowedHosts: ['127.0.0.1'] } } : {}),
      inference: { concurrency: 1 },
      proofs: { enabled: false }
    }, null, 2))
  }

  /** Multiaddrs to bootstrap from: node 0 if it is up, else the first nodes that are (mesh only). */
  private bootstrapFor (index: number): string[] {
    if (!this.init.mesh) return []
    const up = this.nodes.filter(n => n.index !== index && n.process != null && n.starting == null && n.multiaddrs.length > 0)
    if (up.length === 0) return []
    // Node 0 (or the first node up), plus a few others picked by a seeded draw: a star of 32 leaves most
    // nodes outside the hub's gossipsub mesh (D_hi = 12) and with no other peer to fetch from.
    const [first, ...rest] = up
    const random = seededRandom((this.init.seed ^ Math.imul(index + 1, 0x9e3779b9) ^ Math.imul(this.nodes[index]!.starts + 1, 0x85ebca6b)) >>> 0)
    for (let i = rest.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      const t = rest[i]!
      rest[i] = rest[j]!
      rest[j] = t
    }
    return [first!, ...rest.slice(0, this.init.extraBootstrap ?? 2)].map(n => n.multiaddrs[0]!)
  }

  isUp (index: number): boolean {
    const node = this.nodes[index]
    return node?.process != null && node.starting == null && node.process.child.exitCode == null && node.process.child.signalCode == null
  }

  async startNodes (): Promise<void> {
    await this.writeConfig()
    const concurrency = this.init.startConcurrency ?? 4
    // Node 0 first: in a mesh the others bootstrap through it.
    await this.startNode(0, true)
    let next = 1
    await Promise.all(Array.from({ length: Math.min(concurrency, this.nodes.length - 1) }, async () => {
      while (next < this.nodes.length) await this.startNode(next++, true)
    }))
    if (this.init.mesh && this.nodes.length > 1) this.nodesWithoutPeers = await this.waitForPeers()
  }

  /** Starts node `index` (again: same data dir, so same key and cache). Resolves true when up; with `strict`, throws on failure. */
  async startNode (index: number, strict = false): Promise<boolean> {
    const node = this.nodes[index]!
    if (this.stopped) return false
    if (node.starting != null) return node.starting
    if (this.isUp(index)) return true
    const bootstrap = this.bootstrapFor(index)
    const args = ['start', '--data-dir', node.dataDir, '--api-port', '0', '--walrus', this.walrusUrl, '--ledger', this.ledgerUrl, '--config', this.configPath]
    const ns = this.init.namespaces?.nodes[index]
    if (ns != null) args.push('--listen', `/ip4/${ns.address}/tcp/0`)
    if (bootstrap.length > 0) args.push('--bootstrap', ...bootstrap)
    const starting = (async () => {
      try {
        const signal = this.init.signal != null ? { signal: this.init.signal } : {}
        const proc = await spawnHerd(args, { label: `herd node ${index}`, readyTimeoutMs: this.init.readyTimeoutMs ?? DEFAULT_READY_MS, ...signal, ...(ns != null ? { netns: ns.netns } : {}), ...this.logsFor(`node-${index}`) })
        if (this.stopped) {
          await proc.stop()
          return false
        }
        const api = String(proc.ready.api).replace(/\/+$/, '')
        if (ns != null) {
          try {
            node.apiForward = await forwardInto(ns.netns, api, signal)
          } catch (err) {
            await proc.stop()
            throw err
          }
        }
        node.process = proc
        node.peerId = proc.ready.peerId
        node.api = node.apiForward?.url ?? api
        node.multiaddrs = proc.ready.multiaddrs ?? []
        node.starts++
        return true
      } catch (err) {
        if (strict) throw err
        this.log(`node ${index} did not start: ${(err as Error).message}`)
        return false
      }
    })()
    node.starting = starting
    try {
      return await starting
    } finally {
      node.starting = undefined
    }
  }

  /** SIGTERM (then SIGKILL after a bound) to node `index`. */
  async stopNode (index: number): Promise<void> {
    const node = this.nodes[index]!
    if (node.starting != null) await node.starting
    const proc = node.process
    const forward = node.apiForward
    node.process = undefined
    node.api = undefined
    node.apiForward = undefined
    if (proc != null) await proc.stop()
    await forward?.close()
  }

  /** Until each running node's /status shows a peer, bounded; nodes still alone are reported, not fatal. */
  async waitForPeers (timeoutMs = this.init.peerWaitMs ?? 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs
    const pending = new Set(this.nodes.filter(n => this.isUp(n.index)).map(n => n.index))
    while (pending.size > 0 && Date.now() < deadline) {
      this.init.signal?.throwIfAborted()
      await Promise.all([...pending].map(async i => {
        try {
          const status = await getJson(`${this.nodes[i]!.api}/status`, 2_000)
          if (status.peers >= 1) pending.delete(i)
        } catch {}
      }))
      if (pending.size > 0) await sleep(200)
    }
    if (pending.size > 0) this.log(`nodes without peers after ${timeoutMs} ms: ${[...pending].join(', ')}`)
    return pending.size
  }

  /** Stops every node and the devnet; safe to call twice. */
  async stop (): Promise<void> {
    this.stopped = true
    await Promise.allSettled(this.nodes.map(async n => this.stopNode(n.index)))
    const devnet = this.devnet
    this.devnet = undefined
    if (devnet != null) await devnet.stop()
    const walrusForward = this.walrusForward
    this.walrusForward = undefined
    await walrusForward?.close()
  }
}

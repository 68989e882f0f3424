/**
 * One swarm pull under real link caps, for the swarm benchmark and its test:
 * N herd node processes, each in its own network namespace with a capped
 * link, and the devnet (Walrus and ledger) behind its own capped link; every
 * node is asked for the same blob at once, and what each received, from
 * where and how fast is measured. The namespaces and processes are always
 * removed, whatever happens.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DIGEST_INTERVAL_MS } from '../src/mesh/constants.js'
import { LiveCluster } from '../sim/live-cluster.js'
import { forEachLine } from './ndjson-lines.js'
import { cpuSecondsOf, machineTicks, sampleLinks, type LinkSample } from './link-counters.js'
import { sampleSocketQueues, type SocketSample } from './socket-queues.js'
import { cleanLeftovers, congestionControlOf, createSwarm, removeSwarm, type LinkQueue } from './netns.js'
import { tcpAllToAll, type TcpBaseline } from './tcp-baseline.js'

export interface SwarmPullInit {
  nodes: number
  /** Size of the one model pulled. */
  blobBytes: number
  chunkBytes: number
  /** Cap on each node's link, each direction. */
  nodeCapBytesPerSec: number
  /** Cap on the origin's link, each direction. */
  originCapBytesPerSec: number
  /** Latency the devnet's Walrus adds to each answer: a distant origin's time to first byte. */
  originLatencyMs: number
  seed: number
  /** Bound on the pull itself (setup has its own bounds). */
  pullTimeoutMs: number
  signal?: AbortSignal
  log?: (message: string) => void
  /** Scratch space; a temp dir (removed) when not given. */
  workDir?: string
  /** The namespaces' TCP congestion control; the host's when not given. */
  congestionControl?: string
  /** How each capped link queues (harness/netns.ts); drop-tail when not given. */
  linkQueue?: LinkQueue
  /** Seconds of plain TCP between the nodes' namespaces before herd starts (tcp-baseline.ts); none when not given. */
  tcpBaselineSeconds?: number
  /** Each node's upload pace (mesh.uploadBytesPerSec); absent: none. */
  uploadBytesPerSec?: number
  /** Read every node's TCP socket queues this often through the pull (socket-queues.ts); absent: not read. */
  socketSampleMs?: number
}

export interface NodePull {
  node: number
  ok: boolean
  error?: string
  /** From the request to fetch:done. */
  ms: number
  /** From the request to the first chunk. */
  firstChunkMs: number
  peerBytes: number
  walrusBytes: number
  /** The blob's size as the node gave it. */
  size: number
  /** Each chunk as it landed: ms from the request, chunk index, where from (a peer's id, or 'walrus'); what a per-node timeline is read from. */
  landed: Array<[ms: number, index: number, from: string]>
}

export interface SwarmPullResult {
  blobId: string
  /** The published model's size (a synthetic model comes within a little of the size asked for). */
  blobBytes: number
  nodes: NodePull[]
  /** Bytes the devnet's Walrus served during the pull. */
  originBytes: number
  /** From the first request to the last node's fetch:done. */
  allMs: number
  /** Nodes that saw no peer before the pull. */
  nodesWithoutPeers: number
  setupMs: number
  /** CPU time the node processes spent during the pull (user + system). */
  nodeCpuSeconds: number
  /**
   * Time the node processes' threads spent ready to run but waiting for a
   * CPU during the pull (the kernel's schedstat): well above nodeCpuSeconds,
   * the nodes were starved by the machine, whatever their links allowed.
   * Undefined where the kernel does not keep it.
   */
  nodeRunQueueSeconds?: number
  /** CPU seconds the node processes spent in the settle time before the pull, per node and second: the cost of a node at rest. */
  restCpuShare: number
  /** Share of the whole machine's CPU time that was busy during the pull (every process, not only herd's): near 1, the figures are the CPU's. */
  machineBusyShare: number
  /**
   * /herd/blob/1.0.0 requests the nodes served during the pull (HAVE, CHUNKS,
   * hashes): each is a stream of its own, with a cost that a count shows on
   * a loaded machine where CPU seconds are noisy.
   */
  blobRequests: number
  /**
   * Every link's byte counters, the devnet's CPU (`cpuSeconds[0]`) and the
   * nodes' together (`[1]`), sampled through the pull: `received[0]` and
   * `sent[0]` are the origin's link, `[i + 1]` node i's.
   * Times are performance.now() ms; the pull started at `startedAt`.
   */
  links: { startedAt: number, samples: LinkSample[] }
  /** The nodes' socket queues through the pull, if asked for (socketSampleMs). */
  sockets?: SocketSample[]
  /** The nodes' namespaces' TCP congestion control. */
  congestionControl: string
  /** What plain TCP, every node sending to every other, got through the same links before the pull (if asked for). */
  tcpBaseline?: TcpBaseline
}

/** How often the links' counters are read during a pull: often enough to see a 2 s pace window, one cheap command each. */
const LINK_SAMPLE_MS = 250

/** Blob requests a node has served so far, from its /status; 0 if it does not answer. */
async function blobRequestsOf (api: string, signal?: AbortSignal): Promise<number> {
  try {
    const response = await fetch(`${api}/status`, signal != null ? { signal } : {})
    const status = await response.json() as { serve?: { requests?: unknown } }
    return typeof status.serve?.requests === 'number' ? status.serve.requests : 0
  } catch {
    return 0
  }
}

/** The wait for gossip to settle before the pull: gossipsub grafts its mesh at heartbeats, one a second. */
const SETTLE_MS = 5_000

/** Seconds the threads of these processes have waited on a run queue for a CPU so far (/proc/PID/task/TID/schedstat's second field, in ns); undefined without schedstats. */
async function runQueueSecondsOf (pids: number[]): Promise<number | undefined> {
  let wait: number | undefined
  for (const pid of pids) {
    for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
      const waited = Number((await readFile(`/proc/${pid}/task/${task}/schedstat`, 'utf8').catch(() => '')).trim().split(' ')[1])
      if (Number.isFinite(waited)) wait = (wait ?? 0) + waited / 1e9
    }
  }
  return wait
}

/** POSTs the fetch to one node's API and reads its NDJSON to the end, timing the first chunk and the end. */
async function pullAt (node: number, api: string, blobId: string, signal: AbortSignal): Promise<NodePull> {
  const started = performance.now()
  const result: NodePull = { node, ok: false, ms: 0, firstChunkMs: Number.NaN, peerBytes: 0, walrusBytes: 0, size: 0, landed: [] }
  try {
    const response = await fetch(`${api}/v1/blobs/${blobId}/fetch`, { method: 'POST', signal })
    if (!response.ok || response.body == null) {
      result.error = `HTTP ${response.status} ${(await response.text().catch(() => '')).slice(0, 200)}`
      return result
    }
    const onLine = (line: string): void => {
      if (line.trim() === '') return
      const event = JSON.parse(line)
      if (event.type === 'fetch:chunk') {
        if (Number.isNaN(result.firstChunkMs)) result.firstChunkMs = performance.now() - started
        result.landed.push([Math.round(performance.now() - started), Number(event.index), event.source === 'peer' ? String(event.peerId) : String(event.source)])
        if (event.source === 'peer') result.peerBytes += event.bytes
        else if (event.source === 'walrus') result.walrusBytes += event.bytes
      } else if (event.type === 'fetch:done') {
        result.ok = true
        result.ms = performance.now() - started
        result.size = Number(event.size)
      } else if (event.type === 'error') {
        result.error = `${event.error?.name}: ${event.error?.message}`.slice(0, 300)
      }
    }
    await forEachLine(response.body as unknown as AsyncIterable<Uint8Array>, onLine)
    if (!result.ok && result.error == null) result.error = 'the stream ended without fetch:done'
  } catch (err) {
    result.error = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 300)
  }
  return result
}

/**
 * Builds the swarm (origin and N nodes, each in its namespace), publishes
 * one model, starts the nodes in one mesh, asks them all for it at once, and
 * tears everything down. `inspect` runs before the teardown, with the
 * cluster still up (the test reads the blob back from every node).
 */
export async function runSwarmPull (init: SwarmPullInit, inspect?: (cluster: LiveCluster, result: SwarmPullResult) => Promise<void>): Promise<SwarmPullResult> {
  const log = init.log ?? (() => {})
  const setupStarted = performance.now()
  const removed = await cleanLeftovers()
  if (removed.length > 0) log(`removed ${removed.length} namespaces a crashed run left`)
  const workDir = init.workDir ?? await mkdtemp(join(tmpdir(), 'herd-swarm-'))
  let swarm
  try {
    swarm = await createSwarm([
      { name: 'origin', capBytesPerSec: init.originCapBytesPerSec },
      ...Array.from({ length: init.nodes }, (_, i) => ({ name: `n${i}`, capBytesPerSec: init.nodeCapBytesPerSec }))
    ], { ...(init.signal != null ? { signal: init.signal } : {}), ...(init.congestionControl != null ? { congestionControl: init.congestionControl } : {}), ...(init.linkQueue != null ? { linkQueue: init.linkQueue } : {}) })
  } catch (err) {
    if (init.workDir == null) await rm(workDir, { recursive: true, force: true })
    throw err
  }
  const cluster = new LiveCluster({
    workDir,
    nodes: init.nodes,
    modelSizes: [init.blobBytes],
    chunkBytes: init.chunkBytes,
    mesh: true,
    cacheQuotaBytes: 2 * init.blobBytes,
    shaping: { latencyMs: init.originLatencyMs, bandwidthBytesPerSec: 0, failureRate: 0 },
    seed: init.seed,
    // Every node bootstraps to a few others as well as node 0: the pull should not depend on one hub.
    extraBootstrap: 3,
    // A node's own default. Live mode's (1 s at 8 nodes) has every node check a signed digest from every other each second:
    // in a profile of a pull at 8 nodes, gossipsub took a fifth of the nodes' CPU, for digests of caches that hold nothing yet.
    digestIntervalMs: DIGEST_INTERVAL_MS,
    ...(init.uploadBytesPerSec != null ? { uploadBytesPerSec: init.uploadBytesPerSec } : {}),
    // Sixteen processes starting on two busy cores: one took over a minute to be ready.
    readyTimeoutMs: 180_000,
    namespaces: {
      origin: swarm.endpoint('origin'),
      nodes: Array.from({ length: init.nodes }, (_, i) => swarm.endpoint(`n${i}`))
    },
    ...(init.signal != null ? { signal: init.signal } : {}),
    log
  })
  try {
    const nodeEndpoints = Array.from({ length: init.nodes }, (_, i) => swarm.endpoint(`n${i}`))
    const congestionControl = await congestionControlOf(nodeEndpoints[0]!.netns, init.signal)
    let tcpBaseline: TcpBaseline | undefined
    if (init.tcpBaselineSeconds != null) {
      log(`plain TCP between the ${init.nodes} nodes' namespaces, every one sending to every other (${congestionControl}), for ${init.tcpBaselineSeconds} s`)
      tcpBaseline = await tcpAllToAll(nodeEndpoints, { seconds: init.tcpBaselineSeconds, ...(init.signal != null ? { signal: init.signal } : {}) })
    }
    await cluster.start()
    const blobId = cluster.blobIds[0]!
    const pids = cluster.nodes.map(n => n.process?.pid ?? -1)
    // Let gossip settle (subscriptions, the mesh grafted over a few heartbeats of 1 s) before the clock starts.
    const restBefore = await Promise.all(pids.map(cpuSecondsOf))
    const restStarted = performance.now()
    await sleep(SETTLE_MS, undefined, init.signal != null ? { signal: init.signal } : {})
    const restCpu = (await Promise.all(pids.map(cpuSecondsOf))).reduce((sum, t, i) => sum + t - (restBefore[i] ?? 0), 0)
    const restCpuShare = restCpu / pids.length / ((performance.now() - restStarted) / 1000)
    const setupMs = performance.now() - setupStarted
    const before = await cluster.walrusStats()
    const signal = AbortSignal.any([AbortSignal.timeout(init.pullTimeoutMs), ...(init.signal != null ? [init.signal] : [])])
    const requestsBefore = await Promise.all(cluster.nodes.map(async n => blobRequestsOf(n.api!, init.signal)))
    const cpuBefore = await Promise.all(pids.map(cpuSecondsOf))
    const waitBefore = await runQueueSecondsOf(pids)
    const ticksBefore = await machineTicks()
    const sampling = new AbortController()
    const samplingSignal = AbortSignal.any([sampling.signal, ...(init.signal != null ? [init.signal] : [])])
    const linkSamples = sampleLinks(swarm.hub, swarm.endpoints.map(e => e.hubPort), { periodMs: LINK_SAMPLE_MS, cpuGroups: [cluster.devnet?.pid != null ? [cluster.devnet.pid] : [], pids], signal: samplingSignal })
    const nodeAddresses = new Set(nodeEndpoints.map(e => e.address))
    const socketSamples = init.socketSampleMs != null
      ? sampleSocketQueues(nodeEndpoints.map(e => e.netns), { periodMs: init.socketSampleMs, peerAddress: a => nodeAddresses.has(a), signal: samplingSignal })
      : undefined
    const started = performance.now()
    const nodes = await Promise.all(cluster.nodes.map(async n => pullAt(n.index, n.api!, blobId, signal)))
    const allMs = performance.now() - started
    // One more sample after the last node is done, so the counters cover the whole pull.
    await sleep(LINK_SAMPLE_MS)
    sampling.abort()
    const samples = await linkSamples
    const sockets = await socketSamples
    const ticksAfter = await machineTicks()
    const waitAfter = await runQueueSecondsOf(pids)
    const cpuAfter = await Promise.all(pids.map(cpuSecondsOf))
    const after = await cluster.walrusStats()
    const requestsAfter = await Promise.all(cluster.nodes.map(async n => blobRequestsOf(n.api!, init.signal)))
    init.signal?.throwIfAborted()
    const result: SwarmPullResult = {
      blobId,
      blobBytes: Math.max(0, ...nodes.map(n => n.size)),
      nodes,
      originBytes: after.bytesServed - before.bytesServed,
      allMs,
      nodesWithoutPeers: cluster.nodesWithoutPeers,
      setupMs,
      nodeCpuSeconds: cpuAfter.reduce((sum, t, i) => sum + t - (cpuBefore[i] ?? 0), 0),
      ...(waitBefore != null && waitAfter != null ? { nodeRunQueueSeconds: waitAfter - waitBefore } : {}),
      restCpuShare,
      machineBusyShare: (ticksAfter.busy - ticksBefore.busy) / Math.max(1, ticksAfter.total - ticksBefore.total),
      blobRequests: requestsAfter.reduce((sum, n, i) => sum + n - (requestsBefore[i] ?? 0), 0),
      links: { startedAt: started, samples },
      ...(sockets != null ? { sockets } : {}),
      congestionControl,
      ...(tcpBaseline != null ? { tcpBaseline } : {})
    }
    if (inspect != null) await inspect(cluster, result)
    return result
  } finally {
    await cluster.stop()
    await removeSwarm(swarm)
    if (init.workDir == null) await rm(workDir, { recursive: true, force: true })
  }
}

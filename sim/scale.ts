/**
 * Scale mode: a discrete-event model of a mesh of up to 10,000 nodes, run on
 * a scenario's trace. Each node's cache is the project's own eviction policy
 * (createPolicy from src/blob/cache/policy.ts) under the scenario's quota, and
 * a miss follows the fetcher's rules (docs/mesh.md):
 *
 * - a model the node holds is a local hit (time to model 0); a request for a
 *   model the node is already downloading waits for that download;
 * - gossip is modelled as instant, exact knowledge of which live nodes hold a
 *   model or are downloading it;
 * - every download first gets the model's chunk hashes (32 bytes a chunk):
 *   from a peer that has them (one RTT), else from Walrus (its latency, and
 *   a Walrus fetch), as the fetcher does before it reserves room;
 * - holders exist: a peer download from one of them, picked at random; it
 *   takes RTT + size / peer bandwidth (the downloader's link is the limit);
 *   the holder's copy is in use while it serves, so not evictable, as in the
 *   real cache;
 * - no holder, no download in progress: a cold download. The node announces,
 *   waits `coordinationMs`, and the nodes that asked for the model within
 *   that window split the blob's chunks by the fetcher's own rule
 *   (src/mesh/provider-selection.ts: contiguous segments in sorted-ID order,
 *   so a one-chunk model is read by one node): each reads its segment from
 *   Walrus (latency + segment / Walrus bandwidth) and the rest from the
 *   others, and the mesh pulls the model once. A downloader whose segment is
 *   empty gets the whole model from peers: a peer hit, as live mode counts it;
 * - no holder, a cold download past its window: the node follows it, taking
 *   chunks from the downloaders, done no earlier than the Walrus reads end;
 * - churn: a node that leaves abandons its downloads (their waiting requests
 *   get no time sample) and stops serving; whoever it served moves to another
 *   holder, or if none is left reads the rest from Walrus after `stallMs`; a
 *   share of a cold download it was reading is read by another downloader
 *   after `stallMs`;
 * - the space of a download is reserved when it starts, evicting by policy
 *   (the cache's planRoom). When what is left is held by other downloads'
 *   reservations or by models being served to peers, the download waits for
 *   room, as BlobCache does: its chunk hashes are read meanwhile, it begins
 *   when a download or an upload on its node ends and leaves room enough
 *   (any waiting download that fits, not only the oldest), and after the
 *   cache's room wait (`DEFAULT_ROOM_WAIT_MS`) it fails: its requests get no
 *   time sample. A model larger than the quota is used and not kept.
 *
 * Not modelled: forwarding inference to a holder (src/inference/routing.ts),
 * upload contention at a holder, DHT lookups, Bloom digest false positives,
 * hostile or trickling peers (every peer here is honest and keeps its pace,
 * so the fetcher's pace window and end game in src/mesh/download.ts never act).
 *
 * `noMesh` is the same caches with every miss going to Walrus (no peers, no
 * coordination).
 */
import { DEFAULT_ROOM_WAIT_MS } from '../src/blob/cache/constants.js'
import { createPolicy, type EvictionPolicy } from '../src/blob/cache/policy.js'
import { HASH_BYTES } from '../src/blob/chunk-tree.js'
import { DEFAULT_DOWNLOAD_TUNING } from '../src/mesh/fetcher.js'
import { hedgeMarginMs } from '../src/mesh/hedge.js'
import { directReadMs } from '../src/mesh/origin-timing.js'
import { downloaderOrder, walrusShareOf } from '../src/mesh/provider-selection.js'
import { seededRandom } from '../src/seeded-random.js'
import { cdfSamples, MAX_CDF_SAMPLES, nodeHitRateSpread, percentileOfSorted, sortedSamples } from './percentiles.js'
import { generateTrace, streamSeed } from './trace.js'
import { optimalMetrics } from './optimal.js'
import { quotaBytesOf, withCacheFraction, type Scenario } from './scenario.js'
import type { ChurnEvent, StrategyMetrics, StrategyName, SweepPoint, Trace, TraceRequest } from './types.js'

export type ScaleStrategy = 'mesh' | 'noMesh'

const STREAM_PEER_CHOICE = 7
/** Requests between progress reports. */
const PROGRESS_EVERY = 4096

interface Download {
  node: number
  model: number
  kind: 'peer' | 'walrus'
  startMs: number
  endMs: number
  /** Bumped when the end moves: a queued completion with another version is stale. */
  version: number
  /** Space reserved in the node's cache; false: used once and not kept, or still waiting for room. */
  keep: boolean
  /** Set while the download waits for room in its node's cache: since when. */
  roomWaitSinceMs: number | undefined
  /** When its chunk hashes arrived, read while it waited for room. */
  hashesAtMs: number | undefined
  cancelled: boolean
  /** Arrival times of the requests waiting for it. */
  waiting: number[]
  /** Requests not yet counted as peer or Walrus hits: a cold download's source is known when its window closes. */
  uncounted: number
  /** The holder serving a peer download, or -1. */
  source: number
  swarm: Swarm | undefined
}

/** The downloaders of a model nobody held: they split the Walrus reads. */
interface Swarm {
  model: number
  coordEndMs: number
  /** When the first downloader has the chunk hashes: later joiners get them from it. */
  hashesAtMs: number
  /** Walrus reads start and end (Infinity until the coordination window closes). */
  walrusStartMs: number
  walrusDoneMs: number
  /** Bytes each reader reads from Walrus, once the window has closed. */
  shares: Map<Download, number>
  readers: Set<Download>
  members: Set<Download>
}

interface NodeState {
  live: boolean
  policy: EvictionPolicy
  /** Bytes of complete models, and bytes reserved by downloads that will be kept. */
  used: number
  reserved: number
  held: Set<number>
  downloads: Map<number, Download>
  /** Peer downloads this node is serving, by model. */
  uploads: Map<number, Set<Download>>
  /** Downloads waiting for room, oldest first. */
  roomWaits: Download[]
}

/** Live holders of one model, in an array for a uniform random pick. */
class HolderSet {
  readonly list: number[] = []
  private readonly at = new Map<number, number>()

  add (node: number): void {
    if (this.at.has(node)) return
    this.at.set(node, this.list.length)
    this.list.push(node)
  }

  delete (node: number): void {
    const i = this.at.get(node)
    if (i == null) return
    const last = this.list.pop() as number
    if (last !== node) {
      this.list[i] = last
      this.at.set(last, i)
    }
    this.at.delete(node)
  }

  get size (): number {
    return this.list.length
  }
}

type QueuedEvent =
  | { atMs: number, kind: 'done', download: Download, version: number }
  | { atMs: number, kind: 'coord', swarm: Swarm }
  | { atMs: number, kind: 'roomTimeout', download: Download }
type SimEvent = QueuedEvent & { seq: number }

/** A binary min-heap of events by time, ties by insertion order. */
class EventQueue {
  private readonly items: SimEvent[] = []
  private seq = 0

  get size (): number {
    return this.items.length
  }

  peekTime (): number {
    return this.items.length === 0 ? Infinity : (this.items[0] as SimEvent).atMs
  }

  push (event: QueuedEvent): void {
    const items = this.items
    const item: SimEvent = { ...event, seq: this.seq++ }
    let i = items.length
    items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(item, items[parent] as SimEvent)) break
      items[i] = items[parent] as SimEvent
      i = parent
    }
    items[i] = item
  }

  pop (): SimEvent | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top == null || last == null || items.length === 0) return top
    let i = 0
    const n = items.length
    while (true) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && before(items[r] as SimEvent, items[l] as SimEvent) ? r : l
      if (!before(items[child] as SimEvent, last)) break
      items[i] = items[child] as SimEvent
      i = child
    }
    items[i] = last
    return top
  }
}

function before (a: SimEvent, b: SimEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq)
}

class ScaleModel {
  private readonly nodes: NodeState[]
  private readonly holders: HolderSet[]
  private readonly swarms: Array<Swarm | undefined>
  /** Peer downloads being served, per model. */
  private readonly peerDownloads: Uint32Array
  private readonly sizes: number[]
  private readonly ids: string[]
  private readonly indexOf = new Map<string, number>()
  private readonly quota: number
  private readonly queue = new EventQueue()
  private readonly pick: () => number
  private readonly mesh: boolean
  private readonly net: Scenario['network']
  private readonly scenario: Scenario
  private readonly trace: Trace
  private now = 0

  // Counters.
  private localHits = 0
  private localHitBytes = 0
  private peerHits = 0
  private walrusHits = 0
  private walrusFetches = 0
  private walrusBytes = 0
  private peerBytes = 0
  private readonly nodeRequests: Uint32Array
  private readonly nodeHits: Uint32Array
  private readonly ttm: Float64Array
  private ttmCount = 0

  constructor (scenario: Scenario, trace: Trace, strategy: ScaleStrategy) {
    this.scenario = scenario
    this.trace = trace
    this.mesh = strategy === 'mesh'
    this.net = scenario.network
    this.sizes = trace.models.map(m => m.sizeBytes)
    this.ids = trace.models.map(m => `m${m.index}`)
    this.ids.forEach((id, i) => this.indexOf.set(id, i))
    this.quota = quotaBytesOf(scenario, this.sizes.reduce((a, b) => a + b, 0))
    this.nodes = Array.from({ length: trace.nodes }, () => this.newNode())
    this.holders = trace.models.map(() => new HolderSet())
    this.swarms = trace.models.map(() => undefined)
    this.peerDownloads = new Uint32Array(trace.models.length)
    this.pick = seededRandom(streamSeed(trace.seed, STREAM_PEER_CHOICE))
    this.nodeRequests = new Uint32Array(trace.nodes)
    this.nodeHits = new Uint32Array(trace.nodes)
    this.ttm = new Float64Array(trace.requests.length)
  }

  private newNode (): NodeState {
    return { live: true, policy: createPolicy(this.scenario.cache.policy, { capacityBytes: this.quota }), used: 0, reserved: 0, held: new Set(), downloads: new Map(), uploads: new Map(), roomWaits: [] }
  }

  /** Bytes of the requests the node's own cache served: the policy's byte hit ratio is these over the bytes asked for. */
  get servedLocallyBytes (): number {
    return this.localHitBytes
  }

  run (onRequests?: (count: number) => void): StrategyMetrics {
    const { requests, churn } = this.trace
    let r = 0
    let reported = 0
    let c = 0
    while (r < requests.length || c < churn.length || this.queue.size > 0) {
      const request = requests[r]
      const change = churn[c]
      const traceAt = Math.min(request?.atMs ?? Infinity, change?.atMs ?? Infinity)
      if (this.queue.peekTime() <= traceAt) {
        this.handle(this.queue.pop() as SimEvent)
      } else if (change != null && change.atMs <= (request?.atMs ?? Infinity)) {
        this.now = change.atMs
        if (change.kind === 'leave') this.leave(change)
        else this.join(change)
        c++
      } else {
        this.now = (request as TraceRequest).atMs
        this.request(request as TraceRequest)
        r++
        if (onRequests != null && r - reported >= PROGRESS_EVERY) {
          onRequests(r - reported)
          reported = r
        }
      }
    }
    if (r > reported) onRequests?.(r - reported)
    return this.metrics()
  }

  private handle (event: SimEvent): void {
    this.now = event.atMs
    if (event.kind === 'coord') this.coordinate(event.swarm)
    else if (event.kind === 'roomTimeout') this.roomTimedOut(event.download)
    else if (!event.download.cancelled && event.version === event.download.version) this.complete(event.download)
  }

  private request (request: TraceRequest): void {
    const { node: v, model: m } = request
    const node = this.nodes[v] as NodeState
    this.nodeRequests[v] = (this.nodeRequests[v] as number) + 1
    if (node.held.has(m)) {
      node.policy.hit(this.ids[m] as string)
      this.localHits++
      this.localHitBytes += this.sizes[m] as number
      this.nodeHits[v] = (this.nodeHits[v] as number) + 1
      this.ttm[this.ttmCount++] = 0
      return
    }
    const download = node.downloads.get(m) ?? this.startDownload(v, m)
    download.waiting.push(this.now)
    download.uncounted++
    if (download.roomWaitSinceMs == null && (download.swarm == null || this.now >= download.swarm.coordEndMs)) this.countHits(download)
  }

  /** The download's source is known: its requests so far are peer or Walrus hits. */
  private countHits (download: Download): void {
    if (download.kind === 'peer') {
      this.peerHits += download.uncounted
      this.nodeHits[download.node] = (this.nodeHits[download.node] as number) + download.uncounted
    } else {
      this.walrusHits += download.uncounted
    }
    download.uncounted = 0
  }

  private startDownload (v: number, m: number): Download {
    const size = this.sizes[m] as number
    const node = this.nodes[v] as NodeState
    const download: Download = {
      node: v, model: m, kind: 'walrus', startMs: this.now, endMs: Infinity, version: 0, keep: false, roomWaitSinceMs: undefined, hashesAtMs: undefined, cancelled: false, waiting: [], uncounted: 0, source: -1, swarm: undefined
    }
    node.downloads.set(m, download)
    if (size <= this.quota && !this.reserve(v, m)) {
      // The fetcher reads the chunk hashes before it asks the cache for room: from a holder when there is one.
      download.hashesAtMs = this.mesh && (this.holders[m] as HolderSet).size > 0 ? this.now + this.net.peerRttMs : this.hashesFromWalrus(m)
      download.roomWaitSinceMs = this.now
      node.roomWaits.push(download)
      this.queue.push({ atMs: this.now + DEFAULT_ROOM_WAIT_MS, kind: 'roomTimeout', download })
      return download
    }
    download.keep = size <= this.quota
    this.begin(download)
    return download
  }

  /** The hashes of a download: read while it waited for room, or now from Walrus (a fetch); when they arrive. */
  private hashesOf (download: Download): number {
    return download.hashesAtMs != null ? Math.max(this.now, download.hashesAtMs) : this.hashesFromWalrus(download.model)
  }

  /** The download's reads begin now, with its room reserved (or none to keep). */
  private begin (download: Download): void {
    const m = download.model
    const size = this.sizes[m] as number
    const net = this.net
    download.startMs = this.now
    if (!this.mesh) {
      download.endMs = this.hashesOf(download) + this.walrusMs(size)
      this.walrusFetches++
      this.walrusBytes += size
      this.schedule(download)
      this.countHits(download)
      return
    }
    const holders = this.holders[m] as HolderSet
    const swarm = this.swarms[m]
    if (holders.size > 0) {
      download.kind = 'peer'
      const holder = holders.list[Math.floor(this.pick() * holders.size)] as number
      this.serveFrom(download, holder)
      // The fetcher reads from every holder at once: the model's downloads share its holders' uploads, this one included.
      const sharing = Math.max(1, Math.ceil((this.peerDownloads[m] as number) / holders.size))
      download.endMs = this.now + 2 * net.peerRttMs + size * sharing / net.peerBandwidthBytesPerSec * 1000
      this.peerBytes += size
      this.hedge(download, size)
      this.schedule(download)
    } else if (swarm != null && this.now >= swarm.coordEndMs) {
      // Past the window: hashes and chunks from the downloaders, no sooner than the mesh has them all.
      download.kind = 'peer'
      download.swarm = swarm
      swarm.members.add(download)
      download.endMs = Math.max(swarm.walrusDoneMs, this.now) + net.peerRttMs
      download.endMs = Math.max(download.endMs, this.now + 2 * net.peerRttMs + size / net.peerBandwidthBytesPerSec * 1000)
      this.peerBytes += size
      this.schedule(download)
    } else {
      let joined = swarm
      if (joined == null) {
        const hashesAtMs = this.hashesOf(download)
        joined = { model: m, coordEndMs: this.now + this.coordinationMs(size), hashesAtMs, walrusStartMs: Infinity, walrusDoneMs: Infinity, shares: new Map(), readers: new Set(), members: new Set() }
        this.swarms[m] = joined
        this.queue.push({ atMs: joined.coordEndMs, kind: 'coord', swarm: joined })
      } else if (this.now < joined.hashesAtMs && download.hashesAtMs == null) {
        // Nobody has the hashes yet: this one reads them from Walrus too.
        this.hashesFromWalrus(m)
      }
      download.swarm = joined
      joined.readers.add(download)
      joined.members.add(download)
    }
    // A download that waited for room: the requests it gathered meanwhile are counted once its source is known.
    if (download.swarm == null || this.now >= download.swarm.coordEndMs) this.countHits(download)
  }

  /**
   * Room may have come free on node `v` (a download ended, or an upload that
   * kept a model from eviction): every waiting download that fits now begins.
   */
  private admitWaiting (v: number): void {
    const node = this.nodes[v] as NodeState
    if (!node.live || node.roomWaits.length === 0) return
    const still: Download[] = []
    for (const download of node.roomWaits) {
      if (download.cancelled) continue
      if (!this.reserve(v, download.model)) {
        still.push(download)
        continue
      }
      download.keep = true
      download.roomWaitSinceMs = undefined
      this.begin(download)
    }
    node.roomWaits = still
  }

  /** No room came within the cache's room wait: the fetch fails (CacheFullError), and its requests get no time sample. */
  private roomTimedOut (download: Download): void {
    if (download.cancelled || download.roomWaitSinceMs == null) return
    const node = this.nodes[download.node] as NodeState
    download.cancelled = true
    this.countHits(download)
    node.downloads.delete(download.model)
    node.roomWaits = node.roomWaits.filter(d => d !== download)
  }

  /** The coordination window closed: the downloaders so far split the Walrus reads by the fetcher's rule. */
  private coordinate (swarm: Swarm): void {
    const k = swarm.readers.size
    if (k === 0) {
      if (this.swarms[swarm.model] === swarm) this.swarms[swarm.model] = undefined
      return
    }
    const net = this.net
    const size = this.sizes[swarm.model] as number
    const chunkBytes = this.scenario.models.chunkBytes
    const chunkCount = Math.max(1, Math.ceil(size / chunkBytes))
    const byId = new Map([...swarm.readers].map(reader => [String(reader.node), reader]))
    // The fetcher's order, the same seen from any reader.
    const order = downloaderOrder([...byId].map(([peerId, reader]) => ({ peerId, since: reader.startMs })))
    let largest = 0
    order.forEach((id, rank) => {
      const reader = byId.get(id) as Download
      const { start, end } = walrusShareOf(rank, order.length, chunkCount)
      const share = Math.max(0, Math.min(end * chunkBytes, size) - start * chunkBytes)
      swarm.shares.set(reader, share)
      largest = Math.max(largest, share)
      if (share > 0) this.walrusFetches++
      else {
        // Every chunk from the others: a peer download, as the fetcher reports it.
        reader.kind = 'peer'
        swarm.readers.delete(reader)
      }
    })
    swarm.walrusStartMs = Math.max(this.now, swarm.hashesAtMs) + net.walrusLatencyMs
    swarm.walrusDoneMs = swarm.walrusStartMs - net.walrusLatencyMs + this.walrusMs(largest)
    this.walrusBytes += size
    for (const [reader, share] of swarm.shares) {
      const fromPeers = size - share
      this.peerBytes += fromPeers
      reader.endMs = Math.max(swarm.walrusDoneMs, swarm.walrusStartMs + fromPeers / net.peerBandwidthBytesPerSec * 1000) + (k > 1 ? net.peerRttMs : 0)
      this.countHits(reader)
      this.schedule(reader)
    }
  }

  private complete (download: Download): void {
    const { node: v, model: m } = download
    const node = this.nodes[v] as NodeState
    const id = this.ids[m] as string
    const size = this.sizes[m] as number
    node.downloads.delete(m)
    this.releaseSource(download)
    this.leaveSwarm(download)
    if (download.keep) {
      node.reserved -= size
      node.used += size
      node.held.add(m)
      node.policy.add(id, size)
      ;(this.holders[m] as HolderSet).add(v)
    }
    for (const [i, atMs] of download.waiting.entries()) {
      // Each waiting request then opens the blob, as BlobCache.open does: a hit for the policy, but for the first, whose request the add counted.
      if (download.keep && i > 0) node.policy.hit(id)
      this.ttm[this.ttmCount++] = this.now - atMs
    }
    this.admitWaiting(v)
  }

  /** Reading `bytes` straight from Walrus, as a download does (src/mesh/origin-timing.ts). */
  private walrusMs (bytes: number): number {
    const { walrusLatencyMs, walrusBandwidthBytesPerSec } = this.net
    return directReadMs(bytes, walrusLatencyMs, walrusBandwidthBytesPerSec, DEFAULT_DOWNLOAD_TUNING.requestBytes, DEFAULT_DOWNLOAD_TUNING.walrusReads)
  }

  /** Walrus alone for a request of `size` bytes: the chunk hashes (one latency), then the blob. */
  private aloneMs (size: number): number {
    return this.net.walrusLatencyMs + this.walrusMs(size)
  }

  /** The coordination window, capped as the fetcher caps it: no longer than the hedge's margin over Walrus alone. */
  private coordinationMs (size: number): number {
    return Math.min(this.net.coordinationMs, hedgeMarginMs(this.aloneMs(size), this.net.walrusLatencyMs))
  }

  /**
   * The fetcher's hedge (src/mesh/hedge.ts) on a warm download that would end
   * after Walrus alone's deadline: at the last moment a read of the rest still
   * ends by the deadline, the rest comes from Walrus, and the request is a
   * Walrus hit, as the fetcher reports it.
   */
  private hedge (download: Download, size: number): void {
    const alone = this.aloneMs(size)
    const deadline = download.startMs + alone + hedgeMarginMs(alone, this.net.walrusLatencyMs)
    if (download.endMs <= deadline) return
    const span = download.endMs - download.startMs
    const left = (at: number): number => size * Math.max(0, Math.min(1, 1 - (at - download.startMs) / span))
    // The last moment: read with nothing delivered first, then again with what the peer delivered by then.
    const first = Math.max(this.now, deadline - this.walrusMs(size))
    const at = Math.max(this.now, deadline - this.walrusMs(left(first)))
    const rest = left(at)
    const end = at + this.walrusMs(rest)
    if (end >= download.endMs) return
    download.endMs = end
    download.kind = 'walrus'
    this.peerBytes -= rest
    this.walrusBytes += rest
    this.walrusFetches++
  }

  /** Reads model `m`'s chunk hashes from Walrus: counted as a fetch; returns when they arrive. */
  private hashesFromWalrus (m: number): number {
    const hashBytes = HASH_BYTES * Math.max(1, Math.ceil((this.sizes[m] as number) / this.scenario.models.chunkBytes))
    this.walrusFetches++
    this.walrusBytes += hashBytes
    return this.now + this.net.walrusLatencyMs + hashBytes / this.net.walrusBandwidthBytesPerSec * 1000
  }

  /** Room for a download, planned by the policy: false if the model cannot fit (it is used once, not kept). */
  private reserve (v: number, m: number): boolean {
    const node = this.nodes[v] as NodeState
    const size = this.sizes[m] as number
    if (size > this.quota) return false
    const short = node.used + node.reserved + size - this.quota
    if (short > 0) {
      const evictable = (id: string): boolean => {
        const uploads = node.uploads.get(this.indexOf.get(id) as number)
        return uploads == null || uploads.size === 0
      }
      const victims = node.policy.victims(short, evictable)
      let freed = 0
      for (const id of victims) freed += this.sizes[this.indexOf.get(id) as number] as number
      if (freed < short) return false
      for (const id of victims) {
        const victim = this.indexOf.get(id) as number
        node.policy.evict(id)
        node.held.delete(victim)
        node.used -= this.sizes[victim] as number
        ;(this.holders[victim] as HolderSet).delete(v)
      }
    }
    node.reserved += size
    return true
  }

  private serveFrom (download: Download, source: number): void {
    if (download.source < 0) this.peerDownloads[download.model] = (this.peerDownloads[download.model] as number) + 1
    download.source = source
    const uploads = (this.nodes[source] as NodeState).uploads
    let set = uploads.get(download.model)
    if (set == null) {
      set = new Set()
      uploads.set(download.model, set)
    }
    set.add(download)
  }

  private releaseSource (download: Download): void {
    if (download.source < 0) return
    this.peerDownloads[download.model] = (this.peerDownloads[download.model] as number) - 1
    const uploads = (this.nodes[download.source] as NodeState).uploads
    const set = uploads.get(download.model)
    set?.delete(download)
    if (set?.size === 0) uploads.delete(download.model)
    const source = download.source
    download.source = -1
    // The model it was reading is evictable again once no one reads it.
    if (set?.size === 0) this.admitWaiting(source)
  }

  private leaveSwarm (download: Download): void {
    const swarm = download.swarm
    if (swarm == null) return
    swarm.members.delete(download)
    swarm.readers.delete(download)
    download.swarm = undefined
    if (swarm.members.size === 0 && this.swarms[swarm.model] === swarm && this.now >= swarm.coordEndMs) this.swarms[swarm.model] = undefined
  }

  private schedule (download: Download): void {
    download.version++
    this.queue.push({ atMs: download.endMs, kind: 'done', download, version: download.version })
  }

  private leave (change: ChurnEvent): void {
    const v = change.node
    const node = this.nodes[v] as NodeState
    if (!node.live) return
    node.live = false
    for (const download of node.downloads.values()) this.abandon(download)
    node.downloads.clear()
    node.roomWaits = []
    for (const m of node.held) (this.holders[m] as HolderSet).delete(v)
    const served = [...node.uploads.values()].flatMap(set => [...set])
    node.uploads.clear()
    for (const download of served) {
      download.source = -1
      this.peerDownloads[download.model] = (this.peerDownloads[download.model] as number) - 1
      this.resource(download)
    }
    if (this.scenario.churn?.keepCache === false) this.nodes[v] = { ...this.newNode(), live: false }
  }

  private join (change: ChurnEvent): void {
    const node = this.nodes[change.node] as NodeState
    if (node.live) return
    node.live = true
    for (const m of node.held) (this.holders[m] as HolderSet).add(change.node)
  }

  /** A download whose node left: its requests get no time sample, its reservation is returned. */
  private abandon (download: Download): void {
    download.cancelled = true
    this.countHits(download)
    const node = this.nodes[download.node] as NodeState
    if (download.keep) node.reserved -= this.sizes[download.model] as number
    this.releaseSource(download)
    const swarm = download.swarm
    const wasReader = swarm?.readers.has(download) === true
    this.leaveSwarm(download)
    if (swarm == null || !wasReader || this.now < swarm.coordEndMs || this.now >= swarm.walrusDoneMs) return
    // Its share of the Walrus reads was not finished: another downloader reads the rest after the stall timeout.
    const share = swarm.shares.get(download) ?? 0
    const readMs = this.walrusMs(share) - this.net.walrusLatencyMs
    const done = readMs > 0 ? Math.max(0, Math.min(1, (this.now - swarm.walrusStartMs) / readMs)) : 1
    const rest = share * (1 - done)
    const successor = [...swarm.readers][0] ?? [...swarm.members][0]
    if (successor == null) {
      this.walrusBytes -= rest
      return
    }
    if (!swarm.readers.has(successor)) {
      swarm.readers.add(successor)
      this.walrusFetches++
    }
    const net = this.net
    swarm.walrusDoneMs = Math.max(swarm.walrusDoneMs, this.now + net.stallMs + this.walrusMs(rest))
    for (const member of swarm.members) {
      const endMs = Math.max(member.endMs, swarm.walrusDoneMs + net.peerRttMs)
      if (endMs !== member.endMs) {
        member.endMs = endMs
        this.schedule(member)
      }
    }
  }

  /** A peer download lost its source: another holder if any (same pace), else the rest from Walrus after the stall timeout. */
  private resource (download: Download): void {
    const holders = this.holders[download.model] as HolderSet
    if (holders.size > 0) {
      this.serveFrom(download, holders.list[Math.floor(this.pick() * holders.size)] as number)
      return
    }
    const net = this.net
    const size = this.sizes[download.model] as number
    const span = download.endMs - download.startMs
    const rest = span > 0 ? size * Math.max(0, Math.min(1, (download.endMs - this.now) / span)) : 0
    this.peerBytes -= rest
    this.walrusBytes += rest
    this.walrusFetches++
    download.endMs = this.now + net.stallMs + this.walrusMs(rest)
    this.schedule(download)
  }

  private metrics (): StrategyMetrics {
    const sorted = sortedSamples(this.ttm.subarray(0, this.ttmCount))
    return {
      requests: this.trace.requests.length,
      localHits: this.localHits,
      peerHits: this.peerHits,
      walrusHits: this.walrusHits,
      walrusFetches: this.walrusFetches,
      walrusBytes: Math.round(this.walrusBytes),
      timeToModelMs: { p50: percentileOfSorted(sorted, 50), p95: percentileOfSorted(sorted, 95), p99: percentileOfSorted(sorted, 99) },
      peerBytes: Math.round(this.peerBytes),
      perNodeHitRate: nodeHitRateSpread(this.nodeRequests, this.nodeHits),
      timeToModelSamples: cdfSamples(sorted, MAX_CDF_SAMPLES)
    }
  }
}

export interface ScaleOptions {
  /** Called as requests are replayed (a count since the last call), for a progress bar; the model runs synchronously. */
  onRequests?: (count: number) => void
}

/** Replays `trace` through the scale model with or without the mesh. */
export function simulateScale (scenario: Scenario, trace: Trace, strategy: ScaleStrategy, options: ScaleOptions = {}): StrategyMetrics {
  return simulateScaleCache(scenario, trace, strategy, options).metrics
}

/** As simulateScale, with the bytes the nodes' own caches served (which StrategyMetrics does not carry). */
export function simulateScaleCache (scenario: Scenario, trace: Trace, strategy: ScaleStrategy, options: ScaleOptions = {}): { metrics: StrategyMetrics, localHitBytes: number } {
  if (trace.models.length !== scenario.models.count) throw new RangeError(`the trace has ${trace.models.length} models, the scenario ${scenario.models.count}`)
  const model = new ScaleModel(scenario, trace, strategy)
  const metrics = model.run(options.onRequests)
  return { metrics, localHitBytes: model.servedLocallyBytes }
}

/** Mesh, no mesh and the offline optimum on one trace (generated from the scenario if not given). */
export function runScale (scenario: Scenario, trace: Trace = generateTrace(scenario), options: ScaleOptions = {}): Record<StrategyName, StrategyMetrics> {
  return {
    mesh: simulateScale(scenario, trace, 'mesh', options),
    noMesh: simulateScale(scenario, trace, 'noMesh', options),
    optimal: optimalMetrics(scenario, trace)
  }
}

/** Requests runScale (and, with `sweep`, sweepScale) replays: the total of a progress bar. */
export function scaleWork (scenario: Scenario, trace: Trace, sweep: boolean): number {
  const runs = 1 + (sweep ? sweepFractions(scenario).length + sweepNodeCounts(scenario).length : 0)
  return runs * 2 * trace.requests.length
}

export interface ScaleSweeps {
  /** Hit rate (local + peer) / requests at each cache fraction, on the scenario's trace. */
  hitRateByCacheSize: SweepPoint[]
  /** Local hits / requests at the same points. */
  localHitRateByCacheSize: SweepPoint[]
  /** Walrus bytes at each node count: a new trace per count, with the same seed and request count. */
  walrusBytesByNodes: SweepPoint[]
}

/** Default node counts: the scenario's own, and a few around it. */
function defaultNodeCounts (nodes: number): number[] {
  const counts = [1, 2, 4, 8, 16, 32, 100, 300, 1000, 3000, 10_000].filter(n => n <= nodes)
  if (!counts.includes(nodes)) counts.push(nodes)
  return counts.slice(-6)
}

const hitRate = (m: StrategyMetrics): number => m.requests === 0 ? 0 : (m.localHits + m.peerHits) / m.requests

/** The cache fractions of the cache-size sweep: the scenario's, or the default ones. */
export function sweepFractions (scenario: Scenario): number[] {
  return scenario.sweep?.cacheFractions ?? [0.02, 0.05, 0.1, 0.2, 0.4]
}

function sweepNodeCounts (scenario: Scenario): number[] {
  return scenario.sweep?.nodeCounts ?? defaultNodeCounts(scenario.nodes)
}

export function sweepScale (scenario: Scenario, trace: Trace = generateTrace(scenario), options: ScaleOptions = {}): ScaleSweeps {
  const hitRateByCacheSize: SweepPoint[] = []
  const localHitRateByCacheSize: SweepPoint[] = []
  for (const x of sweepFractions(scenario)) {
    const at = withCacheFraction(scenario, x)
    for (const [strategy, metrics] of Object.entries(runScale(at, trace, options)) as Array<[StrategyName, StrategyMetrics]>) {
      hitRateByCacheSize.push({ x, strategy, value: hitRate(metrics) })
      localHitRateByCacheSize.push({ x, strategy, value: metrics.requests === 0 ? 0 : metrics.localHits / metrics.requests })
    }
  }
  const walrusBytesByNodes: SweepPoint[] = []
  for (const x of sweepNodeCounts(scenario)) {
    const at: Scenario = { ...scenario, nodes: x }
    const atTrace = x === trace.nodes ? trace : generateTrace(at)
    for (const [strategy, metrics] of Object.entries(runScale(at, atTrace, options)) as Array<[StrategyName, StrategyMetrics]>) {
      walrusBytesByNodes.push({ x, strategy, value: metrics.walrusBytes })
    }
  }
  return { hitRateByCacheSize, localHitRateByCacheSize, walrusBytesByNodes }
}

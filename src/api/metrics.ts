import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { HerdNode, NodeStatus } from '../node.js'

/**
 * Buckets in seconds, chosen for what each one times on a node: a whole blob
 * (a small model from a peer in a fraction of a second, gigabytes from Walrus
 * in minutes), one chunk request (a few MiB), one inference run, the wait for
 * a run's slot, a synced append (an fsync), a bundle's seal (a Walrus store and
 * an anchor: seconds on Sui, longer when it retries).
 */
export const BUCKETS = {
  fetch: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  chunkRequest: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  inferenceRun: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  inferenceQueue: [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
  receiptAppend: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  seal: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
  cacheRoomWait: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
} as const

/** Whole SUI and WAL: balances arrive in MIST and FROST (10^-9). */
const COIN_UNITS = 1e9

type Read = (status: NodeStatus) => number
type ReadByLabel = (status: NodeStatus) => Record<string, number>

/**
 * herd's own metrics, beside libp2p's in the node's registry. Gauges and
 * totals are read from one `node.status()` per scrape (`scrape()`);
 * histograms observe the durations the parts report as `timing` events on `node.events`.
 */
export class HerdMetrics {
  private readonly node: HerdNode
  private readonly registry: Registry
  private readonly updates: Array<(status: NodeStatus) => void> = []

  constructor (node: HerdNode, registry: Registry = node.metrics) {
    this.node = node
    this.registry = registry
    this.registerStatusMetrics()
    this.registerTimings()
  }

  /** The registry in Prometheus's text format, after one read of the node's status. */
  async scrape (): Promise<string> {
    const status = this.node.status()
    for (const update of this.updates) update(status)
    return this.registry.metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }

  private gauge (name: string, help: string, read: Read): void {
    const gauge = new Gauge({ name, help, registers: [this.registry] })
    this.updates.push(status => { gauge.set(read(status)) })
  }

  private gaugeByLabel (name: string, help: string, label: string, read: ReadByLabel): void {
    const gauge = new Gauge({ name, help, labelNames: [label], registers: [this.registry] })
    this.updates.push(status => {
      for (const [value, n] of Object.entries(read(status))) gauge.set({ [label]: value }, n)
    })
  }

  /** A total the node keeps itself: the counter is set to it at each scrape. */
  private total (name: string, help: string, label: string, read: ReadByLabel): void {
    const counter = new Counter({ name, help, labelNames: [label], registers: [this.registry] })
    this.updates.push(status => {
      counter.reset()
      for (const [value, n] of Object.entries(read(status))) counter.inc({ [label]: value }, n)
    })
  }

  private unlabelledTotal (name: string, help: string, read: Read): void {
    const counter = new Counter({ name, help, registers: [this.registry] })
    this.updates.push(status => {
      counter.reset()
      counter.inc(read(status))
    })
  }

  private registerStatusMetrics (): void {
    this.gauge('herd_cache_blobs', 'Complete blobs in the cache', s => s.cache.blobs)
    this.gauge('herd_cache_bytes', 'Bytes of complete blobs in the cache', s => s.cache.bytes)
    this.gauge('herd_cache_quota_bytes', 'The cache quota', s => s.cache.quotaBytes)
    this.gauge('herd_cache_pinned_blobs', 'Pinned blobs (never evicted)', s => s.cache.pinned)
    this.gauge('herd_cache_partials', 'Downloads in progress or resumable', s => s.cache.partials)
    this.gauge('herd_cache_open_handles', 'Handles open on cached blobs (each keeps its blob from eviction)', s => s.cache.openHandles)
    this.gauge('herd_mesh_peers', 'Connected peers', s => s.peers)
    this.gauge('herd_mesh_penalized_peers', 'Peers scored down for bad chunks or failed requests', s => s.penalizedPeers.length)
    this.gauge('herd_fetch_active', 'Downloads running now', s => s.fetch.active.length)
    this.total('herd_fetch_hits_total', 'Blob requests by where they were served from', 'source', s => ({ local: s.fetch.localHits, peer: s.fetch.peerHits, walrus: s.fetch.walrusHits }))
    this.total('herd_fetch_bytes_total', 'Bytes downloaded, by source', 'source', s => ({ peer: s.fetch.bytesFromPeers, walrus: s.fetch.bytesFromWalrus }))
    this.total('herd_fetch_bad_chunks_total', 'Chunks from peers that failed verification', 'kind', s => ({ chunk: s.fetch.badChunks }))
    this.total('herd_cache_evictions_total', 'Blobs evicted to keep within the quota', 'reason', s => ({ quota: s.cache.evictions }))
    this.total('herd_serve_bytes_total', 'Chunk bytes served to peers', 'protocol', s => ({ blob: s.serve.bytesServed }))
    this.gauge('herd_serve_watches', 'WATCH streams open now: peers downloading a blob this node is downloading too, following its progress', s => s.serve.watching)
    this.gauge('herd_serve_pace_bytes_per_second', 'The upload pace of chunk uploads to peers, mesh.uploadBytesPerSec (0: none)', s => s.serve.paceBytesPerSec)
    this.unlabelledTotal('herd_serve_pace_wait_seconds_total', 'Seconds chunk uploads waited on the upload pace: near 1 a second while it holds them back', s => s.serve.paceWaitSeconds)
    this.total('herd_serve_requests_total', 'Blob protocol requests from peers, by outcome', 'outcome', s => ({ served: s.serve.requests - s.serve.refused, refused: s.serve.refused }))
    this.total('herd_gossip_messages_total', 'Cache announcements', 'direction', s => ({ published: s.gossip.published, received: s.gossip.received, rejected: s.gossip.rejected }))
    this.gauge('herd_gossip_known_blobs', 'Blobs some peer announced holding or fetching', s => s.gossip.knownBlobs)
    this.total('herd_inference_requests_total', 'Inference requests by outcome: run here, forwarded to a holder, answered busy, failed otherwise', 'outcome', s => ({
      ran: s.inference.runs,
      forwarded: s.inference.forwarded,
      busy: s.inference.busy,
      failed: s.inference.failed - s.inference.busy
    }))
    this.unlabelledTotal('herd_inference_model_fetches_total', 'Inference requests that fetched their model before running', s => s.inference.fetched)
    this.gauge('herd_inference_queue', 'Inference requests running or waiting here', s => s.inference.queue)
    this.gauge('herd_inference_sessions', 'Model sessions loaded in the inference threads', s => s.inference.sessions)
    this.gauge('herd_inference_session_bytes', 'Estimated memory of the loaded sessions', s => s.inference.sessionBytes)
    this.unlabelledTotal('herd_inference_session_loads_total', 'Model sessions loaded: a rate near the rate of runs means sessions are loaded again for most runs', s => s.inference.sessionLoads)
    this.gaugeByLabel('herd_proof_receipts', 'Receipts by state: queued to seal, or set aside (refused by Walrus even alone)', 'state', s => ({ queued: s.proofs.queued, aside: s.proofs.setAside }))
    this.gauge('herd_proof_queue_bytes', 'Bytes of receipts and tensors queued to seal', s => s.proofs.queuedBytes)
    this.gauge('herd_proof_queue_limit', 'Receipts the queue holds at most', s => s.proofs.limit)
    this.unlabelledTotal('herd_proof_receipts_sealed_total', 'Receipts sealed in anchored bundles since start', s => s.proofs.sealed)
    this.total('herd_proof_bundles_total', 'Proof bundles by outcome: stored and anchored, or refused by Walrus for good', 'outcome', s => ({ anchored: s.proofs.bundles, refused: s.proofs.refused }))
    this.gauge('herd_proof_retrying', '1 while Walrus or the ledger fails and sealing backs off', s => s.proofs.retrying ? 1 : 0)
    this.gauge('herd_proof_bundles_writing', 'Proof bundles being stored and anchored now (at most proofs.concurrentWrites)', s => s.proofs.writing)
    this.gauge('herd_proof_bundle_budget_bytes', 'The size bundles are built to now (less than the maximum after a refusal for size)', s => s.proofs.bundleBudget)
    this.gauge('herd_proof_last_seal_timestamp_seconds', 'When the last bundle was anchored (0: none since start)', s => (s.proofs.lastSealAt ?? 0) / 1000)
    this.gauge('herd_proof_next_seal_timestamp_seconds', 'When the receipts queued are sealed at the latest, unless a full batch comes first (0: none queued)', s => (s.proofs.nextSealAt ?? 0) / 1000)
    this.gaugeByLabel('herd_funds_balance', 'The node address\'s balance in whole coins (absent on the devnet)', 'coin', s => ({
      ...(s.funds.sui != null ? { SUI: Number(s.funds.sui) / COIN_UNITS } : {}),
      ...(s.funds.wal != null ? { WAL: Number(s.funds.wal) / COIN_UNITS } : {})
    }))
    this.gauge('herd_funds_blocked_writes', 'Writes waiting for funds (a bundle or an anchor the node cannot pay for)', s => s.funds.blocked.length)
    this.unlabelledTotal('herd_storage_renewed_total', 'Walrus blobs extended by this node since it started', s => s.storage.renewed)
    this.gauge('herd_storage_failing', 'Tracked Walrus blobs whose last renewal or lookup failed', s => s.storage.failing)
    this.gauge('herd_storage_expiring_soon', 'Tracked Walrus blobs within one epoch of their end', s => s.storage.expiringSoon)
    this.gauge('herd_storage_expired', 'Walrus blobs lost: expired while this node was responsible for them', s => s.storage.expired)
    this.gauge('herd_storage_cannot_extend', 'Pinned Walrus blobs near their end that another address owns', s => s.storage.cannotExtend)
  }

  private registerTimings (): void {
    const registers = [this.registry]
    const fetch = new Histogram({ name: 'herd_fetch_duration_seconds', help: 'Downloads that completed, from start to commit, by where the bytes came from (walrus: any of them)', labelNames: ['source'], buckets: [...BUCKETS.fetch], registers })
    const downloads = new Counter({ name: 'herd_fetch_downloads_total', help: 'Downloads by outcome', labelNames: ['outcome'], registers })
    const chunks = new Histogram({ name: 'herd_fetch_chunk_request_duration_seconds', help: 'Requests for a run of chunks, to a peer or a Walrus range read, by source and outcome', labelNames: ['source', 'outcome'], buckets: [...BUCKETS.chunkRequest], registers })
    const run = new Histogram({ name: 'herd_inference_run_duration_seconds', help: 'Inference runs on this node\'s threads', buckets: [...BUCKETS.inferenceRun], registers })
    const queue = new Histogram({ name: 'herd_inference_queue_wait_seconds', help: 'Time an inference request waited for a free slot', buckets: [...BUCKETS.inferenceQueue], registers })
    const append = new Histogram({ name: 'herd_proof_receipt_append_duration_seconds', help: 'Synced appends of receipts to the proof queue (one fsync for a group)', buckets: [...BUCKETS.receiptAppend], registers })
    const seal = new Histogram({ name: 'herd_proof_seal_duration_seconds', help: 'Bundles from first write to anchor, retries included', buckets: [...BUCKETS.seal], registers })
    const roomWait = new Histogram({ name: 'herd_cache_room_wait_seconds', help: 'Downloads that had to wait for room in the cache (pinned, open, downloading or new blobs filling the quota), how long', buckets: [...BUCKETS.cacheRoomWait], registers })
    // Series at zero from the start, so rates and dashboards have them before the first event.
    for (const source of ['peer', 'walrus']) {
      fetch.zero({ source })
      for (const outcome of ['ok', 'failed']) chunks.zero({ source, outcome })
    }
    for (const outcome of ['ok', 'failed', 'aborted']) downloads.inc({ outcome }, 0)

    this.node.events.addEventListener('timing', event => {
      const timing = event.detail
      switch (timing.kind) {
        case 'fetch':
          downloads.inc({ outcome: timing.outcome })
          if (timing.source != null) fetch.observe({ source: timing.source }, timing.seconds)
          break
        case 'chunk-request': chunks.observe({ source: timing.source, outcome: timing.outcome }, timing.seconds); break
        case 'inference-run': run.observe(timing.seconds); break
        case 'inference-queue': queue.observe(timing.seconds); break
        case 'receipt-append': append.observe(timing.seconds); break
        case 'seal': seal.observe(timing.seconds); break
        case 'cache-room-wait': roomWait.observe(timing.seconds); break
      }
    })
  }
}

const byNode = new WeakMap<HerdNode, HerdMetrics>()

/** The node's HerdMetrics, made once: an API restarted on the same node must not register the metrics twice. */
export function herdMetrics (node: HerdNode): HerdMetrics {
  let metrics = byNode.get(node)
  if (metrics == null) {
    metrics = new HerdMetrics(node)
    byNode.set(node, metrics)
  }
  return metrics
}

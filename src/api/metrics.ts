import { Counter, Gauge, type Registry } from 'prom-client'
import type { HerdNode } from '../node.js'

/**
 * herd's own metrics, read from the node when Prometheus scrapes, beside
 * libp2p's in the same registry.
 */
export function registerHerdMetrics (node: HerdNode, registry: Registry): void {
  const status = () => node.status()
  const gauge = (name: string, help: string, read: (s: ReturnType<typeof status>) => number): void => {
    // eslint-disable-next-line no-new
    new Gauge({ name, help, registers: [registry], collect () { this.set(read(status())) } })
  }
  const counter = (name: string, help: string, labelNames: string[], read: (s: ReturnType<typeof status>) => Record<string, number>): void => {
    // eslint-disable-next-line no-new
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect () {
        this.reset()
        for (const [label, value] of Object.entries(read(status()))) this.inc({ [labelNames[0] as string]: label }, value)
      }
    })
  }
  gauge('herd_cache_blobs', 'Complete blobs in the cache', s => s.cache.blobs)
  gauge('herd_cache_bytes', 'Bytes of complete blobs in the cache', s => s.cache.bytes)
  gauge('herd_cache_quota_bytes', 'The cache quota', s => s.cache.quotaBytes)
  gauge('herd_cache_partials', 'Downloads in progress or resumable', s => s.cache.partials)
  gauge('herd_cache_open_handles', 'Handles open on cached blobs (each keeps its blob from eviction)', s => s.cache.openHandles)
  gauge('herd_mesh_peers', 'Connected peers', s => s.peers)
  gauge('herd_fetch_active', 'Downloads running now', s => s.fetch.active.length)
  counter('herd_fetch_hits_total', 'Blob requests by where they were served from', ['source'], s => ({ local: s.fetch.localHits, peer: s.fetch.peerHits, walrus: s.fetch.walrusHits }))
  counter('herd_fetch_bytes_total', 'Bytes downloaded, by source', ['source'], s => ({ peer: s.fetch.bytesFromPeers, walrus: s.fetch.bytesFromWalrus }))
  counter('herd_fetch_bad_chunks_total', 'Chunks from peers that failed verification', ['kind'], s => ({ chunk: s.fetch.badChunks }))
  counter('herd_cache_evictions_total', 'Blobs evicted to keep within the quota', ['reason'], s => ({ quota: s.cache.evictions }))
  counter('herd_serve_bytes_total', 'Chunk bytes served to peers', ['protocol'], s => ({ blob: s.serve.bytesServed }))
  gauge('herd_storage_renewed_total', 'Walrus blobs extended by this node since it started', s => s.storage.renewed)
  gauge('herd_storage_failing', 'Tracked Walrus blobs whose last renewal or lookup failed', s => s.storage.failing)
  gauge('herd_storage_expiring_soon', 'Tracked Walrus blobs within one epoch of their end', s => s.storage.expiringSoon)
  gauge('herd_storage_expired', 'Walrus blobs lost: expired while this node was responsible for them', s => s.storage.expired)
  gauge('herd_storage_cannot_extend', 'Pinned Walrus blobs near their end that another address owns', s => s.storage.cannotExtend)
  counter('herd_gossip_messages_total', 'Cache announcements', ['direction'], s => ({ published: s.gossip.published, received: s.gossip.received, rejected: s.gossip.rejected }))
}

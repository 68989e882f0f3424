import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { raceSignal } from 'race-signal'
import type { BlobId } from '../blob/blob-id.js'
import type { BlobCache, BlobHandle, CacheEntry } from '../blob/cache/index.js'
import type { WalrusStore } from '../walrus/types.js'
import type { BlobClient } from './blob-client.js'
import { fetchChunkHashes } from './chunk-hashes.js'
import { Download, type DownloadTuning } from './download.js'
import { BlobEvictedError } from './errors.js'
import { secondsSince, type FetchTiming } from './fetch-timing.js'
import type { BlobRegistry, FetchCounters, FetchProgress } from './fetch-types.js'
import { hedgeMarginMs, walrusAloneMs } from './hedge.js'
import { OriginTiming } from './origin-timing.js'
import { PeerRoundTrip } from './peer-round-trip.js'
import type { PeerScores } from './peer-scores.js'
import type { Provider, ProviderIndex } from './provider-index.js'
import { coordinationWindow } from './provider-selection.js'
import { holdForReaders } from './reader-hold.js'

const log = logger('herd:mesh:fetcher')

export const DEFAULT_DOWNLOAD_TUNING: DownloadTuning = {
  requestsPerPeer: 4,
  requestBytes: 4 * 1024 * 1024,
  walrusReads: 4,
  haveIntervalMs: 250,
  watchPeers: false,
  coordinationMs: 300,
  stallMs: 3_000,
  maxWalrusFaults: 8,
  hashesHedgeMs: 250,
  paceWindowMs: 2_000,
  minSourceBytesPerSec: 256 * 1024
}

/** How long a DHT lookup may take before the download goes on without it. */
const DHT_LOOKUP_MS = 5_000
/**
 * Fetches in a row that may lose their blob to eviction before it is opened:
 * past this, the cache is too small for what it is asked to hold at once.
 */
const OPEN_ATTEMPTS = 3

export interface FetcherComponents {
  selfId: string
  cache: BlobCache
  client: BlobClient
  providers: ProviderIndex
  scores: PeerScores
  walrus: Pick<WalrusStore, 'readRange'>
  /** The registry entry of a blob: what its chunks are checked against. */
  registry: BlobRegistry
  /** Tells the mesh a download has started (at `since`), so peers split the Walrus reads and ask us for chunks. */
  announceFetching: (blobId: BlobId, since: number) => void
  /** Tells the mesh a download ended without the blob, so peers stop counting this node among its readers. */
  announceStopped?: (blobId: BlobId) => void
  /** Takes back a "fetching" announcement while the download waits for cache room: peers stop counting this node among the readers until it announces again. */
  withdrawFetching?: (blobId: BlobId) => void
  /** Holders beyond gossip's reach: the DHT's provider records. */
  findProviders?: (blobId: BlobId, options: { signal: AbortSignal }) => AsyncIterable<PeerId>
  /** How late gossip arrives now (CacheAnnouncer.gossipDelayMs): stretches the coordination window. */
  gossipDelayMs?: () => number | undefined
  /** Peers that hear this node's announcements (the cache topic's subscribers). Absent: assumed some. */
  meshPeers?: () => number
  /** Told how long each download and chunk request took (metrics). */
  onTiming?: (timing: FetchTiming) => void
  /** Hears every request (cache.requestLog). */
  requestRecorder?: { requested: (blobId: BlobId, heldSize: number | undefined) => void }
}

export interface FetcherInit {
  tuning?: Partial<DownloadTuning>
}

export interface FetchOptions {
  signal?: AbortSignal
  onProgress?: (event: FetchProgress) => void
}

/**
 * Puts blobs in the cache: from the cache itself, from peers, from Walrus.
 * Concurrent requests for one blob share one download.
 */
export class Fetcher extends EventTarget {
  readonly counters: FetchCounters = { localHits: 0, peerHits: 0, walrusHits: 0, bytesFromPeers: 0, bytesFromWalrus: 0, badChunks: 0 }
  private readonly components: FetcherComponents
  private readonly tuning: DownloadTuning
  private readonly downloads = new Map<string, Promise<CacheEntry>>()
  private readonly listeners = new Map<string, Set<(event: FetchProgress) => void>>()
  /** Blobs just downloaded, held from eviction while peers still fetch them (reader-hold.ts). */
  private readonly holds = new Set<Promise<void>>()
  /** Walrus's latency and read pace as this node's reads found them, shared by its downloads. */
  private readonly origin = new OriginTiming()
  /** How long peers' first bytes take, as this node's chunk requests found it, shared by its downloads. */
  private readonly peerRoundTrip = new PeerRoundTrip()
  private controller = new AbortController()

  constructor (components: FetcherComponents, init: FetcherInit = {}) {
    super()
    this.components = components
    this.tuning = { ...DEFAULT_DOWNLOAD_TUNING, ...init.tuning }
  }

  start (): void {
    if (this.controller.signal.aborted) this.controller = new AbortController()
  }

  /** Stops every download; their partial blobs stay on disk, resumable. */
  async stop (): Promise<void> {
    this.controller.abort(new Error('the fetcher stopped'))
    await Promise.allSettled([...this.downloads.values(), ...this.holds])
  }

  /** Blobs being downloaded now. */
  active (): BlobId[] {
    return [...this.downloads.keys()] as BlobId[]
  }

  /**
   * The blob, fetched if need be and opened: held from eviction until the
   * handle is released. A blob evicted between its fetch and its open is
   * fetched again; BlobEvictedError after OPEN_ATTEMPTS such losses.
   */
  async open (blobId: BlobId, options: FetchOptions = {}): Promise<BlobHandle> {
    for (let attempt = 1; ; attempt++) {
      await this.fetch(blobId, options)
      const handle = await this.components.cache.open(blobId)
      if (handle != null) return handle
      log('%s was evicted before it could be opened (attempt %d)', blobId, attempt)
      if (attempt >= OPEN_ATTEMPTS) throw new BlobEvictedError(`blob ${blobId} was evicted ${attempt} times between its fetch and its open: the cache is too small for the blobs in use`)
      options.signal?.throwIfAborted()
    }
  }

  /** The blob opened if the cache holds it now, without fetching; undefined otherwise. */
  async openHeld (blobId: BlobId): Promise<BlobHandle | undefined> {
    return this.components.cache.open(blobId)
  }

  /** Puts the blob in the cache; `fetch:done` reaches `onProgress` whether it was fetched or already held. */
  async fetch (blobId: BlobId, options: FetchOptions = {}): Promise<CacheEntry> {
    const { cache } = this.components
    const held = cache.entry(blobId)
    this.components.requestRecorder?.requested(blobId, held?.size)
    if (held != null) {
      this.counters.localHits++
      options.onProgress?.({ type: 'fetch:done', blobId, size: held.size, source: 'local', bytesFromPeers: 0, bytesFromWalrus: 0, peers: [] })
      return held
    }
    const listeners = this.listeners.get(blobId) ?? new Set()
    this.listeners.set(blobId, listeners)
    if (options.onProgress != null) listeners.add(options.onProgress)
    let download = this.downloads.get(blobId)
    if (download == null) {
      const startedAt = performance.now()
      download = this.download(blobId, startedAt).catch(err => {
        this.components.onTiming?.({ kind: 'fetch', outcome: this.controller.signal.aborted ? 'aborted' : 'failed', seconds: secondsSince(startedAt) })
        // Otherwise peers would wait out the stall timeout for this node's share of the Walrus reads.
        this.components.announceStopped?.(blobId)
        throw err
      }).finally(() => {
        this.downloads.delete(blobId)
        this.listeners.delete(blobId)
      })
      this.downloads.set(blobId, download)
    }
    try {
      return await raceSignal(download, options.signal)
    } finally {
      if (options.onProgress != null) listeners.delete(options.onProgress)
    }
  }

  private emit (event: FetchProgress): void {
    for (const listener of this.listeners.get(event.blobId) ?? []) listener(event)
    this.dispatchEvent(new CustomEvent('progress', { detail: event }))
  }

  private async download (blobId: BlobId, startedAt: number): Promise<CacheEntry> {
    const { components } = this
    const signal = this.controller.signal
    const requestedAt = Date.now()
    const description = await components.registry.describe(blobId, { signal })
    // Announced at once when the room is there, so nodes starting together see each other while they read the chunk hashes;
    // otherwise only once it is: a node waiting for room (seconds, when every node starts cold at once) was a reader to the
    // others all the while, answered NOT_FOUND, and held them to the stall fallback.
    let announcedAt: number | undefined
    const announce = (): void => {
      announcedAt = Date.now()
      components.announceFetching(blobId, announcedAt)
    }
    if (components.cache.hasRoomFor(blobId, description.size)) announce()
    const leaves = components.cache.partialOf(blobId)?.leaves ?? await fetchChunkHashes({
      providers: this.believed(blobId),
      scores: components.scores,
      client: components.client,
      walrus: components.walrus,
      onWalrusBytes: (bytes, ms) => {
        this.counters.bytesFromWalrus += bytes
        this.origin.observe(bytes, ms)
      }
    }, description, this.tuning.hashesHedgeMs, signal)
    let roomWaitFrom: number | undefined
    const partial = await components.cache.partial(blobId, { size: description.size, chunkSize: description.chunkSize, chunkRoot: description.chunkRoot, leaves }, {
      signal,
      // The room seen at the announcement went to another download meanwhile. Left announced, this node was a reader holding a
      // share it could not read for as long as it waited (seconds in a live medium run) and answered peers NOT_FOUND; announced
      // again once it has room, it ranks after the readers that did begin.
      onWait: () => {
        roomWaitFrom = performance.now()
        if (announcedAt == null) return
        announcedAt = undefined
        components.withdrawFetching?.(blobId)
      }
    }).finally(() => {
      // A cache too small for the downloads at once shows here: in a live medium run a busy node's requests waited seconds.
      if (roomWaitFrom != null) components.onTiming?.({ kind: 'cache-room-wait', seconds: secondsSince(roomWaitFrom) })
    })
    if (announcedAt == null) announce()
    this.emit({ type: 'fetch:start', blobId, size: description.size, chunks: partial.chunkCount, held: partial.heldCount() })
    const extraHolders = new Set<string>()
    // The lookup only feeds this download's sources: it ends with the download, which never waits for it.
    const lookupDone = new AbortController()
    // Asked again after the chunk hashes: in a cold swarm the peers' "fetching" gossip has arrived by now, and a DHT lookup would only race it.
    const lookup = this.believed(blobId).length === 0 ? this.lookUpDht(blobId, extraHolders, AbortSignal.any([signal, lookupDone.signal])) : Promise.resolve()
    const download = new Download(description, partial, {
      selfId: components.selfId,
      client: components.client,
      walrus: components.walrus,
      scores: components.scores,
      walrusPace: this.origin,
      origin: this.origin,
      peerRoundTrip: this.peerRoundTrip,
      providers: () => components.providers.providers(blobId),
      stoppedReaders: () => components.providers.stoppedReaders(blobId),
      extraHolders,
      tuning: this.tuning,
      announcedAt: announcedAt ?? requestedAt,
      requestedAt,
      coordinationMs: this.coordinationMs(description.size, partial.chunkCount),
      meshPeers: components.meshPeers ?? (() => 1),
      ...(components.onTiming != null ? { onTiming: components.onTiming } : {}),
      onProgress: event => {
        if (event.type === 'fetch:bad-chunk') this.counters.badChunks++
        this.emit(event)
      },
      signal
    })
    try {
      await download.run()
    } finally {
      this.counters.bytesFromPeers += download.bytesFrom.peer
      this.counters.bytesFromWalrus += download.bytesFrom.walrus
      lookupDone.abort()
      await lookup
      if (!partial.complete()) await partial.close()
    }
    const entry = await partial.commit()
    this.holdForReaders(blobId)
    components.onTiming?.({ kind: 'fetch', outcome: 'ok', source: download.bytesFrom.walrus > 0 ? 'walrus' : 'peer', seconds: secondsSince(startedAt) })
    if (download.bytesFrom.walrus > 0) this.counters.walrusHits++
    else this.counters.peerHits++
    this.emit({ type: 'fetch:done', blobId, size: description.size, source: 'fetched', bytesFromPeers: download.bytesFrom.peer, bytesFromWalrus: download.bytesFrom.walrus, peers: [...download.peersUsed] })
    log('fetched %s: %d bytes from peers, %d from Walrus', blobId, download.bytesFrom.peer, download.bytesFrom.walrus)
    return entry
  }

  /**
   * How long a cold download of `size` bytes waits for other readers before
   * its first Walrus read: twice the gossip delay (coordinationWindow), but no
   * longer than the margin the hedge allows over Walrus alone (hedgeMarginMs)
   * once a Walrus read has been timed here. Before that, the stretched window
   * only for a blob larger than one round of reads (`requestBytes` ×
   * `walrusReads`): nodes starting cold together need it to split a large
   * blob, whose rounds repay it. A blob one round covers takes Walrus alone a
   * latency and one read however it is split, so waiting saves only origin
   * bytes and costs its whole length: in medium's cold start, each node's
   * first downloads waited 2-4 s for gossip, most of them for no other reader.
   */
  private coordinationMs (size: number, chunks: number): number {
    const window = coordinationWindow(this.tuning.coordinationMs, this.components.gossipDelayMs?.())
    const latency = this.origin.latencyMs() ?? 0
    const alone = walrusAloneMs(size, chunks, latency, bytes => this.origin.directMs(bytes, this.tuning.requestBytes, this.tuning.walrusReads))
    if (alone != null) return Math.min(window, hedgeMarginMs(alone, latency, this.peerRoundTrip.ms()))
    return size <= this.tuning.requestBytes * this.tuning.walrusReads ? Math.min(window, Math.max(this.tuning.coordinationMs, latency)) : window
  }

  /** Keeps a blob just downloaded from eviction while peers still fetch it, for up to the stall time (reader-hold.ts). */
  private holdForReaders (blobId: BlobId): void {
    const hold = holdForReaders({
      open: async () => this.components.cache.open(blobId, { hold: true }),
      fetching: () => this.believed(blobId).some(p => p.state === 'fetching'),
      maxMs: this.tuning.stallMs,
      signal: this.controller.signal
    }).catch(err => { log.error('holding %s for the peers fetching it failed - %e', blobId, err) }).finally(() => { this.holds.delete(hold) })
    this.holds.add(hold)
  }

  /** The providers gossip lists for a blob, less the peers whose word is not taken (past the bounds of peer-scores.ts). */
  private believed (blobId: BlobId): Provider[] {
    return this.components.providers.providers(blobId).filter(p => this.components.scores.believes(p.peerId))
  }

  private async lookUpDht (blobId: BlobId, found: Set<string>, signal: AbortSignal): Promise<void> {
    const find = this.components.findProviders
    if (find == null) return
    try {
      for await (const peer of find(blobId, { signal: AbortSignal.any([signal, AbortSignal.timeout(DHT_LOOKUP_MS)]) })) {
        if (peer.toString() !== this.components.selfId) found.add(peer.toString())
      }
    } catch (err) {
      log('DHT lookup for %s ended - %e', blobId, err)
    }
  }
}

import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PartialBlob } from '../blob/cache/index.js'
import { chunkRange } from '../blob/chunk-tree.js'
import { ChunkVerificationError } from '../blob/errors.js'
import type { WalrusStore } from '../walrus/types.js'
import type { BlobClient } from './blob-client.js'
import { BlobUnavailableError, PeerRefusedError } from './errors.js'
import { secondsSince, type FetchTiming } from './fetch-timing.js'
import type { BlobDescription, ChunkSourceKind, FetchProgress } from './fetch-types.js'
import type { PeerScores } from './peer-scores.js'
import type { Provider } from './provider-index.js'
import { downloaderOrder, sourceStartChunk, walrusReaderOf } from './provider-selection.js'

const log = logger('herd:mesh:download')

export interface DownloadTuning {
  /** Requests in flight to one peer at once (each on its own stream). */
  requestsPerPeer: number
  /** Bytes asked for in one request to a peer or one Walrus range read. */
  requestBytes: number
  /** Walrus range reads in flight at once. */
  walrusReads: number
  /** How often a peer that is itself downloading is asked which chunks it holds. */
  haveIntervalMs: number
  /**
   * Time after the "fetching" announcement before the first Walrus read, so
   * nodes that start together learn of each other and split the blob.
   */
  coordinationMs: number
  /** With no new chunk for this long, chunks no peer holds come from Walrus whoever was meant to fetch them. */
  stallMs: number
  /** Walrus range reads that fail verification before the download gives up. */
  maxWalrusFaults: number
  /** No peer's chunk hashes by then, and Walrus is asked too: the first valid answer wins. */
  hashesHedgeMs: number
}

export interface DownloadContext {
  selfId: string
  client: BlobClient
  walrus: Pick<WalrusStore, 'readRange'>
  scores: PeerScores
  providers: () => Provider[]
  /** Extra holders found outside gossip (the DHT). */
  extraHolders: Set<string>
  tuning: DownloadTuning
  announcedAt: number
  /** Peers that heard the "fetching" announcement: with none, nobody can share a cold read, so Walrus is read at once. */
  meshPeers: () => number
  onProgress: (event: FetchProgress) => void
  onTiming?: (timing: FetchTiming) => void
  signal: AbortSignal
}

interface Source {
  peerId: PeerId
  holder: boolean
  have?: Uint8Array
  haveAt: number
  haveInFlight: boolean
  inflight: number
  /** A peer that answered BUSY is left alone until then, not dropped. */
  busyUntil: number
}

/** How long a peer that answered BUSY is left alone. */
const BUSY_BACKOFF_MS = 500

function bitSet (bits: Uint8Array, index: number): boolean {
  return (((bits[index >> 3] ?? 0) >> (7 - (index & 7))) & 1) === 1
}

/**
 * One blob's download: chunks from every peer that has them, several requests
 * per peer, and from Walrus for what no peer can give. Each chunk is checked by
 * the partial blob against the leaf hashes that were checked against the
 * registered root; a peer that sends a bad chunk leaves this download.
 */
export class Download {
  readonly bytesFrom: Record<ChunkSourceKind, number> = { peer: 0, walrus: 0 }
  readonly peersUsed = new Set<string>()
  private readonly partial: PartialBlob
  private readonly description: BlobDescription
  private readonly context: DownloadContext
  private readonly sources = new Map<string, Source>()
  private readonly excluded = new Set<string>()
  private readonly inflight = new Set<number>()
  private readonly tasks = new Set<Promise<void>>()
  private walrusInFlight = 0
  private walrusFaults = 0
  private lastProgressAt = Date.now()
  private fatal?: Error
  private wake?: () => void

  constructor (description: BlobDescription, partial: PartialBlob, context: DownloadContext) {
    this.description = description
    this.partial = partial
    this.context = context
  }

  private get chunksPerRequest (): number {
    return Math.max(1, Math.floor(this.context.tuning.requestBytes / this.partial.chunkSize))
  }

  async run (): Promise<void> {
    const { signal } = this.context
    const onAbort = (): void => this.wake?.()
    signal.addEventListener('abort', onAbort)
    try {
      while (!this.partial.complete()) {
        if (signal.aborted) throw signal.reason
        if (this.fatal != null) throw this.fatal
        this.refreshSources()
        this.schedulePeers()
        this.scheduleWalrus()
        await this.nextEvent(100)
      }
      // Chunks of a finished download may still be in flight to a slow peer: wait for them before commit.
      await Promise.allSettled([...this.tasks])
    } finally {
      signal.removeEventListener('abort', onAbort)
      await Promise.allSettled([...this.tasks])
    }
  }

  private async nextEvent (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, ms)
      this.wake = () => { clearTimeout(timer); resolve() }
    })
    this.wake = undefined
  }

  private track (work: Promise<void>): void {
    const task = work.catch(err => { log.error('download task failed - %e', err) }).finally(() => {
      this.tasks.delete(task)
      this.wake?.()
    })
    this.tasks.add(task)
  }

  private refreshSources (): void {
    const listed = this.context.providers()
    const seen = new Set<string>()
    const add = (id: string, holder: boolean): void => {
      if (id === this.context.selfId || this.excluded.has(id) || this.context.scores.isBanned(id)) return
      seen.add(id)
      const existing = this.sources.get(id)
      if (existing != null) {
        existing.holder = existing.holder || holder
        return
      }
      try {
        this.sources.set(id, { peerId: peerIdFromString(id), holder, haveAt: 0, haveInFlight: false, inflight: 0, busyUntil: 0 })
      } catch {
        this.excluded.add(id)
      }
    }
    for (const provider of listed) add(provider.peerId, provider.state === 'holder')
    for (const id of this.context.extraHolders) add(id, true)
    for (const [id, source] of this.sources) {
      if (!seen.has(id) && source.inflight === 0) this.sources.delete(id)
    }
    const now = Date.now()
    for (const source of this.sources.values()) {
      if (!source.holder && !source.haveInFlight && now - source.haveAt >= this.context.tuning.haveIntervalMs) this.pollHave(source)
    }
  }

  private pollHave (source: Source): void {
    source.haveInFlight = true
    this.track((async () => {
      try {
        const reply = await this.context.client.have(source.peerId, this.description.blobId, { signal: this.context.signal })
        if (reply.size !== this.description.size || reply.chunkSize !== this.description.chunkSize) {
          this.drop(source, 'describes the blob differently from the registry')
          return
        }
        source.have = reply.have
        if (reply.complete) source.holder = true
      } catch (err) {
        this.failed(source, `have request failed: ${(err as Error).message}`)
      } finally {
        source.haveAt = Date.now()
        source.haveInFlight = false
      }
    })())
  }

  private sourceHas (source: Source, index: number): boolean {
    return source.holder || (source.have != null && bitSet(source.have, index))
  }

  private wanted (index: number): boolean {
    return !this.partial.has(index) && !this.inflight.has(index)
  }

  /** A run of at most `limit` wanted chunks the source holds, starting where this peer's share of the blob begins. */
  private pickRun (source: Source, offset: number, limit: number): number[] {
    const total = this.partial.chunkCount
    for (let step = 0; step < total; step++) {
      const index = (offset + step) % total
      if (!this.wanted(index) || !this.sourceHas(source, index)) continue
      const run = [index]
      while (run.length < limit) {
        const next = index + run.length
        if (next >= total || !this.wanted(next) || !this.sourceHas(source, next)) break
        run.push(next)
      }
      return run
    }
    return []
  }

  private schedulePeers (): void {
    const sources = [...this.sources.values()]
    if (sources.length === 0) return
    const total = this.partial.chunkCount
    let wanted = 0
    for (let i = 0; i < total; i++) if (this.wanted(i)) wanted++
    // Requests small enough that every source gets a share, so several peers serve one blob at once.
    const limit = Math.max(1, Math.min(this.chunksPerRequest, Math.ceil(wanted / (sources.length * this.context.tuning.requestsPerPeer))))
    let progress = true
    while (progress) {
      progress = false
      sources.forEach((source, position) => {
        if (source.inflight >= this.context.tuning.requestsPerPeer || source.busyUntil > Date.now()) return
        // Each peer starts at its own offset, so peers serve different parts of the blob.
        const run = this.pickRun(source, sourceStartChunk(position, sources.length, total), limit)
        if (run.length === 0) return
        this.requestFromPeer(source, run)
        progress = true
      })
    }
  }

  private requestFromPeer (source: Source, run: number[]): void {
    for (const index of run) this.inflight.add(index)
    source.inflight++
    const id = source.peerId.toString()
    const first = run[0] as number
    const startedAt = performance.now()
    this.track((async () => {
      const received = new Set<number>()
      try {
        await this.context.client.chunks(source.peerId, this.description.blobId, first, run.length, async (index, data) => {
          try {
            await this.partial.writeChunk(index, data)
          } catch (err) {
            if (err instanceof ChunkVerificationError) {
              this.context.scores.badChunk(id, `chunk ${index} of ${this.description.blobId}: ${err.message}`)
              this.context.onProgress({ type: 'fetch:bad-chunk', blobId: this.description.blobId, index, peerId: id, reason: err.message })
              this.drop(source, `sent a bad chunk ${index}`)
            }
            throw err
          }
          received.add(index)
          this.inflight.delete(index)
          this.gained(index, data.byteLength, 'peer', id)
        }, { signal: this.context.signal })
        // A peer that no longer holds what it announced is not asked for it again until it says otherwise.
        if (received.size < run.length && source.have != null) {
          for (const index of run) if (!received.has(index) && source.have != null) source.have[index >> 3] = (source.have[index >> 3] ?? 0) & ~(1 << (7 - (index & 7)))
        }
        if (received.size < run.length && source.holder) this.drop(source, 'announced a blob it does not hold whole')
      } catch (err) {
        if (err instanceof PeerRefusedError && err.status === 'BUSY') source.busyUntil = Date.now() + BUSY_BACKOFF_MS
        else if (!(err instanceof ChunkVerificationError)) this.failed(source, `chunk request failed: ${(err as Error).message}`)
      } finally {
        this.context.onTiming?.({ kind: 'chunk-request', source: 'peer', outcome: received.size === run.length ? 'ok' : 'failed', seconds: secondsSince(startedAt) })
        for (const index of run) if (!received.has(index)) this.inflight.delete(index)
        source.inflight--
      }
    })())
  }

  /** Downloaders known to be fetching this blob now, this node included, in an order every node computes alike. */
  private downloaders (): string[] {
    const fetching = this.context.providers().filter(p => p.state === 'fetching' && !this.excluded.has(p.peerId)).map(p => p.peerId)
    return downloaderOrder(this.context.selfId, fetching)
  }

  private scheduleWalrus (): void {
    const { tuning } = this.context
    const now = Date.now()
    if (now - this.context.announcedAt < tuning.coordinationMs && this.context.meshPeers() > 0) return
    const total = this.partial.chunkCount
    const stalled = now - this.lastProgressAt >= tuning.stallMs
    const downloaders = this.downloaders()
    const rank = downloaders.indexOf(this.context.selfId)
    // This node's share of a blob that several nodes start on at once: a contiguous segment.
    const mine = (index: number): boolean => walrusReaderOf(index, total, downloaders.length) === rank
    const sources = [...this.sources.values()]
    const fromPeer = (index: number): boolean => sources.some(s => this.sourceHas(s, index))
    for (let index = 0; index < total && this.walrusInFlight < tuning.walrusReads; index++) {
      if (!this.wanted(index) || fromPeer(index) || (!mine(index) && !stalled)) continue
      const run = [index]
      while (run.length < this.chunksPerRequest) {
        const next = index + run.length
        if (next >= total || !this.wanted(next) || fromPeer(next) || (!mine(next) && !stalled)) break
        run.push(next)
      }
      this.readFromWalrus(run)
      index += run.length - 1
    }
  }

  private readFromWalrus (run: number[]): void {
    for (const index of run) this.inflight.add(index)
    this.walrusInFlight++
    const { size, chunkSize, blobId } = this.description
    const start = chunkRange(run[0] as number, size, chunkSize).start
    const end = chunkRange(run[run.length - 1] as number, size, chunkSize).end
    const startedAt = performance.now()
    this.track((async () => {
      try {
        const bytes = size === 0 ? new Uint8Array(0) : await this.context.walrus.readRange(blobId, { start, end: end - 1 }, { signal: this.context.signal })
        if (bytes.byteLength !== end - start) throw new ChunkVerificationError(`Walrus returned ${bytes.byteLength} bytes for a range of ${end - start}`)
        for (const index of run) {
          const range = chunkRange(index, size, chunkSize)
          const data = bytes.subarray(range.start - start, range.end - start)
          await this.partial.writeChunk(index, data)
          this.inflight.delete(index)
          this.gained(index, data.byteLength, 'walrus')
        }
      } catch (err) {
        if (this.context.signal.aborted) return
        this.walrusFaults++
        log.error('Walrus read of %s bytes %d-%d failed - %e', blobId, start, end, err)
        if (this.walrusFaults >= this.context.tuning.maxWalrusFaults) {
          this.fatal = new BlobUnavailableError(`blob ${blobId}: Walrus reads failed ${this.walrusFaults} times, the last: ${(err as Error).message}`)
        }
      } finally {
        this.context.onTiming?.({ kind: 'chunk-request', source: 'walrus', outcome: run.every(index => this.partial.has(index)) ? 'ok' : 'failed', seconds: secondsSince(startedAt) })
        for (const index of run) this.inflight.delete(index)
        this.walrusInFlight--
      }
    })())
  }

  private gained (index: number, bytes: number, source: ChunkSourceKind, peerId?: string): void {
    this.lastProgressAt = Date.now()
    this.bytesFrom[source] += bytes
    if (peerId != null) this.peersUsed.add(peerId)
    this.context.onProgress({
      type: 'fetch:chunk',
      blobId: this.description.blobId,
      index,
      bytes,
      received: this.partial.heldCount(),
      total: this.partial.chunkCount,
      source,
      ...(peerId != null ? { peerId } : {})
    })
  }

  private failed (source: Source, reason: string): void {
    if (this.context.signal.aborted) return
    const id = source.peerId.toString()
    this.context.scores.failure(id, reason)
    log('peer %s: %s', id, reason)
    // A peer that fails here (gone, overloaded) is left out of this download; others and Walrus cover for it.
    this.drop(source, reason)
  }

  private drop (source: Source, reason: string): void {
    const id = source.peerId.toString()
    if (this.excluded.has(id)) return
    log('dropping %s from the download of %s: %s', id, this.description.blobId, reason)
    this.excluded.add(id)
    this.sources.delete(id)
  }
}

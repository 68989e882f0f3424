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
import { downloaderOrder, sharingReaders, sourceStartChunk, walrusReaderOf, walrusShareOf } from './provider-selection.js'
import { haveDue, nextHaveEvery } from './have-poll.js'
import { hedgeDue } from './hedge.js'
import { LoopLag } from './loop-lag.js'
import type { OriginTiming } from './origin-timing.js'
import type { PeerRoundTrip } from './peer-round-trip.js'
import { DeliveryWindow, paceVerdict, type WalrusPace } from './source-pace.js'
import { readChunkRun } from './walrus-chunk-read.js'

const log = logger('herd:mesh:download')

export interface DownloadTuning {
  /** Requests in flight to one peer at once (each on its own stream). */
  requestsPerPeer: number
  /** Bytes asked for in one request to a peer or one Walrus range read. */
  requestBytes: number
  /** Walrus range reads in flight at once. */
  walrusReads: number
  /** How often a peer that is itself downloading is asked which chunks it holds, at most: less while its answers show nothing new, and not while it holds a chunk not yet asked for (have-poll.ts). */
  haveIntervalMs: number
  /**
   * Follow a peer that is itself downloading through one WATCH stream rather
   * than HAVE polls. Off by default: on capped links an 8-node swarm of
   * 512 MiB reached 82% of the cap with watches against 87% with polls
   * (benchmarks/README.md, session 30), for a third fewer streams.
   */
  watchPeers: boolean
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
  /**
   * A source asked for chunks without a break for this long that delivered
   * nothing, or less than the least pace over it, is dropped and its chunks
   * go to other sources or Walrus: a holder that lies, stalls or trickles
   * costs at most this.
   */
  paceWindowMs: number
  /** The least pace of a source (bytes a second), raised to a Walrus read's pace / SLOW_SOURCE_FACTOR once one is timed. */
  minSourceBytesPerSec: number
}

export interface DownloadContext {
  selfId: string
  client: BlobClient
  walrus: Pick<WalrusStore, 'readRange'>
  scores: PeerScores
  /** The pace of Walrus reads seen by this node, shared by its downloads. */
  walrusPace: WalrusPace
  /** Walrus's latency and read pace here, shared by its downloads: what the hedge judges against. Absent: no hedge. */
  origin?: OriginTiming
  /** How long peers' first bytes take here, shared by its downloads and timed by them: the least margin of the hedge. */
  peerRoundTrip?: PeerRoundTrip
  /**
   * What gossip says about this blob, believed or not: asked once per
   * scheduling pass. The believed are sources; those fetching, believed or
   * not, are the Walrus readers, ranked alike by every node.
   */
  providers: () => Provider[]
  /** Peers that announced they stopped fetching this blob (ProviderIndex.stoppedReaders): no longer readers, listed or not. */
  stoppedReaders?: () => Iterable<string>
  /** Extra holders found outside gossip (the DHT). */
  extraHolders: Set<string>
  tuning: DownloadTuning
  announcedAt: number
  /** When the request came: Walrus alone would have started then (the hedge's deadline). announcedAt if absent. */
  requestedAt?: number
  /** The coordination window of this download, when gossip arrives late (coordinationWindow); tuning.coordinationMs if absent. */
  coordinationMs?: number
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
  haveEveryMs: number
  haveInFlight: boolean
  /**
   * A WATCH of its bitfield: not yet asked for, running (its updates keep
   * `have` current, no HAVE polls), or not used (HAVE polls instead: watches
   * off, the default of fetch.watchPeers; or a peer without WATCH, one
   * watching too many, or a download gone).
   */
  watch: 'none' | 'on' | 'off'
  inflight: number
  /** Chunks in those requests. */
  inflightChunks: number
  /** A peer that answered BUSY is left alone until then, not dropped (unless it keeps it up for a pace window). */
  busyUntil: number
  /** BUSY answers in a row: each doubles the time it is left alone. */
  busyStreak: number
  /** Since when this source has been asked for chunks without a break: its pace is judged over the window after it. */
  demandSince?: number
  delivered: DeliveryWindow
  /** When its last chunk arrived. */
  lastDeliveryAt?: number
  /** Ends this source's requests when it is dropped. */
  abort: AbortController
}

/** A request for a run of chunks, in flight to one source, or to Walrus when it has none. */
interface ChunkRequest {
  source?: Source
  startedAt: number
}

/** One of this node's share reads from Walrus in flight (Download.shareReads). */
interface ShareRead {
  run: number[]
  abandon: AbortController
  receiving?: number
  endAfter?: number
}

/** How long a peer that answered BUSY, or whose request failed, is first left alone, and at most. */
const BUSY_BACKOFF_MS = 500
const MAX_BUSY_BACKOFF_MS = 8_000
/**
 * A chunk in flight to a source that has sent nothing for this long, or for
 * as long as requests here usually take, may be asked of a second source that
 * has nothing else to do and has delivered more of late (the end game): one
 * silent or slow source cannot hold the last chunks.
 */
const HEDGE_FLOOR_MS = 100
/** At most this many requests for one chunk at once: the end game's duplicates stay bounded. */
const MAX_REQUESTS_PER_CHUNK = 3
/** The scheduling loop's longest wait for an event; a pass later than this and LOOP_LAG_TOLERANCE_MS means the node did not run. */
const PASS_MS = 100
const LOOP_LAG_TOLERANCE_MS = 400
/** Weight of the newest request in the typical request time. */
const REQUEST_MS_WEIGHT = 0.3
/**
 * Chunks in flight to one source: what it delivered over this long at its
 * recent pace, and at least MIN_PIPELINE_CHUNKS. More than a link delivers in
 * a round trip only queues: at the source, whose upload every downloader
 * shares, a new request waits behind all the others' (in a cold swarm of 8 on
 * 2 MiB/s links, 4 requests of 2 chunks to each of 7 peers queued 28 s of
 * chunks at every node), and chunks claimed by a slow source long before it
 * sends them cannot go to a faster one.
 */
const PIPELINE_MS = 2_000
/** A source not yet measured may have this many in flight; a fast one's pace raises it within a window. */
const MIN_PIPELINE_CHUNKS = 2

function bitSet (bits: Uint8Array, index: number): boolean {
  return (((bits[index >> 3] ?? 0) >> (7 - (index & 7))) & 1) === 1
}

/** Whether `next` has a bit set that `before` (absent: none known) has not. */
function gainedBits (before: Uint8Array | undefined, next: Uint8Array): boolean {
  return next.some((byte, i) => (byte & ~(before?.[i] ?? 0)) !== 0)
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
  /**
   * Peers whose request failed (a stream reset, a timeout, NOT_FOUND from a
   * reader that has not begun): left out until then, longer with each
   * failure in a row, not for the whole download. Under capped links streams
   * fail on every node at once; a peer left out for good hid its chunks, and
   * the stall fallback read them from Walrus on every node.
   */
  private readonly resting = new Map<string, { until: number, streak: number }>()
  /**
   * Peers seen fetching this blob during this download, when their downloads
   * began, and when they were last listed (fetching, or holding since): the
   * Walrus readers.
   */
  private readonly readers = new Map<string, { since: number, listedAt: number }>()
  /** Requests in flight for each chunk: one, or up to MAX_REQUESTS_PER_CHUNK once hedged. */
  private readonly inflight = new Map<number, ChunkRequest[]>()
  /** Chunks written or being written, so the loser of a hedged pair is not written or counted again. */
  private readonly landed = new Set<number>()
  private readonly tasks = new Set<Promise<void>>()
  /** Ends every request still in flight once the blob is whole (a hedged loser, a silent peer). */
  private readonly finished = new AbortController()
  private typicalRequestMs?: number
  /**
   * Bytes gained from peers over the last pace window: what shows a stalled
   * source up. Not Walrus's: this node's own share of the reads arrives
   * whatever its peers do.
   */
  private readonly fromPeers: DeliveryWindow
  private walrusInFlight = 0
  private walrusFaults = 0
  /** When a chunk last came from a peer or from this node's own share of the Walrus reads. */
  private lastProgressAt = Date.now()
  /**
   * Chunks in the next stall fallback read: one at first, doubling with each
   * read while no other progress comes. Only one fallback read is in flight:
   * on a loaded machine every node stalls at once, and one that read all it
   * could not see at a peer made Walrus serve 8x the blob; a reader that died
   * still has its share read within a few round trips.
   */
  private fallbackRun = 1
  private fallbackInFlight = false
  /**
   * This node's own share reads in flight: while one is, the download is not
   * stalled. Under a capped link a 4 MiB read lands whole after seconds, and
   * a stall declared meanwhile read other readers' shares, in flight at them,
   * over the same link.
   */
  private shareReadsInFlight = 0
  /**
   * Those share reads, each with the chunks it reads and what ends it: a read
   * cut for a reader count that has since grown reads what is now another
   * reader's share, which that reader reads as well. `receiving` is the chunk
   * whose bytes are arriving, `endAfter` the chunk after which the read ends.
   */
  private readonly shareReads = new Set<ShareRead>()
  /** Requests in flight to peers, and since when there has been one without a break: the mesh's pace is judged over it. */
  private peerRequests = 0
  private peerDemandSince?: number
  /**
   * Whether a peer held the whole blob when this download began: only such a
   * warm download hedges against Walrus (behindWalrus). A cold one shares its
   * Walrus reads with the other readers, and one that read the rest itself
   * whenever the swarm fell behind (on a loaded machine, always) would undo
   * the sharing; its stalls have the fallback.
   */
  private warm?: boolean
  /** Once peers fall behind Walrus, whatever is left is read from Walrus too; logged once. */
  private hedging = false
  private fatal?: Error
  private wake?: () => void
  /** This pass's answer from `context.providers()`. */
  private listed: Provider[] = []
  private readonly lag = new LoopLag(PASS_MS, LOOP_LAG_TOLERANCE_MS)

  constructor (description: BlobDescription, partial: PartialBlob, context: DownloadContext) {
    this.description = description
    this.partial = partial
    this.context = context
    this.fromPeers = new DeliveryWindow(context.tuning.paceWindowMs)
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
        const { frozenMs, readFirst } = this.lag.pass(Date.now())
        // This node did not run: the stall clock skips that time, and what peers sent meanwhile is read before any judging
        // (a timer of 0 runs after pending I/O). Judged at once, the pass after a freeze saw seconds without progress, and the
        // stall fallback read from Walrus what peers had already sent.
        this.lastProgressAt += frozenMs
        if (readFirst) {
          log('%s: the download of %s did not run for %d ms; judged after pending I/O', this.context.selfId, this.description.blobId, frozenMs)
          await this.nextEvent(0)
          continue
        }
        this.refreshSources()
        this.judgeSources()
        this.schedulePeers()
        this.scheduleWalrus()
        await this.nextEvent(PASS_MS)
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      // Requests still in flight carry only chunks already held: end them, and wait for any write in progress before commit.
      this.finished.abort()
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
    const listed = this.listed = this.context.providers()
    this.warm ??= listed.some(p => p.state === 'holder' && this.context.scores.believes(p.peerId)) || this.context.extraHolders.size > 0
    const seen = new Set<string>()
    const now = Date.now()
    const add = (id: string, holder: boolean): void => {
      if (id === this.context.selfId || this.excluded.has(id) || (this.resting.get(id)?.until ?? 0) > now || !this.context.scores.believes(id)) return
      seen.add(id)
      const existing = this.sources.get(id)
      if (existing != null) {
        existing.holder = existing.holder || holder
        return
      }
      try {
        this.sources.set(id, {
          peerId: peerIdFromString(id),
          holder,
          haveAt: 0,
          haveEveryMs: this.context.tuning.haveIntervalMs,
          haveInFlight: false,
          watch: this.context.tuning.watchPeers ? 'none' : 'off',
          inflight: 0,
          inflightChunks: 0,
          busyUntil: 0,
          busyStreak: 0,
          delivered: new DeliveryWindow(this.context.tuning.paceWindowMs),
          abort: new AbortController()
        })
      } catch {
        this.excluded.add(id)
      }
    }
    for (const provider of listed) add(provider.peerId, provider.state === 'holder')
    for (const id of this.context.extraHolders) add(id, true)
    for (const [id, source] of this.sources) {
      if (!seen.has(id) && source.inflight === 0) {
        this.sources.delete(id)
        // Its watch, if any, ends with it.
        source.abort.abort(new Error('no longer listed'))
      }
    }
    for (const source of this.sources.values()) {
      if (source.holder || source.haveInFlight || source.watch === 'on') continue
      if (source.watch === 'none') {
        this.watchHave(source)
        continue
      }
      // Near a stall every peer is asked again, busy or not: the fallback reads from Walrus what no peer is known to hold.
      const nearStall = now - this.lastProgressAt >= this.context.tuning.stallMs / 2
      if (haveDue(source, now, !nearStall && source.have != null && this.wantsAny(source.have))) this.pollHave(source)
    }
  }

  private requestSignal (source: Source): AbortSignal {
    return AbortSignal.any([this.context.signal, source.abort.signal, this.finished.signal])
  }

  private pollHave (source: Source): void {
    source.haveInFlight = true
    const signal = this.requestSignal(source)
    this.track((async () => {
      try {
        const reply = await this.context.client.have(source.peerId, this.description.blobId, { signal })
        if (!this.describesAsRegistered(source, reply, 'have')) return
        // Chunks new at a peer are the swarm's progress: its share reads land, so the stall fallback need not read them.
        if (gainedBits(source.have, reply.have)) this.swarmProgressed(Date.now())
        source.haveEveryMs = nextHaveEvery(source, this.context.tuning.haveIntervalMs, this.wantsAny(reply.have))
        source.have = reply.have
        if (reply.complete) source.holder = true
      } catch (err) {
        if (!signal.aborted) this.failed(source, `have request failed: ${(err as Error).message}`)
      } finally {
        source.haveAt = Date.now()
        source.haveInFlight = false
      }
    })())
  }

  /**
   * Whether a peer's HAVE or WATCH answer gives the blob the registry's size
   * and chunk size, with a bitfield of one bit a chunk; a peer whose answer
   * does not is dropped, and scored for a bitfield of the wrong length.
   */
  private describesAsRegistered (source: Source, reply: { size: number, chunkSize: number, have: Uint8Array }, kind: 'have' | 'watch'): boolean {
    if (reply.size !== this.description.size || reply.chunkSize !== this.description.chunkSize) {
      this.drop(source, 'describes the blob differently from the registry')
      return false
    }
    if (reply.have.byteLength !== Math.ceil(this.partial.chunkCount / 8)) {
      this.context.scores.failure(source.peerId.toString(), `${kind} of ${this.description.blobId}: a bitfield of ${reply.have.byteLength} bytes for ${this.partial.chunkCount} chunks`)
      this.drop(source, 'sent a bitfield of the wrong length')
      return false
    }
    return true
  }

  /** Keeps `source.have` current from the peer's pushes on one stream, rather than a HAVE stream every poll. */
  private watchHave (source: Source): void {
    source.watch = 'on'
    source.haveInFlight = true
    const signal = this.requestSignal(source)
    this.track((async () => {
      try {
        await this.context.client.watch(source.peerId, this.description.blobId, reply => {
          if (!this.describesAsRegistered(source, reply, 'watch')) return
          const gained = gainedBits(source.have, reply.have)
          if (gained) this.swarmProgressed(Date.now())
          // A scheduling pass only for news it can use: every watched peer pushes each chunk it lands, most of them already had.
          const useful = reply.complete || this.gainsWanted(source.have, reply.have)
          source.have = reply.have
          source.haveAt = Date.now()
          source.haveInFlight = false
          if (reply.complete) source.holder = true
          if (useful) this.wake?.()
        }, { signal })
      } catch (err) {
        if (signal.aborted) return
        source.watch = 'off'
        // A peer without WATCH (BAD_REQUEST), watching too many already (BUSY) or whose download went away: HAVE polls instead.
        if (err instanceof PeerRefusedError || (err as Error).name === 'UnexpectedEOFError') return
        this.failed(source, `have watch failed: ${(err as Error).message}`)
      } finally {
        source.haveInFlight = false
      }
    })())
  }

  /** Whether `next` has a bit set that `before` has not for a chunk this download still wants. */
  private gainsWanted (before: Uint8Array | undefined, next: Uint8Array): boolean {
    for (let byte = 0; byte < next.length; byte++) {
      const fresh = (next[byte] ?? 0) & ~(before?.[byte] ?? 0)
      if (fresh === 0) continue
      for (let bit = 0; bit < 8; bit++) {
        const index = byte * 8 + bit
        if ((fresh & (0x80 >> bit)) !== 0 && index < this.partial.chunkCount && this.wanted(index)) return true
      }
    }
    return false
  }

  /** Whether `bits` (a peer's held chunks) name a chunk this download still wants. */
  private wantsAny (bits: Uint8Array): boolean {
    for (let index = 0; index < this.partial.chunkCount; index++) if (bitSet(bits, index) && this.wanted(index)) return true
    return false
  }

  private sourceHas (source: Source, index: number): boolean {
    return source.holder || (source.have != null && bitSet(source.have, index))
  }

  private wanted (index: number): boolean {
    return !this.partial.has(index) && !this.inflight.has(index)
  }

  /**
   * In flight only to sources that have sent nothing for as long as a
   * request here usually takes (since they were asked, or since their last
   * chunk) and that delivered less of late than `source`: worth asking
   * `source` too. A source that is sending, however many requests it has
   * queued, is left to finish them; a source that never delivered (a liar,
   * silent or BUSY) is never asked second, and a trickling one asked second
   * does not stop a third.
   */
  private hedgeable (source: Source, index: number, now: number): boolean {
    if (this.partial.has(index) || this.landed.has(index)) return false
    const requests = this.inflight.get(index)
    if (requests == null || requests.length >= MAX_REQUESTS_PER_CHUNK) return false
    const mine = source.delivered.recent(now)
    const after = Math.max(HEDGE_FLOOR_MS, this.typicalRequestMs ?? 0)
    // A Walrus read is not hedged: it fails over by itself, and its pace is the yardstick.
    return requests.every(r => r.source != null && r.source !== source &&
      now - Math.max(r.startedAt, r.source.lastDeliveryAt ?? 0) >= after &&
      r.source.delivered.recent(now) < mine)
  }

  /** A run of at most `limit` chunks the source holds and `pick` accepts, starting where this peer's share of the blob begins. */
  private pickRun (source: Source, offset: number, limit: number, pick: (index: number) => boolean): number[] {
    const total = this.partial.chunkCount
    for (let step = 0; step < total; step++) {
      const index = (offset + step) % total
      if (!pick(index) || !this.sourceHas(source, index)) continue
      const run = [index]
      while (run.length < limit) {
        const next = index + run.length
        if (next >= total || !pick(next) || !this.sourceHas(source, next)) break
        run.push(next)
      }
      return run
    }
    return []
  }

  /** Drops every source that was asked for chunks for a whole pace window and kept silent or trickled; its chunks go to others. */
  private judgeSources (): void {
    const now = Date.now()
    const { tuning, walrusPace, scores } = this.context
    const minimum = walrusPace.minimum(tuning.minSourceBytesPerSec)
    const asked = [...this.sources.values()].filter(s => s.demandSince != null).length
    for (const source of [...this.sources.values()]) {
      const verdict = paceVerdict({
        demandSince: source.demandSince,
        holder: source.holder,
        source: source.delivered,
        ...(source.lastDeliveryAt != null ? { lastDeliveryAt: source.lastDeliveryAt } : {}),
        download: this.fromPeers,
        otherSources: asked - (source.demandSince != null ? 1 : 0),
        minBytesPerSec: minimum,
        chunkBytes: this.partial.chunkSize,
        windowMs: tuning.paceWindowMs,
        now
      })
      if (verdict === 'on-pace') continue
      const id = source.peerId.toString()
      const askedMs = now - (source.demandSince ?? now)
      if (verdict === 'silent' && source.holder) {
        scores.silent(id, `announced ${this.description.blobId}, asked for its chunks for ${askedMs} ms, sent none`)
      } else if (verdict === 'silent') {
        // A peer still downloading may be starved itself: it costs what a failed request does.
        scores.failure(id, `asked for chunks of ${this.description.blobId} it said it held, for ${askedMs} ms, sent none`)
      } else {
        const pace = Math.round(source.delivered.recent(now) * 1000 / tuning.paceWindowMs)
        scores.slow(id, `sent chunks of ${this.description.blobId} at ${pace} B/s, under the least pace of ${Math.round(minimum)} B/s`)
      }
      // A peer still downloading may be starved itself, its upload shared by every downloader: it rests and is asked again, scored down each time.
      if (source.holder) this.drop(source, `${verdict} for ${askedMs} ms`)
      else this.rest(source, `${verdict} for ${askedMs} ms`)
    }
  }

  private schedulePeers (): void {
    const sources = [...this.sources.values()]
    if (sources.length === 0) return
    const total = this.partial.chunkCount
    let wanted = 0
    for (let i = 0; i < total; i++) if (this.wanted(i)) wanted++
    // Requests small enough that every source gets a share, so several peers serve one blob at once.
    const limit = Math.max(1, Math.min(this.chunksPerRequest, Math.ceil(wanted / (sources.length * this.context.tuning.requestsPerPeer))))
    const now = Date.now()
    let progress = true
    while (progress) {
      progress = false
      sources.forEach((source, position) => {
        if (this.excluded.has(source.peerId.toString())) return
        if (source.inflight >= this.context.tuning.requestsPerPeer || source.busyUntil > now) return
        const room = Math.min(limit, this.pipelineChunks(source, now) - source.inflightChunks)
        if (room <= 0) return
        // Each peer starts at its own offset, so peers serve different parts of the blob.
        const offset = sourceStartChunk(position, sources.length, total)
        let run = this.pickRun(source, offset, room, index => this.wanted(index))
        if (run.length === 0) run = this.pickRun(source, offset, room, index => this.hedgeable(source, index, now))
        if (run.length === 0) {
          // Nothing left to ask of it: its pace is not judged while it waits.
          if (source.inflight === 0) source.demandSince = undefined
          return
        }
        this.requestFromPeer(source, run)
        progress = true
      })
    }
  }

  /** Chunks the source may have in flight: PIPELINE_MS of its recent pace. */
  private pipelineChunks (source: Source, now: number): number {
    const bytesPerSec = source.delivered.recent(now) * 1000 / this.context.tuning.paceWindowMs
    return Math.max(MIN_PIPELINE_CHUNKS, Math.ceil(bytesPerSec * PIPELINE_MS / 1000 / this.partial.chunkSize))
  }

  private requestFromPeer (source: Source, run: number[]): void {
    const now = Date.now()
    const request: ChunkRequest = { source, startedAt: now }
    for (const index of run) this.inflight.set(index, [...(this.inflight.get(index) ?? []), request])
    source.inflight++
    source.inflightChunks += run.length
    source.demandSince ??= now
    this.peerRequests++
    this.peerDemandSince ??= now
    const id = source.peerId.toString()
    const first = run[0] as number
    const signal = this.requestSignal(source)
    const startedAt = performance.now()
    this.track((async () => {
      const received = new Set<number>()
      // Bytes heard arriving and bytes of chunks landed: a chunk that lands with fewer bytes heard (a client that does not report
      // them) counts the difference, so a chunk is never counted twice nor missed.
      let heard = 0
      let landedBytes = 0
      const delivered = (bytes: number): void => {
        if (heard === 0) this.context.peerRoundTrip?.observe(performance.now() - startedAt)
        heard += bytes
        this.arriving(source, bytes)
      }
      const landed = (bytes: number): void => {
        landedBytes += bytes
        if (landedBytes > heard) delivered(landedBytes - heard)
      }
      try {
        await this.context.client.chunks(source.peerId, this.description.blobId, first, run.length, async (index, data) => {
          if (this.landed.has(index)) {
            // The other source of a hedged chunk was quicker: nothing to write, but this one did deliver.
            received.add(index)
            landed(data.byteLength)
            return
          }
          this.landed.add(index)
          try {
            await this.partial.writeChunk(index, data)
          } catch (err) {
            this.landed.delete(index)
            if (err instanceof ChunkVerificationError) {
              this.context.scores.badChunk(id, `chunk ${index} of ${this.description.blobId}: ${err.message}`)
              this.context.onProgress({ type: 'fetch:bad-chunk', blobId: this.description.blobId, index, peerId: id, reason: err.message })
              this.drop(source, `sent a bad chunk ${index}`)
            }
            throw err
          }
          received.add(index)
          landed(data.byteLength)
          this.gained(index, data.byteLength, 'peer', id)
        }, { signal, chunkBytes: this.partial.chunkSize, onBytes: delivered })
        const ms = Date.now() - now
        this.typicalRequestMs = this.typicalRequestMs == null ? ms : this.typicalRequestMs * (1 - REQUEST_MS_WEIGHT) + ms * REQUEST_MS_WEIGHT
        source.busyStreak = 0
        this.resting.delete(id)
        // A peer that no longer holds what it announced is not asked for it again until it says otherwise.
        if (received.size < run.length && source.have != null) {
          for (const index of run) if (!received.has(index) && source.have != null) source.have[index >> 3] = (source.have[index >> 3] ?? 0) & ~(1 << (7 - (index & 7)))
        }
        if (received.size < run.length && source.holder) {
          this.context.scores.failure(id, `announced ${this.description.blobId} but sent ${received.size} of ${run.length} chunks asked`)
          this.drop(source, 'announced a blob it does not hold whole')
        }
      } catch (err) {
        if (signal.aborted && !this.context.signal.aborted) {
          // Ended here: the blob is whole, or the source was dropped (and scored for the reason).
        } else if (err instanceof PeerRefusedError && err.status === 'BUSY') {
          this.busy(source)
        } else if (!(err instanceof ChunkVerificationError)) {
          this.failed(source, `chunk request failed: ${(err as Error).message}`)
        }
      } finally {
        this.context.onTiming?.({ kind: 'chunk-request', source: 'peer', outcome: received.size === run.length ? 'ok' : 'failed', seconds: secondsSince(startedAt) })
        for (const index of run) {
          const left = (this.inflight.get(index) ?? []).filter(r => r !== request)
          if (left.length > 0) this.inflight.set(index, left)
          else this.inflight.delete(index)
        }
        source.inflight--
        source.inflightChunks -= run.length
        if (--this.peerRequests === 0) this.peerDemandSince = undefined
      }
    })())
  }

  /** A BUSY answer: the source is left alone for a while, longer each time in a row, and scored down a little. */
  private busy (source: Source): void {
    const now = Date.now()
    // Several requests refused at once are one refusal.
    if (source.busyUntil > now) return
    source.busyStreak++
    source.busyUntil = now + Math.min(MAX_BUSY_BACKOFF_MS, BUSY_BACKOFF_MS * 2 ** (source.busyStreak - 1))
    this.context.scores.busy(source.peerId.toString(), `answered BUSY for ${this.description.blobId}`)
  }

  /**
   * Downloaders known to be fetching this blob now that split its Walrus
   * reads (sharingReaders: those that began within a window of the first;
   * this node is left out when it began later, and reads no share), in an
   * order every node computes alike: from gossip alone. A peer dropped here as
   * a source (its requests timed out on a loaded machine, its pace, its score)
   * is still a reader for every other node; leaving it out here alone shifted
   * this node's share onto others' and Walrus served 1.7x the blob. A peer that
   * left is forgotten on disconnect, one whose download failed announces it;
   * one that stalls is covered by the stall fallback.
   */
  private downloaders (): { sharing: string[], everyone: string[] } {
    const now = Date.now()
    for (const p of this.listed) {
      // A reader that finished stays one while it is listed: as the readers finished at different times on each node,
      // the shares of those left were cut anew, each node's differently, and all read a finished reader's share.
      const known = this.readers.get(p.peerId)
      if (p.state === 'fetching') this.readers.set(p.peerId, { since: p.since ?? known?.since ?? now, listedAt: now })
      else if (known != null) known.listedAt = now
    }
    // One unlisted for a moment (a connection lost and made again on a loaded machine drops its entries here, not on
    // other nodes) keeps its share; one gone for the stall time has its share read by the others' stall fallback anyway.
    for (const [id, { listedAt }] of this.readers) if (now - listedAt >= this.context.tuning.stallMs) this.readers.delete(id)
    // One that said it stopped (its download failed, or waits for cache room) is gone at once: kept, it held its share for the
    // stall time, on every node alike.
    for (const id of this.context.stoppedReaders?.() ?? []) this.readers.delete(id)
    const { tuning } = this.context
    const everyone = [{ peerId: this.context.selfId, since: this.context.announcedAt }, ...[...this.readers].map(([peerId, { since }]) => ({ peerId, since }))]
    return {
      sharing: downloaderOrder(sharingReaders(everyone, this.context.selfId, tuning.coordinationMs, this.context.coordinationMs ?? tuning.coordinationMs)),
      everyone: downloaderOrder(everyone)
    }
  }

  private scheduleWalrus (): void {
    const { tuning } = this.context
    const now = Date.now()
    const coordinationMs = this.context.coordinationMs ?? tuning.coordinationMs
    const total = this.partial.chunkCount
    // One chunk cannot be split among readers: the window only let one of two nodes starting together leave the read to the
    // other, and made both wait it out (small's slowest requests: 0.85-0.94 s where Walrus alone took 0.48 s).
    if (total > 1 && now - this.context.announcedAt < coordinationMs && this.context.meshPeers() > 0) return
    const { sharing: downloaders, everyone } = this.downloaders()
    const rank = downloaders.indexOf(this.context.selfId)
    // This node's share of a blob that several nodes start on at once: a contiguous segment.
    const mine = (index: number): boolean => walrusReaderOf(index, total, downloaders.length) === rank
    this.abandonMovedShareReads(mine, rank, downloaders.length)
    const sources = [...this.sources.values()]
    // A source's claims hold Walrus back only while it is kept: one that stalls or trickles is dropped after a pace window.
    const fromPeer = (index: number): boolean => sources.some(s => this.sourceHas(s, index))
    const free = (index: number): boolean => this.wanted(index) && !fromPeer(index)
    // Shared with other readers, a share is read one run at a time: runs read side by side split the link, so each one's first
    // chunk, which peers could pull from this node, landed that many times later. Alone, throughput is all that counts.
    const shareReads = downloaders.length > 1 ? 1 : tuning.walrusReads
    for (let index = 0; index < total && this.walrusInFlight < tuning.walrusReads && this.shareReadsInFlight < shareReads; index++) {
      if (!free(index) || !mine(index)) continue
      const run = this.runFrom(index, index => free(index) && mine(index))
      log('%s reads chunks %d-%d of %s from Walrus: its share (rank %d of %d readers, %d ms after announcing, window %d ms)', this.context.selfId, index, run[run.length - 1], this.description.blobId, rank, downloaders.length, now - this.context.announcedAt, coordinationMs)
      this.readFromWalrus(run, 'share')
      index += run.length - 1
    }
    if (this.walrusInFlight < tuning.walrusReads && this.behindWalrus(now)) {
      // Any chunk not held and not already asked of Walrus, in flight to a peer or not: the first copy to land is written.
      const left = (index: number): boolean => !this.partial.has(index) && !this.landed.has(index) && !(this.inflight.get(index) ?? []).some(r => r.source == null)
      for (let index = 0; index < total && this.walrusInFlight < tuning.walrusReads; index++) {
        if (!left(index)) continue
        const run = this.runFrom(index, left)
        this.readFromWalrus(run, 'hedge')
        index += run.length - 1
      }
      return
    }
    if (now - this.lastProgressAt < tuning.stallMs || this.shareReadsInFlight > 0 || this.fallbackInFlight || this.walrusInFlight >= tuning.walrusReads) return
    // Stalled: others' shares, one read at a time, from the segment after this node's so stalled nodes start apart; a late
    // reader, which has no segment, from where its place among all the readers falls (a first reader that never reads, a
    // liar claiming an early start among them, leaves every late reader stalled at once).
    const start = rank >= 0
      ? walrusShareOf((rank + 1) % downloaders.length, downloaders.length, total).start
      : walrusShareOf(everyone.indexOf(this.context.selfId), everyone.length, total).start
    for (let step = 0; step < total; step++) {
      const index = (start + step) % total
      if (!free(index)) continue
      const run = this.runFrom(index, free, this.fallbackRun)
      log('%s reads chunks %d-%d of %s from Walrus: stalled %d ms (rank %d of %d readers)', this.context.selfId, index, run[run.length - 1], this.description.blobId, now - this.lastProgressAt, rank, downloaders.length)
      this.readFromWalrus(run, 'fallback')
      return
    }
  }

  /**
   * Ends each share read whose next chunk to come is no longer this node's:
   * the shares were cut before a reader's "fetching" announcement arrived
   * (gossip seconds late on a loaded machine), and that chunk's reader by the
   * full count reads it too. What has landed stays; the rest is wanted again
   * and read by its reader or fetched from a peer. In a cold swarm of 8 on a
   * loaded machine, two nodes that started among 7 readers each read a 4 MiB
   * run of another's share: origin bytes were 1.125 × the blob. A chunk whose
   * bytes are arriving is read to its end first: at most one chunk per read
   * comes twice.
   */
  private abandonMovedShareReads (mine: (index: number) => boolean, rank: number, readers: number): void {
    // A one-chunk blob's read is kept whoever else reads it: ended, it saved one chunk of origin bytes and cost this node the
    // other reader's read, a HAVE poll (up to fetch.haveIntervalMs) and a transfer, past what Walrus alone takes.
    if (this.partial.chunkCount === 1) return
    for (const read of this.shareReads) {
      if (read.abandon.signal.aborted || read.endAfter != null) continue
      const next = read.run.find(index => !this.landed.has(index))
      if (next == null || mine(next)) continue
      if (read.receiving === next) {
        // Its bytes are arriving: ended now, the chunk would be read again by its new reader after that reader's window, and this
        // node would wait for that read and a transfer (a one-chunk blob in a live small run: 1.3-3.8 s, Walrus alone 0.35 s).
        log('%s ends its Walrus read of chunks %d-%d of %s after chunk %d, whose bytes are arriving: the rest is another reader\'s share (rank %d of %d readers)', this.context.selfId, read.run[0], read.run[read.run.length - 1], this.description.blobId, next, rank, readers)
        read.endAfter = next
        continue
      }
      log('%s ends its Walrus read of chunks %d-%d of %s at chunk %d: now another reader\'s share (rank %d of %d readers)', this.context.selfId, read.run[0], read.run[read.run.length - 1], this.description.blobId, next, rank, readers)
      read.abandon.abort(new Error(`chunk ${next} is now another reader's share`))
    }
  }

  private behindWalrus (now: number): boolean {
    const origin = this.context.origin
    if (this.hedging || origin == null) return this.hedging
    // A cold download does not hedge: judged alike, a split download read a silent or failing reader's share at Walrus alone's
    // deadline, which against a fast Walrus comes before the stall fallback would, and when every reader on a starved machine
    // falls behind together each reads the rest (docs/mesh.md).
    if (this.warm !== true) return false
    const { tuning } = this.context
    const { size, chunkSize } = this.description
    let remaining = 0
    for (let index = 0; index < this.partial.chunkCount; index++) {
      if (this.partial.has(index)) continue
      const range = chunkRange(index, size, chunkSize)
      remaining += range.end - range.start
    }
    const judgement = {
      startedAt: this.context.requestedAt ?? this.context.announcedAt,
      now,
      size,
      remaining,
      chunks: this.partial.chunkCount,
      windowMs: tuning.paceWindowMs,
      latencyMs: origin.latencyMs() ?? 0,
      directMs: (bytes: number) => origin.directMs(bytes, tuning.requestBytes, tuning.walrusReads),
      ...(this.context.peerRoundTrip?.ms() != null ? { peerRoundTripMs: this.context.peerRoundTrip.ms() } : {})
    }
    this.hedging = hedgeDue({ ...judgement, demandSince: this.peerDemandSince, recentPeerBytes: this.fromPeers.recent(now) })
    if (this.hedging) {
      // The window the pace was judged over: peers asked moments ago have had only that long.
      const judgedMs = Math.min(tuning.paceWindowMs, now - (this.peerDemandSince ?? now))
      log('%s: peers sent %d bytes of %s in the %d ms they were asked (of a %d ms window), %d left, later than Walrus alone: the rest comes from Walrus too', this.context.selfId, this.fromPeers.recent(now), this.description.blobId, judgedMs, tuning.paceWindowMs, remaining)
    }
    return this.hedging
  }

  /** Chunks from `index` on that `pick` accepts, at most `limit` (a request's worth by default). */
  private runFrom (index: number, pick: (index: number) => boolean, limit = this.chunksPerRequest): number[] {
    const run = [index]
    const total = this.partial.chunkCount
    while (run.length < Math.min(limit, this.chunksPerRequest)) {
      const next = index + run.length
      if (next >= total || !pick(next)) break
      run.push(next)
    }
    return run
  }

  private readFromWalrus (run: number[], kind: 'share' | 'hedge' | 'fallback'): void {
    const fallback = kind === 'fallback'
    const startedAt = Date.now()
    const request: ChunkRequest = { startedAt }
    for (const index of run) this.inflight.set(index, [...(this.inflight.get(index) ?? []), request])
    this.walrusInFlight++
    if (fallback) this.fallbackInFlight = true
    else this.shareReadsInFlight++
    const { size, chunkSize, blobId } = this.description
    const start = chunkRange(run[0] as number, size, chunkSize).start
    const end = chunkRange(run[run.length - 1] as number, size, chunkSize).end
    const shareRead: ShareRead | undefined = kind === 'share' ? { run, abandon: new AbortController() } : undefined
    if (shareRead != null) this.shareReads.add(shareRead)
    this.track((async () => {
      try {
        const signal = AbortSignal.any([this.context.signal, this.finished.signal, ...(shareRead != null ? [shareRead.abandon.signal] : [])])
        await readChunkRun(this.context.walrus, this.description, run, {
          signal,
          onChunk: async (index, data) => {
            if (this.landed.has(index)) return
            this.landed.add(index)
            try {
              await this.partial.writeChunk(index, data)
            } catch (err) {
              this.landed.delete(index)
              throw err
            }
            this.gained(index, data.byteLength, 'walrus', undefined, fallback)
            if (shareRead?.endAfter === index && index !== run[run.length - 1]) shareRead.abandon.abort(new Error(`chunk ${index + 1} is now another reader's share`))
          },
          ...(shareRead != null ? { onPartial: (index: number) => { shareRead.receiving = index } } : {})
        })
        this.context.walrusPace.observe(end - start, Date.now() - startedAt)
        if (fallback) this.fallbackRun = Math.min(this.chunksPerRequest, this.fallbackRun * 2)
      } catch (err) {
        if (this.context.signal.aborted || this.finished.signal.aborted || shareRead?.abandon.signal.aborted === true) return
        this.walrusFaults++
        log.error('Walrus read of %s bytes %d-%d failed - %e', blobId, start, end, err)
        if (this.walrusFaults >= this.context.tuning.maxWalrusFaults) {
          this.fatal = new BlobUnavailableError(`blob ${blobId}: Walrus reads failed ${this.walrusFaults} times, the last: ${(err as Error).message}`)
        }
      } finally {
        if (shareRead != null) this.shareReads.delete(shareRead)
        // An abandoned read did not fail: it is not timed as one.
        if (shareRead?.abandon.signal.aborted !== true) this.context.onTiming?.({ kind: 'chunk-request', source: 'walrus', outcome: run.every(index => this.partial.has(index)) ? 'ok' : 'failed', seconds: (Date.now() - startedAt) / 1000 })
        for (const index of run) {
          const left = (this.inflight.get(index) ?? []).filter(r => r !== request)
          if (left.length > 0) this.inflight.set(index, left)
          else this.inflight.delete(index)
        }
        this.walrusInFlight--
        if (fallback) this.fallbackInFlight = false
        else this.shareReadsInFlight--
      }
    })())
  }

  private gained (index: number, bytes: number, source: ChunkSourceKind, peerId?: string, fallback = false): void {
    const now = Date.now()
    // Progress that does not come from the fallback ends the stall, and the next one starts again from one chunk.
    if (!fallback) this.swarmProgressed(now)
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
      ...(peerId != null ? { peerId } : {}),
      bytesFromPeers: this.bytesFrom.peer,
      bytesFromWalrus: this.bytesFrom.walrus
    })
  }

  /**
   * Bytes of a peer's answer arriving, before their chunk lands: what its pace
   * and silence are judged on, and progress that holds the stall fallback
   * back. Through a capped link shared by several streams and downloaders a
   * 1 MiB chunk lands whole seconds after its first bytes; judged on landed
   * chunks alone, peers sending at the link's pace were rested as silent, their
   * chunks in flight thrown away, and the stall fallback read them from Walrus.
   */
  private arriving (source: Source, bytes: number): void {
    const now = Date.now()
    source.delivered.add(bytes, now)
    source.lastDeliveryAt = now
    this.fromPeers.add(bytes, now)
    this.swarmProgressed(now)
  }

  private swarmProgressed (now: number): void {
    this.lastProgressAt = now
    this.fallbackRun = 1
  }

  private failed (source: Source, reason: string): void {
    if (this.context.signal.aborted) return
    const id = source.peerId.toString()
    this.context.scores.failure(id, reason)
    log('peer %s: %s', id, reason)
    // A peer that fails here (gone, overloaded, a stream lost) rests a while; others and Walrus cover for it meanwhile.
    this.rest(source, reason)
  }

  private rest (source: Source, reason: string): void {
    const id = source.peerId.toString()
    // Already left out (by another of its requests, or for good): one failure of many streams at once is one failure.
    if (this.sources.get(id) !== source) return
    const streak = (this.resting.get(id)?.streak ?? 0) + 1
    this.resting.set(id, { until: Date.now() + Math.min(MAX_BUSY_BACKOFF_MS, BUSY_BACKOFF_MS * 2 ** (streak - 1)), streak })
    this.leave(source, `${reason}; resting ${streak} time(s)`)
  }

  private drop (source: Source, reason: string): void {
    const id = source.peerId.toString()
    if (this.excluded.has(id)) return
    this.excluded.add(id)
    this.leave(source, reason)
  }

  private leave (source: Source, reason: string): void {
    const id = source.peerId.toString()
    log('dropping %s from the download of %s: %s', id, this.description.blobId, reason)
    this.sources.delete(id)
    // Its chunks in flight are wanted again at once, from others or Walrus.
    source.abort.abort(new Error(`dropped from the download: ${reason}`))
  }
}

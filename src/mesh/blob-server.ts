import { setTimeout as sleep } from 'node:timers/promises'
import type { Connection, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { BLOB_ID_BYTES, blobIdFromBytes, type BlobId } from '../blob/blob-id.js'
import { chunkRange } from '../blob/chunk-tree.js'
import { plainBytes } from './bytes.js'
import type { ChunkSource, ServedBlob } from './chunk-source.js'
import {
  BLOB_PROTOCOL, BLOB_STREAM_IDLE_TIMEOUT_MS, MAX_BLOB_REQUEST_BYTES, MAX_BYTES_PER_REQUEST,
  MAX_CHUNKS_PER_REQUEST, MAX_INBOUND_BLOB_STREAMS, MAX_OUTBOUND_BLOB_STREAMS, MAX_WATCHES, MAX_WATCHES_PER_PEER,
  PENDING_BLOB_POLL_MS, PENDING_BLOB_WAIT_MS, WATCH_INTERVAL_MS, WATCH_REFRESH_MS
} from './constants.js'
import { IdleSignal } from './idle-signal.js'
import { framedStream, type FramedStream, type WritePace } from './length-prefixed.js'
import { encodeChunk } from './chunk-message.js'
import { leaseBuffer } from './sealed-buffers.js'
import { UPLOAD_SLICE_BYTES, UploadPace } from './upload-pace.js'
import { BlobRequest, BlobResponse } from './pb/blob-exchange.js'
import type { PeerScores } from './peer-scores.js'

const log = logger('herd:mesh:blob-server')

export interface BlobServerComponents {
  registrar: {
    handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number, maxOutboundStreams: number }) => Promise<void>
    unhandle: (protocol: string) => Promise<void>
  }
  source: ChunkSource
  /** A peer whose request breaks the framing is counted here. */
  scores?: Pick<PeerScores, 'failure'>
}

export interface BlobServerInit {
  /** Streams per connection. */
  maxInboundStreams?: number
  /** Uploads at once across all peers; past it a request is answered BUSY at once. */
  maxUploads?: number
  /** WATCH streams at once across all peers, and from one peer; past them a watch is answered BUSY. */
  maxWatches?: number
  maxWatchesPerPeer?: number
  /** The least time between a WATCH's updates, and the most (an unchanged bitfield is sent again then). */
  watchIntervalMs?: number
  watchRefreshMs?: number
  idleTimeoutMs?: number
  /** Chunk bytes sent a second to all peers together, at most; absent: as fast as the link takes them. */
  uploadBytesPerSec?: number
}

export interface BlobServerStats {
  uploads: number
  requests: number
  chunksServed: number
  bytesServed: number
  refused: number
  /** WATCH streams open now. */
  watching: number
}

/** Framing no herd peer sends: a length prefix that does not end, or a request over its limit. */
const HOSTILE_FRAMING = new Set(['LengthPrefixTooLongError', 'MessageTooLargeError'])

type ResponseFields = Partial<Omit<BlobResponse, 'status'>>

/** Serves chunk hashes, held-chunk bitfields and chunks of cached blobs and downloads in progress. */
export class BlobServer {
  private readonly components: BlobServerComponents
  private readonly maxInboundStreams: number
  private readonly maxUploads: number
  private readonly idleTimeoutMs: number
  private readonly maxWatches: number
  private readonly maxWatchesPerPeer: number
  private readonly watchIntervalMs: number
  private readonly watchRefreshMs: number
  private readonly watchesByPeer = new Map<string, number>()
  private readonly uploadPace?: UploadPace
  private readonly active = new Set<Promise<void>>()
  /** Ends every WATCH at stop(): they would otherwise run until their downloads end. */
  private stopping = new AbortController()
  readonly stats: BlobServerStats = { uploads: 0, requests: 0, chunksServed: 0, bytesServed: 0, refused: 0, watching: 0 }

  constructor (components: BlobServerComponents, init: BlobServerInit = {}) {
    this.components = components
    this.maxInboundStreams = init.maxInboundStreams ?? MAX_INBOUND_BLOB_STREAMS
    this.maxUploads = init.maxUploads ?? 64
    this.idleTimeoutMs = init.idleTimeoutMs ?? BLOB_STREAM_IDLE_TIMEOUT_MS
    this.maxWatches = init.maxWatches ?? MAX_WATCHES
    this.maxWatchesPerPeer = init.maxWatchesPerPeer ?? MAX_WATCHES_PER_PEER
    this.watchIntervalMs = init.watchIntervalMs ?? WATCH_INTERVAL_MS
    this.watchRefreshMs = init.watchRefreshMs ?? WATCH_REFRESH_MS
    if (init.uploadBytesPerSec != null) this.uploadPace = new UploadPace(init.uploadBytesPerSec)
  }

  /** The upload pace in bytes a second (0: none), and the seconds uploads have waited on it. */
  pace (): { bytesPerSec: number, waitedSeconds: number } {
    return { bytesPerSec: this.uploadPace?.bytesPerSec ?? 0, waitedSeconds: this.uploadPace?.waitedSeconds ?? 0 }
  }

  async start (): Promise<void> {
    this.stopping = new AbortController()
    await this.components.registrar.handle(BLOB_PROTOCOL, (stream, connection) => {
      const work = this.serve(stream, connection).finally(() => { this.active.delete(work) })
      this.active.add(work)
    }, { maxInboundStreams: this.maxInboundStreams, maxOutboundStreams: MAX_OUTBOUND_BLOB_STREAMS })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(BLOB_PROTOCOL)
    this.stopping.abort()
    await Promise.allSettled([...this.active])
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    // Every message restarts the idle timeout.
    const idle = new IdleSignal(this.idleTimeoutMs)
    const signal = (): AbortSignal => idle.touch()
    const pb = framedStream(stream, { maxDataLength: MAX_BLOB_REQUEST_BYTES })
    const respond = async (status: BlobResponse.Status, fields: ResponseFields = {}): Promise<void> => {
      await pb.writeMessage({ status, message: '', size: 0n, chunkSize: 0, complete: false, hashes: new Uint8Array(0), have: new Uint8Array(0), chunks: 0, ...fields }, BlobResponse, { signal: signal() })
    }
    let served: ServedBlob | undefined
    try {
      const request = await pb.readMessage(BlobRequest, { signal: signal() })
      this.stats.requests++
      if (request.blobId.byteLength !== BLOB_ID_BYTES) {
        this.stats.refused++
        await respond(BlobResponse.Status.BAD_REQUEST, { message: `blobId is ${request.blobId.byteLength} bytes, not ${BLOB_ID_BYTES}` })
        return
      }
      if (request.kind === BlobRequest.Kind.WATCH) {
        await this.watch(request, stream, connection.remotePeer.toString(), respond, idle)
        return
      }
      const blobId = blobIdFromBytes(request.blobId)
      if (request.kind === BlobRequest.Kind.HAVE) {
        // A HAVE waits for a download that has not begun outside the upload slots: it holds a timer, not an upload.
        const ended = this.streamEnded(stream, idle)
        try {
          served = await this.openWhenBegun(blobId, ended.signal)
        } finally {
          ended.stop()
        }
        if (stream.status !== 'open') return
      }
      if (this.stats.uploads >= this.maxUploads) {
        this.stats.refused++
        await respond(BlobResponse.Status.BUSY, { message: `serving ${this.stats.uploads} requests already` })
        return
      }
      this.stats.uploads++
      try {
        served ??= await this.components.source.open(blobId)
        if (served == null) {
          await respond(BlobResponse.Status.NOT_FOUND, { message: 'blob not held' })
          return
        }
        const info = { size: BigInt(served.size), chunkSize: served.chunkSize, complete: served.complete }
        switch (request.kind) {
          case BlobRequest.Kind.HASHES:
            await respond(BlobResponse.Status.OK, { ...info, hashes: plainBytes(Buffer.concat(served.leaves)) })
            return
          case BlobRequest.Kind.HAVE:
            await respond(BlobResponse.Status.OK, { ...info, have: plainBytes(served.bitfield()) })
            return
          case BlobRequest.Kind.CHUNKS:
            await this.sendChunks(request, served, pb, respond, info, signal, connection.remotePeer.toString())
            return
          default:
            await respond(BlobResponse.Status.BAD_REQUEST, { message: 'unknown request kind' })
        }
      } finally {
        this.stats.uploads--
      }
    } catch (err) {
      log('blob request from %p failed - %e', connection.remotePeer, err)
      if (HOSTILE_FRAMING.has((err as Error).name)) this.components.scores?.failure(connection.remotePeer.toString(), `blob request: ${(err as Error).message}`)
      stream.abort(err as Error)
    } finally {
      served?.release()
      if (stream.status === 'open') await stream.close({ signal: signal() }).catch(() => {})
      idle.clear()
    }
  }

  /**
   * HAVE, then the bitfield again on the same stream whenever the count of
   * held chunks changes (a chunk dropped and another landed between two
   * looks go unseen until the next change: the asker learns of a missing
   * one when a request for it comes back short), until the blob is whole,
   * its download goes away, the asker resets the stream or the server stops.
   * It holds no upload slot: it costs a timer and a small message an
   * interval, bounded in number by maxWatches and maxWatchesPerPeer.
   */
  private async watch (
    request: BlobRequest,
    stream: Stream,
    peer: string,
    respond: (status: BlobResponse.Status, fields?: ResponseFields) => Promise<void>,
    idle: IdleSignal
  ): Promise<void> {
    const byPeer = this.watchesByPeer.get(peer) ?? 0
    if (this.stats.watching >= this.maxWatches || byPeer >= this.maxWatchesPerPeer) {
      this.stats.refused++
      await respond(BlobResponse.Status.BUSY, { message: `watching ${byPeer} blobs for this peer and ${this.stats.watching} in all already` })
      return
    }
    // Counted before the open: two watches asked at once must not both pass the limits while it runs.
    this.stats.watching++
    this.watchesByPeer.set(peer, byPeer + 1)
    const { signal: ended, stop } = this.streamEnded(stream, idle)
    let served: ServedBlob | undefined
    try {
      served = await this.openWhenBegun(blobIdFromBytes(request.blobId), ended)
      if (served == null) {
        if (ended.aborted) return
        await respond(BlobResponse.Status.NOT_FOUND, { message: 'blob not held' })
        return
      }
      const info = { size: BigInt(served.size), chunkSize: served.chunkSize }
      let sent = -1
      let sentAt = 0
      while (true) {
        const held = served.held()
        const whole = held === served.chunkCount
        if (!whole && !served.active()) return
        if (held !== sent || whole || performance.now() - sentAt >= this.watchRefreshMs) {
          await respond(BlobResponse.Status.OK, { ...info, complete: whole, have: plainBytes(served.bitfield()) })
          sent = held
          sentAt = performance.now()
          if (whole) return
        }
        await sleep(this.watchIntervalMs, undefined, { signal: ended })
      }
    } catch (err) {
      // The asker reset the stream (its download ended or dropped this peer), or the server stops: the watch is over.
      if (ended.aborted || stream.status !== 'open') return
      throw err
    } finally {
      stop()
      served?.release()
      this.stats.watching--
      const left = (this.watchesByPeer.get(peer) ?? 1) - 1
      if (left > 0) this.watchesByPeer.set(peer, left)
      else this.watchesByPeer.delete(peer)
    }
  }

  /** A signal that aborts when the stream closes, its idle timeout passes or the server stops; `stop` lets the stream go. */
  private streamEnded (stream: Stream, idle: IdleSignal): { signal: AbortSignal, stop: () => void } {
    const closed = new AbortController()
    const onClose = (): void => { closed.abort() }
    stream.addEventListener('close', onClose)
    return { signal: AbortSignal.any([this.stopping.signal, idle.signal, closed.signal]), stop: () => { stream.removeEventListener('close', onClose) } }
  }

  /**
   * The blob asked for (HAVE, WATCH); for one this node announced fetching
   * whose partial is not made yet (it reads the chunk hashes first), the
   * partial once it is, PENDING_BLOB_WAIT_MS at most. The asker learned of
   * the download from that announcement: answered NOT_FOUND, it rested this
   * node and scored it down as a peer that failed it. Undefined: not held,
   * or the wait ended (the download stopped, or `ended`: the stream closed,
   * the server stops).
   */
  private async openWhenBegun (blobId: BlobId, ended: AbortSignal): Promise<ServedBlob | undefined> {
    const { source } = this.components
    const askedAt = performance.now()
    for (let polls = 0; ; polls++) {
      const served = await source.open(blobId)
      const waited = performance.now() - askedAt
      if (served != null || source.fetching?.(blobId) !== true || waited >= PENDING_BLOB_WAIT_MS || ended.aborted) {
        if (polls > 0) log('a request for %s waited %d ms for its download to begin: %s', blobId, Math.round(waited), served != null ? 'begun' : 'not begun')
        if (served != null && ended.aborted) {
          served.release()
          return undefined
        }
        return served
      }
      await sleep(PENDING_BLOB_POLL_MS, undefined, { signal: ended }).catch(() => {})
    }
  }

  private async sendChunks (
    request: BlobRequest,
    served: ServedBlob,
    pb: FramedStream,
    respond: (status: BlobResponse.Status, fields?: ResponseFields) => Promise<void>,
    info: ResponseFields,
    signal: () => AbortSignal,
    peer: string
  ): Promise<void> {
    const { first, count } = request
    const maxCount = Math.min(MAX_CHUNKS_PER_REQUEST, Math.max(1, Math.floor(MAX_BYTES_PER_REQUEST / served.chunkSize)))
    if (count < 1 || count > maxCount || first >= served.chunkCount || first + count > served.chunkCount) {
      this.stats.refused++
      await respond(BlobResponse.Status.BAD_REQUEST, { message: `chunks ${first}+${count} out of range: the blob has ${served.chunkCount} chunks, at most ${maxCount} per request` })
      return
    }
    const held: number[] = []
    for (let i = first; i < first + count; i++) if (served.has(i)) held.push(i)
    await respond(BlobResponse.Status.OK, { ...info, chunks: held.length })
    const { uploadPace } = this
    // A slice let go is activity: a chunk paced behind other uploads may take longer than the idle timeout.
    const pace: WritePace | undefined = uploadPace != null ? { sliceBytes: UPLOAD_SLICE_BYTES, take: async (bytes, options) => { await uploadPace.take(bytes, { ...options, peer }); signal() } } : undefined
    for (const index of held) {
      // Read into a buffer that comes back once Noise has sealed it: no fresh MiB of garbage per chunk. A short chunk (a
      // blob's last, or a small blob registered with chunks of up to 64 MiB) is read into its own size: a chunk-sized lease
      // made a few bytes sent cost up to 64 MiB of buffer, which V8 counts toward its next full collection, never pooled
      // past 16 MiB.
      const { start, end } = chunkRange(index, served.size, served.chunkSize)
      const lease = end - start === served.chunkSize ? leaseBuffer(served.chunkSize) : undefined
      let data: Uint8Array
      try {
        data = await served.readChunk(index, lease?.bytes)
      } catch (err) {
        lease?.cancel()
        throw err
      }
      if (lease != null && data.buffer === lease.bytes.buffer) lease.lend(data.byteLength)
      else lease?.cancel()
      await pb.write(encodeChunk(index, data), { signal: signal(), ...(pace != null ? { pace } : {}) })
      this.stats.chunksServed++
      this.stats.bytesServed += data.byteLength
    }
  }
}

import type { PeerId, Stream } from '@libp2p/interface'
import { blobIdToBytes } from '../blob/blob-id.js'
import { MAX_CHUNK_SIZE } from '../blob/chunk-tree.js'
import { plainBytes } from './bytes.js'
import {
  BLOB_PROTOCOL, BLOB_STREAM_IDLE_TIMEOUT_MS, BLOB_STREAM_KEEP_MS, MAX_BLOB_RESPONSE_BYTES, MAX_KEPT_BLOB_STREAMS_PER_PEER
} from './constants.js'
import { MeshProtocolError, PeerRefusedError } from './errors.js'
import { IdleSignal } from './idle-signal.js'
import { framedStream, type FramedStream } from './length-prefixed.js'
import type { Uint8ArrayList } from 'uint8arraylist'
import { decodeChunk } from './chunk-message.js'
import { BlobRequest, BlobResponse } from './pb/blob-exchange.js'

export interface BlobClientComponents {
  dialProtocol: (peer: PeerId, protocol: string, options: { signal: AbortSignal }) => Promise<Stream>
}

export interface BlobClientInit {
  idleTimeoutMs?: number
  /** How long a stream with no request is kept for the next one (under the server's idle timeout). */
  keepMs?: number
  /** Streams kept per peer between requests. */
  maxKeptPerPeer?: number
}

interface KeptStream {
  stream: Stream
  pb: FramedStream
  timer: NodeJS.Timeout
}

export interface RemoteBlobInfo {
  size: number
  chunkSize: number
  complete: boolean
}

/** A chunk message may carry the largest chunk a tree allows, and a little framing. */
const MAX_MESSAGE_BYTES = Math.max(MAX_CHUNK_SIZE + 1024, MAX_BLOB_RESPONSE_BYTES)

/**
 * Asks peers for chunk hashes, held-chunk bitfields and chunks over
 * /herd/blob/1.0.0. A stream whose answer said `more` is kept for the next
 * request to that peer, so a download opens a few streams per peer instead of
 * one per request (each a stream setup and protocol negotiation at both ends).
 */
export class BlobClient {
  private readonly components: BlobClientComponents
  private readonly idleTimeoutMs: number
  private readonly keepMs: number
  private readonly maxKeptPerPeer: number
  private readonly kept = new Map<string, KeptStream[]>()
  /** Streams dialed, for the tests and benchmarks: requests over this count rode a kept stream. */
  streamsOpened = 0

  constructor (components: BlobClientComponents, init: BlobClientInit = {}) {
    this.components = components
    this.idleTimeoutMs = init.idleTimeoutMs ?? BLOB_STREAM_IDLE_TIMEOUT_MS
    this.keepMs = init.keepMs ?? BLOB_STREAM_KEEP_MS
    this.maxKeptPerPeer = init.maxKeptPerPeer ?? MAX_KEPT_BLOB_STREAMS_PER_PEER
  }

  async hashes (peer: PeerId, blobId: string, options: { signal: AbortSignal }): Promise<RemoteBlobInfo & { hashes: Uint8Array }> {
    return this.ask(peer, { kind: BlobRequest.Kind.HASHES, blobId, first: 0, count: 0 }, options, async (response) => {
      return { ...info(response), hashes: response.hashes }
    })
  }

  async have (peer: PeerId, blobId: string, options: { signal: AbortSignal }): Promise<RemoteBlobInfo & { have: Uint8Array }> {
    return this.ask(peer, { kind: BlobRequest.Kind.HAVE, blobId, first: 0, count: 0 }, options, async (response) => {
      return { ...info(response), have: response.have }
    })
  }

  /**
   * Chunks `first` to `first + count - 1`, handed to `onChunk` as they arrive
   * (only those the peer holds), in the pieces they arrived in (not joined:
   * a copy of every chunk saved); returns the indexes received. The bytes are
   * not checked here: the caller checks each against its leaf hash.
   */
  async chunks (
    peer: PeerId,
    blobId: string,
    first: number,
    count: number,
    onChunk: (index: number, data: Uint8ArrayList) => Promise<void>,
    options: { signal: AbortSignal }
  ): Promise<number[]> {
    return this.ask(peer, { kind: BlobRequest.Kind.CHUNKS, blobId, first, count }, options, async (response, pb, signal) => {
      if (response.chunks > count) throw new MeshProtocolError(`peer promised ${response.chunks} chunks for a request of ${count}`)
      const received: number[] = []
      let previous = first - 1
      for (let n = 0; n < response.chunks; n++) {
        const chunk = decodeChunk(await pb.read({ signal: signal() }))
        if (chunk.index <= previous || chunk.index >= first + count) throw new MeshProtocolError(`peer sent chunk ${chunk.index}, outside ${first}+${count} or out of order`)
        previous = chunk.index
        await onChunk(chunk.index, chunk.data)
        received.push(chunk.index)
      }
      return received
    })
  }

  private async ask<T> (
    peer: PeerId,
    request: { kind: BlobRequest.Kind, blobId: string, first: number, count: number },
    options: { signal: AbortSignal },
    handle: (response: BlobResponse, pb: FramedStream, signal: () => AbortSignal) => Promise<T>
  ): Promise<T> {
    // Every read restarts the idle timeout, tied to the caller's signal.
    const idle = new IdleSignal(this.idleTimeoutMs, options.signal)
    const signal = (): AbortSignal => idle.touch()
    let open = this.take(peer)
    if (open == null) {
      try {
        const stream = await this.components.dialProtocol(peer, BLOB_PROTOCOL, { signal: signal() })
        this.streamsOpened++
        // The read buffer must hold a whole message: its default (4 MiB) is smaller than the largest chunk.
        open = { stream, pb: framedStream(stream, { maxDataLength: MAX_MESSAGE_BYTES, maxBufferSize: MAX_MESSAGE_BYTES + 1024 }) }
      } catch (err) {
        idle.clear()
        throw err
      }
    }
    const { stream, pb } = open
    try {
      await pb.writeMessage({ ...request, blobId: plainBytes(blobIdToBytes(request.blobId)) }, BlobRequest, { signal: signal() })
      const response = await pb.readMessage(BlobResponse, { signal: signal() })
      if (response.status !== BlobResponse.Status.OK) throw new PeerRefusedError(`peer ${peer.toString()} answered ${response.status}: ${response.message}`, response.status)
      const result = await handle(response, pb, signal)
      if (response.more) this.keep(peer, stream, pb)
      else await stream.close({ signal: signal() })
      return result
    } catch (err) {
      stream.abort(err as Error)
      throw err
    } finally {
      idle.clear()
    }
  }

  /** A kept stream to `peer` still open both ways, if any. */
  private take (peer: PeerId): { stream: Stream, pb: FramedStream } | undefined {
    const key = peer.toString()
    const list = this.kept.get(key) ?? []
    let found: KeptStream | undefined
    while (found == null && list.length > 0) {
      const entry = list.pop() as KeptStream
      clearTimeout(entry.timer)
      if (usable(entry.stream)) found = entry
      else entry.stream.abort(new MeshProtocolError('kept blob stream closed by the peer'))
    }
    if (list.length === 0) this.kept.delete(key)
    return found
  }

  private keep (peer: PeerId, stream: Stream, pb: FramedStream): void {
    const key = peer.toString()
    const list = this.kept.get(key) ?? []
    if (list.length >= this.maxKeptPerPeer || !usable(stream)) {
      stream.close().catch(err => { stream.abort(err as Error) })
      return
    }
    const entry: KeptStream = {
      stream,
      pb,
      timer: setTimeout(() => {
        const at = list.indexOf(entry)
        if (at >= 0) list.splice(at, 1)
        if (list.length === 0 && this.kept.get(key) === list) this.kept.delete(key)
        stream.close().catch(err => { stream.abort(err as Error) })
      }, this.keepMs)
    }
    // A kept stream must not hold the process open.
    entry.timer.unref()
    list.push(entry)
    this.kept.set(key, list)
  }
}

function usable (stream: Stream): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable'
}

function info (response: BlobResponse): RemoteBlobInfo {
  if (response.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new MeshProtocolError(`peer reported a blob size of ${response.size}`)
  return { size: Number(response.size), chunkSize: response.chunkSize, complete: response.complete }
}

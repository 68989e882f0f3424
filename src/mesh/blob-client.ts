import type { PeerId, Stream, StreamMessageEvent } from '@libp2p/interface'
import { blobIdToBytes } from '../blob/blob-id.js'
import { MAX_CHUNK_SIZE } from '../blob/chunk-tree.js'
import { plainBytes } from './bytes.js'
import { BLOB_PROTOCOL, BLOB_STREAM_IDLE_TIMEOUT_MS, MAX_BLOB_RESPONSE_BYTES, WATCH_INTERVAL_MS } from './constants.js'
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
}

export interface RemoteBlobInfo {
  size: number
  chunkSize: number
  complete: boolean
}

/**
 * WATCH updates a peer may send, as a bucket: it refills at twice the rate
 * the protocol's interval allows (room for a timer that fires late and then
 * on time) and holds WATCH_UPDATE_BURST. Updates travel behind the chunks
 * the same peer sends this node on the same connection, so on a capped link
 * seconds of them arrive at once: counted per second, as before, an honest
 * peer's burst ended its watch and set it resting, and an 8-node swarm of
 * 512 MiB at 2 MiB/s fell from 86% of the cap to 72-77%
 * (benchmarks/README.md, session 30). More than the bucket is a peer
 * flooding, and ends the watch.
 */
export const WATCH_UPDATES_PER_SECOND = 2 * 1000 / WATCH_INTERVAL_MS
/** Ten seconds of the protocol's updates. */
export const WATCH_UPDATE_BURST = 10 * 1000 / WATCH_INTERVAL_MS

/** A chunk message's bytes besides its data: two tags and two varints are 12 at most; the rest is room for a field protons may add. */
const CHUNK_FRAMING_BYTES = 1024

/** A chunk message may carry the largest chunk a tree allows, and a little framing. */
const MAX_MESSAGE_BYTES = Math.max(MAX_CHUNK_SIZE + CHUNK_FRAMING_BYTES, MAX_BLOB_RESPONSE_BYTES)

/** Asks peers for chunk hashes, held-chunk bitfields and chunks over /herd/blob/1.0.0. */
export class BlobClient {
  private readonly components: BlobClientComponents
  private readonly idleTimeoutMs: number

  constructor (components: BlobClientComponents, init: BlobClientInit = {}) {
    this.components = components
    this.idleTimeoutMs = init.idleTimeoutMs ?? BLOB_STREAM_IDLE_TIMEOUT_MS
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
   * The peer's bitfield now and again whenever it changes, to `onHave`, until
   * the peer has the blob whole (the last call's `complete`; this resolves)
   * or the signal ends the watch. A peer that sends updates faster than the
   * protocol allows is refused with a MeshProtocolError. A peer whose download
   * of the blob goes away ends the stream: this rejects with the stream's
   * end (UnexpectedEOFError), and the caller goes back to asking HAVE.
   */
  async watch (peer: PeerId, blobId: string, onHave: (reply: RemoteBlobInfo & { have: Uint8Array }) => void, options: { signal: AbortSignal }): Promise<void> {
    await this.ask(peer, { kind: BlobRequest.Kind.WATCH, blobId, first: 0, count: 0 }, options, async (response, pb, signal) => {
      let allowance = WATCH_UPDATE_BURST
      let filledAt = performance.now()
      while (true) {
        onHave({ ...info(response), have: response.have })
        if (response.complete) return
        response = await pb.readMessage(BlobResponse, { signal: signal() })
        if (response.status !== BlobResponse.Status.OK) throw new PeerRefusedError(`peer ${peer.toString()} ended a watch with ${response.status}: ${response.message}`, response.status)
        const now = performance.now()
        allowance = Math.min(WATCH_UPDATE_BURST, allowance + (now - filledAt) / 1000 * WATCH_UPDATES_PER_SECOND) - 1
        filledAt = now
        if (allowance < 0) throw new MeshProtocolError(`peer ${peer.toString()} sent watch updates faster than ${WATCH_UPDATES_PER_SECOND} a second beyond a burst of ${WATCH_UPDATE_BURST}`)
      }
    })
  }

  /**
   * Chunks `first` to `first + count - 1`, handed to `onChunk` as they arrive
   * (only those the peer holds), in the pieces they arrived in (not joined:
   * a copy of every chunk saved); returns the indexes received. The bytes are
   * not checked here: the caller checks each against its leaf hash.
   * `chunkBytes`, the blob's chunk size, bounds each chunk message before it
   * is read (the largest chunk a tree allows if not given): a message is
   * held whole until it has all arrived, and without it a peer could make
   * the client buffer up to 64 MiB per stream before the shape was checked.
   * `onBytes` hears of every piece of the answer as it arrives: through a
   * capped link shared by several streams a chunk lands whole seconds after
   * its first bytes, and the bytes are the peer's progress meanwhile.
   */
  async chunks (
    peer: PeerId,
    blobId: string,
    first: number,
    count: number,
    onChunk: (index: number, data: Uint8ArrayList) => Promise<void>,
    options: { signal: AbortSignal, chunkBytes?: number, onBytes?: (bytes: number) => void }
  ): Promise<number[]> {
    const chunkBytes = options.chunkBytes ?? MAX_CHUNK_SIZE
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_SIZE) throw new RangeError(`chunkBytes must be an integer from 1 to ${MAX_CHUNK_SIZE}, not ${chunkBytes}`)
    const maxDataLength = chunkBytes + CHUNK_FRAMING_BYTES
    return this.ask(peer, { kind: BlobRequest.Kind.CHUNKS, blobId, first, count }, options, async (response, pb, signal) => {
      if (response.chunks > count) throw new MeshProtocolError(`peer promised ${response.chunks} chunks for a request of ${count}`)
      const received: number[] = []
      let previous = first - 1
      for (let n = 0; n < response.chunks; n++) {
        const chunk = decodeChunk(await pb.read({ signal: signal(), maxDataLength }))
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
    options: { signal: AbortSignal, onBytes?: (bytes: number) => void },
    handle: (response: BlobResponse, pb: FramedStream, signal: () => AbortSignal) => Promise<T>
  ): Promise<T> {
    // Every read restarts the idle timeout, tied to the caller's signal.
    const idle = new IdleSignal(this.idleTimeoutMs, options.signal)
    const signal = (): AbortSignal => idle.touch()
    let stream: Stream
    try {
      stream = await this.components.dialProtocol(peer, BLOB_PROTOCOL, { signal: signal() })
    } catch (err) {
      idle.clear()
      throw err
    }
    // Bytes arriving restart the idle timeout too: a 1 MiB chunk through a full link may take longer than the timeout to land whole.
    const onMessage = (event: StreamMessageEvent): void => {
      signal()
      options.onBytes?.(event.data.byteLength)
    }
    stream.addEventListener('message', onMessage)
    try {
      // The read buffer must hold a whole message: its default (4 MiB) is smaller than the largest chunk.
      const pb = framedStream(stream, { maxDataLength: MAX_MESSAGE_BYTES, maxBufferSize: MAX_MESSAGE_BYTES + 1024 })
      await pb.writeMessage({ ...request, blobId: plainBytes(blobIdToBytes(request.blobId)) }, BlobRequest, { signal: signal() })
      const response = await pb.readMessage(BlobResponse, { signal: signal() })
      if (response.status !== BlobResponse.Status.OK) throw new PeerRefusedError(`peer ${peer.toString()} answered ${response.status}: ${response.message}`, response.status)
      const result = await handle(response, pb, signal)
      await stream.close({ signal: signal() })
      return result
    } catch (err) {
      stream.abort(err as Error)
      throw err
    } finally {
      stream.removeEventListener('message', onMessage)
      idle.clear()
    }
  }
}

function info (response: BlobResponse): RemoteBlobInfo {
  if (response.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new MeshProtocolError(`peer reported a blob size of ${response.size}`)
  return { size: Number(response.size), chunkSize: response.chunkSize, complete: response.complete }
}

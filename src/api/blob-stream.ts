import { Readable } from 'node:stream'
import type { BlobHandle } from '../blob/cache/index.js'
import type { ByteRange } from '../blob/byte-range.js'

/**
 * The bytes of a cached blob, read chunk by chunk: each chunk is checked
 * against its leaf hash before it leaves, so a blob damaged on disk is never
 * served. The handle keeps the blob from eviction until the stream ends.
 */
export function blobReadStream (handle: BlobHandle, range: ByteRange | undefined): Readable {
  const start = range?.start ?? 0
  const end = range != null ? range.end + 1 : handle.size
  async function * chunks (): AsyncGenerator<Uint8Array> {
    try {
      if (end <= start) return
      const first = Math.floor(start / handle.chunkSize)
      const last = Math.floor((end - 1) / handle.chunkSize)
      for (let index = first; index <= last; index++) {
        const chunk = await handle.readChunk(index)
        const chunkStart = index * handle.chunkSize
        yield chunk.subarray(Math.max(0, start - chunkStart), Math.min(chunk.byteLength, end - chunkStart))
      }
    } finally {
      handle.release()
    }
  }
  return Readable.from(chunks(), { objectMode: false })
}

import type { BlobId } from '../blob/blob-id.js'
import { CacheObjectClosedError, type BlobCache, type BlobHandle } from '../blob/cache/index.js'
import type { ChunkSource, ServedBlob } from './chunk-source.js'

/** The blob server's view of the cache: complete blobs, and the chunks held of downloads in progress. */
export function cacheChunkSource (cache: BlobCache): ChunkSource {
  return {
    async open (blobId: BlobId): Promise<ServedBlob | undefined> {
      const entry = cache.entry(blobId)
      const leaves = cache.leaves(blobId)
      if (entry != null && leaves != null) {
        const handle = await cache.open(blobId, { forPeer: true })
        if (handle != null) {
          const chunkCount = leaves.length
          return {
            size: handle.size,
            chunkSize: handle.chunkSize,
            chunkCount,
            complete: true,
            leaves,
            has: index => index >= 0 && index < chunkCount,
            bitfield: () => fullBitfield(chunkCount),
            held: () => chunkCount,
            active: () => true,
            readChunk: async (index, into) => handle.readChunk(index, into),
            release: () => { handle.release() }
          }
        }
      }
      const partial = cache.partialOf(blobId)
      if (partial == null) return undefined
      let committed: Promise<BlobHandle> | undefined
      let released = false
      // The download was committed, or is being, while a peer reads it: the complete blob serves the rest of the request. Turned
      // away, the peer's stream broke as the download ended, and the peer rested this node and scored it down (docs/mesh.md).
      const openCommitted = async (cause: unknown): Promise<BlobHandle> => {
        await partial.commitSettled()
        const handle = await cache.open(blobId, { forPeer: true })
        if (handle == null) throw cause
        if (released) {
          handle.release()
          throw cause
        }
        return handle
      }
      return {
        size: partial.size,
        chunkSize: partial.chunkSize,
        chunkCount: partial.chunkCount,
        complete: false,
        leaves: partial.leaves,
        has: index => partial.has(index),
        bitfield: () => partial.bitfield(),
        held: () => partial.heldCount(),
        // Committed, abandoned or discarded: no longer the download the cache lists for the blob.
        active: () => cache.partialOf(blobId) === partial,
        readChunk: async (index, into) => {
          if (committed == null) {
            try {
              return await partial.readChunk(index, into)
            } catch (err) {
              if (!(err instanceof CacheObjectClosedError)) throw err
              committed = openCommitted(err)
            }
          }
          return (await committed).readChunk(index, into)
        },
        release: () => {
          released = true
          committed?.then(handle => { handle.release() }, () => {})
        }
      }
    }
  }
}

function fullBitfield (count: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(count / 8)).fill(0xff)
  const spare = bits.length * 8 - count
  if (spare > 0) bits[bits.length - 1] = (0xff << spare) & 0xff
  return bits
}

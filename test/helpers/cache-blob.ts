import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { blobIdFromBytes, chunkRange, chunkTreeOfBytes, toHex, type BlobId } from '../../src/blob/index.js'
import { BlobCache, type BlobDescriptor, type CacheEntry } from '../../src/blob/cache/index.js'
import { tempDir } from './devnet.js'

const KiB = 1024

/** A blob of random bytes as the cache takes it: its ID, its descriptor and its chunks. */
export interface TestBlob {
  id: BlobId
  bytes: Buffer
  descriptor: BlobDescriptor
  chunk: (index: number) => Buffer
}

export function makeBlob (size: number, chunkSize = KiB): TestBlob {
  const bytes = randomBytes(size)
  const tree = chunkTreeOfBytes(bytes, chunkSize)
  return {
    id: blobIdFromBytes(randomBytes(32)),
    bytes,
    descriptor: { size, chunkSize, chunkRoot: toHex(tree.root), leaves: tree.leaves },
    chunk: index => {
      const { start, end } = chunkRange(index, size, chunkSize)
      return bytes.subarray(start, end)
    }
  }
}

/** Downloads the whole blob into the cache, chunk by chunk, and commits it. */
export async function put (cache: BlobCache, blob: TestBlob): Promise<CacheEntry> {
  const partial = await cache.partial(blob.id, blob.descriptor)
  for (let i = 0; i < partial.chunkCount; i++) await partial.writeChunk(i, blob.chunk(i))
  return partial.commit()
}

/** A started cache in a temp dir, stopped and removed when the test's scope ends. */
export async function startedCache (): Promise<BlobCache & AsyncDisposable> {
  const dir = await tempDir()
  const cache = new BlobCache({ dir: join(dir.path, 'cache'), quotaBytes: 1024 * 1024 })
  const dispose = async (): Promise<void> => {
    try {
      await cache.stop()
    } finally {
      await dir[Symbol.asyncDispose]()
    }
  }
  try {
    await cache.start()
  } catch (err) {
    await dir[Symbol.asyncDispose]()
    throw err
  }
  return Object.assign(cache, { [Symbol.asyncDispose]: dispose })
}

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cacheChunkSource } from '../../src/mesh/cache-chunk-source.js'
import { makeBlob, put, startedCache } from '../helpers/cache-blob.js'

const KiB = 1024

describe('the blob server\'s view of the cache', () => {
  it('serves a download that is committed while a peer reads it from the complete blob, and lets that blob go at release', async () => {
    await using cache = await startedCache()
    const blob = makeBlob(8 * KiB + 100)
    const partial = await cache.partial(blob.id, blob.descriptor)
    for (let i = 0; i < partial.chunkCount; i++) await partial.writeChunk(i, blob.chunk(i))
    const served = await cacheChunkSource(cache).open(blob.id)
    assert.ok(served != null)
    assert.equal(served.complete, false, 'opened while still a download')
    assert.deepEqual(Buffer.from(await served.readChunk(0)), blob.chunk(0))

    // The commit begins at once: this read meets the download being committed.
    const commit = partial.commit()
    await assert.rejects(partial.readChunk(1), { name: 'CacheObjectClosedError' }, 'the download itself turns readers away while it is committed')
    assert.deepEqual(Buffer.from(await served.readChunk(1)), blob.chunk(1))
    await commit
    assert.equal(cache.has(blob.id), true)
    // After the commit, into a buffer of the caller's, as the server reads.
    const into = new Uint8Array(KiB)
    assert.deepEqual(Buffer.from(await served.readChunk(8, into)), blob.chunk(8))
    assert.equal(cache.stats().openHandles, 1, 'one handle on the complete blob for the rest of the request')
    served.release()
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(cache.stats().openHandles, 0)
  })

  it('still refuses a chunk of a download that was discarded, not committed', async () => {
    await using cache = await startedCache()
    const blob = makeBlob(4 * KiB)
    const partial = await cache.partial(blob.id, blob.descriptor)
    await partial.writeChunk(0, blob.chunk(0))
    const served = await cacheChunkSource(cache).open(blob.id)
    assert.ok(served != null)
    await partial.abandon()
    await assert.rejects(served.readChunk(0), { name: 'CacheObjectClosedError' })
    served.release()
    assert.equal(cache.stats().openHandles, 0)
  })

  it('serves a complete blob through one handle, released with the request', async () => {
    await using cache = await startedCache()
    const blob = makeBlob(3 * KiB)
    await put(cache, blob)
    const served = await cacheChunkSource(cache).open(blob.id)
    assert.ok(served?.complete)
    assert.deepEqual(Buffer.from(await served.readChunk(2)), blob.chunk(2))
    assert.equal(cache.stats().openHandles, 1)
    served.release()
    assert.equal(cache.stats().openHandles, 0)
  })
})

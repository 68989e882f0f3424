import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BlobCache, POLICY_NAMES } from '../../src/blob/cache/index.js'
import { parseNodeConfig } from '../../src/node-config.js'
import { makeBlob, put, type TestBlob } from '../helpers/cache-blob.js'
import { tempDir } from '../helpers/devnet.js'

const KiB = 1024
const SIZE = 8 * KiB

/** A request for a held blob, as a model load makes it: open, then release. */
async function use (cache: BlobCache, blob: TestBlob): Promise<void> {
  const handle = await cache.open(blob.id)
  assert.ok(handle != null, `${blob.id} is held`)
  handle.release()
}

describe('every eviction policy in the real cache', () => {
  it('cache.policy takes every policy, aged LFU by default, and an unknown one is refused by name', () => {
    assert.equal(parseNodeConfig({ dataDir: '/d' }).cache.policy, 'aged-lfu')
    for (const policy of POLICY_NAMES) assert.equal(parseNodeConfig({ dataDir: '/d', cache: { policy } }).cache.policy, policy)
    assert.throws(() => parseNodeConfig({ dataDir: '/d', cache: { policy: 'belady' } }), { name: 'NodeConfigError' })
    // Refused before anything is opened, so no directory is needed.
    assert.throws(() => new BlobCache({ dir: '/nonexistent', quotaBytes: SIZE, policy: 'belady' as 'lru' }), { name: 'InvalidArgumentError' })
  })

  for (const policy of POLICY_NAMES) {
    it(`${policy}: never evicts a pinned blob, an open one, a new one in its grace, or a running download's room`, async () => {
      await using dir = await tempDir('herd-cache-policy-')
      let clock = 1_000_000
      // Room for five blobs: four held for one of the reasons, and one the stream of others takes turns in.
      const cache = new BlobCache({ dir: dir.path, quotaBytes: 5 * SIZE, policy, roomWaitMs: 0, newBlobGraceMs: 5_000, now: () => clock })
      await cache.start()
      // Stopped whatever happens: a failed check must not leave the scrub loop holding the process open.
      await using _stop = { [Symbol.asyncDispose]: async () => { await cache.stop() } }
      const [pinned, opened, fresh, running] = [makeBlob(SIZE), makeBlob(SIZE), makeBlob(SIZE), makeBlob(SIZE)]
      await put(cache, pinned)
      await use(cache, pinned)
      assert.equal(await cache.pin(pinned.id), true)
      await put(cache, opened)
      const handle = await cache.open(opened.id)
      const download = await cache.partial(running.id, running.descriptor)
      await download.writeChunk(0, running.chunk(0))
      await put(cache, fresh)

      const removed: string[] = []
      cache.addEventListener('removed', evt => { removed.push(evt.detail.blobId) })
      // Each of the others is asked for more often than the four held ones, and is more recent: a policy that
      // ignored what the cache may evict would take a held one first.
      const others = Array.from({ length: 6 }, () => makeBlob(SIZE))
      for (const other of others) {
        await put(cache, other)
        for (let i = 0; i < 3; i++) await use(cache, other)
      }
      assert.deepEqual(removed, others.slice(0, 5).map(b => b.id), 'only the others were evicted, oldest first')
      for (const held of [pinned, opened, fresh]) assert.equal(cache.has(held.id), true)
      assert.equal(cache.partialOf(running.id)?.blobId, running.id, 'the running download keeps its room')
      assert.equal(cache.stats().reservedBytes, SIZE)

      // The last other open too: nothing is left to evict.
      const last = await cache.open(others[5]!.id)
      const next = makeBlob(SIZE)
      await assert.rejects(cache.partial(next.id, next.descriptor), { name: 'CacheFullError' })
      // Once the new blob's grace is over, it is an ordinary entry: the only one that may go.
      clock += 5_000
      await put(cache, next)
      assert.equal(cache.has(fresh.id), false)
      assert.deepEqual(removed.slice(5), [fresh.id])
      for (const held of [pinned, opened, others[5]!]) assert.equal(cache.has(held.id), true)

      last!.release()
      handle!.release()
      await download.abandon()
    })
  }
})

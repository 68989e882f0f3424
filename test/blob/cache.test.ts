import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { open, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Level } from 'level'
import { blobIdFromBytes, chunkTreeOfBytes, toHex, type BlobId } from '../../src/blob/index.js'
import { BlobCache, type BlobDescriptor, type CacheEntry } from '../../src/blob/cache/index.js'
import { waitFor } from '../helpers/mesh.js'
import { makeBlob, put } from '../helpers/cache-blob.js'
import { tempDir } from '../helpers/devnet.js'

const KiB = 1024

async function filesIn (dir: string): Promise<string[]> {
  return (await readdir(dir)).sort()
}

/** Bytes the cache's files take by their length (partial files are sparse but count in full). */
async function diskBytes (dir: string): Promise<number> {
  let total = 0
  for (const sub of ['blobs', 'partial']) {
    for (const name of await readdir(join(dir, sub))) {
      // Another download may unlink or rename it meanwhile.
      total += (await stat(join(dir, sub, name)).catch(() => undefined))?.size ?? 0
    }
  }
  return total
}

describe('blob cache', () => {
  it('adds a blob through a partial download and serves it verified', async () => {
    await using dir = await tempDir()
    let clock = 1000
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 1024 * KiB, now: () => clock })
    await cache.start()
    await cache.start()
    const blob = makeBlob(10 * KiB + 123)
    const added: CacheEntry[] = []
    cache.addEventListener('added', evt => { added.push(evt.detail) })

    const partial = await cache.partial(blob.id, blob.descriptor)
    assert.equal(await cache.partial(blob.id, blob.descriptor), partial, 'one object per download')
    assert.equal(cache.partialOf(blob.id), partial)
    assert.equal(partial.chunkCount, 11)
    assert.equal(cache.stats().reservedBytes, blob.bytes.length)
    // Out of order, one twice.
    for (const i of [10, 3, 0, 3, 1, 2, 4, 5, 6, 7, 8]) await partial.writeChunk(i, blob.chunk(i))
    assert.equal(partial.has(9), false)
    assert.equal(partial.heldCount(), 10)
    assert.deepEqual([...partial.bitfield()], [0b11111111, 0b10100000])
    assert.deepEqual(Buffer.from(await partial.readChunk(10)), blob.chunk(10))
    await assert.rejects(partial.readChunk(9), { name: 'ChunkNotHeldError' })
    await assert.rejects(partial.commit(), { name: 'IncompleteBlobError' })
    assert.equal(cache.has(blob.id), false, 'invisible until committed')
    await partial.writeChunk(9, blob.chunk(9))
    clock = 2000
    const entry = await partial.commit()
    assert.deepEqual(entry, {
      blobId: blob.id, size: blob.bytes.length, chunkSize: KiB, chunkRoot: blob.descriptor.chunkRoot, pinned: false, addedAt: 2000, lastAccessAt: 2000, hits: 0
    })
    assert.deepEqual(added, [entry])
    assert.equal(cache.has(blob.id), true)
    assert.equal(cache.partialOf(blob.id), undefined)
    assert.deepEqual(cache.partials(), [])
    assert.deepEqual(cache.leaves(blob.id)?.map(l => toHex(l)), blob.descriptor.leaves.map(l => toHex(l)))
    await assert.rejects(cache.partial(blob.id, blob.descriptor), { name: 'BlobAlreadyCachedError' })

    clock = 3000
    const handle = await cache.open(blob.id)
    assert.ok(handle != null)
    assert.equal(handle.size, blob.bytes.length)
    assert.deepEqual(await readFile(handle.path), blob.bytes)
    assert.deepEqual(Buffer.from(await handle.readChunk(4)), blob.chunk(4))
    assert.deepEqual(Buffer.from(await handle.read(1000, 5000)), blob.bytes.subarray(1000, 5000))
    assert.deepEqual(Buffer.from(await handle.read(0, blob.bytes.length)), blob.bytes)
    assert.equal((await handle.read(7, 7)).length, 0)
    await assert.rejects(handle.read(0, blob.bytes.length + 1), { name: 'InvalidArgumentError' })
    await assert.rejects(handle.readChunk(11), { name: 'InvalidArgumentError' })
    handle.release()
    handle.release()
    await assert.rejects(handle.readChunk(0), { name: 'CacheObjectClosedError' })
    assert.deepEqual(cache.entry(blob.id), { ...entry, lastAccessAt: 3000, hits: 1 })
    assert.equal(await cache.open(blobIdFromBytes(randomBytes(32))), undefined)
    await cache.stop()

    const again = new BlobCache({ dir: dir.path, quotaBytes: 1024 * KiB })
    await again.start()
    assert.deepEqual(again.entry(blob.id), { ...entry, lastAccessAt: 3000, hits: 1 }, 'access stats flushed at stop')
    assert.equal(again.stats().repaired, 0)
    await again.stop()
  })

  it('stores an empty blob', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: KiB })
    await cache.start()
    const blob = makeBlob(0)
    await put(cache, blob)
    const handle = await cache.open(blob.id)
    assert.equal((await handle?.readChunk(0))?.length, 0)
    handle?.release()
    await cache.stop()
  })

  it('refuses wrong chunks and bad descriptors', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 1024 * KiB })
    await assert.rejects(cache.partial(makeBlob(1).id, makeBlob(1).descriptor), { name: 'CacheNotStartedError' })
    await cache.start()
    const blob = makeBlob(4 * KiB + 10)
    const other = makeBlob(4 * KiB + 10)
    const refusedDescriptor = async (descriptor: BlobDescriptor, name: string): Promise<void> => {
      await assert.rejects(cache.partial(blob.id, descriptor), { name })
    }
    await refusedDescriptor({ ...blob.descriptor, leaves: blob.descriptor.leaves.slice(1) }, 'ChunkVerificationError')
    await refusedDescriptor({ ...blob.descriptor, chunkRoot: other.descriptor.chunkRoot }, 'ChunkVerificationError')
    await refusedDescriptor({ ...blob.descriptor, leaves: [...blob.descriptor.leaves.slice(0, 4), new Uint8Array(31)] }, 'ChunkVerificationError')
    await refusedDescriptor({ ...blob.descriptor, size: -1 }, 'InvalidArgumentError')
    await refusedDescriptor({ ...blob.descriptor, size: 1.5 }, 'InvalidArgumentError')
    await refusedDescriptor({ ...blob.descriptor, chunkSize: 100 }, 'InvalidArgumentError')
    await refusedDescriptor({ ...blob.descriptor, chunkRoot: 'xyz' }, 'InvalidArgumentError')
    await assert.rejects(cache.partial('not-a-blob-id' as BlobId, blob.descriptor), { name: 'InvalidBlobIdError' })
    await assert.rejects(cache.open('nope'), { name: 'InvalidBlobIdError' })
    assert.equal(cache.has('nope'), false)
    assert.equal(cache.stats().reservedBytes, 0, 'nothing reserved for refused downloads')

    const partial = await cache.partial(blob.id, blob.descriptor)
    await assert.rejects(partial.writeChunk(0, other.chunk(0)), { name: 'ChunkVerificationError' })
    await assert.rejects(partial.writeChunk(4, blob.chunk(3).subarray(0, 10)), { name: 'ChunkVerificationError' })
    await assert.rejects(partial.writeChunk(4, Buffer.concat([blob.chunk(4), Buffer.from([0])])), { name: 'ChunkVerificationError' })
    await assert.rejects(partial.writeChunk(5, blob.chunk(4)), { name: 'InvalidArgumentError' })
    await assert.rejects(partial.writeChunk(-1, blob.chunk(0)), { name: 'InvalidArgumentError' })
    assert.equal(partial.heldCount(), 0)
    await partial.abandon()
    await assert.rejects(partial.writeChunk(0, blob.chunk(0)), { name: 'CacheObjectClosedError' })
    assert.deepEqual(await filesIn(join(dir.path, 'partial')), [])
    assert.equal(cache.stats().reservedBytes, 0)
    await cache.stop()
  })

  it('resumes a closed download with its chunks, and restarts one whose descriptor changed', async () => {
    await using dir = await tempDir()
    const blob = makeBlob(20 * KiB)
    let cache = new BlobCache({ dir: dir.path, quotaBytes: 1024 * KiB })
    await cache.start()
    let partial = await cache.partial(blob.id, blob.descriptor)
    for (const i of [0, 1, 2, 15, 19]) await partial.writeChunk(i, blob.chunk(i))
    await partial.close()
    await cache.stop()

    cache = new BlobCache({ dir: dir.path, quotaBytes: 1024 * KiB })
    await cache.start()
    assert.deepEqual(cache.partials(), [{ blobId: blob.id, size: 20 * KiB, held: 5, chunks: 20 }])
    assert.equal(cache.stats().reservedBytes, 20 * KiB, 'a resumable download keeps its reservation')
    const served = cache.partialOf(blob.id)
    assert.deepEqual(Buffer.from(await served!.readChunk(15)), blob.chunk(15), 'held chunks can be served before the download resumes')
    partial = await cache.partial(blob.id, blob.descriptor)
    assert.equal(partial, served)
    assert.equal(partial.heldCount(), 5)
    assert.equal(partial.has(19), true)
    for (let i = 0; i < 20; i++) if (!partial.has(i)) await partial.writeChunk(i, blob.chunk(i))
    await partial.commit()
    const handle = await cache.open(blob.id)
    assert.deepEqual(Buffer.from(await handle!.read(0, blob.bytes.length)), blob.bytes)
    handle!.release()

    // Same ID, other chunking: the old download is dropped, not mixed in.
    const other = makeBlob(8 * KiB)
    const first = await cache.partial(other.id, other.descriptor)
    await first.writeChunk(0, other.chunk(0))
    await first.close()
    const rechunked = chunkTreeOfBytes(other.bytes, 2 * KiB)
    const second = await cache.partial(other.id, { size: other.bytes.length, chunkSize: 2 * KiB, chunkRoot: toHex(rechunked.root), leaves: rechunked.leaves })
    assert.notEqual(second, first)
    assert.equal(second.heldCount(), 0)
    assert.equal(second.chunkCount, 4)
    await assert.rejects(first.writeChunk(1, other.chunk(1)), { name: 'CacheObjectClosedError' })
    assert.equal(cache.stats().reservedBytes, other.bytes.length)
    await cache.stop()
  })

  it('never holds more than the quota under a stream of blobs many times its size', async () => {
    await using dir = await tempDir()
    const quota = 100 * KiB
    // Nobody opens these blobs: without the grace for a new blob's first use, each may be evicted at once.
    const cache = new BlobCache({ dir: dir.path, quotaBytes: quota, newBlobGraceMs: 0 })
    await cache.start()
    const violations: string[] = []
    const check = async (when: string): Promise<void> => {
      const stats = cache.stats()
      if (stats.bytes + stats.reservedBytes > quota) violations.push(`${when}: ${stats.bytes} + ${stats.reservedBytes}`)
      const disk = await diskBytes(dir.path)
      if (disk > quota) violations.push(`${when}: ${disk} bytes on disk`)
    }
    cache.addEventListener('added', () => { const s = cache.stats(); if (s.bytes + s.reservedBytes > quota) violations.push('at added') })
    let total = 0
    // Three downloads at a time, so reservations race each other.
    for (let round = 0; round < 20; round++) {
      const blobs = [makeBlob(10 * KiB + round * 100), makeBlob(25 * KiB), makeBlob(33 * KiB - round)]
      total += blobs.reduce((sum, b) => sum + b.bytes.length, 0)
      await Promise.all(blobs.map(async blob => {
        const partial = await cache.partial(blob.id, blob.descriptor)
        await check(`reserved ${blob.id}`)
        for (let i = 0; i < partial.chunkCount; i++) await partial.writeChunk(i, blob.chunk(i))
        await check(`written ${blob.id}`)
        await partial.commit()
        await check(`committed ${blob.id}`)
      }))
    }
    assert.ok(total > 10 * quota)
    assert.deepEqual(violations, [])
    assert.ok(cache.stats().evictions > 40)
    assert.ok(cache.stats().blobs >= 2)
    await assert.rejects(cache.partial(makeBlob(quota + 1).id, makeBlob(quota + 1).descriptor), { name: 'CacheFullError' })
    await cache.stop()
  })

  it('never evicts pinned or open blobs, and says when they leave no room', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 30 * KiB, policy: 'lru', roomWaitMs: 0, newBlobGraceMs: 0 })
    await cache.start()
    const pinned = makeBlob(10 * KiB)
    const opened = makeBlob(10 * KiB)
    await put(cache, pinned)
    await put(cache, opened)
    assert.equal(await cache.pin(pinned.id), true)
    assert.equal(await cache.pin(blobIdFromBytes(randomBytes(32))), false)
    const handle = await cache.open(opened.id)
    const removed: string[] = []
    cache.addEventListener('removed', evt => { removed.push(`${evt.detail.reason}:${evt.detail.blobId}`) })
    const others = Array.from({ length: 5 }, () => makeBlob(10 * KiB))
    for (const blob of others) await put(cache, blob)
    assert.ok(cache.has(pinned.id) && cache.has(opened.id))
    assert.deepEqual(removed, others.slice(0, 4).map(b => `evicted:${b.id}`))
    assert.deepEqual(cache.stats(), { blobs: 3, bytes: 30 * KiB, quotaBytes: 30 * KiB, pinned: 1, partials: 0, reservedBytes: 0, openHandles: 1, evictions: 4, repaired: 0 })

    // The one evictable blob is held open by a download in progress: nothing left to evict.
    const busy = await cache.open(others[4]!.id)
    await assert.rejects(cache.partial(makeBlob(KiB).id, makeBlob(KiB).descriptor), { name: 'CacheFullError' })
    busy!.release()
    handle!.release()
    await put(cache, makeBlob(15 * KiB))
    assert.equal(cache.has(pinned.id), true)
    assert.equal(cache.stats().bytes, 25 * KiB)

    // Pins persist across restarts.
    await cache.stop()
    const again = new BlobCache({ dir: dir.path, quotaBytes: 30 * KiB, policy: 'lru' })
    await again.start()
    assert.equal(again.entry(pinned.id)?.pinned, true)
    assert.equal(await again.unpin(pinned.id), true)
    assert.equal(again.entry(pinned.id)?.pinned, false)
    await again.stop()
  })

  it('waits for a blob in use to be let go before it fails for want of room', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 30 * KiB, roomWaitMs: 5_000 })
    await cache.start()
    const [open, running, next, last] = [makeBlob(15 * KiB), makeBlob(15 * KiB), makeBlob(15 * KiB), makeBlob(15 * KiB)]
    await put(cache, open)
    const handle = await cache.open(open.id)
    let roomWaits = 0
    const download = await cache.partial(running.id, running.descriptor, { onWait: () => { roomWaits++ } })
    assert.equal(roomWaits, 0, 'the room was there: no wait')

    // Everything is open or downloading: the new download waits, then gets the room the released blob leaves.
    let settled = false
    let waits = 0
    const waiting = cache.partial(next.id, next.descriptor, { onWait: () => { waits++ } }).finally(() => { settled = true })
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(settled, false, 'no room yet: still waiting')
    handle!.release()
    const reserved = await waiting
    assert.equal(waits, 1, 'told once that it had to wait')
    assert.equal(cache.has(open.id), false, 'the released blob was evicted for it')
    assert.equal(cache.stats().reservedBytes, 30 * KiB)

    // An abort ends the wait at once; the limit ends it with CacheFullError naming the wait.
    const controller = new AbortController()
    const aborted = cache.partial(last.id, last.descriptor, { signal: controller.signal })
    controller.abort(new Error('caller went away'))
    await assert.rejects(aborted, /caller went away/)
    const quick = new BlobCache({ dir: join(dir.path, 'quick'), quotaBytes: 30 * KiB, roomWaitMs: 150 })
    await quick.start()
    await quick.partial(open.id, open.descriptor)
    await quick.partial(running.id, running.descriptor)
    const started = performance.now()
    await assert.rejects(quick.partial(last.id, last.descriptor), (err: Error) => err.name === 'CacheFullError' && /for 150 ms/.test(err.message))
    assert.ok(performance.now() - started >= 140, 'it waited before failing')
    await quick.stop()

    // Stopping the cache ends a wait too.
    const stopping = assert.rejects(cache.partial(last.id, last.descriptor), { name: 'CacheNotStartedError' })
    await cache.stop()
    await stopping
    assert.equal(download.blobId, running.id)
    assert.equal(reserved.blobId, next.id)
  })

  it('keeps a new blob for its first use: not evicted before it is opened or its grace ends', async () => {
    await using dir = await tempDir()
    let clock = 1_000_000
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 20 * KiB, roomWaitMs: 0, newBlobGraceMs: 5_000, now: () => clock })
    await cache.start()
    const [fetched, next, later] = [makeBlob(15 * KiB), makeBlob(15 * KiB), makeBlob(15 * KiB)]
    await put(cache, fetched)
    // Downloaded, not used yet: another download may not take its room, even once a peer has read it.
    await assert.rejects(cache.partial(next.id, next.descriptor), { name: 'CacheFullError' })
    const served = await cache.open(fetched.id, { forPeer: true })
    served!.release()
    await assert.rejects(cache.partial(next.id, next.descriptor), { name: 'CacheFullError' })
    const handle = await cache.open(fetched.id)
    handle!.release()
    // Used once: an ordinary blob, evictable.
    await put(cache, next)
    assert.equal(cache.has(fetched.id), false)
    // Never opened, but its grace is over.
    clock += 5_000
    await put(cache, later)
    assert.equal(cache.has(next.id), false)
    await cache.stop()
    // A restart ends every grace: whoever fetched the blob is gone.
    const again = new BlobCache({ dir: dir.path, quotaBytes: 20 * KiB, roomWaitMs: 0, now: () => clock })
    await again.start()
    await put(again, next)
    assert.equal(again.has(later.id), false)
    await again.stop()
  })

  it('keeps a blob held for peers from eviction while the hold is open, and counts the hold as no hit', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 20 * KiB, roomWaitMs: 0, newBlobGraceMs: 5_000 })
    await cache.start()
    const [fetched, next] = [makeBlob(15 * KiB), makeBlob(15 * KiB)]
    await put(cache, fetched)
    const hold = await cache.open(fetched.id, { hold: true })
    assert.equal(cache.entry(fetched.id)?.hits, 0, 'a hold is no read')
    // Used here: its grace is over, but the hold keeps another download out of its room.
    ;(await cache.open(fetched.id))!.release()
    await assert.rejects(cache.partial(next.id, next.descriptor), { name: 'CacheFullError' })
    hold!.release()
    await put(cache, next)
    assert.equal(cache.has(fetched.id), false, 'evictable once the hold is released')
    await cache.stop()
  })

  it('counts a download as one access: the open that serves its request is no second hit for the policy', async () => {
    await using dir = await tempDir()
    for (const newBlobGraceMs of [0, 5_000]) {
      const cache = new BlobCache({ dir: join(dir.path, String(newBlobGraceMs)), quotaBytes: 64 * KiB, roomWaitMs: 0, newBlobGraceMs })
      await cache.start()
      const policy = Reflect.get(cache, 'policy') as { hit: (id: string) => void }
      const hits: string[] = []
      const hit = policy.hit.bind(policy)
      policy.hit = id => { hits.push(id); hit(id) }
      const blob = makeBlob(4 * KiB)
      await put(cache, blob)
      // A peer's read of a new blob is a request of its own; this node's first open serves the request that downloaded it.
      ;(await cache.open(blob.id, { forPeer: true }))!.release()
      ;(await cache.open(blob.id))!.release()
      assert.deepEqual(hits, [blob.id], `grace ${newBlobGraceMs}: the peer's read only`)
      ;(await cache.open(blob.id))!.release()
      assert.deepEqual(hits, [blob.id, blob.id], `grace ${newBlobGraceMs}: a later open is a hit`)
      await cache.stop()
    }
  })

  it('discards a download nobody is running to make room, never a running one', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 30 * KiB, roomWaitMs: 0 })
    await cache.start()
    const [a, b, c] = [makeBlob(20 * KiB), makeBlob(20 * KiB), makeBlob(20 * KiB)]
    const first = await cache.partial(a.id, a.descriptor)
    await first.writeChunk(0, a.chunk(0))
    await first.close()
    const second = await cache.partial(b.id, b.descriptor)
    assert.deepEqual(cache.partials().map(p => p.blobId), [b.id])
    assert.equal(cache.partialOf(a.id), undefined)
    assert.deepEqual(await filesIn(join(dir.path, 'partial')), [b.id])
    await assert.rejects(cache.partial(c.id, c.descriptor), { name: 'CacheFullError' })
    await second.abandon()
    await cache.partial(c.id, c.descriptor)
    await cache.stop()
  })

  it('defers deleting an open blob until its last handle is released', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 100 * KiB })
    await cache.start()
    const blob = makeBlob(6 * KiB)
    await put(cache, blob)
    const a = await cache.open(blob.id)
    const b = await cache.open(blob.id)
    const removed: string[] = []
    cache.addEventListener('removed', evt => { removed.push(evt.detail.reason) })
    assert.equal(await cache.delete(blob.id), true)
    assert.equal(await cache.delete(blob.id), false)
    assert.deepEqual(removed, ['deleted'])
    assert.equal(cache.has(blob.id), false)
    assert.equal(await cache.open(blob.id), undefined)
    await assert.rejects(cache.partial(blob.id, blob.descriptor), { name: 'BlobBusyError' })
    assert.equal(cache.stats().bytes, 6 * KiB, 'still on disk, still counted')
    assert.deepEqual(Buffer.from(await a!.readChunk(2)), blob.chunk(2), 'open handles keep reading')
    a!.release()
    await stat(join(dir.path, 'blobs', blob.id))
    b!.release()
    await cache.stop()
    assert.deepEqual(await filesIn(join(dir.path, 'blobs')), [])
  })

  it('opens a blob\'s file at a handle\'s first read, not at cache.open; a file gone from disk drops the blob at that read', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 100 * KiB })
    await cache.start()
    const blob = makeBlob(4 * KiB)
    await put(cache, blob)
    const openFiles = async (): Promise<number> => (await readdir('/proc/self/fd')).length
    const before = await openFiles()
    // A handle that only keeps its blob on disk (a model run from a loaded session) costs no file.
    const held = await Promise.all(Array.from({ length: 20 }, async () => cache.open(blob.id)))
    // Not exact: the index's level may open a file of its own meanwhile; twenty handles opened twenty before.
    assert.ok(await openFiles() < before + 5, `${await openFiles() - before} files opened for 20 handles never read`)
    assert.deepEqual(Buffer.from(await held[0]!.readChunk(1)), blob.chunk(1))
    for (const handle of held) handle!.release()

    const removed: string[] = []
    cache.addEventListener('removed', evt => { removed.push(evt.detail.reason) })
    const handle = await cache.open(blob.id)
    await (await import('node:fs/promises')).unlink(join(dir.path, 'blobs', blob.id))
    await assert.rejects(handle!.readChunk(0), { name: 'CorruptBlobError' })
    assert.deepEqual(removed, ['corrupt'])
    assert.equal(cache.has(blob.id), false)
    handle!.release()
    assert.equal(cache.stats().openHandles, 0)
    await cache.stop()
  })

  it('drops a complete blob whose bytes changed on disk, at the read that finds it', async () => {
    await using dir = await tempDir()
    let cache = new BlobCache({ dir: dir.path, quotaBytes: 100 * KiB })
    await cache.start()
    const blob = makeBlob(8 * KiB)
    await put(cache, blob)
    await cache.stop()
    const file = await open(join(dir.path, 'blobs', blob.id), 'r+')
    await file.write(Buffer.from([blob.bytes[5 * KiB + 7]! ^ 0xff]), 0, 1, 5 * KiB + 7)
    await file.close()

    cache = new BlobCache({ dir: dir.path, quotaBytes: 100 * KiB })
    await cache.start()
    assert.equal(cache.has(blob.id), true, 'same size: found only when read')
    const removed: string[] = []
    cache.addEventListener('removed', evt => { removed.push(evt.detail.reason) })
    const handle = await cache.open(blob.id)
    const other = await cache.open(blob.id)
    assert.deepEqual(Buffer.from(await handle!.readChunk(4)), blob.chunk(4))
    await assert.rejects(handle!.read(4 * KiB, 5 * KiB + 8), { name: 'CorruptBlobError' })
    assert.deepEqual(removed, ['corrupt'])
    assert.equal(cache.has(blob.id), false)
    await assert.rejects(other!.readChunk(0), { name: 'CorruptBlobError' }, 'no handle serves it any more')
    handle!.release()
    other!.release()
    await put(cache, blob)
    const fresh = await cache.open(blob.id)
    assert.deepEqual(Buffer.from(await fresh!.readChunk(5)), blob.chunk(5))
    fresh!.release()
    await cache.stop()
  })

  it('refuses an index of another version', async () => {
    await using dir = await tempDir()
    const cache = new BlobCache({ dir: dir.path, quotaBytes: KiB })
    await cache.start()
    await cache.stop()
    const db = new Level<string, string>(join(dir.path, 'index'))
    assert.equal(await db.get('version'), '1')
    await db.put('version', '99')
    await db.close()
    await assert.rejects(new BlobCache({ dir: dir.path, quotaBytes: KiB }).start(), { name: 'CacheVersionError' })
    const other = new Level<string, string>(join(dir.path, 'index'))
    await other.put('version', '1')
    await other.close()
    const reopened = new BlobCache({ dir: dir.path, quotaBytes: KiB })
    await reopened.start()
    await reopened.stop()
  })
})

describe('blob cache repair', () => {
  it('serves a peer a blob checked on write without re-hashing it, and the scrub drops it once a changed byte is due for a check', async () => {
    await using dir = await tempDir()
    let clock = 1_000_000
    const verifiedForMs = 60_000
    const init = { dir: dir.path, quotaBytes: 100 * KiB, now: () => clock, verifiedForMs, scrubIntervalMs: 20 }
    let cache = new BlobCache(init)
    await cache.start()
    const blob = makeBlob(8 * KiB)
    await put(cache, blob)
    // A byte changed on disk after the blob was checked whole (bit rot, a stray write).
    const file = await open(join(dir.path, 'blobs', blob.id), 'r+')
    await file.write(Buffer.from([blob.bytes[5 * KiB + 7]! ^ 0xff]), 0, 1, 5 * KiB + 7)
    await file.close()
    const removed: string[] = []
    cache.addEventListener('removed', evt => { removed.push(evt.detail.reason) })

    // Within verifiedForMs a peer's read is not re-hashed: the peer checks each chunk itself.
    const forPeer = await cache.open(blob.id, { forPeer: true })
    assert.notDeepEqual(Buffer.from(await forPeer!.readChunk(5)), blob.chunk(5))
    forPeer!.release()
    assert.equal(removed.length, 0)
    // The check is recorded: a restart keeps it.
    await cache.stop()
    cache = new BlobCache(init)
    await cache.start()
    cache.addEventListener('removed', evt => { removed.push(evt.detail.reason) })
    const again = await cache.open(blob.id, { forPeer: true })
    assert.equal((await again!.readChunk(5)).length, KiB)
    again!.release()
    assert.equal(removed.length, 0)

    // Past verifiedForMs the scrub re-reads the blob, finds the changed chunk and drops it.
    clock += verifiedForMs
    await waitFor('the scrub to drop the blob', () => removed.length > 0, 10_000)
    assert.deepEqual(removed, ['corrupt'])
    assert.equal(cache.has(blob.id), false)
    await cache.stop()
  })

  it('re-hashes a peer read of a blob whose last check is older than verifiedForMs', async () => {
    await using dir = await tempDir()
    let clock = 1_000_000
    const verifiedForMs = 60_000
    // The scrub looks only every minute here: the stale read below meets the old check.
    const cache = new BlobCache({ dir: dir.path, quotaBytes: 100 * KiB, now: () => clock, verifiedForMs, scrubIntervalMs: 60_000 })
    await cache.start()
    const good = makeBlob(4 * KiB)
    const bad = makeBlob(4 * KiB)
    await put(cache, good)
    await put(cache, bad)
    const file = await open(join(dir.path, 'blobs', bad.id), 'r+')
    await file.write(Buffer.from([bad.bytes[100]! ^ 0xff]), 0, 1, 100)
    await file.close()
    clock += verifiedForMs
    const handle = await cache.open(bad.id, { forPeer: true })
    await assert.rejects(handle!.readChunk(0), { name: 'CorruptBlobError' })
    handle!.release()
    assert.equal(cache.has(bad.id), false)
    const stale = await cache.open(good.id, { forPeer: true })
    assert.deepEqual(Buffer.from(await stale!.readChunk(1)), good.chunk(1))
    stale!.release()
    await cache.stop()
  })

  it('checks the scrub settings', () => {
    for (const bad of [{ verifiedForMs: 0 }, { scrubBytesPerSec: -1 }, { scrubIntervalMs: 1.5 }]) {
      assert.throws(() => new BlobCache({ dir: '/tmp/unused', quotaBytes: 1, ...bad }), { name: 'InvalidArgumentError' })
    }
  })

  it('after a crash: keeps synced chunks, refetches unsynced, truncated and corrupt ones, and removes orphans', async () => {
    await using dir = await tempDir()
    const blob = makeBlob(12 * KiB)
    const blobFile = join(dir.path, 'blob.bin')
    await writeFile(blobFile, blob.bytes)
    // A child process writes 10 chunks (8 synced as a batch, 2 by the timer), then one more, and is killed before that one is synced.
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { readFileSync } from 'node:fs'
      const { BlobCache } = await import(${JSON.stringify(new URL('../../src/blob/cache/index.js', import.meta.url).href)})
      const { chunkTreeOfBytes, toHex } = await import(${JSON.stringify(new URL('../../src/blob/chunk-tree.js', import.meta.url).href)})
      const bytes = readFileSync(process.env.BLOB_FILE)
      const tree = chunkTreeOfBytes(bytes, 1024)
      const cache = new BlobCache({ dir: process.env.CACHE_DIR, quotaBytes: 1 << 20 })
      await cache.start()
      const partial = await cache.partial(process.env.BLOB_ID, { size: bytes.length, chunkSize: 1024, chunkRoot: toHex(tree.root), leaves: tree.leaves })
      for (let i = 0; i < 10; i++) await partial.writeChunk(i, bytes.subarray(i * 1024, (i + 1) * 1024))
      await new Promise(resolve => setTimeout(resolve, 500))
      await partial.writeChunk(10, bytes.subarray(10 * 1024, 11 * 1024))
      process.kill(process.pid, 'SIGKILL')
    `], { env: { ...process.env, BLOB_FILE: blobFile, CACHE_DIR: dir.path, BLOB_ID: blob.id }, stdio: ['ignore', 'inherit', 'inherit'] })
    const signal = await new Promise(resolve => child.on('exit', (_code, sig) => { resolve(sig) }))
    assert.equal(signal, 'SIGKILL')

    // A complete blob next to it, then damage of every kind.
    const complete = makeBlob(3 * KiB)
    const missing = makeBlob(2 * KiB)
    const shortened = makeBlob(2 * KiB)
    let cache = new BlobCache({ dir: dir.path, quotaBytes: 1 << 20 })
    await cache.start()
    assert.deepEqual([...cache.partialOf(blob.id)!.bitfield()], [0xff, 0xc0], 'chunks 0-9 were synced, 10 was not')
    for (const b of [complete, missing, shortened]) await put(cache, b)
    await cache.stop()
    const partialPath = join(dir.path, 'partial', blob.id)
    const file = await open(partialPath, 'r+')
    await file.write(Buffer.from('garbage'), 0, 7, 3 * KiB + 100)
    await file.close()
    await truncate(partialPath, 7 * KiB + 100)
    await truncate(join(dir.path, 'blobs', shortened.id), KiB)
    await (await import('node:fs/promises')).unlink(join(dir.path, 'blobs', missing.id))
    const orphan = blobIdFromBytes(randomBytes(32))
    await writeFile(join(dir.path, 'blobs', orphan), 'no record')
    await writeFile(join(dir.path, 'partial', orphan), 'no record')
    await writeFile(join(dir.path, 'blobs', `${complete.id}.abc123.tmp`), 'temp')

    cache = new BlobCache({ dir: dir.path, quotaBytes: 1 << 20 })
    await cache.start()
    // Chunk 3 (corrupt), 7 (cut) and 8-9 (gone), the resized file, two dropped records, three stray files.
    assert.equal(cache.stats().repaired, 10)
    assert.deepEqual(cache.entries().map(e => e.blobId), [complete.id])
    assert.equal(cache.stats().bytes, 3 * KiB)
    assert.deepEqual(await filesIn(join(dir.path, 'blobs')), [complete.id])
    assert.deepEqual(await filesIn(join(dir.path, 'partial')), [blob.id])
    assert.equal((await stat(partialPath)).size, 12 * KiB)
    const partial = await cache.partial(blob.id, blob.descriptor)
    assert.deepEqual([...Array(12).keys()].filter(i => partial.has(i)), [0, 1, 2, 4, 5, 6])
    for (let i = 0; i < 12; i++) if (!partial.has(i)) await partial.writeChunk(i, blob.chunk(i))
    await partial.commit()
    const handle = await cache.open(blob.id)
    assert.deepEqual(Buffer.from(await handle!.read(0, 12 * KiB)), blob.bytes)
    handle!.release()
    await cache.stop()

    cache = new BlobCache({ dir: dir.path, quotaBytes: 1 << 20 })
    await cache.start()
    assert.equal(cache.stats().repaired, 0, 'a clean stop needs no repair')
    assert.equal(cache.stats().blobs, 2)
    await cache.stop()
  })

  it('evicts down to a quota lowered between runs', async () => {
    await using dir = await tempDir()
    let cache = new BlobCache({ dir: dir.path, quotaBytes: 100 * KiB })
    await cache.start()
    const blobs = Array.from({ length: 5 }, () => makeBlob(10 * KiB))
    for (const blob of blobs) await put(cache, blob)
    await cache.pin(blobs[0]!.id)
    await cache.stop()
    cache = new BlobCache({ dir: dir.path, quotaBytes: 25 * KiB })
    await cache.start()
    assert.ok(cache.stats().bytes <= 25 * KiB)
    assert.equal(cache.has(blobs[0]!.id), true)
    assert.equal((await filesIn(join(dir.path, 'blobs'))).length, cache.stats().blobs)
    await cache.stop()
  })
})
